"""Running the admin's ``oc`` for the use cases that change a cluster or ask the client about itself.

core.oc answers read-only questions (async, no stdin); Apply must feed documents on stdin and the
preflight asks ``oc version --client``, so this runner adds stdin and stays synchronous (the wizard calls
it from a thread worker, the CLI directly). Output is bounded with core.oc's limit: whatever ``oc``
prints is not trusted to be small.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..oc import MAX_OUTPUT, OcAnswer

READ_TIMEOUT = 30.0    # whoami, version, get: quick questions


class OcRunner(Protocol):
    """Runs ``oc ARGS`` (stdin fed when given); None when oc did not run or did not finish."""

    def __call__(self, args: Sequence[str], *, stdin: str | None = None,
                 timeout: float = READ_TIMEOUT) -> OcAnswer | None: ...


@dataclass(frozen=True)
class OcProgram:
    """The admin's ``oc`` (its login, its kubeconfig), output bounded as core.oc bounds it."""

    binary: str = "oc"

    def path(self) -> str | None:
        return shutil.which(self.binary)

    def __call__(self, args: Sequence[str], *, stdin: str | None = None,
                 timeout: float = READ_TIMEOUT) -> OcAnswer | None:
        path = self.path()
        if path is None:
            return None
        try:
            done = subprocess.run([path, *args], input=stdin.encode() if stdin is not None else None,
                                  stdin=None if stdin is not None else subprocess.DEVNULL,
                                  capture_output=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if len(done.stdout) > MAX_OUTPUT:  # nothing we ask prints that much: not read
            return OcAnswer(done.returncode or 1, "", f"oc printed more than {MAX_OUTPUT >> 20} MiB; not read")
        return OcAnswer(done.returncode, done.stdout.decode("utf-8", "replace"),
                        done.stderr[:65536].decode("utf-8", "replace"))


__all__ = ["READ_TIMEOUT", "OcProgram", "OcRunner"]
