"""The mirror-wizard Textual app: eight steps from pull secret to a mirrored, trusted registry.

The App owns the state (tui.state.WizardState) and the long copy; each step is a screen in its own
mode, so switching steps keeps what the admin typed and keeps a step's checks running.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from core.errors import Cancelled, ErrorCode, MirrorError
from core.events import BlobSkipped
from core.orchestrate import Job, run_job
from core.plan import ReleaseMode, save_plan, validate_plan
from core.progress import Progress, RowKind, RowSpec, RowState
from core.run import Prepared
from core.text import human_bytes, plural
from tui.access import wizard_auth
from tui.screens.base import StepScreen
from tui.screens.ca import CAScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.credentials import CredentialsScreen
from tui.screens.done import DoneScreen
from tui.screens.mirror import MirrorScreen, fix_instead_of_resume, last_run_fix_step
from tui.screens.preflight import PreflightScreen
from tui.screens.quit import QuitFacts, quit_reasons
from tui.screens.release import ReleaseScreen
from tui.screens.review import ReviewScreen
from tui.screens.samples import SamplesScreen
from tui.screens.verify import VerifyScreen
from tui.state import STEP_KEYS, WizardState, check_plan_ca, error_text, read_reopened_facts, task_label


def image_rows(prepared: Prepared) -> list[RowSpec]:
    """Every image of the prepared plan as a row: release components and samples images alike."""
    info = prepared.release
    prefix = info.tag if info is not None else None
    rows = [RowSpec(str(t.source), str(t.destination), task_label(t, prefix), RowKind.RELEASE)
            for t in prepared.release_tasks]
    rows += [RowSpec(str(t.source), str(t.destination), task_label(t, None), RowKind.SAMPLES)
             for t in prepared.samples_tasks]
    rows += [RowSpec(str(t.source), str(t.destination), task_label(t, None)) for t in prepared.image_tasks]
    return rows


CANCELLED_TEXT = "cancelled — everything copied so far is kept; Resume copies only what's missing"


class MirrorWizardApp(App[int]):
    TITLE = "mirror-wizard"
    CSS_PATH = "app.tcss"
    MODES = {
        "preflight": PreflightScreen,
        "credentials": CredentialsScreen,
        "release": ReleaseScreen,
        "samples": SamplesScreen,
        "ca": CAScreen,
        "review": ReviewScreen,
        "mirror": MirrorScreen,
        "done": DoneScreen,
        "verify": VerifyScreen,
    }
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        # Tab moves focus here, before the keys after it are handed on: without priority the focused
        # field only passes Tab up after taking the keys queued behind it, so a password typed right
        # after Tab landed, readable, in the user-name field (typing ahead is normal; so is a busy app).
        Binding("tab", "focus_next", show=False, priority=True),
        Binding("shift+tab", "focus_previous", show=False, priority=True),
    ]

    def __init__(self, state: WizardState, *, start: str | None = None, auto_check: bool = True,
                 clock: Callable[[], float] | None = None, reopened: bool = False) -> None:
        super().__init__()
        self.state = state
        self.start_step = start or STEP_KEYS[0]
        # Opened on a saved plan at the first step that still needs the admin (run_app's reopen): that
        # step may be later still once the mirror has been looked at (settle_reopened).
        self.reopened = reopened
        self.startup_notes: list[str] = []  # said once the wizard shows (run_app's notes)
        # auto_check=False: no registry, network or environment probing on its own (snapshots, offline).
        self.auto_check = auto_check
        if clock is not None:
            state.progress.clock = clock
        self.mirror_cancel: asyncio.Event | None = None
        self.mirror_worker: Worker[object] | None = None
        # Quitting asks first when something would be lost: the plan as it was at the start, whether
        # Apply succeeded (set by the Done step), and a guard so Ctrl+Q twice opens one question.
        self.initial_plan_key = state.plan_key()
        self.applied = False
        self._quit_asked = False
        # Only the Review step's "Start mirror" button starts a copy on arriving at the Mirror step:
        # Ctrl+N pressed a few times too often must never start one.
        self.start_on_arrival = False
        # The look at what the mirror already holds (a dry run), when a reopened plan reaches the Mirror
        # step before any copy ran in this session; its answer, for the step to show.
        self.check_worker: Worker[None] | None = None
        self.check_note = ""
        # Why the last mirror run stopped, when an engine error stopped it before any image (its code:
        # the Mirror and Review steps tell a fix from a Resume by it, never by the text).
        self.mirror_error_code: ErrorCode | None = None
        self._check_after: Worker[object] | None = None

    def on_mount(self) -> None:
        self.theme = "textual-dark"
        self.switch_mode(self.start_step)
        self.set_interval(0.5, self._mirror_tick)
        for note in self.startup_notes:
            self.notify(note, timeout=12)
        if self.reopened and self.auto_check and self.start_step in ("ca", "review"):
            self.run_worker(self.settle_reopened(), name="reopen", group="reopen", exit_on_error=False)

    async def settle_reopened(self) -> None:
        """A reopened plan that names everything: read what Review's facts need (the release, its sizes,
        the image streams), check the CA as its step would, and look at what the mirror holds. A mirror
        that holds the whole plan means the admin's next step is Done (writing and applying the cluster's
        documents), not the CA step with everything ✓ — go there, unless the admin has moved meanwhile."""
        state = self.state
        await read_reopened_facts(state)
        if state.plan.mirror.ca_file and not await check_plan_ca(state):
            return  # the CA step (where the admin is) says what is wrong
        if self.mirror_started:
            return
        self.check_mirror()
        worker = self.check_worker
        if worker is not None:
            try:
                await worker.wait()
            except Exception:  # WorkerFailed / WorkerCancelled: its note says so on the Mirror step
                return
        for screen in self.screen_stack:  # Review's facts as read now (it redraws on a phase change only)
            if isinstance(screen, ReviewScreen) and screen.is_attached and screen.ready:
                screen.step_shown()
        if self.current_mode != self.start_step:
            return  # the admin moved meanwhile: stay where they are
        if not (state.mirror_checked and state.mirror_complete()):
            if self.start_step == "ca":
                # The CA verified (above) and the mirror lacks something: the next thing to do is Review's
                # Start mirror, not a CA step with everything ✓.
                state.visited.update(STEP_KEYS[:STEP_KEYS.index("review")])
                await self.goto("review")
                self.notify("the CA verifies against the mirror: the next thing to do is here, on Review",
                            title="Plan reopened")
            return
        done = STEP_KEYS.index("done")
        state.visited.update(STEP_KEYS[:done])
        await self.goto("done")
        self.notify("the mirror already holds the whole plan: the next thing to do is here, on Done",
                    title="Plan reopened")

    def _mirror_tick(self) -> None:
        """Every step shows a copy running elsewhere (the step bar; Review's summary)."""
        for screen in self.screen_stack:
            if isinstance(screen, StepScreen) and screen.is_attached and screen.ready:
                screen.mirror_tick()

    # -- navigation --------------------------------------------------------------------------------

    @property
    def step(self) -> str:
        return self.current_mode

    async def goto(self, step: str) -> None:
        if step == self.current_mode:
            return
        await self.switch_mode(step)

    async def next_step(self) -> None:
        screen = self.screen
        if isinstance(screen, StepScreen):
            if not await screen.can_leave():
                return
            self.state.visited.add(screen.STEP)
        index = STEP_KEYS.index(self.current_mode)
        if index + 1 < len(STEP_KEYS):
            await self.goto(STEP_KEYS[index + 1])

    async def previous_step(self) -> None:
        index = STEP_KEYS.index(self.current_mode)
        if index > 0:
            await self.goto(STEP_KEYS[index - 1])

    # -- plan ----------------------------------------------------------------------------------------

    def action_save_plan(self) -> None:
        path = self.state.save_path()
        screen = self.screen if isinstance(self.screen, StepScreen) else None
        try:
            plan = self.state.plan_for_saving()
            validate_plan(plan)
            save_plan(plan, path)
        except (OSError, MirrorError) as exc:
            # Said on the step's status line too: a toast alone is easy to miss (and hidden in tests).
            message = f"plan not saved: {error_text(exc)}"
            if screen is not None:
                screen.set_status(message, "error")
            self.notify(message, severity="error", timeout=8)
            return
        self.state.plan_path = path
        if screen is not None:
            screen.set_status(f"plan saved to {path}", "ok")
        self.notify(f"plan saved to {path}", title="Saved")

    # -- the mirror ----------------------------------------------------------------------------------

    @property
    def mirror_started(self) -> bool:
        return self.mirror_worker is not None

    @property
    def mirror_running(self) -> bool:
        return self.mirror_worker is not None and self.mirror_worker.is_running

    def start_mirror(self) -> None:
        """Run (or resume) the whole plan; the engine skips every blob and manifest already there."""
        if self.mirror_running:
            return
        self.mirror_cancel = asyncio.Event()
        self.state.progress.reset()
        # The plan this run is for: changed later (Back to Image streams, say), the result is out of date.
        self.state.mirror_key = self.state.plan_key()
        self.state.mirror_result = None
        self.state.mirror_checked = False
        self.state.mirror_stale, self.state.mirror_missing = False, None
        self.check_note = ""
        self.mirror_error_code = None
        self.mirror_worker = self.run_worker(self._mirror(self.mirror_cancel), name="mirror", group="mirror",
                                             exclusive=True, exit_on_error=False)
        self._redraw_mirror()

    @property
    def mirror_checking(self) -> bool:
        return self.check_worker is not None and self.check_worker.is_running

    def check_mirror(self) -> None:
        """Look at what the mirror holds for the plan as it is (a dry run: manifests only, nothing
        written). A plan mirrored on an earlier visit is then complete here too, as Review's sizes
        already knew, instead of "nothing copied yet" and a refused Next (issue 26)."""
        if self.mirror_running or self.mirror_checking:
            return
        self.check_note = "checking what the mirror already holds …"
        self._check_after = self.mirror_worker  # a copy started after this look voids its answer
        self.check_worker = self.run_worker(self._check_mirror(), name="mirror-check", group="mirror-check",
                                            exclusive=True, exit_on_error=False)

    async def _check_mirror(self) -> None:
        state = self.state
        key = state.plan_key()
        probe = Progress(clock=state.progress.clock)
        probe.reset()
        held: list[Prepared] = []

        def prepared(ready: Prepared) -> None:
            held.append(ready)
            probe.set_rows(image_rows(ready))

        try:
            run = await run_job(Job(state.plan_for_saving(), dry_run=True, write_outputs=False),
                                auth=wizard_auth(state), on_event=probe.feed, on_prepared=prepared)
        except MirrorError as exc:
            self.check_note = f"could not look into the mirror ({error_text(exc)}): press Start to mirror the plan"
            self._redraw_mirror()
            return
        finally:
            self.check_worker = None
        result = run.copy
        if (self.mirror_worker is not self._check_after or state.plan_key() != key
                or result is None or not held):
            self.check_note = ""  # a copy started, or the plan changed, meanwhile: this answer is void
            return
        # Complete: every image there by digest with its tag current (a dry run copies nothing, so the
        # copier's present flags are the whole answer).
        missing = [image for image in result.images if not image.present or (image.tag and not image.tag_current)]
        if not result.ok or missing:
            count = len(missing) + len(result.failures)
            if state.mirror_stale:
                state.mirror_missing = count  # Review and Done say the count this look found
            self.check_note = (f"the mirror lacks {plural(count, 'image')} of {probe.total_images} "
                               f"({human_bytes(result.bytes_total - result.bytes_present)} to move): "
                               "press Start to copy what is missing")
            self._redraw_mirror()
            return
        # Every layer is there: said as the copy would say it (bytes there, none to move), so the bars
        # read 100 % and "0 B moved · N there", never "0 % of N to move".
        for image in result.images:
            for digest, size in image.blobs().items():
                probe.feed(BlobSkipped(digest, size, str(image.task.destination)))
        for row in probe.rows.values():
            row.state = RowState.PRESENT
        probe.images_present = probe.total_images
        probe.log, probe.log_seq = state.progress.log, state.progress.log_seq  # earlier lines stay readable
        probe.add_log(f"checked: the mirror already holds all {probe.total_images} images of this plan; "
                      "nothing to copy")
        probe.finish()
        result.count = probe  # Done counts what the mirror holds: the Mirror step's numbers
        state.progress, state.mirror_key = probe, key
        state.prepared, state.prepared_key, state.mirror_result = held[0], key, result
        state.mirror_checked = True
        state.mirror_stale, state.mirror_missing = False, None
        state.visited.add("mirror")
        self.check_note = ""
        self._redraw_mirror()

    def _redraw_mirror(self) -> None:
        """Show a start or an end at once, not on the next tick of the Mirror step's timer."""
        for screen in self.screen_stack:
            if isinstance(screen, MirrorScreen) and screen.is_attached:
                screen.redraw()

    async def _mirror(self, cancel: asyncio.Event) -> None:
        progress = self.state.progress
        try:
            await self._run_mirror(cancel)
        except asyncio.CancelledError:
            # The task itself was cancelled (Cancel, Stop and quit): the engine's finally blocks have
            # closed connections and removed partial files on the way out.
            progress.add_log(CANCELLED_TEXT)
            progress.finish(cancelled=True)
            raise
        except Exception as exc:  # a bug, not a registry's answer: one line here, never a traceback
            self.log.error("mirror failed", exc_info=exc)
            progress.add_log(f"error: {error_text(exc)}")
            progress.finish(error=f"unexpected error: {error_text(exc)} — Resume tries again")
        finally:
            if progress.running:  # whatever happened, Start, Cancel and Next must work again
                progress.finish(error="the mirror stopped unexpectedly — Resume tries again")
            if progress.finished and not self.state.mirror_out_of_date():
                self.state.visited.add("mirror")  # done, even when the admin watched it from another step
            self._close_copy_questions()
            self._redraw_mirror()

    def _close_copy_questions(self) -> None:
        """"Cancel the mirror?" and "Stop and quit?" ask about a running copy: once it ended, the
        question is void and must not stay open (a Yes would then cancel or quit for nothing)."""
        screen = self.screen
        if isinstance(screen, ConfirmScreen) and getattr(screen, "about_copy", False):
            wanted_to_quit = getattr(screen, "about_quit", False)
            screen.dismiss(None)
            if wanted_to_quit:
                # The admin asked to quit: ask again, about what quitting would lose now.
                self.notify("the mirror ended while you were asked; quitting now only asks about the rest",
                            timeout=6)
                self.call_later(self.action_quit)
            else:
                self.notify("the mirror ended, so the question was closed", timeout=6)

    async def _run_mirror(self, cancel: asyncio.Event) -> None:
        """The plan through core.orchestrate, as ``mirror-wizard run`` does; the copy's events fold
        into the state's core.progress.Progress, which the Mirror step draws."""
        state = self.state
        progress = state.progress
        plan = state.plan_for_saving()
        key = state.mirror_key
        # Saved first, so an interrupted run can be finished headless with the same plan.
        try:
            validate_plan(plan)
            save_plan(plan, state.save_path())
            progress.add_log(f"plan saved to {state.save_path()} (finish it any time: mirror-wizard run "
                             f"{state.save_path()})")
        except (OSError, MirrorError) as exc:
            progress.add_log(f"plan not saved: {error_text(exc)}")
        progress.add_log("reading the release payload and the image streams …")

        def prepared(ready: Prepared) -> None:
            state.prepared, state.prepared_key = ready, key
            progress.set_rows(image_rows(ready))

        try:
            # A removable-media plan's medium becomes the bundle in run_job itself (as for the CLI);
            # its steps land in the log.
            run = await run_job(Job(plan, write_outputs=False), auth=wizard_auth(state), on_event=progress.feed,
                                cancel=cancel, on_prepared=prepared, on_message=progress.add_log)
        except Cancelled:
            progress.add_log(CANCELLED_TEXT)
            progress.finish(cancelled=True)
            return
        except MirrorError as exc:
            progress.add_log(f"error: {error_text(exc)}")
            self.mirror_error_code = exc.code
            progress.finish(error=error_text(exc))
            self._unmark_fix_step()
            return
        result = run.copy
        assert result is not None
        state.mirror_result = result
        if result.ok:
            progress.add_log(f"done: {result.images_done} images, {result.blobs_copied} blobs copied, "
                             f"{result.blobs_skipped} already there, {result.blobs_mounted} mounted")
            if run.bundle is not None:
                for warning in run.bundle.warnings:
                    progress.add_log(f"warning: {warning}")
                progress.add_log(f"bundle ready in {run.bundle.directory}: {plural(run.bundle.files, 'file')} "
                                 f"({human_bytes(run.bundle.bytes)}), SHA256SUMS written last; carry the whole "
                                 f"folder to the mirror host (its README.txt says what to run there)")
            progress.finish()
        else:
            first = result.failures[0]
            more = f" (and {len(result.failures) - 1} more, see the log)" if len(result.failures) > 1 else ""
            progress.finish(error=f"{plural(len(result.failures), 'image')} failed — {first.destination}: "
                                  f"{first.error}{more}"
                                  + ("" if fix_instead_of_resume({f.error.code for f in result.failures})
                                     else ". Resume retries them"))
            self._unmark_fix_step()

    def _unmark_fix_step(self) -> None:
        """A failure only another step's answer fixes (an untrusted release key, a refused login): that
        step loses its ✓ in the step bar, as it no longer holds a working answer."""
        step = last_run_fix_step(self.state, self.mirror_error_code)
        if step is not None:
            self.state.visited.discard(step)

    def cancel_mirror(self) -> None:
        """Stop the copy now: the cancel event for the engine's own checks, and the worker's task
        cancelled so a read stuck on a silent registry ends at once rather than at its timeout."""
        if not self.mirror_running:
            return
        if self.mirror_cancel is not None:
            self.mirror_cancel.set()
        self.state.progress.add_log("cancelling …")
        if self.mirror_worker is not None:
            self.mirror_worker.cancel()

    def confirm_cancel_mirror(self) -> None:
        if not self.mirror_running:
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.cancel_mirror()

        question = ConfirmScreen(
            "Cancel the mirror?",
            "Transfers in flight stop; nothing half-written is kept. Press Resume later and only what is "
            "missing is copied.", yes="Cancel the mirror", no="Keep copying")
        question.about_copy = True
        self.push_screen(question, answer)

    def mirror_summary(self) -> str:
        state = self.state
        parts = []
        if state.release.chosen and state.release.is_path:
            # An update path is several releases: name its ends (and how many), not just the last one.
            hops = f" ({len(state.path_releases)} releases)" if state.path_releases else ""
            parts.append(f"releases {state.release.from_version} → {state.release.version}{hops}")
        elif state.release.chosen:
            parts.append(f"release {state.release_version()}")
        if state.samples.chosen:
            parts.append("image streams")
        where = state.release_target() if state.release.mode != ReleaseMode.TO_DIR else state.release.directory
        return (" + ".join(parts) + f" → {where}") if parts else ""

    def quit_reasons(self) -> list[str]:
        return quit_reasons(self.state, QuitFacts(mirror_running=self.mirror_running,
                                                  initial_key=self.initial_plan_key, applied=self.applied))

    async def action_quit(self) -> None:
        """Quit at once when nothing would be lost; otherwise say what would be, and ask."""
        if self._quit_asked:
            return
        reasons = self.quit_reasons()
        if not reasons:
            self.exit(0)
            return
        running = self.mirror_running

        def answer(yes: bool | None) -> None:
            self._quit_asked = False
            if not yes:
                return
            if running and self.mirror_running:
                self.cancel_mirror()
                self.run_worker(self._quit_after_mirror(), group="quit", exit_on_error=False)
            else:
                self.exit(0)

        self._quit_asked = True
        question = "A mirror is running. Stop it and quit?" if running else "Quit the wizard?"
        screen = ConfirmScreen(question, "\n".join(f"• {r}" for r in reasons),
                               yes="Stop and quit" if running else "Quit", no="Keep copying" if running else "Stay")
        screen.about_copy = running
        screen.about_quit = True
        self.push_screen(screen, answer)

    async def _quit_after_mirror(self) -> None:
        if self.mirror_worker is not None:
            try:
                await self.mirror_worker.wait()
            except Exception:  # WorkerFailed / WorkerCancelled: quitting anyway
                pass
        self.exit(130, return_code=130)

    # -- workers -------------------------------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Workers run with exit_on_error=False: an unexpected failure is shown, never a crash."""
        if event.worker.group == "apply-run" and event.state == WorkerState.SUCCESS:
            # The Done step's Apply with oc ran: the Verify step asks the cluster again when next shown.
            self.state.cluster_applies += 1
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.notify(error_text(event.worker.error), title="Something went wrong", severity="error", timeout=10)


def first_step_for(state: WizardState) -> str:
    """Where a reopened plan starts: the first step that still needs the admin, not Preflight. A plan
    that names everything starts at the CA step when it names a CA (checked on arrival), else at Review
    (its Start goes on to the Mirror step, which looks at what the mirror holds already); the steps
    before the start count as visited."""
    plan = state.plan
    host = plan.mirror.registry
    if not plan.auth_file or not host:
        return "credentials"
    try:
        has_login = wizard_auth(state).lookup(host) is not None
    except MirrorError:
        return "credentials"  # the file is unreadable here: the Credentials step says why
    if not has_login:
        return "credentials"  # e.g. the far side of removable media: the mirror's login is added there
    release, samples = state.release, state.samples
    if not release.chosen and not samples.chosen:
        return "release"
    if release.chosen and not (release.version or release.source or release.mode == ReleaseMode.FROM_DIR):
        return "release"
    if plan.mirror.ca_file:
        # The CA is checked against the mirror on arrival there (Review and Done would otherwise call it
        # unverified and leave it out): one look, then Next.
        return "ca"
    return "review"


def run_app(plan_path: str | None, *, reopen: bool = False, notes: list[str] | None = None) -> int:
    """Entry point for ``mirror-wizard`` and ``mirror-wizard demo``: open the wizard, prefilled from a plan.
    ``reopen`` (``mirror-wizard --plan``, ``demo --dir`` on a saved plan): start at the first step that
    still needs the admin; a new demo starts at Preflight, as a first walk should. ``notes``: what was done
    to the admin's files before (printed too, but the wizard's screen covers the terminal), shown once."""
    state = WizardState.from_path(plan_path)  # a broken plan is a PlanError the CLI prints
    start = first_step_for(state) if reopen and plan_path is not None else None
    if start is not None:
        state.visited.update(STEP_KEYS[:STEP_KEYS.index(start)])
    app = MirrorWizardApp(state, start=start, reopened=start is not None)
    app.startup_notes = list(notes or [])
    app.run()
    return int(app.return_code or 0)


__all__ = ["MirrorWizardApp", "Path", "run_app"]
