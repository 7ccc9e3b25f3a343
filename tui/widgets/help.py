"""The "what this does" panel: the step in plain words and the `oc` commands it stands for."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static


def render_commands(commands: list[str]) -> Content:
    """Comments dim, commands bold with a prompt; continuation lines indented as typed."""
    lines: list[Content] = []
    for command in commands:
        for number, line in enumerate(command.splitlines() or [""]):
            if line.lstrip().startswith("#"):
                lines.append(Content.styled(line, "$text-muted italic"))
            elif number == 0:
                lines.append(Content.assemble(("$ ", "$text-muted"), (line, "bold")))
            else:
                lines.append(Content.styled("  " + line, "bold"))
    return Content("\n").join(lines)


class HelpPanel(VerticalScroll, can_focus=False):
    """Right-hand panel (or a full-width view on narrow terminals, toggled with F1)."""

    DEFAULT_CSS = """
    HelpPanel {
        width: 42%;
        max-width: 72;
        border-left: vkey $primary 40%;
        padding: 0 1;
        background: $boost;
    }
    HelpPanel > .help-title { text-style: bold; color: $accent; margin-bottom: 1; }
    HelpPanel > #help-prose { margin-bottom: 1; }
    HelpPanel > .help-subtitle { text-style: bold; color: $text-muted; }
    HelpPanel > #help-commands { background: $surface; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._prose = ""
        self._commands: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static("What this does", classes="help-title")
        yield Static(id="help-prose")
        yield Static("The same by hand", classes="help-subtitle")
        yield Static(id="help-commands")

    def set_content(self, prose: str, commands: list[str]) -> None:
        if prose != self._prose:
            self._prose = prose
            self.query_one("#help-prose", Static).update(Content.from_markup(prose))
        if commands != self._commands:
            self._commands = list(commands)
            self.query_one("#help-commands", Static).update(render_commands(commands))

    @property
    def commands_text(self) -> str:
        return "\n".join(self._commands)
