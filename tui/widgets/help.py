"""The "what this does" panel: the step in plain words and the `oc` commands it stands for."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import ScrollableContainer, VerticalScroll
from textual.content import Content
from textual.widgets import Static


def split_words(line: str) -> list[str]:
    """The line's words, split only at spaces outside quotes (a quoted JSON patch stays one word)."""
    words: list[str] = []
    current: list[str] = []
    quote = ""
    for char in line:
        if quote:
            current.append(char)
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
            current.append(char)
        elif char == " ":
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        words.append("".join(current))
    return words


def split_comment(line: str) -> tuple[str, str]:
    """(command, "# trailing comment") — a # outside quotes that starts a word begins the comment."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] == " "):
            return line[:index].rstrip(), line[index:]
    return line, ""


def wrap_comment(line: str, width: int) -> list[str]:
    """A comment cut at spaces; each further line starts with "#" again."""
    if width <= 0 or len(line) <= width:
        return [line]
    lead = line[: len(line) - len(line.lstrip())]
    words = line.split()
    lines: list[str] = []
    current = lead + words[0]
    for word in words[1:]:
        if len(current) + 1 + len(word) <= width:
            current += " " + word
        else:
            lines.append(current)
            current = lead + "#   " + word
    lines.append(current)
    return lines


BREAK_AFTER = "/?&=:.,-@"  # where a URL or a pull spec reads well cut (its parts stay whole)
BREAK_LOOKBACK = 12  # how far before the line's end a cut looks for one


def split_word(word: str, first_room: int, room: int) -> list[str]:
    """A word longer than a line, cut into pieces that paste back as that one word: each piece but the
    last ends in a backslash (bash removes a backslash-newline wherever it is, inside a word or double
    quotes too), and the pieces after the first start at the line's first column (an indent would be a
    space inside the word). Inside single quotes a backslash is literal, so a cut there closes the quote
    before it and opens it again after ('abc'\\ + 'def' is abcdef). Never cut right after a backslash
    that escapes the next character; near the line's end, after a "/" or "?" rather than inside a name.
    Each piece keeps two columns free (a " \\" may follow it)."""
    # Before each character: the quote it is in, and whether a cut may go there (not after an escape).
    quotes: list[str] = []
    cuttable: list[bool] = []
    quote, escaped = "", False
    for char in word:
        quotes.append(quote)
        cuttable.append(not escaped)
        if escaped:
            escaped = False
        elif quote == "'":
            quote = "" if char == "'" else quote
        elif char == "\\":
            escaped = True
        elif quote == '"':
            quote = "" if char == '"' else quote
        elif char in "'\"":
            quote = char
    pieces: list[str] = []
    begin, limit, reopen = 0, first_room - 2, ""
    while True:
        # the furthest cut that fits this line (the piece, its closing quote and backslash)
        fits = [end for end in range(begin + 1, len(word))
                if cuttable[end] and len(reopen) + end - begin + (2 if quotes[end] == "'" else 1) <= limit]
        if len(reopen) + len(word) - begin <= limit or not fits:
            pieces.append(reopen + word[begin:])
            return pieces
        end = fits[-1]
        nicer = [cut for cut in fits if cut > end - BREAK_LOOKBACK and word[cut - 1] in BREAK_AFTER]
        end = nicer[-1] if nicer else end
        inside = quotes[end] == "'"
        pieces.append(reopen + word[begin:end] + ("'\\" if inside else "\\"))
        begin, limit, reopen = end, room - 2, "'" if inside else ""


def wrap_command(line: str, width: int, indent: str = "    ", *, continued: bool = False) -> list[str]:
    """A command line cut to ``width`` at spaces between words, each cut ending in " \\" so the lines
    still paste as one command. A trailing comment moves to its own line above (a backslash inside a
    comment would not continue anything) — or below, when ``line`` continues the line before it: a
    comment above would end the command there. A word longer than a whole line (a URL) is cut inside
    (split_word), so all of it is on screen and the lines still paste as that word."""
    if line.lstrip().startswith("#"):
        return wrap_comment(line, width)
    if width <= 0 or len(line) <= width:
        return [line]
    command, comment = split_comment(line)
    lead = line[: len(line) - len(line.lstrip())]
    if continued and comment:
        return [*wrap_command(command.rstrip(), width, indent), *wrap_comment(lead + comment, width)]
    above = wrap_comment(lead + comment, width) if comment else []
    words = split_words(command)
    if not words:
        return above or [line]
    if len(command) <= width:
        return [*above, command]
    if len(words) > 1 and words[-1] == "\\":
        # The line already continues: its backslash stays on its last piece, never alone on a line.
        # (Two columns fewer: its " \\" goes after the last piece.)
        *cut, last = wrap_command(command[: command.rstrip().rfind("\\")].rstrip(), width - 2, indent)
        return [*above, *cut, last + " \\"]
    lines: list[str] = []

    def start(prefix: str, word: str) -> str:
        """``word`` at the start of a line: whole when it fits (with less indent if need be: a path is
        better whole than cut), else its pieces, the last one continuing."""
        for shorter in (prefix, lead):
            if len(shorter) + len(word) + 2 <= width:
                return shorter + word
        first, *rest = split_word(word, width - len(prefix), width)
        if not rest:
            return prefix + first
        lines.append(prefix + first)
        lines.extend(rest[:-1])
        return rest[-1]

    current = start(lead, words[0])
    for word in words[1:]:
        if len(current) + 1 + len(word) + 2 <= width:
            current += " " + word
        else:
            lines.append(current + " \\")
            current = start(lead + indent, word)
    lines.append(current)
    return [*above, *lines]


def continues_word(line: str) -> bool:
    """Whether ``line`` ends inside a word: an unescaped backslash right after a character that is not a
    space (a split_word piece). bash removes that backslash-newline and reads on in the same word, so the
    next line belongs at column 0: any space before it would end the word there (two arguments)."""
    body = line.rstrip("\\")
    return (len(line) - len(body)) % 2 == 1 and bool(body) and not body[-1].isspace()


def render_commands(commands: list[str], width: int = 0) -> Content:
    """Comments dim, commands bold with a prompt; continuation lines indented as typed (two columns, under
    the prompt), except the rest of a word cut inside (split_word): that starts at the first column, so the
    lines pasted as shown, indent and all, still make the same command. With a width, long commands are cut
    at spaces with a trailing backslash, a word longer than a line inside it."""
    lines: list[Content] = []
    for command in commands:
        prompted = False
        continued = False
        glued = False  # the part before ended inside a word
        for line in command.splitlines() or [""]:
            parts = wrap_command(line, width - 2 if width else 0, continued=continued)  # room for the prompt
            continued = split_comment(line)[0].rstrip().endswith("\\")
            for part in parts:
                if part.lstrip().startswith("#"):
                    lines.append(Content.styled(part, "$text-muted italic"))
                elif not prompted:
                    prompted = True
                    lines.append(Content.assemble(("$ ", "$text-muted"), (part, "bold")))
                else:
                    lines.append(Content.styled(part if glued else "  " + part, "bold"))
                glued = not part.lstrip().startswith("#") and continues_word(part)
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
    HelpPanel > #help-commands-scroll { background: $surface; height: auto; overflow-x: auto; overflow-y: hidden;
                                        scrollbar-size-horizontal: 1; }
    HelpPanel #help-commands { width: auto; min-width: 100%; text-wrap: nowrap; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._prose = ""
        self._commands: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static("What this does", classes="help-title")
        yield Static(id="help-prose")
        yield Static("The same by hand  (Ctrl+Y copies them)", classes="help-subtitle")
        # Never wrapped by the terminal: cut at spaces with a backslash, a longer word scrolls sideways.
        with ScrollableContainer(id="help-commands-scroll", can_focus=False):
            yield Static(id="help-commands")

    def set_content(self, prose: str, commands: list[str]) -> None:
        if prose != self._prose:
            self._prose = prose
            self.query_one("#help-prose", Static).update(Content.from_markup(prose))
        if commands != self._commands:
            self._commands = list(commands)
            self._render_commands()

    def _render_commands(self) -> None:
        width = self.scrollable_content_region.width - 2  # the code view's padding
        self.query_one("#help-commands", Static).update(render_commands(self._commands, width))

    def on_resize(self) -> None:
        self._render_commands()

    @property
    def commands_text(self) -> str:
        return "\n".join(self._commands)
