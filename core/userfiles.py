"""Reading a file the admin named, with one-line errors that say what to fix.

Every loader (auth files, pull secrets, CA bundles, plans, mappings, image streams, mirror sets) meets
the same operating-system failures; they are explained here once, in the loader's own error class.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal, overload

import yaml

from .errors import InputError, MirrorError


@overload
def read_user_file(path: str | os.PathLike[str], what: str, error: type[InputError], *,
                   text: Literal[True], inside: str = ..., missing_hint: str | None = ...) -> str: ...


@overload
def read_user_file(path: str | os.PathLike[str], what: str, error: type[InputError], *,
                   text: Literal[False] = ..., inside: str = ..., missing_hint: str | None = ...) -> bytes: ...


def read_user_file(path: str | os.PathLike[str], what: str, error: type[InputError], *,
                   text: bool = False, inside: str = "the file", missing_hint: str | None = None) -> str | bytes:
    """Return the contents of ``path``; ``what`` names it in messages ("pull secret /x/y.json ...").

    ``inside`` says what to give instead when a directory is named (people often pass the folder
    that holds ``ca.crt`` or ``pull-secret.json``).
    """
    p = Path(path).expanduser()
    label = f"{what} {p}"
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise error(f"{label} does not exist", hint=missing_hint) from None
    except IsADirectoryError:
        raise error(f"{label} is a directory; give {inside} inside it") from None
    except PermissionError:
        raise error(f"cannot read {label}: permission denied") from None
    except OSError as exc:
        raise error(f"cannot read {label}: {exc.strerror or exc}") from None
    if not text:
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{label} is not a text file (UTF-8 expected)") from None


def parse_json(raw: str | bytes, *, where: str, error: type[MirrorError] = InputError, what: str = "JSON") -> Any:
    """``json.loads`` whose every failure is one ``error`` naming ``where``: bad syntax, bad UTF-8, and
    nesting so deep it exhausts Python's recursion (``[[[[…`` from a hostile file or registry), which
    ``json`` reports as RecursionError, not ValueError. Never quotes the input: it may hold a secret."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise error(f"{where} is not valid {what} (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise error(f"{where} is not usable {what}: it is nested too deeply") from None
    except (ValueError, TypeError):  # UnicodeDecodeError is a ValueError
        raise error(f"{where} is not valid {what} (not UTF-8 text)") from None


def parse_yaml(raw: str | bytes, *, where: str, error: type[MirrorError] = InputError, what: str = "YAML") -> Any:
    """``yaml.safe_load`` whose every failure is one ``error`` naming ``where`` (with the line, when
    PyYAML knows it): bad syntax, and nesting deep enough to exhaust Python's recursion, which PyYAML
    reports as RecursionError. Never quotes the input: it may hold a secret."""

    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise error(f"{where} is not valid {what}{at}") from None
    except RecursionError:
        raise error(f"{where} is not usable {what}: it is nested too deeply") from None
