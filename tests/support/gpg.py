"""Release signing keys for tests, made and used by the real GnuPG (``gpg``), not by the code under test.

Signatures are what Red Hat's signing service produces: ``gpg --sign`` over the atomic container
signature JSON (a compressed, binary OpenPGP signed message).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

GPG = shutil.which("gpg")
needs_gpg = pytest.mark.skipif(GPG is None, reason="gpg is not installed (scripts/setup installs gnupg)")


@dataclass
class SigningKey:
    home: Path
    uid: str

    def _gpg(self, *args: str, data: bytes | None = None) -> bytes:
        result = subprocess.run([GPG or "gpg", "--homedir", str(self.home), "--batch", "--yes", "--no-tty",
                                 "--pinentry-mode", "loopback", "--passphrase", "", *args],
                                input=data, capture_output=True, timeout=60, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"gpg {' '.join(args)} failed: {result.stderr.decode(errors='replace')}")
        return result.stdout

    @property
    def public_armored(self) -> str:
        return self._gpg("--armor", "--export", self.uid).decode()

    def sign(self, payload: bytes) -> bytes:
        return self._gpg("--local-user", self.uid, "--sign", "--output", "-", data=payload)

    def sign_release(self, digest: str, reference: str, **extra: object) -> bytes:
        return self.sign(atomic_payload(digest, reference, **extra))

    def close(self) -> None:
        # the agent gpg started for this home (and only it)
        subprocess.run(["gpgconf", "--homedir", str(self.home), "--kill", "gpg-agent"],
                       capture_output=True, timeout=30, check=False)


def atomic_payload(digest: str, reference: str, *, kind: str = "atomic container signature",
                   extra_critical: dict | None = None) -> bytes:
    critical: dict = {"type": kind, "image": {"docker-manifest-digest": digest},
                      "identity": {"docker-reference": reference}}
    critical.update(extra_critical or {})
    return json.dumps({"critical": critical, "optional": {"creator": "mirror-wizard tests"}}).encode()


def make_key(home: Path, uid: str, algo: str = "rsa2048") -> SigningKey:
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    home.chmod(0o700)
    key = SigningKey(home, uid)
    key._gpg("--quick-gen-key", uid, algo, "sign", "never")
    return key
