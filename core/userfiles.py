"""Reading a file the admin named, with one-line errors that say what to fix.

Every loader (auth files, pull secrets, CA bundles, plans, mappings, image streams, mirror sets) meets
the same operating-system failures; they are explained here once, in the loader's own error class.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import overload, Literal

from .errors import InputError


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
