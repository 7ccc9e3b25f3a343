"""Removable media: how many bytes a copy into an OCI layout still has to write, against the room left.

One check for every front end and mode (a plan's to-dir trip, ``release mirror --to-dir``): read the
manifests of the images going there, count each blob once, and refuse before the first byte is copied
when it cannot fit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .endpoints import Endpoints, Location
from .errors import LocalStorageError, MirrorError
from .layout import OCILayout
from .registry import RegistrySession
from .text import human_bytes

SPACE_RESERVE = 16 << 20  # head room on the medium for index rewrites and temporary files


@dataclass
class MediaSpace:
    """Bytes a to-dir run still has to write to the removable medium, and what is free there."""

    directory: Path
    needed: int
    free: int


async def source_blobs(session: RegistrySession, locations: Iterable[Location], *,
                       skip_unreadable: bool = False) -> tuple[dict[str, int], int]:
    """(digest → compressed size of every unique blob, bytes of the manifests) of some source images.

    ``skip_unreadable``: an image that cannot be read is left out (the copy reports it, or skips it, as
    its options say) instead of failing the count."""
    endpoints = Endpoints(session)

    async def one(location: Location) -> tuple[dict[str, int], int]:
        source, reference = endpoints.source(location)
        top = await source.get_manifest(reference)
        manifests = [top]
        if top.is_index:
            manifests += await asyncio.gather(*(source.get_manifest(d.digest) for d in top.children()))
        return {d.digest: d.size for m in manifests for d in m.blobs()}, sum(len(m.raw) for m in manifests)

    found = await asyncio.gather(*(one(loc) for loc in locations), return_exceptions=True)
    blobs: dict[str, int] = {}
    manifest_bytes = 0
    for item in found:
        if isinstance(item, MirrorError) and skip_unreadable:
            continue
        if isinstance(item, BaseException):
            raise item
        blobs.update(item[0])
        manifest_bytes += item[1]
    return blobs, manifest_bytes


async def check_media_space(session: RegistrySession, directory: Path, sources: Iterable[Location], *,
                            reserve: int = SPACE_RESERVE, what: str = "these images",
                            fix: str = "choose another directory") -> MediaSpace:
    """What copying ``sources`` into the layout at ``directory`` still has to write (shared blobs once,
    blobs already there not at all) against the free space; LocalStorageError before anything is
    copied when it cannot fit. Reads only: never creates the directory."""
    blobs, manifest_bytes = await source_blobs(session, sources, skip_unreadable=True)
    layout = OCILayout(directory)
    space = MediaSpace(directory, layout.missing_bytes(blobs) + manifest_bytes, layout.free_bytes())
    if space.needed and space.needed + reserve > space.free:
        raise LocalStorageError(
            f"{directory} needs {human_bytes(space.needed)} more for {what} but only "
            f"{human_bytes(space.free)} is free; free some space or {fix}")
    return space
