"""The wizard's state without the UI: labels, mirror sets, the plan it saves (progress: tests/test_progress.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from core.access import source_mirrors
from core.errors import MirrorError
from core.plan import Plan, load_plan, plan_from_dict, save_plan
from core.text import human_seconds
from tui.state import WizardState, task_label

REPO = "mirror.example.com:8443/ocp4/openshift4"


def test_task_labels() -> None:
    task = SimpleNamespace(source="quay.io/x/y@sha256:1", destination=f"{REPO}:4.17.3-x86_64-etcd")
    assert task_label(task, "4.17.3-x86_64") == "release · etcd"
    payload = SimpleNamespace(source="quay.io/x/y:4.17.3-x86_64", destination=f"{REPO}:4.17.3-x86_64")
    assert task_label(payload, "4.17.3-x86_64") == "release payload"
    # an update path: the other releases' images say their version
    older = SimpleNamespace(source=task.source, destination=f"{REPO}:4.17.1-x86_64-etcd")
    assert task_label(older, "4.17.3-x86_64") == "release 4.17.1 · etcd"
    older_payload = SimpleNamespace(source=task.source, destination=f"{REPO}:4.17.1-x86_64")
    assert task_label(older_payload, "4.17.3-x86_64") == "release 4.17.1 payload"
    sample = SimpleNamespace(source="registry.redhat.io/ubi8/ruby-30:latest", destination="m:1/ubi8/ruby-30:latest")
    assert task_label(sample, None) == "ubi8/ruby-30:latest"


def test_human_seconds() -> None:
    assert human_seconds(None) == "–"
    assert human_seconds(42) == "42s"
    assert human_seconds(125) == "2m05s"
    assert human_seconds(3 * 3600 + 60) == "3h01m"


def test_source_mirrors_from_the_plans_idms_file(tmp_path: Path) -> None:
    path = tmp_path / "idms.yaml"
    path.write_text("apiVersion: config.openshift.io/v1\nkind: ImageDigestMirrorSet\nmetadata: {name: x}\n"
                    "spec:\n  imageDigestMirrors:\n  - source: quay.io/openshift-release-dev\n"
                    "    mirrors: [127.0.0.1:5000/openshift-release-dev]\n")
    assert source_mirrors(Plan(idms_file=str(path))) == [
        ("quay.io/openshift-release-dev", "127.0.0.1:5000/openshift-release-dev")]
    assert source_mirrors(Plan()) == []
    with pytest.raises(MirrorError, match="missing.yaml"):
        source_mirrors(Plan(idms_file=str(tmp_path / "missing.yaml")))


def test_the_saved_plan_drops_sections_left_empty_and_loads_back(tmp_path: Path) -> None:
    plan = plan_from_dict({"mirror": {"registry": "mirror.example.com:8443"}})
    state = WizardState(plan=plan)
    state.release.architecture = "aarch64"  # touched, but no release image chosen
    state.samples.path = str(tmp_path / "streams")
    saved = state.plan_for_saving()
    assert saved.release is None and saved.samples is not None
    save_plan(saved, tmp_path / "plan.yaml")
    assert load_plan(tmp_path / "plan.yaml").samples.path == str(tmp_path / "streams")
