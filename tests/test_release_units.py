"""Release pieces without registries: the real update graph, real payload files, tag naming, the exact
YAML of the mirror instructions, mirror-set files and streamed tar reading."""

from __future__ import annotations

import asyncio
import gzip
import io
import itertools
import json
import tarfile
from pathlib import Path

import pytest
import yaml

from core.endpoints import LayoutLocation, RegistryLocation
from core.errors import InputError, ReleaseError
from core.extract import read_members, scan_tar
from core.graph import graph_arch, parse_graph, version_key
from core.mirror_config import (
    MirrorInstructions,
    load_mirror_sets,
    parse_mirror_sets,
    release_mirror_instructions,
)
from core.release import (
    RECORD_FILE,
    ReleaseInfo,
    layout_name,
    parse_image_references,
    parse_release_metadata,
    release_tasks,
    releases_in_dir,
    to_dir_tasks,
)

FIXTURES = Path("/work/shared/fixtures/release")
GRAPH_48 = FIXTURES / "cincinnati-graph" / "134475077ed4eeaedf3c339f12915b9cdaf7d194_stable-4.8_amd64_v1.json"
GRAPH_MULTI = FIXTURES / "cincinnati-graph" / "134475077ed4eeaedf3c339f12915b9cdaf7d194_candidate-4.12_multi_v1.json"
NIGHTLY = FIXTURES / "ocp-4.8.0-0.nightly-2021-05-25-072938"
GA_METADATA = FIXTURES / "ocp-4.14.21" / "release-metadata"
RELEASE_DIGEST = "sha256:" + "ab" * 32


# -- graph ----------------------------------------------------------------------------------------

def test_real_stable_graph_newest_first_with_every_edge() -> None:
    data = json.loads(GRAPH_48.read_text())
    releases = parse_graph(data)
    assert len(releases) == len(data["nodes"]) == 101
    assert [r.version for r in releases[:3]] == ["4.8.54", "4.8.53", "4.8.52"]
    versions = [r.version for r in releases]
    assert versions.index("4.8.10") < versions.index("4.8.9") < versions.index("4.8.2")
    assert all(version_key(a.version) > version_key(b.version) for a, b in itertools.pairwise(releases))
    # each edge [from, to] indexes nodes: "to" can be reached from "from"
    expected: dict[str, set[str]] = {}
    for src, dst in data["edges"]:
        expected.setdefault(data["nodes"][dst]["version"], set()).add(data["nodes"][src]["version"])
    for release in releases:
        assert set(release.upgrades_from) == expected.get(release.version, set())
        assert release.payload.startswith("quay.io/openshift-release-dev/ocp-release@sha256:")
    newest = releases[0]
    assert newest.upgrades_from[0] == "4.8.53" and "4.7.41" not in newest.upgrades_from[:1]
    assert newest.errata_url and newest.errata_url.startswith("https://access.redhat.com/errata/")
    conditional = {r.version: r.conditional_from for r in releases if r.conditional_from}
    assert conditional == {"4.7.4": ["4.7.3", "4.7.2", "4.7.1", "4.7.0"]}


def test_real_multi_graph_rc_before_ga() -> None:
    releases = parse_graph(json.loads(GRAPH_MULTI.read_text()))
    assert [r.version for r in releases] == ["4.12.0-rc.4", "4.12.0-rc.3", "4.12.0-rc.2", "4.12.0-rc.1", "4.12.0-rc.0"]
    assert releases[0].upgrades_from == ["4.12.0-rc.3", "4.12.0-rc.2", "4.12.0-rc.1", "4.12.0-rc.0"]
    assert releases[-1].upgrades_from == []
    assert releases[0].metadata["release.openshift.io/architecture"] == "multi"


@pytest.mark.parametrize("data,match", [
    ({}, "nodes"),
    ({"nodes": [{"payload": "x"}]}, "no version"),
    ({"nodes": [{"version": "4.1.0"}], "edges": [[0, 5]]}, "edge"),
    ({"nodes": [{"version": "4.1.0"}], "edges": [[0]]}, "edge"),
])
def test_bad_graphs_are_release_errors(data, match) -> None:
    with pytest.raises(ReleaseError, match=match):
        parse_graph(data)


def test_version_order_and_arch_names() -> None:
    ordered = ["4.12.0-rc.0", "4.12.0-rc.1", "4.12.0-rc.10", "4.12.0", "4.12.1", "4.12.10", "4.13.0-ec.1", "4.13.0"]
    shuffled = ordered[3:] + ordered[:3][::-1]
    assert sorted(shuffled, key=version_key) == ordered
    assert graph_arch("x86_64") == "amd64" and graph_arch("aarch64") == "arm64" and graph_arch("multi") == "multi"
    assert graph_arch("amd64") == "amd64" and graph_arch("s390x") == "s390x"
    with pytest.raises(ReleaseError, match="x86_64"):
        graph_arch("i386")


# -- payload files --------------------------------------------------------------------------------

def test_real_image_references_and_metadata() -> None:
    name, components = parse_image_references((NIGHTLY / "image-references").read_bytes())
    assert name == "4.8.0-0.nightly-2021-05-25-072938"
    assert len(components) == 135 and list(components) == sorted(components)
    assert all(s.startswith("quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:") for s in components.values())
    assert "installer" in components and "cli" in components
    ga = parse_release_metadata(GA_METADATA.read_bytes())
    assert ga["version"] == "4.14.21" and len(ga["previous"]) == 42
    assert ga["metadata"]["url"] == "https://access.redhat.com/errata/RHSA-2024:1765"
    nightly = parse_release_metadata((NIGHTLY / "release-metadata").read_bytes())
    assert nightly["previous"] == [] and "metadata" not in nightly


def test_image_references_by_tag_are_refused() -> None:
    """The per-operator file names images by tag (oc adm release new rewrites them); a payload must not."""
    with pytest.raises(ReleaseError, match="not a pull spec by digest"):
        parse_image_references((FIXTURES / "cluster-samples-operator-manifests" / "image-references").read_bytes())
    with pytest.raises(ReleaseError, match="ImageStream"):
        parse_image_references(b'{"kind": "ConfigMap"}')
    with pytest.raises(ReleaseError, match="not a JSON object"):
        parse_release_metadata(b"[1, 2]")


def _info(architecture: str = "x86_64", **overrides) -> ReleaseInfo:
    _, components = parse_image_references((NIGHTLY / "image-references").read_bytes())
    metadata = parse_release_metadata(GA_METADATA.read_bytes())
    values = {"pull_spec": "quay.io/openshift-release-dev/ocp-release:4.14.21-x86_64", "digest": RELEASE_DIGEST,
              "version": "4.14.21", "architecture": architecture, "metadata": metadata, "components": components,
              "source_repository": "quay.io/openshift-release-dev/ocp-release",
              "component_repository": "quay.io/openshift-release-dev/ocp-v4.0-art-dev"}
    values.update(overrides)
    return ReleaseInfo(**values)


def test_release_info_metadata_properties() -> None:
    info = _info()
    assert info.previous[0] == "4.13.19" and len(info.previous) == 42
    assert info.errata_url == "https://access.redhat.com/errata/RHSA-2024:1765"
    assert info.tag == "4.14.21-x86_64" and info.component_tag("cli") == "4.14.21-x86_64-cli"


# -- tasks and tags -------------------------------------------------------------------------------

def test_release_tasks_tags_and_digests() -> None:
    info = _info()
    tasks = release_tasks(info, "mirror.example.com:8443/ocp4/openshift4")
    assert len(tasks) == 136
    release = tasks[0]
    assert isinstance(release.source, RegistryLocation)
    # pinned by digest, whatever tag the release was named by
    assert str(release.source) == f"quay.io/openshift-release-dev/ocp-release@{RELEASE_DIGEST}"
    assert str(release.destination) == "mirror.example.com:8443/ocp4/openshift4:4.14.21-x86_64"
    by_dest = {str(t.destination): str(t.source) for t in tasks[1:]}
    assert by_dest["mirror.example.com:8443/ocp4/openshift4:4.14.21-x86_64-aws-ebs-csi-driver"] == \
        info.components["aws-ebs-csi-driver"]
    assert by_dest["mirror.example.com:8443/ocp4/openshift4:4.14.21-x86_64-installer"] == info.components["installer"]


def test_release_image_destination_variants() -> None:
    info = _info(architecture="multi", version="4.12.0-rc.4")
    tasks = release_tasks(info, "mirror.example.com/ocp/release", "mirror.example.com/ocp/release-images")
    assert str(tasks[0].destination) == "mirror.example.com/ocp/release-images:4.12.0-rc.4-multi"
    assert str(tasks[1].destination).startswith("mirror.example.com/ocp/release:4.12.0-rc.4-multi-")
    tasks = release_tasks(info, "mirror.example.com/ocp/release", "mirror.example.com/ocp/release-images:pinned")
    assert str(tasks[0].destination) == "mirror.example.com/ocp/release-images:pinned"
    with pytest.raises(InputError, match="not a digest"):
        release_tasks(info, "mirror.example.com/ocp/release", f"mirror.example.com/ocp/r@{RELEASE_DIGEST}")
    with pytest.raises(InputError):
        release_tasks(info, "mirror.example.com/ocp/release:tagged")


def test_to_dir_tasks_names_and_record(tmp_path: Path) -> None:
    info = _info()
    media = tmp_path / "media"
    tasks = to_dir_tasks(info, media, prepare=False)
    assert not media.exists()
    assert all(isinstance(t.destination, LayoutLocation) for t in tasks)
    names = [t.destination.name for t in tasks]  # type: ignore[union-attr]
    assert names[0] == layout_name(info) == "openshift/release:4.14.21-x86_64"
    assert "openshift/release:4.14.21-x86_64-installer" in names and len(set(names)) == 136
    to_dir_tasks(info, media)
    assert (media / "oci-layout").is_file() and (media / RECORD_FILE).is_file()
    [record] = releases_in_dir(media)
    assert record["digest"] == RELEASE_DIGEST and record["source_repository"] == info.source_repository
    assert record["layout_names"]["cli"] == "openshift/release:4.14.21-x86_64-cli"
    to_dir_tasks(_info(version="4.14.22"), media)
    assert sorted(r["version"] for r in releases_in_dir(media)) == ["4.14.21", "4.14.22"]
    with pytest.raises(InputError, match=":"):
        to_dir_tasks(info, tmp_path / "a:b")


# -- instructions: exact YAML -------------------------------------------------------------------------

MIRROR = "mirror.example.com:8443/ocp4/openshift4"
ENTRIES = f"""\
- mirrors:
  - {MIRROR}
  source: quay.io/openshift-release-dev/ocp-release
- mirrors:
  - {MIRROR}
  source: quay.io/openshift-release-dev/ocp-v4.0-art-dev
"""


def test_exact_install_config_blocks() -> None:
    instructions = release_mirror_instructions(_info(), MIRROR, None)
    assert instructions.image_content_sources_yaml() == "imageContentSources:\n" + ENTRIES
    assert instructions.image_digest_sources_yaml() == "imageDigestSources:\n" + ENTRIES
    assert instructions.release_image == f"{MIRROR}:4.14.21-x86_64"


def test_an_untagged_release_target_is_named_with_the_tag_it_gets() -> None:
    release_repo = "mirror.example.com:8443/ocp4/release"
    instructions = release_mirror_instructions(_info(), MIRROR, release_repo)
    assert instructions.release_image == f"{release_repo}:4.14.21-x86_64"
    tasks = release_tasks(_info(), MIRROR, release_repo)
    assert str(tasks[0].destination) == instructions.release_image


def test_exact_icsp_and_idms() -> None:
    instructions = release_mirror_instructions(_info(), MIRROR, f"{MIRROR}:4.14.21-x86_64")
    nested = "".join("  " + line + "\n" for line in ENTRIES.splitlines())
    from core.yamlout import dump_yaml

    name = instructions.set_name
    assert dump_yaml(instructions.icsp()) == (
        f"apiVersion: operator.openshift.io/v1alpha1\nkind: ImageContentSourcePolicy\nmetadata:\n  name: {name}\n"
        "spec:\n  repositoryDigestMirrors:\n" + nested)
    assert dump_yaml(instructions.idms()) == (
        f"apiVersion: config.openshift.io/v1\nkind: ImageDigestMirrorSet\nmetadata:\n  name: {name}\n"
        "spec:\n  imageDigestMirrors:\n" + nested)
    assert instructions.idms()["spec"]["imageDigestMirrors"] == instructions.icsp()["spec"]["repositoryDigestMirrors"]


def test_mirror_sets_are_named_after_their_content() -> None:
    """Issue 26: every set was release-0, so applying the one for a second mirror replaced the first."""
    one = release_mirror_instructions(_info(), MIRROR, None)
    again = release_mirror_instructions(_info(), MIRROR, None)
    other = release_mirror_instructions(_info(), "other.example.com:5000/ocp4/openshift4", None)
    assert one.set_name == again.set_name  # the same content updates in place
    assert one.set_name != other.set_name  # different content never collides
    assert one.set_name != "release-0" and one.set_name.startswith("release-")
    assert one.idms()["metadata"]["name"] == one.set_name == one.icsp()["metadata"]["name"]


def test_a_414_release_gets_image_digest_sources_and_the_idms_only() -> None:
    """Issue 26: the installer refuses a config that sets both blocks; 4.14+ reads imageDigestSources."""
    instructions = release_mirror_instructions(_info(), MIRROR, None)  # 4.14.21
    assert instructions.install_config_yaml() == "imageDigestSources:\n" + ENTRIES
    assert instructions.cluster_set() == instructions.idms()
    everything = instructions.all_yaml()
    assert "imageContentSources" not in everything and "ImageContentSourcePolicy" not in everything


def test_a_412_release_gets_image_content_sources_and_the_icsp() -> None:
    instructions = release_mirror_instructions(_info(version="4.12.40"), MIRROR, None)
    assert instructions.install_config_yaml() == "imageContentSources:\n" + ENTRIES
    assert instructions.cluster_set() == instructions.icsp()
    assert "ImageDigestMirrorSet" not in instructions.all_yaml()
    # 4.13: the installer still wants imageContentSources, the cluster takes an IDMS
    on_413 = release_mirror_instructions(_info(version="4.13.5"), MIRROR, None)
    assert on_413.install_config_key == "imageContentSources" and on_413.cluster_set() == on_413.idms()


def test_instructions_with_release_elsewhere_and_several_component_repos(tmp_path: Path) -> None:
    components = {"a": "quay.io/openshift-release-dev/ocp-v4.0-art-dev@" + RELEASE_DIGEST,
                  "b": "registry.ci.openshift.org/ocp/4.17-art@" + RELEASE_DIGEST}
    info = _info(components=components)
    instructions = release_mirror_instructions(info, "m.example.com/ocp", "m.example.com/ocp-release:4.17.3")
    assert instructions.grouped() == [
        ("quay.io/openshift-release-dev/ocp-release", ["m.example.com/ocp-release"]),
        ("quay.io/openshift-release-dev/ocp-v4.0-art-dev", ["m.example.com/ocp"]),
        ("registry.ci.openshift.org/ocp/4.17-art", ["m.example.com/ocp"]),
    ]
    out = tmp_path / "out"
    out.mkdir()
    (out / "install-config-imageContentSources.yaml").write_text("left by a run for an older release")
    files = instructions.write(out)
    # 4.17: the one install-config block and the one mirror set; the older form's file is gone
    assert [f.name for f in files] == ["install-config-imageDigestSources.yaml", "imageDigestMirrorSet.yaml"]
    assert sorted(p.name for p in out.iterdir()) == sorted(f.name for f in files)
    assert yaml.safe_load(files[1].read_text()) == instructions.idms()
    sources = yaml.safe_load(files[0].read_text())["imageDigestSources"]
    assert sources[2]["source"] == "registry.ci.openshift.org/ocp/4.17-art"
    documents = list(yaml.safe_load_all(instructions.all_yaml()))
    assert documents == [yaml.safe_load(instructions.image_digest_sources_yaml()), instructions.idms()]


def test_grouping_dedupes_and_sorts() -> None:
    instructions = MirrorInstructions([("z.io/b", "m/1"), ("a.io/a", "m/2"), ("z.io/b", "m/1"), ("z.io/b", "m/3")])
    assert instructions.grouped() == [("a.io/a", ["m/2"]), ("z.io/b", ["m/1", "m/3"])]


def test_instructions_need_a_registry_source() -> None:
    with pytest.raises(ReleaseError, match="original repository"):
        release_mirror_instructions(_info(source_repository=""), MIRROR, None)


# -- mirror set files (--idms-file) -------------------------------------------------------------------

def test_mirror_sets_roundtrip_our_own_idms_and_icsp(tmp_path: Path) -> None:
    instructions = release_mirror_instructions(_info(), MIRROR, None)
    from core.yamlout import dump_documents

    path = tmp_path / "both.yaml"
    path.write_text(dump_documents([instructions.idms(), instructions.icsp()]))
    pairs = load_mirror_sets(path)
    expected = [("quay.io/openshift-release-dev/ocp-release", MIRROR),
                ("quay.io/openshift-release-dev/ocp-v4.0-art-dev", MIRROR)]
    assert pairs == expected * 2
    assert parse_mirror_sets(instructions.image_content_sources_yaml(), "install-config") == expected


@pytest.mark.parametrize("text,match", [
    ("kind: [unclosed", "line"),
    ("apiVersion: v1\nkind: ConfigMap\ndata: {}\n", "no spec"),
    ("kind: ImageDigestMirrorSet\nspec:\n  imageDigestMirrors: []\n", "no mirrors"),
    ("kind: ImageDigestMirrorSet\nspec:\n  imageDigestMirrors:\n  - mirrors: [m.example.com/x]\n", "without a source"),
    ("kind: ImageDigestMirrorSet\nspec:\n  imageDigestMirrors:\n  - source: a.io/b\n    mirrors: 5\n", "list"),
    ("kind: ImageDigestMirrorSet\nspec:\n  imageDigestMirrors:\n  - source: a.io/b\n"
     "    mirrors: ['Bad Mirror']\n", "white space"),
    ("- just\n- a list\n", "not a mapping"),
])
def test_bad_mirror_sets_are_input_errors(text, match) -> None:
    with pytest.raises(InputError, match=match):
        parse_mirror_sets(text, "idms.yaml")


def test_missing_mirror_set_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_mirror_sets(tmp_path / "nope.yaml")


# -- streamed tar reading -----------------------------------------------------------------------------

def _layer(files: dict[str, bytes], filler: int = 0) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        if filler:
            info = tarfile.TarInfo("zz-filler")
            info.size = filler
            tar.addfile(info, io.BytesIO(bytes(filler)))
    return gzip.compress(raw.getvalue())


def test_scan_reads_wanted_files_and_drains_the_stream() -> None:
    blob = _layer({"./release-manifests/image-references": b"refs", "release-manifests/release-metadata": b"meta"},
                  filler=3 << 20)
    sent = {"chunks": 0}

    async def chunks():
        for i in range(0, len(blob), 4096):
            sent["chunks"] += 1
            yield blob[i:i + 4096]

    found: dict[str, bytes] = {}
    wanted = {"release-manifests/image-references", "release-manifests/release-metadata"}
    asyncio.run(scan_tar(chunks(), read_members(wanted, found), where="test layer"))
    assert found == {"release-manifests/image-references": b"refs", "release-manifests/release-metadata": b"meta"}
    # stopped parsing early, but every byte was still read (so a source can verify the digest)
    assert sent["chunks"] == -(-len(blob) // 4096)


def test_scan_of_a_broken_layer_is_a_release_error() -> None:
    async def chunks():
        yield b"this is not a tar or a gzip stream" * 100

    with pytest.raises(ReleaseError, match="not a readable tar layer"):
        asyncio.run(scan_tar(chunks(), read_members({"x"}, {}), where="layer sha256:bad"))


def test_scan_passes_on_source_errors() -> None:
    blob = _layer({"a": b"1"}, filler=1 << 20)

    async def chunks():
        yield blob[:1000]
        raise InputError("the source broke")

    with pytest.raises(InputError, match="the source broke"):
        asyncio.run(scan_tar(chunks(), read_members({"nothing"}, {}), where="layer"))


# -- architecture of a release read from a layout ---------------------------------------------------

def _release_layout(tmp_path: Path):
    from tui.sandbox.content import build_release, new_builder

    builder = new_builder(tmp_path / "seed")
    release = asyncio.run(build_release(builder, source_host="quay.io", layer_size=1024))
    return builder, release


def test_release_read_from_a_layout_and_its_architecture(tmp_path: Path) -> None:
    from core.manifest import OCI_MANIFEST, Manifest
    from core.registry import RegistrySession
    from core.release import load_release

    builder, release = _release_layout(tmp_path)
    layout = tmp_path / "seed"
    amd = builder.names[release.release_name]
    # the same payload with an arm64 config, and a manifest list over both: aarch64 and multi
    config_desc = amd.json["config"]
    config = json.loads(builder.layout.read_blob_bytes(config_desc["digest"]))
    config["architecture"] = "arm64"
    arm_config = builder.blob(json.dumps(config).encode())
    raw = json.dumps({**amd.json, "config": {**config_desc, **arm_config}}).encode()
    arm = Manifest.parse(raw, OCI_MANIFEST, where="test")
    builder.layout.put_manifest_blob(arm)
    index = builder.index([(amd, "amd64"), (arm, "arm64")])

    async def go():
        await builder.name("arm-release", arm)
        await builder.name("multi-release", index)
        async with RegistrySession() as session:
            return [await load_release(session, f"oci:{layout}:{name}")
                    for name in (release.release_name, "arm-release", "multi-release")]

    x86, arm_info, multi = asyncio.run(go())
    assert (x86.architecture, arm_info.architecture, multi.architecture) == ("x86_64", "aarch64", "multi")
    assert multi.digest == index.digest and x86.digest == amd.digest
    assert x86.version == "4.17.3" and x86.previous == ["4.17.0", "4.17.1", "4.17.2"]
    assert set(x86.components) == set(release.components) and x86.components == multi.components
    assert x86.source_repository == ""  # a bare layout: nobody recorded where it came from
    # components the directory holds are read from it, by digest
    assert all(isinstance(t.source, LayoutLocation) for t in release_tasks(x86, "m.example.com/ocp"))
    tags = [str(t.destination).rsplit(":", 1)[1] for t in release_tasks(multi, "m.example.com/ocp")]
    assert tags[0] == "4.17.3-multi" and "4.17.3-multi-installer" in tags
    arm_tags = [str(t.destination).rsplit(":", 1)[1] for t in release_tasks(arm_info, "m.example.com/ocp")]
    assert arm_tags[0] == "4.17.3-aarch64" and "4.17.3-aarch64-cli" in arm_tags


# -- pinning the extracted installer ------------------------------------------------------------

def _binary_with_markers(tmp_path: Path, padding: bytes) -> Path:
    image = b"\x00_RELEASE_IMAGE" b"_LOCATION_\x00" + b"X" * 120 + b"\x00"
    version = b"\x00_RELEASE_VERSION" b"_LOCATION_\x00" + b"X" * 32 + b"\x00"
    path = tmp_path / "openshift-install"
    path.write_bytes(padding + image + padding + version + padding)
    return path


def test_stamp_release_writes_both_values_over_their_markers(tmp_path: Path, monkeypatch) -> None:
    import core.extract as extract

    monkeypatch.setattr(extract, "_SCAN_BLOCK", 64)  # markers straddle block boundaries
    path = _binary_with_markers(tmp_path, b"\x7fELF" + bytes(range(256)) * 3)
    size = path.stat().st_size
    spec = "mirror.example.com:8443/ocp4/openshift4@sha256:" + "ab" * 32
    assert extract.stamp_release(path, image=spec, version="4.17.3") == ["image", "version"]
    data = path.read_bytes()
    assert len(data) == size
    padding = b"\x7fELF" + bytes(range(256)) * 3
    assert data.startswith(padding + spec.encode() + b"\x00XXXX")  # the value sits where the marker began
    version_at = data.index(b"4.17.3\x00")
    assert data[version_at - len(padding):version_at] == padding
    assert b"_RELEASE_IMAGE" b"_LOCATION_" not in data and b"_RELEASE_VERSION" b"_LOCATION_" not in data


def test_stamp_release_refuses_a_value_longer_than_the_marker(tmp_path: Path) -> None:
    from core.errors import ReleaseError
    from core.extract import stamp_release

    path = _binary_with_markers(tmp_path, b"..")
    before = path.read_bytes()
    with pytest.raises(ReleaseError, match="longer than the 146 characters"):
        stamp_release(path, image="r.example/" + "x" * 200, version="4.17.3")
    assert path.read_bytes()[:20] == before[:20]


def test_stamp_release_leaves_a_binary_without_markers_alone(tmp_path: Path) -> None:
    from core.extract import stamp_release

    path = tmp_path / "oc"
    path.write_bytes(b"\x7fELF plain binary")
    assert stamp_release(path, image="a/b@sha256:" + "0" * 64, version="4.17.3") == []
    assert path.read_bytes() == b"\x7fELF plain binary"
