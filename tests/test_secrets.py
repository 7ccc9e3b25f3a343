"""Known passwords and tokens must appear in no output, log, written file, screenshot or exception text.

Every command runs with the test password in play — against the TLS + htpasswd registry and the token
registry (whose issuer hands out real bearer tokens, all recorded, so their values can be searched for) —
and so does the wizard, driven through its credentials step. What is searched: stdout, stderr, every log
record, every file written (the merged auth file minus its own ``auth`` values), exception text, and the
wizard's widgets, saved plan, Done files and SVG screenshot.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import stat
import sys
import traceback
from pathlib import Path

import pytest
import yaml

from core.copier import CopyOptions, CopyTask, copy_images
from core.endpoints import LayoutLocation, RegistryLocation
from core.reference import parse_reference
from core.registry import RegistrySession, RetryPolicy
from core.tlsconfig import TLSOptions
from tests.conftest import auth_entry
from tests.support.constants import PASSWORD, USER
from tests.support.pilot import settle
from tests.support.repos import unique_repo
from tui.cli import main
from tui.sandbox.content import build_samples, new_builder
from tui.sandbox.registry import free_port

pytestmark = pytest.mark.timeout(300)
WRONG = "Wrong-Secret-9x7"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secrets_of(token_issuer) -> list[str]:
    known = [PASSWORD, WRONG, b64(f"{USER}:{PASSWORD}"), b64(f"{USER}:{WRONG}"), b64(PASSWORD)]
    # A JWT's signature part is unique to it (its header is shared by all tokens); its claims hold a jti.
    tokens = [part for token in token_issuer.issued for part in token.split(".")[1:]]
    return known + tokens


def assert_clean(texts: dict[str, str], token_issuer) -> None:
    secrets = secrets_of(token_issuer)
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a secret ({secret[:6]}…) leaked into {where}: {text[:300]!r}"


def without_own_auth(path: Path) -> str:
    """A written auth file, minus the ``auth`` values of its entries: the one place the secret belongs."""
    data = json.loads(path.read_text())
    for entry in data.get("auths", {}).values():
        entry.pop("auth", None)
    return json.dumps(data)


def written_files(root: Path, auth_files: set[Path]) -> dict[str, str]:
    texts = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        if path in auth_files:
            texts[str(path)] = without_own_auth(path)
        else:
            texts[str(path)] = path.read_bytes().decode("latin-1")  # binaries too (extracted oc)
    return texts


class Runner:
    """``main()`` in this process: stdout, stderr and every log record of each command kept by name."""

    def __init__(self, capsys, caplog, monkeypatch) -> None:
        self.capsys, self.caplog, self.monkeypatch = capsys, caplog, monkeypatch
        self.outputs: dict[str, str] = {}

    def __call__(self, argv: list[str], *, stdin: str = "", expect: int | None = 0) -> str:
        self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        self.caplog.clear()
        try:
            code = main(argv)
        except BaseException as exc:  # noqa: BLE001 - a traceback is itself a finding
            code = f"raised {type(exc).__name__}"
            self.outputs[f"exception of {argv[:2]}"] = "".join(traceback.format_exception(exc))
        captured = self.capsys.readouterr()
        text = captured.out + captured.err
        key = f"{' '.join(argv[:2])} #{len(self.outputs)}"
        self.outputs[key] = text + "\n".join(self.caplog.messages)
        self.outputs[key + " (log records)"] = "\n".join(
            f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in self.caplog.records)
        if expect is not None:
            assert code == expect, f"{argv}: exit {code}\n{text}"
        assert "Traceback" not in text, text
        return text


def seed_samples(folder: Path, host: str, auth_file: Path, ca_file: Path) -> Path:
    """One tiny image behind the TLS + password registry and the ImageStream that uses it."""
    spec = f"{host}/{unique_repo('secret-samples')}:1.0"

    async def push() -> None:
        from core.authfile import load_auth_file

        builder = new_builder(folder / "samples-layout")
        names = await build_samples(builder, [spec], layer_size=1024)
        tasks = [CopyTask(LayoutLocation(folder / "samples-layout", name), RegistryLocation(parse_reference(s)))
                 for name, s in names.items()]
        async with RegistrySession(load_auth_file(auth_file), TLSOptions(ca_files=(str(ca_file),))) as session:
            result = await copy_images(tasks, session, CopyOptions())
        assert result.ok, result.failures

    asyncio.run(push())
    path = folder / "streams.json"
    path.write_text(json.dumps({"kind": "ImageStream", "apiVersion": "image.openshift.io/v1",
                                "metadata": {"name": "tiny"},
                                "spec": {"tags": [{"name": "1.0", "from": {"kind": "DockerImage", "name": spec}}]}}))
    return path


def test_every_command_keeps_every_secret(tmp_path: Path, seeded_release, tls_registry, token_registry, token_issuer,
                                          pki, capsys, caplog, monkeypatch) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no keyring or default auth file of the machine
    monkeypatch.setattr(RetryPolicy, "delay", lambda self, attempt: 0.02)  # unreachable: fail fast
    run = Runner(capsys, caplog, monkeypatch)
    ca = str(pki.ca_file)
    tls_host, token_host = tls_registry.host, token_registry.host
    work = tmp_path / "work"
    work.mkdir()
    secret_file = work / "pull-secret.json"
    secret_file.write_text(json.dumps({"auths": {"quay.io": {"auth": b64("someone:quay-token"), "email": "a@b.c"}}}))
    merged = work / "pull-secret-mirror.json"
    issued_before = len(token_issuer.issued)

    # credentials add (password on stdin), twice: a new file, then the same file in place.
    run(["credentials", "add", "--pull-secret", str(secret_file), "--registry", token_host, "--username", USER,
         "--password-stdin", "--ca-file", ca, "-o", str(merged)], stdin=PASSWORD + "\n")
    run(["credentials", "add", "--pull-secret", str(merged), "--registry", tls_host, "--username", USER,
         "--password-stdin", "--ca-file", ca, "-o", str(merged)], stdin=PASSWORD)
    assert stat.S_IMODE(merged.stat().st_mode) == 0o600
    auths = json.loads(merged.read_text())["auths"]
    assert auths[token_host]["auth"] == auths[tls_host]["auth"] == b64(f"{USER}:{PASSWORD}")
    assert not [p for p in work.iterdir() if p.name.startswith(".")], "a temporary file was left behind"

    wrong = work / "wrong.json"
    wrong.write_text(json.dumps({"auths": {tls_host: auth_entry(USER, WRONG), token_host: auth_entry(USER, WRONG)}}))
    away = f"127.0.0.1:{free_port()}"
    unreachable = work / "unreachable.json"
    unreachable.write_text(json.dumps({"auths": {away: auth_entry(USER, PASSWORD)}}))

    # credentials check: working, wrong, unreachable, and --json.
    run(["credentials", "check", "-a", str(merged), "--ca-file", ca, tls_host, token_host])
    run(["credentials", "check", "-a", str(merged), "--ca-file", ca, "--json", tls_host, token_host])
    out = run(["credentials", "check", "-a", str(wrong), "--ca-file", ca, tls_host, token_host], expect=1)
    assert USER in out
    run(["credentials", "check", "-a", str(wrong), "--ca-file", ca, "--json", tls_host, token_host], expect=1)
    run(["credentials", "check", "-a", str(unreachable), "--timeout", "5", away], expect=1)

    # release: mirror to the token registry, then read it back from there (list, info, extract).
    common = ["-a", str(merged), "--ca-file", ca, "--insecure"]
    mirror = f"{token_host}/{unique_repo('secret-release')}"
    manifests = work / "release-manifests"
    run(["release", "mirror", *common, "--from", seeded_release.release_ref, "--to", mirror,
         "--manifests-dir", str(manifests)])
    run(["release", "mirror", *common, "--json", "--from", seeded_release.release_ref, "--to", mirror])
    tag = f"{seeded_release.version}-{seeded_release.architecture}"
    assert tag in run(["release", "list", *common, "--from-registry", mirror])
    run(["release", "list", *common, "--json", "--from-registry", mirror])
    run(["release", "info", *common, "--to", f"{tls_host}/{unique_repo('secret-info')}", f"{mirror}:{tag}"])
    run(["release", "info", *common, "--json", f"{mirror}:{tag}"])
    run(["release", "extract", *common, "--command", "oc", "--to", str(work / "bin"), f"{mirror}:{tag}"])
    # ... and failing: wrong password on the destination, and an unreachable destination.
    run(["release", "mirror", "-a", str(wrong), "--ca-file", ca, "--insecure", "--from", seeded_release.release_ref,
         "--to", f"{token_host}/{unique_repo('secret-wrong')}"], expect=1)
    run(["release", "list", "-a", str(wrong), "--ca-file", ca, "--from-registry", mirror], expect=None)
    run(["release", "info", "-a", str(wrong), "--ca-file", ca, f"{mirror}:{tag}"], expect=None)
    run(["release", "mirror", "-a", str(unreachable), "--insecure", "--from", seeded_release.release_ref,
         "--to", f"{away}/nowhere"], expect=None)

    # samples mirror: the source is the TLS + password registry, the mirror the token registry.
    streams = seed_samples(work, tls_host, merged, pki.ca_file)
    run(["samples", "mirror", "--imagestreams", str(streams), "--mirror", token_host, "-a", str(merged), "--ca-file", ca,
         "--mapping-out", str(work / "mapping.txt"), "--config-out", str(work / "samples-config.yaml")])
    run(["samples", "mirror", "--imagestreams", str(streams), "--mirror", token_host, "-a", str(wrong), "--ca-file", ca,
         "--json"], expect=1)

    # ca check
    run(["ca", "check", "--registry", token_host, "--ca-file", ca])
    run(["ca", "check", "--registry", away, "--ca-file", ca, "--timeout", "3"], expect=1)

    # image mirror, plain and --json, and a wrong password.
    src = seeded_release.component_refs["cli"]
    for host in (tls_host, token_host):
        dst = f"{host}/{unique_repo('secret-image')}:v1"
        run(["image", "mirror", *common, src, dst])
        run(["image", "mirror", *common, "--json", src, dst])
        out = run(["image", "mirror", "-a", str(wrong), "--ca-file", ca, "--insecure", src, dst + "x"], expect=1)
        assert "rejected the user name or password" in out
    run(["image", "mirror", "-a", str(unreachable), "--insecure", src, f"{away}/nowhere:v1"], expect=1)

    # run PLAN and runbook PLAN: release and samples to the token registry.
    out_dir = work / "out"
    plan = work / "plan.yaml"
    plan_data = {"auth_file": str(merged), "mirror": {"registry": token_host, "ca_file": ca},
                 "registries": [{"host": seeded_release.host, "insecure": True}], "output_dir": str(out_dir),
                 "release": {"source": seeded_release.release_ref, "mode": "registry",
                             "target": f"{token_host}/{unique_repo('secret-run')}"},
                 "samples": {"source": "files", "paths": [str(streams)], "mirror": token_host}}
    plan.write_text(yaml.safe_dump(plan_data))
    run(["run", str(plan)])
    run(["run", str(plan), "--json"])
    run(["runbook", str(plan), "-o", str(work / "runbook.md")])
    assert (work / "runbook.md").exists() and any(out_dir.iterdir())
    wrong_plan = work / "wrong-plan.yaml"
    wrong_plan.write_text(yaml.safe_dump({**plan_data, "auth_file": str(wrong), "output_dir": str(work / "out-wrong"),
                                          "release": {**plan_data["release"],
                                                      "target": f"{token_host}/{unique_repo('secret-run-wrong')}"}}))
    run(["run", str(wrong_plan)], expect=1)

    assert len(token_issuer.issued) > issued_before, "no token was issued: the token path was not exercised"
    assert_clean(run.outputs, token_issuer)
    files = written_files(work, {merged, wrong, unreachable})
    assert str(merged) in files and any("runbook" in name for name in files)
    assert_clean(files, token_issuer)
    # The merged file holds the secret only inside its own auth values.
    assert b64(f"{USER}:{PASSWORD}") in merged.read_text() and PASSWORD not in merged.read_text()


def test_exception_text_holds_no_secret(tls_registry, token_registry, token_issuer, pki) -> None:
    """What the engine raises on a wrong password — message, repr, args, chained causes — names no secret."""
    from core.authfile import parse_auth_data
    from core.errors import MirrorError

    wrong = parse_auth_data(json.dumps({"auths": {tls_registry.host: auth_entry(USER, WRONG),
                                                  token_registry.host: auth_entry(USER, WRONG)}}))
    right = parse_auth_data(json.dumps({"auths": {token_registry.host: auth_entry(USER, PASSWORD)}}))
    texts: dict[str, str] = {}

    async def attempt(auth, host: str, label: str, call) -> None:  # type: ignore[no-untyped-def]
        async with RegistrySession(auth, TLSOptions(ca_files=(str(pki.ca_file),))) as session:
            try:
                await call(session.client(host))
            except MirrorError as exc:
                texts[f"{host} {label}"] = " ".join([str(exc), repr(exc), repr(exc.args),
                                                    "".join(traceback.format_exception(exc))])
            else:
                raise AssertionError(f"{host}: expected an error")

    async def go() -> None:
        for host in (tls_registry.host, token_registry.host):
            await attempt(wrong, host, "check_login", lambda c: c.check_login("secret/none"))
            await attempt(wrong, host, "get_manifest", lambda c: c.get_manifest("secret/none", "v1"))
        # With the right password a bearer token is issued, then the manifest is missing.
        await attempt(right, token_registry.host, "missing", lambda c: c.get_manifest(unique_repo("secret-missing"), "v1"))

    asyncio.run(go())
    assert len(texts) == 5 and token_issuer.issued
    assert_clean(texts, token_issuer)


def test_credential_repr_hides_the_password() -> None:
    from core.authfile import Credential

    assert PASSWORD not in repr(Credential(USER, PASSWORD)) and PASSWORD not in str(Credential(USER, PASSWORD))


# -- the wizard ---------------------------------------------------------------------------------------


def widget_texts(app) -> str:  # type: ignore[no-untyped-def]
    """Everything the screen shows, plus the log widgets' full contents."""
    from textual.widgets import Input, Log, Static, TextArea

    parts = []
    for widget in app.screen.query("*"):
        if isinstance(widget, Input):
            if not widget.password:
                parts.append(widget.value)
        elif isinstance(widget, Log):
            parts.extend(str(line) for line in widget.lines)
        elif isinstance(widget, TextArea):
            parts.append(widget.text)
        elif isinstance(widget, Static):
            parts.append(str(widget.render()))
    for notification in app._notifications:
        parts.append(str(notification.message))
    return "\n".join(parts)


async def test_the_wizard_keeps_every_secret(tmp_path: Path, seeded_release, token_registry, token_issuer, pki,
                                             monkeypatch) -> None:
    from core.plan import plan_from_dict
    from tui.app import MirrorWizardApp
    from tui.state import WizardState

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    secret_file = tmp_path / "pull-secret.json"
    secret_file.write_text(json.dumps({"auths": {"quay.io": {"auth": b64("someone:quay-token")}}}))
    mirror = token_registry.host
    target = f"{mirror}/{unique_repo('secret-wizard')}"
    out_dir = tmp_path / "out"
    plan = plan_from_dict({"auth_file": str(secret_file), "mirror": {"registry": mirror, "ca_file": str(pki.ca_file)},
                           "registries": [{"host": seeded_release.host, "insecure": True}],
                           "output_dir": str(out_dir),
                           "release": {"source": seeded_release.release_ref, "mode": "registry", "target": target}})
    state = WizardState(plan=plan, plan_path=tmp_path / "plan.yaml")
    app = MirrorWizardApp(state, start="credentials", auto_check=False)
    seen: dict[str, str] = {}
    issued_before = len(token_issuer.issued)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        user = app.screen.query_one("#user")
        user.focus()
        user.value = USER
        password = app.screen.query_one("#password")
        password.focus()
        await pilot.press(*WRONG, "enter")  # typed, as an admin would
        await settle(pilot)
        assert [r.state for r in state.logins] == ["wrong-credentials"]
        seen["credentials, wrong password"] = widget_texts(app)
        seen["screenshot, wrong password"] = app.export_screenshot()
        password.value = ""
        password.focus()
        await pilot.press(*PASSWORD, "enter")
        await settle(pilot)
        assert [r.state for r in state.logins] == ["ok"], state.logins
        merged = Path(state.plan.auth_file)
        assert merged.exists() and stat.S_IMODE(merged.stat().st_mode) == 0o600
        seen["credentials, logged in"] = widget_texts(app)
        seen["screenshot, logged in"] = app.export_screenshot()

        for _ in range(8):  # release, samples, ca, review (a Next refused while a check runs is pressed again)
            await settle(pilot)
            for _ in range(100):  # the CA step checks the registry in a worker: leave once it has answered
                # (auto_check=False starts no check: nothing to wait for once no worker runs)
                if app.current_mode != "ca" or not app.workers:
                    break
                await pilot.pause(0.1)
            await settle(pilot)
            seen[f"{app.current_mode} screen"] = widget_texts(app)
            if app.current_mode == "review":
                break
            await pilot.press("ctrl+n")
        assert app.current_mode == "review", (app.current_mode, state.ca_check, state.ca_error, app.screen,
                                              widget_texts(app)[-1500:])
        seen["screenshot, review"] = app.export_screenshot()
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "mirror"
        await pilot.press("ctrl+r")  # Start (auto_check=False: no copy starts on its own)
        await settle(pilot)
        await app.workers.wait_for_complete()
        await pilot.pause(0.3)
        assert state.progress.finished, (state.progress.error, list(state.progress.log)[-5:])
        seen["mirror screen and log"] = widget_texts(app) + "\n" + "\n".join(map(str, state.progress.log))
        assert target.split("/", 1)[1] in seen["mirror screen and log"], "the log widgets were not read"
        seen["screenshot, mirror"] = app.export_screenshot()
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "done"
        write = app.screen.query_one("#out-dir")
        write.focus()
        await pilot.press("enter")
        await settle(pilot)
        seen["done screen"] = widget_texts(app)
        seen["screenshot, done"] = app.export_screenshot()
        assert seen["screenshot, done"].startswith("<svg") and "Done" in seen["screenshot, done"]
        await pilot.press("ctrl+s")  # save the plan
        await settle(pilot)

    assert len(token_issuer.issued) > issued_before, "no token was issued to the wizard"
    assert out_dir.exists() and state.written, "the Done step wrote nothing"
    assert (tmp_path / "plan.yaml").exists(), "the plan was not saved"
    assert_clean(seen, token_issuer)
    files = written_files(tmp_path, {merged})
    assert any(name.endswith("runbook.md") for name in files)
    assert_clean(files, token_issuer)
    assert b64(f"{USER}:{PASSWORD}") in merged.read_text()
    # the state itself keeps the password out of its repr
    assert PASSWORD not in repr(state)
