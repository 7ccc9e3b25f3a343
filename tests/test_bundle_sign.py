"""The far side checks who wrote the medium before it runs anything from it (issue 25): SHA256SUMS is
signed (``--sign-key`` or this host's key, 0600, made once), ``media verify --signer`` refuses a bundle
that key did not sign, README.txt checks first, and a bundle's plan names paths inside the bundle only."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pysequoia
import pytest

from core.bundle import SUMS_SIG_FILE, join_volumes, parse_size, split_volumes, verify_bundle, write_sums
from core.bundle_sign import (
    HOST_KEY_FILE,
    SIGNER_FILE,
    check_sums_signature,
    config_dir,
    host_signer,
    sign_sums,
    signer_from_file,
    write_signer_key,
)
from core.bundle_write import _readme
from core.errors import BundleError, PlanError
from core.plan import load_plan
from tests.support.gpg import GPG, needs_gpg
from tui.cli import main


def _bundle(root: Path, signer=None) -> Path:
    """A small finished bundle: a wheel pip would install, SHA256SUMS, the signature."""
    (root / "wheelhouse").mkdir(parents=True)
    (root / "wheelhouse" / "mirror_wizard-0.1.0-py3-none-any.whl").write_bytes(b"honest wheel")
    (root / "README.txt").write_text("hello\n")
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text('{"schemaVersion": 2, "manifests": []}')
    signer = signer or host_signer()
    write_signer_key(root, signer)
    write_sums(root)
    sign_sums(root, signer)
    return root


def test_the_host_key_is_made_once_private_and_refused_when_others_can_read_it(tmp_path: Path) -> None:
    first = host_signer(tmp_path / "cfg")
    path = tmp_path / "cfg" / HOST_KEY_FILE
    assert first.made and stat.S_IMODE(path.stat().st_mode) == 0o600
    again = host_signer(tmp_path / "cfg")
    assert not again.made and again.fingerprint == first.fingerprint
    path.chmod(0o644)
    with pytest.raises(BundleError, match="may be read or changed by others"):
        host_signer(tmp_path / "cfg")
    assert config_dir() == Path(os.environ["MIRROR_WIZARD_CONFIG"])  # the suite's, never ~/.config


def test_a_signed_bundle_verifies_only_with_its_signer(tmp_path: Path, capsys) -> None:
    bundle = _bundle(tmp_path / "b")
    mine = host_signer().fingerprint
    assert check_sums_signature(bundle, mine) == mine
    spaced = " ".join(mine[i:i + 4] for i in range(0, 40, 4))
    assert check_sums_signature(bundle, spaced) == mine  # as gpg prints it
    report = verify_bundle(bundle, signer=mine)
    assert report.ok and report.signed_by == mine and f"signed by {mine}" in report.summary()
    # without --signer: complete, but it says plainly that the origin is not checked
    assert "origin is NOT checked" in verify_bundle(bundle).summary()
    other = pysequoia.Tsk.generate("someone else <x@example.test>")
    other_fp = str(other.extract_certificate().fingerprint).upper()
    report = verify_bundle(bundle, signer=other_fp)
    assert not report.ok and any(p.path == SUMS_SIG_FILE and "is not signed by" in p.message for p in report.problems)
    code = main(["media", "verify", str(bundle), "--signer", other_fp])
    out = capsys.readouterr()
    assert code == 1 and "is not signed by" in out.out + out.err
    assert main(["media", "verify", str(bundle), "--signer", mine]) == 0
    assert f"signed by {mine}" in capsys.readouterr().out


def test_a_rewritten_medium_is_refused(tmp_path: Path) -> None:
    """The attacker changes a wheel, rewrites SHA256SUMS, and signs it with a key of their own that they
    put in bundle-signer.asc: sha256sum -c passes; the fingerprint the admin carried does not."""
    bundle = _bundle(tmp_path / "b")
    mine = host_signer().fingerprint
    (bundle / "wheelhouse" / "mirror_wizard-0.1.0-py3-none-any.whl").write_bytes(b"evil wheel")
    write_sums(bundle)
    with pytest.raises(BundleError, match="not a good signature"):
        check_sums_signature(bundle, mine)  # SHA256SUMS changed: the old signature no longer covers it
    from core.bundle_sign import BundleSigner
    evil = pysequoia.Tsk.generate("attacker <a@example.test>")
    attacker = BundleSigner(evil, str(evil.extract_certificate().fingerprint).upper(), "attacker")
    write_signer_key(bundle, attacker)
    write_sums(bundle)
    sign_sums(bundle, attacker)
    with pytest.raises(BundleError, match=f"is not signed by {mine}"):
        check_sums_signature(bundle, mine)
    (bundle / SUMS_SIG_FILE).unlink()
    key_file = tmp_path / "mine.asc"
    key_file.write_text(host_signer().public_armored)
    with pytest.raises(BundleError, match="has no SHA256SUMS.sig: its origin cannot be checked"):
        check_sums_signature(bundle, str(key_file))


def test_sign_key_file_and_a_public_key_file_as_signer(tmp_path: Path) -> None:
    key = pysequoia.Tsk.generate("admin <admin@example.test>")
    (tmp_path / "admin.asc").write_text(str(key))
    signer = signer_from_file(tmp_path / "admin.asc")
    bundle = _bundle(tmp_path / "b", signer)
    (tmp_path / "admin.pub").write_text(str(key.extract_certificate()))
    assert check_sums_signature(bundle, str(tmp_path / "admin.pub")) == signer.fingerprint
    (tmp_path / "junk.asc").write_text("not a key")
    with pytest.raises(BundleError, match="is not a usable OpenPGP secret key"):
        signer_from_file(tmp_path / "junk.asc")


@needs_gpg
def test_gpg_on_the_far_host_checks_the_signature(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path / "b")
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    gpg = [GPG or "gpg", "--homedir", str(home), "--batch"]
    subprocess.run([*gpg, "--import", str(bundle / SIGNER_FILE)], check=True, capture_output=True, timeout=60)
    done = subprocess.run([*gpg, "--verify", str(bundle / SUMS_SIG_FILE), str(bundle / "SHA256SUMS")],
                          capture_output=True, timeout=60, text=True)
    assert done.returncode == 0 and "Good signature" in done.stderr
    spaced = " ".join(host_signer().fingerprint[i:i + 4] for i in range(0, 40, 4))
    assert spaced.replace(" ", "") in done.stderr.replace(" ", "")
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True, timeout=30)


def test_volumes_carry_the_signature(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path / "b")
    (bundle / "big").write_bytes(os.urandom(3 << 20))
    write_sums(bundle)
    sign_sums(bundle, host_signer())
    volumes = split_volumes(bundle, parse_size("2M"), tmp_path / "volumes")
    assert all((v / SUMS_SIG_FILE).is_file() for v in volumes)
    assert join_volumes(tmp_path / "in", volumes) == []
    assert verify_bundle(tmp_path / "in", signer=host_signer().fingerprint).ok


def test_readme_checks_the_medium_before_pip_install() -> None:
    fingerprint = "AB" * 20
    text = _readme(Path("/b"), {"created": "now", "tool_version": "0.1", "releases": [], "target": None,
                                "signer": {"fingerprint": fingerprint}, "wheelhouse": {"wheels": ["w"]}}, [])
    checks = text.index("sha256sum -c"), text.index("gpg --homedir"), text.index(f"--verify {SUMS_SIG_FILE} SHA256SUMS")
    assert max(checks) < text.index("pip install") < text.index("media verify")
    assert text.index("sha256sum -c") < 200  # the first thing it says
    assert f"media verify . --signer {fingerprint}" in text and "APART from this medium" in text


@pytest.mark.parametrize("plan, message", [
    ("auth_file: /root/.docker/config.json\n", "auth_file '/root/.docker/config.json' is an absolute path"),
    ("output_dir: /etc/cron.d\n", "output_dir '/etc/cron.d' is an absolute path"),
    ("output_dir: ../../elsewhere\n", "is a path leaving the bundle"),
    ("mirror: {registry: m.example.com, ca_file: /etc/pki/evil.pem}\n", "mirror.ca_file"),
])
def test_a_bundle_plan_names_paths_inside_the_bundle_only(tmp_path: Path, plan: str, message: str) -> None:
    base = {"release": "release: {mode: from-dir, directory: ., target: m.example.com/ocp/release}\n"}
    (tmp_path / "bundle.json").write_text("{}")
    text = plan + ("" if plan.startswith("mirror") else "mirror: {registry: m.example.com}\n") + base["release"]
    (tmp_path / "plan.yaml").write_text(text)
    with pytest.raises(PlanError, match=message) as caught:
        load_plan(tmp_path / "plan.yaml")
    assert "inside the bundle" in str(caught.value)
    (tmp_path / "bundle.json").unlink()
    load_plan(tmp_path / "plan.yaml")  # the admin's own plan elsewhere: their choice


def test_a_bundle_plan_cannot_choose_what_is_trusted_or_where_it_uploads(tmp_path: Path) -> None:
    (tmp_path / "bundle.json").write_text("{}")
    good = ("mirror: {registry: m.example.com, ca_file: config/mirror-ca.pem}\n"
            "release: {mode: from-dir, directory: ., target: m.example.com/ocp/release}\n")
    (tmp_path / "plan.yaml").write_text(good)
    assert load_plan(tmp_path / "plan.yaml", confirm_target="m.example.com/ocp/release").mirror.ca_file
    with pytest.raises(PlanError, match="not 'mine.example.com/ocp/release' as you confirmed"):
        load_plan(tmp_path / "plan.yaml", confirm_target="mine.example.com/ocp/release")
    # Which keys this host trusts is its admin's answer: the bundle carries key files (config/release-keys/)
    # to compare and name, but its plan never names one, inside the bundle or out.
    for key in ("evil.asc", "config/release-keys/00-a.asc", "/etc/pki/evil.asc"):
        (tmp_path / "plan.yaml").write_text(good.replace("target:", f"keys: ['{key}'], target:"))
        with pytest.raises(PlanError, match="release.keys in a bundle's plan would let the medium choose"):
            load_plan(tmp_path / "plan.yaml")
    (tmp_path / "plan.yaml").write_text(good.replace("target:", "bundle_signer: ABCD, target:"))
    with pytest.raises(PlanError, match="release.bundle_signer in a bundle's plan would let the medium choose"):
        load_plan(tmp_path / "plan.yaml")
