"""Issue 24 in Apply: the image.config patch that lets the samples operator use the mirror, and the 4.20 → 4.21
admin-ack, proposed (shown, asked, applied) by the one core function behind ``mirror-wizard apply`` and the
wizard's Apply, when verify's rules (core.verify.lifecycle) say the cluster needs them.

``oc`` is the recorded stand-in (tests/support/fake_oc) with changes recorded instead of made: scenario
``allowed-no-port`` lists the mirror's host without its port in image.config; ``ack-missing`` is a 4.20
cluster whose admin-acks lacks ``ack-4.20-sigstore-in-4.21``; ``ack-given`` holds it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import sys
from pathlib import Path

import pytest

from core.plan import save_plan
from core.usecases import apply as applying
from tests.support.fake_oc import install, variables_for, writes
from tests.support.pilot import settle
from tests.test_tui_done import done_app
from tests.test_tui_snapshots import MIRROR, TARGET, workdir  # noqa: F401
from tui.app import MirrorWizardApp
from tui.cli import main
from tui.screens.apply import ApplyScreen

GATE = "ack-4.20-sigstore-in-4.21"


@pytest.fixture(autouse=True)
def ca_verified(monkeypatch: pytest.MonkeyPatch) -> None:
    """The mirror (mirror.example.com) is not running here: its CA counts as verified, as the wizard's state says."""
    async def verdict(plan: object) -> str | None:
        return None

    monkeypatch.setattr(applying, "ca_not_verified", verdict)


def cluster(workdir: Path, monkeypatch: pytest.MonkeyPatch, scenario: str) -> Path:  # noqa: F811
    log = workdir / "oc-log"
    variables = variables_for(mirror=MIRROR, ca_file=workdir / "ca.crt", mirror_repo=TARGET,
                              release_source="quay.io/openshift-release-dev/ocp-release",
                              components_source="quay.io/openshift-release-dev/ocp-v4.0-art-dev", samples={})
    for key, value in install(workdir / "bin", scenario=scenario, variables=variables, log_dir=log,
                              writes=True).items():
        monkeypatch.setenv(key, value)
    return log


def app_for(version: str | None = None) -> MirrorWizardApp:
    """The wizard at Done with the fixed plan mirrored; ``version``: the release the path ends at."""
    app = done_app()
    prepared = app.state.prepared
    assert prepared is not None and prepared.release is not None
    if version is not None:
        prepared.releases = [dataclasses.replace(prepared.release, version=version)]
    return app


def wizard_writes(app: MirrorWizardApp, log: Path) -> tuple[str, list[tuple[list[str], str]]]:
    """Apply pressed and confirmed in the wizard: the question's text and what oc was asked to change."""
    async def go() -> str:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            app.screen.query_one("#apply").focus()
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, ApplyScreen), app.screen.query_one("#status").render()
            body = str(app.screen.query_one("#apply-body").render())
            await pilot.press("y")
            await settle(pilot)
            return body

    body = asyncio.run(go())
    return body, writes(log)


def cli_writes(app: MirrorWizardApp, workdir: Path, log: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
               capsys: pytest.CaptureFixture[str]) -> tuple[str, list[tuple[list[str], str]]]:
    """``mirror-wizard apply --dry-run`` then ``--yes`` on the plan the wizard saves, with the same documents
    (the CLI would read the release from its registry, which this test has not got)."""
    prepared = app.state.prepared

    async def same(plan: object, session: object = None) -> object:
        return prepared

    monkeypatch.setattr(applying, "prepare_documents", same)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    plan = workdir / "mirror-plan.yaml"
    save_plan(app.state.plan_for_saving(), plan)
    assert main(["apply", str(plan), "--dry-run"]) == 0
    shown = capsys.readouterr().out
    assert writes(log) == []  # a dry run changes nothing
    assert main(["apply", str(plan), "--yes"]) == 0
    capsys.readouterr()
    return shown, writes(log)


def test_apply_lets_the_samples_operator_use_the_mirror_with_its_port(
        workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    log = cluster(workdir, monkeypatch, "allowed-no-port")
    body, from_wizard = wizard_writes(app_for(), log)
    assert "Image.config.openshift.io/cluster" in body and f"lets the samples operator use {MIRROR}" in body
    patches = [args for args, _ in from_wizard if args[:2] == ["patch", "image.config.openshift.io/cluster"]]
    assert len(patches) == 1 and "--type=json" in patches[0]
    ops = json.loads(patches[0][patches[0].index("--patch") + 1])
    assert {"op": "add", "path": "/spec/allowedRegistriesForImport/-", "value": {"domainName": MIRROR}} in ops
    assert {"op": "add", "path": "/spec/registrySources/allowedRegistries/-", "value": MIRROR} in ops
    order = [args[1] if args[0] == "patch" else "apply" for args, _ in from_wizard]
    # before the samples Config: the operator refuses a samplesRegistry image.config refuses
    assert order.index("image.config.openshift.io/cluster") < order.index("configs.samples.operator.openshift.io/cluster")
    (log / "writes.log").unlink()
    shown, from_cli = cli_writes(app_for(), workdir, log, monkeypatch, capsys)
    assert "Image.config.openshift.io/cluster" in shown and "allowedRegistries does not list" in shown
    assert from_cli == from_wizard  # the same objects, in the same order


def test_a_cluster_that_allows_the_mirror_gets_no_image_config_patch(
        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    log = cluster(workdir, monkeypatch, "allowed-port")
    _, from_wizard = wizard_writes(app_for(), log)
    assert not any(args[:2] == ["patch", "image.config.openshift.io/cluster"] and "--type=json" in args
                   for args, _ in from_wizard)


def test_apply_acknowledges_the_421_gate_on_a_420_cluster_when_the_path_crosses_it(
        workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    log = cluster(workdir, monkeypatch, "ack-missing")
    body, from_wizard = wizard_writes(app_for("4.21.2"), log)
    assert "ConfigMap/admin-acks -n openshift-config" in body and f"acknowledges {GATE}" in body
    acks = [args for args, _ in from_wizard if "admin-acks" in args]
    assert acks == [["patch", "configmap", "admin-acks", "-n", "openshift-config", "--type=merge", "--patch",
                     json.dumps({"data": {GATE: "true"}}, separators=(",", ":"))]]
    (log / "writes.log").unlink()
    shown, from_cli = cli_writes(app_for("4.21.2"), workdir, log, monkeypatch, capsys)
    assert f"acknowledges {GATE}" in shown
    assert from_cli == from_wizard


@pytest.mark.parametrize(("scenario", "version"), [("ack-given", "4.21.2"), ("ack-missing", "4.20.16")])
def test_no_ack_when_it_is_given_or_the_path_stays_below_421(
        workdir: Path, monkeypatch: pytest.MonkeyPatch, scenario: str, version: str) -> None:  # noqa: F811
    log = cluster(workdir, monkeypatch, scenario)
    body, from_wizard = wizard_writes(app_for(version), log)
    assert "admin-acks" not in body and not any("admin-acks" in args for args, _ in from_wizard)
