"""A fault-injecting HTTP/1.1 reverse proxy for tests, on 127.0.0.1, in front of a real registry.

Faults a real registry will not produce on demand: resets mid-body, 5xx and 429 (with Retry-After),
truncated or corrupted bodies, a slow drip, redirects to another host, relative upload locations,
413 for big bodies, and going away and coming back. Each rule fires a set number of times, on the
requests it matches, and every request is recorded.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization", "host",
               "content-length"}


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    host_header: str
    status: int = 0
    fault: str | None = None
    at: float = 0.0


@dataclass
class Fault:
    """``kind``: status | reset | truncate | flip | drip | redirect | relative-location | too-large |
    paginate-tags (what distribution 3 does with ``n``/``last``; the Debian 2.8 server ignores them) |
    reset-upload (the connection dies while the request body is being sent; nothing is forwarded) |
    flip-request (the request body's first byte is flipped on its way to the registry) |
    ignore-range (the Range header is dropped: the whole body comes back with 200, like a server or
    cache that does not do ranges) | no-digest-header (the answer loses its Docker-Content-Digest, as
    from a registry or proxy that does not send it) | stall (half the body, then nothing for ``stall_seconds``, then the
    connection is dropped: a stuck CDN edge)."""

    kind: str
    method: str | None = None
    path: str = ".*"
    times: int = 1
    status: int = 503
    retry_after: str | None = None
    code: str = "UNAVAILABLE"  # the registry error code a "status" answer carries
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        armed = self.times < 0 or self.fired < self.times
        return armed and self.method in (None, method) and re.search(self.path, path) is not None


@dataclass
class FaultProxy:
    upstream: str                       # e.g. http://127.0.0.1:5000 or https://127.0.0.1:5001
    upstream_verify: ssl.SSLContext | bool = True
    tls: tuple[str, str] | None = None  # serve HTTPS with this cert/key
    faults: list[Fault] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    too_large_limit: int = 64 * 1024
    drip_delay: float = 0.01
    stall_seconds: float = 20.0
    port: int = 0
    # What the "object storage" behind a redirect uses upstream (it stands for a presigned URL).
    redirect_authorization: str | None = None
    latency: float = 0.0                # seconds before each answer: a registry far away
    blob_gets_in_flight: int = 0
    blob_gets_peak: int = 0             # the most blob GETs answered at once (connections reading blobs)

    def __post_init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._client: httpx.AsyncClient | None = None
        self._ready = threading.Event()
        self._tasks: set = set()

    # -- lifecycle --------------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def alias_host(self) -> str:
        """The same proxy under another name: redirects go here, so it counts as another host."""
        return f"localhost:{self.port}"

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._listen())
        self._ready.set()
        self._loop.run_forever()

    async def _listen(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(verify=self.upstream_verify, timeout=30)
        context = None
        if self.tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self.tls)
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, ssl=context, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    def _call(self, coro: Callable[[], object]) -> None:
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(coro(), self._loop).result(10)  # type: ignore[arg-type]

    def go_away(self) -> None:
        """Stop listening (connections are refused) until ``come_back``."""
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
        self._call(close)

    def come_back(self) -> None:
        self._call(self._listen)

    def stop(self) -> None:
        if self._loop is None:
            return
        self.go_away()
        if self._client is not None:
            self._call(self._client.aclose)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(5)

    def add(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    def fired(self, kind: str) -> int:
        return sum(f.fired for f in self.faults if f.kind == kind)

    # -- one connection ---------------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            while True:
                first = await reader.readexactly(1)
                if first == b"\x16":  # a TLS hello on a plain listener: close now, so clients fall back to HTTP at once
                    break
                head = first + await reader.readuntil(b"\r\n\r\n")
                keep = await self._one(head, reader, writer)
                if not keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError, asyncio.LimitOverrunError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _read_body(self, headers: dict[str, str], reader: asyncio.StreamReader) -> bytes:
        if "content-length" in headers:
            return await reader.readexactly(int(headers["content-length"]))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = bytearray()
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    return bytes(body)
                body += await reader.readexactly(size)
                await reader.readexactly(2)
        return b""

    async def _one(self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                key = name.strip().lower()
                headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
        record = Recorded(method, target, headers, headers.get("host", ""), at=time.monotonic())
        fault = next((f for f in self.faults if f.matches(method, target)), None)
        if fault and fault.kind != "too-large":  # counted now: concurrent requests must not all match
            fault.fired += 1
            record.fault = fault.kind
        if fault and fault.kind == "reset-upload":
            self.requests.append(record)
            await reader.read(max(1, int(headers.get("content-length", "2")) // 2))  # part of the body, then gone
            writer.transport.abort()
            return False
        body = await self._read_body(headers, reader)
        self.requests.append(record)
        if self.latency:
            await asyncio.sleep(self.latency)
        blob_get = method == "GET" and "/blobs/sha256:" in target
        if blob_get:
            self.blob_gets_in_flight += 1
            self.blob_gets_peak = max(self.blob_gets_peak, self.blob_gets_in_flight)
        try:
            return await self._answer(method, target, headers, body, fault, record, writer)
        finally:
            if blob_get:
                self.blob_gets_in_flight -= 1

    async def _answer(self, method: str, target: str, headers: dict[str, str], body: bytes, fault: Fault | None,
                      record: Recorded, writer: asyncio.StreamWriter) -> bool:
        if fault and fault.kind == "flip-request" and body:
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        if fault and fault.kind == "too-large":
            if len(body) <= self.too_large_limit:
                fault = None
            else:
                fault.fired += 1
                record.fault = fault.kind
        if fault and fault.kind in ("status", "too-large"):
            status = 413 if fault.kind == "too-large" else fault.status
            extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            body = json.dumps({"errors": [{"code": fault.code, "message": "injected"}]}).encode()
            await self._respond(writer, status, extra, body)
            record.status = status
            return True
        if fault and fault.kind == "redirect" and not target.startswith("/_redirected"):
            location = f"{'https' if self.tls else 'http'}://{self.alias_host}/_redirected{target}"
            await self._respond(writer, 307, {"Location": location}, b"")
            record.status = 307
            return True
        upstream_target = target.removeprefix("/_redirected")
        forward = {k: v for k, v in headers.items() if k not in HOP_HEADERS}
        # Keep the client's Host, as a real reverse proxy does: the registry builds Location from it.
        forward["host"] = headers.get("host", self.host)
        if fault and fault.kind == "ignore-range":
            forward.pop("range", None)
        if target.startswith("/_redirected"):
            forward.pop("authorization", None)
            if self.redirect_authorization:
                forward["authorization"] = self.redirect_authorization
        assert self._client is not None
        response = await self._client.request(method, self.upstream + upstream_target, headers=forward, content=body or None)
        data = response.content
        out_headers = {k: v for k, v in response.headers.items() if k.lower() not in HOP_HEADERS}
        if fault and fault.kind == "relative-location" and "location" in response.headers:
            location = response.headers["location"]
            out_headers = {k: v for k, v in out_headers.items() if k.lower() != "location"}
            out_headers["Location"] = re.sub(r"^https?://[^/]+", "", location)
        record.status = response.status_code
        if fault and fault.kind == "no-digest-header":
            out_headers = {k: v for k, v in out_headers.items() if k.lower() != "docker-content-digest"}
        if fault and fault.kind == "paginate-tags" and response.status_code == 200:
            data, link = _paginate(target, data)
            if link:
                out_headers["Link"] = link
        if fault and fault.kind == "flip" and data:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        length = int(response.headers.get("content-length", len(data))) if method == "HEAD" else len(data)
        await self._write_head(writer, response.status_code, out_headers, length)
        if method == "HEAD":
            return True
        if fault and fault.kind in ("reset", "truncate"):
            writer.write(data[: max(1, len(data) // 2)])
            await writer.drain()
            if fault.kind == "reset":
                writer.transport.abort()
            return False
        if fault and fault.kind == "stall":
            writer.write(data[: max(1, len(data) // 2)])
            await writer.drain()
            await asyncio.sleep(self.stall_seconds)
            writer.transport.abort()
            return False
        if fault and fault.kind == "drip":
            for i in range(0, len(data), 4096):
                writer.write(data[i:i + 4096])
                await writer.drain()
                await asyncio.sleep(self.drip_delay)
            return True
        writer.write(data)
        await writer.drain()
        return True

    async def _write_head(self, writer: asyncio.StreamWriter, status: int, headers: dict[str, str], length: int) -> None:
        lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers.items()] + [f"Content-Length: {length}"]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    async def _respond(self, writer: asyncio.StreamWriter, status: int, headers: dict[str, str], body: bytes) -> None:
        await self._write_head(writer, status, {"Content-Type": "application/json", **headers}, len(body))
        writer.write(body)
        await writer.drain()


def _paginate(target: str, data: bytes) -> tuple[bytes, str | None]:
    from urllib.parse import parse_qs, urlencode, urlsplit

    parts = urlsplit(target)
    query = parse_qs(parts.query)
    body = json.loads(data)
    tags = sorted(body.get("tags") or [])
    if "last" in query:
        tags = [t for t in tags if t > query["last"][0]]
    size = int(query.get("n", ["1000"])[0])
    page, more = tags[:size], len(tags) > size
    body["tags"] = page
    link = None
    if more:
        link = f'<{parts.path}?{urlencode({"n": size, "last": page[-1]})}>; rel="next"'
    return json.dumps(body).encode(), link
