"""The Done step: files written where asked, and `oc` run only when present and confirmed.

`oc` here is a stand-in script on PATH that records its arguments and input — the cluster is not
part of these tests; what matters is what the wizard would hand to oc.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import yaml

from tests.support.pilot import settle
from tests.test_tui_snapshots import (  # noqa: F401
    fixed_state,
    with_ca,
    with_prepared,
    with_release,
    workdir,
)
from tui.app import MirrorWizardApp
from tui.screens.apply import ApplyScreen

FAKE_OC = """#!{python}
import json, os, pathlib, sys
args = sys.argv[1:]
if args[:1] == ["version"]:  # the cluster's version decides IDMS or ICSP
    print(json.dumps({{"openshiftVersion": os.environ.get("FAKE_OC_CLUSTER", "4.17.3")}}))
    sys.exit(0)
if args == ["whoami", "--show-server"]:
    print("https://api.lab.example.com:6443")
    sys.exit(0)
if args == ["whoami"]:
    print(os.environ.get("FAKE_OC_USER", "kube:admin"))
    sys.exit(0)
if args[:2] == ["auth", "can-i"]:
    print(os.environ.get("FAKE_OC_CAN", "yes"))
    sys.exit(0)
if args[:1] == ["get"]:  # recorded answers, shaped like `oc get ... -o json`
    name = args[1] if args[1] != "configmap" else "configmap-" + args[2]
    recorded = pathlib.Path({log!r}).parent / "cluster" / (name + ".json")
    if recorded.is_file():
        print(recorded.read_text())
        sys.exit(0)
    print(f'Error from server (NotFound): {{args[1]}} not found', file=sys.stderr)
    sys.exit(1)
log = pathlib.Path({log!r})
n = len(list(log.glob("*.args")))
(log / f"{{n}}.args").write_text("\\n".join(sys.argv[1:]) + "\\n")
(log / f"{{n}}.stdin").write_text(sys.stdin.read())
print("configured")
"""


def done_app() -> MirrorWizardApp:
    state = fixed_state()
    with_release(state)
    with_ca(state)
    with_prepared(state)
    return MirrorWizardApp(state, start="done", auto_check=False)


def install_oc(folder: Path) -> Path:
    log = folder / "oc-calls"
    log.mkdir()
    script = folder / "bin" / "oc"
    script.write_text(FAKE_OC.format(python=sys.executable, log=str(log)))
    script.chmod(0o755)
    return log


async def test_write_files_puts_every_document_in_the_folder(workdir: Path) -> None:  # noqa: F811
    app = done_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+o")  # Write files
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
    out = workdir / "output"
    names = {p.name for p in out.iterdir()}
    assert {"imageDigestMirrorSet.yaml", "install-config-imageDigestSources.yaml", "registry-config.yaml",
            "samples-operator-config.yaml", "runbook.md"} <= names
    # a 4.17 release: never the ICSP or imageContentSources beside them (issue 26)
    assert not {"imageContentSourcePolicy.yaml", "install-config-imageContentSources.yaml"} & names
    idms = yaml.safe_load((out / "imageDigestMirrorSet.yaml").read_text())
    assert idms["kind"] == "ImageDigestMirrorSet"
    config = yaml.safe_load((out / "samples-operator-config.yaml").read_text())
    assert config["spec"]["skippedImagestreams"] == ["jenkins", "jenkins-agent-base"]
    assert (workdir / "mirror-plan.yaml").exists()


async def test_apply_without_oc_says_why_it_is_unavailable(workdir: Path) -> None:  # noqa: F811
    app = done_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.screen.query_one("#apply").focus()
        await pilot.press("enter")
        await settle(pilot)
        assert "Apply is unavailable" in str(app.screen.query_one("#status").render())
        assert "oc (the OpenShift CLI) is not on PATH" in str(app.screen.query_one("#written").render())


async def test_apply_asks_first_then_runs_oc(workdir: Path) -> None:  # noqa: F811
    log = install_oc(workdir)
    app = done_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        apply = app.screen.query_one("#apply")
        assert not apply.disabled
        apply.focus()
        await pilot.press("enter")
        await settle(pilot)  # oc whoami, version, get: in a worker
        assert isinstance(app.screen, ApplyScreen)
        await pilot.press("escape")  # not now: oc is not run
        await pilot.pause()
        assert not list(log.iterdir())
        apply.focus()
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("y")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, ApplyScreen)  # every result, in a view that scrolls
        await pilot.press("escape")
        await pilot.pause()
        assert "✓" in str(app.screen.query_one("#written").render())
    calls = sorted(log.glob("*.args"), key=lambda p: int(p.stem))
    args = [p.read_text().split("\n")[:-1] for p in calls]
    stdin = [(log / f"{p.stem}.stdin").read_text() for p in calls]
    assert args[0] == ["apply", "-f", "-"] and yaml.safe_load(stdin[0])["kind"] == "ImageDigestMirrorSet"
    assert args[1] == ["apply", "-f", "-"] and yaml.safe_load(stdin[1])["kind"] == "ConfigMap"
    assert args[2][:3] == ["patch", "image.config.openshift.io/cluster", "--type=merge"]
    assert json.loads(args[2][4]) == {"spec": {"additionalTrustedCA": {"name": "registry-config"}}}
    assert args[3][:2] == ["patch", "configs.samples.operator.openshift.io/cluster"]
    assert json.loads(args[3][4])["spec"]["samplesRegistry"] == "mirror.example.com:8443"
    assert os.environ["PATH"].endswith("bin")


async def apply_and_confirm(app: MirrorWizardApp, pilot) -> None:  # type: ignore[no-untyped-def]
    app.screen.query_one("#apply").focus()
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(app.screen, ApplyScreen), app.screen.query_one("#status").render()
    await pilot.press("y")
    await settle(pilot)
    if isinstance(app.screen, ApplyScreen):  # the results
        await pilot.press("escape")
        await pilot.pause()


async def test_apply_uses_icsp_for_a_cluster_before_4_13(workdir: Path, monkeypatch) -> None:  # noqa: F811
    log = install_oc(workdir)
    monkeypatch.setenv("FAKE_OC_CLUSTER", "4.12.40")
    app = done_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await apply_and_confirm(app, pilot)
    first = yaml.safe_load((log / "0.stdin").read_text())
    assert first["kind"] == "ImageContentSourcePolicy"


async def test_an_unverified_ca_is_neither_written_nor_applied(workdir: Path) -> None:  # noqa: F811
    log = install_oc(workdir)
    app = done_app()
    check = app.state.ca_check
    check.verified = False
    check.problems = ["the registry's certificate does not verify with ca.crt"]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "CA is left out" in str(app.screen.query_one("#written").render())
        await pilot.press("ctrl+o")
        await settle(pilot)
        await apply_and_confirm(app, pilot)
    assert not (workdir / "output" / "registry-config.yaml").exists()
    assert (workdir / "output" / "imageDigestMirrorSet.yaml").exists()
    kinds = [yaml.safe_load(p.read_text()).get("kind") for p in log.glob("*.stdin") if p.read_text().strip()]
    assert "ConfigMap" not in kinds and "ImageDigestMirrorSet" in kinds
    args = "\n".join(p.read_text() for p in log.glob("*.args"))
    assert "image.config.openshift.io/cluster" not in args


async def test_a_plan_changed_after_the_mirror_is_not_written(workdir: Path) -> None:  # noqa: F811
    app = done_app()
    app.state.samples.skip = ["jenkins"]  # one more stream chosen after the mirror ran
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "plan changed" in str(app.screen.query_one("#status").render())
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert "plan changed" in str(app.screen.query_one("#status").render())
    assert not (workdir / "output").exists()


async def test_an_output_folder_that_cannot_be_written(workdir: Path) -> None:  # noqa: F811
    blocker = workdir / "a-file"
    blocker.write_text("not a folder")
    app = done_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        out = app.screen.query_one("#out-dir")
        out.value = str(blocker / "output")
        await pilot.pause()
        await pilot.press("ctrl+o")
        await settle(pilot)
        status = str(app.screen.query_one("#status").render())
        assert status.startswith("not written:") and "\n" not in status
        assert out.value == str(blocker / "output")  # kept, to be corrected
        assert app.screen.query_one("#apply") is not None and app.current_mode == "done"
