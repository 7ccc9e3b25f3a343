"""Issue 14 in the wizard: an update path on the Release step, the samples read from the release, and a
separate question before Apply replaces a release signature ConfigMap the cluster already has.

Three synthetic releases (tests.support.day2_release) in the suite's plain registry, signed with a
throwaway key (tui.sandbox.signing), linked by a graph file in the update service's format; the
mirror is the suite's TLS+auth registry and skopeo reads every tag back.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from textual.widgets import Select

from core.plan import plan_from_dict
from core.text import human_bytes
from tests.support import skopeo
from tests.support.day2_release import IMAGESTREAM_FIXTURES, BuiltRelease, build_day2_release, push_layout
from tests.support.pilot import settle
from tests.support.repos import unique_repo
from tests.test_tui_snapshots import workdir  # noqa: F401
from tui.app import MirrorWizardApp
from tui.sandbox import signing
from tui.sandbox.content import RELEASE_REPO, new_builder
from tui.state import WizardState

VERSIONS = ["4.21.1", "4.21.2", "4.21.3"]
CHANNEL = "candidate-4.21"


@dataclass
class PathSource:
    host: str
    prefix: str
    built: list[BuiltRelease]
    graph_file: Path
    signatures_dir: Path
    key_file: Path  # the throwaway release key, trusted only because the plan names it (release.keys)

    def pull_spec(self, number: int) -> str:
        return f"{self.host}/{self.prefix}{RELEASE_REPO}@{self.built[number].digest}"


@pytest.fixture(scope="module")
def path_source(plain_registry, tmp_path_factory) -> PathSource:
    host = plain_registry.host
    prefix = unique_repo("tui-path") + "/"
    layout = tmp_path_factory.mktemp("tui-path-src")
    key = signing.make_key()
    signatures = tmp_path_factory.mktemp("tui-path-sigs")

    async def build() -> list[BuiltRelease]:
        builder = new_builder(layout)
        built = [await build_day2_release(builder, source_host=host, version=version, prefix=prefix,
                                          keyrings={signing.KEY_NAME: signing.public_key(key)})
                 for version in VERSIONS]
        await push_layout(layout, [n for b in built for n in [*b.components.values(), b.release_name]], host, prefix)
        return built

    built = asyncio.run(build())
    for one in built:
        signing.write_store_copy(signatures, one.digest, [
            signing.sign_release(key, one.digest, f"quay.io/{RELEASE_REPO}:{one.version}-x86_64")])
    nodes = [{"version": b.version, "payload": f"{host}/{prefix}{RELEASE_REPO}@{b.digest}", "metadata": {}}
             for b in built]
    # 4.21.4 is in the channel but nothing updates to it; the direct 4.21.1 → 4.21.3 is a known risk.
    nodes.append({"version": "4.21.4", "payload": f"{host}/{prefix}{RELEASE_REPO}@sha256:{'0' * 64}", "metadata": {}})
    graph = {"version": 1, "nodes": nodes, "edges": [[0, 1], [1, 2]],
             "conditionalEdges": [{"edges": [{"from": "4.21.1", "to": "4.21.3"}],
                                   "risks": [{"name": "TestRisk", "url": "https://example.test", "message": "m",
                                              "matchingRules": [{"type": "Always"}]}]}]}
    graph_file = tmp_path_factory.mktemp("tui-graph") / f"{CHANNEL}.json"
    graph_file.write_text(json.dumps(graph))
    key_file = signing.write_public_key(signatures.parent / "tui-path-release-key.asc", key)
    return PathSource(host, prefix, built, graph_file, signatures, key_file)


def path_app(tmp_path: Path, src: PathSource, tls_registry, auth_file, pki, *, start: str = "release",
             **release) -> MirrorWizardApp:
    plan = plan_from_dict({
        "auth_file": str(auth_file),
        "mirror": {"registry": tls_registry.host, "ca_file": str(pki.ca_file)},
        "registries": [{"host": src.host, "insecure": True}],
        "output_dir": str(tmp_path / "out"),
    })
    state = WizardState(plan=plan, plan_path=tmp_path / "plan.yaml")
    state.release.target = f"{tls_registry.host}/{unique_repo('tui-path-dst')}"
    state.release.channel = CHANNEL
    state.release.signatures_dir = str(src.signatures_dir)
    state.release.keys = [str(src.key_file)]
    for key, value in release.items():
        setattr(state.release, key, value)
    state.visited = {"preflight", "credentials"}
    return MirrorWizardApp(state, start=start, auto_check=False)


def rendered(app: MirrorWizardApp, selector: str) -> str:
    return " ".join(str(w.render()) for w in app.screen.query(f"{selector} Static")) or str(
        app.screen.query_one(selector).render())


async def test_update_mode_shows_the_path_and_mirrors_every_release(path_source, tls_registry, auth_file, pki,
                                                                    tmp_path) -> None:
    app = path_app(tmp_path, path_source, tls_registry, auth_file, pki)
    state = app.state
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert not screen.query_one("#path-row").display  # one version: no path fields
        screen.query_one("#graph-file").value = str(path_source.graph_file)
        await pilot.pause()
        screen.query_one("#kind").value = "update"  # reads the graph's versions at once
        await settle(pilot)
        assert screen.query_one("#path-row").display and not screen.query_one("#source-row").display
        assert state.release.from_version is None and not state.release.source  # nothing chosen yet
        assert state.versions == ["4.21.4", "4.21.3", "4.21.2", "4.21.1"]

        # "from" offers only versions older than "to": a cluster never updates backwards.
        def offered() -> list[str]:
            return [str(value) for _label, value in screen.query_one("#from-version")._options if value is not Select.NULL]

        assert offered() == ["4.21.4", "4.21.3", "4.21.2", "4.21.1"]  # no "to" yet: every version
        screen.query_one("#version").value = "4.21.2"
        await settle(pilot)
        assert offered() == ["4.21.1"]
        screen.query_one("#from-version").value = "4.21.1"
        await settle(pilot)
        assert state.current_path() and screen.query_one("#path-info").rows  # 4.21.1 → 4.21.2 shown
        screen.query_one("#version").clear()  # the blank line: no "to", and the old path is not shown
        await settle(pilot)
        assert state.release.version is None and not state.current_path() and not screen.query_one("#path-info").rows
        assert offered() == ["4.21.4", "4.21.3", "4.21.2", "4.21.1"] and state.release.from_version == "4.21.1"
        screen.query_one("#version").value = "4.21.1"  # "to" moved onto the chosen "from": it is cleared
        await settle(pilot)
        assert offered() == [] and state.release.from_version is None

        # A version nothing updates to: one line saying so, and Next refuses.
        screen.query_one("#version").value = "4.21.4"
        await settle(pilot)
        assert offered() == ["4.21.3", "4.21.2", "4.21.1"]
        screen.query_one("#from-version").value = "4.21.1"
        await settle(pilot)
        error = str(screen.query_one("#path-error").render())
        assert "4.21.1 → 4.21.4 is not on channel candidate-4.21's update graph: no path" in error
        assert "\n" not in error and "--" not in error
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "release"

        screen.query_one("#version").value = "4.21.3"
        await settle(pilot)
        assert not screen.query_one("#path-error").display
        assert [i.version for i in state.current_path()] == VERSIONS  # the risky direct hop is never used
        rows = dict(screen.query_one("#path-info").rows)
        # per hop: what it adds (computed here from what the builder wrote) and what sharing saved
        seen: dict[str, int] = {}
        for number, one in enumerate(path_source.built):
            new = sum(size for digest, size in one.blobs.items() if digest not in seen)
            shared = sum(one.blobs.values()) - new
            label = f"{one.version} (now)" if number == 0 else f"→ {one.version}"
            # what it adds to the one copy; what a run moves is said by "In the mirror" alone
            assert human_bytes(new) in rows[label] and "to move" not in rows[label], rows
            if number:
                assert f"{human_bytes(shared)} saved by sharing" in rows[label] and shared > 0
            seen.update(one.blobs)
        assert "3 releases in one copy" in rows["In all"]

        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "samples"
        assert state.samples.source == "release"  # the default once a release is chosen …
        app.screen.query_one("#source").value = "none"  # … but these test releases' samples images do not exist
        await settle(pilot)
        await app.goto("review")
        await settle(pilot)
        summary = rendered(app, "#summary")
        assert "update 4.21.1 → 4.21.3" in summary and "4.21.1, 4.21.2, 4.21.3" in summary
        # the saved plan pins the path it showed, each release by digest
        pins = state.plan_for_saving().release.releases
        assert [p.rsplit("@", 1)[1] for p in pins] == [one.digest for one in path_source.built]
        app.screen.query_one("#next").press()  # Start mirror
        await settle(pilot)
        assert app.current_mode == "mirror"
        await app.workers.wait_for_complete()
        await pilot.pause(0.3)
        progress = state.progress
        assert progress.finished, (progress.error, list(progress.log)[-5:])
        prepared = state.prepared
        assert [r.version for r in prepared.releases] == VERSIONS
        assert len(prepared.signature_configmaps()) == 3  # each release's signatures, verified
        # the Mirror step's title names the path, not only its last release
        assert "releases 4.21.1 → 4.21.3 (3 releases)" in rendered(app, "#what")

    opts = {"authfile": auth_file, "cert_dir": pki.dir}
    target = state.release.target
    for one in path_source.built:
        assert skopeo.digest(f"{target}:{one.version}-x86_64", **opts) == one.digest
        for name, digest in one.component_digests.items():
            assert skopeo.digest(f"{target}:{one.version}-x86_64-{name}", **opts) == digest


def fixture_streams() -> set[str]:
    """The stream names the test release ships (read here from the files the builder put in it)."""
    return {json.loads(p.read_text())["metadata"]["name"] for p in IMAGESTREAM_FIXTURES.glob("*.json")}


def check_columns_fit(app: MirrorWizardApp) -> list[list[str]]:
    """Every column inside the table (with cell padding and the scrollbar); the rows' text."""
    table = app.screen.query_one("#streams")
    widths = {str(k.value): c.width for k, c in table.columns.items()}
    assert sum(widths.values()) + 2 * len(widths) + 2 <= table.size.width, (widths, table.size)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def test_samples_default_to_the_release_and_the_columns_fit(path_source, tls_registry, auth_file, pki,
                                                                  tmp_path) -> None:
    app = path_app(tmp_path, path_source, tls_registry, auth_file, pki, start="samples",
                   source=path_source.pull_spec(2), version="4.21.3")
    state = app.state
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert state.samples.source == "release"
        assert app.screen.query_one("#source").value == "release"
        assert {s.name for s in state.streams} == fixture_streams()
        assert "httpd-example" not in {s.name for s in state.streams}  # the template is no stream
        assert "from release 4.21.3" in str(app.screen.query_one("#streams-from").render())
        assert state.release_info is not None and state.streams_from == state.release_info.digest
        rows = check_columns_fit(app)
        # "from" whole at 100 columns, by the registries' real names
        assert {r[5] for r in rows} == {"registry.redhat.io", "registry.access.redhat.com"}
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.2)
        rows = check_columns_fit(app)
        assert all(r[5] in ("registry.redhat.io", "registry.access.redhat.com", "…redhat.io", "…access.redhat.com")
                   or "…" in r[5] for r in rows)
        assert "redhat.io" not in {r[5] for r in rows}  # no made-up registry name
        # the choice survives a plan round trip, and None stays possible
        assert state.plan_for_saving().samples.source == "release"
        app.screen.query_one("#source").value = "none"
        await settle(pilot)
        assert state.plan_for_saving().samples is None and not state.streams


# -- Apply: a signature ConfigMap the cluster has is replaced only after its own yes ----------------------

def signed_done_app(folder: Path) -> tuple[MirrorWizardApp, str, str]:
    """The Done step after a mirror of two releases with verified signatures; the cluster (the recording
    fake oc of test_tui_done) already has the first one's signature ConfigMap."""
    from core.signatures import SignatureReport, VerifiedSignature, configmap_name
    from tests.test_tui_done import done_app

    app = done_app()
    reports = []
    for number in (1, 2):
        report = SignatureReport(f"sha256:{number:064x}")
        report.verified = [VerifiedSignature(f"signature {number}".encode(), "redhat", "AB" * 20,
                                             "quay.io/openshift-release-dev/ocp-release", "store")]
        reports.append(report)
    app.state.prepared.signatures = reports
    there, new = configmap_name(reports[0].digest), configmap_name(reports[1].digest)
    cluster = folder / "cluster"
    cluster.mkdir()
    (cluster / f"configmap-{there}.json").write_text(json.dumps({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": there, "namespace": "openshift-config-managed"}, "binaryData": {}}))
    return app, there, new


def applied(log: Path) -> list[tuple[list[str], str]]:
    calls = sorted(log.glob("*.args"), key=lambda p: int(p.stem))
    return [(p.read_text().split("\n")[:-1], (log / f"{p.stem}.stdin").read_text()) for p in calls]


async def apply_answering(app: MirrorWizardApp, pilot, replace: str) -> str:  # type: ignore[no-untyped-def]
    """Apply, yes to the changes, then ``replace`` ("y" or "escape") to the signature question; the
    second question's text."""
    from tui.screens.apply import ApplyScreen

    app.screen.query_one("#apply").focus()
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(app.screen, ApplyScreen)
    first = str(app.screen.query_one("#apply-body").render())
    await pilot.press("y")
    await pilot.pause()
    assert isinstance(app.screen, ApplyScreen)
    second = str(app.screen.query_one(".question").render()) + "\n" + str(app.screen.query_one("#apply-body").render())
    await pilot.press(replace)
    await settle(pilot)
    if isinstance(app.screen, ApplyScreen):  # the results
        await pilot.press("escape")
        await pilot.pause()
    return first + "\n" + second


async def test_apply_leaves_an_existing_signature_configmap_unless_replacing_is_confirmed(workdir: Path) -> None:  # noqa: F811
    from tests.test_tui_done import install_oc

    log = install_oc(workdir)
    app, there, new = signed_done_app(workdir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "sha256-" in app.screen.query_one("#doc-signatures").text  # Done shows them
        text = await apply_answering(app, pilot, "escape")
        assert f"Replace the release signature ConfigMap {there} in openshift-config-managed?" in text
        assert "asked separately" in text
        result = str(app.screen.query_one("#written").render())
        assert f"ConfigMap/{there} -n openshift-config-managed: left as is" in result
    calls = applied(log)
    names = [yaml.safe_load(stdin)["metadata"]["name"] for _, stdin in calls if "sha256-" in stdin]
    assert names == [new]  # the new one applied, the one the cluster has untouched
    assert all(args[0] != "replace" for args, _ in calls)


async def test_apply_replaces_an_existing_signature_configmap_after_its_own_yes(workdir: Path) -> None:  # noqa: F811
    from tests.test_tui_done import install_oc

    log = install_oc(workdir)
    app, there, new = signed_done_app(workdir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await apply_answering(app, pilot, "y")
        assert "left as is" not in str(app.screen.query_one("#written").render())
    calls = {yaml.safe_load(stdin)["metadata"]["name"]: args for args, stdin in applied(log) if "sha256-" in stdin}
    assert calls[there] == ["replace", "-f", "-"] and calls[new] == ["apply", "-f", "-"]


async def test_a_release_without_samples_leaves_none_chosen_and_says_so(seeded_release, tmp_path) -> None:
    """The default source finds no streams in a custom payload: none, said plainly (never a plan whose
    mirror would then fail on it)."""
    plan = plan_from_dict({"mirror": {"registry": "mirror.example.com:8443"},
                           "registries": [{"host": seeded_release.host, "insecure": True}],
                           "release": {"source": seeded_release.release_ref, "target": "mirror.example.com:8443/ocp4"},
                           "output_dir": str(tmp_path / "out")})
    app = MirrorWizardApp(WizardState(plan=plan, plan_path=tmp_path / "plan.yaml"), start="samples", auto_check=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.screen.query_one("#source").value == "none", str(app.screen.query_one("#streams-error").render())
        assert "ships no samples image streams" in str(app.screen.query_one("#streams-from").render())
        assert app.state.plan_for_saving().samples is None
