"""Unique repository names, so tests can share the session-wide registries without seeing each other."""

from __future__ import annotations

import itertools
import os

_counter = itertools.count(1)


def unique_repo(prefix: str = "test") -> str:
    return f"{prefix}/r{os.getpid()}-{next(_counter)}"
