"""Carry out a whole plan headless: the release and the samples in one copy graph (shared blobs move
once), then write every manifest the cluster needs, and the runbook.

The wizard's Mirror and Done steps call the same functions, so a plan saved from the wizard and run
with ``mirror-wizard run`` does exactly what the wizard would have done.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .authfile import AuthFile, load_auth
from .copier import CopyOptions, CopyResult, CopyTask, EventSink, copy_images
from .errors import InputError, LocalStorageError

from .plan import Plan
from .registry import RegistrySession
from .runbook import RunbookParts, render_runbook
from .tlsconfig import TLSOptions


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

    @property
    def tasks(self) -> list[CopyTask]:
        return self.release_tasks + self.samples_tasks

    def runbook_parts(self) -> RunbookParts:
        info = self.release
        return RunbookParts(
            release_version=getattr(info, "version", None), release_architecture=getattr(info, "architecture", None),
            release_components=len(info.components) if info is not None else None,
            instructions=self.instructions, samples=self.samples, ca=self.ca,
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


def prepare_samples(plan: Plan) -> tuple[Any, list[CopyTask]]:
    if plan.samples is None:
        return None, []
    from .samples import load_from_cluster, load_streams, plan_samples

    choice = plan.samples
    streams = load_from_cluster() if choice.source == "cluster" else load_streams(choice.path or "")
    samples = plan_samples(streams, choice.mirror or plan.mirror.registry, include=choice.include or None,
                           skip=choice.skip or None, auth_file=plan.auth_file or "${LOCAL_SECRET_JSON}")
    return samples, samples.tasks()


def prepare_ca(plan: Plan) -> Any:
    if not plan.mirror.ca_file:
        return None
    from .ca import ca_manifests, load_ca_bundle

    load_ca_bundle(plan.mirror.ca_file)  # a clear error now rather than a broken ConfigMap later
    return ca_manifests(plan.mirror.registry, Path(plan.mirror.ca_file).read_text())


async def prepare_release(plan: Plan, session: RegistrySession) -> tuple[Any, list[CopyTask], Any]:
    release = plan.release
    if release is None:
        return None, [], None
    from . import release as release_module
    from .mirror_config import release_mirror_instructions

    if release.mode == "from-dir":
        info = await release_module.load_release_from_dir(session, Path(release.directory or ""))
        tasks = release_module.from_dir_tasks(info, Path(release.directory or ""), release.target, release.to_release_image)
    else:
        info = await release_module.load_release(session, release.source)
        if release.mode == "to-dir":
            tasks = release_module.to_dir_tasks(info, Path(release.directory or ""))
        else:
            tasks = release_module.release_tasks(info, release.target, release.to_release_image)
    instructions = None
    if release.mode != "to-dir":
        instructions = release_mirror_instructions(info, release.target, release.to_release_image)
    return info, tasks, instructions


async def prepare(plan: Plan, session: RegistrySession) -> Prepared:
    prepared = Prepared(plan)
    prepared.samples, prepared.samples_tasks = prepare_samples(plan)
    prepared.ca = prepare_ca(plan)
    prepared.release, prepared.release_tasks, prepared.instructions = await prepare_release(plan, session)
    return prepared


def _write(path: Path, text: str) -> Path:
    """Atomic: an interrupted run never leaves half a YAML file for someone to apply."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise LocalStorageError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def write_outputs(prepared: Prepared, folder: str | Path | None = None) -> list[Path]:
    """Every document the cluster needs, one file each, plus the runbook."""
    out = Path(folder or prepared.plan.output_dir)
    written: list[Path] = []
    if prepared.instructions is not None:
        written += prepared.instructions.write(out)
    if prepared.samples is not None:
        written.append(_write(out / "samples-mapping.txt", prepared.samples.mapping_text()))
        written.append(_write(out / "samples-operator-config.yaml", prepared.samples.config_yaml()))
    if prepared.ca is not None:
        written.append(_write(out / "registry-config.yaml", prepared.ca.yaml()))
    written.append(_write(out / "runbook.md", render_runbook(prepared.plan, prepared.runbook_parts())))
    return written


async def run_plan(plan: Plan, *, dry_run: bool = False, on_event: EventSink | None = None,
                   cancel: asyncio.Event | None = None, write: bool = True) -> RunResult:
    async with session_for(plan) as session:
        prepared = await prepare(plan, session)
        if not prepared.tasks:
            raise InputError("the plan has nothing to mirror: choose a release or some image streams")
        options = CopyOptions(skip_missing=plan.options.skip_missing, continue_on_error=plan.options.continue_on_error,
                              dry_run=dry_run)
        result = await copy_images(prepared.tasks, session, options, on_event=on_event, cancel=cancel)
    outputs = write_outputs(prepared) if write and result.ok else []
    return RunResult(prepared, result, outputs)
