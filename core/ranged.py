"""Parallel ranged reads of one big blob from a source registry.

Far from the source (a CDN across the internet) every connection is slow while the link is fast, so
one big layer read on one connection bounds the whole mirror. Here a blob of at least
``RangedConfig.threshold`` bytes is split into parts of ``part_size`` fetched with ``Range`` on several
keep-alive connections (how many: :mod:`core.adaptive`, at most ``connections``). Parts land in a file
at their offsets, never in memory: the blob's own ``.partial`` file in the layout for ``--to-dir``, an
anonymous spool file (unlinked at once) for registry → registry. One in-order reader follows the
contiguous bytes in that file, hashes them and hands them on (to the destination PUT), so the digest is
verified over the whole blob and the parts fetched ahead wait on disk, at most ``ahead`` bytes of them.

* A source that ignores ``Range`` answers the first part with 200 and the whole body: that body is used
  as an ordinary single stream (no second request), and the registry is not asked for ranges again.
* Any other unexpected first answer (a redirect, an auth dance, an error) falls back to the ordinary
  path, which knows how to handle it; nothing was consumed.
* A part whose connection breaks resumes from its last byte; 429/5xx answers back off and shrink the
  number of connections.
* ``--to-dir`` resumes: after each part the file is flushed to disk and the finished parts recorded
  beside it; a later run fetches only the missing parts, and the whole file is hashed before the
  blob is given its final name. A mismatch throws the partial file away.

The hook for the copier is :func:`put_blob`, a drop-in for ``destination.put_blob``.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Protocol

from .adaptive import AdaptiveLimiter, ConcurrencyController
from .endpoints import Destination, LayoutDestination, RegistryDestination, RegistrySource, Source
from .errors import (
    IntegrityError,
    LocalStorageError,
    RegistryError,
    RegistryUnreachable,
)
from .http import RawResponse
from .layout import OCILayout
from .registry import THROTTLE_STATUSES, RegistryClient, RetryPolicy
from .registry.client import CDN_EXPIRED, BlobLocation

MiB = 1 << 20
READ = 1 << 20
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)

BodyFactory = Callable[[], AsyncIterator[bytes]]
Tick = Callable[[int], None]  # bytes moved (progress; raises Cancelled when the user stopped the run)


@dataclass(frozen=True)
class RangedConfig:
    """When and how to split. The environment can change it (for benchmarks and for users behind a
    proxy that mangles ranges): MIRROR_WIZARD_RANGED=off, MIRROR_WIZARD_RANGED_MIN_MB,
    MIRROR_WIZARD_RANGED_PART_MB, MIRROR_WIZARD_RANGED_CONNECTIONS, MIRROR_WIZARD_SPOOL_DIR (where
    registry → registry spool files go; default /var/tmp)."""

    enabled: bool = True
    threshold: int = 64 * MiB
    part_size: int = 8 * MiB
    connections: int = 8
    ahead: int = 256 * MiB
    spool_dir: str | None = None
    # A far source (its fastest answer took at least ``far_answer`` seconds: a round trip across the
    # internet, not a LAN) caps each connection, so smaller blobs are worth splitting too: a 40 MB
    # layer on one 10 MB/s connection outlasts the rest of the copy.
    far_threshold: int = 16 * MiB
    far_answer: float = 0.010

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> RangedConfig:
        env = os.environ if environ is None else environ

        def number(name: str, default: int, low: int, high: int) -> int:
            text = env.get(name, "").strip()
            if not text:
                return default
            try:
                return max(low, min(high, int(float(text))))
            except ValueError:
                return default

        return cls(
            enabled=env.get("MIRROR_WIZARD_RANGED", "on").strip().lower() not in ("off", "0", "no", "false"),
            threshold=number("MIRROR_WIZARD_RANGED_MIN_MB", 64, 1, 1 << 20) * MiB,
            part_size=number("MIRROR_WIZARD_RANGED_PART_MB", 8, 1, 256) * MiB,
            connections=number("MIRROR_WIZARD_RANGED_CONNECTIONS", 8, 1, 32),
            spool_dir=env.get("MIRROR_WIZARD_SPOOL_DIR") or None,
            far_threshold=number("MIRROR_WIZARD_RANGED_FAR_MIN_MB", 16, 1, 1 << 20) * MiB,
            far_answer=number("MIRROR_WIZARD_RANGED_FAR_MS", 10, 0, 60_000) / 1000,
        )

    def threshold_for(self, fastest_answer: float | None) -> int:
        """The size from which a blob is split, given the source's fastest answer so far (seconds;
        None: nothing measured yet, taken as near)."""
        if fastest_answer is not None and fastest_answer >= self.far_answer:
            return min(self.threshold, self.far_threshold)
        return self.threshold


class RangeUnavailable(Exception):
    """The first ranged request got an answer the ordinary path handles better; nothing was consumed."""


class PartResponse(Protocol):
    status: int
    headers: dict[str, str]

    def body(self) -> AsyncIterator[bytes]: ...

    def close(self) -> None: ...


class RangeSource(Protocol):
    """Where parts come from. ``get`` sends ``Range: bytes=start-end`` (inclusive). Failures to reach it
    are :class:`RegistryUnreachable` (or one of its kinds); ``error`` maps any other answer."""

    display: str
    retry: RetryPolicy

    async def get(self, start: int, end: int) -> PartResponse: ...

    async def error(self, response: PartResponse, what: str) -> RegistryError: ...

    async def reauth(self, challenge: str | None = None, url: str | None = None) -> None: ...

    async def aclose(self) -> None: ...


class _Part:
    """One answer to a part's GET; its body's failures (reset, stall, malformed) come out of the one map."""

    def __init__(self, client: RegistryClient, url: str, response: RawResponse) -> None:
        self.client = client
        self.url = url
        self.raw = response
        self.status = response.status
        self.headers = response.headers

    def body(self) -> AsyncIterator[bytes]:
        return self.client.transport.body(self.raw, self.url)

    def close(self) -> None:
        self.raw.close()


class RegistryRanges:
    """Parts of one blob from one registry repository, each one :meth:`RegistryClient.blob_response`
    (its base URL, its auth headers only ever for the registry's own origin, its 401 dance, its status
    map and its one retry policy), with a keep-alive pool of their own unless they share the client's.

    Registries in front of a CDN (quay.io, registry.redhat.io) answer a blob GET with a redirect to
    object storage: the first part follows it, and later parts go straight to that URL, without our
    registry credentials. When that URL stops working (a presigned URL expires: 401/403/410),
    :meth:`reauth` forgets it and the next request asks the registry again."""

    def __init__(self, client: RegistryClient, repository: str, digest: str, connections: int, *,
                 shared_pool: bool = False) -> None:
        """``shared_pool``: the parts are connections of the copy's transfer limit, so they use (and
        leave alive for the next blob) the client's own keep-alive pool: no handshake per part
        connection and blob, which costs three round trips on a far source."""
        self.client = client
        self.repository = repository
        self.digest = digest
        self.display = f"{client.registry}/{repository}"
        self.retry = client.retry
        self.scopes = client.pull_scope(repository)
        self.pool = None if shared_pool else client.transport.new_pool(connections)
        self.where = BlobLocation()

    async def get(self, start: int, end: int) -> _Part:
        response, url = await self.client.blob_response(self.repository, self.digest, self.where, scopes=self.scopes,
                                                        range_header=f"bytes={start}-{end}", pool=self.pool)
        return _Part(self.client, url, response)

    async def error(self, response: PartResponse, what: str) -> RegistryError:
        assert isinstance(response, _Part)
        body = await self.client.transport.read_error_body(response.raw)
        return self.client.blob_error(response.status, response.headers, body, response.url, what=what)

    async def reauth(self, challenge: str | None = None, url: str | None = None) -> None:
        """After a refusal of ``url``: a CDN URL is forgotten (the next part asks the registry for a fresh
        one; unless another part did already), the registry's own 401 gets a fresh token."""
        if url is not None and not self.client.on_registry(url) or url is None and self.where.cdn is not None:
            if url is None or self.where.cdn == url:
                self.where.cdn = None
                self.where.refreshed += 1
            return
        self.scopes = await self.client.reauthenticate(self.scopes, challenge)

    async def aclose(self) -> None:
        if self.pool is not None:
            await self.pool.aclose()


def limiter_for(client: RegistryClient, config: RangedConfig) -> AdaptiveLimiter:
    """One connection budget per source registry, shared by every big blob read from it at once (kept in
    the client: per-run state)."""
    if client.ranged_limiter is None:
        controller = ConcurrencyController(maximum=config.connections, initial=max(1, config.connections // 2))
        client.ranged_limiter = AdaptiveLimiter(controller)
    return client.ranged_limiter


class RangedFetch:
    """One blob fetched in parts into a file, read back in order through :meth:`chunks`."""

    def __init__(self, source: RangeSource, digest: str, size: int, opener: Callable[[], int] | None, *,
                 config: RangedConfig, limiter: AdaptiveLimiter | None = None, held: bool = False,
                 done: frozenset[int] = frozenset(), on_part_done: Callable[[int], Awaitable[None]] | None = None,
                 ) -> None:
        """``opener`` None: an anonymous spool file in ``config.spool_dir``. Else it opens the file to
        fill (read/write; closed here), which is kept (and written in sequential mode too) for the
        caller to rename; ``done``: parts already in it. ``held``: the caller holds one slot of
        ``limiter`` for this blob (the copy's transfer limit): the first connection runs on it, the
        others take more slots ahead of the blobs still waiting (the largest blobs started first)."""
        if size <= 0:
            raise ValueError("ranged reads need a known, positive size")
        self.source = source
        self.digest = digest
        self.size = size
        self.opener = opener
        self.keep = opener is not None
        self.config = config
        self.part = config.part_size
        self.parts = (size + self.part - 1) // self.part
        self.limiter = limiter or AdaptiveLimiter(ConcurrencyController(maximum=config.connections,
                                                                        initial=max(1, config.connections // 2)))
        self.written = [self._length(k) if k in done else 0 for k in range(self.parts)]
        self.on_part_done = on_part_done
        self.held = held
        self.sequential = False  # the source ignored Range: the whole body came on one connection
        self.requests = 0        # part requests sent, for tests and diagnostics
        self.resumed_parts = len([k for k in done if 0 <= k < self.parts])
        self.consumed = 0
        self._next = 0
        self._failure: BaseException | None = None
        self._changed = asyncio.Event()
        self._fd = -1
        # Flushes run in worker threads (fdatasync on removable media can take long, and the event loop
        # must keep every other connection moving meanwhile); the file is never closed under one.
        self.io_lock = threading.Lock()
        self._whole: PartResponse | None = None

    def _start(self, k: int) -> int:
        return k * self.part

    def _length(self, k: int) -> int:
        return min(self.part, self.size - k * self.part)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # -- file -------------------------------------------------------------------------------

    def _open(self) -> None:
        try:
            if self.opener is None:
                fd, name = tempfile.mkstemp(prefix=".mirror-wizard-spool-", dir=self.config.spool_dir or _spool_dir())
                os.unlink(name)  # anonymous: gone with the process whatever happens
            else:
                fd = self.opener()
            if os.fstat(fd).st_size != self.size:
                os.ftruncate(fd, self.size)
        except OSError as exc:
            where = "the layout" if self.keep else self.config.spool_dir or _spool_dir()
            raise LocalStorageError(f"cannot open a file for blob {self.digest} in {where}: {exc.strerror}") from None
        self._fd = fd

    def _write(self, offset: int, data: bytes) -> None:
        try:
            view = memoryview(data)
            while view:
                n = os.pwrite(self._fd, view, offset)
                view = view[n:]
                offset += n
        except OSError as exc:
            raise LocalStorageError(f"writing blob {self.digest} failed: {exc.strerror}"
                                    + (" (disk full)" if exc.errno == 28 else "")) from None

    def flush(self) -> None:
        """Make what was written durable (before recording parts as done, and before the rename). Call
        it holding :attr:`io_lock`, in a worker thread: it may block for as long as the disk takes."""
        if self._fd < 0:
            raise LocalStorageError(f"blob {self.digest}: its file is closed already")
        try:
            os.fdatasync(self._fd)
        except OSError as exc:
            raise LocalStorageError(f"writing blob {self.digest} failed: {exc.strerror}") from None

    def _flush_locked(self) -> None:
        with self.io_lock:
            self.flush()

    def _close(self) -> None:
        with self.io_lock:  # waits for a flush still running in its thread
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    # -- reading in order ----------------------------------------------------------------------

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        """The blob's bytes in order, each yielded once verified-so-far; IntegrityError at the end if
        the whole does not hash to the digest. RangeUnavailable before the first byte: use another path."""
        self._open()
        workers: list[asyncio.Task[None]] = []
        hasher = hashlib.sha256()
        try:
            first = self._take()
            if first is not None:
                response = await self._probe(first)
                if response is None:  # the source sent the whole blob
                    async for chunk in self._sequential(hasher):
                        yield chunk
                    return
                workers.append(asyncio.create_task(self._worker(first, response, own=self.held)))
                workers += [asyncio.create_task(self._worker()) for _ in range(self.config.connections - 1)]
            pos = 0
            while pos < self.size:
                if self._failure is not None:
                    raise self._failure
                k = pos // self.part
                available = self._start(k) + self.written[k]
                if available > pos:
                    try:
                        data = os.pread(self._fd, min(available - pos, READ), pos)
                    except OSError as exc:
                        raise LocalStorageError(f"reading back blob {self.digest} failed: {exc.strerror}") from None
                    hasher.update(data)
                    pos += len(data)
                    self.consumed = pos
                    self._notify()
                    if not self.keep and pos // self.part > k:
                        _punch_hole(self._fd, self._start(k), self._length(k))  # a spool keeps only what is unread
                    yield data
                else:
                    await self._changed.wait()
            if "sha256:" + hasher.hexdigest() != self.digest:
                raise IntegrityError(f"blob {self.digest} from {self.source.display} does not match its digest "
                                     f"(read in {self.parts} ranged parts)")
            if self.keep:
                await asyncio.to_thread(self._flush_locked)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await self.source.aclose()
            self._close()

    async def _probe(self, k: int) -> PartResponse | None:
        """The first part's answer: 206 to go on in parts, None after a 200 (ranges ignored; the body is
        then read by :meth:`_sequential`), RangeUnavailable for anything else."""
        start, end = self._start(k), self._start(k) + self._length(k) - 1
        self.requests += 1
        response = await self.source.get(start, end)
        if response.status == 206 and _range_matches(response.headers, start, end, self.size):
            return response
        if response.status == 200:
            self._whole = response
            return None
        response.close()
        raise RangeUnavailable(f"{self.source.display} answered {response.status} to a Range request")

    async def _sequential(self, hasher: hashlib._Hash) -> AsyncIterator[bytes]:
        self.sequential = True
        response = self._whole
        assert response is not None
        received = 0
        try:
            async for data in response.body():
                received += len(data)
                if received > self.size:
                    raise IntegrityError(f"blob {self.digest} from {self.source.display} is longer than {self.size} bytes")
                hasher.update(data)
                if self.keep:
                    self._write(received - len(data), data)
                self.limiter.moved(len(data))
                self.consumed = received
                yield data
        except RegistryUnreachable as exc:
            raise type(exc)(f"reading blob {self.digest} from {self.source.display} failed after "
                            f"{received} bytes: {exc}", registry=exc.registry) from None
        finally:
            response.close()
        if received != self.size or "sha256:" + hasher.hexdigest() != self.digest:
            raise IntegrityError(f"blob {self.digest} from {self.source.display} does not match its digest")
        if self.keep:
            await asyncio.to_thread(self._flush_locked)

    # -- fetching parts ------------------------------------------------------------------------

    def _take(self) -> int | None:
        while self._next < self.parts and self.written[self._next] >= self._length(self._next):
            self._next += 1
        if self._next >= self.parts:
            return None
        k = self._next
        self._next += 1
        return k

    async def _worker(self, k: int | None = None, response: PartResponse | None = None, *, own: bool = False) -> None:
        """Fetch parts until none is left. ``own``: run on the slot the caller holds for the blob
        (never given back here). Another worker takes a slot before it takes a part, so a part taken
        is always being fetched (with a limit of 1 the own slot does them all); it keeps the slot
        from part to part, and gives it back when the limit went down."""
        holding = own or k is not None and not self.held
        if holding and not own:
            await self.limiter.acquire()  # the probe's answer came before a slot (standalone use)
        try:
            while True:
                if k is None:
                    if not holding:
                        await self.limiter.acquire(first=self.held)
                        holding = True
                    k = self._take()
                    if k is None:
                        if not self.held:  # a shared limit's slot goes to the next blob waiting
                            self.limiter.idle()
                        return
                waited = False
                while self._start(k) - self.consumed > self.config.ahead:
                    if not waited:
                        self.limiter.consumer_slow()  # the destination does not keep up: fewer connections
                        waited = True
                    await self._changed.wait()
                await self._fetch(k, response)
                response = None
                if self.on_part_done is not None:
                    await self.on_part_done(k)
                k = None
                if holding and not own and self.limiter.bulk_in_use > self.limiter.limit:
                    holding = False
                    self.limiter.release()  # the limit went down: this connection is one too many
        except asyncio.CancelledError:
            if response is not None:
                response.close()
            raise
        except BaseException as exc:  # handed to the reader, which raises it
            if response is not None:
                response.close()
            if self._failure is None:
                self._failure = exc
            self._notify()
        finally:
            if holding and not own:
                self.limiter.release()

    async def _fetch(self, k: int, response: PartResponse | None) -> None:
        """Part ``k`` into the file, resuming from its last byte after a break; retries (and their
        waits) follow the source's one retry policy, and 429/5xx also narrow this blob's connections."""
        start, length = self._start(k), self._length(k)
        end = start + length - 1
        failures = 0
        reauths = 0
        while self.written[k] < length:
            offset = start + self.written[k]
            what = f"part {offset}-{end} of blob {self.digest}"
            error: RegistryError
            try:
                if response is None:
                    self.requests += 1
                    response = await self.source.get(offset, end)
                status = response.status
                if status == 206 and _range_matches(response.headers, offset, end, self.size):
                    async for data in response.body():
                        if self.written[k] + len(data) > length:
                            raise IntegrityError(f"blob {self.digest}: {self.source.display} sent more than the "
                                                 f"range {offset}-{end} asked for")
                        self._write(start + self.written[k], data)
                        self.written[k] += len(data)
                        self.limiter.moved(len(data))
                        self._notify()
                    if self.written[k] < length:
                        raise RegistryUnreachable(f"{what} ended early")
                    continue
                if status in CDN_EXPIRED and reauths < 3:
                    # a first 401 of the registry (a fresh token), or a CDN URL that expired (a fresh one)
                    reauths += 1
                    await self.source.reauth(response.headers.get("www-authenticate"), getattr(response, "url", None))
                    continue
                error = await self.source.error(response, what)
            except RegistryUnreachable as exc:  # refused, reset, stalled, cut short: resumed from its last byte
                error = exc if exc.status else type(exc)(
                    f"reading {what} from {self.source.display} failed: {exc}", registry=exc.registry)
            finally:
                if response is not None:
                    response.close()
                    response = None
            if not isinstance(error, RegistryUnreachable):
                raise error
            if error.status in THROTTLE_STATUSES:
                self.limiter.throttled()
            failures = await self.source.retry.backoff(failures, error)


_FALLOCATE: Callable[..., int] | None = None
_FALLOCATE_LOOKED_UP = False


def _punch_hole(fd: int, offset: int, length: int) -> None:
    """Give a read part of a spool file back to the file system (Linux; elsewhere the file just stays
    as large as the blob until it is closed)."""
    global _FALLOCATE, _FALLOCATE_LOOKED_UP
    if not _FALLOCATE_LOOKED_UP:
        _FALLOCATE_LOOKED_UP = True
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            function = libc.fallocate
            function.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong]
            _FALLOCATE = function
        except (OSError, AttributeError):
            _FALLOCATE = None  # not Linux: the spool file keeps its read parts until it is closed
    if _FALLOCATE is not None:
        _FALLOCATE(fd, 0x01 | 0x02, offset, length)  # FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE; errors ignored


def _spool_dir() -> str:
    """/var/tmp where there is one: it is on disk by convention, while /tmp is often a tmpfs (RAM). A
    spool file holds what the reader has not reached yet (at most ``ahead`` bytes and the parts in flight)."""
    return "/var/tmp" if os.path.isdir("/var/tmp") and os.access("/var/tmp", os.W_OK) else tempfile.gettempdir()


def _range_matches(headers: dict[str, str], start: int, end: int, size: int) -> bool:
    match = _CONTENT_RANGE.match(headers.get("content-range", ""))
    if not match:
        return False
    total = match[3]
    return int(match[1]) == start and int(match[2]) == end and (total == "*" or int(total) == size)


# -- --to-dir: parts straight into the layout, resumable ---------------------------------------------

def _load_done(layout: OCILayout, digest: str, size: int, part_size: int) -> frozenset[int]:
    """Parts an earlier run recorded as written and flushed (their bytes are checked with the whole)."""
    raw = layout.read_resumable_record(digest)
    if raw is None:
        return frozenset()
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return frozenset()
    if not isinstance(data, dict) or data.get("digest") != digest or data.get("size") != size \
            or data.get("part_size") != part_size or not isinstance(data.get("done"), list):
        return frozenset()
    parts = (size + part_size - 1) // part_size
    return frozenset(k for k in data["done"] if isinstance(k, int) and not isinstance(k, bool) and 0 <= k < parts)


async def fetch_into_layout(source: RangeSource, layout: OCILayout, digest: str, size: int, *,
                            config: RangedConfig, limiter: AdaptiveLimiter | None = None, held: bool = False,
                            tick: Tick | None = None) -> RangedFetch:
    """Fetch a blob in parts into ``layout``: ``blobs/sha256/.HEX.ranged`` (kept across runs with a
    record of finished parts, both reached without following links), hashed whole, flushed, then
    renamed to its final name."""
    layout.blob_path(digest)  # validates the digest before it names any file
    done = set(_load_done(layout, digest, size, config.part_size))
    if not done:
        layout.discard_resumable(digest)

    fetch: RangedFetch

    def record_part(k: int) -> None:
        # In a worker thread, one at a time: the part's bytes made durable, then the record naming it
        # (a record never names a part that is not on disk; a cancelled run just records fewer).
        with fetch.io_lock:
            fetch.flush()
            done.add(k)
            layout.write_resumable_record(digest, json.dumps({"digest": digest, "size": size,
                                                              "part_size": config.part_size,
                                                              "done": sorted(done)}).encode())

    async def part_done(k: int) -> None:
        await asyncio.to_thread(record_part, k)

    fetch = RangedFetch(source, digest, size, lambda: layout.open_resumable(digest), config=config, limiter=limiter,
                        held=held, done=frozenset(done), on_part_done=part_done)
    try:
        async with aclosing(fetch.chunks()) as chunks:
            async for chunk in chunks:
                if tick is not None:
                    tick(len(chunk))
    except IntegrityError:
        layout.discard_resumable(digest)  # bad bytes are never resumed from
        raise
    layout.finish_resumable(digest)
    return fetch


# -- the copier's hook --------------------------------------------------------------------------

def eligible(source: Source, size: int, config: RangedConfig) -> bool:
    return (config.enabled and isinstance(source, RegistrySource) and not source.client.ignores_range
            and size >= config.threshold_for(source.client.transport.fastest_answer))


async def _ranged_body(source: RegistrySource, digest: str, size: int, body: BodyFactory, tick: Tick | None,
                       config: RangedConfig, limiter: AdaptiveLimiter | None) -> AsyncIterator[bytes]:
    ranges = RegistryRanges(source.client, source.repository, digest, config.connections, shared_pool=limiter is not None)
    fetch = RangedFetch(ranges, digest, size, None, config=config, limiter=limiter or limiter_for(source.client, config),
                        held=limiter is not None)
    started = False
    try:
        async with aclosing(fetch.chunks()) as chunks:
            async for chunk in chunks:
                started = True
                if tick is not None:
                    tick(len(chunk))
                yield chunk
    except (RangeUnavailable, LocalStorageError):
        # Nothing handed on yet (an answer the ordinary path handles better, no room for a spool
        # file): the ordinary single stream, which counts its own progress.
        if started:
            raise
        async for chunk in body():
            yield chunk
    finally:
        if fetch.sequential:
            source.client.ignores_range = True


async def put_blob(destination: Destination, source: Source, digest: str, size: int, body: BodyFactory, *,
                   tick: Tick | None = None, config: RangedConfig | None = None,
                   limiter: AdaptiveLimiter | None = None) -> None:
    """``destination.put_blob(digest, size, body)``, with a big blob from a registry read in ranged parts.

    ``body`` is the ordinary source stream (already counting progress), used when ranges do not apply;
    ``tick(n)`` is called for the bytes the ranged path moves (progress, and the caller's cancel check).
    ``limiter``: the copy's transfer limit, of which the caller holds one slot for this blob; the parts
    take more of it (without one, the parts have a limiter per source registry of their own).
    """
    config = config or RangedConfig.from_env()
    if not eligible(source, size, config):
        await destination.put_blob(digest, size, body)
        return
    assert isinstance(source, RegistrySource)
    if isinstance(destination, LayoutDestination):
        ranges = RegistryRanges(source.client, source.repository, digest, config.connections,
                                shared_pool=limiter is not None)
        try:
            fetch = await fetch_into_layout(ranges, destination.layout, digest, size, config=config,
                                            limiter=limiter or limiter_for(source.client, config),
                                            held=limiter is not None, tick=tick)
        except RangeUnavailable:
            await destination.put_blob(digest, size, body)
            return
        if fetch.sequential:
            source.client.ignores_range = True
        return
    if isinstance(destination, RegistryDestination):
        await destination.put_blob(digest, size, lambda: _ranged_body(source, digest, size, body, tick, config, limiter))
        return
    await destination.put_blob(digest, size, body)


__all__ = ["RangedConfig", "RangedFetch", "RangeSource", "RegistryRanges", "RangeUnavailable",
           "fetch_into_layout", "put_blob", "eligible", "limiter_for"]
