"""Volumes: a bundle cut into numbered folders none larger than a medium, and joined back."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import BundleError, InputError, LocalStorageError
from ..fsio import atomic_write
from ..text import human_bytes
from .files import copy_nofollow, lstat_inside, read_bounded, read_json, read_volume_list, safe_relpath, walk_files
from .model import (
    BIN_DIR,
    BUNDLE_FILE,
    CHUNK,
    CLUSTER_DIR,
    MAX_LIST_BYTES,
    PLAN_FILE,
    README_FILE,
    SIZES_FILE,
    SUMS_FILE,
    SUMS_SIG_FILE,
    VOLUME_MARKER,
    VOLUMES_FILE,
    WHEELHOUSE,
    Message,
)
from .sums import parse_sizes, parse_sums
from .wheelhouse import link_or_copy

# -- volumes ------------------------------------------------------------------------------------------

@dataclass
class _Piece:
    path: str              # the bundle file
    size: int
    part: int = 0          # 1-based part number when the file is cut (0: whole)
    parts: int = 0
    offset: int = 0

    @property
    def name(self) -> str:
        return self.path if not self.part else f"{self.path}.part-{self.part:03d}-of-{self.parts:03d}"


def _volume_dir_name(number: int, count: int) -> str:
    return f"volume-{number:02d}-of-{count:02d}"


def _first_volume_order(rel: str) -> int:
    """What the far side needs before anything else goes into volume 1: how to start."""
    if rel in (README_FILE, PLAN_FILE, BUNDLE_FILE, "oci-layout", "index.json") or rel.startswith(
            (WHEELHOUSE + "/", BIN_DIR + "/", CLUSTER_DIR + "/")):
        return 0
    return 1


def split_volumes(directory: str | os.PathLike[str], max_size: int, out: str | os.PathLike[str]) -> list[Path]:
    """Cut the finished bundle in ``directory`` into ``out/volume-NN-of-MM`` directories, each at most
    ``max_size`` bytes. A file is cut into parts only when it alone is larger than a volume can hold.
    Files are hard-linked when possible (no second copy on the connected host's disk)."""
    directory, out = Path(directory), Path(out)
    sums_data = read_bounded(directory / SUMS_FILE, MAX_LIST_BYTES, "checksum list")
    sums, problems = parse_sums(sums_data)
    if problems:
        raise BundleError(f"{directory / SUMS_FILE}: {problems[0].message}")
    sizes_data = read_bounded(directory / SIZES_FILE, MAX_LIST_BYTES, "size list")
    sizes = parse_sizes(sizes_data)
    # Every volume carries the lists (so any one can be checked alone) and the volume map.
    map_estimate = sum(len(p) + 8 for p in sums) + 4096
    overhead = len(sums_data) + len(sizes_data) + map_estimate + 64 * 1024
    capacity = max_size - overhead
    if capacity < max(1 << 20, max_size // 8):
        raise InputError(f"--max-medium-size {human_bytes(max_size)} is too small for this bundle: each volume "
                         f"also carries its file lists ({human_bytes(overhead)})")
    pieces: list[_Piece] = []
    for rel in sums:
        size = sizes.get(rel)
        if size is None:
            size = os.lstat(directory / rel).st_size
        if size > capacity:
            count = -(-size // capacity)
            for number in range(count):
                offset = number * capacity
                pieces.append(_Piece(rel, min(capacity, size - offset), number + 1, count, offset))
        else:
            pieces.append(_Piece(rel, size))
    # First fit, largest first, after the pieces volume 1 must hold.
    pieces.sort(key=lambda p: (_first_volume_order(p.path), -p.size, p.name))
    volumes: list[list[_Piece]] = []
    free: list[int] = []
    for piece in pieces:
        for number, room in enumerate(free):
            if piece.size <= room:
                volumes[number].append(piece)
                free[number] -= piece.size
                break
        else:
            volumes.append([piece])
            free.append(capacity - piece.size)
    count = len(volumes)
    volume_map = {str(n + 1): sorted({p.path for p in v}) for n, v in enumerate(volumes)}
    listing = json.dumps({"kind": "mirror-wizard-volumes", "count": count, "volumes": volume_map,
                          "parts": {p.path: p.parts for v in volumes for p in v if p.part}}, indent=0) + "\n"
    try:
        if out.exists():
            for old in out.iterdir():
                if old.is_dir() and re.fullmatch(r"volume-\d+-of-\d+", old.name):
                    shutil.rmtree(old)
        out.mkdir(parents=True, exist_ok=True)
        made: list[Path] = []
        for number, members in enumerate(volumes, start=1):
            folder = out / _volume_dir_name(number, count)
            folder.mkdir()
            for piece in members:
                target = folder / piece.name
                if piece.part:
                    _copy_range(directory / piece.path, target, piece.offset, piece.size)
                else:
                    link_or_copy(directory / piece.path, target)
            for name in (SUMS_FILE, SIZES_FILE, SUMS_SIG_FILE):
                if name != SUMS_SIG_FILE or (directory / name).exists():  # every volume can be checked alone
                    link_or_copy(directory / name, folder / name)
            atomic_write(folder / VOLUMES_FILE, listing)
            marker = {"kind": "mirror-wizard-volume", "number": number, "count": count,
                      "files": [{"path": p.name, "size": p.size} for p in members]}
            atomic_write(folder / f"VOLUME-{number:02d}-of-{count:02d}.json", json.dumps(marker, indent=0) + "\n")
            made.append(folder)
    except OSError as exc:
        raise LocalStorageError(f"cannot write volumes into {out}: {exc.strerror or exc}") from None
    for folder in made:
        used = sum(st.st_size for _, st in walk_files(folder))
        if used > max_size:  # the estimate above is generous; this is the promise itself
            raise BundleError(f"{folder} came out at {human_bytes(used)}, above {human_bytes(max_size)}; "
                              "choose a slightly larger --max-medium-size")
    return made


def _copy_range(source: Path, target: Path, offset: int, size: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as src, open(target, "wb") as dst:
        src.seek(offset)
        left = size
        while left:
            chunk = src.read(min(CHUNK, left))
            if not chunk:
                raise LocalStorageError(f"{source} is shorter than its size in SIZES")
            dst.write(chunk)
            left -= len(chunk)


def join_volumes(target: str | os.PathLike[str], volumes: Iterable[str | os.PathLike[str]],
                 on_message: Message | None = None) -> list[str]:
    """Copy volumes into ``target`` (any order, any number at a time), then put together every file whose
    parts have all arrived. Only paths the volume's own list names are copied, and only regular files.
    Returns what is still missing, as verify would name it (empty when every volume is in)."""
    target = Path(target)
    say = on_message or (lambda text: None)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LocalStorageError(f"cannot create {target}: {exc.strerror or exc}") from None
    for volume in map(Path, volumes):
        markers = [p for p in (volume.iterdir() if volume.is_dir() else []) if VOLUME_MARKER.fullmatch(p.name)]
        if len(markers) != 1:
            raise BundleError(f"{volume} is not a mirror-wizard volume (no single VOLUME-NN-of-MM.json in it)")
        marker = read_json(markers[0], MAX_LIST_BYTES, "volume marker")
        try:
            files = [(safe_relpath(str(f["path"])), int(f["size"])) for f in marker["files"]]
        except (KeyError, TypeError, ValueError):
            raise BundleError(f"{markers[0]} is not a volume marker written by mirror-wizard") from None
        lists = [SUMS_FILE, SIZES_FILE, VOLUMES_FILE, markers[0].name]
        if (volume / SUMS_SIG_FILE).exists() or (volume / SUMS_SIG_FILE).is_symlink():
            lists.append(SUMS_SIG_FILE)  # refused below if it is a link
        for rel, size in files + [(n, -1) for n in lists]:
            try:
                st = lstat_inside(volume, rel)
            except ValueError as exc:
                raise BundleError(f"{volume}/{rel} {exc}") from None
            if st is None or not stat.S_ISREG(st.st_mode):
                raise BundleError(f"{volume}/{rel} is missing from the volume; copy the volume again")
            if size >= 0 and st.st_size != size:
                raise BundleError(f"{volume}/{rel} is {st.st_size} bytes, the volume says {size}; copy it again")
            destination = target / rel
            try:
                if lstat_inside(target, rel) is not None and destination.stat().st_size == st.st_size and size >= 0:
                    continue  # copied from an earlier medium already
            except ValueError as exc:
                raise BundleError(f"{target}/{rel} {exc}") from None
            try:
                destination.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LocalStorageError(f"cannot create {destination.parent}: {exc.strerror or exc}") from None
            copy_nofollow([volume / rel], destination)
        say(f"copied {volume.name}")
    return _assemble_parts(target, say)


def _assemble_parts(target: Path, say: Message) -> list[str]:
    listing_path = target / VOLUMES_FILE
    if not listing_path.exists():
        return []
    listing = read_volume_list(listing_path)
    waiting: list[str] = []
    for rel, count in listing.parts.items():
        names = [f"{rel}.part-{n:03d}-of-{count:03d}" for n in range(1, count + 1)]
        try:
            whole = lstat_inside(target, rel)
            if whole is not None and not any(lstat_inside(target, n) is not None for n in names):
                continue
            absent = [n for n in names if lstat_inside(target, n) is None]
        except ValueError as exc:
            raise BundleError(f"{target}/{rel}: {exc}") from None
        if absent:
            waiting.append(f"{rel}: {len(absent)} of {count} parts still to come")
            continue
        copy_nofollow([target / name for name in names], target / rel)
        for name in names:
            (target / name).unlink()
        say(f"joined {rel} from {count} parts")
    return waiting
