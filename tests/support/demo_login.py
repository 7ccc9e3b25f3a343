"""The demo sandbox's pull secret with the mirror's login added, as the Credentials step writes it: for
tests that start past that step."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any


def pull_secret_with_mirror_login(sandbox: Any, path: Path) -> Path:
    """Write the sandbox's pull secret plus the mirror registry's login (the demo's admin user) to ``path``."""
    from tui.sandbox.demo import MIRROR_USER

    secret = json.loads(Path(sandbox.pull_secret).read_text())
    login = base64.b64encode(f"{MIRROR_USER}:{sandbox.mirror_password}".encode()).decode()
    secret["auths"][sandbox.mirror.host] = {"auth": login}
    path.write_text(json.dumps(secret))
    return path
