"""An OCI image layout on disk (removable media): ``oci-layout``, ``index.json``, ``blobs/ALGO/HEX``.

Blobs are written to a temporary file beside their final place, verified, fsynced and renamed, so a
file at ``blobs/sha256/HEX`` is always complete and correct. ``index.json`` is rewritten atomically
each time an image lands, so an interrupted mirror leaves a valid layout of what is complete.

A layout may come from someone else (a disk carried in), so nothing in it is trusted:

* a digest reaches a path only after :func:`core.reference.validate_digest` (``sha256:../../x`` never
  becomes ``blobs/sha256/../../x``);
* ``blobs/``, ``blobs/ALGO/``, every blob, ``index.json`` and ``oci-layout`` must be real files and
  folders: a symbolic link there is refused, never followed. skopeo, oc and this tool never write links
  into a layout, so a link can only have been planted — following it would read or write outside the
  layout. Blob folders are opened relative to each other with ``O_NOFOLLOW`` (``dir_fd``), so swapping
  a folder for a link between a check and a use does not help either. The layout's own path (the
  folder the admin names) may be a link: that is the admin's choice.
* temporary files are created ``O_CREAT | O_EXCL | O_NOFOLLOW`` under random names;
* partial blobs an interrupted run left are removed by the next run that writes to the layout.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import re
import secrets
import shutil
import stat
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import (
    IntegrityError,
    LocalStorageError,
    MirrorError,
    NotFound,
    ReleaseError,
)
from .fsio import atomic_write
from .manifest import OCI_INDEX, Manifest
from .reference import DIGEST_ALGORITHMS, digest_hasher, validate_digest
from .userfiles import parse_json

REF_NAME = "org.opencontainers.image.ref.name"
CHUNK = 1 << 20
#: The distribution spec lets registries refuse manifests over 4 MiB; a layout's are held to the same.
MANIFEST_LIMIT = 4 << 20
#: index.json of a whole release with its components is a few hundred KiB.
INDEX_LIMIT = 64 << 20
#: A partial blob untouched for this long belongs to no live transfer (stall timeouts are far shorter).
STALE_PARTIAL_SECONDS = 3600
_PARTIAL_RE = re.compile(r"^\.[a-f0-9]{64,128}\.(\d+)\.[^/]*\.partial$")
_STALE_TMP_RE = re.compile(r"^\.(index\.json|oci-layout|mirror-wizard-release\.json)\..+$")
_NOFOLLOW_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# (path, size, mtime_ns, inode) -> digest of files hashed in this process: resume checks hash each once.
_VERIFIED: dict[tuple[str, int, int, int], str] = {}


def _fsync_dir_fd(fd: int) -> None:
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse a directory fsync


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


@dataclass(frozen=True)
class LayoutEntry:
    name: str
    digest: str
    media_type: str
    size: int


class OCILayout:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._index_lock = asyncio.Lock()

    # -- structure ----------------------------------------------------------------------

    def _is_plain_file(self, name: str) -> bool:
        try:
            return stat.S_ISREG(os.lstat(self.root / name).st_mode)
        except OSError:
            return False

    def exists(self) -> bool:
        return self._is_plain_file("oci-layout") and self._is_plain_file("index.json")

    def ensure(self) -> None:
        """Create (or complete) the layout, and remove what an interrupted run left behind."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with self._blob_dir("sha256", create=True):
                pass
            if not self._is_plain_file("oci-layout"):
                # Missing, or a planted link: atomic_write replaces the link itself, never its target.
                atomic_write(self.root / "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
            if not self._is_plain_file("index.json"):
                self._write_index({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []})
        except OSError as exc:
            raise LocalStorageError(f"cannot create an image layout in {self.root}: {exc.strerror}") from None
        self.remove_stale_partials()

    @contextmanager
    def _blob_dir(self, algorithm: str, *, create: bool = False) -> Iterator[int]:
        """A descriptor of ``blobs/ALGORITHM``, reached without following any link below the root."""
        if algorithm not in DIGEST_ALGORITHMS:
            raise ReleaseError(f"{self.root}: unsupported digest algorithm {algorithm!r}")
        fds: list[int] = []
        try:
            try:
                fds.append(os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
            except FileNotFoundError:
                if not create:
                    raise NotFound(f"{self.root} does not exist") from None
                raise
            for name in ("blobs", algorithm):
                if create:
                    try:
                        os.mkdir(name, 0o755, dir_fd=fds[-1])
                    except FileExistsError:
                        pass
                try:
                    fds.append(os.open(name, _NOFOLLOW_DIR, dir_fd=fds[-1]))
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise ReleaseError(
                            f"{self.root}: {'/'.join(['blobs', algorithm][:1 + (name == algorithm)])} is a "
                            "symbolic link or not a folder; an image layout never holds links "
                            "(refusing to follow it out of the layout)") from None
                    if exc.errno == errno.ENOENT:
                        raise NotFound(f"{self.root} has no blobs/{algorithm} folder") from None
                    raise
            yield fds[-1]
        finally:
            for fd in reversed(fds):
                os.close(fd)

    def blob_path(self, digest: str) -> Path:
        """Where ``digest`` lives; the digest is validated first, so the path stays inside the layout."""
        algorithm, _, hexpart = validate_digest(digest, where=str(self.root), error=ReleaseError).partition(":")
        return self.root / "blobs" / algorithm / hexpart

    def _blob_stat(self, digest: str) -> os.stat_result | None:
        """The blob's own status when it is a regular file (a link counts as absent), else None."""
        algorithm, _, hexpart = validate_digest(digest, where=str(self.root), error=ReleaseError).partition(":")
        try:
            with self._blob_dir(algorithm) as folder:
                st = os.stat(hexpart, dir_fd=folder, follow_symlinks=False)
        except (OSError, NotFound):
            return None
        return st if stat.S_ISREG(st.st_mode) else None

    @contextmanager
    def _open_blob(self, digest: str) -> Iterator[int]:
        algorithm, _, hexpart = validate_digest(digest, where=str(self.root), error=ReleaseError).partition(":")
        try:
            with self._blob_dir(algorithm) as folder:
                fd = os.open(hexpart, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
        except NotFound:
            raise NotFound(f"blob {digest} is missing from {self.root}") from None
        except FileNotFoundError:
            raise NotFound(f"blob {digest} is missing from {self.root}") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise ReleaseError(f"{self.blob_path(digest)} is a symbolic link; an image layout never holds "
                                   "links (refusing to follow it)") from None
            raise LocalStorageError(f"cannot read {self.blob_path(digest)}: {exc.strerror or exc}") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ReleaseError(f"{self.blob_path(digest)} is not a regular file")
            yield fd
        finally:
            os.close(fd)

    def read_index(self) -> dict[str, Any]:
        """index.json, every entry checked (the first bad one is the error)."""
        data = self._read_index_file()
        for number, item in enumerate(data.get("manifests", []), start=1):
            _check_index_entry(item, where=f"{self.root / 'index.json'} entry {number}")
        return data

    def read_index_entries(self) -> tuple[list[dict[str, Any]], list[str]]:
        """index.json's entries that pass :meth:`read_index`'s checks, and one line for each that does
        not (a bundle check lists every problem at once rather than stopping at the first). The file
        itself unreadable, a link or not an index: ReleaseError, as for read_index."""
        good: list[dict[str, Any]] = []
        bad: list[str] = []
        for number, item in enumerate(self._read_index_file().get("manifests", []), start=1):
            try:
                _check_index_entry(item, where=f"index.json entry {number}")
            except ReleaseError as exc:
                bad.append(str(exc))
                continue
            good.append(item)
        return good, bad

    def _read_index_file(self) -> dict[str, Any]:
        path = self.root / "index.json"
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            raise ReleaseError(f"{self.root} is not an OCI image layout (no index.json)") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise ReleaseError(f"{path} is a symbolic link; an image layout never holds links "
                                   "(refusing to follow it)") from None
            raise ReleaseError(f"cannot read {path}: {exc.strerror or exc}") from None
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise ReleaseError(f"{path} is not a regular file")
            raw = handle.read(INDEX_LIMIT + 1)
        if len(raw) > INDEX_LIMIT:
            raise ReleaseError(f"{path} is larger than {INDEX_LIMIT >> 20} MiB; not an index this tool wrote")
        data = parse_json(raw, where=str(path), error=ReleaseError)
        if not isinstance(data, dict) or not isinstance(data.get("manifests", []), list):
            raise ReleaseError(f"{path} is not an OCI image index")
        return data

    def entries(self) -> list[LayoutEntry]:
        out = []
        for item in self.read_index().get("manifests", []):
            name = (item.get("annotations") or {}).get(REF_NAME)
            if name:
                out.append(LayoutEntry(name, item["digest"], item.get("mediaType", ""), int(item.get("size", 0))))
        return out

    def find(self, name: str) -> LayoutEntry:
        for entry in self.entries():
            if entry.name == name:
                return entry
        raise NotFound(f"no image named {name!r} in {self.root}")

    # -- blobs --------------------------------------------------------------------------

    def has_blob(self, digest: str, size: int | None = None) -> bool:
        st = self._blob_stat(digest)
        return st is not None and (size is None or st.st_size == size)

    def has_verified_blob(self, digest: str, size: int | None = None) -> bool:
        """Present, of the right size, and its bytes really hash to ``digest``.

        Blobs are verified when written, but removable media gets carried around: a resumed mirror
        must not trust a file that was damaged since. A damaged file is left for the next write to
        replace atomically, so asking never changes the directory. A file is hashed once per process
        unless it changes (size, mtime and inode are the memo's key, not the proof).
        """
        try:
            with self._open_blob(digest) as fd:
                st = os.fstat(fd)
                if size is not None and st.st_size != size:
                    return False
                key = (str(self.blob_path(digest)), st.st_size, st.st_mtime_ns, st.st_ino)
                if _VERIFIED.get(key) == digest:
                    return True
                hasher = digest_hasher(digest)
                while chunk := os.read(fd, CHUNK):
                    hasher.update(chunk)
        except (MirrorError, OSError):
            return False
        if f"{digest.partition(':')[0]}:{hasher.hexdigest()}" != digest:
            return False
        _VERIFIED[key] = digest
        return True

    def image_complete(self, digest: str, *, verify: bool = True) -> bool:
        """The manifest (and its children) and every blob they name are here and verify.

        ``verify=False`` checks sizes only, for readers that hash every byte as they stream anyway.
        """
        try:
            top = self.get_manifest(digest)
            manifests = [top] + [self.get_manifest(d.digest) for d in top.children()]
            present = self.has_verified_blob if verify else self.has_blob
            return all(present(d.digest, d.size) for m in manifests for d in m.blobs())
        except MirrorError:
            return False

    async def write_blob(self, digest: str, size: int | None, chunks: AsyncIterator[bytes]) -> None:
        final = self.blob_path(digest)  # validates the digest
        algorithm, _, hexpart = digest.partition(":")
        # pid: the next run removes partials of dead processes; token: never a predictable name.
        tmp = f".{hexpart}.{os.getpid()}.{secrets.token_hex(6)}.partial"
        hasher = digest_hasher(digest)
        written = 0
        try:
            with self._blob_dir(algorithm, create=True) as folder:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                             dir_fd=folder)
                try:
                    try:
                        async for chunk in chunks:
                            hasher.update(chunk)
                            written += len(chunk)
                            view = memoryview(chunk)
                            while view:
                                view = view[os.write(fd, view):]
                        os.fsync(fd)
                    finally:
                        os.close(fd)
                    if f"{algorithm}:{hasher.hexdigest()}" != digest or (size is not None and written != size):
                        raise IntegrityError(f"blob {digest}: received bytes do not match the digest; not kept")
                    # rename replaces whatever is at the final name (a damaged file, a planted link) itself
                    os.replace(tmp, hexpart, src_dir_fd=folder, dst_dir_fd=folder)
                    tmp = ""
                    _fsync_dir_fd(folder)
                    st = os.stat(hexpart, dir_fd=folder, follow_symlinks=False)
                    _VERIFIED[(str(final), st.st_size, st.st_mtime_ns, st.st_ino)] = digest  # hashed on the way in
                finally:
                    if tmp:
                        try:
                            os.unlink(tmp, dir_fd=folder)
                        except OSError:
                            pass
        except OSError as exc:
            raise LocalStorageError(f"writing {final} failed: {exc.strerror}"
                                    + (" (disk full)" if exc.errno == errno.ENOSPC else "")) from None

    # -- resumable partial blobs (core.ranged: parts of a big blob fetched in parallel) -----------

    def _resumable_names(self, digest: str) -> tuple[str, str, str]:
        algorithm, _, hexpart = validate_digest(digest, where=str(self.root), error=ReleaseError).partition(":")
        return algorithm, hexpart, f".{hexpart}.ranged"

    def open_resumable(self, digest: str) -> int:
        """A read/write descriptor on ``blobs/ALGO/.HEX.ranged``, created when missing: a partial blob
        later runs resume from (its bytes are only trusted once the whole hashes right). Reached and
        opened without following any link; the caller closes it."""
        algorithm, _, name = self._resumable_names(digest)
        try:
            with self._blob_dir(algorithm, create=True) as folder:
                fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=folder)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise ReleaseError(f"{self.root}/blobs/{algorithm}/{name} is a symbolic link; an image layout "
                                   "never holds links (refusing to follow it)") from None
            raise LocalStorageError(f"cannot open {self.root}/blobs/{algorithm}/{name}: {exc.strerror}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise ReleaseError(f"{self.root}/blobs/{algorithm}/{name} is not a regular file")
        return fd

    def read_resumable_record(self, digest: str, *, limit: int = 1 << 20) -> bytes | None:
        """What :meth:`write_resumable_record` last wrote for ``digest`` (None when nothing usable)."""
        algorithm, _, name = self._resumable_names(digest)
        try:
            with self._blob_dir(algorithm) as folder:
                fd = os.open(name + ".json", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
                try:
                    if not stat.S_ISREG(os.fstat(fd).st_mode):
                        return None
                    data = os.read(fd, limit + 1)
                finally:
                    os.close(fd)
        except (OSError, MirrorError):
            return None
        return data if len(data) <= limit else None

    def write_resumable_record(self, digest: str, data: bytes) -> None:
        """Replace the record beside the partial blob atomically (never through a planted link)."""
        algorithm, _, name = self._resumable_names(digest)
        tmp = f"{name}.json.{secrets.token_hex(6)}.tmp"
        try:
            with self._blob_dir(algorithm, create=True) as folder:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                             dir_fd=folder)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                    os.fsync(fd)
                finally:
                    os.close(fd)
                try:
                    os.replace(tmp, name + ".json", src_dir_fd=folder, dst_dir_fd=folder)
                except OSError:
                    os.unlink(tmp, dir_fd=folder)
                    raise
        except OSError as exc:
            raise LocalStorageError(f"writing {self.root}/blobs/{algorithm}/{name}.json failed: {exc.strerror}") from None

    def discard_resumable(self, digest: str) -> None:
        """Forget a partial blob and its record (bad bytes are never resumed from)."""
        algorithm, _, name = self._resumable_names(digest)
        try:
            with self._blob_dir(algorithm) as folder:
                for victim in (name, name + ".json"):
                    try:
                        os.unlink(victim, dir_fd=folder)
                    except FileNotFoundError:
                        pass
        except NotFound:
            pass
        except OSError as exc:
            raise LocalStorageError(f"cannot remove a partial blob in {self.root}: {exc.strerror}") from None

    def finish_resumable(self, digest: str) -> None:
        """The partial blob, hashed whole and flushed by the caller, becomes ``blobs/ALGO/HEX``."""
        algorithm, hexpart, name = self._resumable_names(digest)
        final = self.blob_path(digest)
        try:
            with self._blob_dir(algorithm) as folder:
                os.replace(name, hexpart, src_dir_fd=folder, dst_dir_fd=folder)
                try:
                    os.unlink(name + ".json", dir_fd=folder)
                except FileNotFoundError:
                    pass
                _fsync_dir_fd(folder)
                st = os.stat(hexpart, dir_fd=folder, follow_symlinks=False)
        except OSError as exc:
            raise LocalStorageError(f"writing {final} failed: {exc.strerror}") from None
        _VERIFIED[(str(final), st.st_size, st.st_mtime_ns, st.st_ino)] = digest  # hashed on the way in

    def remove_blob(self, digest: str) -> None:
        """Forget a blob (a manifest whose image is incomplete); a missing one is no error."""
        algorithm, _, hexpart = validate_digest(digest, where=str(self.root), error=ReleaseError).partition(":")
        try:
            with self._blob_dir(algorithm) as folder:
                os.unlink(hexpart, dir_fd=folder)
        except (FileNotFoundError, NotFound):
            pass
        except OSError as exc:
            raise LocalStorageError(f"cannot repair {self.root}: {exc.strerror or exc}") from None

    def remove_stale_partials(self) -> list[str]:
        """Remove partial blobs and temporary files left by interrupted runs; their names are returned.

        A partial blob belongs to a dead process (its pid is in the name) or has not been written to for
        an hour; one a live transfer (another run on the same layout) is writing is left alone.
        """
        removed: list[str] = []
        now = time.time()
        for algorithm in DIGEST_ALGORITHMS:
            try:
                with self._blob_dir(algorithm) as folder:
                    for name in os.listdir(folder):
                        match = _PARTIAL_RE.match(name)
                        if not match:
                            continue
                        try:
                            st = os.stat(name, dir_fd=folder, follow_symlinks=False)
                            if _pid_alive(int(match.group(1))) and now - st.st_mtime < STALE_PARTIAL_SECONDS:
                                continue
                            os.unlink(name, dir_fd=folder)
                            removed.append(f"blobs/{algorithm}/{name}")
                        except OSError:
                            continue
            except (MirrorError, OSError):
                continue
        try:
            for entry in os.scandir(self.root):
                # atomic writes take milliseconds: a temporary file a minute old is an interrupted one
                if _STALE_TMP_RE.match(entry.name):
                    try:
                        if now - entry.stat(follow_symlinks=False).st_mtime > 60:
                            os.unlink(entry.path)
                            removed.append(entry.name)
                    except OSError:
                        continue
        except OSError:
            pass
        return removed

    async def read_blob_chunks(self, digest: str) -> AsyncIterator[bytes]:
        hasher = digest_hasher(digest)
        with self._open_blob(digest) as fd:
            while chunk := os.read(fd, CHUNK):
                hasher.update(chunk)
                yield chunk
        if f"{digest.partition(':')[0]}:{hasher.hexdigest()}" != digest:
            raise IntegrityError(f"{self.blob_path(digest)} is corrupt: its bytes do not match {digest}")

    def read_blob_bytes(self, digest: str, *, limit: int | None = None) -> bytes:
        with self._open_blob(digest) as fd:
            if limit is not None and os.fstat(fd).st_size > limit:
                raise ReleaseError(f"{self.blob_path(digest)} is larger than {limit} bytes; refusing to read "
                                   "it as a manifest")
            parts = []
            while chunk := os.read(fd, CHUNK):
                parts.append(chunk)
        data = b"".join(parts)
        hasher = digest_hasher(digest)
        hasher.update(data)
        if f"{digest.partition(':')[0]}:{hasher.hexdigest()}" != digest:
            raise IntegrityError(f"{self.blob_path(digest)} is corrupt: its bytes do not match {digest}")
        return data

    def put_manifest_blob(self, manifest: Manifest) -> None:
        if not self.has_blob(manifest.digest, len(manifest.raw)):
            final = self.blob_path(manifest.digest)
            algorithm = manifest.digest.partition(":")[0]
            try:
                with self._blob_dir(algorithm, create=True):
                    pass  # blobs/ALGO exists and is no link: atomic_write then works inside it
            except OSError as exc:
                raise LocalStorageError(f"writing {final} failed: {exc.strerror or exc}") from None
            atomic_write(final, manifest.raw, make_parents=False)

    def get_manifest(self, digest: str, media_type: str | None = None) -> Manifest:
        raw = self.read_blob_bytes(digest, limit=MANIFEST_LIMIT)
        return Manifest.parse(raw, media_type, where=f"{self.root}@{digest}")

    # -- index ---------------------------------------------------------------------------

    async def tag(self, name: str, manifest: Manifest) -> None:
        async with self._index_lock:
            index = self.read_index()
            manifests = [m for m in index.get("manifests", []) if (m.get("annotations") or {}).get(REF_NAME) != name]
            manifests.append({
                "mediaType": manifest.media_type,
                "digest": manifest.digest,
                "size": len(manifest.raw),
                "annotations": {REF_NAME: name},
            })
            index["manifests"] = manifests
            self._write_index(index)

    def _write_index(self, index: dict[str, Any]) -> None:
        atomic_write(self.root / "index.json", json.dumps(index, indent=1).encode())

    # -- space ---------------------------------------------------------------------------

    def free_bytes(self) -> int:
        probe = self.root
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        return shutil.disk_usage(probe).free

    def missing_bytes(self, blobs: dict[str, int]) -> int:
        return sum(size for digest, size in blobs.items() if not self.has_blob(digest, size))


def _check_index_entry(item: Any, *, where: str) -> None:
    """One ``manifests`` entry of index.json: the types the spec gives, the digest in its grammar."""
    if not isinstance(item, dict):
        raise ReleaseError(f"{where} is not an object")
    validate_digest(item.get("digest"), where=where, error=ReleaseError)
    if not isinstance(item.get("mediaType", ""), str):
        raise ReleaseError(f"{where}: mediaType is not text")
    size = item.get("size", 0)
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ReleaseError(f"{where}: size is not a non-negative integer")
    annotations = item.get("annotations") or {}
    if not isinstance(annotations, dict) or not all(isinstance(v, str) for v in annotations.values()):
        raise ReleaseError(f"{where}: annotations must map names to text")
