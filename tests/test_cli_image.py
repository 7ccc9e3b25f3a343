"""``mirror-wizard image mirror`` end to end: exit codes, summaries, --json, -f, --dry-run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support import skopeo
from tests.support.repos import unique_repo
from tui.cli import main

PLAIN = {"tls_verify": False}


def test_mirror_prints_a_summary_and_exits_0(seeded_release, plain_registry, capsys) -> None:
    dst = f"{plain_registry.host}/{unique_repo('cli')}:v1"
    assert main(["image", "mirror", "--insecure", seeded_release.release_ref, dst]) == 0
    out = capsys.readouterr()
    text = out.out + out.err
    assert "1 image" in text or "images: 1" in text
    assert skopeo.digest(dst, **PLAIN) == skopeo.digest(seeded_release.release_ref, **PLAIN)


def test_json_summary_and_rerun_moves_nothing(seeded_release, plain_registry, capsys) -> None:
    dst = f"{plain_registry.host}/{unique_repo('cli-json')}:v1"
    src = seeded_release.component_refs["pod"]
    assert main(["image", "mirror", "--insecure", "--json", src, dst]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["ok"] and first["images"]["done"] == 1
    assert main(["image", "mirror", "--insecure", "--json", src, dst]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["bytes"]["copied"] == 0 and again["blobs"]["copied"] == 0


def test_mapping_file_and_dry_run(seeded_release, plain_registry, tmp_path: Path, capsys) -> None:
    repo = unique_repo("cli-map")
    mapping = tmp_path / "mapping.txt"
    mapping.write_text(f"# comment\n{seeded_release.component_refs['cli']}={plain_registry.host}/{repo}:cli\n\n"
                       f"{seeded_release.component_refs['etcd']}={plain_registry.host}/{repo}:etcd\n")
    assert main(["image", "mirror", "--insecure", "--dry-run", "-f", str(mapping)]) == 0
    assert "2" in capsys.readouterr().out
    with pytest.raises(subprocess.CalledProcessError):
        skopeo.inspect(f"{plain_registry.host}/{repo}:cli", **PLAIN)
    assert main(["image", "mirror", "--insecure", "-f", str(mapping)]) == 0
    etcd_digest = seeded_release.component_refs["etcd"].split("@")[1]
    assert skopeo.digest(f"{plain_registry.host}/{repo}:etcd", **PLAIN) == etcd_digest


def test_missing_image_exits_1_with_one_line(seeded_release, plain_registry, capsys) -> None:
    missing = f"{seeded_release.host}/nothing/here:v1"
    assert main(["image", "mirror", "--insecure", missing, f"{plain_registry.host}/{unique_repo('m')}:v1"]) == 1
    err = capsys.readouterr().err
    assert "nothing/here" in err and "Traceback" not in err
    ok_dst = f"{plain_registry.host}/{unique_repo('m2')}:v1"
    assert main(["image", "mirror", "--insecure", "--skip-missing", missing, ok_dst + "x",
                 seeded_release.component_refs["cli"], ok_dst]) == 0


@pytest.mark.parametrize("args", [
    ["image", "mirror", "not a reference", "127.0.0.1:1/x:y"],
    ["image", "mirror", "quay.io/a/b:1"],
    ["image", "mirror", "-f", "/no/such/mapping.txt"],
])
def test_bad_input_exits_2_without_traceback(args: list[str], capsys) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err and len(err.strip().splitlines()) <= 2
