"""release graph-image: the update service's graph-data image from the real graph-data files.

The tarball is packed from /work/shared/fixtures/graph-data (the real stable-4.17 channel and a real
blocked edge); the base stands in for ubi9 (a two-platform index) behind an ImageDigestMirrorSet, as the
sandbox's sources are; the image is pushed to a real docker-registry and read back with skopeo.
"""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
from pathlib import Path

import pytest
import yaml

from core.errors import InputError
from core.graph_image import (
    CA_KEY,
    GRAPH_COMMAND,
    GRAPH_DATA_DIR,
    graph_data_layer,
    graph_image_reference,
)
from tests.conftest import needs_registry
from tests.support import skopeo
from tests.support.day2_release import push_layout
from tests.support.repos import unique_repo
from tui.cli import main
from tui.sandbox.content import make_layer, new_builder

FIXTURE = Path("/work/shared/fixtures/graph-data")
CHANNEL = "channels/stable-4.17.yaml"


def pack(members: dict[str, bytes | None] | None = None, *, from_fixture: bool = True, mode: str = "w:gz") -> bytes:
    """A graph-data tarball as ``tar -czf graph-data.tar.gz -C graph-data .`` makes it (names start ``./``)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as tar:
        if from_fixture:
            tar.add(FIXTURE, arcname=".")
        for name, content in (members or {}).items():
            info = tarfile.TarInfo(name)
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def layer_members(blob: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        return {m.name: m for m in tar.getmembers()}


def layer_file(blob: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        stream = tar.extractfile(name)
        assert stream is not None
        return stream.read()


# -- the layer ---------------------------------------------------------------------------------------

def test_layer_holds_the_real_graph_data_under_var_lib_cincinnati_graph_data() -> None:
    layer = graph_data_layer(pack(), "fixture")
    members = layer_members(layer.blob)
    assert f"{GRAPH_DATA_DIR}/{CHANNEL}" in members
    assert layer_file(layer.blob, f"{GRAPH_DATA_DIR}/{CHANNEL}") == (FIXTURE / CHANNEL).read_bytes()
    edge = "blocked-edges/4.11.0-MachineConfigRenderingChurn.yaml"
    assert layer_file(layer.blob, f"{GRAPH_DATA_DIR}/{edge}") == (FIXTURE / edge).read_bytes()
    assert layer_file(layer.blob, f"{GRAPH_DATA_DIR}/version") == (FIXTURE / "version").read_bytes()
    assert all(m.uid == 0 and m.gid == 0 for m in members.values())  # root-owned, as oc-mirror writes it
    assert all(name.startswith(GRAPH_DATA_DIR) for name in members)
    assert layer.channels == ("stable-4.17.yaml",) and layer.version == "1.0.0"
    # The same data gives the same layer: a rerun pushes nothing new and the UpdateService keeps its digest.
    assert graph_data_layer(pack(), "again").digest == layer.digest
    # An uncompressed tarball is read too.
    assert graph_data_layer(pack(mode="w"), "plain tar").diff_id == layer.diff_id


def _symlink_tar() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        tar.add(FIXTURE, arcname=".")
        info = tarfile.TarInfo("channels/evil.yaml")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/shadow"
        tar.addfile(info)
    return out.getvalue()


def _hardlink_tar() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        tar.add(FIXTURE, arcname=".")
        info = tarfile.TarInfo("raw/link")
        info.type, info.linkname = tarfile.LNKTYPE, "../../etc/passwd"
        tar.addfile(info)
    return out.getvalue()


@pytest.mark.parametrize(("data", "message"), [
    (pack({"/etc/cron.d/x": b"* * * * * root id\n"}), "absolute path"),
    (pack({"channels/../../escape.yaml": b"x"}), "climbs out"),
    (pack({"README.md": b"hello"}), "unexpected entry"),
    (pack({"Dockerfile/x": b"x"}), "unexpected entry"),
    (_symlink_tar(), "link or special file"),
    (_hardlink_tar(), "link or special file"),
    (pack({"channels": b"not a folder"}, from_fixture=False), "must be a folder"),
    (pack({"version": b"1.0.0\n"}, from_fixture=False), "no channels"),
    (b"this is not a tarball at all" * 10, "not a readable tar archive"),
    (pack()[:200], "not a readable tar archive"),
])
def test_a_hostile_or_wrong_tarball_is_one_clear_line(data: bytes, message: str) -> None:
    with pytest.raises(InputError) as caught:
        graph_data_layer(data, "graph data t.tar.gz")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_sizes_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import core.graph_image as graph_image

    monkeypatch.setattr(graph_image, "MAX_MEMBER", 100)
    with pytest.raises(InputError, match="more than the 0 MiB accepted for one graph-data file"):
        graph_data_layer(pack({"raw/metadata.json": b"x" * 101}), "big")
    monkeypatch.setattr(graph_image, "MAX_MEMBER", 32 << 20)
    monkeypatch.setattr(graph_image, "MAX_MEMBERS", 3)
    with pytest.raises(InputError, match="more than 3 entries"):
        graph_data_layer(pack(), "many")
    monkeypatch.setattr(graph_image, "MAX_MEMBERS", 50_000)
    # A gzip bomb (or a giant PAX header) stops at the bound while inflating, before tarfile sees it.
    monkeypatch.setattr(graph_image, "MAX_UNPACKED", 1 << 20)
    monkeypatch.setattr(graph_image, "TAR_OVERHEAD", 0)
    with pytest.raises(InputError, match="unpacks to more than 1 MiB"):
        graph_data_layer(pack({"raw/metadata.json": b"\0" * (2 << 20)}), "bomb")
    monkeypatch.setattr(graph_image, "MAX_TARBALL", 10)
    with pytest.raises(InputError, match="a graph-data tarball can be"):
        graph_data_layer(pack(), "huge")


def test_names_follow_oc_mirror() -> None:
    assert str(graph_image_reference("mirror.example.com:8443", None)) == \
        "mirror.example.com:8443/openshift/graph-image:latest"
    assert str(graph_image_reference("mirror.example.com:8443/ocp4", None)) == \
        "mirror.example.com:8443/ocp4/openshift/graph-image:latest"
    assert str(graph_image_reference("x:1", "mirror.example.com/osus/graph:v1")) == "mirror.example.com/osus/graph:v1"
    assert GRAPH_COMMAND == ["/bin/bash", "-c",
                             "exec cp -rp /var/lib/cincinnati-graph-data/* /var/lib/cincinnati/graph-data"]


# -- pushed to a real registry ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ubi_stand_in(plain_registry, tmp_path_factory) -> tuple[str, Path]:
    """A two-platform base pushed to ``HOST/<prefix>access/ubi9/ubi:latest``, and an IDMS sending
    registry.access.redhat.com there (the default base, read like any source through a mirror set)."""
    host = plain_registry.host
    prefix = unique_repo("ubi") + "/"
    layout = tmp_path_factory.mktemp("ubi")

    async def build() -> None:
        builder = new_builder(layout)
        amd = builder.image([make_layer(7001, 4096, {"bin/bash": (b"#!/bin/sh\n", 0o755)})])
        arm = builder.image([make_layer(7002, 4096, {"bin/bash": (b"#!/bin/sh\n", 0o755)})], arch="arm64")
        await builder.name("access/ubi9/ubi:latest", builder.index([(amd, "amd64"), (arm, "arm64")]))
        await push_layout(layout, ["access/ubi9/ubi:latest"], host, prefix)

    asyncio.run(build())
    idms = tmp_path_factory.mktemp("idms") / "idms.yaml"
    idms.write_text(yaml.safe_dump({
        "apiVersion": "config.openshift.io/v1", "kind": "ImageDigestMirrorSet", "metadata": {"name": "ubi"},
        "spec": {"imageDigestMirrors": [{"source": "registry.access.redhat.com",
                                         "mirrors": [f"{host}/{prefix}access"]}]}}))
    return host, idms


@needs_registry
def test_graph_image_pushed_with_the_graph_data_and_the_update_service_pins_it(ubi_stand_in, pki, tmp_path,
                                                                               capsys) -> None:
    host, idms = ubi_stand_in
    namespace = unique_repo("osus")
    tarball = tmp_path / "graph-data.tar.gz"
    tarball.write_bytes(pack())
    out = tmp_path / "update-service"
    releases = f"{host}/{namespace}/openshift4"
    argv = ["release", "graph-image", "--graph-data", str(tarball), "--to", f"{host}/{namespace}", "--insecure",
            "--idms-file", str(idms), "-o", str(out), "--releases", releases,
            "--registry-ca-file", str(pki.ca_file), "--route-host", "osus.apps.example.com"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    image = f"{host}/{namespace}/openshift/graph-image:latest"
    assert image in printed
    # skopeo is the referee: the tag is an index of both platforms, each the base plus one layer.
    digest = skopeo.digest(image, tls_verify=False)
    index = json.loads(skopeo.raw_manifest(image, tls_verify=False))
    assert len(index["manifests"]) == 2
    oci = tmp_path / "oci"
    skopeo.copy(image, f"oci:{oci}:graph", src_opts=["--tls-verify=false"])
    for entry in index["manifests"]:
        manifest = json.loads((oci / "blobs" / "sha256" / entry["digest"].split(":")[1]).read_bytes())
        layer = manifest["layers"][-1]
        blob = (oci / "blobs" / "sha256" / layer["digest"].split(":")[1]).read_bytes()
        assert layer_file(blob, f"{GRAPH_DATA_DIR}/{CHANNEL}") == (FIXTURE / CHANNEL).read_bytes()
        config = json.loads((oci / "blobs" / "sha256" / manifest["config"]["digest"].split(":")[1]).read_bytes())
        assert config["config"]["Cmd"] == GRAPH_COMMAND
        assert len(config["rootfs"]["diff_ids"]) == len(manifest["layers"])
    # The base went to the mirror under its own name, tagged (housekeeping never collects it).
    assert skopeo.inspect(f"{host}/{namespace}/ubi9/ubi:latest", tls_verify=False, raw=True)["manifests"]
    # The UpdateService pins the image by that digest, in the operator's namespace, with the releases repository.
    service = yaml.safe_load((out / "updateservice.yaml").read_text())
    assert service["apiVersion"] == "updateservice.operator.openshift.io/v1" and service["kind"] == "UpdateService"
    assert service["metadata"]["namespace"] == "openshift-update-service"
    assert service["spec"]["graphDataImage"] == f"{host}/{namespace}/openshift/graph-image@{digest}"
    assert service["spec"]["releases"] == releases
    # The CA goes under both keys, as a merge patch (other registries' keys stay).
    patch = yaml.safe_load((out / "registry-ca-merge-patch.yaml").read_text())
    key = host.replace(":", "..")
    assert set(patch["data"]) == {key, CA_KEY} and "BEGIN CERTIFICATE" in patch["data"][CA_KEY]
    assert yaml.safe_load((out / "clusterversion-upstream-patch.yaml").read_text()) == \
        {"spec": {"upstream": "https://osus.apps.example.com/api/upgrades_info/v1/graph"}}
    steps = (out / "update-service-steps.txt").read_text()
    assert "--type=merge --patch-file=" in steps and "policyEngineURI" in steps
    # A rerun builds the same image: same digest, nothing new.
    assert main(argv) == 0
    assert skopeo.digest(image, tls_verify=False) == digest


@needs_registry
def test_bad_input_is_one_line(ubi_stand_in, tmp_path, capsys) -> None:
    host, idms = ubi_stand_in
    evil = tmp_path / "evil.tar.gz"
    evil.write_bytes(_symlink_tar())
    base = ["release", "graph-image", "--to", f"{host}/x", "--insecure", "--idms-file", str(idms)]
    for argv, message in (
        ([*base, "--graph-data", str(evil)], "link or special file"),
        ([*base, "--graph-data", str(tmp_path / "missing.tar.gz")], "does not exist"),
        ([*base, "--graph-data", str(tmp_path)], "is a folder"),
        ([*base, "--graph-data", str(evil), "-o", str(tmp_path / "o")], "add --releases"),
        ([*base, "--graph-data", str(evil), "--graph-image", f"{host}/a@sha256:{'0' * 64}"], "not a digest"),
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err


@needs_registry
def test_a_docker_schema_2_base_keeps_its_media_types(plain_registry, tmp_path) -> None:
    """Red Hat serves its bases as Docker schema 2 lists: the graph image stays Docker schema 2 throughout."""
    from core.manifest import DOCKER_LIST, DOCKER_MANIFEST, Manifest

    host = plain_registry.host
    prefix = unique_repo("docker-base") + "/"

    async def build() -> None:
        builder = new_builder(tmp_path / "layout")
        layer = make_layer(7101, 2048)
        config = builder.blob(json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/bash"]},
                                          "history": [{"created_by": "base"}],
                                          "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]}}).encode())
        image = Manifest.parse(json.dumps({
            "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", **config},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", **builder.blob(layer.blob)}],
        }).encode(), DOCKER_MANIFEST, where="test")
        builder.layout.put_manifest_blob(image)
        index = Manifest.parse(json.dumps({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": [
            {"mediaType": DOCKER_MANIFEST, "digest": image.digest, "size": len(image.raw),
             "platform": {"architecture": "amd64", "os": "linux"}}]}).encode(), DOCKER_LIST, where="test")
        builder.layout.put_manifest_blob(index)
        await builder.name("ubi9/ubi:9.5", index)
        await push_layout(tmp_path / "layout", ["ubi9/ubi:9.5"], host, prefix)

    asyncio.run(build())
    tarball = tmp_path / "graph-data.tar.gz"
    tarball.write_bytes(pack())
    assert main(["release", "graph-image", "--graph-data", str(tarball), "--to", f"{host}/{prefix}mirror",
                 "--base-image", f"{host}/{prefix}ubi9/ubi:9.5", "--insecure"]) == 0
    image = f"{host}/{prefix}mirror/openshift/graph-image:latest"
    top = json.loads(skopeo.raw_manifest(image, tls_verify=False))
    assert top["mediaType"] == DOCKER_LIST
    child = json.loads(skopeo.raw_manifest(f"{host}/{prefix}mirror/openshift/graph-image@{top['manifests'][0]['digest']}",
                                           tls_verify=False))
    assert child["mediaType"] == DOCKER_MANIFEST
    assert child["layers"][-1]["mediaType"] == "application/vnd.docker.image.rootfs.diff.tar.gzip"
    config = skopeo.inspect(image, tls_verify=False)
    assert len(config["Layers"]) == 2
    raw_config = json.loads(skopeo.run("inspect", "--config", "--tls-verify=false", f"docker://{image}").stdout)
    assert raw_config["config"]["Cmd"] == GRAPH_COMMAND
    assert len(raw_config["history"]) == 2  # one entry per added layer: podman checks it
    # The base went under the mirror's namespace, at its own path and tag (as any image is mirrored).
    assert skopeo.digest(f"{host}/{prefix}mirror/{prefix}ubi9/ubi:9.5", tls_verify=False)
