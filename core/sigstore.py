"""Sigstore (cosign) signatures next to the images they sign.

cosign keeps the signature of ``repo@sha256:<hex>`` as an ordinary image tagged ``sha256-<hex>.sig``
in the same repository. From 4.21 on a cluster with mirrors configured checks the Sigstore signature of
its release, so a mirror must carry those tags too. Given the copy tasks of a mirror (release and
components, by digest), :func:`signature_tasks` asks the source, one HEAD per image, whether that tag
exists, and returns extra copy tasks that put each one found under the same tag at the destination
(registry or OCI directory, so to-dir and from-dir carry them as well).

Tags are probed one by one rather than listed: the component repository of a real release
(ocp-v4.0-art-dev) holds far too many tags to page through.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .copier import CopyTask
from .endpoints import (
    Endpoints,
    LayoutLocation,
    Location,
    RegistryLocation,
    RegistrySource,
)
from .errors import InputError, MirrorError, NotFound
from .layout import OCILayout
from .reference import parse_reference
from .registry import RegistrySession

SIG_SUFFIX = ".sig"
# The first release line whose clusters check Sigstore signatures of the release when mirrored.
SIGSTORE_FROM = (4, 21)
PROBE_CONCURRENCY = 8
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


def cosign_tag(digest: str) -> str:
    """``sha256:<hex>`` → ``sha256-<hex>.sig``, cosign's tag scheme."""
    if not _DIGEST_RE.match(digest or ""):
        raise InputError(f"{digest!r} is not a sha256 digest")
    return digest.replace(":", "-", 1) + SIG_SUFFIX


@dataclass
class SigstoreResult:
    tasks: list[CopyTask] = field(default_factory=list)     # one per signature found
    found: dict[str, str] = field(default_factory=dict)     # image digest → where its signature is
    checked: int = 0                                         # images asked about
    problems: list[str] = field(default_factory=list)       # sources that could not be asked

    def note(self, version: str, release_digest: str) -> str | None:
        """What to tell the admin about the release's own Sigstore signature, or None when all is well."""
        if release_digest in self.found or not sigstore_expected(version):
            return None
        return (f"release {version} has no Sigstore signature ({cosign_tag(release_digest)}) at its source; "
                "a 4.21+ cluster that checks release signatures through its mirrors will refuse it")


def sigstore_expected(version: str) -> bool:
    numbers = re.match(r"^(\d+)\.(\d+)", version or "")
    return numbers is not None and (int(numbers[1]), int(numbers[2])) >= SIGSTORE_FROM


def _source_digest(location: Location) -> str | None:
    if isinstance(location, RegistryLocation):
        return location.ref.digest
    if _DIGEST_RE.match(location.name):
        return location.name
    try:
        return OCILayout(location.path).find(location.name).digest
    except (MirrorError, OSError):
        return None


def _signature_destination(destination: Location, tag: str) -> Location:
    if isinstance(destination, RegistryLocation):
        return RegistryLocation(parse_reference(f"{destination.ref.name}:{tag}"))
    repository = destination.name.rsplit(":", 1)[0] if ":" in destination.name else destination.name
    return LayoutLocation(destination.path, f"{repository}:{tag}")


def _layout_signature(path: Path, tag: str) -> str | None:
    """The name of the image tagged ``tag`` in a layout (any repository part), if there is one."""
    try:
        entries = OCILayout(path).entries()
    except (MirrorError, OSError):
        return None
    return next((e.name for e in entries if e.name.rsplit(":", 1)[-1] == tag), None)


async def signature_tasks(session: RegistrySession, tasks: Sequence[CopyTask], *,
                          concurrency: int = PROBE_CONCURRENCY) -> SigstoreResult:
    """Extra copy tasks for the cosign signatures of every image the ``tasks`` copy by digest."""
    endpoints = Endpoints(session, create_layouts=False)
    result = SigstoreResult()
    limit = asyncio.Semaphore(concurrency)
    wanted: dict[tuple[str, str], tuple[CopyTask, str]] = {}
    for task in tasks:
        digest = _source_digest(task.source)
        if digest is None:
            continue
        key = (str(task.destination).rsplit(":", 1)[0], digest)
        wanted.setdefault(key, (task, digest))

    async def probe(task: CopyTask, digest: str) -> None:
        tag = cosign_tag(digest)
        source: Location
        if isinstance(task.source, RegistryLocation):
            source = RegistryLocation(parse_reference(f"{task.source.ref.name}:{tag}"))
            adapter, reference = endpoints.source(source)
            assert isinstance(adapter, RegistrySource)
            try:
                async with limit:
                    present = await adapter.client.manifest_digest(adapter.repository, reference, push_scope=False)
            except NotFound:
                present = None
            except MirrorError as exc:
                result.problems.append(f"cannot ask {source} for its signature: {exc}")
                return
            if present is None:
                return
        else:
            name = _layout_signature(task.source.path, tag)
            if name is None:
                return
            source = LayoutLocation(task.source.path, name)
        result.found[digest] = str(source)
        result.tasks.append(CopyTask(source, _signature_destination(task.destination, tag)))

    result.checked = len(wanted)
    await asyncio.gather(*(probe(task, digest) for task, digest in wanted.values()))
    result.tasks.sort(key=lambda t: str(t.destination))
    return result


__all__ = ["SIGSTORE_FROM", "SigstoreResult", "cosign_tag", "signature_tasks", "sigstore_expected"]
