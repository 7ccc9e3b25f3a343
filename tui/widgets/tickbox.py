"""A checkbox that looks unticked when it is: an empty box, not a dim ✗ that reads as "ticked"."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Checkbox


class TickBox(Checkbox):
    BUTTON_LEFT = "["
    BUTTON_RIGHT = "]"

    @property
    def _button(self) -> Content:
        style = self.get_visual_style("toggle--button")
        inner = "✓" if self.value else " "
        return Content.assemble(("[", ""), (inner, style if self.value else ""), ("]", ""))
