"""The wizard's in-memory state: the plan being edited plus what the steps found out.

The persistent part is a :class:`core.plan.Plan` (saved with Ctrl+S); everything else here is derived
(login results, release details, the samples plan, mirror progress) and is recomputed when needed.
Nothing in this module imports Textual, so it is tested like the engine.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.access import machine_trust
from core.bundle import is_bundle_plan
from core.ca import check_registry_ca, load_ca_bundle
from core.errors import MirrorError
from core.plan import (
    MirrorRegistry,
    Options,
    Plan,
    ReleaseChoice,
    ReleaseMode,
    SamplesChoice,
    SamplesSource,
    default_target,
    load_plan,
)
from core.progress import Progress
from core.reference import parse_reference
from core.release import load_release
from core.release_tag import release_image_in_mirror
from core.run import output_folder
from core.text import human_bytes
from core.usecases.releases import (
    InspectedRelease,
    UpdatePath,
    inspect_medium_release,
    inspect_release,
    load_medium_release,
    read_graph,
    read_medium_path,
    read_path,
    resolve_path,
)
from core.usecases.samples import load_streams, plan_streams
from tui.access import wizard_session, wizard_tls
from tui.wording import wizard_text

if TYPE_CHECKING:
    from core.access import MachineTrust
    from core.ca import CACheck, CertificateInfo
    from core.copier import CopyResult, CopyTask
    from core.credentials import LoginResult
    from core.graph import GraphRelease
    from core.registry import RegistrySession
    from core.release import ReleaseInfo, SizeReport
    from core.release_path import PathSizes
    from core.run import Prepared
    from core.samples import SamplesPlan, SampleStream
    from core.verify import Check as VerifyCheck
    from core.verify import Expected

STEPS: tuple[tuple[str, str], ...] = (
    ("preflight", "Preflight"),
    ("credentials", "Credentials"),
    ("release", "Release"),
    ("samples", "Image streams"),
    ("ca", "CA"),
    ("review", "Review"),
    ("mirror", "Mirror"),
    ("done", "Done"),
    ("verify", "Verify"),
)
STEP_KEYS = tuple(key for key, _ in STEPS)
STEP_TITLES = dict(STEPS)
DEFAULT_PLAN_NAME = "mirror-plan.yaml"


def middle_ellipsis(text: str, width: int) -> str:
    """Cut from the middle so both ends stay readable (a repository and its tag, a long stream name)."""
    if len(text) <= width:
        return text
    if width < 4:
        return text[:width]
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head):]


def pinned_release(info: ReleaseInfo) -> str:
    """A release's pull spec by its digest (the graph gives it so already; a tag is replaced). One read
    from removable media (``oci:DIR:NAME``) is pinned where it came from, as the bundle pins it."""
    if info.layout is not None and info.source_repository:
        return f"{info.source_repository}@{info.digest}"
    return str(parse_reference(info.pull_spec, default_tag=None).with_digest(info.digest))


def new_plan() -> Plan:
    """A fresh plan with the procedure's defaults, for an admin who has none yet."""
    auth = os.environ.get("REGISTRY_AUTH_FILE")
    return Plan(
        auth_file=auth or None,
        mirror=MirrorRegistry(),
        release=ReleaseChoice(source="", channel="stable-4.17", architecture="x86_64", mode=ReleaseMode.REGISTRY),
        samples=SamplesChoice(source=SamplesSource.FILES),
        options=Options(),
    )


def ensure_sections(plan: Plan) -> Plan:
    """The wizard edits release and samples in place: make sure both exist."""
    if plan.release is None:
        plan.release = ReleaseChoice()
    if plan.samples is None:
        plan.samples = SamplesChoice()
    return plan


# -- the state ------------------------------------------------------------------------------------

@dataclass
class Check:
    """One preflight line: ✓/✗/! with what to do about it."""

    name: str
    state: str  # "ok", "warn", "fail"
    detail: str
    fix: str = ""


@dataclass
class WizardState:
    plan: Plan
    plan_path: Path | None = None
    # Credentials (the password stays in memory only; it reaches disk only inside the auth file).
    auth_data: dict[str, Any] | None = None
    auth_error: str = ""
    mirror_user: str = ""
    mirror_password: str = field(default="", repr=False)
    remember_password: bool = False
    merged_auth_path: str = ""
    logins: list[LoginResult] = field(default_factory=list)
    # Preflight
    checks: list[Check] = field(default_factory=list)
    # Release ("" asks the public update service; tests and a local OSUS give their own)
    graph_url: str = field(default_factory=lambda: os.environ.get("MIRROR_WIZARD_GRAPH_URL", ""))
    versions: list[str] = field(default_factory=list)
    release_info: ReleaseInfo | None = None
    release_size: SizeReport | None = None
    release_error: str = ""
    # Release, update mode: the path as last shown (oldest first), its sizes, and the path_key() it was
    # computed for; a changed choice makes it stale.
    update_mode: bool = False  # the Release step's "update a cluster from A to B" (a path once A is chosen)
    path_releases: list[ReleaseInfo] = field(default_factory=list)
    path_sizes: PathSizes | None = None
    path_error: str = ""
    path_error_from_graph: bool = False  # path_error is the graph's failure (cleared once the graph is read)
    path_for: str | None = None
    # Image streams
    streams: list[SampleStream] = field(default_factory=list)
    stream_sizes: dict[str, int] = field(default_factory=dict)
    streams_error: str = ""
    streams_from: str | None = None  # source release: the digest of the release they were read from
    streams_folder: str = ""  # source release: the operator's content folder read (x86_64, aarch64 …)
    samples_defaulted: bool = False  # the Image streams step chose its default source (release) once
    samples_by_default: bool = False  # the source is the release because of that default, not the admin
    # CA
    ca_certs: list[CertificateInfo] = field(default_factory=list)
    ca_check: CACheck | None = None
    ca_error: str = ""
    # The admin chose to go on with a CA the check could not verify (this file): shown on Review; the
    # Done step never writes or applies it.
    ca_unverified_accepted: str | None = None
    no_mirror_login_accepted: str | None = None  # the mirror host the admin chose to go on without a login
    # Does this machine (the copy's own trust: system + every CA file of the plan) trust the mirror?
    mirror_trust: MachineTrust | None = None
    # With no CA file: (mirror host, verifies with the system trust alone, why). None until checked.
    system_trust: tuple[str, bool | None, str] | None = None  # (host, trusted; None: not checked, why)
    # Mirror. Results carry the plan_key() they were computed for: a plan changed since then makes
    # them stale (the Mirror step says so; Done recomputes or refuses).
    prepared: Prepared | None = None
    prepared_key: str | None = None
    progress: Progress = field(default_factory=Progress)
    mirror_result: CopyResult | None = None
    # The mirror was found complete by looking (a reopened plan), not by a copy in this session.
    mirror_checked: bool = False
    mirror_key: str | None = None
    # The mirror changed under the last run's result (releases pruned, or the Release step's look found
    # images missing): its "complete" is no longer claimed anywhere. ``mirror_missing``: how many images
    # that look found missing (None: not counted, e.g. a prune).
    mirror_stale: bool = False
    mirror_missing: int | None = None
    # Done
    written: list[Path] = field(default_factory=list)
    # Apply with oc runs on the Done step (counted: each one asks Verify for a fresh cluster check).
    cluster_applies: int = 0
    # Verify: the checks as they came in (mirror side first), for the plan_key() they were made for; the
    # expected state is kept so "Check cluster" need not read the release again.
    verify_checks: list[VerifyCheck] = field(default_factory=list)
    verify_key: str | None = None
    verify_expected: Expected | None = None
    verify_cluster_applies: int = -1  # cluster_applies at the last cluster check (-1: never checked)
    visited: set[str] = field(default_factory=set)

    @classmethod
    def from_path(cls, path: str | None) -> WizardState:
        if path is None:
            return cls(plan=new_plan())
        plan = ensure_sections(load_plan(path))
        return cls(plan=plan, plan_path=Path(path), update_mode=bool(plan.release and plan.release.is_path))

    # -- derived values ---------------------------------------------------------------------------

    @property
    def release(self) -> ReleaseChoice:
        ensure_sections(self.plan)
        assert self.plan.release is not None
        return self.plan.release

    @property
    def samples(self) -> SamplesChoice:
        ensure_sections(self.plan)
        assert self.plan.samples is not None
        return self.plan.samples

    @property
    def mirror_host(self) -> str:
        return self.plan.mirror.registry

    def save_path(self) -> Path:
        # Never over a bundle's own plan.yaml: SHA256SUMS lists it, and the upload's check of the medium
        # would then refuse the whole bundle as damaged (seen on the far-side walk).
        if self.plan_path is not None and not is_bundle_plan(self.plan_path):
            return self.plan_path
        # A read-only medium: the far side's output folder falls back to this host (core.run.output_folder).
        return output_folder(Path(self.plan.output_dir or ".")) / DEFAULT_PLAN_NAME

    def plan_for_saving(self) -> Plan:
        """The plan without the sections the admin left empty (an empty section would not load back)."""
        plan = copy.deepcopy(self.plan)
        if plan.release is not None and plan.release.is_path and plan.release.mode != ReleaseMode.FROM_DIR:
            # (From removable media the pins are the medium's own, kept as its plan gave them.)
            # The path the Release step showed, pinned by digest: a later run mirrors exactly these.
            # Only when it is the path the plan now names (ends changed: the graph is read again).
            infos = self.path_releases
            same = bool(infos) and (infos[0].version, infos[-1].version) == (plan.release.from_version,
                                                                            plan.release.version)
            plan.release.releases = [pinned_release(info) for info in infos] if same else []
        if plan.release is not None and not plan.release.chosen:
            plan.release = None
        if plan.samples is not None and not plan.samples.chosen:
            plan.samples = None
        return plan

    def plan_key(self) -> str:
        """What the mirror and the cluster documents depend on: the plan minus where outputs go."""
        data = self.plan_for_saving().to_dict()
        data.pop("output_dir", None)
        return json.dumps(data, sort_keys=True, default=str)

    def mirror_out_of_date(self) -> bool:
        """A mirror ran (or is running) for a plan that has changed since."""
        return self.mirror_key is not None and self.mirror_key != self.plan_key()

    def mirror_complete(self) -> bool:
        """The last mirror finished, for the plan as it is now, and the mirror still holds it."""
        return self.progress.finished and not self.mirror_out_of_date() and not self.mirror_stale

    def mark_mirror_changed(self, missing: int | None = None) -> None:
        """The mirror lost images after the last run finished (a prune, or a look that found some
        missing): that run's "all in the mirror" is withdrawn until a copy or a check finds it whole."""
        if self.progress.running or not self.progress.finished or self.mirror_key is None:
            return  # nothing claimed complete: a failed or cancelled run already says Resume
        if missing is not None and self.mirror_out_of_date():
            return  # counted for another plan than the run's (that one's note says "the plan changed")
        self.mirror_stale, self.mirror_missing = True, missing
        self.mirror_checked = False

    def mirror_stale_note(self) -> str:
        """What a mirror changed after the last run lacks, in one clause."""
        count = self.mirror_missing
        what = (f"{count} image{'s' if count != 1 else ''} not in the mirror" if count
                else "the mirror changed after the last run (releases removed)")
        return what

    def mirror_note(self, fix: str | None = None) -> str | None:
        """What the mirror did or is doing, for steps that otherwise show sizes measured before it
        (Release, Review): None when no mirror ran. Never "to move" once the bytes are there. ``fix``: what
        to change when Resume cannot help (tui.screens.mirror.last_run_fix), said instead of Resume."""
        progress = self.progress
        if progress.running:
            done = (f"{human_bytes(progress.bytes_moved_of_plan)} of {human_bytes(progress.bytes_to_move)} moved"
                    if progress.planned else "reading manifests")
            note = f"⇣ a mirror is copying now ({done}): see the Mirror step"
            if self.mirror_out_of_date():
                note += (" — it copies the plan as it was when it started; the changes since need "
                         "Resume once it ends")
            return note
        if self.mirror_key is None or not (progress.finished or progress.cancelled or progress.error):
            return None
        if self.mirror_out_of_date():
            return "! the plan changed after the last mirror: Resume on the Mirror step copies what is missing"
        if progress.finished and self.mirror_stale:
            return f"! {self.mirror_stale_note()}: Resume on the Mirror step copies them"
        if progress.finished and self.mirror_checked:
            return "✓ all in the mirror already (checked on the Mirror step; nothing to copy)"
        if progress.finished:
            present = (f"; {human_bytes(progress.bytes_not_moving)} needed no transfer (there already, or mounted)"
                       if progress.bytes_not_moving else "")
            where = "on the removable media" if self.release.mode == ReleaseMode.TO_DIR else "in the mirror"
            return f"✓ all {where}: the last run moved {human_bytes(progress.bytes_moved)}{present}"
        if progress.error and fix:
            return f"✗ the last mirror failed: {fix}, then run it again"
        return ("! the last mirror " + ("was cancelled" if progress.cancelled else "failed")
                + f" after moving {human_bytes(progress.bytes_moved)}: Resume on the Mirror step copies the rest")

    def current_prepared(self) -> Prepared | None:
        """``prepared`` when it was computed for the plan as it is now, else None."""
        if self.prepared is None or self.prepared_key != self.plan_key():
            return None
        return self.prepared

    def ca_verified(self) -> bool:
        """The CA file verified the mirror registry's certificate (with a SAN for its host)."""
        check = self.ca_check
        return bool(self.plan.mirror.ca_file and check is not None and check.ok
                    and check.registry == self.mirror_host)

    def ca_unverified(self) -> bool:
        """A CA file is set but was not verified against the mirror (failed, or not checked)."""
        return bool(self.plan.mirror.ca_file) and not self.ca_verified()

    def samples_plan(self) -> SamplesPlan | None:
        """core.samples.plan_samples for the current choices, or None when streams are not loaded."""
        if not self.streams or not self.mirror_host:
            return None
        return plan_streams(self.plan, self.streams)

    def path_key(self) -> str:
        """What an update path depends on: channel, both ends, the graph, the architecture, the choice."""
        release = self.release
        return json.dumps([release.channel, release.from_version, release.version, release.all_versions,
                           release.graph_file, release.graph_url or self.graph_url, release.architecture])

    def current_path(self) -> list[ReleaseInfo]:
        """The update path's releases when they were read for the choices as they are now, else []."""
        if not self.release.is_path or self.path_for != self.path_key():
            return []
        return self.path_releases

    def release_target(self) -> str:
        return self.plan.release_target

    def release_version(self) -> str:
        info = self.release_info
        return (info.version if info is not None else None) or self.release.version or "<release_version>"

    def to_release_image(self) -> str:
        target = self.release_target() or default_target("<mirror>")
        try:
            return release_image_in_mirror(target, self.release_version(), self.release.architecture,
                                           self.release.to_release_image)
        except MirrorError:  # a digest: the Release step says what is wrong with it
            return self.release.to_release_image or target


def task_label(task: CopyTask, release_prefix: str | None) -> str:
    """A short name for a copy task: the release component, or the sample image's path."""
    destination = str(task.destination)
    if release_prefix is not None:
        tag = destination.rsplit(":", 1)[-1] if ":" in destination.rsplit("/", 1)[-1] else ""
        if tag == release_prefix:
            return "release payload"
        if tag.startswith(release_prefix + "-"):
            return "release · " + tag[len(release_prefix) + 1:]
        # Another release of an update path (tagged VERSION-ARCH as well): its version says which.
        arch = "-" + release_prefix.rsplit("-", 1)[-1]
        version, found, component = tag.partition(arch)
        if found and version and (not component or component.startswith("-")):
            return f"release {version}" + (f" · {component[1:]}" if component else " payload")
        return "release · " + destination.rsplit("/", 1)[-1]
    source = str(task.source)
    return source.split("/", 1)[1] if "/" in source else source


def error_text(exc: BaseException) -> str:
    """One line for the admin; engine errors are already phrased, anything else gets its class name."""
    if isinstance(exc, MirrorError):
        return wizard_text(exc)  # the wizard's words for the error's code
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


# -- one release: read where the plan's mode reads it ---------------------------------------------------

def release_readable(state: WizardState) -> bool:
    """The plan names one release that can be read without asking the admin anything more: its image,
    or on the far side the medium's folder (the medium says which release it holds)."""
    release = state.release
    if release.is_path or state.update_mode:
        return False
    return bool(release.directory) if release.mode == ReleaseMode.FROM_DIR else bool(release.source)


async def read_one_release(state: WizardState, session: RegistrySession) -> ReleaseInfo:
    """The plan's one release: from the medium on the far side (its source registry is out of reach
    there: no network but the mirror), else from its image."""
    if state.release.mode == ReleaseMode.FROM_DIR:
        return await load_medium_release(session, state.plan)
    return await load_release(session, state.release.source)


async def inspect_one_release(state: WizardState, session: RegistrySession) -> InspectedRelease:
    """The plan's one release read (as :func:`read_one_release`) and measured against the mirror when the
    mode ends in it (registry, and the far side's upload); to removable media nothing of the mirror counts."""
    release = state.release
    target = (state.release_target() or None) if release.mode != ReleaseMode.TO_DIR else None
    if release.mode == ReleaseMode.FROM_DIR:
        return await inspect_medium_release(session, state.plan, target)
    return await inspect_release(session, release.source, target, release.to_release_image)


# -- a reopened plan: the facts the steps it starts after would have computed ---------------------------

# -- an update path: read once, for every step that needs it ------------------------------------------------

async def read_channel_graph(state: WizardState) -> list[GraphRelease]:
    """The channel's update graph: the file when the plan gives one (offline hosts), else the service."""
    release = state.release
    return await read_graph(release.channel or "", release.architecture, graph_file=release.graph_file,
                            graph_url=release.graph_url or state.graph_url or None, tls=wizard_tls(state))


async def read_update_path(state: WizardState, say: Callable[[str], None] | None = None) -> UpdatePath:
    """The update path the plan names, read as the Release step's Show path reads it: the far side's from
    the medium (the path it pins), else the channel's update graph (the file when one is given, else the
    service) resolved from the from version to the to version; each release read and measured. ``say``:
    what is being read, for a status line. Raises MirrorError (no graph, no path, a release unreadable)."""
    release = state.release
    tell = say or (lambda _text: None)
    if release.mode == ReleaseMode.FROM_DIR:
        tell(f"reading the path pinned on {release.directory} …")
        async with wizard_session(state) as session:
            return await read_medium_path(session, state.plan)
    channel = release.channel or ""
    tell(f"reading the update graph of {channel} …")
    graph = await read_channel_graph(state)
    path = resolve_path(graph, release.from_version or "", release.version or "",
                        all_versions=release.all_versions, channel=channel)
    tell(f"reading and measuring {len(path)} release{'s' if len(path) != 1 else ''} of the path …")
    # What the mirror holds already counts as for one release; to removable media nothing of it does.
    target = state.release_target() if release.mode != ReleaseMode.TO_DIR else None
    async with wizard_session(state) as session:
        return await read_path(session, path, target or None, release.to_release_image)


def keep_update_path(state: WizardState, found: UpdatePath, key: str) -> None:
    """The path as read for ``key`` (path_key() when the read began): the release it ends at is "the
    release" for the steps after Release (its image streams, the CA, Review)."""
    state.path_releases, state.path_sizes, state.path_for = found.releases, found.sizes, key
    state.release_info, state.release_size = found.releases[-1], None


def path_readable(state: WizardState) -> bool:
    """The plan names an update path that can be read without asking the admin anything more."""
    release = state.release
    if not release.is_path:
        return False
    if release.mode == ReleaseMode.FROM_DIR:
        return bool(release.directory)  # the medium's plan names the rest
    return bool(release.channel and release.version)


async def read_reopened_facts(state: WizardState) -> None:
    """A plan reopened past the Release and Image streams steps (``mirror-wizard --plan``) never had them
    read its release or its streams, so Review knew the version alone ("Release 4.17.3 x86_64": no
    components, no bytes, no Image streams line). Reads what those steps would have: the release and its
    sizes (a single release) or the update path (each release, the path's sizes), and the image streams the
    plan names (a path's: those of the release it ends at). Nothing here raises: a fact that cannot
    be read stays unknown, and the step that reads it says why when the admin goes there."""
    samples = state.samples
    single = release_readable(state)  # the far side's one release: from the medium, as its Release step reads it
    try:
        if not state.current_path() and path_readable(state):
            # An update path: read as Show path reads it, so the Release step need not be visited first
            # for its image streams (the release it ends at), its sizes on Review, or Done.
            key = state.path_key()
            keep_update_path(state, await read_update_path(state), key)
        async with wizard_session(state) as session:
            if state.release_info is None and single:
                inspected = await inspect_one_release(state, session)
                state.release_info, state.release_size = inspected.info, inspected.size
            if not state.streams and samples.chosen:
                if samples.source == SamplesSource.RELEASE:
                    if state.release_info is not None:
                        loaded = await load_streams(SamplesChoice(SamplesSource.RELEASE,
                                                                  architecture=samples.architecture),
                                                    session=session, releases=[state.release_info])
                        if loaded.release is not None:
                            state.streams = loaded.release.streams
                            state.streams_from = state.release_info.digest
                            state.streams_folder = loaded.release.architecture
                elif samples.source in (SamplesSource.FILES, SamplesSource.CONFIGMAP) and samples.path:
                    state.streams = (await load_streams(samples)).streams
    except (TimeoutError, MirrorError, OSError):
        return


async def check_plan_ca(state: WizardState) -> bool:
    """The CA step's check on arrival, for a reopened plan that starts after it: the CA file read and
    verified against the mirror (Review and Done leave an unverified CA out). True when it verifies."""
    path, host = state.plan.mirror.ca_file, state.mirror_host
    if not path or not host:
        return False
    try:
        state.ca_certs = await asyncio.to_thread(load_ca_bundle, Path(path).expanduser())
        state.ca_check = await check_registry_ca(host, Path(path).expanduser())
        state.mirror_trust = await asyncio.to_thread(machine_trust, host, wizard_tls(state))
    except (MirrorError, OSError):
        return False
    return state.ca_verified()
