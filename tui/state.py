"""The wizard's in-memory state: the plan being edited plus what the steps found out.

The persistent part is a :class:`core.plan.Plan` (saved with Ctrl+S); everything else here is derived
(login results, release details, the samples plan, mirror progress) and is recomputed when needed.
Nothing in this module imports Textual, so it is tested like the engine.
"""

from __future__ import annotations

import math
import os
import shlex
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.authfile import AuthFile
from core.errors import InputError, MirrorError
from core.events import (
    BlobDone,
    BlobMounted,
    BlobProgress,
    BlobSkipped,
    BlobStarted,
    Event,
    ImageDone,
    ImageFailed,
    LogMessage,
    PlanReady,
)
from core.plan import (
    MirrorRegistry,
    Options,
    Plan,
    ReleaseChoice,
    SamplesChoice,
    load_plan,
)
from core.registry import RegistrySession
from core.tlsconfig import TLSOptions

STEPS: tuple[tuple[str, str], ...] = (
    ("preflight", "Preflight"),
    ("credentials", "Credentials"),
    ("release", "Release"),
    ("samples", "Image streams"),
    ("ca", "CA"),
    ("review", "Review"),
    ("mirror", "Mirror"),
    ("done", "Done"),
)
STEP_KEYS = tuple(key for key, _ in STEPS)
STEP_TITLES = dict(STEPS)
DEFAULT_PLAN_NAME = "mirror-plan.yaml"


def human_bytes(n: float | None) -> str:
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word if n == 1 else (words or word + 's')}"


def middle_ellipsis(text: str, width: int) -> str:
    """Cut from the middle so both ends stay readable (a repository and its tag, a long stream name)."""
    if len(text) <= width:
        return text
    if width < 4:
        return text[:width]
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head):]


def human_seconds(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds) or seconds < 0:
        return "–"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def q(value: str) -> str:
    """Quote for a shell command shown to the admin (placeholders like <password> stay readable)."""
    if value.startswith("<") and value.endswith(">") or value.startswith("${"):
        return value
    return shlex.quote(value)


def new_plan() -> Plan:
    """A fresh plan with the procedure's defaults, for an admin who has none yet."""
    auth = os.environ.get("REGISTRY_AUTH_FILE")
    return Plan(
        auth_file=auth or None,
        mirror=MirrorRegistry(),
        release=ReleaseChoice(source="", channel="stable-4.17", architecture="x86_64", mode="registry"),
        samples=SamplesChoice(source="files"),
        options=Options(),
    )


def ensure_sections(plan: Plan) -> Plan:
    """The wizard edits release and samples in place: make sure both exist."""
    if plan.release is None:
        plan.release = ReleaseChoice()
    if plan.samples is None:
        plan.samples = SamplesChoice()
    return plan


def read_source_mirrors(path: str | Path | None) -> list[tuple[str, str]]:
    """(source, mirror) pairs from an ImageDigestMirrorSet / ImageContentSourcePolicy file.

    The demo points quay.io and registry.redhat.io at its local source registry this way; an admin
    behind a proxy registry can do the same.
    """
    if not path:
        return []
    p = Path(path)
    try:
        documents = list(yaml.safe_load_all(p.read_text()))
    except FileNotFoundError:
        raise InputError(f"mirror set file {p} does not exist") from None
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read mirror set file {p}: {exc.__class__.__name__}") from None
    pairs: list[tuple[str, str]] = []
    for doc in documents:
        if not isinstance(doc, dict):
            continue
        spec = doc.get("spec") or {}
        entries = spec.get("imageDigestMirrors") or spec.get("repositoryDigestMirrors") or []
        for entry in entries:
            if isinstance(entry, dict) and entry.get("source"):
                for mirror in entry.get("mirrors") or []:
                    pairs.append((str(entry["source"]), str(mirror)))
    return pairs


# -- mirror progress ------------------------------------------------------------------------------

BUCKET_SECONDS = 0.5  # throughput samples: fine enough that a short copy still draws a shape
ROW_WAITING = "waiting"
ROW_COPYING = "copying"
ROW_COPIED = "copied"
ROW_PRESENT = "present"
ROW_FAILED = "failed"


@dataclass
class ImageRow:
    source: str
    destination: str
    label: str
    state: str = ROW_WAITING
    digest: str = ""
    error: str = ""


@dataclass
class MirrorProgress:
    """Folds engine events into the numbers the Mirror step shows.

    The copy worker calls :meth:`feed` for every event (cheap: counters only); the screen redraws
    from here on a timer, so a burst of events never means a burst of repaints.
    ``clock`` is injectable so tests and screenshots get fixed throughput and ETA.
    """

    clock: Callable[[], float] = time.monotonic
    total_bytes: int = 0
    total_images: int = 0
    total_blobs: int = 0
    moved: int = 0           # bytes accounted for: copied, mounted or already there
    transferred: int = 0     # bytes that really crossed the network
    blobs_done: int = 0
    images_done: int = 0
    images_failed: int = 0
    images_present: int = 0
    planned: bool = False
    running: bool = False
    finished: bool = False
    cancelled: bool = False
    error: str = ""
    started_at: float | None = None
    ended_at: float | None = None
    rows: dict[str, ImageRow] = field(default_factory=dict)
    log: deque[str] = field(default_factory=lambda: deque(maxlen=500))
    rates: deque[float] = field(default_factory=lambda: deque(maxlen=120))
    _bucket_start: float = 0.0
    _bucket_bytes: int = 0
    _active_repos: dict[str, int] = field(default_factory=dict)
    # Bytes toward the total count once per (registry, digest), like the engine's total: a layer
    # uploaded into a second repository moves bytes (throughput) but is no further along.
    _blob_size: dict[tuple[str, str], int] = field(default_factory=dict)
    _blob_counted: dict[tuple[str, str], int] = field(default_factory=dict)
    _blob_store: dict[str, str] = field(default_factory=dict)
    _copy_started: float | None = None
    log_seq: int = 0

    def reset(self) -> None:
        """Start a (re)run from zero; the log carries on so earlier runs stay readable."""
        clock, log, seq = self.clock, self.log, self.log_seq
        self.__init__(clock=clock)  # type: ignore[misc]
        self.log, self.log_seq = log, seq
        self.running = True
        self.started_at = clock()
        self._bucket_start = self.started_at

    def set_rows(self, rows: list[tuple[str, str, str]]) -> None:
        """Every image of the plan as (source, destination, label), known once the plan is prepared."""
        self.rows = {destination: ImageRow(source, destination, label) for source, destination, label in rows}
        self.total_images = len(rows)

    def add_log(self, text: str) -> None:
        self.log.append(text)
        self.log_seq += 1

    def _advance(self, key: tuple[str, str], nbytes: int | None) -> None:
        """Move blob ``key`` toward done by nbytes (None: all the way), never past its size."""
        size = self._blob_size.get(key)
        counted = self._blob_counted.get(key, 0)
        target = size if nbytes is None or size is None else min(size, max(counted + nbytes, 0))
        if target is None:
            target = counted + (nbytes or 0)
        self.moved += target - counted
        self._blob_counted[key] = target

    def _key(self, digest: str, destination: str | None) -> tuple[str, str]:
        if destination is not None:
            self._blob_store[digest] = destination.split("/", 1)[0]
        return (self._blob_store.get(digest, ""), digest)

    def feed(self, event: Event) -> None:
        if isinstance(event, PlanReady):
            # Throughput counts from here: reading manifests before it moves no layer bytes.
            self.rates.clear()
            self._bucket_bytes = 0
            self._bucket_start = self.clock()
            self._copy_started = self._bucket_start
            self.planned = True
            self.total_bytes, self.total_blobs = event.total_bytes, event.blobs
            self.add_log(f"plan: {event.images} images, {event.blobs} unique blobs, {human_bytes(event.total_bytes)}")
        elif isinstance(event, BlobStarted):
            key = self._key(event.digest, event.destination)
            self._blob_size.setdefault(key, event.size)
            self._active_repos[event.destination] = self._active_repos.get(event.destination, 0) + 1
            for row in self.rows.values():
                if row.state == ROW_WAITING and _in_repo(row.destination, event.destination):
                    row.state = ROW_COPYING
        elif isinstance(event, BlobProgress):
            self.transferred += event.delta
            self._bucket_bytes += event.delta
            self._advance(self._key(event.digest, None), event.delta)
        elif isinstance(event, BlobDone):
            self.blobs_done += 1
            key = self._key(event.digest, event.destination)
            self._blob_size.setdefault(key, event.size)
            self._advance(key, None)
            left = self._active_repos.get(event.destination, 1) - 1
            self._active_repos[event.destination] = max(left, 0)
        elif isinstance(event, (BlobSkipped, BlobMounted)):
            self.blobs_done += 1
            key = self._key(event.digest, event.destination)
            self._blob_size.setdefault(key, event.size)
            self._advance(key, None)
        elif isinstance(event, ImageDone):
            self.images_done += 1
            row = self._row(event.source, event.destination)
            row.state = ROW_PRESENT if event.skipped else ROW_COPIED
            row.digest = event.digest
            if event.skipped:
                self.images_present += 1
            self.add_log(f"{'present' if event.skipped else 'copied '} {event.destination}")
        elif isinstance(event, ImageFailed):
            self.images_failed += 1
            row = self._row(event.source, event.destination)
            row.state, row.error = ROW_FAILED, event.error
            self.add_log(f"FAILED {event.destination}: {event.error}")
        elif isinstance(event, LogMessage):
            self.add_log(f"{event.level}: {event.message}")
        self.tick()

    def _row(self, source: str, destination: str) -> ImageRow:
        row = self.rows.get(destination)
        if row is None:
            row = self.rows[destination] = ImageRow(source, destination, destination)
        return row

    def tick(self) -> None:
        """Close throughput buckets (bytes per second over BUCKET_SECONDS), on events and on the screen's timer."""
        if not self.running:
            return
        now = self.clock()
        while now - self._bucket_start >= BUCKET_SECONDS:
            self.rates.append(self._bucket_bytes / BUCKET_SECONDS)
            self._bucket_bytes = 0
            self._bucket_start += BUCKET_SECONDS
            if len(self.rates) == self.rates.maxlen and now - self._bucket_start > 60:
                self._bucket_start = now  # after a long stall, do not replay empty buckets one by one

    def finish(self, *, cancelled: bool = False, error: str = "") -> None:
        self.tick()
        self.running = False
        self.finished = not cancelled and not error
        self.cancelled = cancelled
        self.error = error
        self.ended_at = self.clock()
        for row in self.rows.values():
            if row.state == ROW_COPYING:
                row.state = ROW_WAITING

    @property
    def elapsed(self) -> float:
        if self.started_at is None:
            return 0.0
        end = self.ended_at if self.ended_at is not None else self.clock()
        return max(end - self.started_at, 0.0)

    @property
    def rate(self) -> float:
        """Bytes per second over the last few seconds (what the admin's link does now)."""
        recent = list(self.rates)[-int(5 / BUCKET_SECONDS):]
        if recent:
            return sum(recent) / len(recent)
        if self._copy_started is None:
            return 0.0
        end = self.ended_at if self.ended_at is not None else self.clock()
        elapsed = end - self._copy_started
        return self.transferred / elapsed if elapsed > 0 else 0.0

    @property
    def images_left(self) -> int:
        return max(self.total_images - self.images_done - self.images_failed, 0)

    @property
    def eta(self) -> float | None:
        """Seconds left, from the bytes still to move; None when unknown or when only the manifests are
        left (the bytes are all there but images are not: saying 0s there would be a lie)."""
        remaining = max(self.total_bytes - self.moved, 0)
        if not self.planned or not self.running:
            return None
        rate = self.rate
        seconds = remaining / rate if remaining and rate > 0 else (0.0 if not remaining else None)
        if seconds is not None and seconds < 1 and self.images_left:
            return None
        return seconds

    @property
    def finishing(self) -> bool:
        """(Nearly) every byte is there but images are still being written (manifests, tags)."""
        if not (self.running and self.planned and self.images_left):
            return False
        remaining = max(self.total_bytes - self.moved, 0)
        rate = self.rate
        return remaining == 0 or (rate > 0 and remaining / rate < 1)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.rows.values():
            out[row.state] = out.get(row.state, 0) + 1
        return out


def _in_repo(destination: str, repo_display: str) -> bool:
    """Is the image ``destination`` (host/repo:tag or @digest) in repository ``repo_display``?"""
    name = destination.split("@", 1)[0]
    head, _, tail = name.rpartition(":")
    if head and "/" not in tail:
        name = head
    return name == repo_display or name.endswith("/" + repo_display.split("/", 1)[-1]) and name.startswith(
        repo_display.split("/", 1)[0])


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
    auth_data: dict | None = None
    auth_error: str = ""
    mirror_user: str = ""
    mirror_password: str = field(default="", repr=False)
    remember_password: bool = False
    merged_auth_path: str = ""
    logins: list[Any] = field(default_factory=list)        # core.credentials.LoginResult
    # Preflight
    checks: list[Check] = field(default_factory=list)
    # Release ("" asks the public update service; tests and a local OSUS give their own)
    graph_url: str = field(default_factory=lambda: os.environ.get("MIRROR_WIZARD_GRAPH_URL", ""))
    versions: list[str] = field(default_factory=list)
    release_info: Any = None                               # core.release.ReleaseInfo
    release_size: Any = None                               # core.release.SizeReport
    release_error: str = ""
    # Image streams
    streams: list[Any] = field(default_factory=list)       # core.samples.SampleStream
    stream_sizes: dict[str, int] = field(default_factory=dict)
    streams_error: str = ""
    # CA
    ca_certs: list[Any] = field(default_factory=list)      # core.ca.CertificateInfo
    ca_check: Any = None                                   # core.ca.CACheck
    ca_error: str = ""
    # The admin chose to go on with a CA the check could not verify (this file): shown on Review; the
    # Done step never writes or applies it.
    ca_unverified_accepted: str | None = None
    no_mirror_login_accepted: str | None = None  # the mirror host the admin chose to go on without a login
    # Does this machine (the copy's own trust: system + every CA file of the plan) trust the mirror?
    mirror_trust: tuple[bool, str] | None = None
    # With no CA file: (mirror host, verifies with the system trust alone, why). None until checked.
    system_trust: tuple[str, bool, str] | None = None
    # Mirror. Results carry the plan_key() they were computed for: a plan changed since then makes
    # them stale (the Mirror step says so; Done recomputes or refuses).
    prepared: Any = None                                   # core.run.Prepared (tasks, instructions, ...)
    prepared_key: str | None = None
    progress: MirrorProgress = field(default_factory=MirrorProgress)
    mirror_result: Any = None
    mirror_key: str | None = None
    # Done
    written: list[Path] = field(default_factory=list)
    visited: set[str] = field(default_factory=set)

    @classmethod
    def from_path(cls, path: str | None) -> WizardState:
        if path is None:
            return cls(plan=new_plan())
        plan = ensure_sections(load_plan(path))
        return cls(plan=plan, plan_path=Path(path))

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
        if self.plan_path is not None:
            return self.plan_path
        return Path(self.plan.output_dir or ".") / DEFAULT_PLAN_NAME

    def plan_for_saving(self) -> Plan:
        """The plan without the sections the admin left empty (an empty section would not load back)."""
        import copy

        plan = copy.deepcopy(self.plan)
        release, samples = plan.release, plan.samples
        if release is not None and not release.source and release.mode != "from-dir":
            plan.release = None
        if samples is not None and not samples.path and samples.source != "cluster":
            plan.samples = None
        return plan

    def plan_key(self) -> str:
        """What the mirror and the cluster documents depend on: the plan minus where outputs go."""
        import json

        data = self.plan_for_saving().to_dict()
        data.pop("output_dir", None)
        return json.dumps(data, sort_keys=True, default=str)

    def mirror_out_of_date(self) -> bool:
        """A mirror ran (or is running) for a plan that has changed since."""
        return self.mirror_key is not None and self.mirror_key != self.plan_key()

    def current_prepared(self) -> Any:
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

    def auth(self) -> AuthFile:
        """The credentials every registry call uses: the merged data when the admin added some."""
        if self.auth_data is not None:
            return AuthFile(path=Path(self.merged_auth_path or self.plan.auth_file or "pull-secret.json"),
                            data=self.auth_data)
        if self.plan.auth_file:
            from core.authfile import load_auth_file

            return load_auth_file(self.plan.auth_file)
        return AuthFile(path=None, data={"auths": {}})

    def tls(self) -> TLSOptions:
        # core.tlsconfig.TLSOptions has no per-host CA: every CA file is trusted for every registry,
        # as the headless run does. The CA step checks the mirror with this same trust too.
        return TLSOptions(ca_files=tuple(self.plan.ca_files()), insecure_hosts=tuple(self.plan.insecure_hosts()))

    def source_mirrors(self) -> list[tuple[str, str]]:
        try:
            from core.mirror_config import load_mirror_sets
        except ImportError:
            return read_source_mirrors(self.plan.idms_file)
        return load_mirror_sets(self.plan.idms_file) if self.plan.idms_file else []

    def session(self) -> RegistrySession:
        return RegistrySession(self.auth(), self.tls(), max_per_registry=self.plan.options.max_per_registry,
                               source_mirrors=self.source_mirrors())

    def samples_plan(self) -> Any:
        """core.samples.plan_samples for the current choices, or None when streams are not loaded."""
        if not self.streams or not self.mirror_host:
            return None
        from core.samples import plan_samples

        choice = self.samples
        return plan_samples(self.streams, choice.mirror or self.mirror_host,
                            include=choice.include or None, skip=choice.skip,
                            auth_file=self.plan.auth_file or "${LOCAL_SECRET_JSON}")

    def release_target(self) -> str:
        return self.release.target or (f"{self.mirror_host}/ocp4/openshift4" if self.mirror_host else "")

    def release_version(self) -> str:
        info = self.release_info
        return getattr(info, "version", None) or self.release.version or "<release_version>"

    def to_release_image(self) -> str:
        if self.release.to_release_image:
            return self.release.to_release_image
        target = self.release_target() or "<mirror>/ocp4/openshift4"
        return f"{target}:{self.release_version()}-{self.release.architecture}"


def task_label(task: Any, release_prefix: str | None) -> str:
    """A short name for a copy task: the release component, or the sample image's path."""
    destination = str(task.destination)
    if release_prefix is not None:
        tag = destination.rsplit(":", 1)[-1] if ":" in destination.rsplit("/", 1)[-1] else ""
        if tag == release_prefix:
            return "release payload"
        if tag.startswith(release_prefix + "-"):
            return "release · " + tag[len(release_prefix) + 1:]
        return "release · " + destination.rsplit("/", 1)[-1]
    source = str(task.source)
    return source.split("/", 1)[1] if "/" in source else source


def error_text(exc: BaseException) -> str:
    """One line for the admin; engine errors are already phrased, anything else gets its class name."""
    if isinstance(exc, MirrorError):
        return str(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


# -- which registries the plan talks to ------------------------------------------------------------

@dataclass
class RegistryUse:
    """A registry the plan reads from or writes to, and where the wizard really connects for it."""

    key: str                 # the name the plan and the pull secret use (quay.io)
    role: str                # "mirror", "release source", "image streams source"
    host: str                # where the copy connects (a mirror set may send quay.io elsewhere)
    repository: str | None = None
    via: str = ""            # "host/path" when a mirror set redirects the reads

    @property
    def redirected(self) -> bool:
        return bool(self.via)


def registries_in_use(state: WizardState) -> list[RegistryUse]:
    """The mirror, the release source and the image streams' sources, each resolved through the plan's
    mirror set (idms_file) as the copy will resolve them. Errors in the inputs leave a source out: the
    step that owns it reports them."""
    from core.reference import parse_reference

    try:
        mirrors = state.source_mirrors()
    except MirrorError:
        mirrors = []
    session = RegistrySession(source_mirrors=mirrors)  # only for resolve_source: opens no connection
    uses: list[RegistryUse] = []
    seen: set[str] = set()

    def add(spec: str, role: str) -> None:
        try:
            ref = parse_reference(spec)
        except MirrorError:
            return
        if ref.registry in seen:
            return
        seen.add(ref.registry)
        target = session.resolve_source(ref)
        via = f"{target.registry}/{target.repository}" if target.registry != ref.registry else ""
        uses.append(RegistryUse(ref.registry, role, target.registry, target.repository, via))

    if state.mirror_host:
        seen.add(state.mirror_host)
        uses.append(RegistryUse(state.mirror_host, "mirror", state.mirror_host))
    release = state.release
    if release.source and release.mode != "from-dir":
        add(release.source, "release source")
    samples = state.samples
    chosen = set(samples.include) if samples.include else None
    # From removable media the image streams' images come off the medium, not from their registries.
    wanted = (samples.path or samples.source == "cluster") and release.mode != "from-dir"
    streams = state.streams if wanted else []
    for stream in streams:
        if (chosen is not None and stream.name not in chosen) or stream.name in state.samples.skip:
            continue
        for spec in stream.pull_specs:
            add(spec, "image streams source")
    return uses


async def check_read_access(session: RegistrySession, use: RegistryUse) -> tuple[str, str]:
    """(login state, message) for reading ``use`` the way the copy will: its real host, the session's
    credentials for that host (anonymous when it has none)."""
    from core.errors import (
        AccessDenied,
        AuthenticationFailed,
        RegistryUnreachable,
        TLSVerifyError,
    )

    client = session.client(use.host)
    try:
        await client.check_login(use.repository)
    except AuthenticationFailed as exc:
        return "wrong-credentials", str(exc)
    except AccessDenied as exc:
        return "denied", str(exc)
    except TLSVerifyError as exc:
        return "tls-untrusted", str(exc)
    except RegistryUnreachable as exc:
        return "unreachable", str(exc)
    except MirrorError as exc:
        return "error", str(exc)
    who = f"as {client.credential.username}" if getattr(client, "credential", None) else "anonymously"
    return "ok", f"read through the mirror set from {use.via} ({who})"
