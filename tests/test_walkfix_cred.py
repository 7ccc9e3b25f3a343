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
