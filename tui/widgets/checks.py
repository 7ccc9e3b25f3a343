"""A list of ✓/!/✗ lines with a name, a detail and what to do; used by Preflight, Credentials and CA."""

from __future__ import annotations

from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Static

from tui.state import Check

MARKS = {"ok": ("✓", "$success"), "warn": ("!", "$warning"), "fail": ("✗", "$error"), "wait": ("…", "$text-muted"),
         "info": ("·", "$text-muted")}


class CheckList(Vertical):
    DEFAULT_CSS = """
    CheckList { height: auto; }
    CheckList > .check-row { height: auto; }
    CheckList .check-mark { width: 3; text-style: bold; }
    CheckList .check-name { width: 22; text-style: bold; }
    CheckList .check-detail { width: 1fr; }
    CheckList .check-empty { color: $text-muted; }
    """

    def __init__(self, *, name_width: int = 22, id: str | None = None) -> None:
        super().__init__(id=id)
        self.name_width = name_width
        self.checks: list[Check] = []

    def set_checks(self, checks: list[Check], empty: str = "") -> None:
        self.checks = list(checks)
        self.remove_children()
        if not checks and empty:
            self.mount(Static(empty, classes="check-empty"))
            return
        rows = []
        for check in checks:
            mark, style = MARKS.get(check.state, ("?", ""))
            detail = Content(check.detail)
            if check.fix:
                detail = Content.assemble(detail, "\n", Content.styled(check.fix, "$text-muted"))
            name = Static(check.name, classes="check-name")
            name.styles.width = self.name_width
            rows.append(Horizontal(
                Static(Content.styled(mark, style), classes="check-mark"),
                name,
                Static(detail, classes="check-detail"),
                classes=f"check-row -{check.state}",
            ))
        self.mount_all(rows)
