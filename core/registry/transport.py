"""The one transport of the registry client: one error map, one retry policy, bounded reads.

Two ways to send, one set of rules:

* :meth:`Transport.send` goes through httpx (pings, tokens, tag lists, chunked uploads, redirects)
  and returns a streaming response;
* :meth:`Transport.raw` goes through :mod:`core.rawhttp`, the lean path for blob bodies and the small
  calls a mirror makes hundreds of times (manifest GET/HEAD/PUT, blob HEAD, upload and mount POSTs):
  httpx's pool, anyio and h11 cost more client CPU per call than the call itself.

Both map every transport failure through :meth:`Transport.error` into :mod:`core.errors`, both stop a
read or write that makes no progress for ``stall_timeout`` seconds, and every caller retries through
:class:`RetryPolicy` (429/5xx with Retry-After, resets, stalls, broken HTTP). Bodies read whole
(manifests, tag lists, tokens, error bodies) go through :func:`read_limited`, which refuses an answer
larger than its limit before reading it (Content-Length) or as soon as it passes the limit (chunked).
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

import httpx

from .. import rawhttp
from ..errors import (
    AnswerTooLarge,
    BrokenHTTP,
    RegistryError,
    RegistryStalled,
    RegistryUnreachable,
    TLSVerifyError,
)
from ..rawhttp import RawHTTPError, RawMalformed, RawResponse, RawStalled
from ..tlsconfig import TLSOptions, build_ssl_context

T = TypeVar("T")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# The server pushing back (too many requests, overloaded): fewer connections help (core.adaptive).
THROTTLE_STATUSES = frozenset({429, 500, 502, 503, 504})
SMALL_LANE = 8
STALL_TIMEOUT = rawhttp.STALL_SECONDS
CONNECT_TIMEOUT = 15.0
USER_AGENT = "mirror-wizard/0.1"

# Size limits for answers read whole. Manifests: the 4 MiB the distribution spec lets registries enforce.
MANIFEST_LIMIT = 4 << 20
TAG_PAGE_LIMIT = 8 << 20  # one page; distribution 2.8 ignores ``n`` and sends every tag at once
TOKEN_LIMIT = 256 << 10
ERROR_BODY_LIMIT = 64 << 10  # an error body is only read for its message: the rest is dropped
SMALL_BODY_LIMIT = 1 << 20  # anything else read whole (the /v2/ ping, upload answers)


def retry_after_seconds(value: str | None, default: float) -> float:
    """Seconds to wait for a ``Retry-After`` (seconds or an HTTP date), at most 60; else ``default``."""
    if not value:
        return default
    value = value.strip()
    if value.isdigit():
        return min(float(value), 60.0)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return default
    if when.tzinfo is None:
        return default
    return max(0.0, min(when.timestamp() - time.time(), 60.0))


@dataclass
class RetryPolicy:
    """The one retry policy: what counts as worth another try, and how long to wait before it.

    Retried: :class:`RegistryUnreachable` and its kinds (refused, reset, stalled, broken HTTP, and the
    statuses in ``RETRY_STATUSES``, which :meth:`RegistryClient.status_error` maps there).
    """

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    # Told about every 429/5xx this policy retries (or gives up on): a client binds it to its registry's
    # adaptive transfer limit (core.adaptive.note_throttled), see :meth:`bound`.
    on_throttled: Callable[[RegistryError], None] | None = field(default=None, repr=False, compare=False)

    def bound(self, on_throttled: Callable[[RegistryError], None]) -> RetryPolicy:
        """The same policy, reporting throttling to ``on_throttled`` (a session shares one policy among
        its clients; each client keeps its own bound copy)."""
        return replace(self, on_throttled=on_throttled)

    def delay(self, attempt: int) -> float:
        return min(self.max_delay, self.base_delay * 2.0 ** attempt) * (0.75 + random.random() / 2)

    async def backoff(self, failures: int, error: RegistryError) -> int:
        """Count one more failure: raise ``error`` when the attempts are used up, else wait (honouring
        the server's Retry-After) and return the new count."""
        failures += 1
        if self.on_throttled is not None and error.status in THROTTLE_STATUSES:
            self.on_throttled(error)
        if failures >= self.attempts:
            raise error
        await asyncio.sleep(retry_after_seconds(error.retry_after, self.delay(failures - 1)))
        return failures

    async def run(self, operation: Callable[[], Awaitable[T]]) -> T:
        """``operation()`` until it succeeds or fails with something not worth another try."""
        failures = 0
        while True:
            try:
                return await operation()
            except RegistryUnreachable as exc:
                failures = await self.backoff(failures, exc)


class Transport:
    """Connections to one registry host (and the token realms and redirects it names)."""

    def __init__(self, registry: str, api_host: str, tls: TLSOptions, *, max_transfers: int,
                 stall_timeout: float = STALL_TIMEOUT) -> None:
        self.registry = registry
        self.api_host = api_host
        self.stall_timeout = stall_timeout
        # Seconds from sending a request to its answer's headers, the fastest seen (at least one round
        # trip): tells a far registry from one next door (core.ranged splits smaller blobs from afar).
        self.fastest_answer: float | None = None
        self.ssl_context = build_ssl_context(api_host, tls)
        # Keep-alive connections for blob bodies and the small API calls (manifests, HEADs, upload
        # POSTs); room for every transfer, the small lane and a few reads outside both (release files,
        # configs), so a full round of each reuses them all.
        self.raw_pool = rawhttp.ConnectionPool(self.ssl_context, max_idle=max_transfers + SMALL_LANE + 2,
                                               connect_timeout=CONNECT_TIMEOUT, stall_timeout=stall_timeout)
        # httpx's read/write timeouts apply to each socket operation: exactly a stall timeout.
        self.http = httpx.AsyncClient(
            verify=self.ssl_context,
            http2=False,
            follow_redirects=False,
            timeout=httpx.Timeout(connect=CONNECT_TIMEOUT, read=stall_timeout, write=stall_timeout, pool=None),
            limits=httpx.Limits(
                max_connections=max_transfers + SMALL_LANE + 2,
                max_keepalive_connections=max_transfers + SMALL_LANE + 2,
            ),
            headers={"User-Agent": USER_AGENT},
        )

    def _answered(self, seconds: float) -> None:
        if self.fastest_answer is None or seconds < self.fastest_answer:
            self.fastest_answer = seconds

    async def aclose(self) -> None:
        await self.raw_pool.aclose()
        await self.http.aclose()

    def new_raw_pool(self, max_idle: int) -> rawhttp.ConnectionPool:
        """Another keep-alive pool on the lean path, with this transport's TLS and timeouts (parallel
        ranged reads of one blob keep their connections apart from the transfers' pool)."""
        return rawhttp.ConnectionPool(self.ssl_context, max_idle=max_idle, connect_timeout=CONNECT_TIMEOUT,
                                      stall_timeout=self.stall_timeout)

    # -- the one error map --------------------------------------------------------------------

    def error(self, exc: BaseException, url: str | None = None) -> RegistryError:
        """Any transport failure of either path, as the error the admin reads."""
        host = httpx.URL(url).netloc.decode("ascii", "replace") if url else self.api_host
        if isinstance(exc, RegistryError):
            return exc
        if isinstance(exc, (httpx.TimeoutException, RawStalled)):
            if isinstance(exc, httpx.ConnectTimeout):
                return RegistryUnreachable(f"connecting to {host} timed out", registry=self.registry)
            return RegistryStalled(f"{host} sent nothing for {self.stall_timeout:g} s",
                                   hint="a slow or stuck registry or proxy; --stall-timeout sets how long to wait",
                                   registry=self.registry)
        if isinstance(exc, (httpx.RemoteProtocolError, httpx.LocalProtocolError, httpx.DecodingError, RawMalformed)):
            if isinstance(exc, httpx.RemoteProtocolError) and _is_disconnect(exc):
                return RegistryUnreachable(f"{host} closed the connection: {exc}", registry=self.registry)
            return BrokenHTTP(f"{host} sent a malformed HTTP answer ({_short(exc)})", registry=self.registry)
        if isinstance(exc, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(exc):
            cause = exc if isinstance(exc, ssl.SSLCertVerificationError) else (exc.__cause__ or exc.__context__)
            reason = getattr(cause, "verify_message", None) or "certificate verify failed"
            return TLSVerifyError(
                f"the TLS certificate of {host} is not trusted ({reason})",
                hint="pass its CA with --ca-file, or put it in /etc/containers/certs.d/HOST:PORT/ca.crt",
                registry=self.registry,
            )
        if isinstance(exc, ssl.SSLError) or (isinstance(exc, httpx.ConnectError) and "SSL" in str(exc)):
            return TLSVerifyError(
                f"TLS handshake with {host} failed ({_short(exc)})",
                hint="does the registry speak HTTPS? use --insecure for a plain HTTP registry",
                registry=self.registry,
            )
        if isinstance(exc, httpx.ConnectError):
            return RegistryUnreachable(f"cannot connect to {host}: {_short(exc) or 'connection failed'}",
                                       registry=self.registry)
        if isinstance(exc, (httpx.TransportError, RawHTTPError, OSError, asyncio.IncompleteReadError)):
            return RegistryUnreachable(f"connection to {host} failed: {_short(exc)}", registry=self.registry)
        return RegistryUnreachable(f"connection to {host} failed: {_short(exc)}", registry=self.registry)

    # -- sending ------------------------------------------------------------------------------

    async def send(self, method: str, url: str, *, headers: dict[str, str],
                   content: bytes | AsyncIterator[bytes] | None = None) -> httpx.Response:
        """One exchange on httpx (no retry here), returned with its body still to read."""
        try:
            request = self.http.build_request(method, url, headers=headers, content=content)
            started = time.monotonic()
            response = await self.http.send(request, stream=True)
            if content is None or isinstance(content, bytes):  # not an upload's time
                self._answered(time.monotonic() - started)
            return response
        except (httpx.HTTPError, ssl.SSLError, OSError) as exc:
            raise self.error(exc, url) from None

    async def raw(self, method: str, url: str, headers: dict[str, str],
                  body: AsyncIterator[bytes] | None = None, *,
                  pool: rawhttp.ConnectionPool | None = None) -> RawResponse:
        """One exchange on the lean path (no retry here); ``pool``: one from :meth:`new_raw_pool`."""
        try:
            started = time.monotonic()
            response = await rawhttp.exchange(method, url, headers, ssl_context=self.ssl_context, body=body,
                                              pool=pool or self.raw_pool, connect_timeout=CONNECT_TIMEOUT,
                                              stall_timeout=self.stall_timeout)
            if body is None:
                self._answered(time.monotonic() - started)
            return response
        except (RawHTTPError, ssl.SSLError, OSError) as exc:
            raise self.error(exc, url) from None

    async def raw_body(self, response: RawResponse, url: str) -> AsyncIterator[bytes]:
        """A lean-path body whose failures (reset, stall, malformed chunking) come out of the one map."""
        try:
            async for chunk in response.body():
                yield chunk
        except (RawHTTPError, ssl.SSLError, OSError, asyncio.IncompleteReadError) as exc:
            raise self.error(exc, url) from None

    async def raw_read_limited(self, response: RawResponse, url: str, limit: int, what: str) -> bytes:
        """A lean-path answer's whole body, refused (read no further) when larger than ``limit``; the
        caller closes ``response`` (an answer not read to its end is never pooled)."""
        if response.length is not None and response.length > limit:
            raise AnswerTooLarge(f"{what} is {response.length} bytes, more than the {_mib(limit)} accepted; not read",
                                 registry=self.registry)
        parts: list[bytes] = []
        total = 0
        async for chunk in self.raw_body(response, url):
            total += len(chunk)
            if total > limit:
                raise AnswerTooLarge(f"{what} is larger than the {_mib(limit)} accepted; not read further",
                                     registry=self.registry)
            parts.append(chunk)
        return b"".join(parts)

    @staticmethod
    async def raw_error_body(response: RawResponse) -> bytes:
        """At most ERROR_BODY_LIMIT bytes of a lean-path error answer, for its message."""
        try:
            return await response.read_all(ERROR_BODY_LIMIT)
        except (RawHTTPError, ssl.SSLError, OSError, asyncio.IncompleteReadError):
            return b""  # the status already tells what went wrong

    async def read_limited(self, response: httpx.Response, limit: int, what: str) -> bytes:
        """The whole body, refused (read no further) when larger than ``limit``."""
        try:
            return await read_limited(response, limit, what, registry=self.registry)
        except (httpx.HTTPError, ssl.SSLError, OSError) as exc:
            raise self.error(exc, str(response.request.url)) from None
        finally:
            await response.aclose()

    async def read_error_body(self, response: httpx.Response) -> bytes:
        """At most ERROR_BODY_LIMIT bytes of an error answer, for its message; the rest is dropped."""
        try:
            return await read_prefix(response, ERROR_BODY_LIMIT)
        except (httpx.HTTPError, ssl.SSLError, OSError):
            return b""  # the status already tells what went wrong
        finally:
            await response.aclose()


async def read_limited(response: httpx.Response, limit: int, what: str, *, registry: str | None = None) -> bytes:
    """The body of a streaming response, refused when its Content-Length or its bytes pass ``limit``."""
    declared = response.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise AnswerTooLarge(f"{what} is {int(declared)} bytes, more than the {_mib(limit)} accepted; not read",
                             registry=registry)
    parts: list[bytes] = []
    total = 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        if total > limit:
            raise AnswerTooLarge(f"{what} is larger than the {_mib(limit)} accepted; not read further",
                                 registry=registry)
        parts.append(chunk)
    return b"".join(parts)


async def read_prefix(response: httpx.Response, limit: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    async for chunk in response.aiter_bytes():
        parts.append(chunk[: limit - total])
        total += len(chunk)
        if total >= limit:
            break
    return b"".join(parts)


def loaded(response: httpx.Response, content: bytes) -> httpx.Response:
    """A response whose (already read, bounded) body is in memory, for callers that read ``.content``."""
    # The bytes are decoded already: drop the headers that would make httpx decode them again.
    headers = [(k, v) for k, v in response.headers.multi_items()
               if k.lower() not in ("content-encoding", "transfer-encoding", "content-length")]
    return httpx.Response(response.status_code, headers=headers, content=content,
                          request=response.request, extensions=response.extensions)


def _mib(limit: int) -> str:
    return f"{limit / (1 << 20):g} MiB" if limit >= 1 << 20 else f"{limit >> 10} KiB"


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _is_disconnect(exc: httpx.RemoteProtocolError) -> bool:
    """h11's words for a peer that hung up (a reset, not a malformed answer)."""
    text = str(exc).lower()
    return "disconnected" in text or "without sending" in text or "incomplete" in text


__all__ = [
    "ERROR_BODY_LIMIT",
    "MANIFEST_LIMIT",
    "RETRY_STATUSES",
    "SMALL_BODY_LIMIT",
    "SMALL_LANE",
    "STALL_TIMEOUT",
    "TAG_PAGE_LIMIT",
    "THROTTLE_STATUSES",
    "TOKEN_LIMIT",
    "RetryPolicy",
    "Transport",
    "loaded",
    "read_limited",
    "retry_after_seconds",
]
