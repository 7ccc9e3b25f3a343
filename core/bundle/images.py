"""The bundle's images: every manifest graph of its OCI layout, walked to check nothing is missing.

The layout is read through :class:`core.layout.OCILayout` only: one reader of layouts, so the checks a
carried-in disk needs (no links followed, digests validated before they become paths, sizes bounded,
bytes hashed) live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import IntegrityError, MirrorError, NotFound
from ..layout import REF_NAME, OCILayout
from ..manifest import Manifest
from .model import MAX_MANIFEST_BYTES, Problem

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
    layout = OCILayout(directory)
    try:
        entries, bad = layout.read_index_entries()
    except MirrorError as exc:
        return [], [Problem("index.json", str(exc))]
    problems = [Problem("index.json", reason) for reason in bad]
    images: list[ImageGraph] = []
    for item in entries:
        annotations = item.get("annotations") or {}
        name = annotations.get(REF_NAME)
        digest = item["digest"]
        graph = ImageGraph(str(name or digest), digest)
        _walk_graph(layout, graph, digest, int(item.get("size") or 0), problems, depth=0)
        images.append(graph)
    return images, problems


def _walk_graph(layout: OCILayout, graph: ImageGraph, digest: str, size: int, problems: list[Problem], *,
                depth: int) -> None:
    graph.manifests[digest] = size
    algorithm, _, hexpart = digest.partition(":")
    rel = f"blobs/{algorithm}/{hexpart}"
    try:
        raw = layout.read_blob_bytes(digest, limit=MAX_MANIFEST_BYTES)
    except IntegrityError:
        problems.append(Problem(rel, f"manifest of image {graph.name} is damaged: its bytes do not match {digest}"))
        return
    except NotFound:
        problems.append(Problem(rel, f"manifest {digest} of image {graph.name} is missing or unreadable"))
        return
    except MirrorError as exc:  # a link, not a regular file, too large, an invalid digest
        problems.append(Problem(rel, f"manifest {digest} of image {graph.name} is missing or unreadable: {exc}"))
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
        _walk_graph(layout, graph, child.digest, child.size, problems, depth=depth + 1)
    for blob in blobs:
        graph.blobs[blob.digest] = blob.size
    if config is not None:
        graph.configs.add(config.digest)
