"""Pruning a release mirror: the releases no longer needed, and nothing else.

A mirror lives for years and every update path adds releases; nothing removes the old ones. Pruning
works in two reviewed steps, as oc-mirror v2's ``delete`` does:

1. :func:`plan_prune` reads the mirror repository (its tags, the manifests they name and, for every
   release kept, the components its ``image-references`` lists) and returns a :class:`PrunePlan`: every
   manifest that only releases *not* kept use, with the tags naming it, and the bytes a garbage
   collection would free. It deletes nothing. Never in it: anything a kept release references (by tag,
   by image-references or as a child of an index), a cosign signature (``sha256-<hex>.sig``) of a kept
   manifest, or anything a tag we did not write names (a manifest shared with any of these stays).
2. :func:`apply_prune` takes that plan back (PRUNE.yaml: outside input, validated), plans again against
   the mirror as it is now, deletes by digest only what both agree on (a manifest re-tagged since, or
   now needed by a kept release, stays), and says how the registry reclaims the space.

Tags this module recognises as written by mirror-wizard (and oc adm release mirror): ``VERSION-ARCH``
(a release), ``VERSION-ARCH-COMPONENT`` (a component), ``sha256-<hex>.sig`` (a signature).
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from .errors import AccessDenied, InputError, MirrorError, NotFound, PushRefused
from .fsio import atomic_write
from .graph import version_key
from .layout import OCILayout
from .manifest import Manifest
from .reference import is_valid_digest, parse_reference, parse_repository
from .registry import RegistryClient, RegistrySession
from .release import LAYOUT_REPOSITORY, RECORD_FILE, load_release, releases_in_dir
from .text import human_bytes, shown
from .userfiles import parse_yaml, read_user_file
from .yamlout import dump_yaml

PRUNE_KIND = "MirrorWizardPrune"
PRUNE_VERSION = 1
MAX_PRUNE_FILE = 16 << 20
MAX_ENTRIES = 200_000
MAX_KEEP = 100
ARCHES = ("x86_64", "aarch64", "ppc64le", "s390x", "multi")
# VERSION-ARCH[-COMPONENT]: the first -ARCH after X.Y.Z ends the version (pre-release versions have hyphens).
_OUR_TAG = re.compile(r"^(?P<version>\d{1,9}\.\d{1,9}\.\d{1,9}(?:-[0-9A-Za-z.-]{1,128}?)?)-(?P<arch>"
                      + "|".join(ARCHES) + r")(?:-(?P<component>[0-9A-Za-z][0-9A-Za-z_.-]{0,127}))?$")
_SIG_TAG = re.compile(r"^sha256-(?P<hex>[0-9a-f]{64})\.sig$")
_VERSION = re.compile(r"^\d{1,9}\.\d{1,9}\.\d{1,9}(?:-[0-9A-Za-z.-]{1,128})?$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_LAYOUT_NAME = re.compile(r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*:[\w][\w.-]{0,127}$")


class Kind(StrEnum):
    RELEASE = "release"
    COMPONENT = "component"
    SIGNATURE = "signature"
    CHILD = "child"   # a platform image of an index that goes


@dataclass
class PruneEntry:
    digest: str
    kind: Kind
    tags: list[str] = field(default_factory=list)
    release: str = ""          # VERSION-ARCH it belongs to ("" for a signature or child)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"digest": self.digest, "kind": str(self.kind), "tags": sorted(self.tags)}
        if self.release:
            data["release"] = self.release
        return data


@dataclass
class PrunePlan:
    registry: str
    repository: str
    keep_versions: list[str]
    delete_releases: list[str]            # VERSION-ARCH whose tags all go
    delete: list[PruneEntry]
    kept_releases: list[str]
    kept_tags: int
    kept_manifests: int
    foreign_tags: list[str]               # tags we did not write: their manifests stay
    free_bytes: int
    # Tags of releases that go which stay: they name a manifest something kept uses (a component shared
    # with a kept release). Removing a tag alone is no part of distribution 2's API; they cost no bytes.
    shared_tags: list[str] = field(default_factory=list)
    directory: str = ""                   # a mirror directory (OCI layout) instead of a registry repository

    @property
    def where(self) -> str:
        return self.directory or f"{self.registry}/{self.repository}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": PRUNE_KIND, "version": PRUNE_VERSION,
            **({"directory": self.directory} if self.directory else
               {"registry": self.registry, "repository": self.repository}),
            "keep_versions": list(self.keep_versions),
            "delete_releases": list(self.delete_releases),
            "free_bytes": self.free_bytes,
            "delete": [e.as_dict() for e in self.delete],
            "kept": {"releases": list(self.kept_releases), "tags": self.kept_tags,
                     "manifests": self.kept_manifests, "tags_not_ours": list(self.foreign_tags),
                     "tags_of_removed_releases_naming_kept_manifests": list(self.shared_tags)},
        }


@dataclass(frozen=True)
class _Tag:
    name: str
    kind: Kind | None         # None: not a tag we wrote
    release: str = ""         # VERSION-ARCH
    version: str = ""
    signed: str = ""          # for a .sig tag: the digest it signs
    component: str = ""


def classify(tag: str) -> _Tag:
    sig = _SIG_TAG.match(tag)
    if sig:
        return _Tag(tag, Kind.SIGNATURE, signed=f"sha256:{sig.group('hex')}")
    ours = _OUR_TAG.match(tag)
    if ours:
        release = f"{ours.group('version')}-{ours.group('arch')}"
        kind = Kind.COMPONENT if ours.group("component") else Kind.RELEASE
        return _Tag(tag, kind, release, ours.group("version"), component=ours.group("component") or "")
    return _Tag(tag, None)


def _check_keep(versions: list[str]) -> list[str]:
    if not versions:
        raise InputError("say which releases stay: --keep-version VERSION (repeatable), e.g. --keep-version 4.17.3")
    if len(versions) > MAX_KEEP:
        raise InputError(f"{len(versions)} --keep-version values; at most {MAX_KEEP}")
    for version in versions:
        if not isinstance(version, str) or not _VERSION.match(version):
            raise InputError(f"--keep-version {shown(str(version)[:60], one_line=True)!r} is not a release version "
                             "like 4.17.3")
    return sorted(set(versions))


async def _digests(client: RegistryClient, repository: str, tags: list[str]) -> dict[str, str]:
    """tag → digest (HEAD each; a tag deleted meanwhile is left out)."""
    async def one(tag: str) -> tuple[str, str | None]:
        return tag, await client.manifest_digest(repository, tag, push_scope=False)

    found = await asyncio.gather(*(one(t) for t in tags))
    return {tag: digest for tag, digest in found if digest}


class _Store:
    """Where the releases are: a registry repository (names are tags) or an OCI layout (names are
    ``repository:tag``). The planning below is the same for both."""

    where: str = ""

    def tag_of(self, name: str) -> str:
        return name

    def release_name(self, release: str) -> str:
        return release

    def release_spec(self, name: str) -> str:
        raise NotImplementedError

    async def names(self) -> dict[str, str]:
        raise NotImplementedError

    async def manifests(self, digests: set[str]) -> dict[str, Manifest]:
        raise NotImplementedError


class _RegistryStore(_Store):
    def __init__(self, session: RegistrySession, to: str) -> None:
        self.target = parse_repository(to)
        self.client = session.client(self.target.registry)
        self.where = self.target.name

    def release_spec(self, name: str) -> str:
        return f"{self.target.name}:{name}"

    async def names(self) -> dict[str, str]:
        try:
            tags = await self.client.list_tags(self.target.repository)
        except NotFound:
            raise InputError(f"{self.target.name} does not exist in the mirror: give the repository releases were "
                             "mirrored to (release mirror's --to)") from None
        return await _digests(self.client, self.target.repository, tags)

    async def manifests(self, digests: set[str]) -> dict[str, Manifest]:
        return await _manifests(self.client, self.target.repository, digests)


class _LayoutStore(_Store):
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.layout = OCILayout(self.directory)
        self.where = str(self.directory)
        if not self.layout.exists():
            raise InputError(f"{self.directory} is not a mirror directory (no oci-layout and index.json)")

    def tag_of(self, name: str) -> str:
        return name.rpartition(":")[2]

    def release_name(self, release: str) -> str:
        return f"{LAYOUT_REPOSITORY}:{release}"

    def release_spec(self, name: str) -> str:
        return f"oci:{self.directory}:{name}"

    async def names(self) -> dict[str, str]:
        return {entry.name: entry.digest for entry in self.layout.entries()}

    async def manifests(self, digests: set[str]) -> dict[str, Manifest]:
        found: dict[str, Manifest] = {}
        for digest in sorted(digests):
            if self.layout.has_blob(digest):
                found[digest] = self.layout.get_manifest(digest)
        return found


async def plan_prune(session: RegistrySession, to: str, keep_versions: list[str]) -> PrunePlan:
    """What pruning ``to`` (``HOST/REPO``, where releases were mirrored) down to ``keep_versions`` would delete."""
    store = _RegistryStore(session, to)
    plan = await _plan(session, store, keep_versions)
    plan.registry, plan.repository = store.target.registry, store.target.repository
    return plan


async def plan_prune_before(session: RegistrySession, to: str, first: str) -> PrunePlan:
    """"Remove the releases before ``first``": every release the mirror holds from ``first`` on is kept (an
    update path from A keeps A and after), the rest is planned away as :func:`plan_prune` does."""
    _check_keep([first])
    store = _RegistryStore(session, to)
    tags = await _release_tags(store)
    versions = sorted({t.version for t in tags}, key=version_key)
    keep = [v for v in versions if version_key(v) >= version_key(first)]
    if not keep:
        raise InputError(f"{store.where} holds no release from {first} on (it has: {', '.join(versions) or 'none'}); "
                         "mirror the update path first, then prune what came before it")
    return await plan_prune(session, to, keep)


async def _release_tags(store: _RegistryStore) -> list[_Tag]:
    """The tags of the repository that name a release or a component we wrote (VERSION-ARCH[-COMPONENT])."""
    try:
        tags = await store.client.list_tags(store.target.repository)
    except NotFound:
        raise InputError(f"{store.target.name} does not exist in the mirror: nothing was mirrored there yet") from None
    # Components count too: an update path may keep its release images in a repository of their own.
    return [t for t in map(classify, tags) if t.kind in (Kind.RELEASE, Kind.COMPONENT)]


async def plan_prune_dir(session: RegistrySession, directory: str | Path, keep_versions: list[str]) -> PrunePlan:
    """The same for a mirror directory (an OCI layout written by release mirror --to-dir)."""
    store = _LayoutStore(directory)
    plan = await _plan(session, store, keep_versions)
    plan.directory = str(store.directory.resolve())
    return plan


async def _plan(session: RegistrySession, store: _Store, keep_versions: list[str]) -> PrunePlan:
    keep = _check_keep(keep_versions)
    tag_digest = await store.names()
    tags = sorted(tag_digest)
    classified = [replace(classify(store.tag_of(t)), name=t) for t in tags]
    releases = sorted({t.release for t in classified if t.kind in (Kind.RELEASE, Kind.COMPONENT)})
    kept_releases = [r for r in releases if r.rsplit("-", 1)[0] in keep]
    missing = [v for v in keep if not any(r.rsplit("-", 1)[0] == v for r in kept_releases)]
    if missing:
        raise InputError(f"{store.where} holds no release {', '.join(missing)} (it has: "
                         f"{', '.join(releases) or 'none'}); nothing would be kept for it")
    # Each release image's image-references: which component tags are really ours (the component it names,
    # with that digest; an admin's "4.17.1-x86_64-mytool" is not), and what a kept release uses.
    references: dict[str, dict[str, str]] = {}
    for release in releases:
        name = store.release_name(release)
        if name in tag_digest:
            info = await load_release(session, store.release_spec(name))
            references[release] = {component: digest for component, spec in info.components.items()
                                   if (digest := parse_reference(spec, default_tag=None).digest)}
    classified = [replace(t, kind=None) if t.kind is Kind.COMPONENT and t.release in references
                  and references[t.release].get(t.component) != tag_digest.get(t.name) else t for t in classified]
    kept: set[str] = set()
    # Everything a kept release uses: its own tags, and every component its image-references names
    # (whatever tag it has now: a component shared with an older release is kept through this).
    for tag in classified:
        digest = tag_digest.get(tag.name)
        if digest is None:
            continue
        if tag.kind is None or (tag.kind is not Kind.SIGNATURE and tag.release in kept_releases):
            kept.add(digest)
    for release in kept_releases:
        kept.update(references.get(release, {}).values())
    candidates: dict[str, PruneEntry] = {}
    for tag in classified:
        digest = tag_digest.get(tag.name)
        if digest is None or tag.kind not in (Kind.RELEASE, Kind.COMPONENT) or tag.release in kept_releases:
            continue
        entry = candidates.setdefault(digest, PruneEntry(digest, tag.kind, release=tag.release))
        if tag.kind is Kind.RELEASE:
            entry.kind, entry.release = Kind.RELEASE, tag.release
    manifests = await store.manifests(set(kept) | set(candidates))
    # Children of indexes: a kept index keeps its children; a child of an index that goes goes too,
    # unless something kept uses it.
    for digest in list(kept):
        manifest = manifests.get(digest)
        if manifest is not None:
            kept.update(d.digest for d in manifest.children())
    children: dict[str, PruneEntry] = {}
    for digest in list(candidates):
        manifest = manifests.get(digest)
        if manifest is not None:
            for child in manifest.children():
                if child.digest not in candidates and child.digest not in kept:
                    children.setdefault(child.digest, PruneEntry(child.digest, Kind.CHILD))
    manifests.update(await store.manifests(set(children)))
    # Signatures follow what they sign: a .sig of a kept manifest stays, of one that goes, goes.
    deleting = {d for d in candidates if d not in kept} | set(children)
    signatures: dict[str, PruneEntry] = {}
    for tag in classified:
        digest = tag_digest.get(tag.name)
        if tag.kind is Kind.SIGNATURE and digest is not None:
            if tag.signed in deleting and digest not in kept:
                signatures.setdefault(digest, PruneEntry(digest, Kind.SIGNATURE)).tags.append(tag.name)
            else:
                kept.add(digest)
    manifests.update(await store.manifests(set(signatures) | (kept - set(manifests))))
    deleting = (deleting | set(signatures)) - kept
    # Tags naming each manifest that goes (distribution removes them with it).
    for tag_name, digest in tag_digest.items():
        named = candidates.get(digest) or signatures.get(digest)
        if named is not None and tag_name not in named.tags:
            named.tags.append(tag_name)
    order = {Kind.RELEASE: 0, Kind.COMPONENT: 1, Kind.SIGNATURE: 2, Kind.CHILD: 3}
    entries = [e for e in (*candidates.values(), *signatures.values(), *children.values()) if e.digest in deleting]
    entries.sort(key=lambda e: (order[e.kind], e.release, sorted(e.tags), e.digest))
    kept_blobs = {d.digest for digest in kept if digest in manifests for d in manifests[digest].blobs()}
    freed: dict[str, int] = {}
    for entry in entries:
        manifest = manifests.get(entry.digest)
        if manifest is not None:
            freed[entry.digest] = len(manifest.raw)  # a manifest is stored as a blob too
        for blob in manifest.blobs() if manifest is not None else []:
            if blob.digest not in kept_blobs:
                freed[blob.digest] = blob.size
    delete_releases = sorted({r for r in releases if r not in kept_releases}, key=_release_order)
    return PrunePlan(
        registry="", repository="", keep_versions=keep, delete_releases=delete_releases,
        delete=entries, kept_releases=kept_releases,
        kept_tags=sum(1 for t in tags if tag_digest.get(t) not in deleting),
        kept_manifests=len(kept), foreign_tags=sorted(t.name for t in classified if t.kind is None),
        free_bytes=sum(freed.values()),
        shared_tags=sorted(t.name for t in classified if t.kind in (Kind.RELEASE, Kind.COMPONENT)
                           and t.release not in kept_releases and tag_digest.get(t.name) in kept),
    )


def _release_order(release: str) -> tuple[Any, ...]:
    return version_key(release.rsplit("-", 1)[0]), release


async def _manifests(client: RegistryClient, repository: str, digests: set[str]) -> dict[str, Manifest]:
    async def one(digest: str) -> tuple[str, Manifest | None]:
        try:
            return digest, await client.get_manifest(repository, digest)
        except NotFound:
            return digest, None  # deleted meanwhile (or a component kept by reference but never mirrored)

    return {d: m for d, m in await asyncio.gather(*(one(d) for d in sorted(digests))) if m is not None}


# -- PRUNE.yaml --------------------------------------------------------------------------------------


def prune_yaml(plan: PrunePlan) -> str:
    head = (f"# mirror-wizard release prune: what pruning {plan.where} to {', '.join(plan.keep_versions)} deletes.\n"
            "# Nothing is deleted yet. Review, then: mirror-wizard release prune --apply THIS_FILE\n")
    return head + dump_yaml(plan.as_dict())


def _field(data: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InputError(f"{where}: {key} is missing or not a {kind.__name__}; write the file again with "
                         "mirror-wizard release prune ... -o FILE")
    return value


def load_prune_file(path: str | Path) -> PrunePlan:
    """PRUNE.yaml read back as outside input: bounded, every field checked, nothing trusted but digests and tags
    that still match the mirror at apply time."""
    file = Path(path).expanduser()
    where = f"prune file {file}"
    try:
        if file.stat().st_size > MAX_PRUNE_FILE:
            raise InputError(f"{where} is larger than {MAX_PRUNE_FILE >> 20} MiB; not a prune file")
    except FileNotFoundError:
        raise InputError(f"{where} does not exist") from None
    except OSError as exc:
        raise InputError(f"cannot read {where}: {exc.strerror or exc}") from None
    data = parse_yaml(read_user_file(file, "prune file", InputError, text=True), where=where)
    if not isinstance(data, dict) or data.get("kind") != PRUNE_KIND or data.get("version") != PRUNE_VERSION:
        raise InputError(f"{where} is not a prune file written by mirror-wizard release prune -o (kind "
                         f"{PRUNE_KIND}, version {PRUNE_VERSION})")
    directory = data.get("directory")
    if directory is not None:
        if not isinstance(directory, str) or not directory or "\x00" in directory or ":" in directory:
            raise InputError(f"{where}: directory must be the path of a mirror directory")
        registry = repository = ""
    else:
        target = parse_repository(f"{_field(data, 'registry', str, where)}/{_field(data, 'repository', str, where)}")
        registry, repository = target.registry, target.repository
    name_ok = _LAYOUT_NAME.match if directory is not None else _TAG.match
    keep = _field(data, "keep_versions", list, where)
    _check_keep(keep)
    raw_entries = _field(data, "delete", list, where)
    if len(raw_entries) > MAX_ENTRIES:
        raise InputError(f"{where} lists more than {MAX_ENTRIES} manifests")
    entries: list[PruneEntry] = []
    for number, raw in enumerate(raw_entries, start=1):
        at = f"{where}, delete entry {number}"
        if not isinstance(raw, dict):
            raise InputError(f"{at} is not a mapping")
        digest = raw.get("digest")
        if not is_valid_digest(digest):
            raise InputError(f"{at}: digest is not sha256: followed by 64 lowercase hex digits")
        try:
            kind = Kind(str(raw.get("kind")))
        except ValueError:
            raise InputError(f"{at}: kind must be one of {', '.join(k.value for k in Kind)}") from None
        tags = raw.get("tags", [])
        if not isinstance(tags, list) or len(tags) > 1000 or not all(isinstance(t, str) and name_ok(t) for t in tags):
            raise InputError(f"{at}: tags must be a list of image tags" + (" (repository:tag)" if directory else ""))
        release = raw.get("release", "")
        if not isinstance(release, str) or len(release) > 200:
            raise InputError(f"{at}: release must be text")
        entries.append(PruneEntry(str(digest), kind, list(tags), release))
    releases = data.get("delete_releases", [])
    if not isinstance(releases, list) or not all(isinstance(r, str) and _OUR_TAG.match(r) for r in releases):
        raise InputError(f"{where}: delete_releases must be a list of VERSION-ARCH")
    free = data.get("free_bytes", 0)
    return PrunePlan(registry, repository, sorted(set(keep)), list(releases), entries, [], 0, 0, [],
                     free if isinstance(free, int) and not isinstance(free, bool) else 0, directory=directory or "")


# -- applying ----------------------------------------------------------------------------------------


class Registry(StrEnum):
    DISTRIBUTION = "distribution"
    QUAY = "quay"
    HARBOR = "harbor"
    UNKNOWN = "unknown"


RECLAIM = {
    Registry.DISTRIBUTION: "the registry frees the layers at its next garbage collection: stop it (or set it "
                           "read-only) and run: registry garbage-collect --delete-untagged /etc/docker/registry/config.yml",
    Registry.QUAY: "Quay (and the mirror registry for Red Hat OpenShift) keeps deleted tags in its time machine for "
                   "the organisation's expiration window (2 weeks by default), then its garbage collector frees the "
                   "layers; shorten the window in the organisation's settings to free them sooner",
    Registry.HARBOR: "Harbor frees the layers when its garbage collection runs: Administration → Clean Up → "
                     "Garbage Collection (run it now, or on its schedule)",
}


@dataclass
class ApplyResult:
    deleted: list[PruneEntry] = field(default_factory=list)
    gone: list[PruneEntry] = field(default_factory=list)        # already deleted by someone else
    changed: list[tuple[PruneEntry, str]] = field(default_factory=list)  # kept: the mirror changed since
    free_bytes: int = 0
    reclaim: str = ""


def _changed_reason(entry: PruneEntry, fresh: PruneEntry | None) -> str | None:
    if fresh is None:
        return "now used by a kept release, a signature or a tag not ours, or no longer tagged as planned"
    if sorted(fresh.tags) != sorted(entry.tags):
        return (f"its tags changed since the file was written (now {', '.join(sorted(fresh.tags)) or 'none'}, "
                f"then {', '.join(sorted(entry.tags)) or 'none'})")
    return None


async def apply_prune(session: RegistrySession, planned: PrunePlan) -> ApplyResult:
    """Plan again, delete by digest what the file and the mirror as it is now agree on, in the file's order."""
    if planned.directory:
        return await _apply_dir(session, planned)
    fresh = await plan_prune(session, planned.where, planned.keep_versions)
    now = {e.digest: e for e in fresh.delete}
    result = ApplyResult(free_bytes=fresh.free_bytes)
    client = session.client(planned.registry)
    for entry in planned.delete:
        reason = _changed_reason(entry, now.get(entry.digest))
        if reason is not None and await client.manifest_digest(planned.repository, entry.digest) is None:
            result.gone.append(entry)  # deleted already (a second --apply, or someone else)
            continue
        if reason is not None:
            result.changed.append((entry, reason))
            continue
        status = await client.delete_manifest(planned.repository, entry.digest)
        if status == 405:
            raise PushRefused(f"{planned.registry} does not allow deletes (405): nothing was deleted"
                              if not result.deleted else
                              f"{planned.registry} stopped allowing deletes (405) after {len(result.deleted)} manifests",
                              hint="enable them (distribution: storage.delete.enabled: true), or delete the tags "
                                   "in the registry's own console", registry=planned.registry, status=405)
        if status == 403:
            raise AccessDenied(f"{planned.registry}: this login may not delete from {planned.repository} (403)",
                               hint="log in as a user with delete (admin) rights on the repository",
                               registry=planned.registry, status=403)
        (result.gone if status == 404 else result.deleted).append(entry)
    result.reclaim = RECLAIM.get(await registry_kind(client), "")
    return result


def _reachable(layout: OCILayout, tops: set[str]) -> dict[str, int]:
    """Every blob (manifests included) the given manifests need, with its size."""
    found: dict[str, int] = {}
    pending = list(tops)
    while pending:
        digest = pending.pop()
        if digest in found or not layout.has_blob(digest):
            continue
        manifest = layout.get_manifest(digest)
        found[digest] = len(manifest.raw)
        pending += [d.digest for d in manifest.children()]
        for blob in manifest.blobs():
            found.setdefault(blob.digest, blob.size)
    return found


async def _apply_dir(session: RegistrySession, planned: PrunePlan) -> ApplyResult:
    """A mirror directory is ours to collect: its index loses the names, and every blob nothing left needs
    is removed now; the release record forgets the releases that went."""
    directory = Path(planned.directory)
    fresh = await plan_prune_dir(session, directory, planned.keep_versions)
    now = {e.digest: e for e in fresh.delete}
    layout = OCILayout(directory)
    result = ApplyResult()
    agreed: set[str] = set()
    for entry in planned.delete:
        reason = _changed_reason(entry, now.get(entry.digest))
        if reason is not None and not layout.has_blob(entry.digest):
            result.gone.append(entry)
        elif reason is not None:
            result.changed.append((entry, reason))
        else:
            agreed.add(entry.digest)
            result.deleted.append(entry)
    index = layout.read_index()
    staying = [m for m in index.get("manifests", []) if m.get("digest") not in agreed]
    before = _reachable(layout, {m["digest"] for m in index.get("manifests", [])} | agreed)
    after = _reachable(layout, {m["digest"] for m in staying})
    index["manifests"] = staying
    atomic_write(directory / "index.json", json.dumps(index, indent=1).encode())
    for digest, size in before.items():
        if digest not in after:
            layout.remove_blob(digest)
            result.free_bytes += size
    records = releases_in_dir(directory)
    if any(r.get("digest") in agreed for r in records):
        atomic_write(directory / RECORD_FILE, json.dumps(
            {"kind": "mirror-wizard-release", "releases": [r for r in records if r.get("digest") not in agreed]},
            indent=2) + "\n")
    result.reclaim = "the directory's space is free now (nothing else to run)"
    if (directory / "SHA256SUMS").exists():
        result.reclaim += (f"; {directory} was a bundle: its SHA256SUMS and signature describe what it held before, "
                           "so media verify now reports the removed files. Write the bundle again for the releases "
                           "kept (release mirror --to-dir with the same directory: only what is missing moves)")
    return result


async def registry_kind(client: RegistryClient) -> Registry:
    """Which registry this is, from how it answers /v2/ (for how it reclaims space)."""
    try:
        base = await client.base_url()
        reply = await client.request("GET", f"{base}/v2/", scopes=frozenset(), ok=(200, 401, 404))
    except MirrorError:
        return Registry.UNKNOWN
    headers = {k.lower(): v.lower() for k, v in reply.headers.items()}
    server = headers.get("server", "")
    realm = headers.get("www-authenticate", "")
    # Harbor's token service is /service/token, Quay's /v2/auth; both also answer as distribution does.
    if "harbor" in server or "/service/token" in realm or any(k.startswith("x-harbor") for k in headers):
        return Registry.HARBOR
    if "quay" in server or "/v2/auth" in realm:
        return Registry.QUAY
    if headers.get("docker-distribution-api-version") == "registry/2.0":
        return Registry.DISTRIBUTION
    return Registry.UNKNOWN


def summary_lines(plan: PrunePlan) -> list[str]:
    by_kind = {k: sum(1 for e in plan.delete if e.kind is k) for k in Kind}
    lines = [f"prune {plan.where}: keep {', '.join(plan.kept_releases) or 'nothing'}"]
    lines.append(f"  releases to remove: {', '.join(plan.delete_releases) or 'none'}")
    lines.append(f"  manifests to delete: {len(plan.delete)} ({by_kind[Kind.RELEASE]} release, "
                 f"{by_kind[Kind.COMPONENT]} component, {by_kind[Kind.SIGNATURE]} signature, "
                 f"{by_kind[Kind.CHILD]} platform images), tags with them: {sum(len(e.tags) for e in plan.delete)}")
    lines.append(f"  staying: {plan.kept_tags} tags, {plan.kept_manifests} manifests"
                 + (f"; tags not written by mirror-wizard (kept, with what they name): {len(plan.foreign_tags)}"
                    if plan.foreign_tags else ""))
    if plan.shared_tags:
        lines.append(f"  {len(plan.shared_tags)} tags of the removed releases stay: they name a manifest a kept release "
                     "also uses (no bytes)")
    if plan.directory:
        lines.append(f"  applying removes {human_bytes(plan.free_bytes)} ({plan.free_bytes} bytes) from the directory")
    else:
        lines.append(f"  a garbage collection would free up to {human_bytes(plan.free_bytes)} ({plan.free_bytes} bytes) "
                     "of layers only these manifests use in this repository")
    return lines


__all__ = [
    "ApplyResult",
    "Kind",
    "PruneEntry",
    "PrunePlan",
    "Registry",
    "apply_prune",
    "classify",
    "load_prune_file",
    "plan_prune",
    "plan_prune_before",
    "prune_yaml",
    "registry_kind",
    "summary_lines",
]
