"""The first-time admin trusts the screen: after the mirror changes under the last run (a prune), or the
run failed for a reason Resume cannot help (an untrusted release key), Review, Mirror and Done say what
is true now, never the last run's "complete" or a "Resume" that would fail the same way.

Real parts: the demo sandbox's registries (its mirror allows deletes), core.orchestrate's run, core.prune.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ErrorCode
from core.orchestrate import run_plan
from core.plan import ReleaseMode, load_plan
from tests.conftest import needs_registry
from tests.support.pilot import rendered
from tests.support.pilot import settle_twice as settle
from tests.test_tui_snapshots import fixed_state, with_release, workdir  # noqa: F401  (the fixture)
from tests.test_tui_walkfix_release import Walk, walk  # noqa: F401  (the fixture)
from tui.app import MirrorWizardApp
from tui.state import WizardState


def review_mirror_line(app: MirrorWizardApp) -> str:
    return str(dict(app.screen.query_one("#summary").rows).get("Mirror", ""))  # type: ignore[attr-defined]


@needs_registry
async def test_a_prune_after_a_complete_run_withdraws_complete_on_review_mirror_and_done(walk: Walk) -> None:  # noqa: F811
    state = WizardState.from_path(str(walk.plan_path))
    app = MirrorWizardApp(state, start="release", auto_check=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        screen.query_one("#find").press()
        await settle(pilot)
        run = await run_plan(load_plan(walk.plan_path), write=False)
        assert run.copy is not None and run.copy.ok
        # The run as the Mirror step records it: complete, for this plan.
        state.mirror_key = state.plan_key()
        state.mirror_result = run.copy
        state.progress.reset()
        state.progress.finish()
        await app.switch_mode("review")
        await settle(pilot)
        assert "✓ all in the mirror" in review_mirror_line(app), review_mirror_line(app)
        await app.switch_mode("release")
        await settle(pilot)
        screen = app.screen
        from textual.widgets import Select
        screen.query_one("#from-version", Select).value = "4.17.2"
        await settle(pilot)
        screen.query_one("#prune-plan").press()
        await settle(pilot)
        # Focus on the Delete button the list belongs to (Tab/Enter never lands on Back).
        assert app.focused is not None and app.focused.id == "prune-apply", app.focused
        screen.query_one("#prune-apply").press()
        await settle(pilot)
        app.screen.query_one("#yes").press()
        await settle(pilot)
        assert "deleted" in rendered(app, "#prune-list"), rendered(app, "#prune-list")
        screen.query_one("#from-version", Select).value = "4.17.1"
        await settle(pilot)
        assert state.mirror_stale and not state.mirror_complete()
        await app.switch_mode("review")
        await settle(pilot)
        line = review_mirror_line(app)
        assert "all in the mirror" not in line and "not in the mirror" in line, line
        assert str(app.screen.query_one("#next").label) != "Mirror ▶"
        await app.switch_mode("mirror")
        await settle(pilot)
        outcome = rendered(app, "#outcome")
        assert "mirror complete" not in outcome and "not in the mirror" in outcome, outcome
        assert str(app.screen.query_one("#start").label) == "Resume"
        await app.switch_mode("done")
        await settle(pilot)
        assert "images in the mirror" not in str(app.screen.query_one("#done-summary").render())


@needs_registry
async def test_an_untrusted_release_key_is_never_offered_resume(walk: Walk) -> None:  # noqa: F811
    state = WizardState.from_path(str(walk.plan_path))
    app = MirrorWizardApp(state, start="review", auto_check=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        state.mirror_key = state.plan_key()
        state.progress.reset()
        state.progress.finish(error="signed, it says, by key(s) mirror-wizard does not trust")
        app.mirror_error_code = ErrorCode.RELEASE_KEY_UNTRUSTED
        await app.switch_mode("mirror")
        await settle(pilot)
        start = app.screen.query_one("#start")
        assert str(start.label) == "Go to Release ◀", start.label  # type: ignore[attr-defined]
        await app.switch_mode("review")
        await settle(pilot)
        line = review_mirror_line(app)
        assert "Resume" not in line and "Release step" in line, line
        await app.switch_mode("mirror")
        await settle(pilot)
        app.screen.query_one("#start").press()
        await settle(pilot)
        assert app.current_mode == "release"
        note = rendered(app, "#keys-note")
        assert "refused the release's signature" in note, note




@pytest.mark.parametrize(("mode", "said", "never"), [
    (ReleaseMode.REGISTRY, "pushed as", "medium"),
    (ReleaseMode.TO_DIR, "written onto the medium", "pushed before the copy"),
    (ReleaseMode.FROM_DIR, "uploaded from the medium", "built and pushed"),
])
async def test_review_says_the_graph_image_as_each_mode_handles_it(workdir: Path, mode: ReleaseMode, said: str,  # noqa: F811
                                                                   never: str) -> None:
    state = fixed_state()
    with_release(state)
    state.release.mode = mode
    if mode != ReleaseMode.REGISTRY:
        state.release.directory = str(workdir / "media")
    state.release.graph_image = "mirror.example.com:5000/openshift/graph-image:latest"
    app = MirrorWizardApp(state, start="review", auto_check=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        line = str(dict(app.screen.query_one("#summary").rows).get("Graph-data image", ""))  # type: ignore[attr-defined]
        assert said in line and never not in line, line


@needs_registry
async def test_after_remove_the_keyboard_reaches_delete_next(walk: Walk) -> None:  # noqa: F811
    state = WizardState.from_path(str(walk.plan_path))
    app = MirrorWizardApp(state, start="release", auto_check=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        run = await run_plan(load_plan(walk.plan_path), write=False)  # 4.17.1 → 4.17.3 in the mirror
        assert run.copy is not None and run.copy.ok
        app.screen.query_one("#find").press()
        await settle(pilot)
        from textual.widgets import Select
        app.screen.query_one("#from-version", Select).value = "4.17.2"  # 4.17.1's own images go
        await settle(pilot)
        app.screen.query_one("#prune-plan").focus()
        await pilot.press("enter")
        await settle(pilot)
        await settle(pilot)
        status = rendered(app, "#status")
        assert app.focused is not None and app.focused.id == "prune-apply", (app.focused, status)
        await pilot.press("shift+tab")
        assert app.focused is not None and app.focused.id == "prune-plan", app.focused
        await pilot.press("tab")
        assert app.focused is not None and app.focused.id == "prune-apply", app.focused


@needs_registry
@pytest.mark.parametrize("mode", [ReleaseMode.TO_DIR, ReleaseMode.REGISTRY])
async def test_prune_is_offered_only_where_the_registry_is(walk: Walk, mode: ReleaseMode) -> None:  # noqa: F811
    state = WizardState.from_path(str(walk.plan_path))
    state.release.mode = mode
    if mode == ReleaseMode.TO_DIR:
        state.release.directory = str(walk.workdir / "media-prune")
    app = MirrorWizardApp(state, start="release", auto_check=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        shown = app.screen.query_one("#prune-plan").display
        why = rendered(app, "#prune-why")
        if mode == ReleaseMode.TO_DIR:
            assert not shown and "far side" in why, why
        else:
            assert shown and "Nothing is deleted" in why, why


def test_quitting_a_reopened_complete_mirror_says_nothing_was_written_in_this_session(workdir: Path) -> None:  # noqa: F811
    from tui.screens.quit import QuitFacts, quit_reasons

    state = fixed_state()
    with_release(state)
    state.mirror_key = state.plan_key()
    state.progress.reset()
    state.progress.finish()
    reasons = " ".join(quit_reasons(state, QuitFacts(initial_key=state.plan_key())))
    assert "in this session" in reasons, reasons


def test_quitting_after_a_medium_is_written_asks_nothing_about_the_far_sides_plan(workdir: Path) -> None:  # noqa: F811
    """The run wrote the bundle whole (its plan.yaml among it): the walk's quit said "the plan for the other
    side is not written yet (Done step: Write files)" beside Done's list of the files to carry."""
    from tui.screens.quit import QuitFacts, quit_reasons

    state = fixed_state()
    with_release(state)
    state.release.mode, state.release.directory = ReleaseMode.TO_DIR, "media"
    state.mirror_key = state.plan_key()
    state.progress.reset()
    state.progress.finish()
    reasons = quit_reasons(state, QuitFacts(initial_key=state.plan_key()))
    assert not [r for r in reasons if "Write files" in r or "removable media" in r or "cluster" in r], reasons


async def test_the_far_side_names_the_mirror_login_not_a_pull_secret(workdir: Path) -> None:  # noqa: F811
    state = fixed_state()
    with_release(state)
    state.release.mode, state.release.directory = ReleaseMode.FROM_DIR, str(workdir / "media")
    app = MirrorWizardApp(state, start="credentials", auto_check=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        lead = rendered(app, "#lead")
        assert "Red Hat" not in lead and "mirror registry's login" in lead, lead
        await app.switch_mode("review")
        await pilot.pause()
        rows = dict(app.screen.query_one("#summary").rows)  # type: ignore[attr-defined]
        assert "Mirror login" in rows and "Pull secret" not in rows, list(rows)


@needs_registry
async def test_reopening_a_plan_the_mirror_lacks_lands_on_review_once_the_ca_verifies(walk: Walk) -> None:  # noqa: F811
    from tui.app import first_step_for

    state = WizardState.from_path(str(walk.plan_path))
    start = first_step_for(state)
    assert start == "ca"  # the demo plan names a CA: checked on arrival
    state.visited.update(["preflight", "credentials", "release", "samples"])
    app = MirrorWizardApp(state, start=start, reopened=True, auto_check=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await settle(pilot)
        if state.mirror_complete():  # (another test of this module may have mirrored it whole)
            assert app.current_mode == "done"
        else:
            assert app.current_mode == "review", (app.current_mode, rendered(app, "#status"))


@needs_registry
async def test_image_streams_never_offer_mirror_none_before_a_list_is_there(walk: Walk, tmp_path: Path) -> None:  # noqa: F811
    from core.plan import SamplesChoice, SamplesSource, save_plan
    from tui.app import first_step_for
    from tui.state import STEP_KEYS

    path = tmp_path / "reopened.yaml"
    plan = load_plan(walk.plan_path)  # an update path: its release is read as the Release step reads it
    plan.samples = SamplesChoice(SamplesSource.RELEASE, mirror=plan.mirror.registry)
    save_plan(plan, path)
    state = WizardState.from_path(str(path))
    start = first_step_for(state)
    state.visited.update(STEP_KEYS[:STEP_KEYS.index(start)])
    app = MirrorWizardApp(state, start=start, reopened=True, auto_check=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await app.goto("samples")
        for _ in range(10):
            await pilot.pause(0.05)
            assert not app.screen.query_one("#use-removed").display, rendered(app, "#status")
        await settle(pilot)
        # The path's streams are read without the Release step (tests/test_tui_leftovers.py), every one
        # selected: a list is there, and still no "Mirror none" beside it.
        assert state.streams and not app.screen.query_one("#use-removed").display


@needs_registry
async def test_a_run_refused_by_the_release_key_sends_the_admin_to_release(walk: Walk) -> None:  # noqa: F811
    state = WizardState.from_path(str(walk.plan_path))
    state.release.keys = []  # the release key cleared: the sandbox's releases are signed by an unknown key
    state.visited.update(["preflight", "credentials", "release", "samples", "ca", "review"])
    app = MirrorWizardApp(state, start="mirror", auto_check=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.start_mirror()
        await settle(pilot)
        await settle(pilot)
        assert state.progress.error, rendered(app, "#outcome")
        assert str(app.screen.query_one("#start").label) == "Go to Release ◀", rendered(app, "#outcome")
        assert "release" not in state.visited  # its ✓ no longer stands
        await app.goto("review")
        await settle(pilot)
        line = review_mirror_line(app)
        assert "Resume" not in line and "Release step" in line, line


@needs_registry
async def test_the_far_sides_name_the_key_request_goes_once_the_key_is_named(walk: Walk, workdir: Path) -> None:  # noqa: F811
    from tests.test_tui_walkfix_release import far_state

    carried = "media/config/release-keys/00-sandbox-release-key.asc"
    state = far_state(walk, workdir, [])
    app = MirrorWizardApp(state, start="release", auto_check=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press("enter")  # "Name the key": back to the field
        await settle(pilot)
        assert "compare the fingerprint" in rendered(app, "#status")
        assert app.focused is not None and app.focused.id == "keys"
        await pilot.press(*carried)
        await settle(pilot)
        status = rendered(app, "#status")
        assert "compare the fingerprint" not in status and "named" in status, status
