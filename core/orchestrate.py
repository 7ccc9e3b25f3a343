"""The one path from a plan to a copy, for every front end.

``mirror-wizard run``, ``release mirror``, ``samples mirror``, ``image mirror`` and the wizard's Mirror
step all come through here: they describe *what* to copy as a :class:`~core.plan.Plan` (the CLI builds
one from its flags) wrapped in a :class:`Job`, and *how to reach registries* as an :class:`Access`;
this module opens the session (the only place front ends get a TLS setup, an auth file and mirror sets
assembled), prepares the plan into one copy graph (release in any mode and samples together, shared
blobs moved once), runs it with an event sink and a cancel token, and returns a :class:`RunResult`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .access import Access, auth_from_data, open_session, plan_auth, source_mirrors, tls_options
from .copier import Copier, CopyOptions, CopyTask, EventSink
from .errors import InputError
from .plan import Plan
from .registry import RegistrySession
from .run import Prepared, RunResult, check_space, prepare, write_outputs, write_signatures

if TYPE_CHECKING:
    from pathlib import Path

    from .authfile import AuthFile

__all__ = ["Access", "Job", "Prepared", "RunResult", "auth_from_data", "open_session", "plan_auth", "prepare_job",
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

    def copy_options(self) -> CopyOptions:
        options = self.plan.options
        return CopyOptions(filter_by_os=self.filter_by_os, keep_manifest_list=self.keep_manifest_list,
                           skip_missing=options.skip_missing, continue_on_error=options.continue_on_error,
                           dry_run=self.dry_run)


async def prepare_job(job: Job, session: RegistrySession, *,
                      on_prepared: Callable[[Prepared], None] | None = None) -> Prepared:
    """The job's plan prepared into one list of copies. A dry run reads sources and the medium but
    writes nothing, and gives the same early answer on space a real run would."""
    prepared = await prepare(job.plan, session, read_only=job.dry_run, dir_release=job.dir_release, oc=job.oc)
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
                  on_prepared: Callable[[Prepared], None] | None = None) -> RunResult:
    """Open a session (``access``, default: the plan's), prepare, copy, and (unless a dry run, a failed
    copy or ``job.write_outputs`` false) write the cluster's documents.

    ``on_prepared`` sees the prepared plan before the first blob moves (rows to list, notes to print,
    a last check that may raise); ``cancel`` set stops the copy cleanly (core.errors.Cancelled)."""
    async with open_session(access or job.plan, auth=auth) as session:
        prepared = await prepare_job(job, session, on_prepared=on_prepared)
        result = await Copier(session, job.copy_options(), on_event=on_event, cancel=cancel).run(prepared.tasks)
    outputs: list[Path] = []
    if result.ok and not job.dry_run:
        # The signature ConfigMaps are written by every real run (to-dir: onto the medium, with the release).
        outputs = write_outputs(prepared) if job.write_outputs else write_signatures(prepared)
    return RunResult(prepared, result, outputs)


async def run_plan(plan: Plan, *, dry_run: bool = False, on_event: EventSink | None = None,
                   cancel: asyncio.Event | None = None, write: bool = True) -> RunResult:
    """The whole saved plan (``mirror-wizard run``)."""
    return await run_job(Job(plan, dry_run=dry_run, write_outputs=write), on_event=on_event, cancel=cancel)
