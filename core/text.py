"""Formatting shared by every front end and document: sizes, durations, shell quoting, outside text.

One helper per job, so the wizard, the CLI and the runbook never disagree on how "1.5 GiB" or a
quoted path is written.
"""

from __future__ import annotations

import math
import re
import shlex

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def human_bytes(n: float | None) -> str:
    """Binary units, one decimal from KiB on ("512 B", "1.5 GiB"); ``None`` (unknown) is "?"."""
    if n is None:
        return "?"
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} {_UNITS[-1]}"  # pragma: no cover - the loop always returns


def human_seconds(seconds: float | None) -> str:
    """"42s", "3m05s", "2h10m"; unknown or negative is "–" (never a made-up zero)."""
    if seconds is None or math.isnan(seconds) or seconds < 0:
        return "–"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


# What a terminal (or the wizard, which hands text to one) would obey rather than show: C0 controls
# (ESC starts every escape sequence: titles, screen clears, OSC 8 links, clipboard writes), DEL, the C1
# controls (0x9b is a one-byte CSI on some terminals), and the Unicode format characters that reorder
# or hide text (bidi overrides and isolates, zero-width marks, line/paragraph separators).
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_UNSAFE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(text: object, *, one_line: bool = False) -> str:
    """Text from outside (oc, cluster objects, registries, files), made safe to print or render: every
    character a terminal would obey is written out as ``\\x1b`` / ``\\u202e`` instead. Newlines and tabs
    stay unless ``one_line``. The one helper for this: apply it where outside text meets a screen."""
    value = text if isinstance(text, str) else str(text)
    return (_UNSAFE_LINE if one_line else _UNSAFE).sub(_escape, value)


def shell_quote(value: str) -> str:
    """Quote one word of a command shown to the admin. Placeholders the admin replaces (``<password>``)
    and shell variables (``${REGISTRY}``) stay readable, since quoting them would stop them working.
    A word with control characters (a hostile node or object name) is shown escaped, never raw."""
    value = shown(value, one_line=True)
    if (value.startswith("<") and value.endswith(">")) or (value.startswith("${") and value.endswith("}")):
        return value
    return shlex.quote(value)


def plural(n: int, word: str, words: str | None = None) -> str:
    """"1 image", "3 images"."""
    return f"{n} {word if n == 1 else (words or word + 's')}"
