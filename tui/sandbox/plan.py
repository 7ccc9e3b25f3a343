"""The plan the sandbox hands to the wizard: every choice prefilled except what the admin should type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    from core.plan import plan_from_dict, save_plan

    save_plan(plan_from_dict(data), path)
    return path
