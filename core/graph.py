"""Which releases exist: the OpenShift update graph (Cincinnati) or the tags a registry holds.

The graph is JSON: ``nodes[]`` (``version``, ``payload``, ``metadata``) and ``edges[]`` as
``[from_index, to_index]`` pairs into ``nodes``; ``conditionalEdges[]`` lists updates that are only
recommended when a risk does not apply. We turn it into one row per release, newest first, with the
versions that can update to it.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

import yaml

from .errors import ErrorCode, ReleaseError, TLSVerifyError
from .http import HttpClient
from .reference import parse_reference
from .registry import RegistrySession
from .text import shell_quote, shown
from .tlsconfig import TLSOptions
from .userfiles import parse_json, read_user_file

DEFAULT_GRAPH_URL = "https://api.openshift.com/api/upgrades_info/v1/graph"
# A channel's graph is a few MB (stable-4.17, every architecture: 3 MB); one answer larger than this, or one
# still arriving after this long (a server dripping bytes), is refused.
GRAPH_LIMIT = 64 << 20
GRAPH_DEADLINE = 120.0

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
        return shown(url, one_line=True) if isinstance(url, str) else None  # printed: shown, never obeyed


def graph_arch(arch: str) -> str:
    """``x86_64`` → ``amd64`` etc.; InputError-family ReleaseError for an unknown one."""
    try:
        return _GRAPH_ARCH[arch]
    except KeyError:
        known = ", ".join(sorted(_GRAPH_ARCH))
        raise ReleaseError(f"unknown architecture {arch!r}; use one of {known}") from None


# A release version as the graph and release tags write it: X.Y.Z, an optional pre-release, optional
# build metadata; ASCII only (str.isdigit() is also true for "²", which int() refuses).
_VERSION_RE = re.compile(r"\d{1,9}\.\d{1,9}\.\d{1,9}(?:-[0-9A-Za-z.-]{1,128})?(?:\+[0-9A-Za-z.-]{1,128})?", re.ASCII)
# Bounds on a graph: the full graph of every channel has a few thousand nodes and edges.
MAX_GRAPH_NODES = 100_000
MAX_GRAPH_EDGES = 1_000_000


def _number(part: str) -> bool:
    return part.isascii() and part.isdigit()


def version_key(version: str) -> tuple[Any, ...]:
    """Semantic-version order: 4.12.0-rc.1 < 4.12.0 < 4.12.1 < 4.12.10 (build metadata ignored).
    Any text has a key (a part that is not an ASCII number sorts first), so sorting never fails."""
    core, _, rest = version.partition("-")
    core = core.split("+", 1)[0]
    pre = rest.split("+", 1)[0]
    numbers = tuple(int(p) if _number(p) else -1 for p in core.split("."))
    if not pre:
        return (numbers, 1, ())
    parts = tuple((0, int(p), "") if _number(p) else (1, 0, p) for p in pre.split("."))
    return (numbers, 0, parts)


def check_version(version: str, where: str) -> str:
    """``version`` when it is X.Y.Z[-pre][+build] in ASCII; ReleaseError naming ``where`` otherwise."""
    if not isinstance(version, str) or not _VERSION_RE.fullmatch(version):
        raise ReleaseError(f"{where}: {str(version)[:64]!r} is not a release version like 4.17.3")
    return version


def _list(data: dict[str, Any], key: str, limit: int) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ReleaseError(f"the update graph's {key!r} is not a list")
    if len(value) > limit:
        raise ReleaseError(f"the update graph has more than {limit} {key}; that is not a channel's graph")
    return value


def parse_graph(data: Any) -> list[GraphRelease]:
    """Cincinnati graph JSON → releases, newest first. ReleaseError (one line) for anything malformed:
    wrong types anywhere, a version that is not X.Y.Z, one version named twice with different payloads."""
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        raise ReleaseError("the update graph has no 'nodes' list; is the URL a Cincinnati graph endpoint?")
    nodes = _list(data, "nodes", MAX_GRAPH_NODES)
    releases: list[GraphRelease] = []
    by_index: list[GraphRelease] = []   # node index → its release (a node repeated with the same payload: one)
    by_version: dict[str, GraphRelease] = {}
    for i, node in enumerate(nodes):
        if not isinstance(node, dict) or not isinstance(node.get("version"), str):
            raise ReleaseError(f"update graph node {i} has no version")
        version = check_version(node["version"], f"update graph node {i}")
        payload = node.get("payload") or ""
        if not isinstance(payload, str) or shown(payload, one_line=True) != payload:
            raise ReleaseError(f"update graph node {i} ({version}): the payload is not a pull spec")
        found = node.get("metadata")
        metadata: dict[str, Any] = dict(found) if isinstance(found, dict) else {}
        known = by_version.get(version)
        if known is not None:
            if known.payload != payload:
                # which one would be mirrored would depend on the order: refuse rather than guess
                raise ReleaseError(f"the update graph names {version} twice with different payloads "
                                   f"({known.payload or '-'} and {payload or '-'}); refusing it")
            by_index.append(known)
            continue
        release = GraphRelease(version, payload, metadata, [])
        releases.append(release)
        by_index.append(release)
        by_version[version] = release
    for edge in _list(data, "edges", MAX_GRAPH_EDGES):
        if (not isinstance(edge, list) or len(edge) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < len(nodes) for x in edge)):
            raise ReleaseError(f"update graph edge {str(edge)[:80]} is not a pair of node indexes")
        by_index[edge[1]].upgrades_from.append(by_index[edge[0]].version)
    for number, block in enumerate(_list(data, "conditionalEdges", MAX_GRAPH_EDGES)):
        edges = block.get("edges") if isinstance(block, dict) else None
        if not isinstance(edges, list):
            raise ReleaseError(f"update graph conditionalEdges[{number}] has no 'edges' list")
        for edge in edges:
            if not isinstance(edge, dict) or not isinstance(edge.get("from"), str) or not isinstance(edge.get("to"), str):
                raise ReleaseError(f"update graph conditionalEdges[{number}]: edge {str(edge)[:80]} is not "
                                   "{from: VERSION, to: VERSION}")
            target = by_version.get(edge["to"])
            if target is not None:
                target.conditional_from.append(edge["from"])
    for release in releases:
        release.upgrades_from = sorted(set(release.upgrades_from), key=version_key, reverse=True)
        release.conditional_from = sorted(set(release.conditional_from), key=version_key, reverse=True)
    releases.sort(key=lambda r: version_key(r.version), reverse=True)
    return releases


def graph_query_command(channel: str, arch: str, url: str = DEFAULT_GRAPH_URL, out: str = "graph.json") -> str:
    """The curl command that saves a channel's graph as fetch_graph asks for it (for --graph-file on a host
    without access). ``-G --data-urlencode`` puts channel and arch in the query string (the same request as
    ``URL?channel=…&arch=…``) and keeps every word short: a help panel cuts the line between words, never
    inside one (a URL with its query is longer than the panel). ``arch`` as the wizard names it (x86_64) or
    as the graph does (amd64); a placeholder (``<channel>``) stays as given, quoted."""
    return (f"curl -sG -H {shell_quote('Accept: application/json')} "
            f"--data-urlencode {shell_quote('channel=' + channel)} "
            f"--data-urlencode {shell_quote('arch=' + _GRAPH_ARCH.get(arch, arch))} "
            f"{shell_quote(url)} > {shell_quote(out)}")


async def fetch_graph(channel: str, arch: str = "x86_64", url: str = DEFAULT_GRAPH_URL,
                      tls: TLSOptions | None = None) -> list[GraphRelease]:
    """Ask the update service for a channel's graph (``Accept: application/json``)."""
    if not channel or not _CHANNEL_RE.match(channel):
        raise ReleaseError(f"channel {channel!r} is not like stable-4.17 (stable, fast, candidate or eus, then X.Y)")
    params = {"channel": channel, "arch": graph_arch(arch)}
    host = urlsplit(url).netloc
    if not host:
        raise ReleaseError(f"graph URL {url!r} is not an http(s) URL")
    who = f"the update service at {host}"
    target = url + ("&" if "?" in url else "?") + urlencode(params)
    http = HttpClient(tls)
    try:
        answer = await http.fetch(target, limit=GRAPH_LIMIT, deadline=GRAPH_DEADLINE, who=who,
                                  headers={"Accept": "application/json"}, what=f"the graph from {host}")
    except TLSVerifyError:
        raise TLSVerifyError(f"the TLS certificate of the update service {host} is not trusted",
                             hint="pass its CA with --ca-file") from None
    finally:
        await http.aclose()
    if answer.status != 200:
        detail = ""
        try:
            body = parse_json(answer.content, where="the update service's error", error=ReleaseError)
            detail = f": {body.get('reason') or body.get('kind') or ''} {body.get('value') or ''}".rstrip(": ")
        except (ReleaseError, AttributeError):
            pass
        detail = shown(detail[:200])
        raise ReleaseError(f"the update service answered {answer.status} for channel {channel} "
                           f"({params['arch']}){detail}")
    data = parse_json(answer.content, where=f"the answer of the update service at {host}", error=ReleaseError)
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
    """A Cincinnati graph saved as JSON (graph_query_command: ``curl -sG -H 'Accept: application/json' …``),
    for hosts that cannot reach the update service."""
    file = Path(path).expanduser()
    try:
        if file.stat().st_size > MAX_GRAPH_FILE:
            raise ReleaseError(f"update graph file {file} is larger than {MAX_GRAPH_FILE >> 20} MB; is it a graph?")
    except OSError:
        pass  # read_user_file says what is wrong
    text = read_user_file(file, "update graph file", ReleaseError, text=True)
    data = parse_json(text, where=f"update graph file {file}", error=ReleaseError)
    try:
        return parse_graph(data)
    except ReleaseError as exc:
        raise ReleaseError(f"update graph file {file}: {exc}") from None


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
            except (yaml.YAMLError, RecursionError):  # RecursionError: nested deep enough to exhaust the stack
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
           "check_version", "load_blocked_edges", "load_graph_file", "parse_graph", "registry_release_tags", "update_edges",
           "update_path", "version_key"]
