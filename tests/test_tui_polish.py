"""Gaps left after issues 24 and 26 were merged, each as the admin meets it in the wizard: Review and the
Mirror step name the update service's graph-data image, Done says what `oc` the cluster steps need and why
the pull secret travels, the printed `oc image mirror` follows "Skip images the source no longer has", and
the Release step's version lists and automatic Inspect leave the keyboard where the admin expects it.

Pilot tests on the snapshot tests' fixed plan (no registry: the values the steps read are set as the
engine would set them).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from textual.widgets import OptionList, Select

from core.graph_image import GraphDataLayer, GraphImageResult
from core.reference import parse_reference
from tests.support.pilot import rendered, settle
from tests.test_tui_newcomer import finished_app, media_app
from tests.test_tui_snapshots import MIRROR, workdir  # noqa: F401
from tui.app import MirrorWizardApp
from tui.screens.done import OC_LOGIN_NOTE, oc_login_note

GRAPH_IMAGE = f"{MIRROR}/openshift/graph-image:latest"
RELEASE_IMAGES = f"{MIRROR}/ocp4/release-images"
DIGEST = "sha256:" + "7e" * 32


def texts(app, selector: str) -> str:  # type: ignore[no-untyped-def]
    return " ".join(str(w.render()) for w in app.screen.query_one(selector).query("Static"))


def built_graph_image() -> GraphImageResult:
    """What core.graph_image.build_plan_graph_image returns for the plan's release.graph_image."""
    layer = GraphDataLayer(blob=b"", digest="sha256:" + "1" * 64, diff_id="sha256:" + "2" * 64, files=12,
                           channels=("stable-4.17.yaml", "fast-4.17.yaml"), version="1")
    return GraphImageResult(reference=parse_reference(GRAPH_IMAGE), digest=DIGEST, base="ubi9/ubi-micro",
                            base_mirror=parse_reference(f"{MIRROR}/openshift/graph-image-base:latest"), layer=layer)


# -- 1. Review names the graph-data image and the release images' own repository -----------------------

async def test_review_shows_the_graph_data_image_and_the_release_repository(workdir: Path) -> None:  # noqa: F811
    app = finished_app("review")
    release = app.state.release
    release.graph_image, release.to_release_image = GRAPH_IMAGE, f"{RELEASE_IMAGES}:4.17.3-x86_64"
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        summary = texts(app, "#summary")
        assert "Graph-data image" in summary and GRAPH_IMAGE in summary and "update recommendations" in summary
        assert "release images" in summary and RELEASE_IMAGES in summary and "graph builder" in summary
        # one line each, and none when the plan keeps neither
        keys = [key for key, _ in app.screen.summary()]
        assert keys.count("Graph-data image") == 1 and keys.count("  release images") == 1
        release.graph_image = release.to_release_image = None
        keys = [key for key, _ in app.screen.summary()]
        assert "Graph-data image" not in keys and "  release images" not in keys


# -- 2. The Mirror step's outcome names the graph-data image it built ----------------------------------

async def test_the_mirror_outcome_says_the_graph_data_image_was_written_and_where(workdir: Path) -> None:  # noqa: F811
    app = finished_app("mirror")
    prepared = app.state.prepared
    assert prepared is not None
    prepared.graph_image = built_graph_image()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.4)
        outcome = rendered(app, "#outcome")
        assert "mirror complete" in outcome and f"{MIRROR}/openshift/graph-image@{DIGEST}" in outcome, outcome
        # the run summary's own line (what `mirror-wizard run` prints), not a second wording
        said = [line for line in prepared.release_lines() if GRAPH_IMAGE.split(":latest")[0] in line]
        assert len(said) == 1 and said[0] in outcome, (said, outcome)


# -- 4. Done: the oc the cluster steps need; why the pull secret travels -------------------------------

async def test_done_says_the_cluster_steps_need_oc_as_cluster_admin_in_the_reviews_words(workdir: Path) -> None:  # noqa: F811
    app = finished_app("done")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        note = rendered(app, "#oc-note")
        assert note == oc_login_note(app.state.release.mode) and OC_LOGIN_NOTE in note
        assert "cluster-admin" in note and "matching the release" in note
        # beside the button it is about
        apply = app.screen.query_one("#apply")
        assert app.screen.query_one("#oc-note").region.y == apply.region.y + 1
        await app.goto("review")
        await settle(pilot)
        assert note in rendered(app, "#oc-note")  # one text, both steps


async def test_the_media_tab_says_the_pull_secret_travels_for_install_config(workdir: Path) -> None:  # noqa: F811
    app = media_app()
    secret = json.loads(Path("pull-secret.json").read_text())
    secret["auths"][app.state.mirror_host] = {"auth": base64.b64encode(b"admin:pw").decode()}
    Path("pull-secret.json").write_text(json.dumps(secret))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        ending = app.screen.query_one("#doc-media").source  # as said, before it is wrapped to the tab's width
        carried = next(line for line in ending.splitlines() if "pull secret" in line and "•" in line)
        assert "install-config.yaml's pullSecret" in carried, carried
        assert "the upload itself needs only the mirror's login" in carried, carried


# -- 5. "Skip images the source no longer has" reaches the printed oc image mirror ---------------------

async def test_skip_missing_is_in_the_help_commands_oc_image_mirror(workdir: Path) -> None:  # noqa: F811
    app = finished_app("samples")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)

        def oc_lines() -> list[str]:
            return [c for c in app.screen.help_commands() if c.startswith("oc image mirror")]

        assert oc_lines() and not any("--skip-missing" in c for c in oc_lines())
        box = app.screen.query_one("#skip-missing")
        box.focus()
        await pilot.press("space")
        await settle(pilot)
        assert app.state.plan.options.skip_missing
        assert oc_lines() and all(c.endswith(" --skip-missing") for c in oc_lines()), oc_lines()
        await app.goto("mirror")
        await settle(pilot)
        mirror = [c for c in app.screen.help_commands() if c.startswith("oc image mirror")]
        assert mirror and all("--skip-missing" in c for c in mirror), mirror


# -- 6. The Release step: version lists open on a version; an automatic Inspect keeps the focus -----------

async def test_the_from_version_list_opens_on_the_first_version_not_the_blank_line(workdir: Path) -> None:  # noqa: F811
    from tests.test_tui_snapshots import fixed_state

    state = fixed_state()
    state.update_mode = True
    state.release.source = ""
    state.release.version = "4.17.3"
    state.versions = ["4.17.1", "4.17.2", "4.17.3"]
    app = MirrorWizardApp(state, start="release", auto_check=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        older = app.screen.query_one("#from-version", Select)
        older.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert older.expanded
        assert older.query_one(OptionList).highlighted == 1  # "from 4.17.1", not the prompt line
        await pilot.press("down", "enter")
        await pilot.pause()
        assert older.value == "4.17.2" and state.release.from_version == "4.17.2"


async def test_an_automatic_inspect_never_leaves_the_focus_on_the_inspect_button(workdir: Path) -> None:  # noqa: F811
    from tests.test_tui_snapshots import fixed_state

    state = fixed_state()
    # a release image nobody answers for: the automatic Inspect ends at once (refused)
    state.release.source = "127.0.0.1:9/ocp/release:4.17.3-x86_64"
    app = MirrorWizardApp(state, start="release", auto_check=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.focused is not None
        assert app.focused.id != "inspect"
        assert app.focused.id == "kind"  # the first field: the kind list is where the step starts
