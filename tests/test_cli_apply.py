"""``mirror-wizard apply PLAN`` and the wizard's Apply: one core function (core.usecases.apply), so the
same objects in the same order, the same merges and the same questions.

``oc`` is the recorded stand-in (tests/support/fake_oc, scenario ``healthy``) with changes allowed: it
records each change (arguments and the document on stdin) instead of making it. The cluster already
trusts another registry through ``registry-config``: its key must survive the merge.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
import yaml

from core.plan import plan_from_dict, save_plan
from core.usecases import apply as applying
from tests.support.fake_oc import install, variables_for, writes
from tests.support.pilot import settle
from tests.test_tui_done import done_app
from tests.test_tui_snapshots import MIRROR, TARGET, workdir  # noqa: F401
from tui.cli import main
from tui.screens.apply import ApplyScreen

OTHER_KEY = "other.example.com..5000"  # a registry the cluster trusts already, not ours
FIXTURES = Path("/work/shared/fixtures/imagestreams")


@pytest.fixture(autouse=True)
def ca_verified(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The mirror (mirror.example.com) is not running here: its CA counts as verified, as the wizard's
    fixture state says; a test puts a reason in the list to have it not verify."""
    reasons: list[str] = []

    async def verdict(plan: object) -> str | None:
        return reasons[0] if reasons else None

    monkeypatch.setattr(applying, "ca_not_verified", verdict)
    return reasons


@pytest.fixture
def cluster(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: F811
    """The fake oc first on PATH, changes recorded in the returned folder."""
    log = workdir / "oc-log"
    variables = variables_for(mirror=MIRROR, ca_file=workdir / "ca.crt", mirror_repo=TARGET,
                              release_source="quay.io/openshift-release-dev/ocp-release",
                              components_source="quay.io/openshift-release-dev/ocp-v4.0-art-dev", samples={})
    variables["__MIRROR_KEY__"] = OTHER_KEY  # registry-config holds another registry's CA
    env = install(workdir / "bin", scenario="healthy", variables=variables, log_dir=log, writes=True)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return log


def offline_plan(folder: Path) -> Path:
    """A plan whose documents need no registry: the mirror's CA and image streams from files."""
    plan = plan_from_dict({"auth_file": "pull-secret.json", "mirror": {"registry": MIRROR, "ca_file": "ca.crt"},
                           "samples": {"paths": [str(FIXTURES / "ruby-rhel.json")]}, "output_dir": "output"})
    path = folder / "plan.yaml"
    save_plan(plan, path)
    return path


def no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))


def a_terminal(monkeypatch: pytest.MonkeyPatch, *answers: str) -> None:
    stdin = io.StringIO("")
    stdin.isatty = lambda: True  # type: ignore[method-assign]
    monkeypatch.setattr(sys, "stdin", stdin)
    replies = iter(answers)
    monkeypatch.setattr("builtins.input", lambda prompt="": next(replies))


def test_without_a_terminal_apply_refuses_in_one_line_and_runs_nothing(
        workdir: Path, cluster: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    no_terminal(monkeypatch)
    assert main(["apply", str(offline_plan(workdir))]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and "--yes" in err
    assert not (cluster / "calls.log").exists()  # oc was not even asked


def test_dry_run_shows_every_object_and_the_cluster_and_user_it_would_change(
        workdir: Path, cluster: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    no_terminal(monkeypatch)  # a dry run asks nothing
    assert main(["apply", str(offline_plan(workdir)), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Cluster  https://api.lab.example.com:6443" in out and "User     kube:admin" in out
    assert "Version  OpenShift 4.17" in out
    documents = [d for d in yaml.safe_load_all("---" + out.split("\n---", 1)[1].split("\n...\n")[0]) if d]
    configmap = next(d for d in documents if isinstance(d, dict) and d.get("kind") == "ConfigMap")
    assert configmap["metadata"] == {"name": "registry-config", "namespace": "openshift-config"}
    assert OTHER_KEY in configmap["data"] and len(configmap["data"]) == 2  # the cluster's key kept, ours added
    assert f"its other keys are kept ({OTHER_KEY})" in out
    assert "Config.samples.operator.openshift.io/cluster" in out
    assert writes(cluster) == []


def test_dry_run_json_lists_the_steps(workdir: Path, cluster: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["apply", str(offline_plan(workdir)), "--dry-run", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["cluster"], data["user"], data["version"], data["dry_run"]) == \
        ("https://api.lab.example.com:6443", "kube:admin", "4.17", True)
    assert [s["what"] for s in data["steps"]] == ["ConfigMap/registry-config -n openshift-config",
                                                  "Config.samples.operator.openshift.io/cluster"]
    assert writes(cluster) == []


def test_asked_on_the_terminal_no_applies_nothing_and_yes_applies(
        workdir: Path, cluster: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    plan = str(offline_plan(workdir))
    a_terminal(monkeypatch, "n")
    assert main(["apply", plan]) == 1
    assert "Apply 2 changes to this cluster?" not in capsys.readouterr().out  # the question goes to stderr
    assert writes(cluster) == []
    a_terminal(monkeypatch, "y")
    assert main(["apply", plan]) == 0
    out = capsys.readouterr().out
    assert [args[0] for args, _ in writes(cluster)] == ["apply", "patch"]
    assert out.startswith("✓ ConfigMap/registry-config -n openshift-config")


def test_the_cli_and_the_wizard_apply_the_same_objects_in_the_same_order(
        workdir: Path, cluster: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    async def wizard() -> list[tuple[list[str], str]]:
        app = done_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            app.screen.query_one("#apply").focus()
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, ApplyScreen), app.screen.query_one("#status").render()
            await pilot.press("y")
            await settle(pilot)
        return writes(cluster)

    import asyncio

    from_wizard = asyncio.run(wizard())
    assert [args[:2] for args, _ in from_wizard] == [["apply", "-f"], ["apply", "-f"], ["patch", "configs.samples."
                                                                                        "operator.openshift.io/cluster"]]
    (cluster / "writes.log").unlink()
    # The same documents the wizard computed, from the plan it saves: the CLI reads the release from its
    # registry, which this test has not got.
    prepared = done_app().state.prepared
    assert prepared is not None

    async def same(plan: object, session: object = None) -> object:
        return prepared

    monkeypatch.setattr(applying, "prepare_documents", same)
    plan = workdir / "mirror-plan.yaml"
    save_plan(done_app().state.plan_for_saving(), plan)
    assert main(["apply", str(plan), "--yes"]) == 0
    assert writes(cluster) == from_wizard
    kinds = [yaml.safe_load(stdin)["kind"] for _, stdin in from_wizard if stdin]
    assert kinds == ["ImageDigestMirrorSet", "ConfigMap"]


def test_a_to_dir_plan_is_applied_after_the_upload(workdir: Path, cluster: Path,  # noqa: F811
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    plan = plan_from_dict({"mirror": {"registry": MIRROR}, "release": {
        "source": "quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64", "mode": "to-dir",
        "directory": "media", "target": TARGET}})
    save_plan(plan, workdir / "plan.yaml")
    assert main(["apply", str(workdir / "plan.yaml"), "--yes"]) == 2
    assert "removable media" in capsys.readouterr().err
    assert not (cluster / "calls.log").exists()


def test_replacing_a_signature_configmap_the_cluster_has_is_its_own_question(
        workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    """The cluster holds the release's signature ConfigMap already (scenario ``signed``): as in the wizard,
    replacing it is asked apart, and "no" leaves it as it is while everything else is applied."""
    from core.signatures import signature_configmap

    log = workdir / "oc-log"
    variables = variables_for(mirror=MIRROR, ca_file=workdir / "ca.crt", mirror_repo=TARGET,
                              release_source="quay.io/openshift-release-dev/ocp-release",
                              components_source="quay.io/openshift-release-dev/ocp-v4.0-art-dev", samples={})
    for key, value in install(workdir / "bin", scenario="signed", variables=variables, log_dir=log,
                              writes=True).items():
        monkeypatch.setenv(key, value)
    configmap = signature_configmap("sha256:" + "ab" * 32, [b"verified by this mirror"])
    prepared = done_app().state.prepared
    assert prepared is not None
    monkeypatch.setattr(prepared, "signature_configmaps", lambda: [configmap])

    async def same(plan: object, session: object = None) -> object:
        return prepared

    monkeypatch.setattr(applying, "prepare_documents", same)
    plan = workdir / "mirror-plan.yaml"
    save_plan(done_app().state.plan_for_saving(), plan)
    asked: list[str] = []

    def answering(*answers: str) -> None:
        a_terminal(monkeypatch)
        replies = iter(answers)
        monkeypatch.setattr("builtins.input", lambda prompt="": (asked.append(prompt), next(replies))[1])

    answering("y", "n")
    assert main(["apply", str(plan)]) == 0
    name = configmap["metadata"]["name"]
    assert asked[1].startswith(f"Replace the release signature ConfigMap {name} in openshift-config-managed?")
    assert asked[1].startswith(applying.replace_question([name]).question)  # the wizard's modal asks this
    assert not any(args[0] == "replace" for args, _ in writes(log))
    assert f"ConfigMap/{name} -n openshift-config-managed: left as is" in capsys.readouterr().out
    (log / "writes.log").unlink()
    asked.clear()
    answering("y", "y")
    assert main(["apply", str(plan)]) == 0
    replaced = [(args, stdin) for args, stdin in writes(log) if args[0] == "replace"]
    assert len(replaced) == 1 and yaml.safe_load(replaced[0][1])["metadata"]["name"] == name


def test_a_ca_that_does_not_verify_the_mirror_is_not_applied(
        workdir: Path, cluster: Path, ca_verified: list[str],  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    ca_verified.append("the registry is unreachable")
    assert main(["apply", str(offline_plan(workdir)), "--yes"]) == 0
    assert [args[1] for args, _ in writes(cluster)] == ["configs.samples.operator.openshift.io/cluster"]
    assert "the CA is left out: it was not verified against mirror.example.com:8443" in capsys.readouterr().err
