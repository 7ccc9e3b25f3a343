"""Formatting shared by every front end and document: sizes, durations, shell quoting.

One helper per job, so the wizard, the CLI and the runbook never disagree on how "1.5 GiB" or a
quoted path is written.
"""

from __future__ import annotations

import math
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


def shell_quote(value: str) -> str:
    """Quote one word of a command shown to the admin. Placeholders the admin replaces (``<password>``)
    and shell variables (``${REGISTRY}``) stay readable, since quoting them would stop them working."""
    if (value.startswith("<") and value.endswith(">")) or (value.startswith("${") and value.endswith("}")):
        return value
    return shlex.quote(value)


def plural(n: int, word: str, words: str | None = None) -> str:
    """"1 image", "3 images"."""
    return f"{n} {word if n == 1 else (words or word + 's')}"
