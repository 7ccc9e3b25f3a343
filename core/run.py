"""From a plan to a copy: everything a run computes before the first blob moves (the release in any
mode, the samples, the CA documents, the removable medium made ready), and the documents written after.

The one entry point front ends call is :mod:`core.orchestrate` (sessions, then prepare, copy, report);
this module is its preparation half, also used alone by the runbook and the wizard's Done step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .copier import CopyResult, CopyTask
from .endpoints import LayoutLocation, Location
from .errors import InputError
from .fsio import PRIVATE, PUBLIC, atomic_write
from .layout import OCILayout
from .media import MediaSpace, check_media_space
from .plan import Plan, ReleaseMode, SamplesSource
from .registry import RegistrySession
from .runbook import RunbookParts, render_runbook
from .samples import samples_layout_name

if TYPE_CHECKING:
    from .ca import CAManifests
    from .mirror_config import MirrorInstructions
    from .release import ReleaseInfo
    from .samples import SamplesPlan, SampleStream

__all__ = ["MediaSpace", "Prepared", "RunResult", "prepare", "prepare_ca", "prepare_media", "prepare_release",
           "prepare_samples", "samples_layout_name", "samples_tasks_for", "write_outputs", "write_text"]


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

    @property
    def tasks(self) -> list[CopyTask]:
        return self.release_tasks + self.samples_tasks + self.image_tasks

    def runbook_parts(self, plan_file: str | None = None) -> RunbookParts:
        info = self.release
        return RunbookParts(
            release_version=info.version if info is not None else None,
            release_architecture=info.architecture if info is not None else None,
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


def load_sample_streams(plan: Plan, oc: str = "oc") -> list[SampleStream]:
    """The image streams the plan's samples section names (files, or the cluster through oc)."""
    from .samples import load_from_cluster, load_streams_from

    choice = plan.samples
    assert choice is not None
    if choice.source == SamplesSource.CLUSTER:
        return load_from_cluster(oc)
    try:
        return load_streams_from(choice.paths)
    except InputError as exc:  # say which plan key holds the file at fault
        raise type(exc)(f"plan samples.paths: {exc.message}", hint=exc.hint) from None


def prepare_samples(plan: Plan, *, oc: str = "oc") -> tuple[SamplesPlan | None, list[CopyTask]]:
    """The samples plan and its copies: straight to the mirror, or through the plan's removable medium."""
    if plan.samples is None:
        return None, []
    samples = samples_plan_for(plan, load_sample_streams(plan, oc))
    return samples, samples_tasks_for(plan, samples.tasks())


def samples_plan_for(plan: Plan, streams: list[SampleStream]) -> SamplesPlan:
    """The samples plan (mapping, samplesRegistry, skippedImagestreams) for the plan's choices."""
    from .samples import plan_samples

    choice = plan.samples
    assert choice is not None
    return plan_samples(streams, choice.mirror or plan.mirror.registry,
                        include=choice.include or None, skip=choice.skip or None,
                        auth_file=plan.auth_file or "${LOCAL_SECRET_JSON}")


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
    from .ca import ca_manifests, load_ca_bundle
    from .errors import CertificateError
    from .userfiles import read_user_file

    load_ca_bundle(plan.mirror.ca_file)  # a clear error now rather than a broken ConfigMap later
    pem = read_user_file(plan.mirror.ca_file, "CA file", CertificateError, text=True,
                         inside="the PEM file (often ca.crt)")
    # The oc command names the file the admin has, so it can be run as printed.
    return ca_manifests(plan.mirror.registry, pem, ca_path=plan.mirror.ca_file)


async def prepare_release(plan: Plan, session: RegistrySession, *, dir_release: str | None = None
                          ) -> tuple[ReleaseInfo | None, list[CopyTask], MirrorInstructions | None]:
    """The release, its copies in the plan's mode, and (when the plan names a target) the cluster's
    mirror instructions. ``dir_release``: which release of the medium (from-dir, when it holds several)."""
    release = plan.release
    if release is None:
        return None, [], None
    from . import release as release_module
    from .mirror_config import release_mirror_instructions

    directory = Path(release.directory or "")
    if release.mode == ReleaseMode.FROM_DIR:
        info = await release_module.load_release_from_dir(session, directory, dir_release)
        tasks = release_module.from_dir_tasks(info, directory, release.target, release.to_release_image)
    else:
        info = await release_module.load_release(session, release.source)
        if release.mode == ReleaseMode.TO_DIR:
            # Only the task list here: recording the release on the medium is prepare_media's, which a
            # dry run and the runbook never call.
            tasks = release_module.to_dir_tasks(info, directory, prepare=False)
        else:
            tasks = release_module.release_tasks(info, release.target, release.to_release_image)
    instructions = None
    if release.target:  # a to-dir plan that names its target gets the instructions before the trip
        instructions = release_mirror_instructions(info, release.target, release.to_release_image)
    return info, tasks, instructions


async def prepare(plan: Plan, session: RegistrySession, *, read_only: bool = False, dir_release: str | None = None,
                  oc: str = "oc") -> Prepared:
    """Everything a run needs. ``read_only`` (a dry run, the runbook): compute only, and never write to
    or delete from the removable medium; otherwise a to-dir plan's medium is checked for space and
    made ready (see :func:`prepare_media`)."""
    prepared = Prepared(plan)
    prepared.samples, prepared.samples_tasks = prepare_samples(plan, oc=oc)
    prepared.ca = prepare_ca(plan)
    prepared.release, prepared.release_tasks, prepared.instructions = await prepare_release(
        plan, session, dir_release=dir_release)
    if not read_only:
        await prepare_media(prepared, session)
    return prepared


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
    from .release import complete_in_layout

    layout = OCILayout(directory)
    if not layout.exists():
        return
    names = {t.destination.name for t in tasks if isinstance(t.destination, LayoutLocation)}
    for entry in layout.entries():
        if entry.name in names and layout.has_blob(entry.digest) and not complete_in_layout(layout, entry.digest):
            layout.remove_blob(entry.digest)  # validated digest, no link followed


async def prepare_media(prepared: Prepared, session: RegistrySession) -> None:
    """Before a real to-dir copy: fail early when short of space, then record the release on the medium
    and forget damaged images. The only place that writes to the medium before the copy."""
    directory = _to_media_directory(prepared.plan)
    if directory is None:
        return
    prepared.space = await check_space(prepared, session)
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
