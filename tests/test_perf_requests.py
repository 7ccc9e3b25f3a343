"""Requests a mirror makes (issue 6): one POST per blob on a first mirror (a mount from the repository
itself doubles as the existence check), HEADs where the mirror already holds images of the run, one
manifest PUT per tagged image once the registry has accepted a push by digest, and a release's own
small blobs read from the source once. Counted at a proxy in front of the real registry."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from core.copier import CopyOptions, CopyResult, CopyTask, copy_images
from core.endpoints import parse_location
from core.registry import RegistrySession
from core.release import load_release, release_tasks
from core.tlsconfig import TLSOptions
from tests.support import skopeo
from tests.support.fault_proxy import Fault, FaultProxy, Recorded
from tests.support.repos import unique_repo
from tui.sandbox.content import make_layer, new_builder

pytestmark = pytest.mark.timeout(120)
PLAIN = {"tls_verify": False}


@dataclass
class Images:
    first: str            # source refs in the plain registry (tagged)
    second: str           # shares its base layer with ``first``
    blobs: dict[str, dict[str, int]]  # ref -> {digest: size} (config and layers)
    digests: dict[str, str]           # ref -> manifest digest


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory, plain_registry) -> Images:
    folder = tmp_path_factory.mktemp("perf-src")
    builder = new_builder(folder)
    base = make_layer(1301, 64 * 1024)
    refs, blobs, digests = [], {}, {}
    for number, own in enumerate((make_layer(1302, 8 * 1024), make_layer(1303, 4 * 1024))):
        image = builder.image([base, own])
        name = f"img{number}"
        asyncio.run(builder.name(name, image))
        ref = f"{plain_registry.host}/perf-src/{name}:v1"
        skopeo.copy(f"oci:{folder}:{name}", ref, dst_opts=skopeo.options(tls_verify=False))
        raw = json.loads(skopeo.raw_manifest(ref, **PLAIN))
        blobs[ref] = {d["digest"]: d["size"] for d in [raw["config"], *raw["layers"]]}
        digests[ref] = image.digest
        refs.append(ref)
    return Images(refs[0], refs[1], blobs, digests)


@pytest.fixture()
def proxy(plain_registry) -> Iterator[FaultProxy]:
    counting = FaultProxy(upstream=plain_registry.url).start()
    yield counting
    counting.stop()


def _session(*hosts: str) -> RegistrySession:
    return RegistrySession(tls=TLSOptions(insecure_hosts=hosts))


async def _copy(session: RegistrySession, pairs: list[tuple[str, str]]) -> CopyResult:
    tasks = [CopyTask(parse_location(src), parse_location(dst)) for src, dst in pairs]
    return await copy_images(tasks, session, CopyOptions())


def _calls(proxy: FaultProxy, method: str, part: str, since: int = 0) -> list[Recorded]:
    return [r for r in proxy.requests[since:] if r.method == method and part in r.path]


def test_a_first_mirror_opens_each_upload_with_a_mount_post_and_no_head(images: Images, plain_registry,
                                                                        proxy: FaultProxy) -> None:
    repo = unique_repo("perf-first")

    async def go() -> CopyResult:
        async with _session(plain_registry.host, proxy.host) as session:
            return await _copy(session, [(images.first, f"{proxy.host}/{repo}:v1")])

    result = asyncio.run(go())
    blobs = images.blobs[images.first]
    assert result.ok and result.blobs_copied == len(blobs)
    assert not _calls(proxy, "HEAD", "/blobs/"), "a first mirror paid a HEAD per blob"
    posts = _calls(proxy, "POST", "/blobs/uploads/")
    assert len(posts) == len(blobs)
    assert all(f"from={repo.replace('/', '%2F')}" in r.path and "mount=sha256" in r.path for r in posts)
    puts = _calls(proxy, "PUT", "/manifests/")
    assert [p.path.rsplit("/", 1)[1] for p in puts] == [images.digests[images.first], "v1"]  # digest, then tag
    assert skopeo.digest(f"{proxy.host}/{repo}:v1", **PLAIN) == images.digests[images.first]


def test_once_a_digest_push_was_accepted_a_tagged_image_needs_one_put(images: Images, plain_registry,
                                                                       proxy: FaultProxy) -> None:
    repo = unique_repo("perf-tag")

    async def go() -> tuple[CopyResult, int]:
        async with _session(plain_registry.host, proxy.host) as session:
            await _copy(session, [(images.first, f"{proxy.host}/{repo}:one")])
            mark = len(proxy.requests)
            return await _copy(session, [(images.second, f"{proxy.host}/{repo}:two")]), mark

    result, mark = asyncio.run(go())
    assert result.ok
    puts = _calls(proxy, "PUT", "/manifests/", mark)
    assert [p.path.rsplit("/", 1)[1] for p in puts] == ["two"]
    digest = images.digests[images.second]
    # The registry keeps it by digest as well: a by-digest pull (what a cluster does) works.
    assert skopeo.digest(f"{plain_registry.host}/{repo}@{digest}", **PLAIN) == digest
    assert skopeo.digest(f"{plain_registry.host}/{repo}:two", **PLAIN) == digest


def test_images_ready_at_the_same_moment_pay_the_digest_push_once(images: Images, plain_registry,
                                                                   proxy: FaultProxy) -> None:
    """Both images wait for the same base layer, so they are ready together: only the first goes up by
    digest and then by tag; the second waits for that answer and needs its tag PUT alone."""
    repo = unique_repo("perf-together")

    async def go() -> CopyResult:
        async with _session(plain_registry.host, proxy.host) as session:
            return await _copy(session, [(images.first, f"{proxy.host}/{repo}:one"),
                                         (images.second, f"{proxy.host}/{repo}:two")])

    result = asyncio.run(go())
    assert result.ok
    refs = [p.path.rsplit("/", 1)[1] for p in _calls(proxy, "PUT", "/manifests/")]
    assert len(refs) == 3 and sorted(r for r in refs if not r.startswith("sha256:")) == ["one", "two"]
    assert [r for r in refs if r.startswith("sha256:")] == [refs[0]], "one push by digest, first"
    for ref, tag in ((images.first, "one"), (images.second, "two")):
        digest = images.digests[ref]
        assert skopeo.digest(f"{plain_registry.host}/{repo}@{digest}", **PLAIN) == digest
        assert skopeo.digest(f"{plain_registry.host}/{repo}:{tag}", **PLAIN) == digest


def test_blobs_already_in_the_repository_are_found_by_the_mount_post(images: Images, plain_registry,
                                                                      proxy: FaultProxy) -> None:
    """As after a killed mirror: blobs landed, no manifest yet. The POST answers 201; nothing moves."""
    repo = unique_repo("perf-landed")
    blobs = images.blobs[images.first]
    base = max(blobs, key=lambda d: blobs[d])

    async def go() -> CopyResult:
        async with _session(plain_registry.host, proxy.host) as session:
            source = session.client(plain_registry.host)
            await session.client(proxy.host).upload_blob(
                repo, base, blobs[base], lambda: source.stream_blob("perf-src/img0", base, blobs[base]))
            return await _copy(session, [(images.first, f"{proxy.host}/{repo}:v1")])

    result = asyncio.run(go())
    assert result.ok and result.blobs_skipped == 1 and result.bytes_present == blobs[base]
    assert result.blobs_copied == len(blobs) - 1
    assert not [r for r in _calls(proxy, "PUT", "/blobs/uploads/") if base in r.path and "mount" not in r.path][1:], \
        "the landed blob was uploaded again"
    assert skopeo.digest(f"{proxy.host}/{repo}:v1", **PLAIN) == images.digests[images.first]


def test_a_mirror_holding_images_of_the_run_is_asked_with_head(images: Images, plain_registry, proxy: FaultProxy) -> None:
    """A newer release into an old mirror: most blobs are there, and a HEAD is the cheapest way to know."""
    repo = unique_repo("perf-rerun")
    first, second = f"{proxy.host}/{repo}:one", f"{proxy.host}/{repo}:two"

    async def go() -> tuple[CopyResult, int]:
        async with _session(plain_registry.host, proxy.host) as session:
            await _copy(session, [(images.first, first)])
        mark = len(proxy.requests)
        async with _session(plain_registry.host, proxy.host) as session:
            return await _copy(session, [(images.first, first), (images.second, second)]), mark

    result, mark = asyncio.run(go())
    shared = set(images.blobs[images.first]) & set(images.blobs[images.second])
    assert result.ok and shared
    heads = _calls(proxy, "HEAD", "/blobs/", mark)
    assert {r.path.rsplit("/", 1)[1] for r in heads} == set(images.blobs[images.second])
    assert result.blobs_copied == len(images.blobs[images.second]) - len(shared)
    # One count (core.progress): the shared layer is there once, not once for each image that has it.
    assert result.bytes_present == sum(images.blobs[images.first].values())
    assert result.bytes_present + result.bytes_copied == result.bytes_total
    assert not any(d in r.path for d in shared for r in _calls(proxy, "PUT", "/blobs/uploads/", mark))
    assert skopeo.digest(second, **PLAIN) == images.digests[images.second]


def test_the_release_image_blobs_are_read_from_the_source_once(seeded_release, plain_registry) -> None:
    """load_release reads the release's config and files layer; the copy then takes them from memory."""
    source = FaultProxy(upstream=plain_registry.url).start()
    try:
        release_ref = f"{source.host}/{seeded_release.release_ref.split('/', 1)[1]}"
        target = f"{plain_registry.host}/{unique_repo('perf-release')}"

        async def go() -> tuple[CopyResult, int]:
            async with _session(plain_registry.host, source.host) as session:
                info = await load_release(session, release_ref)
                result = await copy_images(release_tasks(info, target), session, CopyOptions())
                return result, session.blob_cache.hits

        result, hits = asyncio.run(go())
    finally:
        source.stop()
    assert result.ok
    reads = Counter(r.path.rsplit("/", 1)[1] for r in source.requests
                    if r.method == "GET" and "/blobs/" in r.path and r.status in (200, 206))
    assert reads, "the release image was not read through the proxy"
    assert max(reads.values()) == 1, f"blobs read more than once: {reads}"
    assert hits >= 2  # its config and its release-manifests layer


# -- destination tags first (issue 16): a rerun asks one HEAD per image and nothing of the source --------

@pytest.fixture()
def source_proxy(plain_registry) -> Iterator[FaultProxy]:
    counting = FaultProxy(upstream=plain_registry.url).start()
    yield counting
    counting.stop()


def _pinned(source: FaultProxy, images: Images, ref: str) -> str:
    """``ref`` read through ``source`` and pinned by digest, as a release's components are."""
    name = ref.split("/", 1)[1].rsplit(":", 1)[0]
    return f"{source.host}/{name}@{images.digests[ref]}"


def _fresh_copy(hosts: tuple[str, ...], pairs: list[tuple[str, str]]) -> CopyResult:
    async def go() -> CopyResult:
        async with _session(*hosts) as session:
            return await _copy(session, pairs)
    return asyncio.run(go())


def test_a_rerun_of_images_pinned_by_digest_asks_one_head_each_and_nothing_of_the_source(
        images: Images, plain_registry, proxy: FaultProxy, source_proxy: FaultProxy) -> None:
    """The destination tag answering the pinned digest proves the image is there (the registry only
    took that manifest with all its blobs): no source manifest, no HEAD by digest."""
    repo = unique_repo("perf-rerun-pinned")
    hosts = (plain_registry.host, proxy.host, source_proxy.host)
    pairs = [(_pinned(source_proxy, images, images.first), f"{proxy.host}/{repo}:one"),
             (_pinned(source_proxy, images, images.second), f"{proxy.host}/{repo}:two")]
    assert _fresh_copy(hosts, pairs).ok
    src_mark, dst_mark = len(source_proxy.requests), len(proxy.requests)

    result = _fresh_copy(hosts, pairs)
    assert result.ok and result.images_done == 2 and result.blobs_copied == 0
    assert source_proxy.requests[src_mark:] == [], "a rerun read the source"
    asked = sorted((r.method, r.path.split("?")[0].rsplit("/", 1)[1]) for r in proxy.requests[dst_mark:]
                   if r.path != "/v2/")
    assert asked == [("GET", "list"), ("HEAD", "one"), ("HEAD", "two")]


def test_a_first_mirror_lists_the_repository_tags_once_instead_of_a_head_per_image(
        images: Images, plain_registry, proxy: FaultProxy) -> None:
    repo = unique_repo("perf-first-list")
    result = _fresh_copy((plain_registry.host, proxy.host), [(images.first, f"{proxy.host}/{repo}:one"),
                                                             (images.second, f"{proxy.host}/{repo}:two")])
    assert result.ok
    assert not _calls(proxy, "HEAD", "/manifests/"), "a first mirror paid a manifest HEAD per image"
    assert len(_calls(proxy, "GET", "/tags/list")) == 1
    for ref, tag in ((images.first, "one"), (images.second, "two")):
        assert skopeo.digest(f"{plain_registry.host}/{repo}:{tag}", **PLAIN) == images.digests[ref]


def test_an_image_there_under_another_tag_is_found_by_its_digest_and_only_tagged(
        images: Images, plain_registry, proxy: FaultProxy) -> None:
    """A z-stream release reuses most components' digests under new tags: the new tag is absent from
    the listing, the image is not; one HEAD by digest finds it, and only the tag goes up."""
    repo = unique_repo("perf-newtag")
    hosts = (plain_registry.host, proxy.host)
    assert _fresh_copy(hosts, [(images.first, f"{proxy.host}/{repo}:old")]).ok
    mark = len(proxy.requests)
    result = _fresh_copy(hosts, [(images.first, f"{proxy.host}/{repo}:new")])
    assert result.ok and result.blobs_copied == 0
    assert not _calls(proxy, "POST", "/blobs/", mark) and not _calls(proxy, "PUT", "/blobs/", mark)
    assert [r.path.rsplit("/", 1)[1] for r in _calls(proxy, "HEAD", "/manifests/", mark)] == \
        [images.digests[images.first]]
    assert [r.path.rsplit("/", 1)[1] for r in _calls(proxy, "PUT", "/manifests/", mark)] == ["new"]
    assert skopeo.digest(f"{plain_registry.host}/{repo}:new", **PLAIN) == images.digests[images.first]


def test_a_tag_naming_another_digest_is_moved_not_trusted(images: Images, plain_registry, proxy: FaultProxy,
                                                          source_proxy: FaultProxy) -> None:
    repo = unique_repo("perf-moved")
    hosts = (plain_registry.host, proxy.host, source_proxy.host)
    assert _fresh_copy(hosts, [(_pinned(source_proxy, images, images.first), f"{proxy.host}/{repo}:v1")]).ok
    result = _fresh_copy(hosts, [(_pinned(source_proxy, images, images.second), f"{proxy.host}/{repo}:v1")])
    assert result.ok and result.images_done == 1
    assert skopeo.digest(f"{plain_registry.host}/{repo}:v1", **PLAIN) == images.digests[images.second]


def test_without_docker_content_digest_on_head_the_manifest_is_read_instead(
        images: Images, plain_registry, proxy: FaultProxy, source_proxy: FaultProxy) -> None:
    """A registry (or a proxy in front of it) that does not say the digest on HEAD: the manifest is
    read from the destination and hashed; the source is still not asked."""
    repo = unique_repo("perf-nodigest")
    hosts = (plain_registry.host, proxy.host, source_proxy.host)
    pairs = [(_pinned(source_proxy, images, images.first), f"{proxy.host}/{repo}:v1")]
    assert _fresh_copy(hosts, pairs).ok
    proxy.add(Fault("no-digest-header", method="HEAD", path="/manifests/", times=-1))
    src_mark, dst_mark = len(source_proxy.requests), len(proxy.requests)
    result = _fresh_copy(hosts, pairs)
    assert result.ok and result.images_done == 1 and result.blobs_copied == 0
    assert proxy.fired("no-digest-header") == 1
    assert source_proxy.requests[src_mark:] == []
    assert [r.path.rsplit("/", 1)[1] for r in _calls(proxy, "GET", "/manifests/", dst_mark)] == ["v1"]
    assert not _calls(proxy, "PUT", "/", dst_mark)


def test_a_refused_tag_listing_falls_back_to_a_head_per_image(images: Images, plain_registry,
                                                              proxy: FaultProxy) -> None:
    repo = unique_repo("perf-nolist")
    hosts = (plain_registry.host, proxy.host)
    proxy.add(Fault("status", method="GET", path="/tags/list", status=403, times=-1))
    result = _fresh_copy(hosts, [(images.first, f"{proxy.host}/{repo}:v1")])
    assert result.ok
    assert _calls(proxy, "HEAD", "/manifests/"), "the image was not looked for"
    mark = len(proxy.requests)
    rerun = _fresh_copy(hosts, [(images.first, f"{proxy.host}/{repo}:v1")])
    assert rerun.ok and rerun.blobs_copied == 0 and not _calls(proxy, "PUT", "/", mark)
    assert skopeo.digest(f"{plain_registry.host}/{repo}:v1", **PLAIN) == images.digests[images.first]


def test_a_child_manifest_shared_by_images_is_pushed_once_and_a_registry_race_is_asked_again(
        tmp_path, plain_registry, proxy: FaultProxy) -> None:
    """Two tags of one multi-arch image (releases of an update path share components this way): its
    child manifests go up once, not once per tag — concurrent PUTs of one manifest make distribution's
    filesystem driver rewrite the link file a parent's PUT is reading. When the registry still answers
    that race with 400 DIGEST_INVALID (bytes we hashed ourselves), the PUT is asked again, and a
    by-digest PUT is never reported as a registry refusing tagless pushes."""
    builder = new_builder(tmp_path / "src")
    children = [builder.image([make_layer(1400 + n, 2048)], arch=arch) for n, arch in enumerate(("amd64", "arm64"))]
    index = builder.index([(children[0], "amd64"), (children[1], "arm64")])
    asyncio.run(builder.name("multi", index))
    source_repo = unique_repo("perf-multi-src")
    skopeo.copy(f"oci:{tmp_path / 'src'}:multi", f"{plain_registry.host}/{source_repo}:v1", all_images=True,
                dst_opts=skopeo.options(tls_verify=False))
    repo = unique_repo("perf-multi")
    source = f"{plain_registry.host}/{source_repo}@{index.digest}"
    proxy.faults.append(Fault("status", method="PUT", path="/manifests/[abc]$", status=400, code="DIGEST_INVALID"))

    async def go() -> CopyResult:
        async with _session(plain_registry.host, proxy.host) as session:
            return await _copy(session, [(source, f"{proxy.host}/{repo}:{tag}") for tag in ("a", "b", "c")])

    result = asyncio.run(go())
    assert result.ok, [str(f.error) for f in result.failures]
    puts = [p.path.rsplit("/", 1)[1] for p in _calls(proxy, "PUT", "/manifests/")]
    for child in children:
        assert puts.count(child.digest) == 1, puts  # once, whatever the number of tags
    assert proxy.faults[0].fired == 1  # one tag PUT refused by the "race", then asked again
    assert len([p for p in puts if p in ("a", "b", "c")]) == 4, puts  # three tags, one asked twice
    for tag in ("a", "b", "c"):
        assert skopeo.digest(f"{proxy.host}/{repo}:{tag}", **PLAIN) == index.digest
