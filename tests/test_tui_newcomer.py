"""Issue 12: the wizard never misleads a first-time admin — safe keys, honest trust, a real ending.

Each test drives the app with the pilot as a newcomer would (keys, not method calls) and checks what
the screen says or what was written.
"""

from __future__ import annotations

from pathlib import Path

from tests.test_tui_snapshots import (  # noqa: F401
    fixed_state,
    with_ca,
    with_prepared,
    with_release,
    workdir,
)
from tui.app import MirrorWizardApp
from tui.screens.confirm import ConfirmScreen


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def finished_app(start: str, *, auto_check: bool = False) -> MirrorWizardApp:
    """The snapshot tests' fixed plan with a mirror that completed for it."""
    state = fixed_state()
    with_release(state)
    with_ca(state)
    with_prepared(state)
    state.progress.reset()
    state.progress.finish()
    state.visited = {"preflight", "credentials", "release", "samples", "ca", "review", "mirror"}
    return MirrorWizardApp(state, start=start, auto_check=auto_check)


# -- 1. quitting is never one stray key away ---------------------------------------------------------

async def test_ctrl_n_on_done_never_quits(workdir: Path) -> None:  # noqa: F811
    app = finished_app("review")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        for _ in range(8):  # eight fast Ctrl+N: Review → Mirror (complete) → Done, then nothing
            await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.current_mode == "done"
        assert app.is_running and app.return_code is None
        assert "last step" in str(app.screen.query_one("#status").render())


async def test_ctrl_n_through_review_never_starts_a_copy(workdir: Path) -> None:  # noqa: F811
    state = fixed_state()
    with_release(state)
    with_ca(state)
    app = MirrorWizardApp(state, start="review", auto_check=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        for _ in range(8):
            await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.current_mode == "mirror"  # the copy never ran, so not on to Done
        assert not app.mirror_started
        assert str(app.screen.query_one("#start").label) == "Start"
        assert app.is_running


async def test_quitting_asks_when_the_plan_is_unsaved_or_not_applied(workdir: Path) -> None:  # noqa: F811
    app = finished_app("done")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        detail = str(app.screen.query_one(".detail").render())
        assert "not saved" in detail and "not configured" in detail
        await pilot.press("n")  # stay
        await pilot.pause()
        assert app.is_running and app.current_mode == "done"
        await pilot.press("ctrl+o")  # Write files (also saves the plan)
        await settle(pilot)
        await pilot.press("ctrl+q")  # nothing left to lose: quits at once
        await pilot.pause()
    assert app.return_code == 0


async def test_quitting_an_untouched_wizard_asks_nothing(workdir: Path) -> None:  # noqa: F811
    from tui.state import WizardState

    app = MirrorWizardApp(WizardState.from_path(None), auto_check=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0


# -- 2. image streams: Space toggles a stream, never erases the path ---------------------------------

async def test_space_on_arrival_toggles_a_stream_and_keeps_the_path(workdir: Path) -> None:  # noqa: F811
    from tui.screens.samples import StreamTable

    state = fixed_state()
    state.streams = []  # read when the step opens, as in a real run
    app = MirrorWizardApp(state, start="samples", auto_check=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.pause(0.2)
        assert isinstance(app.focused, StreamTable)
        skipped = list(state.samples.skip)
        await pilot.press("space")
        await pilot.pause()
        assert app.screen.query_one("#path").value == "imagestreams"
        assert state.samples.skip != skipped  # one stream toggled
        hint = str(app.screen.query_one("#selection").render())
        assert "space toggles" in hint and "Tab to the list" not in hint
        app.screen.query_one("#path").focus()
        await pilot.pause()
        hint = str(app.screen.query_one("#selection").render())
        assert "Tab to the list" in hint  # true where the focus is: Space there types a space


# -- 3. no CA is a decision ----------------------------------------------------------------------------

def ca_app(tmp_path: Path, host: str) -> MirrorWizardApp:
    from tests.test_tui_errors import app_for

    app = app_for(tmp_path, host, start="ca", ca_file=None)
    app.state.visited = {"preflight", "credentials", "release", "samples"}
    return app


async def test_no_ca_for_a_privately_signed_mirror_blocks_next(tmp_path: Path, tls_registry) -> None:
    app = ca_app(tmp_path, tls_registry.host)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "ca"
        status = str(app.screen.query_one("#status").render())
        assert "not trusted without a CA file" in status
        assert "system trust" in str(app.screen.query_one("#ca-error").render())


async def test_no_ca_for_a_mirror_the_system_trusts_says_so_on_review(tmp_path: Path, tls_registry, pki,
                                                                       monkeypatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_file))  # the system trust, as if a public CA signed it
    app = ca_app(tmp_path, tls_registry.host)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "review", str(app.screen.query_one("#status").render())
        summary = " ".join(str(s.render()) for s in app.screen.query("#summary Static"))
        assert "verifies with the system trust" in summary
