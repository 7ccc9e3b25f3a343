"""Which releases exist: the OpenShift update graph (Cincinnati) or the tags a registry holds.

The graph is JSON: ``nodes[]`` (``version``, ``payload``, ``metadata``) and ``edges[]`` as
``[from_index, to_index]`` pairs into ``nodes``; ``conditionalEdges[]`` lists updates that are only
recommended when a risk does not apply. We turn it into one row per release, newest first, with the
versions that can update to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from .errors import RegistryUnreachable, ReleaseError, TLSVerifyError
from .reference import parse_reference
from .registry import RegistrySession
from .tlsconfig import TLSOptions, build_ssl_context

DEFAULT_GRAPH_URL = "https://api.openshift.com/api/upgrades_info/v1/graph"

# The graph names architectures the Go way; release tags and the wizard use the RPM way.
_GRAPH_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
               "ppc64le": "ppc64le", "s390x": "s390x", "multi": "multi"}
_CHANNEL_RE = re.compile(r"^[a-z]+-\d+\.\d+$")


@dataclass
class GraphRelease:
    version: str
    payload: str
    metadata: dict[str, Any]
    upgrades_from: list[str]
    # Updates the graph only recommends when a named risk does not apply to the cluster.
    conditional_from: list[str] = field(default_factory=list)

    @property
    def errata_url(self) -> str | None:
        url = self.metadata.get("url")
        return url if isinstance(url, str) else None


def graph_arch(arch: str) -> str:
    """``x86_64`` → ``amd64`` etc.; InputError-family ReleaseError for an unknown one."""
    try:
        return _GRAPH_ARCH[arch]
    except KeyError:
        known = ", ".join(sorted(_GRAPH_ARCH))
        raise ReleaseError(f"unknown architecture {arch!r}; use one of {known}") from None


def version_key(version: str) -> tuple[Any, ...]:
    """Semantic-version order: 4.12.0-rc.1 < 4.12.0 < 4.12.1 < 4.12.10 (build metadata ignored)."""
    core, _, rest = version.partition("-")
    core = core.split("+", 1)[0]
    pre = rest.split("+", 1)[0]
    numbers = tuple(int(p) if p.isdigit() else -1 for p in core.split("."))
    if not pre:
        return (numbers, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (numbers, 0, parts)


def parse_graph(data: Any) -> list[GraphRelease]:
    """Cincinnati graph JSON → releases, newest first. ReleaseError for anything malformed."""
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        raise ReleaseError("the update graph has no 'nodes' list; is the URL a Cincinnati graph endpoint?")
    nodes = data["nodes"]
    releases: list[GraphRelease] = []
    for i, node in enumerate(nodes):
        if not isinstance(node, dict) or not isinstance(node.get("version"), str):
            raise ReleaseError(f"update graph node {i} has no version")
        found = node.get("metadata")
        metadata: dict[str, Any] = dict(found) if isinstance(found, dict) else {}
        releases.append(GraphRelease(node["version"], str(node.get("payload") or ""), metadata, []))
    by_version = {r.version: r for r in releases}
    for edge in data.get("edges") or []:
        if (not isinstance(edge, (list, tuple)) or len(edge) != 2
                or not all(isinstance(x, int) and 0 <= x < len(releases) for x in edge)):
            raise ReleaseError(f"update graph edge {edge!r} is not a pair of node indexes")
        releases[edge[1]].upgrades_from.append(releases[edge[0]].version)
    for block in data.get("conditionalEdges") or []:
        for edge in (block.get("edges") or []) if isinstance(block, dict) else []:
            target = by_version.get(str(edge.get("to"))) if isinstance(edge, dict) else None
            if target is not None and isinstance(edge.get("from"), str):
                target.conditional_from.append(edge["from"])
    for release in releases:
        release.upgrades_from = sorted(set(release.upgrades_from), key=version_key, reverse=True)
        release.conditional_from = sorted(set(release.conditional_from), key=version_key, reverse=True)
    releases.sort(key=lambda r: version_key(r.version), reverse=True)
    return releases


async def fetch_graph(channel: str, arch: str = "x86_64", url: str = DEFAULT_GRAPH_URL,
                      tls: TLSOptions | None = None) -> list[GraphRelease]:
    """Ask the update service for a channel's graph (``Accept: application/json``)."""
    if not channel or not _CHANNEL_RE.match(channel):
        raise ReleaseError(f"channel {channel!r} is not like stable-4.17 (stable, fast, candidate or eus, then X.Y)")
    params = {"channel": channel, "arch": graph_arch(arch)}
    host = urlsplit(url).netloc
    if not host:
        raise ReleaseError(f"graph URL {url!r} is not an http(s) URL")
    verify = build_ssl_context(host, tls or TLSOptions())
    try:
        async with httpx.AsyncClient(verify=verify, timeout=30, follow_redirects=True,
                                     headers={"User-Agent": "mirror-wizard/0.1"}) as client:
            response = await client.get(url, params=params, headers={"Accept": "application/json"})
    except httpx.ConnectError as exc:
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            raise TLSVerifyError(f"the TLS certificate of the update service {host} is not trusted",
                                 hint="pass its CA with --ca-file") from None
        raise RegistryUnreachable(f"cannot reach the update service at {host}: {exc or 'connection failed'}") from None
    except httpx.TimeoutException:
        raise RegistryUnreachable(f"the update service at {host} timed out") from None
    except httpx.TransportError as exc:
        reason = exc or type(exc).__name__
        raise RegistryUnreachable(f"connection to the update service at {host} failed: {reason}") from None
    if response.status_code != 200:
        detail = ""
        try:
            body = response.json()
            detail = f": {body.get('reason') or body.get('kind') or ''} {body.get('value') or ''}".rstrip(": ")
        except (ValueError, AttributeError):
            pass
        raise ReleaseError(f"the update service answered {response.status_code} for channel {channel} "
                           f"({params['arch']}){detail}")
    try:
        data = response.json()
    except ValueError:
        raise ReleaseError(f"the update service at {host} did not answer JSON") from None
    return parse_graph(data)


async def registry_release_tags(session: RegistrySession, repo: str) -> list[str]:
    """Every tag of a release repository (``HOST/PATH``), newest version first.

    Read through the session's source mirrors, so ``quay.io/openshift-release-dev/ocp-release``
    lists the mirror's tags when an ImageDigestMirrorSet points there.
    """
    ref = session.resolve_source(parse_reference(repo, default_tag=None))
    tags = await session.client(ref.registry).list_tags(ref.repository)
    return sorted(tags, key=version_key, reverse=True)


__all__ = ["DEFAULT_GRAPH_URL", "GraphRelease", "fetch_graph", "graph_arch", "parse_graph",
           "registry_release_tags", "version_key"]
