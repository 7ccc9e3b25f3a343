"""skopeo as the independent referee: what we mirror must read back identically with it."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

SKOPEO = shutil.which("skopeo") or "skopeo"


def _transport(ref: str) -> str:
    return ref if ref.startswith(("oci:", "docker://", "dir:")) else f"docker://{ref}"


def _options(authfile: str | Path | None, cert_dir: str | Path | None, tls_verify: bool) -> list[str]:
    opts: list[str] = []
    if authfile:
        opts += ["--authfile", str(authfile)]
    if cert_dir:
        opts += ["--cert-dir", str(cert_dir)]
    if not tls_verify:
        opts.append("--tls-verify=false")
    return opts


def run(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([SKOPEO, *args], capture_output=True, text=True, check=check, timeout=timeout)


def inspect(ref: str, *, authfile: str | Path | None = None, cert_dir: str | Path | None = None,
            tls_verify: bool = True, raw: bool = False) -> dict:
    args = ["inspect", *(["--raw"] if raw else [])]
    if not ref.startswith("oci:"):
        args += _options(authfile, cert_dir, tls_verify)
    out = run(*args, _transport(ref))
    return json.loads(out.stdout)


def raw_manifest(ref: str, **kwargs) -> bytes:
    args = ["inspect", "--raw"]
    if not ref.startswith("oci:"):
        args += _options(kwargs.get("authfile"), kwargs.get("cert_dir"), kwargs.get("tls_verify", True))
    out = subprocess.run([SKOPEO, *args, _transport(ref)], capture_output=True, check=True, timeout=120)
    return out.stdout


def digest(ref: str, **kwargs) -> str:
    """The digest of the manifest as stored (hash of the raw bytes), so lists compare whole."""
    return "sha256:" + hashlib.sha256(raw_manifest(ref, **kwargs)).hexdigest()


def copy(src: str, dst: str, *, all_images: bool = True, src_opts: list[str] | None = None,
         dst_opts: list[str] | None = None) -> None:
    args = ["copy", "--quiet", *(["--all"] if all_images else []), "--preserve-digests"]
    args += [f"--src-{o[2:]}" if o.startswith("--") else o for o in (src_opts or [])]
    args += [f"--dest-{o[2:]}" if o.startswith("--") else o for o in (dst_opts or [])]
    run(*args, _transport(src), _transport(dst))


def options(authfile: str | Path | None = None, cert_dir: str | Path | None = None, tls_verify: bool = True) -> list[str]:
    return _options(authfile, cert_dir, tls_verify)
