"""A line of text that takes no room while it is empty (inline errors, hints under a field)."""

from __future__ import annotations

from textual.content import Content
from textual.visual import VisualType
from textual.widgets import Static


class Note(Static):
    def __init__(self, content: VisualType = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(content, id=id, classes=classes)
        self.display = bool(self._plain(content))

    @staticmethod
    def _plain(content: object) -> str:
        if isinstance(content, Content):
            return content.plain
        return str(content) if content is not None else ""

    def update(self, content: VisualType = "", *, layout: bool = True) -> None:
        super().update(content, layout=layout)
        self.display = bool(self._plain(content).strip())
