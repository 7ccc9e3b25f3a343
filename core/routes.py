"""How this machine will reach each server a plan needs: directly or through which proxy.

Preflight (the wizard's and ``mirror-wizard preflight``) shows it before anything moves, so an admin
behind a company proxy sees at once whether the mirror goes through the proxy (it usually should not:
list it in NO_PROXY) and whether Red Hat's registries do.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from .http import ProxySettings
from .plan import Plan, ReleaseMode
from .reference import parse_reference

UPDATE_SERVICE = "https://api.openshift.com"
SAMPLES_REGISTRIES = ("registry.redhat.io", "registry.access.redhat.com")
QUAY = "quay.io"


@dataclass(frozen=True)
class Route:
    role: str    # what the plan needs the server for: "mirror", "release source", ...
    origin: str  # https://host[:port]
    how: str     # "through the proxy HOST:PORT" | "directly (...)"
    proxied: bool


def _origin(host: str, scheme: str = "https") -> tuple[str, str, int]:
    parts = urlsplit(f"{scheme}://{host}")
    return scheme, (parts.hostname or host).lower(), parts.port or (443 if scheme == "https" else 80)


def plan_servers(plan: Plan) -> list[tuple[str, str]]:
    """(role, host[:port] or URL) of every server the plan's copy talks to, the mirror first."""
    servers: list[tuple[str, str]] = []
    if plan.mirror.registry:
        servers.append(("mirror", plan.mirror.registry))
    release = plan.release
    if release is not None and release.mode != ReleaseMode.FROM_DIR:
        source = release.source
        if source and not source.startswith("oci:"):
            try:
                servers.append(("release source", parse_reference(source).registry))
            except Exception:  # noqa: BLE001 - a bad reference is the Release step's to report
                pass
        elif release.channel:
            servers.append(("release source", QUAY))
        if release.channel and not release.graph_file:
            servers.append(("update service", release.graph_url or UPDATE_SERVICE))
        for store in release.signature_stores:
            servers.append(("signature store", store))
    if plan.samples is not None and plan.samples.chosen:
        servers.extend(("samples source", host) for host in SAMPLES_REGISTRIES)
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
