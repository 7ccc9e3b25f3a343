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

    def __post_init__(self) -> None:
        if self.maximum < 1 or self.minimum < 1:
            raise ValueError("concurrency bounds must be at least 1")
        self.minimum = min(self.minimum, self.maximum)
        self.limit = max(self.minimum, min(self.initial, self.maximum))
        self._rate_before_growth: float | None = None  # throughput measured just before the last GROW
        self._rest = 0  # samples to wait before growing again
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
            return self._decide(Decision.HOLD)
        before = self._rate_before_growth
        if before is not None and rate < before * (1 + self.gain):
            # The connection added last did not pay for itself: undo it and rest before probing again.
            self.limit = max(self.minimum, self.limit - 1)
            self._rate_before_growth = None
            self._rest = self.cooldown
            return self._decide(Decision.REVERT)
        if self.limit >= self.maximum:
            self._rate_before_growth = None
            return self._decide(Decision.HOLD)
        self._rate_before_growth = rate
        self.limit += 1
        return self._decide(Decision.GROW)

    def throttled(self) -> int:
        """The server said too much (429, 503, other 5xx): halve, then rest."""
        self.limit = max(self.minimum, self.limit // 2)
        self._rate_before_growth = None
        self._rest = self.cooldown
        return self._decide(Decision.BACK_OFF)

    def consumer_slow(self) -> int:
        """The bytes fetched wait for the destination (its window is full): one connection fewer."""
        self.limit = max(self.minimum, self.limit - 1)
        self._rate_before_growth = None
        self._rest = self.cooldown
        return self._decide(Decision.EASE)


class AdaptiveLimiter:
    """Slots whose number follows a :class:`ConcurrencyController`; holders report bytes moved, and
    once per ``interval`` seconds the throughput becomes a sample. Releasing never blocks; lowering the
    limit lets running holders finish and only stops new ones."""

    def __init__(self, controller: ConcurrencyController, *, interval: float = 1.0,
                 clock: object = time.monotonic) -> None:
        self.controller = controller
        self.interval = interval
        self._clock = clock  # type: ignore[assignment]
        self.in_use = 0
        self.peak = 0  # the most slots held at once, for tests and diagnostics
        self._changed = asyncio.Condition()
        self._bytes = 0
        self._since = self._now()
        self._always_full = True

    def _now(self) -> float:
        return self._clock()  # type: ignore[operator]

    @property
    def limit(self) -> int:
        return self.controller.limit

    async def acquire(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_use < self.controller.limit)
            self.in_use += 1
            self.peak = max(self.peak, self.in_use)

    async def release(self) -> None:
        async with self._changed:
            self.in_use -= 1
            self._changed.notify_all()

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

    def _wake(self) -> None:
        async def notify() -> None:
            async with self._changed:
                self._changed.notify_all()
        try:
            asyncio.get_running_loop().create_task(notify())
        except RuntimeError:
            pass

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


__all__ = ["ConcurrencyController", "AdaptiveLimiter", "Decision"]
