"""Which releases exist: the OpenShift update graph (Cincinnati) or the tags a registry holds.

The graph is JSON: ``nodes[]`` (``version``, ``payload``, ``metadata``) and ``edges[]`` as
``[from_index, to_index]`` pairs into ``nodes``; ``conditionalEdges[]`` lists updates that are only
recommended when a risk does not apply. We turn it into one row per release, newest first, with the
versions that can update to it.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import yaml

from .errors import ErrorCode, RegistryUnreachable, ReleaseError, TLSVerifyError
from .reference import parse_reference
from .registry import RegistrySession
from .tlsconfig import TLSOptions, build_ssl_context
from .userfiles import read_user_file

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


# -- update paths ---------------------------------------------------------------------------------------

PathMode = Literal["shortest", "all"]
MAX_GRAPH_FILE = 64 << 20  # the full amd64 graph of every channel is a few MB


def load_graph_file(path: str | Path) -> list[GraphRelease]:
    """A Cincinnati graph saved as JSON (``curl -H 'Accept: application/json' '<graph-url>?channel=...'``),
    for hosts that cannot reach the update service."""
    file = Path(path).expanduser()
    try:
        if file.stat().st_size > MAX_GRAPH_FILE:
            raise ReleaseError(f"update graph file {file} is larger than {MAX_GRAPH_FILE >> 20} MB; is it a graph?")
    except OSError:
        pass  # read_user_file says what is wrong
    text = read_user_file(file, "update graph file", ReleaseError, text=True)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ReleaseError(f"update graph file {file} is not JSON ({exc})") from None
    return parse_graph(data)


@dataclass(frozen=True)
class BlockedEdge:
    """An update the graph-data repository blocks (``blocked-edges/*.yaml``): ``from`` is a regular expression."""

    to: str
    from_pattern: str
    name: str = ""

    def blocks(self, source: str, target: str) -> bool:
        return target == self.to and re.fullmatch(self.from_pattern, source) is not None


def load_blocked_edges(paths: Iterable[str | Path]) -> list[BlockedEdge]:
    """Blocked-edge files of openshift/cincinnati-graph-data (``to``, ``from`` regex, ``name`` ...)."""
    blocked: list[BlockedEdge] = []
    for given in paths:
        files = sorted(p for p in Path(given).glob("*.y*ml")) if Path(given).is_dir() else [Path(given)]
        for file in files:
            text = read_user_file(file, "blocked-edge file", ReleaseError, text=True)
            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError:
                raise ReleaseError(f"blocked-edge file {file} is not YAML") from None
            if not isinstance(data, dict) or not isinstance(data.get("to"), str) or not isinstance(data.get("from"), str):
                raise ReleaseError(f"blocked-edge file {file} needs 'to' (a version) and 'from' (a pattern)")
            try:
                re.compile(data["from"])
            except re.error as exc:
                raise ReleaseError(f"blocked-edge file {file}: 'from' is not a regular expression ({exc})") from None
            blocked.append(BlockedEdge(data["to"], data["from"], str(data.get("name") or file.stem)))
    return blocked


def update_edges(releases: list[GraphRelease], blocked: Iterable[BlockedEdge] = ()) -> dict[str, set[str]]:
    """version → versions it may update to, by unconditional edges only.

    A conditional edge (a known risk) is never used, even when a graph also lists it as an edge, and
    neither is an edge that a blocked-edge rule matches.
    """
    rules = list(blocked)
    successors: dict[str, set[str]] = {r.version: set() for r in releases}
    for release in releases:
        risky = set(release.conditional_from)
        for source in release.upgrades_from:
            if source in risky or any(rule.blocks(source, release.version) for rule in rules):
                continue
            successors.setdefault(source, set()).add(release.version)
    return successors


def _distances(edges: dict[str, set[str]], start: str, *, reverse: bool = False) -> dict[str, int]:
    graph = edges
    if reverse:
        graph = {}
        for source, targets in edges.items():
            for target in targets:
                graph.setdefault(target, set()).add(source)
    seen = {start: 0}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        for nxt in graph.get(current, ()):
            if nxt not in seen:
                seen[nxt] = seen[current] + 1
                queue.append(nxt)
    return seen


def update_path(releases: list[GraphRelease], start: str, end: str, *, mode: PathMode = "shortest",
                blocked: Iterable[BlockedEdge] = (), channel: str = "") -> list[GraphRelease]:
    """The releases to mirror to update a cluster from ``start`` to ``end``, oldest first, both included.

    ``shortest``: fewest hops; where several hops are equally short, the newest release is taken.
    ``all``: every version between ``start`` and ``end`` that lies on some path from one to the other.
    Only real nodes and unconditional, unblocked edges of the graph are used.
    """
    by_version = {r.version: r for r in releases}
    where = f" in channel {channel}" if channel else " in the update graph"
    for version, label in ((start, "from"), (end, "to")):
        if version not in by_version:
            near = sorted((v for v in by_version if v.rsplit(".", 1)[0] == version.rsplit(".", 1)[0]), key=version_key)
            hint = f" (it has {', '.join(near[-5:])})" if near else ""
            raise ReleaseError(f"--{label}-version {version} is not a release{where}{hint}",
                               code=ErrorCode.FROM_VERSION_UNKNOWN if label == "from" else ErrorCode.TO_VERSION_UNKNOWN,
                               fix=f"it has {', '.join(near[-5:])}" if near else None)
    if version_key(end) < version_key(start):
        raise ReleaseError(f"--to-version {end} is older than --from-version {start}; clusters do not downgrade",
                           code=ErrorCode.DOWNGRADE)
    if start == end:
        return [by_version[start]]
    edges = update_edges(releases, blocked)
    from_start = _distances(edges, start)
    to_end = _distances(edges, end, reverse=True)
    if end not in from_start:
        raise ReleaseError(f"no update path from {start} to {end}{where} without conditional or blocked updates",
                           hint="choose another --to-version, or an intermediate one and update in two steps",
                           code=ErrorCode.NO_UPDATE_PATH)
    if mode == "all":
        on_path = [v for v in from_start if v in to_end and version_key(start) <= version_key(v) <= version_key(end)]
        return [by_version[v] for v in sorted(on_path, key=version_key)]
    path = [start]
    while path[-1] != end:
        remaining = to_end[path[-1]]
        choices = [v for v in edges.get(path[-1], ()) if to_end.get(v) == remaining - 1]
        path.append(max(choices, key=version_key))
    return [by_version[v] for v in path]


__all__ = ["DEFAULT_GRAPH_URL", "BlockedEdge", "GraphRelease", "PathMode", "fetch_graph", "graph_arch",
           "load_blocked_edges", "load_graph_file", "parse_graph", "registry_release_tags", "update_edges",
           "update_path", "version_key"]
