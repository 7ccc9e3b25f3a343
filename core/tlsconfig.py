"""TLS trust for registries: system trust + ``--ca-file`` + containers' ``certs.d`` directories.

The system trust honours SSL_CERT_FILE / SSL_CERT_DIR (OpenSSL reads them for the default paths).
Extra CA files add to that trust; they never replace it.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import CertificateError

if TYPE_CHECKING:
    from .http.proxy import ProxySettings


def default_certs_dirs() -> list[Path]:
    dirs = [Path("/etc/containers/certs.d"), Path("/etc/docker/certs.d")]
    dirs.insert(0, Path.home() / ".config" / "containers" / "certs.d")
    return dirs


@dataclass(frozen=True)
class TLSOptions:
    ca_files: tuple[str, ...] = ()
    insecure: bool = False
    certs_dirs: tuple[Path, ...] = field(default_factory=lambda: tuple(default_certs_dirs()))
    # Per-registry exceptions, like ``insecure = true`` for one registry in registries.conf.
    insecure_hosts: tuple[str, ...] = ()
    # Hosts (name or name:port) besides the registry itself that may receive a registry's password as
    # its token realm; see core.registry.auth.realm_refusal for the whole rule.
    auth_hosts: tuple[str, ...] = ()
    # The forward proxies (``--proxy``/``--no-proxy``, the plan's ``proxy:``); None: the environment's
    # HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY, read when a client is made.
    proxies: ProxySettings | None = None

    def is_insecure(self, host: str) -> bool:
        return self.insecure or host in self.insecure_hosts


def host_ca_files(host: str, certs_dirs: tuple[Path, ...]) -> list[Path]:
    """``certs.d/HOST:PORT/*.crt`` (CA certificates) for this registry host."""
    found: list[Path] = []
    for base in certs_dirs:
        folder = Path(base) / host
        if folder.is_dir():
            found.extend(sorted(p for p in folder.glob("*.crt") if p.is_file()))
    return found


def build_ssl_context(host: str, options: TLSOptions) -> ssl.SSLContext:
    if options.is_insecure(host):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    ctx = ssl.create_default_context()
    # HTTP/1.1 only: large uploads are faster over separate connections than multiplexed.
    ctx.set_alpn_protocols(["http/1.1"])
    for ca in list(options.ca_files) + [str(p) for p in host_ca_files(host, options.certs_dirs)]:
        path = Path(ca).expanduser()
        if not path.is_file():
            raise CertificateError(f"CA file {path} does not exist")
        try:
            ctx.load_verify_locations(cafile=os.fspath(path))
        except ssl.SSLError:
            raise CertificateError(f"CA file {path} holds no PEM certificate that OpenSSL can load") from None
    return ctx
