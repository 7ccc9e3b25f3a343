"""One registry's view of the one HTTP client: its error labels, retry policy and answer timing.

Every exchange goes through :class:`core.http.HttpClient` (one pool per origin, proxies, TLS per
origin, the one error map in :func:`core.http.map_error`); a :class:`Transport` adds what belongs to
one registry: the registry's name on every error, the fastest answer seen (which tells a far source
from one next door, for :mod:`core.ranged`) and the size limits of what it reads whole. Every caller
retries through :class:`RetryPolicy` (429/5xx with Retry-After, resets, stalls, broken HTTP).
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from ..errors import ErrorCode, RegistryError, RegistryUnreachable
from ..http import HttpClient, map_error
from ..http.client import ERROR_BODY_LIMIT
from ..http.connection import STALL_SECONDS, ConnectionPool, RawResponse

T = TypeVar("T")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# The server pushing back (too many requests, overloaded): fewer connections help (core.adaptive).
THROTTLE_STATUSES = frozenset({429, 500, 502, 503, 504})
SMALL_LANE = 8
STALL_TIMEOUT = STALL_SECONDS

# Size limits for answers read whole. Manifests: the 4 MiB the distribution spec lets registries enforce.
MANIFEST_LIMIT = 4 << 20
TAG_PAGE_LIMIT = 8 << 20  # one page; distribution 2.8 ignores ``n`` and sends every tag at once
TOKEN_LIMIT = 256 << 10
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

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> RetryPolicy:
        """The default policy, or the one the environment asks for: ``MIRROR_WIZARD_RETRY_TIMES`` (tries
        in all, 1–20) and ``MIRROR_WIZARD_RETRY_DELAY`` (seconds before the first retry, 0–60; it doubles, up
        to 40 times that). Like skopeo's ``--retry-times``/``--retry-delay``: a flaky link may want more, a test of an
        unreachable host wants no waiting. A value that is not a number is ignored (the default stays)."""
        env = os.environ if environ is None else environ
        default = cls()

        def number(name: str, fallback: float, low: float, high: float) -> float:
            try:
                return max(low, min(high, float(env.get(name, "").strip())))
            except ValueError:
                return fallback

        base = number("MIRROR_WIZARD_RETRY_DELAY", default.base_delay, 0.0, 60.0)
        return cls(attempts=int(number("MIRROR_WIZARD_RETRY_TIMES", default.attempts, 1, 20)), base_delay=base,
                   max_delay=min(60.0, base * 40))  # the default's ratio: 0.5 s doubling up to 20 s

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
        if error.code is ErrorCode.NAME_NOT_RESOLVED:
            raise error  # DNS answered that the name has no address: asking again gives the same answer
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
    """Exchanges with one registry host (and the token realms and redirect targets it names)."""

    def __init__(self, registry: str, api_host: str, http: HttpClient) -> None:
        self.registry = registry
        self.api_host = api_host
        self.http = http
        self.stall_timeout = http.stall_timeout
        # Seconds from sending a request to its answer's headers, the fastest seen (at least one round
        # trip): tells a far registry from one next door (core.ranged splits smaller blobs from afar).
        self.fastest_answer: float | None = None

    @property
    def pool(self) -> ConnectionPool:
        return self.http.pool

    def new_pool(self, max_idle: int) -> ConnectionPool:
        """Another keep-alive pool on the same connector (parallel ranged reads of one blob)."""
        return self.http.new_pool(max_idle)

    def error(self, exc: BaseException, url: str | None = None) -> RegistryError:
        """Any transport failure, as the error the admin reads (the one map, with this registry's name)."""
        return map_error(exc, url, registry=self.registry, stall=self.stall_timeout)

    async def send(self, method: str, url: str, headers: dict[str, str],
                   body: AsyncIterator[bytes] | None = None, *, pool: ConnectionPool | None = None) -> RawResponse:
        """One exchange (no retry here), its body still to read."""
        started = time.monotonic()
        response = await self.http.send(method, url, headers, body, pool=pool, registry=self.registry)
        if body is None:  # not an upload's time
            seconds = time.monotonic() - started
            if self.fastest_answer is None or seconds < self.fastest_answer:
                self.fastest_answer = seconds
        return response

    def body(self, response: RawResponse, url: str) -> AsyncIterator[bytes]:
        return self.http.body(response, url, registry=self.registry)

    async def read_limited(self, response: RawResponse, url: str, limit: int, what: str) -> bytes:
        """The whole body, refused (read no further) when larger than ``limit``; closes ``response``."""
        return await self.http.read_limited(response, url, limit, what, registry=self.registry)

    @staticmethod
    async def read_error_body(response: RawResponse) -> bytes:
        """At most ERROR_BODY_LIMIT bytes of an error answer, for its message; closes ``response``."""
        return await HttpClient.read_prefix(response, ERROR_BODY_LIMIT)


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
    "retry_after_seconds",
]
