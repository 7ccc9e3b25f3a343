"""Pilot tests of the wizard shell: steps, keys, help panel, saving the plan (no network)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from core.plan import load_plan, plan_from_dict
from tests.test_tui_snapshots import workdir  # noqa: F401  (fixture)
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


async def start_mirror_and_wait(pilot, app: MirrorWizardApp):  # type: ignore[no-untyped-def]
    """Press Start on the Mirror step and wait for the copy worker to end; its progress."""
    await pilot.pause()
    await pilot.press("ctrl+r")
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause(0.3)
    return app.state.progress


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
    """Stands in for the copy worker: running, and records being cancelled."""

    is_running = True
    cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


async def test_cancel_asks_first_and_only_yes_sets_the_cancel_event(tmp_path: Path) -> None:
    import asyncio

    from tui.screens.confirm import ConfirmScreen

    app = make_app(tmp_path, start="mirror")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        worker = _Running()
        app.mirror_worker = worker  # a copy in progress, without a registry
        app.mirror_cancel = asyncio.Event()
        app.state.progress.running = True
        cancel = app.screen.query_one("#cancel")
        for _ in range(50):  # the screen redraws on the app's timer: Cancel is enabled while running
            await pilot.pause(0.1)
            if not cancel.disabled:
                break
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
        # Both: the engine's own cancel checks, and the task cancelled so a stuck read ends at once.
        assert app.mirror_cancel.is_set() and app.mirror_worker.cancelled
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


# -- review fixes -----------------------------------------------------------------------------------

def _finished_mirror_app(workdir: Path, start: str) -> MirrorWizardApp:  # noqa: F811  (not the fixture)
    """The snapshot tests' fixed plan, with a mirror that completed for it."""
    from tests.test_tui_snapshots import fixed_state, with_ca, with_prepared, with_release

    state = fixed_state()
    with_release(state)
    with_ca(state)
    with_prepared(state)
    state.progress.reset()
    state.progress.finish()
    state.visited = {"preflight", "credentials", "release", "samples", "ca", "review", "mirror"}
    return MirrorWizardApp(state, start=start, auto_check=False)


async def test_a_plan_changed_after_the_mirror_marks_it_out_of_date(workdir: Path) -> None:  # noqa: F811
    from tui.screens.samples import StreamTable

    app = _finished_mirror_app(workdir, "samples")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert not app.state.mirror_out_of_date()
        table = app.screen.query_one(StreamTable)
        table.focus()
        await pilot.pause()
        table.move_cursor(row=[r.value for r in table.rows].index("jenkins"))
        await pilot.press("space")  # one more stream: jenkins is mirrored now
        await pilot.pause()
        assert "jenkins" not in app.state.samples.skip
        await app.goto("mirror")
        await pilot.pause()
        outcome = str(app.screen.query_one("#outcome").render())
        assert "out of date" in outcome and "mirror complete" not in outcome
        assert str(app.screen.query_one("#start").label) == "Resume"
        # the last run's 100 % is not this plan's (issue 26)
        assert app.screen.query_one("#bytes-bar").percentage == 0
        assert app.screen.query_one("#images-bar").percentage == 0
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.current_mode == "mirror"  # not on to Done with an old mirror
        await app.goto("done")
        await pilot.pause()
        assert "plan changed" in str(app.screen.query_one("#status").render())


async def test_invalid_inputs_stay_visible_with_their_value(tmp_path: Path) -> None:
    app = make_app(tmp_path, start="credentials")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        secret = app.screen.query_one("#secret")
        bad = tmp_path / "broken.json"
        bad.write_text("{not json")
        secret.value = str(bad)
        secret.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert secret.has_class("-invalid")
        assert secret.content_region.height >= 1 and secret.content_region.width > 10
        assert secret.value == str(bad)
        assert "broken.js" in secret.render_line(0).text  # the value itself is on screen


async def test_an_unexpected_error_in_the_mirror_is_one_line_and_resets(tmp_path: Path) -> None:
    app = make_app(tmp_path, start="mirror")

    async def broken(cancel) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("something odd\nTraceback (most recent call last): ...")

    app._run_mirror = broken  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        progress = await start_mirror_and_wait(pilot, app)
        assert not progress.running and progress.error
        outcome = str(app.screen.query_one("#outcome").render())
        assert "RuntimeError: something odd" in outcome and "Traceback" not in outcome
        assert not app.screen.query_one("#start").disabled
        assert str(app.screen.query_one("#start").label) == "Resume"


async def test_a_failure_reason_is_readable_at_80_columns(tmp_path: Path) -> None:
    from core.events import ImageFailed, PlanReady

    app = make_app(tmp_path, start="mirror")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        progress = app.state.progress
        progress.reset()
        destination = "mirror.example.com:8443/ubi8/ruby-30:latest"
        progress.set_rows([("registry.redhat.io/ubi8/ruby-30:latest", destination, "ubi8/ruby-30:latest")])
        progress.feed(PlanReady(images=1, blobs=1, total_bytes=10))
        reason = "registry.redhat.io: access denied to ubi8/ruby-30 (check the pull secret's entry)"
        progress.feed(ImageFailed("registry.redhat.io/ubi8/ruby-30:latest", destination, reason))
        progress.finish(error=f"1 image failed — {destination}: {reason}. Resume retries them")
        app.screen.redraw()
        await pilot.pause(0.3)
        outcome = app.screen.query_one("#outcome")
        assert outcome.region.height >= 2 and outcome.region.right <= 80
        lines = [outcome.render_line(y).text for y in range(outcome.region.height)]
        shown = " ".join(line.strip() for line in lines)
        assert "ruby-30" in shown and "access denied" in shown and "pull secret's entry" in shown
        log = app.screen.query_one("#log")
        logged = " ".join(line.text.strip() for line in log.lines)
        assert "pull secret's entry" in logged  # wrapped, not cut at the edge


async def test_samples_registry_that_is_not_a_host_blocks_next(tmp_path: Path) -> None:
    app = make_app(tmp_path, start="samples")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        field = app.screen.query_one("#samples-mirror")
        field.value = "https://bad mirror/"
        await pilot.pause()
        assert field.has_class("-invalid") and "HOST" in str(app.screen.query_one("#mirror-error").render())
        assert app.state.samples.mirror != "https://bad mirror/"
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.current_mode == "samples" and "samplesRegistry" in str(app.screen.query_one("#status").render())
        field.value = "registry.lab:5000"
        await pilot.pause()
        assert app.state.samples.mirror == "registry.lab:5000" and not field.has_class("-invalid")


async def test_changing_the_mirror_host_forgets_what_was_said_about_the_old_one(tmp_path: Path) -> None:
    from core.credentials import LoginResult

    app = make_app(tmp_path, start="credentials")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.state.logins = [LoginResult("mirror.example.com:8443", "wrong-credentials", "rejected the password"),
                            LoginResult("quay.io", "ok", "logged in")]
        app.screen.show_logins()
        app.screen.query_one("#password-error").update("✗ mirror.example.com:8443 rejected the password")
        app.screen.query_one("#mirror").value = "registry.lab:5000"
        await pilot.pause()
        assert str(app.screen.query_one("#password-error").render()) == ""
        assert [r.registry for r in app.state.logins] == ["quay.io"]


def test_preflight_keeps_the_plaintext_keyring_warning(monkeypatch) -> None:
    import core.credentials
    import tui.screens.preflight
    from tui.screens.preflight import check_keyring

    # Patched where Preflight looks it up (imported at module level there).
    monkeypatch.setattr(tui.screens.preflight, "keyring_status", lambda: core.credentials.KeyringStatus(
        True, "keyrings.alt.file.PlaintextKeyring", "note: this keyring keeps passwords unencrypted in /x"))
    check = check_keyring()
    assert check.state == "warn" and "unencrypted" in check.detail


def test_eta_is_never_zero_while_images_remain() -> None:
    from core.events import BlobProgress, BlobStarted, PlanReady
    from core.progress import Progress

    now = [100.0]
    progress = Progress(clock=lambda: now[0])
    progress.reset()
    progress.set_rows([(f"src/{i}", f"dst/{i}", str(i)) for i in range(148)])
    progress.feed(PlanReady(images=148, blobs=1, total_bytes=1000))
    progress.feed(BlobStarted("sha256:" + "0" * 64, 1000, "dst"))
    for _ in range(4):
        now[0] += 0.5
        progress.feed(BlobProgress("sha256:" + "0" * 64, 240))  # 96% of the bytes, no image done yet
    # Bytes remain: an ETA of a second or more, never "finishing" (nor 0) while work remains.
    assert progress.eta is not None and progress.eta >= 1 and not progress.finishing


async def test_review_plan_path_that_cannot_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    app = make_app(tmp_path, start="review")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        path = app.screen.query_one("#plan-path")
        path.value = str(blocker / "plan.yaml")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        status = str(app.screen.query_one("#status").render())
        assert status.startswith("plan not saved:") and "\n" not in status
        assert path.value == str(blocker / "plan.yaml")
        assert app.state.plan.mirror.registry == "mirror.example.com:8443"


async def test_mirror_with_a_plan_it_cannot_prepare_says_why_in_one_line(tmp_path: Path) -> None:
    app = make_app(tmp_path, start="mirror")
    app.state.plan.release = None
    app.state.samples.source, app.state.samples.path = "files", str(tmp_path / "no-such-streams")
    async with app.run_test(size=(80, 24)) as pilot:
        progress = await start_mirror_and_wait(pilot, app)
        assert not progress.running and progress.error and "\n" not in progress.error
        assert "no-such-streams" in str(app.screen.query_one("#outcome").render())
        assert str(app.screen.query_one("#start").label) == "Resume"


async def test_keys_typed_ahead_after_tab_go_to_the_next_field(tmp_path: Path) -> None:
    """A burst of keys, as a fast typist or a busy app delivers them: the password typed right after
    Tab lands in the password field, never (readable) in the user-name field. Posted at once, as the
    terminal driver does, not pressed one by one with the app settling between them."""
    from textual import events

    app = make_app(tmp_path, start="credentials")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        app.screen.query_one("#user").focus()
        await pilot.pause()
        for key, char in [*((c, c) for c in "admin"), ("tab", "\t"), *((c, c) for c in "s3cret")]:
            app.post_message(events.Key(key, char))
        await pilot.pause(0.2)
        assert app.screen.query_one("#user").value == "admin"
        assert app.screen.query_one("#password").value == "s3cret"


async def test_preflight_puts_the_pull_secret_it_found_in_the_plan_from_its_handler(tmp_path: Path,
                                                                                  monkeypatch) -> None:
    """The checks run in a worker thread and change nothing; the Checked handler puts the file found in
    the plan (Posting's pattern: a thread never writes the wizard's state)."""
    from tui.screens.preflight import PreflightScreen, run_checks

    found = write_pull_secret(tmp_path / "found.json")
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(found))
    data = plan_dict(tmp_path)
    data["auth_file"] = ""
    state = WizardState(plan=plan_from_dict(data))
    assert not state.plan.auth_file
    machine = run_checks(state)
    assert machine.auth_file == str(found) and not state.plan.auth_file  # found, not yet applied
    app = MirrorWizardApp(state, auto_check=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, PreflightScreen)
        app.screen.post_message(PreflightScreen.Checked(machine))
        await pilot.pause()
        assert app.state.plan.auth_file == str(found)
        assert app.state.checks == machine.checks
