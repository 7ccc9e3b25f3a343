"""Every step's F1 commands for a plan shape, as the help panel holds them (the bash -n and paste tests)."""

from __future__ import annotations

from tui.app import MirrorWizardApp


async def every_command(kind: str, mode: str, graph_file: str) -> dict[str, list[str]]:
    """Each step's F1 commands for the plan shape: ``kind`` one or update, ``mode`` the release mode, ``graph_file``
    the update graph file (update only; "" for none, the update service)."""
    from tests.test_tui_snapshots import fixed_state, with_release
    from tui.widgets.help import HelpPanel

    state = fixed_state()
    with_release(state)
    release = state.release
    release.mode, release.directory = mode, "media"  # type: ignore[assignment]
    if kind == "update":
        release.source, release.from_version, release.version = "", "4.17.1", "4.17.3"
        release.graph_file = graph_file or None
        state.update_mode = True
    app = MirrorWizardApp(state, start="preflight", auto_check=False)
    found: dict[str, list[str]] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for step in MirrorWizardApp.MODES:
            await app.goto(step)
            await pilot.pause()
            app.screen.refresh_help()
            found[step] = list(app.screen.query_one(HelpPanel)._commands)
    return found


__all__ = ["every_command"]
