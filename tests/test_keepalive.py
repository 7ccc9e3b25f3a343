"""Keep-alive on the one HTTP path (core/http/connection.py), against the real registry behind a proxy that
counts TCP connections and can drop a kept connection the way a server timing it out does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator

import pytest

from core.registry import RegistryClient, RegistrySession, RetryPolicy
from core.registry.client import BlobLocation
from core.tlsconfig import TLSOptions
from tests.support import skopeo
from tests.support.fault_proxy import FaultProxy
from tests.support.repos import unique_repo
from tui.sandbox.content import make_layer, new_builder

pytestmark = pytest.mark.timeout(120)
NO_RETRY = RetryPolicy(attempts=1)  # any failure the raw path does not absorb itself fails the test
LAYERS = 5


class ConnectionCountingProxy(FaultProxy):
    """The fault proxy, counting accepted connections; it can also close a kept-alive connection as
    the next request arrives on it (``drop_reused``) or close the idle ones (``close_idle``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.connections = 0  # connections that carried at least one request (not the HTTPS probe)
        self.drop_reused = 0
        self.dropped = 0
        self._waiting: set[asyncio.StreamWriter] = set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        served = 0
        try:
            while True:
                self._waiting.add(writer)
                first = await reader.readexactly(1)
                self._waiting.discard(writer)
                if first == b"\x16":
                    break
                head = first + await reader.readuntil(b"\r\n\r\n")
                if served and self.drop_reused > 0:
                    self.drop_reused -= 1
                    self.dropped += 1
                    writer.transport.abort()  # the request raced the server's idle timeout
                    break
                served += 1
                self.connections += served == 1
                if not await self._one(head, reader, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError, asyncio.LimitOverrunError):
            pass
        finally:
            self._waiting.discard(writer)
            self._tasks.discard(task)
            writer.close()

    def close_idle(self) -> None:
        async def close() -> None:
            for writer in list(self._waiting):
                writer.close()
        self._call(close)


@pytest.fixture(scope="module")
def blobs(tmp_path_factory: pytest.TempPathFactory, plain_registry) -> tuple[str, list[tuple[str, int]]]:
    """An image of LAYERS layers in the plain registry: (repository, [(digest, size)])."""
    folder = tmp_path_factory.mktemp("keepalive-src")
    builder = new_builder(folder)
    image = builder.image([make_layer(1200 + i, 40 * 1024 + i) for i in range(LAYERS)])
    asyncio.run(builder.name("img", image))
    repo = unique_repo("keepalive-src")
    skopeo.copy(f"oci:{folder}:img", f"{plain_registry.host}/{repo}:v1", dst_opts=skopeo.options(tls_verify=False))
    raw = json.loads(skopeo.raw_manifest(f"{plain_registry.host}/{repo}:v1", tls_verify=False))
    return repo, [(layer["digest"], layer["size"]) for layer in raw["layers"]]


@pytest.fixture()
def proxy(plain_registry) -> Iterator[ConnectionCountingProxy]:
    counting = ConnectionCountingProxy(upstream=plain_registry.url).start()
    yield counting
    counting.stop()


def _session(proxy: FaultProxy, *, retry: RetryPolicy = NO_RETRY, per_registry: int = 6) -> RegistrySession:
    return RegistrySession(tls=TLSOptions(insecure_hosts=(proxy.host,)), retry=retry, max_per_registry=per_registry)


async def _read_all(client: RegistryClient, repo: str, digests: list[tuple[str, int]]) -> list[int]:
    sizes = []
    for digest, _size in digests:
        sizes.append(len(await client.read_blob(repo, digest)))
    return sizes


def test_blob_reads_reuse_one_connection(blobs, proxy: ConnectionCountingProxy) -> None:
    repo, digests = blobs

    async def go() -> tuple[list[int], int, int]:
        async with _session(proxy) as session:
            client = session.client(proxy.host)
            sizes = await _read_all(client, repo, digests)
            return sizes, client.raw_pool.opened, client.raw_pool.idle_count()

    sizes, opened, idle = asyncio.run(go())
    assert sizes == [size for _, size in digests]
    assert opened == 1, f"{opened} raw connections for {LAYERS} sequential blob reads"
    assert idle == 1
    blob_gets = [r for r in proxy.requests if r.method == "GET" and "/blobs/" in r.path]
    assert len(blob_gets) == LAYERS
    # one HTTP stack: the /v2/ ping and every blob body on one kept connection
    assert proxy.connections == 1, f"{proxy.connections} TCP connections"


def test_a_kept_connection_dropped_by_the_server_is_retried_on_a_fresh_one(blobs, proxy: ConnectionCountingProxy) -> None:
    repo, digests = blobs

    async def go() -> tuple[list[int], int]:
        async with _session(proxy) as session:  # NO_RETRY: the engine's own retries would hide a failure
            client = session.client(proxy.host)
            first = await _read_all(client, repo, digests[:1])
            proxy.drop_reused = 1
            rest = await _read_all(client, repo, digests[1:])
            return first + rest, client.raw_pool.opened

    sizes, opened = asyncio.run(go())
    assert proxy.dropped == 1, "the proxy never dropped a kept connection: the test proves nothing"
    assert sizes == [size for _, size in digests]
    assert opened == 2  # the first one, then a fresh one after the drop; reused after that
    gets = [r for r in proxy.requests if r.method == "GET" and "/blobs/" in r.path]
    assert not any("range" in r.headers for r in gets), "the retry went through the engine's resume path"


def test_uploads_reuse_connections_and_survive_idle_ones_closed_by_the_server(blobs, plain_registry,
                                                                             proxy: ConnectionCountingProxy) -> None:
    """PUT bodies cannot be replayed: a connection the server closed while idle must never be used."""
    repo, digests = blobs
    target = unique_repo("keepalive-dst")

    async def go() -> tuple[int, list[bool]]:
        source_session = RegistrySession(tls=TLSOptions(insecure=True))
        async with source_session, _session(proxy, per_registry=1) as session:
            source = source_session.client(plain_registry.host)
            client = session.client(proxy.host)
            for number, (digest, size) in enumerate(digests):
                if number == 2:
                    await asyncio.sleep(0.05)
                    proxy.close_idle()  # the pooled PUT connection goes away while idle
                    await asyncio.sleep(0.05)

                def body(digest: str = digest, size: int = size) -> AsyncIterator[bytes]:
                    return source.stream_blob(repo, digest, size)

                await client.upload_blob(target, digest, size, body)
            present = [await client.blob_exists(target, digest) for digest, _ in digests]
            return client.raw_pool.opened, present

    opened, present = asyncio.run(go())
    assert all(present)
    assert opened == 2, f"{opened} raw connections for {LAYERS} uploads (one before the idle close, one after)"


def test_closing_the_session_closes_pooled_connections(blobs, proxy: ConnectionCountingProxy) -> None:
    repo, digests = blobs

    async def go() -> tuple[int, int]:
        session = _session(proxy)
        client = session.client(proxy.host)
        await _read_all(client, repo, digests[:2])
        before = client.raw_pool.idle_count()
        await session.aclose()
        return before, client.raw_pool.idle_count()

    before, after = asyncio.run(go())
    assert before == 1 and after == 0


def test_an_unread_error_body_is_never_reused(blobs, proxy: ConnectionCountingProxy) -> None:
    """An answer closed before its body was read: that connection must be closed, not pooled."""
    repo, digests = blobs

    async def go() -> tuple[int, int]:
        async with _session(proxy) as session:
            client = session.client(proxy.host)
            missing, _url = await client.blob_response(repo, "sha256:" + "0" * 64, BlobLocation())
            missing.close()  # its 404 body never read
            return missing.status, client.raw_pool.idle_count()

    status, idle = asyncio.run(go())
    assert status == 404 and idle == 0


def test_small_calls_share_the_lean_paths_kept_connection(blobs, proxy: ConnectionCountingProxy) -> None:
    """Manifest GET/HEAD, blob HEADs and upload POSTs (hundreds per release) go on the lean path and
    reuse one kept connection when made one after another, HEAD answers and 404s included."""
    repo, digests = blobs
    target = unique_repo("keepalive-small")

    async def go() -> tuple[int, int]:
        async with _session(proxy) as session:
            client = session.client(proxy.host)
            manifest = await client.get_manifest(repo, "v1")
            assert await client.manifest_digest(repo, "v1") == manifest.digest
            assert await client.manifest_digest(repo, "no-such-tag") is None
            for digest, _size in digests:
                assert await client.blob_exists(repo, digest)
                assert not await client.blob_exists(target, digest)
            mounted, session_url = await client.mount_blob(target, digests[0][0], repo)
            assert mounted and session_url is None
            return client.raw_pool.opened, client.raw_pool.idle_count()

    opened, idle = asyncio.run(go())
    small = [r for r in proxy.requests if r.path != "/v2/"]
    assert len(small) == 4 + 2 * LAYERS
    assert opened == 1 and idle == 1, f"{opened} lean connections for {len(small)} small calls"
    assert proxy.connections == 1, f"{proxy.connections} TCP connections (the ping's is kept for the rest)"


def test_an_answers_head_is_bounded_by_one_stall_timer() -> None:
    """The status line and headers are read under one timer (a timer per line cost more CPU than the
    parsing on thousands of small answers): a head dripping in line by line, each line well within
    the stall timeout but the whole of it beyond, is given up as a stall."""
    from core.http.connection import ConnectionPool, Connector, RawStalled, exchange

    async def go() -> str:
        async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(b"HTTP/1.1 200 OK\r\n")
                for number in range(8):
                    await asyncio.sleep(0.25)
                    writer.write(f"X-Line-{number}: x\r\n".encode())
                    await writer.drain()
                writer.write(b"Content-Length: 0\r\n\r\n")
                await writer.drain()
            except ConnectionError:
                pass  # the client gave up, as it should
            finally:
                writer.close()

        server = await asyncio.start_server(drip, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            pool = ConnectionPool(Connector(stall_timeout=1.0))
            await exchange("GET", f"http://127.0.0.1:{port}/v2/", {}, pool=pool)
        except RawStalled as exc:
            return str(exc)
        finally:
            server.close()
        return "answered"

    assert "no data for 1 s" in asyncio.run(go())
