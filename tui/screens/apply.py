"""The Apply questions and results, as a modal that scrolls so it fits 80x24.

What is applied, in which order, with which merges and questions, is core.usecases.apply's (shared with
``mirror-wizard apply``): this module only shows its questions and the results.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from core.errors import ErrorCode
from core.usecases.apply import ClusterFacts, Question


def refusal_text(code: ErrorCode, facts: ClusterFacts) -> str:
    """Why Apply cannot go on, in the wizard's words (it names its own Apply button)."""
    words = {
        ErrorCode.OC_NO_ANSWER: "oc did not answer",
        ErrorCode.CLUSTER_NOT_LOGGED_IN: "oc is not logged in to a cluster: run oc login first, then Apply",
        ErrorCode.CLUSTER_VERSION_UNKNOWN: "oc cannot read the cluster's version: log in first (oc login), then Apply",
        ErrorCode.CLUSTER_NOT_ADMIN: f"{facts.user} may not change the cluster's configuration: log in as a "
                                     "cluster-admin (oc login), then Apply",
    }
    return words.get(code, f"Apply is not possible now ({code})")


class ApplyScreen(ModalScreen[bool]):
    """The question before Apply, or the results after it: scrolls, so it fits 80x24."""

    DEFAULT_CSS = """
    ApplyScreen { align: center middle; }
    ApplyScreen > Vertical {
        width: 100; max-width: 98%; height: auto; max-height: 95%;
        border: thick $warning 60%; background: $panel; padding: 0 1;
    }
    ApplyScreen .question { text-style: bold; margin-bottom: 1; }
    ApplyScreen VerticalScroll { height: auto; max-height: 1fr; }
    ApplyScreen #apply-body { text-wrap: wrap; }
    ApplyScreen Horizontal { height: auto; align-horizontal: right; margin-top: 1; }
    ApplyScreen Button { margin-left: 2; }
    """
    BINDINGS = [Binding("escape", "no", "Close"), Binding("y", "yes", "Yes", show=False)]

    def __init__(self, question: str, body: str, *, yes: str | None = "Apply", no: str = "Not now") -> None:
        super().__init__()
        self.question, self.body, self.yes_label, self.no_label = question, body, yes, no

    @classmethod
    def asking(cls, question: Question) -> ApplyScreen:
        """The modal for one of core.usecases.apply's questions."""
        return cls(question.question, question.body, yes=question.yes, no=question.no)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content(self.question), classes="question")
            with VerticalScroll(id="apply-scroll"):
                yield Static(Content(self.body), id="apply-body")
            with Horizontal():
                yield Button(self.no_label, id="no", compact=True)
                if self.yes_label:
                    yield Button(self.yes_label, id="yes", variant="warning", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed, "#yes")
    def action_yes(self) -> None:
        if self.yes_label:
            self.dismiss(True)

    @on(Button.Pressed, "#no")
    def action_no(self) -> None:
        self.dismiss(False)
