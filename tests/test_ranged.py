"""Parallel ranged reads of big blobs (core/ranged.py) against the real docker-registry (it answers
Range on blob GETs with 206), with the fault proxy for what it will not do: ignore Range, break a
connection mid-part, flip a byte. Sizes are scaled down: parts of 256 KiB, blobs of a few MiB."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from core import adaptive
from core.authfile import parse_auth_data
from core.copier import CopyOptions, CopyTask, copy_images
from core.endpoints import parse_location
from core.errors import IntegrityError, RegistryStalled, RegistryUnreachable, ReleaseError
from core.layout import OCILayout
from core.ranged import RangedConfig, RangedFetch, RegistryRanges, fetch_into_layout
from core.registry import RegistrySession, RetryPolicy
from core.tlsconfig import TLSOptions
from tests.conftest import auth_entry
from tests.support import skopeo
from tests.support.constants import PASSWORD, USER
from tests.support.fault_proxy import Fault, FaultProxy
from tests.support.repos import unique_repo
from tui.sandbox.content import make_layer, new_builder

pytestmark = pytest.mark.timeout(120)
KiB = 1024
PART = 256 * KiB


@dataclass
class BigImage:
    ref: str          # tagged, in the plain registry
    repository: str
    layer: str        # digest of the big layer
    layer_size: int
    data: bytes       # the big layer's bytes


@pytest.fixture(scope="module")
def big_image(tmp_path_factory: pytest.TempPathFactory, plain_registry) -> BigImage:
    folder = tmp_path_factory.mktemp("ranged-src")
    builder = new_builder(folder)
    layer = make_layer(1601, 3 * 1024 * KiB + 12345)  # random bytes: gzip does not shrink them
    image = builder.image([layer, make_layer(1602, 4 * KiB)])
    asyncio.run(builder.name("big", image))
    repository = unique_repo("ranged")
    ref = f"{plain_registry.host}/{repository}:v1"
    skopeo.copy(f"oci:{folder}:big", ref, dst_opts=skopeo.options(tls_verify=False))
    raw = json.loads(skopeo.raw_manifest(ref, tls_verify=False))
    big = max(raw["layers"], key=lambda d: d["size"])
    data = (folder / "blobs" / "sha256" / big["digest"].split(":")[1]).read_bytes()
    return BigImage(ref, repository, big["digest"], big["size"], data)


@pytest.fixture()
def proxy(plain_registry) -> Iterator[FaultProxy]:
    p = FaultProxy(upstream=plain_registry.url).start()
    yield p
    p.stop()


@pytest.fixture()
def small_parts(monkeypatch: pytest.MonkeyPatch) -> RangedConfig:
    """What the copier's hook reads from the environment: ranged from 1 MiB, parts of 1 MiB."""
    monkeypatch.setenv("MIRROR_WIZARD_RANGED_MIN_MB", "1")
    monkeypatch.setenv("MIRROR_WIZARD_RANGED_PART_MB", "1")
    monkeypatch.setenv("MIRROR_WIZARD_RANGED_CONNECTIONS", "4")
    return RangedConfig.from_env()


def _config(**changes: object) -> RangedConfig:
    base = {"threshold": 1024 * KiB, "part_size": PART, "connections": 4, "ahead": 8 * PART}
    base.update(changes)
    return RangedConfig(**base)  # type: ignore[arg-type]


def _session(*hosts: str) -> RegistrySession:
    return RegistrySession(tls=TLSOptions(insecure_hosts=hosts))


def _blob_gets(proxy: FaultProxy, digest: str) -> list:
    return [r for r in proxy.requests if r.method == "GET" and r.path.endswith(f"/blobs/{digest}")]


async def _copy(session: RegistrySession, src: str, dst: str):
    return await copy_images([CopyTask(parse_location(src), parse_location(dst))], session, CopyOptions())


def test_registry_to_registry_reads_a_big_blob_in_ranged_parts(big_image: BigImage, plain_registry, proxy: FaultProxy,
                                                               small_parts: RangedConfig) -> None:
    src = f"{proxy.host}/{big_image.repository}:v1"
    dst = f"{plain_registry.host}/{unique_repo('ranged-dst')}:v1"

    async def run():
        async with _session(proxy.host, plain_registry.host) as session:
            return await _copy(session, src, dst)

    result = asyncio.run(run())
    assert result.ok, result.failures
    gets = _blob_gets(proxy, big_image.layer)
    parts = -(-big_image.layer_size // small_parts.part_size)
    assert len(gets) == parts, [g.headers.get("range") for g in gets]
    assert all(g.status == 206 and g.headers.get("range", "").startswith("bytes=") for g in gets)
    starts = sorted(int(g.headers["range"].split("=")[1].split("-")[0]) for g in gets)
    assert starts == [k * small_parts.part_size for k in range(parts)]
    # The destination verifies the digest too (PUT ?digest=), and skopeo reads the image back.
    copied = json.loads(skopeo.raw_manifest(dst, tls_verify=False))
    assert big_image.layer in {d["digest"] for d in copied["layers"]}
    repository = dst.split("/", 1)[1].rsplit(":", 1)[0]
    stored = httpx.get(f"{plain_registry.url}/v2/{repository}/blobs/{big_image.layer}", timeout=30)
    assert stored.status_code == 200 and stored.content == big_image.data


def test_to_dir_writes_the_parts_into_the_layout(big_image: BigImage, proxy: FaultProxy, tmp_path: Path,
                                                 small_parts: RangedConfig) -> None:
    src = f"{proxy.host}/{big_image.repository}:v1"

    async def run():
        async with _session(proxy.host) as session:
            return await _copy(session, src, f"oci:{tmp_path}/out:big")

    result = asyncio.run(run())
    assert result.ok, result.failures
    blob = tmp_path / "out" / "blobs" / "sha256" / big_image.layer.split(":")[1]
    assert blob.read_bytes() == big_image.data
    assert len(_blob_gets(proxy, big_image.layer)) == -(-big_image.layer_size // small_parts.part_size)
    assert not list(blob.parent.glob(".*")), "no partial file or record left behind"
    # skopeo (the referee) reads the layout we wrote.
    skopeo.copy(f"oci:{tmp_path}/out:big", f"oci:{tmp_path}/check:big")


def test_a_source_ignoring_range_is_read_once_as_a_single_stream(big_image: BigImage, plain_registry,
                                                                 proxy: FaultProxy, small_parts: RangedConfig) -> None:
    proxy.add(Fault("ignore-range", method="GET", path=r"/blobs/sha256:", times=-1))
    src = f"{proxy.host}/{big_image.repository}:v1"

    async def run():
        async with _session(proxy.host, plain_registry.host) as session:
            first = await _copy(session, src, f"{plain_registry.host}/{unique_repo('ranged-200')}:v1")
            second = await _copy(session, src, f"{plain_registry.host}/{unique_repo('ranged-200b')}:v1")
            return first, second

    first, second = asyncio.run(run())
    assert first.ok and second.ok, (first.failures, second.failures)
    gets = _blob_gets(proxy, big_image.layer)
    # One GET per copy: the 200 answer to the first part's Range is used whole, and the second copy
    # (the same session) no longer asks for a range.
    assert [g.status for g in gets] == [200, 200]
    assert "range" in gets[0].headers and "range" not in gets[1].headers


async def _fetch_all(fetch: RangedFetch, *, delay: float = 0.0) -> bytes:
    out = bytearray()
    async for chunk in fetch.chunks():
        out += chunk
        if delay:
            await asyncio.sleep(delay)
    return bytes(out)


def test_parts_fetched_ahead_of_a_slow_reader_stay_within_the_window(big_image: BigImage, plain_registry) -> None:
    config = _config(ahead=2 * PART, connections=4)
    seen_ahead: list[int] = []

    async def run() -> tuple[bytes, RangedFetch]:
        async with _session(plain_registry.host) as session:
            ranges = RegistryRanges(session.client(plain_registry.host), big_image.repository, big_image.layer, 4)
            fetch = RangedFetch(ranges, big_image.layer, big_image.layer_size, None, config=config)

            async def watch() -> None:
                while True:
                    top = max((k * PART + w for k, w in enumerate(fetch.written) if w), default=0)
                    seen_ahead.append(top - fetch.consumed)
                    await asyncio.sleep(0.002)

            watcher = asyncio.create_task(watch())
            try:
                data = await _fetch_all(fetch, delay=0.01)
            finally:
                watcher.cancel()
            return data, fetch

    data, fetch = asyncio.run(run())
    assert hashlib.sha256(data).hexdigest() == big_image.layer.split(":")[1]
    # A part starts only while it is within ``ahead`` of the reader, so at most ahead + one part lies
    # on disk unread; with no window this reader (10 ms per MiB chunk) would trail by the whole blob.
    assert max(seen_ahead) <= config.ahead + PART
    assert fetch.limiter.controller.history, "the limiter was told about the slow reader"


def test_a_connection_broken_mid_part_resumes_that_part(big_image: BigImage, proxy: FaultProxy) -> None:
    proxy.add(Fault("reset", method="GET", path=r"/blobs/sha256:", times=2))

    async def run() -> tuple[bytes, RangedFetch]:
        async with _session(proxy.host) as session:
            ranges = RegistryRanges(session.client(proxy.host), big_image.repository, big_image.layer, 4)
            fetch = RangedFetch(ranges, big_image.layer, big_image.layer_size, None, config=_config())
            return await _fetch_all(fetch), fetch

    data, fetch = asyncio.run(run())
    assert data == big_image.data
    assert proxy.fired("reset") == 2
    parts = -(-big_image.layer_size // PART)
    assert fetch.requests == parts + 2  # each broken part asked again for its missing end only
    resumed = [g for g in _blob_gets(proxy, big_image.layer) if g.fault is None
               and int(g.headers["range"].split("=")[1].split("-")[0]) % PART]
    assert len(resumed) == 2


def test_a_flipped_byte_fails_the_whole_digest(big_image: BigImage, proxy: FaultProxy) -> None:
    proxy.add(Fault("flip", method="GET", path=r"/blobs/sha256:", times=1))

    async def run() -> None:
        async with _session(proxy.host) as session:
            ranges = RegistryRanges(session.client(proxy.host), big_image.repository, big_image.layer, 4)
            await _fetch_all(RangedFetch(ranges, big_image.layer, big_image.layer_size, None, config=_config()))

    with pytest.raises(IntegrityError, match="does not match its digest"):
        asyncio.run(run())


class _Failing:
    """A RangeSource that breaks for good after ``allowed`` parts (a link that went away)."""

    def __init__(self, inner: RegistryRanges, allowed: int) -> None:
        self.inner = inner
        self.allowed = allowed
        self.display = inner.display
        self.retry = inner.retry
        self.starts: list[int] = []

    async def get(self, start: int, end: int):
        self.starts.append(start)
        if len(self.starts) > self.allowed:
            raise RegistryUnreachable("the link went away")
        return await self.inner.get(start, end)

    async def error(self, response, what: str):
        return await self.inner.error(response, what)

    async def reauth(self, challenge: str | None = None, url: str | None = None) -> None:
        await self.inner.reauth(challenge, url)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_to_dir_resumes_from_the_parts_on_disk(big_image: BigImage, plain_registry, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("core.ranged.asyncio.sleep", _no_sleep)
    layout = OCILayout(tmp_path / "out")
    layout.ensure()
    config = _config(connections=1)  # one connection: parts finish in order, so the cut is predictable
    parts = -(-big_image.layer_size // PART)

    async def attempt(allowed: int) -> _Failing:
        async with _session(plain_registry.host) as session:
            ranges = RegistryRanges(session.client(plain_registry.host), big_image.repository, big_image.layer, 1)
            source = _Failing(ranges, allowed)
            await fetch_into_layout(source, layout, big_image.layer, big_image.layer_size, config=config)
            return source

    with pytest.raises(RegistryUnreachable):
        asyncio.run(attempt(5))
    final = layout.blob_path(big_image.layer)
    partial = final.with_name(f".{final.name}.ranged")
    record = json.loads(partial.with_name(partial.name + ".json").read_text())
    assert record["done"] == [0, 1, 2, 3, 4] and not final.exists()

    second = asyncio.run(attempt(parts))
    assert second.starts == [k * PART for k in range(5, parts)], "only the missing parts are fetched"
    assert final.read_bytes() == big_image.data
    assert not partial.exists()


def test_a_damaged_partial_file_is_thrown_away_not_kept(big_image: BigImage, plain_registry, tmp_path: Path) -> None:
    layout = OCILayout(tmp_path / "out")
    layout.ensure()
    config = _config()
    final = layout.blob_path(big_image.layer)
    partial = final.with_name(f".{final.name}.ranged")
    # An earlier run's record says parts 0-2 are there, but the bytes on disk are not the blob's.
    partial.write_bytes(b"\0" * big_image.layer_size)
    partial.with_name(partial.name + ".json").write_text(json.dumps(
        {"digest": big_image.layer, "size": big_image.layer_size, "part_size": PART, "done": [0, 1, 2]}))

    async def attempt() -> None:
        async with _session(plain_registry.host) as session:
            ranges = RegistryRanges(session.client(plain_registry.host), big_image.repository, big_image.layer, 4)
            await fetch_into_layout(ranges, layout, big_image.layer, big_image.layer_size, config=config)

    with pytest.raises(IntegrityError):
        asyncio.run(attempt())
    assert not partial.exists() and not final.exists()
    asyncio.run(attempt())  # the next try starts from nothing and succeeds
    assert final.read_bytes() == big_image.data


def _far_knobs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Split from 4 MiB near (the 3 MiB layer stays whole), from 1 MiB when the source's fastest
    answer took 25 ms or more; parts of 1 MiB."""
    monkeypatch.setenv("MIRROR_WIZARD_RANGED_MIN_MB", "4")
    monkeypatch.setenv("MIRROR_WIZARD_RANGED_FAR_MIN_MB", "1")
    monkeypatch.setenv("MIRROR_WIZARD_RANGED_FAR_MS", "25")
    monkeypatch.setenv("MIRROR_WIZARD_RANGED_PART_MB", "1")
    monkeypatch.setenv("MIRROR_WIZARD_RANGED_CONNECTIONS", "4")


@pytest.mark.parametrize("latency", [0.0, 0.06], ids=["near", "far"])
def test_a_far_source_has_smaller_blobs_read_in_parts(big_image: BigImage, plain_registry, proxy: FaultProxy,
                                                      monkeypatch: pytest.MonkeyPatch, latency: float) -> None:
    """Far from the source (every answer takes a round trip across the internet; here the proxy adds
    60 ms) each connection is capped, so a blob below the usual threshold is split too. The source's
    fastest answer, measured on the manifest reads before any blob, tells far from near."""
    _far_knobs(monkeypatch)
    proxy.latency = latency
    src = f"{proxy.host}/{big_image.repository}:v1"
    dst = f"{plain_registry.host}/{unique_repo('ranged-far')}:v1"

    async def run():
        async with _session(proxy.host, plain_registry.host) as session:
            result = await _copy(session, src, dst)
            return result, session.client(proxy.host).transport.fastest_answer

    result, fastest = asyncio.run(run())
    assert result.ok, result.failures
    gets = _blob_gets(proxy, big_image.layer)
    if latency:
        assert fastest is not None and fastest >= latency
        assert len(gets) == -(-big_image.layer_size // (1 << 20)) and all(g.status == 206 for g in gets)
    else:
        assert fastest is not None and fastest < 0.025
        assert len(gets) == 1 and "range" not in gets[0].headers


def test_ranged_parts_count_against_the_admins_limit_per_registry(big_image: BigImage, plain_registry,
                                                                  proxy: FaultProxy, small_parts: RangedConfig) -> None:
    """--max-per-registry 2: the big layer's parts and the other blobs together never hold more than
    two connections reading blobs at the source (before, the parts had up to 4 of their own besides);
    and the parts did use the second one."""
    proxy.latency = 0.05  # every answer takes a while: the requests overlap whenever they may
    src = f"{proxy.host}/{big_image.repository}:v1"
    dst = f"{plain_registry.host}/{unique_repo('ranged-limit')}:v1"

    async def run():
        hosts = (proxy.host, plain_registry.host)
        async with RegistrySession(tls=TLSOptions(insecure_hosts=hosts), max_per_registry=2) as session:
            return await _copy(session, src, dst)

    result = asyncio.run(run())
    assert result.ok, result.failures
    assert len(_blob_gets(proxy, big_image.layer)) == -(-big_image.layer_size // small_parts.part_size)
    assert proxy.blob_gets_peak == 2


def test_a_blob_holding_the_only_slot_still_reads_its_parts(big_image: BigImage, plain_registry) -> None:
    """The copier holds one slot of the transfer limit for the blob; the first part's connection runs
    on it. With a limit of 1 no other slot is ever free: the parts go one after another instead of
    waiting for a slot forever."""
    async def run() -> tuple[bytes, int]:
        async with _session(plain_registry.host) as session:
            client = session.client(plain_registry.host)
            limiter = adaptive.AdaptiveLimiter(adaptive.ConcurrencyController(maximum=1, initial=1), idle_on_release=True)
            await limiter.acquire()  # the copier's slot for this blob
            ranges = RegistryRanges(client, big_image.repository, big_image.layer, 4, shared_pool=True)
            fetch = RangedFetch(ranges, big_image.layer, big_image.layer_size, None, config=_config(),
                                limiter=limiter, held=True)
            data = await asyncio.wait_for(_fetch_all(fetch), 60)
            assert limiter.in_use == 1, "the blob's own slot is the caller's to give back"
            limiter.release()
            return data, limiter.peak

    data, peak = asyncio.run(run())
    assert data == big_image.data and peak == 1


def test_the_far_threshold_applies_from_the_far_answer_time() -> None:
    config = RangedConfig.from_env({})
    assert config.threshold_for(None) == 64 << 20, "nothing measured yet: near"
    assert config.threshold_for(0.002) == 64 << 20
    assert config.threshold_for(0.040) == 16 << 20
    config = RangedConfig.from_env({"MIRROR_WIZARD_RANGED_MIN_MB": "8", "MIRROR_WIZARD_RANGED_FAR_MS": "50"})
    assert config.threshold_for(0.040) == 8 << 20 and config.threshold_for(0.060) == 8 << 20, "never above the near one"


def test_the_environment_can_turn_ranged_reads_off() -> None:
    assert RangedConfig.from_env({"MIRROR_WIZARD_RANGED": "off"}).enabled is False
    config = RangedConfig.from_env({"MIRROR_WIZARD_RANGED_PART_MB": "x", "MIRROR_WIZARD_RANGED_CONNECTIONS": "99"})
    assert config.part_size == 8 << 20 and config.connections == 32 and config.enabled


async def _no_sleep(_: float) -> None:
    return None


def test_parts_follow_a_redirect_to_object_storage_without_credentials(big_image: BigImage, tls_registry, pki,
                                                                       auth_file) -> None:
    """quay.io and registry.redhat.io send blob GETs to a CDN: the first part follows the redirect and
    the others go straight there; the other host never sees our registry credentials."""
    repository = unique_repo("ranged-auth")
    skopeo.copy(big_image.ref, f"{tls_registry.host}/{repository}:v1", src_opts=skopeo.options(tls_verify=False),
                dst_opts=skopeo.options(authfile=auth_file, cert_dir=pki.dir))
    verify = ssl.create_default_context(cafile=str(pki.ca_file))
    proxy = FaultProxy(upstream=tls_registry.url, upstream_verify=verify,
                       tls=(str(pki.server.cert_path), str(pki.server.key_path))).start()
    proxy.add(Fault("redirect", method="GET", path=r"^/v2/.*/blobs/sha256:", times=-1))
    # What the "object storage" uses upstream stands for the presigned URL's own authority.
    proxy.redirect_authorization = "Basic " + auth_entry(USER, PASSWORD)["auth"]
    auth = parse_auth_data(json.dumps({"auths": {proxy.host: auth_entry(USER, PASSWORD)}}))

    async def run() -> tuple[bytes, RegistryRanges]:
        async with RegistrySession(auth, TLSOptions(ca_files=(str(pki.ca_file),))) as session:
            ranges = RegistryRanges(session.client(proxy.host), repository, big_image.layer, 4)
            fetch = RangedFetch(ranges, big_image.layer, big_image.layer_size, None, config=_config())
            return await _fetch_all(fetch), ranges

    try:
        data, ranges = asyncio.run(run())
    finally:
        proxy.stop()
    assert data == big_image.data
    assert ranges.where.cdn is not None and proxy.alias_host in ranges.where.cdn
    to_registry = [r for r in proxy.requests if r.path.startswith("/v2/") and "/blobs/sha256:" in r.path]
    to_storage = [r for r in proxy.requests if r.path.startswith("/_redirected/")]
    assert len(to_registry) == 1 and "authorization" in to_registry[0].headers, "only the first part asks the registry"
    assert len(to_storage) == -(-big_image.layer_size // PART)
    assert all(r.status == 206 and "authorization" not in r.headers for r in to_storage), "credentials leaked"


def test_a_spool_file_gives_back_the_parts_already_read(big_image: BigImage, plain_registry, tmp_path: Path) -> None:
    import os

    config = _config(spool_dir=str(tmp_path), connections=2, ahead=2 * PART)
    blocks: list[int] = []

    async def run() -> bytes:
        async with _session(plain_registry.host) as session:
            ranges = RegistryRanges(session.client(plain_registry.host), big_image.repository, big_image.layer, 2)
            fetch = RangedFetch(ranges, big_image.layer, big_image.layer_size, None, config=config)
            out = bytearray()
            async for chunk in fetch.chunks():
                out += chunk
                blocks.append(os.fstat(fetch._fd).st_blocks * 512)
            return bytes(out)

    assert asyncio.run(run()) == big_image.data
    assert not list(tmp_path.iterdir()), "the spool file is anonymous"
    # Near the end, only the unread tail (at most a window and the parts in flight) takes space.
    assert blocks[-1] <= 5 * PART < big_image.layer_size


def _quick_session(host: str, **retry: float) -> RegistrySession:
    return RegistrySession(tls=TLSOptions(insecure_hosts=(host,)), stall_timeout=0.5,
                           retry=RetryPolicy(**{"attempts": 5, "base_delay": 0.01, "max_delay": 0.05, **retry}))


def test_a_stalled_part_is_given_up_after_the_stall_timeout_and_resumed(big_image: BigImage, proxy: FaultProxy) -> None:
    """Parts go through the transport's stall timeout: a CDN edge that stops sending mid-part costs
    ``--stall-timeout``, then that part goes on from its last byte on another connection."""
    proxy.add(Fault("stall", method="GET", path=r"/blobs/sha256:", times=1))

    async def run() -> tuple[bytes, RangedFetch]:
        async with _quick_session(proxy.host) as session:
            ranges = RegistryRanges(session.client(proxy.host), big_image.repository, big_image.layer, 4)
            fetch = RangedFetch(ranges, big_image.layer, big_image.layer_size, None, config=_config())
            return await _fetch_all(fetch), fetch

    data, fetch = asyncio.run(run())
    assert data == big_image.data
    assert proxy.fired("stall") == 1
    assert fetch.requests == -(-big_image.layer_size // PART) + 1, "only the stalled part was asked again"


def test_a_part_that_keeps_stalling_fails_as_a_stall(big_image: BigImage, proxy: FaultProxy) -> None:
    proxy.add(Fault("stall", method="GET", path=r"/blobs/sha256:", times=-1))

    async def run() -> None:
        async with _quick_session(proxy.host, attempts=2) as session:
            ranges = RegistryRanges(session.client(proxy.host), big_image.repository, big_image.layer, 4)
            await _fetch_all(RangedFetch(ranges, big_image.layer, big_image.layer_size, None, config=_config()))

    with pytest.raises(RegistryStalled, match="sent nothing for 0.5 s"):
        asyncio.run(run())


class _FaultAfterFirst:
    """A RangeSource whose proxy starts failing once the first part (the probe) has its answer."""

    def __init__(self, inner: RegistryRanges, proxy: FaultProxy, fault: Fault) -> None:
        self.inner, self.proxy, self.fault = inner, proxy, fault
        self.display = inner.display
        self.retry = inner.retry

    async def get(self, start: int, end: int):
        response = await self.inner.get(start, end)
        if self.fault not in self.proxy.faults:
            self.proxy.add(self.fault)
        return response

    async def error(self, response, what: str):
        return await self.inner.error(response, what)

    async def reauth(self, challenge: str | None = None, url: str | None = None) -> None:
        await self.inner.reauth(challenge, url)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_parts_answered_503_are_retried_and_narrow_both_limits(big_image: BigImage, proxy: FaultProxy) -> None:
    """A 503 to a part: retried under the client's one retry policy, the blob's own connections halve,
    and so does the registry's adaptive transfer limit (the policy reports push-back to core.adaptive)."""
    fault = Fault("status", method="GET", path=r"/blobs/sha256:", status=503, times=2)

    async def run() -> tuple[bytes, RangedFetch, list[adaptive.Decision]]:
        async with _quick_session(proxy.host) as session:
            client = session.client(proxy.host)
            transfers = adaptive.transfer_limiter(None, client, start=6, maximum=6)
            ranges = RegistryRanges(client, big_image.repository, big_image.layer, 4)
            source = _FaultAfterFirst(ranges, proxy, fault)
            fetch = RangedFetch(source, big_image.layer, big_image.layer_size, None, config=_config())
            data = await _fetch_all(fetch)
            return data, fetch, [d for d, _ in transfers.controller.history]

    data, fetch, transfer_decisions = asyncio.run(run())
    assert data == big_image.data
    assert fault.fired == 2
    assert adaptive.Decision.BACK_OFF in [d for d, _ in fetch.limiter.controller.history]
    assert adaptive.Decision.BACK_OFF in transfer_decisions


def test_a_partial_blob_planted_as_a_link_is_refused_not_followed(big_image: BigImage, plain_registry,
                                                                   tmp_path: Path) -> None:
    import os

    layout = OCILayout(tmp_path / "out")
    layout.ensure()
    outside = tmp_path / "outside"
    outside.write_bytes(b"keep me")
    final = layout.blob_path(big_image.layer)
    partial = final.with_name(f".{final.name}.ranged")
    os.symlink(outside, partial)
    # With a record that says parts are there, the link would be resumed from: refused instead.
    partial.with_name(partial.name + ".json").write_text(json.dumps(
        {"digest": big_image.layer, "size": big_image.layer_size, "part_size": PART, "done": [0]}))

    async def attempt() -> None:
        async with _session(plain_registry.host) as session:
            ranges = RegistryRanges(session.client(plain_registry.host), big_image.repository, big_image.layer, 4)
            await fetch_into_layout(ranges, layout, big_image.layer, big_image.layer_size, config=_config())

    with pytest.raises(ReleaseError, match="symbolic link"):
        asyncio.run(attempt())
    assert outside.read_bytes() == b"keep me" and not final.exists()
    # Without a record nothing is resumed: the link itself is removed and the blob fetched afresh.
    partial.with_name(partial.name + ".json").unlink()
    asyncio.run(attempt())
    assert outside.read_bytes() == b"keep me" and final.read_bytes() == big_image.data


def test_to_dir_parts_are_made_durable_off_the_event_loop(big_image: BigImage, plain_registry, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """fdatasync on removable media can take long: it runs in a worker thread, so the event loop keeps
    every other connection moving meanwhile. The record still names only parts already flushed."""
    import threading

    import core.ranged as ranged_module

    layout = OCILayout(tmp_path / "out")
    layout.ensure()
    calls: list[bool] = []
    real_fdatasync = os.fdatasync

    def fdatasync(fd: int) -> None:
        calls.append(threading.current_thread() is threading.main_thread())
        real_fdatasync(fd)

    records: list[list[int]] = []
    real_record = OCILayout.write_resumable_record

    def record(self: OCILayout, digest: str, data: bytes) -> None:
        records.append(json.loads(data)["done"])
        real_record(self, digest, data)

    monkeypatch.setattr(ranged_module.os, "fdatasync", fdatasync)
    monkeypatch.setattr(OCILayout, "write_resumable_record", record)

    async def go() -> None:
        async with _session(plain_registry.host) as session:
            ranges = RegistryRanges(session.client(plain_registry.host), big_image.repository, big_image.layer, 3)
            await fetch_into_layout(ranges, layout, big_image.layer, big_image.layer_size, config=_config())

    asyncio.run(go())
    parts = -(-big_image.layer_size // PART)
    assert layout.blob_path(big_image.layer).read_bytes() == big_image.data
    assert len(calls) == parts + 1, "one flush per part, one before the rename"
    assert not any(calls), "no fdatasync on the event loop's thread"
    assert sorted(records[-1]) == list(range(parts)) and all(len(r) == n + 1 for n, r in enumerate(records))
