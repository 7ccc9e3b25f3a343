"""Mirror-side checks of a mirror that must last for years (issue 24): every image the cluster pulls by
digest is kept by a tag, the Sigstore signatures a 4.21+ / 4.22+ cluster checks are on the mirror, and
the update service's graph-data image is there.

Why tags: registries delete **untagged** manifests in their housekeeping (``registry garbage-collect
--delete-untagged``, Quay once its time-machine window passes), so an image present by digest but named
by no tag passes the by-digest check today and is gone after the next collection. Mirroring tags
everything it copies: the release ``VERSION-ARCH`` (core.release_tag), each component
``VERSION-ARCH-COMPONENT`` (core.release.release_tasks), each signature ``sha256-<hex>.sig``
(core.sigstore), each samples image by its tag (core.samples) and the graph image ``latest``.

Sigstore: from 4.21 a cluster with mirrors configured verifies the release image's Sigstore signature
through the mirror (the cluster-version-operator's admin gate ``ack-4.20-sigstore-in-4.21`` says so, see
core.verify.lifecycle); from 4.22 the ``openshift`` ClusterImagePolicy also scopes the component
repository: openshift/cluster-update-keys, branch release-4.22,
manifests.rhel/0000_90_openshift-cluster-image-policy.yaml lists
``quay.io/openshift-release-dev/ocp-v4.0-art-dev`` (release-4.21 lists ``ocp-release`` only).
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import tarfile
from dataclasses import dataclass, field

from ..errors import MirrorError, NotFound, ReferenceFormatError
from ..graph_image import GRAPH_DATA_DIR, GRAPH_DATA_MOUNT
from ..mirror_sets import crio_pull_specs
from ..reference import ImageReference, parse_reference
from ..registry import RegistrySession
from ..release import ReleaseInfo
from ..release_tag import release_image_in_mirror
from ..samples import digest_tag
from ..sigstore import cosign_tag, sigstore_expected
from .expected import Expected, rerun_command, stream_destinations
from .model import PARALLEL_HEADS, Check, Side, Status, cut_items

# From this release line the openshift ClusterImagePolicy scopes the component repository as well
# (cluster-update-keys release-4.22: manifests.rhel/0000_90_openshift-cluster-image-policy.yaml).
COMPONENT_SIGSTORE_FROM = (4, 22)
MAX_GRAPH_LAYER = 128 << 20  # the graph data's layer (core.graph_image.MAX_TARBALL compressed)
MAX_TAGS = 50_000  # a repository with more tags than this is not read whole (one HEAD per tag)


def component_sigstore_expected(version: str) -> bool:
    numbers = re.match(r"^(\d+)\.(\d+)", version or "")
    return numbers is not None and (int(numbers[1]), int(numbers[2])) >= COMPONENT_SIGSTORE_FROM


@dataclass
class _Pulled:
    """One image the cluster pulls by digest: where it is on the mirror, and the tag mirroring gave it."""

    label: str
    repository: ImageReference           # the mirror repository (no tag, no digest)
    digest: str
    expected_tag: str | None = None


@dataclass
class _Tags:
    """digest → tags of each mirror repository, read once (HEAD of every tag) and only when needed."""

    session: RegistrySession
    limit: asyncio.Semaphore
    by_repo: dict[str, asyncio.Task[dict[str, list[str]]]] = field(default_factory=dict)

    async def head(self, repository: ImageReference, reference: str) -> str | None:
        client = self.session.client(repository.registry)
        async with self.limit:
            return await client.manifest_digest(repository.repository, reference, push_scope=False)

    async def _read(self, repository: ImageReference) -> dict[str, list[str]]:
        client = self.session.client(repository.registry)
        try:
            async with self.limit:
                tags = await client.list_tags(repository.repository)
        except NotFound:  # distribution answers 404 for a repository that holds manifests but no tag
            return {}
        if len(tags) > MAX_TAGS:
            raise MirrorError(f"{repository.name} has {len(tags)} tags, more than the {MAX_TAGS} verify reads")
        digests = await asyncio.gather(*(self.head(repository, tag) for tag in tags))
        out: dict[str, list[str]] = {}
        for tag, digest in zip(tags, digests, strict=True):
            if digest:
                out.setdefault(digest, []).append(tag)
        return out

    async def of(self, repository: ImageReference) -> dict[str, list[str]]:
        task = self.by_repo.get(repository.name)
        if task is None:
            task = self.by_repo[repository.name] = asyncio.ensure_future(self._read(repository))
        return await task


def _repo(name: str) -> ImageReference:
    return parse_reference(name, default_tag=None)


def _releases(expected: Expected) -> list[ReleaseInfo]:
    return expected.releases or ([expected.release] if expected.release is not None else [])


def _pulled_release_images(expected: Expected) -> list[_Pulled]:
    """Every release image and component of every release the plan mirrors, where CRI-O finds it."""
    release = expected.plan.release
    if release is None or expected.instructions is None:
        return []
    sets = expected.mirror_sets()
    infos = _releases(expected)
    target = _repo(release.target).name if release.target else ""
    out: dict[tuple[str, str], _Pulled] = {}
    for info in infos:
        prefix = f"{info.version} " if len(infos) > 1 else ""
        # The copy's own rule (core.release.release_tasks): every release of a path goes to
        # to_release_image's repository when the plan names one (a path's plan names a repository, no tag).
        at = release_image_in_mirror(target, info.version, info.architecture, release.to_release_image)
        at_ref = parse_reference(at, default_tag=None)
        out.setdefault((at_ref.name, info.digest),
                       _Pulled(f"{prefix}release image", _repo(at_ref.name), info.digest, at_ref.tag))
        for component, spec in sorted(info.components.items()):
            ref = parse_reference(spec, default_tag=None)
            if not ref.digest:
                continue
            for candidate in crio_pull_specs(spec, sets)[:1]:  # the first mirror: where the copy put it
                name = candidate.rsplit("@", 1)[0]
                tag = info.component_tag(component) if name == target else None
                key = (name, ref.digest)
                if key not in out or (out[key].expected_tag is None and tag):
                    out[key] = _Pulled(f"{prefix}{component}", _repo(name), ref.digest, tag)
    return list(out.values())


def _pulled_samples(expected: Expected) -> list[_Pulled]:
    """Samples images the operator pulls by digest (a stream tag pinned ``@sha256:``) on samplesRegistry."""
    if expected.samples is None:
        return []
    out: list[_Pulled] = []
    for stream_name, pairs in sorted(stream_destinations(expected, expected.samples).items()):
        for _, destination in pairs:
            try:
                ref = parse_reference(destination)
            except ReferenceFormatError:
                continue
            if ref.digest:  # mirroring tags it sha256-<hex> (core.samples.digest_tag)
                out.append(_Pulled(f"{stream_name} (samples)", _repo(ref.name), ref.digest, digest_tag(ref.digest)))
    return out


async def check_kept_by_tag(expected: Expected, session: RegistrySession) -> Check:
    """Every image the cluster pulls by digest is named by a tag in its mirror repository (the tag mirroring
    wrote, else any tag): an untagged manifest is deleted by the registry's next garbage collection."""
    name, title = "mirror-tags", "images kept by a tag"
    pulled = _pulled_release_images(expected) + _pulled_samples(expected)
    if not pulled:
        reason = expected.release_error or "nothing on the mirror is pulled by digest (no release in the plan)"
        return Check(name, title, Side.MIRROR, Status.FAIL if expected.release_error else Status.SKIP, reason)
    tags = _Tags(session, asyncio.Semaphore(PARALLEL_HEADS))

    async def one(image: _Pulled) -> tuple[str, str | None]:
        """('tagged' | 'untagged' | 'absent' | 'error', problem)."""
        where = f"{image.repository.name}@{image.digest}"
        try:
            if image.expected_tag and await tags.head(image.repository, image.expected_tag) == image.digest:
                return "tagged", None
            if image.digest in await tags.of(image.repository):
                return "tagged", None
            present = await tags.head(image.repository, image.digest)
        except MirrorError as exc:
            return "error", f"{image.label}: {where}: {exc}"
        if present is None:
            return "absent", None  # the release images line says it is missing
        tag = f" (expected tag {image.expected_tag})" if image.expected_tag else ""
        return "untagged", (f"{image.label}: {where} is named by no tag{tag}; the registry's next garbage "
                            "collection of untagged manifests deletes it")

    answers = await asyncio.gather(*(one(image) for image in pulled))
    problems = [problem for _, problem in answers if problem]
    absent = sum(1 for kind, _ in answers if kind == "absent")
    kept = sum(1 for kind, _ in answers if kind == "tagged")
    if problems:
        return Check(name, title, Side.MIRROR, Status.FAIL,
                     f"{len(problems)} of {len(pulled)} images pulled by digest are not kept by any tag",
                     fix=f"{rerun_command(expected)}  # mirroring tags every image it copies again",
                     items=cut_items(problems))
    note = f"; {absent} not on the mirror at all (see the release images line)" if absent else ""
    return Check(name, title, Side.MIRROR, Status.PASS,
                 f"all {kept} images present are named by a tag, so garbage collection of untagged manifests "
                 f"keeps them{note}")


async def check_sigstore(expected: Expected, session: RegistrySession) -> Check:
    """The cosign ``sha256-<hex>.sig`` tag of each release image (4.21+) and of each component (4.22+) is on
    the mirror; a missing one is looked for at the source, to say whether a rerun brings it."""
    name, title = "sigstore-signatures", "Sigstore signatures on the mirror"
    if expected.plan.release is None:
        return Check(name, title, Side.MIRROR, Status.SKIP, "the plan mirrors no release")
    infos = [info for info in _releases(expected) if sigstore_expected(info.version)]
    if not infos:
        if expected.release_error:
            return Check(name, title, Side.MIRROR, Status.FAIL, expected.release_error)
        versions = ", ".join(info.version for info in _releases(expected)) or "the release"
        return Check(name, title, Side.MIRROR, Status.SKIP,
                     f"{versions}: before 4.21 the cluster checks no Sigstore signature through its mirrors")
    wanted: dict[tuple[str, str], tuple[str, str]] = {}  # (mirror repo, digest) → (label, source repository)
    pulled = {(p.repository.name, p.digest): p for p in _pulled_release_images(expected)}
    for info in infos:
        prefix = f"{info.version} " if len(infos) > 1 else ""
        for repo, digest in pulled:
            if digest == info.digest:
                wanted.setdefault((repo, digest), (f"{prefix}release image", info.source_repository))
        if component_sigstore_expected(info.version):
            for component, spec in sorted(info.components.items()):
                ref = parse_reference(spec, default_tag=None)
                for (repo, digest) in pulled:
                    if digest == ref.digest:
                        wanted.setdefault((repo, digest), (f"{prefix}{component}", ref.name))
    limit = asyncio.Semaphore(PARALLEL_HEADS)

    async def head(ref: ImageReference) -> str | None:
        client = session.client(ref.registry)
        async with limit:
            return await client.manifest_digest(ref.repository, ref.reference, push_scope=False)

    async def one(repo: str, digest: str, label: str, source: str) -> str | None:
        tag = cosign_tag(digest)
        try:
            if await head(parse_reference(f"{repo}:{tag}")):
                return None
        except MirrorError as exc:
            return f"{label}: {repo}:{tag}: {exc}"
        where = "at its source"
        try:
            at_source = await head(session.resolve_source(parse_reference(f"{source}:{tag}"))) \
                if source and not source.startswith("oci:") else None
        except MirrorError:
            at_source, where = None, "unknown at the source (unreachable)"
        if at_source:
            return f"{label}: {tag} is at the source {source} but not on the mirror {repo}: run the copy again"
        if where.startswith("unknown"):
            return f"{label}: {tag} is not on the mirror {repo}; {where}"
        return f"{label}: {tag} is neither on the mirror {repo} nor at the source {source}: the release " \
               "publishes no Sigstore signature for it"

    answers = await asyncio.gather(*(one(repo, digest, label, source)
                                     for (repo, digest), (label, source) in sorted(wanted.items())))
    problems = [a for a in answers if a]
    versions = ", ".join(info.version for info in infos)
    scope = "release images and components" if any(component_sigstore_expected(i.version) for i in infos) \
        else "release images"
    if problems:
        return Check(name, title, Side.MIRROR, Status.FAIL,
                     f"{len(problems)} of {len(wanted)} {scope} of {versions} have no .sig tag on the mirror; "
                     "the cluster's openshift ClusterImagePolicy refuses them",
                     fix=f"{rerun_command(expected)}  # copies every .sig the source has",
                     items=cut_items(problems))
    return Check(name, title, Side.MIRROR, Status.PASS,
                 f"all {len(wanted)} {scope} of {versions} have their .sig tag on the mirror")


def _holds_channels(layer: bytes) -> bool:
    """Does the (gzip) tar layer hold a file under ``var/lib/cincinnati-graph-data/channels/``, where
    core.graph_image writes the graph data? Names only are read."""
    prefix = f"{GRAPH_DATA_DIR}/channels/"
    try:
        with tarfile.open(fileobj=io.BytesIO(layer), mode="r:*") as tar:
            return any(member.isfile() and member.name.lstrip("./").startswith(prefix) for member in tar)
    except (tarfile.TarError, OSError, EOFError):
        return False


async def check_graph_image(expected: Expected, session: RegistrySession) -> Check:
    """The update service's graph-data image is on the mirror under the plan's tag, and it is one: its command
    copies the graph data to the operator's volume (core.graph_image.GRAPH_COMMAND) and its top layer holds
    the channels under var/lib/cincinnati-graph-data/."""
    name, title = "graph-image", "update service graph-data image"
    release = expected.plan.release
    if release is None or not release.graph_image:
        return Check(name, title, Side.MIRROR, Status.SKIP, "the plan keeps no update service (release.graph_image)")
    fix = (f"mirror-wizard release graph-image --graph-data FILE --to {_repo(release.graph_image).registry} "
           f"--graph-image {release.graph_image}")
    ref = parse_reference(release.graph_image)
    client = session.client(ref.registry)
    try:
        manifest = await client.get_manifest(ref.repository, ref.reference, push_scope=False)
        image = manifest
        if manifest.is_index:
            children = manifest.children()
            if not children:
                return Check(name, title, Side.MIRROR, Status.FAIL, f"{release.graph_image} is an empty index", fix=fix)
            image = await client.get_manifest(ref.repository, children[0].digest, push_scope=False)
        config = image.config()
        data = await client.read_blob(ref.repository, config.digest, limit=1 << 20) if config else b"{}"
        layers = image.layers()
        top = await client.read_blob(ref.repository, layers[-1].digest, limit=MAX_GRAPH_LAYER) if layers else b""
    except NotFound:
        return Check(name, title, Side.MIRROR, Status.FAIL, f"{release.graph_image} does not exist", fix=fix)
    except MirrorError as exc:
        return Check(name, title, Side.MIRROR, Status.FAIL, f"{release.graph_image}: {exc}", fix=fix)
    try:
        command = (json.loads(data).get("config") or {}).get("Cmd") or []
    except (ValueError, AttributeError):
        command = []
    if not any(isinstance(part, str) and GRAPH_DATA_MOUNT in part for part in command):
        return Check(name, title, Side.MIRROR, Status.FAIL,
                     f"{release.graph_image} is not a graph-data image (its command does not copy the graph data to "
                     f"{GRAPH_DATA_MOUNT})", fix=fix)
    if not _holds_channels(top):
        return Check(name, title, Side.MIRROR, Status.FAIL,
                     f"{release.graph_image}: its top layer holds no {GRAPH_DATA_DIR}/channels/ (the graph data the "
                     "update service reads)", fix=fix)
    expected.graph_image_digest = manifest.digest
    return Check(name, title, Side.MIRROR, Status.PASS,
                 f"{release.graph_image} is {manifest.digest}, a graph-data image kept by its tag")
