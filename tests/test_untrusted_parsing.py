"""Input from outside is one line of error, never a traceback (issue 25): deeply nested JSON/YAML in
bundle.json, graph files and plans; wrong types in graph edges; versions that are not X.Y.Z; a graph
naming one version twice with different payloads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.bundle import read_bundle_manifest
from core.errors import BundleError, PlanError, ReleaseError
from core.graph import check_version, load_graph_file, parse_graph, version_key
from core.plan import load_plan

DEEP_JSON = "[" * 200_000 + "]" * 200_000
DIGEST = "sha256:" + "a" * 64


def _node(version: str, payload: str = f"quay.io/openshift-release-dev/ocp-release@{DIGEST}") -> dict:
    return {"version": version, "payload": payload, "metadata": {}}


def test_deep_nesting_is_one_line_everywhere(tmp_path: Path) -> None:
    (tmp_path / "graph.json").write_text(DEEP_JSON)
    with pytest.raises(ReleaseError, match="graph.json is not usable JSON: it is nested too deeply"):
        load_graph_file(tmp_path / "graph.json")
    (tmp_path / "bundle.json").write_text(DEEP_JSON)
    with pytest.raises(BundleError, match="nested too deeply"):
        read_bundle_manifest(tmp_path / "bundle.json")
    (tmp_path / "plan.yaml").write_text("a: " + "[" * 20_000 + "]" * 20_000 + "\n")
    with pytest.raises(PlanError, match="plan.yaml is not usable YAML: it is nested too deeply"):
        load_plan(tmp_path / "plan.yaml")
    (tmp_path / "plan2.yaml").write_text("mirror: {registry: [unclosed\n")
    with pytest.raises(PlanError, match="is not valid YAML at line"):
        load_plan(tmp_path / "plan2.yaml")


@pytest.mark.parametrize("graph, message", [
    ({"nodes": [_node("4.17.²")]}, "'4.17.²' is not a release version"),
    ({"nodes": [_node("4.17.1\n")]}, "is not a release version"),
    ({"nodes": [_node("4.17.1", payload={"x": 1})]}, "payload is not a pull spec"),
    ({"nodes": [_node("4.17.1", payload="quay.io\x1b[2J@x")]}, "payload is not a pull spec"),
    ({"nodes": [_node("4.17.1")], "edges": 7}, "'edges' is not a list"),
    ({"nodes": [_node("4.17.1")], "edges": {"0": 1}}, "'edges' is not a list"),
    ({"nodes": [_node("4.17.1"), _node("4.17.2")], "edges": [[True, 1]]}, "is not a pair of node indexes"),
    ({"nodes": [_node("4.17.1")], "edges": [[0, "0"]]}, "is not a pair of node indexes"),
    ({"nodes": [_node("4.17.1")], "conditionalEdges": {"edges": []}}, "'conditionalEdges' is not a list"),
    ({"nodes": [_node("4.17.1")], "conditionalEdges": [{"edges": 5}]}, r"conditionalEdges\[0\] has no 'edges' list"),
    ({"nodes": [_node("4.17.1")], "conditionalEdges": [{"edges": [["4.17.0", "4.17.1"]]}]}, "is not {from"),
    ({"nodes": [_node("4.17.1")], "conditionalEdges": [{"edges": [{"from": 1, "to": "4.17.1"}]}]}, "is not {from"),
    ({"nodes": [_node("4.17.1"), _node("4.17.1", f"quay.io/evil/release@sha256:{'b' * 64}")]},
     "names 4.17.1 twice with different payloads"),
])
def test_graph_shapes_not_ours_are_refused_in_one_line(tmp_path: Path, graph: dict, message: str) -> None:
    with pytest.raises(ReleaseError, match=message) as caught:
        parse_graph(graph)
    assert "\n" not in str(caught.value).replace("4.17.1\\n", "")
    (tmp_path / "g.json").write_text(json.dumps(graph))
    with pytest.raises(ReleaseError, match="update graph file .*g.json"):
        load_graph_file(tmp_path / "g.json")


def test_a_version_named_twice_with_the_same_payload_is_one_release() -> None:
    releases = parse_graph({"nodes": [_node("4.17.1"), _node("4.17.2"), _node("4.17.1")], "edges": [[2, 1]]})
    assert [r.version for r in releases] == ["4.17.2", "4.17.1"]
    assert releases[0].upgrades_from == ["4.17.1"]


def test_version_key_never_fails_and_check_version_says_why() -> None:
    assert version_key("4.17.²") < version_key("4.17.0")
    assert version_key("4.17.0-rc.²") < version_key("4.17.0")
    with pytest.raises(ReleaseError, match="--from-version: '4.17.²' is not a release version like 4.17.3"):
        check_version("4.17.²", "--from-version")
    assert check_version("4.17.0-rc.1+build.5", "x") == "4.17.0-rc.1+build.5"


def test_a_payload_component_name_a_terminal_would_obey_is_refused() -> None:
    from core.release import parse_image_references

    def stream(name: object) -> bytes:
        return json.dumps({"kind": "ImageStream", "apiVersion": "image.openshift.io/v1", "metadata": {"name": "4.17.3"},
                           "spec": {"tags": [{"name": name, "from": {"kind": "DockerImage",
                                                                     "name": f"quay.io/o/r@{DIGEST}"}}]}}).encode()

    assert parse_image_references(stream("aws-ebs-csi-driver"))[1] == {"aws-ebs-csi-driver": f"quay.io/o/r@{DIGEST}"}
    for bad in ("etcd\x1b]0;owned\x07", ["etcd"], "../etcd"):
        with pytest.raises(ReleaseError, match="is not a name a release uses"):
            parse_image_references(stream(bad))
    with pytest.raises(ReleaseError, match="nested too deeply"):
        parse_image_references(DEEP_JSON.encode())
