"""``mirror-wizard verify PLAN [--cluster] [--json]``: exit status, lines and JSON, end to end.

The plan is mirrored for real (tests/test_verify_mirror.py's ``mirrored`` fixture); the cluster is the
``oc`` stand-in answering for that same mirror.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.reference import parse_reference
from tests.support import skopeo
from tests.support.fake_oc import install, variables_for
from tests.test_verify_mirror import Mirrored, mirrored  # noqa: F401  (the fixture)
from tui.cli import main

ROOT = Path(__file__).resolve().parent.parent


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def use_oc(scenario: str, mirrored: Mirrored, seeded_release, pki, tmp_path: Path,  # noqa: F811
           monkeypatch: pytest.MonkeyPatch) -> None:
    components = {parse_reference(spec).name for spec in seeded_release.component_refs.values()}
    assert len(components) == 1
    env = install(tmp_path / "bin", scenario=scenario, variables=variables_for(
        mirror=mirrored.mirror, ca_file=pki.ca_file, mirror_repo=mirrored.target,
        release_source=parse_reference(seeded_release.release_ref).name, components_source=components.pop(),
        samples=mirrored.on_mirror))
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def test_complete_mirror_exits_0_with_one_line_per_check(mirrored: Mirrored, capsys) -> None:  # noqa: F811
    code, out, err = run(["verify", str(mirrored.plan)], capsys)
    assert code == 0, out + err
    lines = out.splitlines()
    # release images, tag, samples, skipped, certificate, signatures; kept by a tag, Sigstore, graph image
    assert [line[0] for line in lines[:9]] == ["✓", "✓", "✓", "✓", "✓", "–", "✓", "–", "–"], out
    assert lines[0].startswith("✓ release images on the mirror: all ")
    assert lines[6].startswith("✓ images kept by a tag: all 14 images present are named by a tag")
    assert lines[-1] == "ready: 6 passed, 0 failed, 3 not checked"


def test_failed_check_exits_1_and_names_the_fix(mirrored: Mirrored, capsys) -> None:  # noqa: F811
    skopeo.run("delete", *skopeo.options(**mirrored.registry_opts), f"docker://{mirrored.on_mirror['perl']}")
    code, out, _ = run(["verify", str(mirrored.plan)], capsys)
    assert code == 1
    line = next(line for line in out.splitlines() if line.startswith("✗ samples images"))
    assert line.endswith(f"— fix: mirror-wizard run {mirrored.plan}")
    assert f"    perl: {mirrored.on_mirror['perl']} is missing" in out.splitlines()
    assert out.splitlines()[-1].startswith("NOT ready:")


def test_json_is_the_same_report_as_data(mirrored: Mirrored) -> None:  # noqa: F811
    done = subprocess.run([sys.executable, "-m", "tui.cli", "verify", str(mirrored.plan), "--json"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)  # nothing but the JSON on stdout
    assert data["ok"] is True
    assert [c["name"] for c in data["checks"]] == ["release-images", "release-tag", "samples-images",
                                                   "samples-skipped", "mirror-certificate", "release-signatures",
                                                   "mirror-tags", "sigstore-signatures", "graph-image"]
    assert {c["status"] for c in data["checks"]} == {"pass", "skip"}
    assert set(data["checks"][0]) == {"name", "title", "side", "status", "detail", "fix", "items"}


def test_cluster_healthy_exits_0(mirrored: Mirrored, seeded_release, pki, tmp_path: Path,  # noqa: F811
                                 monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    use_oc("healthy", mirrored, seeded_release, pki, tmp_path, monkeypatch)
    code, out, err = run(["verify", str(mirrored.plan), "--cluster", "--json"], capsys)
    assert code == 0, out + err
    data = json.loads(out)
    cluster = {c["name"]: c["status"] for c in data["checks"] if c["side"] == "cluster"}
    assert cluster == {"cluster-access": "pass", "cluster-trust": "pass", "cluster-mirror-sets": "pass",
                       "samples-config": "pass", "samples-status": "pass", "samples-imports": "pass",
                       "machine-config-pools": "pass", "node-pull-source": "skip",
                       # issue 24: nothing restricts the mirror, imports are Legacy, a 4.17 cluster, no update service
                       "samples-registry-allowed": "pass", "samples-import-mode": "pass", "tag-mirror-sets": "skip",
                       "admin-ack-sigstore": "skip",
                       "update-service-ca": "skip", "update-service": "skip", "cluster-upstream": "skip"}


def test_cluster_broken_exits_1(mirrored: Mirrored, seeded_release, pki, tmp_path: Path,  # noqa: F811
                                monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    use_oc("broken", mirrored, seeded_release, pki, tmp_path, monkeypatch)
    code, out, _ = run(["verify", str(mirrored.plan), "--cluster"], capsys)
    assert code == 1
    failed = [line for line in out.splitlines() if line.startswith("✗")]
    assert [line.split(":")[0] for line in failed] == [
        "✗ cluster trusts the mirror's CA", "✗ cluster mirror sets cover the release", "✗ samples operator status",
        "✗ image stream imports in openshift", "✗ machine config pools"]


def test_cluster_without_oc_is_one_line_and_does_not_fail(mirrored: Mirrored, tmp_path: Path,  # noqa: F811
                                                          monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    code, out, _ = run(["verify", str(mirrored.plan), "--cluster"], capsys)
    assert code == 0
    check_lines = [line for line in out.splitlines() if line and line[0] in "✓✗–"]
    assert len(check_lines) == 10, check_lines[9:]  # the nine mirror lines, then one line for the whole cluster side
    assert check_lines[9:] == ["– cluster access: cluster not checked: oc is not on PATH — fix: install the OpenShift "
                             "CLI (oc), log in, and run verify again with --cluster"]


def test_bad_plan_is_one_line(tmp_path: Path, capsys) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("mirror: {registry: 'not a host!'}\n")
    code, out, err = run(["verify", str(plan)], capsys)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "mirror.registry" in err
