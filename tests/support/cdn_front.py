"""A source registry that answers every blob GET with a redirect to a CDN, as quay.io and registry.redhat.io do.

Parts, each on 127.0.0.1 with its own TLS name (test CA):

* the real docker-registry (distribution) holding the content, token auth, on 127.0.0.1;
* ``Front`` on ``src.example.test``: passes every ``/v2/`` request through to the registry unchanged
  (status, headers such as WWW-Authenticate, Location and Docker-Content-Digest, body streamed), except
  ``GET /v2/<name>/blobs/<digest>``: once the registry accepts the same request's credentials (a HEAD
  with the same Authorization; anything but 200 and the GET itself is passed through, so a 401 reaches
  the client as the registry wrote it), it answers ``307`` with a signed, expiring CDN URL;
* ``Cdn`` on ``cdn.example.test``: serves the blob bytes from the registry's storage folder, with Range
  (206), HTTP/1.1 keep-alive, S3/CloudFront-like refusals (400 to any request carrying Authorization,
  403 AccessDenied XML for an expired or badly signed URL), and counters (requests, new TLS connections,
  bytes) plus knobs: expire every URL issued so far (optionally cutting the streams in flight), a
  per-connection rate, refuse everything with 401/403;
* the test token issuer (tests/support/token_issuer.py) on ``auth.example.test``, another host than
  the registry, as the realm of real registries is.

Why a front and not docker-registry's own redirects: the filesystem storage driver cannot redirect, and
the ``redirect`` storage middleware only prefixes a base URL: it cannot sign or expire URLs, and an S3
server from PyPI would add a heavy, slow dependency while testing nothing more. The front changes nothing
else, so every other answer is the real registry's. The names resolve only through Squid
(tests/support/squid.py): a client must use the proxy for all three hosts.

Content is written straight into the registry's filesystem storage (``docker/registry/v2``), the layout
distribution reads: seeding then needs neither the token service (whose name only Squid resolves) nor
the engine under test.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import random
import ssl
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.token_issuer import TokenIssuer
from tui.sandbox.pki import CertPair, make_server_cert
from tui.sandbox.registry import LocalRegistry, free_port, make_registry

SRC_HOST = "src.example.test"
CDN_HOST = "cdn.example.test"
AUTH_HOST = "auth.example.test"
MIRROR_HOST = "mirror.example.test"
HEAD_LIMIT = 64 * 1024          # request/response heads larger than this are refused (bounded reads)
BODY_LIMIT = 4 * 1024 * 1024    # request bodies the front buffers (the source is only read)
CHUNK = 256 * 1024
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te",
              "trailer", "transfer-encoding", "upgrade"}


# -- a little HTTP/1.1 ------------------------------------------------------------------------------

@dataclass
class Head:
    first: str                          # request or status line
    headers: list[tuple[str, str]]

    def get(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


async def read_head(reader: asyncio.StreamReader) -> Head | None:
    """One request/response head; None at a clean end of the connection."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise ConnectionError("connection closed inside a head") from None
    except asyncio.LimitOverrunError:
        raise ConnectionError("head too large") from None
    lines = raw.decode("latin-1").split("\r\n")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ConnectionError("malformed header line")
        headers.append((name.strip(), value.strip()))
    return Head(lines[0], headers)


def response_bytes(status: int, reason: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def s3_error(status: int, code: str, message: str, *, head_only: bool = False) -> bytes:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f"<RequestId>{random.getrandbits(64):016X}</RequestId></Error>").encode()
    reason = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
              416: "Range Not Satisfiable"}.get(status, "Error")
    return response_bytes(status, reason, [("Content-Type", "application/xml"), ("Content-Length", str(len(body))),
                                           ("Server", "AmazonS3")], b"" if head_only else body)


async def copy_exact(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, length: int) -> None:
    left = length
    while left:
        data = await reader.read(min(CHUNK, left))
        if not data:
            raise ConnectionError("connection closed inside a body")
        writer.write(data)
        left -= len(data)
        await writer.drain()


async def copy_chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Relay a chunked body as it is (chunk lines, data, trailers)."""
    while True:
        line = await reader.readuntil(b"\r\n")
        writer.write(line)
        size = int(line.split(b";")[0].strip(), 16)
        if size == 0:
            while True:
                trailer = await reader.readuntil(b"\r\n")
                writer.write(trailer)
                if trailer == b"\r\n":
                    await writer.drain()
                    return
        await copy_exact(reader, writer, size + 2)


def server_context(cert: CertPair) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert.cert_path), str(cert.key_path))
    return context


class LoopThread:
    """An asyncio loop in a daemon thread: the servers keep serving while a test waits on a child process."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, coro: Awaitable[Any], timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


# -- the CDN ----------------------------------------------------------------------------------------

@dataclass
class CdnStats:
    connections: int = 0                               # new TLS connections (handshakes completed)
    requests: int = 0
    bytes_sent: int = 0                                # body bytes
    gets: Counter = field(default_factory=Counter)     # digest -> GETs answered 200/206
    bytes_by_digest: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    with_authorization: int = 0                        # requests that carried Authorization (answered 400)
    expired: int = 0                                   # 403 for an expired URL
    cut: int = 0                                       # streams cut when their URL was expired

    def snapshot(self) -> CdnStats:
        return CdnStats(self.connections, self.requests, self.bytes_sent, Counter(self.gets),
                        Counter(self.bytes_by_digest), Counter(self.statuses), self.with_authorization, self.expired,
                        self.cut)

    def since(self, before: CdnStats) -> CdnStats:
        return CdnStats(self.connections - before.connections, self.requests - before.requests,
                        self.bytes_sent - before.bytes_sent, self.gets - before.gets,
                        self.bytes_by_digest - before.bytes_by_digest, self.statuses - before.statuses,
                        self.with_authorization - before.with_authorization, self.expired - before.expired,
                        self.cut - before.cut)


@dataclass
class Cdn:
    """Object storage behind a CDN: signed, expiring URLs for the blobs in ``blobs_root``
    (``<root>/sha256/<2 hex>/<hex>/data``, distribution's layout)."""

    blobs_root: Path
    cert: CertPair
    ttl: float = 600.0
    port: int = field(default_factory=free_port)
    public_port: int | None = None     # the port clients use when something (a shaping proxy) sits in front
    stats: CdnStats = field(default_factory=CdnStats)
    rate: float | None = None          # bytes/s per response, None: as fast as it goes
    refuse: int | None = None          # answer every request with this status (401/403), AccessDenied
    expire_after: tuple[str, int] | None = None  # (digest, bytes): once sent, expire every URL and cut streams
    _secret: bytes = field(default_factory=lambda: random.randbytes(32), repr=False)
    _next_id: int = 0
    _valid_from_id: int = 0            # URLs with a smaller id have expired (expire_now)
    _cut_below_id: int = 0             # streams of URLs with a smaller id are cut
    _server: asyncio.AbstractServer | None = None

    @property
    def origin(self) -> str:
        return f"https://{CDN_HOST}:{self.public_port or self.port}"

    def signed_url(self, digest: str, ttl: float | None = None) -> str:
        expires = int(time.time() + (self.ttl if ttl is None else ttl))
        self._next_id += 1
        ident = self._next_id
        return (f"{self.origin}/blobs/{digest}?Expires={expires}&Id={ident}"
                f"&Signature={self._sign(digest, expires, ident)}")

    def _sign(self, digest: str, expires: int, ident: int) -> str:
        mac = hmac.new(self._secret, f"{digest}\n{expires}\n{ident}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def expire_now(self, *, cut: bool = False) -> None:
        """Every URL issued so far expires now; ``cut``: responses still streaming stop mid-body too,
        as when an edge drops a connection and the client must resume with a fresh URL."""
        self._valid_from_id = self._next_id + 1
        if cut:
            self._cut_below_id = self._next_id + 1

    def reset_knobs(self) -> None:
        self.rate = None
        self.refuse = None
        self.expire_after = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, ssl=server_context(self.cert),
                                                  limit=HEAD_LIMIT, reuse_address=True)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        try:
            while True:
                head = await read_head(reader)
                if head is None:
                    break
                if not await self._answer(head, reader, writer):
                    break
        except (ConnectionError, OSError, asyncio.IncompleteReadError, ssl.SSLError, ValueError):
            pass
        finally:
            writer.close()

    def _send(self, writer: asyncio.StreamWriter, status: int, data: bytes) -> None:
        self.stats.statuses[status] += 1
        writer.write(data)

    async def _answer(self, head: Head, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """One request; False when the connection must close."""
        self.stats.requests += 1
        method, target, *_ = head.first.split(" ") + ["", ""]
        length = int(head.get("Content-Length") or 0)
        if head.get("Transfer-Encoding") or length > BODY_LIMIT:
            self._send(writer, 400, s3_error(400, "InvalidRequest", "request bodies are not accepted"))
            return False
        if length:
            await reader.readexactly(length)
        head_only = method == "HEAD"
        if head.get("Authorization") is not None:
            # S3 refuses a presigned URL that also carries an Authorization header.
            self.stats.with_authorization += 1
            self._send(writer, 400, s3_error(400, "InvalidArgument", "Only one auth mechanism allowed; only the "
                                             "X-Amz-Algorithm query parameter, Signature query string parameter or "
                                             "the Authorization header should be specified", head_only=head_only))
            return True
        if method not in ("GET", "HEAD"):
            self._send(writer, 405, s3_error(405, "MethodNotAllowed", "The specified method is not allowed"))
            return True
        if self.refuse:
            self._send(writer, self.refuse, s3_error(self.refuse, "AccessDenied", "Access Denied", head_only=head_only))
            return True
        url = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        digest = url.path.removeprefix("/blobs/")
        try:
            expires, ident = int(query["Expires"]), int(query["Id"])
            good = hmac.compare_digest(query["Signature"], self._sign(digest, expires, ident))
        except (KeyError, ValueError):
            good, expires, ident = False, 0, 0
        if not good:
            self._send(writer, 403, s3_error(403, "SignatureDoesNotMatch", "The request signature we calculated does "
                                             "not match the signature you provided", head_only=head_only))
            return True
        if expires < time.time() or ident < self._valid_from_id:
            self.stats.expired += 1
            self._send(writer, 403, s3_error(403, "AccessDenied", "Request has expired", head_only=head_only))
            return True
        algorithm, _, hexpart = digest.partition(":")
        path = self.blobs_root / algorithm / hexpart[:2] / hexpart / "data"
        if algorithm != "sha256" or len(hexpart) != 64 or not path.is_file():
            self._send(writer, 404, s3_error(404, "NoSuchKey", "The specified key does not exist.", head_only=head_only))
            return True
        size = path.stat().st_size
        start, end = 0, size - 1
        status, reason = 200, "OK"
        headers = [("Content-Type", "application/octet-stream"), ("Accept-Ranges", "bytes"),
                   ("ETag", f'"{hexpart[:32]}"'), ("Server", "AmazonS3"), ("Cache-Control", "max-age=31536000")]
        wanted = head.get("Range")
        if wanted:
            parsed = parse_range(wanted, size)
            if parsed is None:
                self._send(writer, 416, s3_error(416, "InvalidRange", "The requested range is not satisfiable",
                                                 head_only=head_only))
                return True
            start, end = parsed
            status, reason = 206, "Partial Content"
            headers.append(("Content-Range", f"bytes {start}-{end}/{size}"))
        headers.append(("Content-Length", str(end - start + 1)))
        self._send(writer, status, response_bytes(status, reason, headers))
        if head_only:
            await writer.drain()
            return True
        self.stats.gets[digest] += 1
        return await self._stream(writer, path, digest, ident, start, end - start + 1)

    async def _stream(self, writer: asyncio.StreamWriter, path: Path, digest: str, ident: int, start: int,
                      length: int) -> bool:
        loop = asyncio.get_running_loop()
        clock = loop.time()
        with open(path, "rb") as handle:
            handle.seek(start)
            left = length
            while left:
                if ident < self._cut_below_id:
                    self.stats.cut += 1
                    writer.transport.abort()
                    return False
                data = handle.read(min(CHUNK, left))
                if not data:
                    raise ConnectionError("blob shorter than its size")
                writer.write(data)
                left -= len(data)
                self.stats.bytes_sent += len(data)
                self.stats.bytes_by_digest[digest] += len(data)
                await writer.drain()
                if self.rate:
                    clock += len(data) / self.rate
                    if clock > loop.time():
                        await asyncio.sleep(clock - loop.time())
                trigger = self.expire_after
                if trigger and trigger[0] == digest and self.stats.bytes_by_digest[digest] >= trigger[1]:
                    self.expire_after = None
                    self.expire_now(cut=True)
        return True


def parse_range(value: str, size: int) -> tuple[int, int] | None:
    """One ``bytes=`` range as (first, last) inclusive; None when unsatisfiable or not one range."""
    unit, _, spec = value.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return None
    first, _, last = spec.strip().partition("-")
    try:
        if not first:
            n = int(last)
            return (max(size - n, 0), size - 1) if n > 0 and size else None
        a = int(first)
        b = int(last) if last else size - 1
    except ValueError:
        return None
    if a >= size or b < a:
        return None
    return a, min(b, size - 1)


# -- the front --------------------------------------------------------------------------------------

@dataclass
class FrontStats:
    connections: int = 0
    requests: int = 0
    blob_gets: Counter = field(default_factory=Counter)   # digest -> GET /v2/.../blobs/<digest> received
    redirects: Counter = field(default_factory=Counter)   # digest -> 307 answered
    statuses: Counter = field(default_factory=Counter)

    def snapshot(self) -> FrontStats:
        return FrontStats(self.connections, self.requests, Counter(self.blob_gets), Counter(self.redirects),
                          Counter(self.statuses))

    def since(self, before: FrontStats) -> FrontStats:
        return FrontStats(self.connections - before.connections, self.requests - before.requests,
                          self.blob_gets - before.blob_gets, self.redirects - before.redirects,
                          self.statuses - before.statuses)


def _blob_digest(method: str, path: str) -> str | None:
    if method != "GET" or not path.startswith("/v2/"):
        return None
    rest, sep, digest = path.rpartition("/blobs/")
    if not sep or "/" in digest or not digest.startswith("sha256:") or rest == "/v2":
        return None
    return digest


@dataclass
class Front:
    """The registry as clients see it on ``src.example.test``: everything passed through, blob GETs redirected."""

    registry: LocalRegistry
    cdn: Cdn
    cert: CertPair
    upstream_context: ssl.SSLContext
    port: int = field(default_factory=free_port)
    stats: FrontStats = field(default_factory=FrontStats)
    _server: asyncio.AbstractServer | None = None

    @property
    def host(self) -> str:
        return f"{SRC_HOST}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, ssl=server_context(self.cert),
                                                  limit=HEAD_LIMIT, reuse_address=True)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.registry.port, ssl=self.upstream_context,
                                             server_hostname="127.0.0.1", limit=HEAD_LIMIT)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        upstream: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []  # one kept-alive connection
        try:
            while True:
                head = await read_head(reader)
                if head is None:
                    break
                if not await self._answer(head, reader, writer, upstream):
                    break
        except (ConnectionError, OSError, asyncio.IncompleteReadError, ssl.SSLError, ValueError):
            pass
        finally:
            writer.close()
            for _, up in upstream:
                up.close()

    async def _answer(self, head: Head, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      upstream: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]) -> bool:
        self.stats.requests += 1
        method, target, *_ = head.first.split(" ") + ["", ""]
        if head.get("Transfer-Encoding"):
            writer.write(response_bytes(501, "Not Implemented", [("Content-Length", "0")]))
            self.stats.statuses[501] += 1
            return False
        length = int(head.get("Content-Length") or 0)
        if length > BODY_LIMIT:
            writer.write(response_bytes(413, "Payload Too Large", [("Content-Length", "0")]))
            self.stats.statuses[413] += 1
            return False
        body = await reader.readexactly(length) if length else b""
        digest = _blob_digest(method, urlsplit(target).path)
        if digest:
            self.stats.blob_gets[digest] += 1
            check = Head(f"HEAD {target} HTTP/1.1", [h for h in head.headers if h[0].lower() != "range"])
            status, _, _ = await self._exchange(check, b"", upstream, None)
            if status == 200:
                self.stats.redirects[digest] += 1
                self.stats.statuses[307] += 1
                writer.write(response_bytes(307, "Temporary Redirect", [
                    ("Location", self.cdn.signed_url(digest)), ("Content-Length", "0"),
                    ("Docker-Distribution-Api-Version", "registry/2.0")]))
                await writer.drain()
                return True
        status, keep, _ = await self._exchange(head, body, upstream, writer)
        self.stats.statuses[status] += 1
        return keep

    async def _exchange(self, head: Head, body: bytes, upstream: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]],
                        client: asyncio.StreamWriter | None) -> tuple[int, bool, Head]:
        """Send one request to the registry and relay its answer to ``client`` (None: read and drop it).
        Returns (status, whether the client connection may stay open, the response head)."""
        method = head.first.split(" ", 1)[0]
        lines = [head.first] + [f"{k}: {v}" for k, v in head.headers if k.lower() not in HOP_BY_HOP]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        for attempt in (1, 2):
            if not upstream:
                upstream.append(await self._connect())
            up_reader, up_writer = upstream[0]
            try:
                up_writer.write(request)
                await up_writer.drain()
                answer = await read_head(up_reader)
                if answer is None:
                    raise ConnectionError("registry closed the connection")
                break
            except (ConnectionError, OSError, asyncio.IncompleteReadError):
                up_writer.close()
                upstream.clear()
                if attempt == 2:
                    raise
        status = int(answer.first.split(" ")[1])
        out_headers = [(k, v) for k, v in answer.headers if k.lower() not in HOP_BY_HOP]
        chunked = (answer.get("Transfer-Encoding") or "").lower() == "chunked"
        length = answer.get("Content-Length")
        no_body = method == "HEAD" or status in (204, 304) or 100 <= status < 200
        until_close = not no_body and not chunked and length is None
        if chunked:
            out_headers.append(("Transfer-Encoding", "chunked"))
        if until_close:
            out_headers.append(("Connection", "close"))
        sink = client or _NullWriter()
        sink.write(("\r\n".join([answer.first] + [f"{k}: {v}" for k, v in out_headers]) + "\r\n\r\n").encode("latin-1"))
        if not no_body:
            if chunked:
                await copy_chunked(up_reader, sink)  # type: ignore[arg-type]
            elif length is not None:
                await copy_exact(up_reader, sink, int(length))  # type: ignore[arg-type]
            else:
                while data := await up_reader.read(CHUNK):
                    sink.write(data)
                    await sink.drain()
                up_writer.close()
                upstream.clear()
        await sink.drain()
        return status, not until_close, answer


class _NullWriter:
    def write(self, data: bytes) -> None:
        pass

    async def drain(self) -> None:
        pass


# -- content written straight into distribution's filesystem storage --------------------------------

@dataclass
class StoredImage:
    ref: str                          # pull spec by tag, through the front (src.example.test:PORT/repo:tag)
    digest: str                       # manifest digest
    blobs: dict[str, int]             # digest -> size, config and layers of every manifest
    layers: dict[str, int]            # only the layers


class Storage:
    """distribution's filesystem layout under ``<registry root>/data/docker/registry/v2``."""

    def __init__(self, registry_root: Path) -> None:
        self.root = registry_root / "data" / "docker" / "registry" / "v2"

    @property
    def blobs_root(self) -> Path:
        return self.root / "blobs"

    def _link(self, path: Path, digest: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(digest)

    def put_blob(self, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        hexpart = digest[7:]
        path = self.blobs_root / "sha256" / hexpart[:2] / hexpart / "data"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        return digest

    def link_layer(self, repo: str, digest: str) -> None:
        self._link(self.root / "repositories" / repo / "_layers" / "sha256" / digest[7:] / "link", digest)

    def put_manifest(self, repo: str, raw: bytes, tag: str | None = None) -> str:
        digest = self.put_blob(raw)
        base = self.root / "repositories" / repo / "_manifests"
        self._link(base / "revisions" / "sha256" / digest[7:] / "link", digest)
        if tag:
            self._link(base / "tags" / tag / "current" / "link", digest)
            self._link(base / "tags" / tag / "index" / "sha256" / digest[7:] / "link", digest)
        return digest


def random_image(storage: Storage, repo: str, tag: str, layer_sizes: list[int], *, seed: int | None = None,
                 host: str = "") -> StoredImage:
    """An image of random layers (unique to ``seed``: no blob shared with any other image)."""
    rng = random.Random(seed if seed is not None else random.getrandbits(64))
    layers: dict[str, int] = {}
    for size in layer_sizes:
        digest = storage.put_blob(rng.randbytes(size))
        storage.link_layer(repo, digest)
        layers[digest] = size
    config = json.dumps({"architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
                         "config": {"Labels": {"nonce": f"{rng.getrandbits(64):x}"}},
                         "rootfs": {"type": "layers", "diff_ids": list(layers)}}, sort_keys=True).encode()
    config_digest = storage.put_blob(config)
    storage.link_layer(repo, config_digest)
    raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                      "config": {"mediaType": CONFIG_TYPE, "digest": config_digest, "size": len(config)},
                      "layers": [{"mediaType": LAYER_TYPE, "digest": d, "size": s} for d, s in layers.items()]},
                     sort_keys=True).encode()
    digest = storage.put_manifest(repo, raw, tag)
    return StoredImage(f"{host}/{repo}:{tag}", digest, {config_digest: len(config), **layers}, layers)


def store_layout(storage: Storage, layout: Path, *, host: str = "") -> dict[str, StoredImage]:
    """Every named image of an OCI layout (``repo:tag`` names, as tui.sandbox.content writes them),
    index children included; returns name -> StoredImage."""
    index = json.loads((layout / "index.json").read_text())
    out: dict[str, StoredImage] = {}

    def blob(digest: str) -> bytes:
        return (layout / "blobs" / "sha256" / digest[7:]).read_bytes()

    def store(repo: str, digest: str, tag: str | None, blobs: dict[str, int], layers: dict[str, int]) -> None:
        raw = blob(digest)
        manifest = json.loads(raw)
        for child in manifest.get("manifests", []):
            store(repo, child["digest"], None, blobs, layers)
        descs = ([manifest["config"]] if "config" in manifest else []) + manifest.get("layers", [])
        for desc in descs:
            storage.put_blob(blob(desc["digest"]))
            storage.link_layer(repo, desc["digest"])
            blobs[desc["digest"]] = desc["size"]
        for desc in manifest.get("layers", []):
            layers[desc["digest"]] = desc["size"]
        storage.put_manifest(repo, raw, tag)

    for entry in index["manifests"]:
        name = entry.get("annotations", {}).get("org.opencontainers.image.ref.name")
        if not name:
            continue
        repo, _, tag = name.rpartition(":")
        blobs: dict[str, int] = {}
        layers: dict[str, int] = {}
        store(repo, entry["digest"], tag, blobs, layers)
        out[name] = StoredImage(f"{host}/{repo}:{tag}", entry["digest"], blobs, layers)
    return out


# -- all of it ----------------------------------------------------------------------------------------

@dataclass
class CdnSource:
    """Registry + front + CDN + token issuer. ``users``: who may log in to the token service."""

    folder: Path
    ca_cert: x509.Certificate
    ca_key: ec.EllipticCurvePrivateKey
    ca_file: Path
    users: dict[str, str]
    service: str = "mirror-wizard-cdn-source"
    ttl: float = 600.0
    # The benchmark brings its own registry (access log, CPU) and puts shaping proxies in front of the
    # three names: then clients use these public ports, and the registry is (re)started with token auth.
    registry: LocalRegistry = None  # type: ignore[assignment]
    public_ports: dict[str, int] = field(default_factory=dict)  # "src" / "cdn" / "auth" -> port
    issuer: TokenIssuer = field(init=False)
    cdn: Cdn = field(init=False)
    front: Front = field(init=False)
    storage: Storage = field(init=False)
    _loop: LoopThread | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        pki = self.folder / "pki"
        (pki / "private").mkdir(parents=True, exist_ok=True)
        certs = {name: make_server_cert(pki, self.ca_cert, self.ca_key, hosts=hosts, name=name) for name, hosts in (
            ("registry", ("127.0.0.1",)), ("front", (SRC_HOST,)), ("cdn", (CDN_HOST,)), ("auth", (AUTH_HOST,)))}
        self.issuer = TokenIssuer(self.folder / "token-issuer", dict(self.users), self.service, self.service,
                                  tls=(certs["auth"].cert_path, certs["auth"].key_path))
        if self.registry is None:
            self.registry = make_registry(self.folder / "registry", tls=(certs["registry"].cert_path,
                                                                          certs["registry"].key_path),
                                          ca_file=self.ca_file)
        self.storage = Storage(self.registry.root)
        self.cdn = Cdn(self.storage.blobs_root, certs["cdn"], ttl=self.ttl, public_port=self.public_ports.get("cdn"))
        upstream = ssl.create_default_context(cafile=str(self.ca_file))
        self.front = Front(self.registry, self.cdn, certs["front"], upstream)

    @property
    def host(self) -> str:
        """The source as clients name it (resolves only through Squid)."""
        return f"{SRC_HOST}:{self.public_ports.get('src', self.front.port)}"

    @property
    def auth_host(self) -> str:
        assert self.issuer._server is not None
        return f"{AUTH_HOST}:{self.public_ports.get('auth', self.issuer_port)}"

    @property
    def issuer_port(self) -> int:
        assert self.issuer._server is not None
        port: int = self.issuer._server.server_address[1]
        return port

    def start(self) -> None:
        self.issuer.start()
        config = self.issuer.registry_auth_config()
        config["token"]["realm"] = f"https://{self.auth_host}/token"  # another host, as real realms are
        self.registry.extra_auth = config
        self.registry.stop()  # a registry handed in may be running without auth (it was seeded so)
        self.registry.start()
        self._loop = LoopThread("cdn-source")
        self._loop.run(self.cdn.start())
        self._loop.run(self.front.start())

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.run(self.front.stop())
            self._loop.run(self.cdn.stop())
            self._loop.stop()
            self._loop = None
        self.registry.stop()
        self.issuer.stop()

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the servers' loop (the knobs and counters belong to that thread)."""
        assert self._loop is not None

        async def wrapped() -> Any:
            return fn()

        return self._loop.run(wrapped())

    def random_image(self, repo: str, tag: str, layer_sizes: list[int], *, seed: int | None = None) -> StoredImage:
        return random_image(self.storage, repo, tag, layer_sizes, seed=seed, host=self.host)

    def store_layout(self, layout: Path) -> dict[str, StoredImage]:
        return store_layout(self.storage, layout, host=self.host)
