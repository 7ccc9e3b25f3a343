"""End to end: the wizard, driven by key presses, mirrors the demo release and a chosen image stream
from one real registry to another; skopeo checks the digests, and the written YAML is read back."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support import skopeo
from tests.support.pilot import settle
from tui.app import MirrorWizardApp
from tui.screens.samples import StreamTable
from tui.state import WizardState

pytestmark = pytest.mark.skipif(shutil.which("docker-registry") is None and not Path("/usr/bin/docker-registry").exists(),
                                reason="docker-registry is not installed")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    from tui.sandbox.demo import create_sandbox
    from tui.sandbox.plan import write_demo_plan

    sb = create_sandbox(tmp_path_factory.mktemp("wizard-sandbox"), layer_size=64 * 1024)
    try:
        sb.plan_path = write_demo_plan(sb)
        yield sb
    finally:
        sb.stop()


async def tab_to(pilot, selector: str, limit: int = 40) -> None:  # type: ignore[no-untyped-def]
    """Press Tab until the widget has focus, as an admin would."""
    target = pilot.app.screen.query_one(selector)
    for _ in range(limit):
        if pilot.app.focused is target:
            return
        await pilot.press("tab")
    raise AssertionError(f"Tab never reached {selector} (focus is on {pilot.app.focused})")


async def next_step(pilot, expected: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("ctrl+n")
    await settle(pilot)
    assert pilot.app.current_mode == expected, pilot.app.screen.query_one("#status").render()


async def test_wizard_mirrors_the_demo_by_key_presses(sandbox, tmp_path: Path) -> None:
    password = (sandbox.workdir / "mirror-password.txt").read_text().strip()
    state = WizardState.from_path(str(sandbox.plan_path))
    state.plan.output_dir = str(tmp_path / "output")
    state.plan_path = tmp_path / "plan.yaml"
    app = MirrorWizardApp(state)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.current_mode == "preflight"
        await next_step(pilot, "credentials")

        # The mirror's login: user and password typed, Enter adds it and tests it.
        await tab_to(pilot, "#user")
        await pilot.press(*"admin")
        await pilot.press("tab", *password, "enter")
        await settle(pilot)
        mirror = sandbox.mirror.host
        results = {r.registry: r for r in state.logins}
        assert results[mirror].ok, results[mirror].message
        merged = Path(state.plan.auth_file)
        assert merged.name == "pull-secret-mirror.json" and mirror in merged.read_text()
        assert password not in merged.read_text()  # base64 inside, never the plain text
        await next_step(pilot, "release")

        assert state.release_info is not None and state.release_info.version == "4.17.3"
        components = len(state.release_info.components)
        await next_step(pilot, "samples")

        # Sizes: a dry run over the sources (the mirror is not asked).
        await tab_to(pilot, "#sizes")
        await pilot.press("enter")
        await settle(pilot)
        assert set(state.stream_sizes) == {s.name for s in state.streams}
        assert all(size > 0 for size in state.stream_sizes.values())

        # Only ruby: none, then filter and select what is shown.
        await tab_to(pilot, "#streams")
        await pilot.press("n")
        await tab_to(pilot, "#filter")
        await pilot.press(*"ruby", "enter")
        assert isinstance(app.focused, StreamTable)
        await pilot.press("a")
        screen = app.screen
        assert screen.selected() == {"ruby"}
        await next_step(pilot, "ca")

        assert state.ca_check is not None and state.ca_check.ok, state.ca_check
        await next_step(pilot, "review")
        await tab_to(pilot, "#next")  # the "Start mirror" button starts the copy (Ctrl+N never does)
        await pilot.press("enter")
        await settle(pilot)
        assert app.current_mode == "mirror"
        await app.workers.wait_for_complete()
        await pilot.pause(0.5)
        progress = state.progress
        assert progress.finished, (progress.error, list(progress.log)[-5:])
        ruby_images = len([s for s in state.streams if s.name == "ruby"][0].pull_specs)
        assert progress.total_images == components + 1 + ruby_images
        assert progress.images_failed == 0
        await next_step(pilot, "done")

        await tab_to(pilot, "#out-dir")
        await pilot.press("enter")  # writes every file and the runbook
        await settle(pilot)

    # skopeo, not our client, reads the mirror back: same digests as the source.
    auth, certs = state.plan.auth_file, sandbox.ca_file.parent
    info = state.release_info
    target = state.release_target()
    payload = skopeo.digest(f"{target}:4.17.3-x86_64", authfile=auth, cert_dir=certs)
    assert payload == info.digest
    for name, pull_spec in list(info.components.items())[:4]:
        digest = pull_spec.split("@", 1)[1]
        assert skopeo.digest(f"{target}@{digest}", authfile=auth, cert_dir=certs) == digest, name
    source_host = sandbox.source.host
    for spec in [s for s in state.streams if s.name == "ruby"][0].pull_specs[:2]:
        path = spec.split("/", 1)[1]
        source_path = f"{source_host}/{'access' if spec.startswith('registry.access') else 'redhat'}/{path}"
        assert skopeo.digest(f"{sandbox.mirror.host}/{path}", authfile=auth, cert_dir=certs) == \
            skopeo.digest(source_path, cert_dir=certs)

    # The written YAML: the samples Config skips every stream but ruby; the mirror set points at the mirror.
    out = tmp_path / "output"
    written = {p.name for p in out.iterdir()}
    assert "runbook.md" in written and "samples-operator-config.yaml" in written
    config = yaml.safe_load((out / "samples-operator-config.yaml").read_text())
    assert config["spec"]["samplesRegistry"] == sandbox.mirror.host
    assert "ruby" not in config["spec"]["skippedImagestreams"]
    assert len(config["spec"]["skippedImagestreams"]) == len(state.streams) - 1
    mirror_sets = [yaml.safe_load(p.read_text()) for p in out.glob("*.yaml")]
    idms = [d for d in mirror_sets if isinstance(d, dict) and d.get("kind") == "ImageDigestMirrorSet"]
    assert idms and any(target in m for e in idms[0]["spec"]["imageDigestMirrors"] for m in e["mirrors"])
    ca_map = [d for d in mirror_sets if isinstance(d, dict) and d.get("kind") == "ConfigMap"]
    assert ca_map and sandbox.mirror.host.replace(":", "..") in ca_map[0]["data"]
    runbook = (out / "runbook.md").read_text()
    assert password not in runbook and sandbox.mirror.host in runbook
    assert (tmp_path / "plan.yaml").exists()
    # The sandbox release is signed (Sequoia, at sandbox start): the signature ConfigMap the cluster
    # reads is written, holds the signature byte for byte, and the runbook carries it.
    from core.signatures import signature_file_name

    signed = json.loads((out / signature_file_name(info.digest)).read_bytes())
    assert signed["metadata"]["name"] == info.digest.replace(":", "-")
    store_copy = sandbox.signatures_dir / info.digest.replace(":", "=") / "signature-1"
    assert [base64.b64decode(v) for v in signed["binaryData"].values()] == [store_copy.read_bytes()]
    assert f"name: {info.digest.replace(':', '-')}" in runbook


async def test_cancel_then_resume_copies_only_what_is_missing(sandbox, tmp_path: Path) -> None:
    """Cancelled after the first image lands; Resume finishes without moving it again; a third run moves nothing."""
    from core.authfile import encode_auth
    from core.events import ImageDone

    password = (sandbox.workdir / "mirror-password.txt").read_text().strip()
    state = WizardState.from_path(str(sandbox.plan_path))
    state.release.target = f"{sandbox.mirror.host}/resume-test/openshift4"
    state.plan.samples = None  # the release only: quicker
    auth_path = tmp_path / "auth.json"
    auth_path.write_text(json.dumps({"auths": {sandbox.mirror.host: {"auth": encode_auth("admin", password)}}}))
    state.plan.auth_file = str(auth_path)
    state.plan_path = tmp_path / "plan.yaml"  # the run saves its plan: not over the sandbox's
    app = MirrorWizardApp(state, start="mirror", auto_check=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        progress = state.progress
        original_feed = progress.feed

        def feed(event) -> None:  # type: ignore[no-untyped-def]
            original_feed(event)
            if isinstance(event, ImageDone) and app.mirror_cancel is not None:
                app.mirror_cancel.set()  # what "Cancel the mirror" in the confirmation does

        progress.feed = feed  # type: ignore[method-assign]
        start = app.screen.query_one("#start")
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert progress.cancelled and not progress.finished
        landed = {key for key, row in progress.rows.items() if row.state in ("copied", "present")}
        assert landed

        progress.feed = original_feed  # type: ignore[method-assign]
        assert str(start.label) == "Resume"
        await pilot.press("ctrl+r")  # Start/Resume
        await settle(pilot)
        assert progress.finished, progress.error
        assert {key for key, row in progress.rows.items() if row.state == "present"} >= landed
        assert progress.bytes_moved < progress.total_bytes

        assert str(start.label) == "Run again"
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert progress.finished and progress.bytes_moved == 0
        assert progress.images_present == progress.total_images


async def test_an_error_while_a_blob_moves_is_an_error_not_the_admins_cancel(sandbox, tmp_path: Path) -> None:
    """Nobody pressed Cancel: an unexpected error in the middle of a layer's transfer (here the
    progress view's own, as scripts/screenshots once had) ends the Mirror step as an error naming it,
    never as "cancelled" (which tells the admin they stopped it)."""
    from core.authfile import encode_auth
    from core.events import BlobProgress

    password = (sandbox.workdir / "mirror-password.txt").read_text().strip()
    state = WizardState.from_path(str(sandbox.plan_path))
    state.release.target = f"{sandbox.mirror.host}/sink-error-test/openshift4"
    state.plan.samples = None
    auth_path = tmp_path / "auth.json"
    auth_path.write_text(json.dumps({"auths": {sandbox.mirror.host: {"auth": encode_auth("admin", password)}}}))
    state.plan.auth_file = str(auth_path)
    state.plan_path = tmp_path / "plan.yaml"
    app = MirrorWizardApp(state, start="mirror", auto_check=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        progress = state.progress
        original_feed = progress.feed

        def feed(event) -> None:  # type: ignore[no-untyped-def]
            original_feed(event)
            if isinstance(event, BlobProgress):
                raise AttributeError("'Progress' object has no attribute 'moved'")

        progress.feed = feed  # type: ignore[method-assign]
        await pilot.press("ctrl+r")
        await settle(pilot)
        progress.feed = original_feed  # type: ignore[method-assign]
        assert not progress.cancelled and not progress.finished
        assert "no attribute 'moved'" in progress.error
        assert not any("cancelled" in line for line in progress.log)


async def test_cancel_with_a_silent_mirror_is_prompt_then_resume_finishes(sandbox, tmp_path: Path) -> None:
    """The mirror registry freezes (SIGSTOP) mid-copy: Cancel through the confirmation ends the run within
    seconds as "cancelled" (not after a read timeout, not as a failure); Resume then finishes, and skopeo
    reads the payload back."""
    import os
    import signal
    import time

    from core.authfile import encode_auth
    from core.events import BlobDone
    from tui.screens.confirm import ConfirmScreen

    password = (sandbox.workdir / "mirror-password.txt").read_text().strip()
    state = WizardState.from_path(str(sandbox.plan_path))
    state.release.target = f"{sandbox.mirror.host}/cancel-test/openshift4"
    state.plan.samples = None
    auth_path = tmp_path / "auth.json"
    auth_path.write_text(json.dumps({"auths": {sandbox.mirror.host: {"auth": encode_auth("admin", password)}}}))
    state.plan.auth_file = str(auth_path)
    state.plan_path = tmp_path / "plan.yaml"
    app = MirrorWizardApp(state, start="mirror", auto_check=False)
    pid = sandbox.mirror.process.pid
    frozen = False
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            progress = state.progress
            original_feed = progress.feed

            def feed(event) -> None:  # type: ignore[no-untyped-def]
                nonlocal frozen
                original_feed(event)
                # The first finished layer, not image: images finish together at the end, by which
                # time the engine may have sent everything and the freeze would come too late.
                if isinstance(event, BlobDone) and not frozen:
                    os.kill(pid, signal.SIGSTOP)  # the mirror stops answering, mid-copy
                    frozen = True

            progress.feed = feed  # type: ignore[method-assign]
            await pilot.press("ctrl+r")
            for _ in range(200):
                if frozen:
                    break
                await pilot.pause(0.05)
            assert frozen and progress.running
            await pilot.pause(0.5)  # requests now hang on the frozen registry
            app.screen.query_one("#cancel").focus()
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen)
            started = time.monotonic()
            await pilot.press("y")
            while progress.running and time.monotonic() - started < 10:
                await pilot.pause(0.05)
            took = time.monotonic() - started
            assert not progress.running and took < 3, took
            assert progress.cancelled and not progress.error
            await pilot.pause(0.3)
            assert "cancelled — everything copied so far is kept" in str(app.screen.query_one("#outcome").render())
            assert str(app.screen.query_one("#start").label) == "Resume"

            os.kill(pid, signal.SIGCONT)
            frozen = False
            progress.feed = original_feed  # type: ignore[method-assign]
            await pilot.press("ctrl+r")  # Resume
            await settle(pilot)
            assert progress.finished, progress.error
            assert progress.bytes_moved < progress.total_bytes  # what landed before the cancel stays
    finally:
        if frozen:
            os.kill(pid, signal.SIGCONT)
    certs = sandbox.ca_file.parent
    info = state.prepared.release
    payload = skopeo.digest(f"{state.release.target}:4.17.3-x86_64", authfile=auth_path, cert_dir=certs)
    assert payload == info.digest
    for _, pull_spec in list(info.components.items())[:3]:
        digest = pull_spec.split("@", 1)[1]
        assert skopeo.digest(f"{state.release.target}@{digest}", authfile=auth_path, cert_dir=certs) == digest


async def test_test_registries_follows_the_plan_and_its_mirror_set(sandbox, tmp_path: Path) -> None:
    """The sandbox's pull secret holds placeholders for the real hosts; the plan reads them through its
    mirror set, so those are tested there, and entries the plan never uses are not dialled at all."""
    from core.authfile import encode_auth

    password = (sandbox.workdir / "mirror-password.txt").read_text().strip()
    state = WizardState.from_path(str(sandbox.plan_path))
    data = json.loads(sandbox.pull_secret.read_text())
    data["auths"][sandbox.mirror.host] = {"auth": encode_auth("admin", password)}
    secret = tmp_path / "pull-secret.json"
    secret.write_text(json.dumps(data))
    state.plan.auth_file = str(secret)
    app = MirrorWizardApp(state, start="credentials", auto_check=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await tab_to(pilot, "#test-all")
        await pilot.press("enter")
        await settle(pilot)
    results = {r.registry: r for r in state.logins}
    for host in (sandbox.mirror.host, "quay.io", "registry.redhat.io"):
        assert results[host].ok, (host, results[host].message)
    assert "mirror set" in results["quay.io"].message and sandbox.source.host in results["quay.io"].message
    assert results["cloud.openshift.com"].state == "unused"
    assert results["registry.connect.redhat.com"].state == "unused"


async def test_the_demo_offers_an_update_path_and_the_releases_samples(sandbox, tmp_path: Path) -> None:
    """The sandbox's graph file and releases are enough to practise an update: 4.17.1 → 4.17.3 goes
    through 4.17.2 (the direct jump is a known risk), and the samples come from the release."""
    state = WizardState.from_path(str(sandbox.plan_path))
    state.plan.output_dir = str(tmp_path / "output")
    app = MirrorWizardApp(state, start="release", auto_check=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        screen.query_one("#kind").value = "update"
        await pilot.pause()
        assert screen.query_one("#graph-file").value == str(sandbox.graph_file)
        screen.query_one("#find").press()
        await settle(pilot)
        assert state.versions == ["4.17.3", "4.17.2", "4.17.1"]
        screen.query_one("#from-version").value = "4.17.1"
        await settle(pilot)
        assert [i.version for i in state.current_path()] == ["4.17.1", "4.17.2", "4.17.3"]
        rows = dict(screen.query_one("#path-info").rows)
        assert "saved by sharing" in rows["→ 4.17.2"] and "3 releases in one copy" in rows["In all"]
        await next_step(pilot, "samples")
        assert state.samples.source == "release"
        assert {s.name for s in state.streams} >= {"ruby", "python", "nodejs"}
        assert "from release 4.17.3" in str(app.screen.query_one("#streams-from").render())
