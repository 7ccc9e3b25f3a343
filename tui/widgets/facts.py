"""Label: value lines whose values wrap in their own column (release details, the Review summary)."""

from __future__ import annotations

from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Static


class Facts(Vertical):
    DEFAULT_CSS = """
    Facts { height: auto; }
    Facts > Horizontal { height: auto; }
    Facts .fact-key { text-style: bold; }
    Facts .fact-value { width: 1fr; }
    Facts .fact-empty { color: $text-muted; }
    """

    def __init__(self, *, key_width: int = 16, id: str | None = None) -> None:
        super().__init__(id=id)
        self.key_width = key_width
        self.rows: list[tuple[str, str | Content]] = []

    def set_rows(self, rows: list[tuple[str, str | Content]], empty: str | Content = "") -> None:
        if rows == self.rows and rows:
            return
        if rows and [k for k, _ in rows] == [k for k, _ in self.rows] and len(self.children) == len(rows):
            # Same lines, new values (a running copy's numbers): update in place, no blank frame between
            # removing the old lines and mounting new ones.
            for line, (_, value) in zip(self.children, rows, strict=True):
                line.query_one(".fact-value", Static).update(value)
            self.rows = list(rows)
            return
        self.rows = list(rows)
        self.remove_children()
        if not rows:
            if empty:
                self.mount(Static(empty, classes="fact-empty"))
            return
        lines = []
        for key, value in rows:
            label = Static(key, classes="fact-key")
            label.styles.width = self.key_width
            lines.append(Horizontal(label, Static(value, classes="fact-value")))
        self.mount_all(lines)
