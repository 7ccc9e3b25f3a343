"""Issue 12: the wizard never misleads a first-time admin — safe keys, honest trust, a real ending.

Each test drives the app with the pilot as a newcomer would (keys, not method calls) and checks what
the screen says or what was written.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.support.pilot import settle
from tests.test_tui_snapshots import (  # noqa: F401
    fixed_state,
    with_ca,
    with_prepared,
    with_release,
    workdir,
)
from tui.app import MirrorWizardApp
from tui.screens.confirm import ConfirmScreen


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
        for _ in range(8):  # eight fast Ctrl+N: Review → Mirror (complete) → Done → Verify, then nothing
            await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.current_mode == "verify"
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


# -- 4. removable media has its own ending -------------------------------------------------------------

def media_app() -> MirrorWizardApp:
    state = fixed_state()
    state.release.mode = "to-dir"
    state.release.directory = "media"
    with_release(state)
    with_ca(state)
    with_prepared(state)
    state.progress.reset()
    state.progress.finish()
    return MirrorWizardApp(state, start="done", auto_check=False)


async def test_to_dir_mirror_step_never_says_mirror_complete(workdir: Path) -> None:  # noqa: F811
    app = media_app()
    app.state.visited = {"preflight", "credentials", "release", "samples", "ca", "review"}
    async with app.run_test(size=(80, 24)) as pilot:
        await app.goto("mirror")
        await pilot.pause(0.4)
        outcome = str(app.screen.query_one("#outcome").render())
        assert "removable media" in outcome and "mirror complete" not in outcome
        assert "removable media" in str(app.screen.query_one("#status").render())


async def test_to_dir_rows_name_the_image_inside_the_medium(workdir: Path) -> None:  # noqa: F811
    app = media_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.goto("mirror")
        await pilot.pause()
        screen = app.screen
        assert screen._short("oci:media:openshift/release:4.17.3-x86_64-cli") == "openshift/release:4.17.3-x86_64-cli"
        absolute = str(Path("media").resolve())
        assert screen._short(f"oci:{absolute}:ubi8/ruby-30:latest") == "ubi8/ruby-30:latest"


def test_eta_once_every_image_is_there_but_the_run_goes_on() -> None:
    from core.events import BlobDone, BlobStarted, ImageDone, PlanReady
    from core.progress import Progress
    from tests.test_tui_snapshots import FixedClock
    from tui.screens.mirror import eta_text

    clock = FixedClock()
    progress = Progress(clock=clock)
    progress.reset()
    progress.set_rows([("quay.io/a/b@sha256:" + "1" * 64, "oci:media:a/b:1", "a/b")])
    progress.feed(PlanReady(images=1, blobs=1, total_bytes=10))
    progress.feed(BlobStarted("sha256:" + "2" * 64, 10, "oci:media:a/b"))
    clock.now += 1
    progress.feed(BlobDone("sha256:" + "2" * 64, 10, "oci:media:a/b"))
    progress.feed(ImageDone("quay.io/a/b@sha256:" + "1" * 64, "oci:media:a/b:1", "sha256:" + "3" * 64))
    clock.now += 5  # the medium's bundle is being written
    text = eta_text(progress)
    assert "ETA 0s" not in text and "all images copied" in text


async def test_to_dir_done_says_where_the_images_are_and_what_to_do_there(workdir: Path) -> None:  # noqa: F811

    from tests.test_tui_done import install_oc

    log = install_oc(workdir)
    app = media_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        summary = str(app.screen.query_one("#done-summary").render())
        assert "on the removable media" in summary and "for the registry on the far side" in summary
        assert app.screen.query_one("#done-summary").size.width >= len(summary)  # one line, whole, at 80
        assert "in the mirror" not in summary.replace("in the mirror registry", "")
        assert app.screen.query_one("#docs").active == "tab-media"
        ending = app.screen.query_one("#doc-media").text
        # one far-side plan: the bundle's own (issue 26), with the bundle's steps
        assert "mirror-wizard --plan plan.yaml" in ending and "mirror-wizard run plan.yaml" in ending
        assert "from-dir.yaml" not in ending
        assert "--find-links ./wheelhouse mirror-wizard" in ending and "media verify ." in ending
        assert "bin/oc" in ending and "README.txt" in ending
        assert "pull-secret.json" in ending and "media" in ending
        app.screen.query_one("#apply").focus()
        await pilot.press("enter")
        await settle(pilot)
        assert "Apply waits" in str(app.screen.query_one("#status").render())
        assert "Upload them on the far side" in str(app.screen.query_one("#written").render())
        assert not list(log.iterdir())  # oc never asked
        await pilot.press("ctrl+o")
        await settle(pilot)
    assert not (workdir / "output" / "mirror-plan-from-dir.yaml").exists()  # no second far-side plan


# -- 7. Apply is explicit about what and where ------------------------------------------------------------

async def test_apply_shows_the_cluster_and_merges_an_existing_ca_configmap(workdir: Path) -> None:  # noqa: F811
    import json

    import yaml

    from tests.test_tui_done import done_app, install_oc
    from tui.screens.apply import ApplyScreen

    log = install_oc(workdir)
    cluster = workdir / "cluster"
    cluster.mkdir()
    # The cluster already trusts another registry through its own ConfigMap.
    (cluster / "image.config.openshift.io").mkdir()
    (cluster / "image.config.openshift.io" / "cluster.json").write_text(json.dumps(
        {"apiVersion": "config.openshift.io/v1", "kind": "Image", "metadata": {"name": "cluster"},
         "spec": {"additionalTrustedCA": {"name": "site-cas"}}}))
    (cluster / "configmap-site-cas.json").write_text(json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "site-cas", "namespace": "openshift-config"},
         "data": {"other.example.com..5000": "-----BEGIN CERTIFICATE-----\nother\n-----END CERTIFICATE-----\n"}}))
    app = done_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.screen.query_one("#apply").focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ApplyScreen)
        body = str(app.screen.query_one("#apply-body").render())
        assert "https://api.lab.example.com:6443" in body and "kube:admin" in body
        assert "ImageDigestMirrorSet/" in body and "reboots" in body
        assert "ConfigMap/site-cas" in body and "other keys are kept" in body
        assert "Config.samples.operator.openshift.io/cluster" in body
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, ApplyScreen)  # the results, scrollable at 80x24
        results = str(app.screen.query_one("#apply-body").render())
        assert results.count("✓") == 3
    stdin = [yaml.safe_load(p.read_text()) for p in sorted(log.glob("*.stdin")) if p.read_text().strip()]
    configmap = next(d for d in stdin if d["kind"] == "ConfigMap")
    assert configmap["metadata"]["name"] == "site-cas"
    assert set(configmap["data"]) == {"other.example.com..5000", "mirror.example.com..8443"}
    args = "\n".join(p.read_text() for p in log.glob("*.args"))
    assert "image.config.openshift.io/cluster" not in args  # already points at site-cas: not replaced


async def test_apply_refuses_a_user_who_may_not_change_the_cluster(workdir: Path, monkeypatch) -> None:  # noqa: F811
    from tests.test_tui_done import done_app, install_oc

    log = install_oc(workdir)
    monkeypatch.setenv("FAKE_OC_CAN", "no")
    monkeypatch.setenv("FAKE_OC_USER", "developer")
    app = done_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.screen.query_one("#apply").focus()
        await pilot.press("enter")
        await settle(pilot)
        status = str(app.screen.query_one("#status").render())
        assert "developer" in status and "cluster-admin" in status
    assert not list(log.glob("*.args"))


# -- 11. one mode per written file, the image.config patch as its own file, stable tabs ----------------

async def test_written_files_have_one_mode_each_and_the_patch_its_own_file(workdir: Path) -> None:  # noqa: F811
    import json

    from tests.test_tui_done import done_app

    app = done_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+o")
        await settle(pilot)
    out = workdir / "output"
    patch = json.loads((out / "image-config-patch.json").read_text())
    assert patch == {"spec": {"additionalTrustedCA": {"name": "registry-config"}}}
    modes = {p.name: p.stat().st_mode & 0o777 for p in out.iterdir()}
    assert modes.pop("registry-config.yaml") == 0o600  # holds the CA
    assert set(modes.values()) == {0o644}, modes
    assert (workdir / "mirror-plan.yaml").stat().st_mode & 0o777 == 0o644


async def test_done_shows_the_release_signatures_it_will_apply(workdir: Path) -> None:  # noqa: F811
    from core.signatures import SignatureReport, VerifiedSignature

    app = finished_app("done")
    prepared = app.state.prepared
    assert prepared is not None
    digest = "sha256:" + "ab" * 32
    prepared.signatures = [SignatureReport(digest, [VerifiedSignature(b"signed bytes", "verifier-public-key-redhat",
                                                                      "ABCD" * 10, "quay.io/x", "store")])]
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        tabs = app.screen.query_one("#docs")
        shown = [str(tab.label) for tab in tabs.query("ContentTab") if tab.display]
        assert "Signatures" in shown, shown
        assert shown.index("Signatures") == shown.index("CA") + 1
        # every change Apply makes has its document on screen: the summary's count matches the tabs' objects
        assert "5 changes for the cluster" in str(app.screen.query_one("#done-summary").render())


async def test_done_tabs_keep_their_order_when_the_ca_arrives_later(workdir: Path) -> None:  # noqa: F811
    import dataclasses

    from textual.widgets import TabbedContent

    from tests.test_tui_done import done_app

    app = done_app()
    ca = app.state.prepared.ca
    app.state.prepared = dataclasses.replace(app.state.prepared, ca=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        tabs = app.screen.query_one("#docs", TabbedContent)

        def shown() -> list[str]:
            return [t.id for t in tabs.query("ContentTab") if t.display]

        before = shown()
        assert "--content-tab-tab-ca" not in before
        app.state.prepared = dataclasses.replace(app.state.prepared, ca=ca)
        app.screen.show_documents()
        await pilot.pause()
        after = shown()
        assert after.index("--content-tab-tab-ca") < after.index("--content-tab-tab-samples") < \
            after.index("--content-tab-tab-runbook")


# -- 8. messages speak to the wizard user ---------------------------------------------------------------

async def test_a_wrong_password_typed_in_the_wizard_says_retype_it(tmp_path: Path, tls_registry, pki) -> None:
    from tests.support.constants import PASSWORD, USER
    from tests.test_tui_errors import app_for, type_into

    app = app_for(tmp_path, tls_registry.host, start="credentials", ca_file=str(pki.ca_file))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await type_into(pilot, "#user", USER)
        await type_into(pilot, "#password", "not-" + PASSWORD)
        await pilot.press("enter")
        await settle(pilot)
        error = str(app.screen.query_one("#password-error").render())
        assert "retype the password" in error and "auth file" not in error


async def test_a_host_that_does_not_resolve_says_so(tmp_path: Path) -> None:
    from tests.test_tui_errors import app_for, type_into

    app = app_for(tmp_path, "mirror.invalid:8443", start="credentials")  # .invalid never resolves (RFC 2606)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await type_into(pilot, "#user", "admin")
        await type_into(pilot, "#password", "secret")
        await pilot.press("enter")
        await settle(pilot)
        error = str(app.screen.query_one("#mirror-error").render())
        assert "mirror.invalid does not resolve" in error, error


async def test_testing_the_plans_registries_reports_a_refused_port_at_once(tmp_path: Path, monkeypatch) -> None:
    """A refused port on loopback is known in milliseconds: it is reported from one direct look, never
    after the engine's connection retries (which took seconds)."""
    import core.credentials
    from tests.test_tui_errors import app_for
    from tui.sandbox.registry import free_port

    host = f"127.0.0.1:{free_port()}"  # nothing listens there
    secret = tmp_path / "pull-secret.json"
    secret.write_text(json.dumps({"auths": {host: {"auth": base64.b64encode(b"admin:secret").decode()}}}))
    asked: list[str] = []
    real = core.credentials.check_logins

    async def recording(auth, registries, tls, **kwargs):  # type: ignore[no-untyped-def]
        asked.extend(registries or [])
        return await real(auth, registries, tls, **kwargs)

    monkeypatch.setattr(core.credentials, "check_logins", recording)
    app = app_for(tmp_path, host, start="credentials", auth_file=secret)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("#test-all").focus()
        await pilot.press("enter")
        await settle(pilot)
        results = {r.registry: r for r in app.state.logins}
        assert results[host].state == "unreachable"
        assert "connection refused" in results[host].message
        assert host not in asked  # no retries spent on a port that refuses


def test_engine_hints_lose_their_cli_flags() -> None:
    import re

    from core.errors import ErrorCode, TLSVerifyError
    from tui.wording import wizard_text

    error = TLSVerifyError("the TLS certificate of m:5000 is not trusted (self-signed)",
                           hint="pass its CA with --ca-file, or put it in /etc/containers/certs.d/HOST:PORT/ca.crt",
                           code=ErrorCode.TLS_UNTRUSTED)
    text = wizard_text(error)
    assert not re.search(r"(?<![\w-])--[a-z][a-z-]+", text) and "CA step" in text


# -- 9. discoverable help, copyable commands, visible focus -------------------------------------------

async def test_help_has_a_labelled_key_on_screen_at_80_columns(workdir: Path) -> None:  # noqa: F811
    app = finished_app("ca")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        button = app.screen.query_one("#help-button")
        assert "What this does" in str(button.label) and "F1" in str(button.label)
        assert button.region.right <= 80 and button.region.y == 22  # on the nav line, inside the screen
        await pilot.click("#help-button")
        await pilot.pause()
        assert app.screen.has_class("-help-open")
        keys = {b.binding.key: b.binding for b in app.screen.active_bindings.values()}
        assert keys["ctrl+y"].show  # the copy-commands key is in the footer


async def test_help_commands_wrap_only_at_spaces_with_a_backslash(workdir: Path) -> None:  # noqa: F811
    from textual.widgets import Static

    from tui.widgets.help import HelpPanel

    app = finished_app("ca")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f1")
        await pilot.pause()
        panel = app.screen.query_one(HelpPanel)
        code = app.screen.query_one("#help-commands", Static)
        lines = code.render().plain.splitlines() if hasattr(code.render(), "plain") else []
        assert code.size.height == len(lines)  # the terminal wraps nothing: every line is one of ours
        patch = next(c for c in panel._commands if "additionalTrustedCA" in c)
        shown = " ".join(line.strip().removeprefix("$ ").removesuffix("\\").strip() for line in lines)
        assert " ".join(patch.split()) in " ".join(shown.split())  # every word whole, in order
        assert any(line.rstrip().endswith("\\") for line in lines)


def test_a_command_that_already_continues_keeps_its_backslash_on_its_last_piece() -> None:
    from tui.widgets.help import wrap_command

    line = "    --from=quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64 \\"
    for width in (30, 40, 60):
        lines = wrap_command(line, width)
        assert all(part.strip() != "\\" for part in lines), lines  # never a backslash alone on a line
        assert lines[-1].endswith(" \\") and "".join(p.strip(" \\") for p in lines).startswith("--from=quay.io")


async def test_a_long_status_is_shown_whole_not_cut(workdir: Path) -> None:  # noqa: F811
    app = finished_app("credentials")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        text = ("login to 127.0.0.1:37679 works; saved to /tmp/mirror-wizard-demo-2103wipx/"
                "pull-secret-mirror.json")
        app.screen.set_status(text, "ok")
        await pilot.pause()
        status = app.screen.query_one("#status")
        assert status.size.height >= 2  # wrapped, and the bar grew to show it
        assert app.screen.query_one("#nav").size.height == status.size.height
        lines = [str(status.render_line(y).text).strip() for y in range(status.size.height)]
        assert "".join(lines).replace(" ", "").endswith("pull-secret-mirror.json")


async def test_help_opened_full_width_uses_the_whole_width(workdir: Path) -> None:  # noqa: F811
    from tui.widgets.help import HelpPanel

    app = finished_app("done")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("f1")
        await pilot.pause()
        # F1 swaps the form for the help: all 100 columns, not a 72-column strip that cuts paths
        assert app.screen.query_one(HelpPanel).size.width >= 96


async def test_an_unticked_checkbox_looks_unticked(workdir: Path) -> None:  # noqa: F811
    app = finished_app("credentials")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        box = app.screen.query_one("#remember")
        assert box.value is False
        assert box.render().plain.startswith("[ ]")
        box.value = True
        await pilot.pause()
        assert box.render().plain.startswith("[✓]")


async def test_focus_is_visible_on_inputs_buttons_and_tables(workdir: Path) -> None:  # noqa: F811
    app = finished_app("samples")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        for selector in ("#path", "#streams"):
            widget = app.screen.query_one(selector)
            widget.focus()
            await pilot.pause()
            assert widget.styles.border_left[0] not in ("", "none"), selector
        button = app.screen.query_one("#load")
        button.focus()
        await pilot.pause()
        assert button.styles.text_style.reverse


async def test_the_step_bar_names_the_steps_ahead_at_80_columns(workdir: Path) -> None:  # noqa: F811
    from tui.widgets.steps import StepIndicator

    app = finished_app("preflight")
    app.state.visited = set()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = app.screen.query_one(StepIndicator).render().plain
        # what comes next is named (numbers only for the far end), never a row of bare numbers
        assert "● 1 Preflight › Credentials › Release" in text and len(text) <= 78
        await app.goto("samples")
        await pilot.pause()
        text = app.screen.query_one(StepIndicator).render().plain
        assert "● 4 Image streams › CA › Review › Mirror › Done › Verify" in text


async def test_every_step_opens_at_its_top_at_80x24(workdir: Path) -> None:  # noqa: F811
    app = finished_app("preflight")
    async with app.run_test(size=(80, 24)) as pilot:
        for step in ("credentials", "release", "samples", "ca", "review"):
            await app.goto(step)
            await pilot.pause(0.2)
            assert app.screen.query_one("#body").scroll_y == 0, step


# -- 10. the seed procedure, all of it ---------------------------------------------------------------

async def test_samples_step_offers_removed_and_how_to_get_the_stream_files(workdir: Path) -> None:  # noqa: F811
    from tui.widgets.help import HelpPanel

    app = finished_app("samples")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        panel = app.screen.query_one(HelpPanel)
        prose = app.screen.help_prose()
        assert "Removed" in prose and "templates" in prose and "then" in prose and "Managed" in prose
        assert "GitHub" in prose and "PyPI" in prose
        commands = "\n".join(panel._commands)
        assert "oc get is -n openshift -o json >" in commands
        assert "oc get configmap imagestreamtag-to-image -n openshift-cluster-samples-operator" in commands
        assert '"managementState":"Removed"' in commands
        assert "Removed" in str(app.screen.query_one("#removed-note").render())


async def test_the_clusters_own_registry_is_refused_as_the_mirror(tmp_path: Path) -> None:
    from tests.test_tui_errors import app_for, type_into

    app = app_for(tmp_path, "mirror.example.com:8443", start="credentials")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await type_into(pilot, "#mirror", "image-registry.openshift-image-registry.svc:5000")
        await pilot.pause()
        assert "cluster's own image registry" in str(app.screen.query_one("#mirror-error").render())
        assert "every node" in app.screen.help_prose()


def test_preflight_says_when_oc_is_older_than_the_release(tmp_path: Path, monkeypatch) -> None:
    import sys

    from tui.screens.preflight import check_oc

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    oc = bin_dir / "oc"
    oc.write_text(f"#!{sys.executable}\nprint('Client Version: 4.15.2')\n")
    oc.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    old = check_oc("4.17.3")
    assert old.state == "warn" and "older than the release (4.17)" in old.detail
    assert check_oc("stable-4.15").state == "ok"


async def test_done_offers_openshift_install_from_the_mirrored_release(workdir: Path) -> None:  # noqa: F811
    app = finished_app("done")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        commands = "\n".join(app.screen.help_commands())
        assert "oc adm release extract" in commands and "--command=openshift-install" in commands
        assert "mirror.example.com:8443/ocp4/openshift4:4.17.3-x86_64" in commands


# -- 11. smaller -----------------------------------------------------------------------------------------

def test_a_reopened_plan_never_proposes_mirror_mirror() -> None:
    from tui.screens.credentials import merged_name

    assert merged_name("/x/pull-secret.json") == "/x/pull-secret-mirror.json"
    assert merged_name("/x/pull-secret-mirror.json") == "/x/pull-secret-mirror.json"


async def test_preflight_names_the_auth_file_in_use(workdir: Path) -> None:  # noqa: F811
    import shutil as sh

    app = finished_app("preflight")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        sh.copyfile("pull-secret.json", "pull-secret-mirror.json")
        app.state.plan.auth_file = "pull-secret-mirror.json"  # what the Credentials step does on Add login
        await app.goto("credentials")
        await pilot.pause()
        await app.goto("preflight")
        await pilot.pause()
        from tui.widgets.checks import CheckList

        checks = {c.name: c for c in app.screen.query_one(CheckList).checks}
        assert "pull-secret-mirror.json" in checks["pull secret"].detail


async def test_the_runbook_renders_as_markdown_with_code_lines_unwrapped(workdir: Path) -> None:  # noqa: F811
    from textual.widgets import Markdown
    from textual.widgets._markdown import MarkdownFence

    app = finished_app("done")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.screen.query_one("#docs").active = "tab-runbook"
        await pilot.pause(0.3)
        markdown = app.screen.query_one("#doc-runbook", Markdown)
        fences = list(markdown.query(MarkdownFence))
        assert fences
        long_lines = 0
        for fence in fences:
            lines = fence.code.rstrip("\n").splitlines()
            long_lines += sum(len(line) > 76 for line in lines)
            assert fence.size.height == len(lines) + 2  # padding above and below, no wrapped line
        assert long_lines  # the check means something: some commands are wider than the screen


# -- 5. numbers are never stale or contradictory -------------------------------------------------------

class GatedCopy:
    """Stands in for the engine's copy inside the App's real mirror worker: the plan's rows and some
    bytes, then it waits until the test lets it end (so a test can act while it runs)."""

    def __init__(self, app: MirrorWizardApp) -> None:
        import asyncio

        self.app = app
        self.gate = asyncio.Event()
        self.runs = 0
        app._run_mirror = self.run  # type: ignore[method-assign]

    async def run(self, cancel) -> None:  # type: ignore[no-untyped-def]
        from core.events import BlobProgress, BlobStarted, ImageDone, PlanReady

        self.runs += 1
        progress = self.app.state.progress
        progress.set_rows([("quay.io/a/b@sha256:" + "1" * 64, "mirror.example.com:8443/a/b:1", "a/b")])
        progress.feed(PlanReady(images=1, blobs=1, total_bytes=1000))
        progress.feed(BlobStarted("sha256:" + "2" * 64, 1000, "mirror.example.com:8443/a/b"))
        progress.feed(BlobProgress("sha256:" + "2" * 64, 400))
        await self.gate.wait()
        progress.feed(ImageDone("quay.io/a/b@sha256:" + "1" * 64, "mirror.example.com:8443/a/b:1", "sha256:" + "3" * 64))
        progress.finish()


def running_app(start: str = "review") -> tuple[MirrorWizardApp, GatedCopy]:
    state = fixed_state()
    with_release(state)
    with_ca(state)
    state.visited = {"preflight", "credentials", "release", "samples", "ca"}
    app = MirrorWizardApp(state, start=start, auto_check=False)
    return app, GatedCopy(app)


def text_of(app: MirrorWizardApp, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


async def test_after_a_mirror_release_and_review_show_what_was_moved(workdir: Path) -> None:  # noqa: F811
    app = finished_app("release")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        facts = app.screen.query_one("#release-info")
        shown = " ".join(str(w.render()) for w in facts.query("*"))
        # The Release step never repeats the run's record: without the automatic checks (no network here)
        # the measure from before the run is withdrawn, with how to look again.
        assert "to move" not in shown and "looks again" in shown, shown
        for _ in range(3):
            await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.current_mode == "review"
        summary = " ".join(str(w.render()) for w in app.screen.query_one("#summary").query("*"))
        assert "to move" not in summary and "all in the mirror" in summary


async def test_the_outcome_and_the_status_line_never_disagree(workdir: Path) -> None:  # noqa: F811
    app, copy = running_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.click("#next")  # Start mirror
        await pilot.pause()
        assert app.current_mode == "mirror" and app.mirror_running
        await pilot.press("ctrl+x")  # Cancel? … yes
        await pilot.press("y")
        await settle(pilot)
        assert app.state.progress.cancelled
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert "has not completed: press Resume" in text_of(app, "#status")
        copy.gate.set()
        await pilot.press("ctrl+r")  # Resume: this time it runs to the end
        await settle(pilot)
        await pilot.pause(0.3)
        assert "mirror complete" in text_of(app, "#outcome")
        assert "has not completed" not in text_of(app, "#status")
        assert "mirror complete" in text_of(app, "#status")


async def test_copy_questions_close_when_the_copy_ends(workdir: Path) -> None:  # noqa: F811
    app, copy = running_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.click("#next")
        await pilot.pause()
        await pilot.press("ctrl+x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and "Cancel the mirror?" in app.screen.question
        copy.gate.set()
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert app.state.progress.finished and not app.state.progress.cancelled
        # and "Stop and quit?" too
        copy.gate.clear()
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.mirror_running
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and "Stop it and quit?" in app.screen.question
        copy.gate.set()
        await settle(pilot)
        # The copy ended: "Stop it and quit?" is void, but the admin asked to quit — asked again, about
        # what is left (a plan not applied), without pressing Ctrl+Q a second time.
        assert isinstance(app.screen, ConfirmScreen) and app.screen.question == "Quit the wizard?"
        assert app.is_running and app.return_code is None
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen) and app.is_running


async def test_review_button_says_what_it_will_do(workdir: Path) -> None:  # noqa: F811
    app = finished_app("review")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert str(app.screen.query_one("#next").label) == "Mirror ▶"  # complete: never "Start" again
        await pilot.click("#next")
        await settle(pilot)
        assert app.current_mode == "mirror" and not app.mirror_started  # went there; copied nothing
    app, copy = running_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert str(app.screen.query_one("#next").label) == "Start mirror ▶"
        await pilot.click("#next")
        await pilot.pause()
        await pilot.press("ctrl+x", "y")
        await settle(pilot)
        assert app.state.progress.cancelled and copy.runs == 1
        await pilot.press("escape")
        await pilot.pause()
        assert app.current_mode == "review"
        assert str(app.screen.query_one("#next").label) == "Resume mirror ▶"
        copy.gate.set()
        await pilot.click("#next")
        await settle(pilot)
        assert app.current_mode == "mirror" and copy.runs == 2 and app.state.progress.finished


async def test_esc_during_a_copy_shows_it_on_other_steps_and_edits_are_marked(workdir: Path) -> None:  # noqa: F811
    from tui.widgets.steps import StepIndicator

    app, copy = running_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.click("#next")
        await pilot.pause()
        await pilot.press("escape")  # back to Review: the copy goes on
        await pilot.pause(0.7)
        assert app.current_mode == "review" and app.mirror_running
        assert app.screen.query_one(StepIndicator).mirror_sign.startswith("⇣")
        summary = " ".join(str(w.render()) for w in app.screen.query_one("#summary").query("*"))
        assert "a mirror is copying now" in summary
        assert str(app.screen.query_one("#next").label).startswith("Mirror")
        # Change the plan while it copies: Release's repository.
        for _ in range(3):
            await pilot.press("escape")
        await pilot.pause()
        assert app.current_mode == "release"
        app.screen.query_one("#target").focus()
        await pilot.press("end", "x")
        await pilot.pause(0.7)
        assert app.state.mirror_out_of_date()
        assert app.screen.query_one(StepIndicator).mirror_sign.endswith("!")
        for _ in range(3):
            await pilot.press("ctrl+n")
        await pilot.pause(0.7)
        assert app.current_mode == "review"
        summary = " ".join(str(w.render()) for w in app.screen.query_one("#summary").query("*"))
        assert "as it was when it started" in summary
        copy.gate.set()
        await settle(pilot)
        await pilot.pause(0.7)
        assert app.screen.query_one(StepIndicator).mirror_sign == ""
        summary = " ".join(str(w.render()) for w in app.screen.query_one("#summary").query("*"))
        assert "the plan changed after the last mirror" in summary


async def test_next_is_refused_past_a_release_that_could_not_be_read(workdir: Path, monkeypatch) -> None:  # noqa: F811
    import core.release
    from core.errors import RegistryUnreachable

    async def unreadable(session, source):  # type: ignore[no-untyped-def]
        raise RegistryUnreachable("quay.io: connection failed", registry="quay.io")

    monkeypatch.setattr(core.release, "load_release", unreadable)
    state = fixed_state()
    state.visited = {"preflight", "credentials"}
    app = MirrorWizardApp(state, start="release", auto_check=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.click("#inspect")
        await settle(pilot)
        assert app.state.release_error
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.current_mode == "release"
        assert "could not be read" in text_of(app, "#status")


# -- 6. honest progress --------------------------------------------------------------------------------

async def test_mirror_progress_counts_only_bytes_moved_and_never_sits_on_finishing(workdir: Path) -> None:  # noqa: F811
    from core.events import BlobDone, BlobProgress, BlobSkipped, BlobStarted, ImageDone, PlanReady
    from core.progress import RowKind
    from tests.test_tui_snapshots import FixedClock

    state = fixed_state()
    with_release(state)
    with_ca(state)
    with_prepared(state)
    clock = FixedClock()
    app = MirrorWizardApp(state, start="mirror", auto_check=False, clock=clock)
    progress = state.progress
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        progress.reset()
        rows = [("quay.io/r@sha256:" + "1" * 64, "mirror.example.com:8443/ocp4/openshift4:4.17.3-x86_64-cli",
                 "release · cli"),
                ("registry.redhat.io/ubi8/ruby-30:latest", "mirror.example.com:8443/ubi8/ruby-30:latest",
                 "ubi8/ruby-30:latest")]
        from core.progress import RowSpec
        progress.set_rows([RowSpec(*rows[0], RowKind.RELEASE), RowSpec(*rows[1], RowKind.SAMPLES)])
        progress.feed(PlanReady(images=2, blobs=2, total_bytes=2000))
        progress.feed(BlobSkipped("sha256:" + "a" * 64, 1000, "mirror.example.com:8443/ocp4/openshift4"))
        clock.now += 2
        screen.redraw()
        # what the mirror had is shown apart; nothing moved yet is not "0 B/s"
        assert text_of(app, "#bytes-text") == "0 B/1000 B moved · 1000 B there"
        assert "0 B/s" not in text_of(app, "#rate")
        # 1000 bytes move in 4 s; the first image lands as soon as it is there
        progress.feed(BlobStarted("sha256:" + "b" * 64, 1000, "mirror.example.com:8443/ubi8/ruby-30"))
        for _ in range(4):
            clock.now += 1
            progress.feed(BlobProgress("sha256:" + "b" * 64, 250))
        progress.feed(BlobDone("sha256:" + "b" * 64, 1000, "mirror.example.com:8443/ubi8/ruby-30"))
        progress.feed(ImageDone(rows[1][0], rows[1][1], "sha256:" + "c" * 64))
        clock.now += 10  # manifests of the last image take a while: no bytes are left, one image is
        screen.redraw()
        assert text_of(app, "#images-text").startswith("1 of 2")
        eta = text_of(app, "#eta")
        assert "finishing" not in eta and "1 image to write" in eta
        progress.feed(ImageDone(rows[0][0], rows[0][1], "sha256:" + "d" * 64))
        progress.finish()
        screen.redraw()
        # bytes moved over the time spent moving them: 1000 B in 4 s, not over the 16 s the run took
        assert text_of(app, "#rate") == "250 B/s"
        assert "took 16s" in text_of(app, "#eta")
        # the samples image is a row like the release component
        table = screen.query_one("#images")
        assert table.row_count == 2
        labels = [str(table.get_cell(key, "image")) for key in progress.rows]
        assert labels == ["release · cli", "ubi8/ruby-30:latest"]
