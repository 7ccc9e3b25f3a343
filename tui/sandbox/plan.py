"""The plan the sandbox hands to the wizard: every choice prefilled except what the admin should type."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from core.credentials import write_auth_file
from core.plan import load_plan, plan_from_dict, save_plan

from .demo import Sandbox


def demo_plan_dict(sandbox: Sandbox) -> dict[str, Any]:
    mirror = sandbox.mirror.host
    return {
        "version": 1,
        "auth_file": str(sandbox.pull_secret),
        "idms_file": str(sandbox.idms_file),
        "mirror": {"registry": mirror, "ca_file": str(sandbox.ca_file), "insecure": False},
        "registries": [{"host": sandbox.source.host, "ca_file": str(sandbox.ca_file)}],
        "release": {
            "source": sandbox.release_source,
            "channel": "stable-4.17",
            "version": "4.17.3",
            "architecture": "x86_64",
            "mode": "registry",
            "target": sandbox.mirror_repository,
            "directory": str(sandbox.workdir / "removable-media"),
            # signed at sandbox start with a throwaway key the sandbox payload names (see sandbox.signing)
            "signatures_dir": str(sandbox.signatures_dir) if sandbox.signatures_dir else None,
            # ... and trusted only because the plan names its public key (Red Hat's keys are built in)
            "keys": [str(sandbox.release_key_file)] if sandbox.release_key_file else [],
            # the channel's update graph, saved as on a host without access to the update service
            "graph_file": str(sandbox.graph_file) if sandbox.graph_file else None,
            # the update service's graph data, for "updates inside the cluster" offline (used once chosen)
            "graph_data": str(sandbox.graph_data_file) if sandbox.graph_data_file else None,
        },
        # the streams the release's own samples operator ships (files and the cluster remain choices)
        "samples": {"source": "release", "mirror": mirror, "include": [], "skip": []},
        "options": {"max_per_registry": 6},
        "output_dir": str(sandbox.workdir / "output"),
    }


def write_demo_plan(sandbox: Sandbox) -> Path:
    path = sandbox.workdir / "plan.yaml"
    data = demo_plan_dict(sandbox)

    save_plan(plan_from_dict(data), path)
    return path


def backup_plan(path: Path) -> Path:
    """``plan.yaml.bak`` beside it (an earlier backup is replaced: the plan just saved is the newer)."""
    backup = path.with_name(path.name + ".bak")
    shutil.copy2(path, backup)
    return backup


def _moved(text: str, moved: dict[str, str]) -> str:
    for old, new in moved.items():
        # the whole host:port only: 127.0.0.1:5000 never touches 127.0.0.1:50001
        text = re.sub(re.escape(old) + r"(?![0-9])", new, text)
    return text


def move_hosts(sandbox: Sandbox, plan_path: Path, moved: dict[str, str]) -> list[Path]:
    """The sandbox registries came back on other ports: only their host:port is changed, in the saved plan
    (as text, so every other choice and comment stays as the admin saved it) and in the sandbox's own
    login files (the mirror's entry is named by its host:port). Returns the files changed."""
    changed: list[Path] = []
    text = plan_path.read_text()
    if _moved(text, moved) != text:
        plan_path.write_text(_moved(text, moved))
        changed.append(plan_path)

    auth_file = load_plan(plan_path).auth_file
    folder = sandbox.workdir.resolve()
    for candidate in {Path(auth_file).expanduser() if auth_file else None, sandbox.workdir / "pull-secret-mirror.json"}:
        if candidate is None or not candidate.is_file() or folder not in candidate.resolve().parents:
            continue  # a login file outside the sandbox is the admin's own: not ours to change
        try:
            data = json.loads(candidate.read_text())
            auths = data["auths"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not isinstance(auths, dict) or not any(old in auths for old in moved):
            continue
        data["auths"] = {moved.get(key, key): entry for key, entry in auths.items()}

        write_auth_file(candidate, data)
        changed.append(candidate)
    return changed
