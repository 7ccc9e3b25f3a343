"""The samples operator's image streams, read from the release itself: no cluster, no files to find.

The ``cluster-samples-operator`` component image ships its content at
``/opt/openshift/operator/<arch>/<group>/imagestreams/*.json`` (and ``.../templates/*.json``), one folder
per architecture: ``x86_64``, ``aarch64``, ``ppc64le``, ``s390x`` (its Dockerfile copies
``assets/operator/ocp-<arch>`` there, and the operator picks the folder by its own ``GOARCH``). Reading
that image's layers (from a registry, or from the OCI directory a to-dir run wrote) gives exactly the
streams the operator of that version imports on that architecture.
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass, field
from typing import Any

import yaml

from .endpoints import Endpoints
from .errors import ErrorCode, ImageStreamError, ReleaseError
from .extract import Visitor, member_path, scan_tar
from .manifest import go_arch
from .registry import RegistrySession
from .release import ReleaseInfo, component_location, load_release, pick_platform
from .samples import (
    SampleStream,
    add_stream,
    document_objects,
    is_payload_stream,
    stream_from_object,
)

SAMPLES_COMPONENT = "cluster-samples-operator"
CONTENT_ROOT = "opt/openshift/operator"
# The operator's content folders, by the names the wizard and the graph use for architectures.
CONTENT_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64",
                "ppc64le": "ppc64le", "s390x": "s390x"}
STREAM_SUFFIXES = (".json", ".yaml", ".yml")
MAX_FILE_BYTES = 4 << 20        # the largest shipped stream file is ~40 KB
MAX_FILES = 2000
MAX_TOTAL_BYTES = 64 << 20


@dataclass
class ReleaseSamples:
    streams: list[SampleStream]
    architecture: str              # the content folder read (x86_64, aarch64, ...)
    image: str                     # where the component was read
    files: list[str] = field(default_factory=list)   # stream files found (paths in the image)
    templates: int = 0             # template files seen and left out (they name no image to mirror)
    payload_streams: list[str] = field(default_factory=list)  # left out: the CVO's, not the samples operator's


def content_arch(arch: str) -> str:
    try:
        return CONTENT_ARCH[arch]
    except KeyError:
        raise ReleaseError(f"the samples operator ships no content for architecture {arch!r}; use one of "
                           + ", ".join(sorted(set(CONTENT_ARCH.values())))) from None


class _Collector:
    """Keeps the topmost copy of each stream file under one architecture's folder, honouring whiteouts."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/") + "/"
        self.found: dict[str, bytes] = {}
        self.hidden: set[str] = set()        # whiteouts of the layers above
        self.templates: set[str] = set()
        self.total = 0

    def visitor(self, hidden_here: set[str], opaque_here: set[str]) -> Visitor:
        def visit(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bool:
            path = member_path(member)
            folder, _, name = path.rpartition("/")
            if name == ".wh..wh..opq":
                opaque_here.add(folder + "/")
                return False
            if name.startswith(".wh."):
                hidden_here.add(f"{folder}/{name[4:]}" if folder else name[4:])
                return False
            if not path.startswith(self.root) or not member.isfile() or not name.endswith(STREAM_SUFFIXES):
                return False
            if path in self.found or self._hidden(path):
                return False
            if "/templates/" in path[len(self.root) - 1:]:
                self.templates.add(path)
                return False
            if "/imagestreams/" not in path[len(self.root) - 1:]:
                return False
            if member.size > MAX_FILE_BYTES:
                raise ImageStreamError(f"{path} is {member.size} bytes; not an image stream file")
            if len(self.found) >= MAX_FILES or self.total + member.size > MAX_TOTAL_BYTES:
                raise ImageStreamError(f"the samples content under /{self.root} is larger than "
                                       f"{MAX_FILES} files or {MAX_TOTAL_BYTES >> 20} MB; refusing to read it")
            handle = tar.extractfile(member)
            data = handle.read() if handle is not None else b""
            self.total += len(data)
            self.found[path] = data
            return False

        return visit

    def _hidden(self, path: str) -> bool:
        return path in self.hidden or any(path.startswith(p.rstrip("/") + "/") for p in self.hidden)


def _documents(data: bytes, where: str) -> list[Any]:
    try:
        return [json.loads(data)]
    except ValueError:
        pass
    try:
        return [d for d in yaml.safe_load_all(data) if d is not None]
    except yaml.YAMLError:
        raise ImageStreamError(f"{where} is neither JSON nor YAML") from None


async def samples_from_release(session: RegistrySession, info: ReleaseInfo, arch: str | None = None) -> ReleaseSamples:
    """The image streams of ``info``'s samples operator for ``arch`` (default: the release's own;
    x86_64 for a multi-arch release). Reads only the layers, top down; nothing is written."""
    if SAMPLES_COMPONENT not in info.components:
        raise ReleaseError(f"release {info.version} has no {SAMPLES_COMPONENT} component; load the image "
                           "streams from files or from a cluster instead", code=ErrorCode.RELEASE_WITHOUT_SAMPLES)
    wanted = content_arch(arch or (info.architecture if info.architecture != "multi" else "x86_64"))
    location = component_location(info, SAMPLES_COMPONENT)
    source, reference = Endpoints(session).source(location)
    where = f"{SAMPLES_COMPONENT} of release {info.version}"
    image = await source.get_manifest(reference)
    if image.is_index:
        image = await pick_platform(source, image, where, prefer=go_arch(wanted))
    collector = _Collector(f"{CONTENT_ROOT}/{wanted}")
    for layer in reversed(image.layers()):
        if layer.urls:
            continue
        hidden_here: set[str] = set()
        opaque_here: set[str] = set()
        await scan_tar(source.stream(layer.digest, layer.size), collector.visitor(hidden_here, opaque_here),
                       where=f"layer {layer.digest[:19]} of {where}")
        # what this layer hid or made opaque is gone for every layer below it
        collector.hidden |= hidden_here | opaque_here
    if not collector.found:
        raise ReleaseError(f"{where} holds no image streams under /{CONTENT_ROOT}/{wanted}; "
                           "this release may not ship samples for that architecture",
                           code=ErrorCode.RELEASE_WITHOUT_SAMPLES)
    streams: dict[str, SampleStream] = {}
    payload: list[str] = []
    for path in sorted(collector.found):
        label = f"{location}:/{path}"
        for number, document in enumerate(_documents(collector.found[path], label)):
            for obj, obj_where in document_objects(document, label if number == 0 else f"{label} document {number + 1}"):
                if obj.get("kind") != "ImageStream":
                    continue  # the shipped folders hold only streams; anything else names no image
                if is_payload_stream(obj):
                    payload.append(str((obj.get("metadata") or {}).get("name")))
                    continue
                add_stream(streams, stream_from_object(obj, obj_where, f"release {info.version} /{path}"))
    return ReleaseSamples(sorted(streams.values(), key=lambda s: s.name), wanted, str(location),
                          sorted(collector.found), len(collector.templates), sorted(payload))


async def load_release_samples(session: RegistrySession, release: str, arch: str | None = None) -> ReleaseSamples:
    """``samples plan --from-release RELEASE``: a release pull spec, or ``oci:DIR:NAME`` from a to-dir run."""
    info = await load_release(session, release)
    return await samples_from_release(session, info, arch)


__all__ = ["CONTENT_ROOT", "SAMPLES_COMPONENT", "ReleaseSamples", "content_arch", "load_release_samples",
           "samples_from_release"]
