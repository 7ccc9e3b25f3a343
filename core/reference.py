"""Image references: ``host[:port]/path[:tag][@sha256:hex]``, normalised the way docker and oc do."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, replace

from .errors import MirrorError, ReferenceFormatError

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
_HOST_RE = re.compile(
    r"^(?:localhost|(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$"
)


# The OCI image spec's registered algorithms and the length of their lowercase hex encoding. A digest
# names a file in an OCI layout (blobs/ALGO/HEX), so anything else — "..", "/", upper case, another
# length — is refused before it can reach a path, a URL or a comparison.
DIGEST_ALGORITHMS: dict[str, int] = {"sha256": 64, "sha512": 128}
_ANY_DIGEST_RE = re.compile(r"^(sha256|sha512):([a-f0-9]+)$")


def is_valid_digest(value: object) -> bool:
    """True for ``sha256:`` + 64 or ``sha512:`` + 128 lowercase hex digits, nothing else."""
    if not isinstance(value, str):
        return False
    match = _ANY_DIGEST_RE.fullmatch(value)  # fullmatch: "$" would let a trailing newline through
    return match is not None and len(match.group(2)) == DIGEST_ALGORITHMS[match.group(1)]


def validate_digest(value: object, *, where: str = "", error: type[MirrorError] = ReferenceFormatError) -> str:
    """``value`` when it is a digest of the OCI grammar (registered algorithm, lowercase hex of the
    right length), else ``error`` naming ``where``. The one check every digest from outside (registry
    answers, layouts, records, the command line) passes before any use, above all in a file path."""
    if is_valid_digest(value):
        return value  # type: ignore[return-value]
    shown = repr(value) if not isinstance(value, str) else repr(value[:100] + ("…" if len(value) > 100 else ""))
    prefix = f"{where}: " if where else ""
    raise error(f"{prefix}{shown} is not a valid digest (expected sha256: and 64 lowercase hex digits, "
                "or sha512: and 128)")


def digest_hasher(digest: str) -> hashlib._Hash:
    """A fresh hash object of ``digest``'s algorithm (``digest`` validated first)."""
    algorithm = validate_digest(digest).partition(":")[0]
    return hashlib.new(algorithm)


def is_digest(value: str) -> bool:
    """A sha256 digest: what image references pin to (every client verifies those)."""
    return is_valid_digest(value) and bool(_DIGEST_RE.fullmatch(value))


@dataclass(frozen=True)
class ImageReference:
    """A parsed reference. ``registry`` is the host (with port) as written, docker.io normalised."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def api_host(self) -> str:
        """Where the registry API actually lives (docker.io is served from registry-1)."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def reference(self) -> str:
        """What goes after ``/manifests/``: the digest when pinned, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    def with_tag(self, tag: str | None) -> ImageReference:
        return replace(self, tag=tag, digest=None)

    def with_digest(self, digest: str) -> ImageReference:
        return replace(self, tag=None, digest=digest)

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def split_host(value: str) -> tuple[str | None, str]:
    """Split ``host/rest``; the first component is a host only if it looks like one (docker's rule)."""
    first, sep, rest = value.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        return first, rest
    return None, value


def parse_reference(text: str, *, default_tag: str | None = "latest") -> ImageReference:
    """Parse an image reference; raise ReferenceFormatError naming what is wrong."""
    if not isinstance(text, str):
        raise ReferenceFormatError("an image reference must be text")
    raw = text.strip()
    if not raw:
        raise ReferenceFormatError("empty image reference")
    if any(ch.isspace() for ch in raw):
        raise ReferenceFormatError(f"image reference {raw!r} contains white space")
    for scheme in ("docker://", "https://", "http://"):
        raw = raw.removeprefix(scheme)
    digest = None
    if "@" in raw:
        raw, _, digest = raw.partition("@")
        if not is_digest(digest):
            raise ReferenceFormatError(
                f"{text!r}: digest {digest!r} is not sha256: followed by 64 lowercase hex digits"
            )
    host, remainder = split_host(raw)
    tag = None
    last_slash = remainder.rfind("/")
    colon = remainder.rfind(":")
    if colon > last_slash:
        remainder, tag = remainder[:colon], remainder[colon + 1:]
        if not _TAG_RE.match(tag):
            raise ReferenceFormatError(f"{text!r}: tag {tag!r} is not valid (letters, digits, _ . -; max 128)")
    if host is None:
        host = DOCKER_HUB
        if "/" not in remainder:
            remainder = f"library/{remainder}"
    elif host in ("index.docker.io", DOCKER_HUB_API):
        host = DOCKER_HUB
    if not _HOST_RE.match(host):
        raise ReferenceFormatError(f"{text!r}: registry host {host!r} is not a valid host[:port]")
    if not remainder or not _PATH_RE.match(remainder):
        raise ReferenceFormatError(
            f"{text!r}: repository {remainder!r} must be lowercase path components separated by '/'"
        )
    if len(remainder) > 255:
        raise ReferenceFormatError(f"{text!r}: repository name is longer than 255 characters")
    if tag is None and digest is None:
        tag = default_tag
    return ImageReference(registry=host, repository=remainder, tag=tag, digest=digest)


def parse_repository(text: str) -> ImageReference:
    """Parse ``host/path`` with no tag or digest (a mirror destination such as ``--to``)."""
    ref = parse_reference(text, default_tag=None)
    if ref.tag or ref.digest:
        raise ReferenceFormatError(f"{text!r}: expected a repository (host/path) without a tag or digest")
    return ref


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST_PORT = re.compile(rf"^(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::(\d{{1,5}}))?$")


def is_registry_host(value: str) -> bool:
    """``HOST`` or ``HOST:PORT`` (a name, an IPv4 address or a bracketed IPv6 address)."""
    match = _HOST_PORT.match(value or "")
    return match is not None and (match.group(1) is None or 0 < int(match.group(1)) < 65536)


LOOPBACK_NOTE = ("only this machine reaches a loopback address: a cluster's nodes cannot pull from it; "
                 "give the mirror by a name or address the nodes reach")


def is_loopback_host(value: str) -> bool:
    """``HOST[:PORT]`` names this machine itself (localhost, 127.0.0.0/8, ::1): fine for the practice
    sandbox, never for a cluster, whose nodes would reach themselves instead of the mirror."""

    host = value or ""
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    host = host.lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
