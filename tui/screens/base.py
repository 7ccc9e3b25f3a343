"""What every step screen shares: step indicator, body, help panel, Back/Next, footer."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.events import Resize, ScreenResume
from textual.screen import Screen
from textual.widgets import Button, Footer, Static

from tui.state import STEP_KEYS, WizardState, error_text
from tui.widgets.help import HelpPanel
from tui.widgets.steps import StepIndicator

if TYPE_CHECKING:
    from tui.app import MirrorWizardApp

# Below this width the help panel does not fit beside the form: F1 swaps between them.
NARROW_WIDTH = 110


class StepScreen(Screen[None]):
    """One step of the procedure. Subclasses set STEP and implement compose_body/help_prose/help_commands."""

    STEP: ClassVar[str] = ""
    NEXT_LABEL: ClassVar[str] = "Next ▶"
    # No auto focus: Textual's focuses the first field with a *scrolling* set_focus, an animation that
    # could land after focus_first had put the step at its top (at 80x24 the step then opened scrolled
    # down). focus_first chooses the field, without scrolling.
    AUTO_FOCUS = ""
    # False for steps whose body fills the screen itself (the Mirror step's table and log).
    BODY_SCROLLS: ClassVar[bool] = True
    # Save plan first: the footer is cut at the right on 80 columns, and the step's own keys
    # (Start, Cancel) come after these.
    BINDINGS = [
        Binding("ctrl+s", "app.save_plan", "Save plan", priority=True),
        Binding("escape", "escape", "Back"),
        Binding("ctrl+n", "next", "Next"),
        Binding("f1", "toggle_help", "Help"),
        Binding("ctrl+y", "copy_commands", "Copy commands"),
    ]

    @property
    def wizard(self) -> MirrorWizardApp:
        return cast("MirrorWizardApp", self.app)  # every step runs in the wizard's app

    @property
    def state(self) -> WizardState:
        return self.wizard.state

    # -- layout ------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StepIndicator(self.STEP, id="steps")
        with Horizontal(id="main"):
            body = VerticalScroll(id="body") if self.BODY_SCROLLS else Vertical(id="body")
            body.can_focus = False  # focus goes to the fields; a focused field scrolls into view
            with body:
                yield from self.compose_body()
            yield HelpPanel(id="help")
        with Horizontal(id="nav"):
            yield Button("◀ Back", id="back", compact=True, disabled=self.STEP == STEP_KEYS[0])
            yield Static(id="status")
            # The "What this does" panel, by a labelled key that fits on every width (the footer is cut
            # at 80 columns before it reaches F1).
            yield Button("F1 What this does", id="help-button", compact=True)
            yield Button(self.NEXT_LABEL, id="next", variant="primary", compact=True)
        yield Footer(compact=True)

    def compose_body(self) -> ComposeResult:
        yield from ()

    ready = False  # composed and prefilled: the App's timer may redraw it

    def on_mount(self) -> None:
        self.prefill()
        self._apply_width(self.app.size.width)
        self.refresh_help()
        self.ready = True

    def prefill(self) -> None:
        """Fill the inputs from the plan (runs once, when the screen is first shown)."""

    def on_screen_resume(self, event: ScreenResume) -> None:
        self.query_one(StepIndicator).set_visited(self.state.visited)
        self.mirror_tick()
        self._apply_width(self.app.size.width)
        self.step_shown()
        self.refresh_help()
        self.call_after_refresh(self.focus_first)

    def first_focus(self) -> str:
        """The widget an admin arriving at this step wants first (an empty field, else Next)."""
        return "#next"

    def focus_first(self) -> None:
        if isinstance(self.app.screen, StepScreen) and self.app.screen is not self:
            return
        try:
            widget = self.query_one(self.first_focus())
        except Exception:
            widget = self.query_one("#next")
        if widget.focusable:
            # The step opens at its top (its title and lead), even when the field it focuses is lower.
            widget.focus(scroll_visible=False)
            try:
                self.query_one("#body").scroll_home(animate=False)
            except Exception:
                pass

    def step_shown(self) -> None:
        """Called every time the step becomes current (earlier steps may have changed the inputs)."""

    def mirror_tick(self) -> None:
        """The App's timer while this step is current: show a copy running (or just ended) elsewhere."""
        progress = self.state.progress
        sign = ""
        if self.wizard.mirror_running:
            percent = (100 * progress.bytes_moved_of_plan // progress.bytes_to_move
                       if progress.planned and progress.bytes_to_move else 0)
            sign = f"⇣{percent}%" + ("!" if self.state.mirror_out_of_date() else "")
        for indicator in self.query(StepIndicator):  # none yet while the step is being composed
            indicator.set_mirror_sign(sign)
            if indicator.visited != self.state.visited:
                indicator.set_visited(self.state.visited)

    def on_resize(self, event: Resize) -> None:
        self._apply_width(event.size.width)

    def _apply_width(self, width: int) -> None:
        self.set_class(width < NARROW_WIDTH, "-narrow")

    # -- help panel ----------------------------------------------------------------------------------

    def help_prose(self) -> str:
        return ""

    def help_commands(self) -> list[str]:
        return []

    def refresh_help(self) -> None:
        try:
            panel = self.query_one(HelpPanel)
        except Exception:
            return
        try:
            commands = self.help_commands()
        except Exception as exc:  # a half-typed input must never break the screen
            commands = [f"# cannot show the commands yet: {error_text(exc)}"]
        panel.set_content(self.help_prose(), commands)

    def help_covers_step(self) -> bool:
        """F1 opened the panel over the step (a narrow terminal): Esc closes it before it goes Back."""
        return self.has_class("-narrow") and self.has_class("-help-open")

    def on_screen_suspend(self) -> None:
        # The panel F1 opened over this step belongs to this visit: coming back (Back, a click on the
        # steps) shows the step itself. The wide layout's panel beside the form is a standing choice.
        if self.help_covers_step():
            self.action_toggle_help()

    def action_toggle_help(self) -> None:
        panel = self.query_one(HelpPanel)
        if self.has_class("-narrow"):
            self.toggle_class("-help-open")
            opened = self.has_class("-help-open")
            # Open full-width, the panel takes the focus so arrows and PageDown scroll it.
            panel.can_focus = opened
            if opened:
                self._focus_before_help = self.focused
                panel.focus()
            else:
                previous = getattr(self, "_focus_before_help", None)
                if previous is not None and previous.is_attached:
                    previous.focus()
                else:
                    self.focus_next()
        else:
            self.toggle_class("-help-closed")

    def action_copy_commands(self) -> None:
        self.app.copy_to_clipboard(self.query_one(HelpPanel).commands_text)
        self.notify("commands copied to the clipboard (if your terminal allows it)")

    # -- status line and navigation ------------------------------------------------------------------

    def set_status(self, text: str, kind: str = "info") -> None:
        """One line beside the buttons; kind is info, ok, warn or error."""
        status = self.query_one("#status", Static)
        status.set_classes(f"-{kind}")
        status.update(Content(text))

    async def can_leave(self) -> bool:
        """Check and store the inputs before Next; show what to fix and return False to stay."""
        return True

    @on(Button.Pressed, "#next")
    async def _next_pressed(self) -> None:
        await self.next_pressed()

    async def next_pressed(self) -> None:
        """The Next button itself (a click, or Enter on it). Ctrl+N is action_next: on the steps where
        Next does something weighty (start the copy, quit) only the button does it."""
        await self.action_next()

    @on(Button.Pressed, "#help-button")
    def _help_pressed(self) -> None:
        self.action_toggle_help()

    @on(Button.Pressed, "#back")
    async def _back_pressed(self) -> None:
        await self.action_back()

    @on(StepIndicator.Jump)
    async def _jump(self, event: StepIndicator.Jump) -> None:
        await self.wizard.goto(event.step)

    async def action_next(self) -> None:
        await self.wizard.next_step()

    async def action_back(self) -> None:
        await self.wizard.previous_step()

    async def action_escape(self) -> None:
        """Esc closes what F1 opened over the step first; only then does it go Back."""
        if self.help_covers_step():
            self.action_toggle_help()
            return
        await self.action_back()
