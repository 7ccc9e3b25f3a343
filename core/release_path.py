"""Several releases (an update path) mirrored as one copy.

The releases of a path share most of their bytes (base layers, unchanged components). Their copy tasks
go into one graph, so the copier reads and writes each shared blob once; each release keeps the tags
``oc adm release mirror`` gives it. The sizes say, per release, how many bytes it adds to the ones
before it on the path, and how many the sharing saves over mirroring each release alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .copier import CopyTask
from .errors import ReleaseError
from .graph import GraphRelease
from .registry import RegistrySession
from .release import (
    ReleaseInfo,
    image_blobs,
    in_mirror,
    load_release,
    merged_blobs,
    release_sources,
    release_tasks,
    to_dir_tasks,
)

LOAD_CONCURRENCY = 4


@dataclass(frozen=True)
class ReleaseBytes:
    version: str
    digest: str
    total_bytes: int      # the release alone: its unique blobs
    new_bytes: int        # what it adds to the releases before it on the path

    @property
    def shared_bytes(self) -> int:
        return self.total_bytes - self.new_bytes


@dataclass
class PathSizes:
    releases: list[ReleaseBytes] = field(default_factory=list)
    unique_bytes: int = 0         # what the one copy moves (blobs)
    blobs: int = 0
    # Of unique_bytes, what the mirror holds already (measured with a target; None: not looked at).
    present_bytes: int | None = None
    # Of the path's images, how many the mirror lacks (core.release.in_mirror; None: not looked at).
    missing_images: int | None = None

    @property
    def missing_bytes(self) -> int:
        """What a mirror will really move: the path's bytes less what the mirror has."""
        return self.unique_bytes - (self.present_bytes or 0)

    @property
    def saved_bytes(self) -> int:
        """Bytes not moved thanks to sharing, compared with mirroring each release on its own."""
        return sum(r.total_bytes for r in self.releases) - self.unique_bytes


async def load_path_releases(session: RegistrySession, path: Sequence[GraphRelease | str]) -> list[ReleaseInfo]:
    """Read every release of a path (graph releases by their payload digest, or pull specs), in order.

    A graph release read from another place than its payload (an ImageDigestMirrorSet in the session)
    must still be the same image: its digest is checked against the graph's.
    """
    limit = asyncio.Semaphore(LOAD_CONCURRENCY)

    async def one(item: GraphRelease | str) -> ReleaseInfo:
        spec = item.payload if isinstance(item, GraphRelease) else item
        if not spec:
            raise ReleaseError(f"release {getattr(item, 'version', item)} has no payload in the update graph")
        async with limit:
            info = await load_release(session, spec)
        if isinstance(item, GraphRelease) and info.version != item.version:
            raise ReleaseError(f"{spec} is release {info.version}, but the update graph says {item.version}")
        return info

    return list(await asyncio.gather(*(one(item) for item in path)))


def check_distinct(infos: Sequence[ReleaseInfo]) -> None:
    seen: dict[str, str] = {}
    for info in infos:
        if info.tag in seen:
            raise ReleaseError(f"releases {seen[info.tag]} and {info.pull_spec} would both be tagged {info.tag}")
        seen[info.tag] = info.pull_spec


async def measure_path(session: RegistrySession, infos: Sequence[ReleaseInfo], to_repo: str | None = None,
                       to_release_image: str | None = None) -> PathSizes:
    """Bytes per release, bytes the one copy moves, bytes saved by sharing (compressed blob sizes); with
    ``to_repo`` (the mirror repository) also how much of it the mirror holds already, as for one release."""
    images = await asyncio.gather(*(image_blobs(session, release_sources(info), info.contents) for info in infos))
    sizes = PathSizes()
    union: dict[str, int] = {}
    for info, per_release in zip(infos, images, strict=True):
        blobs, _manifest_bytes = merged_blobs(per_release)
        new = sum(size for digest, size in blobs.items() if digest not in union)
        sizes.releases.append(ReleaseBytes(info.version, info.digest, sum(blobs.values()), new))
        union.update(blobs)
    sizes.unique_bytes = sum(union.values())
    sizes.blobs = len(union)
    if to_repo:
        sizes.present_bytes, sizes.missing_images = await in_mirror(session, list(infos), list(images), to_repo,
                                                                    to_release_image)
    return sizes


def path_tasks(infos: Sequence[ReleaseInfo], to_repo: str) -> list[CopyTask]:
    """Every release of the path into one repository, each tagged as oc tags it: one copy graph."""
    check_distinct(infos)
    return [task for info in infos for task in release_tasks(info, to_repo)]


def path_to_dir_tasks(infos: Sequence[ReleaseInfo], directory: Path, *, prepare: bool = True) -> list[CopyTask]:
    """Every release of the path into one OCI directory (each recorded there for a later from-dir)."""
    check_distinct(infos)
    return [task for info in infos for task in to_dir_tasks(info, directory, prepare=prepare)]


__all__ = ["PathSizes", "ReleaseBytes", "load_path_releases", "measure_path", "path_tasks", "path_to_dir_tasks"]
