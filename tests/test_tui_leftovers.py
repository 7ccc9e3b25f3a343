"""The walk's "confusing, not false" leftovers, each as the admin meets it (demo sandbox, real registries):
a reopened update path has its image streams without a visit to the Release step first; Done's oc note
names a medium only where there is one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.plan import SamplesChoice, SamplesSource, load_plan, save_plan
from tests.conftest import needs_registry
from tests.support.pilot import rendered
from tests.support.pilot import settle_twice as settle
from tests.support.update_path import TO_VERSION, UpdatePathSandbox, update_path_sandbox
from tests.test_tui_snapshots import workdir  # noqa: F401  (the fixture)
from tui.app import MirrorWizardApp, first_step_for
from tui.state import STEP_KEYS, WizardState


@pytest.fixture(scope="module")
def path_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpdatePathSandbox]:
    with update_path_sandbox(tmp_path_factory.mktemp("tui-leftovers")) as sandbox:
        yield sandbox


# -- 1: a reopened update path reads its image streams from the path, Release never visited ---------------------

async def saved_as_the_wizard_saves_it(path_sandbox: UpdatePathSandbox, folder: Path) -> Path:
    """The update-path plan with the release's own image streams, saved from the Release step once it has
    shown the path (so it pins the path's releases by digest, as the wizard saves it)."""
    plan = load_plan(path_sandbox.plan_path)
    plan.samples = SamplesChoice(SamplesSource.RELEASE, mirror=plan.mirror.registry)
    first = folder / "first.yaml"
    save_plan(plan, first)
    state = WizardState.from_path(str(first))
    app = MirrorWizardApp(state, start="release", auto_check=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert [info.version for info in state.current_path()][-1] == TO_VERSION, rendered(app, "#status")
    saved = folder / "reopened.yaml"
    save_plan(state.plan_for_saving(), saved)
    assert load_plan(saved).release.releases  # type: ignore[union-attr]  # pinned, as the wizard saves it
    return saved


@needs_registry
@pytest.mark.parametrize("how", ["reopened", "opened-at-image-streams"])
async def test_a_reopened_update_path_has_its_image_streams_without_the_release_step(
        path_sandbox: UpdatePathSandbox, tmp_path: Path, how: str) -> None:
    saved = await saved_as_the_wizard_saves_it(path_sandbox, tmp_path)
    state = WizardState.from_path(str(saved))
    if how == "reopened":  # as `mirror-wizard --plan` opens it: at the first step that needs the admin
        start = first_step_for(state)
        assert STEP_KEYS.index(start) > STEP_KEYS.index("samples"), start
        state.visited.update(STEP_KEYS[:STEP_KEYS.index(start)])
        app = MirrorWizardApp(state, start=start, reopened=True, auto_check=True)
    else:  # the step bar's jump straight to Image streams: no reopen worker read anything first
        state.visited.update(STEP_KEYS[:STEP_KEYS.index("samples")])
        app = MirrorWizardApp(state, start="samples", auto_check=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        if app.current_mode != "samples":
            await app.goto("samples")
            await settle(pilot)
        assert "release" not in app._screen_stacks, "the Release step was shown: the test proves nothing"
        status = rendered(app, "#status")
        assert state.streams, f"no image streams on a reopened update path: {status}"
        assert "Show path first" not in status and "Show path first" not in rendered(app, "#streams-error")
        # How many, and from where, whether this step read them or the reopened plan's facts did (was blank).
        assert f"{len(state.streams)} image streams loaded from release {TO_VERSION}" in status, status
        assert f"from release {TO_VERSION}" in rendered(app, "#streams-from"), rendered(app, "#streams-from")
        assert state.streams_from == state.current_path()[-1].digest  # the release the path ends at
        assert app.screen.query_one("#streams").row_count == len(state.streams)


# -- 5: Done's oc note names a medium only where there is one ---------------------------------------------------

@pytest.mark.parametrize("mode", ["registry", "to-dir", "from-dir"])
async def test_dones_oc_note_names_a_medium_only_with_removable_media(workdir: Path, mode: str) -> None:  # noqa: F811
    from core.usecases.machine import OC_DOWNLOAD
    from tests.test_tui_newcomer import finished_app

    app = finished_app("done")
    app.state.release.mode, app.state.release.directory = mode, "media"  # type: ignore[assignment]
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        notes = {"done": rendered(app, "#oc-note")}
        await app.goto("review")
        await settle(pilot)
        notes["review"] = rendered(app, "#oc-note")
    for step, note in notes.items():
        assert "cluster-admin" in note and "matching the release" in note, (step, note)
        if mode == "registry":  # straight into the registry: no medium anywhere, oc from Red Hat's site
            assert "medium" not in note and "bin/" not in note and OC_DOWNLOAD in note, (step, note)
        else:
            assert "the medium's bin/oc" in note and OC_DOWNLOAD not in note, (step, note)
        if mode == "to-dir":
            assert "far side" in note, (step, note)


# -- 4: F1 on the Release step shows the update graph's whole URL, and what it shows still pastes -------------

@pytest.mark.parametrize("size", [(100, 30), (80, 24)])
async def test_the_release_steps_help_shows_the_whole_graph_url_and_it_pastes(workdir: Path,  # noqa: F811
                                                                             size: tuple[int, int]) -> None:
    import subprocess

    from core.graph import DEFAULT_GRAPH_URL, graph_query_command
    from tests.test_tui_snapshots import fixed_state, with_release
    from tui.widgets.help import HelpPanel

    state = fixed_state()
    with_release(state)
    state.release.source, state.release.from_version, state.release.version = "", "4.17.1", "4.17.3"
    state.update_mode = True
    app = MirrorWizardApp(state, start="release", auto_check=False)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press("f1")
        await pilot.pause()
        panel = app.screen.query_one(HelpPanel)
        curl = next(c for c in panel._commands if c.startswith("curl "))
        assert curl == graph_query_command("stable-4.17", "x86_64")  # the copied command (Ctrl+Y), core's
        view = app.screen.query_one("#help-commands-scroll")
        code = app.screen.query_one("#help-commands")
        lines = code.render().plain.splitlines()  # type: ignore[union-attr]
        room = view.scrollable_content_region.width - 2  # the code's padding
        cut = [line for line in lines if len(line) > room]
        assert not cut, f"{room} columns on screen, lines longer (cut at the panel's edge): {cut}"
        start = next(n for n, line in enumerate(lines) if line.startswith("$ curl "))
        end = next(n for n in range(start, len(lines)) if not lines[n].rstrip().endswith("\\"))
    # Pasted exactly as shown (the panel's indent too; only the "$ " prompt left out): curl gets the URL whole
    # and the query's two pairs (a stand-in curl prints its arguments, one a line, to stderr: the command sends
    # its output to a file).
    script = "curl() { printf '%s\\n' \"$@\" >&2; }\n" + "\n".join([lines[start].removeprefix("$ "),
                                                                  *lines[start + 1:end + 1]])
    done = subprocess.run(["/bin/bash", "-c", script], capture_output=True, text=True, check=True)
    assert done.stderr.splitlines() == ["-sG", "-H", "Accept: application/json", "--data-urlencode",
                                        "channel=stable-4.17", "--data-urlencode", "arch=amd64",
                                        DEFAULT_GRAPH_URL], (script, done.stderr)


@pytest.mark.parametrize("size", [(100, 30), (80, 24)])
async def test_the_arrows_scroll_the_removable_media_tab_at_once(workdir: Path, size: tuple[int, int]) -> None:  # noqa: F811
    """Down on README's steps moves the text at the first press (it moved an unseen cursor through the lines
    already on screen first: a screenful of presses seemed to do nothing), and Up brings it back."""
    from tests.test_tui_newcomer import media_app

    app = media_app()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        area = app.screen.query_one("#doc-media")
        area.focus()
        await pilot.pause()
        assert area.max_scroll_y > 0  # longer than its room at this size
        for press in range(1, 4):
            await pilot.press("down")
            await pilot.pause()
            assert area.scroll_y == press, (press, area.scroll_y)
        await pilot.press("up")
        await pilot.pause()
        assert area.scroll_y == 2
        await pilot.press("end")
        await pilot.pause()
        assert area.scroll_y == area.max_scroll_y
        await pilot.press("home")  # the walk: Home did not go back to the top
        await pilot.pause()
        assert area.scroll_y == 0


# -- 2: Done's Removable media tab wraps README's lines evenly, its commands still pasting -----------------------

@pytest.mark.parametrize("size", [(100, 30), (80, 24)])
async def test_the_removable_media_tab_wraps_readmes_lines_evenly(workdir: Path, size: tuple[int, int]) -> None:  # noqa: F811
    import re
    import subprocess

    from tests.test_tui_newcomer import media_app
    from tui.screens.media import media_ending
    from tui.widgets.help import split_comment

    app = media_app()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        assert app.screen.query_one("#docs").active == "tab-media"
        area = app.screen.query_one("#doc-media")
        source = media_ending(app.state, None)
        shown = area.text.splitlines()  # type: ignore[attr-defined]
        # Every line on screen is one of ours: the widget's own wrap (a stub at column 0) cut none of them.
        assert area.wrapped_document.height == area.document.line_count, \
            [line for line in shown if len(line) >= area.wrap_width]  # type: ignore[attr-defined]
        width = area.wrap_width  # type: ignore[attr-defined]
    # Prose: a paragraph's lines keep its indent, and each line but its last is as full as the next word allows.
    start = next(n for n, line in enumerate(shown) if line.startswith("   gpg must say"))
    end = shown.index("", start)
    paragraph = shown[start:end]
    assert len(paragraph) >= 2 and all(line.startswith("   ") and line[3] != " " for line in paragraph), paragraph
    for line, after in zip(paragraph, paragraph[1:], strict=False):
        assert len(line) + 1 + len(after.split()[0]) > width, f"uneven at {width}: {line!r} then {after!r}"
    # Commands: each README command is on screen whole once its continuation backslashes are joined, and
    # the lines shown for it pass bash -n.
    starts = ("~/mirror-wizard-venv/", "mirror-wizard ", "sha256sum ", "G=$(", "python3 -m ")
    commands = [split_comment(line)[0].strip() for line in source.splitlines() if line.lstrip().startswith(starts)]
    assert len(commands) >= 6
    blocks: list[list[str]] = []
    for line in shown:
        if blocks and blocks[-1][-1].endswith("\\"):
            blocks[-1].append(line)
        elif line.lstrip().startswith(starts):
            blocks.append([line])
    joined = [re.sub(r"\\\n *", "", "\n".join(block)).strip() for block in blocks]
    for command in commands:
        assert command in joined, (command, joined)
    script = "\n".join("\n".join(block) for block in blocks)
    done = subprocess.run(["/bin/bash", "-n"], input=script, capture_output=True, text=True)
    assert done.returncode == 0, (done.stderr, script)


# -- 3: the far side's written files are all reachable from the keyboard at 100x30 ------------------------------

@pytest.mark.parametrize("size", [(100, 30), (80, 24)])
async def test_every_file_done_wrote_is_read_with_keys(workdir: Path, size: tuple[int, int]) -> None:  # noqa: F811
    from core.signatures import SignatureReport, VerifiedSignature
    from tests.test_tui_newcomer import finished_app

    app = finished_app("done")
    state = app.state
    state.plan.output_dir = str(workdir / "on-the-mirror-host" / "mirror-wizard-output")
    prepared = state.prepared
    assert prepared is not None
    # The far side of an update path: a signature ConfigMap for each of its three releases.
    prepared.signatures = [SignatureReport(digest, verified=[VerifiedSignature(b"sig" + digest.encode(),
                                                                              "verifier-public-key-redhat",
                                                                              "AB", "x", "y")])
                           for digest in ("sha256:" + c * 64 for c in "abc")]
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+o")  # Write files
        await settle(pilot)
        *written, plan = state.written  # the files, then the plan saved beside them
        note = app.screen.query_one("#written")
        # The keyboard reaches the list and scrolls it to its last line (it was cut after 4 lines, unreachable).
        for _ in range(30):
            if app.focused is note:
                break
            await pilot.press("tab")
        assert app.focused is note, f"Tab never reaches the list of written files: {app.focused}"
        scroll = app.screen.query_one("#written-scroll")
        assert note.outer_size.height > scroll.size.height, "the list fits: this test proves nothing"
        for _ in range(10):
            await pilot.press("down")
        await pilot.pause()
        assert scroll.scroll_y == scroll.max_scroll_y > 0  # its last line on screen
        assert scroll.region.bottom <= app.screen.query_one("#nav").region.y  # above the bar, not under it
        # What it says: how many, where (first: in sight however long the names are), then every name.
        text = str(note.render())
        status = str(app.screen.query_one("#status").render())
        count = len(written)
        assert f"{count} files written" in status and f"wrote {count} files" in text, (status, text)
        assert all(path.name in text for path in written) and str(plan) in text, text


# -- the Credentials step: the keyring's refusal whole, the far side's file named for what it holds -----------

@pytest.mark.parametrize("size", [(100, 30), (80, 24)])
async def test_an_unusable_keyring_is_said_whole_and_the_far_side_saves_a_login_not_a_pull_secret(
        tmp_path: Path, size: tuple[int, int]) -> None:
    """The walk at 100x30 read "Keyring not usable: no keyring backend is available on this machine (no Secret
    Service, KWalle" (a tick box's label never wraps), and a far side that has no pull secret was asked where to
    "save the pull secret with the mirror login"."""
    import keyring
    from keyring.backends import fail

    from core.plan import ReleaseMode
    from tests.test_tui_app import make_app

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())  # a machine with no keyring at all, as the walk's
    try:
        app = make_app(tmp_path, start="credentials")
        app.auto_check = True  # the keyring is asked on arrival
        app.state.plan.release.mode = ReleaseMode.FROM_DIR  # type: ignore[union-attr]
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            box = app.screen.query_one("#remember")
            assert box.disabled and str(box.label) == "Remember the password in the keyring (not usable here)"
            assert box.region.right <= size[0] and box.content_region.width >= len(str(box.label)), box.region
            note = rendered(app, "#keyring-note")
            assert "no keyring backend is available on this machine" in note and "KWallet" in note, note
            assert rendered(app, "#merged-label") == "Save the mirror login as"
    finally:
        keyring.set_keyring(previous)


async def test_review_names_the_mediums_folder_once(workdir: Path) -> None:  # noqa: F811
    """The walk read "mode to removable media at /tmp/…/removable-media" and then "to /tmp/…/removable-media"."""
    from tests.test_tui_newcomer import media_app

    app = media_app()
    app.state.release.directory = "/srv/removable-media"
    async with app.run_test(size=(100, 30)) as pilot:
        await app.goto("review")
        await settle(pilot)
        facts = dict(app.screen.summary())  # type: ignore[attr-defined]
        shown = " ".join(str(value) for value in facts.values())
        assert shown.count("/srv/removable-media") == 1, facts
        assert facts["  to"] == "/srv/removable-media" and "removable media" in str(facts["  mode"]), facts
