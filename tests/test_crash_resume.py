"""kill -9 in the middle of a mirror, then the same command again: it completes, moves only what was
missing, and the result reads back identically with skopeo. Nothing partial is ever taken as complete."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import skopeo
from tests.support.fault_proxy import Fault, FaultProxy
from tests.support.repos import unique_repo
from tui.sandbox.content import make_layer, new_builder

pytestmark = pytest.mark.timeout(180)
PLAIN = {"tls_verify": False}
SMALL, BIG = 48 * 1024, 1536 * 1024


@pytest.fixture(scope="module")
def slow_source(tmp_path_factory: pytest.TempPathFactory, plain_registry):
    """An image with small and big layers, served through a proxy that drips big blobs slowly."""
    folder = tmp_path_factory.mktemp("crash-src")
    builder = new_builder(folder)
    layers = [make_layer(801 + i, SMALL) for i in range(4)] + [make_layer(811 + i, BIG) for i in range(2)]
    image = builder.image(layers)
    asyncio.run(builder.name("img", image))
    ref = f"{plain_registry.host}/crash/src:v1"
    skopeo.copy(f"oci:{folder}:img", ref, dst_opts=skopeo.options(tls_verify=False))
    proxy = FaultProxy(upstream=plain_registry.url, drip_delay=0.02).start()
    for layer in layers[4:]:
        proxy.add(Fault("drip", method="GET", path=layer.digest, times=-1))
    yield proxy, ref, image.digest, sum(layer.size for layer in layers)
    proxy.stop()


@pytest.fixture(autouse=True)
def _slow_again(slow_source):
    for fault in slow_source[0].faults:
        fault.times = -1


def mirror_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tui.cli", "image", "mirror", "--insecure", "--max-per-registry", "6", *args]


def kill_midway(command: list[str], ready: callable, timeout: float = 30) -> None:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert process.poll() is None, "the mirror finished before it could be killed: slow the source down"
            assert time.monotonic() < deadline, "the mirror never got going"
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run_json(command: list[str]) -> dict:
    out = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_kill_9_during_a_registry_mirror_then_resume(slow_source, plain_registry) -> None:
    proxy, src, digest, total = slow_source
    via = f"{proxy.host}/crash/src:v1"
    dst = f"{plain_registry.host}/{unique_repo('killed')}:v1"
    seen = len(proxy.requests)

    def small_blobs_landed() -> bool:  # the small layers are in; the big ones are still dripping
        puts = [r for r in proxy.requests[seen:] if r.method == "GET" and "/blobs/" in r.path]
        return len(puts) >= 6 and time.sleep(0.4) is None

    kill_midway(mirror_command(via, dst), small_blobs_landed)
    with pytest.raises(subprocess.CalledProcessError):
        skopeo.inspect(dst, **PLAIN)  # no manifest yet: nothing half-done is visible as an image

    for fault in proxy.faults:  # full speed now; same source host, so nothing is mounted instead of copied
        fault.times = fault.fired
    summary = run_json(mirror_command(via, dst))
    assert summary["ok"] and summary["images"]["done"] == 1
    assert summary["bytes"]["already_present"] > 0, "the rerun copied everything again"
    assert summary["bytes"]["copied"] < total
    assert skopeo.digest(dst, **PLAIN) == digest
    assert skopeo.inspect(dst, **PLAIN)["Layers"] == skopeo.inspect(src, **PLAIN)["Layers"]


def blobs_complete_and_verified(layout: Path) -> int:
    count = 0
    for blob in (layout / "blobs" / "sha256").iterdir():
        if blob.name.startswith("."):
            continue
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name, f"{blob} is partial or corrupt"
        count += 1
    return count


def test_kill_9_during_a_directory_mirror_then_resume(slow_source, tmp_path: Path) -> None:
    proxy, src, digest, total = slow_source
    via = f"{proxy.host}/crash/src:v1"
    layout = tmp_path / "media"
    dst = f"oci:{layout}:crash/src:v1"

    def some_blobs_written() -> bool:
        folder = layout / "blobs" / "sha256"
        return folder.is_dir() and sum(1 for p in folder.iterdir() if not p.name.startswith(".")) >= 3

    kill_midway(mirror_command(via, dst), some_blobs_written)
    kept = blobs_complete_and_verified(layout)
    assert 3 <= kept < 8  # config + 6 layers + manifest: not all there

    summary = run_json(mirror_command(src, dst))
    assert summary["ok"], summary
    assert summary["bytes"]["already_present"] > 0 and summary["bytes"]["copied"] < total, summary
    blobs_complete_and_verified(layout)
    assert skopeo.digest(f"oci:{layout}:crash/src:v1") == digest
