"""Is this machine ready? The questions the wizard's Preflight asks that need a program or the disk:
the ``oc`` client and its version against the release being mirrored.

Answers are plain data; the Preflight step words them (and the CLI could).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..bundle import BIN_DIR
from .oc_runner import OcProgram, OcRunner

OC_DOWNLOAD = "https://mirror.openshift.com/pub/openshift-v4/clients/ocp/"

CLIENT_TIMEOUT = 15.0


def minor_version(text: str | None) -> tuple[int, int] | None:
    """(4, 17) from "4.17.3", "v4.17.0-rc.1" or a channel like "stable-4.17"; None when there is none."""
    match = re.search(r"(\d+)\.(\d+)", text or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


@dataclass(frozen=True)
class OcClient:
    """The ``oc`` on PATH: where (None: not there), whether it ran, and the version it says."""

    path: str | None
    ran: bool = False
    version: str = ""   # "4.17.3", or what it printed, or "unknown version"

    def older_than(self, release: str | None) -> tuple[int, int] | None:
        """The release's (major, minor) when this client is older than it (an older client lacks what that
        release's procedure uses); None when it is not, or either cannot tell."""
        client, wanted = minor_version(self.version), minor_version(release)
        if client is not None and wanted is not None and client < wanted:
            return wanted
        return None


def oc_client(run: OcRunner | None = None) -> OcClient:
    """``oc version --client``: the client's version, without asking any cluster."""
    program = run if run is not None else OcProgram()
    path = program.path() if isinstance(program, OcProgram) else "oc"
    if path is None:
        return OcClient(None)
    done = program(["version", "--client"], timeout=CLIENT_TIMEOUT)
    if done is None:
        return OcClient(path)
    version = next((line.split(":", 1)[1].strip() for line in done.stdout.splitlines()
                    if line.lower().startswith("client version")), done.stdout.strip() or "unknown version")
    return OcClient(path, True, version)


def oc_source(medium: str | None = None, version: str | None = None) -> str:
    """Where to get oc: on the far side of removable media, the medium's own oc (extracted from the
    release, so it matches it; the internet is out of reach there): bin/oc, or bin/<version>/oc on an
    update path's medium (the release the cluster ends at). Else Red Hat's download site. Preflight's
    oc line and Verify's cluster advice say the same."""
    if medium:
        folder = Path(medium).expanduser() / BIN_DIR
        for bundled in [folder / "oc"] + ([folder / version / "oc"] if version else []):
            if bundled.is_file():
                return f"the medium's {bundled} (it matches the release): put its folder on PATH"
    return OC_DOWNLOAD


__all__ = ["OC_DOWNLOAD", "OcClient", "minor_version", "oc_client", "oc_source"]
