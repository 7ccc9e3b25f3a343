"""The step indicator: where the admin is in the procedure, always visible at the top."""

from __future__ import annotations

from textual.content import Content
from textual.events import Click
from textual.message import Message
from textual.widget import Widget

from tui.state import STEP_KEYS, STEPS


class StepIndicator(Widget):
    """One line: ✓ for steps done, ● for the current one. Narrow terminals get numbers for the others."""

    DEFAULT_CSS = """
    StepIndicator {
        height: 1;
        width: 1fr;
        background: $panel;
        color: $text-muted;
        padding: 0 1;
    }
    """

    class Jump(Message):
        """The admin clicked a step they have already visited."""

        def __init__(self, step: str) -> None:
            super().__init__()
            self.step = step

    def __init__(self, current: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.current = current
        self.visited: set[str] = set()
        # A copy running while the admin is on another step: shown on the Mirror step's label, so
        # leaving the Mirror step (Esc) never hides it. "" when no copy runs.
        self.mirror_sign = ""
        self._spans: list[tuple[int, int, str]] = []

    def set_visited(self, visited: set[str]) -> None:
        self.visited = set(visited)
        self.refresh()

    def set_mirror_sign(self, sign: str) -> None:
        """"⇣ 42%" while a copy runs (with "!" when the plan changed since it started), else ""."""
        if sign != self.mirror_sign:
            self.mirror_sign = sign
            self.refresh()

    def _parts(self, compact: bool, *, names_ahead: int = 0) -> list[tuple[str, str, str]]:
        """(step key, text, style) for each step; ``names_ahead`` keeps the names of that many steps still
        to come when the others are numbers (what is next matters more than what is done)."""
        parts = []
        current = STEP_KEYS.index(self.current) + 1 if self.current in STEP_KEYS else 0
        for number, (key, title) in enumerate(STEPS, start=1):
            if key == "mirror" and self.mirror_sign and key != self.current:
                parts.append((key, f"{number}{self.mirror_sign}" if compact else f"{title} {self.mirror_sign}",
                              "bold $warning"))
            elif key == self.current:
                parts.append((key, f"● {number} {title}", "bold $accent"))
            elif key in self.visited:
                parts.append((key, f"✓ {number}" if compact else f"✓ {title}", "$success"))
            else:
                named = not compact or 0 < number - current <= names_ahead
                parts.append((key, title if named else f"{number}", "$text-muted"))
        return parts

    def render(self) -> Content:
        width = self.size.width or 80

        def fits(parts: list[tuple[str, str, str]], separator: str) -> bool:
            return sum(len(text) for _, text, _ in parts) + len(separator) * (len(parts) - 1) <= width

        separator = " › "
        parts = self._parts(compact=False)
        # Narrower: done steps as numbers, and as many of the next steps by name as fit (the next one
        # at least), before falling back to numbers only.
        for ahead in range(len(STEPS), 0, -1):
            if fits(parts, separator):
                break
            parts = self._parts(compact=True, names_ahead=ahead)
        if not fits(parts, separator):
            separator = " "
            parts = self._parts(compact=True)
        pieces: list[Content] = []
        self._spans = []
        offset = 0
        for index, (key, text, style) in enumerate(parts):
            if index:
                pieces.append(Content.styled(separator, "$text-muted"))
                offset += len(separator)
            pieces.append(Content.styled(text, style))
            self._spans.append((offset, offset + len(text), key))
            offset += len(text)
        return Content("").join(pieces)

    def on_click(self, event: Click) -> None:
        x = event.x - 1  # padding
        for start, end, key in self._spans:
            if start <= x < end and (key in self.visited or key == self.current):
                self.post_message(self.Jump(key))
                return
