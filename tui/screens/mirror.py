"""Step 7, Mirror: the copy, live. The copy itself runs on the App (tui.app.MirrorWizardApp.start_mirror)
so it survives moving between steps; this screen redraws from tui.state.MirrorProgress on a timer."""

from __future__ import annotations

import os
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.events import Resize
from textual.widgets import Button, DataTable, ProgressBar, RichLog, Sparkline, Static

from core.errors import ErrorCode
from core.filenames import SAMPLES_MAPPING_FILE
from core.plan import ReleaseMode
from core.progress import Progress, RowState
from core.run import output_folder
from core.text import human_bytes, human_seconds, plural
from core.text import shell_quote as q
from core.usecases.documents import mirror_step_commands
from tui.screens.base import StepScreen
from tui.state import STEP_TITLES, WizardState, middle_ellipsis
from tui.widgets.note import Note

ROW_LOOK = {
    # $text-muted on the zebra stripes was nearly invisible: plain text, just not bold.
    RowState.WAITING: ("· waiting", "$foreground"),
    RowState.COPYING: ("⇣ copying", "bold $accent"),
    RowState.COPIED: ("✓ copied", "$success"),
    RowState.PRESENT: ("= present", "$success 70%"),
    RowState.FAILED: ("✗ failed", "bold $error"),
}
REFRESH_SECONDS = 0.25
STATE_WIDTH = 10


def bytes_text(progress: Progress) -> str:
    """"1.2 GiB/3.4 GiB moved · 500 MiB there": the numbers the CLI's line shows too (what the mirror
    already had is said apart, never counted as moved)."""
    text = f"{human_bytes(progress.bytes_moved_of_plan)}/{human_bytes(progress.bytes_to_move)} moved"
    if progress.bytes_not_moving:
        text += f" · {human_bytes(progress.bytes_not_moving)} {progress.not_moving_word}"
    return text


def rate_text(progress: Progress) -> str:
    """The speed, only ever of bytes that moved: the recent rate while copying, and at the end bytes
    moved over the time spent moving them. A run that moved nothing says so instead of "0 B/s"."""
    if progress.running:
        if not progress.bytes_moved:
            return "–"  # nothing has moved yet (reading manifests, or everything is there)
        if progress.rate > 0:
            return f"{human_bytes(progress.rate)}/s"
        # No byte in the last seconds (manifests and tags being written): the average, said as one.
        return f"{human_bytes(progress.throughput)}/s avg"
    if progress.ended_at is None:
        return ""
    return f"{human_bytes(progress.throughput)}/s" if progress.bytes_moved else "nothing moved"


def eta_text(progress: Progress) -> str:
    """Time left while copying (never "finishing" while images remain: the images still to write are
    counted instead), and what the run took once it ended."""
    if progress.running:
        so_far = human_seconds(progress.elapsed)
        left = progress.images_left
        if progress.planned and not left and progress.total_images and not progress.bytes_remaining:
            # Every image is there but the run goes on (the medium's bundle, the outputs): not "ETA 0s".
            return f"all images copied · writing what goes with them (see the log) · {so_far} so far"
        eta = progress.eta  # smoothed in core.progress, the images' pace included: never raised here
        bytes_all_but_done = progress.bytes_to_move and progress.bytes_moved_of_plan >= 0.99 * progress.bytes_to_move
        if progress.finishing or (left and bytes_all_but_done and not progress.images_finished):
            # The bytes are (all but) there and images are still being written: how many, not "1s".
            return f"{plural(left, 'image')} to write · {so_far} so far"
        return f"ETA {human_seconds(eta)} · {so_far} so far"
    if progress.ended_at is None:
        return ""
    text = f"took {human_seconds(progress.elapsed)}"
    if progress.bytes_moved:
        text += f", {human_seconds(progress.seconds_moving)} moving"
    return text


# Failures Resume cannot help (the same answer fails the same way): the step where the answer changes.
NOT_TRANSIENT: dict[ErrorCode, str] = {
    ErrorCode.LOGIN_MISSING: "go back to the Credentials step and add the registry's login",
    ErrorCode.LOGIN_REFUSED: "go back to the Credentials step: the registry refused the login",
    ErrorCode.RELEASE_KEY_UNTRUSTED: "go back to the Release step and trust the release's key (Release keys)",
    ErrorCode.TLS_UNTRUSTED: "go back to the CA step and trust the registry's CA",
}


def fix_instead_of_resume(codes: set[ErrorCode]) -> str | None:
    """What to fix when every failure of the last run had the one same non-transient code (None: Resume
    may help — a network blip, a registry restart, several different reasons)."""
    if len(codes) != 1:
        return None
    return NOT_TRANSIENT.get(next(iter(codes)))


def last_run_fix(state: WizardState, stopped_by: ErrorCode | None) -> str | None:
    """fix_instead_of_resume for the wizard's last mirror run: its failed images' codes, or ``stopped_by``,
    the code of the engine error that stopped it before any image (the app's mirror_error_code)."""
    progress = state.progress
    if not progress.error:
        return None
    result = state.mirror_result
    if result is not None and result.failures:
        return fix_instead_of_resume({failure.error.code for failure in result.failures})
    return fix_instead_of_resume({stopped_by}) if stopped_by is not None else None


# The step where each NOT_TRANSIENT answer changes (the Mirror step's button goes there).
FIX_STEP: dict[ErrorCode, str] = {
    ErrorCode.LOGIN_MISSING: "credentials",
    ErrorCode.LOGIN_REFUSED: "credentials",
    ErrorCode.RELEASE_KEY_UNTRUSTED: "release",
    ErrorCode.TLS_UNTRUSTED: "ca",
}


def last_run_codes(state: WizardState, stopped_by: ErrorCode | None) -> set[ErrorCode]:
    """The codes the last run failed with: its failed images', or the one that stopped it before any."""
    if not state.progress.error:
        return set()
    result = state.mirror_result
    if result is not None and result.failures:
        return {failure.error.code for failure in result.failures}
    return {stopped_by} if stopped_by is not None else set()


def last_run_fix_step(state: WizardState, stopped_by: ErrorCode | None) -> str | None:
    """The step whose answer the last run's one non-transient failure needs changed (None: Resume may help)."""
    codes = last_run_codes(state, stopped_by)
    return FIX_STEP.get(next(iter(codes))) if len(codes) == 1 else None


class MirrorScreen(StepScreen):
    STEP = "mirror"
    BODY_SCROLLS = False
    NEXT_LABEL = "Done ▶"
    fix_step: str | None = None  # the step the last run's failure is fixed on (the Start button goes there)
    BINDINGS = [
        Binding("ctrl+r", "start", "Start"),  # the button says Start, Resume or Run again
        Binding("ctrl+x", "cancel_copy", "Cancel"),
    ]

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="title-row"):
            yield Static("Mirror", classes="step-title")
            yield Note(id="what", classes="hint")
        with Horizontal(classes="bar-row"):
            yield Static("Bytes ", classes="bar-label")
            yield ProgressBar(id="bytes-bar", show_eta=False)
            yield Static(id="bytes-text", classes="bar-text")
        with Horizontal(classes="bar-row"):
            yield Static("Images", classes="bar-label")
            yield ProgressBar(id="images-bar", show_eta=False)
            yield Static(id="images-text", classes="bar-text")
        with Horizontal(classes="bar-row"):
            yield Static(id="rate", classes="bar-label-wide")
            yield Sparkline([], id="spark")
            yield Static(id="eta", classes="bar-text")
        yield DataTable(id="images", cursor_type="row", zebra_stripes=True)
        # Wrapped, so a failure's reason is readable at 80 columns (a Log would cut it off).
        yield RichLog(id="log", max_lines=1000, wrap=True, markup=False, min_width=20)
        with Horizontal(classes="row buttons") as row:
            # Room for the graph-data image's line under a wrapped outcome (app.tcss allows 4 lines); only
            # a long outcome takes it, at the end of a copy.
            row.styles.max_height = 7
            yield Button("Start", id="start", variant="primary", compact=True)
            yield Button("Cancel", id="cancel", variant="error", compact=True)
            yield Static(id="outcome")

    def prefill(self) -> None:
        table = self.query_one("#images", DataTable)
        table.add_column("state", key="state", width=STATE_WIDTH)
        table.add_column("image", key="image", width=20)
        table.add_column("to", key="to", width=20)
        self._row_states: dict[str, str] = {}
        self._log_seq = 0
        self._table_for: int | None = None
        self.set_interval(REFRESH_SECONDS, self.redraw)
        self.redraw()

    def step_shown(self) -> None:
        progress = self.state.progress
        # Started only by the Review step's Start mirror button (never by Ctrl+N passing through).
        start, self.wizard.start_on_arrival = self.wizard.start_on_arrival, False
        if start and not progress.running and not self.state.mirror_complete():
            self.wizard.start_mirror()  # the first run, or Resume after a cancel, a failure or a plan change
        elif self.state.mirror_stale and not progress.running and not self.to_media():
            # The mirror changed after the last run (a prune): look again, as for a reopened plan, never
            # "✓ mirror complete" from before it.
            if self.wizard.auto_check:
                self.wizard.check_mirror()
        elif not self.wizard.mirror_started and progress.started_at is None:
            if self.wizard.auto_check and not self.to_media():
                # A reopened plan: the mirror may hold it all already (Review's sizes know it). Look first,
                # as never "nothing copied yet" beside a complete mirror.
                self.wizard.check_mirror()
            else:
                self.set_status("nothing copied yet: press Start (Ctrl+R) to mirror the plan")
        self.redraw()

    def to_media(self) -> bool:
        return self.state.release.mode == ReleaseMode.TO_DIR

    def complete(self) -> bool:
        """The last mirror finished, for the plan as it is now (and nothing was pruned since)."""
        return self.state.mirror_complete()

    def first_focus(self) -> str:
        progress = self.state.progress
        if progress.running:
            return "#cancel"
        return "#next" if self.complete() else "#start"

    def on_resize(self, event: Resize) -> None:
        if hasattr(self, "_row_states"):  # after prefill
            self._table_for = None  # rebuilt for the new width on the next redraw
            self.call_after_refresh(self.redraw)

    def _widths(self) -> dict[str, int]:
        """state | image | to, all on screen: the image name gets what it needs up to half, "to" the
        rest; both cut in the middle so the repository and the tag stay readable."""
        width = self.query_one("#images", DataTable).size.width or self.app.size.width - 2
        room = width - STATE_WIDTH - 2 * 3 - 2  # cell padding, the vertical scrollbar
        want = max([len("image")] + [len(r.label) for r in self.state.progress.rows.values()])
        image = max(min(want, room // 2), 8)
        return {"image": image, "to": max(room - image, 8)}

    def _set_widths(self, widths: dict[str, int]) -> None:
        table = self.query_one("#images", DataTable)
        for key, column in table.columns.items():
            wanted = widths.get(str(key.value))
            if wanted is not None and column.width != wanted:
                column.width, column.auto_width = wanted, False
        table.refresh(layout=True)

    # -- buttons -------------------------------------------------------------------------------------

    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        step = self.fix_step
        if step is not None and not self.state.progress.running:
            self.run_worker(self.wizard.goto(step), group="fix-step", exit_on_error=False)
            return
        self.wizard.start_mirror()

    @on(Button.Pressed, "#cancel")
    def action_cancel_copy(self) -> None:
        self.wizard.confirm_cancel_mirror()

    # -- drawing -------------------------------------------------------------------------------------

    def redraw(self) -> None:
        progress = self.state.progress
        progress.tick()
        # Only bytes that cross the wire are progress; what the mirror already had is shown apart.
        to_move = progress.bytes_to_move
        bytes_bar = self.query_one("#bytes-bar", ProgressBar)
        if not progress.running and self.state.mirror_out_of_date():
            # The last run was for another plan: its 100 % says nothing about this one (issue 26).
            bytes_bar.update(total=1, progress=0)
            self.query_one("#bytes-text", Static).update("the plan changed since the last run: Resume checks it")
            self.query_one("#images-bar", ProgressBar).update(total=1, progress=0)
            self.query_one("#images-text", Static).update("")
            self.query_one("#rate", Static).update("")
            self.query_one("#spark", Sparkline).data = []
            self.query_one("#eta", Static).update("")
            self._draw_rows()
            self._draw_log()
            self._draw_buttons()
            return
        if not progress.planned and not progress.running:
            bytes_bar.update(total=1, progress=0)  # nothing started: an empty bar, not a busy one
        elif progress.planned and to_move == 0:
            bytes_bar.update(total=1, progress=1)  # nothing to move at all: a full bar, not an empty one
        else:
            bytes_bar.update(total=to_move or None, progress=min(progress.bytes_moved_of_plan, to_move))
        self.query_one("#bytes-text", Static).update(bytes_text(progress) if progress.planned else
                                                     ("reading manifests …" if progress.running else ""))
        images_bar = self.query_one("#images-bar", ProgressBar)
        finished = progress.images_finished
        images_bar.update(total=progress.total_images or (None if progress.running else 1), progress=finished)
        extra = []
        if progress.images_present:
            extra.append(f"{progress.images_present} already there")
        if progress.images_failed:
            extra.append(f"{progress.images_failed} failed")
        self.query_one("#images-text", Static).update(
            f"{finished} of {progress.total_images}" + (f" ({', '.join(extra)})" if extra else ""))
        self.query_one("#rate", Static).update(rate_text(progress))
        rates = list(progress.rates)[-40:]
        # An all-zero series would draw as a full bar: nothing moved, so draw nothing.
        self.query_one("#spark", Sparkline).data = rates if any(rates) else []
        self.query_one("#eta", Static).update(eta_text(progress))
        self._draw_rows()
        self._draw_log()
        self._draw_buttons()

    def _draw_rows(self) -> None:
        table = self.query_one("#images", DataTable)
        rows = self.state.progress.rows
        if self._table_for != id(rows) or len(rows) != table.row_count:
            table.clear()
            widths = self._widths()
            self._set_widths(widths)
            self._row_states = {}
            for key, row in rows.items():
                label, style = ROW_LOOK.get(row.state, (row.state, ""))
                table.add_row(Content.styled(label, style), middle_ellipsis(row.label, widths["image"]),
                              middle_ellipsis(self._short(row.destination), widths["to"]), key=key)
                self._row_states[key] = row.state
            self._table_for = id(rows)
            return
        for key, row in rows.items():
            if self._row_states.get(key) != row.state:
                label, style = ROW_LOOK.get(row.state, (row.state, ""))
                table.update_cell(key, "state", Content.styled(label, style))
                self._row_states[key] = row.state

    def _short(self, destination: str) -> str:
        """The destination without the mirror's host or the medium's folder, which the title line
        already names ("oci:/mnt/media:openshift/release:4.17.3-x86_64-cli" → "openshift/release:…")."""
        host = self.state.mirror_host
        if host and destination.startswith(host + "/"):
            return destination[len(host) + 1:]
        for prefix in self._medium_prefixes():
            if destination.startswith(prefix):
                return destination[len(prefix):]
        return destination

    def _medium_prefixes(self) -> list[str]:
        """"oci:FOLDER:" as the engine may write the medium's folder (as typed, expanded, absolute)."""
        folder = self.state.release.directory
        if not folder:
            return []
        forms = [folder, os.path.expanduser(folder), os.path.abspath(os.path.expanduser(folder))]
        return [f"oci:{form}:" for form in dict.fromkeys(forms)]

    def _draw_log(self) -> None:
        progress = self.state.progress
        new = progress.log_seq - self._log_seq
        if new <= 0:
            if new < 0:  # a new run started
                self.query_one("#log", RichLog).clear()
                self._log_seq = 0
            return
        log = self.query_one("#log", RichLog)
        prefixes = self._medium_prefixes()
        for line in list(progress.log)[-min(new, len(progress.log)):]:
            for prefix in prefixes:  # "copied  oci:/long/folder:name" as "copied  name": the title says where
                line = line.replace(prefix, "")
            log.write(line)
        self._log_seq = progress.log_seq

    def _draw_buttons(self) -> None:
        progress = self.state.progress
        start = self.query_one("#start", Button)
        start.disabled = progress.running
        changed = not progress.running and progress.finished and self.state.mirror_stale
        stale = not progress.running and self.state.mirror_out_of_date() or changed
        fix = None if stale else last_run_fix(self.state, self.wizard.mirror_error_code)
        # The fix is on another step: the button goes there (the same copy would fail the same way).
        self.fix_step = None if stale else last_run_fix_step(self.state, self.wizard.mirror_error_code)
        start.label = (f"Go to {STEP_TITLES[self.fix_step]} ◀" if self.fix_step
                       else "Run again" if fix else "Resume" if (progress.cancelled or progress.error or stale)
                       else ("Run again" if progress.finished else "Start"))
        self.query_one("#cancel", Button).disabled = not progress.running
        outcome = self.query_one("#outcome", Static)
        if progress.running:
            outcome.update(Content.styled("copying — Cancel keeps everything copied so far", "$text-muted"))
        elif changed:
            # The look's own count lands in mirror_missing; the button says Resume, so the line does too.
            outcome.update(Content.styled(self.wizard.check_note, "$text-muted") if self.wizard.mirror_checking
                           else Content.styled(f"! {self.state.mirror_stale_note()}: Resume copies only what "
                                               "is missing", "bold $warning"))
        elif stale:
            outcome.update(Content.styled("! out of date: the plan changed after this mirror — Resume copies only "
                                          "what is missing", "bold $warning"))
        elif progress.cancelled:
            outcome.update(Content.styled("cancelled — everything copied so far is kept; Resume copies only "
                                          "what's missing", "$warning"))
        elif progress.error:
            outcome.update(Content.styled(f"✗ {progress.error}" + (f"\n→ {fix}, then Run again" if fix else ""),
                                          "$error"))
        elif progress.finished and self.state.mirror_checked:
            outcome.update(Content.styled("✓ the mirror holds everything this plan names (checked now, "
                                          "nothing to copy)", "bold $success"))
        elif progress.finished:
            # Removable media: the images are on the medium, not yet in any registry; say so.
            done = ("✓ on the removable media — the registry gets them on the other side" if self.to_media()
                    else "✓ mirror complete")
            if progress.bytes_mounted:
                # "mounted" on the bytes line is the registry's word: a layer it already had elsewhere.
                done += " (mounted: layers the registry had in another repository, linked there, not sent)"
            # The graph-data image is built before the copy and has no row: the run's own line says it
            # was written and where (core.run.Prepared.graph_image_line, as the CLI's summary prints it).
            prepared = self.state.current_prepared()
            graph = prepared.graph_image_line() if prepared is not None else None
            if graph is not None:
                done += "\n✓ " + graph
            outcome.update(Content.styled(done, "bold $success"))
        elif self.wizard.check_note:
            outcome.update(Content.styled(self.wizard.check_note, "$text-muted" if self.wizard.mirror_checking
                                          else "$warning"))
        else:
            outcome.update("")
        # The status line follows the run: a "not completed" or "still running" said before it ended
        # never stays beside the outcome it contradicts.
        phase = ("running" if progress.running else "changed" if changed else "stale" if stale
                 else "cancelled" if progress.cancelled
                 else "error" if progress.error else "finished" if progress.finished
                 else "checking" if self.wizard.mirror_checking else "checked" if self.wizard.check_note
                 else "idle")
        if phase != getattr(self, "_phase", None):
            if getattr(self, "_phase", None) is not None or phase != "idle":
                self.set_status(*{
                    "running": ("copying — Esc shows other steps", "info"),
                    "stale": ("the plan changed after this mirror: Resume copies what is missing", "warn"),
                    "changed": (f"{self.state.mirror_stale_note()}: Resume copies what is missing", "warn"),
                    "cancelled": ("cancelled: Resume copies only what is missing", "warn"),
                    "error": ((f"the mirror did not complete: {last_run_fix(self.state, self.wizard.mirror_error_code)}"
                               if last_run_fix(self.state, self.wizard.mirror_error_code)
                               else "the mirror did not complete: Resume tries again"), "error"),
                    "finished": (("✓ copied to the removable media: Done ▶ says what to carry and what to run "
                                  "on the mirror host") if self.to_media()
                                 else "✓ mirror complete: Done ▶ shows what the cluster needs", "ok"),
                    "checking": ("checking what the mirror already holds …", "info"),
                    "checked": ("press Start (Ctrl+R) to mirror the plan", "warn"),
                    "idle": ("", "info"),
                }[phase])
            self._phase = phase
        if progress.running and self.state.mirror_out_of_date():
            outcome.update(Content.styled("! copying the plan as it was when it started: your changes since "
                                          "need Resume once it ends", "bold $warning"))
        what = self.wizard.mirror_summary()
        self.query_one("#what", Static).update(what)
        if self.app.screen is self and self.focused is None:  # Cancel just became disabled
            self.focus_first()

    # -- leaving -------------------------------------------------------------------------------------

    async def can_leave(self) -> bool:
        progress = self.state.progress
        if progress.running:
            self.set_status("the mirror is still running: wait, or Cancel it", "error")
            return False
        if self.state.mirror_out_of_date():
            self.set_status("the plan changed after this mirror: press Resume to copy what is missing", "error")
            return False
        if progress.finished and self.state.mirror_stale:
            self.set_status(f"{self.state.mirror_stale_note()}: press Resume to copy what is missing", "error")
            return False
        if self.wizard.mirror_checking and not progress.finished:
            self.set_status("checking what the mirror already holds: a moment", "info")
            return False
        if not progress.finished:
            fix = last_run_fix(self.state, self.wizard.mirror_error_code)
            self.set_status(f"the mirror has not completed: {fix}" if fix else "the mirror has not completed: press " +
                            ("Resume" if progress.cancelled or progress.error else "Start"), "error")
            return False
        return True

    def help_prose(self) -> str:
        return ("Every image is read once from the source and written to the mirror: layers first (a layer "
                "already in the mirror is skipped, one in another repository of the mirror is mounted), then "
                "the manifest by digest, then its tag. A cancelled or failed run leaves nothing half-written; "
                "running it again copies only what is missing.")

    def help_commands(self) -> list[str]:
        state = self.state
        # One generator (core.usecases.documents.mirror_step_commands, on core.runbook's): every release of
        # an update path, each command with the plan's login, CAs, release keys, graph file and to-release-image.
        path = [(i.version, i.digest) for i in state.current_path()]
        mapping = output_folder(Path(state.plan.output_dir or ".")) / SAMPLES_MAPPING_FILE
        return mirror_step_commands(state.plan_for_saving(), q(state.plan.auth_file or "<pull-secret.json>"),
                                    path=path, mapping_file=str(mapping), plan_file=str(state.save_path()))
