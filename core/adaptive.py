"""Adaptive concurrency: open more connections while that makes the bytes flow faster, fewer when the
server pushes back (429/5xx) or the other side cannot take the bytes as fast as they come.

A far source (a CDN across the internet) caps each connection at some tens of MB/s while the link as a
whole is much faster; how many connections fill the link depends on the link, so it is measured, not
configured. :class:`ConcurrencyController` holds the decisions and nothing else (no clock, no I/O), so
they are unit-tested directly; :class:`AdaptiveLimiter` is the asyncio side: slots, a byte counter, and
one sample per interval fed to the controller. The configured maximum (``--max-per-registry`` or a
caller's own cap) is never exceeded.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class Decision(StrEnum):
    GROW = "grow"          # one more connection: the last one paid off (or this is the first sample)
    HOLD = "hold"          # keep the limit (cooling down, at the maximum, or slots were not all busy)
    REVERT = "revert"      # the last added connection did not raise throughput: take it back
    BACK_OFF = "back-off"  # the server answered 429/5xx: halve
    EASE = "ease"          # the consumer is the bottleneck: one fewer


@dataclass
class ConcurrencyController:
    """Additive increase while each added connection raises throughput by at least ``gain``;
    multiplicative decrease on throttling; a cool-down of ``cooldown`` samples after any decrease,
    after which growth is probed again (the link may have freed up)."""

    maximum: int
    minimum: int = 1
    initial: int = 2
    gain: float = 0.08
    cooldown: int = 4
    # Grow by half the limit (not by one) until the first decrease: a far source's copy may be over
    # in a few seconds, one connection a second would fill the link only when it is done.
    fast_start: bool = False

    def __post_init__(self) -> None:
        if self.maximum < 1 or self.minimum < 1:
            raise ValueError("concurrency bounds must be at least 1")
        self.minimum = min(self.minimum, self.maximum)
        self.limit = max(self.minimum, min(self.initial, self.maximum))
        self._rate_before_growth: float | None = None  # throughput measured just before the last GROW
        self._limit_before_growth = self.limit  # what a REVERT goes back to
        self._rest = 0  # samples to wait before growing again
        self._pushed_back = False  # the current rest follows a BACK_OFF or EASE
        self.history: list[tuple[Decision, int]] = []  # (decision, limit after it), for tests and diagnostics

    def _decide(self, decision: Decision) -> int:
        self.history.append((decision, self.limit))
        return self.limit

    def sample(self, rate: float, *, saturated: bool = True) -> int:
        """Throughput (bytes/s) over the last interval. ``saturated``: every slot was in use for the
        interval; otherwise the limit was not what held throughput back and nothing is learnt."""
        if not saturated:
            self._rate_before_growth = None
            return self._decide(Decision.HOLD)
        if self._rest > 0:
            self._rest -= 1
            self._pushed_back = self._pushed_back and self._rest > 0
            return self._decide(Decision.HOLD)
        before = self._rate_before_growth
        if before is not None and rate < before * (1 + self.gain):
            # The connections added last did not pay for themselves: undo that growth and rest before
            # probing again, one at a time from now on.
            self.limit = max(self.minimum, self._limit_before_growth)
            self._rate_before_growth = None
            self._rest = self.cooldown
            self.fast_start = False
            return self._decide(Decision.REVERT)
        if self.limit >= self.maximum:
            self._rate_before_growth = None
            return self._decide(Decision.HOLD)
        self._rate_before_growth = rate
        self._limit_before_growth = self.limit
        self.limit = min(self.maximum, self.limit + (max(1, self.limit // 2) if self.fast_start else 1))
        return self._decide(Decision.GROW)

    def throttled(self) -> int:
        """The server said too much (429, 503, other 5xx): halve, then rest. One decrease per rest:
        the answers of the requests already in flight when it pushed back say the same thing again."""
        if self._rest > 0 and self._pushed_back:
            return self._decide(Decision.HOLD)
        self._pushed_back = True
        self.fast_start = False
        self.limit = max(self.minimum, self.limit // 2)
        self._rate_before_growth = None
        self._rest = self.cooldown
        return self._decide(Decision.BACK_OFF)

    def consumer_slow(self) -> int:
        """The bytes fetched wait for the destination (its window is full): one connection fewer, once
        per rest (every connection finds the window full at about the same moment)."""
        if self._rest > 0 and self._pushed_back:
            return self._decide(Decision.HOLD)
        self._pushed_back = True
        self.fast_start = False
        self.limit = max(self.minimum, self.limit - 1)
        self._rate_before_growth = None
        self._rest = self.cooldown
        return self._decide(Decision.EASE)


class AdaptiveLimiter:
    """Slots whose number follows a :class:`ConcurrencyController`; holders report bytes moved, and
    once per ``interval`` seconds the throughput becomes a sample. Slots go first come, first served;
    releasing never blocks; lowering the limit lets running holders finish and only stops new ones.

    ``small`` holders (a blob of a few KiB costs round trips, not bandwidth) run beside the adaptive
    limit, in what is left up to the controller's maximum: the limit is about how many connections
    share the bandwidth, the maximum about how many the registry is asked to serve at once. So a
    small blob never waits behind the big ones for a bandwidth slot, and never takes one from them;
    together they stay within the maximum (``--max-per-registry``, when given, is that)."""

    def __init__(self, controller: ConcurrencyController, *, interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, idle_on_release: bool = False) -> None:
        """``idle_on_release``: a slot released with nobody waiting for it counts as idle (holders
        that come and go, like blob transfers); off for holders that loop and come back at once."""
        self.controller = controller
        self.interval = interval
        self.idle_on_release = idle_on_release
        self._clock = clock
        self.in_use = 0   # every slot held, small ones included
        self.beside = 0   # the small ones among them
        self.peak = 0  # the most slots held at once, for tests and diagnostics
        # first come, first served within each kind: (waiter, small)
        self._waiters: deque[tuple[asyncio.Future[None], bool]] = deque()
        self._bytes = 0
        self._since = self._now()
        self._always_full = True

    def _now(self) -> float:
        return self._clock()

    @property
    def limit(self) -> int:
        return self.controller.limit

    @property
    def bulk_in_use(self) -> int:
        """Slots held within the adaptive limit (not the small holders beside it)."""
        return self.in_use - self.beside

    def _may_take(self, small: bool) -> bool:
        if self.in_use >= self.controller.maximum:
            return False
        return small or self.bulk_in_use < self.controller.limit

    def _waiting(self, small: bool) -> bool:
        return any(kind == small for _, kind in self._waiters)

    async def acquire(self, *, first: bool = False, small: bool = False) -> None:
        """``first``: ahead of everyone waiting (another connection for a blob already under way,
        which has its own slot and started before the waiting ones: largest first stays so).
        ``small``: beside the adaptive limit, up to the maximum (see the class)."""
        if self._may_take(small) and (first or not self._waiting(small)):
            self._take(small)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if first:
            self._waiters.appendleft((waiter, small))
        else:
            self._waiters.append((waiter, small))
        try:
            await waiter  # resolved by _wake, which took the slot for us
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(small=small)  # granted just as we were cancelled: hand it on
            else:
                self._waiters.remove((waiter, small))
            raise

    def _take(self, small: bool) -> None:
        self.in_use += 1
        self.beside += small
        self.peak = max(self.peak, self.in_use)

    def release(self, *, small: bool = False) -> None:
        self.in_use -= 1
        self.beside -= small
        if self.idle_on_release and not small and not self._waiting(False):
            self._always_full = False
        self._wake()

    def _wake(self) -> None:
        # A waiter that cannot have a slot does not hold up the other kind behind it (a small blob
        # is not stuck behind a big one waiting for bandwidth); within one kind, order is kept.
        blocked: set[bool] = set()
        for entry in list(self._waiters):
            waiter, small = entry
            if small in blocked:
                continue
            if waiter.done():
                self._waiters.remove(entry)
                continue
            if not self._may_take(small):
                blocked.add(small)
                if len(blocked) == 2:
                    return
                continue
            self._waiters.remove(entry)
            self._take(small)
            waiter.set_result(None)

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self.release()

    def idle(self) -> None:
        """A slot could have been used but there was nothing to do (no work left, or the consumer's
        window was full): this interval says nothing about whether more connections would help."""
        self._always_full = False

    def moved(self, n: int) -> None:
        """Bytes moved by a holder; may close an interval and adjust the limit."""
        self._bytes += n
        now = self._now()
        elapsed = now - self._since
        if elapsed >= self.interval:
            before = self.controller.limit
            self.controller.sample(self._bytes / elapsed, saturated=self._always_full)
            self._bytes = 0
            self._since = now
            self._always_full = True
            if self.controller.limit > before:
                self._wake()

    def throttled(self) -> None:
        self.controller.throttled()
        self._restart_interval()

    def consumer_slow(self) -> None:
        self.controller.consumer_slow()
        self._restart_interval()

    def _restart_interval(self) -> None:
        self._bytes = 0
        self._since = self._now()
        self._always_full = True


# -- blob transfers per registry ----------------------------------------------------------------------

# Connections per registry when the admin set no limit: this many at first (what a registry next door
# needs), up to TRANSFER_CEILING while each step makes the copy faster (a far source caps each
# connection, not the link). An explicit --max-per-registry is the start and a hard upper bound.
TRANSFER_START = 6
TRANSFER_CEILING = 16
# A blob up to this size costs round trips rather than bandwidth (a config, a small layer): it runs
# beside the adaptive limit, up to the maximum (AdaptiveLimiter ``small``). Largest first otherwise
# leaves them all for the end, where they took seconds on few connections while the link idled.
SMALL_BLOB = 1 << 20


def transfer_bounds(explicit: int | None) -> tuple[int, int]:
    """(start, maximum) of a transfer limiter for ``--max-per-registry`` (None: not given)."""
    if explicit is not None:
        return explicit, explicit
    return TRANSFER_START, TRANSFER_CEILING


class PairLimiters:
    """The transfer limiters one registry client is an end of: per-run state kept inside the client (a
    client lives for one session), never in a module global that outlives the run."""

    def __init__(self) -> None:
        # (destination or source?, the other end) -> limiter; kept by the pair's destination (its source
        # when the destination is a directory). The other end is held weakly.
        self.owned: dict[tuple[str, int], tuple[weakref.ref[object] | None, AdaptiveLimiter]] = {}
        self.ends: list[AdaptiveLimiter] = []  # every limiter this client is an end of

    def find(self, role: str, other: object | None) -> AdaptiveLimiter | None:
        found = self.owned.get((role, id(other)))
        if found is None:
            return None
        ref, limiter = found
        if ref is not None and ref() is not other:  # a dead client whose id was reused
            return None
        return limiter


def _pairs_of(client: object) -> PairLimiters:
    pairs = getattr(client, "transfer_pairs", None)
    if not isinstance(pairs, PairLimiters):
        pairs = PairLimiters()
        client.transfer_pairs = pairs  # type: ignore[attr-defined]
    return pairs


def transfer_limiter(destination: object | None, source: object | None, *, start: int, maximum: int) -> AdaptiveLimiter:
    """Connections moving blob bodies from ``source``'s registry to ``destination``'s (None: a
    directory): whole-blob transfers and the ranged parts of big blobs alike, never more than
    ``maximum``. Starts at ``start``; grows while throughput grows (by half the limit at first),
    goes back when it did not, halves when either registry pushes back (:func:`note_throttled`).

    One limiter per (destination client, source client) pair: both ends see the same bytes, so one
    controller decides for the pair (one per end would each take the other's growth for its own)."""
    if destination is None and source is None:
        raise ValueError("a transfer limiter needs a registry at one end at least")
    owner, role, other = (destination, "dst", source) if destination is not None else (source, "src", None)
    pairs = _pairs_of(owner)
    limiter = pairs.find(role, other)
    if limiter is not None:
        return limiter
    controller = ConcurrencyController(maximum=maximum, initial=start, fast_start=start < maximum)
    limiter = AdaptiveLimiter(controller, idle_on_release=True)
    pairs.owned[(role, id(other))] = (None if other is None else weakref.ref(other), limiter)
    pairs.ends.append(limiter)
    if other is not None:
        _pairs_of(other).ends.append(limiter)
    return limiter


def note_throttled(client: object | None) -> None:
    """``client``'s registry answered 429 or 5xx (for the transport's retry policy to call): every
    transfer limiter it is an end of backs off."""
    if client is None:
        return
    pairs = getattr(client, "transfer_pairs", None)
    if isinstance(pairs, PairLimiters):
        for limiter in pairs.ends:
            limiter.throttled()


__all__ = ["ConcurrencyController", "AdaptiveLimiter", "Decision", "SMALL_BLOB", "TRANSFER_CEILING", "TRANSFER_START",
           "PairLimiters", "note_throttled", "transfer_bounds", "transfer_limiter"]
