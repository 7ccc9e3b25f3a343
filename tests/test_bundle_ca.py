"""`release mirror --to-dir --ca-file`: the mirror's CA travels in the bundle (config/mirror-ca.pem), as
it does for a plan naming mirror.ca_file, and the far side's printed upload works as written with it."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from core.bundle import parse_sums, verify_bundle
from tests.support import skopeo
from tests.support.repos import unique_repo
from tui.cli import main
from tui.sandbox.pki import make_ca

TAG = "4.17.3-x86_64"


def _upload_line(readme: str) -> list[str]:
    """The far side's `release mirror --from-dir` command README.txt prints (step 3)."""
    line = next(text.strip() for text in readme.splitlines() if " release mirror " in text and "--from-dir ." in text)
    return shlex.split(line)


def test_release_mirror_to_dir_carries_the_ca_file_and_the_far_upload_uses_it(
        seeded_release, tls_registry, auth_file: Path, pki, tmp_path: Path, capsys,
        monkeypatch: pytest.MonkeyPatch) -> None:
    media = tmp_path / "media"
    target = f"{tls_registry.host}/{unique_repo('bundle-ca')}"
    code = main(["release", "mirror", "--insecure", "--ca-file", str(pki.ca_file), "--from", seeded_release.release_ref,
                 "--to-dir", str(media), "--bundle-target", target, "--no-wheelhouse"])
    err = capsys.readouterr().err
    assert code == 0, err
    far = yaml.safe_load((media / "plan.yaml").read_text())
    assert far["mirror"] == {**far["mirror"], "registry": tls_registry.host, "ca_file": "config/mirror-ca.pem"}
    assert (media / "config" / "mirror-ca.pem").read_bytes() == pki.ca_file.read_bytes()
    sums = parse_sums((media / "SHA256SUMS").read_bytes())[0]
    assert "config/mirror-ca.pem" in sums
    # The cluster's trust for the mirror host, as a plan naming the CA writes it.
    assert tls_registry.host.replace(":", "..") in (media / "cluster" / "registry-config.yaml").read_text()
    assert verify_bundle(media).ok
    upload = _upload_line((media / "README.txt").read_text())
    assert upload[upload.index("--ca-file") + 1] == "config/mirror-ca.pem"

    # The far side, from inside the bundle, runs the printed upload: the TLS mirror is trusted only
    # through the carried CA (the test CA is in no system trust), so this proves the file is the right one.
    monkeypatch.chdir(media)
    args = [a if a != "AUTH_FILE" else str(auth_file) for a in upload[1:]]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 0, err
    assert skopeo.digest(f"{target}:{TAG}", authfile=auth_file, cert_dir=pki.dir) == seeded_release.release_digest


def test_several_ca_files_all_travel_as_the_mirrors_ca(seeded_release, tls_registry, pki, tmp_path: Path,
                                                        capsys) -> None:
    other, _, _ = make_ca(tmp_path / "other-ca", "another CA")
    media = tmp_path / "media"
    target = f"{tls_registry.host}/{unique_repo('bundle-ca2')}"
    code = main(["release", "mirror", "--insecure", "--ca-file", str(pki.ca_file), "--ca-file", str(other.cert_path),
                 "--from", seeded_release.release_ref, "--to-dir", str(media), "--bundle-target", target,
                 "--no-wheelhouse"])
    err = capsys.readouterr().err
    assert code == 0, err
    carried = (media / "config" / "mirror-ca.pem").read_bytes()
    assert pki.ca_file.read_bytes() in carried and other.cert_path.read_bytes() in carried
    assert yaml.safe_load((media / "plan.yaml").read_text())["mirror"]["ca_file"] == "config/mirror-ca.pem"
    assert "2 CAs" in (media / "README.txt").read_text()
    assert verify_bundle(media).ok


def test_no_ca_file_carries_none(seeded_release, tmp_path: Path, capsys) -> None:
    media = tmp_path / "media"
    code = main(["release", "mirror", "--insecure", "--from", seeded_release.release_ref, "--to-dir", str(media),
                 "--no-wheelhouse"])
    assert code == 0, capsys.readouterr().err
    assert not (media / "config" / "mirror-ca.pem").exists()
    assert yaml.safe_load((media / "plan.yaml").read_text())["mirror"]["ca_file"] is None


def test_a_plans_ca_is_named_by_its_bundle_path_in_the_cluster_documents(seeded_release, tls_registry, pki,
                                                                          tmp_path: Path, capsys) -> None:
    """`run` of a to-dir plan naming mirror.ca_file: the bundle's cluster/ documents and runbook tell the far
    side to read config/mirror-ca.pem (there), never this host's path to the CA."""
    ca_here = tmp_path / "elsewhere" / "my-mirror-ca.pem"
    ca_here.parent.mkdir()
    ca_here.write_bytes(pki.ca_file.read_bytes())
    media = tmp_path / "media"
    target = f"{tls_registry.host}/{unique_repo('bundle-ca3')}"
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({
        "version": 1, "output_dir": str(tmp_path / "out"),
        "mirror": {"registry": tls_registry.host, "ca_file": str(ca_here)},
        "registries": [{"host": seeded_release.host, "insecure": True}],
        "release": {"source": seeded_release.release_ref, "target": target, "mode": "to-dir",
                    "directory": str(media)}}))
    code = main(["run", str(plan), "--no-wheelhouse"])
    assert code == 0, capsys.readouterr().err
    cluster_text = "\n".join(p.read_text() for p in sorted((media / "cluster").rglob("*")) if p.is_file())
    assert "config/mirror-ca.pem" in cluster_text
    assert str(ca_here) not in cluster_text and "my-mirror-ca.pem" not in cluster_text



def test_the_far_side_gets_only_the_mirrors_trust_and_readme_and_the_tab_say_the_same_steps(
        seeded_release, tls_registry, pki, tmp_path: Path, capsys) -> None:
    """The demo's plan trusts the source registry too (its own CA, as quay.io stands in); the far side never
    talks to the source: its upload passes the mirror's CA only (config/mirror-ca.pem), the bundle carries no
    source CA and its plan names no source registry. README.txt's numbered steps are Done's Removable media
    tab's, and its prose is wrapped at one width."""
    import re

    from core.bundle_write import README_WIDTH, is_command
    from tui.screens.media import media_ending
    from tui.state import WizardState

    source_ca, _, _ = make_ca(tmp_path / "source-ca", "the source's CA")
    media = tmp_path / "media"
    target = f"{tls_registry.host}/{unique_repo('bundle-ca4')}"
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({
        "version": 1, "output_dir": str(tmp_path / "out"),
        "mirror": {"registry": tls_registry.host, "ca_file": str(pki.ca_file)},
        "registries": [{"host": seeded_release.host, "ca_file": str(source_ca.cert_path), "insecure": True}],
        "release": {"source": seeded_release.release_ref, "target": target, "mode": "to-dir",
                    "directory": str(media)}}))
    code = main(["run", str(plan), "--no-wheelhouse"])
    assert code == 0, capsys.readouterr().err
    readme = (media / "README.txt").read_text()
    upload = _upload_line(readme)
    assert [upload[n + 1] for n, word in enumerate(upload) if word == "--ca-file"] == ["config/mirror-ca.pem"]
    assert "--insecure" not in upload  # the source's "insecure" is no flag of the far side's
    assert sorted(p.name for p in (media / "config").glob("*.pem")) == ["mirror-ca.pem"]
    assert source_ca.cert_path.read_bytes() not in b"".join(p.read_bytes() for p in media.rglob("*.pem"))
    assert yaml.safe_load((media / "plan.yaml").read_text())["registries"] == []

    # README.txt's steps are the tab's (the same words; each wraps them to its own width).
    state = WizardState.from_path(str(plan))
    tab = media_ending(state, None)

    def steps(text: str) -> list[str]:
        found: list[list[str]] = []
        for line in text.splitlines():
            if re.match(r"\d+\. ", line):
                found.append([])
            elif found and line.strip() and not line.startswith(" "):
                break  # a heading after the steps: they ended
            if found:
                found[-1].append(line)
        return [" ".join(" ".join(step).split()) for step in found]

    assert [step[:3] for step in steps(readme)] == ["1. ", "2. ", "3. ", "4. ", "5. "]
    assert steps(readme) == steps(tab)
    # Prose at one width: no line but a command longer than README_WIDTH, the fingerprint sentence included.
    long = [line for line in readme.splitlines() if len(line) > README_WIDTH and not is_command(line)]
    assert not long, long
    assert any(len(line) > README_WIDTH - 10 for line in readme.splitlines() if not is_command(line))
