"""Read-only text of prose and shell commands (README.txt's far-side steps), wrapped by us to the view's
width: prose at word boundaries with its paragraph's indent, commands cut as the help panel cuts them
(tui.widgets.help.wrap_command: each cut ends in a backslash, so the lines still paste as one command).

The README is hard-wrapped near 100 columns; a TextArea's own soft wrap cut those lines again at the edge
and started every piece at column 0, so each paragraph read as long line, short stub, long line (the
walk at 100x30). Here a paragraph's lines are joined first, then wrapped once.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from textual.widgets import TextArea

from core.bundle_write import VENV
from tui.widgets.help import split_comment, wrap_command

# How a command line of README.txt (core.bundle_write.far_side_steps) or of the Done step's own lines starts,
# after its indent: anything else is prose ("gpg must say …" is a sentence; "(or, with Sequoia: sq …)" too).
COMMAND_STARTS = (f"{VENV}/", "mirror-wizard ", "sha256sum ", "G=$(", "python3 -m ")
LIST_ITEM = re.compile(r"(\d+\.|•) ")  # "1. Install …", "• the whole bundle folder …"
ENDS_SENTENCE = (".", ":", "?")  # a line ending so is a paragraph's last (one paragraph a line elsewhere)


def is_command(line: str) -> bool:
    return line.lstrip().startswith(COMMAND_STARTS)


@dataclass
class Paragraph:
    indent: int        # of its first line
    hang: int          # of its further lines (a list item's text, after its marker)
    words: list[str]


def reflow(text: str, width: int) -> str:
    """``text`` wrapped to ``width``: hard-wrapped prose joined into paragraphs and wrapped again at word
    boundaries (a list item's further lines under its text), commands cut with continuation backslashes,
    blank lines kept. A word longer than the width stays whole (the view wraps that one)."""
    if width <= 0:
        return text
    out: list[str] = []
    paragraph: Paragraph | None = None
    last_prose = ""

    def flush() -> None:
        nonlocal paragraph
        if paragraph is not None:
            out.extend(textwrap.wrap(" ".join(paragraph.words), width, initial_indent=" " * paragraph.indent,
                                     subsequent_indent=" " * paragraph.hang, break_long_words=False,
                                     break_on_hyphens=False) or [""])
            paragraph = None

    continued = False
    for line in text.splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if not stripped:
            flush()
            out.append("")
            continued = False
            continue
        if is_command(line) or continued:
            flush()
            out.extend(wrap_command(line.rstrip(), width, continued=continued))
            continued = split_comment(line)[0].rstrip().endswith("\\")
            continue
        item = LIST_ITEM.match(stripped)
        joins = (paragraph is not None and item is None and indent == paragraph.hang
                 and not last_prose.endswith(ENDS_SENTENCE))
        if not joins:
            flush()
            paragraph = Paragraph(indent, indent + (len(item.group(0)) if item else 0), [])
        assert paragraph is not None
        paragraph.words.append(stripped)
        last_prose = stripped
    flush()
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


class WrappedText(TextArea):
    """A read-only TextArea showing ``reflow(source, its width)``, wrapped again when its width changes.
    Soft wrap stays on for the odd word longer than a line (a long path in prose): never cut off."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, read_only=True, soft_wrap=True)
        self.source = ""
        self._wrapped_for = -1

    def set_source(self, text: str) -> None:
        if text != self.source:
            self.source = text
            self._wrapped_for = -1
            self.rewrap()

    def text_width(self) -> int:
        """The columns a line may take without the widget wrapping it again: its wrap width, less the
        scrollbar the (long) text will bring when it is not shown yet."""
        bar = 0 if self.show_vertical_scrollbar else self.styles.scrollbar_size_vertical
        return self.wrap_width - bar

    def rewrap(self) -> None:
        width = self.text_width()
        if width <= 0:  # not laid out yet (a hidden tab): wrapped once it has a size
            if self.text != self.source:
                self.text = self.source
            return
        if width == self._wrapped_for:
            return
        self._wrapped_for = width
        wrapped = reflow(self.source, width)
        if self.text != wrapped:
            self.text = wrapped

    def on_resize(self) -> None:
        self.rewrap()


__all__ = ["WrappedText", "is_command", "reflow"]
