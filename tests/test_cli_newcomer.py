"""Issue 12, command line: `credentials add` logs in before it saves; the commands that read through a
mirror set take --idms-file; the demo prints commands to paste; the runbook suggests --offline."""

from __future__ import annotations

import base64
import io
import json
import sys
from pathlib import Path

import pytest

from tests.support.constants import PASSWORD, USER
from tui.cli import main


def add(argv: list[str], stdin: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(["credentials", "add", *argv])


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "pull-secret.json"
    path.write_text(json.dumps({"auths": {"quay.io": {"auth": base64.b64encode(b"someone:token").decode()}}}))
    return path


def test_credentials_add_refuses_to_save_a_login_the_registry_rejects(secret_file: Path, tmp_path: Path,
                                                                      tls_registry, pki, monkeypatch,
                                                                      capsys) -> None:
    out = tmp_path / "pull-secret-mirror.json"
    code = add(["--pull-secret", str(secret_file), "--registry", tls_registry.host, "--username", USER,
                "--password-stdin", "--ca-file", str(pki.ca_file), "-o", str(out)], "not-" + PASSWORD, monkeypatch)
    err = capsys.readouterr().err
    assert code == 1 and "nothing was written" in err and not out.exists()


def test_credentials_add_tests_with_the_ca_file_then_saves(secret_file: Path, tmp_path: Path, tls_registry, pki,
                                                           monkeypatch, capsys) -> None:
    out = tmp_path / "pull-secret-mirror.json"
    code = add(["--pull-secret", str(secret_file), "--registry", tls_registry.host, "--username", USER,
                "--password-stdin", "--ca-file", str(pki.ca_file), "-o", str(out)], PASSWORD, monkeypatch)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"login to {tls_registry.host} works" in captured.out
    assert tls_registry.host in json.loads(out.read_text())["auths"]


def test_credentials_add_without_the_ca_says_the_certificate_is_not_trusted(secret_file: Path, tmp_path: Path,
                                                                             tls_registry, monkeypatch,
                                                                             capsys) -> None:
    out = tmp_path / "o.json"
    code = add(["--pull-secret", str(secret_file), "--registry", tls_registry.host, "--username", USER,
                "--password-stdin", "-o", str(out)], PASSWORD, monkeypatch)
    err = capsys.readouterr().err
    assert code == 1 and "not trusted" in err and "--ca-file" in err and not out.exists()
    code = add(["--pull-secret", str(secret_file), "--registry", tls_registry.host, "--username", USER,
                "--password-stdin", "--insecure", "-o", str(out)], PASSWORD, monkeypatch)
    assert code == 0 and out.exists()


def idms_file(folder: Path, source: str, mirror: str) -> Path:
    path = folder / "idms.yaml"
    path.write_text(f"""apiVersion: config.openshift.io/v1
kind: ImageDigestMirrorSet
metadata:
  name: practice
spec:
  imageDigestMirrors:
  - source: {source}
    mirrors:
    - {mirror}
""")
    return path


def test_image_mirror_reads_sources_through_an_idms_file(tmp_path: Path, seeded_release, capsys) -> None:
    name, ref = next(iter(seeded_release.component_refs.items()))
    repo, digest = ref.split("@", 1)
    mirror_set = idms_file(tmp_path, "quay.io/practice/component", repo)
    code = main(["image", "mirror", "--insecure", "--idms-file", str(mirror_set), "--dry-run",
                 f"quay.io/practice/component@{digest}", f"{seeded_release.host}/idms-copy/{name}:latest"])
    captured = capsys.readouterr()
    assert code == 0, captured.err


def test_samples_mirror_and_release_info_take_an_idms_file() -> None:
    from tui.cli import build_parser

    parser = build_parser()
    for argv in (["samples", "mirror", "--imagestreams", "x", "--mirror", "m:5000", "--idms-file", "i.yaml"],
                 ["release", "info", "quay.io/a/b:1", "--idms-file", "i.yaml"],
                 ["image", "mirror", "--idms-file", "i.yaml", "a/b:1", "c/d:1"]):
        assert parser.parse_args(argv).idms_file == "i.yaml"


def test_runbook_with_unreachable_registries_suggests_offline(tmp_path: Path, capsys) -> None:
    from tui.sandbox.registry import free_port

    away = f"127.0.0.1:{free_port()}"
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"""version: 1
mirror: {{registry: "{away}"}}
release:
  source: "{away}/openshift-release-dev/ocp-release:4.17.3-x86_64"
  target: "{away}/ocp4/openshift4"
  mode: registry
output_dir: "{tmp_path / 'out'}"
""")
    code = main(["runbook", str(plan)])
    err = capsys.readouterr().err
    assert code == 1 and f"mirror-wizard runbook {plan} --offline" in err
    assert main(["runbook", str(plan), "--offline"]) == 0


def test_demo_without_the_wizard_prints_commands_that_parse(tmp_path: Path) -> None:
    import shlex
    from types import SimpleNamespace

    from tui.cli import build_parser
    from tui.commands.demo import cli_commands

    sandbox = SimpleNamespace(
        workdir=tmp_path, ca_file=tmp_path / "ca.crt", idms_file=tmp_path / "idms.yaml",
        pull_secret=tmp_path / "pull-secret.json", imagestreams_dir=tmp_path / "imagestreams",
        plan_path=tmp_path / "plan.yaml", release_source="quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64",
        mirror=SimpleNamespace(host="127.0.0.1:5001"), mirror_user="admin",
        mirror_repository="127.0.0.1:5001/ocp4/openshift4")
    parser = build_parser()
    commands = [c for c in cli_commands(sandbox) if not c.startswith("#")]
    assert len(commands) == 4
    for command in commands:
        words = shlex.split(command.replace("\\\n", " "))
        assert words[0] == "mirror-wizard" and "<" not in " ".join(words[1:-2])  # no placeholders
        if "<" in words:  # the password comes in on stdin, not as an argument
            words = words[: words.index("<")]
        parser.parse_args(words[1:])
