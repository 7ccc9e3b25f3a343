"""Step 3, Release: which OpenShift release, for which architecture, mirrored how and where."""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Button, Input, OptionList, Select, Static

from core.access import source_mirrors
from core.errors import ErrorCode, MirrorError
from core.graph import DEFAULT_GRAPH_URL, GraphRelease, graph_query_command, version_key
from core.plan import ReleaseMode, default_target
from core.reference import parse_reference
from core.release_keys import key_file_facts
from core.release_tag import release_tag
from core.text import human_bytes, plural
from core.text import shell_quote as q
from core.usecases.documents import OC_DIR_NOTE, medium_from_dir, medium_to_dir, oc_release_mirror
from core.usecases.releases import (
    RELEASE_REPO,
    carried_release_keys,
    measure_path_in_mirror,
    measure_release_in_mirror,
    redirected,
    registry_versions,
)
from tui.access import wizard_session
from tui.screens.base import StepScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.mirror import last_run_fix_step
from tui.screens.release_day3 import UpdatePathExtras  # day 3 (issue 24)
from tui.state import (
    error_text,
    inspect_one_release,
    keep_update_path,
    read_channel_graph,
    read_update_path,
    release_readable,
)
from tui.widgets.facts import Facts
from tui.widgets.field import Field
from tui.widgets.note import Note
from tui.widgets.readable import ReadableFacts

ARCHITECTURES = ["x86_64", "aarch64", "s390x", "ppc64le", "multi"]
MODES = [("straight into the mirror registry", ReleaseMode.REGISTRY.value),
         ("to removable media (connected side)", ReleaseMode.TO_DIR.value),
         ("from removable media (disconnected side)", ReleaseMode.FROM_DIR.value)]
ONE, UPDATE = "one", "update"
KINDS = [("install one version (or mirror one release)", ONE),
         ("update a cluster from one version to another", UPDATE)]
PATH_CHOICES = [("shortest path", "shortest"), ("every version on some path", "all")]
VERSION_PROMPT = "version (find them first, or type the image below)"
TO_PROMPT = "to version (find them first)"


class VersionSelect(Select[str]):
    """A version list that opens on its first real version when nothing is chosen yet: Textual's Select
    highlights its blank prompt line then, so Down three times landed one version short of the third (or
    wrapped past the first). The prompt line stays, as a way back to "nothing chosen"."""

    def _watch_expanded(self, expanded: bool) -> None:
        super()._watch_expanded(expanded)
        if expanded and self.is_blank() and len(self._options) > 1:
            # index 0 is the prompt (allow_blank); Select.action_show_overlay keeps a highlight it finds
            self.query_one(OptionList).highlighted = 1


def release_pull_spec(version: str, arch: str) -> str:
    return f"{RELEASE_REPO}:{release_tag(version, arch)}"


def path_problem(exc: BaseException, release_from: str, release_to: str, channel: str) -> str:
    """The engine's path errors in the wizard's words, chosen by their code (the engine's own name CLI
    flags): one line, what to change."""
    code = exc.code if isinstance(exc, MirrorError) else None
    if code == ErrorCode.NO_UPDATE_PATH:
        return (f"{release_from} → {release_to} is not on channel {channel}'s update graph: no path "
                "(conditional and blocked updates are never used); choose another to version, or an "
                "intermediate one and update in two steps")
    if code in (ErrorCode.FROM_VERSION_UNKNOWN, ErrorCode.TO_VERSION_UNKNOWN):
        which, version = (("from", release_from) if code == ErrorCode.FROM_VERSION_UNKNOWN else ("to", release_to))
        near = f" ({exc.fix})" if isinstance(exc, MirrorError) and exc.fix else ""
        return f"{which} version {version} is not a release of channel {channel}'s update graph{near}"
    if code == ErrorCode.DOWNGRADE:
        return f"to version {release_to} is older than from version {release_from}; clusters do not downgrade"
    return exc.message if isinstance(exc, MirrorError) else error_text(exc)


class ReleaseScreen(StepScreen):
    STEP = "release"
    target_problem = ""
    keys_problem = ""
    # "In the mirror" is only ever what looking into the registry said (never the last run's record):
    # measuring: a look is under way; stale: the mirror changed (a run ended, a prune) since the last look.
    measuring = False
    mirror_stale = False
    _focus_once: str | None = None  # a widget to focus when the step is back (instead of first_focus)

    def compose_body(self) -> ComposeResult:
        yield Static("Release", classes="step-title")
        yield Static("Pick the OpenShift release to install or update to. Its payload names every component "
                     "image by digest; all of them are copied.", classes="lead")
        # Composed with the plan's kind: Select posts its first value after mount, and ONE there switched a
        # reopened update path to one release (from_version lost, source set) — day3 fix, issue 24 walk.
        yield Select(KINDS, id="kind", allow_blank=False, compact=True,
                     value=UPDATE if self.state.update_mode or self.state.release.is_path else ONE)
        with Horizontal(classes="row"):
            yield Field(id="channel", placeholder="channel, e.g. stable-4.17", compact=True)
            yield Select([(a, a) for a in ARCHITECTURES], id="arch", allow_blank=False, value="x86_64",
                         compact=True)
            yield Button("Find versions", id="find", compact=True)
        yield VersionSelect([], id="version", prompt=VERSION_PROMPT, compact=True)
        yield Note(id="versions-note", classes="hint")
        # Update mode: the cluster's version now, which path, and where the graph comes from.
        with Horizontal(classes="row", id="path-row"):
            yield VersionSelect([], id="from-version", prompt="from (your cluster's version)", compact=True)
            yield Select(PATH_CHOICES, id="path-choice", allow_blank=False, value="shortest", compact=True)
        yield Static("Update graph: a file saved from the update service (offline hosts), or empty to ask it",
                     classes="hint", id="graph-label")
        with Horizontal(classes="row", id="graph-row"):
            yield Field(id="graph-file", placeholder="update graph file (offline hosts); empty: ask the update service",
                        compact=True)
            yield Button("Show path", id="show-path", variant="primary", compact=True)
        yield Note(id="path-error", classes="inline-error")
        yield ReadableFacts(id="path-info", key_width=15)
        yield Static("Release image", classes="field-label", id="source-label")
        with Horizontal(classes="row", id="source-row"):
            yield Field(id="source", placeholder=f"{RELEASE_REPO}:4.17.3-x86_64", compact=True)
            yield Button("Inspect", id="inspect", variant="primary", compact=True)
        yield Note(id="source-error", classes="inline-error")
        yield Static("Mode", classes="field-label")
        # Composed with the plan's mode, as the kind: the list's first value, posted after mount, switched the
        # far side's plan to "registry" until prefill's own value arrived (its first focus and its read on
        # arrival were chosen for a direct copy from quay.io meanwhile).
        yield Select(MODES, id="mode", allow_blank=False, value=ReleaseMode(self.state.release.mode).value,
                     compact=True)
        yield Static("Mirror repository", classes="field-label", id="target-label")
        yield Field(id="target", placeholder=default_target("mirror.example.com:8443"), compact=True)
        yield Note(id="target-error", classes="inline-error")
        yield Static("Removable media folder (on the medium where it is mounted, i.e. shown as a folder: "
                     "e.g. /media/usb/mirror)", classes="field-label", id="directory-label")
        yield Field(id="directory", placeholder="/mnt/media/mirror", compact=True)
        # The signature check trusts Red Hat's keys (built in); any other (OKD, a custom payload, the
        # practice sandbox's) is named here, as --release-key / release.keys.
        yield Static("Release keys besides Red Hat's (built in): public key files, comma-separated",
                     classes="field-label", id="keys-label")
        yield Field(id="keys", placeholder="only for a release Red Hat did not sign, e.g. okd-release-key.asc",
                    compact=True)
        yield Note(id="keys-note", classes="hint")
        yield Static("What it holds", classes="section")
        yield ReadableFacts(id="release-info", key_width=15)  # Tab reaches the sizes at 80x24; arrows scroll
        # day 3 (issue 24): updates inside the cluster and pruning, update mode only (tui/screens/release_day3.py)
        yield UpdatePathExtras(id="day3")

    # -- prefill ---------------------------------------------------------------------------------

    def prefill(self) -> None:
        release = self.state.release
        self._one_source = release.source
        if release.is_path:
            self.state.update_mode = True
        self.query_one("#kind", Select).value = UPDATE if self.state.update_mode else ONE
        self.query_one("#path-choice", Select).value = "all" if release.all_versions else "shortest"
        self.query_one("#graph-file", Input).value = release.graph_file or ""
        self.query_one("#channel", Input).value = release.channel or ""
        arch = release.architecture if release.architecture in ARCHITECTURES else "x86_64"
        self.query_one("#arch", Select).value = arch
        self.query_one("#source", Input).value = release.source
        self.query_one("#mode", Select).value = release.mode
        self.query_one("#target", Input).value = release.target or self.state.release_target()
        self.query_one("#directory", Input).value = release.directory or ""
        self.query_one("#keys", Input).value = ", ".join(release.keys)
        if self.state.versions:
            self.set_versions(self.state.versions, "")
        else:
            self.set_versions([v for v in (release.version, release.from_version) if v], "")
        self.show_mode()
        self.show_kind()
        self.show_info()
        self.show_keys()
        self.show_path_info()
        if self.state.update_mode:
            if (release.from_version and release.version and self.wizard.auto_check
                    and not self.state.current_path()):
                self.show_path()
        elif release_readable(self.state) and self.wizard.auto_check and self.state.release_info is None:
            self.inspect()  # the far side's: the release on the medium (tui.state.inspect_one_release)

    def step_shown(self) -> None:
        target = self.query_one("#target", Input)
        if not target.value and self.state.mirror_host:
            target.value = self.state.release_target()
        # A mirror may have run (or be running), or releases been pruned, since this step was last shown.
        self.mirror_changed()
        self.show_keys()  # a run refused by the release's signature says so beside the keys

    def mirror_tick(self) -> None:
        super().mirror_tick()
        running = self.wizard.mirror_running
        was_running = getattr(self, "_was_running", running)
        self._was_running = running
        if running:
            self.show_info()
            self.show_path_info()
        elif was_running:
            self.mirror_changed()  # the run ended: what the mirror holds now is looked up again

    def mirror_changed(self) -> None:
        """The mirror may hold other bytes now (a run ended, a prune): look into it again. Without the
        automatic checks (tests without a network) the old measure is withdrawn, never shown as true."""
        if self.wizard.mirror_running:
            self.show_info()
            self.show_path_info()
            return
        if self.wizard.auto_check:
            self.remeasure()
        else:
            self.mirror_stale = self.state.mirror_key is not None or self.mirror_stale
            self.show_info()
            self.show_path_info()

    def in_mirror(self, present: int | None, missing: int, images: int | None) -> str | Content | None:
        """The "In the mirror" row: a copy running now, a look under way, or what the last look found."""
        if self.wizard.mirror_running:
            return self.state.mirror_note()  # the run's own live count: the registry is changing under it
        if self.measuring:
            return Content.styled("looking into the mirror …", "$text-muted")
        if self.mirror_stale:
            return Content.styled("the mirror changed since it was looked into: "
                                  + ("Show path" if self.state.update_mode else "Inspect") + " looks again",
                                  "$text-muted")
        if present is None:
            return None
        if not missing and not images:
            return Content.styled(f"✓ all there already ({human_bytes(present)}): nothing to copy", "$success")
        # Layers can outlive a pruned release (until the registry's garbage collection): its images are
        # still copied again, so the missing images are said even when no byte needs to move.
        if not missing:
            return Content.assemble(f"every layer there ({human_bytes(present)}) · ",
                                    (f"{plural(images or 0, 'image')} to copy", "bold"), " (not in the mirror)")
        lacking = f" · {plural(images, 'image')} not in the mirror" if images else ""
        return Content.assemble(f"{human_bytes(present)} already there · ", (f"{human_bytes(missing)} to move", "bold"),
                                lacking)

    @work(exclusive=True, group="measure", exit_on_error=False)
    async def remeasure(self) -> None:
        """What the mirror holds of the release (or the path) as it is now: core's measure, as Show path
        and Inspect measure it; the row says "looking" meanwhile."""
        state = self.state
        release = state.release
        target = state.release_target()
        infos = state.current_path() if state.update_mode else (
            [state.release_info] if state.release_info is not None else [])
        writes = release.mode != ReleaseMode.TO_DIR  # the far side's upload ends in the mirror as a direct copy does
        if not infos or not target or not writes:
            self.mirror_stale = False
            return
        key, info = state.path_key(), state.release_info
        self.measuring = True
        self.show_info()
        self.show_path_info()
        try:
            async with wizard_session(state) as session:
                if state.update_mode:
                    sizes = await measure_path_in_mirror(session, infos, target, release.to_release_image)
                    if state.path_for == key and state.current_path() is infos:
                        state.path_sizes = sizes
                    if sizes.missing_images:  # the last run's "complete" is no longer true (Review, Done)
                        state.mark_mirror_changed(sizes.missing_images)
                else:
                    size = await measure_release_in_mirror(session, infos[0], target, release.to_release_image)
                    if state.release_info is info:
                        state.release_size = size
                    if size.missing_images:
                        state.mark_mirror_changed(size.missing_images)
            self.mirror_stale = False
        except MirrorError as exc:
            self.notify(f"could not look into the mirror: {error_text(exc)}", severity="warning")
            self.mirror_stale = True
        finally:
            self.measuring = False
            self.show_info()
            self.show_path_info()

    def focus_first(self) -> None:
        wanted, self._focus_once = self._focus_once, None
        if wanted is None:
            super().focus_first()
            return
        self.query_one(wanted).focus()
        self.query_one("#keys-note").scroll_visible(animate=False)  # the fingerprint just below the field

    def first_focus(self) -> str:
        release = self.state.release
        if self.state.update_mode and release.mode == ReleaseMode.FROM_DIR:
            # The far side: the medium pins the path; only the folder (and then the path) is the admin's.
            if not release.directory:
                return "#directory"
            return "#next" if self.state.current_path() else "#show-path"
        if self.state.update_mode:
            if not release.channel:
                return "#channel"
            if not release.version:
                return "#find" if not self.state.versions else "#version"
            if not release.from_version:
                return "#from-version"
            return "#next" if self.state.current_path() else "#show-path"
        if release.mode == ReleaseMode.FROM_DIR:
            return "#directory" if not release.directory else "#next"
        if not release.source:
            return "#channel"
        if self.state.release_info is not None:
            return "#next"
        if self.state.release_error:
            return "#source"  # the image that could not be read: the field to fix
        # The payload is read on arrival (prefill's automatic Inspect): focus the first field, never the
        # Inspect button the admin did not press (from there the kind list was six Shift+Tab away).
        return "#kind" if self.wizard.auto_check else "#inspect"

    # -- inputs ----------------------------------------------------------------------------------

    @on(Input.Changed, "#channel")
    def channel_changed(self, event: Input.Changed) -> None:
        self.state.release.channel = event.value.strip() or None
        self.refresh_help()

    @on(Select.Changed, "#arch")
    def arch_changed(self, event: Select.Changed) -> None:
        arch = str(event.value)
        release = self.state.release
        if arch == release.architecture:
            return
        release.architecture = arch
        if release.version and release.source.startswith(RELEASE_REPO + ":"):
            self.query_one("#source", Input).value = release_pull_spec(release.version, arch)
        self.refresh_help()

    @on(Select.Changed, "#version")
    def version_changed(self, event: Select.Changed) -> None:
        if event.value is Select.NULL:
            if self.state.update_mode and self.state.release.version:
                # The blank line chosen: no "to" any more, and no path shown for the old one.
                self.state.release.version = None
                self._offer_from_versions(self.state.versions)
                self.path_choice_changed()
            return
        version = str(event.value)
        release = self.state.release
        if self.state.update_mode:
            if version != release.version:
                release.version = version
                self._offer_from_versions(self.state.versions or [version])
                self.path_choice_changed()
            return
        if version == release.version and release.source:
            return
        release.version = version
        self.query_one("#source", Input).value = release_pull_spec(version, release.architecture)

    @on(Input.Changed, "#source")
    def source_changed(self, event: Input.Changed) -> None:
        value = event.value.strip()
        release = self.state.release
        if value != release.source:
            self.state.release_info = None
            self.state.release_size = None
            self.state.release_error = ""  # a new image: the last one's error no longer says anything
        release.source = value
        error = self.query_one("#source-error", Static)
        error.update("")
        event.input.remove_class("-invalid")
        if value:
            try:
                ref = parse_reference(value)
            except MirrorError as exc:
                error.update("✗ " + error_text(exc))
                event.input.add_class("-invalid")
            else:
                tag = ref.tag or ""
                if tag and tag.endswith("-" + release.architecture):
                    release.version = tag[: -len(release.architecture) - 1]
        self.show_info()

    @on(Input.Submitted, "#source")
    def source_submitted(self) -> None:
        self.inspect()

    @on(Select.Changed, "#mode")
    def mode_changed(self, event: Select.Changed) -> None:
        if event.value != event.select.value:
            return  # stale: a value the list no longer holds (see compose_body)
        mode = ReleaseMode(str(event.value))
        if mode != self.state.release.mode:
            self.state.release_error = ""
        self.state.release.mode = mode
        self.query_one(UpdatePathExtras).show()  # the graph-data image's words follow the mode
        self.show_mode()
        self.show_kind()
        self.show_path_info()  # what the registry holds counts only when the mode writes to it
        self.refresh_help()

    @on(Input.Changed, "#target")
    def target_changed(self, event: Input.Changed) -> None:
        value = event.value.strip()
        self.state.release.target = value
        self.target_problem = ""
        if value:
            try:
                ref = parse_reference(value, default_tag=None)
            except MirrorError as exc:
                self.target_problem = error_text(exc)
            else:
                if ref.tag or ref.digest:
                    self.target_problem = "give a repository without a tag: the wizard tags each component itself"
        self.query_one("#target-error", Static).update("✗ " + self.target_problem if self.target_problem else "")
        self.refresh_help()

    @on(Input.Changed, "#directory")
    def directory_changed(self, event: Input.Changed) -> None:
        value = event.value.strip() or None
        if value != self.state.release.directory:
            self.state.release_error = ""
        self.state.release.directory = value
        self.refresh_help()

    @on(Input.Changed, "#keys")
    def keys_changed(self, event: Input.Changed) -> None:
        keys = [key.strip() for key in event.value.split(",") if key.strip()]
        if keys != self.state.release.keys:
            self.state.release_error = ""
        self.state.release.keys = keys
        self.show_keys()
        said = getattr(self, "_keys_status", "")
        if said and keys and not self.keys_problem and str(self.query_one("#status", Static).render()) == said:
            # The field names a key now: the "compare …, then name …" request is answered (the note shows it).
            self._keys_status = ""
            self.set_status(f"release key named: {', '.join(keys)} (its fingerprint is below)", "ok")
        self.refresh_help()

    def show_keys(self) -> None:
        """Each key file named, checked as the signature check reads it: its fingerprint and user id, so the
        admin compares them with the ones they were given before the copy trusts them."""
        lines: list[Content] = []
        self.keys_problem = ""
        if last_run_fix_step(self.state, self.wizard.mirror_error_code) == "release":
            # The mirror refused the release's signature (Mirror's "Go to Release ◀" brought the admin here).
            lines.append(Content.styled("! the last run refused the release's signature: name its key here",
                                        "bold $warning"))
        for key in self.state.release.keys:
            try:
                facts = key_file_facts(key)
            except MirrorError as exc:
                self.keys_problem = self.keys_problem or error_text(exc)
                lines.append(Content.styled(f"✗ {error_text(exc)}", "$error"))
                continue
            lines += [Content.styled(f"✓ {key}: {fact.line()}", "$success") for fact in facts]
        if self.state.release.mode == ReleaseMode.FROM_DIR:
            # The medium carries the keys the connected side trusted; trusting one is this admin's answer.
            named = {Path(key).resolve() for key in self.state.release.keys}
            for key in carried_release_keys(self.state.release.directory or "."):
                if Path(key).resolve() in named:
                    continue
                try:
                    facts = key_file_facts(key)
                except MirrorError:
                    continue
                lines += [Content(f"The medium carries {key}: {fact.line()}. If that is the fingerprint you "
                                  "were given, name the file above to trust it.") for fact in facts]
        field = self.query_one("#keys", Input)
        field.set_class(bool(self.keys_problem), "-invalid")
        note = self.query_one("#keys-note", Static)
        note.update(Content("\n").join(lines) if lines else "")

    def show_mode(self) -> None:
        mode = self.state.release.mode
        for widget_id in ("#directory", "#directory-label"):
            self.query_one(widget_id).display = mode != ReleaseMode.REGISTRY
        for widget_id in ("#target", "#target-label"):
            self.query_one(widget_id).display = mode != ReleaseMode.TO_DIR
        # From removable media the medium says which release (or path) goes up: the fields that choose one are
        # shown as the plan has them but left out of the Tab order, which then reaches the far side's own
        # answers (the folder, the mirror repository, the release keys) in a few presses.
        for widget_id in ("#source", "#channel", "#arch", "#find", "#version", "#from-version", "#path-choice"):
            self.query_one(widget_id).disabled = mode == ReleaseMode.FROM_DIR

    # -- update mode: a path of releases --------------------------------------------------------------

    @on(Select.Changed, "#kind")
    def kind_changed(self, event: Select.Changed) -> None:
        if event.value != event.select.value:
            # Stale: the list's first value (from compose) arrives after prefill chose the plan's kind; taken
            # at its word it cleared a reopened update plan's from version and asked the update service.
            return
        update = event.value == UPDATE
        if update == self.state.update_mode:
            return
        self.state.update_mode = update
        release = self.state.release
        source = self.query_one("#source", Input)
        if update:
            # A plan holds one release (source) or a path (from_version): never both.
            self._one_source = release.source
            release.to_release_image = None
            chosen = self.query_one("#from-version", Select).value
            release.from_version = None if chosen is Select.NULL else str(chosen)
            with self.prevent(Input.Changed):
                source.value = ""
            release.source = ""
            self.state.release_info = None
            self.state.release_size = None
            self.use_graph_source()
            if not self.state.versions and release.channel:
                self.find_versions()  # both ends are picked from the graph: read it now
        else:
            release.from_version = None
            self.state.path_error, self.state.path_error_from_graph = "", False
            if not self._one_source and release.version:
                self._one_source = release_pull_spec(release.version, release.architecture)
            source.value = self._one_source  # source_changed keeps it and resets what was read
        self.set_versions(self.state.versions or [v for v in (release.version, release.from_version) if v],
                          str(self.query_one("#versions-note", Static).render()))
        self.show_kind()
        self.show_info()
        self.show_path_info()
        self.refresh_help()

    def use_graph_source(self) -> None:
        """The mirror reads the path from the same graph as this step: the file, else the wizard's URL."""
        release = self.state.release
        if release.graph_file:
            release.graph_url = None
        elif self.state.graph_url and not release.graph_url:
            release.graph_url = self.state.graph_url

    def show_kind(self) -> None:
        update = self.state.update_mode
        self.query_one("#day3").display = update  # day 3 (issue 24): its offers are an update path's
        for widget_id in ("#path-row", "#graph-label", "#graph-row", "#path-info"):
            self.query_one(widget_id).display = update
        # From removable media the path is the one pinned on the medium: no update graph to give.
        medium = self.state.release.mode == ReleaseMode.FROM_DIR
        self.query_one("#graph-file").display = update and not medium
        self.query_one("#graph-label", Static).update(
            "The update path pinned on the medium: Show path reads it from there (no network)" if medium else
            "Update graph: a file saved from the update service (offline hosts), or empty to ask it")
        self.query_one("#path-error", Static).display = update and bool(self.state.path_error)
        for widget_id in ("#source-label", "#source-row"):
            self.query_one(widget_id).display = not update
        self.query_one("#source-error", Static).display = not update and bool(
            str(self.query_one("#source-error", Static).render()).strip())
        self.query_one("#version", Select).prompt = TO_PROMPT if update else VERSION_PROMPT

    @on(Select.Changed, "#from-version")
    def from_version_changed(self, event: Select.Changed) -> None:
        if not self.state.update_mode:
            return
        if event.value is Select.NULL:
            if self.state.release.from_version:
                self.state.release.from_version = None
                self.path_choice_changed()
            return
        if str(event.value) != self.state.release.from_version:
            self.state.release.from_version = str(event.value)
            self.path_choice_changed()

    @on(Select.Changed, "#path-choice")
    def path_mode_changed(self, event: Select.Changed) -> None:
        all_versions = event.value == "all"
        if all_versions != self.state.release.all_versions:
            self.state.release.all_versions = all_versions
            self.path_choice_changed()

    @on(Input.Changed, "#graph-file")
    def graph_file_changed(self, event: Input.Changed) -> None:
        value = event.value.strip() or None
        if value != self.state.release.graph_file:
            self.state.release.graph_file = value
            self.state.path_error, self.state.path_error_from_graph = "", False
            if self.state.update_mode:
                self.use_graph_source()
            self.show_path_info()
            self.refresh_help()

    @on(Input.Submitted, "#graph-file")
    @on(Button.Pressed, "#show-path")
    def show_path_pressed(self) -> None:
        self.show_path()

    def path_choice_changed(self) -> None:
        """Both ends chosen: the path is read at once (a Select is a deliberate choice, not typing)."""
        self.state.path_error, self.state.path_error_from_graph = "", False
        release = self.state.release
        self.show_path_info()
        self.refresh_help()
        if release.from_version and release.version and release.channel:
            self.show_path()

    async def read_graph(self) -> list[GraphRelease]:
        """The channel's update graph: the file when one is given (offline hosts), else the service."""
        return await read_channel_graph(self.state)

    @work(exclusive=True, group="path", exit_on_error=False)
    async def show_path(self) -> None:
        state = self.state
        release = state.release
        medium = release.mode == ReleaseMode.FROM_DIR
        needed = [("the to version", release.version), ("the from version (the cluster's version now)",
                                                          release.from_version)]
        missing = [what for what, value in ([] if medium else [("the channel", release.channel)]) + needed
                   if not value]
        if medium and not release.directory:
            missing.insert(0, "the removable media folder")
        if missing:
            self.set_status("choose " + " and ".join(missing) + " first", "error")
            return
        key = state.path_key()
        start, end, channel = release.from_version or "", release.version or "", release.channel or ""
        state.path_error, state.path_error_from_graph = "", False
        try:
            # The far side reads the path its medium pins (the update service is never asked); else the
            # channel's graph. One reading (tui.state), the one a reopened plan's steps use too.
            found = await read_update_path(state, self.set_status)
            if found.size_error is not None:  # e.g. the mirror's login is not set yet: sizes without "present"
                self.notify(f"could not look into the mirror: {error_text(found.size_error)}", severity="warning")
        except MirrorError as exc:
            state.path_error, state.path_error_from_graph = path_problem(exc, start, end, channel), False
            state.path_releases, state.path_sizes, state.path_for = [], None, None
            state.release_info = None
            self.show_path_info()
            self.show_info()
            self.set_status("no update path", "error")
            return
        keep_update_path(state, found, key)
        infos, sizes = found.releases, found.sizes
        self.mirror_stale = found.size_error is not None  # looked into just now (unless it could not)
        if sizes is not None and sizes.missing_images:  # the last run's "complete" is no longer true
            state.mark_mirror_changed(sizes.missing_images)
        self.show_path_info()
        self.show_info()
        self.set_status(f"update path: {' → '.join(i.version for i in infos)}", "ok")
        if medium and self.focused is self.query_one("#show-path"):
            self.query_one("#next").focus()  # the medium decides the path: nothing else to choose here

    def show_path_info(self) -> None:
        found = self.query("#path-info").results(Facts)
        facts = next(found, None)
        if facts is None:
            return
        state = self.state
        error = self.query_one("#path-error", Static)
        error.update(f"✗ {state.path_error}" if state.path_error else "")
        error.display = state.update_mode and bool(state.path_error)
        infos = state.current_path()
        sizes = state.path_sizes
        if not infos or sizes is None:
            release = state.release
            hint = ("Choose the from and to versions: the path, with each hop's bytes, shows here."
                    if not (release.from_version and release.version) else "Press Show path to read it.")
            facts.set_rows([], empty=Content.styled(hint, "$text-muted") if not state.path_error else "")
            return
        rows: list[tuple[str, str | Content]] = []
        for number, item in enumerate(sizes.releases):
            label = f"{item.version} (now)" if number == 0 else f"→ {item.version}"
            # What each release adds to the path's one copy; what a run moves is "In the mirror"'s to say.
            text = f"{human_bytes(item.new_bytes)}" + (" of layers" if number == 0 else " more")
            if item.shared_bytes:
                text += f" · {human_bytes(item.shared_bytes)} saved by sharing"
            rows.append((label, text))
        rows.append(("In all", f"{plural(len(sizes.releases), 'release')} in one copy: "
                               f"{human_bytes(sizes.unique_bytes)}, "
                               f"{human_bytes(sizes.saved_bytes)} saved by sharing"))
        # As for one release: what looking into the registry found (or a run copying now).
        # (To removable media nothing of the registry counts: the medium gets every byte.)
        if state.release.mode != ReleaseMode.TO_DIR:
            shown = self.in_mirror(sizes.present_bytes, sizes.missing_bytes, sizes.missing_images)
            if shown is not None:
                rows.append(("In the mirror", shown))
        facts.set_rows(rows)

    @on(UpdatePathExtras.Pruned)
    def pruned(self) -> None:
        self.mirror_changed()  # releases deleted from the mirror: what it holds is looked up again

    # -- versions ------------------------------------------------------------------------------------

    def set_versions(self, versions: list[str], note: str) -> None:
        select = self.query_one("#version", Select)
        update = self.state.update_mode
        with self.prevent(Select.Changed):
            # In update mode each end says which it is: two bare version numbers read alike.
            select.set_options([(f"to {v}" if update else v, v) for v in versions])
            current = self.state.release.version
            if current in versions:
                select.value = current
        self._offer_from_versions(versions)
        self.query_one("#versions-note", Static).update(note)

    def _offer_from_versions(self, versions: list[str]) -> None:
        """The "from" list: only versions older than the chosen "to" (a cluster updates forward), so the
        list never offers a start that cannot be one. A "from" no longer offered is cleared."""
        release = self.state.release
        if release.version in versions:
            newest = version_key(release.version or "")
            versions = [v for v in versions if version_key(v) < newest]
        older = self.query_one("#from-version", Select)
        with self.prevent(Select.Changed):
            older.set_options([(f"from {v}", v) for v in versions])
            if release.from_version in versions:
                older.value = release.from_version
            elif self.state.update_mode and release.from_version:
                release.from_version = None  # e.g. "to" moved below it: asked again, never kept silently

    @on(Button.Pressed, "#find")
    def find_pressed(self) -> None:
        self.find_versions()

    @work(exclusive=True, group="versions", exit_on_error=False)
    async def find_versions(self) -> None:
        release = self.state.release
        channel, arch = release.channel or "", release.architecture
        note = ""
        versions: list[str] = []
        # Releases read through a mirror set (the sandbox, a proxy registry): what that registry holds is
        # what can be copied, so its tags answer first and the update graph is not asked.
        try:
            mirror_sets = source_mirrors(self.state.plan)
        except MirrorError:  # the Credentials and Mirror steps say what is wrong with the file
            mirror_sets = []
        # An update path needs the graph (and a graph file is the admin's own choice): asked first then.
        use_graph = bool(channel) and (not redirected(mirror_sets) or self.state.update_mode or bool(release.graph_file))
        if use_graph:
            where = release.graph_file or channel
            self.set_status(f"asking the update graph for {channel} …")
            try:
                found = await self.read_graph()
                if self.state.path_error_from_graph:
                    self.state.path_error, self.state.path_error_from_graph = "", False  # read now
                    self.show_path_info()
                versions = [r.version for r in found]
                note = f"{plural(len(versions), 'version')} in {channel} ({arch}), newest first"
                if release.graph_file:
                    note += f", from {where}"
            except MirrorError as exc:
                if self.state.update_mode:
                    self.state.path_error = f"update graph: {error_text(exc)}"
                    self.state.path_error_from_graph = True
                    self.show_path_info()
                    self.set_status("no update graph", "error")
                    return
                note = f"update graph: {error_text(exc)} — listed the registry's tags instead"
        if not versions:
            self.set_status(f"listing the tags of {RELEASE_REPO} …")
            try:
                async with wizard_session(self.state) as session:
                    versions = await registry_versions(session, arch, channel)
            except MirrorError as exc:
                self.query_one("#versions-note", Static).update(Content.styled(f"✗ {error_text(exc)}", "$error"))
                self.set_status("no versions found", "error")
                return
            note = note or f"{plural(len(versions), 'release tag')} for {arch} in {RELEASE_REPO}"
        self.state.versions = versions
        self.set_versions(versions, note)
        self.set_status(plural(len(versions), "version") + " found", "ok" if versions else "warn")

    # -- inspect ---------------------------------------------------------------------------------------

    @on(Button.Pressed, "#inspect")
    def inspect_pressed(self) -> None:
        self.inspect()

    @work(exclusive=True, group="release", exit_on_error=False)
    async def inspect(self) -> None:
        release = self.state.release
        medium = release.mode == ReleaseMode.FROM_DIR
        if medium and not release.directory:
            self.set_status("give the removable media folder: the release is read from the medium", "error")
            self.query_one("#directory", Input).focus()
            return
        if not medium and not release.source:
            self.query_one("#source-error", Static).update("✗ choose a version or type the release image")
            return
        # The far side reads the release the medium holds (its source registry is out of reach there).
        self.set_status(f"reading the release on {release.directory} …" if medium else f"reading {release.source} …")
        self.state.release_error = ""
        try:
            target = self.state.release_target() if release.mode != ReleaseMode.TO_DIR else None
            async with wizard_session(self.state) as session:
                inspected = await inspect_one_release(self.state, session)
            info = self.state.release_info = inspected.info
            self.state.release_size = inspected.size
            self.mirror_stale = inspected.size_error is not None and target is not None
            if target is not None and inspected.size.missing_images:  # Review/Mirror/Done no longer say complete
                self.state.mark_mirror_changed(inspected.size.missing_images)
            if inspected.size_error is not None:  # e.g. the mirror's login is not set yet: sizes without "present"
                self.notify(f"could not look into the mirror: {error_text(inspected.size_error)}", severity="warning")
        except MirrorError as exc:
            self.state.release_error = error_text(exc)
            self.query_one("#source-error", Static).update("✗ " + self.state.release_error)
            self.query_one("#source", Input).add_class("-invalid")
            self.set_status("release not readable", "error")
            self.show_info()
            return
        if info.version and info.version != release.version:
            release.version = info.version
        self.show_info()
        self.set_status(f"release {info.version}: {len(info.components)} components", "ok")

    def show_info(self) -> None:
        info = self.state.release_info
        found = self.query("#release-info").results(Facts)
        facts = next(found, None)
        if facts is None:  # not composed yet: prefill shows it
            return
        if info is None:
            facts.set_rows([], empty=Content.styled(
                "The release the path ends at, once the path is read." if self.state.update_mode else
                "Press Inspect (or Enter in the release image) to read the payload.", "$text-muted"))
            self.refresh_help()
            return
        rows: list[tuple[str, str | Content]] = [
            ("Version", f"{info.version} ({info.architecture})"),
            ("Digest", info.digest),
            ("Components", f"{plural(len(info.components), 'image')} from {info.component_repository}")]
        size = self.state.release_size
        if size is not None:
            present = size.present_bytes
            rows.append(("Layers", f"{human_bytes(size.total_bytes)} in {plural(size.blobs, 'blob')}"))
            if self.state.release.mode != ReleaseMode.TO_DIR or self.wizard.mirror_running:
                shown = self.in_mirror(present, size.total_bytes - (present or 0), size.missing_images)
                if shown is not None:
                    rows.append(("In the mirror", shown))
        facts.set_rows(rows)
        self.refresh_help()

    # -- leaving and help --------------------------------------------------------------------------

    async def can_leave(self) -> bool:
        release = self.state.release
        if self.state.update_mode and release.mode == ReleaseMode.FROM_DIR and self.state.path_error:
            self.set_status(f"the path on the medium could not be read: {self.state.path_error}", "error")
            return False
        if self.state.update_mode and release.mode != ReleaseMode.FROM_DIR:
            missing = [(what, where) for what, value, where in (
                ("the channel", release.channel, "#channel"), ("the to version", release.version, "#version"),
                ("the from version (the cluster's version now)", release.from_version, "#from-version"))
                if not value]
            if missing:
                self.set_status("update mode: choose " + " and ".join(w for w, _ in missing)
                                + " (or switch to one version)", "error")
                self.query_one(missing[0][1]).focus()
                return False
            if self.state.path_error:
                self.set_status(f"the update path could not be read: {self.state.path_error}", "error")
                return False
        if self.state.release_error and self.state.release_info is None and (
                release.source or release.mode == ReleaseMode.FROM_DIR):
            # Nothing could be planned from it: the copy would fail at its first step.
            self.set_status(f"the release could not be read: {self.state.release_error} — fix the image "
                            "(or clear it to mirror only image streams), then Inspect", "error")
            self.query_one("#directory" if release.mode == ReleaseMode.FROM_DIR else "#source").focus()
            return False
        if release.mode != ReleaseMode.FROM_DIR and not release.source and not release.is_path:
            self.set_status("choose a release (or clear nothing: a plan may mirror only image streams)", "warn")
            return True
        if release.mode != ReleaseMode.REGISTRY and not release.directory:
            self.set_status("give the removable media folder", "error")
            self.query_one("#directory", Input).focus()
            return False
        if release.mode != ReleaseMode.TO_DIR and not self.state.release_target():
            self.set_status("give the mirror repository", "error")
            return False
        if release.mode != ReleaseMode.TO_DIR and not release.target:
            release.target = self.state.release_target()
        if self.target_problem:
            self.set_status(self.target_problem, "error")
            self.query_one("#target", Input).focus()
            return False
        if self.keys_problem:
            self.set_status(f"release keys: {self.keys_problem}", "error")
            self.query_one("#keys", Input).focus()
            return False
        return self.carried_key_named()

    def carried_key_named(self) -> bool:
        """The far side: a medium carrying release keys none of which is named here gets one question
        before the upload refuses its release. The medium's plan never names them (trusting a key is this
        admin's answer), so the answer is theirs: name it (the default), or go on knowingly (asked once)."""
        release = self.state.release
        if release.mode != ReleaseMode.FROM_DIR:
            return True
        carried = carried_release_keys(release.directory or ".")
        named = {Path(key).resolve() for key in release.keys}
        if not carried or any(Path(key).resolve() in named for key in carried):
            return True
        asked = (release.directory, tuple(carried))
        if getattr(self, "_keys_asked", None) == asked:
            return True
        facts: list[str] = []
        for key in carried:
            try:
                facts += [f"{key}: {fact.line()}" for fact in key_file_facts(key)]
            except MirrorError as exc:
                facts.append(f"{key}: {error_text(exc)}")

        def answer(go_on: bool | None) -> None:
            if go_on:
                self._keys_asked = asked
                self.call_later(self.wizard.next_step)
                return
            # Never filled in for them: two Enters must not trust a key nobody compared. The field is focused
            # once the step is back (its resume would focus Next), scrolled into view with its fingerprint.
            self._focus_once = "#keys"
            self._keys_status = (f"compare the fingerprint with the one you were given, then name {carried[0]}"
                                 + (" (or another carried key)" if len(carried) > 1 else ""))
            self.set_status(self._keys_status, "warn")

        self.app.push_screen(ConfirmScreen(
            f"The medium carries {plural(len(carried), 'release key')} not trusted yet",
            "\n".join(facts) + "\n\nName it in Release keys (after comparing its fingerprint with the one you "
            "were given) or go on (the upload will refuse a release signed by it).",
            yes="Go on without it", no="Name the key"), answer)
        return False

    def help_prose(self) -> str:
        return ("A release is one image (the payload) listing about 180 component images by digest. "
                "Mirroring copies all of them into one repository of your registry and tags the payload "
                "there too. Without a network on the mirror side, copy to removable media first, carry it "
                "over, then upload it. The command prints the mirror block the installer needs (imageDigestSources from "
                "4.14, imageContentSources before).")

    def help_commands(self) -> list[str]:
        state = self.state
        release = state.release
        version = state.release_version()
        arch = release.architecture
        target = state.release_target() or "<local_registry>/<local_repository>"
        registry, _, repository = target.partition("/")
        auth = state.plan.auth_file or "<path_to_pull_secret>"
        source = release.source or "quay.io/${PRODUCT_REPO}/${RELEASE_NAME}:${OCP_RELEASE}-${ARCHITECTURE}"
        media = release.directory or "<removable_media_path>"
        if state.update_mode:
            return self.path_commands()
        commands = [f"OCP_RELEASE={q(version)}\nLOCAL_REGISTRY={q(registry)}\nLOCAL_REPOSITORY={q(repository)}\n"
                    f"PRODUCT_REPO=openshift-release-dev\nLOCAL_SECRET_JSON={q(auth)}\n"
                    f"RELEASE_NAME=ocp-release\nARCHITECTURE={q(arch)}"
                    + (f"\nREMOVABLE_MEDIA_PATH={q(media)}" if release.mode != ReleaseMode.REGISTRY else "")]
        if release.source:
            commands.append(f"oc adm release info {source}")
        to = "${LOCAL_REGISTRY}/${LOCAL_REPOSITORY}"
        # The plan's own to_release_image when it names one (core.release_tag), else the rule in variables.
        to_release = (state.to_release_image() if release.to_release_image
                      else f"{to}:${{OCP_RELEASE}}-${{ARCHITECTURE}}")
        if release.mode == ReleaseMode.REGISTRY:
            commands.append(oc_release_mirror("${LOCAL_SECRET_JSON}", source, to, to_release))
        elif release.mode == ReleaseMode.TO_DIR:
            commands += [medium_to_dir("${LOCAL_SECRET_JSON}", "${REMOVABLE_MEDIA_PATH}", f"--from {source}"),
                         OC_DIR_NOTE]
        else:
            commands += [medium_from_dir("${LOCAL_SECRET_JSON}", "${REMOVABLE_MEDIA_PATH}", to), OC_DIR_NOTE]
        return commands

    def path_commands(self) -> list[str]:
        """Update mode: the graph query, the path with its bytes, and oc's one mirror per release."""
        state = self.state
        release = state.release
        channel = release.channel or "<channel>"
        start, end = release.from_version or "<from_version>", release.version or "<to_version>"
        graph = (f"--graph-file {q(release.graph_file)}" if release.graph_file else
                 f"--graph-url {q(release.graph_url or state.graph_url)}" if (release.graph_url or state.graph_url)
                 else "")
        flags = f"--channel {q(channel)} --from-version {q(start)} --to-version {q(end)}" + (
            " --all-versions" if release.all_versions else "") + (f" \\\n    {graph}" if graph else "")
        auth = state.plan.auth_file or "<path_to_pull_secret>"
        target = state.release_target() or "<local_registry>/<local_repository>"
        versions = [i.version for i in state.current_path()] or [start, "…", end]
        media = q(release.directory or "<removable_media_path>")
        if release.mode == ReleaseMode.FROM_DIR:
            # The far side: every release on the medium, no graph (the bundle's plan pins them by digest).
            return [medium_from_dir(q(auth), media, q(target)), OC_DIR_NOTE]
        commands = [
            "# the update graph of the channel (save it for a host without access: --graph-file)",
            graph_query_command(channel, release.architecture, release.graph_url or state.graph_url or DEFAULT_GRAPH_URL),
            # Comments on their own line before a command, never inside one: after a backslash-continued
            # line a "#" ends the command in bash (and the help panel's wrapping moves trailing comments).
            "# the path, each hop's bytes",
            f"mirror-wizard release list {flags}",
        ]
        if release.mode == ReleaseMode.TO_DIR:
            # The whole path onto the medium in one copy; oc's --to-dir folder is another format.
            return commands + [f"mirror-wizard release mirror -a {q(auth)} {flags} \\\n    --to-dir {media}",
                               OC_DIR_NOTE]
        commands += [f"mirror-wizard release mirror -a {q(auth)} {flags} \\\n    --to {q(target)}",
                     "# oc mirrors one release at a time: every release of the path"]
        for version in versions:
            if version == "…":
                commands.append("# … each release in between …")
                continue
            commands.append(oc_release_mirror(q(auth), release_pull_spec(version, release.architecture), target))
        return commands
