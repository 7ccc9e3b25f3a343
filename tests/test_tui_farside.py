"""Issue 26, the far side: the wizard opened on a bundle's own plan.yaml, with nothing but the medium and the
mirror, finishes — no pull secret, no update service, the release key the connected side trusted.

The connected side is the demo sandbox's update path (4.17.1 → 4.17.3) written to removable media headless,
as the wizard's Mirror step writes it; the far side is driven with keys, as an admin would.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.pilot import settle
from tests.test_tui_snapshots import workdir  # noqa: F401
from tui.app import MirrorWizardApp

pytestmark = pytest.mark.skipif(shutil.which("docker-registry") is None
                                and not Path("/usr/bin/docker-registry").exists(),
                                reason="docker-registry is not installed")


@dataclass
class FarSide:
    media: Path          # the bundle, as carried
    mirror_host: str
    password: str
    key_fingerprint: str


@pytest.fixture(scope="module")
def far_side(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FarSide]:
    from core.bundle import BundleOptions
    from core.orchestrate import run_plan
    from core.plan import ReleaseMode, load_plan
    from core.release_keys import key_file_facts
    from tui.sandbox.demo import create_sandbox
    from tui.sandbox.plan import write_demo_plan

    root = tmp_path_factory.mktemp("farside")
    sandbox = create_sandbox(root / "sandbox", layer_size=16 * 1024)
    try:
        plan = load_plan(write_demo_plan(sandbox))
        assert plan.release is not None and plan.samples is not None and plan.release.keys
        # The connected side: the update path onto removable media (the demo's own key trusted there).
        plan.release.source, plan.release.from_version, plan.release.version = "", "4.17.1", "4.17.3"
        plan.release.mode, plan.release.directory = ReleaseMode.TO_DIR, str(root / "media")
        plan.samples.include = ["ruby"]
        plan.output_dir = str(root / "near-output")
        near = asyncio.run(run_plan(plan, write=False, bundle=BundleOptions(include_wheelhouse=False, extract=False)))
        assert near.copy is not None and near.copy.ok and near.bundle is not None
        fingerprint = key_file_facts(plan.release.keys[0])[0].fingerprint
        yield FarSide(root / "media", sandbox.mirror.host, sandbox.mirror_password, fingerprint)
    finally:
        sandbox.stop()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_the_far_side_finishes_from_the_bundle_alone(far_side: FarSide, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials without a pull secret, the path read from the medium (the update service unreachable),
    the carried release key shown and trusted, image streams from the medium's release, the upload, Done."""
    from tui.state import WizardState

    media = tmp_path / "media"
    shutil.copytree(far_side.media, media)
    monkeypatch.chdir(media)  # README.txt: "On the mirror host, from this directory"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # the far side's login file goes there
    (tmp_path / "home").mkdir()
    plan_bytes = _digest(media / "plan.yaml")
    state = WizardState.from_path("plan.yaml")
    state.graph_url = "https://127.0.0.1:9/graph"  # nothing answers: the far side never asks the update service
    state.visited = {"preflight"}
    app = MirrorWizardApp(state, start="credentials", auto_check=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        # 1. Credentials: no pull secret on this side; the mirror's login alone.
        assert "upload needs no pull secret" in str(app.screen.query_one("#secret-info").render())
        assert app.focused is not None and app.focused.id == "user"
        await pilot.press(*"admin", "tab")
        await pilot.press(*far_side.password, "enter")
        await settle(pilot)
        assert any(r.registry == far_side.mirror_host and r.ok for r in state.logins), state.logins
        await pilot.press("ctrl+n")
        await settle(pilot)
        # 2. Release: the path pinned on the medium, read from it; sizes say what the mirror holds.
        assert app.current_mode == "release"
        assert state.path_error == "", state.path_error
        assert [i.version for i in state.current_path()] == ["4.17.1", "4.17.2", "4.17.3"]
        assert state.path_sizes is not None and state.path_sizes.present_bytes == 0
        # The medium carries the key the connected side trusted; its plan does not name it: the screen shows
        # the file and its fingerprint, and trusting it is this admin's answer (typed in the field).
        assert state.release.keys == []
        carried = "config/release-keys/00-sandbox-release-key.asc"
        note = str(app.screen.query_one("#keys-note").render())
        assert carried in note and far_side.key_fingerprint in note, note
        assert app.focused is not None and app.focused.id == "next"
        app.screen.query_one("#keys").focus()
        await pilot.pause()
        await pilot.press(*carried)
        await settle(pilot)
        assert state.release.keys == [carried]
        app.screen.query_one("#next").focus()
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        # 3. Image streams: from the release the medium carries, not "Show path first".
        assert app.current_mode == "samples"
        assert state.streams and not state.streams_error, state.streams_error
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "ca"
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "review"
        await pilot.press("enter")  # Start mirror ▶ (focused)
        for _ in range(600):
            await pilot.pause(0.1)
            if not app.mirror_running and (state.progress.finished or state.progress.error):
                break
        # 4. The upload: the release signed by the carried key verifies, every release lands.
        assert state.progress.finished and not state.progress.error, state.progress.error
        assert _digest(media / "plan.yaml") == plan_bytes  # the signed bundle is never written over
        assert state.save_path() != Path("plan.yaml")
        # Update-path sizes count what the mirror holds, as one release's do: now all of it.
        from core.usecases.releases import read_medium_path
        from tui.access import wizard_session

        async with wizard_session(state) as session:
            measured = await read_medium_path(session, state.plan)
        assert measured.sizes.present_bytes == measured.sizes.unique_bytes > 0 and measured.sizes.missing_bytes == 0
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "done"


async def test_a_key_field_that_names_no_public_key_stops_next_in_one_line(far_side: FarSide, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from tui.state import WizardState

    monkeypatch.chdir(far_side.media)
    state = WizardState.from_path("plan.yaml")
    (tmp_path / "not-a-key.asc").write_text("hello\n")
    app = MirrorWizardApp(state, start="release", auto_check=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        field = app.screen.query_one("#keys")
        field.focus()
        await pilot.pause()
        # The path panel is as tall as its lines (once focusable, it took the whole step and pushed every
        # field below it out of sight).
        assert app.screen.query_one("#path-info").outer_size.height <= 6
        await pilot.press("end", *f", {tmp_path / 'not-a-key.asc'}")
        await settle(pilot)
        note = str(app.screen.query_one("#keys-note").render())
        assert far_side.key_fingerprint in note and "is not an OpenPGP public key" in note, note
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "release"
        status = str(app.screen.query_one("#status").render())
        assert status.startswith("release keys:") and "\n" not in status.strip(), status


# -- every panel scrolls from the keyboard at 80x24 --------------------------------------------------------

@pytest.mark.parametrize("step, panel", [("samples", "config"), ("release", "release-info")])
async def test_previews_below_the_last_field_are_reached_and_read_with_keys_at_80x24(
        step: str, panel: str, workdir: Path) -> None:  # noqa: F811
    """Tab reaches the panel (it scrolls into view), then Down and Page Down bring its last line on screen:
    no mouse needed for the samples Config preview or the release's sizes."""
    from tests.test_tui_newcomer import finished_app

    app = finished_app(step)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for _ in range(40):
            if app.focused is not None and app.focused.id == panel:
                break
            await pilot.press("tab")
        assert app.focused is not None and app.focused.id == panel, app.focused
        body = app.screen.query_one("#body")
        widget = app.screen.query_one(f"#{panel}")
        assert widget.region.y < body.region.bottom  # in view once focused
        for _ in range(40):
            if widget.region.bottom <= body.region.bottom:
                break
            await pilot.press("down")
            await pilot.pause()
        assert widget.region.bottom <= body.region.bottom, (widget.region, body.region)
        await pilot.press("pageup")
        await pilot.pause()
        assert app.focused is widget  # the keys scrolled the step; focus stayed on the panel


# -- Review's Start and Ctrl+N ------------------------------------------------------------------------------

async def test_review_says_enter_starts_and_ctrl_n_only_opens_the_mirror_step(workdir: Path) -> None:  # noqa: F811
    """Decision (issue 26): Ctrl+N stays Next and never starts a copy (a stray press must not launch hours of
    transfer); Review says so where the admin reads it, and the Mirror step has Start focused, one Enter away."""
    from tests.test_tui_newcomer import running_app

    app, copy = running_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        status = str(app.screen.query_one("#status").render())
        assert "Enter here starts the copy; Ctrl+N only opens the Mirror step" in status, status
        assert app.focused is not None and app.focused.id == "next"  # "Start mirror ▶": Enter here is that press
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "mirror" and not app.mirror_started and copy.runs == 0
        assert app.focused is not None and app.focused.id == "start"
        await pilot.press("enter")
        await pilot.pause()
        assert app.mirror_started and copy.runs == 1
        await pilot.press("ctrl+x", "y")
        await settle(pilot)


# -- update-path sizes and what the mirror holds -----------------------------------------------------------

async def test_update_path_sizes_say_what_the_mirror_holds_and_never_for_removable_media(workdir: Path) -> None:  # noqa: F811
    """As for one release: the path's bytes less what the mirror has; to removable media the registry's
    bytes say nothing (the medium gets every byte), also after the mode changes on the same step."""
    import dataclasses

    from core.release_path import PathSizes, ReleaseBytes
    from tests.test_tui_snapshots import fixed_state, with_release

    state = fixed_state()
    with_release(state)
    assert state.release_info is not None
    release = state.release
    release.source, release.from_version, release.version = "", "4.17.2", "4.17.3"
    state.update_mode = True
    older = dataclasses.replace(state.release_info, version="4.17.2", digest="sha256:" + "2e" * 32)
    state.path_releases = [older, state.release_info]
    state.path_for = state.path_key()
    state.path_sizes = PathSizes([ReleaseBytes("4.17.2", older.digest, 3 << 30, 3 << 30),
                                  ReleaseBytes("4.17.3", state.release_info.digest, 3 << 30, 1 << 30)],
                                 unique_bytes=4 << 30, blobs=60, present_bytes=3 << 30)
    app = MirrorWizardApp(state, start="release", auto_check=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        rows = dict(app.screen.query_one("#path-info").rows)
        assert "3.0 GiB already there" in str(rows["In the mirror"]) and "1.0 GiB to move" in str(rows["In the mirror"])
        app.screen.query_one("#mode").value = "to-dir"
        await settle(pilot)
        assert "In the mirror" not in dict(app.screen.query_one("#path-info").rows)
        await app.goto("review")
        await settle(pilot)
        summary = " ".join(str(w.render()) for w in app.screen.query_one("#summary").query("*"))
        assert "4.0 GiB in one copy" in summary and "to move" not in summary
        release.mode = "registry"  # type: ignore[assignment]
        await app.goto("samples")
        await app.goto("review")
        await settle(pilot)
        summary = " ".join(str(w.render()) for w in app.screen.query_one("#summary").query("*"))
        assert "1.0 GiB to move of 4.0 GiB in one copy" in summary, summary
