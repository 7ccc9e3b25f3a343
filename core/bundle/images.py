"""The bundle's images: every manifest graph of its OCI layout, walked to check nothing is missing."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BundleError, MirrorError
from ..layout import REF_NAME
from ..manifest import Manifest

if TYPE_CHECKING:
    pass
from .files import read_bounded, read_json
from .model import MAX_JSON_BYTES, MAX_MANIFEST_BYTES, Problem

# -- the layout's images ------------------------------------------------------------------------------

@dataclass
class ImageGraph:
    name: str
    digest: str
    manifests: dict[str, int] = field(default_factory=dict)   # digest → size of every manifest blob
    blobs: dict[str, int] = field(default_factory=dict)       # config and layers
    configs: set[str] = field(default_factory=set)


def layout_images(directory: Path, *, where: str = "") -> tuple[list[ImageGraph], list[Problem]]:
    """Every named image of the layout with its whole manifest graph, as far as it can be read."""
    problems: list[Problem] = []
    index = read_json(directory / "index.json", MAX_JSON_BYTES, "OCI index")
    entries = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(entries, list):
        return [], [Problem("index.json", "is not an OCI image index")]
    images: list[ImageGraph] = []
    for number, item in enumerate(entries):
        if not isinstance(item, dict):
            problems.append(Problem("index.json", f"entry {number} is not an object"))
            continue
        name = (item.get("annotations") or {}).get(REF_NAME) if isinstance(item.get("annotations"), dict) else None
        digest = item.get("digest")
        if not isinstance(digest, str) or not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
            problems.append(Problem("index.json", f"entry {number} ({name or 'unnamed'}) has no valid sha256 digest"))
            continue
        graph = ImageGraph(str(name or digest), digest)
        _walk_graph(directory, graph, digest, int(item.get("size") or 0), problems, depth=0)
        images.append(graph)
    return images, problems


def _walk_graph(directory: Path, graph: ImageGraph, digest: str, size: int, problems: list[Problem], *,
                depth: int) -> None:
    graph.manifests[digest] = size
    path = directory / "blobs" / "sha256" / digest.split(":", 1)[1]
    rel = f"blobs/sha256/{digest.split(':', 1)[1]}"
    try:
        raw = read_bounded(path, MAX_MANIFEST_BYTES, "image manifest")
    except BundleError:
        problems.append(Problem(rel, f"manifest {digest} of image {graph.name} is missing or unreadable"))
        return
    if "sha256:" + hashlib.sha256(raw).hexdigest() != digest:
        problems.append(Problem(rel, f"manifest of image {graph.name} is damaged: its bytes do not match {digest}"))
        return
    try:
        manifest = Manifest.parse(raw, None, where=f"{graph.name}@{digest[:19]}")
        children = manifest.children()
        blobs = manifest.blobs()
        config = manifest.config()
    except MirrorError as exc:
        problems.append(Problem(rel, f"manifest of image {graph.name} cannot be used: {exc}"))
        return
    if children and depth > 0:
        problems.append(Problem(rel, f"image {graph.name} nests one index in another; not supported"))
        return
    for child in children:
        _walk_graph(directory, graph, child.digest, child.size, problems, depth=depth + 1)
    for blob in blobs:
        graph.blobs[blob.digest] = blob.size
    if config is not None:
        graph.configs.add(config.digest)


