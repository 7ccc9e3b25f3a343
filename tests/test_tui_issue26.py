"""Issue 26: the wizard on the far side and on the second visit — nothing is one stray key away.

Pilot tests that drive the app with keys, as an admin would, and check what the screen says or writes.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.demo_login import pull_secret_with_mirror_login
from tests.support.pilot import rendered, settle
from tests.test_tui_newcomer import finished_app
from tests.test_tui_snapshots import workdir  # noqa: F401
from tui.app import MirrorWizardApp
from tui.screens.samples import StreamTable

# -- High 3: a stray `n` ------------------------------------------------------------------------------

async def test_a_stray_n_is_undone_at_once_and_none_selected_offers_removed(workdir: Path) -> None:  # noqa: F811
    app = finished_app("samples")
    state = app.state
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.screen.query_one(StreamTable).focus()
        await pilot.pause()
        before = (list(state.samples.include), list(state.samples.skip))
        chosen = len(app.screen.selected())
        assert chosen > 1
        await pilot.press("n")
        await pilot.pause()
        assert not app.screen.selected()
        # says what happened and how to take it back
        assert "u undoes" in rendered(app, "#status")
        # says what no stream means and offers the procedure's answer
        note = rendered(app, "#none-selected")
        assert "Removed" in note and "templates" in note
        assert app.screen.query_one("#use-removed").display
        await pilot.press("u")
        await pilot.pause()
        assert (list(state.samples.include), list(state.samples.skip)) == before
        assert len(app.screen.selected()) == chosen
        assert not app.screen.query_one("#none-selected").display

        # none selected: Next does not write Managed with every stream skipped
        await pilot.press("n")
        await pilot.pause()
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.current_mode == "samples"
        assert "Removed" in rendered(app, "#status")
        # the offered answer: no samples mirrored, the operator left Removed
        app.screen.query_one("#use-removed").press()
        await settle(pilot)
        assert state.plan_for_saving().samples is None
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.current_mode == "ca"


# -- High 2: the pull secret on the far side ------------------------------------------------------------

async def test_done_never_claims_a_mirror_login_the_pull_secret_lacks(workdir: Path) -> None:  # noqa: F811
    from tests.test_tui_newcomer import media_app

    app = media_app()  # pull-secret.json has no entry for the mirror: "Go on without a login"
    app.state.no_mirror_login_accepted = app.state.mirror_host
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        ending = app.screen.query_one("#doc-media").text
        assert "with the mirror login" not in ending
        assert f"no login for {app.state.mirror_host}" in ending
        # on the far side the login is asked for, before the upload needs it
        assert "asks for" in ending and "credentials add" in ending


async def test_done_says_the_pull_secret_holds_the_mirror_login_when_it_does(workdir: Path) -> None:  # noqa: F811
    import base64
    import json

    from tests.test_tui_newcomer import media_app

    secret = json.loads(Path("pull-secret.json").read_text())
    app = media_app()
    secret["auths"][app.state.mirror_host] = {"auth": base64.b64encode(b"admin:pw").decode()}
    Path("pull-secret.json").write_text(json.dumps(secret))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        ending = app.screen.query_one("#doc-media").text
        assert f"with the login for {app.state.mirror_host}" in ending
        # no line asking to add it (README's AUTH_FILE line still says how one is made, for any host)
        assert "has no login for" not in ending and "--pull-secret pull-secret.json" not in ending


# -- High 5: reopening a plan whose mirror is complete -------------------------------------------------

@pytest.fixture
def mirrored_plan(tmp_path: Path) -> Iterator[Path]:
    """The demo sandbox with its plan mirrored headless (as a first visit would have), the mirror's login
    in the plan's pull secret; the plan's path."""
    import asyncio

    from core.orchestrate import run_plan
    from core.plan import load_plan, save_plan
    from tui.sandbox.demo import create_sandbox
    from tui.sandbox.plan import write_demo_plan

    if shutil.which("docker-registry") is None and not Path("/usr/bin/docker-registry").exists():
        pytest.skip("docker-registry is not installed")
    sandbox = create_sandbox(tmp_path / "sandbox", layer_size=16 * 1024)
    try:
        path = write_demo_plan(sandbox)
        merged = pull_secret_with_mirror_login(sandbox, tmp_path / "pull-secret-mirror.json")
        plan = load_plan(path)
        plan.auth_file = str(merged)
        assert plan.samples is not None
        plan.samples.include = ["ruby"]
        plan.output_dir = str(tmp_path / "output")
        save_plan(plan, path)
        first = asyncio.run(run_plan(plan, write=False))
        assert first.copy is not None and first.copy.ok
        yield path
    finally:
        sandbox.stop()


async def test_reopening_a_plan_whose_mirror_is_complete_says_so_and_lets_next_through(mirrored_plan: Path) -> None:
    from tui.state import WizardState

    state = WizardState.from_path(str(mirrored_plan))  # the second visit: a fresh wizard on the saved plan
    state.visited = {"preflight", "credentials", "release", "samples", "ca", "review"}
    app = MirrorWizardApp(state, start="mirror", auto_check=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.pause(0.5)
        status = rendered(app, "#status")
        outcome = rendered(app, "#outcome")
        assert "nothing copied yet" not in status
        assert "holds everything" in outcome, (status, outcome)
        assert not app.mirror_started  # checked, never copied
        bar = app.screen.query_one("#bytes-bar")
        assert bar.percentage == 1 and rendered(app, "#bytes-text").startswith("0 B/0 B moved")
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "done", rendered(app, "#status")


# -- High 4: fast input lands, in order ------------------------------------------------------------------

def _burst(app: MirrorWizardApp, keys: list[str]) -> None:
    """Keys as a terminal delivers a paste without bracketed paste, or a held Backspace and a fast
    typist: all queued at once, none waiting for the one before it to be handled."""
    from textual import events

    names = {"/": "slash", ".": "full_stop", "-": "minus", "_": "underscore"}
    for key in keys:
        event = events.Key(names.get(key, key), key if len(key) == 1 else None)
        event.set_sender(app)
        app.post_message(event)


@pytest.mark.parametrize(("step", "field", "typed"), [("ca", "#ca-file", "/walk/c/pki/ca.crt"),
                                                      ("credentials", "#user", "admin")])
async def test_fast_typing_with_the_machine_busy_lands_every_key_in_order(
        workdir: Path, monkeypatch: pytest.MonkeyPatch, step: str, field: str, typed: str) -> None:  # noqa: F811
    import time

    from textual.widgets import Input

    from tui.screens.base import StepScreen

    app = finished_app(step)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        box = app.screen.query_one(field, Input)
        box.focus()
        box.value = "sx"
        await pilot.pause()
        slow = StepScreen.refresh_help

        def busy(self: StepScreen) -> None:  # a loaded machine: every check while typing takes a while
            time.sleep(0.01)
            slow(self)

        monkeypatch.setattr(StepScreen, "refresh_help", busy)
        # Backspace held down over what is there, then the value typed right after, with a slip fixed
        # on the way (a wrong letter, Backspace, the right one).
        keys = ["backspace"] * 4 + list(typed[:2]) + ["q", "backspace"] + list(typed[2:])
        _burst(app, keys)
        for _ in range(50):
            await pilot.pause(0.1)
            if box.value == typed:
                break
        await settle(pilot)
        assert box.value == typed
        assert box.cursor_position == len(typed)


# -- the documents: one install-config block, one mirror set, named after their content ------------------

async def test_done_gives_a_417_release_image_digest_sources_and_the_idms_only(workdir: Path) -> None:  # noqa: F811
    app = finished_app("done")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        install = app.screen.query_one("#doc-install").text
        assert "imageDigestSources:" in install and "imageContentSources" not in install
        idms = app.screen.query_one("#doc-idms").text
        assert "kind: ImageDigestMirrorSet" in idms and "name: release-0" not in idms
        assert not app.screen.query_one("#docs").get_tab("tab-icsp").display  # no ICSP past 4.12


# -- a mirror on a loopback address is flagged -------------------------------------------------------------

async def test_a_loopback_mirror_is_flagged_on_done_and_in_the_runbook(workdir: Path) -> None:  # noqa: F811
    from core.reference import is_loopback_host
    from tests.test_tui_snapshots import fixed_state, with_ca, with_prepared, with_release

    assert is_loopback_host("127.0.0.1:5000") and is_loopback_host("[::1]:5000") and is_loopback_host("localhost")
    assert not is_loopback_host("mirror.example.com:8443") and not is_loopback_host("10.0.0.5:5000")
    state = fixed_state()
    state.plan.mirror.registry = "127.0.0.1:5000"
    with_release(state)
    with_ca(state)
    with_prepared(state)
    state.progress.reset()
    state.progress.finish()
    app = MirrorWizardApp(state, start="done", auto_check=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert "loopback" in rendered(app, "#written") and "nodes cannot pull" in rendered(app, "#written")
        assert "on a loopback address" in app.screen._runbook


# -- F1 and Ctrl+Y follow the chosen mode ------------------------------------------------------------------

async def test_help_commands_follow_an_update_path_to_removable_media(workdir: Path) -> None:  # noqa: F811
    from tests.test_tui_snapshots import fixed_state
    from tui.widgets.help import HelpPanel

    state = fixed_state()
    release = state.release
    release.source, release.from_version, release.version = "", "4.17.1", "4.17.3"
    release.mode, release.directory = "to-dir", "media"
    app = MirrorWizardApp(state, start="release", auto_check=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for step in ("release", "mirror"):
            await app.goto(step)
            await settle(pilot)
            commands = "\n".join(app.screen.query_one(HelpPanel)._commands)
            assert "--to-dir media" in commands, step
            assert "oc adm release mirror" not in commands.replace("oc adm release mirror --to-dir", ""), step
            assert "--to mirror.example.com" not in commands, step  # never a direct push
        release.mode = "from-dir"
        for step in ("release", "mirror"):
            await app.goto(step)
            await settle(pilot)
            app.screen.refresh_help()
            commands = "\n".join(app.screen.query_one(HelpPanel)._commands)
            assert "--from-dir media --to" in commands and "oc image mirror --from-dir=" not in commands, step


# -- reopening goes to the first step that still needs the admin -----------------------------------------

def test_reopening_starts_at_the_first_step_that_needs_the_admin(workdir: Path) -> None:  # noqa: F811
    import base64
    import json

    from tests.test_tui_snapshots import fixed_state
    from tui.app import first_step_for

    state = fixed_state()
    assert first_step_for(state) == "credentials"  # the pull secret has no login for the mirror
    secret = json.loads(Path("pull-secret.json").read_text())
    secret["auths"][state.mirror_host] = {"auth": base64.b64encode(b"admin:pw").decode()}
    Path("pull-secret.json").write_text(json.dumps(secret))
    assert first_step_for(fixed_state()) == "ca"  # everything named: the CA checked on arrival, then Review
    no_ca = fixed_state()
    no_ca.plan.mirror.ca_file = None
    assert first_step_for(no_ca) == "review"
    bare = fixed_state()
    bare.release.source, bare.release.version = "", None
    bare.samples.paths = []
    assert first_step_for(bare) == "release"
    bare.plan.auth_file = None  # a bundle's plan on the far side: the login is added there
    assert first_step_for(bare) == "credentials"


def test_the_demo_and_a_new_wizard_still_start_at_preflight(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    import tui.app as app_module

    started: list[str] = []
    monkeypatch.setattr(app_module.MirrorWizardApp, "run", lambda self: started.append(self.start_step))
    state_path = workdir / "plan.yaml"
    from core.plan import save_plan
    from tests.test_tui_snapshots import fixed_state

    save_plan(fixed_state().plan, state_path)
    app_module.run_app(str(state_path))  # the demo
    app_module.run_app(str(state_path), reopen=True)  # mirror-wizard --plan
    app_module.run_app(None, reopen=True)  # mirror-wizard
    assert started == ["preflight", "credentials", "preflight"]


# -- the far side's Preflight points at the medium's oc --------------------------------------------------

def test_far_side_preflight_points_at_the_mediums_oc(workdir: Path) -> None:  # noqa: F811
    from core.usecases.machine import OC_DOWNLOAD, oc_source
    from tui.screens.preflight import check_oc

    (workdir / "media" / "bin").mkdir(parents=True)
    (workdir / "media" / "bin" / "oc").write_text("#!/bin/sh\n")
    far = check_oc(None, "media")  # the workdir's PATH holds no oc
    assert "media/bin/oc" in far.fix and OC_DOWNLOAD not in far.fix
    assert OC_DOWNLOAD in check_oc(None, None).fix
    # Verify's cluster advice on the far side says the same (it told the admin to install oc from the internet)
    from core.errors import ErrorCode
    from core.verify import Check, Side, Status
    from tui.screens.verify import wizard_advice

    missing = Check("cluster-access", "cluster access", Side.CLUSTER, Status.SKIP, "not checked",
                    code=ErrorCode.OC_MISSING)
    advice = wizard_advice(missing, oc_found=False, oc_where=oc_source("media"))
    assert "media/bin/oc" in advice and OC_DOWNLOAD not in advice, advice
    # an update path's medium: bin/<version>/oc, the release the cluster ends at
    (workdir / "path" / "bin" / "4.17.3").mkdir(parents=True)
    (workdir / "path" / "bin" / "4.17.3" / "oc").write_text("#!/bin/sh\n")
    assert "path/bin/4.17.3/oc" in check_oc(None, "path", "4.17.3").fix
