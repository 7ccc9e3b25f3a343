"""Read files out of image layers as they stream in: never a whole layer in memory or on disk.

A layer is a (gzip) tar. ``tarfile`` wants a blocking file object, our bytes arrive as an async
iterator, so the tar parser runs in a worker thread fed through a small bounded queue. The visitor
sees each member as it passes and may stop early; the rest of the layer is still read (and thrown
away) so the source verifies the whole layer against its digest before anything found is trusted.
"""

from __future__ import annotations

import asyncio
import io
import os
import queue
import re
import tarfile
import threading
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from .errors import LocalStorageError, MirrorError, ReleaseError

QUEUE_CHUNKS = 8
# A visitor returns True when it has what it wanted: the parser stops, the stream is drained.
Visitor = Callable[[tarfile.TarFile, tarfile.TarInfo], bool]


class _SourceFailed(Exception):
    """Raised inside the parser thread when the producer failed or was cancelled."""


class _Pipe(io.RawIOBase):
    """Bytes from the event loop to the parser thread, at most QUEUE_CHUNKS chunks in flight."""

    def __init__(self) -> None:
        super().__init__()
        self._queue: queue.Queue[bytes | None | BaseException] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._view = memoryview(b"")
        self._eof = False
        self.reader_done = threading.Event()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._view and not self._eof:
            item = self._queue.get()
            if item is None:
                self._eof = True
            elif isinstance(item, BaseException):
                raise _SourceFailed()
            else:
                self._view = memoryview(item)
        n = min(len(buffer), len(self._view))
        buffer[:n] = self._view[:n]
        self._view = self._view[n:]
        return n

    async def put(self, item: bytes | None | BaseException) -> bool:
        """Hand a chunk to the parser; False once the parser has stopped listening."""
        while not self.reader_done.is_set():
            try:
                self._queue.put_nowait(item)
                return True
            except queue.Full:
                await asyncio.sleep(0.002)
        return False

    def abort(self) -> None:
        """Wake a parser blocked on an empty queue (cancellation, a failed source)."""
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass
        try:
            self._queue.put_nowait(_SourceFailed())
        except queue.Full:
            pass


async def scan_tar(chunks: AsyncIterator[bytes], visit: Visitor, *, where: str) -> None:
    """Run ``visit`` over every member of the tar stream ``chunks`` (gzip or plain)."""
    pipe = _Pipe()

    def consume() -> None:
        try:
            with tarfile.open(fileobj=pipe, mode="r|*") as tar:
                for member in tar:
                    if visit(tar, member):
                        return
        finally:
            pipe.reader_done.set()

    consumer = asyncio.ensure_future(asyncio.to_thread(consume))
    try:
        async for chunk in chunks:
            if not pipe.reader_done.is_set():
                await pipe.put(chunk)
            elif consumer.done() and consumer.exception() is not None:
                break  # the parser failed: no point reading the rest
            # else: keep reading so the source checks the whole layer against its digest
        await pipe.put(None)
    except BaseException:
        pipe.abort()
        await asyncio.gather(consumer, return_exceptions=True)
        raise
    try:
        await consumer
    except MirrorError:
        raise
    # TypeError: CPython's stream reader raises it for a gzip header cut short (ord() of b"" in
    # _init_read_gz) — the fuzzer found b"\x1f\x8b\x08"; it is a broken layer, not our bug.
    except (tarfile.TarError, EOFError, zlib.error, TypeError, _SourceFailed) as exc:
        reason = "its gzip header is cut short" if isinstance(exc, TypeError) else (exc or type(exc).__name__)
        raise ReleaseError(f"{where} is not a readable tar layer ({reason})") from None
    except OSError as exc:  # gzip.BadGzipFile and friends
        raise ReleaseError(f"{where} is not a readable tar layer ({exc})") from None


def member_path(member: tarfile.TarInfo) -> str:
    """``./usr/bin/oc`` and ``/usr/bin/oc`` both as ``usr/bin/oc``."""
    name = member.name
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


def read_members(wanted: set[str], found: dict[str, bytes], *, limit: int = 32 << 20) -> Visitor:
    """A visitor keeping the bytes of small files (metadata) whose path is in ``wanted``."""

    def visit(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bool:
        path = member_path(member)
        if path in wanted and path not in found and member.isfile():
            if member.size > limit:
                raise ReleaseError(f"{path} is {member.size} bytes; refusing to read more than {limit} into memory")
            handle = tar.extractfile(member)
            found[path] = handle.read() if handle is not None else b""
        return wanted.issubset(found)

    return visit


def write_member(wanted: str, target_tmp: Path, result: dict[str, int | str]) -> Visitor:
    """A visitor streaming the file ``wanted`` to ``target_tmp`` (mode 0755), reading the whole layer.

    A layer may hold one path twice; a container sees the LAST entry (later entries overwrite earlier
    ones as the tar unpacks), so each later entry replaces what an earlier one wrote. Afterwards
    ``result`` has ``size`` when the last entry is a regular file, ``link`` when it is a link, nothing
    when the layer does not hold the path (or its last entry is a folder). ``target_tmp`` is created
    ``O_EXCL | O_NOFOLLOW``: a file or link planted at that name is refused, never written through.
    The caller closes ``result["fd"]`` (see :func:`extract_file`)."""

    # What hides the path in the layers below (the OCI layer spec's whiteouts): ".wh.NAME" beside it or
    # beside any folder above it, or an opaque marker in any folder above it.
    parts = wanted.split("/")
    hiding: set[str] = {".wh..wh..opq"}
    for depth in range(1, len(parts) + 1):
        parent = "/".join(parts[:depth - 1])
        hiding.add(f"{parent}/.wh.{parts[depth - 1]}" if parent else f".wh.{parts[depth - 1]}")
        if depth < len(parts):
            hiding.add("/".join(parts[:depth]) + "/.wh..wh..opq")

    def visit(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bool:
        path = member_path(member)
        if path in hiding:
            result["whiteout"] = path
            return False
        if path != wanted:
            return False
        result.pop("size", None)
        result.pop("link", None)
        if member.issym() or member.islnk():
            result["link"] = member.linkname
            return False
        if not member.isfile():
            return False
        handle = tar.extractfile(member)
        try:
            if "fd" not in result:
                result["fd"] = os.open(target_tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                                       0o700)
            fd = int(result["fd"])
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            if handle is not None:
                while block := handle.read(1 << 20):
                    view = memoryview(block)
                    while view:
                        view = view[os.write(fd, view):]
        except OSError as exc:
            raise LocalStorageError(f"cannot write {target_tmp.parent / wanted.rsplit('/', 1)[-1]}: "
                                    f"{exc.strerror or exc}") from None
        result["size"] = member.size
        return False  # a later entry for the same path may follow: read on

    return visit


async def extract_file(chunks: AsyncIterator[bytes], wanted: str, target_tmp: Path, *, where: str) -> int | None:
    """Write the file ``wanted`` as this layer leaves it (its last entry) to ``target_tmp``, mode 0755.

    Returns its size, or None when the layer does not hold it (``target_tmp`` is then not created). A
    link there is an error naming its target: extract that path instead. A whiteout of the path (the
    layer deletes it from the layers below) is an error too: a container would not see the file."""
    result: dict[str, int | str] = {}
    try:
        await scan_tar(chunks, write_member(wanted, target_tmp, result), where=where)
        if "link" in result:
            raise ReleaseError(f"{wanted} in the image is a link to {result['link']}; extract that path instead")
        if "size" not in result:
            if "whiteout" in result:
                raise ReleaseError(f"{where} deletes /{wanted} ({result['whiteout']}): the image has no such file")
            return None
        fd = int(result["fd"])
        try:
            os.fchmod(fd, 0o755)
            os.fsync(fd)
        except OSError as exc:
            raise LocalStorageError(f"cannot write {target_tmp}: {exc.strerror or exc}") from None
        return int(result["size"])
    finally:
        if "fd" in result:
            os.close(int(result["fd"]))
            if "size" not in result or "link" in result:
                target_tmp.unlink(missing_ok=True)


# The installer (and oc) carry padded placeholders that `oc adm release extract` overwrites with the
# release they came from, so the binary installs exactly that release. The name is split so that a
# search of our own files never finds a marker.
_MARKER_NAMES = {"image": b"_RELEASE_IMAGE" b"_LOCATION_", "version": b"_RELEASE_VERSION" b"_LOCATION_"}
_MARKER_MAX = 4096
_SCAN_BLOCK = 8 << 20


def _marker_pattern(name: bytes) -> re.Pattern[bytes]:
    return re.compile(rb"\x00" + re.escape(name) + rb"\x00X+\x00")


def stamp_release(path: Path, *, image: str, version: str) -> list[str]:
    """Overwrite the release placeholders in the binary at ``path``, as ``oc adm release extract`` does.

    Each value is written NUL-terminated over the start of its marker; the file size never changes.
    Returns which placeholders were stamped (none for a binary that has no markers).
    """
    values = {"image": image.encode(), "version": version.encode()}
    patterns = {key: _marker_pattern(name) for key, name in _MARKER_NAMES.items()}
    found: dict[str, tuple[int, int]] = {}
    with open(path, "rb") as handle:
        offset, tail = 0, b""
        while len(found) < len(patterns):
            block = handle.read(_SCAN_BLOCK)
            if not block:
                break
            window = tail + block
            base = offset - len(tail)
            for key, pattern in patterns.items():
                if key not in found and (match := pattern.search(window)):
                    found[key] = (base + match.start(), match.end() - match.start())
            offset += len(block)
            tail = window[-_MARKER_MAX:]  # a marker may straddle two blocks
    stamped = []
    with open(path, "r+b") as handle:
        for key, (at, length) in sorted(found.items()):
            value = values[key] + b"\x00"
            if len(value) > length:
                raise ReleaseError(f"the {key} {values[key].decode()!r} is longer than the {length - 1} "
                                   f"characters the binary has room for")
            handle.seek(at)
            handle.write(value)
            stamped.append(key)
        handle.flush()
        os.fsync(handle.fileno())
    return stamped


__all__ = ["extract_file", "member_path", "read_members", "scan_tar", "stamp_release", "write_member"]
