"""From a plan to a copy: everything a run computes before the first blob moves (the release in any
mode, the samples, the CA documents, the removable medium made ready), and the documents written after.

The one entry point front ends call is :mod:`core.orchestrate` (sessions, then prepare, copy, report);
this module is its preparation half, also used alone by the runbook and the wizard's Done step.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import release as release_module
from .aio import gather_or_cancel
from .bundle import FAR_OUTPUT_DIR, begin_bundle, load_release_for_upload
from .ca import ca_manifests, load_ca_bundle
from .copier import CopyResult, CopyTask
from .endpoints import LayoutLocation, Location
from .errors import CertificateError, ErrorCode, InputError, MirrorError, PlanError, SignatureError
from .filenames import IMAGE_CONFIG_PATCH_FILE, REGISTRY_CONFIG_FILE, SAMPLES_CONFIG_FILE, SAMPLES_MAPPING_FILE
from .fsio import PRIVATE, PUBLIC, atomic_write
from .graph import DEFAULT_GRAPH_URL, fetch_graph, load_graph_file, update_path, version_key
from .graph_image import build_plan_graph_image, graph_image_upload_task, write_plan_files
from .layout import OCILayout
from .media import MediaSpace, check_media_space
from .mirror_config import MirrorInstructions, release_mirror_instructions
from .plan import Plan, ReleaseMode, SamplesSource
from .reference import parse_reference
from .registry import RegistrySession
from .release import complete_in_layout, to_dir_tasks
from .release_keys import pinned_keys
from .release_path import check_distinct, load_path_releases, measure_path
from .runbook import RunbookParts, render_runbook
from .samples import samples_layout_name
from .signatures import (
    OFFICIAL_RELEASE_REPOSITORIES,
    expected_identities,
    read_verification_config,
    verify_release,
    write_signature_file,
)
from .sigstore import signature_tasks
from .text import human_bytes
from .usecases.samples import load_local_streams, load_streams
from .usecases.samples import plan_streams as samples_plan_for
from .userfiles import read_user_file

if TYPE_CHECKING:
    from .bundle import BundleResult
    from .ca import CAManifests
    from .graph_image import GraphImageResult
    from .mirror_config import MirrorInstructions
    from .release import ReleaseInfo
    from .release_path import PathSizes
    from .samples import SamplesPlan, SampleStream
    from .signatures import SignatureReport
    from .sigstore import SigstoreResult

Message = Callable[[str], None]

__all__ = ["MediaSpace", "Prepared", "RunResult", "Message", "check_signatures", "prepare", "prepare_ca", "prepare_media",
           "prepare_release", "prepare_releases", "prepare_samples", "release_sample_streams", "samples_layout_name",
           "after_upload", "output_folder", "samples_plan_for", "samples_tasks_for", "signatures_folder", "write_outputs",
           "write_signatures", "write_text"]


@dataclass
class Prepared:
    """Everything computed from a plan before copying."""

    plan: Plan
    release: ReleaseInfo | None = None
    release_tasks: list[CopyTask] = field(default_factory=list)
    instructions: MirrorInstructions | None = None
    samples: SamplesPlan | None = None
    samples_tasks: list[CopyTask] = field(default_factory=list)
    ca: CAManifests | None = None
    space: MediaSpace | None = None
    image_tasks: list[CopyTask] = field(default_factory=list)  # plain SRC → DST copies (image mirror)
    releases: list[ReleaseInfo] = field(default_factory=list)  # every release (several for an update path)
    signatures: list[SignatureReport] = field(default_factory=list)  # one per release, in the same order
    sigstore: SigstoreResult | None = None
    path_sizes: PathSizes | None = None    # an update path: bytes per release and saved by sharing
    warnings: list[str] = field(default_factory=list)  # said loudly before and after the copy
    # Updates inside the cluster (release.graph_image): what this run built (None for a dry run, the runbook
    # or Done's documents), and the digest the mirror's tag names now (the UpdateService pins it).
    graph_image: GraphImageResult | None = None
    graph_image_digest: str | None = None

    @property
    def graph_image_pinned(self) -> str | None:
        """``REPO@sha256:…`` for the UpdateService, when the digest is known (built now, or on the mirror)."""
        release = self.plan.release
        if release is None or not release.graph_image:
            return None
        if self.graph_image is not None:
            return self.graph_image.pinned
        if self.graph_image_digest is None:
            return None

        return f"{parse_reference(release.graph_image).name}@{self.graph_image_digest}"

    @property
    def tasks(self) -> list[CopyTask]:
        return self.release_tasks + self.samples_tasks + self.image_tasks

    def signature_configmaps(self) -> list[dict[str, Any]]:
        """The ConfigMaps the cluster reads (one per release with verified signatures)."""
        return [report.configmap() for report in self.signatures if report.signatures]

    def graph_image_line(self) -> str | None:
        """What this run built for updates inside the cluster (None: nothing built): one of release_lines,
        also shown on its own by the wizard's Mirror step beside its outcome."""
        if self.graph_image is None or self.graph_image.layer is None:
            return None
        layer = self.graph_image.layer
        return (f"graph-data image (updates inside the cluster): {self.graph_image.pinned}, "
                f"{layer.contents}")

    def release_lines(self) -> list[str]:
        """What the summary says about the releases beyond the copy: signatures, Sigstore, path bytes."""

        lines: list[str] = []
        if self.path_sizes is not None:
            for item in self.path_sizes.releases:
                lines.append(f"release {item.version}: {human_bytes(item.total_bytes)}, "
                             f"{human_bytes(item.new_bytes)} not shared with the releases before it")
            lines.append(f"update path: {len(self.path_sizes.releases)} releases, "
                         f"{human_bytes(self.path_sizes.unique_bytes)} in one copy, "
                         f"{human_bytes(self.path_sizes.saved_bytes)} saved by sharing")
        for report in self.signatures:
            lines.append(report.summary())
        graph = self.graph_image_line()
        if graph is not None:
            lines.append(graph)
        if self.sigstore is not None:
            lines.append(f"sigstore: {len(self.sigstore.found)} signature(s) (.sig tags) found for "
                         f"{self.sigstore.checked} image(s), copied with them")
            lines += [f"sigstore: {problem}" for problem in self.sigstore.problems[:3]]
        return lines + self.warnings

    def runbook_parts(self, plan_file: str | None = None) -> RunbookParts:
        info = self.release
        return RunbookParts(
            release_version=info.version if info is not None else None,
            release_architecture=info.architecture if info is not None else None,
            release_components=len(info.components) if info is not None else None,
            instructions=self.instructions, samples=self.samples, ca=self.ca, plan_file=plan_file,
            release_versions=[r.version for r in self.releases],
            release_path=[(r.version, r.digest) for r in self.releases],
            release_digest=info.digest if info is not None else None,
            signature_configmaps=self.signature_configmaps(),
            signature_warnings=[r.summary() for r in self.signatures if not r.ok] + self.warnings,
            graph_image_pinned=self.graph_image_pinned,
        )


@dataclass
class RunResult:
    prepared: Prepared
    copy: CopyResult | None
    outputs: list[Path]
    bundle: BundleResult | None = None  # a to-dir plan's medium made a bundle (core.bundle_write)

    @property
    def ok(self) -> bool:
        return self.copy is None or self.copy.ok


def load_sample_streams(plan: Plan, oc: str = "oc") -> list[SampleStream]:
    """The image streams the plan's samples section names (files, or the cluster through oc:
    core.usecases.samples); the release source is read by :func:`release_sample_streams` (it needs a
    registry session)."""
    choice = plan.samples
    assert choice is not None
    if choice.source == SamplesSource.RELEASE:
        raise InputError("plan samples.source is release: the streams are read with the release (core.run.prepare)")
    if choice.source == SamplesSource.CLUSTER:
        return load_local_streams(choice, oc=oc)
    try:
        return load_local_streams(choice, oc=oc)
    except InputError as exc:  # say which plan key holds the file at fault
        raise type(exc)(f"plan samples.paths: {exc.message}", hint=exc.hint) from None


def prepare_samples(plan: Plan, *, oc: str = "oc", streams: list[SampleStream] | None = None
                    ) -> tuple[SamplesPlan | None, list[CopyTask]]:
    """The samples plan and its copies: straight to the mirror, or through the plan's removable medium."""
    if plan.samples is None:
        return None, []
    samples = samples_plan_for(plan, streams if streams is not None else load_sample_streams(plan, oc))
    return samples, samples_tasks_for(plan, samples.tasks())


async def release_sample_streams(plan: Plan, session: RegistrySession, releases: list[ReleaseInfo]
                                 ) -> list[SampleStream]:
    """Samples source ``release``: the streams the cluster-samples-operator image of the plan's release
    ships (the last release of an update path: the version the cluster ends at), or of the release
    named in samples.paths; for the plan's architecture (core.usecases.samples)."""
    choice = plan.samples
    assert choice is not None
    try:
        return (await load_streams(choice, session=session, releases=releases)).streams
    except InputError as exc:
        if exc.code == ErrorCode.NO_RELEASE_CHOSEN:  # the plan's words for it
            raise InputError("plan samples.source is release, but the plan mirrors no release",
                             hint="choose a release, or give the release pull spec in samples.paths",
                             code=exc.code) from None
        raise


def samples_tasks_for(plan: Plan, direct: list[CopyTask]) -> list[CopyTask]:
    """to-dir: each image from its registry into the release's layout; from-dir: from that layout to the
    same destination a direct mirror uses. Otherwise the direct copies as they are."""
    release = plan.release
    directory = plan.media_directory
    if release is None or directory is None:
        return direct
    if release.mode == ReleaseMode.TO_DIR:
        return [CopyTask(t.source, LayoutLocation(directory, samples_layout_name(t.source))) for t in direct]
    return [CopyTask(LayoutLocation(directory, samples_layout_name(t.source)), t.destination) for t in direct]


def prepare_ca(plan: Plan) -> CAManifests | None:
    if not plan.mirror.ca_file:
        return None

    load_ca_bundle(plan.mirror.ca_file)  # a clear error now rather than a broken ConfigMap later
    pem = read_user_file(plan.mirror.ca_file, "CA file", CertificateError, text=True,
                         inside="the PEM file (often ca.crt)")
    # The oc command names the file the admin has, so it can be run as printed.
    return ca_manifests(plan.mirror.registry, pem, ca_path=plan.mirror.ca_file)


async def _load_releases(plan: Plan, session: RegistrySession, dir_release: str | None, *,
                         check_media: bool = True, on_message: Message | None = None) -> list[ReleaseInfo]:
    """Every release the plan mirrors, oldest first: one, or the update path. From the medium a bundle is
    checked first (core.bundle; ``check_media`` false, for a dry run or the runbook, skips hashing every
    byte but still checks an incremental bundle's base is in the mirror), its problems one line each to
    ``on_message``."""

    release = plan.release
    assert release is not None
    directory = Path(release.directory or "")
    if release.mode == ReleaseMode.FROM_DIR:

        every = release_module.releases_in_dir(directory) if release.is_path or dir_release is None else []
        if release.is_path:
            low, high = version_key(release.from_version or ""), version_key(release.version or "")
            records = [r for r in every if low <= version_key(str(r.get("version") or "")) <= high]
            if not records:
                raise InputError(f"{directory} holds no release from {release.from_version} to {release.version}")
            _check_pins(release.releases, records, directory)
        else:
            records = every if len(every) > 1 else []  # an update path's medium, no release named: all of it
            if records and release.to_release_image and _tagged(release.to_release_image):
                raise InputError(f"{directory} holds {len(records)} releases and --to-release-image names one image",
                                 hint="leave it out (each release is tagged VERSION-ARCH), or pick one with --from")
        if records:
            wanted = sorted({str(r.get("name")) for r in records},
                            key=lambda n: version_key(n.rsplit(":", 1)[-1].rsplit("-", 1)[0]))
            names: list[str | None] = list(wanted)
        else:
            names = [dir_release]
        # The medium is checked once (every file's hash, an incremental bundle's base in the mirror),
        # before the first release is read from it.

        return [await load_release_for_upload(session, directory, name, release.target or "",
                                              release.to_release_image, on_problem=on_message,
                                              verify=check_media and number == 0, signer=release.bundle_signer)
                for number, name in enumerate(names)]
    if not release.is_path:
        return [await release_module.load_release(session, release.source)]

    if release.releases:
        # Pinned when the path was shown: exactly these, whatever the graph says now; they must still be
        # the path the plan names.
        infos = await load_path_releases(session, release.releases)
        if (infos[0].version, infos[-1].version) != (release.from_version, release.version):
            raise PlanError(f"the plan's release.releases run from {infos[0].version} to {infos[-1].version}, "
                            f"but from_version/version say {release.from_version} → {release.version}",
                            hint="remove release.releases to read the path from the update graph again")
        return infos
    if release.graph_file:
        graph = load_graph_file(release.graph_file)
    else:
        graph = await fetch_graph(release.channel or "", release.architecture,
                                  release.graph_url or DEFAULT_GRAPH_URL, session.tls)
    path = update_path(graph, release.from_version or "", release.version or "",
                       mode="all" if release.all_versions else "shortest", channel=release.channel or "")
    return await load_path_releases(session, path)


def _tagged(spec: str) -> bool:
    """A to_release_image naming one image (a tag), not a repository each release is tagged VERSION-ARCH in."""

    return parse_reference(spec, default_tag=None).tag is not None


def _check_pins(pins: list[str], records: list[dict[str, Any]], directory: Path) -> None:
    """A far-side plan pins the path's releases by digest: the medium must hold exactly those."""
    if not pins:
        return
    wanted = {pin.rpartition("@")[2] for pin in pins}
    found = {str(r.get("digest") or "") for r in records}
    if wanted != found:
        missing = sorted(wanted - found)
        raise InputError(f"{directory} does not hold the releases the plan pins"
                         + (f" (missing {', '.join(d[:19] for d in missing)})" if missing else " (it holds others)"),
                         hint="use the plan.yaml that came with this medium")


def signatures_folder(plan: Plan) -> Path:
    """Where the signature ConfigMap files go: the plan's choice, else ``<medium>/config`` for a to-dir
    plan (they travel with the release), else the output folder."""
    release = plan.release
    if release is not None and release.signatures_to_dir:
        return Path(release.signatures_to_dir)
    if release is not None and release.mode == ReleaseMode.TO_DIR and release.directory:
        return Path(release.directory) / "config"
    return output_folder(Path(plan.output_dir))


async def check_signatures(plan: Plan, session: RegistrySession, releases: list[ReleaseInfo]
                           ) -> tuple[list[SignatureReport], list[str]]:
    """Each release's GPG signatures, verified against the pinned keys its payload names (Red Hat's and
    the plan's ``release.keys``; SignatureError for one that does not verify or names another key,
    unless the plan allows unsigned releases). From the medium they are read from ``<medium>/config``
    (offline) unless the plan names a signatures directory.

    A payload without a release-verification ConfigMap names no key: nothing can be verified, and a
    cluster running it verifies no update either (the cluster-version operator then has no verifier).
    A custom build is mirrored with a loud warning; one that claims the official repository is refused,
    since every official payload carries one (its absence means the payload was changed)."""
    release = plan.release
    assert release is not None
    pinned = pinned_keys(release.keys)  # Red Hat's and the plan's: the payload's own keys are not trusted
    signatures_dir = release.signatures_dir
    if signatures_dir is None and release.mode == ReleaseMode.FROM_DIR and release.directory:
        signatures_dir = str(Path(release.directory) / "config")
    reports: list[SignatureReport] = []
    warnings: list[str] = []
    for info in releases:
        config = await read_verification_config(session, info)
        if config is None and info.source_repository in OFFICIAL_RELEASE_REPOSITORIES and not release.allow_unsigned:
            # every official payload carries one: its absence is a payload that was changed, not a custom build
            raise SignatureError(f"release {info.version} ({info.digest[:19]}…) claims to come from "
                                 f"{info.source_repository} but carries no release-verification ConfigMap, as every "
                                 "official release does; refusing it",
                                 hint="--allow-unsigned mirrors it anyway (a cluster will refuse to update to it)")
        if config is None:
            warnings.append(f"WARNING: release {info.version} ({info.digest[:19]}…) carries no release-verification "
                            "ConfigMap: its signatures cannot be checked and no signature ConfigMap is written")
            continue
        report = await verify_release(info.digest, config, stores=release.signature_stores,
                                      signatures_dir=signatures_dir, identities=expected_identities(info),
                                      allow_unsigned=release.allow_unsigned, tls=session.tls, pinned=pinned)
        reports.append(report)
    return reports, warnings


async def prepare_release(plan: Plan, session: RegistrySession, *, dir_release: str | None = None
                          ) -> tuple[ReleaseInfo | None, list[CopyTask], MirrorInstructions | None]:
    """The release (the last one of an update path), the copies of every release in the plan's mode, and
    (when the plan names a target) the cluster's mirror instructions covering them all; signatures
    neither checked nor looked for (see :func:`prepare_releases`).
    ``dir_release``: which release of the medium (from-dir, when it holds several)."""
    prepared = await prepare_releases(plan, session, dir_release=dir_release, signatures=False)
    return prepared.release, prepared.release_tasks, prepared.instructions


async def prepare_releases(plan: Plan, session: RegistrySession, *, dir_release: str | None = None,
                           into: Prepared | None = None, signatures: bool = True, check_media: bool = True,
                           on_message: Message | None = None) -> Prepared:
    """Load every release of the plan, check its signatures, plan its copies (plus the Sigstore ``.sig``
    tags the sources hold) and the mirror instructions; the results go into ``into``. ``signatures``
    false (verify, which checks them its own way): neither the GPG check nor the ``.sig`` probes."""
    prepared = into if into is not None else Prepared(plan)
    release = plan.release
    if release is None:
        return prepared

    directory = Path(release.directory or "")
    infos = await _load_releases(plan, session, dir_release, check_media=check_media, on_message=on_message)
    prepared.releases = infos
    prepared.release = infos[-1]
    tasks: list[CopyTask] = []
    if release.is_path:

        check_distinct(infos)
    for info in infos:
        if release.mode == ReleaseMode.FROM_DIR:
            tasks += release_module.from_dir_tasks(info, directory, release.target, release.to_release_image)
        elif release.mode == ReleaseMode.TO_DIR:
            # Only the task list here: recording the release on the medium is prepare_media's, which a
            # dry run and the runbook never call.
            tasks += release_module.to_dir_tasks(info, directory, prepare=False)
        else:
            tasks += release_module.release_tasks(info, release.target, release.to_release_image)
    if release.mode == ReleaseMode.FROM_DIR and release.graph_image:
        # The graph-data image the connected side wrote onto the medium goes up with the releases.

        upload = graph_image_upload_task(directory, release.graph_image)
        if upload is not None:
            tasks.append(upload)
    prepared.release_tasks = tasks
    # The GPG check, the Sigstore probes (one HEAD per image) and the path's sizes each wait on round
    # trips to the source and need nothing from one another: far from the source, side by side they
    # cost the slowest of them instead of the sum.
    steps: dict[str, Awaitable[Any]] = {}
    if signatures:
        steps["gpg"] = check_signatures(plan, session, infos)
        steps["sigstore"] = signature_tasks(session, tasks)
    if release.is_path:

        steps["sizes"] = measure_path(session, infos)
    done = dict(zip(steps, await gather_or_cancel(*steps.values()), strict=True))
    if "sizes" in done:
        prepared.path_sizes = done["sizes"]
    if signatures:
        prepared.signatures, prepared.warnings = done["gpg"]
        prepared.sigstore = done["sigstore"]
        for info in infos:
            note = prepared.sigstore.note(info.version, info.digest)
            if note:
                prepared.warnings.append(f"WARNING: {note}")
        prepared.release_tasks = tasks + prepared.sigstore.tasks
    if release.target:  # a to-dir plan that names its target gets the instructions before the trip
        sources: list[tuple[str, str]] = []
        last = None
        for info in infos:
            last = release_mirror_instructions(info, release.target, release.to_release_image)
            sources += last.sources
        assert last is not None
        # One set for the whole path, named after its content; the newest release says which forms apply.
        prepared.instructions = MirrorInstructions(sources, name=last.name, release_image=last.release_image,
                                                   version=last.version)
    return prepared


async def prepare(plan: Plan, session: RegistrySession, *, read_only: bool = False, dir_release: str | None = None,
                  oc: str = "oc", on_message: Message | None = None) -> Prepared:
    """Everything a run needs. ``read_only`` (a dry run, the runbook): compute only, and never write to
    or delete from the removable medium; otherwise a to-dir plan's medium is checked for space and
    made ready (see :func:`prepare_media`)."""
    prepared = Prepared(plan)
    from_release = plan.samples is not None and plan.samples.source == SamplesSource.RELEASE
    if not from_release:  # files and the cluster first: a bad path fails before the release is read
        prepared.samples, prepared.samples_tasks = prepare_samples(plan, oc=oc)
    prepared.ca = prepare_ca(plan)
    await prepare_releases(plan, session, dir_release=dir_release, into=prepared, check_media=not read_only,
                           on_message=on_message)
    if from_release:
        streams = await release_sample_streams(plan, session, prepared.releases)
        prepared.samples, prepared.samples_tasks = prepare_samples(plan, oc=oc, streams=streams)
    if not read_only:
        await prepare_media(prepared, session)
    await prepare_graph_image(prepared, session, read_only=read_only)
    return prepared


async def prepare_graph_image(prepared: Prepared, session: RegistrySession, *, read_only: bool) -> None:
    """Updates inside the cluster (release.graph_image): a real run builds the graph-data image before the
    copy (into the mirror, or onto a to-dir plan's medium; from-dir uploads it with the releases), through
    core.graph_image's one function; a read-only prepare (dry run, runbook, Done) only asks the mirror which
    digest its tag names, so the UpdateService can pin it."""
    release = prepared.plan.release
    if release is None or not release.graph_image:
        return
    if not read_only and release.mode != ReleaseMode.FROM_DIR:

        prepared.graph_image = await build_plan_graph_image(prepared.plan, session)
        prepared.graph_image_digest = prepared.graph_image.digest
        return
    if release.mode == ReleaseMode.TO_DIR:
        return  # the mirror is on the far side
    await look_up_graph_image(prepared, session)


async def after_upload(prepared: Prepared, session: RegistrySession) -> None:
    """What a run learns from the mirror once its copy succeeded: a from-dir run's graph-data image was
    not in the mirror when it was prepared (the digest lookup then found nothing and the documents named
    the tag); now it is, so the UpdateService pins it by digest as the near side does."""
    release = prepared.plan.release
    if release is not None and release.graph_image and release.mode == ReleaseMode.FROM_DIR \
            and prepared.graph_image_digest is None:
        await look_up_graph_image(prepared, session)


async def look_up_graph_image(prepared: Prepared, session: RegistrySession) -> None:
    """Which digest the mirror's graph-data image tag names (None when the mirror holds none or cannot be
    asked: the documents then show the tag and say so)."""
    release = prepared.plan.release
    assert release is not None and release.graph_image

    ref = parse_reference(release.graph_image)
    try:
        prepared.graph_image_digest = await session.client(ref.registry).manifest_digest(
            ref.repository, ref.reference, push_scope=False)
    except MirrorError:
        prepared.graph_image_digest = None  # not pushed yet, or the mirror cannot be asked: the tag is shown


def _to_media_directory(plan: Plan) -> Path | None:
    """The medium a to-dir plan writes to (None for every other plan)."""
    return plan.media_directory if plan.release is not None and plan.release.mode == ReleaseMode.TO_DIR else None


async def check_space(prepared: Prepared, session: RegistrySession) -> MediaSpace | None:
    """For a to-dir plan: what the copy still has to write (release and samples, shared blobs once)
    against the free space; LocalStorageError before anything is copied when it cannot fit."""
    directory = _to_media_directory(prepared.plan)
    if directory is None:
        return None
    sources: list[Location] = [t.source for t in prepared.tasks if isinstance(t.destination, LayoutLocation)]
    return await check_media_space(session, directory, sources, what="this plan's images",
                                   fix="set another release.directory in the plan")


def _forget_incomplete_samples(directory: Path, tasks: list[CopyTask]) -> None:
    """A samples image in the layout whose blobs are not all there (a damaged medium) loses its manifest,
    so the copy writes it again instead of counting it as done (as core.release does for the release)."""

    layout = OCILayout(directory)
    if not layout.exists():
        return
    names = {t.destination.name for t in tasks if isinstance(t.destination, LayoutLocation)}
    for entry in layout.entries():
        if entry.name in names and layout.has_blob(entry.digest) and not complete_in_layout(layout, entry.digest):
            layout.remove_blob(entry.digest)  # validated digest, no link followed


async def prepare_media(prepared: Prepared, session: RegistrySession) -> None:
    """Before a real to-dir copy: fail early when short of space, mark the bundle unfinished, then record
    the release on the medium and forget damaged images. The only place that writes to the medium before
    the copy."""
    directory = _to_media_directory(prepared.plan)
    if directory is None:
        return
    prepared.space = await check_space(prepared, session)

    begin_bundle(directory)  # SHA256SUMS goes until the bundle is written again after the copy

    for info in prepared.releases or ([prepared.release] if prepared.release is not None else []):
        to_dir_tasks(info, directory, prepare=True)
    _forget_incomplete_samples(directory, prepared.samples_tasks)


def write_text(path: Path, text: str, mode: int = PUBLIC) -> Path:
    """Atomic: an interrupted run never leaves half a YAML file for someone to apply. ``mode`` is
    core.fsio.PUBLIC for documents, PRIVATE for what holds a secret or a CA. Any file error is one
    LocalStorageError naming the path."""
    return atomic_write(path, text, mode=mode, hint="choose a folder you can write to")




def write_signatures(prepared: Prepared, folder: str | Path | None = None) -> list[Path]:
    """oc's ``signature-sha256-<16 hex>.json`` (the signature ConfigMap) for every verified release, in
    ``folder`` or :func:`signatures_folder`."""
    out = Path(folder) if folder is not None else signatures_folder(prepared.plan)
    return [write_signature_file(out, report.digest, report.signatures)
            for report in prepared.signatures if report.signatures]


def output_folder(out: Path) -> Path:
    """Where the documents go: ``out``, except a bundle plan's own output folder (core.bundle.FAR_OUTPUT_DIR,
    relative: inside the medium the wizard runs from) on a medium that cannot be written (read-only,
    e.g. a DVD or a write-protected stick): then ``~/mirror-wizard-output/<the medium folder's name>``."""

    if out.is_absolute() or out.parts[:1] != (FAR_OUTPUT_DIR,):
        return out
    parent = Path.cwd()
    if os.access(out if out.exists() else parent, os.W_OK):
        return out
    return Path.home() / FAR_OUTPUT_DIR / (parent.name or "bundle") / Path(*out.parts[1:])


def _same_folder(a: Path, b: Path) -> bool:
    """Whether two folder names are one folder (relative or absolute, ~ or not)."""
    return a.expanduser().resolve() == b.expanduser().resolve()


def write_outputs(prepared: Prepared, folder: str | Path | None = None) -> list[Path]:
    """Every document the cluster needs, one file each, plus the runbook; each file written once and
    listed once. The run's own call (no ``folder``) also puts the signature ConfigMaps where the plan keeps
    them (to-dir: on the medium, with the release); a folder given (Done's Write files, a bundle's
    cluster/) gets everything to apply and nothing is written elsewhere — the run put them there already."""
    out = output_folder(Path(folder or prepared.plan.output_dir))
    written: list[Path] = []
    if folder is None and prepared.signatures and not _same_folder(signatures_folder(prepared.plan), out):
        written += write_signatures(prepared)
    written += write_signatures(prepared, out)  # the output folder holds everything to apply
    if prepared.instructions is not None:
        written += prepared.instructions.write(out)
    if prepared.samples is not None:
        written.append(write_text(out / SAMPLES_MAPPING_FILE, prepared.samples.mapping_text()))
        written.append(write_text(out / SAMPLES_CONFIG_FILE, prepared.samples.config_yaml()))
    if prepared.ca is not None:
        # The CA bundle is written owner-only like every file holding a CA; the patch that names it is
        # its own file so `oc patch --patch-file` takes it as written.
        written.append(write_text(out / REGISTRY_CONFIG_FILE, prepared.ca.yaml(), PRIVATE))
        written.append(write_text(out / IMAGE_CONFIG_PATCH_FILE, json.dumps(prepared.ca.patch, indent=2) + "\n"))
    release = prepared.plan.release
    if release is not None and release.graph_image:

        pem = next(iter((prepared.ca.configmap.get("data") or {}).values()), None) if prepared.ca else None
        written += write_plan_files(out, prepared.plan, prepared.graph_image_pinned or release.graph_image, pem)
    written.append(write_text(out / "runbook.md", render_runbook(prepared.plan, prepared.runbook_parts())))
    return written
