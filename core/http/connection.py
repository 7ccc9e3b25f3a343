"""HTTP/1.1 on asyncio streams: the one place that opens connections and sends requests.

Every request the tool makes (registry API, token services, CDNs a registry redirects to, the update
graph, signature stores) is one :func:`exchange` here, reached through :class:`core.http.HttpClient`.
Profiling chose this lean path over httpx/httpcore: every chunk there goes through anyio, h11 and
several buffers, which cost more client CPU per byte than the whole rest of a mirror; here a body is
read in large pieces and never re-chunked.

Connections are kept alive in a :class:`ConnectionPool` per origin (scheme, host, port): a release has
hundreds of blobs, and a new TLS connection per blob costs both sides a handshake (a registry checking
an htpasswd on every request, or a CDN a continent away, nothing less). A connection goes back to the
pool only when its answer was read to the end and the server did not ask to close it.

A :class:`Connector` opens them: straight to the origin, or through the forward proxy
:mod:`core.http.proxy` chooses — a ``CONNECT`` tunnel for https (TLS then runs end to end with the
origin, with that origin's trust), the absolute-form request for plain http. The proxy's credentials
go in ``Proxy-Authorization`` to the proxy only.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import SplitResult, urlsplit

from .proxy import Proxy, ProxySettings

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
    via: Proxy | None = None  # plain http through this forward proxy (requests in absolute form)

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


class ProxyRefused(RawHTTPError):
    """The proxy answered a CONNECT with something else than 200 (407: it wants other credentials)."""

    def __init__(self, proxy: Proxy, target: str, status: int, reason: str) -> None:
        super().__init__(f"the proxy {proxy.display} answered {status} {reason} to CONNECT {target}".rstrip())
        self.proxy = proxy
        self.target = target
        self.status = status


class NameNotResolved(RawHTTPError):
    """DNS (or /etc/hosts) has no address for the host."""

    def __init__(self, host: str) -> None:
        super().__init__(f"cannot resolve {host}")
        self.host = host


class ProxyUnreachable(RawHTTPError):
    """The proxy itself could not be reached (refused, DNS, timeout)."""

    def __init__(self, proxy: Proxy, reason: str) -> None:
        super().__init__(f"cannot connect to the proxy {proxy.display}: {reason}")
        self.proxy = proxy


def _no_tls(host: str, port: int) -> ssl.SSLContext:
    raise ssl.SSLError(f"no TLS settings for {host}:{port}")


@dataclass
class Connector:
    """Opens connections to an origin: directly, or through the proxy :class:`ProxySettings` names for it.

    ``ssl_for(host, port)`` gives each https origin its own trust (a registry's ``certs.d`` CA, the
    system trust for a CDN). ``opened`` counts connections by origin, for tests and the benchmark.
    """

    ssl_for: Callable[[str, int], ssl.SSLContext] = _no_tls
    proxies: ProxySettings = field(default_factory=ProxySettings)
    connect_timeout: float = 15.0
    stall_timeout: float = STALL_SECONDS
    opened: dict[PoolKey, int] = field(default_factory=dict)

    def proxy_for(self, key: PoolKey) -> Proxy | None:
        return self.proxies.for_url(*key)

    async def connect(self, key: PoolKey, *, context: ssl.SSLContext | None = None) -> Connection:
        """A new connection to ``key``'s origin; ``context``: other TLS settings than the origin's own (a CA
        check trusts one CA file alone)."""
        scheme, host, port = key
        proxy = self.proxy_for(key)
        if scheme == "https" and context is None:
            context = self.ssl_for(host, port)
        if proxy is None:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(host, port, ssl=context, server_hostname=host if context else None,
                                            limit=STREAM_LIMIT),
                    self.connect_timeout)
            except ssl.SSLError:
                raise  # certificate problems are the caller's to explain
            except socket.gaierror as exc:
                if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
                    raise NameNotResolved(host) from None  # an answer: the name has no address
                raise RawHTTPError(f"cannot resolve {host} now: {exc.strerror or exc}") from None  # retried
            except (TimeoutError, OSError) as exc:
                raise RawHTTPError(f"cannot connect to {_netloc(host, port)}: {exc or type(exc).__name__}") from None
            conn = Connection(reader, writer, stall=self.stall_timeout)
        else:
            conn = await self._through(proxy, scheme, host, port, context)
        self.opened[key] = self.opened.get(key, 0) + 1
        return conn

    async def _through(self, proxy: Proxy, scheme: str, host: str, port: int,
                       context: ssl.SSLContext | None) -> Connection:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(proxy.host, proxy.port, limit=STREAM_LIMIT), self.connect_timeout)
        except (TimeoutError, OSError) as exc:
            raise ProxyUnreachable(proxy, str(exc) or type(exc).__name__) from None
        conn = Connection(reader, writer, stall=self.stall_timeout)
        if context is None:  # plain http: requests go to the proxy in absolute form
            conn.via = proxy
            return conn
        target = _netloc(host, port)
        lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}", "User-Agent: mirror-wizard/0.1"]
        authorization = proxy.authorization()
        if authorization:
            lines.append(f"Proxy-Authorization: {authorization}")
        try:
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            await conn.drain()
            async with asyncio.timeout(self.connect_timeout):
                status_line = await conn.readline(MAX_CHUNK_LINE, timed=False)
                headers = await _read_headers(conn, timed=False)
            version, _, rest = status_line.decode("latin-1").strip().partition(" ")
            code_text, _, reason = rest.partition(" ")
            if not version.upper().startswith("HTTP/1.") or not code_text.isdigit():
                raise RawMalformed(f"the proxy {proxy.display} sent {status_line[:40]!r} to CONNECT")
            if int(code_text) != 200:
                raise ProxyRefused(proxy, target, int(code_text), _printable(reason)[:80])
            del headers  # a tunnel's answer has no body; its headers say nothing we need
            await writer.start_tls(context, server_hostname=host)
        except (TimeoutError, ConnectionError, OSError, asyncio.IncompleteReadError) as exc:
            writer.close()
            if isinstance(exc, ssl.SSLError):
                raise
            raise ProxyUnreachable(proxy, f"the tunnel to {target} failed: {exc or type(exc).__name__}") from None
        except BaseException:
            writer.close()
            raise
        return conn


async def tls_probe(connector: Connector, host: str, port: int, context: ssl.SSLContext) -> list[bytes]:
    """A TLS handshake with ``host:port`` reached as every request reaches it (through the proxy when one
    applies), with ``context``; the DER certificates the server sent, leaf first. Nothing is sent over
    it. Raises :class:`RawHTTPError` (and its proxy kinds) or :class:`ssl.SSLError`."""
    conn = await connector.connect(("https", host.lower(), port), context=context)
    try:
        return der_chain(conn.writer.get_extra_info("ssl_object"))
    finally:
        conn.close()


def der_chain(tls: ssl.SSLObject | ssl.SSLSocket | None) -> list[bytes]:
    """The certificates the server sent, leaf first, unverified (only the leaf where Python hides the rest)."""
    if tls is None:
        return []
    getter = getattr(tls, "get_unverified_chain", None)  # public from Python 3.13
    if getter is None:
        getter = getattr(getattr(tls, "_sslobj", None), "get_unverified_chain", None)  # 3.10-3.12
    if getter is not None:
        try:
            chain = getter() or []
            return [c if isinstance(c, bytes) else c.public_bytes(ssl._ssl.ENCODING_DER) for c in chain]  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - a private API that may change: fall back to the leaf
            pass
    leaf = tls.getpeercert(binary_form=True)
    return [leaf] if leaf else []


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)


@dataclass
class ConnectionPool:
    """Idle keep-alive connections per origin (scheme, host, port); at most ``max_idle`` kept per origin."""

    connector: Connector
    max_idle: int = 8
    _idle: dict[PoolKey, list[Connection]] = field(default_factory=dict)
    _closed: bool = False

    @property
    def opened(self) -> int:
        """Connections the connector opened over its life (every pool sharing it), for tests and diagnostics."""
        return sum(self.connector.opened.values())

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
        return await self.connector.connect(key)

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


def origin_key(parts: SplitResult) -> PoolKey:
    secure = parts.scheme == "https"
    return (parts.scheme, (parts.hostname or "").lower(), parts.port or (443 if secure else 80))


async def exchange(
    method: str,
    url: str,
    headers: dict[str, str],
    *,
    pool: ConnectionPool,
    body: AsyncIterator[bytes] | None = None,
    keep: bool = True,
) -> RawResponse:
    """Send one request (streaming ``body`` if given) and read the status line and headers.

    An idle connection of ``pool`` is reused when there is one; if that connection turns out dead (the
    server closed it while idle) before any body byte was sent, the request goes once more on a fresh
    connection. ``keep`` False: ``Connection: close`` and the connection is never pooled.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RawHTTPError(f"not an http(s) URL: {url[:80]!r}")
    key = origin_key(parts)
    tracked = _BodyTracker(body)
    conn = pool.take(key) if keep else None
    if conn is not None:
        try:
            return await _send(method, parts, headers, conn, tracked, pool, key, keep, reused=True)
        except _StaleConnection:
            pass
    conn = await pool.connect(key)
    return await _send(method, parts, headers, conn, tracked, pool, key, keep, reused=False)


async def _send(method: str, parts: SplitResult, headers: dict[str, str], conn: Connection, body: _BodyTracker,
                pool: ConnectionPool, key: PoolKey, keep: bool, *, reused: bool) -> RawResponse:
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    extra: list[str] = []
    if conn.via is not None:  # plain http through a proxy: the absolute form, the proxy's credentials
        target = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{target}"
        authorization = conn.via.authorization()
        if authorization:
            extra.append(f"Proxy-Authorization: {authorization}")
    writer = conn.writer
    answered = False
    try:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc.rpartition('@')[2]}",
                 "Connection: keep-alive" if keep else "Connection: close", "User-Agent: mirror-wizard/0.1"]
        lines += extra
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
