"""The first-time admin's walk of the Release step (demo sandbox, 100x30 and 80x24): what the screen says
must be true. "In the mirror" is what looking into the registry finds (never the last run's record), Next
asks about a release key the medium carries and nobody named, pruning always answers, the graph-data
image is said as each mode really handles it, and every command of F1 pastes into bash.

Real parts: the demo sandbox's registries (its mirror allows deletes), core.orchestrate's run, core.prune.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Select

from core.orchestrate import run_plan
from core.plan import load_plan, save_plan
from tests.conftest import needs_registry
from tests.support.pilot import rendered
from tests.support.pilot import settle_twice as settle
from tests.support.update_path import UpdatePathSandbox, update_path_sandbox
from tests.test_tui_snapshots import workdir  # noqa: F401  (the fixture)
from tui.app import MirrorWizardApp
from tui.state import WizardState

Walk = UpdatePathSandbox  # the demo plan as the path 4.17.1 → 4.17.3, the mirror's login in its auth


def in_mirror(app) -> str:  # type: ignore[no-untyped-def]
    return str(dict(app.screen.query_one("#path-info").rows).get("In the mirror", ""))


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walk]:
    with update_path_sandbox(tmp_path_factory.mktemp("tui-walkfix-release")) as sandbox:
        yield sandbox


# -- W1: "In the mirror" is what the registry holds now ------------------------------------------------------

@needs_registry
async def test_in_the_mirror_is_looked_up_after_a_run_a_prune_and_a_new_from(walk: Walk) -> None:
    state = WizardState.from_path(str(walk.plan_path))
    app = MirrorWizardApp(state, start="release", auto_check=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert [i.version for i in state.current_path()] == ["4.17.1", "4.17.2", "4.17.3"]
        screen.query_one("#find").press()  # the versions to choose "from" among
        await settle(pilot)
        before = in_mirror(app)
        assert "to move" in before and "all there" not in before, before  # an empty mirror
        # The mirror runs (as the Mirror step runs it) and completes; the admin goes Back to Release.
        plan = load_plan(walk.plan_path)
        run = await run_plan(plan, write=False)
        assert run.copy is not None and run.copy.ok
        state.mirror_key = state.plan_key()
        state.progress.reset()
        state.progress.finish()
        await app.switch_mode("review")
        await settle(pilot)
        await app.switch_mode("release")
        await settle(pilot)
        shown = in_mirror(app)
        assert "✓ all there already" in shown and "to move" not in shown, shown
        # Another from: the path is read and looked up, not "the plan changed after the last mirror".
        screen.query_one("#from-version", Select).value = "4.17.2"
        await settle(pilot)
        shown = in_mirror(app)
        assert "✓ all there already" in shown and "plan changed" not in shown, shown
        rows = dict(screen.query_one("#path-info").rows)
        assert not any("to move" in str(text) for label, text in rows.items() if label != "In the mirror"), rows
        # Prune the releases before 4.17.2 (deletes 4.17.1's own images), then ask for 4.17.1 again.
        screen.query_one("#prune-plan").press()
        await settle(pilot)
        screen.query_one("#prune-apply").press()
        await settle(pilot)
        app.screen.query_one("#yes").press()
        await settle(pilot)
        assert "deleted" in rendered(app, "#prune-list"), rendered(app, "#prune-list")
        screen.query_one("#from-version", Select).value = "4.17.1"
        await settle(pilot)
        shown = in_mirror(app)
        assert "all there" not in shown and "last run" not in shown, shown
        assert "not in the mirror" in shown, shown


# -- C1: the far side's Next asks about a carried release key nobody named ------------------------------------

def far_state(walk: Walk, folder: Path, keys: list[str]) -> WizardState:
    from core.plan import ReleaseMode
    from tests.test_tui_snapshots import fixed_state, with_release

    media = folder / "media"
    (media / "config" / "release-keys").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(walk.sandbox.release_key_file,  # type: ignore[attr-defined]
                    media / "config" / "release-keys" / "00-sandbox-release-key.asc")
    state = fixed_state()
    with_release(state)
    state.release.mode, state.release.directory, state.release.keys = ReleaseMode.FROM_DIR, "media", keys
    return state


@needs_registry
async def test_next_asks_once_about_a_carried_key_that_is_not_named(walk: Walk, workdir: Path) -> None:  # noqa: F811
    from core.release_keys import key_file_facts

    carried = "media/config/release-keys/00-sandbox-release-key.asc"
    state = far_state(walk, workdir, [])
    fingerprint = key_file_facts(carried)[0].fingerprint
    app = MirrorWizardApp(state, start="release", auto_check=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        question = str(app.screen.query_one(".question").render())
        assert "not trusted yet" in question, question
        detail = str(app.screen.query_one(".detail").render())
        assert fingerprint in detail and "the upload will refuse" in detail, detail
        await pilot.press("enter")  # the default: back to the field
        await settle(pilot)
        assert app.current_mode == "release"
        assert app.focused is not None and app.focused.id == "keys"
        assert state.release.keys == []  # never filled in for the admin
        assert app.focused.region.y < 30 and app.focused.region.height  # in view
        await pilot.press("ctrl+n")  # still none named: asked again, and this time the admin goes on
        await settle(pilot)
        app.screen.query_one("#yes").press()
        await settle(pilot)
        assert app.current_mode == "samples"
        await app.goto("release")
        await settle(pilot)
        await pilot.press("ctrl+n")  # answered: not asked again
        await settle(pilot)
        assert app.current_mode == "samples"


@needs_registry
async def test_next_does_not_ask_when_the_carried_key_is_named(walk: Walk, workdir: Path) -> None:  # noqa: F811
    state = far_state(walk, workdir, ["media/config/release-keys/00-sandbox-release-key.asc"])
    app = MirrorWizardApp(state, start="release", auto_check=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "samples"


# -- C3: "Remove the releases before A…" always answers, and its list is in view at 80x24 ----------------------

@needs_registry
async def test_prune_always_says_what_it_found_and_shows_the_list_at_80x24(walk: Walk) -> None:
    host = walk.sandbox.mirror.host  # type: ignore[attr-defined]
    plan = load_plan(walk.plan_path)
    assert plan.release is not None
    plan.release.target = f"{host}/c3/openshift4"
    run = await run_plan(plan, write=False)  # 4.17.1 … 4.17.3 in their own repository
    assert run.copy is not None and run.copy.ok
    path = walk.workdir / "c3-plan.yaml"
    save_plan(plan, path)
    state = WizardState.from_path(str(path))
    app = MirrorWizardApp(state, start="release", auto_check=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen

        async def prune() -> str:
            button = screen.query_one("#prune-plan")
            button.focus()
            await pilot.press("enter")
            await settle(pilot)
            await pilot.pause(0.2)
            return rendered(app, "#status")

        # Nothing older than the from version: said, not silence.
        status = await prune()
        assert f"nothing older than 4.17.1 in {host}/c3/openshift4" in status, status
        # A repository nothing was mirrored to yet.
        state.release.target = f"{host}/c3-empty/openshift4"
        await pilot.pause(0.7)
        status = await prune()
        assert "does not exist in the mirror" in status, status
        # Something older: said, the Delete button focused and the list it refers to in view.
        state.release.target = f"{host}/c3/openshift4"
        state.release.from_version = "4.17.2"
        await pilot.pause(0.7)
        status = await prune()
        assert "4.17.1-x86_64" in status and "nothing deleted yet" in status, status
        assert app.focused is not None and app.focused.id == "prune-apply"
        listing = screen.query_one("#prune-list")
        body = screen.query_one("#body")
        assert "releases to remove: 4.17.1-x86_64" in rendered(app, "#prune-list")
        # its first lines (what is kept, what goes) on screen
        assert body.region.y <= listing.region.y and listing.region.y + 2 < body.region.bottom, (
            listing.region, body.region)


# -- C4: the graph-data image said as each mode handles it; its own repository ticked with it ---------------------

@needs_registry
async def test_graph_image_words_follow_the_mode_and_own_repository_is_ticked_with_it(walk: Walk) -> None:
    from textual.widgets import Checkbox

    state = WizardState.from_path(str(walk.plan_path))
    state.release.graph_image = state.release.to_release_image = None
    state.release.directory = str(walk.workdir / "c4-media")
    app = MirrorWizardApp(state, start="release", auto_check=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        osus = screen.query_one("#osus", Checkbox)
        osus.focus()
        await pilot.press("space")
        await settle(pilot)
        image = state.release.graph_image
        assert image and screen.query_one("#own-repo", Checkbox).value and state.release.to_release_image
        said = {}
        for mode in ("registry", "to-dir", "from-dir"):
            screen.query_one("#mode", Select).value = mode
            await settle(pilot)
            said[mode] = rendered(app, "#osus-why") + " | " + rendered(app, "#graph-image-note")
        assert "built and pushed with the mirror" in said["registry"] and f"pushed as {image}" in said["registry"]
        assert "built onto the removable media" in said["to-dir"], said["to-dir"]
        assert "written onto the medium as openshift/graph-image:latest" in said["to-dir"], said["to-dir"]
        assert "pushed as" not in said["to-dir"].split("|")[1].split(";")[0]
        assert "uploaded from the removable media" in said["from-dir"] and "built and pushed" not in said["from-dir"]
        assert f"uploaded from the medium (openshift/graph-image:latest) as {image}" in said["from-dir"]


# -- W10: every command of F1 pastes into bash, as given and as the panel wraps it ---------------------------------

def bash_syntax_error(script: str) -> str:
    import subprocess

    done = subprocess.run(["/bin/bash", "-n"], input=script, capture_output=True, text=True, check=False)
    return done.stderr.strip() if done.returncode else ""


def comment_inside_a_command(script: str) -> str:
    """bash -n cannot see it (a comment is valid anywhere): a "#" inside a backslash-continued command
    ends that command there, and the rest runs as a command of its own. The line that does it, or ""."""
    from tui.widgets.help import split_comment

    lines = script.splitlines()
    for number, line in enumerate(lines):
        if not line.rstrip().endswith("\\"):
            continue
        if line.lstrip().startswith("#") or split_comment(line)[1]:
            return f"a comment on a continued line: {line!r}"
        following = lines[number + 1] if number + 1 < len(lines) else ""
        if following.lstrip().startswith("#"):
            return f"a comment inside a continued command: {line!r} then {following!r}"
    return ""


def shown_lines(commands: list[str], width: int) -> str:
    """The commands as the help panel shows them at ``width`` (tui.widgets.help.render_commands' cuts)."""
    from tui.widgets.help import wrap_command

    return "\n".join(part for command in commands for line in (command.splitlines() or [""])
                     for part in wrap_command(line, width - 2))


PLAN_SHAPES = [(kind, mode) for kind in ("one", "update") for mode in ("registry", "to-dir", "from-dir")]


@pytest.mark.parametrize("kind, mode", PLAN_SHAPES)
async def test_every_help_command_of_every_step_passes_bash_n(kind: str, mode: str, workdir: Path) -> None:  # noqa: F811
    from tests.support.help_commands import every_command

    broken: list[str] = []
    # graph.json: the update graph file is its own continued line, where the walk found "#" inside a command
    for step, commands in (await every_command(kind, mode, "graph.json")).items():
        for label, script in [("as given", "\n".join(commands)),
                              *((f"shown at {w}", shown_lines(commands, w)) for w in (36, 50, 70))]:
            error = bash_syntax_error(script) or comment_inside_a_command(script)
            if error:
                broken.append(f"{step} ({kind}, {mode}) {label}: {error}\n{script}")
    assert not broken, "\n\n".join(broken)


# -- M1: arriving from Credentials, focus is never on the Inspect button nobody pressed ----------------------------

@needs_registry
@pytest.mark.parametrize("size", [(100, 30), (80, 24)])
async def test_after_credentials_the_release_step_does_not_focus_inspect(walk: Walk, size: tuple[int, int]) -> None:
    from core.plan import plan_from_dict
    from tui.sandbox.plan import demo_plan_dict

    plan = plan_from_dict(demo_plan_dict(walk.sandbox))  # type: ignore[arg-type]  # one release, as the demo
    plan.auth_file = str(walk.auth)
    path = walk.workdir / f"m1-{size[0]}.yaml"
    save_plan(plan, path)
    state = WizardState.from_path(str(path))
    state.visited = {"preflight"}
    app = MirrorWizardApp(state, start="credentials", auto_check=True)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")  # Next, as the walk went
        await settle(pilot)
        if app.current_mode != "release":  # the login not accepted by Next: jump, as the step bar does
            await app.goto("release")
            await settle(pilot)
        assert app.current_mode == "release"
        assert state.release_info is not None, rendered(app, "#status")  # read on arrival
        assert app.focused is not None and app.focused.id != "inspect", app.focused


@needs_registry
async def test_one_release_in_the_mirror_is_looked_up_again_after_a_run(walk: Walk) -> None:
    from core.plan import plan_from_dict
    from tui.sandbox.plan import demo_plan_dict

    host = walk.sandbox.mirror.host  # type: ignore[attr-defined]
    plan = plan_from_dict(demo_plan_dict(walk.sandbox))  # type: ignore[arg-type]
    assert plan.release is not None
    plan.auth_file, plan.samples = str(walk.auth), None
    plan.release.target = f"{host}/w1-one/openshift4"
    path = walk.workdir / "w1-one.yaml"
    save_plan(plan, path)
    state = WizardState.from_path(str(path))
    app = MirrorWizardApp(state, start="release", auto_check=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)

        def shown() -> str:
            return str(dict(app.screen.query_one("#release-info").rows).get("In the mirror", ""))

        assert "to move" in shown() and "all there" not in shown(), shown()
        run = await run_plan(plan, write=False)
        assert run.copy is not None and run.copy.ok
        await app.switch_mode("review")
        await settle(pilot)
        await app.switch_mode("release")
        await settle(pilot)
        assert "✓ all there already" in shown(), shown()


def test_a_comment_ending_a_continued_command_stays_below_it_when_the_panel_wraps() -> None:
    """The panel moved every trailing comment above its line; on a line continuing the one before, that
    put the comment inside the command, and a paste into bash ran half of it."""
    import subprocess

    from tui.widgets.help import render_commands

    command = ("mirror-wizard release list --channel stable-4.17 --to-version \\\n"
               "    4.17.3 --graph-file /tmp/graph-stable-4.17.json  # the path, each hop's bytes")
    for width in (36, 50, 70):
        shown = [line.removeprefix("$ ").removeprefix("  ") for line in render_commands([command], width).plain
                 .splitlines()]
        assert shown[-1].lstrip().startswith("# the path"), shown
        script = "\n".join(shown)
        assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0, script
        # the command's every word is in one command: nothing after a comment inside it
        before_comment = script.split("#", 1)[0]
        assert "--graph-file" in before_comment and before_comment.rstrip().endswith(".json"), script
