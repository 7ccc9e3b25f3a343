"""The Verify step: the checks of ``mirror-wizard verify`` as rows, driven by key presses.

The mirror is real (tests/test_verify_mirror.py's ``mirrored`` fixture: a plan mirrored by
``mirror-wizard run`` into the suite's TLS registry); the cluster is the ``oc`` stand-in answering
recorded JSON for that same mirror (tests/support/fake_oc).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from core.verify import Status
from tests.support import skopeo
from tests.support.pilot import settle_thrice as settle
from tests.test_tui_done import done_app
from tests.test_tui_snapshots import workdir  # noqa: F401  (the fixture)
from tests.test_verify_cli import use_oc
from tests.test_verify_mirror import Mirrored, mirrored  # noqa: F401  (the fixture)
from tui.app import MirrorWizardApp
from tui.screens.verify import PENDING, VerifyRow, VerifyScreen
from tui.state import WizardState
from tui.widgets.command import CommandText, shell_lines


def verify_app(plan: Path) -> MirrorWizardApp:
    state = WizardState.from_path(str(plan))
    state.visited |= {"preflight", "credentials", "release", "samples", "ca", "review", "mirror", "done"}
    return MirrorWizardApp(state, start="verify")


def rows(app: MirrorWizardApp, side: str) -> dict[str, VerifyRow]:
    found = app.screen.query_one(f"#rows-{side}").query_children(VerifyRow)
    names = [row.check.name for row in found]
    assert len(names) == len(set(names)), names  # one row per check, never a leftover of an earlier run
    return {row.check.name: row for row in found}


def statuses(app: MirrorWizardApp, side: str) -> dict[str, str]:
    return {name: row.check.status.symbol for name, row in rows(app, side).items()}


def text(row: VerifyRow) -> str:
    return "\n".join(str(widget.render()) for widget in row.query("Static"))


def status_line(app: MirrorWizardApp) -> str:
    return str(app.screen.query_one("#status").render())


@pytest.fixture
def no_oc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "no-oc-here"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


async def test_complete_mirror_is_all_ticks_and_the_cluster_says_why_not(mirrored: Mirrored, no_oc) -> None:  # noqa: F811
    app = verify_app(mirrored.plan)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, VerifyScreen)
        assert statuses(app, "mirror") == {"release-images": "✓", "release-tag": "✓", "samples-images": "✓",
                                           "samples-skipped": "✓", "mirror-certificate": "✓",
                                           "release-signatures": "–", "mirror-tags": "✓",
                                           "sigstore-signatures": "–", "graph-image": "–"}
        cluster = rows(app, "cluster")
        assert list(cluster) == [PENDING]
        assert "oc is not on PATH" in text(cluster[PENDING])
        assert status_line(app) == "the mirror is ready; the cluster is not checked yet"
        assert [c.name for c in app.state.verify_checks][:1] == ["release-images"]
        # Asked anyway, the cluster side is one clear – line that says what to do in the wizard.
        await pilot.press("c")
        await settle(pilot)
        access = rows(app, "cluster")
        assert list(access) == ["cluster-access"] and access["cluster-access"].check.status is Status.SKIP
        assert "Get the OpenShift CLI (oc)" in text(access["cluster-access"])
        assert "--cluster" not in text(access["cluster-access"])  # a wizard user is not sent to a CLI flag
        assert not access["cluster-access"].query(CommandText)


async def test_missing_component_shows_the_failed_row_with_what_to_do(mirrored: Mirrored, seeded_release,  # noqa: F811
                                                                      no_oc) -> None:
    digest = seeded_release.component_refs["etcd"].rsplit("@", 1)[1]
    skopeo.run("delete", *skopeo.options(**mirrored.registry_opts), f"docker://{mirrored.target}@{digest}")
    app = verify_app(mirrored.plan)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        checks = statuses(app, "mirror")
        assert checks["release-images"] == "✗"
        assert {name for name, mark in checks.items() if mark == "✗"} == {"release-images"}
        row = rows(app, "mirror")["release-images"]
        shown = text(row)
        assert f"etcd: {mirrored.target}@{digest} is missing" in shown
        assert "Mirror step and press Resume" in shown
        assert row.query_one(CommandText).command == f"mirror-wizard run {mirrored.plan}"
        assert status_line(app) == "not ready: 1 check failed — see ✗ below"
        assert app.focused is row  # the first failure has the focus: y copies its command
        await pilot.press("y")
        assert app.clipboard == f"mirror-wizard run {mirrored.plan}"


async def test_cluster_healthy_after_apply_is_checked_on_arrival(mirrored: Mirrored, seeded_release, pki,  # noqa: F811
                                                                 tmp_path: Path, monkeypatch) -> None:
    use_oc("healthy", mirrored, seeded_release, pki, tmp_path, monkeypatch)
    app = verify_app(mirrored.plan)
    app.state.cluster_applies = 1  # Apply with oc ran on the Done step
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert set(statuses(app, "mirror").values()) <= {"✓", "–"}
        assert statuses(app, "cluster") == {
            "cluster-access": "✓", "cluster-trust": "✓", "cluster-mirror-sets": "✓", "samples-config": "✓",
            "samples-status": "✓", "samples-imports": "✓", "machine-config-pools": "✓", "node-pull-source": "–",
            "samples-registry-allowed": "✓", "samples-import-mode": "✓", "tag-mirror-sets": "–", "admin-ack-sigstore": "–",
            "update-service-ca": "–", "update-service": "–", "cluster-upstream": "–"}
        node = rows(app, "cluster")["node-pull-source"]
        command = node.query_one(CommandText).command
        assert "journalctl -u crio" in command and "'Trying to access'" in command and mirrored.mirror in command
        assert status_line(app) == "ready: every check that ran passed"
        assert app.state.verify_cluster_applies == 1


async def test_broken_cluster_then_check_again_once_it_is_fixed(mirrored: Mirrored, seeded_release, pki,  # noqa: F811
                                                                tmp_path: Path, monkeypatch) -> None:
    use_oc("broken", mirrored, seeded_release, pki, tmp_path, monkeypatch)
    app = verify_app(mirrored.plan)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert list(rows(app, "cluster")) == [PENDING]  # not applied here: the cluster waits to be asked
        await pilot.press("c")
        await settle(pilot)
        cluster = statuses(app, "cluster")
        assert {name for name, mark in cluster.items() if mark == "✗"} == {
            "cluster-trust", "cluster-mirror-sets", "samples-status", "samples-imports", "machine-config-pools"}
        pools = rows(app, "cluster")["machine-config-pools"]
        assert "press r in a few minutes. By hand (y copies):" in text(pools)
        imports = text(rows(app, "cluster")["samples-imports"])
        assert "likely cause: missing tag" in imports
        trust = rows(app, "cluster")["cluster-trust"]
        assert "Done step: Apply with oc" in text(trust)
        assert trust.query_one(CommandText).command.startswith("oc create configmap registry-config")
        # The admin applies and waits for the pools; "Check again" (twice, quickly: the first run is
        # replaced) shows the cluster as it is now.
        monkeypatch.setenv("FAKE_OC_SCENARIO", "healthy")
        await pilot.press("r", "r")
        await settle(pilot)
        cluster = statuses(app, "cluster")
        assert set(cluster.values()) == {"✓", "–"} and cluster["node-pull-source"] == "–", cluster
        assert set(statuses(app, "mirror").values()) <= {"✓", "–"}
        assert not app.screen.query(".-stale")
        assert status_line(app) == "ready: every check that ran passed"
        names = [c.name for c in app.state.verify_checks]
        assert len(names) == len(set(names)) == 9 + 15


async def test_logged_out_oc_is_one_dash_line_with_the_login_command(mirrored: Mirrored, seeded_release, pki,  # noqa: F811
                                                                     tmp_path: Path, monkeypatch) -> None:
    use_oc("logged-out", mirrored, seeded_release, pki, tmp_path, monkeypatch)
    app = verify_app(mirrored.plan)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        cluster = rows(app, "cluster")
        assert list(cluster) == ["cluster-access"]
        row = cluster["cluster-access"]
        assert row.check.status is Status.SKIP and "not logged in" in row.check.detail
        assert "Log in to the cluster" in text(row)
        assert row.query_one(CommandText).command == "oc login <API server URL>"
        assert status_line(app) == "the mirror is ready; the cluster is not checked yet"


async def test_done_leads_to_verify_and_verify_quits(workdir: Path) -> None:  # noqa: F811
    app = done_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert str(app.screen.query_one("#next").label) == "Verify ▶"
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.current_mode == "verify"
        assert "done" in app.state.visited
        assert str(app.screen.query_one("#next").label) == "Quit"
        await pilot.press("escape")
        await pilot.pause()
        assert app.current_mode == "done"
        await pilot.press("ctrl+n", "ctrl+n")  # to Verify, then Ctrl+N never quits: the Quit button does
        await pilot.pause()
        assert app.current_mode == "verify" and app.is_running and app.return_code is None
        await pilot.click("#next")
        await pilot.pause()
        for _ in range(3):  # a question when something is unsaved or not applied: answer it
            if app.return_code is not None or not app.is_running:
                break
            await pilot.press("y")
            await pilot.pause()
    assert app.return_code == 0


@pytest.mark.parametrize("width", [30, 50, 76])
def test_commands_break_between_words_and_paste_back_the_same(width: int) -> None:
    command = ("oc debug node/worker-0.lab.example.com -- chroot /host journalctl -u crio --since=-2h "
               "| grep 'Trying to access' | grep -F mirror.example.com:8443 && oc patch "
               "image.config.openshift.io/cluster --patch '{\"spec\":{\"additionalTrustedCA\":{\"name\":\"a b\"}}}'")
    lines = shell_lines(command, width)
    assert len(lines) > 1
    pasted = "\n".join(lines)
    # Pasted into a shell, backslash-newline is removed: the same words as the one-line command.
    assert shlex.split(pasted.replace("\\\n", "")) == shlex.split(command)
    assert all(line.endswith(" \\") for line in lines[:-1])
    for line in lines:  # only a single word longer than the width may pass it
        assert len(line) <= width or len(shlex.split(line.removesuffix(" \\"))) == 1, line
    assert "'Trying to access'" in pasted and "'{\"spec\":{\"additionalTrustedCA\":{\"name\":\"a b\"}}}'" in pasted


def test_a_short_command_is_one_line() -> None:
    assert shell_lines("oc get mcp", 40) == ["oc get mcp"]
