"""core.progress: the one fold of engine events that the CLI and the wizard both render."""

from __future__ import annotations

import pytest

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
from core.progress import Progress, RowKind, RowSpec, RowState

MiB = 1 << 20
REPO = "mirror.example.com:8443/ocp4/openshift4"
RUBY = "mirror.example.com:8443/ubi8/ruby"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def progress_with_rows() -> tuple[Progress, Clock]:
    clock = Clock()
    progress = Progress(clock=clock)
    progress.reset()
    progress.set_rows([RowSpec("quay.io/a/b@sha256:1", f"{REPO}:4.17.3-x86_64-cli", "release · cli", RowKind.RELEASE),
                       RowSpec("quay.io/a/b@sha256:2", f"{REPO}:4.17.3-x86_64-etcd", "release · etcd", RowKind.RELEASE),
                       RowSpec("registry.redhat.io/ubi8/ruby:3", f"{RUBY}:3", "ubi8/ruby:3", RowKind.SAMPLES)])
    return progress, clock


def test_bytes_moved_are_apart_from_bytes_already_there_and_rows_follow_images() -> None:
    progress, clock = progress_with_rows()
    progress.feed(PlanReady(images=3, blobs=4, total_bytes=100 * MiB))
    assert progress.total_images == 3 and progress.eta is None  # nothing moved yet: no guess
    progress.feed(BlobStarted("sha256:x", 60 * MiB, REPO))
    rows = progress.rows
    assert rows[f"{REPO}:4.17.3-x86_64-cli"].state == RowState.COPYING
    assert rows[f"{RUBY}:3"].state == RowState.WAITING  # another repository
    clock.now += 1.0
    progress.feed(BlobProgress("sha256:x", 20 * MiB))
    assert progress.bytes_moved == 20 * MiB
    clock.now += 1.0
    progress.feed(BlobProgress("sha256:x", 40 * MiB))
    progress.feed(BlobDone("sha256:x", 60 * MiB, REPO))
    progress.feed(BlobSkipped("sha256:y", 10 * MiB, REPO))
    progress.feed(BlobMounted("sha256:z", 10 * MiB, RUBY, REPO))
    # Only what crossed the wire is progress; what was there (or mounted) is counted apart.
    assert progress.bytes_moved == 60 * MiB
    assert (progress.bytes_present, progress.bytes_mounted) == (10 * MiB, 10 * MiB)
    assert progress.bytes_to_move == 80 * MiB and progress.bytes_moved_of_plan == 60 * MiB
    assert (progress.blobs_copied, progress.blobs_skipped, progress.blobs_mounted) == (1, 1, 1)
    assert progress.bytes_remaining == 20 * MiB
    # Images advance as they land, each with its row.
    progress.feed(ImageDone("quay.io/a/b@sha256:1", f"{REPO}:4.17.3-x86_64-cli", "sha256:1"))
    assert progress.images_done == 1 and progress.images_left == 2
    progress.feed(ImageDone("quay.io/a/b@sha256:2", f"{REPO}:4.17.3-x86_64-etcd", "sha256:2", skipped=True))
    progress.feed(ImageFailed("registry.redhat.io/ubi8/ruby:3", f"{RUBY}:3", "denied"))
    assert [r.state for r in rows.values()] == [RowState.COPIED, RowState.PRESENT, RowState.FAILED]
    assert [r.kind for r in rows.values()] == [RowKind.RELEASE, RowKind.RELEASE, RowKind.SAMPLES]
    assert progress.images_done == 2 and progress.images_failed == 1 and progress.images_present == 1
    assert progress.counts() == {RowState.COPIED: 1, RowState.PRESENT: 1, RowState.FAILED: 1}
    assert any("FAILED" in line and "denied" in line for line in progress.log)


def test_throughput_is_bytes_moved_over_time_spent_moving() -> None:
    progress, clock = progress_with_rows()
    progress.feed(PlanReady(images=3, blobs=2, total_bytes=100 * MiB))
    clock.now += 30.0  # reading manifests, checking the mirror: nothing moves
    progress.feed(BlobStarted("sha256:x", 40 * MiB, REPO))
    for _ in range(4):
        clock.now += 1.0
        progress.feed(BlobProgress("sha256:x", 10 * MiB))
    progress.feed(BlobDone("sha256:x", 40 * MiB, REPO))
    clock.now += 20.0  # writing manifests and tags
    progress.finish()
    assert progress.throughput == pytest.approx(10 * MiB)  # 40 MiB in the 4 s it was moving, not 54 s
    assert progress.elapsed == pytest.approx(54.0)


def test_recent_rate_and_eta_follow_the_clock() -> None:
    progress, clock = progress_with_rows()
    progress.feed(PlanReady(images=3, blobs=2, total_bytes=100 * MiB))
    progress.feed(BlobStarted("sha256:x", 100 * MiB, REPO))
    for _ in range(4):
        clock.now += 1.0
        progress.feed(BlobProgress("sha256:x", 10 * MiB))
    clock.now += 1.0
    progress.tick()
    # Half-second buckets in bytes per second: each event lands in one bucket, the next is quiet.
    assert list(progress.rates) == [20 * MiB, 0] * 4 + [0, 0]
    assert progress.rate == pytest.approx(8 * MiB)  # 40 MiB over the last five seconds
    assert progress.eta_rate() == pytest.approx(8 * MiB)  # the ETA's speed: 40 MiB since the first byte
    # 60 MiB left at 8 MiB/s guesses 7.5 s; the ETA read 9, 8, 7, 6 and rises at most 20 % a second
    # toward the guess: 7.2 s, never a jump.
    assert progress.eta == pytest.approx(7.2)
    assert not progress.finishing
    progress.finish(cancelled=True)
    assert progress.cancelled and not progress.finished and progress.eta is None
    assert all(row.state != RowState.COPYING for row in progress.rows.values())


def test_never_finishing_while_bytes_remain_and_never_zero_while_images_remain() -> None:
    progress, clock = progress_with_rows()
    progress.feed(PlanReady(images=3, blobs=2, total_bytes=100 * MiB + 1))
    progress.feed(BlobStarted("sha256:x", 100 * MiB, REPO))
    clock.now += 1.0
    progress.feed(BlobProgress("sha256:x", 100 * MiB))
    progress.feed(BlobDone("sha256:x", 100 * MiB, REPO))
    clock.now += 0.5
    progress.tick()
    # One byte left at a fast rate: an ETA of at least a second, not "finishing".
    assert not progress.finishing and progress.eta is not None and progress.eta >= 1.0
    progress.feed(BlobSkipped("sha256:y", 1, REPO))
    assert progress.finishing and progress.eta is None  # only manifests left: no made-up 0s


def test_the_cli_line_says_how_bytes_got_there_and_what_is_left_to_write() -> None:
    from tui.commands.common import progress_line

    progress, clock = progress_with_rows()
    progress.feed(PlanReady(images=3, blobs=2, total_bytes=20 * MiB))
    progress.feed(BlobMounted("sha256:z", 10 * MiB, RUBY, REPO))
    assert "(+10.0 MiB mounted)" in progress_line(progress)  # linked, not "there" before the run
    progress.feed(BlobSkipped("sha256:y", 10 * MiB, REPO))
    line = progress_line(progress)
    assert "(+20.0 MiB there or mounted)" in line
    # no byte left, three images to write: said, never a vague "finishing"
    assert "3 images to write" in line and "finishing" not in line


def test_a_rerun_keeps_the_log_and_starts_counts_from_zero() -> None:
    progress, _ = progress_with_rows()
    progress.feed(PlanReady(images=3, blobs=2, total_bytes=10))
    seq = progress.log_seq
    progress.reset()
    assert progress.log_seq == seq and progress.total_bytes == 0 and not progress.planned
    assert progress.rows == {} and progress.bytes_moved == 0


def test_a_layer_uploaded_into_two_repositories_counts_once_toward_the_plan() -> None:
    progress, _ = progress_with_rows()
    progress.feed(PlanReady(images=2, blobs=1, total_bytes=4 * MiB))
    for repo in (REPO, RUBY):
        progress.feed(BlobStarted("sha256:same", 4 * MiB, repo))
        progress.feed(BlobProgress("sha256:same", 4 * MiB))
        progress.feed(BlobDone("sha256:same", 4 * MiB, repo))
    assert progress.bytes_moved_of_plan == 4 * MiB  # the bar never passes 100%
    assert progress.bytes_moved == 8 * MiB  # but the link really carried it twice (as the engine counts)


def test_a_damaged_transfer_read_again_counts_its_bytes_once() -> None:
    progress, _ = progress_with_rows()
    progress.feed(PlanReady(images=1, blobs=1, total_bytes=4 * MiB))
    progress.feed(BlobStarted("sha256:x", 4 * MiB, REPO))
    progress.feed(BlobProgress("sha256:x", 3 * MiB))
    progress.feed(BlobProgress("sha256:x", -3 * MiB))  # bad bytes from the source: not kept
    progress.feed(BlobStarted("sha256:x", 4 * MiB, REPO))
    progress.feed(BlobProgress("sha256:x", 4 * MiB))
    progress.feed(BlobDone("sha256:x", 4 * MiB, REPO))
    assert progress.bytes_moved == 4 * MiB and progress.bytes_remaining == 0


# -- the ETA follows bytes and time (issue 26) -----------------------------------------------------------

def _etas(schedule: list[float], *, total: int, idle_before: float = 0.0) -> list[tuple[float, float | None, float]]:
    """Drive a copy: ``schedule`` is the bytes that arrive in each half second. Returns (time, ETA shown,
    seconds really left) at every half second, as the Mirror step's timer reads it."""
    progress, clock = progress_with_rows()
    progress.feed(PlanReady(images=3, blobs=1, total_bytes=total))
    clock.now += idle_before  # reading manifests, probing the mirror: nothing moves yet
    progress.tick()
    progress.feed(BlobStarted("sha256:x", total, REPO))
    start = clock.now
    end = start + 0.5 * len(schedule)
    out = []
    for moved in schedule:
        clock.now += 0.5
        if moved:
            progress.feed(BlobProgress("sha256:x", int(moved)))
        progress.tick()
        out.append((clock.now - start, progress.eta, end - clock.now))
    return out


def test_the_eta_never_jumps_when_a_copy_pauses_near_its_end() -> None:
    """10 MiB/s, then near the end a few seconds with only a trickle (a stalled connection, a manifest
    between blobs), then on again: the old guess went 1 s → 1 min → 11 s."""
    schedule = [5 * MiB] * 16 + [0.0] * 4 + [0.25 * MiB] * 4 + [0.0] * 2 + [5 * MiB] * 3 + [0.5 * MiB] * 2
    etas = _etas(schedule, total=int(sum(schedule)))
    shown = [(t, eta) for t, eta, _left in etas if eta is not None]
    assert shown and shown[0][0] <= 3.0  # an ETA from the third second on
    for (t0, before), (t1, after) in zip(shown, shown[1:], strict=False):
        # it rises by at most ETA_RISE: half a second per second, or 20 % of itself
        assert after <= before + (t1 - t0) * max(0.5, 0.2 * before) + 1e-9, (t0, before, t1, after)
    assert max(eta for _t, eta in shown[6:]) < 15.0  # never a minute for a copy that takes 15 s


def test_the_eta_is_not_made_long_by_the_time_before_anything_moved() -> None:
    """Ten seconds reading manifests, then 40 MiB/s for 4 s: at 12 % the old guess read 35 s three and a
    half seconds before the end (the idle buckets counted as speed)."""
    schedule = [20 * MiB] * 8
    for t, eta, left in _etas(schedule, total=int(sum(schedule)), idle_before=10.0):
        if eta is not None:
            assert eta <= 2 * left + 1.0, (t, eta, left)


def test_the_eta_holds_back_until_there_is_data_then_counts_down() -> None:
    schedule = [1 * MiB] * 80  # 2 MiB/s for 40 s
    etas = _etas(schedule, total=int(sum(schedule)))
    assert all(eta is None for t, eta, _ in etas if t < 3.0)  # under 10 % moved and under 3 s: no guess yet
    steady = [(t, eta, left) for t, eta, left in etas if t >= 3.0 and left > 1.0]
    assert steady and all(eta is not None and abs(eta - left) <= 1.0 for _t, eta, left in steady), steady
    shown = [eta for _t, eta, _left in steady]
    assert all(b <= a for a, b in zip(shown, shown[1:], strict=False))  # down with the clock, never up


def test_the_eta_takes_the_images_pace_in_without_a_jump() -> None:
    """The bytes all but there and the images landing slowly: the pace of the images counts, and the ETA
    still moves there at a bounded speed (the demo read 1 s, then 8 s a second later)."""
    progress, clock = progress_with_rows()
    progress.set_rows([(f"src/{i}", f"{REPO}:{i}", str(i)) for i in range(40)])
    progress.feed(PlanReady(images=40, blobs=1, total_bytes=100 * MiB))
    progress.feed(BlobStarted("sha256:x", 100 * MiB, REPO))
    for _ in range(4):
        clock.now += 0.5
        progress.feed(BlobProgress("sha256:x", 24 * MiB))  # 96 % in 2 s
    progress.tick()
    before = progress.eta
    assert before is not None and before <= 1.0
    clock.now += 1.0
    for i in range(10):  # a quarter of the images in 3 s: 30 to go at that pace is 9 s
        progress.feed(ImageDone(f"src/{i}", f"{REPO}:{i}", "sha256:1"))
    after = progress.eta
    assert after is not None and before <= after <= before + 1.0  # not 1 s → 9 s
    for _ in range(20):
        clock.now += 0.5
        progress.tick()
    assert progress.eta is not None and progress.eta > 5.0  # it got there, step by step
