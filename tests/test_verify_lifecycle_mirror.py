"""``mirror-wizard verify`` for a mirror that lasts (issue 24), against the suite's real registries.

A 4.22 release (tests/support/day2_release.py) whose release image and components carry cosign ``.sig``
tags at the source — all but etcd's — plus two samples images (ruby a two-platform index, perl pinned by
digest) are mirrored by ``mirror-wizard run`` into the TLS registry. skopeo, the referee, damages the mirror
the way a registry's housekeeping or a hand copy does; exactly the right line must turn ✗.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from core.copier import CopyOptions, CopyTask, copy_images
from core.endpoints import LayoutLocation, RegistryLocation
from core.graph_image import GRAPH_COMMAND, GRAPH_DATA_DIR
from core.manifest import OCI_MANIFEST, Manifest
from core.plan import load_plan
from core.reference import parse_reference
from core.registry import RegistrySession
from core.sigstore import cosign_tag
from core.tlsconfig import TLSOptions
from core.verify import Check, Report, Status, verify
from tests.support import skopeo
from tests.support.day2_release import build_day2_release, push_layout
from tests.support.fake_oc import install, variables_for
from tests.support.repos import unique_repo
from tests.test_sigstore import cosign_signature
from tests.test_verify_mirror import streams_document
from tui.cli import main
from tui.sandbox.content import COMPONENT_REPO, RELEASE_REPO, LayoutBuilder, make_layer, new_builder

PLAIN = {"tls_verify": False}
VERSION = "4.22.1"
UNSIGNED = "etcd"  # the one component whose source has no .sig


@dataclass
class Lasting:
    plan: Path
    mirror: str
    target: str
    source_prefix: str
    component_digests: dict[str, str]
    release_digest: str
    ruby_source: str
    ruby_child: str            # the amd64 manifest of ruby's index at the source
    on_mirror: dict[str, str]  # stream → what the operator pulls
    opts: dict
    builder_dir: Path


def graph_like_image(builder: LayoutBuilder, command: list[str], files: dict[str, tuple[bytes, int]]) -> Manifest:
    """An image whose config runs ``command`` (a graph-data image copies its tree to the operator's volume)
    with ``files`` in its layer."""
    layer = make_layer(4242, 512, files)
    config = builder.blob(json.dumps({"architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
                                      "config": {"Cmd": command},
                                      "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]}}).encode())
    raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
                      "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                  **builder.blob(layer.blob)}]}).encode()
    manifest = Manifest.parse(raw, OCI_MANIFEST, where="test")
    builder.layout.put_manifest_blob(manifest)
    return manifest


async def _copy(layout: Path, name: str, destination: str, insecure: bool = True, ca: Path | None = None,
                auth: Path | None = None) -> None:
    from core.authfile import load_auth

    session = RegistrySession(tls=TLSOptions(insecure=insecure, ca_files=(str(ca),) if ca else ()),
                              auth=load_auth(str(auth)) if auth else None)
    async with session:
        result = await copy_images([CopyTask(LayoutLocation(layout, name), RegistryLocation(parse_reference(destination)))],
                                   session, CopyOptions())
    assert result.ok, result.failures


@pytest.fixture
def lasting(plain_registry, tls_registry, auth_file: Path, pki, tmp_path: Path, capsys) -> Lasting:
    host = plain_registry.host
    prefix = unique_repo("lasting") + "/"
    layout = tmp_path / "source"
    samples_base = unique_repo("lasting-samples")
    ruby = f"{host}/{samples_base}-ruby:3.3"

    async def build() -> tuple:
        builder = new_builder(layout)
        built = await build_day2_release(builder, source_host=host, version=VERSION, prefix=prefix, layer_size=4096)
        names = [*built.components.values(), built.release_name]
        signed = {RELEASE_REPO: [built.digest],
                  COMPONENT_REPO: [d for c, d in built.component_digests.items() if c != UNSIGNED]}
        for repo, digests in signed.items():
            for digest in digests:
                name = f"{repo}:{cosign_tag(digest)}"
                await builder.name(name, cosign_signature(builder, digest, f"quay.io/{repo}"))
                names.append(name)
        amd = builder.image([make_layer(7001, 1024)], arch="amd64")
        arm = builder.image([make_layer(7002, 1024)], arch="arm64")
        await builder.name("samples/ruby:3.3", builder.index([(amd, "amd64"), (arm, "arm64")]))
        perl = builder.image([make_layer(7003, 1024)])
        await builder.name("samples/perl:5.32", perl)
        await push_layout(layout, names, host, prefix)
        return built, amd, perl

    built, amd, perl = asyncio.run(build())
    asyncio.run(_copy(layout, "samples/ruby:3.3", ruby))
    asyncio.run(_copy(layout, "samples/perl:5.32", f"{host}/{samples_base}-perl:5.32"))
    perl_source = f"{host}/{samples_base}-perl@{perl.digest}"  # the stream pins perl by digest
    sources = {"ruby": ruby, "perl": perl_source}
    streams_file = tmp_path / "streams.json"
    streams_file.write_text(json.dumps(streams_document(sources)))
    mirror = tls_registry.host
    target = f"{mirror}/{unique_repo('lasting-release')}"
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({
        "auth_file": str(auth_file),
        "mirror": {"registry": mirror, "ca_file": str(pki.ca_file)},
        "registries": [{"host": host, "insecure": True}],
        "release": {"source": f"{host}/{prefix}{built.release_name}", "mode": "registry", "target": target},
        "samples": {"source": "files", "paths": [str(streams_file)], "mirror": mirror},
        "output_dir": str(tmp_path / "out"),
    }))
    assert main(["run", str(plan)]) == 0, capsys.readouterr()
    capsys.readouterr()
    on_mirror = {name: mirror + "/" + spec.split("/", 1)[1] for name, spec in sources.items()}
    return Lasting(plan, mirror, target, f"{host}/{prefix}", dict(built.component_digests), built.digest, ruby,
                   amd.digest, on_mirror, {"authfile": auth_file, "cert_dir": pki.dir}, layout)


def run_verify(plan: Path, cluster: bool = False) -> dict[str, Check]:
    report: Report = asyncio.run(verify(load_plan(plan), plan_file=str(plan), cluster=cluster))
    return {c.name: c for c in report.checks}


def tags(ref: str, **opts) -> list[str]:
    return json.loads(skopeo.run("list-tags", *skopeo.options(**opts), f"docker://{ref}").stdout)["Tags"]


# -- 3. kept by a tag ------------------------------------------------------------------------------------


def test_mirroring_tags_everything_it_copies(lasting: Lasting) -> None:
    """The referee lists the mirror's tags: the release, every component, every .sig the source has, and the
    digest-pinned samples image (sha256-<hex>, oc-mirror's tag) are all named by a tag."""
    on_mirror = set(tags(lasting.target, **lasting.opts))
    assert f"{VERSION}-x86_64" in on_mirror
    assert {f"{VERSION}-x86_64-{c}" for c in lasting.component_digests} <= on_mirror
    signed = {lasting.release_digest} | {d for c, d in lasting.component_digests.items() if c != UNSIGNED}
    assert {cosign_tag(d) for d in signed} <= on_mirror
    assert cosign_tag(lasting.component_digests[UNSIGNED]) not in on_mirror
    perl_repo, perl_digest = lasting.on_mirror["perl"].split("@")
    assert perl_digest.replace(":", "-") in tags(perl_repo, **lasting.opts)
    checks = run_verify(lasting.plan)
    kept = checks["mirror-tags"]
    assert kept.status is Status.PASS, kept.line()
    # release image + 5 components + the digest-pinned perl
    assert kept.detail.startswith("all 7 images present are named by a tag")


def test_untagged_component_fails_naming_it(lasting: Lasting) -> None:
    """The console component's tag is moved to another image (a hand copy over it): console is still there by
    digest — the by-digest line passes — but no tag names it, so the next garbage collection deletes it."""
    opts = skopeo.options(**lasting.opts)
    tag = f"{VERSION}-x86_64-console"
    skopeo.copy(f"{lasting.target}:{VERSION}-x86_64-cli", f"{lasting.target}:{tag}", src_opts=opts, dst_opts=opts)
    checks = run_verify(lasting.plan)
    assert checks["release-images"].status is Status.PASS, checks["release-images"].line()
    kept = checks["mirror-tags"]
    assert kept.status is Status.FAIL
    digest = lasting.component_digests["console"]
    assert kept.items == [f"console: {lasting.target}@{digest} is named by no tag (expected tag {tag}); the registry's "
                          "next garbage collection of untagged manifests deletes it"]
    assert kept.detail == "1 of 7 images pulled by digest are not kept by any tag"
    assert kept.fix_command == f"mirror-wizard run {lasting.plan}"


def test_component_pushed_by_digest_only_fails(lasting: Lasting, pki, auth_file: Path, tmp_path: Path) -> None:
    """Another mirror repository filled by hand: every image by its tag, but etcd pushed as ``repo@sha256:…``
    only (what a by-digest ``oc image mirror`` line does). It pulls, and nothing keeps it."""
    from core.authfile import load_auth

    other = f"{lasting.mirror}/{unique_repo('lasting-bydigest')}"
    digest = lasting.component_digests["etcd"]
    names = [f"{VERSION}-x86_64"] + [f"{VERSION}-x86_64-{c}" for c in lasting.component_digests if c != "etcd"]
    tasks = [CopyTask(RegistryLocation(parse_reference(f"{lasting.target}:{n}")),
                      RegistryLocation(parse_reference(f"{other}:{n}"))) for n in names]
    tasks.append(CopyTask(RegistryLocation(parse_reference(f"{lasting.target}@{digest}")),
                          RegistryLocation(parse_reference(f"{other}@{digest}"))))

    async def copy() -> None:
        session = RegistrySession(load_auth(str(auth_file)), TLSOptions(ca_files=(str(pki.ca_file),)))
        async with session:
            result = await copy_images(tasks, session, CopyOptions())
        assert result.ok, result.failures

    asyncio.run(copy())
    assert f"{VERSION}-x86_64-etcd" not in tags(other, **lasting.opts)
    plan = yaml.safe_load(lasting.plan.read_text())
    plan["release"]["target"] = other
    path = tmp_path / "by-digest.yaml"
    path.write_text(yaml.safe_dump(plan))
    checks = run_verify(path)
    assert checks["release-images"].status is Status.PASS, checks["release-images"].line()
    kept = checks["mirror-tags"]
    assert kept.status is Status.FAIL
    assert kept.items == [f"etcd: {other}@{digest} is named by no tag (expected tag {VERSION}-x86_64-etcd); the "
                          "registry's next garbage collection of untagged manifests deletes it"]


# -- 4. Sigstore signatures of a 4.22 release -------------------------------------------------------------


def test_422_component_without_sig_at_the_source(lasting: Lasting) -> None:
    checks = run_verify(lasting.plan)
    sigs = checks["sigstore-signatures"]
    assert sigs.status is Status.FAIL
    assert sigs.detail == (f"1 of 6 release images and components of {VERSION} have no .sig tag on the mirror; "
                           "the cluster's openshift ClusterImagePolicy refuses them")
    tag = cosign_tag(lasting.component_digests[UNSIGNED])
    assert sigs.items == [f"{UNSIGNED}: {tag} is neither on the mirror {lasting.target} nor at the source "
                          f"{lasting.source_prefix}{COMPONENT_REPO}: the release publishes no Sigstore signature for it"]


def test_422_sig_at_the_source_but_not_copied(lasting: Lasting) -> None:
    """The source publishes etcd's signature after the copy: a rerun brings it, and the line says so."""
    async def sign() -> None:
        builder = new_builder(lasting.builder_dir)
        digest = lasting.component_digests[UNSIGNED]
        name = f"{COMPONENT_REPO}:{cosign_tag(digest)}"
        await builder.name(name, cosign_signature(builder, digest, f"quay.io/{COMPONENT_REPO}"))
        host, prefix = lasting.source_prefix.split("/", 1)
        await push_layout(lasting.builder_dir, [name], host, prefix)

    asyncio.run(sign())
    sigs = run_verify(lasting.plan)["sigstore-signatures"]
    assert sigs.status is Status.FAIL
    (item,) = sigs.items
    assert item.startswith(f"{UNSIGNED}: ") and item.endswith("but not on the mirror " + lasting.target +
                                                             ": run the copy again")
    assert main(["run", str(lasting.plan)]) == 0
    assert run_verify(lasting.plan)["sigstore-signatures"].status is Status.PASS


# -- 4. imageStreamImportMode PreserveOriginal: the samples mirror keeps the index ---------------------------


def use_oc(scenario: str, lasting: Lasting, pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = install(tmp_path / "bin", scenario=scenario, variables=variables_for(
        mirror=lasting.mirror, ca_file=pki.ca_file, mirror_repo=lasting.target,
        release_source=lasting.source_prefix + RELEASE_REPO, components_source=lasting.source_prefix + COMPONENT_REPO,
        samples={"ruby": lasting.on_mirror["ruby"]}))
    for key, value in env.items():
        monkeypatch.setenv(key, value)


@pytest.mark.parametrize("scenario", ["preserve", "multi"])  # set in image.config, or by a multi payload
def test_preserve_original_with_the_index_on_the_mirror(lasting: Lasting, pki, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch, scenario: str) -> None:
    use_oc(scenario, lasting, pki, tmp_path, monkeypatch)
    mode = run_verify(lasting.plan, cluster=True)["samples-import-mode"]
    assert mode.status is Status.PASS, mode.line()
    assert mode.detail == ("imageStreamImportMode is PreserveOriginal and the 2 samples images on the mirror keep "
                           "their manifest lists")


def test_preserve_original_with_one_platform_on_the_mirror(lasting: Lasting, pki, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """ruby's tag on the mirror holds the amd64 image only (a copy with a platform filter): PreserveOriginal
    imports fail; under Legacy the same mirror is fine."""
    opts = skopeo.options(**lasting.opts)
    source = lasting.ruby_source.rsplit(":", 1)[0] + "@" + lasting.ruby_child
    skopeo.copy(source, lasting.on_mirror["ruby"], all_images=False, src_opts=skopeo.options(**PLAIN), dst_opts=opts)
    use_oc("preserve", lasting, pki, tmp_path, monkeypatch)
    mode = run_verify(lasting.plan, cluster=True)["samples-import-mode"]
    assert mode.status is Status.FAIL
    assert mode.items == [f"ruby: {lasting.on_mirror['ruby']} holds one platform, not the index "
                          f"({lasting.ruby_source} is a manifest list)"]
    use_oc("multi", lasting, pki, tmp_path / "multi", monkeypatch)  # PreserveOriginal by the payload type
    assert run_verify(lasting.plan, cluster=True)["samples-import-mode"].status is Status.FAIL
    use_oc("healthy", lasting, pki, tmp_path / "legacy", monkeypatch)
    assert run_verify(lasting.plan, cluster=True)["samples-import-mode"].status is Status.PASS


# -- 1. the update service's graph-data image ----------------------------------------------------------------


def with_graph_image(lasting: Lasting, ref: str, tmp_path: Path) -> Path:
    plan = yaml.safe_load(lasting.plan.read_text())
    plan["release"]["graph_image"] = ref
    path = tmp_path / "plan-graph.yaml"
    path.write_text(yaml.safe_dump(plan))
    return path


def test_graph_image_present_missing_or_not_one(lasting: Lasting, pki, auth_file: Path, tmp_path: Path) -> None:
    graph = f"{lasting.mirror}/{unique_repo('lasting-graph')}/openshift/graph-image:latest"
    plan = with_graph_image(lasting, graph, tmp_path)
    missing = run_verify(plan)["graph-image"]
    assert missing.status is Status.FAIL and missing.detail == f"{graph} does not exist"
    assert missing.fix_command and missing.fix_command.startswith("mirror-wizard release graph-image --graph-data FILE")

    channel = {f"{GRAPH_DATA_DIR}/channels/stable-4.17.yaml": (b"name: stable-4.17\nversions:\n- 4.17.3\n", 0o644),
               f"{GRAPH_DATA_DIR}/version": (b"1.2.0\n", 0o644)}
    pushed = iter(range(10))

    async def push(command: list[str], files: dict[str, tuple[bytes, int]]) -> str:
        folder = tmp_path / f"graph-{next(pushed)}"
        builder = new_builder(folder)
        image = graph_like_image(builder, command, files)
        await builder.name("graph:latest", image)
        await _copy(folder, "graph:latest", graph, insecure=False, ca=pki.ca_file, auth=auth_file)
        return image.digest

    asyncio.run(push(["/bin/sh"], channel))
    wrong = run_verify(plan)["graph-image"]
    assert wrong.status is Status.FAIL and "is not a graph-data image" in wrong.detail
    asyncio.run(push(GRAPH_COMMAND, {f"{GRAPH_DATA_DIR}/version": (b"1.2.0\n", 0o644)}))
    empty = run_verify(plan)["graph-image"]
    assert empty.status is Status.FAIL
    assert empty.detail == f"{graph}: its top layer holds no {GRAPH_DATA_DIR}/channels/ (the graph data the update " \
                           "service reads)"
    digest = asyncio.run(push(GRAPH_COMMAND, channel))
    good = run_verify(plan)["graph-image"]
    assert good.status is Status.PASS, good.line()
    assert good.detail == f"{graph} is {digest}, a graph-data image kept by its tag"


def test_the_real_graph_data_layer_is_recognised() -> None:
    """What core.graph_image writes from the real graph data (tests/test_graph_image.py's tarball) is what the
    graph-image line looks for; a layer without channels is not."""
    from core.graph_image import graph_data_layer
    from core.verify.keep import _holds_channels
    from tests.test_graph_image import pack

    assert _holds_channels(graph_data_layer(pack(), "fixture").blob)
    assert not _holds_channels(make_layer(1, 64).blob)
    assert not _holds_channels(b"not a tar at all")


def test_samples_image_left_by_digest_only_is_healed_by_a_rerun(lasting: Lasting, plain_registry, pki,
                                                                auth_file: Path, tmp_path: Path, capsys) -> None:
    """A samples stream pinned by digest whose image reached the mirror by digest only (an older copy, or a
    hand ``oc image mirror``): the line names it; a rerun writes its sha256-<hex> tag, and the line passes."""
    from core.authfile import load_auth

    host = plain_registry.host
    base = unique_repo("lasting-late")

    async def build_and_push() -> str:
        builder = new_builder(tmp_path / "late")
        image = builder.image([make_layer(7004, 1024)])
        await builder.name("samples/python:3.12", image)
        await _copy(tmp_path / "late", "samples/python:3.12", f"{host}/{base}-python:3.12")
        session = RegistrySession(load_auth(str(auth_file)), TLSOptions(ca_files=(str(pki.ca_file),),
                                                                         insecure_hosts=(host,)))
        async with session:
            result = await copy_images([CopyTask(
                RegistryLocation(parse_reference(f"{host}/{base}-python@{image.digest}")),
                RegistryLocation(parse_reference(f"{lasting.mirror}/{base}-python@{image.digest}")))],
                session, CopyOptions())
        assert result.ok, result.failures
        return image.digest

    digest = asyncio.run(build_and_push())
    plan = yaml.safe_load(lasting.plan.read_text())
    streams = Path(plan["samples"]["paths"][0])
    document = json.loads(streams.read_text())
    document["items"] += streams_document({"python": f"{host}/{base}-python@{digest}"})["items"]
    streams.write_text(json.dumps(document))
    checks = run_verify(lasting.plan)
    kept = checks["mirror-tags"]
    assert kept.status is Status.FAIL, [c.line() for c in checks.values()]
    tag = digest.replace(":", "-")
    assert kept.items == [f"python (samples): {lasting.mirror}/{base}-python@{digest} is named by no tag (expected tag "
                          f"{tag}); the registry's next garbage collection of untagged manifests deletes it"]
    assert main(["run", str(lasting.plan)]) == 0, capsys.readouterr()
    assert tag in tags(f"{lasting.mirror}/{base}-python", **lasting.opts)
    assert run_verify(lasting.plan)["mirror-tags"].status is Status.PASS
