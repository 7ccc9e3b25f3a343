"""Step 9, Verify: prove the mirror and the cluster are ready — the checks of ``mirror-wizard verify``.

The mirror side runs when the step is first shown (and again when the plan changed); the cluster side
after Apply on the Done step, or whenever the admin asks (c). Each check is posted as a message as soon
as it completes, so rows appear one by one while the others are still being asked; "Check again" (r)
re-runs them, which is what an admin does while machine config pools roll out.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from core.errors import ErrorCode, MirrorError
from core.oc import Oc
from core.plan import ReleaseMode
from core.text import plural, shell_quote
from core.usecases.machine import OC_DOWNLOAD, oc_source
from core.verify import Check, Side, Status, cluster_checks, expected_from_plan, mirror_checks, open_session
from tui.access import wizard_auth
from tui.screens.base import StepScreen
from tui.state import error_text
from tui.widgets.command import CommandText
from tui.widgets.note import Note

if TYPE_CHECKING:
    from core.usecases.machine import OC_DOWNLOAD, oc_source
from core.verify import Expected

MAX_SHOWN_ITEMS = 8  # a row lists this many failing things; the CLI (shown in the help) lists them all
STYLES = {Status.PASS: "$success", Status.FAIL: "$error", Status.SKIP: "$text-muted"}
PENDING = "cluster-pending"


def wizard_advice(check: Check, *, oc_found: bool, oc_where: str = OC_DOWNLOAD) -> str:
    """What to do about a ✗ or – line in the wizard's own terms (steps and keys, not CLI flags)."""
    name, status = check.name, check.status
    if name == PENDING:
        if oc_found:
            return ""
        return (f"Get the OpenShift CLI (oc) from {oc_where} and log in, then press c — or, where oc is, "
                "run the command of the help panel (F1).")
    if status is Status.PASS:
        return ""
    if name == "cluster-access":
        if not oc_found or check.code is ErrorCode.OC_MISSING:
            return (f"Get the OpenShift CLI (oc) from {oc_where} and log in to the cluster, then press c "
                    "(Check cluster).")
        return "Log in to the cluster in another terminal, then press c here:"
    if name == "node-pull-source":
        return ""  # its reason already says what to run and what to expect
    if status is Status.SKIP:
        return ""
    if name in ("release-images", "release-tag", "samples-images"):
        return "Go back to the Mirror step and press Resume: only what is missing is copied. By hand:"
    if name == "samples-skipped":
        return ("Image streams step: keep the stream or leave it out; then Resume on the Mirror step and "
                "Write files on the Done step. By hand:")
    if name == "mirror-certificate":
        return "CA step: choose the CA file that signed the mirror's certificate. To look at it by hand:"
    if name in ("cluster-trust", "cluster-mirror-sets", "samples-config"):
        return "Done step: Apply with oc sends this to the cluster (then press r here). By hand:"
    if name == "samples-imports":
        return ("Fix the likely cause shown, then import again (the operator also retries every 15 minutes) "
                "and press r:")
    if name == "samples-status":
        return "The operator is still importing or has errors: press r in a minute. To read its conditions:"
    if name == "machine-config-pools":
        return "Nodes are still taking the new mirror and CA settings, one at a time: press r in a few minutes."
    return ""


class VerifyRow(Vertical, can_focus=True):
    """One check: ✓/✗/– with its title and reason, the failing items, what to do, and the command."""

    # Not in the footer (the step's own keys must fit at 80 columns): the line itself says "y copies".
    BINDINGS = [Binding("y", "copy", "Copy", show=False), Binding("enter", "copy", "Copy", show=False)]

    def __init__(self, check: Check, *, oc_found: bool, oc_where: str = OC_DOWNLOAD) -> None:
        super().__init__(classes=f"verify-row -{check.status.value}")
        self.check = check
        self.oc_found = oc_found
        self.oc_where = oc_where

    @property
    def command(self) -> str | None:
        command = self.check.fix_command
        if self.check.name == "cluster-access":  # its fix speaks to a shell user; the wizard says it in words
            return "oc login <API server URL>" if self.oc_found and self.check.code is not ErrorCode.OC_MISSING else None
        return command

    def compose(self) -> ComposeResult:
        check = self.check
        advice = check.fix_advice
        wizard = wizard_advice(check, oc_found=self.oc_found, oc_where=self.oc_where)
        with Horizontal(classes="verify-line"):
            yield Static(Content.styled(check.status.symbol, f"bold {STYLES[check.status]}"), classes="verify-mark")
            with Vertical(classes="verify-text"):
                yield Static(Content.assemble((check.title, "bold"), ": ", check.detail), classes="verify-detail")
                if check.items:
                    shown = check.items[:MAX_SHOWN_ITEMS]
                    more = len(check.items) - len(shown)
                    lines = [f"• {item}" for item in shown] + ([f"… and {more} more"] if more else [])
                    yield Static(Content("\n".join(lines)), classes="verify-items")
                text = " ".join(part for part in (wizard, advice if not wizard else "") if part)
                command = self.command
                if command:
                    if not text:
                        text = "y copies the command:"
                    elif text.endswith(":"):
                        text = text[:-1] + " (y copies):"
                    else:
                        text += " By hand (y copies):"
                if text:
                    yield Static(Content(text), classes="verify-advice")
                if command:
                    yield CommandText(command, classes="verify-command")

    def set_check(self, check: Check) -> None:
        self.check = check
        self.set_classes(f"verify-row -{check.status.value}")
        self.refresh(recompose=True)

    def action_copy(self) -> None:
        command = self.command
        if not command:
            self.notify("no command on this line")
            return
        self.app.copy_to_clipboard(command)
        self.notify("command copied to the clipboard (if your terminal allows it)")


def pending_check(oc_found: bool) -> Check:
    if not oc_found:
        detail = "not checked: oc is not on PATH on this machine"
    else:
        detail = "not checked yet: after Apply with oc on the Done step it is checked here; c checks it now"
    return Check(PENDING, "cluster", Side.CLUSTER, Status.SKIP, detail,
                 code=None if oc_found else ErrorCode.OC_MISSING)


class VerifyScreen(StepScreen):
    STEP = "verify"
    CSS_PATH = "verify.tcss"
    NEXT_LABEL = "Quit"
    BINDINGS = [
        Binding("r", "check_again", "Check again"),
        Binding("c", "check_cluster", "Check cluster"),
    ]

    class Checked(Message):
        """One check completed (``run`` tells a current run from one that was replaced)."""

        def __init__(self, run: int, check: Check) -> None:
            super().__init__()
            self.run = run
            self.check = check

    class Phase(Message):
        """What the run is doing now, for the status line."""

        def __init__(self, run: int, text: str) -> None:
            super().__init__()
            self.run = run
            self.text = text

    class Finished(Message):
        def __init__(self, run: int, error: str = "") -> None:
            super().__init__()
            self.run = run
            self.error = error

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="title-row"):
            yield Static("Verify", classes="step-title")
            yield Note(id="verify-summary", classes="hint")
        yield Static("Mirror registry", classes="verify-side")
        yield Vertical(id="rows-mirror", classes="verify-rows")
        yield Static("Cluster (read-only, through oc)", classes="verify-side")
        yield Vertical(id="rows-cluster", classes="verify-rows")

    # -- state -----------------------------------------------------------------------------------------

    def prefill(self) -> None:
        self.run = 0
        self.running: set[Side] = set()
        self.reported: set[str] = set()
        self.oc_found = shutil.which("oc") is not None
        release = self.state.release
        # The far side: the medium's own oc (it matches the release), not a download it cannot reach.
        self.oc_where = oc_source(release.directory if release.mode == ReleaseMode.FROM_DIR else None,
                                  release.version)
        for check in self.state.verify_checks:
            self._container(check.side).mount(VerifyRow(check, oc_found=self.oc_found, oc_where=self.oc_where))
        self._show_pending()
        self._summarise()
        self.set_status(*self.verdict())

    def step_shown(self) -> None:
        self.oc_found = shutil.which("oc") is not None
        if not self.wizard.auto_check or self.running:
            return
        state = self.state
        cluster_asked = state.verify_cluster_applies >= 0 or state.cluster_applies > 0
        if state.verify_key != state.plan_key():
            self.start(mirror=True, cluster=cluster_asked)
        elif state.cluster_applies > state.verify_cluster_applies and state.cluster_applies > 0:
            self.start(mirror=False, cluster=True)  # applied since the last look: see what the cluster says

    def first_focus(self) -> str:
        return ".verify-row.-fail"

    def _container(self, side: Side) -> Vertical:
        return self.query_one(f"#rows-{side.value}", Vertical)

    def _rows(self, side: Side) -> list[VerifyRow]:
        return list(self._container(side).query_children(VerifyRow))

    def _show_pending(self) -> None:
        """The cluster side's one line until it has been checked (oc missing, or not asked yet)."""
        if any(c.side is Side.CLUSTER for c in self.state.verify_checks):
            return
        rows = self._rows(Side.CLUSTER)
        check = pending_check(self.oc_found)
        if rows and rows[0].check.name == PENDING:
            rows[0].set_check(check)
        elif not rows:
            self._container(Side.CLUSTER).mount(VerifyRow(check, oc_found=self.oc_found, oc_where=self.oc_where))

    # -- running ---------------------------------------------------------------------------------------

    def action_check_again(self) -> None:
        """Everything that was checked, again (the cluster side too once it has been asked for)."""
        state = self.state
        cluster = state.verify_cluster_applies >= 0 or state.cluster_applies > 0
        self.start(mirror=True, cluster=cluster)

    def action_check_cluster(self) -> None:
        self.start(mirror=False, cluster=True)

    def start(self, *, mirror: bool, cluster: bool) -> None:
        self.run += 1
        self.running = ({Side.MIRROR} if mirror else set()) | ({Side.CLUSTER} if cluster else set())
        self.reported = set()
        for side in self.running:
            for row in self._rows(side):
                row.add_class("-stale")
        self.set_status("checking the mirror …" if mirror else "asking the cluster (oc, read-only) …")
        self._summarise()
        self.verify(self.run, mirror, cluster)

    @work(exclusive=True, group="verify", exit_on_error=False)
    async def verify(self, run: int, mirror: bool, cluster: bool) -> None:
        state = self.state
        key = state.plan_key()
        plan = state.plan_for_saving()
        plan_file = str(state.save_path())
        try:
            expected: Expected | None = state.verify_expected if state.verify_key == key else None
            if mirror or expected is None:
                # verify's one way to a session, with the logins the wizard holds
                async with open_session(plan, auth=wizard_auth(state)) as session:
                    expected = await expected_from_plan(plan, session, plan_file)
                    if mirror:
                        async for check in mirror_checks(expected, session):
                            self.post_message(self.Checked(run, check))
                state.verify_expected, state.verify_key = expected, key
            if cluster:
                self.post_message(self.Phase(run, "asking the cluster (oc, read-only) …"))
                applies = state.cluster_applies
                async for check in cluster_checks(expected, Oc()):
                    self.post_message(self.Checked(run, check))
                state.verify_cluster_applies = applies
        except MirrorError as exc:
            self.post_message(self.Finished(run, error_text(exc)))
            return
        except Exception as exc:  # a bug, not an answer: one line, never a crash of the wizard
            self.log.error("verify failed", exc_info=exc)
            self.post_message(self.Finished(run, f"unexpected error: {error_text(exc)}"))
            return
        self.post_message(self.Finished(run))

    @on(Phase)
    def _phase(self, event: Phase) -> None:
        if event.run == self.run:
            self.set_status(event.text)

    @on(Checked)
    def _checked(self, event: Checked) -> None:
        if event.run != self.run:
            return  # from a run that "Check again" replaced
        check = event.check
        self.reported.add(check.name)
        # The wizard's state keeps the list: mirror side first, each side in the order checked.
        state = self.state
        names = [c.name for c in state.verify_checks]
        if check.name in names:
            state.verify_checks[names.index(check.name)] = check
        else:
            state.verify_checks.append(check)
            state.verify_checks.sort(key=lambda c: c.side is Side.CLUSTER)
        rows = self._rows(check.side)
        same = next((r for r in rows if r.check.name == check.name), None)
        if same is not None:
            same.set_check(check)
            same.remove_class("-stale")
        else:
            # After the rows this run has already given; stale ones drift below and go at the end.
            fresh = [i for i, r in enumerate(rows) if not r.has_class("-stale")]
            position = fresh[-1] + 1 if fresh else 0
            row = VerifyRow(check, oc_found=self.oc_found, oc_where=self.oc_where)
            container = self._container(check.side)
            if position < len(rows):
                container.mount(row, before=position)
            else:
                container.mount(row)
        self._summarise()
        self.refresh_help()

    @on(Finished)
    def _finished(self, event: Finished) -> None:
        if event.run != self.run:
            return
        state = self.state
        if event.error:
            # Earlier results stay, dimmed: they are what was known before this attempt.
            self.set_status(f"not checked: {event.error}", "error")
        else:
            # What this run did not report again is gone (the cluster side shrinks to one line when oc
            # is logged out, say).
            for side in self.running:
                for row in self._rows(side):
                    if row.has_class("-stale"):
                        row.remove()
                state.verify_checks = [c for c in state.verify_checks if c.side is not side or c.name in self.reported]
            self.set_status(*self.verdict())
        self.running = set()
        self._show_pending()
        self._summarise()
        self.refresh_help()
        focused = self.focused
        # The first failure gets the focus (y copies its command), unless the admin is on a line already.
        if focused is None or not focused.is_attached or focused.has_class("-stale") or focused.id == "next":
            self.call_after_refresh(self.focus_first)

    # -- what the admin reads --------------------------------------------------------------------------

    def counts(self, side: Side) -> tuple[int, int, int]:
        checks = [c for c in self.state.verify_checks if c.side is side]
        return (sum(c.status is Status.PASS for c in checks), sum(c.status is Status.FAIL for c in checks),
                sum(c.status is Status.SKIP for c in checks))

    def verdict(self) -> tuple[str, str]:
        checks = self.state.verify_checks
        if not checks:
            return "", "info"
        failed = [c for c in checks if c.failed]
        cluster = any(c.side is Side.CLUSTER and c.status is not Status.SKIP for c in checks)
        if failed:
            return f"not ready: {plural(len(failed), 'check')} failed — see ✗ below", "error"
        if not cluster:
            return "the mirror is ready; the cluster is not checked yet", "ok"
        return "ready: every check that ran passed", "ok"

    def _summarise(self) -> None:
        parts = []
        for side, label in ((Side.MIRROR, "mirror"), (Side.CLUSTER, "cluster")):
            passed, failed, skipped = self.counts(side)
            if side in self.running:
                parts.append(f"{label} checking …")
            elif passed + failed + skipped:
                parts.append(f"{label} {passed} ✓ {failed} ✗ {skipped} –")
        self.query_one("#verify-summary", Note).update(" · ".join(parts))

    def help_prose(self) -> str:
        return ("Proves the result instead of hoping: every release image the cluster will pull is looked up on "
                "the mirror by digest, through the mirror sets, as the nodes will; every image stream tag you "
                "kept on samplesRegistry by tag; the streams left out must be skipped; the mirror's certificate "
                "must verify with your CA. The cluster side asks [b]oc[/b] (read-only) about trust, mirror sets, "
                "the samples operator, imports and machine config pools — [b]r[/b] checks again while the pools "
                "roll out. Nothing is changed anywhere. Tab moves between lines; [b]y[/b] copies a line's command.")

    def help_commands(self) -> list[str]:
        commands = [f"mirror-wizard verify {shell_quote(str(self.state.save_path()))} --cluster"
                    "   # the same checks from a shell"]
        for check in self.state.verify_checks:
            command = check.fix_command
            if command and (check.failed or check.name == "node-pull-source"):
                commands += [f"# {check.title}", command]
        return commands

    async def action_next(self) -> None:
        # Ctrl+N on the last step: there is no next step, and quitting is never one stray key away.
        self.set_status("last step: Quit or Ctrl+Q leaves", "info")

    async def next_pressed(self) -> None:
        await self.wizard.action_quit()  # asks first when something is unsaved, running or not applied
