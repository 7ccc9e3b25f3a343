"""Releases: inspect one, list the versions there are, resolve and measure an update path. One
implementation for the wizard's Release step and ``mirror-wizard release info|list``.

Versions come from the channel's update graph (the update service, or a saved graph file for an offline
host) or, where the graph cannot tell (a release repository behind a mirror set, the sandbox), from the
release repository's tags.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..bundle import RELEASE_KEYS_DIR
from ..errors import MirrorError
from ..graph import (
    DEFAULT_GRAPH_URL,
    GraphRelease,
    PathMode,
    fetch_graph,
    load_graph_file,
    registry_release_tags,
    update_path,
    version_key,
)
from ..manifest import openshift_arch
from ..mirror_sets import MirrorPairs, matching_source
from ..plan import Plan
from ..registry import RegistrySession
from ..release import ReleaseInfo, SizeReport, load_release, measure_release
from ..release_path import PathSizes, load_path_releases, measure_path
from ..run import prepare_releases
from ..tlsconfig import TLSOptions

RELEASE_REPO = "quay.io/openshift-release-dev/ocp-release"


# -- inspect ------------------------------------------------------------------------------------------

@dataclass
class InspectedRelease:
    """A release read, and what a mirror of it moves; ``size_error`` when the mirror could not be looked
    into (its login not set yet, say): the sizes then say nothing of what it holds already."""

    info: ReleaseInfo
    size: SizeReport
    size_error: MirrorError | None = None


async def inspect_release(session: RegistrySession, pull_spec: str, target: str | None = None,
                          to_release_image: str | None = None) -> InspectedRelease:
    """Read ``pull_spec`` and measure it; with ``target`` (the mirror repository) also how much of it the
    mirror has already."""
    return await _inspected(session, await load_release(session, pull_spec), target, to_release_image)


async def _inspected(session: RegistrySession, info: ReleaseInfo, target: str | None,
                     to_release_image: str | None) -> InspectedRelease:
    try:
        return InspectedRelease(info, await measure_release(session, info, target, to_release_image))
    except MirrorError as exc:
        if target is None:
            raise
        return InspectedRelease(info, await measure_release(session, info, None), exc)


async def load_medium_release(session: RegistrySession, plan: Plan) -> ReleaseInfo:
    """The far side's one release: read from the medium's layout (the bundle's record, checked against the
    digest it names) as a run reads it (core.run), never from the registry it came from — a disconnected
    host has no route, often no name, for quay.io. The medium's every byte is hashed by the run, not here."""
    prepared = await prepare_releases(plan, session, signatures=False, check_media=False)
    return prepared.releases[-1]


async def inspect_medium_release(session: RegistrySession, plan: Plan, target: str | None = None) -> InspectedRelease:
    """:func:`inspect_release` for the far side: the release read from the medium, and measured with
    ``target`` (the mirror repository it is uploaded to) against what the mirror holds already."""
    to_release_image = plan.release.to_release_image if plan.release is not None else None
    return await _inspected(session, await load_medium_release(session, plan), target, to_release_image)


# -- versions -----------------------------------------------------------------------------------------

async def read_graph(channel: str, architecture: str, *, graph_file: str | None = None, graph_url: str | None = None,
                     tls: TLSOptions | None = None) -> list[GraphRelease]:
    """The channel's update graph: the saved file when one is given (offline hosts), else the service."""
    if graph_file:
        return load_graph_file(graph_file)
    return await fetch_graph(channel, architecture, graph_url or DEFAULT_GRAPH_URL, tls=tls)


def redirected(mirror_sets: MirrorPairs, repository: str = RELEASE_REPO) -> bool:
    """Is the release repository read through a mirror set? Then what that mirror holds is what can be
    copied, and its tags answer for the versions rather than the update graph."""
    return matching_source(repository, mirror_sets) is not None


def release_tags(tags: list[str], architectures: tuple[str, ...]) -> list[str]:
    """The release tags (``VERSION-ARCH``) among a repository's tags, for these architectures."""
    arches = tuple(openshift_arch(a) for a in architectures)
    return [t for t in tags if any(t.endswith(f"-{a}") for a in arches)]


async def registry_versions(session: RegistrySession, architecture: str, channel: str = "",
                            repository: str = RELEASE_REPO) -> list[str]:
    """The versions a release repository has for ``architecture``, newest first; with a channel
    (``stable-4.17``), those of its minor when there are any."""
    tags = await registry_release_tags(session, repository)
    suffix = f"-{architecture}"
    versions = sorted({t[: -len(suffix)] for t in tags if t.endswith(suffix)}, key=version_key, reverse=True)
    prefix = channel.split("-", 1)[-1] if channel else ""
    if prefix:
        versions = [v for v in versions if v.startswith(prefix + ".") or v == prefix] or versions
    return versions


# -- update paths -------------------------------------------------------------------------------------

@dataclass
class UpdatePath:
    """An update path's graph releases (oldest first), each read, and what each adds to the ones before."""

    graph: list[GraphRelease]
    releases: list[ReleaseInfo]
    sizes: PathSizes
    size_error: MirrorError | None = None  # the mirror could not be looked into: sizes without "present"


def resolve_path(graph: list[GraphRelease], start: str, end: str, *, all_versions: bool = False,
                 channel: str = "") -> list[GraphRelease]:
    """The releases from ``start`` to ``end`` (shortest, or every version on some path), oldest first."""
    mode: PathMode = "all" if all_versions else "shortest"
    return update_path(graph, start, end, mode=mode, channel=channel)


async def read_path(session: RegistrySession, path: list[GraphRelease], target: str | None = None,
                    to_release_image: str | None = None) -> UpdatePath:
    """Every release of a path read (by payload digest) and measured: the bytes one copy moves; with
    ``target`` (the mirror repository) less what the mirror holds already, as for one release."""
    infos = await load_path_releases(session, path)
    return await _measured(session, path, infos, target, to_release_image)


async def _measured(session: RegistrySession, path: list[GraphRelease], infos: list[ReleaseInfo],
                    target: str | None, to_release_image: str | None = None) -> UpdatePath:
    try:
        return UpdatePath(path, infos, await measure_path(session, infos, target, to_release_image))
    except MirrorError as exc:
        if target is None:
            raise
        return UpdatePath(path, infos, await measure_path(session, infos), exc)


async def read_medium_path(session: RegistrySession, plan: Plan) -> UpdatePath:
    """The far side: the update path pinned on the medium (the plan's ``release.releases``, the bundle's
    records), read from its layout as a run reads it (core.run) — no update graph, no network but the
    mirror, which says what it holds already. The medium's every byte is hashed by the run, not here."""
    prepared = await prepare_releases(plan, session, signatures=False, check_media=False)
    infos = prepared.releases
    graph = [GraphRelease(info.version, f"{info.source_repository}@{info.digest}" if info.source_repository
                          else info.digest, {}, []) for info in infos]
    target = plan.release.target if plan.release is not None else None
    to_release_image = plan.release.to_release_image if plan.release is not None else None
    return await _measured(session, graph, infos, target or None, to_release_image)


async def measure_release_in_mirror(session: RegistrySession, info: ReleaseInfo, target: str,
                                    to_release_image: str | None = None) -> SizeReport:
    """One release measured again against the mirror as it is now (core.release.in_mirror): after a run
    or a prune what it holds has changed, and only looking into it says what a run would move. Cheap when
    repeated: what the release's images hold is read once (kept in ``info.contents``), the mirror every time."""
    return await measure_release(session, info, target, to_release_image)


async def measure_path_in_mirror(session: RegistrySession, infos: list[ReleaseInfo], target: str,
                                 to_release_image: str | None = None) -> PathSizes:
    """An update path's releases measured again against the mirror as it is now (as for one release)."""
    return await measure_path(session, infos, target, to_release_image)


async def measure_graph_path(session: RegistrySession, path: list[GraphRelease]) -> PathSizes:
    """Only the sizes of a path (``release list --from-version``)."""
    return (await read_path(session, path)).sizes


__all__ = ["MAX_CARRIED_KEYS", "RELEASE_REPO", "InspectedRelease", "UpdatePath", "carried_release_keys",
           "inspect_medium_release", "inspect_release", "load_medium_release", "measure_graph_path",
           "measure_path_in_mirror", "measure_release_in_mirror",
           "read_graph", "read_medium_path", "read_path", "redirected",
           "registry_versions", "release_tags", "resolve_path"]


# -- release keys a medium carries ------------------------------------------------------------------------

MAX_CARRIED_KEYS = 16  # a medium naming more is not one the connected side wrote


def carried_release_keys(directory: str | Path) -> list[str]:
    """The release public key files a bundle carries (config/release-keys/, the keys the connected side
    trusted), as paths to name in --release-key or the wizard's Release keys field. Listed, never trusted:
    which keys this host trusts is its admin's answer. Regular files only (a planted link is not listed),
    at most MAX_CARRIED_KEYS; [] when the folder is absent or unreadable."""
    folder = Path(directory) / RELEASE_KEYS_DIR
    try:
        if folder.is_symlink() or not folder.is_dir():
            return []
        entries = sorted(folder.iterdir())[:MAX_CARRIED_KEYS]
    except OSError:
        return []
    return [str(entry) for entry in entries if not entry.is_symlink() and entry.is_file()]
