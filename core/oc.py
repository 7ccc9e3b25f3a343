"""Read-only questions to a cluster through the admin's own ``oc`` (its login, its kubeconfig).

Only ``whoami``, ``version`` and ``get … -o json`` are ever run: verifying a cluster must never change
it. Everything ``oc`` prints is treated as hostile: sizes and times are bounded, JSON is checked to be
an object before anyone reads it, and errors become one :class:`~core.errors.ToolError` line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from .errors import ToolError
from .text import shown
from .userfiles import parse_json

OC_TIMEOUT = 60.0
MAX_OUTPUT = 64 << 20  # the openshift namespace's image streams are a few MB; anything far larger is wrong
MAX_STDERR = 64 << 10  # an error message; the rest is dropped as it arrives
READ_CHUNK = 1 << 16


class NotLoggedIn(ToolError):
    title = "Not logged in to a cluster"


class ResourceMissing(ToolError):
    """The object (or the whole resource type, on an older cluster) does not exist."""

    title = "Not found on the cluster"


@dataclass(frozen=True)
class OcAnswer:
    code: int
    stdout: str
    stderr: str

    def first_error(self) -> str:
        """oc's first line of complaint, escaped: it quotes the cluster and the server."""
        line = next((line.strip() for line in self.stderr.splitlines() if line.strip()), f"exit code {self.code}")
        return shown(line, one_line=True)


class Oc:
    """One ``oc`` binary. ``binary`` None: look it up on PATH when first needed."""

    def __init__(self, binary: str | None = None, *, timeout: float = OC_TIMEOUT) -> None:
        self.binary = binary
        self.timeout = timeout

    def path(self) -> str | None:
        return shutil.which(self.binary or "oc")

    def _run_sync(self, args: list[str]) -> OcAnswer:
        """Run oc in its own process group, reading its output as it arrives: stdout up to MAX_OUTPUT,
        stderr up to MAX_STDERR, the whole run within ``timeout``. Past either bound the whole group is
        killed (a child oc started holds our pipes and would outlive a kill of oc alone) and the run is
        one ToolError. Nothing oc prints is held beyond the bounds (a 1 GiB ``whoami`` once took 2 GB)."""
        path = self.path()
        if path is None:
            raise ToolError("oc is not on PATH: install the OpenShift CLI to check the cluster")
        command = shown(f"'oc {' '.join(args)}'", one_line=True)
        try:
            proc = subprocess.Popen([path, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            raise ToolError(f"cannot run {path}: {exc.strerror or exc}") from None
        assert proc.stdout is not None and proc.stderr is not None
        out, err = bytearray(), bytearray()
        problem: str | None = None
        deadline = time.monotonic() + self.timeout
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(proc.stdout, selectors.EVENT_READ, out)
                selector.register(proc.stderr, selectors.EVENT_READ, err)
                while problem is None and selector.get_map():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        problem = "timeout"
                        break
                    for key, _ in selector.select(left):
                        chunk = os.read(key.fd, READ_CHUNK)
                        if not chunk:
                            selector.unregister(key.fileobj)
                        elif key.data is out:
                            if len(out) + len(chunk) > MAX_OUTPUT:
                                problem = "output"
                                break
                            out += chunk
                        else:
                            err += chunk[:max(0, MAX_STDERR - len(err))]
            if problem is None:
                try:
                    proc.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    problem = "timeout"
        finally:
            if problem is not None or proc.poll() is None:
                # oc (not yet reaped, so its process group id cannot have been reused) and every child
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        if problem == "timeout":
            raise ToolError(f"{command} did not answer within {self.timeout:g}s; check the connection to the cluster")
        if problem == "output":
            raise ToolError(f"{command} printed more than {MAX_OUTPUT >> 20} MiB; not read")
        return OcAnswer(proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))

    def run_sync(self, *args: str) -> OcAnswer:
        """:meth:`run` for callers outside an event loop; the same bounds."""
        return self._run_sync(list(args))

    async def run(self, *args: str) -> OcAnswer:
        return await asyncio.to_thread(self._run_sync, list(args))

    async def whoami(self) -> tuple[str, str]:
        """(user, API server URL); NotLoggedIn when oc has no working login."""
        user = await self.run("whoami")
        if user.code != 0:
            raise NotLoggedIn(f"oc is not logged in to a cluster ({user.first_error()})")
        server = await self.run("whoami", "--show-server")
        # shown, never obeyed: a user name carrying ESC]0; once changed the terminal's title
        return (shown(user.stdout.strip(), one_line=True),
                shown(server.stdout.strip(), one_line=True) if server.code == 0 else "")

    async def version(self) -> str | None:
        """The cluster's OpenShift version, None when oc cannot tell."""
        answer = await self.run("version", "-o", "json")
        if answer.code != 0:
            return None
        try:
            data = parse_json(answer.stdout, where="oc version -o json", error=ToolError)
        except ToolError:
            return None
        value = data.get("openshiftVersion") if isinstance(data, dict) else None
        return shown(value, one_line=True) if isinstance(value, str) and value else None

    async def get(self, kind: str, name: str | None = None, *, namespace: str | None = None) -> dict[str, Any]:
        """``oc get KIND [NAME] [-n NS] -o json`` as a dict; ResourceMissing for NotFound or an unknown
        resource type, ToolError for anything else."""
        args = ["get", kind] + ([name] if name else []) + (["-n", namespace] if namespace else []) + ["-o", "json"]
        answer = await self.run(*args)
        what = f"oc {' '.join(args[:-2])}"
        if answer.code != 0:
            error = answer.first_error()
            if "(NotFound)" in error or "doesn't have a resource type" in error:
                raise ResourceMissing(f"{what}: {error}")
            if "(Unauthorized)" in error or "must be logged in" in error:
                raise NotLoggedIn(f"{what}: {error}")
            raise ToolError(f"{what} failed: {error}")
        data = parse_json(answer.stdout, where=f"what {what} printed", error=ToolError)
        if not isinstance(data, dict):
            raise ToolError(f"{what} printed JSON that is not an object")
        return data

    async def items(self, kind: str, *, namespace: str | None = None) -> list[dict[str, Any]]:
        """The objects of a list answer; an unknown resource type (an older cluster) is an empty list."""
        try:
            data = await self.get(kind, namespace=namespace)
        except ResourceMissing:
            return []
        items = data.get("items")
        if not isinstance(items, list):
            raise ToolError(f"oc get {kind} printed no items list")
        return [item for item in items if isinstance(item, dict)]


__all__ = ["NotLoggedIn", "Oc", "OcAnswer", "ResourceMissing"]
