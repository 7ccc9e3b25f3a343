"""The removable-media bundle: everything the disconnected side needs, and the proof it arrived intact.

A to-dir run writes an OCI layout into DIR; :func:`write_bundle` then adds, around that layout:

    bin/openshift-install, bin/oc   extracted from the release, stamped like ``oc adm release extract``
    wheelhouse/                     mirror-wizard and every dependency as wheels, for an offline pip
    plan.yaml                       the far side's plan: from-dir, paths relative to DIR
    cluster/                        the cluster YAML Done writes, and the far side's runbook
    samples/, config/               the image stream files and the mirror CA the plan names
    signatures/                     release signatures (filled by a callback: core.signatures)
    bundle.json                     what the bundle holds: images, every blob they need, its base
    README.txt                      the far side's steps, starting with the one-line offline install
    SIZES, SHA256SUMS               written last: a bundle without SHA256SUMS is unfinished

``media verify`` (:func:`verify_bundle`) checks all of it: every listed file present with its hash,
nothing unlisted that matters, every blob of the layout against its digest, every image's manifest
graph complete. The medium is hostile: every path read from it must stay inside DIR, every file read
whole is bounded, and no symbolic link is followed.

Volumes (:func:`split_volumes`) cut a bundle into numbered directories none larger than a medium;
copying them back into one directory in any order (or :func:`join_volumes`) gives the bundle again,
and verify names any volume that did not arrive. An incremental bundle (``since``) leaves out the
layers a previous bundle already carried; before uploading, the far side checks its registry holds
them (:func:`check_base_in_registry`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from .errors import BundleError, InputError, LocalStorageError, MirrorError
from .fsio import atomic_stream, atomic_write
from .layout import REF_NAME
from .manifest import Manifest
from .text import human_bytes, plural, shell_quote

if TYPE_CHECKING:
    from .registry import RegistrySession
    from .release import ReleaseInfo

BUNDLE_KIND = "mirror-wizard-bundle"
BUNDLE_VERSION = 1
BUNDLE_FILE = "bundle.json"
SUMS_FILE = "SHA256SUMS"
SIZES_FILE = "SIZES"
README_FILE = "README.txt"
PLAN_FILE = "plan.yaml"
WHEELHOUSE = "wheelhouse"
BIN_DIR = "bin"
CLUSTER_DIR = "cluster"
SIGNATURES_DIR = "signatures"
SAMPLES_DIR = "samples"
CONFIG_DIR = "config"
VOLUMES_FILE = "VOLUMES.json"
VOLUME_MARKER = re.compile(r"VOLUME-(\d{2,4})-of-(\d{2,4})\.json")
PART_SUFFIX = re.compile(r"\.part-(\d{3,5})-of-(\d{3,5})$")
PACKAGE = "mirror-wizard"
# The far side's mirror registry when the connected side was not told it: the plan says to edit it.
PLACEHOLDER_TARGET = "mirror.example.com:8443/ocp4/openshift4"

# Bounds on what is read whole from the medium (everything else is streamed).
MAX_LIST_BYTES = 256 << 20      # SHA256SUMS, SIZES, VOLUMES.json
MAX_JSON_BYTES = 64 << 20       # bundle.json, index.json
MAX_MANIFEST_BYTES = 4 << 20    # one image manifest
MAX_FILES = 1_000_000
# Volume and part counts: VOLUME_MARKER and PART_SUFFIX allow four and five digits, and a file is never
# cut into more parts than there are volumes. A record claiming more is not one we wrote (and a count
# of millions must not become millions of names, lines or files).
MAX_VOLUMES = 9999
# Missing volumes named one per line, up to this many; the rest are counted in one more line.
MAX_MISSING_SHOWN = 20
CHUNK = 1 << 20
HASH_THREADS = 4
PIP_TIMEOUT = 900
# Written only by the medium's own file system: never part of a bundle, never a problem.
OS_JUNK = frozenset({".DS_Store", "System Volume Information", "$RECYCLE.BIN", ".Trashes", ".Spotlight-V100",
                     ".fseventsd", "lost+found", ".TemporaryItems", "Thumbs.db", "desktop.ini"})
# SHA256SUMS' detached signature (core.bundle_sign): written after SHA256SUMS, so never listed in it.
SUMS_SIG_FILE = "SHA256SUMS.sig"
# Files that describe the bundle or its volumes: checked on their own terms, never listed in SHA256SUMS.
META_FILES = frozenset({SUMS_FILE, SIZES_FILE, VOLUMES_FILE, SUMS_SIG_FILE})

Message = Callable[[str], None]
SignatureWriter = Callable[[Path], Iterable[Path]]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One finding of :func:`verify_bundle`: a path inside the bundle and what is wrong with it."""

    path: str
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        prefix = "" if self.severity is Severity.ERROR else "warning: "
        return f"{prefix}{self.path}: {self.message}"


@dataclass
class VerifyReport:
    directory: Path
    problems: list[Problem] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    images: int = 0
    blobs: int = 0
    omitted: int = 0          # blobs an incremental bundle leaves to the far side's registry
    volumes: tuple[int, int] | None = None  # (arrived, of) when the bundle came in volumes
    # The key that signed SHA256SUMS, when --signer was given and it checked; None: origin not checked.
    signed_by: str | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, path: str, message: str, severity: Severity = Severity.ERROR) -> None:
        self.problems.append(Problem(path, message, severity))

    def summary(self) -> str:
        if self.ok:
            extra = f", {self.omitted} blobs left to the base bundle" if self.omitted else ""
            origin = (f"; signed by {self.signed_by}" if self.signed_by else
                      "; its origin is NOT checked (SHA256SUMS can be rewritten by whoever wrote the medium): "
                      "give --signer FINGERPRINT, printed when the bundle was written")
            return (f"bundle {self.directory} is complete: {plural(self.files, 'file')} "
                    f"({human_bytes(self.bytes)}), {plural(self.images, 'image')}, {plural(self.blobs, 'blob')} "
                    f"checked against their digests{extra}{origin}")
        return f"bundle {self.directory} has {plural(len(self.errors), 'problem')}"


@dataclass
class BundleOptions:
    """How the bundle is written. Every field has a working default."""

    target: str | None = None               # the far side's mirror repository (for plan and cluster YAML)
    to_release_image: str | None = None
    max_medium_size: int | None = None      # split into volumes none larger than this
    volumes_dir: Path | None = None         # where volumes go (default: DIR.volumes beside DIR)
    since: Path | None = None               # a previous bundle's bundle.json (or its directory)
    wheelhouse: Path | None = None          # use these wheels instead of running pip
    include_wheelhouse: bool = True         # False: no wheels (the far host installs mirror-wizard otherwise)
    wheel_python: str | None = None         # the far host's Python (X.Y); default: this one
    wheel_platforms: tuple[str, ...] = ()   # the far host's platform tags; default: this one
    signatures: SignatureWriter | None = None  # fills DIR/signatures (core.signatures, day 2)
    extract: bool = True                    # openshift-install and oc into bin/
    sign_key: Path | None = None            # signs SHA256SUMS; default: this host's key (core.bundle_sign)


@dataclass
class BundleResult:
    directory: Path
    files: int
    bytes: int
    images: int
    blobs: int
    omitted: list[str] = field(default_factory=list)
    volumes: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    wheelhouse: bool = False
    signer: str | None = None               # fingerprint of the key that signed SHA256SUMS
    signer_made: bool = False               # this host's key was made by this run

    def as_dict(self) -> dict[str, Any]:
        return {"directory": str(self.directory), "files": self.files, "bytes": self.bytes, "images": self.images,
                "blobs": self.blobs, "omitted_blobs": len(self.omitted), "volumes": [str(v) for v in self.volumes],
                "wheelhouse": self.wheelhouse, "warnings": self.warnings, "signer": self.signer}


# -- sizes ------------------------------------------------------------------------------------------

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``4G``, ``4GiB``, ``700M``, ``1.5T``, ``123456`` → bytes (binary units: media sizes are read
    with ``df -h``, which counts in powers of 1024; a decimal-marked size would only be smaller)."""
    match = _SIZE.match(str(text))
    if not match:
        raise InputError(f"size {text!r}: give a number with an optional unit, e.g. 4G, 700M or 64GiB")
    number, unit = float(match.group(1)), match.group(2).upper()
    value = int(number * (1024 ** " KMGT".index(unit or " ")))
    if value < 1 << 20:
        raise InputError(f"size {text!r} is smaller than 1 MiB; no medium is that small")
    return value


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


def _lstat_inside(root: Path, rel: str) -> os.stat_result | None:
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


def _read_json(path: Path, limit: int, what: str) -> Any:
    from .userfiles import parse_json  # the one JSON reader: deep nesting is an error, not a crash

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
    data = _read_json(path, MAX_LIST_BYTES, "volume list")
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


def _walk_files(root: Path) -> Iterable[tuple[str, os.stat_result]]:
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


def _hash_all(root: Path, paths: list[str], on_progress: Callable[[int], None] | None = None
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
    for rel, st in _walk_files(directory):
        name = rel.rsplit("/", 1)[-1]
        if rel in skipped or VOLUME_MARKER.fullmatch(rel) or name.startswith("."):
            continue  # temporary files of an interrupted write are not part of the bundle
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
            raise BundleError(f"{directory / rel} is not a regular file; a bundle holds only files")
        files.append(rel)
    files.sort()
    hashed = _hash_all(directory, files)
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


# -- the layout's images ------------------------------------------------------------------------------

@dataclass
class ImageGraph:
    name: str
    digest: str
    manifests: dict[str, int] = field(default_factory=dict)   # digest → size of every manifest blob
    blobs: dict[str, int] = field(default_factory=dict)       # config and layers
    configs: set[str] = field(default_factory=set)


def layout_images(directory: Path, *, where: str = "") -> tuple[list[ImageGraph], list[Problem]]:
    """Every named image of the layout with its whole manifest graph, as far as it can be read."""
    problems: list[Problem] = []
    index = _read_json(directory / "index.json", MAX_JSON_BYTES, "OCI index")
    entries = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(entries, list):
        return [], [Problem("index.json", "is not an OCI image index")]
    images: list[ImageGraph] = []
    for number, item in enumerate(entries):
        if not isinstance(item, dict):
            problems.append(Problem("index.json", f"entry {number} is not an object"))
            continue
        name = (item.get("annotations") or {}).get(REF_NAME) if isinstance(item.get("annotations"), dict) else None
        digest = item.get("digest")
        if not isinstance(digest, str) or not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
            problems.append(Problem("index.json", f"entry {number} ({name or 'unnamed'}) has no valid sha256 digest"))
            continue
        graph = ImageGraph(str(name or digest), digest)
        _walk_graph(directory, graph, digest, int(item.get("size") or 0), problems, depth=0)
        images.append(graph)
    return images, problems


def _walk_graph(directory: Path, graph: ImageGraph, digest: str, size: int, problems: list[Problem], *,
                depth: int) -> None:
    graph.manifests[digest] = size
    path = directory / "blobs" / "sha256" / digest.split(":", 1)[1]
    rel = f"blobs/sha256/{digest.split(':', 1)[1]}"
    try:
        raw = read_bounded(path, MAX_MANIFEST_BYTES, "image manifest")
    except BundleError:
        problems.append(Problem(rel, f"manifest {digest} of image {graph.name} is missing or unreadable"))
        return
    if "sha256:" + hashlib.sha256(raw).hexdigest() != digest:
        problems.append(Problem(rel, f"manifest of image {graph.name} is damaged: its bytes do not match {digest}"))
        return
    try:
        manifest = Manifest.parse(raw, None, where=f"{graph.name}@{digest[:19]}")
        children = manifest.children()
        blobs = manifest.blobs()
        config = manifest.config()
    except MirrorError as exc:
        problems.append(Problem(rel, f"manifest of image {graph.name} cannot be used: {exc}"))
        return
    if children and depth > 0:
        problems.append(Problem(rel, f"image {graph.name} nests one index in another; not supported"))
        return
    for child in children:
        _walk_graph(directory, graph, child.digest, child.size, problems, depth=depth + 1)
    for blob in blobs:
        graph.blobs[blob.digest] = blob.size
    if config is not None:
        graph.configs.add(config.digest)


# -- the bundle manifest (bundle.json) ------------------------------------------------------------------

def read_bundle_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A bundle.json (or the bundle directory holding one), checked for shape."""
    path = Path(path)
    if path.is_dir():
        path = path / BUNDLE_FILE
    data = _read_json(path, MAX_JSON_BYTES, "bundle manifest")
    if not isinstance(data, dict) or data.get("kind") != BUNDLE_KIND:
        raise BundleError(f"{path} is not a mirror-wizard bundle manifest (kind {BUNDLE_KIND})")
    if data.get("version") != BUNDLE_VERSION:
        raise BundleError(f"{path} is bundle format {data.get('version')!r}; this mirror-wizard reads {BUNDLE_VERSION}")
    blobs = data.get("blobs")
    if not isinstance(blobs, dict) or not all(isinstance(k, str) and re.fullmatch(r"sha256:[0-9a-f]{64}", k)
                                              and isinstance(v, int) and v >= 0 for k, v in blobs.items()):
        raise BundleError(f"{path}: 'blobs' is not a map of sha256 digests to sizes")
    base = data.get("base")
    if base is not None:
        omitted = base.get("omitted") if isinstance(base, dict) else None
        if not isinstance(omitted, list) or not all(isinstance(d, str) and d in blobs for d in omitted):
            raise BundleError(f"{path}: 'base.omitted' must list digests of the bundle's own blobs")
    return data


def omitted_blobs(directory: Path) -> set[str]:
    """Blobs an incremental bundle left out (its base carried them); empty for a whole bundle."""
    if not (directory / BUNDLE_FILE).exists():
        return set()
    base = read_bundle_manifest(directory).get("base") or {}
    return set(base.get("omitted") or [])


# -- writing a bundle ---------------------------------------------------------------------------------

def _project_root() -> Path | None:
    """The source tree this mirror-wizard runs from, when it runs from one (a checkout, not a wheel)."""
    root = Path(__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    try:
        text = pyproject.read_text(encoding="utf-8")
    except OSError:
        return None
    return root if re.search(r'^name\s*=\s*"mirror-wizard"', text, re.MULTILINE) else None


def _source_files(root: Path) -> list[Path]:
    files = [root / "pyproject.toml"] + ([root / "README.md"] if (root / "README.md").exists() else [])
    for package in ("core", "tui"):
        for path in sorted((root / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and not path.name.endswith((".pyc", ".pyo")):
                files.append(path)
    return files


def cache_dir() -> Path:
    """Where reusable downloads live: $MIRROR_WIZARD_CACHE, else $XDG_CACHE_HOME/mirror-wizard."""
    explicit = os.environ.get("MIRROR_WIZARD_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mirror-wizard"


def _requirements(root: Path) -> list[str]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: pip reads them from the wheel instead
        return []
    with open(root / "pyproject.toml", "rb") as handle:
        data = tomllib.load(handle)
    deps = data.get("project", {}).get("dependencies", [])
    return [str(d) for d in deps]


def _pip(args: list[str], what: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise LocalStorageError(f"{what}: pip took longer than {PIP_TIMEOUT}s") from None
    except OSError as exc:
        raise LocalStorageError(f"{what}: cannot run pip: {exc.strerror or exc}") from None
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).splitlines()
                 if line.strip() and "is ignored: it is neither a file nor a directory" not in line]
        detail = lines[-1].strip() if lines else f"exit code {done.returncode}"
        raise LocalStorageError(f"{what}: pip failed: {detail}")


def _target_flags(options: BundleOptions) -> list[str]:
    flags = ["--only-binary=:all:"]  # the far host may have no compiler: wheels only
    if options.wheel_python:
        flags += ["--python-version", options.wheel_python, "--implementation", "cp"]
    for platform_tag in options.wheel_platforms:
        flags += ["--platform", platform_tag]
    return flags


def build_wheelhouse(target: Path, options: BundleOptions, on_message: Message | None = None) -> list[str]:
    """mirror-wizard and every dependency as wheels into ``target``; returns the wheel file names.

    pip does the work on the connected side (build the project's wheel from this source tree,
    download the dependencies' wheels for the far host's Python). The result is cached by the hash of
    the source and the target, so a second bundle needs no index at all.
    """
    say = on_message or (lambda text: None)
    if options.wheelhouse is not None:
        source_dir = Path(options.wheelhouse)
        wheels = sorted(p for p in source_dir.glob("*.whl") if p.is_file() and not p.is_symlink())
        if not any(p.name.startswith("mirror_wizard-") for p in wheels):
            raise InputError(f"--wheelhouse {source_dir} holds no mirror_wizard-*.whl; give the wheelhouse "
                             "directory of a bundle, or leave the option out to build one with pip")
        return _fill(target, wheels)
    root = _project_root()
    if root is None:
        raise LocalStorageError("this mirror-wizard is installed without its source tree, so it cannot build its "
                                "own wheel; give --wheelhouse DIR (the wheelhouse of the bundle it came from)")
    hasher = hashlib.sha256()
    for path in _source_files(root):
        hasher.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    hasher.update(json.dumps([options.wheel_python, list(options.wheel_platforms), sys.version_info[:2],
                              sys.platform, platform.machine()]).encode())
    cached = cache_dir() / "wheelhouse" / hasher.hexdigest()[:32]
    if (cached / ".complete").is_file():
        say(f"wheelhouse: reusing {cached}")
        return _fill(target, sorted(cached.glob("*.whl")))
    say("wheelhouse: building mirror-wizard's wheel and downloading its dependencies with pip")
    staging_parent = cached.parent
    staging_parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=staging_parent, prefix=".build-") as work:
        work_dir = Path(work)
        source = work_dir / "src"
        wheels_dir = work_dir / "wheels"
        wheels_dir.mkdir()
        for path in _source_files(root):  # a copy: pip's build leaves build/ and *.egg-info beside the source
            copy = source / path.relative_to(root)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, copy)
        requirements = _requirements(root)
        flags = _target_flags(options)
        with ThreadPoolExecutor(max_workers=2) as pool:
            build = pool.submit(_pip, ["wheel", "--no-deps", "--quiet", "-w", str(wheels_dir), str(source)],
                                "building mirror-wizard's wheel")
            download = pool.submit(_pip, ["download", "--quiet", "-d", str(wheels_dir), *flags, *requirements],
                                   "downloading mirror-wizard's dependencies") if requirements else None
            build.result()
            if download is not None:
                download.result()
        if not requirements:  # no tomllib: let pip read the requirements from the wheel it built
            own = next(wheels_dir.glob("mirror_wizard-*.whl"))
            _pip(["download", "--quiet", "-d", str(wheels_dir), *flags, str(own)],
                 "downloading mirror-wizard's dependencies")
        (wheels_dir / ".complete").write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + "\n")
        try:
            os.replace(wheels_dir, cached)
        except OSError:
            if not (cached / ".complete").is_file():  # not another run finishing first: a real failure
                raise
    return _fill(target, sorted(cached.glob("*.whl")))


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        os.link(source, tmp)  # a link's name is exclusive (EEXIST), like O_EXCL
    except OSError:  # another file system, or one without hard links (FAT, exFAT)
        _copy_nofollow([source], target)
        return
    os.replace(tmp, target)


def _fill(target: Path, wheels: list[Path]) -> list[str]:
    """``target`` holds exactly these wheels afterwards (a stale wheel would be installed too)."""
    try:
        target.mkdir(parents=True, exist_ok=True)
        keep = {w.name for w in wheels}
        for existing in target.iterdir():
            if existing.name not in keep:
                if existing.is_dir() and not existing.is_symlink():
                    shutil.rmtree(existing)
                else:
                    existing.unlink()
        for wheel in wheels:  # always replaced: a rebuilt mirror_wizard-0.1.0 wheel keeps its name
            _link_or_copy(wheel, target / wheel.name)
    except OSError as exc:
        raise LocalStorageError(f"cannot fill {target}: {exc.strerror or exc}") from None
    return sorted(keep)


# -- verifying ----------------------------------------------------------------------------------------

def _volume_info(directory: Path, report: VerifyReport) -> dict[str, int]:
    """path → volume number from VOLUMES.json, noting which volumes arrived (their marker files)."""
    path = directory / VOLUMES_FILE
    if not path.exists():
        return {}
    try:
        listing = read_volume_list(path)
    except BundleError as exc:
        report.add(VOLUMES_FILE, "is not a volume list written by mirror-wizard"
                   + (f" ({str(exc).split(': ', 1)[1]})" if ": " in str(exc) else ""))
        return {}
    count, where = listing.count, listing.where
    arrived = set()
    for rel, _ in _walk_files(directory):
        match = VOLUME_MARKER.fullmatch(rel)
        if match and int(match.group(2)) == count:
            arrived.add(int(match.group(1)))
    report.volumes = (len(arrived), count)
    missing = [number for number in range(1, count + 1) if number not in arrived]
    for number in missing[:MAX_MISSING_SHOWN]:
        files = sorted(p for p, v in where.items() if v == number)
        report.add(f"volume-{number:02d}-of-{count:02d}",
                   f"volume {number} of {count} is missing ({plural(len(files), 'file')}, e.g. "
                   f"{files[0] if files else '-'}): copy it in with mirror-wizard media join")
    if len(missing) > MAX_MISSING_SHOWN:
        report.add(VOLUMES_FILE, f"and {len(missing) - MAX_MISSING_SHOWN} more volumes of {count} are missing")
    return where


def missing_volumes(directory: str | os.PathLike[str]) -> list[Problem]:
    """Which volumes of a bundle that came in volumes have not been copied in yet (cheap: no hashing)."""
    report = VerifyReport(Path(directory))
    _volume_info(Path(directory), report)
    return report.problems


def _is_blob_path(rel: str) -> bool:
    return rel.startswith("blobs/sha256/") and rel.count("/") == 2


def verify_bundle(directory: str | os.PathLike[str], *, on_progress: Callable[[int], None] | None = None,
                  signer: str | None = None) -> VerifyReport:
    """Check a bundle as it arrived; never changes it. See the module for what is checked.

    ``signer`` (a fingerprint or a public key file): SHA256SUMS must carry a good signature by that key,
    checked first (core.bundle_sign); without it the report says the bundle's origin is not checked.
    A blob's problem is reported once, with the images that need it; a file's with its path."""
    directory = Path(directory)
    report = VerifyReport(directory)
    if not directory.is_dir():
        raise BundleError(f"{directory} is not a directory")
    if signer is not None and (directory / SUMS_FILE).exists():
        from .bundle_sign import check_sums_signature

        try:
            report.signed_by = check_sums_signature(directory, signer)
        except BundleError as exc:
            report.add(SUMS_SIG_FILE, str(exc))
    volumes = _volume_info(directory, report)
    sums_path = directory / SUMS_FILE
    if not sums_path.exists():
        how = ("the volume carrying it has not been copied in" if volumes else
               "the bundle was not finished (its writing was interrupted): run the same --to-dir command again")
        report.add(SUMS_FILE, f"is missing: {how}")
        return report
    sums, problems = parse_sums(read_bounded(sums_path, MAX_LIST_BYTES, "checksum list"))
    report.problems += problems
    sizes: dict[str, int] = {}
    if (directory / SIZES_FILE).exists():
        sizes = parse_sizes(read_bounded(directory / SIZES_FILE, MAX_LIST_BYTES, "size list"))
    issues: dict[str, str] = {}  # path → what is wrong, reported below (blobs: with the images needing them)
    present: list[str] = []
    for rel, digest in sums.items():
        if _is_blob_path(rel) and rel.rsplit("/", 1)[1] != digest:
            report.add(rel, f"SHA256SUMS gives it the hash {digest[:16]}…, which is not its name; refused")
            continue
        try:
            st = _lstat_inside(directory, rel)
        except ValueError as exc:
            report.add(rel, str(exc))
            continue
        what = "blob" if _is_blob_path(rel) else "file"
        if st is None:
            volume = volumes.get(rel)
            issues[rel] = f"{what} is missing" + (f" (it travels in volume {volume})" if volume else "")
        elif not stat.S_ISREG(st.st_mode):
            issues[rel] = f"{what} is not a regular file"
        elif rel in sizes and sizes[rel] != st.st_size:
            issues[rel] = f"{what} is {st.st_size} bytes, {sizes[rel]} expected: cut short or damaged"
        else:
            present.append(rel)
    hashed = _hash_all(directory, present, on_progress)
    for rel in present:
        what = "blob" if _is_blob_path(rel) else "file"
        result = hashed[rel]
        if isinstance(result, Exception):
            issues[rel] = f"{what} cannot be read: {result}"
            continue
        digest, size = result
        report.files += 1
        report.bytes += size
        if digest != sums[rel]:
            issues[rel] = f"{what} is damaged: its SHA-256 is {digest[:16]}…, SHA256SUMS says {sums[rel][:16]}…"
    # Anything not listed inside the bundle's own folders: a planted wheel or binary would be installed or
    # run, so it matters. Elsewhere (the far side's own output folder, notes) it is only mentioned.
    parts_seen: dict[str, set[int]] = {}
    folders = {rel.split("/", 1)[0] for rel in sums if "/" in rel} - {"blobs"}
    for rel, _ in _walk_files(directory):
        name = rel.rsplit("/", 1)[-1]
        if rel in sums or rel in META_FILES or VOLUME_MARKER.fullmatch(rel):
            continue
        match = PART_SUFFIX.search(rel)
        if match and rel[:match.start()] in sums:
            parts_seen.setdefault(rel[:match.start()], set()).add(int(match.group(1)))
            continue
        if rel.split("/", 1)[0] in folders and not name.startswith("."):
            report.add(rel, "is not in SHA256SUMS: remove it, or write the bundle again")
        elif rel.startswith("blobs/") or name.startswith("."):
            report.add(rel, "is not in SHA256SUMS (ignored: nothing uses it)", Severity.WARNING)
        else:
            report.add(rel, "is not part of the bundle (ignored)", Severity.WARNING)
    for rel in sorted(parts_seen):
        issues[rel] = (f"is still in {plural(len(parts_seen[rel]), 'part')}: run mirror-wizard media join "
                       f"{shell_quote(str(directory))} once every volume is in")
    _verify_layout(directory, report, issues, set(sums))
    for rel, issue in sorted(issues.items()):  # what no image needs (or a plain file)
        report.add(rel, issue)
    return report


def _verify_layout(directory: Path, report: VerifyReport, issues: dict[str, str], listed: set[str]) -> None:
    """Every image's graph: its manifests and blobs there (or left to the base), each one checked.
    Takes the blob problems out of ``issues`` and reports each with the images that need it."""
    if not (directory / "index.json").exists() or not (directory / "oci-layout").exists():
        report.add("index.json", "no OCI image layout here (oci-layout and index.json)")
        return
    try:
        omitted = omitted_blobs(directory)
    except BundleError as exc:
        report.add(BUNDLE_FILE, str(exc))
        omitted = set()
    try:
        images, problems = layout_images(directory)
    except BundleError as exc:
        report.add("index.json", str(exc))
        return
    for problem in problems:  # a manifest missing or damaged, named with its image
        issues.pop(problem.path, None)
        report.problems.append(problem)
    users: dict[str, set[str]] = {}
    sizes: dict[str, int] = {}
    for image in images:
        for digest, size in image.blobs.items():
            users.setdefault(digest, set()).add(image.name)
            sizes[digest] = size
    report.images = len(images)
    for digest, names in sorted(users.items()):
        rel = f"blobs/sha256/{digest.split(':', 1)[1]}"
        shown = ", ".join(sorted(names)[:4]) + (" …" if len(names) > 4 else "")
        if digest in omitted:
            report.omitted += 1
            continue
        if rel in issues:
            report.add(rel, f"{issues.pop(rel)}; images needing it: {shown}")
            continue
        try:
            st = _lstat_inside(directory, rel)
        except ValueError as exc:
            report.add(rel, str(exc))
            continue
        if st is None:
            report.add(rel, f"blob is missing; images needing it: {shown}")
        elif st.st_size != sizes[digest]:
            report.add(rel, f"blob is {st.st_size} bytes, its manifest says {sizes[digest]}; images needing it: {shown}")
        elif rel not in listed:
            report.add(rel, f"blob is not in SHA256SUMS, so it was not checked; images needing it: {shown}")
        else:
            report.blobs += 1


def check_bundle_before_upload(directory: str | os.PathLike[str], on_problem: Message | None = None, *,
                               signer: str | None = None) -> VerifyReport | None:
    """The far side's first step: a directory that is a bundle (it has bundle.json or SHA256SUMS) must
    verify, or BundleError names what is wrong. A bare OCI layout (no bundle files) is left to the
    layout's own checks and None is returned."""
    directory = Path(directory)
    if not any((directory / name).exists() for name in (BUNDLE_FILE, SUMS_FILE, SIZES_FILE, VOLUMES_FILE)):
        return None
    report = verify_bundle(directory, signer=signer)
    if on_problem is not None:
        for problem in report.problems:
            on_problem(str(problem))
    if not report.ok:
        errors = sorted(report.errors, key=lambda p: "images needing it" not in p.message and "image " not in p.message)
        shown = "; ".join(str(p) for p in errors[:3]) + (f"; and {len(errors) - 3} more" if len(errors) > 3 else "")
        raise BundleError(f"{directory} failed its check, nothing was uploaded: {shown}",
                          hint="copy the damaged files again from the connected side, or write the bundle again "
                               "with the same --to-dir command; mirror-wizard media verify lists every problem")
    return report


# -- incremental bundles on the far side -----------------------------------------------------------------

async def check_base_in_registry(session: Any, directory: Path, target: str,
                                 to_release_image: str | None = None) -> int:
    """An incremental bundle left layers out; the mirror must already hold each of them (uploaded from
    the base bundle). Returns how many were checked; BundleError names what is missing."""
    from .reference import parse_repository

    omitted = omitted_blobs(directory)
    if not omitted:
        return 0
    base = read_bundle_manifest(directory).get("base") or {}
    repo = parse_repository(target)
    client = session.client(repo.registry)
    found = await asyncio.gather(*(client.blob_exists(repo.repository, d, push_scope=False) for d in sorted(omitted)))
    missing = [d for d, ok in zip(sorted(omitted), found, strict=True) if not ok]
    if missing:
        versions = ", ".join(str(r.get("version")) for r in base.get("releases") or []) or "?"
        raise BundleError(f"{target} lacks {plural(len(missing), 'layer')} this incremental bundle leaves to its base "
                          f"(bundle {base.get('id')}, release {versions}), e.g. {missing[0]}; upload the base "
                          "bundle to this mirror first, then this one")
    return len(omitted)


async def load_release_for_upload(session: RegistrySession, directory: str | os.PathLike[str], release: str | None,
                                  target: str, to_release_image: str | None = None,
                                  on_problem: Message | None = None, *, verify: bool = True,
                                  signer: str | None = None) -> ReleaseInfo:
    """The far side's way in: check the bundle, check an incremental bundle's base is in the mirror,
    then read the release as core.release.load_release_from_dir does (a layer left to the base is not
    'missing' there, since the registry already has it)."""
    from .errors import ReleaseError
    from .release import load_release, load_release_from_dir, releases_in_dir

    directory = Path(directory)
    if verify:  # a dry run or a runbook reads the medium's record only: no hashing of every byte
        await asyncio.to_thread(check_bundle_before_upload, directory, on_problem, signer=signer)
    elif signer is not None:  # no hashing, but who wrote the medium is cheap to check and always asked for
        from .bundle_sign import check_sums_signature

        try:
            check_sums_signature(directory, signer)
        except BundleError as exc:
            raise BundleError(f"{directory} failed its check, nothing was uploaded: {exc}") from None
    if not omitted_blobs(directory):
        return await load_release_from_dir(session, directory, release)
    await check_base_in_registry(session, directory, target, to_release_image)
    records = releases_in_dir(directory)
    chosen = [r for r in records if release in (None, r.get("version"), f"{r.get('version')}-{r.get('architecture')}",
                                                r.get("name"), r.get("digest"))]
    if len(chosen) != 1:
        names = ", ".join(f"{r.get('version')}-{r.get('architecture')}" for r in records)
        raise ReleaseError(f"{directory} holds {'no such release' if not chosen else 'several releases'} ({names}); "
                           "choose one with --from VERSION")
    record = chosen[0]
    info = await load_release(session, f"oci:{directory}:{record['name']}")
    if info.digest != record.get("digest"):
        raise ReleaseError(f"{directory}: {record.get('name')} is {info.digest}, but the record says {record.get('digest')}")
    info.layout = str(directory)
    info.source_repository = str(record.get("source_repository") or "")
    info.layout_names = dict(record.get("layout_names") or {})
    return info


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
                    _link_or_copy(directory / piece.path, target)
            for name in (SUMS_FILE, SIZES_FILE, SUMS_SIG_FILE):
                if name != SUMS_SIG_FILE or (directory / name).exists():  # every volume can be checked alone
                    _link_or_copy(directory / name, folder / name)
            atomic_write(folder / VOLUMES_FILE, listing)
            marker = {"kind": "mirror-wizard-volume", "number": number, "count": count,
                      "files": [{"path": p.name, "size": p.size} for p in members]}
            atomic_write(folder / f"VOLUME-{number:02d}-of-{count:02d}.json", json.dumps(marker, indent=0) + "\n")
            made.append(folder)
    except OSError as exc:
        raise LocalStorageError(f"cannot write volumes into {out}: {exc.strerror or exc}") from None
    for folder in made:
        used = sum(st.st_size for _, st in _walk_files(folder))
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
        marker = _read_json(markers[0], MAX_LIST_BYTES, "volume marker")
        try:
            files = [(safe_relpath(str(f["path"])), int(f["size"])) for f in marker["files"]]
        except (KeyError, TypeError, ValueError):
            raise BundleError(f"{markers[0]} is not a volume marker written by mirror-wizard") from None
        lists = [SUMS_FILE, SIZES_FILE, VOLUMES_FILE, markers[0].name]
        if (volume / SUMS_SIG_FILE).exists() or (volume / SUMS_SIG_FILE).is_symlink():
            lists.append(SUMS_SIG_FILE)  # refused below if it is a link
        for rel, size in files + [(n, -1) for n in lists]:
            try:
                st = _lstat_inside(volume, rel)
            except ValueError as exc:
                raise BundleError(f"{volume}/{rel} {exc}") from None
            if st is None or not stat.S_ISREG(st.st_mode):
                raise BundleError(f"{volume}/{rel} is missing from the volume; copy the volume again")
            if size >= 0 and st.st_size != size:
                raise BundleError(f"{volume}/{rel} is {st.st_size} bytes, the volume says {size}; copy it again")
            destination = target / rel
            try:
                if _lstat_inside(target, rel) is not None and destination.stat().st_size == st.st_size and size >= 0:
                    continue  # copied from an earlier medium already
            except ValueError as exc:
                raise BundleError(f"{target}/{rel} {exc}") from None
            try:
                destination.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LocalStorageError(f"cannot create {destination.parent}: {exc.strerror or exc}") from None
            _copy_nofollow([volume / rel], destination)
        say(f"copied {volume.name}")
    return _assemble_parts(target, say)


def _copy_nofollow(sources: list[Path], destination: Path) -> None:
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


def _assemble_parts(target: Path, say: Message) -> list[str]:
    listing_path = target / VOLUMES_FILE
    if not listing_path.exists():
        return []
    listing = read_volume_list(listing_path)
    waiting: list[str] = []
    for rel, count in listing.parts.items():
        names = [f"{rel}.part-{n:03d}-of-{count:03d}" for n in range(1, count + 1)]
        try:
            whole = _lstat_inside(target, rel)
            if whole is not None and not any(_lstat_inside(target, n) is not None for n in names):
                continue
            absent = [n for n in names if _lstat_inside(target, n) is None]
        except ValueError as exc:
            raise BundleError(f"{target}/{rel}: {exc}") from None
        if absent:
            waiting.append(f"{rel}: {len(absent)} of {count} parts still to come")
            continue
        _copy_nofollow([target / name for name in names], target / rel)
        for name in names:
            (target / name).unlink()
        say(f"joined {rel} from {count} parts")
    return waiting


__all__ = [
    "BundleError", "BundleOptions", "BundleResult", "Problem", "Severity", "VerifyReport",
    "begin_bundle", "build_wheelhouse", "check_base_in_registry", "check_bundle_before_upload",
    "join_volumes", "load_release_for_upload", "missing_volumes", "parse_size", "read_bundle_manifest", "split_volumes",
    "verify_bundle", "write_sums",
]


async def releases_in_bundle(directory: str | os.PathLike[str]) -> list[Any]:
    """Every release a to-dir run recorded in DIR, read from the layout (no registry is contacted)."""
    from .registry import RegistrySession
    from .release import load_release, releases_in_dir

    directory = Path(directory)
    infos = []
    async with RegistrySession() as session:
        for record in releases_in_dir(directory):
            info = await load_release(session, f"oci:{directory}:{record['name']}")
            info.layout = str(directory)
            info.source_repository = str(record.get("source_repository") or "")
            info.layout_names = dict(record.get("layout_names") or {})
            infos.append(info)
    return infos
