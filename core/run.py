"""Carry out a whole plan headless: the release and the samples in one copy graph (shared blobs move
once), then write every manifest the cluster needs, and the runbook.

The wizard's Mirror and Done steps call the same functions, so a plan saved from the wizard and run
with ``mirror-wizard run`` does exactly what the wizard would have done.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .authfile import AuthFile, load_auth
from .copier import Copier, CopyOptions, CopyResult, CopyTask, EventSink
from .endpoints import Endpoints, LayoutLocation, Location, RegistryLocation
from .errors import InputError, LocalStorageError, MirrorError
from .fsio import PRIVATE, PUBLIC, atomic_write
from .layout import OCILayout
from .plan import Plan
from .registry import RegistrySession
from .runbook import RunbookParts, render_runbook
from .tlsconfig import TLSOptions

SPACE_RESERVE = 16 << 20  # head room on the medium for index rewrites and temporary files


@dataclass
class MediaSpace:
    """Bytes a to-dir run still has to write to the removable medium, and what is free there."""

    directory: Path
    needed: int
    free: int


@dataclass
class Prepared:
    """Everything computed from a plan before copying."""

    plan: Plan
    release: Any = None            # core.release.ReleaseInfo
    release_tasks: list[CopyTask] = field(default_factory=list)
    instructions: Any = None       # core.mirror_config.MirrorInstructions
    samples: Any = None            # core.samples.SamplesPlan
    samples_tasks: list[CopyTask] = field(default_factory=list)
    ca: Any = None                 # core.ca.CAManifests
    space: MediaSpace | None = None

    @property
    def tasks(self) -> list[CopyTask]:
        return self.release_tasks + self.samples_tasks

    def runbook_parts(self, plan_file: str | None = None) -> RunbookParts:
        info = self.release
        return RunbookParts(
            release_version=getattr(info, "version", None), release_architecture=getattr(info, "architecture", None),
            release_components=len(info.components) if info is not None else None,
            instructions=self.instructions, samples=self.samples, ca=self.ca, plan_file=plan_file,
        )


@dataclass
class RunResult:
    prepared: Prepared
    copy: CopyResult | None
    outputs: list[Path]

    @property
    def ok(self) -> bool:
        return self.copy is None or self.copy.ok


def tls_for(plan: Plan) -> TLSOptions:
    return TLSOptions(ca_files=tuple(plan.ca_files()), insecure_hosts=tuple(plan.insecure_hosts()))


def auth_for(plan: Plan) -> AuthFile:
    return load_auth(plan.auth_file)


def source_mirrors_for(plan: Plan) -> list[tuple[str, str]]:
    if not plan.idms_file:
        return []
    from .mirror_config import load_mirror_sets

    return load_mirror_sets(plan.idms_file)


def session_for(plan: Plan) -> RegistrySession:
    return RegistrySession(auth=auth_for(plan), tls=tls_for(plan), max_per_registry=plan.options.max_per_registry,
                           source_mirrors=source_mirrors_for(plan))


def _load_sample_streams(plan: Plan) -> list[Any]:
    from .samples import load_from_cluster, load_streams_from

    choice = plan.samples
    assert choice is not None
    if choice.source == "cluster":
        return load_from_cluster()
    try:
        return load_streams_from(choice.paths)
    except InputError as exc:  # say which plan key holds the file at fault
        raise type(exc)(f"plan samples.paths: {exc.message}", hint=exc.hint) from None


def prepare_samples(plan: Plan) -> tuple[Any, list[CopyTask]]:
    """The samples plan and its copies: straight to the mirror, or through the plan's removable medium."""
    if plan.samples is None:
        return None, []
    from .samples import plan_samples

    choice = plan.samples
    samples = plan_samples(_load_sample_streams(plan), choice.mirror or plan.mirror.registry,
                           include=choice.include or None, skip=choice.skip or None,
                           auth_file=plan.auth_file or "${LOCAL_SECRET_JSON}")
    return samples, samples_tasks_for(plan, samples.tasks())


def samples_layout_name(source: Location) -> str:
    """A samples image's name in the OCI layout: its full source reference, so it can be found again
    (``skopeo inspect oci:DIR:registry.redhat.io/ubi9/ruby-33:latest``) and the upload side, which
    plans the same streams, knows every name without any record."""
    if isinstance(source, RegistryLocation):
        return str(source.ref)
    return source.name


def samples_tasks_for(plan: Plan, direct: list[CopyTask]) -> list[CopyTask]:
    """to-dir: each image from its registry into the release's layout; from-dir: from that layout to the
    same destination a direct mirror uses. Otherwise the direct copies as they are."""
    release = plan.release
    if release is None or release.mode == "registry" or not release.directory:
        return direct
    directory = Path(release.directory)
    if release.mode == "to-dir":
        return [CopyTask(t.source, LayoutLocation(directory, samples_layout_name(t.source))) for t in direct]
    return [CopyTask(LayoutLocation(directory, samples_layout_name(t.source)), t.destination) for t in direct]


def prepare_ca(plan: Plan) -> Any:
    if not plan.mirror.ca_file:
        return None
    from .ca import ca_manifests, load_ca_bundle
    from .errors import CertificateError
    from .userfiles import read_user_file

    load_ca_bundle(plan.mirror.ca_file)  # a clear error now rather than a broken ConfigMap later
    pem = read_user_file(plan.mirror.ca_file, "CA file", CertificateError, text=True,
                         inside="the PEM file (often ca.crt)")
    # The oc command names the file the admin has, so it can be run as printed.
    return ca_manifests(plan.mirror.registry, pem, ca_path=plan.mirror.ca_file)


async def prepare_release(plan: Plan, session: RegistrySession) -> tuple[Any, list[CopyTask], Any]:
    release = plan.release
    if release is None:
        return None, [], None
    from . import release as release_module
    from .mirror_config import release_mirror_instructions

    directory = Path(release.directory or "")
    if release.mode == "from-dir":
        info = await release_module.load_release_from_dir(session, directory)
        tasks = release_module.from_dir_tasks(info, directory, release.target, release.to_release_image)
    else:
        info = await release_module.load_release(session, release.source)
        if release.mode == "to-dir":
            # Only the task list here: recording the release on the medium is prepare_media's, which a
            # dry run and the runbook never call.
            tasks = release_module.to_dir_tasks(info, directory, prepare=False)
        else:
            tasks = release_module.release_tasks(info, release.target, release.to_release_image)
    instructions = None
    if release.target:  # a to-dir plan that names its target gets the instructions before the trip
        instructions = release_mirror_instructions(info, release.target, release.to_release_image)
    return info, tasks, instructions


async def prepare(plan: Plan, session: RegistrySession, *, read_only: bool = False) -> Prepared:
    """Everything a run needs. ``read_only`` (a dry run, the runbook): compute only, and never write to
    or delete from the removable medium; otherwise a to-dir plan's medium is checked for space and
    made ready (see :func:`prepare_media`)."""
    prepared = Prepared(plan)
    prepared.samples, prepared.samples_tasks = prepare_samples(plan)
    prepared.ca = prepare_ca(plan)
    prepared.release, prepared.release_tasks, prepared.instructions = await prepare_release(plan, session)
    if not read_only:
        await prepare_media(prepared, session)
    return prepared


def _media_directory(plan: Plan) -> Path | None:
    release = plan.release
    if release is None or release.mode != "to-dir" or not release.directory:
        return None
    return Path(release.directory)


async def _source_blobs(endpoints: Endpoints, location: Location) -> tuple[dict[str, int], int]:
    """(digest → size of every blob, bytes of the manifests) of one source image."""
    source, reference = endpoints.source(location)
    top = await source.get_manifest(reference)
    manifests = [top]
    if top.is_index:
        manifests += await asyncio.gather(*(source.get_manifest(d.digest) for d in top.children()))
    return {d.digest: d.size for m in manifests for d in m.blobs()}, sum(len(m.raw) for m in manifests)


async def check_media_space(prepared: Prepared, session: RegistrySession,
                            reserve: int = SPACE_RESERVE) -> MediaSpace | None:
    """For a to-dir plan: what the copy still has to write (release and samples, shared blobs once)
    against the free space; LocalStorageError before anything is copied when it cannot fit."""
    directory = _media_directory(prepared.plan)
    if directory is None:
        return None
    endpoints = Endpoints(session)
    sources = [t.source for t in prepared.tasks if isinstance(t.destination, LayoutLocation)]
    found = await asyncio.gather(*(_source_blobs(endpoints, s) for s in sources), return_exceptions=True)
    blobs: dict[str, int] = {}
    manifest_bytes = 0
    for item in found:
        if isinstance(item, MirrorError):
            continue  # an image that cannot be read: the copy reports it (or skips it) as it should
        if isinstance(item, BaseException):
            raise item
        blobs.update(item[0])
        manifest_bytes += item[1]
    layout = OCILayout(directory)
    space = MediaSpace(directory, layout.missing_bytes(blobs) + manifest_bytes, layout.free_bytes())
    if space.needed and space.needed + reserve > space.free:
        from .release import human_size

        raise LocalStorageError(
            f"{directory} needs {human_size(space.needed)} more for this plan's images but only "
            f"{human_size(space.free)} is free; free some space or set another release.directory in the plan")
    return space


def _forget_incomplete_samples(directory: Path, tasks: list[CopyTask]) -> None:
    """A samples image in the layout whose blobs are not all there (a damaged medium) loses its manifest,
    so the copy writes it again instead of counting it as done (as core.release does for the release)."""
    layout = OCILayout(directory)
    if not layout.exists():
        return
    names = {t.destination.name for t in tasks if isinstance(t.destination, LayoutLocation)}
    for entry in layout.entries():
        if entry.name in names and layout.has_blob(entry.digest) and not _complete_in(layout, entry.digest):
            try:
                layout.blob_path(entry.digest).unlink()
            except OSError as exc:
                raise LocalStorageError(f"cannot repair {directory}: {exc.strerror or exc}") from None


def _complete_in(layout: OCILayout, digest: str) -> bool:
    try:
        top = layout.get_manifest(digest)
        manifests = [top] + [layout.get_manifest(d.digest) for d in top.children()]
    except MirrorError:
        return False
    return all(layout.has_blob(d.digest, d.size) for m in manifests for d in m.blobs())


async def prepare_media(prepared: Prepared, session: RegistrySession) -> None:
    """Before a real to-dir copy: fail early when short of space, then record the release on the medium
    and forget damaged images. The only place that writes to the medium before the copy."""
    directory = _media_directory(prepared.plan)
    if directory is None:
        return
    prepared.space = await check_media_space(prepared, session)
    if prepared.release is not None:
        from .release import to_dir_tasks

        to_dir_tasks(prepared.release, directory, prepare=True)
    _forget_incomplete_samples(directory, prepared.samples_tasks)


def write_text(path: Path, text: str, mode: int = PUBLIC) -> Path:
    """Atomic: an interrupted run never leaves half a YAML file for someone to apply. ``mode`` is
    core.fsio.PUBLIC for documents, PRIVATE for what holds a secret or a CA. Any file error is one
    LocalStorageError naming the path."""
    return atomic_write(path, text, mode=mode, hint="choose a folder you can write to")


IMAGE_CONFIG_PATCH_FILE = "image-config-patch.json"


def write_outputs(prepared: Prepared, folder: str | Path | None = None) -> list[Path]:
    """Every document the cluster needs, one file each, plus the runbook."""
    out = Path(folder or prepared.plan.output_dir)
    written: list[Path] = []
    if prepared.instructions is not None:
        written += prepared.instructions.write(out)
    if prepared.samples is not None:
        written.append(write_text(out / "samples-mapping.txt", prepared.samples.mapping_text()))
        written.append(write_text(out / "samples-operator-config.yaml", prepared.samples.config_yaml()))
    if prepared.ca is not None:
        # The CA bundle is written owner-only like every file holding a CA; the patch that names it is
        # its own file so `oc patch --patch-file` takes it as written.
        written.append(write_text(out / "registry-config.yaml", prepared.ca.yaml(), PRIVATE))
        written.append(write_text(out / IMAGE_CONFIG_PATCH_FILE, json.dumps(prepared.ca.patch, indent=2) + "\n"))
    written.append(write_text(out / "runbook.md", render_runbook(prepared.plan, prepared.runbook_parts())))
    return written


async def _copy(tasks: list[CopyTask], session: RegistrySession, options: CopyOptions,
                on_event: EventSink | None, cancel: asyncio.Event | None) -> CopyResult:
    return await Copier(session, options, on_event=on_event, cancel=cancel).run(tasks)


async def run_plan(plan: Plan, *, dry_run: bool = False, on_event: EventSink | None = None,
                   cancel: asyncio.Event | None = None, write: bool = True) -> RunResult:
    """The whole plan. A dry run reads sources and the medium but writes nothing anywhere."""
    async with session_for(plan) as session:
        prepared = await prepare(plan, session, read_only=dry_run)
        if not prepared.tasks:
            raise InputError("the plan has nothing to mirror: choose a release or some image streams")
        if dry_run:  # the same early answer on space a real run would give
            prepared.space = await check_media_space(prepared, session)
        options = CopyOptions(skip_missing=plan.options.skip_missing, continue_on_error=plan.options.continue_on_error,
                              dry_run=dry_run)
        result = await _copy(prepared.tasks, session, options, on_event, cancel)
    outputs = write_outputs(prepared) if write and result.ok and not dry_run else []
    return RunResult(prepared, result, outputs)
