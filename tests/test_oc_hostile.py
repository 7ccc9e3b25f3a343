"""``oc`` as a hostile program (issue 25): output read with a cap as it arrives, the whole process group
ended on timeout, nested JSON one line. Each stand-in is a small shell script."""

from __future__ import annotations

import asyncio
import os
import resource
import time
from pathlib import Path

import pytest

from core.errors import ToolError
from core.oc import MAX_OUTPUT, Oc


def _oc(folder: Path, script: str) -> str:
    path = folder / "oc"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return str(path)


def test_huge_output_is_cut_as_it_arrives(tmp_path: Path) -> None:
    # an endless whoami: before, all of it was held (a 1 GiB answer took 2.18 GB)
    oc = Oc(_oc(tmp_path, "exec yes aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"), timeout=60)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(ToolError, match=f"printed more than {MAX_OUTPUT >> 20} MiB"):
        asyncio.run(oc.whoami())
    assert time.monotonic() - started < 30
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 4 * (MAX_OUTPUT >> 10), grown_kib


def test_timeout_ends_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    # oc starts a child that keeps our pipes open, then waits: both must be gone after the timeout
    oc = Oc(_oc(tmp_path, f"sleep 300 &\necho $! > {pid_file}\nsleep 300\n"), timeout=1)
    started = time.monotonic()
    with pytest.raises(ToolError, match="did not answer within 1s"):
        asyncio.run(oc.run("whoami"))
    assert time.monotonic() - started < 10
    child = int(pid_file.read_text())
    for _ in range(50):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"oc's child {child} outlived the timeout")


def test_a_child_holding_the_pipes_after_oc_exits_is_ended(tmp_path: Path) -> None:
    oc = Oc(_oc(tmp_path, "sleep 300 &\necho alice\nexit 0\n"), timeout=1)
    with pytest.raises(ToolError, match="did not answer within 1s"):
        asyncio.run(oc.run("whoami"))


def test_stderr_is_bounded_and_nested_json_is_one_line(tmp_path: Path) -> None:
    oc = Oc(_oc(tmp_path, "head -c 10000000 /dev/zero | tr '\\0' x >&2\nexit 1\n"), timeout=30)
    answer = asyncio.run(oc.run("whoami"))
    assert answer.code == 1 and len(answer.stderr) <= 64 << 10
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    oc = Oc(_oc(tmp_path, f"cat {deep}\n"), timeout=30)
    with pytest.raises(ToolError, match="nested too deeply"):
        asyncio.run(oc.get("nodes"))
    assert asyncio.run(oc.version()) is None
