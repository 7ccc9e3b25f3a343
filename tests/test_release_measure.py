"""Measuring an update path against the mirror again (the wizard's Release step, "In the mirror"): the
second look sends far fewer requests than the first (what a release image pinned by digest holds never
changes), yet always tells the mirror as it is now: after a manifest and its own layer are deleted from
the mirror, the next measurement says that image is missing and that layer's bytes must move.

Every request to the registry (source and mirror alike) is counted at a proxy in front of it."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from core.copier import CopyOptions, copy_images
from core.graph import GraphRelease
from core.registry import RegistrySession
from core.release import ReleaseInfo
from core.release_path import PathSizes, load_path_releases, path_tasks
from core.tlsconfig import TLSOptions
from core.usecases.releases import measure_path_in_mirror, measure_release_in_mirror
from tests.support.day2_release import BuiltRelease, build_day2_release, push_layout
from tests.support.fault_proxy import FaultProxy, Recorded
from tests.support.repos import unique_repo
from tui.sandbox.content import RELEASE_REPO, new_builder

pytestmark = pytest.mark.timeout(240)
VERSIONS = ["4.22.1", "4.22.2", "4.22.3"]


@dataclass
class Mirrored:
    proxy: FaultProxy
    built: list[BuiltRelease]
    infos: list[ReleaseInfo]
    target: str       # the mirror repository, through the proxy
    direct: str       # the same repository without the proxy (deleting there is not counted)


def _session(proxy: FaultProxy) -> RegistrySession:
    return RegistrySession(tls=TLSOptions(insecure_hosts=(proxy.host,)))


@pytest.fixture(scope="module")
def mirrored(plain_registry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mirrored]:
    """Three releases at a source, the whole path mirrored: source and mirror read through one proxy."""
    proxy = FaultProxy(upstream=plain_registry.url).start()
    prefix = unique_repo("measure-src") + "/"
    layout = tmp_path_factory.mktemp("measure-src")
    repo = unique_repo("measure-dst")

    async def build() -> tuple[list[BuiltRelease], list[ReleaseInfo]]:
        builder = new_builder(layout)
        built = [await build_day2_release(builder, source_host=proxy.host, version=v, prefix=prefix)
                 for v in VERSIONS]
        await push_layout(layout, [n for b in built for n in [*b.components.values(), b.release_name]],
                          proxy.host, prefix)
        path = [GraphRelease(b.version, f"{proxy.host}/{prefix}{RELEASE_REPO}@{b.digest}", {}, []) for b in built]
        async with _session(proxy) as session:
            infos = await load_path_releases(session, path)
            result = await copy_images(path_tasks(infos, f"{proxy.host}/{repo}"), session, CopyOptions())
        assert result.ok, result.failures
        return built, infos

    built, infos = asyncio.run(build())
    yield Mirrored(proxy, built, infos, f"{proxy.host}/{repo}", repo)
    proxy.stop()


def _measure(mirrored: Mirrored) -> tuple[PathSizes, list[Recorded]]:
    """One measurement, in a session of its own as the wizard opens one each time; its requests."""
    since = len(mirrored.proxy.requests)

    async def go() -> PathSizes:
        async with _session(mirrored.proxy) as session:
            return await measure_path_in_mirror(session, mirrored.infos, mirrored.target)

    sizes = asyncio.run(go())
    return sizes, mirrored.proxy.requests[since:]


def _kinds(requests: list[Recorded]) -> Counter[str]:
    return Counter(f"{r.method} {'manifests' if '/manifests/' in r.path else 'blobs' if '/blobs/' in r.path else r.path}"
                   for r in requests)


def test_measuring_again_is_cheap_and_still_tells_what_the_mirror_lost(mirrored: Mirrored, plain_registry,
                                                                       capsys) -> None:
    images = sum(len(info.components) + 1 for info in mirrored.infos)
    first, first_requests = _measure(mirrored)
    assert first.missing_images == 0 and first.present_bytes == first.unique_bytes > 0
    second, second_requests = _measure(mirrored)
    assert second == first
    with capsys.disabled():
        print(f"\nmeasure {len(mirrored.infos)} releases, {images} images, {first.blobs} blobs: "
              f"first {len(first_requests)} requests {dict(_kinds(first_requests))}, "
              f"again {len(second_requests)} {dict(_kinds(second_requests))}")
    # The second look: one HEAD per image in the mirror (the truth about what it holds), nothing read
    # again from the source, no blob asked about while every image is there (and the new session's ping).
    assert _kinds(second_requests) == Counter({"HEAD manifests": images, "GET /v2/": 1})
    assert _kinds(first_requests)["GET manifests"] == images  # the first look read each image once

    # The mirror loses one image (the last release's cluster-version-operator, unique to it) and its own
    # layer (a registry without garbage collection keeps it; here it is gone too).
    last = mirrored.built[-1]
    digest = last.component_digests["cluster-version-operator"]
    base = f"{plain_registry.url}/v2/{mirrored.direct}"
    manifest = json.loads(httpx.get(f"{base}/manifests/{digest}", headers={
        "Accept": "application/vnd.oci.image.manifest.v1+json"}).content)
    own = manifest["layers"][-1]
    assert own["digest"] not in {d for b in mirrored.built[:-1] for d in b.blobs}
    assert httpx.delete(f"{base}/manifests/{digest}").status_code == 202
    assert httpx.delete(f"{base}/blobs/{own['digest']}").status_code == 202

    third, third_requests = _measure(mirrored)
    assert third.missing_images == 1
    assert third.present_bytes == first.present_bytes - own["size"]
    assert third.missing_bytes == own["size"]
    # Only the lost image's own blobs were asked about (its config and own layer; its base layers are in
    # images still there), besides the HEAD per image.
    assert _kinds(third_requests) == Counter({"HEAD manifests": images, "HEAD blobs": 2, "GET /v2/": 1})

    # One release measured alone says the same.
    async def one() -> tuple[int | None, int | None]:
        async with _session(mirrored.proxy) as session:
            size = await measure_release_in_mirror(session, mirrored.infos[-1], mirrored.target)
        return size.missing_images, size.missing_bytes

    assert asyncio.run(one()) == (1, own["size"])


def test_a_moved_component_tag_is_missing_not_trusted(mirrored: Mirrored, plain_registry) -> None:
    """A tag in the mirror naming another manifest than the release's: that image is missing (the HEAD
    per image compares digests, never only that the tag exists)."""
    first, _ = _measure(mirrored)
    info = mirrored.infos[0]
    name = "etcd"
    tag = f"{info.tag}-{name}"
    other = mirrored.built[0].component_digests["cli"]  # another image of the same repository
    base = f"{plain_registry.url}/v2/{mirrored.direct}"
    accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
    raw = httpx.get(f"{base}/manifests/{other}", headers=accept)
    put = httpx.put(f"{base}/manifests/{tag}", content=raw.content,
                    headers={"Content-Type": raw.headers["content-type"]})
    assert put.status_code == 201
    again, requests = _measure(mirrored)
    assert again.missing_images == (first.missing_images or 0) + 1
    assert _kinds(requests)["HEAD manifests"] == sum(len(i.components) + 1 for i in mirrored.infos)
