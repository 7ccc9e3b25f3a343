"""``SRC=DST`` mapping files, as ``oc image mirror -f`` reads them, and positional SRC DST pairs."""

from __future__ import annotations

import os
from pathlib import Path

from .copier import CopyTask
from .endpoints import LayoutLocation, RegistryLocation, parse_location
from .errors import MappingError, ReferenceFormatError
from .userfiles import read_user_file


def _task(src_text: str, dst_text: str, *, where: str) -> CopyTask:
    try:
        source = parse_location(src_text)
        destination = parse_location(dst_text, default_tag=None)
    except (ReferenceFormatError, MappingError) as exc:
        raise MappingError(f"{where}: {exc}") from None
    if isinstance(destination, RegistryLocation) and destination.ref.tag is None and destination.ref.digest is None:
        # oc's rule for a bare destination: the source's tag, else push by the source's digest.
        if isinstance(source, RegistryLocation) and source.ref.tag:
            destination = RegistryLocation(destination.ref.with_tag(source.ref.tag))
        elif isinstance(source, RegistryLocation) and source.ref.digest:
            destination = RegistryLocation(destination.ref.with_digest(source.ref.digest))
        else:
            raise MappingError(f"{where}: destination {dst_text!r} needs a tag")
    if isinstance(destination, RegistryLocation) and destination.ref.digest and not destination.ref.tag:
        # oc keeps the source digest when the destination names none; a digest here must match it.
        if not (isinstance(source, RegistryLocation) and source.ref.digest == destination.ref.digest):
            raise MappingError(f"{where}: a destination digest must equal the source digest")
    if isinstance(source, RegistryLocation) and isinstance(destination, RegistryLocation) and source.ref == destination.ref:
        raise MappingError(f"{where}: source and destination are the same image")
    if isinstance(destination, LayoutLocation) and not destination.name:
        raise MappingError(f"{where}: a directory destination needs a name")
    return CopyTask(source, destination)


def _destination_keys(location: object, extra_tags: tuple[str, ...] = ()) -> list[str]:
    """What a destination writes that another task could also write: each tag (a push by digest alone
    names its content, so it cannot be ambiguous)."""
    if isinstance(location, RegistryLocation):
        ref = location.ref
        base = f"{ref.registry.lower()}/{ref.repository}"
        return [f"{base}:{tag}" for tag in ((ref.tag,) if ref.tag else ()) + tuple(extra_tags)]
    if isinstance(location, LayoutLocation):
        return [f"oci:{os.path.abspath(location.path)}:{location.name}"]
    return []


def check_unique_destinations(tasks: list[CopyTask], labels: list[str] | None = None) -> None:
    """Refuse two different sources for one destination tag, before anything is copied: which one would
    win depends on timing. The same source listed twice for a destination is harmless and allowed.
    ``labels`` (one per task, e.g. "mapping.txt line 4") make the message point at the lines."""
    seen: dict[str, tuple[int, str]] = {}
    for index, task in enumerate(tasks):
        for key in _destination_keys(task.destination, task.extra_tags):
            source = str(task.source)
            earlier = seen.get(key)
            if earlier is None:
                seen[key] = (index, source)
            elif earlier[1] != source:
                where = (f"{labels[earlier[0]]} and {labels[index]}" if labels
                         else f"entries {earlier[0] + 1} and {index + 1}")
                raise MappingError(f"{where} both write {key} (from {earlier[1]} and from {source}); "
                                   "give each destination tag one source")


def parse_mapping_text(text: str, *, source: str = "mapping") -> list[CopyTask]:
    tasks: list[CopyTask] = []
    labels: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source} line {number}"
        if "=" in line:
            src, _, dst = line.partition("=")
        else:
            parts = line.split()
            if len(parts) != 2:
                raise MappingError(f"{where}: expected SRC=DST (or 'SRC DST'), got {line[:80]!r}")
            src, dst = parts
        src, dst = src.strip(), dst.strip()
        if not src or not dst:
            raise MappingError(f"{where}: both sides of '=' must name an image")
        tasks.append(_task(src, dst, where=where))
        labels.append(where)
    check_unique_destinations(tasks, labels)
    return tasks


def load_mapping_file(path: str | os.PathLike[str]) -> list[CopyTask]:
    p = Path(path)
    text = read_user_file(p, "mapping file", MappingError, text=True)
    return parse_mapping_text(text, source=str(p))


def pairs_to_tasks(items: list[str]) -> list[CopyTask]:
    """Positional arguments ``SRC DST [SRC DST ...]`` or ``SRC=DST`` items."""
    tasks: list[CopyTask] = []
    labels: list[str] = []
    pending: str | None = None
    for index, item in enumerate(items, start=1):
        if "=" in item and pending is None and not item.startswith(("oci:", "file://")):
            src, _, dst = item.partition("=")
            tasks.append(_task(src, dst, where=f"argument {index}"))
            labels.append(f"argument {index}")
        elif pending is None:
            pending = item
        else:
            tasks.append(_task(pending, item, where=f"argument {index - 1}"))
            labels.append(f"argument {index - 1}")
            pending = None
    if pending is not None:
        raise MappingError(f"{pending!r} has no destination: give SRC DST pairs or SRC=DST")
    check_unique_destinations(tasks, labels)
    return tasks
