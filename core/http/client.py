"""The one HTTP client: pools per origin, proxies, per-origin TLS, the error map, bounded reads.

    HttpClient.send(method, url, headers, body)      one exchange: proxy choice → pooled connection
        │                                              (TLS with that origin's trust) → request → head
        ├── map_error(...)                           every transport failure → core.errors, once
        ├── read_limited / read_prefix               bodies read whole, refused past their limit
        └── fetch(url, limit=…, deadline=…)          GET with bounded redirects (another origin never
                                                      gets Authorization) and one overall deadline:
                                                      the update graph and signature stores

Registry auth, the 401 dance and retries live one floor up (:mod:`core.registry`), on this client.
A run shares one client: a CDN that several registries redirect to keeps one pool of connections.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from ..errors import (
    AnswerTooLarge,
    BrokenHTTP,
    ErrorCode,
    ProxyError,
    RegistryError,
    RegistryProtocolError,
    RegistryStalled,
    RegistryUnreachable,
    TLSVerifyError,
)
from ..tlsconfig import TLSOptions, build_ssl_context
from .connection import (
    STALL_SECONDS,
    ConnectionPool,
    Connector,
    NameNotResolved,
    ProxyRefused,
    ProxyUnreachable,
    RawHTTPError,
    RawMalformed,
    RawResponse,
    RawStalled,
    exchange,
)
from .proxy import ProxySettings

CONNECT_TIMEOUT = 15.0
REDIRECTS = frozenset({301, 302, 303, 307, 308})
ERROR_BODY_LIMIT = 64 << 10  # an error body is only read for its message: the rest is dropped
REDIRECT_BODY_LIMIT = 16 << 10  # read whole so the connection goes back to the pool


def _mib(limit: int) -> str:
    return f"{limit / (1 << 20):g} MiB" if limit >= 1 << 20 else f"{limit >> 10} KiB"


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200] if text else type(exc).__name__


def display_host(url: str) -> str:
    """``host[:port]`` of a URL, never its user info or query (signed CDN URLs carry secrets there)."""
    try:
        return urlsplit(url).netloc.rpartition("@")[2] or url[:60]
    except ValueError:
        return url[:60]


def map_error(exc: BaseException, url: str | None, *, registry: str | None, stall: float,
              who: str | None = None) -> RegistryError:
    """Any failure of an exchange, as the error the admin reads. ``who``: how to name the other end
    ("the update service at HOST"); default its host."""
    if isinstance(exc, RegistryError):
        return exc
    host = display_host(url) if url else (registry or "the server")
    name = who or host
    if isinstance(exc, ProxyRefused):
        proxy = exc.proxy.display
        if exc.status == 407:
            if exc.proxy.username is None:
                return ProxyError(f"the proxy {proxy} wants a login (407) to reach {exc.target}",
                                  hint="put it in the proxy URL: http://USER:PASSWORD@" + proxy, registry=registry,
                                  status=407, code=ErrorCode.PROXY_LOGIN)
            return ProxyError(f"the proxy {proxy} refused the proxy login (407) to reach {exc.target}",
                              hint="check the user and password in HTTPS_PROXY or --proxy", registry=registry,
                              status=407, code=ErrorCode.PROXY_LOGIN)
        if exc.status in (502, 503, 504):
            return RegistryUnreachable(f"the proxy {proxy} could not reach {exc.target} ({exc.status})",
                                       hint="is the name right, and can the proxy resolve and reach it?",
                                       registry=registry, status=exc.status)
        return ProxyError(f"the proxy {proxy} refused to open a tunnel to {exc.target} ({exc.status})",
                          hint="ask the proxy's admins to allow it, or list the host in NO_PROXY / --no-proxy "
                               "if this machine reaches it directly", registry=registry, status=exc.status,
                          code=ErrorCode.PROXY_REFUSED)
    if isinstance(exc, NameNotResolved):
        return RegistryUnreachable(f"cannot resolve {exc.host}: check the name (DNS or /etc/hosts)",
                                   hint="behind a proxy, set HTTPS_PROXY (names outside may resolve only there)",
                                   registry=registry, code=ErrorCode.NAME_NOT_RESOLVED)
    if isinstance(exc, ProxyUnreachable):
        return RegistryUnreachable(str(exc), hint="check HTTPS_PROXY / HTTP_PROXY or --proxy", registry=registry,
                                   code=ErrorCode.PROXY_UNREACHABLE)
    if isinstance(exc, (RawStalled, TimeoutError)):
        return RegistryStalled(f"{name} sent nothing for {stall:g} s",
                               hint="a slow or stuck server or proxy; --stall-timeout sets how long to wait",
                               registry=registry)
    if isinstance(exc, RawMalformed):
        return BrokenHTTP(f"{name} sent a malformed HTTP answer ({_short(exc)})", registry=registry)
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or "certificate verify failed"
        return TLSVerifyError(f"the TLS certificate of {name} is not trusted ({reason})",
                              hint="pass its CA with --ca-file, or put it in /etc/containers/certs.d/HOST:PORT/ca.crt",
                              registry=registry, code=ErrorCode.TLS_UNTRUSTED)
    if isinstance(exc, ssl.SSLError):
        return TLSVerifyError(f"TLS handshake with {name} failed ({_short(exc)})",
                              hint="does it speak HTTPS? use --insecure for a plain HTTP registry", registry=registry,
                              code=ErrorCode.TLS_HANDSHAKE_FAILED)
    if isinstance(exc, RawHTTPError) and str(exc).startswith("cannot connect"):
        return RegistryUnreachable(_short(exc), registry=registry)
    return RegistryUnreachable(f"connection to {name} failed: {_short(exc)}", registry=registry)


@dataclass(frozen=True)
class Answer:
    """A small answer read whole (:meth:`HttpClient.fetch`)."""

    status: int
    headers: dict[str, str]  # names in lower case
    content: bytes
    url: str  # after redirects


class HttpClient:
    """Connections for one run: a keep-alive pool per origin, TLS per origin, the proxy per origin."""

    def __init__(self, tls: TLSOptions | None = None, *, proxies: ProxySettings | None = None,
                 stall_timeout: float = STALL_SECONDS, max_idle: int = 26) -> None:
        self.tls = tls or TLSOptions()
        self.proxies = proxies if proxies is not None else (self.tls.proxies or ProxySettings.from_env())
        self.stall_timeout = stall_timeout
        self._contexts: dict[tuple[str, int], ssl.SSLContext] = {}
        self.connector = Connector(self._ssl_for, self.proxies, CONNECT_TIMEOUT, stall_timeout)
        self.pool = ConnectionPool(self.connector, max_idle=max_idle)
        self._pools: list[ConnectionPool] = [self.pool]

    def _ssl_for(self, host: str, port: int) -> ssl.SSLContext:
        context = self._contexts.get((host, port))
        if context is None:
            # certs.d folders and --insecure name a registry as host:port, or host alone on 443
            name = host if port == 443 else (f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
            context = self._contexts[(host, port)] = build_ssl_context(name, self.tls)
        return context

    def check_tls(self, host_port: str) -> None:
        """Build the TLS settings for ``host[:port]`` now, so a bad CA file is reported before any request."""
        parts = urlsplit(f"//{host_port}")
        self._ssl_for((parts.hostname or host_port).lower(), parts.port or 443)

    def new_pool(self, max_idle: int) -> ConnectionPool:
        """Another set of idle connections on the same connector (parallel ranged reads of one blob keep
        theirs apart from the transfers'); closed with the client."""
        pool = ConnectionPool(self.connector, max_idle=max_idle)
        self._pools.append(pool)
        return pool

    def opened(self, url_or_origin: str | None = None) -> int:
        """Connections opened so far, to one origin (``https://host:port``) or in all."""
        if url_or_origin is None:
            return sum(self.connector.opened.values())
        parts = urlsplit(url_or_origin)
        key = (parts.scheme, (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80))
        return self.connector.opened.get(key, 0)

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()

    # -- one exchange -----------------------------------------------------------------------

    async def send(self, method: str, url: str, headers: dict[str, str], body: AsyncIterator[bytes] | None = None,
                   *, pool: ConnectionPool | None = None, registry: str | None = None,
                   who: str | None = None) -> RawResponse:
        """One request; failures come out as :mod:`core.errors` (no retry here). A 407 from a proxy
        carrying plain http is a :class:`ProxyError` as a refused CONNECT is."""
        try:
            response = await exchange(method, url, headers, pool=pool or self.pool, body=body)
        except (RawHTTPError, ssl.SSLError, OSError, TimeoutError) as exc:
            raise map_error(exc, url, registry=registry, stall=self.stall_timeout, who=who) from None
        if response.status == 407 and response.conn.via is not None:
            response.close()
            raise map_error(ProxyRefused(response.conn.via, display_host(url), 407, "Proxy Authentication Required"),
                            url, registry=registry, stall=self.stall_timeout)
        return response

    async def body(self, response: RawResponse, url: str, *, registry: str | None = None) -> AsyncIterator[bytes]:
        """A body whose failures (reset, stall, malformed chunking) come out of the one map."""
        try:
            async for chunk in response.body():
                yield chunk
        except (RawHTTPError, ssl.SSLError, OSError, asyncio.IncompleteReadError) as exc:
            raise map_error(exc, url, registry=registry, stall=self.stall_timeout) from None

    async def read_limited(self, response: RawResponse, url: str, limit: int, what: str, *,
                           registry: str | None = None) -> bytes:
        """The whole body, refused (read no further) when larger than ``limit``; ``response`` is closed
        (back to the pool when read to its end)."""
        try:
            if response.length is not None and response.length > limit:
                raise AnswerTooLarge(f"{what} is {response.length} bytes, more than the {_mib(limit)} accepted; "
                                     "not read", registry=registry)
            parts: list[bytes] = []
            total = 0
            async for chunk in self.body(response, url, registry=registry):
                total += len(chunk)
                if total > limit:
                    raise AnswerTooLarge(f"{what} is larger than the {_mib(limit)} accepted; not read further",
                                         registry=registry)
                parts.append(chunk)
            return b"".join(parts)
        finally:
            response.close()

    @staticmethod
    async def read_prefix(response: RawResponse, limit: int = ERROR_BODY_LIMIT) -> bytes:
        """At most ``limit`` bytes of an (error) answer, for its message; closed after."""
        try:
            return await response.read_all(limit)
        except (RawHTTPError, ssl.SSLError, OSError, asyncio.IncompleteReadError):
            return b""  # the status already tells what went wrong
        finally:
            response.close()

    # -- a whole small document -----------------------------------------------------------------

    async def fetch(self, url: str, *, limit: int, deadline: float, headers: dict[str, str] | None = None,
                    max_redirects: int = 5, what: str = "the answer", who: str | None = None) -> Answer:
        """GET ``url`` whole: redirects followed (at most ``max_redirects``, a loop refused, never
        ``Authorization`` to another origin), the body refused past ``limit`` bytes, and everything
        (connect, redirects, a server dripping bytes) within ``deadline`` seconds."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(deadline):
                return await self._fetch(url, limit=limit, headers=dict(headers or {}), max_redirects=max_redirects,
                                         what=what, who=who)
        except TimeoutError:
            name = who or display_host(url)
            raise RegistryStalled(f"{name} did not answer within {time.monotonic() - started:.0f} s",
                                  hint="a slow or stuck server or proxy") from None

    async def _fetch(self, url: str, *, limit: int, headers: dict[str, str], max_redirects: int, what: str,
                     who: str | None) -> Answer:
        seen = {url}
        for _ in range(max_redirects + 1):
            response = await self.send("GET", url, headers, who=who)
            location = response.headers.get("location")
            if response.status in REDIRECTS and location:
                await self.read_prefix(response, REDIRECT_BODY_LIMIT)
                target = urljoin(url, location)
                if urlsplit(target).scheme not in ("http", "https"):
                    raise RegistryProtocolError(f"{who or display_host(url)} redirected to {target[:80]!r}")
                if target in seen:
                    raise RegistryProtocolError(f"{who or display_host(url)} redirects in a loop ({display_host(target)})")
                if _origin(target) != _origin(url):
                    headers.pop("Authorization", None)
                seen.add(target)
                url = target
                continue
            if response.status != 200:
                content = await self.read_prefix(response)
                return Answer(response.status, response.headers, content, url)
            content = await self.read_limited(response, url, limit, what)
            return Answer(response.status, response.headers, content, url)
        raise RegistryProtocolError(f"{who or display_host(url)}: more than {max_redirects} redirects")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.rpartition("@")[2].lower()


__all__ = ["ERROR_BODY_LIMIT", "REDIRECTS", "Answer", "HttpClient", "display_host", "map_error"]
