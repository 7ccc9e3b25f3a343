"""Who wrote a bundle: ``SHA256SUMS`` signed with an OpenPGP key, checked on the far side before anything
from the medium runs.

``SHA256SUMS`` vouches for every file of the bundle (the wheels pip installs, ``bin/oc``, ``plan.yaml``),
but anyone who can write the medium can rewrite it too. So it is signed: a detached, armored OpenPGP
signature in ``SHA256SUMS.sig`` (``gpg --verify SHA256SUMS.sig SHA256SUMS`` checks it with tools the far
host already has), made with

* the admin's own key (``--sign-key FILE``, an armored OpenPGP secret key without a passphrase), or
* a key kept for this host: made once, stored mode 0600 under the user's config folder
  (``$MIRROR_WIZARD_CONFIG``, else ``$XDG_CONFIG_HOME/mirror-wizard``, else ``~/.config/mirror-wizard``).

Its fingerprint is printed and written to ``bundle.json``; the admin carries it to the far side *apart
from the medium* (the bundle's own copy of the public key, ``bundle-signer.asc``, proves nothing alone).
``media verify DIR --signer FINGERPRINT|KEYFILE`` then refuses a bundle that key did not sign.

OpenPGP itself is Sequoia's (``pysequoia``), as for release signatures.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import pysequoia

from .errors import BundleError, LocalStorageError
from .fsio import PRIVATE, PUBLIC, atomic_write, user_folder
from .userfiles import read_user_file

SIG_FILE = "SHA256SUMS.sig"
SIGNER_FILE = "bundle-signer.asc"
HOST_KEY_FILE = "bundle-signing-key.asc"
KEY_USER_ID = "mirror-wizard bundle signing key <bundles@mirror-wizard.invalid>"
MAX_SIG_BYTES = 64 * 1024        # one detached signature is a few hundred bytes
MAX_KEY_BYTES = 1 << 20
MAX_SUMS_BYTES = 256 << 20       # as core.bundle reads SHA256SUMS (this module does not import it back)
_FINGERPRINT = re.compile(r"(?:[0-9A-F]{40}|[0-9A-F]{64})")


def _read_medium(path: Path, limit: int, what: str) -> bytes:
    """A whole small file from the medium: a regular file, never through a link, at most ``limit`` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise BundleError(f"{path} is missing ({what})") from None
    except OSError as exc:
        raise BundleError(f"cannot read {path} ({what}): {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise BundleError(f"{path} is not a regular file ({what})")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise BundleError(f"{path} is larger than a {what} can be")
    return data


def config_dir() -> Path:
    """$MIRROR_WIZARD_CONFIG, else $XDG_CONFIG_HOME/mirror-wizard, else ~/.config/mirror-wizard."""
    return user_folder("MIRROR_WIZARD_CONFIG", "XDG_CONFIG_HOME", ".config")


def fingerprint_text(text: str) -> str | None:
    """``text`` as an upper-case fingerprint (spaces as gpg prints them, an ``0x`` allowed), else None."""
    value = re.sub(r"\s+", "", text).upper().removeprefix("0X")
    return value if _FINGERPRINT.fullmatch(value) else None


@dataclass(frozen=True)
class BundleSigner:
    key: pysequoia.Tsk
    fingerprint: str       # upper-case hex
    origin: str            # "--sign-key FILE" or the host key's path
    made: bool = False     # the host key was made by this run

    @property
    def public_armored(self) -> str:
        return str(self.key.extract_certificate())


def _tsk(data: bytes, where: str) -> pysequoia.Tsk:
    try:
        key = pysequoia.Tsk.from_bytes(data)
        key.signer()  # a passphrase-protected key fails here, not half-way through a bundle
    except Exception as exc:  # noqa: BLE001 -- pysequoia raises plain exceptions carrying Sequoia's message
        text = str(exc).strip().splitlines()
        raise BundleError(f"{where} is not a usable OpenPGP secret key ({text[0] if text else type(exc).__name__})",
                          hint="give an armored secret key without a passphrase: gpg --export-secret-keys --armor "
                               "KEYID > key.asc") from None
    return key


def signer_from_file(path: str | os.PathLike[str]) -> BundleSigner:
    """The admin's key (``--sign-key FILE``)."""
    data = read_user_file(path, "signing key", BundleError)
    if len(data) > MAX_KEY_BYTES:
        raise BundleError(f"signing key {path} is larger than {MAX_KEY_BYTES} bytes; not a key")
    key = _tsk(data, f"signing key {path} (--sign-key)")
    return BundleSigner(key, str(key.extract_certificate().fingerprint).upper(), f"--sign-key {path}")


def host_signer(folder: Path | None = None) -> BundleSigner:
    """This host's bundle key, made on first use; refused when others could read (or replace) it."""
    folder = folder or config_dir()
    path = folder / HOST_KEY_FILE
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise LocalStorageError(f"cannot read {path}: {exc.strerror or exc}") from None
    if st is None:
        key = pysequoia.Tsk.generate(KEY_USER_ID)
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise LocalStorageError(f"cannot create {folder}: {exc.strerror or exc}") from None
        atomic_write(path, str(key), mode=PRIVATE, hint="set MIRROR_WIZARD_CONFIG to a folder you can write to, "
                                                        "or give your own key with --sign-key FILE")
        return BundleSigner(key, str(key.extract_certificate().fingerprint).upper(), str(path), made=True)
    if not stat.S_ISREG(st.st_mode):
        raise BundleError(f"{path} is not a regular file (a link?); remove it and a new key is made")
    if st.st_mode & 0o077 or st.st_uid != os.geteuid():
        raise BundleError(f"{path} may be read or changed by others (mode {stat.S_IMODE(st.st_mode):o}); "
                          "it signs your bundles", hint=f"chmod 600 {path}, or remove it and a new key is made")
    key = _tsk(read_user_file(path, "bundle signing key", BundleError), f"bundle signing key {path}")
    return BundleSigner(key, str(key.extract_certificate().fingerprint).upper(), str(path))


def sign_sums(directory: Path, signer: BundleSigner, sums_file: str = "SHA256SUMS") -> Path:
    """``SHA256SUMS.sig``: a detached, armored signature over SHA256SUMS as it is on disk."""
    data = _read_medium(directory / sums_file, MAX_SUMS_BYTES, "checksum list")
    signature = pysequoia.sign(signer.key.signer(), data, mode=pysequoia.SignatureMode.DETACHED)
    return atomic_write(directory / SIG_FILE, bytes(signature), mode=PUBLIC)


def write_signer_key(directory: Path, signer: BundleSigner) -> Path:
    """``bundle-signer.asc``: the public key, for ``gpg --import`` on the far side (listed in SHA256SUMS)."""
    return atomic_write(directory / SIGNER_FILE, signer.public_armored, mode=PUBLIC)


def _certs(data: bytes, where: str) -> list[pysequoia.Cert]:
    if b"PRIVATE KEY BLOCK" in data:
        raise BundleError(f"{where} holds a secret key; give the public key (or its fingerprint) only")
    try:
        certs = pysequoia.Cert.split_bytes(data)
    except Exception as exc:  # noqa: BLE001 -- Sequoia's message
        text = str(exc).strip().splitlines()
        raise BundleError(f"{where} is not an OpenPGP public key ({text[0] if text else type(exc).__name__})") from None
    if not certs:
        raise BundleError(f"{where} holds no OpenPGP public key")
    return certs


def check_sums_signature(directory: Path, signer: str, sums_file: str = "SHA256SUMS") -> str:
    """Check ``SHA256SUMS.sig`` is a good signature over SHA256SUMS by ``signer`` (a fingerprint, or a
    public key file); returns the fingerprint. BundleError (one line) otherwise.

    With a fingerprint, the bundle's own ``bundle-signer.asc`` supplies the key, and only a key with
    exactly that fingerprint is accepted: the medium cannot substitute another."""
    expected = fingerprint_text(signer)
    if expected is not None:
        where = f"{directory / SIGNER_FILE} (the bundle's copy of its signer's public key)"
        try:
            carried = _read_medium(directory / SIGNER_FILE, MAX_KEY_BYTES, "signer's public key")
        except BundleError:
            raise BundleError(f"{directory} carries no {SIGNER_FILE}: give --signer the public key file "
                              "instead of its fingerprint") from None
        certs = [c for c in _certs(carried, where) if str(c.fingerprint).upper() == expected]
        if not certs:
            raise BundleError(f"{directory} is not signed by {expected}: its {SIGNER_FILE} is another key; "
                              "refusing the bundle")
        accepted = {expected}
    else:
        data = read_user_file(signer, "signer's public key (--signer)", BundleError)
        certs = _certs(data, f"--signer {signer}")
        accepted = {str(c.fingerprint).upper() for c in certs}
        expected = ", ".join(sorted(accepted))
    if not (directory / SIG_FILE).exists():
        raise BundleError(f"{directory} has no {SIG_FILE}: its origin cannot be checked; refusing the bundle")
    signature_bytes = _read_medium(directory / SIG_FILE, MAX_SIG_BYTES, "signature")
    sums = _read_medium(directory / sums_file, MAX_SUMS_BYTES, "checksum list")
    try:
        signature = pysequoia.Sig.from_bytes(signature_bytes)
        result = pysequoia.verify(bytes=sums, store=lambda _ids: certs, signature=signature)
    except Exception as exc:  # noqa: BLE001 -- Sequoia: bad packet, no valid signature, expired key ...
        text = str(exc).strip().splitlines()
        raise BundleError(f"{directory}/{SIG_FILE} is not a good signature by {expected} over {sums_file} "
                          f"({text[0] if text else type(exc).__name__}); refusing the bundle") from None
    signed_by = {str(s.certificate).upper() for s in result.valid_sigs}
    if not signed_by & accepted:
        raise BundleError(f"{directory}/{SIG_FILE} is not signed by {expected}; refusing the bundle")
    return sorted(signed_by & accepted)[0]


__all__ = ["HOST_KEY_FILE", "SIGNER_FILE", "SIG_FILE", "BundleSigner", "check_sums_signature", "config_dir",
           "fingerprint_text", "host_signer", "sign_sums", "signer_from_file", "write_signer_key"]
