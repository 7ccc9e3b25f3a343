"""One settings object per run: how to reach registries.

:class:`Access` is built once (from a plan, or from a command's flags) and owned by the
:class:`~core.registry.session.RegistrySession` made from it: the auth file, the CA files and the hosts
allowed without TLS verification, the mirror sets that redirect source reads, the stall timeout, the
connection bound, the token hosts, the proxy and the retry policy. Whoever holds a session reads the run's
settings from ``session.access``; nothing passes them alongside.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..http import ProxySettings
from ..mirror_config import load_mirror_sets
from ..tlsconfig import TLSOptions
from .transport import STALL_TIMEOUT, RetryPolicy

if TYPE_CHECKING:
    from ..plan import Plan


@dataclass(frozen=True)
class Access:
    """How to reach registries: the auth file, extra CAs, which hosts may skip TLS verification, the
    mirror sets that redirect source reads, and how many transfers run in parallel per registry."""

    auth_file: str | None = None
    ca_files: tuple[str, ...] = ()
    insecure_hosts: tuple[str, ...] = ()
    insecure: bool = False            # every host (the CLI's --insecure, for tests)
    idms_file: str | None = None
    max_per_registry: int | None = None  # None: adaptive (core.adaptive.transfer_bounds)
    stall_timeout: float = STALL_TIMEOUT
    auth_hosts: tuple[str, ...] = ()   # token services elsewhere allowed to receive the password
    # The forward proxy (``--proxy``; "" for none) and NO_PROXY's list (``--no-proxy``); None: the environment's.
    proxy: str | None = None
    no_proxy: str | None = None
    # How failures are retried; injectable so a test or an embedding caller decides how long an
    # unreachable host is waited for. None when built: the default, or the environment's
    # (RetryPolicy.from_env) — read here, once per run.
    retry: RetryPolicy | None = None

    def __post_init__(self) -> None:
        if self.retry is None:
            object.__setattr__(self, "retry", RetryPolicy.from_env())  # frozen: the one place it is filled

    @classmethod
    def of_plan(cls, plan: Plan) -> Access:
        return cls(auth_file=plan.auth_file, ca_files=tuple(plan.ca_files()),
                   insecure_hosts=tuple(plan.insecure_hosts()), idms_file=plan.idms_file,
                   max_per_registry=plan.options.max_per_registry,
                   stall_timeout=float(plan.options.stall_timeout), auth_hosts=tuple(plan.options.auth_hosts),
                   proxy=plan.options.proxy, no_proxy=plan.options.no_proxy)

    def proxies(self) -> ProxySettings:
        """The proxies every connection of the run uses: the flags or the plan over the environment."""
        return ProxySettings.from_env(proxy=self.proxy, no_proxy=self.no_proxy)

    def tls(self) -> TLSOptions:
        """The TLS setup every connection of a run uses: the system trust plus every CA file named (each
        trusted for every registry, as oc's --certificate-authority is), and the hosts allowed without."""
        return TLSOptions(ca_files=self.ca_files, insecure_hosts=self.insecure_hosts, insecure=self.insecure,
                          auth_hosts=self.auth_hosts, proxies=self.proxies())

    def mirror_sets(self) -> list[tuple[str, str]]:
        """(source, mirror) pairs of the ImageDigestMirrorSet / ImageContentSourcePolicy file named, if any."""
        return load_mirror_sets(self.idms_file) if self.idms_file else []


__all__ = ["Access"]
