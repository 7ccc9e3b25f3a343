"""The OpenShift Update Service's graph-data image, built without a container engine.

A disconnected cluster gets update recommendations from an OpenShift Update Service (OSUS) running
inside it. The service's graph builder reads the update graph's data (channels, blocked edges) from
``/var/lib/cincinnati/graph-data``, which an init container fills from the image the ``UpdateService``
names in ``graphDataImage`` (cincinnati-operator, controllers/new.go: newGraphDataInitContainer runs the
image's own command with that folder mounted).

This module builds that image the way oc-mirror v2 does (openshift/oc-mirror, internal/pkg/release/
graph.go CreateGraphImage and const.go, at 855b64a3): the graph-data tarball
(https://api.openshift.com/api/upgrades_info/graph-data) unpacked under
``/var/lib/cincinnati-graph-data`` in one layer owned by root, on ``registry.access.redhat.com/ubi9/ubi``,
with the command ``/bin/bash -c "exec cp -rp /var/lib/cincinnati-graph-data/* /var/lib/cincinnati/graph-data"``,
pushed as ``openshift/graph-image:latest``. The layer is written with :mod:`tarfile` and gzip at fixed
times, so the same graph data on the same base gives the same digest (a rerun changes nothing, and the
``UpdateService``'s digest only moves when the data does).

The tarball is outside input: only regular files and folders under the four top-level entries the
update service reads, no absolute or escaping names, bounded in count and size.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import tarfile
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .ca import ca_manifests, configmap_key
from .copier import CopyOptions, CopyTask, copy_images
from .endpoints import LayoutLocation, RegistryLocation
from .errors import InputError, RegistryProtocolError, ReleaseError
from .fsio import atomic_write
from .http import HttpClient
from .layout import OCILayout
from .manifest import OCI_INDEX, OCI_MANIFEST, Manifest, sha256_digest
from .plan import Plan, ReleaseMode
from .reference import ImageReference, parse_reference, parse_repository
from .registry import RegistryClient, RegistrySession
from .text import plural, shown
from .tlsconfig import TLSOptions
from .userfiles import parse_json
from .yamlout import dump_yaml

GRAPH_DATA_URL = "https://api.openshift.com/api/upgrades_info/graph-data"
DEFAULT_BASE_IMAGE = "registry.access.redhat.com/ubi9/ubi:latest"  # oc-mirror v2's graphBaseImage
GRAPH_IMAGE_REPOSITORY = "openshift/graph-image"                   # oc-mirror v2's graphImageName
GRAPH_IMAGE_TAG = "latest"
# On removable media (an OCI layout, names are repository:tag): the graph image and the base it was built on.
GRAPH_LAYOUT_NAME = f"{GRAPH_IMAGE_REPOSITORY}:{GRAPH_IMAGE_TAG}"
GRAPH_BASE_LAYOUT_REPOSITORY = "openshift/graph-image-base"
GRAPH_DATA_DIR = "var/lib/cincinnati-graph-data"                   # buildGraphDataDir, relative in the layer
GRAPH_DATA_MOUNT = "/var/lib/cincinnati/graph-data"                # graphDataMountPath: the operator's volume
GRAPH_COMMAND = ["/bin/bash", "-c", f"exec cp -rp /{GRAPH_DATA_DIR}/* {GRAPH_DATA_MOUNT}"]
# What the update service's graph builder reads from the tarball; anything else is refused.
TOP_LEVEL = ("blocked-edges", "channels", "raw", "version")
TOP_LEVEL_DIRS = ("blocked-edges", "channels", "raw")

# Bounds for a hostile tarball: the real one is a few MB compressed, a few thousand files.
MAX_TARBALL = 128 << 20
MAX_UNPACKED = 512 << 20
MAX_MEMBER = 32 << 20
MAX_MEMBERS = 50_000
TAR_OVERHEAD = 64 << 20     # headers and padding around the files' bytes
MAX_CONFIG = 1 << 20        # an image config is a few KB
FETCH_DEADLINE = 600.0

DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


@dataclass(frozen=True)
class GraphDataLayer:
    """The validated graph data as one gzip layer (``blob``) with its digests and what it holds."""

    blob: bytes
    digest: str
    diff_id: str
    files: int
    channels: tuple[str, ...]
    version: str

    @property
    def size(self) -> int:
        return len(self.blob)

    @property
    def contents(self) -> str:
        """"1 channel, 12 files": the one wording every front end shows for what the layer holds."""
        return f"{plural(len(self.channels), 'channel')}, {plural(self.files, 'file')}"


def _member_path(name: str, where: str) -> PurePosixPath | None:
    """The member's path inside the graph data, or None for the archive's own root (``.``, ``./``)."""
    if "\x00" in name or "\\" in name:
        raise InputError(f"{where}: entry {shown(name[:80], one_line=True)!r} has a character no graph-data file has")
    if name.startswith("/"):
        raise InputError(f"{where}: entry {shown(name[:80], one_line=True)!r} is an absolute path; refused")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise InputError(f"{where}: entry {shown(name[:80], one_line=True)!r} climbs out of the archive; refused")
    if not parts:
        return None
    return PurePosixPath(*parts)


def _unpacked(data: bytes, where: str) -> bytes:
    """The tar stream: gunzipped here with a bound (tarfile would read a giant PAX header or a gzip bomb
    whole), or the data itself when it is a plain tar. The graph-data tarball is gzip; nothing else is read."""
    if data[:2] != b"\x1f\x8b":
        return data
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, MAX_UNPACKED + TAR_OVERHEAD)
    except zlib.error:
        raise InputError(f"{where} is not a readable gzip file; give the update service's graph-data tarball, "
                         f"from {GRAPH_DATA_URL}") from None
    if inflater.unconsumed_tail:
        raise InputError(f"{where} unpacks to more than {(MAX_UNPACKED + TAR_OVERHEAD) >> 20} MiB; not graph data")
    return out


def graph_data_layer(data: bytes, where: str) -> GraphDataLayer:
    """Check the graph-data tarball and write its tree under ``var/lib/cincinnati-graph-data/`` as a layer.

    Refused in one line: not a tar archive, links or devices, absolute or ``..`` names, top-level
    entries other than blocked-edges/, channels/, raw/ and version, no channels, over the size bounds.
    """
    if len(data) > MAX_TARBALL:
        raise InputError(f"{where} is {len(data)} bytes, more than the {MAX_TARBALL >> 20} MiB a graph-data "
                         "tarball can be")
    files: dict[PurePosixPath, tuple[bytes, int]] = {}
    folders: set[PurePosixPath] = set()
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(_unpacked(data, where)), mode="r:") as archive:
            count = 0
            while (member := archive.next()) is not None:
                count += 1
                if count > MAX_MEMBERS:
                    raise InputError(f"{where} holds more than {MAX_MEMBERS} entries; not graph data")
                path = _member_path(member.name, where)
                label = shown(member.name[:80], one_line=True)
                if not (member.isfile() or member.isdir()):
                    raise InputError(f"{where}: entry {label!r} is a link or special file; graph data holds only "
                                     "files and folders")
                if path is None:
                    continue
                if path.parts[0] not in TOP_LEVEL:
                    raise InputError(f"{where}: unexpected entry {label!r}; graph data holds only "
                                     f"{', '.join(d + '/' for d in TOP_LEVEL_DIRS)} and version")
                if member.isdir():
                    if path == PurePosixPath("version"):
                        raise InputError(f"{where}: version is a folder; it must be a file")
                    folders.add(path)
                    continue
                if path.parts[0] in TOP_LEVEL_DIRS and len(path.parts) == 1:
                    raise InputError(f"{where}: {label!r} is a file; it must be a folder")
                if path.parts[0] == "version" and len(path.parts) > 1:
                    raise InputError(f"{where}: unexpected entry {label!r} under version")
                if member.size > MAX_MEMBER:
                    raise InputError(f"{where}: {label!r} is {member.size} bytes, more than the "
                                     f"{MAX_MEMBER >> 20} MiB accepted for one graph-data file")
                total += member.size
                if total > MAX_UNPACKED:
                    raise InputError(f"{where} unpacks to more than {MAX_UNPACKED >> 20} MiB; not graph data")
                if path in files:
                    raise InputError(f"{where}: {label!r} appears twice")
                stream = archive.extractfile(member)
                content = stream.read(MAX_MEMBER + 1) if stream is not None else b""
                if len(content) != member.size:
                    raise InputError(f"{where}: {label!r} is cut short; the archive is damaged")
                files[path] = (content, member.mtime if isinstance(member.mtime, int) else 0)
    except (tarfile.TarError, EOFError, zlib.error, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{where} is not a readable tar archive ({shown(str(exc)[:120], one_line=True)}); give the "
                         f"update service's graph-data tarball, from {GRAPH_DATA_URL}") from None
    channels = tuple(sorted(p.name for p in files if p.parts[0] == "channels" and p.suffix in (".yaml", ".yml")))
    if not channels:
        raise InputError(f"{where} holds no channels/*.yaml: it is not the update service's graph data "
                         f"(download it from {GRAPH_DATA_URL})")
    version_file = files.get(PurePosixPath("version"))
    version = version_file[0].decode("utf-8", "replace").strip()[:40] if version_file else ""
    # Parent folders of every file, so the layer is complete even when the archive listed none.
    for path in files:
        folders.update(path.parents)
    folders.discard(PurePosixPath("."))
    raw = _write_layer(files, folders)
    blob = gzip.compress(raw, compresslevel=6, mtime=0)
    return GraphDataLayer(blob, sha256_digest(blob), sha256_digest(raw), len(files), channels, version)


def _write_layer(files: dict[PurePosixPath, tuple[bytes, int]], folders: set[PurePosixPath]) -> bytes:
    """Sorted, owned by root (as oc-mirror writes it: uid and gid 0), folders 0755 and files 0644."""
    out = io.BytesIO()
    root = PurePosixPath(GRAPH_DATA_DIR)
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        entries: list[tuple[PurePosixPath, bytes | None, int]] = [(root, None, 0)]
        entries += [(root / f, None, 0) for f in folders]
        entries += [(root / p, content, mtime) for p, (content, mtime) in files.items()]
        for path, content, mtime in sorted(entries, key=lambda e: str(e[0])):
            info = tarfile.TarInfo(str(path) + ("/" if content is None else ""))
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = max(0, mtime)
            if content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.mode, info.size = 0o644, len(content)
                tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def read_graph_data_file(path: str | Path) -> tuple[bytes, str]:
    file = Path(path).expanduser()
    where = f"graph data {file}"
    try:
        size = file.stat().st_size
        if file.is_dir():
            raise InputError(f"{where} is a folder; give the tarball (pack a folder with: tar -czf graph-data.tar.gz "
                             f"-C {shown(str(file), one_line=True)} .)")
        if size > MAX_TARBALL:
            raise InputError(f"{where} is {size} bytes, more than the {MAX_TARBALL >> 20} MiB a graph-data tarball can be")
        return file.read_bytes(), where
    except FileNotFoundError:
        raise InputError(f"{where} does not exist") from None
    except PermissionError:
        raise InputError(f"cannot read {where}: permission denied") from None
    except OSError as exc:
        raise InputError(f"cannot read {where}: {exc.strerror or exc}") from None


async def fetch_graph_data(url: str, tls: TLSOptions) -> tuple[bytes, str]:
    """The tarball from the update service (connected hosts), bounded in size and time."""
    if not url.startswith(("https://", "http://")):
        raise InputError(f"--graph-data-url {shown(url[:80], one_line=True)!r} is not an http(s) URL")
    http = HttpClient(tls)
    try:
        answer = await http.fetch(url, limit=MAX_TARBALL, deadline=FETCH_DEADLINE, what="the graph data",
                                  who=f"the update service at {url.split('/')[2]}")
    finally:
        await http.aclose()
    if answer.status != 200:
        raise ReleaseError(f"{shown(url, one_line=True)} answered {answer.status}; graph data not downloaded")
    return answer.content, f"the graph data from {shown(url, one_line=True)}"


# -- the image ---------------------------------------------------------------------------------------


def graph_image_reference(to: str, graph_image: str | None) -> ImageReference:
    """``HOST[/NAMESPACE]/openshift/graph-image:latest`` (oc-mirror's name), or ``--graph-image``."""
    if graph_image:
        ref = parse_reference(graph_image, default_tag=GRAPH_IMAGE_TAG)
        if ref.digest:
            raise InputError(f"--graph-image {graph_image}: name a tag, not a digest (the digest is the build's)")
        return ref
    target = parse_repository(to) if "/" in to.strip("/") else None
    host = target.registry if target else to.strip("/")
    namespace = target.repository + "/" if target else ""
    return parse_reference(f"{host}/{namespace}{GRAPH_IMAGE_REPOSITORY}:{GRAPH_IMAGE_TAG}")


def base_mirror_reference(base: ImageReference, graph: ImageReference, to: str) -> ImageReference:
    """Where the base image is mirrored: its own path under ``--to`` (as any additional image), its tag kept,
    so the mirror holds it tagged (housekeeping never collects it) and the graph image mounts its layers."""
    target = parse_repository(to) if "/" in to.strip("/") else None
    namespace = target.repository + "/" if target else ""
    return ImageReference(graph.registry, f"{namespace}{base.repository}", tag=base.tag or "latest",
                          digest=None if base.tag else base.digest)


@dataclass
class GraphImageResult:
    reference: ImageReference     # the tag written
    digest: str                   # what the UpdateService pins
    base: str                     # the base image as named
    base_mirror: ImageReference   # where the base went in the mirror
    platforms: list[str] = field(default_factory=list)
    layer: GraphDataLayer | None = None

    @property
    def pinned(self) -> str:
        return f"{self.reference.name}@{self.digest}"


def _new_config(config: dict[str, Any], layer: GraphDataLayer) -> dict[str, Any]:
    rootfs = config.get("rootfs")
    if not isinstance(rootfs, dict) or not isinstance(rootfs.get("diff_ids"), list):
        raise RegistryProtocolError("the base image's config has no rootfs.diff_ids")
    out = dict(config)
    out["rootfs"] = {**rootfs, "diff_ids": [*rootfs["diff_ids"], layer.diff_id]}
    inner = config.get("config")
    inner = dict(inner) if isinstance(inner, dict) else {}
    inner["Cmd"] = list(GRAPH_COMMAND)
    inner.pop("Entrypoint", None)  # the command alone runs, as oc-mirror's image (ubi has none)
    out["config"] = inner
    history = config.get("history")
    if isinstance(history, list):
        # One history entry per added layer keeps podman and skopeo's layer/history check happy.
        out["history"] = [*history, {"created": config.get("created", "1970-01-01T00:00:00Z"),
                                     "created_by": "mirror-wizard release graph-image: graph data under "
                                                   f"/{GRAPH_DATA_DIR}",
                                     "comment": f"graph data {layer.version}".strip()}]
    return out


def _extended(image: Manifest, raw_config: bytes, layer: GraphDataLayer) -> tuple[Manifest, bytes]:
    """The base image plus the graph-data layer and command: the new manifest and its config's bytes."""
    data = image.json
    config = parse_json(raw_config, where=f"the config of the base image {image.digest}", error=RegistryProtocolError)
    if not isinstance(config, dict):
        raise RegistryProtocolError(f"the config of the base image {image.digest} is not a JSON object")
    new_config = json.dumps(_new_config(config, layer), separators=(",", ":")).encode()
    config_digest = sha256_digest(new_config)
    layer_type = OCI_LAYER if image.media_type == OCI_MANIFEST else DOCKER_LAYER
    new = dict(data)
    new["config"] = {**data["config"], "digest": config_digest, "size": len(new_config)}
    new["layers"] = [*data["layers"], {"mediaType": layer_type, "digest": layer.digest, "size": layer.size}]
    return Manifest.parse(json.dumps(new, indent=3).encode(), image.media_type, where="graph image"), new_config


def _config_digest(image: Manifest) -> str:
    config_desc = image.config()
    if config_desc is None:
        raise RegistryProtocolError(f"the base image {image.digest} has no config")
    return config_desc.digest


async def _extend_image(client: RegistryClient, repository: str, base_repo: str, image: Manifest,
                        layer: GraphDataLayer) -> Manifest:
    """The base image plus the graph-data layer and command: config and layer uploaded, manifest pushed by
    digest. The base's own blobs are mounted from where the base was mirrored."""
    raw_config = await client.read_blob(base_repo, _config_digest(image), limit=MAX_CONFIG)
    manifest, new_config = _extended(image, raw_config, layer)
    for descriptor in image.blobs():
        if base_repo != repository:
            mounted, _ = await client.mount_blob(repository, descriptor.digest, base_repo)
            if not mounted and not await client.blob_exists(repository, descriptor.digest):
                raise RegistryProtocolError(f"{client.registry} did not mount {descriptor.digest[:19]} from {base_repo} "
                                            f"into {repository}; cross-repository mounts are needed here")
    await _upload(client, repository, layer.digest, layer.blob)
    await _upload(client, repository, sha256_digest(new_config), new_config)
    await client.put_manifest(repository, manifest.digest, manifest)
    return manifest


async def _upload(client: RegistryClient, repository: str, digest: str, data: bytes) -> None:
    if await client.blob_exists(repository, digest):
        return

    async def body() -> AsyncIterator[bytes]:
        yield data

    await client.upload_blob(repository, digest, len(data), body)


class _ImageStore:
    """Where the graph image is written: a registry repository, or (removable media) an OCI layout."""

    async def base_manifest(self, reference: str) -> Manifest:
        raise NotImplementedError

    async def extend(self, image: Manifest, layer: GraphDataLayer) -> Manifest:
        raise NotImplementedError

    async def put_top(self, manifest: Manifest) -> None:
        raise NotImplementedError


class _RegistryImages(_ImageStore):
    def __init__(self, session: RegistrySession, target: ImageReference, base_mirror: ImageReference) -> None:
        self.client = session.client(target.registry)
        self.target, self.base_mirror = target, base_mirror

    async def base_manifest(self, reference: str) -> Manifest:
        return await self.client.get_manifest(self.base_mirror.repository, reference)

    async def extend(self, image: Manifest, layer: GraphDataLayer) -> Manifest:
        return await _extend_image(self.client, self.target.repository, self.base_mirror.repository, image, layer)

    async def put_top(self, manifest: Manifest) -> None:
        await self.client.put_manifest(self.target.repository, self.target.tag or GRAPH_IMAGE_TAG, manifest)


class _LayoutImages(_ImageStore):
    """The layout holds the base (copied in under its own name) and receives the new blobs beside it."""

    def __init__(self, layout: OCILayout) -> None:
        self.layout = layout

    async def base_manifest(self, reference: str) -> Manifest:
        digest = self.layout.find(reference).digest if not reference.startswith("sha256:") else reference
        return self.layout.get_manifest(digest)

    def _put_blob(self, digest: str, data: bytes) -> None:
        if not self.layout.has_blob(digest, len(data)):
            atomic_write(self.layout.blob_path(digest), data, make_parents=False)

    async def extend(self, image: Manifest, layer: GraphDataLayer) -> Manifest:
        raw_config = self.layout.read_blob_bytes(_config_digest(image), limit=MAX_CONFIG)
        manifest, new_config = _extended(image, raw_config, layer)
        self._put_blob(layer.digest, layer.blob)
        self._put_blob(sha256_digest(new_config), new_config)
        self.layout.put_manifest_blob(manifest)
        return manifest

    async def put_top(self, manifest: Manifest) -> None:
        self.layout.put_manifest_blob(manifest)
        await self.layout.tag(GRAPH_LAYOUT_NAME, manifest)


async def _write_graph_image(store: _ImageStore, top_reference: str, base_image: str,
                             layer: GraphDataLayer) -> tuple[Manifest, list[str]]:
    """Each platform of the base plus the graph-data layer and command; the new top manifest written."""
    top = await store.base_manifest(top_reference)
    platforms: list[str] = []
    if not top.is_index:
        final = await store.extend(top, layer)
        platforms.append("single image")
    else:
        index = top.json
        entries: list[dict[str, Any]] = []
        for entry, descriptor in zip(index.get("manifests", []), top.children(), strict=True):
            if descriptor.platform is not None and descriptor.platform.os == "unknown":
                continue  # a build attestation (buildx writes them as unknown/unknown), not a platform image
            child = await store.base_manifest(descriptor.digest)
            if child.is_index:
                raise InputError(f"the base image {base_image} nests an index; name one platform's image instead")
            extended = await store.extend(child, layer)
            entries.append({**entry, "mediaType": extended.media_type, "digest": extended.digest,
                            "size": len(extended.raw)})
            platforms.append(str(descriptor.platform) if descriptor.platform else descriptor.digest[:19])
        if not entries:
            raise InputError(f"the base image {base_image} holds no platform image")
        new_index = {**index, "manifests": entries}
        final = Manifest.parse(json.dumps(new_index, indent=3).encode(), top.media_type or OCI_INDEX,
                               where="graph image index")
    await store.put_top(final)
    return final, platforms


async def build_graph_image(session: RegistrySession, layer: GraphDataLayer, *, to: str,
                            graph_image: str | None = None, base_image: str = DEFAULT_BASE_IMAGE,
                            cancel: asyncio.Event | None = None) -> GraphImageResult:
    """Mirror the base image under ``to`` (through the session's mirror sets, like any source), then push
    the graph image: each platform of the base plus the graph-data layer and command, tagged ``latest``."""
    target = graph_image_reference(to, graph_image)
    base_ref = parse_reference(base_image)
    base_mirror = base_mirror_reference(base_ref, target, to)
    result = await copy_images([CopyTask(RegistryLocation(base_ref), RegistryLocation(base_mirror))], session,
                               CopyOptions(), cancel=cancel)
    if not result.ok:
        raise result.failures[0].error
    final, platforms = await _write_graph_image(_RegistryImages(session, target, base_mirror), base_mirror.reference,
                                                base_image, layer)
    return GraphImageResult(target, final.digest, base_image, base_mirror, platforms, layer)


async def build_graph_image_in_layout(session: RegistrySession, layer: GraphDataLayer, directory: Path, *,
                                      graph_image: str, base_image: str = DEFAULT_BASE_IMAGE,
                                      cancel: asyncio.Event | None = None) -> GraphImageResult:
    """The same image written into a removable medium's OCI layout as ``openshift/graph-image:latest`` (the
    base copied in as ``openshift/graph-image-base:<tag>``): the bundle carries it like any image and the
    far side's run uploads it to ``graph_image`` (:func:`graph_image_upload_task`)."""
    target = parse_reference(graph_image)
    base_ref = parse_reference(base_image)
    base_name = f"{GRAPH_BASE_LAYOUT_REPOSITORY}:{base_ref.tag or 'latest'}"
    result = await copy_images([CopyTask(RegistryLocation(base_ref), LayoutLocation(directory, base_name))], session,
                               CopyOptions(), cancel=cancel)
    if not result.ok:
        raise result.failures[0].error
    final, platforms = await _write_graph_image(_LayoutImages(OCILayout(directory)), base_name, base_image, layer)
    return GraphImageResult(target, final.digest, base_image, target, platforms, layer)


def graph_image_upload_task(directory: Path, graph_image: str) -> CopyTask | None:
    """From the medium to the mirror: the graph image the connected side wrote (None when it holds none)."""
    layout = OCILayout(directory)
    if not layout.exists() or not any(e.name == GRAPH_LAYOUT_NAME for e in layout.entries()):
        return None
    return CopyTask(LayoutLocation(directory, GRAPH_LAYOUT_NAME), RegistryLocation(parse_reference(graph_image)))


# -- from a plan: the one function a run (and so the wizard's Mirror step) builds it with --------------


def default_graph_image(mirror: str) -> str:
    """What the wizard writes into ``release.graph_image`` for a mirror: oc-mirror's name under its host."""
    return str(graph_image_reference(mirror, None))


async def read_graph_data(source: str | None, tls: TLSOptions) -> tuple[bytes, str]:
    """A plan's ``release.graph_data``: an http(s) URL is downloaded, anything else is the tarball's path;
    None: the update service's own URL (connected hosts)."""
    if source is None or source.startswith(("https://", "http://")):
        return await fetch_graph_data(source or GRAPH_DATA_URL, tls)
    return read_graph_data_file(source)


async def build_plan_graph_image(plan: Plan, session: RegistrySession, *,
                                 cancel: asyncio.Event | None = None) -> GraphImageResult:
    """The plan's graph-data image (``release.graph_image``) built from its ``release.graph_data`` and
    pushed, the base read through the session's mirror sets (the plan's idms_file): what ``release
    graph-image`` does, from the plan's keys. A to-dir plan writes it onto the medium instead (the far
    side's run uploads it with the releases)."""
    release = plan.release
    if release is None or not release.graph_image:
        raise InputError("the plan keeps no update service: release.graph_image is empty")
    data, where = await read_graph_data(release.graph_data, session.tls)
    layer = graph_data_layer(data, where)
    directory = plan.media_directory
    if release.mode == ReleaseMode.TO_DIR and directory is not None:
        return await build_graph_image_in_layout(session, layer, directory, graph_image=release.graph_image,
                                                 cancel=cancel)
    target = parse_reference(release.graph_image)
    return await build_graph_image(session, layer, to=target.registry, graph_image=release.graph_image,
                                   cancel=cancel)


def releases_repository(plan: Plan) -> str:
    """The UpdateService's ``releases``: the mirror repository the release images are tagged in (the
    repository of ``to_release_image`` when the plan puts them apart, else the release target)."""
    release = plan.release
    if release is not None and release.to_release_image:
        return parse_reference(release.to_release_image, default_tag=None).name
    return plan.release_target


# -- what the cluster needs ---------------------------------------------------------------------------

UPDATE_SERVICE_NAMESPACE = "openshift-update-service"
UPDATE_SERVICE_NAME = "update-service"
CA_KEY = "updateservice-registry"   # cincinnati-operator controllers/names.go NameCertConfigMapKey
CONFIG_NAMESPACE = "openshift-config"
GRAPH_PATH = "/api/upgrades_info/v1/graph"
UPDATE_SERVICE_FILE = "updateservice.yaml"
UPDATE_SERVICE_CA_FILE = "registry-ca-merge-patch.yaml"


def update_service(releases: str, graph_image_pinned: str, *, name: str = UPDATE_SERVICE_NAME,
                   replicas: int = 2) -> dict[str, Any]:
    """The ``UpdateService`` (cincinnati-operator api/v1: spec.replicas, spec.releases, spec.graphDataImage),
    the graph image by digest: the operator otherwise polls the tag every 5 minutes."""
    return {"apiVersion": "updateservice.operator.openshift.io/v1", "kind": "UpdateService",
            "metadata": {"name": name, "namespace": UPDATE_SERVICE_NAMESPACE},
            "spec": {"replicas": replicas, "releases": releases, "graphDataImage": graph_image_pinned}}


def ca_merge_patch(registry_key: str, ca_pem: str) -> dict[str, Any]:
    """A merge patch for the ``additionalTrustedCA`` ConfigMap: the registry's ``host..port`` key (image pulls)
    and ``updateservice-registry`` (the operator requires it, to read the release repository), other keys
    left as they are."""
    return {"data": {registry_key: ca_pem, CA_KEY: ca_pem}}


def upstream_patch_commands(name: str) -> str:
    """Point the cluster at its update service once the ``UpdateService`` is ready: the route the operator
    reports, into clusterversion ``spec.upstream`` (Done's tab, the runbook and ``release graph-image -o``
    say it alike; lines continued with a backslash)."""
    return (f"URI=$(oc -n {UPDATE_SERVICE_NAMESPACE} get updateservice {name} \\\n"
            "    -o jsonpath='{.status.policyEngineURI}')\n"
            "oc patch clusterversion/version --type=merge \\\n"
            f"    --patch \"{{\\\"spec\\\":{{\\\"upstream\\\":\\\"${{URI}}{GRAPH_PATH}\\\"}}}}\"")


def upstream_patch(route_host: str) -> dict[str, Any]:
    """openshift/api config/v1 ClusterVersionSpec.upstream: the graph URL the cluster version operator asks."""
    return {"spec": {"upstream": f"https://{route_host}{GRAPH_PATH}"}}


@dataclass
class ClusterFiles:
    written: list[Path]
    commands: list[str]


def write_plan_files(directory: Path, plan: Plan, graph_image: str, ca_pem: str | None) -> list[Path]:
    """What a run writes beside the other documents for a plan that keeps an update service: the
    ``UpdateService`` (``graph_image``: pinned by digest when known) and the CA merge patch (both keys)."""
    hint = "choose a folder you can write to"
    written = [atomic_write(directory / UPDATE_SERVICE_FILE,
                            dump_yaml(update_service(releases_repository(plan), graph_image)), hint=hint)]
    if ca_pem is not None:
        patch = ca_merge_patch(configmap_key(plan.mirror.registry), ca_pem)
        written.append(atomic_write(directory / UPDATE_SERVICE_CA_FILE, dump_yaml(patch), hint=hint))
    return written


def write_cluster_files(directory: Path, result: GraphImageResult, *, releases: str, ca_pem: str | None,
                        configmap: str = "registry-config", route_host: str | None = None) -> ClusterFiles:
    """``updateservice.yaml``, the CA merge patch (when a CA is given) and the ``spec.upstream`` patch (when
    the route's host is known), with the ``oc`` commands that apply them in order."""
    releases_ref = parse_repository(releases)
    hint = "choose a folder you can write to with -o"
    written: list[Path] = []
    commands = [
        "# 1. the OpenShift Update Service operator (OperatorHub: 'OpenShift Update Service', namespace "
        f"{UPDATE_SERVICE_NAMESPACE}), mirrored with the operator catalog",
    ]
    if ca_pem is not None:
        manifests = ca_manifests(result.reference.registry, ca_pem, configmap)
        pem = next(iter(manifests.configmap["data"].values()))
        key = configmap_key(result.reference.registry)
        patch_path = directory / UPDATE_SERVICE_CA_FILE
        atomic_write(patch_path, dump_yaml(ca_merge_patch(key, pem)), hint=hint)
        written.append(patch_path)
        configmap_path = directory / "registry-ca-configmap.yaml"
        whole = dict(manifests.configmap)
        whole["data"] = ca_merge_patch(key, pem)["data"]
        atomic_write(configmap_path, dump_yaml(whole), hint=hint)
        written.append(configmap_path)
        commands += [
            f"# 2. the mirror's CA under {key} and {CA_KEY}, merged into the ConfigMap that "
            "image.config's additionalTrustedCA names (other keys stay):",
            f"oc get image.config.openshift.io/cluster -o jsonpath='{{.spec.additionalTrustedCA.name}}'   "
            f"# empty: use {configmap}",
            f"oc patch configmap/{configmap} -n {CONFIG_NAMESPACE} --type=merge --patch-file={patch_path}   "
            f"# or, when it does not exist yet: oc create -f {configmap_path}",
            f"oc patch image.config.openshift.io/cluster --type=merge --patch '{manifests.patch_json()}'",
        ]
    else:
        commands.append(f"# 2. add the mirror's CA under the key {CA_KEY} (beside its host..port key) to the "
                        "ConfigMap image.config's additionalTrustedCA names: give --registry-ca-file to write the patch")
    service = update_service(releases_ref.name, result.pinned)
    service_path = directory / UPDATE_SERVICE_FILE
    atomic_write(service_path, dump_yaml(service), hint=hint)
    written.append(service_path)
    name = service["metadata"]["name"]
    commands += [
        f"# 3. the UpdateService (releases: {releases_ref.name}, graph data by digest)",
        f"oc apply -f {service_path}",
        "# 4. point the cluster at it: the route's host is in the UpdateService's status once it is ready",
        f"oc -n {UPDATE_SERVICE_NAMESPACE} get updateservice {name} -o jsonpath='{{.status.policyEngineURI}}'",
    ]
    if route_host:
        upstream_path = directory / "clusterversion-upstream-patch.yaml"
        atomic_write(upstream_path, dump_yaml(upstream_patch(route_host)), hint=hint)
        written.append(upstream_path)
        commands.append(f"oc patch clusterversion/version --type=merge --patch-file={upstream_path}")
    else:
        commands += upstream_patch_commands(name).replace(" \\\n    ", " ").splitlines()
    steps = directory / "update-service-steps.txt"
    atomic_write(steps, "\n".join(commands) + "\n", hint=hint)
    written.append(steps)
    return ClusterFiles(written, commands)


__all__ = [
    "CA_KEY",
    "ClusterFiles",
    "DEFAULT_BASE_IMAGE",
    "GRAPH_COMMAND",
    "GRAPH_DATA_URL",
    "GraphDataLayer",
    "GraphImageResult",
    "build_graph_image",
    "build_graph_image_in_layout",
    "build_plan_graph_image",
    "graph_image_upload_task",
    "default_graph_image",
    "read_graph_data",
    "releases_repository",
    "ca_merge_patch",
    "fetch_graph_data",
    "graph_data_layer",
    "graph_image_reference",
    "read_graph_data_file",
    "update_service",
    "upstream_patch",
    "upstream_patch_commands",
    "write_cluster_files",
    "write_plan_files",
]
