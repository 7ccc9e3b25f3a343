"""The removable-media bundle end to end: written by ``release mirror --to-dir``, installed offline from its
own wheelhouse into a fresh virtual environment, verified, damaged, cut into volumes, made incremental,
and uploaded into the suite's real registries with skopeo as the referee."""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from core.bundle import (
    SUMS_FILE,
    parse_size,
    parse_sums,
    safe_relpath,
    split_volumes,
    verify_bundle,
)
from core.copier import CopyOptions, CopyTask, copy_images
from core.endpoints import LayoutLocation, RegistryLocation
from core.errors import InputError
from core.reference import parse_reference
from core.registry import RegistrySession
from core.tlsconfig import TLSOptions
from tests.support import skopeo
from tests.support.repos import unique_repo
from tui.cli import main
from tui.sandbox.content import build_release, new_builder

PLAIN = {"tls_verify": False}
TAG = "4.17.3-x86_64"


def _run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def _blob(directory: Path, digest: str) -> Path:
    return directory / "blobs" / "sha256" / digest.split(":", 1)[1]


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one byte: the smallest damage a medium does
    path.write_bytes(bytes(data))


def _layers(ref: str) -> set[str]:
    raw = json.loads(skopeo.raw_manifest(ref))
    return {layer["digest"] for layer in raw.get("layers", [])}


@pytest.fixture(scope="module")
def bundle(seeded_release, plain_registry, tmp_path_factory) -> tuple[Path, str]:
    """One bundle of the sandbox release, for a mirror named up front; tests copy it before changing it."""
    media = tmp_path_factory.mktemp("media") / "bundle"
    target = f"{plain_registry.host}/{unique_repo('media')}"
    code = main(["release", "mirror", "--insecure", "--from", seeded_release.release_ref, "--to-dir", str(media),
                 "--bundle-target", target])
    assert code == 0
    return media, target


@pytest.fixture
def damaged_copy(bundle, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(bundle[0], copy, symlinks=True)
    return copy


@pytest.fixture(scope="module")
def offline_venv(bundle, tmp_path_factory) -> Path:
    """A fresh virtual environment with mirror-wizard installed from the bundle alone: no index, no
    pip configuration of this host (its find-links and extra indexes are switched off)."""
    venv = tmp_path_factory.mktemp("venv") / "v"
    # Without its own pip (ensurepip is the slow part of a venv); this host's pip installs into it.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
                              "--no-compile", "--no-index", "--find-links", str(bundle[0] / "wheelhouse"),
                              "mirror-wizard"], capture_output=True, text=True, env=env, timeout=300, cwd=venv, check=False)
    assert install.returncode == 0, install.stdout + install.stderr
    return venv


def _tool(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(venv / "bin" / "mirror-wizard"), *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=env, check=False)


# -- what the bundle holds ---------------------------------------------------------------------------

def test_bundle_holds_everything_the_far_side_needs(bundle, seeded_release) -> None:
    media, target = bundle
    for command in ("oc", "openshift-install"):
        binary = media / "bin" / command
        assert binary.is_file() and os.access(binary, os.X_OK)
    out = subprocess.run([str(media / "bin" / "openshift-install")], capture_output=True, text=True, check=True)
    assert "openshift-install 4.17.3" in out.stdout and seeded_release.release_digest in out.stdout
    wheels = sorted(p.name for p in (media / "wheelhouse").iterdir())
    assert any(w.startswith("mirror_wizard-") for w in wheels)
    for dependency in ("textual", "httpx", "PyYAML", "keyring", "cryptography"):
        assert any(w.lower().startswith(dependency.lower().replace("-", "_")) for w in wheels), dependency
    plan = yaml.safe_load((media / "plan.yaml").read_text())
    assert plan["release"]["mode"] == "from-dir" and plan["release"]["directory"] == "."
    assert plan["release"]["target"] == target and plan["mirror"]["registry"] == plain_registry_host(target)
    idms = yaml.safe_load((media / "cluster" / "imageDigestMirrorSet.yaml").read_text())
    assert idms["kind"] == "ImageDigestMirrorSet"
    assert target in json.dumps(idms)
    assert (media / "cluster" / "runbook.md").is_file() and (media / "signatures").is_dir()
    readme = (media / "README.txt").read_text()
    assert "pip install --no-index --find-links ./wheelhouse mirror-wizard" in readme
    manifest = json.loads((media / "bundle.json").read_text())
    assert manifest["releases"][0]["digest"] == seeded_release.release_digest and manifest["base"] is None
    # SHA256SUMS in sha256sum's own format, covering every file of the bundle
    check = subprocess.run(["sha256sum", "--strict", "-c", SUMS_FILE], cwd=media, capture_output=True, text=True,
                           check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    listed = set(parse_sums((media / SUMS_FILE).read_bytes())[0])
    on_disk = {p.relative_to(media).as_posix() for p in media.rglob("*") if p.is_file()}
    assert on_disk - listed == {"SHA256SUMS", "SIZES", "SHA256SUMS.sig"}  # the signature covers SHA256SUMS
    # signed by this host's bundle key, named in bundle.json; the medium checks first, then installs
    assert manifest["signer"]["fingerprint"] and "bundle-signer.asc" in listed
    assert verify_bundle(media, signer=manifest["signer"]["fingerprint"]).signed_by == manifest["signer"]["fingerprint"]
    assert readme.index("sha256sum -c") < readme.index("gpg --homedir") < readme.index("pip install")
    sizes = dict(line.split("  ", 1)[::-1] for line in (media / "SIZES").read_text().splitlines())
    assert int(sizes["bin/oc"]) == (media / "bin" / "oc").stat().st_size


def plain_registry_host(target: str) -> str:
    return target.split("/", 1)[0]


def test_offline_install_verify_and_upload_from_the_bundle(bundle, offline_venv, seeded_release,
                                                           plain_registry, tmp_path: Path) -> None:
    media, _ = bundle
    verify = _tool(offline_venv, "media", "verify", str(media), cwd=tmp_path)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "is complete" in verify.stdout and "14 images" in verify.stdout
    mirror = f"{plain_registry.host}/{unique_repo('media-offline')}"
    upload = _tool(offline_venv, "release", "mirror", "--insecure", "--from-dir", str(media), "--to", mirror,
                   cwd=tmp_path)
    assert upload.returncode == 0, upload.stdout + upload.stderr
    assert skopeo.digest(f"{mirror}:{TAG}", **PLAIN) == seeded_release.release_digest
    for name, spec in seeded_release.component_refs.items():
        assert skopeo.digest(f"{mirror}:{TAG}-{name}", **PLAIN) == spec.rsplit("@", 1)[1], name


# -- origin ---------------------------------------------------------------------------------------------

def test_from_dir_with_signer_refuses_a_bundle_another_key_signed(bundle, plain_registry, capsys) -> None:
    """The far side names the key it was told about: a bundle signed by any other key uploads nothing."""
    media, _ = bundle
    fingerprint = json.loads((media / "bundle.json").read_text())["signer"]["fingerprint"]
    code, out, err = _run(["media", "verify", str(media)], capsys)
    assert code == 0 and "origin is NOT checked" in out
    mirror = f"{plain_registry.host}/{unique_repo('media-signer')}"
    other = "0123456789ABCDEF0123456789ABCDEF01234567"
    code, _, err = _run(["release", "mirror", "--insecure", "--from-dir", str(media), "--to", mirror,
                         "--signer", other, "--dry-run"], capsys)
    assert code == 2 and f"is not signed by {other}" in err and "nothing was uploaded" in err, err
    code, out, err = _run(["release", "mirror", "--insecure", "--from-dir", str(media), "--to", mirror,
                           "--signer", fingerprint, "--dry-run"], capsys)
    assert code == 0, err


# -- damage ---------------------------------------------------------------------------------------------

def test_a_flipped_byte_in_a_blob_and_in_a_binary_are_both_named(damaged_copy: Path, plain_registry,
                                                                  capsys) -> None:
    media = damaged_copy
    console = json.loads(skopeo.raw_manifest(f"oci:{media}:openshift/release:{TAG}-console"))
    layer = console["layers"][-1]["digest"]
    _flip(_blob(media, layer))
    _flip(media / "bin" / "oc")
    code, out, _ = _run(["media", "verify", str(media)], capsys)
    assert code == 1
    lines = out.splitlines()
    assert any(line.startswith(f"blobs/sha256/{layer[7:]}: blob is damaged") for line in lines), out
    assert any(line.startswith("bin/oc: file is damaged") for line in lines), out
    damaged_line = next(line for line in lines if line.startswith(f"blobs/sha256/{layer[7:]}:"))
    assert "images needing it: openshift/release:4.17.3-x86_64-console" in damaged_line  # one line, with its image
    assert len([line for line in lines if layer[7:] in line]) == 1
    # The far-side flow checks first and uploads nothing.
    mirror = f"{plain_registry.host}/{unique_repo('media-damaged')}"
    code, _, err = _run(["release", "mirror", "--insecure", "--from-dir", str(media), "--to", mirror], capsys)
    assert code == 2 and "Traceback" not in err
    assert f"blobs/sha256/{layer[7:]}" in err and "nothing was uploaded" in err
    assert skopeo.run("inspect", "--tls-verify=false", f"docker://{mirror}:{TAG}", check=False).returncode != 0


def test_unfinished_extra_and_hostile_bundles(damaged_copy: Path, capsys) -> None:
    media = damaged_copy
    (media / "wheelhouse" / "evil-1.0-py3-none-any.whl").write_bytes(b"PK planted")
    code, out, _ = _run(["media", "verify", str(media)], capsys)
    assert code == 1 and "wheelhouse/evil-1.0-py3-none-any.whl: is not in SHA256SUMS" in out
    (media / "wheelhouse" / "evil-1.0-py3-none-any.whl").unlink()

    sums = (media / SUMS_FILE).read_text()
    outside = media.parent / "outside.txt"
    outside.write_text("secret\n")
    (media / "bin" / "link").symlink_to(outside)
    hostile = sums + f"{'0' * 64}  ../outside.txt\n{'0' * 64}  /etc/passwd\n{'0' * 64}  bin/link\n"
    (media / SUMS_FILE).write_text(hostile)
    code, out, _ = _run(["media", "verify", str(media)], capsys)
    assert code == 1
    assert "'../outside.txt', a path leaving the bundle" in out and "'/etc/passwd', an absolute path" in out
    assert "bin/link: is a symbolic link" in out
    (media / SUMS_FILE).write_text(sums)
    (media / "bin" / "link").unlink()

    (media / SUMS_FILE).unlink()  # what a copy interrupted before the end leaves
    code, out, _ = _run(["media", "verify", str(media)], capsys)
    assert code == 1 and "SHA256SUMS: is missing: the bundle was not finished" in out


def test_an_interrupted_rewrite_leaves_no_list_behind(seeded_release, damaged_copy: Path, capsys) -> None:
    """A second --to-dir run into the bundle takes SHA256SUMS away before copying, then writes it last."""
    media = damaged_copy
    lost = next(p for p in (media / "blobs" / "sha256").iterdir() if p.stat().st_size > 20_000)
    lost.unlink()
    code, _, err = _run(["release", "mirror", "--insecure", "--from", seeded_release.release_ref, "--to-dir",
                         str(media), "--max-per-registry", "1", "--dry-run"], capsys)
    assert code == 0 and (media / SUMS_FILE).exists()  # a dry run changes nothing
    code, _, err = _run(["release", "mirror", "--insecure", "--from", seeded_release.release_ref, "--to-dir",
                         str(media)], capsys)
    assert code == 0, err
    assert lost.exists() and verify_bundle(media).ok


# -- volumes ----------------------------------------------------------------------------------------------

def test_volumes_in_any_order_and_a_missing_one_is_named(bundle, plain_registry, seeded_release, tmp_path: Path,
                                                         capsys) -> None:
    media, _ = bundle
    size = parse_size("3M")
    volumes = split_volumes(media, size, tmp_path / "volumes")
    assert len(volumes) >= 3
    for volume in volumes:
        used = sum(p.stat().st_size for p in volume.rglob("*") if p.is_file())
        assert used <= size, volume
    # Small blobs are never cut; only a file larger than a volume travels in parts.
    parts = [(v, p.relative_to(v).as_posix()) for v in volumes for p in v.rglob("*.part-*")]
    assert parts, "nothing larger than a volume was cut"
    # Each volume keeps room for the file lists it carries (SHA256SUMS, SIZES, the volume map) and a
    # margin of 64 KiB: only a file that does not fit beside them is cut.
    lists = sum((media / name).stat().st_size for name in ("SHA256SUMS", "SIZES")) + 2 * (
        volumes[0] / "VOLUMES.json").stat().st_size + 68 * 1024
    for _volume, part in parts:
        whole = media / part.rsplit(".part-", 1)[0]
        assert whole.stat().st_size > size - lists, part
    target = tmp_path / "arrived"
    order = list(volumes)
    random.Random(7).shuffle(order)
    held_back = order.pop(1)
    number = int(held_back.name.split("-")[1])
    code, out, _ = _run(["media", "join", str(target), *map(str, order)], capsys)
    assert code == 1 and f"volume {number} of {len(volumes)} is missing" in out
    code, out, _ = _run(["media", "verify", str(target)], capsys)
    assert code == 1 and f"volume {number} of {len(volumes)} is missing" in out
    mirror = f"{plain_registry.host}/{unique_repo('media-volumes')}"
    code, _, err = _run(["release", "mirror", "--insecure", "--from-dir", str(target), "--to", mirror], capsys)
    assert code == 2 and f"volume {number} of {len(volumes)} is missing" in err
    code, out, _ = _run(["media", "join", str(target), str(held_back)], capsys)
    assert code == 0, out
    assert verify_bundle(target).ok
    code, _, err = _run(["release", "mirror", "--insecure", "--from-dir", str(target), "--to", mirror], capsys)
    assert code == 0, err
    assert skopeo.digest(f"{mirror}:{TAG}", **PLAIN) == seeded_release.release_digest


def test_max_medium_size_on_the_to_dir_run(seeded_release, tmp_path: Path, capsys) -> None:
    media = tmp_path / "bundle"
    code, _, err = _run(["release", "mirror", "--insecure", "--from", seeded_release.release_ref, "--to-dir",
                         str(media), "--max-medium-size", "4M"], capsys)
    assert code == 0, err
    volumes = sorted((tmp_path / "bundle.volumes").iterdir())
    assert len(volumes) >= 2 and f"volumes: {len(volumes)}" in err
    # With no target named, the plan says what to edit, and no cluster YAML names a made-up registry.
    assert "mirror.example.com" in (media / "README.txt").read_text()
    assert not (media / "cluster" / "imageDigestMirrorSet.yaml").exists()


# -- incremental ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def second_release(plain_registry, seed_layout: Path) -> str:
    """4.17.4 of the sandbox: the same base layers and most components as 4.17.3, new installer and cli."""
    host = plain_registry.host

    async def seed() -> str:
        builder = new_builder(seed_layout / "release-4.17.4")
        release = await build_release(builder, source_host=host, version="4.17.4", layer_size=32 * 1024)
        tasks = [CopyTask(LayoutLocation(seed_layout / "release-4.17.4", name),
                          RegistryLocation(parse_reference(f"{host}/{name.replace(':sandbox-', ':sandbox-4.17.4-')}")))
                 for name in [*release.components.values(), release.release_name]]
        async with RegistrySession(tls=TLSOptions(insecure=True)) as session:
            result = await copy_images(tasks, session, CopyOptions())
        assert result.ok, result.failures
        return f"{host}/{release.release_name}"

    return asyncio.run(seed())


def test_incremental_bundle_carries_only_new_layers_and_completes_the_mirror(
        bundle, second_release, seeded_release, plain_registry, tmp_path: Path, capsys) -> None:
    first, _ = bundle
    mirror = f"{plain_registry.host}/{unique_repo('media-incremental')}"
    assert main(["release", "mirror", "--insecure", "--from-dir", str(first), "--to", mirror]) == 0
    capsys.readouterr()
    media = tmp_path / "update"
    code, out, err = _run(["release", "mirror", "--insecure", "--json", "--from", second_release, "--to-dir",
                           str(media), "--since", str(first / "bundle.json")], capsys)
    assert code == 0, err
    summary = json.loads(out)["bundle"]
    assert summary["omitted_blobs"] > 0
    first_layers = {p.name for p in (first / "blobs" / "sha256").iterdir()}
    carried = {p.name for p in (media / "blobs" / "sha256").iterdir()}
    release_layers = {d[7:] for d in _layers(f"oci:{media}:openshift/release:4.17.4-x86_64")}
    manifest = json.loads((media / "bundle.json").read_text())
    omitted = {d[7:] for d in manifest["base"]["omitted"]}
    assert len(omitted) == summary["omitted_blobs"] and not omitted & carried
    # What both bundles carry is only what the far side reads from the medium itself: manifests, configs
    # and the release image's layers; every shared component layer stayed at home.
    for shared in carried & first_layers:
        path = media / "blobs" / "sha256" / shared
        assert shared in release_layers or path.stat().st_size < 8192, shared
    assert verify_bundle(media).ok and verify_bundle(media).omitted == len(omitted)

    # The far side refuses a mirror without the base, naming it ...
    empty = f"{plain_registry.host}/{unique_repo('media-nobase')}"
    code, _, err = _run(["release", "mirror", "--insecure", "--from-dir", str(media), "--to", empty], capsys)
    assert code == 2 and "upload the base bundle" in err and manifest["base"]["id"] in err
    # ... and completes the earlier mirror.
    code, _, err = _run(["release", "mirror", "--insecure", "--from-dir", str(media), "--to", mirror], capsys)
    assert code == 0, err
    assert skopeo.digest(f"{mirror}:4.17.4-x86_64", **PLAIN) == skopeo.digest(second_release, **PLAIN)
    for name in ("etcd", "installer", "console"):  # every blob of each image can be pulled from the mirror
        image = f"{mirror}:4.17.4-x86_64-{name}"
        skopeo.copy(image, f"oci:{tmp_path / 'pulled'}:{name}", all_images=False, src_opts=["--tls-verify=false"])
        assert skopeo.digest(f"oci:{tmp_path / 'pulled'}:{name}") == skopeo.digest(image, **PLAIN)
    # the 4.17.3 images are still there, untouched
    assert skopeo.digest(f"{mirror}:{TAG}-etcd", **PLAIN) == seeded_release.component_refs["etcd"].rsplit("@", 1)[1]


# -- units ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [("4G", 4 << 30), ("700M", 700 << 20), ("1.5GiB", int(1.5 * (1 << 30))),
                                           ("2t", 2 << 40), ("1048576", 1 << 20)])
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "4X", "-1G", "12K", "G"])
def test_parse_size_refuses(text: str) -> None:
    with pytest.raises(InputError):
        parse_size(text)


@pytest.mark.parametrize("path", ["../x", "a/../../x", "/etc/passwd", "a//b", "./", "a\\b", "a\x00b", "a/./b"])
def test_safe_relpath_refuses(path: str) -> None:
    with pytest.raises(ValueError):
        safe_relpath(path)


def test_parse_sums_reads_sha256sum_output(tmp_path: Path) -> None:
    (tmp_path / "a b.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c").write_text("y")
    out = subprocess.run(["sha256sum", "a b.txt", "sub/c"], cwd=tmp_path, capture_output=True, check=True).stdout
    sums, problems = parse_sums(out + b"not a line\n")
    assert set(sums) == {"a b.txt", "sub/c"} and len(problems) == 1 and "line 3" in problems[0].message


# -- a to-dir plan (mirror-wizard run) -------------------------------------------------------------------

def test_a_to_dir_plan_bundle_runs_on_the_far_side_from_its_own_directory(
        seeded_release, plain_registry, tls_registry, auth_file: Path, pki, tmp_path: Path, capsys,
        monkeypatch) -> None:
    from tests.test_run import on_mirror, seed_samples, write_plan

    samples = seed_samples(tmp_path, plain_registry.host)
    mirror = tls_registry.host
    target = f"{mirror}/{unique_repo('media-plan')}"
    media = tmp_path / "media"
    release = {"source": seeded_release.release_ref, "mode": "to-dir", "directory": str(media), "target": target}
    plan = write_plan(tmp_path / "plan.yaml", auth_file=auth_file, pki=pki, mirror=mirror,
                      source_host=plain_registry.host, samples=samples, output_dir=tmp_path / "out", release=release)
    # The bundle flags travel from `run` through the job to core.orchestrate: here, no wheelhouse.
    code, _, err = _run(["run", str(plan), "--no-wheelhouse"], capsys)
    assert code == 0, err
    assert "SHA256SUMS written last" in err
    assert not (media / "wheelhouse").exists() and "carries no wheelhouse" in (media / "README.txt").read_text()
    far = yaml.safe_load((media / "plan.yaml").read_text())
    # Every path in the far side's plan is inside the bundle, relative to it; no connected-side secret file.
    assert far["release"] == {**far["release"], "mode": "from-dir", "directory": ".", "target": target}
    assert far["auth_file"] is None and far["mirror"]["ca_file"] == "config/mirror-ca.pem"
    assert far["samples"]["paths"] == ["samples/00-streams.json"]
    assert (media / "config" / "mirror-ca.pem").read_bytes() == pki.ca_file.read_bytes()
    assert (media / "cluster" / "samples-operator-config.yaml").is_file()
    assert verify_bundle(media).ok

    # The mirror host: its own credentials, the bundle's plan, run from inside the bundle.
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(auth_file))
    monkeypatch.chdir(media)
    code, _, err = _run(["run", "plan.yaml"], capsys)
    assert code == 0, err
    # Its documents land in the bundle's directory (the plan's output_dir): mentioned, not a problem.
    assert (media / "mirror-wizard-output" / "imageDigestMirrorSet.yaml").is_file()
    report = verify_bundle(media)
    assert report.ok and any(p.path.startswith("mirror-wizard-output/") for p in report.problems)
    registry_opts = {"authfile": auth_file, "cert_dir": pki.dir}
    assert skopeo.digest(f"{target}:{TAG}", **registry_opts) == seeded_release.release_digest
    for name, spec in samples.specs.items():
        assert skopeo.digest(on_mirror(spec, mirror), **registry_opts) == samples.digests[name]


def test_media_bundle_refuses_to_vouch_for_a_damaged_blob(damaged_copy: Path, seeded_release, capsys) -> None:
    media = damaged_copy
    etcd = json.loads(skopeo.raw_manifest(f"oci:{media}:openshift/release:{TAG}-etcd"))
    layer = etcd["layers"][-1]["digest"]
    _flip(_blob(media, layer))
    code, _, err = _run(["media", "bundle", str(media), "--wheelhouse", str(media / "wheelhouse")], capsys)
    assert code == 2 and layer[7:] in err and "does not match its digest" in err and "Traceback" not in err
    assert not (media / SUMS_FILE).exists()  # unfinished, and it says so
    code, out, _ = _run(["media", "verify", str(media)], capsys)
    assert code == 1 and "SHA256SUMS: is missing" in out


def test_the_signatures_slot_is_filled_by_its_callback_and_listed(damaged_copy: Path) -> None:
    from core.bundle import BundleOptions, releases_in_bundle
    from core.bundle_write import write_bundle

    media = damaged_copy

    def signatures(folder: Path) -> list[Path]:  # what core.signatures (day 2) plugs in
        path = folder / "signature-sha256-0123456789abcdef.json"
        path.write_text('{"kind": "ConfigMap"}\n')
        return [path]

    async def go() -> None:
        releases = await releases_in_bundle(media)
        await write_bundle(media, releases, options=BundleOptions(wheelhouse=media / "wheelhouse",
                                                                  signatures=signatures))

    asyncio.run(go())
    listed = parse_sums((media / SUMS_FILE).read_bytes())[0]
    assert "signatures/signature-sha256-0123456789abcdef.json" in listed
    assert verify_bundle(media).ok


def test_join_refuses_a_volume_that_names_a_path_outside(bundle, tmp_path: Path, capsys) -> None:
    volumes = split_volumes(bundle[0], parse_size("6M"), tmp_path / "volumes")
    marker = next(volumes[0].glob("VOLUME-*.json"))
    data = json.loads(marker.read_text())
    data["files"].append({"path": "../../escaped", "size": 1})
    marker.write_text(json.dumps(data))
    code, _, err = _run(["media", "join", str(tmp_path / "in"), str(volumes[0])], capsys)
    assert code == 2 and "not a volume marker" in err and not (tmp_path / "escaped").exists()


# -- the wizard's removable-media mode --------------------------------------------------------------------

def test_the_wizards_removable_media_mode_writes_the_bundle_through_the_one_path(
        seeded_release, plain_registry, tls_registry, auth_file: Path, pki, tmp_path: Path) -> None:
    """The Mirror step runs core.orchestrate.run_job like the CLI, so a to-dir plan's medium comes out as
    the same complete bundle, and the step's log says where it is."""
    from tests.test_one_path import wizard_mirror
    from tests.test_run import write_plan
    from tui.state import WizardState

    media = tmp_path / "media"
    target = f"{tls_registry.host}/{unique_repo('media-wizard')}"
    plan = write_plan(tmp_path / "plan.yaml", auth_file=auth_file, pki=pki, mirror=tls_registry.host,
                      source_host=plain_registry.host, samples=None, output_dir=tmp_path / "out",
                      release={"source": seeded_release.release_ref, "mode": "to-dir", "directory": str(media),
                               "target": target})
    state = WizardState.from_path(str(plan))
    asyncio.run(wizard_mirror(state))
    progress = state.progress
    log = list(progress.log)
    assert progress.finished and not progress.error, log[-8:]
    assert any(line.startswith(f"bundle ready in {media}: ") for line in log), log[-8:]
    report = verify_bundle(media)
    assert report.ok, [str(p) for p in report.errors]
    far = yaml.safe_load((media / "plan.yaml").read_text())
    assert far["release"]["mode"] == "from-dir" and far["release"]["target"] == target
    assert (media / "bin" / "openshift-install").is_file() and (media / "cluster" / "runbook.md").is_file()


def test_bundle_flags_without_a_medium_are_refused_before_anything_runs(tmp_path: Path, capsys) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({"mirror": {"registry": "mirror.example.com:8443"},
                                    "release": {"source": "quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64",
                                                "mode": "registry", "target": "mirror.example.com:8443/ocp4/x"}}))
    code, _, err = _run(["run", str(plan), "--max-medium-size", "4G", "--no-wheelhouse"], capsys)
    assert code == 2 and "--max-medium-size, --no-wheelhouse: only for the bundle a to-dir plan writes" in err
    code, _, err = _run(["release", "mirror", "--from", "quay.io/x/y:1", "--to", "mirror.example.com:8443/ocp4/x",
                         "--since", str(plan)], capsys)
    assert code == 2 and "--since: only for the bundle a --to-dir run writes" in err


def test_verify_on_the_connected_side_checks_the_medium_not_the_registry(bundle, damaged_copy: Path,
                                                                         seeded_release, plain_registry) -> None:
    """A to-dir plan has put nothing in the registry yet: verify checks the medium and says where the
    registry is checked, instead of a wall of "missing" for images that are on the way."""
    from core.plan import MirrorRegistry, Plan, ReleaseChoice, ReleaseMode
    from core.verify import Status, verify

    def plan_for(media: Path) -> Plan:
        return Plan(mirror=MirrorRegistry(registry=plain_registry.host, insecure=True),
                    release=ReleaseChoice(source=seeded_release.release_ref, mode=ReleaseMode.TO_DIR,
                                          directory=str(media), target=bundle[1]))

    report = asyncio.run(verify(plan_for(bundle[0])))
    checks = {c.name: c for c in report.checks}
    assert checks["medium"].status is Status.PASS and "is complete" in checks["medium"].detail
    assert checks["registry"].status is Status.SKIP and "mirror host" in checks["registry"].detail
    assert "release-images" not in checks and not report.checks[0].failed
    console = json.loads(skopeo.raw_manifest(f"oci:{damaged_copy}:openshift/release:{TAG}-console"))
    _flip(_blob(damaged_copy, console["layers"][-1]["digest"]))
    report = asyncio.run(verify(plan_for(damaged_copy)))
    medium = next(c for c in report.checks if c.name == "medium")
    assert medium.failed and any("blob is damaged" in item for item in medium.items), medium.items
