"""The wizard's state without the UI: progress folding, labels, mirror sets, the plan it saves."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from core.errors import InputError
from core.events import (
    BlobDone,
    BlobMounted,
    BlobProgress,
    BlobSkipped,
    BlobStarted,
    ImageDone,
    ImageFailed,
    PlanReady,
)
from core.plan import load_plan, plan_from_dict, save_plan
from tui.state import (
    ROW_COPIED,
    ROW_COPYING,
    ROW_FAILED,
    ROW_PRESENT,
    ROW_WAITING,
    MirrorProgress,
    WizardState,
    human_seconds,
    read_source_mirrors,
    task_label,
)

MiB = 1 << 20
REPO = "mirror.example.com:8443/ocp4/openshift4"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def progress_with_rows() -> tuple[MirrorProgress, Clock]:
    clock = Clock()
    progress = MirrorProgress(clock=clock)
    progress.reset()
    progress.set_rows([("quay.io/a/b@sha256:1", f"{REPO}:4.17.3-x86_64-cli", "release · cli"),
                       ("quay.io/a/b@sha256:2", f"{REPO}:4.17.3-x86_64-etcd", "release · etcd"),
                       ("registry.redhat.io/ubi8/ruby:3", "mirror.example.com:8443/ubi8/ruby:3", "ubi8/ruby:3")])
    return progress, clock


def test_progress_counts_bytes_images_and_row_states() -> None:
    progress, clock = progress_with_rows()
    progress.feed(PlanReady(images=3, blobs=4, total_bytes=100 * MiB))
    assert progress.total_images == 3 and progress.eta is None  # nothing moved yet: no guess
    progress.feed(BlobStarted("sha256:x", 60 * MiB, REPO))
    rows = progress.rows
    assert rows[f"{REPO}:4.17.3-x86_64-cli"].state == ROW_COPYING
    assert rows["mirror.example.com:8443/ubi8/ruby:3"].state == ROW_WAITING  # another repository
    clock.now += 1.0
    progress.feed(BlobProgress("sha256:x", 20 * MiB))
    clock.now += 1.0
    progress.feed(BlobProgress("sha256:x", 40 * MiB))
    progress.feed(BlobDone("sha256:x", 60 * MiB, REPO))
    progress.feed(BlobSkipped("sha256:y", 10 * MiB, REPO))
    progress.feed(BlobMounted("sha256:z", 10 * MiB, "mirror.example.com:8443/ubi8/ruby", REPO))
    assert progress.moved == 80 * MiB and progress.transferred == 60 * MiB
    assert progress.blobs_done == 3
    progress.feed(ImageDone("quay.io/a/b@sha256:1", f"{REPO}:4.17.3-x86_64-cli", "sha256:1"))
    progress.feed(ImageDone("quay.io/a/b@sha256:2", f"{REPO}:4.17.3-x86_64-etcd", "sha256:2", skipped=True))
    progress.feed(ImageFailed("registry.redhat.io/ubi8/ruby:3", "mirror.example.com:8443/ubi8/ruby:3", "denied"))
    assert [r.state for r in rows.values()] == [ROW_COPIED, ROW_PRESENT, ROW_FAILED]
    assert progress.images_done == 2 and progress.images_failed == 1 and progress.images_present == 1
    assert progress.counts() == {ROW_COPIED: 1, ROW_PRESENT: 1, ROW_FAILED: 1}
    assert any("FAILED" in line and "denied" in line for line in progress.log)


def test_throughput_and_eta_follow_the_clock() -> None:
    progress, clock = progress_with_rows()
    progress.feed(PlanReady(images=3, blobs=2, total_bytes=100 * MiB))
    for _ in range(4):
        clock.now += 1.0
        progress.feed(BlobProgress("sha256:x", 10 * MiB))
    clock.now += 1.0
    progress.tick()
    # Half-second buckets in bytes per second: each event lands in one bucket, the next is quiet.
    assert list(progress.rates) == [20 * MiB, 0] * 4 + [0, 0]
    assert progress.rate == pytest.approx(8 * MiB)  # 40 MiB over the last five seconds
    # 60 MiB left at 8 MiB/s.
    assert progress.eta == pytest.approx(7.5)
    progress.finish(cancelled=True)
    assert progress.cancelled and not progress.finished and progress.eta is None
    assert all(row.state != ROW_COPYING for row in progress.rows.values())


def test_a_rerun_keeps_the_log_and_starts_counts_from_zero() -> None:
    progress, _ = progress_with_rows()
    progress.feed(PlanReady(images=3, blobs=2, total_bytes=10))
    seq = progress.log_seq
    progress.reset()
    assert progress.log_seq == seq and progress.total_bytes == 0 and not progress.planned


def test_task_labels() -> None:
    task = SimpleNamespace(source="quay.io/x/y@sha256:1", destination=f"{REPO}:4.17.3-x86_64-etcd")
    assert task_label(task, "4.17.3-x86_64") == "release · etcd"
    payload = SimpleNamespace(source="quay.io/x/y:4.17.3-x86_64", destination=f"{REPO}:4.17.3-x86_64")
    assert task_label(payload, "4.17.3-x86_64") == "release payload"
    sample = SimpleNamespace(source="registry.redhat.io/ubi8/ruby-30:latest", destination="m:1/ubi8/ruby-30:latest")
    assert task_label(sample, None) == "ubi8/ruby-30:latest"


def test_human_seconds() -> None:
    assert human_seconds(None) == "–"
    assert human_seconds(42) == "42s"
    assert human_seconds(125) == "2m05s"
    assert human_seconds(3 * 3600 + 60) == "3h01m"


def test_read_source_mirrors_from_an_idms_file(tmp_path: Path) -> None:
    path = tmp_path / "idms.yaml"
    path.write_text("apiVersion: config.openshift.io/v1\nkind: ImageDigestMirrorSet\nmetadata: {name: x}\n"
                    "spec:\n  imageDigestMirrors:\n  - source: quay.io/openshift-release-dev\n"
                    "    mirrors: [127.0.0.1:5000/openshift-release-dev]\n")
    assert read_source_mirrors(path) == [("quay.io/openshift-release-dev", "127.0.0.1:5000/openshift-release-dev")]
    assert read_source_mirrors(None) == []
    with pytest.raises(InputError, match="does not exist"):
        read_source_mirrors(tmp_path / "missing.yaml")


def test_the_saved_plan_drops_sections_left_empty_and_loads_back(tmp_path: Path) -> None:
    plan = plan_from_dict({"mirror": {"registry": "mirror.example.com:8443"}})
    state = WizardState(plan=plan)
    state.release.architecture = "aarch64"  # touched, but no release image chosen
    state.samples.path = str(tmp_path / "streams")
    saved = state.plan_for_saving()
    assert saved.release is None and saved.samples is not None
    save_plan(saved, tmp_path / "plan.yaml")
    assert load_plan(tmp_path / "plan.yaml").samples.path == str(tmp_path / "streams")


def test_a_layer_uploaded_into_two_repositories_counts_once_toward_the_total() -> None:
    progress, _ = progress_with_rows()
    progress.feed(PlanReady(images=2, blobs=1, total_bytes=4 * MiB))
    for repo in (REPO, "mirror.example.com:8443/ubi8/ruby"):
        progress.feed(BlobStarted("sha256:same", 4 * MiB, repo))
        progress.feed(BlobProgress("sha256:same", 4 * MiB))
        progress.feed(BlobDone("sha256:same", 4 * MiB, repo))
    assert progress.moved == 4 * MiB  # the bar never passes 100%
    assert progress.transferred == 8 * MiB  # but the link really carried it twice
