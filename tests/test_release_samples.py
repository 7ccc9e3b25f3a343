"""Samples straight from the release: a synthetic release in the suite's real registry whose
cluster-samples-operator image holds the real stream files of /work/shared/fixtures/imagestreams."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from core.errors import ImageStreamError, ReleaseError
from core.registry import RegistrySession
from core.release import ReleaseInfo
from core.release_samples import load_release_samples, samples_from_release
from core.samples import load_imagestreams, plan_samples
from core.tlsconfig import TLSOptions
from tests.support.day2_release import (
    IMAGESTREAM_FIXTURES,
    build_day2_release,
    push_layout,
)
from tests.support.repos import unique_repo
from tui.sandbox.content import make_layer, new_builder

ALL_STREAMS = sorted(IMAGESTREAM_FIXTURES.glob("*.json"))
ARM_STREAMS = [p for p in ALL_STREAMS if p.name.startswith(("dotnet", "golang", "httpd", "nodejs"))]


def _session() -> RegistrySession:
    return RegistrySession(tls=TLSOptions(insecure=True))


@pytest.fixture(scope="module")
def samples_release(plain_registry, tmp_path_factory):
    host = plain_registry.host
    prefix = unique_repo("samples") + "/"
    layout = tmp_path_factory.mktemp("samples-release")

    async def build():
        builder = new_builder(layout)
        built = await build_day2_release(builder, source_host=host, version="4.21.2", prefix=prefix,
                                         samples={"x86_64": ALL_STREAMS, "aarch64": ARM_STREAMS})
        await push_layout(layout, [*built.components.values(), built.release_name], host, prefix)
        return built

    built = asyncio.run(build())
    return f"{host}/{prefix}{built.release_name}", f"oci:{layout}:{built.release_name}", built


def _by_name(streams) -> dict[str, list[str]]:
    return {s.name: s.pull_specs for s in streams}


def test_streams_from_the_release_match_the_files(samples_release):
    pull_spec, _, _ = samples_release
    found = asyncio.run(_load(pull_spec))
    expected = load_imagestreams([IMAGESTREAM_FIXTURES])
    assert _by_name(found.streams) == _by_name(expected)
    assert [s.name for s in found.streams] == [s.name for s in expected]
    assert found.architecture == "x86_64" and found.templates == 1
    assert all(f.startswith("opt/openshift/operator/x86_64/") and "/imagestreams/" in f for f in found.files)
    assert found.streams[0].source.startswith("release 4.21.2 /opt/openshift/operator/x86_64/")
    # the structures core.samples plans from: the same plan as from the files
    mirror = "mirror.example.test:5000"
    assert plan_samples(found.streams, mirror).mapping_text() == plan_samples(expected, mirror).mapping_text()


async def _load(spec: str, arch: str | None = None):
    session = _session()
    async with session:
        return await load_release_samples(session, spec, arch)


def test_other_architecture_and_oci_directory(samples_release):
    pull_spec, oci, _ = samples_release
    arm = asyncio.run(_load(pull_spec, "arm64"))
    assert arm.architecture == "aarch64"
    assert sorted(_by_name(arm.streams)) == sorted(_by_name(load_imagestreams(ARM_STREAMS)))
    from_dir = asyncio.run(_load(oci))
    assert _by_name(from_dir.streams) == _by_name(load_imagestreams([IMAGESTREAM_FIXTURES]))
    assert from_dir.image.startswith("oci:")
    with pytest.raises(ReleaseError, match="no image streams under /opt/openshift/operator/s390x"):
        asyncio.run(_load(pull_spec, "s390x"))
    with pytest.raises(ReleaseError, match="no content for architecture 'riscv64'"):
        asyncio.run(_load(pull_spec, "riscv64"))


def test_release_whose_samples_image_is_empty(seeded_release):
    # the sandbox's cluster-samples-operator carries no content
    with pytest.raises(ReleaseError, match="holds no image streams"):
        asyncio.run(_load(seeded_release.release_ref))


def _stream(name: str, image: str) -> bytes:
    return json.dumps({"kind": "ImageStream", "apiVersion": "image.openshift.io/v1", "metadata": {"name": name},
                       "spec": {"tags": [{"name": "latest", "from": {"kind": "DockerImage", "name": image}}]}}).encode()


async def _component_release(tmp_path: Path, layers) -> ReleaseInfo:
    builder = new_builder(tmp_path)
    image = builder.image(layers)
    await builder.name("samples:x", image)
    return ReleaseInfo(pull_spec=f"oci:{tmp_path}:release", digest="sha256:" + "0" * 64, version="4.21.0",
                       architecture="x86_64", metadata={},
                       components={"cluster-samples-operator": f"example.test/art@{image.digest}"},
                       source_repository="", component_repository="example.test/art", layout=str(tmp_path))


def test_upper_layers_win_and_whiteouts_hide(tmp_path):
    root = "opt/openshift/operator/x86_64"
    lower = make_layer(1, 0, {f"{root}/a/imagestreams/a.json": (_stream("a", "registry.example.test/a:old"), 0o644),
                              f"{root}/b/imagestreams/b.json": (_stream("b", "registry.example.test/b:1"), 0o644),
                              f"{root}/c/imagestreams/c.json": (_stream("c", "registry.example.test/c:1"), 0o644)})
    upper = make_layer(2, 0, {f"{root}/a/imagestreams/a.json": (_stream("a", "registry.example.test/a:new"), 0o644),
                              f"{root}/b/imagestreams/.wh.b.json": (b"", 0o644),
                              f"{root}/c/.wh..wh..opq": (b"", 0o644)})
    info = asyncio.run(_component_release(tmp_path, [lower, upper]))

    async def read():
        session = _session()
        async with session:
            return await samples_from_release(session, info)

    found = asyncio.run(read())
    assert _by_name(found.streams) == {"a": ["registry.example.test/a:new"]}


def test_hostile_content_is_refused(tmp_path):
    root = "opt/openshift/operator/x86_64"
    twice = make_layer(3, 0, {f"{root}/a/imagestreams/one.json": (_stream("a", "r.example.test/a:1"), 0o644),
                              f"{root}/b/imagestreams/two.json": (_stream("a", "r.example.test/a:2"), 0o644)})
    info = asyncio.run(_component_release(tmp_path / "twice", [twice]))

    async def read(info):
        session = _session()
        async with session:
            return await samples_from_release(session, info)

    with pytest.raises(ImageStreamError, match="defined twice"):
        asyncio.run(read(info))
    broken = make_layer(4, 0, {f"{root}/a/imagestreams/bad.json": (b"{\n  kind: [", 0o644)})
    with pytest.raises(ImageStreamError, match="neither JSON nor YAML"):
        asyncio.run(read(asyncio.run(_component_release(tmp_path / "broken", [broken]))))
    no_component = ReleaseInfo("x", "sha256:" + "0" * 64, "4.21.0", "x86_64", {}, {"cli": "e.test/a@sha256:" + "1" * 64},
                               "", "e.test/a")
    with pytest.raises(ReleaseError, match="has no cluster-samples-operator component"):
        asyncio.run(read(no_component))


def test_cli_samples_plan_from_release_and_from_its_directory(samples_release, tmp_path, capsys):
    from tui.cli import main

    pull_spec, oci, _ = samples_release
    mirror = "mirror.example.test:5000"
    expected = plan_samples(load_imagestreams([IMAGESTREAM_FIXTURES]), mirror, mapping_file=str(tmp_path / "m.txt"))
    assert main(["samples", "plan", "--insecure", "--from-release", pull_spec, "--mirror", mirror,
                 "--mapping-out", str(tmp_path / "m.txt")]) == 0
    out = capsys.readouterr()
    assert (tmp_path / "m.txt").read_text() == expected.mapping_text()
    assert f"{len(expected.included)} image streams mirrored" in out.out and "for x86_64" in out.err
    assert main(["samples", "plan", "--from-release", oci, "--arch", "aarch64", "--mirror", mirror,
                 "--mapping-out", str(tmp_path / "arm.txt")]) == 0
    arm = plan_samples(load_imagestreams(ARM_STREAMS), mirror)
    assert (tmp_path / "arm.txt").read_text() == arm.mapping_text()
    capsys.readouterr()
    assert main(["samples", "plan", "--imagestreams", str(IMAGESTREAM_FIXTURES), "--arch", "aarch64",
                 "--mirror", mirror]) == 2
    assert "--arch goes with --from-release" in capsys.readouterr().err


def test_plan_samples_source_release_follows_the_plans_release(samples_release, plain_registry):
    """A plan whose samples come from its release: run's prepare reads them from the release it loaded."""
    from core.orchestrate import Job, prepare_job
    from core.plan import (
        MirrorRegistry,
        Plan,
        RegistryTrust,
        ReleaseChoice,
        SamplesChoice,
        SamplesSource,
        plan_from_dict,
        validate_plan,
    )

    pull_spec, _, _ = samples_release
    host = plain_registry.host
    plan = Plan(mirror=MirrorRegistry(registry=host, insecure=True), registries=[RegistryTrust(host, insecure=True)],
                release=ReleaseChoice(source=pull_spec, target=f"{host}/{unique_repo('rs-dst')}"),
                samples=SamplesChoice(source=SamplesSource.RELEASE))
    validate_plan(plan)
    assert plan_from_dict(plan.to_dict()).samples.source == SamplesSource.RELEASE  # saved and read back

    async def run():
        from core.orchestrate import open_session

        async with open_session(plan) as session:
            return await prepare_job(Job(plan, dry_run=True), session)

    prepared = asyncio.run(run())
    expected = plan_samples(load_imagestreams([IMAGESTREAM_FIXTURES]), host, auth_file="${LOCAL_SECRET_JSON}")
    assert prepared.samples is not None and prepared.samples.mapping_text() == expected.mapping_text()
    assert len(prepared.samples_tasks) == len(expected.mapping)
    # this synthetic payload carries no release-verification ConfigMap: mirrored, but said loudly
    assert prepared.signatures == [] and any("carries no release-verification ConfigMap" in w for w in prepared.warnings)

    # verify reads the same streams from the release (it once failed the samples checks with an
    # internal "the streams are read with the release" message)
    from core.verify import run_checks

    async def checks():
        return [c async for c in run_checks(plan)]

    by_name = {c.name: c for c in asyncio.run(checks())}
    for name in ("samples-images", "samples-skipped"):
        assert "core.run" not in by_name[name].detail and "cannot work out" not in by_name[name].detail, \
            by_name[name].line()
    # nothing was copied (a dry run): every one of the release's stream images is checked, and missing
    assert f"{len(prepared.samples_tasks)} of {len(prepared.samples_tasks)} images are missing" in \
        by_name["samples-images"].detail
    plan.release = None
    with pytest.raises(Exception, match="has no release"):
        validate_plan(plan)
