"""Read-only panels the keyboard reaches: Tab focuses them (a focused widget scrolls into view), and the
arrow and page keys then scroll the step around them. At 80x24 a preview below the last field (the
samples Config, the release's sizes) was otherwise out of reach without a mouse."""

from __future__ import annotations

from textual.binding import Binding, BindingType
from textual.containers import ScrollableContainer
from textual.widget import Widget
from textual.widgets import Static

from tui.widgets.facts import Facts
from tui.widgets.note import Note

READABLE_BINDINGS: list[BindingType] = [
    Binding("down", "scroll_step(1)", "Scroll", show=False),
    Binding("up", "scroll_step(-1)", "Scroll", show=False),
    Binding("pagedown", "page_step(1)", "Page", show=False),
    Binding("pageup", "page_step(-1)", "Page", show=False),
]

READABLE_CSS = """
{name}:focus {{ background-tint: $accent 12%; }}
"""


def _scroller(widget: Widget) -> ScrollableContainer | None:
    for node in widget.ancestors:
        if isinstance(node, ScrollableContainer):
            return node
    return None


def _scroll_step(widget: Widget, lines: int) -> None:
    body = _scroller(widget)
    if body is not None:
        body.scroll_relative(y=lines, animate=False)


def _page_step(widget: Widget, direction: int) -> None:
    body = _scroller(widget)
    if body is not None:
        body.scroll_relative(y=direction * max(1, body.scrollable_content_region.height - 1), animate=False)


class ReadableText(Static, can_focus=True):
    BINDINGS = READABLE_BINDINGS
    DEFAULT_CSS = READABLE_CSS.format(name="ReadableText")

    def action_scroll_step(self, lines: int) -> None:
        _scroll_step(self, lines)

    def action_page_step(self, direction: int) -> None:
        _page_step(self, direction)


class ReadableFacts(Facts, can_focus=True):
    BINDINGS = READABLE_BINDINGS
    DEFAULT_CSS = READABLE_CSS.format(name="ReadableFacts")

    def action_scroll_step(self, lines: int) -> None:
        _scroll_step(self, lines)

    def action_page_step(self, direction: int) -> None:
        _page_step(self, direction)


class ReadableNote(Note, can_focus=True):
    """A Note that may outgrow the room it has (the files Done wrote): put it in a ScrollableContainer of
    a bounded height; Tab reaches it while it says something, and the arrows scroll that container."""

    BINDINGS = READABLE_BINDINGS
    DEFAULT_CSS = READABLE_CSS.format(name="ReadableNote")

    def action_scroll_step(self, lines: int) -> None:
        _scroll_step(self, lines)

    def action_page_step(self, direction: int) -> None:
        _page_step(self, direction)


__all__ = ["ReadableFacts", "ReadableNote", "ReadableText"]
