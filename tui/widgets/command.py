"""A shell command shown so it can be copied: broken only between words, with a trailing `` \\`` so the
lines pasted together are still the same command; a single word wider than the screen is cut, never split."""

from __future__ import annotations

import shlex

from textual.content import Content
from textual.geometry import Size
from textual.widget import Widget

CONTINUATION = " \\"
INDENT = "  "


def _word_breaks(command: str) -> list[int]:
    """Positions of the spaces the command may be broken at: outside quotes and not escaped. The standard
    library's shell lexer decides (the text before a good break splits cleanly on its own)."""
    breaks = []
    for index, char in enumerate(command):
        if char != " " or index == 0 or command[index - 1] == " ":
            continue
        try:
            shlex.split(command[:index])
        except ValueError:  # inside quotes, or right after a backslash
            continue
        breaks.append(index)
    return breaks


def shell_lines(command: str, width: int) -> list[str]:
    """``command`` in lines of at most ``width`` columns where it can be (greedy, between words)."""
    command = " ".join(command.split("\n"))
    if width <= len(CONTINUATION) + len(INDENT) + 1 or len(command) <= width:
        return [command]
    words: list[str] = []
    start = 0
    for index in _word_breaks(command):
        words.append(command[start:index])
        start = index + 1
    words.append(command[start:])
    words = [w for w in words if w]
    lines: list[str] = []
    current = ""
    for word in words:
        if not current:
            current = word
        elif len(current) + 1 + len(word) + len(CONTINUATION) <= width:
            current += " " + word
        else:
            lines.append(current + CONTINUATION)
            current = INDENT + word
    lines.append(current)
    return lines


class CommandText(Widget):
    """One command, wrapped between words for the width it gets; ``command`` is the one-line original."""

    DEFAULT_CSS = """
    CommandText {
        height: auto;
        background: $surface;
        color: $text;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        padding: 0 1;
    }
    """

    def __init__(self, command: str, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.command = command

    def _lines(self, width: int) -> list[str]:
        return shell_lines(self.command, max(width, 1))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lines(width))

    def render(self) -> Content:
        return Content("\n".join(self._lines(self.content_size.width or 80)))
