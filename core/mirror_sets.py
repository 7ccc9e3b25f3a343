"""One matcher for mirror sets (ImageDigestMirrorSet / ImageContentSourcePolicy ``source → mirrors``).

CRI-O (containers/image's registries.conf) picks the *longest* source that matches the image name at a
path boundary — ``quay.io/a`` matches ``quay.io/a`` and ``quay.io/a/b``, never ``quay.io/ab`` — and uses
only that source's mirrors, in the order given. Everything that asks "where would this image be read
from" answers through here: the copy's session (``RegistrySession.resolve_source``), verify's check of
what the cluster will pull, the wizard's release step, and the registries a plan reaches.

Still to do (core/registry is edited elsewhere): ``RegistrySession.resolve_source`` in
core/registry/session.py keeps its own first-match loop; its body should become
``return resolve_through_mirrors(ref, self.source_mirrors)``. tests/test_one_home.py holds a strict xfail
test for it: drop the mark with that change.
"""

from __future__ import annotations

from collections.abc import Iterable

from .reference import ImageReference, parse_reference

MirrorPairs = Iterable[tuple[str, str]]  # (source, mirror), a source repeated for each of its mirrors


def matching_source(name: str, mirror_sets: MirrorPairs) -> str | None:
    """The longest source (trailing ``/`` dropped) matching ``name`` (``host/repository``) at a path
    boundary; None when no source matches."""
    best: str | None = None
    for source, _ in mirror_sets:
        source = source.rstrip("/")
        if (name == source or name.startswith(source + "/")) and (best is None or len(source) > len(best)):
            best = source
    return best


def mirrors_of(name: str, mirror_sets: MirrorPairs) -> list[tuple[str, str]]:
    """(source, mirror) for the matching source's mirrors, in order, each once; [] when none matches."""
    pairs = list(mirror_sets)
    best = matching_source(name, pairs)
    if best is None:
        return []
    out: list[tuple[str, str]] = []
    for source, mirror in pairs:
        if source.rstrip("/") == best and (best, mirror) not in out:
            out.append((best, mirror))
    return out


def rewritten_names(name: str, mirror_sets: MirrorPairs) -> list[str]:
    """``name`` under each mirror of its matching source (the rest of the path kept), in order."""
    return [mirror.rstrip("/") + name[len(source):] for source, mirror in mirrors_of(name, mirror_sets)]


def resolve_through_mirrors(ref: ImageReference, mirror_sets: MirrorPairs) -> ImageReference:
    """Where a copy reads ``ref`` from: the first mirror of its matching source (tag and digest kept),
    else ``ref`` itself."""
    names = rewritten_names(ref.name, mirror_sets)
    if not names:
        return ref
    target = parse_reference(names[0], default_tag=None)
    return ImageReference(target.registry, target.repository, ref.tag, ref.digest)


def crio_pull_specs(pull_spec: str, mirror_sets: MirrorPairs) -> list[str]:
    """Where CRI-O looks for a pull of ``pull_spec``, mirrors in order (the source itself, tried last, is
    left out: a disconnected cluster cannot reach it)."""
    ref = parse_reference(pull_spec, default_tag=None)
    suffix = f"@{ref.digest}" if ref.digest else f":{ref.tag or 'latest'}"
    out: list[str] = []
    for name in rewritten_names(ref.name, mirror_sets):
        if name + suffix not in out:
            out.append(name + suffix)
    return out


__all__ = ["MirrorPairs", "crio_pull_specs", "matching_source", "mirrors_of", "resolve_through_mirrors",
           "rewritten_names"]
