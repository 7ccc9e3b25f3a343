"""The release keys mirror-wizard trusts: Red Hat's, shipped with it, and those the admin names.

A release payload carries a ``release-verification`` ConfigMap naming the keys that must sign it. That
ConfigMap comes from the same registry (or medium) as the payload: a registry that lies ships its own
key and its own signatures, and "verifies". So the payload's keys only say *which* keys must sign; each
of them must also be *pinned* here, and signatures are checked with our copy of the key, never the
payload's. Pinned by default: Red Hat's release keys (``core/data/release-keys``, from
openshift/cluster-update-keys). Others (OKD, the OpenShift CI key, a custom payload, the demo
sandbox) only when named: ``--release-key FILE`` (repeatable), plan key ``release.keys``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources

import pysequoia

from .errors import ReleaseError
from .userfiles import read_user_file

#: The shipped keys (package data) and what they are; fingerprints as ``gpg --fingerprint`` shows them.
SHIPPED_KEYS: tuple[tuple[str, str], ...] = (
    ("redhat-release.asc", "Red Hat, Inc. (release key 2)"),
    ("redhat-beta-2.asc", "Red Hat, Inc. (beta key 2)"),
)
#: Their fingerprints, upper-case hex, so a test (and the README) can hold us to them.
RED_HAT_FINGERPRINTS: frozenset[str] = frozenset({
    "567E347AD0044ADE55BA8A5F199E2F91FD431D51",
    "B08B659EE86AF623BC90E8DB938A80CAF21541EB",
})
#: A key file is a few KiB; anything much larger is not one (and is not read whole into memory).
MAX_KEY_FILE_BYTES = 1 << 20


def fingerprint_of(cert: pysequoia.Cert) -> str:
    """Upper-case hex, as containers/image and gpg show it."""
    return str(cert.fingerprint).upper()


@dataclass(frozen=True)
class PinnedKey:
    cert: pysequoia.Cert
    origin: str          # "shipped: Red Hat, Inc. (release key 2)" or the file it was read from


@dataclass(frozen=True)
class PinnedKeys:
    """Certificates by fingerprint (upper-case hex)."""
    keys: dict[str, PinnedKey] = field(default_factory=dict)

    def __contains__(self, fingerprint: object) -> bool:
        return isinstance(fingerprint, str) and fingerprint.upper() in self.keys

    def cert(self, fingerprint: str) -> pysequoia.Cert:
        return self.keys[fingerprint.upper()].cert

    def describe(self) -> str:
        return ", ".join(f"{fp} ({key.origin})" for fp, key in sorted(self.keys.items()))


def _split(data: bytes, where: str) -> list[pysequoia.Cert]:
    if b"PRIVATE KEY BLOCK" in data:
        # a secret key in a trust list is a mistake that would spread the secret: say so, do not use it
        raise ReleaseError(f"{where} holds a secret key; give the public key only (gpg --export --armor)")
    try:
        certs = pysequoia.Cert.split_bytes(data)
    except Exception as exc:  # noqa: BLE001 -- pysequoia raises plain exceptions carrying Sequoia's message
        text = str(exc).strip()
        raise ReleaseError(f"{where} is not an OpenPGP public key: "
                           f"{text.splitlines()[0] if text else type(exc).__name__}") from None
    if not certs:
        raise ReleaseError(f"{where} holds no OpenPGP public key")
    return certs


def shipped_keys() -> PinnedKeys:
    """Red Hat's release keys, as shipped."""
    keys: dict[str, PinnedKey] = {}
    folder = resources.files("core") / "data" / "release-keys"
    for name, label in SHIPPED_KEYS:
        for cert in _split(folder.joinpath(name).read_bytes(), f"shipped release key {name}"):
            keys[fingerprint_of(cert)] = PinnedKey(cert, f"shipped: {label}")
    return PinnedKeys(keys)


def pinned_keys(files: Sequence[str] | Iterable[str] = (), *, shipped: bool = True) -> PinnedKeys:
    """The shipped keys (unless ``shipped`` is false) plus every certificate in ``files``.

    A file that cannot be read or holds no public key is one ReleaseError naming it (and the option).
    """
    keys = dict(shipped_keys().keys) if shipped else {}
    for path in files:
        data = read_user_file(path, "release key", ReleaseError)
        if len(data) > MAX_KEY_FILE_BYTES:
            raise ReleaseError(f"release key {path} is larger than {MAX_KEY_FILE_BYTES} bytes; not a public key")
        for cert in _split(data, f"release key {path} (--release-key)"):
            keys.setdefault(fingerprint_of(cert), PinnedKey(cert, str(path)))
    return PinnedKeys(keys)


@dataclass(frozen=True)
class KeyFacts:
    """One public key of a file the admin names, as a front end shows it before trusting it."""
    fingerprint: str
    user_ids: tuple[str, ...]

    def line(self) -> str:
        return f"{self.fingerprint} ({', '.join(self.user_ids) or 'no user id'})"


def key_file_facts(path: str) -> list[KeyFacts]:
    """What a release key file holds (checked as pinned_keys reads it: readable, bounded, public keys
    only); ReleaseError (one line, naming the file) otherwise. For the wizard's release key field."""
    found = pinned_keys([path], shipped=False)
    facts = []
    for fingerprint, key in found.keys.items():
        try:
            names = tuple(str(uid) for uid in key.cert.user_ids)
        except Exception:  # noqa: BLE001 -- pysequoia raises plain exceptions; the fingerprint is what counts
            names = ()
        facts.append(KeyFacts(fingerprint, names))
    return facts


__all__ = ["RED_HAT_FINGERPRINTS", "SHIPPED_KEYS", "KeyFacts", "PinnedKey", "PinnedKeys", "fingerprint_of",
           "key_file_facts", "pinned_keys", "shipped_keys"]
