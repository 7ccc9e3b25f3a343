"""Pull secret + mirror login: validation, atomic 0600 writes, a real keyring backend, live login checks."""

from __future__ import annotations

import base64
import io
import json
import os
import pty
import select
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail, null
from keyrings.alt.file import PlaintextKeyring

from core.authfile import AuthFile, load_auth_file
from core.credentials import (
    KEYRING_SERVICE,
    add_registry_credential,
    check_logins,
    keyring_status,
    load_pull_secret,
    parse_pull_secret_text,
    recall_password,
    remember_password,
    write_auth_file,
)
from core.errors import AuthFileError, InputError
from core.tlsconfig import TLSOptions
from tests.support.constants import PASSWORD, USER
from tui.cli import main
from tui.sandbox.registry import free_port

MIRROR = "mirror.example.com:8443"
RH_TOKEN = "rh-token-Zx81-also-secret"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def pull_secret() -> dict:
    """Shaped like the one console.redhat.com hands out."""
    return {"auths": {
        "cloud.openshift.com": {"auth": b64(f"openshift-release-dev+ocm_access_1:{RH_TOKEN}"), "email": "you@example.com"},
        "quay.io": {"auth": b64(f"openshift-release-dev+ocm_access_1:{RH_TOKEN}"), "email": "you@example.com"},
        "registry.connect.redhat.com": {"auth": b64(f"uhc-pool-1:{RH_TOKEN}"), "email": "you@example.com"},
        "registry.redhat.io": {"auth": b64(f"uhc-pool-1:{RH_TOKEN}"), "email": "you@example.com"},
    }}


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "pull-secret.json"
    path.write_text(json.dumps(pull_secret()))  # one line, as downloaded
    return path


@pytest.fixture
def file_keyring(tmp_path: Path) -> Iterator[PlaintextKeyring]:
    """A real file-based backend, its file under tmp_path; the previous backend comes back afterwards."""
    previous = keyring.get_keyring()
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring" / "keyring_pass.cfg")
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


# -- the pull secret --------------------------------------------------------------------------------


def test_pull_secret_loads(secret_file: Path) -> None:
    assert load_pull_secret(secret_file) == pull_secret()


def test_pull_secret_with_bom_and_pretty_printing(tmp_path: Path) -> None:
    path = tmp_path / "ps.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(pull_secret(), indent=2).encode())
    assert load_pull_secret(path) == pull_secret()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{\n  "auths": {\n    "quay.io": {"auth": "abc",}\n  }\n}', "not valid JSON (line 3, column"),
        ("", "is empty"),
        ('["auths"]', "JSON list, not an object"),
        ('{"auth": {}}', 'no "auths" object'),
        ('{"auths": []}', '"auths" must be an object'),
        ('{"auths": {"quay.io": "secret"}}', "entry 'quay.io' must be an object"),
        ('{"auths": {"quay.io": {"email": "a@b"}}}', "entry 'quay.io' has no \"auth\" field"),
        ('{"auths": {"quay.io": {"auth": "%%%not-base64%%%"}}}', "entry 'quay.io': 'auth' is not valid base64"),
        ('{"auths": {"quay.io": {"auth": "' + b64("user-without-colon") + '"}}}', "has no ':'"),
        ('{"auths": {"": {"auth": "' + b64("u:p") + '"}}}', "an \"auths\" entry with an empty registry name"),
    ],
)
def test_bad_pull_secrets_get_precise_messages(text: str, expected: str) -> None:
    with pytest.raises(AuthFileError) as caught:
        parse_pull_secret_text(text, "pull-secret.json")
    message = str(caught.value)
    assert expected in message and message.startswith("pull-secret.json")
    assert "\n" not in message
    for secret in ("%%%not-base64%%%", b64("user-without-colon"), '"secret"'):
        assert secret not in message


def test_json_error_never_quotes_the_content() -> None:
    text = '{"auths": {"quay.io": {"auth": "' + b64(f"u:{RH_TOKEN}") + '" "email": 1}}}'
    with pytest.raises(AuthFileError) as caught:
        parse_pull_secret_text(text, "ps")
    assert "line 1" in str(caught.value) and b64(f"u:{RH_TOKEN}") not in str(caught.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(AuthFileError, match="does not exist"):
        load_pull_secret(tmp_path / "nope.json")
    with pytest.raises(AuthFileError, match="is a directory"):
        load_pull_secret(tmp_path)


# -- adding the mirror's login ----------------------------------------------------------------------


def test_add_credential_returns_a_new_dict() -> None:
    original = pull_secret()
    merged = add_registry_credential(original, MIRROR, "admin", "p:ss w0rd", email="me@example.com")
    assert original == pull_secret()  # untouched
    assert merged["auths"][MIRROR] == {"auth": b64("admin:p:ss w0rd"), "email": "me@example.com"}
    assert {k: v for k, v in merged["auths"].items() if k != MIRROR} == pull_secret()["auths"]
    # The engine reads it back to the same credential (a ':' in the password survives).
    credential = AuthFile(None, merged).lookup(MIRROR)
    assert credential is not None and (credential.username, credential.password) == ("admin", "p:ss w0rd")


def test_add_credential_replaces_and_keeps_the_email() -> None:
    first = add_registry_credential(pull_secret(), MIRROR, "admin", "one", email="me@example.com")
    second = add_registry_credential(first, MIRROR, "admin", "two")
    assert second["auths"][MIRROR] == {"auth": b64("admin:two"), "email": "me@example.com"}
    assert add_registry_credential({}, MIRROR, "a", "b") == {"auths": {MIRROR: {"auth": b64("a:b")}}}


@pytest.mark.parametrize(
    ("registry", "user", "password", "expected"),
    [
        ("https://mirror.example.com:8443", "a", "b", "not HOST or HOST:PORT"),
        ("mirror.example.com:8443/ocp4", "a", "b", "not HOST or HOST:PORT"),
        ("mirror.example.com:99999", "a", "b", "not HOST or HOST:PORT"),
        (MIRROR, "", "b", "user name is empty"),
        (MIRROR, "a:b", "c", "cannot contain ':'"),
        (MIRROR, "a", "", "password for a@mirror.example.com:8443 is empty"),
    ],
)
def test_add_credential_rejects_bad_input(registry: str, user: str, password: str, expected: str) -> None:
    with pytest.raises(InputError, match=expected):
        add_registry_credential(pull_secret(), registry, user, password)


# -- writing ----------------------------------------------------------------------------------------


def test_write_is_0600_even_with_an_open_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = write_auth_file(tmp_path / "out.json", pull_secret())
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == pull_secret()
    assert load_auth_file(path).registries() == list(pull_secret()["auths"])


def test_write_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    path.write_text('{"auths": {}}')
    path.chmod(0o644)
    with path.open() as reader:  # a reader holding the old file keeps reading the old file, whole
        write_auth_file(path, pull_secret())
        assert reader.read() == '{"auths": {}}'
    assert json.loads(path.read_text()) == pull_secret()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]  # no temporary file left behind


def test_write_through_a_symlink_keeps_the_link(tmp_path: Path) -> None:
    real_dir = tmp_path / "secrets"
    real_dir.mkdir()
    real = real_dir / "pull-secret.json"
    real.write_text('{"auths": {}}')
    real.chmod(0o644)
    link = tmp_path / "auth.json"
    link.symlink_to(real)
    chain = tmp_path / "config.json"  # a link to the link
    chain.symlink_to(link)
    assert write_auth_file(link, pull_secret()) == link
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert json.loads(real.read_text()) == pull_secret()
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    data = add_registry_credential(pull_secret(), MIRROR, USER, PASSWORD)
    write_auth_file(chain, data)
    assert chain.is_symlink() and link.is_symlink() and json.loads(real.read_text()) == data
    # the temporary file lived next to the target, and is gone
    assert sorted(p.name for p in real_dir.iterdir()) == ["pull-secret.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["auth.json", "config.json", "secrets"]


def test_write_through_a_dangling_symlink_and_a_loop(tmp_path: Path) -> None:
    (tmp_path / "later").mkdir()
    dangling = tmp_path / "auth.json"
    dangling.symlink_to(tmp_path / "later" / "auth.json")
    write_auth_file(dangling, pull_secret())
    assert dangling.is_symlink() and json.loads((tmp_path / "later" / "auth.json").read_text()) == pull_secret()
    nowhere = tmp_path / "nowhere.json"
    nowhere.symlink_to(tmp_path / "missing-dir" / "auth.json")
    with pytest.raises(InputError, match="the target of the link .* does not exist"):
        write_auth_file(nowhere, pull_secret())
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(InputError, match="symlink loop"):
        write_auth_file(a, pull_secret())
    assert a.is_symlink() and b.is_symlink()


def test_cli_add_output_through_a_symlink(secret_file: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    real = tmp_path / "real" / "merged.json"
    real.parent.mkdir()
    real.write_text("{}")
    link = tmp_path / "merged.json"
    link.symlink_to(real)
    assert run_add(["--pull-secret", str(secret_file), "--registry", MIRROR, "--username", USER,
                    "--password-stdin", "-o", str(link)], PASSWORD + "\n", monkeypatch) == 0
    assert link.is_symlink()
    assert json.loads(real.read_text())["auths"][MIRROR]["auth"] == b64(f"{USER}:{PASSWORD}")
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert PASSWORD not in capsys.readouterr().out


def test_write_into_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        write_auth_file(tmp_path / "nope" / "out.json", pull_secret())


# -- the keyring ------------------------------------------------------------------------------------


def test_remember_and_recall_with_a_file_keyring(file_keyring: PlaintextKeyring) -> None:
    status = keyring_status()
    assert status.usable and "PlaintextKeyring" in status.backend
    assert "unencrypted" in status.message and file_keyring.file_path in status.message
    assert recall_password(MIRROR, "admin") is None
    assert remember_password(MIRROR, "admin", PASSWORD).usable
    assert recall_password(MIRROR, "admin") == PASSWORD
    assert keyring.get_password(KEYRING_SERVICE, f"admin@{MIRROR}") == PASSWORD  # service and key as documented
    assert recall_password(MIRROR, "someone-else") is None


@pytest.mark.usefixtures("no_keyring")
def test_no_usable_backend_is_a_plain_message() -> None:
    status = keyring_status()
    assert not status.usable and "no keyring backend" in status.message
    result = remember_password(MIRROR, "admin", PASSWORD)
    assert not result.usable and result.message == status.message
    assert recall_password(MIRROR, "admin") is None


def test_null_backend_is_not_usable() -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(null.Keyring())
    try:
        status = keyring_status()
    finally:
        keyring.set_keyring(previous)
    assert not status.usable and "switched off" in status.message


class RefusingKeyring(KeyringBackend):
    """A backend that answers reads but refuses writes with an error quoting what it was given."""

    priority = 1

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError(f"vault is read-only, cannot store {password}")

    def delete_password(self, service: str, username: str) -> None:
        raise keyring.errors.PasswordDeleteError("read-only")


def test_refusing_backend_is_reported_without_the_password() -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(RefusingKeyring())
    try:
        status = remember_password(MIRROR, "admin", PASSWORD)
    finally:
        keyring.set_keyring(previous)
    assert not status.usable and "refused" in status.message and "read-only" in status.message
    assert PASSWORD not in status.message


# -- logging in -------------------------------------------------------------------------------------


def auth_with(entries: dict[str, tuple[str, str]]) -> AuthFile:
    return AuthFile(None, {"auths": {host: {"auth": b64(f"{u}:{p}")} for host, (u, p) in entries.items()}})


async def test_every_login_in_the_file_works(auth_file: Path, tls_options: TLSOptions, tls_registry,
                                             token_registry) -> None:
    results = await check_logins(load_auth_file(auth_file), None, tls_options)
    assert [r.registry for r in results] == [tls_registry.host, token_registry.host]
    assert all(r.ok and r.state == "ok" for r in results), results
    assert all(USER in r.message for r in results)


async def test_each_failure_has_its_state(tls_registry, token_registry, pki) -> None:
    down = f"127.0.0.1:{free_port()}"
    auth = auth_with({tls_registry.host: (USER, "wrong-" + PASSWORD), token_registry.host: (USER, "nope"),
                      down: (USER, PASSWORD)})
    tls = TLSOptions(ca_files=(str(pki.ca_file),), certs_dirs=())
    results = {r.registry: r for r in await check_logins(auth, None, tls, timeout=10)}
    assert results[tls_registry.host].state == "wrong-credentials"
    assert results[token_registry.host].state == "wrong-credentials"
    assert results[down].state == "unreachable"
    untrusted = await check_logins(auth_with({tls_registry.host: (USER, PASSWORD)}), None,
                                   TLSOptions(certs_dirs=()))
    assert [r.state for r in untrusted] == ["tls-untrusted"]
    for result in [*results.values(), *untrusted]:
        assert not result.ok and PASSWORD not in result.message and "nope" not in result.message


async def test_only_the_named_registries_and_one_not_in_the_file(auth_file: Path, tls_options: TLSOptions,
                                                                 tls_registry) -> None:
    results = await check_logins(load_auth_file(auth_file), [tls_registry.host, "other.example.com"], tls_options)
    assert [(r.registry, r.state) for r in results] == [(tls_registry.host, "ok"), ("other.example.com", "error")]
    assert "no user name and password" in results[1].message


async def test_the_telemetry_entry_is_skipped_not_tried(tls_options: TLSOptions, tls_registry) -> None:
    data = pull_secret()["auths"]
    auth = AuthFile(None, {"auths": {"cloud.openshift.com": data["cloud.openshift.com"],
                                     "https://cloud.openshift.com/": data["cloud.openshift.com"],
                                     tls_registry.host: {"auth": b64(f"{USER}:{PASSWORD}")}}})
    results = await check_logins(auth, None, tls_options)
    assert [(r.registry, r.state, r.message) for r in results[:2]] == [
        ("cloud.openshift.com", "skipped", "skipped: not an image registry (telemetry)"),
        ("https://cloud.openshift.com/", "skipped", "skipped: not an image registry (telemetry)")]
    assert results[2].ok and all(r.skipped and not r.ok for r in results[:2])


def _secret_with_telemetry(tmp_path: Path, registry_host: str) -> Path:
    """A real pull secret's shape: cloud.openshift.com next to the registries."""
    path = tmp_path / "pull-secret-mirror.json"
    path.write_text(json.dumps({"auths": {"cloud.openshift.com": pull_secret()["auths"]["cloud.openshift.com"],
                                          registry_host: {"auth": b64(f"{USER}:{PASSWORD}")}}}))
    return path


# -- the commands -----------------------------------------------------------------------------------


def run_add(argv: list[str], stdin: str, monkeypatch: pytest.MonkeyPatch) -> int:
    """These tests are about the file written: MIRROR is no real registry, so no login test."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(["credentials", "add", "--no-test", *argv])


def test_cli_add_writes_the_merged_file(secret_file: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    out = tmp_path / "pull-secret-mirror.json"
    code = run_add(["--pull-secret", str(secret_file), "--registry", MIRROR, "--username", USER,
                    "--email", "me@example.com", "--password-stdin", "-o", str(out)], PASSWORD + "\n", monkeypatch)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    data = json.loads(out.read_text())
    assert data["auths"][MIRROR] == {"auth": b64(f"{USER}:{PASSWORD}"), "email": "me@example.com"}
    assert json.loads(secret_file.read_text()) == pull_secret()
    assert "podman login --authfile" in captured.out
    assert PASSWORD not in captured.out + captured.err and b64(f"{USER}:{PASSWORD}") not in captured.out


def test_cli_add_remember_with_a_file_keyring(secret_file: Path, tmp_path: Path, file_keyring, monkeypatch,
                                              capsys) -> None:
    code = run_add(["--pull-secret", str(secret_file), "--registry", MIRROR, "--username", USER,
                    "--password-stdin", "--remember", "-o", str(tmp_path / "o.json")], PASSWORD, monkeypatch)
    captured = capsys.readouterr()
    assert code == 0 and "remembered in the keyring" in captured.out
    assert recall_password(MIRROR, USER) == PASSWORD
    assert PASSWORD not in captured.out + captured.err


@pytest.mark.usefixtures("no_keyring")
def test_cli_add_remember_without_keyring_carries_on(secret_file: Path, tmp_path: Path, monkeypatch,
                                                     capsys) -> None:
    out = tmp_path / "o.json"
    code = run_add(["--pull-secret", str(secret_file), "--registry", MIRROR, "--username", USER,
                    "--password-stdin", "--remember", "-o", str(out)], PASSWORD + "\n", monkeypatch)
    captured = capsys.readouterr()
    assert code == 0 and out.exists()
    assert "password not remembered: no keyring backend" in captured.err
    assert "Traceback" not in captured.err and PASSWORD not in captured.out + captured.err


def test_cli_add_without_a_password_source(secret_file: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    code = run_add(["--pull-secret", str(secret_file), "--registry", MIRROR, "--username", USER,
                    "-o", str(tmp_path / "o.json")], "", monkeypatch)  # stdin is not a terminal
    assert code == 2 and "--password-stdin" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()


@pytest.mark.parametrize(
    ("secret", "registry", "expected"),
    [
        ('{"auths": {"quay.io": {"auth": "!!"}}}', MIRROR, "not valid base64"),
        ("{not json", MIRROR, "not valid JSON (line 1"),
        (json.dumps(pull_secret()), "https://mirror.example.com", "not HOST or HOST:PORT"),
    ],
)
def test_cli_add_bad_input_exits_2(tmp_path: Path, monkeypatch, capsys, secret: str, registry: str,
                                   expected: str) -> None:
    path = tmp_path / "ps.json"
    path.write_text(secret)
    code = run_add(["--pull-secret", str(path), "--registry", registry, "--username", USER, "--password-stdin",
                    "-o", str(tmp_path / "o.json")], PASSWORD, monkeypatch)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and expected in err
    assert PASSWORD not in err and not (tmp_path / "o.json").exists()


def test_cli_add_prompts_on_a_terminal(secret_file: Path, tmp_path: Path) -> None:
    """The real getpass on a pseudo-terminal: the password typed is stored and never echoed or printed."""
    out = tmp_path / "o.json"
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "credentials", "add", "--no-test", "--pull-secret", str(secret_file),
         "--registry", MIRROR, "--username", USER, "-o", str(out)],
        stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    os.close(slave)
    try:
        seen = b""
        deadline = time.monotonic() + 30
        while b"Password for" not in seen and time.monotonic() < deadline:  # the prompt, on the terminal
            ready, _, _ = select.select([master, process.stderr], [], [], 0.5)
            for source in ready:
                seen += os.read(source if source == master else source.fileno(), 1024)
        assert b"Password for mirror-admin@mirror.example.com:8443" in seen
        os.write(master, PASSWORD.encode() + b"\n")
        stdout, stderr = process.communicate(timeout=30)
        echoed = b""
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 1024)
            except OSError:
                break
            if not chunk:
                break
            echoed += chunk
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr.decode()
    assert json.loads(out.read_text())["auths"][MIRROR]["auth"] == b64(f"{USER}:{PASSWORD}")
    assert PASSWORD.encode() not in stdout + stderr + seen + echoed


def test_cli_check_reports_each_registry(auth_file: Path, pki, tls_registry, token_registry, capsys) -> None:
    assert main(["credentials", "check", "-a", str(auth_file), "--ca-file", str(pki.ca_file)]) == 0
    out = capsys.readouterr().out
    assert f"ok                {tls_registry.host}" in out and token_registry.host in out
    assert "2 of 2 logins work" in out and "podman login --authfile" in out
    assert PASSWORD not in out


def test_cli_check_failures_exit_1(tmp_path: Path, pki, tls_registry, capsys) -> None:
    path = tmp_path / "auth.json"
    down = f"127.0.0.1:{free_port()}"
    path.write_text(json.dumps(auth_with({tls_registry.host: (USER, "wrong-" + PASSWORD),
                                          down: (USER, PASSWORD)}).data))
    code = main(["credentials", "check", "-a", str(path), "--ca-file", str(pki.ca_file), "--timeout", "10"])
    out = capsys.readouterr().out
    assert code == 1
    assert f"wrong credentials {tls_registry.host}" in out and f"unreachable       {down}" in out
    assert "0 of 2 logins work" in out and PASSWORD not in out
    assert main(["credentials", "check", "-a", str(path), tls_registry.host]) == 1  # no --ca-file
    assert "TLS not trusted" in capsys.readouterr().out


def test_cli_check_json_and_bad_file(auth_file: Path, pki, tls_registry, tmp_path: Path, capsys) -> None:
    assert main(["credentials", "check", "-a", str(auth_file), "--ca-file", str(pki.ca_file), "--json",
                 tls_registry.host]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"registry": tls_registry.host, "state": "ok", "ok": True, "message": f"logged in as {USER}"}]
    bad = tmp_path / "bad.json"
    bad.write_text('{"auths": {"x": {"auth": "' + b64("nocolon") + '"}}}')
    assert main(["credentials", "check", "-a", str(bad)]) == 2
    assert "has no ':'" in capsys.readouterr().err


def test_cli_check_skips_cloud_openshift_com(tmp_path: Path, pki, tls_registry, capsys) -> None:
    path = _secret_with_telemetry(tmp_path, tls_registry.host)
    assert main(["credentials", "check", "-a", str(path), "--ca-file", str(pki.ca_file)]) == 0
    out = capsys.readouterr().out
    assert "cloud.openshift.com" in out and "skipped: not an image registry (telemetry)" in out
    assert "1 of 1 logins work (1 skipped: not a registry)" in out
    assert RH_TOKEN not in out and PASSWORD not in out
    assert main(["credentials", "check", "-a", str(path), "--ca-file", str(pki.ca_file), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0] == {"registry": "cloud.openshift.com", "state": "skipped", "ok": False,
                       "message": "skipped: not an image registry (telemetry)"}


def test_cli_check_tries_cloud_openshift_com_when_named(tmp_path: Path, pki, tls_registry, capsys) -> None:
    """Named explicitly, it is tried like any other entry, and its failure counts (here: the fake token,
    or no network to reach it)."""
    path = _secret_with_telemetry(tmp_path, tls_registry.host)
    code = main(["credentials", "check", "-a", str(path), "--timeout", "5", "cloud.openshift.com"])
    out = capsys.readouterr().out
    assert code == 1 and "skipped" not in out and RH_TOKEN not in out


def test_cli_add_notes_another_entry_for_the_same_registry(tmp_path: Path, monkeypatch, capsys) -> None:
    secret = pull_secret()
    secret["auths"][f"https://{MIRROR}"] = {"auth": b64("old-user:old-password")}
    secret["auths"][f"{MIRROR}/team"] = {"auth": b64("team:team-password")}  # a scoped login: not a duplicate
    path = tmp_path / "ps.json"
    path.write_text(json.dumps(secret))
    out = tmp_path / "out.json"
    assert run_add(["--pull-secret", str(path), "--registry", MIRROR, "--username", USER, "--password-stdin",
                    "-o", str(out)], PASSWORD, monkeypatch) == 0
    captured = capsys.readouterr()
    assert f"note: {out} also has an entry 'https://{MIRROR}' for the same registry" in captured.err
    assert f"{MIRROR}/team" not in captured.err
    assert "old-password" not in captured.out + captured.err and PASSWORD not in captured.out + captured.err
    assert "(7 registries, mode 0600)" in captured.out
    empty = tmp_path / "empty.json"
    empty.write_text('{"auths": {}}')
    assert run_add(["--pull-secret", str(empty), "--registry", MIRROR, "--username", USER, "--password-stdin",
                    "-o", str(tmp_path / "new.json")], PASSWORD, monkeypatch) == 0
    assert "(1 registry, mode 0600)" in capsys.readouterr().out
