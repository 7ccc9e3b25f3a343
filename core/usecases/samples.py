"""Load the samples operator's image streams from any source, and plan them: one loader for the wizard's
Samples step, ``mirror-wizard samples list|plan|mirror`` and a plan's run.

Sources (core.plan.SamplesSource): ImageStream files or the ``imagestreamtag-to-image`` config map (any
number of paths, merged), the cluster ``oc`` is logged in to, or a release — the plan's own (already read:
``releases``) or one named by pull spec (or ``oci:DIR:NAME``) as the one path.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from ..errors import ErrorCode, InputError
from ..plan import Plan, SamplesChoice, SamplesSource
from ..registry import RegistrySession
from ..release import ReleaseInfo, load_release
from ..release_samples import ReleaseSamples, samples_from_release
from ..samples import SamplesPlan, SampleStream, load_from_cluster, load_streams_from, plan_samples


@dataclass
class LoadedStreams:
    """The streams, and for a release source what was read (the image, the content folder, what was left
    out), for the front end to say."""

    streams: list[SampleStream]
    release: ReleaseSamples | None = None
    release_info: ReleaseInfo | None = None  # the release read by pull spec (None: given, or not a release)


def _check_source(choice: SamplesChoice) -> None:
    if choice.architecture and choice.source != SamplesSource.RELEASE:
        raise InputError("an architecture goes with the release source (files and the cluster say their own images)")


def load_local_streams(choice: SamplesChoice, *, oc: str = "oc") -> list[SampleStream]:
    """Files, the config map or the cluster: what needs no registry (blocking: files and ``oc``)."""
    _check_source(choice)
    if choice.source == SamplesSource.RELEASE:
        raise InputError("the release's image streams are read from a registry: load them with load_streams")
    if choice.source == SamplesSource.CLUSTER:
        return load_from_cluster(oc)
    if not choice.paths:
        raise InputError("give the folder of ImageStream files (or the config map file)")
    return load_streams_from([Path(p).expanduser() for p in choice.paths])


async def load_streams(choice: SamplesChoice, *, session: RegistrySession | None = None,
                       releases: list[ReleaseInfo] | None = None, oc: str = "oc") -> LoadedStreams:
    """The streams ``choice`` names. A release source needs ``session``; with ``releases`` (the plan's,
    read already) and no path it reads the last one's streams (the version an update path ends at).
    Files and the cluster are read in a thread: neither blocks the caller's event loop."""
    if choice.source != SamplesSource.RELEASE:
        return LoadedStreams(await asyncio.to_thread(load_local_streams, choice, oc=oc))
    if session is None:
        raise InputError("the release's image streams are read from a registry: no session was opened")
    if choice.paths:
        info = await load_release(session, choice.paths[0])
        found = await samples_from_release(session, info, choice.architecture)
        return LoadedStreams(found.streams, found, info)
    if not releases:
        raise InputError("the image streams come from the release, but no release is chosen",
                         hint="choose a release, or give the release pull spec as the image streams' path",
                         code=ErrorCode.NO_RELEASE_CHOSEN)
    found = await samples_from_release(session, releases[-1], choice.architecture)
    return LoadedStreams(found.streams, found)


def plan_streams(plan: Plan, streams: list[SampleStream]) -> SamplesPlan:
    """The samples plan (mapping, samplesRegistry, skippedImagestreams, commands) for the plan's choices:
    the one place a plan's samples choice becomes a samples plan (the run, verify and the wizard)."""
    choice = plan.samples if plan.samples is not None else SamplesChoice()
    return plan_samples(streams, choice.mirror or plan.mirror.registry,
                        include=choice.include or None, skip=choice.skip or None,
                        auth_file=plan.auth_file or "${LOCAL_SECRET_JSON}",
                        skip_missing=plan.options.skip_missing)


__all__ = ["LoadedStreams", "load_local_streams", "load_streams", "plan_streams"]
