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

Besides its class, an error carries a stable :class:`ErrorCode` and structured fields (registry,
repository, digest, what to fix). Front ends decide on those, never on the message text: the
message is for people and may be reworded; a code changes only on purpose. Each front end words its
own advice from the code (the CLI names flags, the wizard names steps and buttons).
"""

from __future__ import annotations

from enum import StrEnum

from .text import shown


class ErrorCode(StrEnum):
    """What went wrong, for programs: stable across rewordings of the message."""

    UNSPECIFIED = "unspecified"              # nothing more precise than the class says
    # a release, its update path and its content
    NO_UPDATE_PATH = "no-update-path"        # the graph has no path between the two versions
    FROM_VERSION_UNKNOWN = "from-version-unknown"  # not a release of the graph (``fix``: the near ones)
    TO_VERSION_UNKNOWN = "to-version-unknown"
    DOWNGRADE = "downgrade"                  # the to version is older than the from version
    RELEASE_WITHOUT_SAMPLES = "release-without-samples"  # the release ships no samples operator streams
    NO_RELEASE_CHOSEN = "no-release-chosen"  # the image streams come from a release, and none is chosen
    # the cluster, through oc
    OC_MISSING = "oc-missing"                # oc is not on PATH
    OC_NO_ANSWER = "oc-no-answer"            # oc did not run or did not finish
    CLUSTER_NOT_LOGGED_IN = "cluster-not-logged-in"
    CLUSTER_VERSION_UNKNOWN = "cluster-version-unknown"
    CLUSTER_NOT_ADMIN = "cluster-not-admin"  # the user may not change cluster configuration
    APPLY_BEFORE_UPLOAD = "apply-before-upload"  # a to-dir plan: the images are on the medium, not the mirror
    CONFIRMATION_NEEDED = "confirmation-needed"  # a change needs a yes and there is no terminal to ask on
    # registries and the way to them (core.http's error map, core.registry.auth)
    TLS_UNTRUSTED = "tls-untrusted"          # the certificate does not verify: a CA is missing
    TLS_HANDSHAKE_FAILED = "tls-handshake-failed"  # no TLS at all (a plain-HTTP registry?)
    LOGIN_MISSING = "login-missing"          # the registry wants a login the auth file does not have
    LOGIN_REFUSED = "login-refused"          # the login given was refused
    NAME_NOT_RESOLVED = "name-not-resolved"  # DNS has no address for the host (behind a proxy: set it)
    PROXY_LOGIN = "proxy-login"              # the proxy wants a login, or refused the one in its URL (407)
    PROXY_REFUSED = "proxy-refused"          # the proxy would not open a tunnel to that host and port
    PROXY_UNREACHABLE = "proxy-unreachable"  # the proxy itself cannot be reached
    CDN_REFUSED = "cdn-refused"              # the CDN a registry redirected a blob to refused it
    RELEASE_KEY_UNTRUSTED = "release-key-untrusted"  # signed by a key neither shipped nor named (``fix``: its fingerprint)


class MirrorError(Exception):
    """Base of every error the engine raises on purpose."""

    title = "Error"
    code: ErrorCode = ErrorCode.UNSPECIFIED  # subclasses and raisers may say more

    def __init__(self, message: str, *, hint: str | None = None, code: ErrorCode | None = None,
                 repository: str | None = None, digest: str | None = None, fix: str | None = None) -> None:
        # Messages quote registries, oc, clusters and files: escape what a terminal would obey (the
        # edges print str(error) as it is, in the CLI and the wizard alike).
        message = shown(message)
        super().__init__(message)
        self.message = message
        self.hint = shown(hint) if hint is not None else None
        if code is not None:
            self.code = code
        self.repository = repository  # the repository concerned, when one is
        self.digest = digest          # the manifest or blob concerned, when one is
        self.fix = fix                # what to change, in engine words (front ends may say it their way)

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
        code: ErrorCode | None = None,
        repository: str | None = None,
        digest: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint, code=code, repository=repository, digest=digest)
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
