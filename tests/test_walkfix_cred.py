"""The first-time admin's demo walk: what it found on Credentials, the demo sandbox, help, Image streams."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from core.credentials import add_login_to_file, add_registry_credential, save_login
from core.plan import plan_from_dict
from tests.support.constants import PASSWORD, USER
from tests.test_tui_snapshots import workdir  # noqa: F401  (fixture)
from tui.app import MirrorWizardApp
from tui.state import WizardState


def _auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


# -- W6: saving over an auth file merges ---------------------------------------------------------------

def test_saving_over_an_existing_auth_file_keeps_its_other_logins(tmp_path: Path) -> None:
    target = tmp_path / "mirror-login.json"
    target.write_text(json.dumps({"auths": {"other.example.com:5000": {"auth": _auth("bob", "b")},
                                            "mirror.example.com:8443": {"auth": _auth("old", "o")}},
                                  "credHelpers": {"ecr.example.com": "ecr-login"}}))
    target.chmod(0o644)
    data = add_registry_credential({"auths": {}}, "mirror.example.com:8443", "admin", "new")
    saved = save_login(target, data, "mirror.example.com:8443")
    written = json.loads(target.read_text())
    assert written["auths"]["other.example.com:5000"] == {"auth": _auth("bob", "b")}
    assert written["auths"]["mirror.example.com:8443"] == {"auth": _auth("admin", "new")}
    assert written["credHelpers"] == {"ecr.example.com": "ecr-login"}
    assert saved.kept == ["other.example.com:5000"] and saved.replaced and saved.data == written
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_an_unreadable_auth_file_is_never_written_over(tmp_path: Path) -> None:
    from core.errors import AuthFileError

    target = tmp_path / "auth.json"
    target.write_text("{not json")
    with pytest.raises(AuthFileError):
        save_login(target, add_registry_credential({}, "m.example.com:5000", "a", "p"), "m.example.com:5000")
    assert target.read_text() == "{not json"


def test_cli_add_into_an_existing_file_keeps_its_other_logins(tmp_path: Path) -> None:
    secret = tmp_path / "pull-secret.json"
    secret.write_text(json.dumps({"auths": {"quay.io": {"auth": _auth("q", "q")}}}))
    output = tmp_path / "pull-secret-mirror.json"
    output.write_text(json.dumps({"auths": {"other.example.com": {"auth": _auth("o", "o")}}}))
    added = add_login_to_file(secret, output, "m.example.com:5000", "admin", "pw")
    assert set(json.loads(output.read_text())["auths"]) == {"quay.io", "other.example.com", "m.example.com:5000"}
    assert added.kept == ["other.example.com"]


def _far_side_app(tmp_path: Path, mirror: str, ca_file: str | None) -> MirrorWizardApp:
    plan = plan_from_dict({
        "version": 1, "auth_file": None,
        "mirror": {"registry": mirror, "ca_file": ca_file, "insecure": False},
        "registries": [],
        "release": {"source": "", "version": "4.17.3", "architecture": "x86_64", "mode": "from-dir",
                    "target": f"{mirror}/ocp4/openshift4", "directory": str(tmp_path / "media")},
        "samples": None, "output_dir": str(tmp_path / "out")})
    state = WizardState(plan=plan)
    state.plan_path = tmp_path / "media" / "plan.yaml"
    state.visited = {"preflight"}
    return MirrorWizardApp(state, start="credentials", auto_check=False)


async def test_far_side_shows_loads_and_merges_into_the_login_file_there(tmp_path: Path, tls_registry, pki,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    login = home / "mirror-login.json"
    login.write_text(json.dumps({"auths": {"other.example.com:5000": {"auth": _auth("bob", "b")}}}))
    login.chmod(0o600)
    app = _far_side_app(tmp_path, tls_registry.host, str(pki.ca_file))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert screen.query_one("#secret").value == "~/mirror-login.json"
        assert "Mirror login file" in str(screen.query_one("#secret-label").render())
        assert "1 registry:" in str(screen.query_one("#secret-info").render())
        screen.query_one("#user").value = USER
        screen.query_one("#password").value = PASSWORD
        screen.query_one("#add").press()
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        info = str(screen.query_one("#secret-info").render())
        assert "2 registries" in info, info
    written = json.loads(login.read_text())
    assert set(written["auths"]) == {"other.example.com:5000", tls_registry.host}
    assert stat.S_IMODE(login.stat().st_mode) == 0o600


# -- W7: the demo sandbox comes back with the admin's plan ---------------------------------------------

def _registry_answers(host: str, ca_file: Path, user: str | None = None, password: str | None = None) -> int:
    import ssl
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"https://{host}/v2/")
    if user is not None:
        request.add_header("Authorization", "Basic " + _auth(user, password or ""))
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(
        context=ssl.create_default_context(cafile=str(ca_file))))
    try:
        return int(opener.open(request, timeout=5).status)
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.skipif(__import__("shutil").which("docker-registry") is None, reason="docker-registry is not installed")
def test_demo_dir_reopens_the_saved_plan_keeping_choices_password_and_ports(tmp_path: Path, capsys) -> None:
    import socket

    from core.plan import load_plan, save_plan
    from tui.commands.demo import comeback_line, prepare_demo
    from tui.sandbox.demo import create_sandbox
    from tui.sandbox.plan import write_demo_plan

    folder = tmp_path / "demo"
    sandbox = create_sandbox(folder, layer_size=16 * 1024)
    try:
        plan_path = write_demo_plan(sandbox)
        plan = load_plan(plan_path)
        assert plan.samples is not None
        plan.samples.include = ["ruby"]  # the admin's choice, saved by the wizard
        save_plan(plan, plan_path)
        source, mirror, password = sandbox.source.host, sandbox.mirror.host, sandbox.mirror_password
    finally:
        sandbox.stop()
    assert "mirror-wizard demo --dir" in comeback_line(folder) and str(folder) in comeback_line(folder)
    # Same ports when free: the plan is not touched at all.
    saved = plan_path.read_bytes()
    prepared = prepare_demo(folder, reuse=True)
    try:
        assert prepared.reopen and prepared.sandbox.mirror.host == mirror and prepared.sandbox.source.host == source
        assert prepared.sandbox.mirror_password == password and plan_path.read_bytes() == saved
        assert _registry_answers(mirror, prepared.sandbox.ca_file, "admin", password) == 200
    finally:
        prepared.sandbox.stop()
    # The mirror's port taken by something else: a new one, and only that host:port changes in the plan.
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", int(mirror.rsplit(":", 1)[1])))
    blocker.listen()
    try:
        prepared = prepare_demo(folder, reuse=True)
    finally:
        blocker.close()
    try:
        new = prepared.sandbox.mirror.host
        assert new != mirror and prepared.sandbox.source.host == source
        assert any("port taken" in note and f"{mirror} → {new}" in note for note in prepared.notes), prepared.notes
        reopened = load_plan(plan_path)
        assert reopened.samples is not None and reopened.samples.include == ["ruby"]
        assert reopened.mirror.registry == new and reopened.release is not None and new in reopened.release.target
        assert (folder / "plan.yaml.bak").read_bytes() == saved
        assert _registry_answers(new, prepared.sandbox.ca_file, "admin", password) == 200
    finally:
        prepared.sandbox.stop()


def test_demo_dir_never_replaces_a_saved_plan_without_a_backup(tmp_path: Path, monkeypatch) -> None:
    """A folder holding a plan but not a sandbox to reopen: a new sandbox, the plan kept as plan.yaml.bak."""
    import tui.sandbox.demo
    from tui.commands.demo import prepare_demo

    folder = tmp_path / "demo"
    folder.mkdir()
    (folder / "plan.yaml").write_text("# mine\n")

    class Stop(Exception):
        pass

    def no_sandbox(_folder: Path) -> None:  # the registries are not the point here
        raise Stop

    monkeypatch.setattr(tui.sandbox.demo, "create_sandbox", no_sandbox)
    with pytest.raises(Stop):
        prepare_demo(folder, reuse=True)
    assert (folder / "plan.yaml.bak").read_text() == "# mine\n"


# -- C8: Esc closes the help F1 opened before it goes Back ----------------------------------------------

async def test_escape_closes_the_help_first_and_the_help_does_not_follow_to_other_steps(tmp_path: Path) -> None:
    from tests.test_tui_app import make_app

    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.current_mode == "preflight"
        await pilot.press("f1")
        await pilot.pause()
        assert app.screen.has_class("-help-open")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.current_mode == "credentials" and not app.screen.has_class("-help-open")
        await pilot.press("f1")
        await pilot.pause()
        assert app.screen.has_class("-help-open")
        await pilot.press("escape")  # closes the help, stays
        await pilot.pause()
        assert app.current_mode == "credentials" and not app.screen.has_class("-help-open")
        await pilot.press("escape")  # now Back
        await pilot.pause()
        assert app.current_mode == "preflight"
        assert not app.screen.has_class("-help-open")  # what F1 opened there belonged to that visit


# -- C9: a row toggle says what changed -----------------------------------------------------------------

async def test_enter_on_a_stream_row_says_what_it_changed(workdir: Path) -> None:  # noqa: F811
    from tests.support.pilot import settle
    from tests.test_tui_newcomer import fixed_state
    from tui.screens.samples import StreamTable

    state = fixed_state()
    state.streams = []  # read when the step opens, as in a real run
    app = MirrorWizardApp(state, start="samples", auto_check=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.pause(0.2)
        assert isinstance(app.focused, StreamTable)
        total = len(state.streams)
        first = state.streams[0].name
        assert first not in state.samples.skip
        chosen = total - len(state.samples.skip)
        await pilot.press("enter")
        await pilot.pause()
        assert first in state.samples.skip
        status = str(app.screen.query_one("#status").render())
        assert f"{first}: not mirrored · {chosen - 1} of {total} selected · Space/Enter toggles" in status, status
        await pilot.press("space")
        await pilot.pause()
        status = str(app.screen.query_one("#status").render())
        assert f"{first}: mirrored · {chosen} of {total} selected" in status, status


# -- M: an unticked checkbox looks empty ----------------------------------------------------------------

async def test_an_unticked_checkbox_shows_an_empty_box(tmp_path: Path) -> None:
    from textual.widgets import Checkbox

    from tests.test_tui_app import make_app

    app = make_app(tmp_path, start="credentials")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        box = Checkbox("practice", id="plain", compact=True)
        await app.screen.query_one("#body").mount(box)
        await pilot.pause()
        off = box.get_visual_style("toggle--button")
        assert off.foreground == off.background, off  # the X is drawn in the box's own colour: empty
        box.value = True
        await pilot.pause()
        on = box.get_visual_style("toggle--button")
        assert on.foreground != on.background, on


# -- C7: reopening a plan whose mirror is complete ------------------------------------------------------

from tests.test_tui_issue26 import mirrored_plan  # noqa: E402,F401  (fixture)


async def test_reopening_a_completed_plan_lands_on_done_and_review_has_its_facts(mirrored_plan: Path) -> None:  # noqa: F811
    from tests.support.pilot import settle
    from tui.app import first_step_for
    from tui.state import STEP_KEYS

    state = WizardState.from_path(str(mirrored_plan))  # mirror-wizard --plan: run_app's reopen
    start = first_step_for(state)
    assert start == "ca"
    state.visited.update(STEP_KEYS[:STEP_KEYS.index(start)])
    app = MirrorWizardApp(state, start=start, reopened=True)
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(200):
            await pilot.pause(0.1)
            if app.current_mode == "done":
                break
        await settle(pilot)
        assert app.current_mode == "done", (app.check_note, state.ca_check)
        assert not app.mirror_started  # looked at, never copied
        # Review's facts, read on the reopen: components, bytes, the image streams line.
        await app.goto("review")
        await settle(pilot)
        facts = dict((name, str(value)) for name, value in app.screen.summary())
        assert "components" in facts["Release"], facts
        assert "  bytes" in facts, facts
        assert "1 mirrored" in facts.get("Image streams", ""), facts


# -- M: nothing shows through at the end of the footer -------------------------------------------------

async def test_the_footer_palette_key_covers_the_last_column_at_80x24(tmp_path: Path) -> None:
    """The keys that overflow under the docked "^p palette" showed their last letters in the last column
    (the tester's "^p palettei" / "paletteu" on the Mirror and Image streams steps)."""
    from textual.widgets._footer import FooterKey

    from tests.test_tui_app import make_app

    app = make_app(tmp_path, start="mirror")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        palette = [key for key in app.screen.query(FooterKey) if key.has_class("-command-palette")]
        assert palette and palette[0].region.right == 80, palette[0].region


async def test_what_demo_did_to_the_plan_is_said_in_the_wizard_too(tmp_path: Path) -> None:
    from tests.test_tui_app import make_app

    app = make_app(tmp_path)
    app.startup_notes = ["port taken: the registries moved (127.0.0.1:1 → 127.0.0.1:2)"]
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert any("port taken" in str(n.message) for n in app._notifications)
