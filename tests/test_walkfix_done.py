"""Walk fixes for the removable-media ending (the first-time admin's walk through the demo): the bundle's
README.txt commands work exactly as written, name the bin/ paths the medium holds, and Done's Removable
media tab says the same text; Done lists each file it wrote once."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from core.bundle_write import FarSide, far_side_steps
from core.plan import MirrorRegistry, Plan, RegistryTrust, ReleaseChoice, ReleaseMode, save_plan
from core.run import Prepared, write_outputs
from core.signatures import SignatureReport, VerifiedSignature
from tests.support import skopeo
from tests.support.gpg import needs_gpg
from tests.support.repos import unique_repo
from tests.test_tui_snapshots import fixed_state, workdir  # noqa: F401 - fixture
from tests.test_update_path_mirror import (  # noqa: F401 - module fixtures reused
    VERSIONS,
    _cli,
    key,
    key_file,
    path_source,
    store,
)

VENV_TOOL = "~/mirror-wizard-venv/bin/mirror-wizard"


def _readme_commands(readme: str) -> list[list[str]]:
    """Every mirror-wizard command README.txt prints (its three-space indented lines), as argv."""
    out = []
    for line in readme.splitlines():
        text = line.strip()
        if text.startswith(VENV_TOOL + " "):
            out.append(shlex.split(text, comments=True)[1:])
    return out


@needs_gpg
def test_readme_upload_commands_work_as_written(path_source, tls_registry, auth_file, pki, tmp_path,  # noqa: F811
                                                capsys, key_file, monkeypatch) -> None:  # noqa: F811
    """W4: README.txt's `release mirror` and `run` commands, parsed out of it and run as written (AUTH_FILE
    the mirror's login), upload every release of the path into a TLS registry whose CA only the medium
    carries; W8: it names the bin/<version>/ folders the medium has."""
    source_host, _, built, graph_file = path_source
    target = f"{tls_registry.host}/{unique_repo('walk-readme')}"
    media = tmp_path / "media"
    # As the wizard's removable-media mode writes it: the plan names the mirror's CA (it travels on the medium).
    plan = Plan(auth_file=str(auth_file), mirror=MirrorRegistry(registry=tls_registry.host, ca_file=str(pki.ca_file)),
                registries=[RegistryTrust(source_host, insecure=True)],
                release=ReleaseChoice(target=target, channel="candidate-4.21", from_version="4.21.1",
                                      version="4.21.3", graph_file=str(graph_file), keys=[key_file],
                                      mode=ReleaseMode.TO_DIR, directory=str(media)),
                output_dir=str(tmp_path / "near-out"))
    save_plan(plan, tmp_path / "near.yaml")
    code, out, err = _cli(["run", str(tmp_path / "near.yaml"), "--no-wheelhouse"], capsys)
    assert code == 0, out + err
    readme = (media / "README.txt").read_text()
    commands = _readme_commands(readme)
    kinds = [c[0] if c[0] != "media" else " ".join(c[:2]) for c in commands]
    assert kinds[:1] == ["media verify"] and "release" in kinds and "run" in kinds, readme
    flat = " ".join(readme.split())
    assert "AUTH_FILE is a file holding the mirror registry's login" in flat and "credentials add" in flat
    assert "--ca-file config/mirror-ca.pem" in flat
    # W8: the paths named exist on the medium
    assert f"bin/{VERSIONS[0]}/openshift-install" in readme and f"bin/{VERSIONS[-1]}/oc" in readme
    assert "bin/openshift-install and bin/oc" not in readme
    assert not (media / "bin" / "oc").exists()  # (the synthetic releases carry no binaries to extract)
    # W3: the far side's runbook updates hop by hop along the path, each release by digest, in order
    runbook = (media / "cluster" / "runbook.md").read_text()
    hops = [line.rsplit("@", 1)[1] for line in runbook.splitlines() if line.startswith("oc adm upgrade ")]
    assert hops == [one.digest for one in built[1:]], hops
    monkeypatch.chdir(media)  # "On the mirror host, from this directory"
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no other login than AUTH_FILE's
    for argv in commands:
        if argv[:2] in (["media", "join"], ["credentials", "add"]) or argv[:1] == ["--plan"]:
            continue  # volumes; a template for AUTH_FILE (FILE, HOST, USER to fill in); the wizard (a pilot's job)
        argv = [str(auth_file) if a == "AUTH_FILE" else a for a in argv]
        code, out, err = _cli(argv, capsys)
        assert code == 0, f"{argv}: {out}{err}"
    opts = {"authfile": auth_file, "cert_dir": pki.dir}
    for one in built:
        assert skopeo.digest(f"{target}:{one.version}-x86_64", **opts) == one.digest
    # C6: `run` wrote this host's output into the medium's mirror-wizard-output/ (the bundle's plan names it);
    # a later check says so once, as a note, never a warning per file.
    assert any((media / "mirror-wizard-output").iterdir())
    code, out, err = _cli(["media", "verify", "."], capsys)
    assert code == 0, out + err
    assert "not part of the bundle (ignored)" not in out + err
    assert (out + err).count("mirror-wizard-output") == 1 and "warning: mirror-wizard-output" not in out + err


def test_bin_lines_name_each_release_folder() -> None:
    """W8: a single release's tools are in bin/; an update path's in bin/<version>/."""
    single = "\n".join(far_side_steps(FarSide(versions=["4.17.3"])))
    assert "bin/openshift-install and bin/oc" in single
    path = "\n".join(far_side_steps(FarSide(versions=["4.17.1", "4.17.2", "4.17.3"], per_version_bin=True)))
    assert "bin/4.17.1/openshift-install" in path and "bin/4.17.3/oc" in path
    assert "bin/openshift-install" not in path and " bin/oc" not in path


def test_done_media_tab_says_the_readme_steps_and_no_unchecked_claim(workdir, tmp_path) -> None:  # noqa: F811
    """C5: Done's Removable media tab carries README.txt's steps (one generator); W2: it does not say the
    registry is empty (a to-dir run never looked)."""
    from tui.screens.media import media_ending

    state = fixed_state()
    state.plan.release.mode = ReleaseMode.TO_DIR
    state.plan.release.directory = str(tmp_path)
    text = media_ending(state, 12)
    steps = far_side_steps(FarSide())
    commands = [line.strip() for line in steps if line.startswith("   ") and "mirror-wizard" in line]
    assert commands and all(c in text for c in commands)
    assert "Nothing is in the mirror registry" not in text
    assert "media verify ." in text and text.index("sha256sum") < text.index("pip install") < text.index("media verify")


def _report(digest: str, data: bytes) -> SignatureReport:
    return SignatureReport(digest, verified=[VerifiedSignature(data, "verifier-public-key-redhat", "AB", "x", "y")])


def test_done_write_lists_each_file_once_and_only_in_its_folder(tmp_path) -> None:
    """W9: Write files into a folder lists one entry per file written, all of them in that folder (the run
    already put the signature ConfigMaps on the medium)."""
    medium = tmp_path / "medium"
    plan = Plan(mirror=MirrorRegistry(registry="mirror.example.com:8443"),
                release=ReleaseChoice(channel="stable-4.17", from_version="4.17.1", version="4.17.3",
                                      mode=ReleaseMode.TO_DIR, directory=str(medium), target="m/ocp"),
                output_dir=str(tmp_path / "out"))
    digests = ["sha256:" + c * 64 for c in "abc"]
    prepared = Prepared(plan, signatures=[_report(d, b"sig" + d.encode()) for d in digests])
    written = write_outputs(prepared, tmp_path / "out")
    assert len(written) == len(set(written)), [p.name for p in written]
    assert all(p.parent == tmp_path / "out" for p in written), written
    assert not medium.exists()
    assert sum(p.name.startswith("signature-") for p in written) == 3


def test_a_far_side_run_pins_the_graph_image_it_uploaded(path_source, plain_registry) -> None:  # noqa: F811
    """W5: a from-dir run prepared before its upload found no graph-data image in the mirror (the tag was
    shown); once the copy succeeded (core.orchestrate calls core.run.after_upload) the UpdateService pins
    the digest the mirror holds, as the near side does."""
    import asyncio

    from core.authfile import AuthFile
    from core.registry import RegistrySession
    from core.run import after_upload
    from core.tlsconfig import TLSOptions
    from core.usecases.documents import cluster_documents

    host, prefix, built, _ = path_source
    from tui.sandbox.content import RELEASE_REPO

    image = f"{host}/{prefix}{RELEASE_REPO}@{built[0].digest}"  # any image the mirror holds stands in
    plan = Plan(mirror=MirrorRegistry(registry=host),
                release=ReleaseChoice(channel="candidate-4.21", version="4.21.1", mode=ReleaseMode.FROM_DIR,
                                      directory=".", target=f"{host}/{prefix}{RELEASE_REPO}", graph_image=image))
    prepared = Prepared(plan)
    before = {d.key: d.text for d in cluster_documents(prepared, "plan.yaml")}["updateservice"]
    assert "is the tag until the mirror holds the image" in before

    async def run() -> None:
        async with RegistrySession(AuthFile(path=None, data={"auths": {}}),
                                   TLSOptions(insecure_hosts=(plain_registry.host,))) as session:
            await after_upload(prepared, session)

    asyncio.run(run())
    assert prepared.graph_image_pinned == f"{host}/{prefix}{RELEASE_REPO}@{built[0].digest}"
    after = {d.key: d.text for d in cluster_documents(prepared, "plan.yaml")}["updateservice"]
    assert f"@{built[0].digest}" in after and "is the tag until" not in after


async def test_resume_is_not_offered_when_every_image_failed_for_a_login(tmp_path) -> None:
    """C2: every image failed with the same non-transient code (the login is missing): Mirror and Review
    say which step to fix instead of Resume; Review's "Enter here starts the copy" is shown only while
    its button starts a copy."""
    from core.copier import CopyFailure, CopyResult
    from core.errors import ErrorCode, MirrorError
    from tests.test_tui_app import make_app

    app = make_app(tmp_path, start="review")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        status = lambda: str(app.screen.query_one("#status").render())  # noqa: E731
        assert "Enter here starts the copy" in status()  # Start is offered
        state = app.state
        state.mirror_key = state.plan_key()
        progress = state.progress
        progress.reset()
        error = MirrorError("mirror.example.com: requires a login and the auth file has no entry",
                            code=ErrorCode.LOGIN_MISSING)
        state.mirror_result = CopyResult(images_total=2, failures=[
            CopyFailure("a", "mirror.example.com/a:1", error), CopyFailure("b", "mirror.example.com/b:1", error)])
        progress.finish(error="2 images failed — mirror.example.com/a:1: requires a login")
        app.screen.show()
        await pilot.pause()
        assert "Credentials step" in status() and "Enter here starts" not in status(), status()
        assert str(app.screen.query_one("#next").label) == "Mirror ▶"
        await pilot.press("ctrl+n")
        await pilot.pause(0.3)
        assert app.current_mode == "mirror"
        assert str(app.screen.query_one("#start").label) != "Resume"
        outcome = str(app.screen.query_one("#outcome").render())
        assert "Credentials step" in outcome, outcome
        assert await app.screen.can_leave() is False
        assert "Credentials step" in status() and "Resume" not in status(), status()
        # a complete copy: Review never says Enter starts one
        state.mirror_result = CopyResult(images_total=2)
        progress.reset()
        progress.finish()
        await pilot.press("escape")
        await pilot.pause(0.3)
        assert app.current_mode == "review"
        assert "Enter here starts the copy" not in status(), status()


def test_a_transient_or_mixed_failure_keeps_resume() -> None:
    from core.errors import ErrorCode
    from tui.screens.mirror import fix_instead_of_resume

    assert fix_instead_of_resume({ErrorCode.UNSPECIFIED}) is None
    assert fix_instead_of_resume({ErrorCode.LOGIN_MISSING, ErrorCode.TLS_UNTRUSTED}) is None
    assert "CA step" in (fix_instead_of_resume({ErrorCode.TLS_UNTRUSTED}) or "")
    assert "Release step" in (fix_instead_of_resume({ErrorCode.RELEASE_KEY_UNTRUSTED}) or "")


def test_a_read_only_medium_sends_the_far_sides_plan_and_documents_to_this_host(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests run as root, where every folder is writable: the medium's refusal is stood in for at
    os.access, the one question core.run.output_folder asks."""
    import core.run
    from core.bundle import FAR_OUTPUT_DIR
    from tui.state import WizardState

    medium = tmp_path / "usb-bundle"
    medium.mkdir()
    monkeypatch.chdir(medium)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(core.run.os, "access", lambda path, mode: False)
    state = WizardState(Plan())
    state.plan.output_dir = FAR_OUTPUT_DIR
    assert state.save_path() == tmp_path / "home" / FAR_OUTPUT_DIR / "usb-bundle" / "mirror-plan.yaml"
    monkeypatch.setattr(core.run.os, "access", lambda path, mode: True)
    assert state.save_path() == Path(FAR_OUTPUT_DIR) / "mirror-plan.yaml"
