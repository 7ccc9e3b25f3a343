"""Real release signatures for the sandbox, made in-process with Sequoia (no gpg needed).

Each sandbox start generates its own throwaway signing key: its public half goes into the sandbox
release's ``release-verification`` ConfigMap (as Red Hat's keys go into real payloads), and the release
is signed with it into a store-shaped directory (``sha256=<hex>/signature-1``) that the demo plan names
as ``release.signatures_dir``, and its public half is written beside it and named in the plan's
``release.keys`` (it is not Red Hat's key, so nothing trusts it unless named). The wizard then
fetches, verifies and writes the signature ConfigMap exactly as it does for a real release. The
secret key lives only in memory.
"""

from __future__ import annotations

import json
from pathlib import Path

import pysequoia

from core.fsio import atomic_write

KEY_NAME = "sandbox"
KEY_USER_ID = "mirror-wizard sandbox release key (practice only) <sandbox@mirror-wizard.invalid>"


def make_key() -> pysequoia.Tsk:
    return pysequoia.Tsk.generate(KEY_USER_ID)


def public_key(key: pysequoia.Tsk) -> str:
    """The armored public key, for the payload's ``verifier-public-key-*`` entry."""
    return str(key.extract_certificate())


def write_public_key(path: Path, key: pysequoia.Tsk) -> Path:
    """The public half as a file, for ``release.keys`` / ``--release-key``: the sandbox key is not one of
    Red Hat's, so (like an OKD or custom key) it is trusted only because the plan names it."""
    return atomic_write(path, public_key(key))


def atomic_signature_payload(digest: str, reference: str) -> bytes:
    """The "atomic container signature" document the cluster-version operator checks."""
    return json.dumps({"critical": {"type": "atomic container signature",
                                    "image": {"docker-manifest-digest": digest},
                                    "identity": {"docker-reference": reference}},
                       "optional": {"creator": "mirror-wizard sandbox"}}).encode()


def sign_release(key: pysequoia.Tsk, digest: str, reference: str) -> bytes:
    """An OpenPGP signed message over the signature document (as Red Hat's stores serve them)."""
    return bytes(pysequoia.sign(key.signer(), atomic_signature_payload(digest, reference)))


def write_store_copy(directory: Path, digest: str, signatures: list[bytes]) -> Path:
    """``DIR/sha256=<hex>/signature-<n>``: a signature store's layout, read with ``--signatures-dir``."""
    algo, _, hexpart = digest.partition(":")
    folder = directory / f"{algo}={hexpart}"
    folder.mkdir(parents=True, exist_ok=True)
    for number, data in enumerate(signatures, start=1):
        (folder / f"signature-{number}").write_bytes(data)
    return directory
