"""One exception tree for everything the engine can refuse or fail at.

Every error carries a short ``title`` and a ``message`` an admin can act on ("what is wrong, what to
do"). The edges (CLI, wizard screens) print ``str(error)``; nothing below them formats for people.

    MirrorError
    ├── InputError                  bad input from the admin: files, flags, plans
    │   ├── ReferenceFormatError    an image reference that does not parse
    │   ├── AuthFileError           auth file / pull secret: not JSON, no auths, bad base64 ...
    │   ├── PlanError               a plan file with unknown or missing fields
    │   ├── MappingError            a SRC=DST mapping file line
    │   ├── ImageStreamError        an ImageStream / ConfigMap file
    │   ├── CertificateError        a CA file: not PEM, expired, not a CA, no SAN ...
    │   ├── ReleaseError            release metadata / graph / layout content
    │   └── BundleError             a removable-media bundle: unfinished, damaged, a volume missing
    ├── RegistryError               anything a registry said or did
    │   ├── RegistryUnreachable     DNS, refused, timed out, reset (after retries)
    │   │   ├── RegistryStalled     no byte arrived for the stall timeout (after retries)
    │   │   └── BrokenHTTP          a malformed HTTP answer: bad chunk sizes, giant headers
    │   ├── TLSVerifyError          the registry's certificate is not trusted
    │   ├── ProxyError              the forward proxy refused: wrong proxy login (407), CONNECT denied
    │   ├── CDNRefused              the object storage a registry redirected a blob to refused it
    │   ├── AuthenticationFailed    wrong user or password, token refused
    │   ├── AccessDenied            authenticated but not allowed (403, insufficient scope)
    │   ├── NotFound                manifest, tag, blob or repository unknown
    │   ├── UnsupportedManifest     schema 1, unknown media type
    │   ├── PushRefused             the destination refuses a push (e.g. no push without a tag)
    │   └── RegistryProtocolError   an answer that breaks the distribution spec
    │       └── AnswerTooLarge      a manifest, tag list, token or error body over its size limit
    ├── IntegrityError              bytes that do not match their digest or size
    ├── SignatureError              a release whose signatures are missing or do not verify
    ├── LocalStorageError           a directory mirror: disk full, short of space, unwritable
    ├── ToolError                   an external tool (oc) missing or failing
    ├── CopyFailed                  one image of a copy failed: names it and wraps the cause
    └── Cancelled                   the admin cancelled; nothing half-written was kept
"""

from __future__ import annotations


class MirrorError(Exception):
    """Base of every error the engine raises on purpose."""

    title = "Error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        # Messages quote registries, oc, clusters and files: escape what a terminal would obey (the
        # edges print str(error) as it is, in the CLI and the wizard alike).
        from .text import shown

        message = shown(message)
        super().__init__(message)
        self.message = message
        self.hint = shown(hint) if hint is not None else None

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class InputError(MirrorError):
    title = "Invalid input"


class ReferenceFormatError(InputError):
    title = "Invalid image reference"


class AuthFileError(InputError):
    title = "Invalid credentials file"


class PlanError(InputError):
    title = "Invalid plan"


class MappingError(InputError):
    title = "Invalid mapping"


class ImageStreamError(InputError):
    title = "Invalid image streams"


class CertificateError(InputError):
    title = "Certificate problem"


class ReleaseError(InputError):
    title = "Release problem"


class BundleError(InputError):
    title = "Removable media problem"


class RegistryError(MirrorError):
    title = "Registry error"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        registry: str | None = None,
        status: int | None = None,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.registry = registry
        self.status = status
        # The server's Retry-After (429/503), honoured by the retry policy before the next attempt.
        self.retry_after = retry_after


class RegistryUnreachable(RegistryError):
    title = "Registry unreachable"


class RegistryStalled(RegistryUnreachable):
    title = "Registry stalled"


class BrokenHTTP(RegistryUnreachable):
    title = "Broken HTTP answer"


class TLSVerifyError(RegistryError):
    title = "Certificate not trusted"


class ProxyError(RegistryError):
    title = "Proxy refused"


class CDNRefused(RegistryError):
    title = "Download refused"


class AuthenticationFailed(RegistryError):
    title = "Login failed"


class AccessDenied(RegistryError):
    title = "Access denied"


class NotFound(RegistryError):
    title = "Not found"


class UnsupportedManifest(RegistryError):
    title = "Unsupported manifest"


class PushRefused(RegistryError):
    title = "Push refused"


class RegistryProtocolError(RegistryError):
    title = "Unexpected registry answer"


class AnswerTooLarge(RegistryProtocolError):
    title = "Registry answer too large"


class IntegrityError(MirrorError):
    title = "Content does not match its digest"


class SignatureError(MirrorError):
    title = "Release signature not verified"


class LocalStorageError(MirrorError):
    title = "Local storage problem"


class ToolError(MirrorError):
    title = "External tool problem"


class CopyFailed(MirrorError):
    """The first failure stops a copy unless --continue-on-error: names the image and the reason."""

    title = "Mirror failed"

    def __init__(self, source: str, destination: str, cause: MirrorError) -> None:
        super().__init__(f"{source} → {destination}: {cause}")
        self.source = source
        self.destination = destination
        self.cause = cause
        self.error = cause  # the older name, still read by callers


class Cancelled(MirrorError):
    title = "Cancelled"

    def __init__(self, message: str = "cancelled by the user; everything copied so far is kept") -> None:
        super().__init__(message)
