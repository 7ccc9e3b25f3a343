"""Release signatures (GPG), read and checked the way the cluster-version operator does.

Facts from library-go ``pkg/verify`` and oc ``adm release mirror``:

* The release payload carries its verification config: the first ConfigMap (by file name) in
  ``release-manifests/`` annotated ``release.openshift.io/verification-config-map``. Its data keys
  ``verifier-public-key-*`` are keyrings (armored OpenPGP public keys), ``store-*`` are store base URLs.
* A store serves ``<store>/sha256=<hex>/signature-<n>``, n = 1, 2, ..., stopping at the first 404;
  each answer is at most 50 KiB. A signature is an OpenPGP signed message whose payload is the
  "atomic container signature" JSON; ``critical.image.docker-manifest-digest`` must be the release digest.
* A release verifies when *every* keyring has signed it (one good signature per keyring).
* The cluster reads verified signatures from ConfigMaps in ``openshift-config-managed`` labelled
  ``release.openshift.io/verification-signatures``: name ``sha256-<hex>``, ``binaryData`` keys
  ``sha256-<hex>-<n>`` holding the signature bytes unchanged. oc writes that ConfigMap as JSON to
  ``signature-sha256-<first 16 hex>.json``.

OpenPGP itself is Sequoia's (``pysequoia``): nothing here parses OpenPGP packets.
"""

from __future__ import annotations

import base64
import binascii
import json
import tarfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pysequoia
import yaml

from .endpoints import Endpoints
from .errors import (
    AnswerTooLarge,
    ErrorCode,
    MirrorError,
    RegistryError,
    RegistryStalled,
    ReleaseError,
    SignatureError,
    TLSVerifyError,
)
from .extract import Visitor, member_path, scan_tar
from .fsio import atomic_write
from .http import HttpClient
from .reference import is_digest, parse_reference
from .registry import RegistrySession
from .release import ReleaseInfo, pick_platform, release_location
from .release_keys import PinnedKeys, fingerprint_of, shipped_keys
from .tlsconfig import TLSOptions
from .userfiles import parse_json
from .yamlout import dump_yaml

VERIFICATION_ANNOTATION = "release.openshift.io/verification-config-map"
SIGNATURES_LABEL = "release.openshift.io/verification-signatures"
SIGNATURES_NAMESPACE = "openshift-config-managed"
KEY_PREFIX = "verifier-public-key-"
STORE_PREFIX = "store-"
ATOMIC_TYPE = "atomic container signature"
MANIFESTS_DIR = "release-manifests/"
# library-go reads at most this many signatures per store (a hostile store cannot keep it busy) ...
MAX_SIGNATURES = 10
# ... and at most this many bytes of each.
MAX_SIGNATURE_BYTES = 50 * 1024
STORE_TIMEOUT = 30.0
# oc names the exported ConfigMap after the digest's first 16 hex digits.
FILE_DIGEST_CHARS = 16

# The atomic container signature's schema: library-go refuses any other field.
_ALLOWED = {
    (): {"critical", "optional"},
    ("critical",): {"type", "image", "identity"},
    ("critical", "image"): {"docker-manifest-digest"},
    ("critical", "identity"): {"docker-reference"},
    ("optional",): {"creator", "timestamp"},
}


# -- the payload's verification config ----------------------------------------------------------------

@dataclass(frozen=True)
class VerificationConfig:
    keyrings: dict[str, str]      # verifier-public-key-* → armored (or binary, base64-free) public keys
    stores: tuple[str, ...]       # store base URLs, http(s)
    where: str                    # the manifest it came from, for messages

    def certificates(self) -> dict[str, list[pysequoia.Cert]]:
        return {name: load_keyring(text, f"{self.where}: {name}") for name, text in self.keyrings.items()}

    def pinned(self, pinned: PinnedKeys) -> tuple[dict[str, list[pysequoia.Cert]], list[str]]:
        """Each keyring as *our* copies of its keys, and the keys (``NAME FINGERPRINT``) not pinned.

        The payload only says which keys must sign; whether a key is trusted is ours to say (a registry
        that lies ships its own key). A keyring with any key we do not pin cannot be satisfied."""
        keyrings: dict[str, list[pysequoia.Cert]] = {}
        unpinned: list[str] = []
        for name, certs in self.certificates().items():
            prints = [fingerprint_of(cert) for cert in certs]
            missing = [fp for fp in prints if fp not in pinned]
            if missing:
                unpinned += [f"{name} {fp}" for fp in missing]
                continue
            keyrings[name] = [pinned.cert(fp) for fp in prints]
        return keyrings, unpinned


def load_keyring(text: str | bytes, where: str) -> list[pysequoia.Cert]:
    """One or more OpenPGP certificates (armored or binary); ReleaseError when there are none."""
    data = text.encode() if isinstance(text, str) else text
    try:
        certs = pysequoia.Cert.split_bytes(data)
    except Exception as exc:  # noqa: BLE001 -- pysequoia raises plain exceptions carrying Sequoia's message
        raise ReleaseError(f"{where} is not an OpenPGP public key: {_first_line(exc)}") from None
    if not certs:
        raise ReleaseError(f"{where} holds no OpenPGP public key")
    return certs


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_store_url(url: str, where: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ReleaseError(f"{where}: signature store {url!r} is not an http(s) URL"
                           + ("; give a directory with --signatures-dir instead" if parts.scheme == "file" else ""))
    return url.rstrip("/")


def parse_verification_config(document: Any, where: str) -> VerificationConfig | None:
    """The annotated ConfigMap as a config; None for any other object; ReleaseError when it is unusable."""
    if isinstance(document, (bytes, str)):
        try:
            document = yaml.safe_load(document)
        except (yaml.YAMLError, RecursionError):  # RecursionError: nesting deep enough to exhaust the stack
            return None
    if not isinstance(document, dict) or document.get("kind") != "ConfigMap":
        return None
    metadata = document.get("metadata") or {}
    annotations = (metadata.get("annotations") or {}) if isinstance(metadata, dict) else {}
    if not isinstance(annotations, dict) or VERIFICATION_ANNOTATION not in annotations:
        return None
    data = document.get("data") or {}
    if not isinstance(data, dict):
        raise ReleaseError(f"{where}: the verification ConfigMap's data is not a mapping")
    keyrings: dict[str, str] = {}
    stores: list[str] = []
    for key, value in sorted(data.items()):
        if not isinstance(value, str):
            raise ReleaseError(f"{where}: {key} is not a string")
        if key.startswith(KEY_PREFIX):
            load_keyring(value, f"{where}: {key}")  # refuse a broken key now, not at the first signature
            keyrings[key] = value
        elif key.startswith(STORE_PREFIX):
            stores.append(_check_store_url(value, f"{where}: {key}"))
    if not keyrings:
        raise ReleaseError(f"{where}: the verification ConfigMap names no {KEY_PREFIX}* key")
    return VerificationConfig(keyrings, tuple(stores), where)


# The verification ConfigMap is a few KiB (Red Hat's: two keys and two store URLs, ~8 KiB); a release
# payload has one. Files larger than this are never read, and a payload with more than this many files
# carrying the annotation is refused: the scan keeps one candidate in memory, parses a bounded number.
MAX_VERIFICATION_BYTES = 256 * 1024
MAX_ANNOTATED_FILES = 16


@dataclass
class _Candidate:
    """The verification ConfigMap the scan has chosen so far: the first by file name, as the operator picks."""
    path: str
    config: VerificationConfig | None = None
    error: ReleaseError | None = None


@dataclass
class _ManifestScan:
    """What the layer scan carries from one layer to the next (layers come top-down)."""
    where: str
    best: _Candidate | None = None
    upper: set[str] = field(default_factory=set)       # paths a layer above already holds: they win
    hidden: set[str] = field(default_factory=set)      # whiteouts (``.wh.NAME``) of the layers above
    annotated: int = 0

    def result(self) -> VerificationConfig | None:
        if self.best is None:
            return None
        if self.best.error is not None:
            raise self.best.error
        return self.best.config


def _manifest_visitor(scan: _ManifestScan, hidden_here: set[str], seen_here: set[str]) -> Visitor:
    """Look for the verification ConfigMap among ``release-manifests/*.yaml|yml|json``, keeping only it.

    A file is read only when it is small enough to be the ConfigMap and comes before the best candidate
    by name; only a file carrying the annotation is parsed. An upper layer's file wins over the same path
    below, and a whiteout (``.wh.NAME``) in an upper layer hides NAME below. ``seen_here`` gets every
    release-manifests/ path of the layer, so the caller knows where the payload's manifests were written.
    """
    marker = VERIFICATION_ANNOTATION.encode()

    def visit(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bool:
        path = member_path(member)
        if not path.startswith(MANIFESTS_DIR):
            return False
        seen_here.add(path)
        if "/" in path[len(MANIFESTS_DIR):]:
            return False
        name = path[len(MANIFESTS_DIR):]
        if name.startswith(".wh."):
            hidden_here.add(MANIFESTS_DIR + name[4:])
            return False
        if (path in scan.upper or path in scan.hidden or not member.isfile() or member.size > MAX_VERIFICATION_BYTES
                or not name.endswith((".yaml", ".yml", ".json"))
                or (scan.best is not None and path >= scan.best.path)):
            return False
        handle = tar.extractfile(member)
        data = handle.read(MAX_VERIFICATION_BYTES + 1) if handle is not None else b""
        if marker not in data:
            return False
        scan.annotated += 1
        if scan.annotated > MAX_ANNOTATED_FILES:
            raise ReleaseError(f"{scan.where}: more than {MAX_ANNOTATED_FILES} files in {MANIFESTS_DIR} carry "
                               f"{VERIFICATION_ANNOTATION}; a release payload has one")
        try:
            config = parse_verification_config(data, f"{scan.where}: {path}")
        except ReleaseError as exc:  # broken, but only an error if it is the one the operator would use
            scan.best = _Candidate(path, error=exc)
            return False
        if config is not None:
            scan.best = _Candidate(path, config)
        return False

    return visit


async def read_verification_config(session: RegistrySession, info: ReleaseInfo) -> VerificationConfig | None:
    """The verification config inside a release (registry or OCI directory), or None if it has none."""
    source, reference = Endpoints(session).source(release_location(info))
    image = await source.get_manifest(reference)
    if image.is_index:
        image = await pick_platform(source, image, info.pull_spec)
    scan = _ManifestScan(info.pull_spec)
    for layer in reversed(image.layers()):
        if layer.urls:
            continue
        hidden_here: set[str] = set()
        seen_here: set[str] = set()
        await scan_tar(source.stream(layer.digest, layer.size), _manifest_visitor(scan, hidden_here, seen_here),
                       where=f"layer {layer.digest[:19]} of {info.pull_spec}")
        scan.upper |= seen_here
        scan.hidden |= hidden_here
        # oc adm release new writes every release manifest in one layer, the one with image-references;
        # the layers below it are the cluster-version operator's own image, which the operator does not
        # read manifests from. Stopping there also spares reading (and failing on) its big base layers.
        if MANIFESTS_DIR + "image-references" in seen_here:
            break
    return scan.result()


# Where Red Hat publishes releases: the identity its signatures name, wherever the admin pulls from.
OFFICIAL_RELEASE_REPOSITORIES = frozenset({"quay.io/openshift-release-dev/ocp-release"})


def expected_identities(info: ReleaseInfo) -> frozenset[str]:
    """Repositories a signature of ``info`` may name: the official one and the one it was read from.

    (The cluster-version operator itself only requires a non-empty identity; we also refuse a signature
    made for some other repository's image.)
    """
    return OFFICIAL_RELEASE_REPOSITORIES | ({info.source_repository} if info.source_repository else set())


# -- one signature ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VerifiedSignature:
    data: bytes          # as fetched: this goes into the ConfigMap unchanged
    keyring: str         # the verifier-public-key-* that verified it
    fingerprint: str     # the signing certificate, upper-case hex as containers/image shows it
    identity: str        # critical.identity.docker-reference
    origin: str          # store URL or file it came from


def check_digest(digest: str) -> str:
    # fullmatch (is_digest): "$" would let a trailing newline into the signature paths and URLs
    if not is_digest(digest or ""):
        raise ReleaseError(f"release digest {digest!r} is not sha256:<64 hex digits>")
    return digest


def _check_fields(value: Any, path: tuple[str, ...]) -> None:
    allowed = _ALLOWED.get(path)
    if allowed is None:
        return
    if not isinstance(value, dict):
        raise SignatureError(f"the signed {'.'.join(path) or 'document'} is not a JSON object")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise SignatureError(f"the signed document has unknown field {'.'.join((*path, unknown[0]))!r}")
    for key, inner in value.items():
        _check_fields(inner, (*path, key))


def check_atomic_signature(content: bytes, digest: str, identities: Collection[str] = ()) -> str:
    """Check the signed JSON names ``digest``; returns its docker-reference. SignatureError otherwise.

    ``identities``: repositories (``host/path``) the reference may name; empty accepts any non-empty one.
    """
    document = parse_json(content, where="the signed content", error=SignatureError)
    _check_fields(document, ())
    critical = document.get("critical") or {}
    if critical.get("type") != ATOMIC_TYPE:
        raise SignatureError(f"the signed document is not an {ATOMIC_TYPE!r}")
    reference = (critical.get("identity") or {}).get("docker-reference")
    if not isinstance(reference, str) or not reference:
        raise SignatureError("the signature names no identity (critical.identity.docker-reference)")
    signed_digest = (critical.get("image") or {}).get("docker-manifest-digest")
    if signed_digest != digest:
        raise SignatureError(f"the signature is for {signed_digest}, not {digest}")
    if identities:
        try:
            repository = parse_reference(reference, default_tag=None).name
        except MirrorError:
            raise SignatureError(f"the signature's identity {reference!r} is not an image reference") from None
        if repository not in identities:
            raise SignatureError(f"the signature names {repository}, not " + " or ".join(sorted(identities)))
    return reference


def verify_signature(data: bytes, digest: str, keyrings: dict[str, list[pysequoia.Cert]], *,
                     identities: Collection[str] = (), origin: str = "") -> list[VerifiedSignature]:
    """Every keyring this signature verifies under (usually one). SignatureError naming why if none."""
    if len(data) > MAX_SIGNATURE_BYTES:
        raise SignatureError(f"{origin or 'signature'} is {len(data)} bytes, more than a signature can be")
    results: list[VerifiedSignature] = []
    reasons: list[str] = []
    for name, certs in keyrings.items():
        try:
            message = pysequoia.verify(bytes=data, store=lambda _ids, certs=certs: certs)
        except Exception as exc:  # noqa: BLE001 -- Sequoia's error: bad packet, no valid signature, expired key ...
            reasons.append(f"{name}: {_first_line(exc)}")
            continue
        if not message.valid_sigs:
            reasons.append(f"{name}: not signed")
            continue
        if message.bytes is None:  # a detached signature: nothing signed to read the claims from
            reasons.append(f"{name}: the signature carries no signed document")
            continue
        content = bytes(message.bytes)
        if len(content) > MAX_SIGNATURE_BYTES:
            raise SignatureError(f"{origin or 'signature'}: the signed document is larger than a signature's")
        identity = check_atomic_signature(content, digest, identities)
        fingerprint = str(message.valid_sigs[0].certificate).upper()
        results.append(VerifiedSignature(data, name, fingerprint, identity, origin))
    if not results:
        raise SignatureError(f"{origin or 'signature'} does not verify: " + "; ".join(reasons))
    return results


# -- fetching -------------------------------------------------------------------------------------------

def store_url(store: str, digest: str, number: int) -> str:
    """``<store>/sha256=<hex>/signature-<n>``, as library-go builds it."""
    algo, _, hexpart = check_digest(digest).partition(":")
    return f"{store.rstrip('/')}/{algo}={hexpart}/signature-{number}"


@dataclass
class Fetched:
    origin: str
    signatures: list[tuple[str, bytes]] = field(default_factory=list)  # (where, bytes)
    problems: list[str] = field(default_factory=list)


async def fetch_from_store(store: str, digest: str, *, tls: TLSOptions | None = None,
                           timeout: float = STORE_TIMEOUT, limit: int = MAX_SIGNATURES) -> Fetched:
    """Signatures 1..limit from one store, stopping at the first one missing; problems are noted, not raised."""
    store = _check_store_url(store, "signature store")
    host = urlsplit(store).netloc
    result = Fetched(store)
    http = HttpClient(tls)
    try:
        for number in range(1, limit + 1):
            url = store_url(store, digest, number)
            try:
                # one deadline for the whole answer: a store dripping bytes cannot hold us per chunk
                answer = await http.fetch(url, limit=MAX_SIGNATURE_BYTES, deadline=timeout, what=url,
                                          who=f"the signature store {host}")
            except AnswerTooLarge:
                result.problems.append(f"{url}: more than {MAX_SIGNATURE_BYTES} bytes; not a signature")
                continue
            except RegistryStalled:
                result.problems.append(f"{url}: timed out after {timeout:g}s")
                break
            except TLSVerifyError:
                result.problems.append(f"{host}: the store's TLS certificate is not trusted (pass its CA with --ca-file)")
                break
            except RegistryError as exc:
                result.problems.append(f"{url}: {exc}")
                break
            if answer.status == 404:
                break
            if answer.status != 200:
                result.problems.append(f"{url}: the store answered {answer.status}")
                continue  # as library-go: another index may still be there
            if answer.content:
                result.signatures.append((url, answer.content))
    finally:
        await http.aclose()
    return result


def _configmap_signatures(document: Any, digest: str, where: str) -> list[tuple[str, bytes]] | None:
    if not isinstance(document, dict) or document.get("kind") != "ConfigMap":
        return None
    prefix = configmap_name(digest)
    metadata = document.get("metadata") or {}
    if not isinstance(metadata, dict) or metadata.get("name") != prefix:
        return None
    binary = document.get("binaryData") or {}
    if not isinstance(binary, dict):
        raise ReleaseError(f"{where}: binaryData is not a mapping")
    found: list[tuple[int, str, bytes]] = []
    for key, value in binary.items():
        number = str(key)[len(prefix) + 1:] if str(key).startswith(prefix + "-") else ""
        if not number.isdigit() or not isinstance(value, str):
            continue
        try:
            found.append((int(number), f"{where}: {key}", base64.b64decode(value, validate=True)))
        except binascii.Error:
            raise ReleaseError(f"{where}: {key} is not base64") from None
    return [(w, d) for _, w, d in sorted(found)]


def read_signatures_dir(directory: str | Path, digest: str, *, limit: int = MAX_SIGNATURES) -> Fetched:
    """Signatures for ``digest`` kept in a directory, in either shape mirror-wizard and oc leave them:

    * a store copy: ``DIR/sha256=<hex>/signature-<n>``;
    * oc's export: ``DIR/signature-sha256-<16 hex>.json`` (the ConfigMap, JSON or YAML).
    """
    directory = Path(directory)
    check_digest(digest)
    result = Fetched(str(directory))
    if not directory.is_dir():
        raise ReleaseError(f"signatures directory {directory} does not exist or is not a directory")
    algo, _, hexpart = digest.partition(":")
    store_dir = directory / f"{algo}={hexpart}"
    for number in range(1, limit + 1):
        path = store_dir / f"signature-{number}"
        if not path.is_file():
            break
        data = _read_small(path, MAX_SIGNATURE_BYTES)
        if data:
            result.signatures.append((str(path), data))
    exported = directory / signature_file_name(digest)
    if exported.is_file():
        text = _read_small(exported, MAX_SIGNATURE_BYTES * (limit + 2))
        try:
            document = yaml.safe_load(text)  # JSON is YAML
        except (yaml.YAMLError, RecursionError):  # RecursionError: nested deep enough to exhaust the stack
            raise ReleaseError(f"{exported} is not a JSON or YAML ConfigMap") from None
        found = _configmap_signatures(document, digest, str(exported))
        if found is None:
            raise ReleaseError(f"{exported} is not the signature ConfigMap {configmap_name(digest)}")
        known = {d for _, d in result.signatures}
        result.signatures += [(w, d) for w, d in found[:limit] if d not in known]
    return result


def _read_small(path: Path, limit: int) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise ReleaseError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise ReleaseError(f"{path} is larger than {limit} bytes; not a release signature")
    return data


# -- the whole check ----------------------------------------------------------------------------------

@dataclass
class SignatureReport:
    digest: str
    verified: list[VerifiedSignature] = field(default_factory=list)  # one per keyring that signed
    missing_keyrings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # unreachable stores, signatures that did not verify
    allowed_unsigned: bool = False
    # the payload's keys we do not pin ("verifier-public-key-x FINGERPRINT"): nothing they sign counts
    unpinned: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.verified) and not self.missing_keyrings and not self.unpinned

    @property
    def signatures(self) -> list[bytes]:
        """The verified signatures, each once, in the order found: the ConfigMap's content."""
        out: list[bytes] = []
        for item in self.verified:
            if item.data not in out:
                out.append(item.data)
        return out

    def configmap(self) -> dict[str, Any]:
        return signature_configmap(self.digest, self.signatures)

    def summary(self) -> str:
        if self.ok:
            signers = ", ".join(f"{v.keyring} ({v.fingerprint[-16:]})" for v in self.verified)
            return f"release {self.digest} is signed by {signers}"
        if self.unpinned:
            return (f"WARNING: release {self.digest} is NOT verified: its payload names key(s) mirror-wizard does "
                    f"not trust ({'; '.join(self.unpinned)}); mirrored only because of --allow-unsigned")
        return (f"WARNING: release {self.digest} is NOT verified"
                + (f" (no signature from {', '.join(self.missing_keyrings)})" if self.missing_keyrings else "")
                + "; a cluster will refuse to update to it")


async def verify_release(digest: str, config: VerificationConfig | None, *, stores: Sequence[str] = (),
                         signatures_dir: str | Path | None = None, identities: Collection[str] = (),
                         allow_unsigned: bool = False, tls: TLSOptions | None = None,
                         timeout: float = STORE_TIMEOUT, pinned: PinnedKeys | None = None) -> SignatureReport:
    """Find and verify a release's signatures; SignatureError unless verified or ``allow_unsigned``.

    Every key the payload names must be pinned (``pinned``; default: Red Hat's shipped keys only), and
    signatures are checked with the pinned copy: a payload naming any other key is refused, its
    fingerprint named, before anything is fetched.

    Sources, in order: ``signatures_dir`` (then nothing is fetched from the payload's stores, for hosts
    that cannot reach them), the extra ``stores`` given by the admin, the payload's own stores.
    """
    check_digest(digest)
    report = SignatureReport(digest, allowed_unsigned=allow_unsigned)
    if config is None:
        report.problems.append("the release payload carries no release-verification ConfigMap, so nothing "
                               "says which keys must sign it")
        report.missing_keyrings = ["(no keys in the payload)"]
        return _finish(report, allow_unsigned)
    keyrings, unpinned = config.pinned(pinned if pinned is not None else shipped_keys())
    if unpinned:
        report.unpinned = unpinned
        report.missing_keyrings = sorted(set(config.keyrings) - set(keyrings))
        report.problems.append(f"{config.where} names key(s) that are not pinned: {'; '.join(unpinned)}")
        return _finish(report, allow_unsigned)
    remaining = dict(keyrings)
    seen: set[bytes] = set()

    def take(fetched: Fetched) -> None:
        report.problems += fetched.problems
        for where, data in fetched.signatures:
            if not remaining or data in seen:
                continue
            seen.add(data)
            try:
                results = verify_signature(data, digest, remaining, identities=identities, origin=where)
            except SignatureError as exc:
                report.problems.append(str(exc))
                continue
            for item in results:
                if item.keyring in remaining:
                    remaining.pop(item.keyring)
                    report.verified.append(item)

    if signatures_dir is not None:
        take(read_signatures_dir(signatures_dir, digest))
    sources = list(stores) + ([] if signatures_dir is not None else list(config.stores))
    for store in dict.fromkeys(s.rstrip("/") for s in sources):
        if not remaining:
            break
        take(await fetch_from_store(store, digest, tls=tls, timeout=timeout))
    if not seen and not report.problems:
        report.problems.append("no signatures found in " + (", ".join(
            ([str(signatures_dir)] if signatures_dir is not None else []) + sources) or "any store"))
    report.missing_keyrings = sorted(remaining)
    return _finish(report, allow_unsigned)


def _finish(report: SignatureReport, allow_unsigned: bool) -> SignatureReport:
    if report.ok or allow_unsigned:
        return report
    if report.unpinned:
        raise SignatureError(
            f"release {report.digest} is signed, it says, by key(s) mirror-wizard does not trust: "
            f"{'; '.join(report.unpinned)}",
            hint="Red Hat's release keys are trusted; give any other key you know to be right with --release-key "
                 "FILE (plan: release.keys), or --allow-unsigned to mirror the release anyway",
            code=ErrorCode.RELEASE_KEY_UNTRUSTED, fix="; ".join(report.unpinned))
    detail = "; ".join(report.problems[:3]) or "no signature verified"
    raise SignatureError(
        f"release {report.digest} has no valid signature from {', '.join(report.missing_keyrings)}: {detail}",
        hint="a cluster refuses to update to it; give a reachable store with --signature-store, the signatures "
             "with --signatures-dir, or --allow-unsigned to mirror it anyway")


async def check_release_signatures(session: RegistrySession, info: ReleaseInfo, *, stores: Sequence[str] = (),
                                   signatures_dir: str | Path | None = None, allow_unsigned: bool = False,
                                   write_to: str | Path | None = None, timeout: float = STORE_TIMEOUT,
                                   pinned: PinnedKeys | None = None) -> tuple[SignatureReport, Path | None]:
    """The whole step for one release, as a mirror run needs it: read the payload's verification config,
    find and verify the signatures (SignatureError unless ``allow_unsigned``), and with ``write_to`` write
    oc's ``signature-sha256-<16 hex>.json`` there. Returns the report and the file written (if any)."""
    config = await read_verification_config(session, info)
    report = await verify_release(info.digest, config, stores=stores, signatures_dir=signatures_dir,
                                  identities=expected_identities(info), allow_unsigned=allow_unsigned,
                                  tls=session.tls, timeout=timeout, pinned=pinned)
    written = write_signature_file(write_to, info.digest, report.signatures) \
        if write_to is not None and report.signatures else None
    return report, written


# -- what the cluster reads ---------------------------------------------------------------------------

def configmap_name(digest: str) -> str:
    algo, _, hexpart = check_digest(digest).partition(":")
    return f"{algo}-{hexpart}"


def signature_configmap(digest: str, signatures: Sequence[bytes]) -> dict[str, Any]:
    """The ConfigMap the cluster-version operator reads (library-go GetSignaturesAsConfigmap)."""
    name = configmap_name(digest)
    return {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"name": name, "namespace": SIGNATURES_NAMESPACE, "creationTimestamp": None,
                     "labels": {SIGNATURES_LABEL: ""}},
        "binaryData": {f"{name}-{i}": base64.b64encode(data).decode("ascii")
                       for i, data in enumerate(signatures, start=1)},
    }


def configmap_bytes(configmap: dict[str, Any]) -> bytes:
    """Compact JSON and a newline, map keys sorted: the bytes Kubernetes' encoder gives oc."""
    ordered = dict(configmap)
    ordered["binaryData"] = dict(sorted((configmap.get("binaryData") or {}).items()))
    return (json.dumps(ordered, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def configmap_yaml(configmap: dict[str, Any]) -> str:
    """The same ConfigMap as YAML, for the runbook and ``oc apply -f`` (no null creationTimestamp)."""
    shown = dict(configmap)
    shown["metadata"] = {k: v for k, v in configmap["metadata"].items() if v is not None}
    return dump_yaml(shown)


def signature_file_name(digest: str) -> str:
    """``signature-sha256-<first 16 hex>.json``, as oc names it."""
    algo, _, hexpart = check_digest(digest).partition(":")
    return f"signature-{algo}-{hexpart[:FILE_DIGEST_CHARS]}.json"


def write_signature_file(directory: str | Path, digest: str, signatures: Sequence[bytes]) -> Path:
    """Write the ConfigMap to ``DIR/signature-sha256-<16 hex>.json`` (atomically)."""
    if not signatures:
        raise SignatureError(f"no verified signature for {digest} to write")
    path = Path(directory) / signature_file_name(digest)
    return atomic_write(path, configmap_bytes(signature_configmap(digest, signatures)),
                        hint="choose a directory you can write to with --release-image-signature-to-dir")


__all__ = [
    "MAX_ANNOTATED_FILES",
    "MAX_SIGNATURES",
    "MAX_SIGNATURE_BYTES",
    "MAX_VERIFICATION_BYTES",
    "OFFICIAL_RELEASE_REPOSITORIES",
    "SIGNATURES_LABEL",
    "SIGNATURES_NAMESPACE",
    "VERIFICATION_ANNOTATION",
    "Fetched",
    "SignatureReport",
    "VerificationConfig",
    "VerifiedSignature",
    "check_atomic_signature",
    "check_digest",
    "check_release_signatures",
    "configmap_bytes",
    "configmap_name",
    "configmap_yaml",
    "expected_identities",
    "fetch_from_store",
    "load_keyring",
    "parse_verification_config",
    "read_signatures_dir",
    "read_verification_config",
    "signature_configmap",
    "signature_file_name",
    "store_url",
    "verify_release",
    "verify_signature",
    "write_signature_file",
]
