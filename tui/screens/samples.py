"""Step 4, Image streams: which of the Cluster Samples Operator's streams to mirror.

Every stream left out goes into ``skippedImagestreams`` so the operator does not keep trying (and
alerting) to import it from a mirror that does not have it.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.events import Resize
from textual.widgets import Button, DataTable, Input, Select, Static
from textual.worker import Worker

from core.errors import ErrorCode, MirrorError
from core.filenames import SAMPLES_MAPPING_FILE
from core.plan import SamplesChoice, SamplesSource
from core.reference import is_registry_host
from core.release_samples import CONTENT_ROOT
from core.samples import measure_streams, oc_image_mirror_command
from core.text import human_bytes, plural
from core.text import shell_quote as q
from core.usecases.samples import load_streams as read_streams
from tui.access import wizard_session
from tui.screens.base import StepScreen
from tui.state import (
    error_text,
    keep_update_path,
    middle_ellipsis,
    path_readable,
    read_one_release,
    read_update_path,
    release_readable,
)
from tui.widgets.field import Field
from tui.widgets.note import Note
from tui.widgets.readable import ReadableText
from tui.widgets.tickbox import TickBox

NAME_WIDTH = 28
STATUS_BESIDE_BUTTONS = 52  # columns the bottom bar's buttons and padding leave the status out of
FIXED_COLUMNS = 1 + 4 + 6 + 9  # on, tags, images, size
NONE = "none"  # no streams: source files with no path (what the plan saves for it)
SOURCES = [("from the release (its samples operator's image)", "release"),
           ("ImageStream files (a folder or file)", "files"),
           ("the imagestreamtag-to-image config map", "configmap"),
           ("the cluster (oc get is -n openshift)", "cluster"),
           ("none: mirror no image streams", NONE)]


NAME_ROOM = 32  # every shipped stream name but one fits
FROM_MIN = 18  # "…access.redhat.com" whole


def from_text(registries: list[str]) -> str:
    """The registries a stream pulls from, by their real names (an admin logs in to, and mirrors from,
    registry.redhat.io; "redhat.io" is no registry)."""
    return ", ".join(registries)


def fit_from(registries: list[str], width: int) -> str:
    """``from_text`` in ``width``: whole when it fits, else each name loses its "registry." with a
    leading "…" (still plainly cut, and the part that tells them apart stays), else cut in the middle."""
    whole = from_text(registries)
    if len(whole) <= width:
        return whole
    short = ", ".join("…" + h.removeprefix("registry.") if h.startswith("registry.") else h for h in registries)
    return short if len(short) <= width else middle_ellipsis(short, width)


class StreamTable(DataTable[str | Content]):
    """Space (or Enter, or a click) toggles a stream; a selects all shown, n none, u undoes a or n.

    a and n change every shown row with one key: a stray one must never go unnoticed, so it says what it
    did on the status line and u takes it back at once (issue 26)."""

    BINDINGS = [
        # Not in the footer: the line under the table says them, and the footer keeps room for Save plan.
        Binding("space", "toggle_stream", "Toggle", show=False),
        Binding("a", "all", "All", show=False),
        Binding("n", "none", "None", show=False),
        Binding("u", "undo", "Undo", show=False),
    ]

    def on_resize(self, event: Resize) -> None:
        # The table itself can change width without the screen doing so (the step's scrollbar comes
        # and goes as the content grows): the columns follow it.
        screen = self.screen
        if isinstance(screen, SamplesScreen) and screen.state.streams:
            screen.call_after_refresh(screen.fill_table, scroll=False)  # never moves the step's view

    def action_toggle_stream(self) -> None:  # not action_toggle: DOMNode's toggles an attribute
        screen = self.screen
        if self.row_count and isinstance(screen, SamplesScreen):
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
            screen.toggle(str(key))

    def action_all(self) -> None:
        if isinstance(self.screen, SamplesScreen):
            self.screen.select_shown(True)

    def action_none(self) -> None:
        if isinstance(self.screen, SamplesScreen):
            self.screen.select_shown(False)

    def action_undo(self) -> None:
        if isinstance(self.screen, SamplesScreen):
            self.screen.undo_selection()


class SamplesScreen(StepScreen):
    STEP = "samples"

    def compose_body(self) -> ComposeResult:
        yield Static("Image streams", classes="step-title")
        yield Static("The samples image streams (builders and databases in the openshift namespace) pull from "
                     "registry.redhat.io. Pick the ones your developers need; the rest are skipped.",
                     classes="lead")
        # The procedure's words: these four are part of the install payload, not the operator's.
        yield Static("The cli, installer, must-gather and tests streams are not the samples operator's: they "
                     "come with the release, and the release mirror carries them.", classes="hint",
                     id="payload-streams")
        with Horizontal(classes="row"):
            # Composed with the plan's choice: a first Changed for another value would read as the admin's.
            self.default_to_release()
            yield Select(SOURCES, id="source", allow_blank=False, value=self.source_value(), compact=True)
        with Horizontal(classes="row", id="path-row"):
            # Not selected on focus: a Space typed there (meant for the table) would erase the path.
            yield Field(id="path", placeholder="folder of ImageStream JSON/YAML, or the config map YAML", compact=True,
                        select_on_focus=False)
            yield Button("Load", id="load", compact=True)
        yield Note(id="streams-error", classes="inline-error")
        yield Note(id="streams-from", classes="hint")
        with Horizontal(classes="row"):
            yield Field(id="filter", placeholder="filter by name or image …", compact=True)
            yield Button("All", id="all", compact=True)
            yield Button("None", id="none", compact=True)
            yield Button("Sizes", id="sizes", compact=True)
        yield StreamTable(id="streams", cursor_type="row", zebra_stripes=True)
        yield Note(id="selection", classes="hint")
        # No stream selected is not "no samples": the operator would be Managed with every stream skipped.
        # The procedure's answer for no samples is Removed, offered here where the admin meets it.
        yield Note(id="none-selected", classes="inline-error")
        yield Button("Mirror none: keep the operator Removed", id="use-removed", compact=True)
        yield Static("samplesRegistry (where the operator will pull from)", classes="field-label")
        yield Field(id="samples-mirror", placeholder="defaults to the mirror registry", compact=True)
        yield Note(id="mirror-error", classes="inline-error")
        yield Static("Keep the samples operator Removed while you mirror; set it to Managed once its images "
                     "are in the mirror (Done writes that Config). No samples at all: leave it Removed.",
                     classes="hint", id="removed-note")
        # oc image mirror's "unable to retrieve source image": the procedure's answer is --skip-missing.
        yield TickBox("Skip images the source no longer has (\"unable to retrieve source image\"; "
                      "--skip-missing)", id="skip-missing", compact=True)
        yield Static("The operator's Config, as it will be patched", classes="section")
        yield ReadableText(id="config", classes="yaml")  # Tab reaches it at 80x24; arrows scroll it

    def first_focus(self) -> str:
        return "#streams" if self.state.streams else "#path"

    # -- loading -------------------------------------------------------------------------------------

    def prefill(self) -> None:
        choice = self.state.samples
        self.default_to_release()
        self.query_one("#source", Select).value = self.source_value()
        self.query_one("#path", Input).value = choice.path or ""
        mirror = choice.mirror if choice.mirror and choice.mirror != self.state.mirror_host else ""
        self.query_one("#samples-mirror", Input).value = mirror
        self.query_one("#skip-missing", TickBox).value = self.state.plan.options.skip_missing
        table = self.query_one(StreamTable)
        table.add_column("", key="on", width=1)
        table.add_column("stream", key="name", width=NAME_WIDTH)
        table.add_column("tags", key="tags", width=4)
        table.add_column("images", key="images", width=6)
        table.add_column("size", key="size", width=9)
        table.add_column("from", key="from", width=10)
        self.show_source()
        # "Mirror none" answers a list with nothing selected: never shown before a list is there.
        self.query_one("#use-removed", Button).display = False
        reopen = next((w for w in self.app.workers if w.group == "reopen" and w.is_running), None)
        if reopen is not None and not self.state.streams:
            # A reopened plan's facts (the release, its streams) are being read: wait for them, saying so,
            # rather than a "not loaded" beside an empty list.
            self.set_status("loading image streams …")
            self.load_after(reopen)
        else:
            self.load_first()
        self.update_config()

    def load_first(self) -> None:
        choice = self.state.samples
        if self.state.streams and not self.release_streams_stale():
            if choice.source == SamplesSource.RELEASE:
                self.show_release_origin()  # read before this step was shown (a reopened plan)
            self.fill_table()
            # Read before this step was shown (a reopened plan): said as a load here says it, never a blank line.
            self.set_status(self.loaded_text(), "ok")
        elif choice.source == SamplesSource.RELEASE:
            self.load_release_streams()
        elif choice.path or choice.source == SamplesSource.CLUSTER:
            self.load_streams()

    @work(group="streams-wait", exit_on_error=False)
    async def load_after(self, reopen: Worker[object]) -> None:
        try:
            await reopen.wait()
        except Exception:  # WorkerFailed / WorkerCancelled: the load below says what is wrong, if anything
            pass
        self.load_first()
        if self.state.streams:
            self.loaded()

    def step_shown(self) -> None:
        if self.default_to_release():
            with self.prevent(Select.Changed):
                self.query_one("#source", Select).value = self.source_value()
            self.show_source()
        if self.state.samples.source == SamplesSource.RELEASE and self.release_streams_stale():
            self.load_release_streams()  # another release was chosen since they were read
        self.update_config()

    def default_to_release(self) -> bool:
        """Once a release is chosen, its own streams are the default (once: the admin's choice stays)."""
        state = self.state
        choice = state.samples
        if state.samples_defaulted or not (state.release.chosen or state.release_info is not None):
            return False
        state.samples_defaulted = True
        if choice.source == SamplesSource.FILES and not choice.paths:
            choice.source = SamplesSource.RELEASE
            state.samples_by_default = True
            return True
        return False

    def source_value(self) -> str:
        choice = self.state.samples
        if choice.source == SamplesSource.FILES and not choice.paths and not self.state.streams:
            return NONE if self.state.samples_defaulted else str(choice.source)
        return str(choice.source)

    def release_streams_stale(self) -> bool:
        info = self.state.release_info
        return (self.state.samples.source == SamplesSource.RELEASE and info is not None
                and self.state.streams_from != info.digest)

    def show_source(self) -> None:
        source = self.query_one("#source", Select).value
        self.query_one("#path", Input).display = source in ("files", "configmap")
        self.query_one("#path", Input).disabled = False
        load = self.query_one("#load", Button)
        load.display = source != NONE
        load.label = "Read again" if source == "release" else "Load"
        self.query_one("#path-row").display = source != NONE
        note = self.query_one("#streams-from", Static)
        if source == NONE:
            note.update("no image streams are mirrored; leave the samples operator at Removed (F1)")
        elif source != "release":
            note.update("")

    def on_resize(self, event: Resize) -> None:
        if self.state.streams:
            self.call_after_refresh(self.fill_table)

    def _widths(self) -> dict[str, int]:
        """Every column on screen. "from" (two registries on most rows) gets all it needs while the
        names keep NAME_ROOM (all but the odd long one); in less room it keeps FROM_MIN and both are
        cut in the middle, so each end stays readable."""
        table = self.query_one(StreamTable)
        width = table.size.width or self.app.size.width - 2
        if not table.size.width:  # not laid out yet: a guess now, the real width once it is
            self.call_after_refresh(self.refill_when_sized)
        room = width - FIXED_COLUMNS - 6 * 2 - 3  # cell padding, the scrollbar, the focus bar
        want = max([len("stream")] + [len(s.name) for s in self.state.streams])
        longest_from = max([len("from")] + [len(from_text(s.registries)) for s in self.state.streams])
        if room - longest_from >= min(want, NAME_ROOM):
            from_ = longest_from
        else:
            # cramped (the help panel open beside it): the names keep three fifths
            least = FROM_MIN if room >= 40 else max(room * 2 // 5, 6)
            from_ = min(longest_from, max(room - want, least))
        name = max(min(want, room - from_), 10)
        widths = {"name": name, "from": max(room - name, 6)}
        for key, column in table.columns.items():
            wanted = widths.get(str(key.value))
            if wanted is not None and column.width != wanted:
                column.width, column.auto_width = wanted, False
        table.refresh(layout=True)
        return widths

    def refill_when_sized(self) -> None:
        if self.query_one(StreamTable).size.width and self.state.streams:
            self.fill_table(scroll=False)

    @on(Select.Changed, "#source")
    def source_changed(self, event: Select.Changed) -> None:
        choice = self.state.samples
        value = str(event.value)
        if value == self.source_value():
            return  # the step showing the plan's choice, not the admin making one
        self.state.samples_by_default = False
        before = choice.source
        if value == NONE:
            choice.source, choice.paths = SamplesSource.FILES, []
        else:
            choice.source = SamplesSource(value)
        if value in (NONE, "release", "cluster") or before in (SamplesSource.RELEASE, SamplesSource.CLUSTER):
            # Streams read from another source say nothing about this one.
            self.state.streams, self.state.streams_error, self.state.streams_from = [], "", None
            if value in (NONE, "release", "cluster"):
                with self.prevent(Input.Changed):
                    self.query_one("#path", Input).value = ""
                choice.paths = []
            self.query_one("#streams-error", Static).update("")
            self.fill_table()
            self.update_config()
        self.show_source()
        if value == "release":
            self.load_release_streams()
        self.refresh_help()

    @on(Input.Changed, "#path")
    def path_changed(self, event: Input.Changed) -> None:
        if event.value.strip() != (self.state.samples.path or ""):  # a plan's further paths survive prefill
            self.state.samples.path = event.value.strip() or None
        self.refresh_help()

    @on(Input.Submitted, "#path")
    @on(Button.Pressed, "#load")
    def load_pressed(self) -> None:
        if self.state.samples.source == SamplesSource.RELEASE:
            self.load_release_streams()
        else:
            self.load_streams()

    @work(exclusive=True, group="streams", exit_on_error=False)
    async def load_release_streams(self) -> None:
        """The streams the release's cluster-samples-operator image ships (core.release_samples): the ones
        its operator imports on the plan's architecture. The release the path ends at, for an update."""
        state = self.state
        release = state.release
        self.set_status("reading the image streams from the release …")
        info = state.release_info
        try:
            if info is None and path_readable(state):
                # An update path not shown yet (a reopened plan, the far side's medium): read as the Release
                # step's Show path reads it; the release it ends at is the one whose streams these are.
                key = state.path_key()
                keep_update_path(state, await read_update_path(state), key)
                info = state.release_info
            async with wizard_session(state) as session:
                if info is None:
                    if not release_readable(state):
                        raise MirrorError("the release is not read yet: on the Release step, "
                                          + ("Show path" if state.update_mode else "Inspect") + " first")
                    # The far side's from the medium: its source registry is out of reach there.
                    info = state.release_info = await read_one_release(state, session)
                loaded = await read_streams(SamplesChoice(SamplesSource.RELEASE, architecture=state.samples.architecture),
                                            session=session, releases=[info])
        except MirrorError as exc:
            if state.samples_by_default and exc.code == ErrorCode.RELEASE_WITHOUT_SAMPLES:
                self.no_samples_in_release(info.version if info is not None else release.version or "")
                return
            self.show_load_error(error_text(exc))
            return
        found = loaded.release
        assert found is not None  # a release source says what it read
        state.streams, state.streams_error, state.streams_from = found.streams, "", info.digest
        state.streams_folder = found.architecture
        self.show_release_origin()
        self.loaded()

    def show_release_origin(self) -> None:
        """Which release (and which of its operator's folders) the streams were read from: said the same
        whether this step read them or a reopened plan's facts did (tui.state.read_reopened_facts)."""
        info = self.state.release_info
        if info is None or self.state.streams_from != info.digest:
            return
        self.query_one("#streams-from", Static).update(
            f"from release {info.version}: /{CONTENT_ROOT}/{self.state.streams_folder}/ of its "
            "cluster-samples-operator image")

    @work(exclusive=True, group="streams", exit_on_error=False)
    async def load_streams(self) -> None:
        """Files, the config map or the cluster (core.usecases.samples reads them in a thread)."""
        self.set_status("reading image streams …")
        try:
            loaded = await read_streams(self.state.samples)
        except (MirrorError, OSError) as exc:
            self.show_load_error(error_text(exc))
            return
        self.state.streams = loaded.streams
        self.state.streams_error = ""
        self.loaded()

    def no_samples_in_release(self, version: str) -> None:
        """The default source found nothing (a custom payload without samples): none, said plainly, rather
        than a plan whose mirror would fail on it."""
        state = self.state
        state.samples.source, state.samples.paths = SamplesSource.FILES, []
        state.samples_by_default = False
        state.streams, state.streams_error, state.streams_from = [], "", None
        with self.prevent(Select.Changed):
            self.query_one("#source", Select).value = NONE
        self.show_source()
        self.query_one("#streams-from", Static).update(
            f"release {version} ships no samples image streams, so none are mirrored; choose files, the config "
            "map or the cluster to mirror some")
        self.fill_table()
        self.update_config()
        self.set_status(f"release {version} ships no image streams: none chosen", "warn")

    def show_load_error(self, message: str) -> None:
        self.state.streams_error = message
        self.query_one("#streams-error", Static).update("✗ " + message)
        self.query_one("#path", Input).add_class("-invalid")
        self.set_status("image streams not loaded", "error")

    def loaded(self) -> None:
        self.query_one("#streams-error", Static).update("")
        self.query_one("#path", Input).remove_class("-invalid")
        # Names the plan skips that these files do not have would make plan_samples fail: drop them.
        names = {s.name for s in self.state.streams}
        choice = self.state.samples
        choice.include = [n for n in choice.include if n in names]
        choice.skip = [n for n in choice.skip if n in names]
        self.fill_table()
        self.update_config()
        self.set_status(self.loaded_text(), "ok")
        self.focus_table_once_loaded()

    def loaded_text(self) -> str:
        """How many streams are there, and where they were read from when that fits on the status's one
        line (a second line pushes the list's last row off an 80x24 screen; the source field and the
        "from release" line below it say where as well)."""
        state, choice = self.state, self.state.samples
        info = state.release_info
        if choice.source == SamplesSource.RELEASE and info is not None and state.streams_from == info.digest:
            where = f" from release {info.version}"
        elif choice.source == SamplesSource.CLUSTER:
            where = " from the cluster"
        elif choice.paths:
            where = " from " + ", ".join(choice.paths)
        else:
            where = ""
        said = f"{len(state.streams)} image streams loaded"
        status = self.query_one("#status", Static)
        room = status.content_region.width or self.app.size.width - STATUS_BESIDE_BUTTONS
        return said + where if len(said + where) <= room else said

    def focus_table_once_loaded(self) -> None:
        """First focus was chosen before the streams arrived (the path field): once rows exist, the
        table is what the admin came for — unless they are typing somewhere else already."""
        table = self.query_one(StreamTable)
        focused = self.focused
        if self.app.screen is self and table.row_count and (focused is None or focused.id in ("path", "next")):
            table.focus(scroll_visible=False)  # the step still opens at its top (its title and lead)

    # -- the table -----------------------------------------------------------------------------------

    def selected(self) -> set[str]:
        choice = self.state.samples
        names = [s.name for s in self.state.streams]
        chosen = set(choice.include) if choice.include else set(names)
        return chosen - set(choice.skip)

    def _set_selected(self, chosen: set[str]) -> None:
        """Stored as skip-only (include empty = all), the form the operator's Config mirrors."""
        names = [s.name for s in self.state.streams]
        self.state.samples.include = []
        self.state.samples.skip = sorted(n for n in names if n not in chosen)

    def fill_table(self, *, scroll: bool = True) -> None:
        table = self.query_one(StreamTable)
        needle = self.query_one("#filter", Input).value.strip().lower()
        chosen = self.selected()
        cursor = table.cursor_row
        table.clear()
        widths = self._widths()
        for stream in self.state.streams:
            specs = stream.pull_specs
            if needle and needle not in stream.name.lower() and not any(needle in s.lower() for s in specs):
                continue
            size = self.state.stream_sizes.get(stream.name)
            table.add_row(
                Content.styled("✓", "$success") if stream.name in chosen else Content.styled("·", "$text-muted"),
                middle_ellipsis(stream.name, widths["name"]), str(len(stream.tags)), str(len(specs)),
                human_bytes(size) if size is not None else "–",
                fit_from(stream.registries, widths["from"]),
                key=stream.name,
            )
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1), scroll=scroll)
        self.show_selection()

    def _mark(self, name: str, on_: bool) -> None:
        table = self.query_one(StreamTable)
        try:
            table.update_cell(name, "on", Content.styled("✓", "$success") if on_ else Content.styled("·", "$text-muted"))
        except Exception:  # the row is filtered out
            pass

    def toggle(self, name: str) -> None:
        self._undo = None  # u undoes only the last a or n, never a later single toggle
        chosen = self.selected()
        chosen ^= {name}
        self._set_selected(chosen)
        self._mark(name, name in chosen)
        self.update_config()
        # Enter toggles too, and a row is easily hit by mistake: say what changed, as a and n do.
        on_ = name in chosen
        self.set_status(f"{name}: {'mirrored' if on_ else 'not mirrored'} · {len(chosen)} of "
                        f"{len(self.state.streams)} selected · Space/Enter toggles", "info" if on_ else "warn")

    # The selection before the last a/n (All/None): u puts it back. None when there is nothing to undo.
    _undo: tuple[list[str], list[str]] | None = None

    def select_shown(self, on_: bool) -> None:
        table = self.query_one(StreamTable)
        shown = {str(row.value) for row in table.rows}
        before = self.selected()
        chosen = before | shown if on_ else before - shown
        changed = len(chosen ^ before)
        if changed:
            choice = self.state.samples
            self._undo = (list(choice.include), list(choice.skip))
        self._set_selected(chosen)
        for name in shown:
            self._mark(name, on_)
        self.update_config()
        if changed:
            verb = "selected" if on_ else "deselected"
            self.set_status(f"{plural(changed, 'stream')} {verb} · u undoes", "warn" if not on_ else "info")

    def undo_selection(self) -> None:
        if self._undo is None:
            self.set_status("nothing to undo (u undoes the last a or n)")
            return
        choice = self.state.samples
        choice.include, choice.skip = (list(names) for names in self._undo)
        self._undo = None
        self.fill_table(scroll=False)
        self.update_config()
        self.set_status(f"undone: {len(self.selected())} of {len(self.state.streams)} selected again", "ok")

    @on(DataTable.RowSelected, "#streams")
    def row_selected(self, event: DataTable.RowSelected) -> None:
        self.toggle(str(event.row_key.value))

    @on(Button.Pressed, "#all")
    def all_pressed(self) -> None:
        self.select_shown(True)

    @on(Button.Pressed, "#none")
    def none_pressed(self) -> None:
        self.select_shown(False)

    @on(Button.Pressed, "#use-removed")
    def use_removed(self) -> None:
        """The procedure's answer for no samples: mirror none and leave the operator Removed."""
        self._undo = None
        # Every stream skipped would come back with the streams if the admin loads them again later.
        self.state.samples.include, self.state.samples.skip = [], []
        self.query_one("#source", Select).value = NONE  # source_changed does the rest, as choosing it there
        self.set_status("no image streams mirrored: the operator stays Removed", "ok")

    def none_selected(self) -> bool:
        """Streams are loaded and every one is deselected."""
        return bool(self.state.streams) and not self.selected()

    @on(Input.Changed, "#filter")
    def filter_changed(self) -> None:
        self.fill_table()

    @on(Input.Submitted, "#filter")
    def filter_submitted(self) -> None:
        self.query_one(StreamTable).focus()

    def show_selection(self) -> None:
        total = len(self.state.streams)
        chosen = self.selected()
        shown = self.query_one(StreamTable).row_count
        known = [self.state.stream_sizes[n] for n in chosen if n in self.state.stream_sizes]
        size = f", {human_bytes(sum(known))}" if known and len(known) == len(chosen) else ""
        self.query_one("#selection", Static).update(
            f"{len(chosen)} of {total} selected{size}" + (f" · {shown} shown" if shown != total else "")
            + "  ·  " + self.keys_hint())
        none = self.none_selected()
        self.query_one("#none-selected", Note).update(
            "No stream selected: the operator would be Managed with every stream skipped. With no samples the "
            "procedure leaves it Removed (that also removes the templates that would point at missing "
            "streams)." + (" u undoes the n." if self._undo is not None else "") if none else "")
        self.query_one("#use-removed", Button).display = none

    def keys_hint(self) -> str:
        """The keys that work from where the focus is now (the table's keys only work in the table)."""
        table = self.query_one(StreamTable)
        if not table.row_count:
            return "load the image streams to choose"
        if self.focused is table:
            return "space toggles, a all, n none, u undoes"
        return "Tab to the list (or click a row) to choose; there space toggles, a all, n none, u undoes"

    def on_descendant_focus(self) -> None:
        if self.state.streams:
            self.show_selection()

    def on_descendant_blur(self) -> None:
        if self.state.streams:
            self.call_after_refresh(self.show_selection)

    @on(TickBox.Changed, "#skip-missing")
    def skip_missing_changed(self, event: TickBox.Changed) -> None:
        self.state.plan.options.skip_missing = event.value  # the plan's options.skip_missing, as --skip-missing
        self.refresh_help()

    # -- the Config preview --------------------------------------------------------------------------

    mirror_problem = ""

    @on(Input.Changed, "#samples-mirror")
    def samples_mirror_changed(self, event: Input.Changed) -> None:
        value = event.value.strip()
        error = self.query_one("#mirror-error", Static)
        if value and not is_registry_host(value):
            # Not kept: the preview would go on showing the old samplesRegistry as if it were this one.
            self.mirror_problem = "samplesRegistry: expected HOST or HOST:PORT, e.g. mirror.example.com:8443"
            error.update("✗ " + self.mirror_problem)
            event.input.add_class("-invalid")
            self.query_one("#config", Static).update(
                Content.styled("✗ fix samplesRegistry above to see the Config", "$error"))
            return
        self.mirror_problem = ""
        error.update("")
        event.input.remove_class("-invalid")
        self.state.samples.mirror = value
        self.update_config()

    def update_config(self) -> None:
        config = self.query_one("#config", Static)
        if not self.state.streams:
            config.update(Content.styled("Load the image streams to see it.", "$text-muted"))
            self.refresh_help()
            return
        self.show_selection()
        try:
            plan = self.state.samples_plan()
        except MirrorError as exc:
            config.update(Content.styled("✗ " + error_text(exc), "$error"))
            return
        if plan is None:
            config.update(Content.styled("Give the mirror registry in the Credentials step first.", "$warning"))
        else:
            text = plan.config_yaml().rstrip()
            for note in plan.notes:
                text += f"\n# note: {note}"
            config.update(Content(text))
        self.refresh_help()

    # -- sizes ---------------------------------------------------------------------------------------

    @on(Button.Pressed, "#sizes")
    def sizes_pressed(self) -> None:
        if not self.state.streams:
            self.set_status("load the image streams first", "error")
            return
        self.measure()

    @work(exclusive=True, group="sizes", exit_on_error=False)
    async def measure(self) -> None:
        """Every stream's size from its images' manifests (core.samples.measure_streams)."""
        self.set_status("measuring: reading every image's manifest …")
        try:
            async with wizard_session(self.state) as session:
                measured = await measure_streams(session, self.state.streams)
        except MirrorError as exc:
            self.set_status(f"sizes unknown: {error_text(exc)}", "error")
            return
        self.state.stream_sizes.update(measured.sizes)
        self.fill_table()
        missing = len(measured.unreadable)
        failures = [u for u in measured.unreadable if u[0]]
        if failures:
            self.notify(f"not measured: {failures[0][0]}: {failures[0][1]}", severity="warning")
        self.set_status(f"sizes measured ({plural(missing, 'image')} could not be read)" if missing
                        else "sizes measured", "warn" if missing else "ok")

    # -- leaving and help ----------------------------------------------------------------------------

    async def can_leave(self) -> bool:
        if self.mirror_problem:
            self.set_status(self.mirror_problem, "error")
            self.query_one("#samples-mirror", Input).focus()
            return False
        if self.state.streams_error and self.state.samples.path:
            self.set_status("fix the image streams source, or clear the path to mirror none", "error")
            return False
        if self.none_selected():
            self.set_status("no stream selected: u undoes, or Mirror none (Removed)", "error")
            return False
        try:
            self.state.samples_plan()
        except MirrorError as exc:
            self.set_status(error_text(exc), "error")
            return False
        return True

    def help_prose(self) -> str:
        return ("The Cluster Samples Operator fills the openshift namespace with builder and database image "
                "streams that point at registry.redhat.io. Cut off from it, the operator must be told to import "
                "from [b]samplesRegistry[/b] — your mirror, with the same repository paths — and which streams "
                "you left out ([b]skippedImagestreams[/b]); otherwise it keeps retrying them and raises alerts.\n\n"
                "[b]A safe order:[/b] keep the operator at [b]Removed[/b] while you mirror, then set "
                "samplesRegistry and the skipped list and switch it to [b]Managed[/b] so it imports only what "
                "is there.\n\n"
                "[b]No samples at all?[/b] Leave it at [b]Removed[/b]: that also deletes the templates in the "
                "openshift namespace, most of which use these streams — nobody can then start a template whose "
                "images are missing.\n\n"
                "Even mirrored, builds from samples often fetch code and packages from outside (GitHub, Maven "
                "Central, npm, RubyGems, PyPI…): those need their own proxy or mirror.\n\n"
                "[b]Where the stream list comes from:[/b] by default the release itself: its "
                "cluster-samples-operator image ships the streams its operator imports (under "
                "/opt/openshift/operator/<arch>/), so no cluster or file is needed. Or, on a running cluster, "
                "save the streams with "
                "[i]oc get is[/i] or the operator's [i]imagestreamtag-to-image[/i] config map (commands below) "
                "and load that file here.")

    def release_spec(self) -> str:
        """The release the streams are read from, as a pull spec (the path's last one, by digest)."""
        state = self.state
        info = state.release_info
        if info is not None:
            return info.pull_spec
        return state.release.source or "<release pull spec>"

    def help_commands(self) -> list[str]:
        choice = self.state.samples
        where = {"files": f"# streams from {choice.path or '<folder>'}",
                 "configmap": f"oc get configmap imagestreamtag-to-image -n openshift-cluster-samples-operator "
                              f"-o yaml > {q(choice.path or 'imagestreamtag-to-image.yaml')}",
                 "cluster": "oc get is -n openshift -o json"}.get(choice.source, "")
        commands = [
            "# on a running cluster, either of these gives the file to load here:",
            "oc get is -n openshift -o json > imagestreams.json",
            "oc get configmap imagestreamtag-to-image -n openshift-cluster-samples-operator \\\n"
            "    -o yaml > imagestreamtag-to-image.yaml",
            "# while you mirror: the operator removed (it also removes the samples' templates)",
            "oc patch configs.samples.operator.openshift.io/cluster --type=merge \\\n"
            "    --patch '{\"spec\":{\"managementState\":\"Removed\"}}'",
        ]
        release_spec = self.release_spec()
        if choice.source == SamplesSource.RELEASE:
            arch = choice.architecture or ("x86_64" if self.state.release.architecture == "multi"
                                           else self.state.release.architecture)
            commands += ["# the streams the release ships: its cluster-samples-operator image's content folder",
                         f"oc adm release info --image-for=cluster-samples-operator {q(release_spec)}",
                         f"oc image extract <that image> --path /opt/openshift/operator/{arch}/:./samples-content "
                         "--confirm"]
        elif choice.source != SamplesSource.CONFIGMAP or where.startswith("#"):
            commands.append(where)
        commands.append("# after the mirror: samplesRegistry, the skipped streams, and Managed again")
        try:
            plan = self.state.samples_plan()
        except MirrorError:
            plan = None
        if plan is not None:
            source = ("--from-cluster" if choice.source == SamplesSource.CLUSTER
                      else f"--from-release {q(release_spec)}" if choice.source == SamplesSource.RELEASE
                      else f"--imagestreams {q(choice.path or '<folder>')}")
            skips = f" \\\n    --skip {','.join(plan.skipped)}" if plan.skipped else ""
            commands += [f"mirror-wizard samples plan {source} --mirror {plan.mirror} \\\n"
                         f"    --mapping-out {SAMPLES_MAPPING_FILE}{skips}", *plan.commands]
        else:
            commands += [oc_image_mirror_command("${LOCAL_SECRET_JSON}", SAMPLES_MAPPING_FILE,
                                                 skip_missing=self.state.plan.options.skip_missing),
                         "oc patch configs.samples.operator.openshift.io/cluster --type=merge --patch "
                         "'{\"spec\":{\"samplesRegistry\":\"<mirror>\",\"skippedImagestreams\":[…]}}'"]
        return commands
