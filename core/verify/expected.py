"""The expected state, computed once from the plan: the releases (read from their source, or back from
the mirror on a disconnected host), the mirror instructions and the samples plan. Every check compares
what it finds with this."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..access import open_session as open_plan_session
from ..authfile import AuthFile
from ..errors import MirrorError
from ..mirror_config import MirrorInstructions, release_mirror_instructions
from ..plan import Plan, SamplesSource
from ..reference import parse_reference
from ..registry import RegistrySession
from ..release import ReleaseInfo, load_release
from ..release_tag import release_image_in_mirror
from ..run import load_sample_streams, prepare_releases, release_sample_streams, samples_plan_for
from ..samples import SamplesPlan, SampleStream, mirror_pull_spec
from ..text import shell_quote

# -- the expected state, computed once from the plan ----------------------------------------------


@dataclass
class Expected:
    """What the plan says the mirror and the cluster should hold. ``*_error`` says why a part could not
    be worked out (its checks then fail with that reason rather than vanish)."""

    plan: Plan
    plan_file: str = "PLAN"
    release: ReleaseInfo | None = None
    release_error: str | None = None
    release_from_mirror: bool = False   # the source was unreachable: read back from the mirror instead
    releases: list[ReleaseInfo] = field(default_factory=list)  # every release of an update path (release: the last)
    instructions: MirrorInstructions | None = None
    samples: SamplesPlan | None = None
    streams: list[SampleStream] = field(default_factory=list)  # all loaded
    samples_error: str | None = None
    mirrored_streams: dict[str, bool] = field(default_factory=dict)  # stream → complete on the mirror
    graph_image_digest: str | None = None  # the plan's graph-data image on the mirror, once checked there
    # (source repository, mirror repository) of images the cluster pulls *by tag* through a mirror set, which
    # only an ImageTagMirrorSet redirects (IDMS/ICSP redirect by-digest pulls only). None of today's plan parts
    # needs one: release images are pulled by digest, samples through samplesRegistry's own rewrite.
    tag_pulls: list[tuple[str, str]] = field(default_factory=list)

    @property
    def mirror(self) -> str:
        return self.plan.mirror.registry

    @property
    def samples_registry(self) -> str:
        return (self.plan.samples.mirror if self.plan.samples and self.plan.samples.mirror else self.mirror)

    def release_sources(self) -> list[tuple[str, list[str]]]:
        return self.instructions.grouped() if self.instructions is not None else []

    def mirror_sets(self) -> list[tuple[str, str]]:
        """(source, mirror) pairs of the IDMS the plan writes: what the cluster is told to use."""
        return list(self.instructions.sources) if self.instructions is not None else []


def stream_destinations(expected: Expected, samples: SamplesPlan) -> dict[str, list[tuple[str, str]]]:
    """stream → [(source pull spec, what the operator pulls once samplesRegistry is set)] for every stream
    the plan keeps, following the operator's own rewrite (both Red Hat hosts end on the mirror)."""
    registry = samples.mirror
    by_name = {s.name: s for s in expected.streams}
    out: dict[str, list[tuple[str, str]]] = {}
    for stream_name in samples.included:
        pairs = []
        for spec in by_name[stream_name].pull_specs:
            destination = mirror_pull_spec(spec, registry)
            if destination != spec:
                pairs.append((spec, destination))
        out[stream_name] = pairs
    return out


def open_session(plan: Plan, *, auth: AuthFile | None = None) -> RegistrySession:
    """The one way a verify opens its registry session, for the CLI and the wizard alike: the plan's CA,
    mirror sets and settings (core.access), with the plan's credentials resolved the one way — or
    ``auth``, the logins the wizard holds (typed, not saved yet). Use it with ``async with``."""
    return open_plan_session(plan, auth=auth)


async def _load_release(expected: Expected, session: RegistrySession) -> None:
    plan = expected.plan
    if plan.release is None:
        return
    try:
        prepared = await prepare_releases(plan, session, signatures=False)
        expected.release, expected.instructions, expected.releases = \
            prepared.release, prepared.instructions, prepared.releases
        return
    except MirrorError as exc:
        source_error = str(exc)
    # A disconnected mirror host cannot read the source: read the release back from the mirror (the tag
    # the plan gives it), keeping the source repository the cluster asks for.
    release = plan.release
    mirror_image = None
    if release.target and release.version:  # where the copy put it (core.release_tag)
        mirror_image = release_image_in_mirror(release.target, release.version, release.architecture,
                                               release.to_release_image)
    if not mirror_image or not release.source or not release.target:
        expected.release_error = f"cannot read the release: {source_error}"
        return
    try:
        info = await load_release(session, mirror_image)
        info.source_repository = parse_reference(release.source).name
        expected.instructions = release_mirror_instructions(info, release.target, release.to_release_image)
        expected.release = info
        expected.release_from_mirror = True
    except MirrorError as exc:
        expected.release_error = f"cannot read the release from its source ({source_error}) nor from the mirror ({exc})"


def load_samples(expected: Expected, streams: list[SampleStream] | None = None) -> None:
    """The plan's image streams and samples plan into ``expected`` (a failure is kept as samples_error).
    ``streams``: already read (samples source ``release``), else read from the plan's files."""
    plan = expected.plan
    choice = plan.samples
    if choice is None:
        return
    try:
        streams = streams if streams is not None else load_sample_streams(plan)
        expected.streams = streams
        expected.samples = samples_plan_for(plan, streams)
    except MirrorError as exc:
        expected.samples_error = f"cannot work out the plan's image streams: {exc}"


async def _load_release_samples(expected: Expected, session: RegistrySession) -> None:
    """Samples source ``release``: the streams of the release the plan mirrors (its last, for a path),
    read as the copy read them; no release, or an unreadable one, is the samples' error too."""
    releases = expected.releases or ([expected.release] if expected.release is not None else [])
    try:
        streams = await release_sample_streams(expected.plan, session, releases)
    except MirrorError as exc:
        reason = expected.release_error or str(exc)
        expected.samples_error = f"cannot read the image streams from the release: {reason}"
        return
    load_samples(expected, streams)


async def expected_from_plan(plan: Plan, session: RegistrySession, plan_file: str = "PLAN") -> Expected:
    expected = Expected(plan, plan_file=plan_file)
    await _load_release(expected, session)
    if plan.samples is not None and plan.samples.source == SamplesSource.RELEASE:
        await _load_release_samples(expected, session)
    else:
        load_samples(expected)
    return expected



def rerun_command(expected: Expected) -> str:
    return f"mirror-wizard run {shell_quote(expected.plan_file)}"
