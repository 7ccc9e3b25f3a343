"""The one path from a plan to a copy, for every front end.

``mirror-wizard run``, ``release mirror``, ``samples mirror``, ``image mirror`` and the wizard's Mirror
step all come through here: they describe *what* to copy as a :class:`~core.plan.Plan` (the CLI builds
one from its flags) wrapped in a :class:`Job`, and *how to reach registries* as an :class:`Access`;
this module opens the session (the only place front ends get a TLS setup, an auth file and mirror sets
assembled), prepares the plan into one copy graph (release in any mode and samples together, shared
blobs moved once), runs it with an event sink and a cancel token, and returns a :class:`RunResult`. A to-dir job's
medium then becomes a complete bundle (core.bundle_write), so every front end writes the same one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .access import Access, auth_from_data, open_session, plan_auth, source_mirrors, tls_options
from .bundle import BundleOptions
from .bundle_write import write_bundle
from .copier import Copier, CopyOptions, CopyTask, EventSink
from .errors import InputError
from .plan import Plan, ReleaseMode
from .registry import RegistrySession
from .run import Message, Prepared, RunResult, after_upload, check_space, prepare, write_outputs, write_signatures

if TYPE_CHECKING:
    from pathlib import Path

    from .authfile import AuthFile
    from .bundle import BundleResult

__all__ = ["Access", "BundleOptions", "Job", "finish_medium",
           "Prepared", "RunResult", "auth_from_data", "open_session", "plan_auth", "prepare_job",
           "run_job", "run_plan", "source_mirrors", "tls_options"]


@dataclass
class Job:
    """One run: the plan, plus what a command can ask that a saved plan does not hold."""

    plan: Plan
    images: list[CopyTask] = field(default_factory=list)  # plain SRC → DST copies (image mirror)
    dry_run: bool = False
    filter_by_os: str | None = None
    keep_manifest_list: bool = False
    dir_release: str | None = None    # from-dir: which release of the medium, when it holds several
    oc: str = "oc"                    # the oc binary, for image streams read from the cluster
    write_outputs: bool = True        # write the cluster documents and runbook to plan.output_dir
    nothing_to_do: str = "the plan has nothing to mirror: choose a release or some image streams"
    bundle: BundleOptions | None = None  # how a to-dir job's bundle is written (None: the defaults)

    def copy_options(self) -> CopyOptions:
        options = self.plan.options
        return CopyOptions(filter_by_os=self.filter_by_os, keep_manifest_list=self.keep_manifest_list,
                           skip_missing=options.skip_missing, continue_on_error=options.continue_on_error,
                           dry_run=self.dry_run)


async def prepare_job(job: Job, session: RegistrySession, *,
                      on_prepared: Callable[[Prepared], None] | None = None,
                      on_message: Message | None = None) -> Prepared:
    """The job's plan prepared into one list of copies. A dry run reads sources and the medium but
    writes nothing, and gives the same early answer on space a real run would."""
    prepared = await prepare(job.plan, session, read_only=job.dry_run, dir_release=job.dir_release, oc=job.oc,
                             on_message=on_message)
    prepared.image_tasks = list(job.images)
    if job.dry_run:  # a real run checked while making the medium ready
        prepared.space = await check_space(prepared, session)
    if on_prepared is not None:
        on_prepared(prepared)
    if not prepared.tasks:
        raise InputError(job.nothing_to_do)
    return prepared


async def run_job(job: Job, *, access: Access | None = None, auth: AuthFile | None = None,
                  on_event: EventSink | None = None, cancel: asyncio.Event | None = None,
                  on_prepared: Callable[[Prepared], None] | None = None,
                  on_message: Message | None = None) -> RunResult:
    """Open a session (``access``, default: the plan's), prepare, copy, and (unless a dry run, a failed
    copy or ``job.write_outputs`` false) write the cluster's documents; a to-dir job's medium becomes a
    bundle (unless a dry run or a failed copy), in ``RunResult.bundle``.

    ``on_prepared`` sees the prepared plan before the first blob moves (rows to list, notes to print,
    a last check that may raise); ``on_message`` gets one line per step of the medium's work (a
    from-dir bundle's check, the bundle written); ``cancel`` set stops the copy cleanly
    (core.errors.Cancelled)."""
    async with open_session(access or job.plan, auth=auth) as session:
        prepared = await prepare_job(job, session, on_prepared=on_prepared, on_message=on_message)
        result = await Copier(session, job.copy_options(), on_event=on_event, cancel=cancel).run(prepared.tasks)
        done = result.ok and not job.dry_run
        if done:
            await after_upload(prepared, session)  # e.g. the graph-data image a from-dir run just uploaded
    outputs: list[Path] = []
    if done:
        # The signature ConfigMaps are written by every real run (to-dir: onto the medium, with the release).
        outputs = write_outputs(prepared) if job.write_outputs else write_signatures(prepared)
    run = RunResult(prepared, result, outputs)
    if done:
        run.bundle = await finish_medium(job, prepared, on_message=on_message)
    return run


async def finish_medium(job: Job, prepared: Prepared, *, on_message: Message | None = None) -> BundleResult | None:
    """After a successful to-dir copy: the medium made a complete bundle around its OCI layout
    (binaries, wheelhouse, the far side's plan, cluster documents, runbook, SHA256SUMS last). None for
    every other job. prepare_media took SHA256SUMS away before the copy, so until this returns the
    medium says it is unfinished."""
    plan = job.plan
    directory = plan.media_directory
    if plan.release is None or plan.release.mode != ReleaseMode.TO_DIR or directory is None:
        return None

    releases = prepared.releases or ([prepared.release] if prepared.release is not None else [])
    return await write_bundle(directory, releases, plan=plan, prepared=prepared, options=job.bundle,
                              on_message=on_message)


async def run_plan(plan: Plan, *, dry_run: bool = False, on_event: EventSink | None = None,
                   cancel: asyncio.Event | None = None, write: bool = True, bundle: BundleOptions | None = None,
                   on_message: Message | None = None) -> RunResult:
    """The whole saved plan (``mirror-wizard run``)."""
    return await run_job(Job(plan, dry_run=dry_run, write_outputs=write, bundle=bundle), on_event=on_event,
                         cancel=cancel, on_message=on_message)
