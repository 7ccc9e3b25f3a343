"""Pilot tests of the wizard shell: steps, keys, help panel, saving the plan (no network)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from core.plan import load_plan, plan_from_dict
from tui.app import MirrorWizardApp
from tui.screens.preflight import check_auth_file, check_disk
from tui.state import WizardState
from tui.widgets.help import HelpPanel
from tui.widgets.steps import StepIndicator


def write_pull_secret(path: Path, hosts=("quay.io", "registry.redhat.io")) -> Path:
    auth = base64.b64encode(b"someone:secret-token").decode()
    path.write_text(json.dumps({"auths": {h: {"auth": auth, "email": "a@example.com"} for h in hosts}}))
    return path


def plan_dict(tmp_path: Path) -> dict:
    return {
        "version": 1,
        "auth_file": str(write_pull_secret(tmp_path / "pull-secret.json")),
        "mirror": {"registry": "mirror.example.com:8443", "ca_file": None, "insecure": False},
        "registries": [],
        "release": {"source": "quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64", "channel": "stable-4.17",
                    "version": "4.17.3", "architecture": "x86_64", "mode": "registry",
                    "target": "mirror.example.com:8443/ocp4/openshift4", "directory": None},
        "samples": None,
        "output_dir": str(tmp_path / "out"),
    }


def make_app(tmp_path: Path, **kwargs) -> MirrorWizardApp:
    state = WizardState(plan=plan_from_dict(plan_dict(tmp_path)))
    state.plan_path = tmp_path / "plan.yaml"
    return MirrorWizardApp(state, auto_check=False, **kwargs)


async def test_next_and_back_walk_the_steps(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.current_mode == "preflight"
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.current_mode == "credentials"
        assert "preflight" in app.state.visited
        # The indicator on the new screen marks the step just left as done.
        text = app.screen.query_one(StepIndicator).render().plain
        assert "✓ 1" in text and "● 2 Credentials" in text
        await pilot.press("escape")
        await pilot.pause()
        assert app.current_mode == "preflight"
        await pilot.press("escape")  # nothing before the first step
        await pilot.pause()
        assert app.current_mode == "preflight"


async def test_help_panel_toggles_at_80_columns_and_shows_commands(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        panel = app.screen.query_one(HelpPanel)
        body = app.screen.query_one("#body")
        assert not panel.display or panel.region.width == 0
        await pilot.press("f1")
        await pilot.pause()
        assert panel.region.width > 0 and body.region.width == 0
        assert "oc version --client" in panel.commands_text
        await pilot.press("f1")
        await pilot.pause()
        assert body.region.width > 0 and panel.region.width == 0


async def test_help_panel_beside_the_form_when_wide(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        panel = app.screen.query_one(HelpPanel)
        assert panel.region.width > 0 and app.screen.query_one("#body").region.width > 0
        await pilot.press("f1")
        await pilot.pause()
        assert panel.region.width == 0


async def test_ctrl_s_saves_a_plan_that_loads_back(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
    saved = load_plan(tmp_path / "plan.yaml")
    assert saved.to_dict() == app.state.plan_for_saving().to_dict()
    assert saved.samples is None  # left empty in the wizard: not written as an empty section
    assert saved.mirror.registry == "mirror.example.com:8443"


def test_preflight_names_a_pull_secret_that_is_not_json(tmp_path: Path) -> None:
    state = WizardState(plan=plan_from_dict(plan_dict(tmp_path)))
    Path(state.plan.auth_file).write_text("{not json")
    check = check_auth_file(state)
    assert check.state == "fail" and "JSON" in check.detail
    write_pull_secret(Path(state.plan.auth_file))
    assert check_auth_file(state).state == "ok"


def test_preflight_disk_check_fails_when_the_media_folder_is_too_small(tmp_path: Path) -> None:
    state = WizardState(plan=plan_from_dict(plan_dict(tmp_path)))
    state.release.mode = "to-dir"
    state.release.directory = str(tmp_path / "media")

    class Huge:
        total_bytes = 1 << 60  # an exabyte: no test machine has that free

    state.release_size = Huge()
    assert check_disk(state).state == "fail"
    state.release_size = None
    state.release.mode = "registry"
    assert check_disk(state).state == "ok"


class _Running:
    is_running = True


async def test_cancel_asks_first_and_only_yes_sets_the_cancel_event(tmp_path: Path) -> None:
    import asyncio

    from tui.screens.confirm import ConfirmScreen

    app = make_app(tmp_path, start="mirror")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.mirror_worker = _Running()  # a copy in progress, without a registry
        app.mirror_cancel = asyncio.Event()
        app.state.progress.running = True
        await pilot.pause(0.3)  # the screen redraws: Cancel is enabled while running
        cancel = app.screen.query_one("#cancel")
        assert not cancel.disabled
        cancel.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")  # keep copying
        await pilot.pause()
        assert not app.mirror_cancel.is_set() and not isinstance(app.screen, ConfirmScreen)
        app.screen.query_one("#cancel").focus()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert app.mirror_cancel.is_set()
        app.mirror_worker = None


async def test_help_commands_follow_what_is_typed(tmp_path: Path) -> None:
    app = make_app(tmp_path, start="credentials")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        panel = app.screen.query_one(HelpPanel)
        user = app.screen.query_one("#user")
        user.focus()
        await pilot.press(*"ops-team")
        mirror = app.screen.query_one("#mirror")
        mirror.value = ""
        mirror.focus()
        await pilot.press(*"registry.lab:5000")
        await pilot.pause()
        commands = panel.commands_text
        assert "echo -n 'ops-team:<password>' | base64 -w0" in commands
        assert "oc registry login --registry=registry.lab:5000 --auth-basic=ops-team:<password>" in commands
        assert app.state.plan.mirror.registry == "registry.lab:5000"


async def test_clicking_a_visited_step_jumps_back(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.current_mode == "credentials"
        await pilot.click(StepIndicator, offset=(3, 0))  # on "✓ Preflight"
        await pilot.pause()
        assert app.current_mode == "preflight"
