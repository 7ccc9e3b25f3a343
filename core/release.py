"""An OpenShift release payload: read it, size it, plan its mirror, extract its installer.

A release image is an ordinary image whose layers hold ``release-manifests/image-references`` (an
ImageStream naming every component image by digest) and ``release-manifests/release-metadata``
(version, previous versions, errata URL). Mirroring it means copying the release image unchanged plus
every component by digest, tagged ``<version>-<arch>-<component>`` as ``oc adm release mirror`` does.

To removable media it goes into an OCI layout, named like oc's ``file://openshift/release`` tags, with
a small record (``mirror-wizard-release.json``) of where it came from, so ``--from-dir`` can upload it
with the same tags and digests and print the same mirror instructions.
"""

from __future__ import annotations

import asyncio
import json
import platform
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .copier import CopyTask
from .endpoints import (
    Endpoints,
    LayoutLocation,
    Location,
    RegistryLocation,
    Source,
    parse_location,
    remember_small_blobs,
)
from .errors import (
    InputError,
    LocalStorageError,
    NotFound,
    RegistryError,
    ReleaseError,
)
from .extract import extract_file, read_members, scan_tar, stamp_release
from .fsio import atomic_write
from .layout import OCILayout
from .manifest import Manifest, go_arch, openshift_arch
from .reference import (
    ImageReference,
    is_digest,
    parse_reference,
    parse_repository,
    validate_digest,
)
from .registry import RegistrySession
from .release_tag import release_image_in_mirror, release_tag
from .userfiles import parse_json

IMAGE_REFERENCES = "release-manifests/image-references"
RELEASE_METADATA = "release-manifests/release-metadata"
RECORD_FILE = "mirror-wizard-release.json"
LAYOUT_REPOSITORY = "openshift/release"  # as oc's file://openshift/release, so names read the same
RELEASE_KEY = ""  # layout_names key of the release image itself

# command → (component carrying it, path inside the image), as oc adm release extract --command.
COMMANDS = {
    "openshift-install": ("installer", "usr/bin/openshift-install"),
    "oc": ("cli", "usr/bin/oc"),
}
_HOST_ARCHES = ("amd64", "arm64", "ppc64le", "s390x")  # image platforms (Go names) a host may run


ImageContents = tuple[dict[str, int], int]  # digest → compressed size of an image's blobs; its manifests' bytes


@dataclass
class ReleaseInfo:
    pull_spec: str               # where it was read (a registry pull spec, or oci:DIR:NAME)
    digest: str                  # the release image's manifest digest (kept unchanged by a mirror)
    version: str
    architecture: str            # x86_64, aarch64, ... or multi for a manifest list release
    metadata: dict[str, Any]     # release-metadata as found (kind, version, previous, metadata.url)
    components: dict[str, str]   # component name → pull spec by digest, as image-references says
    source_repository: str       # the release's own repository (the source in mirror instructions)
    component_repository: str    # the repository most components live in
    layout: str | None = None    # set when read from a directory written by --to-dir
    layout_names: dict[str, str] = field(default_factory=dict)  # component ("" = release) → name there
    # What its images pinned by digest hold, once read (image_blobs): measuring the release again against
    # the mirror then asks only the mirror. Immutable facts of the release, not of a run.
    contents: dict[str, ImageContents] = field(default_factory=dict, repr=False, compare=False)

    @property
    def previous(self) -> list[str]:
        value = self.metadata.get("previous")
        return [str(v) for v in value] if isinstance(value, list) else []

    @property
    def errata_url(self) -> str | None:
        inner = self.metadata.get("metadata")
        url = inner.get("url") if isinstance(inner, dict) else None
        return url if isinstance(url, str) else None

    @property
    def tag(self) -> str:
        """``<version>-<arch>``: the release image's tag in a mirror (core.release_tag)."""
        return release_tag(self.version, self.architecture)

    def component_tag(self, name: str) -> str:
        return f"{self.tag}-{name}"


@dataclass
class SizeReport:
    images: int
    blobs: int
    total_bytes: int
    present_bytes: int | None
    manifest_bytes: int = 0
    # Of ``images``, how many the mirror lacks (tag not there, or naming another manifest); None: not looked
    # at. Blobs alone do not say it: a pruned release leaves its layers until the registry's garbage collection.
    missing_images: int | None = None

    @property
    def missing_bytes(self) -> int:
        return self.total_bytes - (self.present_bytes or 0)


# -- parsing the payload's files ------------------------------------------------------------------

def _load_structured(data: bytes, where: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        pass
    except RecursionError:  # nesting deep enough to exhaust the stack: one line, not a traceback
        raise ReleaseError(f"{where} is not usable: it is nested too deeply") from None
    try:
        return yaml.safe_load(data)
    except yaml.YAMLError:
        raise ReleaseError(f"{where} is neither JSON nor YAML") from None
    except RecursionError:
        raise ReleaseError(f"{where} is not usable: it is nested too deeply") from None


# A component's name becomes part of a tag (VERSION-ARCH-NAME) and is printed: what oc's names look like
# (aws-ebs-csi-driver), nothing a terminal would obey, nothing a tag cannot hold.
_COMPONENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,100}", re.ASCII)
# A release version as release-metadata writes it (4.17.3, 4.18.0-rc.1, 4.16.0-0.okd-2024-...).
_RELEASE_VERSION = re.compile(r"\d{1,9}\.\d{1,9}\.\d{1,9}(?:-[0-9A-Za-z.-]{1,128})?(?:\+[0-9A-Za-z.-]{1,128})?", re.ASCII)


def parse_image_references(data: bytes, where: str = IMAGE_REFERENCES) -> tuple[str, dict[str, str]]:
    """(ImageStream name, {component: pull spec by digest}) — refusing tags, as oc does."""
    stream = _load_structured(data, where)
    if not isinstance(stream, dict) or stream.get("kind") != "ImageStream":
        raise ReleaseError(f"{where} is not an ImageStream; is this an OpenShift release image?")
    if stream.get("apiVersion") not in ("image.openshift.io/v1", "v1"):
        raise ReleaseError(f"{where} has apiVersion {stream.get('apiVersion')!r}, not image.openshift.io/v1")
    name = str((stream.get("metadata") or {}).get("name") or "")
    components: dict[str, str] = {}
    for tag in (stream.get("spec") or {}).get("tags") or []:
        if not isinstance(tag, dict) or not tag.get("name"):
            raise ReleaseError(f"{where} has a tag without a name")
        if not isinstance(tag["name"], str) or not _COMPONENT_NAME.fullmatch(tag["name"]):
            raise ReleaseError(f"{where}: component name {str(tag['name'])[:80]!r} is not a name a release uses")
        source = tag.get("from") or {}
        if source.get("kind") != "DockerImage":
            continue
        spec = str(source.get("name") or "")
        ref = parse_reference(spec, default_tag=None)
        if ref.digest is None or ref.tag is not None:
            raise ReleaseError(f"{where}: component {tag['name']} is {spec}, not a pull spec by digest")
        components[str(tag["name"])] = spec
    if not components:
        raise ReleaseError(f"{where} names no component images")
    return name, dict(sorted(components.items()))


def parse_release_metadata(data: bytes, where: str = RELEASE_METADATA) -> dict[str, Any]:
    metadata = _load_structured(data, where)
    if not isinstance(metadata, dict):
        raise ReleaseError(f"{where} is not a JSON object")
    if metadata.get("kind") not in (None, "cincinnati-metadata-v0"):
        raise ReleaseError(f"{where} has kind {metadata.get('kind')!r}, not cincinnati-metadata-v0")
    if "previous" in metadata and not isinstance(metadata["previous"], list):
        raise ReleaseError(f"{where}: 'previous' is not a list")
    return metadata


# -- reading images ---------------------------------------------------------------------------------

def _host_arch() -> str:
    arch = go_arch(platform.machine().lower())
    return arch if arch in _HOST_ARCHES else "amd64"


async def pick_platform(source: Source, index: Manifest, where: str, prefer: str = "amd64") -> Manifest:
    entries = index.children()
    chosen = [d for d in entries if d.platform and d.platform.os == "linux" and d.platform.architecture == prefer]
    if not chosen:
        chosen = [d for d in entries if d.platform and d.platform.os == "linux" and d.platform.architecture == "amd64"]
    if not chosen:
        chosen = entries[:1]
    if not chosen:
        raise ReleaseError(f"{where} is an empty manifest list")
    manifest = await source.get_manifest(chosen[0].digest)
    if manifest.is_index:
        raise ReleaseError(f"{where} nests one manifest list in another; not supported")
    return manifest


async def _read_blob(source: Source, digest: str, size: int, limit: int = 16 << 20) -> bytes:
    if size > limit:
        raise ReleaseError(f"blob {digest} is {size} bytes, larger than an image config should be")
    parts = [chunk async for chunk in source.stream(digest, size)]
    return b"".join(parts)


async def _find_files(source: Source, image: Manifest, wanted: set[str], where: str) -> dict[str, bytes]:
    """The topmost copy of each wanted file, scanning layers from the top down and stopping early."""
    found: dict[str, bytes] = {}
    for layer in reversed(image.layers()):
        if layer.urls:
            continue
        in_layer: dict[str, bytes] = {}
        await scan_tar(source.stream(layer.digest, layer.size), read_members(wanted - set(found), in_layer),
                       where=f"layer {layer.digest[:19]} of {where}")
        found.update(in_layer)
        if wanted.issubset(found):
            break
    return found


def _reference_location(pull_spec: str) -> Location:
    try:
        return parse_location(pull_spec, default_tag="latest")
    except InputError as exc:
        raise type(exc)(f"release {pull_spec!r}: {exc}") from None


async def load_release(session: RegistrySession, pull_spec: str) -> ReleaseInfo:
    """Read a release image (by tag or digest, from a registry or an ``oci:DIR:NAME`` layout)."""
    location = _reference_location(pull_spec)
    endpoints = Endpoints(session)
    source, reference = endpoints.source(location)
    source = remember_small_blobs(source, session)  # the copy then reads config and files layer from memory
    top = await source.get_manifest(reference)
    image = top
    if top.is_index:
        architecture = "multi"
        image = await pick_platform(source, top, pull_spec)
    config_desc = image.config()
    if config_desc is None:
        raise ReleaseError(f"{pull_spec} has no image config")
    config = parse_json(await _read_blob(source, config_desc.digest, config_desc.size),
                        where=f"the image config of {pull_spec}", error=ReleaseError)
    if not isinstance(config, dict):
        raise ReleaseError(f"the image config of {pull_spec} is not a JSON object")
    if not top.is_index:
        architecture = openshift_arch(str(config.get("architecture") or "amd64"))
    files = await _find_files(source, image, {IMAGE_REFERENCES, RELEASE_METADATA}, pull_spec)
    if IMAGE_REFERENCES not in files:
        raise ReleaseError(f"{pull_spec} is not an OpenShift release image: it has no {IMAGE_REFERENCES}")
    stream_name, components = parse_image_references(files[IMAGE_REFERENCES], f"{pull_spec}: image-references")
    metadata = parse_release_metadata(files[RELEASE_METADATA], f"{pull_spec}: release-metadata") \
        if RELEASE_METADATA in files else {}
    version = str(metadata.get("version") or stream_name or "")
    if not version:
        raise ReleaseError(f"{pull_spec} names no version in release-metadata or image-references")
    if not _RELEASE_VERSION.fullmatch(version):
        raise ReleaseError(f"{pull_spec}: version {version[:80]!r} is not a release version like 4.17.3")
    repos = Counter(parse_reference(spec, default_tag=None).name for spec in components.values())
    info = ReleaseInfo(
        pull_spec=pull_spec, digest=top.digest, version=version, architecture=architecture, metadata=metadata,
        components=components, source_repository="", component_repository=repos.most_common(1)[0][0],
    )
    if isinstance(location, RegistryLocation):
        info.source_repository = location.ref.name
    else:
        info.layout = str(location.path)
        record = _record_for_digest(location.path, top.digest)
        if record is not None:
            info.source_repository = str(record.get("source_repository") or "")
            info.layout_names = dict(record.get("layout_names") or {})
    return info


# -- sizes ---------------------------------------------------------------------------------------------

def release_location(info: ReleaseInfo) -> Location:
    """The release image pinned by digest, so a moved tag can never change what is copied."""
    location = _reference_location(info.pull_spec)
    if isinstance(location, RegistryLocation):
        return RegistryLocation(location.ref.with_digest(info.digest))
    return LayoutLocation(location.path, info.digest)


def component_location(info: ReleaseInfo, name: str) -> Location:
    """From the release's directory when it holds the component (as oc's file:// lookups), else its registry."""
    ref = parse_reference(info.components[name], default_tag=None)
    if info.layout and ref.digest and OCILayout(info.layout).has_blob(ref.digest):
        return LayoutLocation(Path(info.layout), ref.digest)
    return RegistryLocation(ref)


def source_locations(info: ReleaseInfo) -> list[tuple[str, Location]]:
    """("" for the release, component name) → where to read it."""
    return [(RELEASE_KEY, release_location(info))] + [(n, component_location(info, n)) for n in info.components]


def release_sources(info: ReleaseInfo) -> list[Location]:
    """Where every image of the release is read (for sizes and space checks)."""
    return [location for _, location in source_locations(info)]


def _pinned(location: Location) -> str | None:
    if isinstance(location, RegistryLocation) and location.ref.digest:
        return str(location.ref)
    return None


async def image_blobs(session: RegistrySession, locations: list[Location],
                      known: dict[str, ImageContents] | None = None) -> list[ImageContents]:
    """Per image (in the order given): digest → compressed size of its blobs (an index: its children's),
    and the bytes of its manifests. ``known`` (a release's ``ReleaseInfo.contents``) remembers what images
    pinned by digest hold: their manifests' bytes are their digests (checked as read, core.registry.client),
    so measuring the release again (the wizard's Release step each time it is shown, after a run or a
    prune) reads nothing again from the source — a real update path is several hundred manifests. A
    layout is read again (cheap, and a medium can be written anew); what the *mirror* holds is never
    remembered."""
    endpoints = Endpoints(session)

    async def one(location: Location) -> ImageContents:
        key = _pinned(location)
        if known is not None and key is not None and key in known:
            return known[key]
        source, reference = endpoints.source(location)
        top = await source.get_manifest(reference)
        manifests = [top]
        if top.is_index:
            manifests += await asyncio.gather(*(source.get_manifest(d.digest) for d in top.children()))
        found = {d.digest: d.size for m in manifests for d in m.blobs()}, sum(len(m.raw) for m in manifests)
        if known is not None and key is not None:
            known[key] = found
        return found

    results = await asyncio.gather(*(one(location) for location in locations), return_exceptions=True)
    for item in results:
        if isinstance(item, BaseException):
            raise item
    return [item for item in results if not isinstance(item, BaseException)]


def merged_blobs(images: list[ImageContents]) -> ImageContents:
    """The unique blobs of some images (image_blobs) and the bytes of their manifests."""
    blobs: dict[str, int] = {}
    for found, _ in images:
        blobs.update(found)
    return blobs, sum(manifest_bytes for _, manifest_bytes in images)


async def measure_release(session: RegistrySession, info: ReleaseInfo, to_repo: str | None = None,
                          to_release_image: str | None = None) -> SizeReport:
    """Bytes a mirror moves (unique compressed blobs) and, with ``to_repo``, how much is there already
    (and how many of its images the mirror lacks)."""
    images = await image_blobs(session, release_sources(info), info.contents)
    blobs, manifest_bytes = merged_blobs(images)
    present, missing = await in_mirror(session, [info], [images], to_repo, to_release_image) if to_repo else (None, None)
    return SizeReport(images=len(info.components) + 1, blobs=len(blobs), total_bytes=sum(blobs.values()),
                      present_bytes=present, manifest_bytes=manifest_bytes, missing_images=missing)


async def in_mirror(session: RegistrySession, infos: list[ReleaseInfo],
                    images: list[list[ImageContents]], to_repo: str,
                    to_release_image: str | None = None) -> tuple[int, int | None]:
    """What the mirror holds of these releases now: (bytes of their blobs there, how many of their images
    (payload and components, tagged as a run tags them) it lacks: the tag absent, or naming another
    manifest; None for a layout, ``oci:DIR``, written whole). ``images``: each release's image_blobs, in
    release_sources order. Asked by HEAD only (nothing read, nothing changed), every time: after a run or
    a prune only the mirror knows.

    An image there (its tag names the manifest wanted) has every blob it needs in its repository (a
    registry accepts a manifest only once they are, and keeps them while it is referenced), so its blobs
    count as present without a HEAD each, as the copier skips them (core.copier: an image present is not
    copied); only the blobs of the images missing are asked about. A fully mirrored path costs one HEAD
    per image; a pruned image's layers, left until garbage collection, are still found by their HEADs."""
    union, _ = merged_blobs([found for per_release in images for found in per_release])
    if to_repo.startswith(("oci:", "file://")):
        return await bytes_present(session, union, to_repo), None
    wanted: list[tuple[ImageReference, str | None, dict[str, int]]] = []
    for info, per_release in zip(infos, images, strict=True):
        digests = [info.digest] + [parse_reference(info.components[n], default_tag=None).digest
                                   for n in info.components]
        for task, digest, (blobs, _) in zip(release_tasks(info, to_repo, to_release_image), digests, per_release,
                                            strict=True):
            if isinstance(task.destination, RegistryLocation):
                wanted.append((task.destination.ref, digest, blobs))

    async def there(ref: ImageReference, digest: str | None) -> bool:
        found = await session.client(ref.registry).manifest_digest(ref.repository, ref.tag or ref.digest or "latest",
                                                                   push_scope=False)
        return found is not None and (digest is None or found == digest)

    held = await asyncio.gather(*(there(ref, digest) for ref, digest, _ in wanted))
    # A component named by tag only (digest None) is there by its tag, but which blobs it holds is not known.
    covered = {d for (_, digest, blobs), ok in zip(wanted, held, strict=True) if ok and digest for d in blobs}
    rest = {digest: size for digest, size in union.items() if digest not in covered}
    present = sum(union[d] for d in covered) + (await bytes_present(session, rest, to_repo) if rest else 0)
    return present, sum(1 for ok in held if not ok)


async def bytes_present(session: RegistrySession, blobs: dict[str, int], to_repo: str) -> int:
    """How many of these blobs' bytes ``to_repo`` (a mirror repository, or ``oci:DIR``) holds already: what
    a mirror will really not move. One place for a release and an update path alike."""
    if to_repo.startswith(("oci:", "file://")):
        layout = OCILayout(_dir_of(to_repo))
        return sum(size for digest, size in blobs.items() if layout.has_blob(digest, size))
    target = parse_repository(to_repo)
    client = session.client(target.registry)
    found = await asyncio.gather(*(client.blob_exists(target.repository, d, push_scope=False) for d in blobs))
    return sum(size for (digest, size), ok in zip(blobs.items(), found, strict=True) if ok)


def _dir_of(text: str) -> Path:
    for prefix in ("oci:", "file://"):
        text = text.removeprefix(prefix)
    return Path(text.split(":", 1)[0])


# -- tasks -------------------------------------------------------------------------------------------

def _tag(ref: ImageReference, tag: str) -> ImageReference:
    try:
        return parse_reference(f"{ref.name}:{tag}")
    except InputError:
        raise ReleaseError(f"{tag!r} is not a valid tag (from release version and component name)") from None


def release_tasks(info: ReleaseInfo, to_repo: str, to_release_image: str | None = None) -> list[CopyTask]:
    """The release image at ``to_release_image`` (default ``<to>:<version>-<arch>``), components by
    digest tagged ``<version>-<arch>-<component>`` in ``to_repo``. One list: one copy graph."""
    target = parse_repository(to_repo)
    at = release_image_in_mirror(target.name, info.version, info.architecture, to_release_image)
    try:
        release_dest = parse_reference(at)
    except InputError:
        raise ReleaseError(f"{at!r} is not a valid release image (from release version and architecture)") from None
    tasks = [CopyTask(release_location(info), RegistryLocation(release_dest))]
    for name in info.components:
        tasks.append(CopyTask(component_location(info, name), RegistryLocation(_tag(target, info.component_tag(name)))))
    return tasks


def layout_name(info: ReleaseInfo, component: str = RELEASE_KEY) -> str:
    """``openshift/release:<version>-<arch>[-<component>]``: what skopeo finds as oci:DIR:NAME."""
    return f"{LAYOUT_REPOSITORY}:{info.component_tag(component) if component else info.tag}"


def to_dir_tasks(info: ReleaseInfo, directory: Path, *, prepare: bool = True) -> list[CopyTask]:
    """The release and its components into an OCI layout.

    With ``prepare`` (not for a dry run) the release is recorded in the directory, so a later
    --from-dir finds it, and images whose blobs are not all there (a damaged medium) are forgotten
    so the copy writes them again instead of counting them as done.
    """
    directory = Path(directory)
    if str(directory).count(":"):
        raise InputError(f"{directory}: a mirror directory path cannot contain ':' (skopeo reads oci:DIR:NAME)")
    tasks = [CopyTask(release_location(info), LayoutLocation(directory, layout_name(info)))]
    for name in info.components:
        tasks.append(CopyTask(component_location(info, name), LayoutLocation(directory, layout_name(info, name))))
    if prepare:
        write_release_record(info, directory)
        _forget_incomplete(info, directory)
    return tasks


def _forget_incomplete(info: ReleaseInfo, directory: Path) -> list[str]:
    """Remove the manifest of every image of this release that is in DIR without all of its blobs."""
    layout = OCILayout(directory)
    digests = {RELEASE_KEY: info.digest} | {n: s.rsplit("@", 1)[1] for n, s in info.components.items()}
    forgotten = []
    for name, digest in digests.items():
        if layout.has_blob(digest) and not complete_in_layout(layout, digest):
            layout.remove_blob(digest)  # validated digest, no link followed
            forgotten.append(name or "release")
    return forgotten


def from_dir_tasks(info: ReleaseInfo, directory: Path, to_repo: str, to_release_image: str | None = None) -> list[CopyTask]:
    """Upload a release read with :func:`load_release_from_dir`: same tags and digests as a direct mirror."""
    if not info.layout or Path(info.layout).resolve() != Path(directory).resolve():
        raise ReleaseError(f"release {info.version} was not read from {directory}; use load_release_from_dir")
    return release_tasks(info, to_repo, to_release_image)


# -- the record in a mirror directory -------------------------------------------------------------

def _read_record(directory: Path) -> dict[str, Any]:
    path = Path(directory) / RECORD_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {"kind": "mirror-wizard-release", "releases": []}
    except OSError as exc:
        raise ReleaseError(f"cannot read {path}: {exc.strerror or exc}") from None
    # The record travels on removable media: every field is checked before it is used.
    data = parse_json(raw, where=str(path), error=ReleaseError)
    if not isinstance(data, dict) or not isinstance(data.get("releases"), list):
        raise ReleaseError(f"{path} is not a mirror-wizard release record; remove it and write the release "
                           "again with --to-dir")
    for number, entry in enumerate(data["releases"], start=1):
        where = f"{path} release {number}"
        if not isinstance(entry, dict):
            raise ReleaseError(f"{where} is not an object")
        for key in ("name", "version", "architecture"):
            if not isinstance(entry.get(key, ""), str):
                raise ReleaseError(f"{where}: {key} is not text")
        if not isinstance(entry.get("name"), str):
            raise ReleaseError(f"{where} has no name")
        validate_digest(entry.get("digest"), where=where, error=ReleaseError)
        names = entry.get("layout_names", {})
        if not isinstance(names, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in names.items()):
            raise ReleaseError(f"{where}: layout_names must map component names to image names")
    return data


def _record_for_digest(directory: Path, digest: str) -> dict[str, Any] | None:
    try:
        records = _read_record(directory)["releases"]
    except ReleaseError:
        return None
    return next((r for r in records if isinstance(r, dict) and r.get("digest") == digest), None)


def write_release_record(info: ReleaseInfo, directory: Path) -> Path:
    """Add (or replace) this release in DIR/mirror-wizard-release.json, atomically."""
    directory = Path(directory)
    layout = OCILayout(directory)
    layout.ensure()
    data = _read_record(directory)
    names = {RELEASE_KEY: layout_name(info)} | {n: layout_name(info, n) for n in info.components}
    entry = {
        "name": layout_name(info), "version": info.version, "architecture": info.architecture,
        "digest": info.digest, "source": info.pull_spec if not info.layout else info.source_repository,
        "source_repository": info.source_repository, "component_repository": info.component_repository,
        "components": len(info.components), "layout_names": names,
    }
    data["releases"] = [r for r in data["releases"] if isinstance(r, dict) and r.get("name") != entry["name"]]
    data["releases"].append(entry)
    path = directory / RECORD_FILE
    atomic_write(path, json.dumps(data, indent=2) + "\n")
    return path


def releases_in_dir(directory: Path) -> list[dict[str, Any]]:
    return [r for r in _read_record(Path(directory))["releases"] if isinstance(r, dict)]


def choose_record(directory: Path, release: str | None) -> dict[str, Any]:
    """The record of the release ``release`` names (version, version-arch, layout name or digest) among
    those a --to-dir run wrote in ``directory``; with ``release`` None, the only one."""
    records = releases_in_dir(directory)
    if not records:
        raise ReleaseError(f"{directory} has no {RECORD_FILE}: it was not written by mirror-wizard release mirror --to-dir")
    chosen = [r for r in records if release in (None, r.get("version"), f"{r.get('version')}-{r.get('architecture')}",
                                                r.get("name"), r.get("digest"))]
    if len(chosen) != 1:
        names = ", ".join(f"{r.get('version')}-{r.get('architecture')}" for r in records)
        what = f"no release {release!r}" if release and not chosen else "several releases"
        raise ReleaseError(f"{directory} holds {what} ({names}); choose one with --from VERSION")
    return chosen[0]


async def load_recorded_release(session: RegistrySession, directory: Path, record: dict[str, Any]) -> ReleaseInfo:
    """The one way to read a release from a medium: its payload from the layout, checked against the digest
    the record names, with where it came from (source repository, layout names)."""
    digest = str(record.get("digest") or "")
    if not is_digest(digest) or not OCILayout(directory).has_blob(digest):
        raise ReleaseError(f"{directory}: the release image {record.get('name')} is not complete; "
                           "run the --to-dir mirror again to finish it")
    info = await load_release(session, f"oci:{directory}:{record['name']}")
    if info.digest != digest:
        raise ReleaseError(f"{directory}: {record.get('name')} is {info.digest}, but the record says {digest}")
    info.layout = str(directory)
    info.source_repository = str(record.get("source_repository") or "")
    info.layout_names = dict(record.get("layout_names") or {})
    return info


async def load_release_from_dir(session: RegistrySession, directory: Path, release: str | None = None) -> ReleaseInfo:
    """The release a --to-dir run wrote (``release``: its version or version-arch when DIR holds several).

    Reads the payload from the layout itself, and checks every component is complete there.
    """
    directory = Path(directory)
    layout = OCILayout(directory)
    if not layout.exists():
        raise ReleaseError(f"{directory} is not a mirror directory (no oci-layout/index.json); "
                           "write one with: mirror-wizard release mirror --from RELEASE --to-dir DIR")
    info = await load_recorded_release(session, directory, choose_record(directory, release))
    missing = [n for n, spec in info.components.items() if not complete_in_layout(layout, spec.rsplit("@", 1)[1])]
    if missing:
        raise ReleaseError(f"{directory} holds {len(info.components) - len(missing)} of {len(info.components)} "
                           f"component images of release {info.version} (missing: {', '.join(missing[:5])}"
                           f"{' …' if len(missing) > 5 else ''}); run the --to-dir mirror again to finish it")
    return info


def complete_in_layout(layout: OCILayout, digest: str) -> bool:
    """Every blob of the image is there at its size (the upload from the directory hashes each one)."""
    return layout.image_complete(digest, verify=False)


# -- extracting a command -------------------------------------------------------------------------------

def _component_candidates(info: ReleaseInfo, name: str) -> list[Location]:
    """Where to look for a component: beside the release image first (a mirror holds it there by
    digest), then where image-references says (through the session's mirror sets)."""
    spec = parse_reference(info.components[name], default_tag=None)
    candidates: list[Location] = []
    if info.layout:
        candidates.append(LayoutLocation(Path(info.layout), spec.digest or ""))
    location = _reference_location(info.pull_spec)
    if isinstance(location, RegistryLocation) and location.ref.name != spec.name:
        candidates.append(RegistryLocation(location.ref.with_digest(spec.digest or "")))
    candidates.append(RegistryLocation(spec))
    return candidates


def pinned_pull_spec(info: ReleaseInfo) -> str:
    """The release as the extracted binary should name it: by digest, where it was read from.

    From a directory there is no registry to name, so the release's original repository is used; the
    cluster's ImageDigestMirrorSet sends that to the mirror.
    """
    if info.layout is not None or info.pull_spec.startswith(("oci:", "file://")):
        return f"{info.source_repository}@{info.digest}"
    return str(parse_reference(info.pull_spec).with_digest(info.digest))


async def extract_command(session: RegistrySession, pull_spec: str, command: str, to_dir: Path) -> Path:
    """Write ``command`` (openshift-install or oc) from the release's component to ``to_dir``, mode 0755."""
    if command not in COMMANDS:
        raise InputError(f"--command {command!r}: choose one of {', '.join(COMMANDS)}")
    component, inner_path = COMMANDS[command]
    if pull_spec.startswith(("oci:", "file://")) and ":" not in pull_spec.split(":", 1)[1]:
        info = await load_release_from_dir(session, _dir_of(pull_spec))
    else:
        info = await load_release(session, pull_spec)
    if component not in info.components:
        raise ReleaseError(f"release {info.version} has no {component} component, so no {command}")
    endpoints = Endpoints(session)
    errors: list[str] = []
    image: Manifest | None = None
    source: Source | None = None
    for location in _component_candidates(info, component):
        try:
            source, reference = endpoints.source(location)
            top = await source.get_manifest(reference)
        except (RegistryError, ReleaseError) as exc:  # not there, or that registry is out of reach: next
            errors.append(str(exc))
            continue
        image = await pick_platform(source, top, str(location), _host_arch()) if top.is_index else top
        break
    if image is None or source is None:
        raise NotFound(f"the {component} image of release {info.version} was not found: " + "; ".join(errors))
    target_dir = Path(to_dir).expanduser()
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LocalStorageError(f"cannot create {target_dir}: {exc.strerror or exc}") from None
    target = target_dir / command
    tmp = target_dir / f".{command}.{secrets.token_hex(6)}.partial"  # created O_EXCL: never a planted file
    try:
        for layer in reversed(image.layers()):
            if layer.urls:
                continue
            size = await extract_file(source.stream(layer.digest, layer.size), inner_path, tmp,
                                      where=f"layer {layer.digest[:19]} of the {component} image")
            if size is not None:
                stamp_release(tmp, image=pinned_pull_spec(info), version=info.version)
                tmp.replace(target)  # only now: the whole layer has been checked against its digest
                return target
    except OSError as exc:
        raise LocalStorageError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    raise ReleaseError(f"the {component} image of release {info.version} has no /{inner_path}")


__all__ = [
    "COMMANDS",
    "RECORD_FILE",
    "ReleaseInfo",
    "SizeReport",
    "bytes_present",
    "extract_command",
    "image_blobs",
    "in_mirror",
    "from_dir_tasks",
    "layout_name",
    "load_release",
    "load_release_from_dir",
    "measure_release",
    "merged_blobs",
    "parse_image_references",
    "parse_release_metadata",
    "release_sources",
    "release_tasks",
    "releases_in_dir",
    "to_dir_tasks",
    "write_release_record",
]
