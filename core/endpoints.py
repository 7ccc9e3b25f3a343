"""Where images come from and go to: a registry repository or an OCI layout directory.

The copy engine speaks only to :class:`Source` and :class:`Destination`; these adapters hide whether
the bytes travel over HTTP or to a disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import MappingError
from .layout import OCILayout
from .manifest import Manifest
from .reference import ImageReference, parse_reference
from .registry import CHUNK, BlobCache, RegistryClient, RegistrySession


@dataclass(frozen=True)
class RegistryLocation:
    ref: ImageReference

    def __str__(self) -> str:
        return str(self.ref)


@dataclass(frozen=True)
class LayoutLocation:
    """An image inside an OCI layout; ``name`` is its ``org.opencontainers.image.ref.name``."""

    path: Path
    name: str

    def __str__(self) -> str:
        return f"oci:{self.path}:{self.name}"


Location = RegistryLocation | LayoutLocation


def parse_location(text: str, *, default_tag: str | None = "latest") -> Location:
    """``oci:DIR:NAME`` (or ``file://DIR:NAME``) for a layout, anything else is an image reference."""
    for prefix in ("oci:", "file://"):
        if text.startswith(prefix):
            rest = text[len(prefix):]
            path, sep, name = rest.partition(":")
            if not sep or not path or not name:
                raise MappingError(f"{text!r}: a directory location is {prefix}DIR:NAME")
            return LayoutLocation(Path(path), name)
    return RegistryLocation(parse_reference(text, default_tag=default_tag))


class Source:
    key: str
    display: str

    async def get_manifest(self, reference: str) -> Manifest:
        raise NotImplementedError

    def stream(self, digest: str, size: int) -> AsyncIterator[bytes]:
        raise NotImplementedError


class Destination:
    store_key: str  # blobs are shared within one store: a registry host, or a layout directory
    repository: str
    display: str

    async def has_blob(self, digest: str, size: int) -> bool:
        raise NotImplementedError

    async def mount(self, digest: str, from_repository: str) -> bool:
        """Make ``digest`` present by reference to ``from_repository`` in the same store; False if not done."""
        return False

    async def put_blob(self, digest: str, size: int, body: Callable[[], AsyncIterator[bytes]]) -> None:
        raise NotImplementedError

    async def manifest_digest(self, reference: str) -> str | None:
        raise NotImplementedError

    async def put_manifest(self, reference: str | None, manifest: Manifest, *, top_level: bool) -> None:
        """Store ``manifest``; ``reference`` None means by digest only."""
        raise NotImplementedError

    async def put_tagged(self, tag: str, manifest: Manifest) -> None:
        """Store a top-level ``manifest`` by its digest and under ``tag`` (the tag last)."""
        await self.put_manifest(None, manifest, top_level=True)
        await self.put_manifest(tag, manifest, top_level=True)


def _slices(data: bytes) -> AsyncIterator[bytes]:
    async def gen() -> AsyncIterator[bytes]:
        for start in range(0, len(data), CHUNK):
            yield data[start:start + CHUNK]
    return gen()


class RegistrySource(Source):
    """A repository; blobs the session already holds (see :func:`remember_small_blobs`) come from memory."""

    def __init__(self, client: RegistryClient, repository: str, cache: BlobCache | None = None) -> None:
        self.client = client
        self.repository = repository
        self.cache = cache
        self.key = f"{client.registry}/{repository}"
        self.display = self.key

    async def get_manifest(self, reference: str) -> Manifest:
        return await self.client.get_manifest(self.repository, reference)

    async def stream(self, digest: str, size: int) -> AsyncIterator[bytes]:
        cached = self.cache.get(digest) if self.cache is not None else None
        if cached is not None and len(cached) == size:
            async for chunk in _slices(cached):
                yield chunk
            return
        async for chunk in self.client.stream_blob(self.repository, digest, size):
            yield chunk


class _RememberingSource(Source):
    """Reads small blobs whole (digest verified by the client) into the session's cache, then serves them."""

    def __init__(self, inner: RegistrySource, cache: BlobCache) -> None:
        self.inner = inner
        self.cache = cache
        self.key = inner.key
        self.display = inner.display

    async def get_manifest(self, reference: str) -> Manifest:
        return await self.inner.get_manifest(reference)

    async def stream(self, digest: str, size: int) -> AsyncIterator[bytes]:
        data = self.cache.get(digest)
        if data is None and size <= self.cache.max_blob:
            # Whole, even when the reader stops early (a tar scan that found its files): the copy needs it all.
            data = b"".join([chunk async for chunk in self.inner.stream(digest, size)])
            self.cache.add(digest, data)
        if data is None:
            async for chunk in self.inner.stream(digest, size):
                yield chunk
            return
        async for chunk in _slices(data):
            yield chunk


def remember_small_blobs(source: Source, session: RegistrySession) -> Source:
    """``source`` keeping the small blobs read through it in the session, so that a later copy of the
    same image in the session reads each of them from memory instead of from the registry again."""
    if isinstance(source, RegistrySource):
        return _RememberingSource(source, session.blob_cache)
    return source  # a directory: reading again costs no network


class LayoutSource(Source):
    def __init__(self, layout: OCILayout) -> None:
        self.layout = layout
        self.key = f"oci:{layout.root}"
        self.display = str(layout.root)

    async def get_manifest(self, reference: str) -> Manifest:
        if reference.startswith("sha256:"):
            return self.layout.get_manifest(reference)
        entry = self.layout.find(reference)
        return self.layout.get_manifest(entry.digest, entry.media_type)

    async def stream(self, digest: str, size: int) -> AsyncIterator[bytes]:
        async for chunk in self.layout.read_blob_chunks(digest):
            yield chunk


class RegistryDestination(Destination):
    def __init__(self, client: RegistryClient, repository: str) -> None:
        self.client = client
        self.repository = repository
        self.store_key = f"registry:{client.registry}"
        self.display = f"{client.registry}/{repository}"
        self._sessions: dict[str, str] = {}  # digest -> upload URL a mount answer left open

    async def has_blob(self, digest: str, size: int) -> bool:
        return await self.client.blob_exists(self.repository, digest)

    async def mount(self, digest: str, from_repository: str) -> bool:
        """One POST: mounted (or, from this repository itself, found present), else an upload session
        that the next :meth:`put_blob` of this digest uses instead of opening its own."""
        mounted, location = await self.client.mount_blob(self.repository, digest, from_repository)
        if location is not None:
            self._sessions[digest] = location
        return mounted

    async def put_blob(self, digest: str, size: int, body: Callable[[], AsyncIterator[bytes]]) -> None:
        location = self._sessions.pop(digest, None)
        await self.client.upload_blob(self.repository, digest, size, body, location=location)

    async def manifest_digest(self, reference: str) -> str | None:
        return await self.client.manifest_digest(self.repository, reference)

    async def put_manifest(self, reference: str | None, manifest: Manifest, *, top_level: bool) -> None:
        await self.client.put_manifest(self.repository, reference or manifest.digest, manifest)

    async def put_tagged(self, tag: str, manifest: Manifest) -> None:
        """One PUT by tag when that is known to be safe: this registry accepted a push by digest alone
        earlier in the run (so a refusing registry is still caught, and explained, on its first image)
        and it answers the tag PUT with the manifest's digest (it stores it by digest as well)."""
        if not self.client.digest_pushes_ok:
            # Until one push by digest has been answered, images wait for it rather than each paying
            # the digest-then-tag pair: hundreds of images released at once by a shared base layer
            # otherwise all send both PUTs (one extra request per image on a first mirror).
            lock = self.client.first_digest_push
            async with lock:
                if not self.client.digest_pushes_ok:
                    await super().put_tagged(tag, manifest)
                    return
        if await self.client.put_manifest(self.repository, tag, manifest) == manifest.digest:
            return
        await self.client.put_manifest(self.repository, manifest.digest, manifest)


class LayoutDestination(Destination):
    """All images of one directory share its blob store; ``name`` prefixes the index names."""

    def __init__(self, layout: OCILayout, name: str) -> None:
        self.layout = layout
        self.name = name
        self.repository = ""
        self.store_key = f"oci:{layout.root}"
        self.display = f"{layout.root}"

    async def has_blob(self, digest: str, size: int) -> bool:
        # Hashed, not just sized: removable media can be damaged between runs (in a thread: GBs).
        return await asyncio.to_thread(self.layout.has_verified_blob, digest, size)

    async def put_blob(self, digest: str, size: int, body: Callable[[], AsyncIterator[bytes]]) -> None:
        await self.layout.write_blob(digest, size, body())

    async def manifest_digest(self, reference: str) -> str | None:
        # An image counts as present only when all of it verifies: a damaged layer is copied again.
        digest: str | None = reference if reference.startswith("sha256:") else None
        if digest is None:
            digest = next((entry.digest for entry in self.layout.entries() if entry.name == reference), None)
        if digest is None:
            return None
        return digest if await asyncio.to_thread(self.layout.image_complete, digest) else None

    async def put_manifest(self, reference: str | None, manifest: Manifest, *, top_level: bool) -> None:
        self.layout.put_manifest_blob(manifest)
        if reference and not reference.startswith("sha256:"):
            await self.layout.tag(reference, manifest)


class Endpoints:
    """Builds and caches adapters so that every task touching the same place shares them."""

    def __init__(self, session: RegistrySession, *, create_layouts: bool = True) -> None:
        self.session = session
        # A dry run looks at a directory destination but must not create it.
        self.create_layouts = create_layouts
        self._layouts: dict[Path, OCILayout] = {}

    def layout(self, path: Path, *, create: bool) -> OCILayout:
        key = path.resolve()
        layout = self._layouts.get(key)
        if layout is None:
            layout = OCILayout(key)
            self._layouts[key] = layout
        if create:
            layout.ensure()
        return layout

    def source(self, location: Location) -> tuple[Source, str]:
        """The adapter and the reference to ask it for."""
        if isinstance(location, RegistryLocation):
            ref = self.session.resolve_source(location.ref)
            client = self.session.client(ref.registry)
            return RegistrySource(client, ref.repository, self.session.blob_cache), ref.reference
        return LayoutSource(self.layout(location.path, create=False)), location.name

    def destination(self, location: Location) -> tuple[Destination, str | None]:
        """The adapter and the tag (None when the destination is by digest only)."""
        if isinstance(location, RegistryLocation):
            client = self.session.client(location.ref.registry)
            return RegistryDestination(client, location.ref.repository), location.ref.tag
        layout = self.layout(location.path, create=self.create_layouts)
        return LayoutDestination(layout, location.name), location.name
