"""``mirror-wizard run PLAN`` headless, against real registries; skopeo reads back what landed.

The release is the sandbox payload seeded into ``plain_registry`` (tests/conftest.py); samples images are
built here and pushed there too, with an ImageStream file pointing at them. The mirror is
``tls_registry``: TLS with the test CA and a login, as a real mirror — so the plan carries the auth file,
the CA file, and plain HTTP for the source registry only.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from core.copier import CopyOptions, CopyTask, copy_images
from core.endpoints import LayoutLocation, RegistryLocation
from core.layout import OCILayout
from core.reference import parse_reference
from core.registry import RegistrySession
from core.tlsconfig import TLSOptions
from tests.support import skopeo
from tests.support.repos import unique_repo
from tui.cli import main
from tui.sandbox.content import build_samples, new_builder

PLAIN = {"tls_verify": False}


@dataclass
class Samples:
    streams_file: Path
    specs: dict[str, str]     # stream name -> source pull spec
    digests: dict[str, str]   # stream name -> manifest digest


def seed_samples(tmp_path: Path, host: str) -> Samples:
    """Two tiny images in ``host`` and the ImageStream List that uses them (``host/ns/name:tag``)."""
    base = unique_repo("run-samples")
    specs = {"ruby": f"{host}/{base}-ruby:3.3", "perl": f"{host}/{base}-perl:5.32"}

    async def push() -> dict[str, str]:
        builder = new_builder(tmp_path / "samples-layout")
        names = await build_samples(builder, list(specs.values()), layer_size=4096)
        tasks = [CopyTask(LayoutLocation(tmp_path / "samples-layout", name), RegistryLocation(parse_reference(spec)))
                 for name, spec in names.items()]
        async with RegistrySession(tls=TLSOptions(insecure=True)) as session:
            result = await copy_images(tasks, session, CopyOptions())
        assert result.ok, result.failures
        by_spec = {spec: builder.names[name].digest for name, spec in names.items()}
        return {short: by_spec[spec] for short, spec in specs.items()}

    digests = asyncio.run(push())
    items = [{"kind": "ImageStream", "apiVersion": "image.openshift.io/v1", "metadata": {"name": name},
              "spec": {"tags": [{"name": spec.rsplit(":", 1)[1], "from": {"kind": "DockerImage", "name": spec}}]}}
             for name, spec in specs.items()]
    path = tmp_path / "streams.json"
    path.write_text(json.dumps({"kind": "List", "apiVersion": "v1", "items": items}))
    return Samples(path, specs, digests)


def on_mirror(spec: str, mirror: str) -> str:
    return mirror + "/" + spec.split("/", 1)[1]


def write_plan(path: Path, *, auth_file: Path, pki, mirror: str, source_host: str, release: dict | None,
               samples: Samples | None, output_dir: Path, legacy_path: bool = False) -> Path:
    """``legacy_path``: the single ``samples.path`` of plans saved before ``paths``."""
    data: dict = {
        "auth_file": str(auth_file),
        "mirror": {"registry": mirror, "ca_file": str(pki.ca_file)},
        "registries": [{"host": source_host, "insecure": True}],
        "output_dir": str(output_dir),
    }
    if release is not None:
        data["release"] = release
    if samples is not None:
        data["samples"] = {"source": "files", "paths": [str(samples.streams_file)], "mirror": mirror}
        if legacy_path:
            data["samples"]["path"] = data["samples"].pop("paths")[0]
    path.write_text(yaml.safe_dump(data))
    return path


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``directory`` with its size and mtime: what "wrote nothing" is checked against."""
    if not directory.exists():
        return {}
    return {str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*"))}


# -- straight into the registry ---------------------------------------------------------------------

def test_run_mirrors_release_and_samples_and_writes_every_document(
        seeded_release, plain_registry, tls_registry, auth_file: Path, pki, tmp_path: Path, capsys) -> None:
    samples = seed_samples(tmp_path, plain_registry.host)
    mirror = tls_registry.host
    target = f"{mirror}/{unique_repo('run-release')}"
    out = tmp_path / "out"
    plan = write_plan(tmp_path / "plan.yaml", auth_file=auth_file, pki=pki, mirror=mirror,
                      source_host=plain_registry.host, samples=samples, output_dir=out,
                      release={"source": seeded_release.release_ref, "mode": "registry", "target": target})
    registry_opts = {"authfile": auth_file, "cert_dir": pki.dir}

    code, stdout, err = run(["run", str(plan), "--dry-run"], capsys)
    assert code == 0, err
    assert "dry run" in stdout and not out.exists()
    with pytest.raises(subprocess.CalledProcessError):
        skopeo.digest(f"{target}:{seeded_release.version}-x86_64", **registry_opts)

    code, stdout, err = run(["run", str(plan)], capsys)
    assert code == 0, err
    tag = f"{seeded_release.version}-{seeded_release.architecture}"
    assert skopeo.digest(f"{target}:{tag}-etcd", **registry_opts) == seeded_release.component_refs["etcd"].rsplit("@", 1)[1]
    assert skopeo.digest(f"{target}:{tag}", **registry_opts) == skopeo.digest(seeded_release.release_ref, **PLAIN)
    for name, spec in samples.specs.items():
        assert skopeo.digest(on_mirror(spec, mirror), **registry_opts) == samples.digests[name]

    written = {p.name for p in out.iterdir()}
    assert {"samples-mapping.txt", "samples-operator-config.yaml", "registry-config.yaml", "runbook.md",
            "install-config-imageDigestSources.yaml", "imageDigestMirrorSet.yaml"} <= written, written
    # a 4.17 release: one install-config block and the IDMS, never the deprecated forms beside them
    assert not {"install-config-imageContentSources.yaml", "imageContentSourcePolicy.yaml"} & written
    configmap = yaml.safe_load((out / "registry-config.yaml").read_text())
    assert configmap["data"][mirror.replace(":", "..")] == pki.ca_file.read_text()
    assert f"samplesRegistry: {mirror}" in (out / "samples-operator-config.yaml").read_text()
    runbook = (out / "runbook.md").read_text()
    assert f"--from-file={mirror.replace(':', '..')}={pki.ca_file}" in runbook
    assert f"wrote {out / 'runbook.md'}" in stdout and "imageDigestSources" in stdout and "imageContentSources" not in stdout


def test_run_output_dir_error_is_one_line(plain_registry, tls_registry, auth_file: Path, pki, tmp_path: Path,
                                         capsys) -> None:
    samples = seed_samples(tmp_path, plain_registry.host)
    blocker = tmp_path / "a-file"  # output_dir below a file: no folder can be made there, even as root
    blocker.write_text("")
    plan = write_plan(tmp_path / "plan.yaml", auth_file=auth_file, pki=pki, mirror=tls_registry.host,
                      source_host=plain_registry.host, samples=samples, release=None, output_dir=blocker / "out",
                      legacy_path=True)
    code, _, err = run(["run", str(plan)], capsys)
    assert code == 1 and "Traceback" not in err
    assert err.splitlines()[-1] == (f"error: cannot write {blocker}/out/samples-mapping.txt: Not a directory; "
                                    "choose a folder you can write to")


# -- through removable media ------------------------------------------------------------------------

def test_to_dir_then_from_dir_carries_release_and_samples(
        seeded_release, plain_registry, tls_registry, auth_file: Path, pki, tmp_path: Path, capsys) -> None:
    samples = seed_samples(tmp_path, plain_registry.host)
    mirror = tls_registry.host
    target = f"{mirror}/{unique_repo('run-media')}"
    media = tmp_path / "media"
    release = {"source": seeded_release.release_ref, "mode": "to-dir", "directory": str(media), "target": target}
    plan = write_plan(tmp_path / "plan.yaml", auth_file=auth_file, pki=pki, mirror=mirror,
                      source_host=plain_registry.host, samples=samples, output_dir=tmp_path / "out", release=release)

    # Neither a dry run nor the runbook touches the medium.
    code, stdout, err = run(["run", str(plan), "--dry-run"], capsys)
    assert code == 0, err
    assert "dry run" in stdout and not media.exists()
    assert run(["runbook", str(plan), "-o", str(tmp_path / "runbook.md")], capsys)[0] == 0
    assert not media.exists()

    code, _, err = run(["run", str(plan)], capsys)
    assert code == 0, err
    assert "space: " in err and f"to write to {media}" in err
    layout = OCILayout(media)
    names = {entry.name for entry in layout.entries()}
    tag = f"{seeded_release.version}-{seeded_release.architecture}"
    assert f"openshift/release:{tag}" in names and f"openshift/release:{tag}-etcd" in names
    for name, spec in samples.specs.items():  # samples land beside the release, named by their source
        assert spec in names
        assert skopeo.digest(f"oci:{media}:{spec}") == samples.digests[name]
    assert (media / "mirror-wizard-release.json").is_file()

    # A damaged medium: a samples image loses a layer. Dry run and runbook leave it as it is ...
    ruby = layout.get_manifest(layout.find(samples.specs["ruby"]).digest)
    layout.blob_path(ruby.layers()[-1].digest).unlink()
    before = snapshot(media)
    assert run(["run", str(plan), "--dry-run"], capsys)[0] == 0
    assert run(["runbook", str(plan)], capsys)[0] == 0
    assert snapshot(media) == before
    # ... and a real run repairs it instead of counting the image as done.
    code, _, err = run(["run", str(plan)], capsys)
    assert code == 0, err
    assert skopeo.digest(f"oci:{media}:{samples.specs['ruby']}") == samples.digests["ruby"]
    assert layout.has_blob(ruby.layers()[-1].digest)

    # On the mirror host: the same plan in from-dir mode uploads both, to a direct mirror's names.
    registry_opts = {"authfile": auth_file, "cert_dir": pki.dir}
    release["mode"] = "from-dir"
    plan = write_plan(tmp_path / "plan-upload.yaml", auth_file=auth_file, pki=pki, mirror=mirror,
                      source_host=plain_registry.host, samples=samples, output_dir=tmp_path / "out-upload",
                      release=release)
    code, stdout, err = run(["run", str(plan)], capsys)
    assert code == 0, err
    assert skopeo.digest(f"{target}:{tag}-etcd", **registry_opts) == seeded_release.component_refs["etcd"].rsplit("@", 1)[1]
    for name, spec in samples.specs.items():
        assert skopeo.digest(on_mirror(spec, mirror), **registry_opts) == samples.digests[name]
    assert "samples-mapping.txt" in stdout and "imageDigestSources" in stdout and "imageContentSources" not in stdout


def test_dry_run_and_runbook_leave_the_medium_alone(seeded_release, plain_registry, tls_registry, auth_file: Path,
                                                    pki, tmp_path: Path, capsys) -> None:
    media = tmp_path / "media"
    release = {"source": seeded_release.release_ref, "mode": "to-dir", "directory": str(media)}
    plan = write_plan(tmp_path / "plan.yaml", auth_file=auth_file, pki=pki, mirror=tls_registry.host,
                      source_host=plain_registry.host, samples=None, output_dir=tmp_path / "out", release=release)
    for argv in (["run", str(plan), "--dry-run"], ["runbook", str(plan)]):
        code, _, err = run(argv, capsys)
        assert code == 0, err
        assert not media.exists(), argv

    # A medium holding a damaged image (its manifest kept, one layer gone): still nothing changes.
    assert run(["run", str(plan)], capsys)[0] == 0
    layout = OCILayout(media)
    etcd = layout.get_manifest(layout.find(f"openshift/release:{seeded_release.version}-x86_64-etcd").digest)
    layout.blob_path(etcd.layers()[-1].digest).unlink()
    before = snapshot(media)
    for argv in (["run", str(plan), "--dry-run"], ["runbook", str(plan)]):
        assert run(argv, capsys)[0] == 0
        assert snapshot(media) == before, argv


def test_runbook_skopeo_commands_upload_the_medium(seeded_release, plain_registry, tls_registry, pki,
                                                   auth_file: Path, tmp_path: Path, capsys) -> None:
    """What the runbook prints for a mirror host without mirror-wizard really uploads our directory."""
    samples = seed_samples(tmp_path, plain_registry.host)
    mirror = tls_registry.host
    target = f"{mirror}/{unique_repo('run-skopeo')}"
    media = tmp_path / "media"
    release = {"source": seeded_release.release_ref, "mode": "to-dir", "directory": str(media), "target": target}
    plan = write_plan(tmp_path / "plan.yaml", auth_file=auth_file, pki=pki, mirror=mirror,
                      source_host=plain_registry.host, samples=samples, output_dir=tmp_path / "out", release=release)
    assert run(["run", str(plan)], capsys)[0] == 0
    runbook = (tmp_path / "out" / "runbook.md").read_text()
    blocks = runbook.split("```sh\n")
    release_script = next(b.split("```")[0] for b in blocks if b.startswith("MEDIA="))
    samples_script = next(b.split("```")[0] for b in blocks if "--dest-authfile" in b and "docker://" + mirror in b
                          and "MEDIA=" not in b)
    # skopeo would read the test CA from /etc/containers/certs.d; the test leaves the system alone and
    # hands it to Go's system trust instead.
    env = {**os.environ, "SSL_CERT_FILE": str(pki.ca_file)}
    for script in (release_script, samples_script):
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
    tag = f"{seeded_release.version}-{seeded_release.architecture}"
    registry_opts = {"authfile": auth_file, "cert_dir": pki.dir}
    for component in ("etcd", "pod", "installer"):
        assert skopeo.digest(f"{target}:{tag}-{component}", **registry_opts) == \
            seeded_release.component_refs[component].rsplit("@", 1)[1]
    assert skopeo.digest(f"{target}:{tag}", **registry_opts) == skopeo.digest(seeded_release.release_ref, **PLAIN)
    for name, spec in samples.specs.items():
        assert skopeo.digest(on_mirror(spec, mirror), **registry_opts) == samples.digests[name]


def test_to_dir_short_of_space_fails_before_copying(seeded_release, plain_registry, tls_registry, auth_file: Path,
                                                    pki, tmp_path: Path, capsys, monkeypatch) -> None:
    media = tmp_path / "small"
    plan = write_plan(tmp_path / "plan.yaml", auth_file=auth_file, pki=pki, mirror=tls_registry.host,
                      source_host=plain_registry.host, samples=None, output_dir=tmp_path / "out",
                      release={"source": seeded_release.release_ref, "mode": "to-dir", "directory": str(media)})
    monkeypatch.setattr(OCILayout, "free_bytes", lambda self: 64 << 10)
    for argv in (["run", str(plan)], ["run", str(plan), "--dry-run"]):
        code, stdout, err = run(argv, capsys)
        assert code == 1 and "Traceback" not in err
        lines = err.strip().splitlines()
        assert lines[-1].startswith(f"error: {media} needs ") and "only 64.0 KiB is free" in lines[-1], err
        assert not media.exists()
