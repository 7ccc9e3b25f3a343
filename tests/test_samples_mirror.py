"""``samples mirror`` against real registries: the plan's mapping copied by the engine, read back by skopeo.

Design: real Red Hat hosts are out of reach, so each test builds tiny images (tui.sandbox.content), pushes
them to a local "source" registry and writes a hand-made ImageStream List whose DockerImage specs point
at that registry (``127.0.0.1:PORT/ns/name:tag`` — two slashes, the shape of the real samples). The
samplesRegistry rule swaps the host of such a spec whatever it is (that is what the operator does), so
the planner needs no override: DST is the same path on the mirror host, exactly as on a real cluster.

* CLI test: source = tls_registry, mirror = token_registry; both verified with the test CA and the
  auth file (the CLI's --insecure would be all-or-nothing, so no plain-HTTP registry is involved).
* Engine test: source = plain_registry (insecure for that host only), mirror = tls_registry, through
  ``SamplesPlan.tasks()`` and ``core.copier.copy_images`` — what the wizard and ``run`` use.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.authfile import load_auth_file
from core.copier import CopyOptions, CopyTask, copy_images
from core.endpoints import LayoutLocation, RegistryLocation
from core.reference import parse_reference
from core.registry import RegistrySession
from core.samples import load_imagestreams, plan_samples
from core.tlsconfig import TLSOptions
from tests.support import skopeo
from tests.support.repos import unique_repo
from tui.cli import main
from tui.sandbox.content import build_samples, new_builder


@dataclass
class SeededSamples:
    streams_file: Path
    specs: dict[str, str]     # short name -> source pull spec
    digests: dict[str, str]   # short name -> manifest digest in the source


def _seed(tmp_path: Path, host: str, session: RegistrySession) -> SeededSamples:
    """Three tiny images in ``host`` and an ImageStream List using them (with a reference and a duplicate)."""
    base = unique_repo("samples")  # "samples/r<pid>-<n>": one slash, so host/base-x:tag has two
    specs = {"foo": f"{host}/{base}-foo:1", "bar": f"{host}/{base}-bar:2", "baz": f"{host}/{base}-baz:3"}

    async def push() -> dict[str, str]:
        builder = new_builder(tmp_path / "layout")
        names = await build_samples(builder, list(specs.values()), layer_size=4096)
        tasks = [CopyTask(LayoutLocation(tmp_path / "layout", name), RegistryLocation(parse_reference(spec)))
                 for name, spec in names.items()]
        async with session:
            result = await copy_images(tasks, session, CopyOptions())
        assert result.ok, result.failures
        return {short: builder.names[name].digest for name, spec in names.items()
                for short, s in specs.items() if s == spec}

    digests = asyncio.run(push())

    def stream(name: str, tags: dict[str, dict]) -> dict:
        return {"kind": "ImageStream", "apiVersion": "image.openshift.io/v1", "metadata": {"name": name},
                "spec": {"tags": [{"name": t, "from": f} for t, f in tags.items()]}}

    streams = {"kind": "List", "apiVersion": "v1", "items": [
        stream("foo", {"1": {"kind": "DockerImage", "name": specs["foo"]},
                       "latest": {"kind": "ImageStreamTag", "name": "1"}}),
        stream("bar", {"2": {"kind": "DockerImage", "name": specs["bar"]},
                       "2-again": {"kind": "DockerImage", "name": specs["bar"]}}),
        stream("baz", {"3": {"kind": "DockerImage", "name": specs["baz"]}}),
    ]}
    path = tmp_path / "streams.json"
    path.write_text(json.dumps(streams))
    return SeededSamples(path, specs, digests)


def _on_mirror(spec: str, mirror: str) -> str:
    return mirror + "/" + spec.split("/", 1)[1]


def test_samples_mirror_command_copies_the_plan(tmp_path: Path, tls_registry, token_registry, auth_file: Path,
                                                pki, capsys: pytest.CaptureFixture[str]) -> None:
    auth = load_auth_file(str(auth_file))
    seeded = _seed(tmp_path, tls_registry.host, RegistrySession(auth, TLSOptions(ca_files=(str(pki.ca_file),))))
    mirror = token_registry.host
    mapping, config = tmp_path / "mapping.txt", tmp_path / "config.yaml"
    argv = ["samples", "mirror", "--imagestreams", str(seeded.streams_file), "--mirror", mirror, "--skip", "baz",
            "-a", str(auth_file), "--ca-file", str(pki.ca_file),
            "--mapping-out", str(mapping), "--config-out", str(config)]

    assert main([*argv, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run: 2 images would be mirrored" in out
    with pytest.raises(subprocess.CalledProcessError):  # a dry run copies nothing
        skopeo.digest(_on_mirror(seeded.specs["foo"], mirror), authfile=auth_file, cert_dir=pki.dir)

    code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "mirror complete: 2/2 images" in captured.out
    # the same spec used by two tags is one mapping line; the skipped stream's image is not copied
    assert mapping.read_text() == (f"{seeded.specs['bar']}={_on_mirror(seeded.specs['bar'], mirror)}\n"
                                   f"{seeded.specs['foo']}={_on_mirror(seeded.specs['foo'], mirror)}\n")
    assert config.read_text() in captured.out
    assert f"samplesRegistry: {mirror}\n  skippedImagestreams:\n  - baz\n  managementState: Managed\n" in config.read_text()
    for name in ("foo", "bar"):
        copied = skopeo.digest(_on_mirror(seeded.specs[name], mirror), authfile=auth_file, cert_dir=pki.dir)
        assert copied == seeded.digests[name] == skopeo.digest(seeded.specs[name], authfile=auth_file, cert_dir=pki.dir)
    with pytest.raises(subprocess.CalledProcessError):
        skopeo.digest(_on_mirror(seeded.specs["baz"], mirror), authfile=auth_file, cert_dir=pki.dir)

    # a rerun finds everything in place
    assert main(argv) == 0
    assert "exists " in capsys.readouterr().err


def test_plan_tasks_through_the_engine(tmp_path: Path, plain_registry, tls_registry, auth_file: Path, pki) -> None:
    tls = TLSOptions(ca_files=(str(pki.ca_file),), insecure_hosts=(plain_registry.host,))
    auth = load_auth_file(str(auth_file))
    seeded = _seed(tmp_path, plain_registry.host, RegistrySession(tls=tls))
    plan = plan_samples(load_imagestreams([seeded.streams_file]), tls_registry.host, include=["foo", "baz"])
    assert plan.skipped == ["bar"]
    assert [src for src, _ in plan.mapping] == sorted([seeded.specs["baz"], seeded.specs["foo"]])

    async def copy():
        async with RegistrySession(auth, tls) as session:
            return await copy_images(plan.tasks(), session, CopyOptions())

    result = asyncio.run(copy())
    assert result.ok and result.images_done == 2, result.failures
    for name in ("foo", "baz"):
        assert skopeo.digest(_on_mirror(seeded.specs[name], tls_registry.host), authfile=auth_file,
                             cert_dir=pki.dir) == seeded.digests[name]
    with pytest.raises(subprocess.CalledProcessError):
        skopeo.digest(_on_mirror(seeded.specs["bar"], tls_registry.host), authfile=auth_file, cert_dir=pki.dir)


def test_missing_source_image_fails_with_exit_1(tmp_path: Path, tls_registry, token_registry, auth_file: Path,
                                                pki, capsys: pytest.CaptureFixture[str]) -> None:
    spec = f"{tls_registry.host}/{unique_repo('samples')}-gone:1"
    streams = {"kind": "ImageStream", "metadata": {"name": "gone"},
               "spec": {"tags": [{"name": "1", "from": {"kind": "DockerImage", "name": spec}}]}}
    path = tmp_path / "gone.json"
    path.write_text(json.dumps(streams))
    argv = ["samples", "mirror", "--imagestreams", str(path), "--mirror", token_registry.host,
            "-a", str(auth_file), "--ca-file", str(pki.ca_file)]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert f"error: {spec} → {token_registry.host}/" in captured.err and "does not exist" in captured.err
    assert "Traceback" not in captured.err

    assert main([*argv, "--continue-on-error"]) == 1
    captured = capsys.readouterr()
    assert "mirror FAILED" in captured.out and "the mirror is incomplete" in captured.out
    assert "samplesRegistry" not in captured.out  # no Config to apply while images are missing
