"""SHA256SUMS and SIZES: parsed (bounded, hostile), written last (a bundle without them is unfinished)."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import BundleError, LocalStorageError
from ..fsio import atomic_write
from .files import hash_file, safe_relpath, walk_files
from .model import HASH_THREADS, META_FILES, SIZES_FILE, SUMS_FILE, SUMS_SIG_FILE, VOLUME_MARKER, Problem

# -- SHA256SUMS and SIZES ----------------------------------------------------------------------------

_SUM_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")
_SIZE_LINE = re.compile(r"^(\d{1,20}) {2}(.+)$")


def parse_sums(data: bytes, where: str = SUMS_FILE) -> tuple[dict[str, str], list[Problem]]:
    """SHA256SUMS as ``sha256sum`` writes it → ({path: hex}, problems with lines that are not)."""
    sums: dict[str, str] = {}
    problems: list[Problem] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {}, [Problem(where, "is not UTF-8 text")]
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _SUM_LINE.match(line)
        if not match:
            problems.append(Problem(where, f"line {number} is not 'SHA256  PATH'"))
            continue
        digest, raw_path = match.groups()
        try:
            path = safe_relpath(raw_path)
        except ValueError as exc:
            problems.append(Problem(where, f"line {number} names {raw_path[:200]!r}, {exc}; refused"))
            continue
        if path in sums:
            problems.append(Problem(where, f"line {number} lists {path} a second time"))
            continue
        sums[path] = digest
    return sums, problems


def parse_sizes(data: bytes) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        match = _SIZE_LINE.match(line)
        if match:
            try:
                sizes[safe_relpath(match.group(2))] = int(match.group(1))
            except ValueError:
                continue
    return sizes


def hash_all(root: Path, paths: list[str], on_progress: Callable[[int], None] | None = None
              ) -> dict[str, tuple[str, int] | Exception]:
    """Hash many files at once: hashlib releases the GIL, and media are often faster than one core."""
    def one(rel: str) -> tuple[str, tuple[str, int] | Exception]:
        try:
            result: tuple[str, int] | Exception = hash_file(root / rel)
        except OSError as exc:
            result = exc
        if on_progress is not None and not isinstance(result, Exception):
            on_progress(result[1])
        return rel, result

    with ThreadPoolExecutor(max_workers=HASH_THREADS) as pool:
        return dict(pool.map(one, paths))


def write_sums(directory: Path, *, exclude: Iterable[str] = ()) -> tuple[int, int]:
    """Hash every file of the bundle and write SIZES, then SHA256SUMS (last, atomically): until then
    the bundle is visibly unfinished. Returns (files, bytes). A blob whose bytes do not match its name
    is refused here, so a damaged layout never gets a manifest that vouches for it."""
    skipped = set(exclude) | META_FILES
    files: list[str] = []
    for rel, st in walk_files(directory):
        name = rel.rsplit("/", 1)[-1]
        if rel in skipped or VOLUME_MARKER.fullmatch(rel) or name.startswith("."):
            continue  # temporary files of an interrupted write are not part of the bundle
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
            raise BundleError(f"{directory / rel} is not a regular file; a bundle holds only files")
        files.append(rel)
    files.sort()
    hashed = hash_all(directory, files)
    sums_lines, size_lines, total = [], [], 0
    for rel in files:
        result = hashed[rel]
        if isinstance(result, Exception):
            raise LocalStorageError(f"cannot read {directory / rel}: {result}")
        digest, size = result
        if rel.startswith("blobs/sha256/") and rel.count("/") == 2 and digest != rel.rsplit("/", 1)[1]:
            raise BundleError(f"{directory / rel} does not match its digest (damaged on this disk); "
                              "run the same --to-dir command again to write it anew")
        sums_lines.append(f"{digest}  {rel}\n")
        size_lines.append(f"{size}  {rel}\n")
        total += size
    atomic_write(directory / SIZES_FILE, "".join(size_lines))
    atomic_write(directory / SUMS_FILE, "".join(sums_lines))
    return len(files), total


def begin_bundle(directory: str | os.PathLike[str]) -> None:
    """Before a to-dir copy changes DIR: take SHA256SUMS away, so a copy interrupted from here on
    leaves a bundle that says it is unfinished rather than one whose list no longer matches."""
    for name in (SUMS_FILE, SIZES_FILE, SUMS_SIG_FILE):
        try:
            os.unlink(Path(directory) / name)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise LocalStorageError(f"cannot update {Path(directory) / name}: {exc.strerror or exc}") from None


