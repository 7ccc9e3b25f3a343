"""Paths and files on a hostile medium: every path stays inside the bundle, no link is followed, reads are bounded."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import BundleError
from ..fsio import atomic_stream
from ..text import human_bytes
from ..userfiles import parse_json  # the one JSON reader: deep nesting is an error, not a crash
from .model import CHUNK, MAX_FILES, MAX_LIST_BYTES, MAX_VOLUMES, OS_JUNK

# -- paths on a hostile medium -----------------------------------------------------------------------

def safe_relpath(text: str) -> str:
    """A path read from the medium, accepted only as a plain relative path below the bundle's root."""
    if not text or len(text) > 4096 or "\x00" in text or "\\" in text or "\n" in text or "\r" in text:
        raise ValueError("not a plain relative path")
    path = PurePosixPath(text)
    if path.is_absolute() or text.startswith("/"):
        raise ValueError("an absolute path")
    parts = path.parts
    if not parts or any(p in ("..", ".", "") for p in parts) or str(path) != text.removeprefix("./"):
        raise ValueError("a path leaving the bundle or not in normal form")
    return str(path)


def lstat_inside(root: Path, rel: str) -> os.stat_result | None:
    """lstat of ``root/rel`` where no component below root may be a symbolic link; None when absent.
    ValueError when a link (or a non-directory) stands in the way."""
    current = root
    parts = PurePosixPath(rel).parts
    for number, part in enumerate(parts):
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            raise ValueError("a file stands where a directory should be") from None
        if stat.S_ISLNK(st.st_mode):
            raise ValueError("is a symbolic link (a bundle holds none)" if number == len(parts) - 1
                             else f"{'/'.join(parts[:number + 1])} is a symbolic link (a bundle holds none)")
        if number < len(parts) - 1 and not stat.S_ISDIR(st.st_mode):
            raise ValueError(f"{'/'.join(parts[:number + 1])} is not a directory")
    return st


def _open_nofollow(path: Path) -> int:
    return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)


def hash_file(path: Path) -> tuple[str, int]:
    """(sha256 hex, size) of a regular file, never through a symbolic link."""
    fd = _open_nofollow(path)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        hasher = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "rb", closefd=False) as handle:
            while chunk := handle.read(CHUNK):
                hasher.update(chunk)
                size += len(chunk)
        return hasher.hexdigest(), size
    finally:
        os.close(fd)


def read_bounded(path: Path, limit: int, what: str) -> bytes:
    """A whole small file from the medium: a regular file, not a link, at most ``limit`` bytes."""
    try:
        fd = _open_nofollow(path)
    except FileNotFoundError:
        raise BundleError(f"{path} is missing ({what})") from None
    except OSError as exc:
        raise BundleError(f"cannot read {path} ({what}): {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise BundleError(f"{path} is not a regular file ({what})")
        if st.st_size > limit:
            raise BundleError(f"{path} is {human_bytes(st.st_size)}, more than a {what} can be "
                              f"({human_bytes(limit)})")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise BundleError(f"{path} grew past {human_bytes(limit)} while being read ({what})")
        return data
    finally:
        os.close(fd)


def read_json(path: Path, limit: int, what: str) -> Any:
    return parse_json(read_bounded(path, limit, what), where=f"{path} ({what})", error=BundleError)


@dataclass(frozen=True)
class VolumeList:
    """VOLUMES.json, checked: types, counts within bounds, every path a plain relative one."""
    count: int
    where: dict[str, int]        # path → volume number
    parts: dict[str, int]        # path of a file cut in parts → how many


def _count(value: Any, what: str, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
        raise ValueError(f"{what} must be a whole number from 1 to {limit}, not {str(value)[:40]!r}")
    return value


def read_volume_list(path: Path) -> VolumeList:
    """The volume map every volume carries; BundleError (one line) when it is not one we wrote."""
    data = read_json(path, MAX_LIST_BYTES, "volume list")
    try:
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        count = _count(data.get("count"), "count", MAX_VOLUMES)
        volumes, parts = data.get("volumes"), data.get("parts") or {}
        if not isinstance(volumes, dict) or not isinstance(parts, dict):
            raise ValueError("volumes and parts must be JSON objects")
        where: dict[str, int] = {}
        for number, paths in volumes.items():
            if not isinstance(number, str) or not number.isdecimal():
                raise ValueError(f"volume {str(number)[:40]!r} is not a number")
            if not isinstance(paths, list):
                raise ValueError(f"volume {number}'s files are not a list")
            volume = _count(int(number), "a volume number", count)
            for rel in paths:
                if not isinstance(rel, str):
                    raise ValueError(f"volume {number} names a file that is not text")
                where[safe_relpath(rel)] = volume
        cut: dict[str, int] = {}
        for rel, pieces in parts.items():
            cut[safe_relpath(str(rel))] = _count(pieces, f"the part count of {str(rel)[:80]}", count)
    except ValueError as exc:
        raise BundleError(f"{path} is not a volume list written by mirror-wizard: {exc}") from None
    return VolumeList(count, where, cut)


def walk_files(root: Path) -> Iterable[tuple[str, os.stat_result]]:
    """Every non-directory entry below root as (relative posix path, lstat), links included, never
    followed; OS junk folders skipped."""
    stack = [root]
    count = 0
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            raise BundleError(f"cannot list {folder}: {exc.strerror or exc}") from None
        for entry in entries:
            if entry.name in OS_JUNK:
                continue
            st = entry.stat(follow_symlinks=False)
            rel = Path(entry.path).relative_to(root).as_posix()
            if stat.S_ISDIR(st.st_mode):
                stack.append(Path(entry.path))
                continue
            count += 1
            if count > MAX_FILES:
                raise BundleError(f"{root} holds more than {MAX_FILES} files; that is not a bundle")
            yield rel, st


def copy_nofollow(sources: list[Path], destination: Path) -> None:
    """Concatenate ``sources`` (regular files, never read through a link) into ``destination``, through
    the one temporary-file helper (random name, ``O_EXCL | O_NOFOLLOW``, then renamed): a link planted
    beside the destination is never written through, and an interrupted copy leaves nothing behind."""
    with atomic_stream(destination, hint="copy the volume into a folder you can write to") as out:
        for source in sources:
            try:
                fd = _open_nofollow(source)
            except OSError as exc:
                raise BundleError(f"cannot read {source}: {exc.strerror or exc} (a volume holds no links)") from None
            with os.fdopen(fd, "rb") as piece:
                if not stat.S_ISREG(os.fstat(piece.fileno()).st_mode):
                    raise BundleError(f"{source} is not a regular file")
                shutil.copyfileobj(piece, out, CHUNK)


