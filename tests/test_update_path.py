"""Update paths over the real Cincinnati graphs in /work/shared/fixtures (and graph-data's blocked edges)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from core.errors import ReleaseError
from core.graph import (
    load_blocked_edges,
    load_graph_file,
    parse_graph,
    update_path,
    version_key,
)

FIXTURES = Path("/work/shared/fixtures/release")
STABLE_48 = FIXTURES / "cincinnati-graph" / "134475077ed4eeaedf3c339f12915b9cdaf7d194_stable-4.8_amd64_v1.json"
CANDIDATE_412 = FIXTURES / "cincinnati-graph" / "134475077ed4eeaedf3c339f12915b9cdaf7d194_candidate-4.12_multi_v1.json"
BLOCKED = FIXTURES / "cincinnati-graph-data" / "blocked-edges"


def _raw_edges(path: Path) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(unconditional, conditional) edges straight from the JSON, not through the code under test."""
    data = json.loads(path.read_text())
    names = [n["version"] for n in data["nodes"]]
    plain = {(names[a], names[b]) for a, b in data["edges"]}
    risky = {(e["from"], e["to"]) for block in data.get("conditionalEdges") or [] for e in block["edges"]}
    return plain, risky


def _fewest_hops(edges: set[tuple[str, str]], start: str, end: str) -> int:
    """Hop count by growing the reachable set one step at a time (a different method than the code's)."""
    reach, hops = {start}, 0
    while end not in reach:
        grown = reach | {b for a, b in edges if a in reach}
        assert grown != reach, "unreachable"
        reach, hops = grown, hops + 1
    return hops


def test_shortest_path_over_the_real_stable_48_graph():
    releases = load_graph_file(STABLE_48)
    plain, risky = _raw_edges(STABLE_48)
    newest_48 = max((r.version for r in releases if r.version.startswith("4.8.")), key=version_key)
    for start in ("4.7.41", "4.7.13", "4.8.2"):
        path = [r.version for r in update_path(releases, start, newest_48, channel="stable-4.8")]
        assert path[0] == start and path[-1] == newest_48
        hops = list(itertools.pairwise(path))
        assert all(h in plain and h not in risky for h in hops), hops
        assert len(hops) == _fewest_hops(plain - risky, start, newest_48)
        # payloads come with the path: what the mirror copies
        assert all(r.payload.startswith("quay.io/openshift-release-dev/ocp-release@sha256:")
                   for r in update_path(releases, start, newest_48))


def test_shortest_path_takes_the_newest_of_equally_short_hops():
    releases = load_graph_file(STABLE_48)
    plain, risky = _raw_edges(STABLE_48)
    allowed = plain - risky
    assert ("4.7.13", "4.8.20") not in allowed
    middles = {b for a, b in allowed if a == "4.7.13" and (b, "4.8.20") in allowed}
    assert len(middles) > 1  # ten two-hop paths in this graph
    path = [r.version for r in update_path(releases, "4.7.13", "4.8.20")]
    assert path == ["4.7.13", max(middles, key=version_key), "4.8.20"]


def test_conditional_edges_are_never_used():
    releases = load_graph_file(STABLE_48)
    plain, risky = _raw_edges(STABLE_48)
    assert ("4.7.2", "4.7.4") in risky and ("4.7.2", "4.7.4") not in plain
    # 4.7.0..4.7.3 reach 4.7.4 only through a conditional edge
    with pytest.raises(ReleaseError, match="no update path from 4.7.2 to 4.7.4 .*without conditional"):
        update_path(releases, "4.7.2", "4.7.4", channel="stable-4.8")
    path = [r.version for r in update_path(releases, "4.7.2", "4.7.41", mode="all")]
    assert "4.7.4" not in path  # reachable from 4.7.2 only through the conditional edge


def test_all_versions_mode_on_the_candidate_412_graph():
    releases = load_graph_file(CANDIDATE_412)
    shortest = [r.version for r in update_path(releases, "4.12.0-rc.0", "4.12.0-rc.4")]
    assert shortest == ["4.12.0-rc.0", "4.12.0-rc.4"]
    every = [r.version for r in update_path(releases, "4.12.0-rc.0", "4.12.0-rc.4", mode="all")]
    assert every == ["4.12.0-rc.0", "4.12.0-rc.1", "4.12.0-rc.2", "4.12.0-rc.3", "4.12.0-rc.4"]
    between = [r.version for r in update_path(releases, "4.12.0-rc.1", "4.12.0-rc.3", mode="all")]
    assert between == ["4.12.0-rc.1", "4.12.0-rc.2", "4.12.0-rc.3"]


def test_all_versions_only_lists_versions_on_some_path():
    releases = load_graph_file(STABLE_48)
    plain, risky = _raw_edges(STABLE_48)
    allowed = plain - risky
    every = [r.version for r in update_path(releases, "4.7.13", "4.8.20", mode="all")]
    assert every[0] == "4.7.13" and every[-1] == "4.8.20"
    for version in every[1:-1]:
        assert not _not_reaching(allowed, "4.7.13", version) and not _not_reaching(allowed, version, "4.8.20")
    nodes = {r.version for r in releases}
    skipped = {v for v in nodes if version_key("4.7.13") < version_key(v) < version_key("4.8.20")} - set(every)
    assert skipped  # the graph has versions off every path (older 4.7s, ...)
    for version in skipped:
        assert _not_reaching(allowed, "4.7.13", version) or _not_reaching(allowed, version, "4.8.20")


def _not_reaching(edges: set[tuple[str, str]], start: str, end: str) -> bool:
    try:
        _fewest_hops(edges, start, end)
    except AssertionError:
        return True
    return False


def _graph(versions: list[str], edges: list[tuple[str, str]]) -> list:
    index = {v: i for i, v in enumerate(versions)}
    return parse_graph({"nodes": [{"version": v, "payload": f"quay.io/x@sha256:{i:064x}", "metadata": {}}
                                  for i, v in enumerate(versions)],
                        "edges": [[index[a], index[b]] for a, b in edges]})


def test_blocked_edges_from_graph_data_are_never_used():
    blocked = load_blocked_edges([BLOCKED])
    assert [(b.to, b.from_pattern) for b in blocked] == [("4.18.9", "4[.]17[.].*")]
    releases = _graph(["4.17.20", "4.18.8", "4.18.9", "4.18.10"],
                      [("4.17.20", "4.18.9"), ("4.17.20", "4.18.8"), ("4.18.8", "4.18.9"), ("4.18.9", "4.18.10")])
    assert [r.version for r in update_path(releases, "4.17.20", "4.18.9")] == ["4.17.20", "4.18.9"]
    assert [r.version for r in update_path(releases, "4.17.20", "4.18.9", blocked=blocked)] == \
        ["4.17.20", "4.18.8", "4.18.9"]


def test_bad_requests_are_clear_errors(tmp_path):
    releases = load_graph_file(STABLE_48)
    with pytest.raises(ReleaseError, match=r"--from-version 4.8.99 is not a release in channel stable-4.8 \(it has"):
        update_path(releases, "4.8.99", "4.8.20", channel="stable-4.8")
    with pytest.raises(ReleaseError, match="--to-version 5.0.0 is not a release"):
        update_path(releases, "4.8.2", "5.0.0")
    with pytest.raises(ReleaseError, match="older than --from-version"):
        update_path(releases, "4.8.20", "4.8.2")
    assert [r.version for r in update_path(releases, "4.8.2", "4.8.2")] == ["4.8.2"]
    bad = tmp_path / "graph.json"
    bad.write_text("{not json")
    with pytest.raises(ReleaseError, match="is not valid JSON"):
        load_graph_file(bad)
    with pytest.raises(ReleaseError, match="does not exist"):
        load_graph_file(tmp_path / "absent.json")
    channel_file = FIXTURES / "cincinnati-graph-data" / "channels" / "stable-4.18.yaml"
    with pytest.raises(ReleaseError, match="is not valid JSON"):
        load_graph_file(channel_file)
    (tmp_path / "blocked.yaml").write_text("to: 4.18.9\nfrom: '4[.'\n")
    with pytest.raises(ReleaseError, match="not a regular expression"):
        load_blocked_edges([tmp_path / "blocked.yaml"])
