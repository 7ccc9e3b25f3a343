"""An interrupted directory mirror leaves a valid layout, and nothing partial survives: Ctrl+C removes
partial blobs before the process ends; after kill -9 (nothing can clean up) the next run removes them.
The source drips its big layers slowly (tests/test_crash_resume.py's fixture) so there is time to strike."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support import skopeo
from tests.test_crash_resume import _slow_again, mirror_command, run_json, slow_source  # noqa: F401 (fixtures)

pytestmark = pytest.mark.timeout(180)


def partials(layout: Path) -> list[Path]:
    folder = layout / "blobs" / "sha256"
    return sorted(folder.glob(".*.partial")) if folder.is_dir() else []


def assert_valid_layout(layout: Path) -> None:
    assert json.loads((layout / "oci-layout").read_text())["imageLayoutVersion"] == "1.0.0"
    index = json.loads((layout / "index.json").read_text())
    assert isinstance(index["manifests"], list)
    assert not [p for p in layout.iterdir() if p.name.endswith(".tmp")]


def start_and_wait_for_a_partial(command: list[str], layout: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    deadline = time.monotonic() + 40
    while not partials(layout):
        assert process.poll() is None, f"the mirror ended before writing a partial blob: {process.stderr.read()}"
        assert time.monotonic() < deadline, "no partial blob appeared"
        time.sleep(0.02)
    time.sleep(0.2)
    return process


def test_ctrl_c_removes_partial_blobs_and_keeps_the_layout_valid(slow_source, tmp_path: Path) -> None:
    proxy = slow_source[0]
    layout = tmp_path / "media"
    process = start_and_wait_for_a_partial(mirror_command(f"{proxy.host}/crash/src:v1", f"oci:{layout}:img"), layout)
    os.kill(process.pid, signal.SIGINT)
    try:
        code = process.wait(60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    stderr = process.stderr.read()
    assert code == 130, stderr
    assert "Traceback" not in stderr
    assert not partials(layout), "Ctrl+C left partial blobs behind"
    assert_valid_layout(layout)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_after_a_kill_the_next_run_removes_partials_and_completes(slow_source, tmp_path: Path, sig) -> None:
    proxy, src, digest, _ = slow_source
    layout = tmp_path / "media"
    process = start_and_wait_for_a_partial(mirror_command(f"{proxy.host}/crash/src:v1", f"oci:{layout}:img"), layout)
    os.killpg(process.pid, sig)
    process.wait(60)
    assert_valid_layout(layout)  # whatever instant the kill came at
    left = partials(layout)
    for fault in proxy.faults:  # full speed for the rerun
        fault.times = fault.fired
    summary = run_json(mirror_command(src, f"oci:{layout}:img"))
    assert summary["ok"], summary
    assert not partials(layout), f"the rerun left {left} in place"
    assert_valid_layout(layout)
    assert skopeo.digest(f"oci:{layout}:img") == digest
