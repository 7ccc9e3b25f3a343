"""Faults a real registry won't produce on demand, injected by a proxy in front of real registries.

Each copy either completes with every digest verified, or stops with a clear error that names the
image and the reason; corrupt bytes are never pushed.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from core.authfile import AuthFile, parse_auth_data
from core.copier import CopyFailed, CopyOptions, CopyResult, CopyTask, copy_images
from core.endpoints import parse_location
from core.errors import IntegrityError, RegistryError
from core.reference import parse_reference
from core.registry import RegistrySession, RetryPolicy
from core.tlsconfig import TLSOptions
from tests.conftest import auth_entry
from tests.support import skopeo
from tests.support.constants import PASSWORD, USER
from tests.support.fault_proxy import Fault, FaultProxy
from tests.support.repos import unique_repo
from tui.sandbox.content import make_layer, new_builder

pytestmark = pytest.mark.timeout(120)
FAST_RETRY = RetryPolicy(attempts=5, base_delay=0.2, max_delay=2.0)
PLAIN = {"tls_verify": False}


@pytest.fixture(scope="module")
def source_image(tmp_path_factory: pytest.TempPathFactory, plain_registry) -> tuple[str, str]:
    """A 3-layer image (one layer of 300 KB) in the plain registry, pushed by skopeo."""
    folder = tmp_path_factory.mktemp("fault-src")
    builder = new_builder(folder)
    image = builder.image([make_layer(701, 300 * 1024), make_layer(702, 20 * 1024), make_layer(703, 512)])
    asyncio.run(builder.name("img", image))
    ref = f"{plain_registry.host}/faults/src:v1"
    skopeo.copy(f"oci:{folder}:img", ref, dst_opts=skopeo.options(tls_verify=False))
    return ref, image.digest


@pytest.fixture()
def source_proxy(plain_registry) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream=plain_registry.url).start()
    yield proxy
    proxy.stop()


@pytest.fixture()
def dest_proxy(plain_registry) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream=plain_registry.url).start()
    yield proxy
    proxy.stop()


def copy(src: str, dst: str, *, auth: AuthFile | None = None, tls: TLSOptions | None = None,
         retry: RetryPolicy = FAST_RETRY) -> CopyResult:
    if tls is None:  # plain-HTTP registries and proxies: allowed for these hosts only
        tls = TLSOptions(insecure_hosts=(parse_reference(src).registry, parse_reference(dst).registry))

    async def go() -> CopyResult:
        async with RegistrySession(auth=auth, tls=tls, retry=retry) as session:
            return await copy_images([CopyTask(parse_location(src), parse_location(dst))], session, CopyOptions())

    return asyncio.run(go())


def via(proxy: FaultProxy, ref: str) -> str:
    return proxy.host + "/" + ref.split("/", 1)[1]


BLOB_GET = r"/v2/.+/blobs/sha256:"


@pytest.mark.parametrize("fault", [
    Fault("status", method="GET", path=BLOB_GET, status=503, times=2),
    Fault("status", method="GET", path=BLOB_GET, status=500, times=1),
    Fault("status", method="GET", path=BLOB_GET, status=502, times=1),
    Fault("reset", method="GET", path=BLOB_GET, times=2),
    Fault("truncate", method="GET", path=BLOB_GET, times=1),
    Fault("flip", method="GET", path=BLOB_GET, times=1),
    Fault("drip", method="GET", path=BLOB_GET, times=1),
    Fault("status", method="GET", path="/manifests/", status=503, times=1),
], ids=lambda f: f"{f.kind}-{f.status if f.kind == 'status' else f.times}")
def test_source_faults_are_survived(fault: Fault, source_image, source_proxy: FaultProxy, plain_registry) -> None:
    src, digest = source_image
    source_proxy.add(fault)
    dst = f"{plain_registry.host}/{unique_repo('survived')}:v1"
    result = copy(via(source_proxy, src), dst)
    assert result.ok
    assert fault.fired >= 1, "the fault never fired: the test proves nothing"
    assert skopeo.digest(dst, **PLAIN) == digest
    inspected = skopeo.inspect(dst, **PLAIN)
    assert inspected["Layers"] == skopeo.inspect(src, **PLAIN)["Layers"]


def test_retry_after_is_honoured(source_image, source_proxy: FaultProxy, plain_registry) -> None:
    src, digest = source_image
    source_proxy.add(Fault("status", method="GET", path="/manifests/", status=429, retry_after="1", times=1))
    started = time.monotonic()
    result = copy(via(source_proxy, src), f"{plain_registry.host}/{unique_repo('429')}:v1",
                  retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05))
    assert result.ok and source_proxy.fired("status") == 1
    assert time.monotonic() - started >= 1.0, "Retry-After: 1 was not waited for"


def test_corrupt_bytes_every_time_stop_with_a_clear_error_and_nothing_pushed(source_image, source_proxy: FaultProxy,
                                                                              plain_registry) -> None:
    src, _ = source_image
    source_proxy.add(Fault("flip", method="GET", path=BLOB_GET, times=-1))
    repo = unique_repo("corrupt")
    with pytest.raises(CopyFailed) as info:
        copy(via(source_proxy, src), f"{plain_registry.host}/{repo}:v1")
    assert isinstance(info.value.error, IntegrityError)
    assert "faults/src" in str(info.value) and "digest" in str(info.value).lower()

    async def present() -> list[bool]:
        async with RegistrySession(tls=TLSOptions(insecure=True)) as session:
            client = session.client(plain_registry.host)
            raw = json.loads(skopeo.raw_manifest(src, **PLAIN))
            return [await client.blob_exists(repo, layer["digest"]) for layer in raw["layers"]]

    assert not any(asyncio.run(present())), "a corrupt blob was pushed"


def test_a_registry_that_keeps_failing_is_named(source_image, source_proxy: FaultProxy, plain_registry) -> None:
    src, _ = source_image
    source_proxy.add(Fault("status", method="GET", path="/manifests/", status=500, times=-1))
    with pytest.raises(CopyFailed) as info:
        copy(via(source_proxy, src), f"{plain_registry.host}/{unique_repo('dead')}:v1",
             retry=RetryPolicy(attempts=2, base_delay=0.01))
    assert isinstance(info.value.error, RegistryError)
    assert "500" in str(info.value) and "faults/src" in str(info.value)


def test_registry_goes_away_and_comes_back(source_image, source_proxy: FaultProxy, plain_registry) -> None:
    src, digest = source_image
    source_proxy.go_away()
    timer = threading.Timer(1.0, source_proxy.come_back)
    timer.start()
    try:
        dst = f"{plain_registry.host}/{unique_repo('comeback')}:v1"
        result = copy(via(source_proxy, src), dst, retry=RetryPolicy(attempts=6, base_delay=0.3, max_delay=2))
    finally:
        timer.join()
    assert result.ok and skopeo.digest(dst, **PLAIN) == digest


def test_relative_upload_location(source_image, dest_proxy: FaultProxy) -> None:
    src, digest = source_image
    dest_proxy.add(Fault("relative-location", method="POST", path="/blobs/uploads/", times=-1))
    dst = f"{dest_proxy.host}/{unique_repo('relative')}:v1"
    assert copy(src, dst).ok
    assert dest_proxy.fired("relative-location") >= 3
    assert skopeo.digest(dst, **PLAIN) == digest


def test_413_on_a_big_put_falls_back_to_chunks(source_image, dest_proxy: FaultProxy) -> None:
    src, digest = source_image
    dest_proxy.add(Fault("too-large", method="PUT", path="/blobs/uploads/", times=-1))
    dst = f"{dest_proxy.host}/{unique_repo('chunked')}:v1"
    assert copy(src, dst).ok
    assert dest_proxy.fired("too-large") >= 1
    assert any(r.method == "PATCH" for r in dest_proxy.requests)
    assert skopeo.digest(dst, **PLAIN) == digest


def test_redirects_never_carry_authorization_to_another_host(source_image, tls_registry, pki, auth_file,
                                                             plain_registry) -> None:
    """A TLS, password-protected source whose blob GETs redirect to another host (like object storage)."""
    src, digest = source_image
    seeded = f"{tls_registry.host}/{unique_repo('redirect-src')}:v1"
    skopeo.copy(src, seeded, src_opts=skopeo.options(tls_verify=False),
                dst_opts=skopeo.options(authfile=auth_file, cert_dir=pki.dir))
    verify = ssl.create_default_context(cafile=str(pki.ca_file))
    proxy = FaultProxy(upstream=tls_registry.url, upstream_verify=verify,
                       tls=(str(pki.server.cert_path), str(pki.server.key_path))).start()
    try:
        proxy.add(Fault("redirect", method="GET", path=BLOB_GET, times=-1))
        proxy.redirect_authorization = "Basic " + auth_entry(USER, PASSWORD)["auth"]
        auth = parse_auth_data(json.dumps({"auths": {proxy.host: auth_entry(USER, PASSWORD)}}))
        # The proxy forwards the client's Authorization upstream, except on the redirected host.
        dst = f"{plain_registry.host}/{unique_repo('redirected')}:v1"
        result = copy(via(proxy, seeded), dst, auth=auth,
                      tls=TLSOptions(ca_files=(str(pki.ca_file),), insecure_hosts=(plain_registry.host,)))
    finally:
        proxy.stop()
    assert result.ok and skopeo.digest(dst, **PLAIN) == digest
    redirected = [r for r in proxy.requests if r.path.startswith("/_redirected")]
    assert redirected and proxy.fired("redirect") >= 3
    assert all(r.host_header.startswith("localhost") for r in redirected)
    assert not any("authorization" in r.headers for r in redirected), "Authorization leaked to another host"
    assert any("authorization" in r.headers for r in proxy.requests if not r.path.startswith("/_redirected"))


def test_a_reset_blob_read_resumes_with_range(source_image, source_proxy: FaultProxy, plain_registry) -> None:
    src, digest = source_image
    raw = json.loads(skopeo.raw_manifest(src, **PLAIN))
    big = max(raw["layers"], key=lambda layer: layer["size"])["digest"]
    fault = Fault("reset", method="GET", path=big, times=1)
    source_proxy.add(fault)
    dst = f"{plain_registry.host}/{unique_repo('range')}:v1"
    assert copy(via(source_proxy, src), dst).ok and fault.fired == 1
    reads = [r for r in source_proxy.requests if r.method == "GET" and big in r.path]
    assert len(reads) == 2 and reads[1].headers.get("range", "").startswith("bytes=")
    assert reads[1].headers["range"] != "bytes=0-", "the retry re-read from the start"


def test_a_destination_that_refuses_digest_pushes_is_explained(source_image, dest_proxy: FaultProxy) -> None:
    """Like the OpenShift internal registry: a manifest pushed by digest alone is refused."""
    src, _ = source_image
    dest_proxy.add(Fault("status", method="PUT", path=r"/manifests/sha256:", status=400, times=-1))
    with pytest.raises(CopyFailed) as info:
        copy(src, f"{dest_proxy.host}/{unique_repo('notag')}:v1")
    from core.errors import PushRefused

    assert isinstance(info.value.error, PushRefused)
    assert "without a tag" in str(info.value) and "internal registry" in str(info.value)


# -- the destination side ---------------------------------------------------------------------------
# The proxy stands in front of the DESTINATION; skopeo reads the result straight from the registry.

UPLOAD_START = r"/v2/[^?]+/blobs/uploads/(\?|$)"
UPLOAD_PUT = r"/v2/.+/blobs/uploads/.+digest="
MANIFEST_PUT = r"/v2/.+/manifests/"


def direct(registry, proxied: str) -> str:
    return registry.host + "/" + proxied.split("/", 1)[1]


def uploads(proxy: FaultProxy) -> list[str]:
    """Requests that carry blob bytes (a POST that only starts or mounts an upload moves none)."""
    return [r.path for r in proxy.requests if r.method in ("PUT", "PATCH") and "/blobs/uploads/" in r.path]


def _fault_target(fault: Fault) -> str:
    """What a fault hits, for the test id."""
    if 'manifests' in fault.path:
        return 'manifest'
    return 'start' if fault.path == UPLOAD_START else 'blob'


@pytest.mark.parametrize("fault", [
    Fault("status", method="POST", path=UPLOAD_START, status=500, times=1),
    Fault("status", method="POST", path=UPLOAD_START, status=502, times=2),
    Fault("status", method="POST", path=UPLOAD_START, status=503, times=1),
    Fault("status", method="PUT", path=UPLOAD_PUT, status=500, times=1),
    Fault("status", method="PUT", path=UPLOAD_PUT, status=502, times=1),
    Fault("status", method="PUT", path=UPLOAD_PUT, status=503, times=2),
    Fault("status", method="PUT", path=MANIFEST_PUT, status=500, times=1),
    Fault("status", method="PUT", path=MANIFEST_PUT, status=502, times=1),
    Fault("status", method="PUT", path=MANIFEST_PUT, status=503, times=2),
    Fault("reset-upload", method="PUT", path=UPLOAD_PUT, times=1),
    Fault("reset-upload", method="PUT", path=UPLOAD_PUT, times=2),
    Fault("reset-upload", method="PUT", path=MANIFEST_PUT, times=1),
], ids=lambda f: f"{f.kind}-{f.method}-{_fault_target(f)}-{f.status if f.kind == 'status' else ''}x{f.times}")
def test_destination_faults_are_survived(fault: Fault, source_image, dest_proxy: FaultProxy, plain_registry) -> None:
    src, digest = source_image
    dest_proxy.add(fault)
    dst = f"{dest_proxy.host}/{unique_repo('dst-fault')}:v1"
    result = copy(src, dst)
    assert result.ok, result.failures
    assert fault.fired == fault.times, "the fault did not fire as often as asked: the test proves less"
    landed = direct(plain_registry, dst)
    assert skopeo.digest(landed, **PLAIN) == digest
    assert skopeo.inspect(landed, **PLAIN)["Layers"] == skopeo.inspect(src, **PLAIN)["Layers"]


def test_429_with_retry_after_on_upload_is_honoured(source_image, dest_proxy: FaultProxy, plain_registry) -> None:
    src, digest = source_image
    dest_proxy.add(Fault("status", method="POST", path=UPLOAD_START, status=429, retry_after="1", times=1))
    dst = f"{dest_proxy.host}/{unique_repo('dst-429')}:v1"
    started = time.monotonic()
    result = copy(src, dst, retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05))
    assert result.ok and dest_proxy.fired("status") == 1
    assert time.monotonic() - started >= 1.0, "Retry-After: 1 was not waited for"
    assert skopeo.digest(direct(plain_registry, dst), **PLAIN) == digest


@pytest.mark.parametrize("fault", [
    Fault("status", method="PUT", path=MANIFEST_PUT, status=503, times=-1),
    Fault("status", method="PUT", path=UPLOAD_PUT, status=500, times=-1),
    Fault("reset-upload", method="PUT", path=UPLOAD_PUT, times=-1),
], ids=["manifest-503", "blob-500", "blob-reset"])
def test_a_destination_that_keeps_failing_stops_clearly_and_a_rerun_moves_only_what_is_missing(
        fault: Fault, source_image, dest_proxy: FaultProxy, plain_registry) -> None:
    src, digest = source_image
    repo = unique_repo("dst-dead")
    dst = f"{dest_proxy.host}/{repo}:v1"
    dest_proxy.add(fault)
    with pytest.raises(CopyFailed) as info:
        copy(src, dst, retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05))
    message = str(info.value)
    assert "\n" not in message.strip() and repo in message, message
    assert isinstance(info.value.error, RegistryError)
    if fault.kind == "status":
        assert str(fault.status) in message, message
    with pytest.raises(subprocess.CalledProcessError):  # nothing tagged
        skopeo.digest(direct(plain_registry, dst), **PLAIN)

    first_uploads = len(uploads(dest_proxy))
    fault.times = 0  # the destination is healthy again
    assert copy(src, dst).ok
    assert skopeo.digest(direct(plain_registry, dst), **PLAIN) == digest
    again = uploads(dest_proxy)[first_uploads:]
    if fault.path == MANIFEST_PUT:  # every blob landed the first time: the rerun moves none
        assert again == [], again
    raw = json.loads(skopeo.raw_manifest(src, **PLAIN))
    assert len(again) <= len(raw["layers"]) + 1, "the rerun uploaded more than the image holds"


def test_destination_goes_away_and_comes_back(source_image, dest_proxy: FaultProxy, plain_registry) -> None:
    src, digest = source_image
    dst = f"{dest_proxy.host}/{unique_repo('dst-comeback')}:v1"
    dest_proxy.go_away()
    timer = threading.Timer(1.0, dest_proxy.come_back)
    timer.start()
    try:
        result = copy(src, dst, retry=RetryPolicy(attempts=6, base_delay=0.3, max_delay=2))
    finally:
        timer.join()
    assert result.ok and skopeo.digest(direct(plain_registry, dst), **PLAIN) == digest


def test_destination_goes_away_mid_copy_and_a_rerun_completes(source_image, dest_proxy: FaultProxy,
                                                              plain_registry) -> None:
    """Gone after the first blob lands, for longer than the retries last: a clear error, then a rerun."""
    src, digest = source_image
    repo = unique_repo("dst-gone")
    dst = f"{dest_proxy.host}/{repo}:v1"
    gone = threading.Event()
    original = dest_proxy._one

    async def one(head, reader, writer):  # type: ignore[no-untyped-def]
        keep = await original(head, reader, writer)
        if head.startswith(b"PUT") and b"digest=" in head and not gone.is_set():
            gone.set()
            dest_proxy._server.close()  # type: ignore[union-attr]
            for task in list(dest_proxy._tasks):  # open keep-alive connections die too
                if task is not asyncio.current_task():
                    task.cancel()
            raise ConnectionResetError
        return keep

    dest_proxy._one = one  # type: ignore[method-assign]
    with pytest.raises(CopyFailed) as info:
        copy(src, dst, retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05))
    assert gone.is_set() and repo in str(info.value) and "\n" not in str(info.value).strip()
    assert isinstance(info.value.error, RegistryError)
    dest_proxy._one = original  # type: ignore[method-assign]
    dest_proxy.come_back()
    assert copy(src, dst).ok
    assert skopeo.digest(direct(plain_registry, dst), **PLAIN) == digest


def test_bytes_damaged_on_the_way_to_the_destination_leave_no_tag(source_image, dest_proxy: FaultProxy,
                                                                  plain_registry) -> None:
    """The registry refuses a blob whose bytes do not match its digest; the copy stops, nothing is tagged."""
    src, digest = source_image
    repo = unique_repo("dst-flip")
    dst = f"{dest_proxy.host}/{repo}:v1"
    fault = Fault("flip-request", method="PUT", path=UPLOAD_PUT, times=-1)
    dest_proxy.add(fault)
    with pytest.raises(CopyFailed) as info:
        copy(src, dst, retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05))
    assert fault.fired >= 1 and repo in str(info.value) and "\n" not in str(info.value).strip()
    assert not any(r.method == "PUT" and "/manifests/" in r.path for r in dest_proxy.requests), \
        "a manifest was pushed over a refused blob"
    with pytest.raises(subprocess.CalledProcessError):  # nothing tagged
        skopeo.digest(direct(plain_registry, dst), **PLAIN)
    fault.times = 0
    assert copy(src, dst).ok and skopeo.digest(direct(plain_registry, dst), **PLAIN) == digest


def test_corrupt_source_leaves_no_tag_at_the_destination(source_image, source_proxy: FaultProxy,
                                                         dest_proxy: FaultProxy, plain_registry) -> None:
    src, _ = source_image
    source_proxy.add(Fault("flip", method="GET", path=BLOB_GET, times=-1))
    repo = unique_repo("dst-corrupt")
    dst = f"{dest_proxy.host}/{repo}:v1"
    with pytest.raises(CopyFailed) as info:
        copy(via(source_proxy, src), dst)
    assert isinstance(info.value.error, IntegrityError)
    assert not any(r.method == "PUT" and "/manifests/" in r.path for r in dest_proxy.requests)
    with pytest.raises(subprocess.CalledProcessError):  # nothing tagged
        skopeo.digest(direct(plain_registry, dst), **PLAIN)
    raw = json.loads(skopeo.raw_manifest(src, **PLAIN))
    big = max(raw["layers"], key=lambda layer: layer["size"])["digest"]
    assert not any(r.method == "PUT" and big in r.path for r in dest_proxy.requests), "the corrupt blob was pushed"
