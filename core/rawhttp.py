"""A lean HTTP/1.1 exchange on asyncio streams, for blob bodies only.

Profiling showed httpx/httpcore spending more CPU per byte than the whole rest of a mirror: every
chunk goes through anyio, h11 and several buffers. Blob bodies are the bulk of a release, so their
GET and PUT run here instead: large reads, no re-chunking. Everything else (auth, tokens, manifests,
redirects, errors) stays on httpx; any answer this path does not expect (401, a redirect, 4xx/5xx) is
handed back to the caller, which falls back to the httpx path.

Connections are kept alive in a :class:`ConnectionPool` (one per registry client): a release has
hundreds of blobs, and a new TLS connection per blob costs both sides a handshake, and a registry that
checks an htpasswd on every request nothing less. A connection goes back to the pool only when its
response body was read to the end and the server did not ask to close it; anything else is closed.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import SplitResult, urlsplit

T = TypeVar("T")

READ_SIZE = 1 << 20
# asyncio's reader pauses the socket at 2 × limit and the PUT side drains at limit: per transfer at most
# a few MiB wait in memory when the source outruns the destination (from-dir with 6 transfers).
STREAM_LIMIT = 1 << 20
IDLE_SECONDS = 30.0  # idle connections older than this are not reused: servers drop idle ones sooner or later
STALL_SECONDS = 60.0  # default: no byte in or out for this long and the exchange is given up
MAX_HEADER_BYTES = 64 * 1024  # the whole head of an answer; a giant header line is a broken answer
MAX_HEADER_LINES = 256
MAX_CHUNK_LINE = 1024  # a chunk-size line (hex size and extensions)

PoolKey = tuple[str, str, int]  # scheme, host, port


class RawHTTPError(Exception):
    """Transport trouble on the fast path; the caller maps it to RegistryUnreachable or retries."""


class RawStalled(RawHTTPError):
    """No byte moved for the stall timeout."""


class RawMalformed(RawHTTPError):
    """The answer is not well-formed HTTP/1.1 (status line, header sizes, chunk framing)."""


async def _within(stall: float, awaitable: Awaitable[T], what: str) -> T:
    """``awaitable`` unless no progress for ``stall`` seconds (every call is one read or one drain)."""
    try:
        async with asyncio.timeout(stall):
            return await awaitable
    except TimeoutError:
        raise RawStalled(f"no data for {stall:g} s while {what}") from None


@dataclass
class Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0
    requests: int = 0  # exchanges done on it, for tests and diagnostics
    stall: float = STALL_SECONDS

    async def read(self, size: int) -> bytes:
        return await _within(self.stall, self.reader.read(size), "reading the answer")

    async def readline(self, limit: int, *, timed: bool = True) -> bytes:
        """One line; ``timed`` False when the caller bounds a whole sequence of lines (an answer's head)."""
        try:
            if timed:
                line = await _within(self.stall, self.reader.readline(), "reading the answer")
            else:
                line = await self.reader.readline()
        except ValueError:  # asyncio's reader limit: a line longer than STREAM_LIMIT
            raise RawMalformed("a header or chunk line is too long") from None
        if len(line) > limit:
            raise RawMalformed(f"a header or chunk line is longer than {limit} bytes")
        return line

    async def readexactly(self, size: int) -> bytes:
        return await _within(self.stall, self.reader.readexactly(size), "reading the answer")

    async def drain(self) -> None:
        await _within(self.stall, self.writer.drain(), "sending the request")

    def usable(self) -> bool:
        """Still open as far as we can tell without a round trip (the server's FIN was not seen)."""
        return (not self.writer.is_closing() and not self.reader.at_eof()
                and time.monotonic() - self.idle_since < IDLE_SECONDS)

    def close(self) -> None:
        self.writer.close()


@dataclass
class ConnectionPool:
    """Idle keep-alive connections per (scheme, host, port); at most ``max_idle`` kept per key."""

    ssl_context: ssl.SSLContext | None
    max_idle: int = 8
    connect_timeout: float = 15.0
    stall_timeout: float = STALL_SECONDS
    opened: int = 0  # connections opened over the pool's life, for tests and diagnostics
    _idle: dict[PoolKey, list[Connection]] = field(default_factory=dict)
    _closed: bool = False

    def take(self, key: PoolKey) -> Connection | None:
        """The most recently used idle connection that still looks alive (stale ones are closed)."""
        idle = self._idle.get(key, [])
        while idle:
            conn = idle.pop()
            if conn.usable():
                return conn
            conn.close()
        return None

    async def connect(self, key: PoolKey) -> Connection:
        scheme, host, port = key
        secure = scheme == "https"
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=self.ssl_context if secure else None,
                                    server_hostname=host if secure else None, limit=STREAM_LIMIT),
            self.connect_timeout,
        )
        self.opened += 1
        return Connection(reader, writer, stall=self.stall_timeout)

    def put(self, key: PoolKey, conn: Connection) -> None:
        idle = self._idle.setdefault(key, [])
        if self._closed or len(idle) >= self.max_idle or conn.writer.is_closing():
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    def idle_count(self) -> int:
        return sum(len(v) for v in self._idle.values())

    async def aclose(self) -> None:
        self._closed = True
        conns = [c for idle in self._idle.values() for c in idle]
        self._idle.clear()
        for conn in conns:
            conn.close()
        for conn in conns:
            try:
                await asyncio.wait_for(conn.writer.wait_closed(), 1.0)
            except (TimeoutError, OSError, ssl.SSLError):
                pass


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    conn: Connection
    length: int | None
    chunked: bool
    pool: ConnectionPool | None = None
    key: PoolKey | None = None
    reusable: bool = False  # the server allows another request on this connection
    _complete: bool = False  # the whole body has been read off the connection
    _released: bool = False

    def __post_init__(self) -> None:
        if self.length == 0 and not self.chunked:
            self._complete = True

    async def body(self) -> AsyncIterator[bytes]:
        try:
            if self.chunked:
                async for chunk in self._chunked():
                    yield chunk
                return
            remaining = self.length
            while remaining is None or remaining > 0:
                data = await self.conn.read(READ_SIZE if remaining is None else min(READ_SIZE, remaining))
                if not data:
                    if remaining is None:
                        return
                    raise RawHTTPError(f"connection closed with {remaining} bytes of the body missing")
                if remaining is not None:
                    remaining -= len(data)
                    # Marked before the last yield: a consumer that stops at the last byte still frees the connection.
                    self._complete = remaining == 0
                yield data
        except (ConnectionError, OSError, asyncio.IncompleteReadError) as exc:
            raise RawHTTPError(str(exc) or type(exc).__name__) from None

    async def _chunked(self) -> AsyncIterator[bytes]:
        while True:
            line = await self.conn.readline(MAX_CHUNK_LINE)
            if not line:
                raise RawHTTPError("connection closed inside a chunked body")
            text = line.split(b";")[0].strip()
            if not text or len(text) > 16 or any(c not in b"0123456789abcdefABCDEF" for c in text):
                raise RawMalformed(f"bad chunk size line {line[:40]!r}")
            size = int(text, 16)
            if size == 0:
                await _read_headers(self.conn)  # trailers, bounded like headers; ignored
                self._complete = True
                return
            remaining = size
            while remaining:
                data = await self.conn.read(min(READ_SIZE, remaining))
                if not data:
                    raise RawHTTPError("connection closed inside a chunk")
                remaining -= len(data)
                yield data
            if await self.conn.readexactly(2) != b"\r\n":
                raise RawMalformed("a chunk does not end with CRLF")

    async def read_all(self, limit: int = 1 << 16) -> bytes:
        parts: list[bytes] = []
        total = 0
        async for chunk in self.body():
            total += len(chunk)
            if total > limit:
                break
            parts.append(chunk)
        return b"".join(parts)

    def close(self) -> None:
        """Done with the response: back to the pool when it can carry another request, else closed."""
        if self._released:
            return
        self._released = True
        if self.reusable and self._complete and self.pool is not None and self.key is not None:
            self.pool.put(self.key, self.conn)
        else:
            self.conn.close()


class _BodyTracker:
    """Wraps a request body to know whether any byte of it left us (then a retry cannot replay it)."""

    def __init__(self, body: AsyncIterator[bytes] | None) -> None:
        self.body = body
        self.started = False

    async def chunks(self) -> AsyncIterator[bytes]:
        if self.body is None:
            return
        async for chunk in self.body:
            self.started = True
            yield chunk


class _StaleConnection(Exception):
    """A reused connection failed before any body byte was sent: safe to try once more on a new one."""


async def exchange(
    method: str,
    url: str,
    headers: dict[str, str],
    *,
    ssl_context: ssl.SSLContext | None,
    body: AsyncIterator[bytes] | None = None,
    connect_timeout: float = 15.0,
    pool: ConnectionPool | None = None,
    stall_timeout: float = STALL_SECONDS,
) -> RawResponse:
    """Send one request (streaming ``body`` if given) and read the status line and headers.

    With a ``pool``, an idle connection is reused when there is one; if that connection turns out dead
    (the server closed it while idle) before any body byte was sent, the request goes once more on a
    fresh connection. Without a pool, one connection per exchange (``Connection: close``).
    """
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    key: PoolKey = (parts.scheme, parts.hostname or "", parts.port or (443 if secure else 80))
    if pool is None:
        pool = ConnectionPool(ssl_context, max_idle=0, connect_timeout=connect_timeout, stall_timeout=stall_timeout)
        keep = False
    else:
        keep = True
    tracked = _BodyTracker(body)
    conn = pool.take(key) if keep else None
    if conn is not None:
        try:
            return await _send(method, parts, headers, conn, tracked, pool, key, keep, reused=True)
        except _StaleConnection:
            pass
    conn = await _open(pool, key, parts.netloc)
    return await _send(method, parts, headers, conn, tracked, pool, key, keep, reused=False)


async def _open(pool: ConnectionPool, key: PoolKey, netloc: str) -> Connection:
    try:
        return await pool.connect(key)
    except ssl.SSLError:
        raise  # certificate problems are the caller's to explain
    except (TimeoutError, OSError) as exc:
        raise RawHTTPError(f"cannot connect to {netloc}: {exc or type(exc).__name__}") from None


async def _send(method: str, parts: SplitResult, headers: dict[str, str], conn: Connection, body: _BodyTracker,
                pool: ConnectionPool, key: PoolKey, keep: bool, *, reused: bool) -> RawResponse:
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    writer = conn.writer
    answered = False
    try:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}",
                 "Connection: keep-alive" if keep else "Connection: close", "User-Agent: mirror-wizard/0.1"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        async for chunk in body.chunks():
            writer.write(chunk)
            if writer.transport.get_write_buffer_size() > STREAM_LIMIT:
                await conn.drain()
        await conn.drain()
        # The status line and the headers under one stall timer (a timer per line cost more CPU than
        # parsing them: a mirror reads thousands of small answers).
        try:
            async with asyncio.timeout(conn.stall):
                status_line = await conn.readline(MAX_CHUNK_LINE, timed=False)
                if not status_line:
                    raise ConnectionResetError("the server closed the connection without answering")
                answered = True
                conn.requests += 1
                headers = await _read_headers(conn, timed=False)
        except TimeoutError:
            raise RawStalled(f"no data for {conn.stall:g} s while reading the answer") from None
        return _parse_head(method, status_line, headers, conn, pool, key, keep)
    except (ConnectionError, OSError, asyncio.IncompleteReadError) as exc:
        conn.close()
        if reused and not answered and not body.started:
            raise _StaleConnection(str(exc) or type(exc).__name__) from None
        raise RawHTTPError(str(exc) or type(exc).__name__) from None
    except BaseException:
        conn.close()
        raise


async def _read_headers(conn: Connection, *, timed: bool = True) -> dict[str, str]:
    headers: dict[str, str] = {}
    total = 0
    for _ in range(MAX_HEADER_LINES):
        line = await conn.readline(MAX_HEADER_BYTES, timed=timed)
        if line in (b"\r\n", b"\n", b""):
            return headers
        total += len(line)
        if total > MAX_HEADER_BYTES:
            raise RawMalformed(f"the answer's headers are larger than {MAX_HEADER_BYTES} bytes")
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon or not name.strip():
            raise RawMalformed(f"bad header line {line[:40]!r}")
        headers[name.strip().lower()] = value.strip()
    raise RawMalformed(f"the answer has more than {MAX_HEADER_LINES} header lines")


def _parse_head(method: str, status_line: bytes, headers: dict[str, str], conn: Connection,
                pool: ConnectionPool, key: PoolKey, keep: bool) -> RawResponse:
    try:
        version, status_text = status_line.split(b" ", 2)[:2]
        if not version.upper().startswith(b"HTTP/1.") or len(status_text) != 3 or not status_text.isdigit():
            raise ValueError(status_line)
        status = int(status_text)
    except ValueError:
        conn.close()
        raise RawMalformed(f"not an HTTP answer: {status_line[:40]!r}") from None
    length_text = headers.get("content-length")
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    if length_text is not None and not chunked and not length_text.isdigit():
        conn.close()
        raise RawMalformed(f"bad Content-Length {length_text[:40]!r}")
    length = int(length_text) if length_text and not chunked else None
    if method == "HEAD" or status in (204, 304):
        length, chunked = 0, False
    # Reusable only if the body's end is known (a length or chunks) and nobody asked to close.
    reusable = (keep and version.upper() == b"HTTP/1.1" and (length is not None or chunked)
                and "close" not in headers.get("connection", "").lower())
    return RawResponse(status, headers, conn, length, chunked, pool, key, reusable)
