"""An OCI image layout on disk (removable media): ``oci-layout``, ``index.json``, ``blobs/sha256/HEX``.

Blobs are written to a temporary file beside their final place, verified, fsynced and renamed, so a
file at ``blobs/sha256/HEX`` is always complete and correct. ``index.json`` is rewritten atomically
each time an image lands, so an interrupted mirror leaves a valid layout of what is complete.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import IntegrityError, LocalStorageError, MirrorError, NotFound, ReleaseError
from .manifest import OCI_INDEX, Manifest

REF_NAME = "org.opencontainers.image.ref.name"
CHUNK = 1 << 20
# (path, size, mtime_ns) -> digest of files hashed in this process: resume checks hash each file once.
_VERIFIED: dict[tuple[str, int, int], str] = {}


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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

    def exists(self) -> bool:
        return (self.root / "oci-layout").is_file() and (self.root / "index.json").is_file()

    def ensure(self) -> None:
        try:
            (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
            if not (self.root / "oci-layout").exists():
                self._atomic_write(self.root / "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
            if not (self.root / "index.json").exists():
                self._write_index({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []})
        except OSError as exc:
            raise LocalStorageError(f"cannot create an image layout in {self.root}: {exc.strerror}") from None

    def blob_path(self, digest: str) -> Path:
        algo, _, hexpart = digest.partition(":")
        return self.root / "blobs" / algo / hexpart

    def read_index(self) -> dict[str, Any]:
        path = self.root / "index.json"
        if not path.is_file():
            raise ReleaseError(f"{self.root} is not an OCI image layout (no index.json)")
        try:
            data = json.loads(path.read_bytes())
        except ValueError:
            raise ReleaseError(f"{path} is not valid JSON") from None
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
        path = self.blob_path(digest)
        try:
            st = path.stat()
        except OSError:
            return False
        return size is None or st.st_size == size

    def has_verified_blob(self, digest: str, size: int | None = None) -> bool:
        """Present, of the right size, and its bytes really hash to ``digest``.

        Blobs are verified when written, but removable media gets carried around: a resumed mirror
        must not trust a file that was damaged since. A damaged file is left for the next write to
        replace atomically, so asking never changes the directory. A file is hashed once per process
        unless it changes (size and mtime are the memo's key, not the proof).
        """
        path = self.blob_path(digest)
        try:
            st = path.stat()
        except OSError:
            return False
        if size is not None and st.st_size != size:
            return False
        key = (str(path), st.st_size, st.st_mtime_ns)
        if _VERIFIED.get(key) == digest:
            return True
        hasher = hashlib.sha256()
        try:
            with open(path, "rb") as handle:
                while chunk := handle.read(CHUNK):
                    hasher.update(chunk)
        except OSError:
            return False
        if "sha256:" + hasher.hexdigest() != digest:
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
        except MirrorError:
            return False
        present = self.has_verified_blob if verify else self.has_blob
        return all(present(d.digest, d.size) for m in manifests for d in m.blobs())

    async def write_blob(self, digest: str, size: int | None, chunks: AsyncIterator[bytes]) -> None:
        final = self.blob_path(digest)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.{id(chunks)}.partial")
        hasher = hashlib.sha256()
        written = 0
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as handle:
                async for chunk in chunks:
                    hasher.update(chunk)
                    written += len(chunk)
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            if "sha256:" + hasher.hexdigest() != digest or (size is not None and written != size):
                raise IntegrityError(f"blob {digest}: received bytes do not match the digest; not kept")
            os.replace(tmp, final)
            st = final.stat()
            _VERIFIED[(str(final), st.st_size, st.st_mtime_ns)] = digest  # hashed on the way in
        except OSError as exc:
            raise LocalStorageError(f"writing {final} failed: {exc.strerror}"
                                    + (" (disk full)" if exc.errno == 28 else "")) from None
        finally:
            if tmp.exists():
                tmp.unlink(missing_ok=True)

    async def read_blob_chunks(self, digest: str) -> AsyncIterator[bytes]:
        path = self.blob_path(digest)
        hasher = hashlib.sha256()
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            raise NotFound(f"blob {digest} is missing from {self.root}") from None
        with handle:
            while True:
                chunk = handle.read(CHUNK)
                if not chunk:
                    break
                hasher.update(chunk)
                yield chunk
        if "sha256:" + hasher.hexdigest() != digest:
            raise IntegrityError(f"{path} is corrupt: its bytes do not match {digest}")

    def read_blob_bytes(self, digest: str) -> bytes:
        try:
            data = self.blob_path(digest).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"blob {digest} is missing from {self.root}") from None
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise IntegrityError(f"{self.blob_path(digest)} is corrupt: its bytes do not match {digest}")
        return data

    def put_manifest_blob(self, manifest: Manifest) -> None:
        if not self.has_blob(manifest.digest, len(manifest.raw)):
            self._atomic_write(self.blob_path(manifest.digest), manifest.raw)

    def get_manifest(self, digest: str, media_type: str | None = None) -> Manifest:
        raw = self.read_blob_bytes(digest)
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
        self._atomic_write(self.root / "index.json", json.dumps(index, indent=1).encode())

    def _atomic_write(self, path: Path, data: bytes) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
            _fsync_dir(path.parent)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise LocalStorageError(f"writing {path} failed: {exc.strerror}") from None

    # -- space ---------------------------------------------------------------------------

    def free_bytes(self) -> int:
        probe = self.root
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        return shutil.disk_usage(probe).free

    def missing_bytes(self, blobs: dict[str, int]) -> int:
        return sum(size for digest, size in blobs.items() if not self.has_blob(digest, size))
