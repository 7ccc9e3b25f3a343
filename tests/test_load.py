"""Load: 300 small images (many tiny blobs, many tags) and one 2 GB layer in the same plan, with bounded
memory and a bounded number of open connections."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.layout import OCILayout
from tests.support import skopeo
from tests.support.repos import unique_repo
from tui.sandbox.content import Layer, make_layer, new_builder

pytestmark = pytest.mark.timeout(600)
BIG = 2 * 1024**3
MAX_PER_REGISTRY = 6


def big_layer(layout: OCILayout) -> Layer:
    """2 GiB written straight to the layout (never in memory): a random MiB repeated."""
    block = os.urandom(1 << 20)
    hasher = hashlib.sha256()
    tmp = layout.root / "big.tmp"
    with open(tmp, "wb") as handle:
        for _ in range(BIG >> 20):
            handle.write(block)
            hasher.update(block)
    digest = "sha256:" + hasher.hexdigest()
    target = layout.blob_path(digest)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(target)
    return Layer(blob=b"", digest=digest, diff_id=digest)


def watch_sockets(pid: int, peak: list[int], stop: threading.Event, timeline: list[tuple[float, int]]) -> None:
    started = time.monotonic()
    while not stop.is_set():
        try:
            count = sum(1 for fd in os.listdir(f"/proc/{pid}/fd")
                        if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"))
            rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") >> 20
            timeline.append((round(time.monotonic() - started, 1), rss))
        except (OSError, ValueError, IndexError):
            count = 0
        peak[0] = max(peak[0], count)
        time.sleep(0.05)


def mirror_pid(time_pid: int) -> int:
    """The mirror process that /usr/bin/time started (its only child)."""
    children = Path(f"/proc/{time_pid}/task/{time_pid}/children")
    for _ in range(200):
        found = children.read_text().split() if children.exists() else []
        if found:
            return int(found[0])
        time.sleep(0.01)
    return time_pid


def test_300_small_images_and_a_2gb_layer(tmp_path: Path, plain_registry) -> None:
    folder = tmp_path / "load"
    builder = new_builder(folder)
    base = make_layer(900, 4096)
    lines = []
    repo_root = unique_repo("load")
    for number in range(300):
        image = builder.image([base, make_layer(1000 + number, 64)])
        name = f"small/app{number % 30}:v{number // 30}"
        asyncio.run(builder.name(name, image))
        lines.append(f"oci:{folder}:{name}={plain_registry.host}/{repo_root}/app{number % 30}:v{number // 30}")

    layer = big_layer(builder.layout)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [layer.digest]}}).encode()
    config_desc = {"mediaType": "application/vnd.oci.image.config.v1+json", **builder.blob(config)}
    raw = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config_desc,
                      "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer.digest,
                                  "size": BIG}]}).encode()
    from core.manifest import OCI_MANIFEST, Manifest

    big_image = Manifest.parse(raw, OCI_MANIFEST, where="load test")
    builder.layout.put_manifest_blob(big_image)
    asyncio.run(builder.name("big/image:v1", big_image))
    big_ref = f"{plain_registry.host}/{repo_root}/big:v1"
    lines.append(f"oci:{folder}:big/image:v1={big_ref}")
    mapping = tmp_path / "mapping.txt"
    mapping.write_text("\n".join(lines) + "\n")

    command = [sys.executable, "-m", "tui.cli", "image", "mirror", "--insecure", "--json",
               "--max-per-registry", str(MAX_PER_REGISTRY), "-f", str(mapping)]
    # /usr/bin/time, not wait4's ru_maxrss: a vforked child inherits pytest's own high-water mark at exec.
    rss_file = tmp_path / "maxrss"
    out_file, err_file = open(tmp_path / "out", "w+"), open(tmp_path / "err", "w+")
    process = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", str(rss_file), *command],
                               stdout=out_file, stderr=err_file, text=True)
    peak, stop, timeline = [0], threading.Event(), []
    watcher = threading.Thread(target=watch_sockets, args=(mirror_pid(process.pid), peak, stop, timeline), daemon=True)
    watcher.start()
    status = process.wait()
    stop.set()
    watcher.join()
    out, err = (tmp_path / "out").read_text(), (tmp_path / "err").read_text()
    assert status == 0, err
    summary = json.loads(out)
    assert summary["ok"] and summary["images"]["done"] == 301
    assert summary["blobs"]["total"] == 300 + 1 + 1 + 300 + 1  # unique layers + base + big + configs + big config
    rss_mb = int(rss_file.read_text().split()[-1]) / 1024
    print(f"peak RSS {rss_mb:.0f} MB, {peak[0]} sockets")
    assert rss_mb < 150, f"peak RSS {rss_mb:.0f} MB with a 2 GB layer; (seconds, MB): {timeline[::10]}"
    assert peak[0] <= 4 * MAX_PER_REGISTRY, f"{peak[0]} sockets open at once"
    assert skopeo.inspect(big_ref, raw=True, tls_verify=False)["layers"][0]["size"] == BIG
    small = builder.names["small/app29:v9"].digest
    assert skopeo.digest(f"{plain_registry.host}/{repo_root}/app29:v9", tls_verify=False) == small
