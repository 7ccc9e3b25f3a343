"""The copy engine: many (source → destination) image copies as one job graph.

1. Resolve: every source manifest (and its children) is fetched once.
   Before that, each destination repository's tags are listed once: an image pulled by digest whose
   destination tag already names that digest is done, and its source is never asked (a rerun costs one
   HEAD per image and nothing at the source).
2. Check: a destination that already holds an image's manifest by digest needs nothing for it.
3. Blobs: one job per (destination store, digest). The bytes are read from the source once; other
   repositories in the same registry get a cross-repository mount. Largest blobs start first, and a
   per-registry limit bounds transfers while small requests keep their own lane.
4. Manifests: an image's manifest goes up when its blobs are in; an index after its children; by
   digest first, the tag last (or by tag alone once the registry has shown it keeps digests).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TypeGuard

from . import adaptive, ranged
from .endpoints import (
    Destination,
    Endpoints,
    Location,
    RegistryDestination,
    RegistryLocation,
    RegistrySource,
    Source,
)
from .errors import (
    Cancelled,
    CopyFailed,
    InputError,
    IntegrityError,
    MirrorError,
    NotFound,
    RegistryError,
)
from .events import (
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
from .manifest import Descriptor, Manifest
from .progress import Progress
from .registry import MAX_INDEX_CHILDREN, RegistrySession

EventSink = Callable[[Event], None]
PROGRESS_STEP = 1 << 20
BLOB_ATTEMPTS = 3


@dataclass(frozen=True)
class CopyTask:
    source: Location
    destination: Location
    extra_tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class CopyOptions:
    filter_by_os: str | None = None
    keep_manifest_list: bool = False
    skip_missing: bool = False
    continue_on_error: bool = False
    dry_run: bool = False


@dataclass
class ImagePlan:
    """One task resolved: the manifest to push at the top and every manifest below it."""

    task: CopyTask
    source: Source
    destination: Destination
    tag: str | None
    top: Manifest
    children: list[Manifest] = field(default_factory=list)
    present: bool = False
    tag_current: bool = False
    tag_digest: str | None = None  # what the destination tag named when looked up before resolving
    tag_looked_up: bool = False

    def blobs(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for manifest in self.children or [self.top]:
            for d in manifest.blobs():
                found[d.digest] = d.size
        return found


@dataclass
class CopyFailure:
    source: str
    destination: str
    error: MirrorError


@dataclass
class CopyResult:
    """What a run did. Its counts are one fold of the run's own events (``count``, a
    :class:`core.progress.Progress`: the model the CLI's progress line and the wizard's Mirror step
    draw), never counters kept beside it: the summary, the Mirror step and Done read the same numbers."""

    images_total: int = 0
    images_skipped_missing: int = 0
    seconds: float = 0.0
    failures: list[CopyFailure] = field(default_factory=list)
    images: list[ImagePlan] = field(default_factory=list)
    count: Progress = field(default_factory=Progress, repr=False)

    @property
    def images_done(self) -> int:
        """Images that landed (copied, or there already)."""
        return self.count.images_done

    @property
    def blobs_total(self) -> int:
        return self.count.total_blobs

    @property
    def blobs_copied(self) -> int:
        return self.count.blobs_copied

    @property
    def blobs_skipped(self) -> int:
        return self.count.blobs_skipped

    @property
    def blobs_mounted(self) -> int:
        return self.count.blobs_mounted

    @property
    def bytes_total(self) -> int:
        return self.count.total_bytes

    @property
    def bytes_copied(self) -> int:
        return self.count.bytes_moved

    @property
    def bytes_present(self) -> int:
        return self.count.bytes_present

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "images": {"total": self.images_total, "done": self.images_done,
                       "skipped_missing": self.images_skipped_missing, "failed": len(self.failures)},
            "blobs": {"total": self.blobs_total, "copied": self.blobs_copied,
                      "skipped": self.blobs_skipped, "mounted": self.blobs_mounted},
            "bytes": {"total": self.bytes_total, "copied": self.bytes_copied, "already_present": self.bytes_present},
            "seconds": round(self.seconds, 3),
            "failures": [{"source": f.source, "destination": f.destination, "error": str(f.error)} for f in self.failures],
        }


class _Progress:
    """Coalesces per-chunk byte counts into events of at least PROGRESS_STEP."""

    def __init__(self, emit: EventSink, digest: str) -> None:
        self.emit = emit
        self.digest = digest
        self.pending = 0

    def add(self, n: int) -> None:
        self.pending += n
        if self.pending >= PROGRESS_STEP:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.emit(BlobProgress(self.digest, self.pending))
            self.pending = 0


class Copier:
    def __init__(self, session: RegistrySession, options: CopyOptions | None = None, *,
                 on_event: EventSink | None = None, cancel: asyncio.Event | None = None) -> None:
        self.session = session
        self.options = options or CopyOptions()
        self.endpoints = Endpoints(session, create_layouts=not self.options.dry_run)
        self._sink = on_event
        self.cancel = cancel
        self.result = CopyResult()
        self._platform_re = self._compile_filter(self.options.filter_by_os)
        self._disk = asyncio.Semaphore(4)
        self._stores_with_images: set[str] = set()  # destination stores already holding an image of the run
        # (registry, repository) -> its tags (listed once per run); None where the listing failed.
        self._tags: dict[tuple[str, str], frozenset[str] | None] = {}
        # Images found complete by their destination tag alone (their source never read), with their digest.
        self._done_already: list[tuple[CopyTask, str]] = []
        # (store, repository, digest) -> the push of a child manifest several images share (releases of
        # an update path): pushed once, the others wait for it. Two concurrent PUTs of one manifest make
        # distribution's filesystem driver rewrite its link file while a parent's PUT reads it.
        self._child_pushes: dict[tuple[str, str, str], asyncio.Future[bool]] = {}

    @staticmethod
    def _compile_filter(pattern: str | None) -> re.Pattern[str] | None:
        if not pattern:
            return None
        try:
            return re.compile(pattern)
        except re.error as exc:
            raise InputError(f"--filter-by-os {pattern!r} is not a valid regular expression: {exc}") from None

    def emit(self, event: Event) -> None:
        """Every event is counted (the result's numbers are this fold) and then passed on."""
        self.result.count.feed(event)
        if self._sink is not None:
            self._sink(event)

    def _check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled()

    # -- public ----------------------------------------------------------------------------

    async def run(self, tasks: list[CopyTask]) -> CopyResult:
        started = time.monotonic()
        try:
            plans = await self.resolve(tasks)
            await self.check_destinations(plans)
            self._announce(plans)
            if not self.options.dry_run:
                await self._execute(plans)
        finally:
            self.result.seconds = time.monotonic() - started
        return self.result

    async def resolve(self, tasks: list[CopyTask]) -> list[ImagePlan]:
        self.result.images_total = len(tasks)
        looked_up = await self._look_up_tags(tasks)
        plans: list[ImagePlan | None] = await asyncio.gather(
            *(self._resolve_one(t, looked_up.get(n, _NOT_LOOKED_UP)) for n, t in enumerate(tasks)))
        resolved = [p for p in plans if p is not None]
        self.result.images = resolved
        return resolved

    # -- destination tags, before resolving -------------------------------------------------

    async def _look_up_tags(self, tasks: list[CopyTask]) -> dict[int, str | None]:
        """List each registry destination repository's tags once, then HEAD every destination tag the
        listing holds: task index -> the digest that tag names (None: absent). A repository's listing
        answers for all its images in one request, where a HEAD per image would mostly say 404 on a
        first mirror; a failed listing leaves its images to the per-image HEADs of the check."""
        wanted: dict[int, tuple[RegistryDestination, str]] = {}
        for number, task in enumerate(tasks):
            if isinstance(task.destination, RegistryLocation) and task.destination.ref.tag:
                destination, tag = self.endpoints.destination(task.destination)
                if isinstance(destination, RegistryDestination) and tag:
                    wanted[number] = (destination, tag)
        repositories = {(d.client.registry, d.repository): d for d, _ in wanted.values()}

        async def listing(destination: RegistryDestination) -> None:
            self._check_cancel()
            key = (destination.client.registry, destination.repository)
            try:
                self._tags[key] = frozenset(await destination.client.list_tags(destination.repository))
            except NotFound:
                self._tags[key] = frozenset()  # no such repository yet: no image of the run is in it
            except MirrorError as exc:
                if isinstance(exc, Cancelled):
                    raise
                self._tags[key] = None  # not allowed, too large, broken: each image is looked at alone

        await asyncio.gather(*(listing(d) for d in repositories.values()))
        found: dict[int, str | None] = {}

        async def head(number: int, destination: RegistryDestination, tag: str) -> None:
            self._check_cancel()
            tags = self._tags.get((destination.client.registry, destination.repository))
            if tags is None:
                return  # unknown: the check asks per image, as it always did
            if tag not in tags:
                found[number] = None
                return
            try:
                found[number] = await destination.manifest_digest(tag)
            except MirrorError as exc:
                if isinstance(exc, Cancelled):
                    raise
                # Left to the check, which reports it against the image once its source is known.

        await asyncio.gather(*(head(n, d, t) for n, (d, t) in wanted.items()))
        return found

    def _done_by_tag(self, task: CopyTask, reference: str, tag_digest: str | None) -> bool:
        """The destination tag names exactly the digest the source is pinned to: the registry accepted
        that manifest, so every blob under it is there, and nothing is left to read or write. Only when
        the source's digest is the manifest that would be pushed (no platform filter, which may push a
        filtered index instead) and no extra tag needs the manifest's bytes; never in a dry run, which
        lists each image with its size."""
        return (tag_digest is not None and tag_digest == reference and reference.startswith("sha256:")
                and self.options.filter_by_os is None and not task.extra_tags and not self.options.dry_run)

    # -- resolving -------------------------------------------------------------------------

    async def _resolve_one(self, task: CopyTask, tag_digest: str | None | _NotLookedUp) -> ImagePlan | None:
        self._check_cancel()
        source, reference = self.endpoints.source(task.source)
        destination, tag = self.endpoints.destination(task.destination)
        looked_up = not isinstance(tag_digest, _NotLookedUp)
        found = None if isinstance(tag_digest, _NotLookedUp) else tag_digest
        if looked_up and self._done_by_tag(task, reference, found):
            self._stores_with_images.add(destination.store_key)
            self._done_already.append((task, reference))
            return None
        try:
            top = await source.get_manifest(reference)
            children: list[Manifest] = []
            if top.is_index:
                top, children = await self._resolve_index(source, top)
        except NotFound as exc:
            if self.options.skip_missing:
                self.result.images_skipped_missing += 1
                self.emit(LogMessage("warning", f"skipped {task.source}: {exc}"))
                return None
            self._fail(task, exc)
            return None
        except MirrorError as exc:
            self._fail(task, exc)
            return None
        return ImagePlan(task, source, destination, tag, top, children, tag_digest=found, tag_looked_up=looked_up)

    async def _resolve_index(self, source: Source, index: Manifest) -> tuple[Manifest, list[Manifest]]:
        entries = index.children()
        if len(entries) > MAX_INDEX_CHILDREN:  # registries are checked on fetch; directories here
            raise InputError(f"{source.display}: index {index.digest} lists {len(entries)} manifests, "
                             f"more than the {MAX_INDEX_CHILDREN} accepted")
        chosen = entries
        if self._platform_re is not None:
            chosen = [d for d in entries if d.platform is not None and d.platform.matches(self._platform_re)]
            if not chosen:
                platforms = ", ".join(str(d.platform) for d in entries if d.platform) or "none"
                raise NotFound(f"no platform matches --filter-by-os {self.options.filter_by_os!r} (available: {platforms})")
        manifests = await asyncio.gather(*(source.get_manifest(d.digest) for d in chosen))
        nested = [m for m in manifests if m.is_index]
        if nested:
            raise InputError(f"index {index.digest} nests another index; nested indexes are not supported")
        if len(chosen) == len(entries):
            return index, list(manifests)
        if len(chosen) == 1 and not self.options.keep_manifest_list:
            return manifests[0], []
        return _filtered_index(index, chosen), list(manifests)

    # -- checking ---------------------------------------------------------------------------

    async def check_destinations(self, plans: list[ImagePlan]) -> None:
        async def check(plan: ImagePlan) -> None:
            self._check_cancel()
            digest = plan.top.digest
            try:
                if plan.tag and isinstance(plan.destination, RegistryDestination):
                    await self._check_tagged(plan, plan.destination, plan.tag)
                    return
                plan.present = await plan.destination.manifest_digest(digest) == digest
                if plan.present and plan.tag:
                    plan.tag_current = await plan.destination.manifest_digest(plan.tag) == digest
            except MirrorError as exc:
                self._fail(plan.task, exc)
                plans_failed.add(id(plan))

        plans_failed: set[int] = set()
        await asyncio.gather(*(check(p) for p in plans))
        plans[:] = [p for p in plans if id(p) not in plans_failed]

    async def _check_tagged(self, plan: ImagePlan, destination: RegistryDestination, tag: str) -> None:
        """A tag naming the image's digest says both that the image is there and that the tag is
        current, in one HEAD (or none, when the tag was looked up before resolving). A tag that is absent
        or names another digest leaves the question whether the image is there under another tag (a
        z-stream release reuses most components' digests): one HEAD by digest, unless the repository
        has no tag at all (a first mirror; an image there by digest alone, from a killed run, is found
        again by the blobs' existence checks and costs one PUT)."""
        digest = plan.top.digest
        tags = self._tags.get((destination.client.registry, destination.repository))
        at_tag = plan.tag_digest if plan.tag_looked_up else await destination.manifest_digest(tag)
        if at_tag == digest:
            plan.present = plan.tag_current = True
            return
        if tags is not None and not tags:
            return
        plan.present = await destination.manifest_digest(digest) == digest

    def _announce(self, plans: list[ImagePlan]) -> None:
        unique: dict[tuple[str, str], int] = {}
        present: dict[tuple[str, str], tuple[int, str]] = {}  # with where it is, as events name it
        for plan in plans:
            for digest, size in plan.blobs().items():
                key = (plan.destination.store_key, digest)
                unique[key] = size
                if plan.present:
                    present.setdefault(key, (size, plan.destination.display))
        self.emit(PlanReady(images=len(plans) + len(self._done_already), blobs=len(unique),
                            total_bytes=sum(unique.values())))
        if self.options.dry_run:
            # A dry run ends here: the blobs of images already there are all it learns is present (a real
            # run says so blob by blob as it goes), so "to move" is the total less them.
            for (_store, digest), (size, where) in present.items():
                self.emit(BlobSkipped(digest, size, where))
        for task, digest in self._done_already:  # their blobs are not counted: their manifests were never read
            self.emit(ImageDone(str(task.source), str(task.destination), digest, skipped=True))

    # -- executing --------------------------------------------------------------------------

    async def _execute(self, plans: list[ImagePlan]) -> None:
        self._stores_with_images |= {plan.destination.store_key for plan in plans if plan.present}
        # needs[(store, digest)] -> {repository: (destination, source, size)}
        needs: dict[tuple[str, str], dict[str, tuple[Destination, Source, int]]] = {}
        for plan in plans:
            if plan.present:
                continue
            for digest, size in plan.blobs().items():
                slot = needs.setdefault((plan.destination.store_key, digest), {})
                slot.setdefault(plan.destination.repository, (plan.destination, plan.source, size))
        for plan in plans:
            if plan.present:
                for digest, size in plan.blobs().items():
                    key = (plan.destination.store_key, digest)
                    if key not in needs:
                        needs[key] = {}
                        self.emit(BlobSkipped(digest, size, plan.destination.display))

        blob_tasks: dict[tuple[str, str, str], asyncio.Future[None]] = {}
        loop = asyncio.get_running_loop()
        for key, repos in needs.items():
            for repo in repos:
                blob_tasks[(key[0], key[1], repo)] = loop.create_future()

        # Largest first: tasks are created in this order and semaphores are FIFO.
        ordered = sorted(((k, v) for k, v in needs.items() if v), key=lambda kv: -next(iter(kv[1].values()))[2])
        workers = [asyncio.create_task(self._blob_group(key, repos, blob_tasks)) for key, repos in ordered]
        image_workers = [asyncio.create_task(self._push_image(plan, blob_tasks)) for plan in plans]
        try:
            pending: set[asyncio.Task[None]] = set(image_workers)
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
                for finished in done:
                    error = finished.exception()
                    if error is not None:
                        raise error
        finally:
            for w in workers + image_workers:
                w.cancel()
            await asyncio.gather(*workers, *image_workers, return_exceptions=True)
            for fut in blob_tasks.values():
                if fut.done() and not fut.cancelled():
                    fut.exception()  # mark retrieved
        self._check_cancel()

    async def _blob_group(self, key: tuple[str, str], repos: dict[str, tuple[Destination, Source, int]],
                          futures: dict[tuple[str, str, str], asyncio.Future[None]]) -> None:
        """Make one digest present in every repository of one store that needs it."""
        store, digest = key
        names = list(repos)

        def settle(repo: str, exc: BaseException | None = None) -> None:
            fut = futures[(store, digest, repo)]
            if not fut.done():
                if exc is None:
                    fut.set_result(None)
                else:
                    fut.set_exception(exc)

        try:
            self._check_cancel()
            probe = self._may_hold_blobs(repos[names[0]][0])
            if probe:
                present = await asyncio.gather(*(repos[r][0].has_blob(digest, repos[r][2]) for r in names))
            else:
                present = [False] * len(names)  # the upload POST below tells what is there
            have = [r for r, p in zip(names, present, strict=True) if p]
            missing = [r for r, p in zip(names, present, strict=True) if not p]
            anchor = have[0] if have else None  # where the others mount it from
            if missing and not have:
                anchor = missing.pop(0)
                if await self._bring(repos[anchor], digest, probed=probe):
                    have.append(anchor)
                else:
                    settle(anchor)
            for r in have:  # its bytes count once per store (core.progress), like bytes_total
                self.emit(BlobSkipped(digest, repos[r][2], repos[r][0].display))
                settle(r)
            for r in missing:
                destination, source, size = repos[r]
                assert anchor is not None
                if await destination.mount(digest, anchor):
                    self.emit(BlobMounted(digest, size, destination.display, anchor))
                else:
                    await self._transfer(destination, source, digest, size)
                settle(r)
        except BaseException as exc:
            # Only this task's own cancellation (the run ending) reads as Cancelled. Anything else
            # unexpected (a bug here or in the event sink) reaches the images waiting on this blob as
            # itself: once turned into Cancelled, a front end told the admin "cancelled by the user".
            for r in names:
                settle(r, Cancelled() if isinstance(exc, asyncio.CancelledError) else exc)
            if not isinstance(exc, (MirrorError, asyncio.CancelledError)):
                raise

    async def _bring(self, entry: tuple[Destination, Source, int], digest: str, *, probed: bool) -> bool:
        """Make a blob not found by a HEAD (or not looked for) present; True when it was there already."""
        destination, source, size = entry
        if _same_registry(destination, source) and isinstance(source, RegistrySource):
            # A mount moves no bytes; when refused, its answer left the upload session _transfer uses.
            if await destination.mount(digest, source.repository):
                self.emit(BlobMounted(digest, size, destination.display, source.repository))
                return False
        elif not probed and await destination.mount(digest, destination.repository):
            return True
        await self._transfer(destination, source, digest, size)
        return False

    def _may_hold_blobs(self, destination: Destination) -> bool:
        """HEAD first where blobs may already be: a directory (a local stat), or a registry holding one
        of this run's images already (a rerun, a newer release into an old mirror). Elsewhere (a first
        mirror) a HEAD would mostly answer 404, so the blob's upload POST asks instead: a mount from the
        repository itself answers 201 when the blob is there, or opens the upload session."""
        return not isinstance(destination, RegistryDestination) or destination.store_key in self._stores_with_images

    async def _transfer(self, destination: Destination, source: Source, digest: str, size: int) -> None:
        limiter, slot = _transfer_limiter(destination, source, self._disk, self.session.max_per_registry, size)
        for attempt in range(BLOB_ATTEMPTS):
            self._check_cancel()
            async with slot():
                self.emit(BlobStarted(digest, size, destination.display))
                progress = _Progress(self.emit, digest)
                moved = 0

                # Bound now (default arguments): each attempt's tick counts into that attempt's progress.
                def tick(n: int, progress: _Progress = progress) -> None:
                    nonlocal moved
                    if self.cancel is not None and self.cancel.is_set():
                        raise Cancelled()
                    moved += n
                    progress.add(n)

                async def body(tick: Callable[[int], None] = tick) -> AsyncIterator[bytes]:
                    async for chunk in source.stream(digest, size):
                        tick(len(chunk))
                        if limiter is not None:
                            limiter.moved(len(chunk))  # throughput samples (ranged parts count their own)
                        yield chunk

                try:
                    # Big blobs from a registry are read in parallel ranged parts (core/ranged.py), on
                    # more connections of the same limiter.
                    await ranged.put_blob(destination, source, digest, size, body, tick=tick, limiter=limiter)
                except IntegrityError as exc:
                    # Bad bytes from the source (a flaky proxy, a corrupt disk): never kept; read again.
                    progress.flush()
                    self.emit(BlobProgress(digest, -moved))
                    if attempt + 1 >= BLOB_ATTEMPTS:
                        raise
                    self.emit(LogMessage("warning", f"{exc}; reading it again"))
                    continue
                except BaseException:
                    # Failed or cancelled part way: the bytes sent count for nothing (the blob did not
                    # land), so the count of bytes moved stays the sum of the blobs that did.
                    progress.flush()
                    if moved:
                        self.emit(BlobProgress(digest, -moved))
                    raise
                progress.flush()
            self.emit(BlobDone(digest, size, destination.display))
            return

    async def _push_image(self, plan: ImagePlan, futures: dict[tuple[str, str, str], asyncio.Future[None]]) -> None:
        task = plan.task
        destination = plan.destination
        try:
            if not plan.present:
                waits = [futures[(destination.store_key, d, destination.repository)] for d in plan.blobs()]
                for fut in waits:
                    await asyncio.shield(fut)
                self._check_cancel()
                for child in plan.children:
                    await self._push_child_once(destination, child)
                if plan.tag:
                    await destination.put_tagged(plan.tag, plan.top)
                else:
                    await destination.put_manifest(None, plan.top, top_level=True)
            for tag in ([plan.tag] if plan.tag else []) + list(task.extra_tags):
                if tag == plan.tag and (not plan.present or plan.tag_current):
                    continue  # just pushed with the image, or already current
                await destination.put_manifest(tag, plan.top, top_level=True)
            self.emit(ImageDone(str(task.source), str(task.destination), plan.top.digest, skipped=plan.present))
        except MirrorError as exc:
            if isinstance(exc, Cancelled):
                raise
            self._fail(task, exc)

    async def _push_child_once(self, destination: Destination, child: Manifest) -> None:
        """A child manifest into its repository once per run, however many images share it."""
        key = (destination.store_key, destination.repository, child.digest)
        pending = self._child_pushes.get(key)
        if pending is not None:
            if await asyncio.shield(pending):
                return
            # The first try failed (its image says why); this image tries for itself.
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._child_pushes[key] = future
        try:
            if await destination.manifest_digest(child.digest) != child.digest:
                await destination.put_manifest(None, child, top_level=False)
        except BaseException:
            future.set_result(False)
            raise
        future.set_result(True)

    def _fail(self, task: CopyTask, exc: MirrorError) -> None:
        if isinstance(exc, Cancelled):
            raise exc
        self.result.failures.append(CopyFailure(str(task.source), str(task.destination), exc))
        self.emit(ImageFailed(str(task.source), str(task.destination), str(exc)))
        if not self.options.continue_on_error:
            raise CopyFailed(str(task.source), str(task.destination), exc)


class _NotLookedUp:
    """The destination tag was not looked up before resolving (not a registry tag, or its listing failed)."""


_NOT_LOOKED_UP = _NotLookedUp()


def _same_registry(destination: Destination, source: Source) -> TypeGuard[RegistryDestination]:
    """Both sides in one registry, different repositories: a cross-repository mount can do the copy."""
    return (isinstance(destination, RegistryDestination) and isinstance(source, RegistrySource)
            and destination.client is source.client and source.repository != destination.repository)


def _transfer_limiter(destination: Destination, source: Source, disk: asyncio.Semaphore, explicit: int | None,
                      size: int) -> tuple[adaptive.AdaptiveLimiter | None, Callable[[], AbstractAsyncContextManager[None]]]:
    """The adaptive connection limit of this (destination, source) registry pair (core/adaptive.py;
    ranged parts take more of it) and a slot for one blob of ``size`` bytes: that limit's (beside it
    for a small blob), then each registry client's fixed cap (``--max-per-registry``, or the adaptive
    ceiling) so that several pairs sharing a registry stay under it too. Directory to directory: the
    disk's limit."""
    ends = [end.client for end in (destination, source) if isinstance(end, (RegistryDestination, RegistrySource))]
    sems: list[asyncio.Semaphore | adaptive.AdaptiveLimiter] = []
    limiter: adaptive.AdaptiveLimiter | None = None
    if ends:
        start, maximum = adaptive.transfer_bounds(explicit)
        limiter = adaptive.transfer_limiter(destination.client if isinstance(destination, RegistryDestination) else None,
                                            source.client if isinstance(source, RegistrySource) else None,
                                            start=start, maximum=maximum)
        sems.append(limiter)
        for client in ends:
            if client.transfers not in sems:
                sems.append(client.transfers)
    else:
        sems.append(disk)

    small = size <= adaptive.SMALL_BLOB

    class _Both(AbstractAsyncContextManager[None]):
        async def __aenter__(self) -> None:
            for s in sems:
                await (s.acquire(small=small) if isinstance(s, adaptive.AdaptiveLimiter) else s.acquire())

        async def __aexit__(self, *exc: object) -> None:
            for s in reversed(sems):
                if isinstance(s, adaptive.AdaptiveLimiter):
                    s.release(small=small)
                else:
                    s.release()

    return limiter, _Both


def _filtered_index(index: Manifest, chosen: list[Descriptor]) -> Manifest:
    """A new index holding only the chosen platforms (its digest differs from the original)."""
    data = index.json
    keep = {d.digest for d in chosen}
    data["manifests"] = [m for m in data.get("manifests", []) if m.get("digest") in keep]
    raw = json.dumps(data, indent=3).encode()
    return Manifest.parse(raw, index.media_type, where=f"filtered {index.digest}")


async def copy_images(tasks: list[CopyTask], session: RegistrySession, options: CopyOptions | None = None, *,
                      on_event: EventSink | None = None, cancel: asyncio.Event | None = None) -> CopyResult:
    """Run a whole plan. Raises CopyFailed on the first failure unless continue_on_error."""
    return await Copier(session, options, on_event=on_event, cancel=cancel).run(tasks)


__all__ = [
    "Copier",
    "CopyFailed",
    "CopyFailure",
    "CopyOptions",
    "CopyResult",
    "CopyTask",
    "ImagePlan",
    "RegistryError",
    "copy_images",
]
