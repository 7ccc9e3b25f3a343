"""The demo sandbox with its plan turned into the update path 4.17.1 → 4.17.3: for the wizard's tests of
update mode (day 3, the Release step's walk). One helper, so those tests all start from the same plan."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.plan import load_plan, save_plan
from tests.support.demo_login import pull_secret_with_mirror_login
from tui.sandbox.demo import create_sandbox
from tui.sandbox.plan import write_demo_plan

FROM_VERSION, TO_VERSION = "4.17.1", "4.17.3"


@dataclass
class UpdatePathSandbox:
    sandbox: Any          # tui.sandbox.demo.Sandbox (its registries run until the block ends)
    plan_path: Path       # the demo plan as the path 4.17.1 → 4.17.3, the mirror's login in its auth
    auth: Path
    cert_dir: Path        # the sandbox's CA as skopeo's --cert-dir wants it
    workdir: Path


@contextmanager
def update_path_sandbox(work: Path) -> Iterator[UpdatePathSandbox]:
    """A demo sandbox in ``work`` (small layers), its plan an update path without image streams (the path
    is what these tests are about), the pull secret holding the mirror's login; stopped at the end."""
    sandbox = create_sandbox(work / "sandbox", layer_size=16 * 1024)
    try:
        path = write_demo_plan(sandbox)
        auth = pull_secret_with_mirror_login(sandbox, work / "pull-secret-mirror.json")
        plan = load_plan(path)
        plan.auth_file = str(auth)
        plan.samples = None
        assert plan.release is not None
        plan.release.source = ""
        plan.release.from_version, plan.release.version = FROM_VERSION, TO_VERSION
        plan.output_dir = str(work / "output")
        save_plan(plan, path)
        cert_dir = work / "certs"
        cert_dir.mkdir()
        shutil.copyfile(sandbox.ca_file, cert_dir / "ca.crt")
        yield UpdatePathSandbox(sandbox, path, auth, cert_dir, work)
    finally:
        sandbox.stop()
