"""Files we write in a folder the admin names cannot be turned against their owner: a planted link is
never followed where the kernel would refuse it, a planted file at a temporary name is never written
through, and concurrent writers of one auth file never lose an entry."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.credentials import add_login_to_file, auth_file_lock, write_auth_file
from core.errors import InputError
from core.fsio import atomic_write

pytestmark = pytest.mark.timeout(120)
OTHER_UID = 54321


def secret(*registries: str) -> dict:
    return {"auths": {r: {"auth": base64.b64encode(b"u:p").decode()} for r in registries or ("quay.io",)}}


@pytest.fixture
def sticky(tmp_path: Path) -> Path:
    """A shared folder like /tmp: world-writable with the sticky bit."""
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o1777)
    return folder


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="planting a link owned by another user needs root")


@needs_root
def test_a_link_another_user_planted_in_a_sticky_folder_is_not_followed(sticky: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.json"
    victim.write_text("precious")
    link = sticky / "pull-secret-mirror.json"
    link.symlink_to(victim)
    os.lchown(link, OTHER_UID, OTHER_UID)
    with pytest.raises(InputError, match="another user owns"):
        write_auth_file(link, secret())
    assert victim.read_text() == "precious"
    assert link.is_symlink()


@needs_root
def test_the_cli_refuses_that_link_in_one_line(sticky: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.json"
    victim.write_text("precious")
    source = tmp_path / "ps.json"
    source.write_text(json.dumps(secret()))
    link = sticky / "out.json"
    link.symlink_to(victim)
    os.lchown(link, OTHER_UID, OTHER_UID)
    result = subprocess.run([sys.executable, "-m", "tui.cli", "credentials", "add", "--pull-secret", str(source),
                             "--registry", "mirror.example.com:8443", "-u", "admin", "--password-stdin",
                             "--no-test", "-o", str(link)],
                            input="pw\n", capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "another user owns" in result.stderr
    assert victim.read_text() == "precious"


@needs_root
def test_links_the_kernel_would_follow_are_still_followed(sticky: Path, tmp_path: Path) -> None:
    own = sticky / "mine.json"  # our own link in a sticky folder
    target = tmp_path / "real.json"
    own.symlink_to(target)
    write_auth_file(own, secret())
    assert json.loads(target.read_text()) == secret()
    plain = tmp_path / "plain"  # another user's link in a folder that is not shared
    plain.mkdir()
    other = plain / "theirs.json"
    other.symlink_to(target)
    os.lchown(other, OTHER_UID, OTHER_UID)
    write_auth_file(other, secret("a.example.com"))
    assert json.loads(target.read_text()) == secret("a.example.com")


def test_a_file_planted_at_a_temporary_name_is_never_written_through(tmp_path: Path, monkeypatch) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    monkeypatch.setattr("core.fsio.secrets.token_hex", lambda n: "predictable")
    (tmp_path / ".out.json.predictable.tmp").symlink_to(victim)
    with pytest.raises(Exception, match="cannot write"):
        atomic_write(tmp_path / "out.json", "{}")
    assert victim.read_text() == "precious"


def test_auth_files_are_written_through_the_one_atomic_writer(tmp_path: Path, monkeypatch) -> None:
    seen = []
    from core import credentials

    real = credentials.atomic_write
    monkeypatch.setattr(credentials, "atomic_write", lambda *a, **k: seen.append((a, k)) or real(*a, **k))
    write_auth_file(tmp_path / "a.json", secret())
    assert seen and seen[0][1]["mode"] == 0o600
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o600


def test_the_lock_makes_a_second_writer_wait_and_see_the_first(tmp_path: Path) -> None:
    path = tmp_path / "ps.json"
    path.write_text(json.dumps(secret()))
    done = []

    def second() -> None:
        add_login_to_file(path, path, "b.example.com", "u", "p")
        done.append(time.monotonic())

    with auth_file_lock(path):
        worker = threading.Thread(target=second)
        worker.start()
        time.sleep(0.5)
        assert not done, "the second writer did not wait for the lock"
        data = json.loads(path.read_text())
        data["auths"]["a.example.com"] = {"auth": base64.b64encode(b"x:y").decode()}
        write_auth_file(path, data)
    worker.join(10)
    assert set(json.loads(path.read_text())["auths"]) == {"quay.io", "a.example.com", "b.example.com"}


def test_concurrent_credentials_add_on_one_file_keeps_every_entry(tmp_path: Path) -> None:
    path = tmp_path / "pull-secret.json"
    path.write_text(json.dumps(secret()))
    registries = [f"mirror{i}.example.com:5000" for i in range(10)]
    processes = [subprocess.Popen([sys.executable, "-m", "tui.cli", "credentials", "add", "--pull-secret", str(path),
                                   "--registry", r, "-u", "admin", "--password-stdin", "--no-test", "-o", str(path)],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for r in registries]
    for p in processes:
        p.stdin.write("secret\n")
        p.stdin.close()
    for p in processes:
        assert p.wait(60) == 0, p.stderr.read()
    assert set(json.loads(path.read_text())["auths"]) == {"quay.io", *registries}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pull-secret.json"]  # no temporary file left
