"""bundle.json: what a bundle holds (images, blobs, its base), read bounded and checked."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ..errors import BundleError
from .files import read_json
from .model import BUNDLE_FILE, BUNDLE_KIND, BUNDLE_VERSION, MAX_JSON_BYTES

# -- the bundle manifest (bundle.json) ------------------------------------------------------------------

def read_bundle_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A bundle.json (or the bundle directory holding one), checked for shape."""
    path = Path(path)
    if path.is_dir():
        path = path / BUNDLE_FILE
    data = read_json(path, MAX_JSON_BYTES, "bundle manifest")
    if not isinstance(data, dict) or data.get("kind") != BUNDLE_KIND:
        raise BundleError(f"{path} is not a mirror-wizard bundle manifest (kind {BUNDLE_KIND})")
    if data.get("version") != BUNDLE_VERSION:
        raise BundleError(f"{path} is bundle format {data.get('version')!r}; this mirror-wizard reads {BUNDLE_VERSION}")
    blobs = data.get("blobs")
    if not isinstance(blobs, dict) or not all(isinstance(k, str) and re.fullmatch(r"sha256:[0-9a-f]{64}", k)
                                              and isinstance(v, int) and v >= 0 for k, v in blobs.items()):
        raise BundleError(f"{path}: 'blobs' is not a map of sha256 digests to sizes")
    base = data.get("base")
    if base is not None:
        omitted = base.get("omitted") if isinstance(base, dict) else None
        if not isinstance(omitted, list) or not all(isinstance(d, str) and d in blobs for d in omitted):
            raise BundleError(f"{path}: 'base.omitted' must list digests of the bundle's own blobs")
    return data


def omitted_blobs(directory: Path) -> set[str]:
    """Blobs an incremental bundle left out (its base carried them); empty for a whole bundle."""
    if not (directory / BUNDLE_FILE).exists():
        return set()
    base = read_bundle_manifest(directory).get("base") or {}
    return set(base.get("omitted") or [])


def is_bundle_plan(path: str | os.PathLike[str]) -> bool:
    """Is this plan file the one a bundle carries (beside its bundle.json)? Such a file is listed in the
    bundle's signed SHA256SUMS: whoever edits the plan on the far side saves it elsewhere, or the
    upload's check of the medium refuses the bundle as damaged."""
    return (Path(path).parent / BUNDLE_FILE).exists()

