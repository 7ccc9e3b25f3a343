"""The one way mirror-wizard writes a whole file: atomically, exclusively, never through a planted link.

A reader (oc, the admin, a second run) sees the old file or the new one, never half of one. The
temporary file is created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` under a random name in the target's
own directory, so a symlink planted at a predictable name is refused rather than followed, and the file
never exists with wider rights than ``mode``. Any failure is one :class:`LocalStorageError` naming the
path, and the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from core.errors import LocalStorageError

#: Files that hold a secret (auth files) or that only their owner should change.
PRIVATE = 0o600
#: Documents for people and for oc (YAML, runbooks, CA bundles): nothing secret in them.
PUBLIC = 0o644


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems (tmpfs on old kernels, FUSE) refuse a directory fsync
    finally:
        os.close(fd)


def _temp_beside(target: Path, mode: int) -> tuple[int, Path]:
    """A new temporary file beside ``target``: random name, ``O_EXCL | O_NOFOLLOW``, exactly ``mode``."""
    folder = target.parent if str(target.parent) else Path(".")
    tmp = folder / f".{target.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have narrowed it; we want exactly `mode`
    except OSError:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    return fd, tmp


@contextlib.contextmanager
def atomic_stream(path: str | os.PathLike[str], *, mode: int = PUBLIC, hint: str | None = None) -> Iterator[BinaryIO]:
    """:func:`atomic_write` for content too large to hold in memory: write to the yielded file; when the
    block ends without an error the file replaces ``path`` (fsynced), otherwise it is removed and
    ``path`` is untouched. The same temporary file rules: random name, ``O_EXCL | O_NOFOLLOW``, ``mode``."""
    target = Path(path)
    suffix = f"; {hint}" if hint else ""
    try:
        if target.is_dir():
            raise LocalStorageError(f"cannot write {target}: it is a directory")
        fd, tmp = _temp_beside(target, mode)
    except OSError as exc:
        raise LocalStorageError(f"cannot write {target}: {exc.strerror or exc}{suffix}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent if str(target.parent) else Path("."))
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise LocalStorageError(f"cannot write {target}: {exc.strerror or exc}{suffix}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike[str], data: bytes | str, *, mode: int = PUBLIC,
                 make_parents: bool = True, hint: str | None = None) -> Path:
    """Write ``data`` to ``path`` atomically with permission ``mode``; returns ``path``.

    ``path`` itself may be a symlink the admin made on purpose: ``os.replace`` then replaces the link
    with a regular file, it never writes into the link's target (callers that must keep a link resolve
    it first, under the kernel's protected-symlink rules). ``hint`` is appended to the error message
    ("choose a folder you can write to").
    """
    target = Path(path)
    body = data.encode("utf-8") if isinstance(data, str) else data
    folder = target.parent if str(target.parent) else Path(".")
    tmp: Path | None = None  # ours once made: only then is there anything to remove
    fd: int | None = None
    try:
        if make_parents:
            folder.mkdir(parents=True, exist_ok=True)
        if target.is_dir():
            raise LocalStorageError(f"cannot write {target}: it is a directory")
        fd, tmp = _temp_beside(target, mode)
        view = memoryview(body)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
        os.close(fd)
        fd = None
        os.replace(tmp, target)
        _fsync_dir(folder)
    except OSError as exc:
        if fd is not None:
            os.close(fd)
        with contextlib.suppress(OSError):  # the folder may not even exist
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        suffix = f"; {hint}" if hint else ""
        raise LocalStorageError(f"cannot write {target}: {exc.strerror or exc}{suffix}") from None
    except BaseException:
        if fd is not None:
            os.close(fd)
        with contextlib.suppress(OSError):  # the folder may not even exist
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        raise
    return target


def user_folder(override: str, xdg: str, fallback: str) -> Path:
    """A per-user folder of ours: ``$override`` when set, else ``$xdg/mirror-wizard``, else
    ``~/fallback/mirror-wizard`` (the XDG base directory convention; cache and config both follow it)."""
    explicit = os.environ.get(override)
    if explicit:
        return Path(explicit)
    return Path(os.environ.get(xdg) or str(Path.home() / fallback)) / "mirror-wizard"
