"""Bad input on every screen: an inline error that says what to fix, and the admin's other entries kept.

Real registries (the session fixtures in conftest) stand behind the wrong password, the unreachable
host and the certificate without a SAN.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from textual.widgets import Input, Static

from core.plan import plan_from_dict
from tests.support.constants import PASSWORD, USER
from tests.support.pilot import settle
from tests.support.unverified_registry import UnverifiedStartRegistry
from tui.app import MirrorWizardApp
from tui.sandbox.registry import free_port, make_registry
from tui.state import WizardState


def secret(path: Path) -> Path:
    auth = base64.b64encode(b"someone:token").decode()
    path.write_text(json.dumps({"auths": {"quay.io": {"auth": auth}}}))
    return path


def app_for(tmp_path: Path, mirror: str, *, start: str, ca_file: str | None = None, auth_file: Path | None = None,
            **release) -> MirrorWizardApp:
    data = {"auth_file": str(auth_file or secret(tmp_path / "pull-secret.json")),
            "mirror": {"registry": mirror, "ca_file": ca_file},
            "output_dir": str(tmp_path / "out")}
    state = WizardState(plan=plan_from_dict(data))
    if release:  # set after loading: a plan file may not hold an empty release source, the wizard may
        state.release.target = f"{mirror}/ocp4/openshift4"
        for key, val in release.items():
            setattr(state.release, key, val)
    return MirrorWizardApp(state, start=start, auto_check=False)


def text(app: MirrorWizardApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def value(app: MirrorWizardApp, selector: str) -> str:
    return app.screen.query_one(selector, Input).value


async def type_into(pilot, selector: str, text_: str) -> None:  # type: ignore[no-untyped-def]
    """Focus the field and put the text in (typing each key of a long path only slows the test)."""
    widget = pilot.app.screen.query_one(selector, Input)
    widget.focus()
    widget.value = text_
    await pilot.pause()


async def test_pull_secret_that_is_not_json(tmp_path: Path) -> None:
    app = app_for(tmp_path, "mirror.example.com:8443", start="credentials")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await type_into(pilot, "#user", "admin")
        bad = tmp_path / "broken.json"
        bad.write_text('{"auths": {"quay.io": {"auth": "x"}')
        await type_into(pilot, "#secret", str(bad))
        await pilot.press("enter")
        await settle(pilot)
        assert "not valid JSON" in text(app, "#secret-error")
        assert value(app, "#mirror") == "mirror.example.com:8443" and value(app, "#user") == "admin"
        await pilot.press("ctrl+n")  # refused: the pull secret must be fixed first
        await settle(pilot)
        assert app.current_mode == "credentials"
        assert value(app, "#secret") == str(bad)  # what was typed stays, to be corrected


async def test_wrong_password(tmp_path: Path, tls_registry, pki) -> None:
    app = app_for(tmp_path, tls_registry.host, start="credentials", ca_file=str(pki.ca_file))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await type_into(pilot, "#user", USER)
        await type_into(pilot, "#password", "not-" + PASSWORD)
        await pilot.press("enter")
        await settle(pilot)
        assert "✗" in text(app, "#password-error")
        assert [r.state for r in app.state.logins] == ["wrong-credentials"]
        assert value(app, "#user") == USER and value(app, "#mirror") == tls_registry.host
        assert not (tmp_path / "pull-secret-mirror.json").exists()  # a failed login is not saved
        # Corrected, it works and is saved.
        await type_into(pilot, "#password", PASSWORD)
        await pilot.press("enter")
        await settle(pilot)
        assert [r.state for r in app.state.logins] == ["ok"]
        saved = (tmp_path / "pull-secret-mirror.json").read_text()
        assert tls_registry.host in saved and PASSWORD not in saved


async def test_unreachable_registry(tmp_path: Path) -> None:
    host = f"127.0.0.1:{free_port()}"  # nothing listens there
    app = app_for(tmp_path, host, start="credentials")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await type_into(pilot, "#user", "admin")
        await type_into(pilot, "#password", "secret")
        await pilot.press("enter")
        await settle(pilot)
        assert [r.state for r in app.state.logins] == ["unreachable"]
        assert "✗" in text(app, "#mirror-error")
        assert value(app, "#user") == "admin" and value(app, "#password") == "secret"


async def test_mirror_host_that_is_not_host_port(tmp_path: Path) -> None:
    app = app_for(tmp_path, "mirror.example.com:8443", start="credentials")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await type_into(pilot, "#mirror", "https://mirror.example.com/v2")
        await pilot.pause()
        assert "HOST:PORT" in text(app, "#mirror-error")
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "credentials"
        assert value(app, "#mirror") == "https://mirror.example.com/v2"


def _cert_without_san(folder: Path, ca_key_path: Path | None = None) -> tuple[Path, Path, Path]:
    """A CA and a server certificate with only a CN (what the procedure warns against)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "no-SAN test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
            .sign(ca_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    ca_path, cert_path, key_path = folder / "ca.crt", folder / "server.crt", folder / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca_path, cert_path, key_path


@pytest.fixture(scope="module")
def no_san_registry(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("no-san")
    ca_path, cert_path, key_path = _cert_without_san(folder / "pki")
    registry = make_registry(folder / "registry", tls=(cert_path, key_path))
    registry.__class__ = UnverifiedStartRegistry
    registry.start()
    try:
        yield registry, ca_path
    finally:
        registry.stop()


async def test_ca_without_san(tmp_path: Path, no_san_registry, pki) -> None:
    registry, ca_path = no_san_registry
    app = app_for(tmp_path, registry.host, start="ca", ca_file=str(ca_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("#check").focus()
        await pilot.press("enter")
        await settle(pilot)
        check = app.state.ca_check
        assert check is not None and not check.san_ok and not check.ok
        assert "Subject Alternative Name" in text(app, "#ca-error") or "SAN" in text(app, "#ca-error")
        assert value(app, "#ca-file") == str(ca_path)
        # A CA file that cannot be read: said inline, and Next waits for a fix.
        await type_into(pilot, "#ca-file", "/nonexistent/ca.crt")
        await pilot.press("enter")
        await settle(pilot)
        assert "✗" in text(app, "#ca-error")
        assert app.current_mode == "ca"
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "ca"  # a CA file that cannot be read blocks Next


async def test_release_image_that_does_not_parse_or_exist(tmp_path: Path, seeded_release) -> None:
    from core.plan import RegistryTrust

    app = app_for(tmp_path, seeded_release.host, start="release", source="", architecture="x86_64")
    app.state.plan.registries = [RegistryTrust(host=seeded_release.host, insecure=True)]  # plain HTTP
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await type_into(pilot, "#source", "quay.io/Bad Name:tag")
        await pilot.pause()
        assert "✗" in text(app, "#source-error")
        await type_into(pilot, "#source", f"{seeded_release.host}/no/such-release:4.99.0-x86_64")
        await pilot.press("enter")
        await settle(pilot)
        assert "✗" in text(app, "#source-error")
        assert app.state.release_info is None
        assert value(app, "#target") == f"{seeded_release.host}/ocp4/openshift4"
        await type_into(pilot, "#source", seeded_release.release_ref)
        await pilot.press("enter")
        await settle(pilot)
        assert app.state.release_info is not None, text(app, "#source-error")
        assert text(app, "#source-error") == ""


async def test_image_streams_folder_missing(tmp_path: Path) -> None:
    app = app_for(tmp_path, "mirror.example.com:8443", start="samples")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await type_into(pilot, "#path", str(tmp_path / "nowhere"))
        await pilot.press("enter")
        await settle(pilot)
        assert "✗" in text(app, "#streams-error")
        assert value(app, "#path") == str(tmp_path / "nowhere")
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "samples"


async def test_a_login_typed_but_not_added_is_added_and_tested_on_next(tmp_path: Path, tls_registry, pki) -> None:
    app = app_for(tmp_path, tls_registry.host, start="credentials", ca_file=str(pki.ca_file))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await type_into(pilot, "#user", USER)
        await type_into(pilot, "#password", "not-" + PASSWORD)
        await pilot.press("ctrl+n")  # no "Add login and test": Next does it, and stays on a wrong password
        await settle(pilot)
        assert app.current_mode == "credentials"
        assert "✗" in text(app, "#password-error")
        await type_into(pilot, "#password", PASSWORD)
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "release"
    saved = json.loads((tmp_path / "pull-secret-mirror.json").read_text())
    assert tls_registry.host in saved["auths"] and app.state.plan.auth_file.endswith("pull-secret-mirror.json")


async def test_a_ca_that_does_not_verify_blocks_next_and_a_broken_file_is_not_trusted(
        tmp_path: Path, tls_registry, pki) -> None:
    other_ca, _, _ = _cert_without_san(tmp_path / "other")  # a CA, but not the one that signed the registry
    ca_copy = tmp_path / "mirror-ca.crt"
    ca_copy.write_bytes(pki.ca_file.read_bytes())
    app = app_for(tmp_path, tls_registry.host, start="ca", ca_file=str(ca_copy))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("#check").focus()
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        assert app.state.ca_check.ok and "trusted" in text(app, "#status")
        assert app.state.mirror_trust is not None and app.state.mirror_trust[0]  # the copy's own trust agrees
        # The same path, now holding something that is not PEM: not "trusted" any more.
        ca_copy.write_text("not a certificate")
        # Check again: focus the button first (the step's own first focus, queued after its first refresh,
        # may have moved to Next once the CA verified: on a loaded machine it lands after the first check)
        app.screen.query_one("#check").focus()
        await pilot.pause()  # focus() takes effect on the next message: Enter must reach Check, not Next
        await pilot.press("enter")
        await settle(pilot)
        assert "trusted" not in text(app, "#status") and "✗" in text(app, "#ca-error")
        assert app.state.ca_check is None
        # A real CA that did not sign the registry: Next refused.
        await type_into(pilot, "#ca-file", str(other_ca))
        await pilot.press("enter")
        await settle(pilot)
        assert app.state.ca_check is not None and not app.state.ca_check.verified
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "ca" and "does not verify" in text(app, "#status")


async def test_an_unchecked_ca_needs_a_confirmation_shown_on_review(tmp_path: Path, pki) -> None:
    from tui.screens.confirm import ConfirmScreen

    host = f"127.0.0.1:{free_port()}"  # unreachable: the CA cannot be checked
    app = app_for(tmp_path, host, start="ca", ca_file=str(pki.ca_file))
    app.state.visited = {"preflight", "credentials", "release", "samples"}
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")  # never checked: Next checks first (and would go on had it verified)
        await settle(pilot)
        assert app.current_mode == "ca" and app.state.ca_check is not None and app.state.ca_check.not_checked
        from tui.widgets.checks import CheckList

        shown = {c.name: c for lst in app.screen.query(CheckList) for c in lst.checks}
        # Unreachable tells nothing about the certificate: "not checked", never a ✗ for the SAN.
        assert shown["SAN"].state == "warn" and "not checked" in shown["SAN"].detail
        assert shown["verification"].state == "warn"
        await pilot.press("ctrl+n")  # it could not be checked: go on only when the admin says so
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")  # stay
        await settle(pilot)
        assert app.current_mode == "ca"
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press("y")  # go on unverified
        await settle(pilot)
        assert app.current_mode == "review"
        summary = " ".join(str(s.render()) for s in app.screen.query("#summary Static"))
        assert "not verified" in summary and "you chose to go on" in summary


async def test_find_versions_asks_the_update_graph(tmp_path: Path) -> None:
    from tests.test_release_e2e import STABLE_48, GraphServer

    server = GraphServer(STABLE_48.read_bytes())
    url = server.start()
    try:
        app = app_for(tmp_path, "mirror.example.com:8443", start="release", source="", architecture="x86_64")
        app.state.graph_url = url
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await type_into(pilot, "#channel", "stable-4.8")
            app.screen.query_one("#find").focus()
            await pilot.press("enter")
            await settle(pilot)
            assert app.state.versions[:3] == ["4.8.54", "4.8.53", "4.8.52"]
            assert "stable-4.8" in text(app, "#versions-note")
            # Picking one fills in the release image.
            app.screen.query_one("#version").value = "4.8.53"
            await pilot.pause()
            assert value(app, "#source") == "quay.io/openshift-release-dev/ocp-release:4.8.53-x86_64"
    finally:
        server.stop()
    assert server.requests[0]["query"] == {"channel": ["stable-4.8"], "arch": ["amd64"]}


async def test_leaving_credentials_without_a_mirror_login_asks_first(tmp_path: Path) -> None:
    from tui.screens.confirm import ConfirmScreen

    app = app_for(tmp_path, "mirror.example.com:8443", start="credentials")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")  # the pull secret has no entry for the mirror: pushes would get 401
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen) and "without a login" in str(app.screen.query_one("Static").render())
        await pilot.press("escape")  # add a login instead
        await settle(pilot)
        assert app.current_mode == "credentials" and app.focused is not None and app.focused.id == "user"
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press("y")  # an admin whose mirror takes anonymous pushes goes on
        await settle(pilot)
        assert app.current_mode == "release"
