"""Removable media against an attacker who writes the medium or the far side's folders (issue 25):
temporary files of ``media join`` made like every other one, and counts on the medium bounded.

Each bundle here is fabricated in a few KiB: no registry needed."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from core.bundle import (
    MAX_MISSING_SHOWN,
    MAX_VOLUMES,
    VOLUMES_FILE,
    join_volumes,
    missing_volumes,
    parse_size,
    split_volumes,
    write_sums,
)
from core.errors import BundleError


def _bundle(root: Path) -> tuple[Path, bytes]:
    """A finished bundle holding one file larger than a 2 MiB volume: split cuts it in parts."""
    big = os.urandom(3 << 20)
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "big").write_bytes(big)
    (root / "README.txt").write_text("hello\n")
    write_sums(root)
    return root, big


@pytest.fixture()
def volumes(tmp_path: Path) -> tuple[list[Path], bytes]:
    directory, big = _bundle(tmp_path / "bundle")
    made = split_volumes(directory, parse_size("2M"), tmp_path / "volumes")
    assert any(p.name.startswith("big.part-") for v in made for p in (v / "bin").glob("*")), "nothing was cut"
    return made, big


def test_join_never_writes_through_a_link_planted_at_the_old_temporary_name(volumes, tmp_path: Path) -> None:
    made, big = volumes
    target = tmp_path / "in"
    (target / "bin").mkdir(parents=True)
    victim = tmp_path / "outside-the-bundle"
    victim.write_bytes(b"precious\n")
    # the predictable names the join used to write through (.big.join.tmp) and every part's copy
    os.symlink(victim, target / "bin" / ".big.join.tmp")
    assert join_volumes(target, made) == []
    assert victim.read_bytes() == b"precious\n"
    whole = target / "bin" / "big"
    assert not whole.is_symlink() and whole.read_bytes() == big
    assert not list((target / "bin").glob("big.part-*"))  # the parts are gone once joined


def test_join_refuses_a_part_that_is_a_link(volumes, tmp_path: Path) -> None:
    made, _ = volumes
    target = tmp_path / "in"
    secret = tmp_path / "secret"
    secret.write_bytes(b"not for the bundle")
    first = next(v for v in made if list((v / "bin").glob("big.part-001-*")))
    part = next((first / "bin").glob("big.part-001-*")).name
    (target / "bin").mkdir(parents=True)
    os.symlink(secret, target / "bin" / part)
    with pytest.raises(BundleError, match="symbolic link"):
        join_volumes(target, [v for v in made if v != first])
    assert not (target / "bin" / "big").exists()


def _volume_list(folder: Path, listing: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / VOLUMES_FILE).write_text(json.dumps(listing))
    return folder


@pytest.mark.parametrize("listing, message", [
    ({"count": 2_000_000, "volumes": {}}, f"count must be a whole number from 1 to {MAX_VOLUMES}"),
    ({"count": 2, "volumes": {"1": "bin/big"}}, "files are not a list"),
    ({"count": 2, "volumes": {"x": []}}, "is not a number"),
    ({"count": 2, "volumes": {"9": []}}, "a volume number must be"),
    ({"count": 2, "volumes": {}, "parts": ["bin/big"]}, "must be JSON objects"),
    ({"count": 2, "volumes": {}, "parts": {"bin/big": "many"}}, "part count of bin/big"),
    ({"count": 2, "volumes": {}, "parts": {"bin/big": 5_000_000}}, "part count of bin/big"),
    ({"count": True, "volumes": {}}, "count must be"),
    ([[[[]]]], "not a JSON object"),
])
def test_a_volume_list_not_ours_is_one_line_and_bounded(tmp_path: Path, listing: object, message: str) -> None:
    folder = _volume_list(tmp_path / "in", listing)
    started = time.monotonic()
    with pytest.raises(BundleError, match=message) as caught:
        join_volumes(folder, [])
    assert "\n" not in str(caught.value) and time.monotonic() - started < 2
    problems = missing_volumes(folder)
    assert len(problems) == 1 and "is not a volume list written by mirror-wizard" in problems[0].message


def test_deeply_nested_volume_list_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / VOLUMES_FILE).write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(BundleError, match="nested too deeply"):
        join_volumes(folder, [])


def test_many_missing_volumes_are_counted_not_listed(tmp_path: Path) -> None:
    folder = _volume_list(tmp_path / "in", {"count": MAX_VOLUMES, "volumes": {}})
    problems = missing_volumes(folder)
    assert len(problems) == MAX_MISSING_SHOWN + 1
    assert f"and {MAX_VOLUMES - MAX_MISSING_SHOWN} more volumes of {MAX_VOLUMES} are missing" in problems[-1].message
