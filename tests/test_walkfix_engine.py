"""Fixes from a tester's walk of the demo (engine side): verify's two mirror checks agree on where a
release image is, the bundle's wheelhouse holds no leftover temp file, the sandbox's registries die with
the wizard, footers keep whole labels, counts read as English."""

from __future__ import annotations

import signal
from pathlib import Path

import yaml

from core.graph_image import GraphDataLayer
from core.mirror_config import release_mirror_instructions
from core.plan import load_plan
from core.release import ReleaseInfo
from core.verify.expected import Expected
from core.verify.keep import _pulled_release_images

HOST = "mirror.example:5000"
SOURCE = "quay.io/openshift-release-dev/ocp-release"
COMPONENTS = "quay.io/openshift-release-dev/ocp-v4.0-art-dev"


def _info(version: str, n: int) -> ReleaseInfo:
    digest = "sha256:" + f"{n:x}" * 64
    return ReleaseInfo(pull_spec=f"{SOURCE}@{digest[:71]}", digest=digest[:71], version=version,
                       architecture="x86_64", metadata={},
                       components={"etcd": f"{COMPONENTS}@sha256:{str(n) * 64}"},
                       source_repository=SOURCE, component_repository=COMPONENTS)


def test_kept_by_tag_looks_for_path_release_images_in_their_own_repository(tmp_path: Path) -> None:
    """An update path whose release images go to their own repository (release.to_release_image): the
    tag check looks for each where the copy put it, as the release-images check does — not in the target."""
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(yaml.safe_dump({
        "mirror": {"registry": HOST},
        "release": {"mode": "registry", "target": f"{HOST}/ocp4/openshift4",
                    "from_version": "4.17.1", "version": "4.17.3", "channel": "stable-4.17",
                    "to_release_image": f"{HOST}/ocp4/release-images"},
        "output_dir": str(tmp_path / "out")}))
    plan = load_plan(plan_file)
    infos = [_info("4.17.1", 1), _info("4.17.2", 2), _info("4.17.3", 3)]
    expected = Expected(plan, release=infos[-1], releases=infos,
                        instructions=release_mirror_instructions(infos[-1], f"{HOST}/ocp4/openshift4",
                                                                 f"{HOST}/ocp4/release-images"))
    pulled = {p.label: p for p in _pulled_release_images(expected)}
    for info in infos:
        image = pulled[f"{info.version} release image"]
        assert image.repository.name == f"{HOST}/ocp4/release-images", image
        assert image.expected_tag == f"{info.version}-x86_64"


def test_graph_layer_counts_read_as_english() -> None:
    one = GraphDataLayer(b"", "sha256:0", "sha256:0", 1, ("stable-4.17.yaml",), "1")
    many = GraphDataLayer(b"", "sha256:0", "sha256:0", 12, ("a.yaml", "b.yaml"), "1")
    assert one.contents == "1 channel, 1 file"
    assert many.contents == "2 channels, 12 files"


def test_a_rerun_leaves_no_temporary_file_in_the_wheelhouse(tmp_path: Path) -> None:
    """The second fill of a wheelhouse from the same cache: rename(2) onto another link of the same file
    does nothing, so the linked temporary name stayed behind (link count 3) before the fix."""
    from core.bundle.model import BundleOptions
    from core.bundle.wheelhouse import build_wheelhouse

    cache = tmp_path / "cache"
    cache.mkdir()
    for name in ("mirror_wizard-0.1.0-py3-none-any.whl", "anyio-4.16.0-py3-none-any.whl"):
        (cache / name).write_bytes(b"PK wheel " + name.encode())
    target = tmp_path / "bundle" / "wheelhouse"
    for _ in range(3):
        names = build_wheelhouse(target, BundleOptions(wheelhouse=cache))
        assert sorted(p.name for p in target.iterdir()) == names, sorted(p.name for p in target.iterdir())
    assert (target / "anyio-4.16.0-py3-none-any.whl").stat().st_nlink == 2


def test_many_ignored_leftovers_are_one_line(tmp_path: Path) -> None:
    from core.bundle.check import verify_bundle
    from core.bundle.model import Severity
    from core.fsio import atomic_write

    bundle = tmp_path / "bundle"
    (bundle / "wheelhouse").mkdir(parents=True)
    atomic_write(bundle / "wheelhouse" / "a-1.0-py3-none-any.whl", b"PK a")
    import hashlib

    digest = hashlib.sha256(b"PK a").hexdigest()
    (bundle / "SHA256SUMS").write_text(f"{digest}  wheelhouse/a-1.0-py3-none-any.whl\n")
    for n in range(32):
        (bundle / "wheelhouse" / f".a-{n}.whl.{n:012x}.tmp").write_bytes(b"PK")
    (bundle / "wheelhouse" / ".lonely").write_bytes(b"x")
    report = verify_bundle(bundle)
    lines = [str(p) for p in report.problems if p.severity is not Severity.ERROR]  # no image layout: not this
    assert "warning: wheelhouse/: 32 leftover temporary files (ignored: nothing uses them)" in lines, lines
    assert "warning: wheelhouse/.lonely: is not in SHA256SUMS (ignored: nothing uses it)" in lines, lines
    assert len(lines) == 2, lines


def _registry_pids(workdir: Path) -> list[int]:
    """docker-registry processes serving a config inside ``workdir`` (read from /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if len(argv) > 2 and argv[1] == b"serve" and argv[2].startswith(str(workdir).encode()):
            pids.append(int(entry.name))
    return pids


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _demo_then(signum: int, tmp_path: Path) -> tuple[list[int], list[int]]:
    """Start ``mirror-wizard demo --no-wizard``, wait for its registries, send ``signum`` to it: (pids
    before, pids still alive a few seconds later)."""
    import os
    import subprocess
    import sys
    import time

    workdir = tmp_path / "demo"
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "demo", "--no-wizard", "--dir", str(workdir)],
                            cwd=repo, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "registries are running" in line:
                break
        else:
            raise AssertionError(f"the demo did not start: {proc.wait()}")
        before = _registry_pids(workdir)
        assert len(before) == 2, before
        proc.send_signal(signum)
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and any(_alive(p) for p in before):
            time.sleep(0.1)
        return before, [p for p in before if _alive(p)]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        for pid in _registry_pids(workdir):  # the test's own leftovers, should the fix fail
            os.kill(pid, signal.SIGKILL)


def test_hangup_stops_the_demo_registries(tmp_path: Path) -> None:
    _, alive = _demo_then(signal.SIGHUP, tmp_path)
    assert not alive, f"registries still running after SIGHUP: {alive}"


def test_a_killed_demo_takes_its_registries_along(tmp_path: Path) -> None:
    _, alive = _demo_then(signal.SIGKILL, tmp_path)
    assert not alive, f"registries still running after SIGKILL: {alive}"


def _footer_line(app) -> str:  # type: ignore[no-untyped-def]
    """The bottom row as drawn: the footer's rendered text."""
    return app.screen._compositor.render_strips()[-1].text


async def _footer_of(step: str, size: tuple[int, int], tmp_path: Path) -> tuple[str, list[str]]:
    """(the footer row as drawn, the labels of the keys it shows) on ``step`` at ``size``."""
    from textual.widgets._footer import FooterKey

    from tests.test_tui_app import make_app

    app = make_app(tmp_path, start=step)
    async with app.run_test(size=size) as pilot:
        for _ in range(3):
            await pilot.pause()
        line = _footer_line(app)
        labels = [f"{k.key_display} {k.description}".strip() for k in app.screen.query(FooterKey) if k.display]
    return line, labels


async def test_footer_keys_are_whole_at_80_on_mirror_and_100_on_verify(tmp_path: Path) -> None:
    for step, size, own in (("mirror", (80, 24), "^x Cancel"), ("verify", (100, 30), "c Check cluster")):
        line, labels = await _footer_of(step, size, tmp_path)
        assert own in line, (step, line)
        for label in labels:  # every key shown is there whole, none cut mid-word
            assert label in line, (step, label, line)
        assert "^p palette" in line, (step, line)
