"""Step 8, Done: what the cluster needs now — mirror sets, the CA ConfigMap, the samples Config — written
to a folder with the runbook, and applied with `oc` when it is here and the admin says so."""

from __future__ import annotations

import shutil
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Markdown, Static, TabbedContent, TabPane, TextArea

from core.errors import MirrorError
from core.plan import ReleaseMode, save_plan
from core.reference import LOOPBACK_NOTE, is_loopback_host
from core.run import Prepared, output_folder, write_outputs
from core.runbook import render_runbook
from core.text import plural
from core.text import shell_quote as q
from core.usecases.apply import (
    OcProgram,
    OcStep,
    Outcome,
    Proposal,
    change_count,
    prepare_documents,
    propose,
    without_ca,
)
from core.usecases.apply import apply as apply_steps
from core.usecases.documents import apply_commands, cluster_documents
from core.usecases.machine import OC_DOWNLOAD
from tui.access import wizard_session
from tui.screens.apply import ApplyScreen, refusal_text
from tui.screens.base import StepScreen
from tui.screens.media import media_ending
from tui.state import error_text
from tui.widgets.field import Field
from tui.widgets.note import Note
from tui.widgets.readable import ReadableNote
from tui.widgets.wrapped import WrappedText

# What the cluster steps need of the machine they run on: one text, said here beside Apply and on Review
# before the copy (the procedure: "access to the cluster as a user with the cluster-admin role").
OC_LOGIN_NOTE = "Apply with oc and Verify need oc logged in as cluster-admin, with an oc matching the release"


def apply_label(mode: str) -> str:
    """The Apply button's words: a medium's cluster is changed on the far side, after the upload."""
    return "Apply: after the upload" if mode == "to-dir" else "Apply with oc"


def oc_login_note(mode: ReleaseMode | str) -> str:
    """OC_LOGIN_NOTE with where that oc comes from in this mode: straight into the registry there is no
    medium, so Red Hat's download site (core.usecases.machine, as Preflight says); with removable media the
    medium's own oc, extracted from the release (the far side has no internet)."""
    if mode == ReleaseMode.FROM_DIR:
        where = "the medium's bin/oc, or bin/<version>/oc for an update path"
    elif mode == ReleaseMode.TO_DIR:
        where = "on the far side, the medium's bin/oc, or bin/<version>/oc for an update path"
    else:
        where = f"from {OC_DOWNLOAD}"
    return f"{OC_LOGIN_NOTE} ({where})."

TABS = [("media", "Removable media"), ("install", "install-config"), ("idms", "IDMS"), ("icsp", "ICSP"),
        ("ca", "CA"), ("signatures", "Signatures"), ("samples", "Samples"), ("updateservice", "Update service"),
        ("runbook", "Runbook")]


class DoneScreen(StepScreen):
    STEP = "done"
    BODY_SCROLLS = False
    NEXT_LABEL = "Verify ▶"
    BINDINGS = [Binding("ctrl+o", "write", "Write files")]

    # The workers below run in threads: they post these, and the handlers (on the app's thread) apply
    # them to the state and the widgets.
    class Written(Message):
        """The files were written (``error`` says why not)."""

        def __init__(self, folder: Path, written: list[Path], plan_path: Path | None, error: str = "") -> None:
            super().__init__()
            self.folder, self.written, self.plan_path, self.error = folder, written, plan_path, error

    class Proposed(Message):
        """The cluster answered: what applying would change, and the questions to ask."""

        def __init__(self, run: OcProgram, proposal: Proposal) -> None:
            super().__init__()
            self.run, self.proposal = run, proposal

    class Applied(Message):
        """oc ran every step it could: one line per step."""

        def __init__(self, outcome: Outcome) -> None:
            super().__init__()
            self.outcome = outcome

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="title-row"):
            yield Static("Done", classes="step-title")
            yield Note(id="done-summary", classes="hint")
        # Every tab exists from the start in one fixed order; show_documents only hides the ones this plan
        # has nothing for, so a tab that appears later never moves the others.
        with TabbedContent(id="docs"):
            for key, title in TABS:
                with TabPane(title, id=f"tab-{key}"):
                    if key == "runbook":
                        # Rendered as Markdown: prose wraps once, at the pane; code blocks keep their lines.
                        with VerticalScroll(id="runbook-scroll"):
                            yield Markdown(id="doc-runbook")
                    elif key == "media":
                        # README's prose and commands, wrapped by us to the tab's width (tui.widgets.wrapped)
                        yield WrappedText(id="doc-media")
                    else:
                        yield TextArea(id=f"doc-{key}", read_only=True, soft_wrap=False)
        with Horizontal(classes="row"):
            yield Field(id="out-dir", placeholder="output folder", compact=True)
            yield Button("Write files", id="write", variant="primary", compact=True)
            yield Button(apply_label(self.state.release.mode), id="apply", compact=True)
        yield Static(oc_login_note(self.state.release.mode), classes="hint", id="oc-note")
        # What was written (the far side's list is long: a signature ConfigMap per release): never cut off,
        # scrolled from the keyboard (Tab reaches it) when it is taller than its room.
        with VerticalScroll(id="written-scroll", can_focus=False):
            yield ReadableNote(id="written", classes="hint")

    def prefill(self) -> None:
        self.query_one("#out-dir", Input).value = self.state.plan.output_dir
        self._tabs: set[str] = set()
        self._runbook = ""
        tabs = self.query_one("#docs", TabbedContent)
        # The runbook first, so hiding the others never makes Textual move the selection itself (its
        # message could land after show_documents chose the first document).
        tabs.active = "tab-runbook"
        for key, _ in TABS[:-1]:  # until the documents are known, the runbook tab alone
            tabs.hide_tab(f"tab-{key}")
        self.step_shown()

    def step_shown(self) -> None:
        # Never greyed out without a word: pressing it says why it is not available (apply_unavailable).
        apply = self.query_one("#apply", Button)
        apply.label = apply_label(self.state.release.mode)
        apply.refresh(layout=True)  # a longer label than the one it was laid out with must not be cut
        self.query_one("#oc-note", Static).update(oc_login_note(self.state.release.mode))  # the mode may change
        problem = self.blocked()
        if problem:
            self.set_status(problem, "error")
        if self.state.current_prepared() is None:
            if self.wizard.auto_check and not self.state.mirror_out_of_date():
                self.prepare()
            return
        self.show_documents()
        if not problem:
            self.set_status("")

    def blocked(self) -> str:
        """Why nothing may be written or applied now ("" when it may): documents must match the plan."""
        state = self.state
        if state.mirror_out_of_date():
            return "the plan changed after the mirror: go back to the Mirror step and Resume first"
        if state.prepared is not None and state.current_prepared() is None and not self.wizard.auto_check:
            return "the plan changed since these were computed: go back to the Mirror step"
        if state.current_prepared() is None:
            return "nothing to write yet"
        return ""

    def for_cluster(self) -> Prepared | None:
        """The prepared documents as they may go to the cluster: never a CA that did not verify."""
        prepared = self.state.current_prepared()
        if prepared is not None and prepared.ca is not None and self.state.ca_unverified():
            prepared = without_ca(prepared)
        return prepared

    def first_focus(self) -> str:
        return "#write"

    @work(exclusive=True, group="prepare", exit_on_error=False)
    async def prepare(self) -> None:
        self.set_status("computing the manifests …")
        key = self.state.plan_key()
        try:
            async with wizard_session(self.state) as session:
                prepared = await prepare_documents(self.state.plan_for_saving(), session)
        except MirrorError as exc:
            self.set_status(error_text(exc), "error")
            return
        self.state.prepared, self.state.prepared_key = prepared, key
        self.set_status("")
        self.show_documents()

    def show_documents(self) -> None:
        prepared = self.for_cluster()
        if prepared is None:
            return
        tabs = self.query_one("#docs", TabbedContent)
        texts = {key: text for key, _, text in self.tab_list(prepared)}
        texts["runbook"] = render_runbook(prepared.plan, prepared.runbook_parts())
        first = ""
        for key, _ in TABS:
            text = texts.get(key)
            if key == "runbook":
                if text is not None and text != self._runbook:
                    self._runbook = text
                    self.query_one("#doc-runbook", Markdown).update(text)
                first = first or key
                continue
            area = self.query_one(f"#doc-{key}", TextArea)
            if text is None:
                tabs.hide_tab(f"tab-{key}")
                continue
            tabs.show_tab(f"tab-{key}")
            first = first or key
            if isinstance(area, WrappedText):
                area.set_source(text)
            elif area.text != text:
                area.text = text
        if texts.keys() != self._tabs:
            self._tabs = set(texts)
            # After the hide/show above has settled (hiding the active tab moves the selection itself).
            self.call_after_refresh(setattr, tabs, "active", f"tab-{first}")
        self.query_one("#done-summary", Static).update(self.summary_line(prepared))
        notes = []
        if self.state.ca_unverified():
            notes.append(f"! the CA is left out: it was not verified against {self.state.mirror_host} (CA step)")
        if is_loopback_host(self.state.mirror_host):
            # The practice sandbox: fine here, never for a cluster. Said beside the cluster's documents.
            notes.append(f"! {self.state.mirror_host}: {LOOPBACK_NOTE}")
        if notes:
            self.query_one("#written", Static).update("\n".join(notes))
        self.refresh_help()

    def tab_list(self, prepared: Prepared) -> list[tuple[str, str, str]]:
        """(key, title, text) for every document tab this plan has (the runbook aside)."""
        tabs = [(d.key, d.title, d.text) for d in cluster_documents(prepared, str(self.state.save_path()))]
        if self.state.release.mode == "to-dir":
            result = self.state.mirror_result
            images = result.images_done if result is not None else None
            tabs.insert(0, ("media", "Removable media", media_ending(self.state, images)))
        return tabs

    def summary_line(self, prepared: Prepared) -> str:
        result = self.state.mirror_result
        if self.state.release.mode == "to-dir":
            # Short enough for one line at 80 columns; the Removable media tab names the folder.
            count = f"{result.images_done} images" if result is not None else "the images"
            # What this run did, no more: it never looked at what the registry holds (the far side fills it).
            return f"{count} on the removable media, for the registry on the far side"
        if result is None:
            return f"the mirror has not run for this plan · {change_count(prepared)} changes for the cluster"
        if self.state.mirror_stale:  # pruned (or found lacking) after the run: its count is no longer true
            return (f"! {self.state.mirror_stale_note()}: Resume on the Mirror step · "
                    f"{change_count(prepared)} changes for the cluster")
        return f"{result.images_done} images in the mirror · {change_count(prepared)} changes for the cluster"

    # -- write -----------------------------------------------------------------------------------------

    @on(Input.Changed, "#out-dir")
    def out_changed(self, event: Input.Changed) -> None:
        if event.value.strip():
            self.state.plan.output_dir = event.value.strip()
        self.refresh_help()

    @on(Input.Submitted, "#out-dir")
    @on(Button.Pressed, "#write")
    def action_write(self) -> None:
        problem = self.blocked()
        if problem:
            self.set_status(problem, "error")
            return
        prepared = self.for_cluster()
        if prepared is not None:  # blocked() said so already otherwise
            self.write_files(prepared, self.state.plan.output_dir)

    @work(thread=True, exclusive=True, group="write", exit_on_error=False)
    def write_files(self, prepared: Prepared, folder: str) -> None:
        out = Path(folder).expanduser()
        try:
            # A to-dir plan's far side uses the bundle's own plan.yaml (the Removable media tab): no second one.
            written = write_outputs(prepared, out)
            plan_path = self.state.save_path()
            # Beside the documents: a read-only medium's own output folder moves to ~ (output_folder).
            plan_path = output_folder(plan_path.parent) / plan_path.name
            save_plan(self.state.plan_for_saving(), plan_path)
        except (MirrorError, OSError) as exc:
            self.post_message(self.Written(out, [], None, error_text(exc)))
            return
        self.post_message(self.Written(out, written, plan_path))

    @on(Written)
    def _written(self, event: Written) -> None:
        if event.error or event.plan_path is None:
            self.set_status(f"not written: {event.error}", "error")
            return
        self.state.written = event.written + [event.plan_path]
        names = ", ".join(p.name for p in event.written)
        # Where they went (core.run.output_folder: a read-only medium's own output folder moves to ~).
        folder = event.written[-1].parent if event.written else event.folder
        # Where first, then the names: the folder and the plan stay in sight however long the list is.
        self.query_one("#written", Static).update(
            f"✓ wrote {plural(len(event.written), 'file')} in {folder} (plan saved to {event.plan_path}): {names}")
        self.query_one("#written-scroll").scroll_home(animate=False)
        self.set_status(f"{len(event.written)} files written", "ok")
        self.refresh_help()

    # -- apply -----------------------------------------------------------------------------------------

    def apply_unavailable(self) -> str:
        """Why Apply cannot run now, in words the admin can act on ("" when it can)."""
        state = self.state
        if state.release.mode == "to-dir":
            return ("Apply waits: the images are on the removable media, not in the registry. Upload them on the "
                    "far side (Removable media tab), then apply from there")
        if shutil.which("oc") is None:
            return ("Apply is unavailable: oc (the OpenShift CLI) is not on PATH here. Write the files and apply "
                    "them from a machine with oc, or install oc and press Apply again")
        problem = self.blocked()
        if problem:
            return problem
        result = state.mirror_result
        if result is None or not result.ok or state.mirror_stale:
            return "Apply waits until the mirror holds the images: finish the Mirror step first"
        return ""

    @on(Button.Pressed, "#apply")
    def apply_pressed(self) -> None:
        problem = self.apply_unavailable()
        if problem:
            # The whole reason where it wraps; the one-line status says where to look.
            self.query_one("#written", Static).update("! " + problem)
            self.set_status(problem.split(":", 1)[0] + " — see below", "warn")
            return
        self.set_status("asking the cluster (oc whoami, oc version, oc get) …")
        self.ask_cluster(shutil.which("oc") or "oc")

    @work(thread=True, exclusive=True, group="apply", exit_on_error=False)
    def ask_cluster(self, oc: str) -> None:
        """Who and where oc is logged in, the cluster's version (IDMS from 4.13, ICSP before) and the CA
        configuration it has already (merged, never replaced): core.usecases.apply.propose."""
        run = OcProgram(oc)
        prepared = self.for_cluster()
        if prepared is None:  # apply_unavailable() said so already
            return
        self.post_message(self.Proposed(run, propose(prepared, run)))

    @on(Proposed)
    def _proposed(self, event: Proposed) -> None:
        self.confirm_apply(event.run, event.proposal)

    def confirm_apply(self, run: OcProgram, proposal: Proposal) -> None:
        code = proposal.refusal
        if code is not None:
            self.set_status(refusal_text(code, proposal.facts), "error")
            return
        self.set_status("")

        def replace_answer(yes: bool | None) -> None:
            # Its own question: without a yes, the cluster's signature ConfigMaps stay as they are.
            replace = bool(yes)
            self.apply(run, proposal.steps_for(replace_signatures=replace), proposal.kept_for(replace_signatures=replace))

        def answer(yes: bool | None) -> None:
            second = proposal.replace_question()
            if yes and second is not None:
                self.app.push_screen(ApplyScreen.asking(second), replace_answer)
            elif yes:
                self.apply(run, proposal.steps)

        self.app.push_screen(ApplyScreen.asking(proposal.question()), answer)

    @work(thread=True, exclusive=True, group="apply-run", exit_on_error=False)
    def apply(self, run: OcProgram, steps: list[OcStep], kept: list[str] | None = None) -> None:
        self.post_message(self.Applied(apply_steps(run, steps, kept)))

    @on(Applied)
    def _applied(self, event: Applied) -> None:
        if event.outcome.ok:
            self.wizard.applied = True
        self.show_results(event.outcome.ok, event.outcome.lines)

    def show_results(self, ok: bool, lines: list[str]) -> None:
        self.query_one("#written", Static).update("\n".join(lines))
        self.set_status("applied — every result is listed" if ok else "oc failed — see the results", "ok" if ok else "error")
        self.app.push_screen(ApplyScreen("Applied" if ok else "oc failed", "\n".join(lines), yes=None, no="Close"))

    def help_prose(self) -> str:
        prepared = self.state.current_prepared()
        instructions = prepared.instructions if prepared is not None else None
        # the block and the set this release's installer and cluster take, as the tabs show them
        block = instructions.install_config_key if instructions is not None else "imageDigestSources"
        kind = (instructions.cluster_kind if instructions is not None
                else "ImageDigestMirrorSet (or an ImageContentSourcePolicy before 4.13)")
        return (f"A new cluster gets the mirror through [b]{block}[/b] in install-config.yaml "
                f"(plus the CA in additionalTrustBundle). A running cluster gets an {kind}, "
                "the CA ConfigMap with the image config patch, and the "
                "samples operator's Config. The runbook repeats every step with its commands."
                + (" [b]Update service[/b]: the UpdateService that serves update recommendations inside the "
                   "cluster from the graph-data image the mirror holds, the CA key it reads the releases with, "
                   "and the patch that points the cluster at it." if self.state.release.graph_image else ""))

    def help_commands(self) -> list[str]:
        out = Path(self.state.plan.output_dir or "<output>").expanduser()
        prepared = self.for_cluster()
        commands = apply_commands(prepared, out)
        if self.state.release.mode != "to-dir":  # the same objects, order and questions as Apply here
            commands.append(f"# or all of it, asked first:\nmirror-wizard apply {q(str(self.state.save_path()))}")
        if self.state.release.mode != "to-dir":
            # The installer for a new cluster, taken from the mirrored release so it matches it exactly.
            auth = q(self.state.plan.auth_file or "<pull-secret.json>")
            commands.append(f"oc adm release extract -a {auth} --command=openshift-install \\\n"
                            f"    {q(self.state.to_release_image())}")
        return commands
