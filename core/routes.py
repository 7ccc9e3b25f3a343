"""How this machine will reach each server a plan needs: directly or through which proxy.

Preflight (the wizard's and ``mirror-wizard preflight``) shows it before anything moves, so an admin
behind a company proxy sees at once whether the mirror goes through the proxy (it usually should not:
list it in NO_PROXY) and whether Red Hat's registries do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .access import registries_in_use
from .http import ProxySettings
from .plan import Plan, SamplesSource

if TYPE_CHECKING:
    from .samples import SampleStream

UPDATE_SERVICE = "https://api.openshift.com"
SAMPLES_REGISTRIES = ("registry.redhat.io", "registry.access.redhat.com")


@dataclass(frozen=True)
class Route:
    role: str    # what the plan needs the server for: "mirror", "release source", ...
    origin: str  # https://host[:port]
    how: str     # "through the proxy HOST:PORT" | "directly (...)"
    proxied: bool


def _origin(host: str, scheme: str = "https") -> tuple[str, str, int]:
    parts = urlsplit(f"{scheme}://{host}")
    return scheme, (parts.hostname or host).lower(), parts.port or (443 if scheme == "https" else 80)


def plan_servers(plan: Plan, streams: list[SampleStream] | None = None) -> list[tuple[str, str]]:
    """(role, host[:port] or URL) of every server the plan's copy talks to, the mirror first: the
    registries where the copy really connects (through the plan's mirror set, as
    :func:`core.access.registries_in_use` resolves them), the update service and signature stores."""
    servers = [(use.role, use.host) for use in registries_in_use(plan, streams or [])]
    release, samples = plan.release, plan.samples
    if (not streams and samples is not None and samples.chosen and samples.source != SamplesSource.RELEASE
            and (release is None or release.reads_source)):
        # streams not read yet: the samples operator's images come from Red Hat's registries
        servers.extend(("image streams source", host) for host in SAMPLES_REGISTRIES)
    if release is not None and release.reads_source:
        if release.channel and not release.graph_file:
            servers.append(("update service", release.graph_url or UPDATE_SERVICE))
        servers.extend(("signature store", store) for store in release.signature_stores)
    seen: set[str] = set()
    unique = []
    for role, server in servers:
        if server not in seen:
            seen.add(server)
            unique.append((role, server))
    return unique


def routes(servers: list[tuple[str, str]], proxies: ProxySettings) -> list[Route]:
    """How each server is reached under ``proxies``."""
    found: list[Route] = []
    for role, server in servers:
        if "://" in server:
            parts = urlsplit(server)
            key = _origin(parts.netloc, parts.scheme or "https")
        else:
            key = _origin(server)
        proxied = proxies.for_url(*key) is not None
        origin = f"{key[0]}://{key[1]}" + ("" if key[2] in (443, 80) else f":{key[2]}")
        found.append(Route(role, origin, proxies.describe(*key), proxied))
    return found


__all__ = ["Route", "plan_servers", "routes"]
