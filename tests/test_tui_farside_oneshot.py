"""The far side of ONE release (not an update path): the wizard opened on the bundle's own plan.yaml reads the
release and its image streams from the medium, never from the release's source registry — on a disconnected
host quay.io has no address, and the tester's walk showed "✗ cannot resolve quay.io" on Release, Image streams
and Review while the upload itself worked.

The connected side is the demo sandbox's one release written to removable media headless; on the far side
every public name is made unresolvable (as on a host with no DNS for the internet), so only the medium and
the mirror are there to read.
"""

from __future__ import annotations

import asyncio
import ipaddress
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import needs_registry
from tests.support.pilot import rendered, settle
from tui.app import MirrorWizardApp

pytestmark = needs_registry

VERSION = "4.17.3"
# From Next (where the step opens once the medium's release is read): Tab wraps to the kind, then Inspect, the
# mode, the mirror repository, the folder, the keys. The fields that choose a release are the medium's answer,
# out of the Tab order (the tester's ten presses from the kind list went past the keys field).
TABS_TO_KEYS = 6


@dataclass
class OneRelease:
    media: Path
    password: str


@pytest.fixture(scope="module")
def one_release_medium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OneRelease]:
    from core.bundle import BundleOptions
    from core.orchestrate import run_plan
    from core.plan import ReleaseMode, load_plan
    from tui.sandbox.demo import create_sandbox
    from tui.sandbox.plan import write_demo_plan

    root = tmp_path_factory.mktemp("farside-one")
    sandbox = create_sandbox(root / "sandbox", layer_size=16 * 1024)
    try:
        plan = load_plan(write_demo_plan(sandbox))
        assert plan.release is not None and plan.samples is not None and plan.release.source
        # The connected side: one release (the demo's own) onto removable media, as the Mirror step writes it.
        assert not plan.release.is_path and plan.release.version == VERSION
        plan.release.mode, plan.release.directory = ReleaseMode.TO_DIR, str(root / "media")
        plan.samples.include = ["ruby"]
        plan.output_dir = str(root / "near-output")
        near = asyncio.run(run_plan(plan, write=False, bundle=BundleOptions(include_wheelhouse=False, extract=False)))
        assert near.copy is not None and near.copy.ok and near.bundle is not None
        far = load_plan(root / "media" / "plan.yaml")
        assert far.release is not None and far.release.mode == ReleaseMode.FROM_DIR and not far.release.is_path
        assert far.release.source.startswith("quay.io/")  # the release's source: what the far side cannot reach
        yield OneRelease(root / "media", sandbox.mirror_password)
    finally:
        sandbox.stop()


def no_public_names(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A disconnected host: no name but localhost resolves (quay.io, registry.redhat.io: "no address"), as
    DNS answers there. Returns the names asked for, so a test can say none of the source's was."""
    asked: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        try:
            ipaddress.ip_address(name)
        except ValueError:
            if name != "localhost":
                asked.append(name)
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def far_state(media: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from tui.state import WizardState

    copy = tmp_path / "media"
    shutil.copytree(media, copy)
    monkeypatch.chdir(copy)  # README.txt: "On the mirror host, from this directory"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    state = WizardState.from_path("plan.yaml")
    state.graph_url = "https://127.0.0.1:9/graph"  # nothing answers there either
    return state


async def log_in(pilot: Any, password: str) -> None:
    app = pilot.app
    assert app.focused is not None and app.focused.id == "user"
    await pilot.press(*"admin", "tab")
    await pilot.press(*password, "enter")
    await settle(pilot)
    assert any(r.ok for r in app.state.logins), app.state.logins


async def test_one_release_is_read_from_the_medium_on_release_image_streams_and_review(
        one_release_medium: OneRelease, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = far_state(one_release_medium.media, tmp_path, monkeypatch)
    asked = no_public_names(monkeypatch)
    state.visited = {"preflight"}
    app = MirrorWizardApp(state, start="credentials", auto_check=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await log_in(pilot, one_release_medium.password)
        await pilot.press("ctrl+n")
        await settle(pilot, 2)
        # Release: the release on the medium, read from its layout (no "cannot resolve quay.io").
        assert app.current_mode == "release"
        status = rendered(app, "#status")
        assert state.release_error == "" and "✗" not in rendered(app, "#source-error"), state.release_error
        assert state.release_info is not None, status
        assert state.release_info.version == VERSION and state.release_info.layout, state.release_info
        assert "not readable" not in status and "✗" not in status, status
        rows = dict(app.screen.query_one("#release-info").rows)
        assert VERSION in str(rows["Version"]) and "Layers" in rows, rows
        # Inspect (pressed again) reads the same medium, not the source.
        app.screen.query_one("#inspect").press()
        await settle(pilot)
        assert state.release_error == "" and state.release_info.version == VERSION, state.release_error
        # The medium carries the demo's release key: the admin names it (Tab to the field, as with no mouse).
        await tab_to_keys_and_name_the_carried_key(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot, 2)
        # Image streams: the medium's release's, with a status that says how many.
        assert app.current_mode == "samples", rendered(app, "#status")
        status = rendered(app, "#status")
        assert state.streams and not state.streams_error, state.streams_error
        assert f"{len(state.streams)} image streams loaded" in status, status
        assert f"from release {VERSION}" in rendered(app, "#streams-from")
        await app.goto("review")
        await settle(pilot, 2)
        texts = [str(w.render()).strip() for w in app.screen.query_one("#summary").query("*")]
        release_line, streams_line = texts[texts.index("Release") + 1], texts[texts.index("Image streams") + 1]
        assert release_line.startswith(f"{VERSION} x86_64, ") and "components" in release_line, release_line
        assert "mirrored" in streams_line and "✗" not in streams_line, streams_line
    assert not [name for name in asked if name.endswith(("quay.io", "redhat.io"))], asked


async def test_a_reopened_one_release_far_plan_reads_the_medium_for_review(
        one_release_medium: OneRelease, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`mirror-wizard --plan plan.yaml` started past Image streams (read_reopened_facts): the release, its
    sizes and its streams for Review come from the medium too."""
    from tui.state import STEP_KEYS

    state = far_state(one_release_medium.media, tmp_path, monkeypatch)
    asked = no_public_names(monkeypatch)
    state.visited.update(STEP_KEYS[:STEP_KEYS.index("review")])
    app = MirrorWizardApp(state, start="review", reopened=True, auto_check=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, 2)
        assert state.release_info is not None and state.release_info.version == VERSION
        assert state.release_size is not None and state.release_size.total_bytes > 0
        assert state.streams and not state.streams_error, state.streams_error
        await app.goto("samples")
        await settle(pilot)
        status = rendered(app, "#status")
        assert f"{len(state.streams)} image streams loaded" in status, status
    assert not [name for name in asked if name.endswith(("quay.io", "redhat.io"))], asked


@pytest.mark.parametrize("size", [(100, 30), (80, 24)])
async def test_tab_reaches_the_release_keys_field_on_the_far_side(
        one_release_medium: OneRelease, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        size: tuple[int, int]) -> None:
    """The tester pressed Tab ten times and typed: the field stayed empty. Tab reaches it, then the key typed
    lands there."""
    state = far_state(one_release_medium.media, tmp_path, monkeypatch)
    no_public_names(monkeypatch)
    app = MirrorWizardApp(state, start="release", auto_check=True)
    async with app.run_test(size=size) as pilot:
        await settle(pilot, 2)
        assert state.release_info is not None and app.focused is not None and app.focused.id == "next", app.focused
        await tab_to_keys_and_name_the_carried_key(pilot)


async def tab_to_keys_and_name_the_carried_key(pilot: Any) -> None:
    """Tab from where the step put focus to the Release keys field (bounded: the far side's fields first),
    then type the carried key's path: it lands in the field."""
    app = pilot.app
    seen: list[str | None] = []
    for _ in range(TABS_TO_KEYS):
        if app.focused is not None and app.focused.id == "keys":
            break
        seen.append(app.focused.id if app.focused is not None else None)
        await pilot.press("tab")
        await pilot.pause()
    assert app.focused is not None and app.focused.id == "keys", seen
    carried = "config/release-keys/00-sandbox-release-key.asc"
    await pilot.press(*carried)
    await settle(pilot)
    assert app.state.release.keys == [carried]
    assert "✗" not in rendered(app, "#keys-note")
