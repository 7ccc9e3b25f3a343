"""Issue 24 in the wizard, against the demo sandbox: the Release step's "updates inside the cluster" and
"remove the releases before A" for an update path, the run building the graph-data image from the plan,
Done's Update service tab, and the bundle carrying the image to the far side.

Real parts throughout: the sandbox's two registries (its mirror allows deletes), the run through
core.orchestrate as the Mirror step calls it, skopeo reading tags back.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from textual.widgets import Checkbox, Select

from core.orchestrate import run_plan
from core.plan import Plan, ReleaseMode, load_plan, save_plan, validate_plan
from tests.conftest import needs_registry
from tests.support import skopeo
from tests.support.pilot import rendered, settle
from tests.support.update_path import UpdatePathSandbox, update_path_sandbox
from tui.app import MirrorWizardApp
from tui.state import WizardState

pytestmark = needs_registry


Day3 = UpdatePathSandbox  # the demo plan turned into the path 4.17.1 → 4.17.3, the mirror's login in its auth


@pytest.fixture(scope="module")
def day3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day3]:
    with update_path_sandbox(tmp_path_factory.mktemp("tui-day3")) as sandbox:
        yield sandbox


def tags(day3: Day3, repository: str) -> set[str]:
    out = skopeo.run("list-tags", *skopeo.options(day3.auth, day3.cert_dir), f"docker://{repository}").stdout
    return set(json.loads(out)["Tags"])


# -- the Release step's offer ----------------------------------------------------------------------------

async def test_update_mode_offers_updates_inside_the_cluster_and_sets_the_plan(day3: Day3) -> None:
    state = WizardState.from_path(str(day3.plan_path))
    mirror = state.mirror_host
    app = MirrorWizardApp(state, start="release", auto_check=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        extras = app.screen.query_one("#day3")
        assert extras.display  # the plan is an update path: the day-3 offers are there
        assert "update recommendations" in " ".join(str(w.render()) for w in extras.query(".hint"))
        box = app.screen.query_one("#osus", Checkbox)
        assert not box.value and not app.screen.query_one("#osus-details").display
        box.focus()
        await pilot.press("space")
        await settle(pilot)
        release = state.release
        assert release.graph_image == f"{mirror}/openshift/graph-image:latest"
        # the demo's graph data, offline: prefilled from its plan
        assert release.graph_data and release.graph_data.endswith("graph-data.tar.gz")
        assert app.screen.query_one("#osus-details").display
        assert "graph-image:latest" in rendered(app, "#graph-image-note")
        field = app.screen.query_one("#graph-data")
        kept = field.value
        field.value = "/nonexistent/graph-data.tar.gz"
        await settle(pilot)
        assert "no file /nonexistent/graph-data.tar.gz" in rendered(app, "#graph-data-error")
        field.value = kept
        await settle(pilot)
        assert rendered(app, "#graph-data-error") == "" and release.graph_data == kept
        own = app.screen.query_one("#own-repo", Checkbox)
        # ticked with it by default (the update service runs out of memory on a shared repository)
        assert own.value and release.to_release_image == f"{mirror}/ocp4/release-images"
        own.focus()
        await pilot.press("space")  # the admin may untick it
        await settle(pilot)
        assert release.to_release_image is None
        await pilot.press("space")
        await settle(pilot)
        assert release.to_release_image == f"{mirror}/ocp4/release-images"
        validate_plan(state.plan_for_saving())  # an update path with its release images apart is a valid plan
        saved = state.plan_for_saving().to_dict()["release"]
        assert saved["graph_image"] == release.graph_image and saved["to_release_image"] == release.to_release_image
        # one version: no update path, no day-3 offers
        app.screen.query_one("#kind", Select).value = "one"
        await settle(pilot)
        assert not extras.display
        # unticking takes both keys away again
        app.screen.query_one("#kind", Select).value = "update"
        await settle(pilot)
        box.focus()
        await pilot.press("space")
        await settle(pilot)
        assert release.graph_image is None and release.to_release_image is None


# -- the run builds it from the plan; Done shows the update service ---------------------------------------

def path_plan(day3: Day3, **release: object) -> Plan:
    plan = load_plan(day3.plan_path)
    assert plan.release is not None
    for key, value in release.items():
        setattr(plan.release, key, value)
    validate_plan(plan)
    return plan


async def test_the_run_builds_the_graph_image_and_done_shows_the_update_service(day3: Day3) -> None:
    sandbox = day3.sandbox
    host = sandbox.mirror.host  # type: ignore[attr-defined]
    plan = path_plan(day3, graph_image=f"{host}/openshift/graph-image:latest",
                     to_release_image=f"{host}/ocp4/release-images")
    save_plan(plan, day3.plan_path)
    run = await run_plan(plan, write=False)
    assert run.copy is not None and run.copy.ok
    built = run.prepared.graph_image
    assert built is not None and built.layer is not None and "stable-4.17.yaml" in built.layer.channels
    image = f"{host}/openshift/graph-image:latest"
    assert skopeo.digest(image, authfile=day3.auth, cert_dir=day3.cert_dir) == built.digest
    # Done's Write files (core.run.write_outputs) writes the UpdateService and the CA merge patch too
    from core.run import write_outputs

    written = {p.name: p for p in write_outputs(run.prepared, day3.workdir / "written")}
    service = yaml.safe_load(written["updateservice.yaml"].read_text())
    assert service["spec"]["graphDataImage"] == built.pinned
    assert "updateservice-registry" in yaml.safe_load(written["registry-ca-merge-patch.yaml"].read_text())["data"]
    assert any("graph-data image" in line for line in run.prepared.release_lines())  # said after the run
    # the release images alone in their repository, each tagged VERSION-ARCH
    assert {"4.17.1-x86_64", "4.17.3-x86_64"} <= tags(day3, f"{host}/ocp4/release-images")
    assert "4.17.3-x86_64" not in tags(day3, f"{host}/ocp4/openshift4")
    # verify finds every release image where the plan put it, and the graph image (issue 24's checks)
    from core.verify import Status, verify

    checks = {c.name: c for c in (await verify(plan)).checks}
    assert checks["release-images"].status is Status.PASS, checks["release-images"].line()
    assert checks["graph-image"].status is Status.PASS, checks["graph-image"].line()
    failed = [c.line() for c in checks.values() if c.status is Status.FAIL]
    assert not failed, failed

    state = WizardState.from_path(str(day3.plan_path))
    state.progress.reset()
    state.progress.finish()
    state.visited = {"preflight", "credentials", "release", "samples", "ca", "review", "mirror"}
    from core.ca import check_registry_ca

    state.ca_check = await check_registry_ca(host, str(sandbox.ca_file))  # type: ignore[attr-defined]  # the CA step's
    app = MirrorWizardApp(state, start="done", auto_check=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        tabs = app.screen.query_one("#docs")
        assert tabs.get_tab("tab-updateservice").display
        text = app.screen.query_one("#doc-updateservice").text
        service = yaml.safe_load(text.split("# oc apply -f updateservice.yaml")[0])
        assert service["kind"] == "UpdateService"
        assert service["spec"]["graphDataImage"] == f"{host}/openshift/graph-image@{built.digest}"
        assert service["spec"]["releases"] == f"{host}/ocp4/release-images"
        key = host.replace(":", "..")
        assert f"{key}:" in text and "updateservice-registry:" in text, text  # merged beside host..port
        assert "oc patch clusterversion/version --type=merge" in text and "/api/upgrades_info/v1/graph" in text
        assert "ack-4.20-sigstore-in-4.21" not in text  # 4.17: no 4.21 gate to cross


def test_done_document_names_the_admin_ack_when_the_path_crosses_421(day3: Day3) -> None:
    from core.release import ReleaseInfo
    from core.run import Prepared
    from core.usecases.documents import cluster_documents

    host = day3.sandbox.mirror.host  # type: ignore[attr-defined]
    plan = path_plan(day3, graph_image=f"{host}/openshift/graph-image:latest")
    prepared = Prepared(plan)
    prepared.releases = [ReleaseInfo.__new__(ReleaseInfo) for _ in range(2)]
    for info, version in zip(prepared.releases, ("4.20.9", "4.21.2"), strict=True):
        info.version = version
    docs = {d.key: d.text for d in cluster_documents(prepared, "my-plan.yaml")}
    text = docs["updateservice"]
    assert "ack-4.20-sigstore-in-4.21" in text and "4.21.2" in text
    assert "oc -n openshift-config patch configmap admin-acks --type=merge" in text
    assert "graphDataImage is the tag until the mirror holds the image" in text  # nothing built, nothing asked
    assert max(len(line) for line in text.splitlines() if line.startswith("#")) <= 80  # the tab does not wrap


# -- remove the releases before A --------------------------------------------------------------------------

async def test_prune_lists_first_and_deletes_only_after_the_confirm(day3: Day3) -> None:
    host = day3.sandbox.mirror.host  # type: ignore[attr-defined]
    plan = path_plan(day3, to_release_image=f"{host}/ocp4/release-images")
    run = await run_plan(plan, write=False)  # 4.17.1 … 4.17.3 in the mirror (again: a no-op when they are)
    assert run.copy is not None and run.copy.ok
    plan.release.from_version = "4.17.2"  # type: ignore[union-attr]
    save_plan(plan, day3.plan_path)
    before = tags(day3, f"{host}/ocp4/openshift4"), tags(day3, f"{host}/ocp4/release-images")
    assert "4.17.1-x86_64" in before[1]

    state = WizardState.from_path(str(day3.plan_path))
    app = MirrorWizardApp(state, start="release", auto_check=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert "before 4.17.2" in str(app.screen.query_one("#prune-plan").label)
        app.screen.query_one("#prune-plan").press()
        await settle(pilot)
        listing = rendered(app, "#prune-list")
        assert "releases to remove: 4.17.1-x86_64" in listing, (listing, rendered(app, "#status"), state.release)
        assert "garbage collection would free" in listing and "nothing deleted yet" in listing
        assert (tags(day3, f"{host}/ocp4/openshift4"), tags(day3, f"{host}/ocp4/release-images")) == before
        shared = {t for plan in app.screen.query_one("#day3").prune_plans for t in plan.shared_tags}
        delete = app.screen.query_one("#prune-apply")
        assert delete.display
        # asked first: "Keep them" deletes nothing
        delete.press()
        await settle(pilot)
        assert "Delete" in str(app.screen.query_one(".question").render())
        await pilot.press("escape")
        await settle(pilot)
        assert (tags(day3, f"{host}/ocp4/openshift4"), tags(day3, f"{host}/ocp4/release-images")) == before
        delete.press()
        await settle(pilot)
        app.screen.query_one("#yes").press()
        await settle(pilot)
        await settle(pilot)
        done = rendered(app, "#prune-list")
        assert f"✓ {host}/ocp4/release-images: deleted 1 manifest\n" in done, done
        assert "registry garbage-collect" in done, done
        # another from version: the box follows it, and the old list is gone
        state.release.from_version = "4.17.3"
        await pilot.pause(0.7)
        assert "before 4.17.3" in str(app.screen.query_one("#prune-plan").label)
        assert rendered(app, "#prune-list") == "" and not app.screen.query_one("#prune-apply").display
    components, releases = tags(day3, f"{host}/ocp4/openshift4"), tags(day3, f"{host}/ocp4/release-images")
    assert "4.17.1-x86_64" not in releases and {"4.17.2-x86_64", "4.17.3-x86_64"} <= releases
    # a 4.17.1 component tag stays only when it names a manifest a kept release uses too (listed as such)
    assert {t for t in components if t.startswith("4.17.1-x86_64-")} <= shared
    assert any(t.startswith("4.17.3-x86_64-") for t in components)


# -- removable media: the bundle carries the graph image, the far side uploads it ---------------------------

async def test_the_bundle_carries_the_graph_image_and_the_far_side_uploads_it(day3: Day3,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from core.bundle import verify_bundle

    host = day3.sandbox.mirror.host  # type: ignore[attr-defined]
    medium = day3.workdir / "medium"
    graph_image = f"{host}/day3-far/graph-image:latest"
    plan = path_plan(day3, mode=ReleaseMode.TO_DIR, directory=str(medium), graph_image=graph_image)
    plan.release.signatures_to_dir = str(medium / "config")  # type: ignore[union-attr]
    run = await run_plan(plan, write=False)
    assert run.copy is not None and run.copy.ok and run.bundle is not None
    index = json.loads((medium / "index.json").read_text())
    names = {m["annotations"]["org.opencontainers.image.ref.name"]: m["digest"] for m in index["manifests"]}
    assert names["openshift/graph-image:latest"] == run.prepared.graph_image.digest  # type: ignore[union-attr]
    bundle = json.loads((medium / "bundle.json").read_text())
    assert "openshift/graph-image:latest" in json.dumps(bundle)
    assert verify_bundle(medium).ok

    far = load_plan(medium / "plan.yaml")
    assert far.release is not None and far.release.graph_image == graph_image
    far.auth_file = str(day3.auth)
    far.release.keys = [str(day3.sandbox.release_key_file)]  # type: ignore[attr-defined]
    far.output_dir = str(day3.workdir / "far-output")
    monkeypatch.chdir(medium)  # the bundle's plan names paths inside the bundle, as the far side runs it
    upload = await run_plan(far, write=False)
    assert upload.copy is not None and upload.copy.ok
    assert skopeo.digest(graph_image, authfile=day3.auth, cert_dir=day3.cert_dir) == names["openshift/graph-image:latest"]


def test_a_plan_keeps_graph_data_and_a_path_may_name_a_release_repository(tmp_path: Path) -> None:
    from core.errors import PlanError
    from core.plan import plan_from_dict

    base = {"mirror": {"registry": "mirror.example.com:8443"},
            "release": {"channel": "stable-4.17", "from_version": "4.17.1", "version": "4.17.3",
                        "target": "mirror.example.com:8443/ocp4/openshift4",
                        "graph_image": "mirror.example.com:8443/openshift/graph-image:latest",
                        "graph_data": "graph-data.tar.gz"}}
    plan = plan_from_dict(base)
    assert plan.to_dict()["release"]["graph_data"] == "graph-data.tar.gz"
    base["release"]["to_release_image"] = "mirror.example.com:8443/ocp4/release-images"
    plan_from_dict(base)
    base["release"]["to_release_image"] = "mirror.example.com:8443/ocp4/release-images:4.17.3"
    with pytest.raises(PlanError, match="repository without a tag"):
        plan_from_dict(base)
    asyncio.run(asyncio.sleep(0))


async def test_reopening_an_update_path_on_the_release_step_keeps_it(tmp_path: Path) -> None:
    """The kind Select was composed as "one version" and posted that after mount: a saved update path
    reopened on the Release step became one release (from_version gone, source set: an invalid plan)."""
    from core.plan import plan_from_dict

    path = tmp_path / "plan.yaml"
    save_plan(plan_from_dict({"mirror": {"registry": "mirror.example.com:8443"},
                              "release": {"channel": "stable-4.17", "from_version": "4.17.2", "version": "4.17.3",
                                          "target": "mirror.example.com:8443/ocp4/openshift4",
                                          "graph_file": str(tmp_path / "absent.json")}}), path)
    state = WizardState.from_path(str(path))
    app = MirrorWizardApp(state, start="release", auto_check=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.pause(0.3)
        assert state.update_mode and state.release.from_version == "4.17.2" and state.release.source == ""
        validate_plan(state.plan_for_saving())
