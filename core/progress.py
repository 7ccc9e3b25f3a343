"""One progress model: the copy engine's events folded into the numbers every front end shows.

The CLI's progress line and summary and the wizard's Mirror step both render a :class:`Progress`, so
the same run gives the same numbers everywhere. What it counts, and why:

* **bytes moved** — bytes that really crossed the wire (blob uploads, live as they stream). Bytes the
  destination already had (skipped) or got by a cross-repository mount are *not* progress: they are
  counted apart (``bytes_present``, ``bytes_mounted``), so a rerun never shows a full bar at 0 B/s.
* **bytes to move** — the plan's unique bytes minus what turned out to be there already; the bar and
  the ETA work on this.
* **images** — one step per image as it lands (copied, already there, or failed); every image of the
  plan (release components and samples images alike) is a row with a :class:`RowState`.
* **throughput** — bytes moved over the time something was moving (idle time reading manifests or
  writing tags does not dilute it); ``rate`` is the recent speed, for a live line.
* **ETA** — from the bytes still to move and the speed over a sliding window of wall-clock time
  (``ETA_WINDOW``) counted from the first transfer, so idle time before anything moved does not make the
  first guess too long. None until there is enough data (``ETA_WARMUP``); then it counts down with the
  clock and may move away from that countdown only so fast (``ETA_RISE``/``ETA_FALL``), so a pause
  between blobs or a burst never makes it jump (1 s → 1 min → 11 s). Never 0 while images remain, and
  "finishing" only once no byte is left to move.

Pure data, no I/O and no clock of its own (``clock`` is injectable, for tests and screenshots).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from .events import (
    BlobDone,
    BlobMounted,
    BlobProgress,
    BlobSkipped,
    BlobStarted,
    Event,
    ImageDone,
    ImageFailed,
    LogMessage,
    PlanReady,
)
from .text import human_bytes

BUCKET_SECONDS = 0.5  # throughput samples: fine enough that a short copy still draws a shape
RECENT_SECONDS = 5.0  # the "now" speed averages this much
LOG_LINES = 500
ETA_WINDOW = 10.0   # the ETA's speed: bytes moved over this much wall-clock time (less, early in the copy)
ETA_WARMUP = 3.0    # no ETA before this long since the first transfer began ...
ETA_WARMUP_MIN = 1.0  # ... unless at least this long and ETA_WARMUP_SHARE of the bytes moved already
ETA_WARMUP_SHARE = 0.1
# How fast the ETA may move, per second of wall clock: up from where it was, down below its own
# countdown; the first number in seconds, or the second as a share of the ETA (a long ETA may move more).
ETA_RISE = (0.5, 0.2)
ETA_FALL = (1.0, 0.3)


class RowState(StrEnum):
    WAITING = "waiting"
    COPYING = "copying"
    COPIED = "copied"
    PRESENT = "present"
    FAILED = "failed"


class RowKind(StrEnum):
    RELEASE = "release"
    SAMPLES = "samples"
    IMAGE = "image"


@dataclass
class ImageRow:
    source: str
    destination: str
    label: str
    kind: RowKind = RowKind.IMAGE
    state: RowState = RowState.WAITING
    digest: str = ""
    error: str = ""


@dataclass(frozen=True)
class RowSpec:
    """An image of the plan as a front end lists it, known once the plan is prepared."""

    source: str
    destination: str
    label: str
    kind: RowKind = RowKind.IMAGE


def _store(destination: str) -> str:
    """The blob store of a destination as events name it: a registry host, or a layout directory."""
    if destination.startswith("oci:"):
        return destination.rsplit(":", 1)[0] if destination.count(":") > 1 else destination
    return destination.split("/", 1)[0]


def _repository(destination: str) -> str:
    """host/repo of an image destination (host/repo:tag, host/repo@digest)."""
    name = destination.split("@", 1)[0]
    head, _, tail = name.rpartition(":")
    if head and "/" not in tail:
        name = head
    return name


@dataclass
class Progress:
    """Feed it every event (:meth:`feed`, cheap: counters only); read the numbers when drawing."""

    clock: Callable[[], float] = time.monotonic
    # The plan, from PlanReady (and the rows, from the prepared tasks).
    planned: bool = False
    total_images: int = 0
    total_blobs: int = 0
    total_bytes: int = 0
    rows: dict[str, ImageRow] = field(default_factory=dict)
    # What happened (core.copier.CopyResult's counts are these: the copier folds its events here too).
    bytes_moved: int = 0         # crossed the wire, live; a transfer that fails takes its bytes back
    bytes_present: int = 0       # already at the destination (once per store and digest)
    bytes_mounted: int = 0       # made present by a cross-repository mount, no bytes moved
    blobs_copied: int = 0
    blobs_skipped: int = 0
    blobs_mounted: int = 0
    images_copied: int = 0
    images_present: int = 0
    images_failed: int = 0
    # The run.
    running: bool = False
    finished: bool = False
    cancelled: bool = False
    error: str = ""
    started_at: float | None = None
    ended_at: float | None = None
    moving_seconds: float = 0.0  # time with at least one blob transfer under way
    log: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    log_seq: int = 0
    rates: deque[float] = field(default_factory=lambda: deque(maxlen=120))
    # Internals: bytes covered per (store, digest), so a layer uploaded into two repositories of one
    # registry counts once toward the plan's total (as the engine counts it) though it moved twice.
    _covered: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)
    _size: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)
    _in_flight: dict[str, int] = field(default_factory=dict, repr=False)   # digest → bytes this transfer
    _store_of: dict[str, str] = field(default_factory=dict, repr=False)    # digest → store of its transfer
    _not_moved: set[tuple[str, str]] = field(default_factory=set, repr=False)  # skipped or mounted blobs
    _active: int = 0
    _moving_since: float | None = None
    _bucket_start: float = 0.0
    _bucket_bytes: int = 0
    _first_move_at: float | None = None  # the first transfer since the plan was ready (the ETA's data)
    _eta: float | None = None            # the ETA as last updated (see _update_eta)
    _eta_at: float = 0.0

    # -- lifecycle ---------------------------------------------------------------------------------

    def reset(self) -> None:
        """Start a (re)run from zero; the log carries on so earlier runs stay readable."""
        keep_clock, keep_log, keep_seq = self.clock, self.log, self.log_seq
        fresh = Progress(clock=keep_clock)
        self.__dict__.update(fresh.__dict__)
        self.log, self.log_seq = keep_log, keep_seq
        self.running = True
        self.started_at = self._bucket_start = keep_clock()

    def set_rows(self, rows: Iterable[RowSpec | tuple[str, str, str]]) -> None:
        """Every image of the plan, before the copy starts: RowSpecs, or (source, destination, label)."""
        specs = [r if isinstance(r, RowSpec) else RowSpec(*r) for r in rows]
        self.rows = {r.destination: ImageRow(r.source, r.destination, r.label, r.kind) for r in specs}
        self.total_images = len(self.rows)

    def add_log(self, text: str) -> None:
        self.log.append(text)
        self.log_seq += 1

    def finish(self, *, cancelled: bool = False, error: str = "") -> None:
        self.tick()
        now = self.clock()
        self._stop_moving(now, force=True)
        self.running = False
        self.finished = not cancelled and not error
        self.cancelled = cancelled
        self.error = error
        self.ended_at = now
        for row in self.rows.values():
            if row.state == RowState.COPYING:
                row.state = RowState.WAITING

    # -- folding events ----------------------------------------------------------------------------

    def feed(self, event: Event) -> None:
        if isinstance(event, PlanReady):
            # Throughput counts from here: reading manifests before it moves no layer bytes.
            self.rates.clear()
            self._bucket_bytes = 0
            self._bucket_start = self.clock()
            self._first_move_at = self._eta = None
            self.planned = True
            self.total_images = max(event.images, len(self.rows)) if self.rows else event.images
            self.total_blobs, self.total_bytes = event.blobs, event.total_bytes
            self.add_log(f"plan: {event.images} images, {event.blobs} unique blobs, "
                         f"{human_bytes(event.total_bytes)}")
        elif isinstance(event, BlobStarted):
            key = self._key(event.digest, event.destination)
            self._size.setdefault(key, event.size)
            self._in_flight[event.digest] = 0
            self._start_moving()
            if self._first_move_at is None:
                self._first_move_at = self.clock()
            repository = _repository(event.destination)
            for row in self.rows.values():
                if row.state == RowState.WAITING and _repository(row.destination) == repository:
                    row.state = RowState.COPYING
        elif isinstance(event, BlobProgress):
            self.bytes_moved += event.delta
            self._bucket_bytes += event.delta
            self._in_flight[event.digest] = self._in_flight.get(event.digest, 0) + event.delta
            self._cover(self._key(event.digest, None), event.delta)
        elif isinstance(event, BlobDone):
            # Exactly the blob's size, whatever the coalesced deltas added up to.
            self.bytes_moved += event.size - self._in_flight.pop(event.digest, 0)
            self.blobs_copied += 1
            key = self._key(event.digest, event.destination)
            self._size.setdefault(key, event.size)
            self._cover(key, None)
            self._active = max(self._active - 1, 0)
            self._stop_moving(self.clock())
        elif isinstance(event, BlobSkipped):
            self.blobs_skipped += 1
            key = self._key(event.digest, event.destination)
            if key not in self._size:
                self.bytes_present += event.size
                self._not_moved.add(key)
            self._size.setdefault(key, event.size)
            self._cover(key, None)
        elif isinstance(event, BlobMounted):
            self.blobs_mounted += 1
            self.bytes_mounted += event.size
            key = self._key(event.digest, event.destination)
            if key not in self._size:
                self._not_moved.add(key)
            self._size.setdefault(key, event.size)
            self._cover(key, None)
        elif isinstance(event, ImageDone):
            row = self._row(event.source, event.destination)
            row.digest = event.digest
            if event.skipped:
                self.images_present += 1
                row.state = RowState.PRESENT
            else:
                self.images_copied += 1
                row.state = RowState.COPIED
            self.add_log(f"{'present' if event.skipped else 'copied '} {event.destination}")
        elif isinstance(event, ImageFailed):
            self.images_failed += 1
            row = self._row(event.source, event.destination)
            row.state, row.error = RowState.FAILED, event.error
            self.add_log(f"FAILED {event.destination}: {event.error}")
        elif isinstance(event, LogMessage):
            self.add_log(f"{event.level}: {event.message}")
        self.tick()

    def _key(self, digest: str, destination: str | None) -> tuple[str, str]:
        if destination is not None:
            self._store_of[digest] = _store(destination)
        return (self._store_of.get(digest, ""), digest)

    def _cover(self, key: tuple[str, str], nbytes: int | None) -> None:
        """Move blob ``key`` toward done by nbytes (None: all the way), never past its size."""
        size = self._size.get(key)
        counted = self._covered.get(key, 0)
        if nbytes is None:
            target = size if size is not None else counted
        else:
            target = max(counted + nbytes, 0)
            if size is not None:
                target = min(target, size)
        self._covered[key] = target

    def _start_moving(self) -> None:
        self._active += 1
        if self._moving_since is None:
            self._moving_since = self.clock()

    def _stop_moving(self, now: float, *, force: bool = False) -> None:
        if force:
            self._active = 0
        if self._active == 0 and self._moving_since is not None:
            self.moving_seconds += max(now - self._moving_since, 0.0)
            self._moving_since = None

    def _row(self, source: str, destination: str) -> ImageRow:
        row = self.rows.get(destination)
        if row is None:
            row = self.rows[destination] = ImageRow(source, destination, destination)
        return row

    def tick(self) -> None:
        """Close throughput buckets (bytes per second over BUCKET_SECONDS) and bring the ETA up to the
        clock; on events and on a timer."""
        if not self.running:
            return
        now = self.clock()
        while now - self._bucket_start >= BUCKET_SECONDS:
            self.rates.append(self._bucket_bytes / BUCKET_SECONDS)
            self._bucket_bytes = 0
            self._bucket_start += BUCKET_SECONDS
            if len(self.rates) == self.rates.maxlen and now - self._bucket_start > 60:
                self._bucket_start = now  # after a long stall, do not replay empty buckets one by one
        self._update_eta(now)

    def eta_rate(self, now: float | None = None) -> float | None:
        """Bytes per second the ETA works with: bytes moved over the last ETA_WINDOW seconds of wall clock,
        or since the first transfer began when that is more recent (pauses count: they are part of the
        copy; the time before anything moved is not). None before any transfer."""
        if self._first_move_at is None:
            return None
        now = self.clock() if now is None else now
        start = max(now - ETA_WINDOW, self._first_move_at)
        closed = max(min(int((self._bucket_start - start) / BUCKET_SECONDS + 0.999), len(self.rates)), 0)
        moved = sum(list(self.rates)[len(self.rates) - closed:]) * BUCKET_SECONDS + self._bucket_bytes
        seconds = closed * BUCKET_SECONDS + max(now - self._bucket_start, 0.0)
        return moved / seconds if seconds > 0 else None

    def _update_eta(self, now: float) -> None:
        """The ETA follows bytes and time: the raw guess (bytes left over :meth:`eta_rate`) once there is
        enough data, then moved toward each new guess by at most ETA_RISE per second up from where it
        was, or ETA_FALL per second below its countdown. Calling it twice at one instant changes nothing."""
        if not self.planned or self._first_move_at is None:
            self._eta = None
            return
        remaining = self.bytes_remaining
        moving = now - self._first_move_at
        to_move = self.bytes_to_move
        enough = moving >= ETA_WARMUP or (moving >= ETA_WARMUP_MIN and to_move > 0
                                           and self.bytes_moved_of_plan >= ETA_WARMUP_SHARE * to_move)
        if not enough or remaining == 0:
            self._eta = None if not enough else 0.0
            self._eta_at = now
            return
        rate = self.eta_rate(now)
        guess = remaining / rate if rate else float("inf")
        if self.images_finished and self.images_left:
            # Never sooner than the images landing at the pace they have so far (the bytes may be all
            # but there while most manifests are still to write): part of the guess, so bounded too.
            guess = max(guess, self.images_left * self.elapsed / self.images_finished)
        previous, dt = self._eta, max(now - self._eta_at, 0.0)
        self._eta_at = now
        if previous is None:
            self._eta = guess if guess != float("inf") else None
            return
        countdown = max(previous - dt, 0.0)
        high = previous + dt * max(ETA_RISE[0], ETA_RISE[1] * previous)  # a stall: up, slowly
        low = countdown - dt * max(ETA_FALL[0], ETA_FALL[1] * countdown)
        self._eta = min(max(guess, low, 0.0), high)

    # -- reading -----------------------------------------------------------------------------------

    @property
    def images_done(self) -> int:
        """Images that landed (copied or already there); as CopyResult.images_done."""
        return self.images_copied + self.images_present

    @property
    def images_finished(self) -> int:
        return self.images_done + self.images_failed

    @property
    def images_left(self) -> int:
        return max(self.total_images - self.images_finished, 0)

    @property
    def blobs_done(self) -> int:
        return self.blobs_copied + self.blobs_skipped + self.blobs_mounted

    @property
    def bytes_not_moving(self) -> int:
        """Bytes of the plan that needed no transfer: already there, or mounted."""
        return self.bytes_present + self.bytes_mounted

    @property
    def not_moving_word(self) -> str:
        """How those bytes got there, in the words the done line uses: "there" (the mirror had them),
        "mounted" (linked from another repository of the mirror), or both."""
        if self.bytes_mounted and self.bytes_present:
            return "there or mounted"
        return "mounted" if self.bytes_mounted else "there"

    @property
    def bytes_to_move(self) -> int:
        """The plan's bytes that have to cross the wire: its total less what turned out to be there
        already or was mounted (known blob by blob as the copy goes)."""
        other = sum(self._size.get(k, 0) for k in self._not_moved)
        return max(self.total_bytes - other, 0)

    @property
    def bytes_moved_of_plan(self) -> int:
        """Bytes moved toward :attr:`bytes_to_move` (a layer moved into two repositories counts once)."""
        return sum(v for k, v in self._covered.items() if k not in self._not_moved)

    @property
    def bytes_remaining(self) -> int:
        """Bytes of the plan still to move (or still to find present)."""
        return max(self.total_bytes - sum(self._covered.values()), 0)

    @property
    def elapsed(self) -> float:
        if self.started_at is None:
            return 0.0
        end = self.ended_at if self.ended_at is not None else self.clock()
        return max(end - self.started_at, 0.0)

    @property
    def seconds_moving(self) -> float:
        extra = self.clock() - self._moving_since if self._moving_since is not None else 0.0
        return self.moving_seconds + max(extra, 0.0)

    @property
    def throughput(self) -> float:
        """Bytes moved over the time spent moving them (0 when nothing moved)."""
        seconds = self.seconds_moving
        return self.bytes_moved / seconds if seconds > 0 and self.bytes_moved > 0 else 0.0

    @property
    def rate(self) -> float:
        """Bytes per second over the last few seconds (what the link does now)."""
        recent = list(self.rates)[-int(RECENT_SECONDS / BUCKET_SECONDS):]
        if recent:
            return sum(recent) / len(recent)
        return self.throughput

    @property
    def finishing(self) -> bool:
        """Every byte is there but images are still being written (manifests, tags)."""
        return self.running and self.planned and self.images_left > 0 and self.bytes_remaining == 0

    @property
    def eta(self) -> float | None:
        """Seconds left (see the module's note on how it moves); None when unknown (not enough data
        yet, not running, or only manifests left — see :attr:`finishing`). Never under 1 s while images
        remain."""
        if not self.planned or not self.running:
            return None
        if self.bytes_remaining == 0:
            return None if self.images_left else 0.0
        if self._eta is None:
            return None
        return max(self._eta, 1.0)

    def counts(self) -> dict[RowState, int]:
        out: dict[RowState, int] = {}
        for row in self.rows.values():
            out[row.state] = out.get(row.state, 0) + 1
        return out
