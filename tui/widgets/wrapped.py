"""Read-only text of prose and shell commands (README.txt's far-side steps), wrapped by us to the view's
width: prose at word boundaries with its paragraph's indent, commands cut as the help panel cuts them
(tui.widgets.help.wrap_command: each cut ends in a backslash, so the lines still paste as one command).

The README is hard-wrapped near 100 columns; a TextArea's own soft wrap cut those lines again at the edge
and started every piece at column 0, so each paragraph read as long line, short stub, long line (the
walk at 100x30). Here a paragraph's lines are joined first, then wrapped once.
"""

from __future__ import annotations

from textual.widgets import TextArea

from core.bundle_write import is_command
from core.bundle_write import reflow as reflow_text
from tui.widgets.help import split_comment, wrap_command


def reflow(text: str, width: int) -> str:
    """``text`` wrapped to ``width`` as README.txt is (core.bundle_write.reflow: prose joined and wrapped at
    word boundaries with its paragraph's indent), its commands cut as the help panel cuts them."""
    return reflow_text(text, width, wrap_command=wrap_command,
                       continues=lambda line: split_comment(line)[0].rstrip().endswith("\\"))


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

    # Text to read, not to edit: the arrows scroll the view. They moved an unseen cursor through the lines
    # already on screen first, so the text seemed stuck for a screenful of presses (the walk at 100x30).
    def action_cursor_down(self, select: bool = False) -> None:
        if select:
            super().action_cursor_down(select)
        else:
            self.scroll_down(animate=False)

    def action_cursor_up(self, select: bool = False) -> None:
        if select:
            super().action_cursor_up(select)
        else:
            self.scroll_up(animate=False)

    def action_cursor_line_start(self, select: bool = False) -> None:  # Home: the top, as a pager's
        if select:
            super().action_cursor_line_start(select)
        else:
            self.scroll_home(animate=False)

    def action_cursor_line_end(self, select: bool = False) -> None:  # End: the bottom
        if select:
            super().action_cursor_line_end(select)
        else:
            self.scroll_end(animate=False)


__all__ = ["WrappedText", "is_command", "reflow"]
