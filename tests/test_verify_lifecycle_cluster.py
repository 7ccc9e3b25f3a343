"""``verify --cluster`` for a mirror that lasts (issue 24), through the ``oc`` stand-in's recorded objects:
the 4.20 → 4.21 admin-ack, image.config's registry lists (with and without the mirror's port, blocked),
a samples operator that bootstrapped Removed, and the OpenShift Update Service (its CA key, status,
and the cluster's spec.upstream). No registry is touched: the expected state is the one of
tests/test_verify_cluster.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.verify import Expected, Status
from core.verify.lifecycle import SIGSTORE_GATE, admin_ack_command
from tests.support.fake_oc import install, variables_for
from tests.test_verify_cluster import (
    COMPONENTS_SOURCE,
    MIRROR,
    MIRROR_REPO,
    ON_MIRROR,
    RELEASE_SOURCE,
    assert_read_only,
    expected_state,
    run_cluster,
)

GRAPH = f"{MIRROR}/openshift/graph-image"
GRAPH_DIGEST = "sha256:" + "9f" * 32
ROUTE = "https://update-service-route-openshift-update-service.apps.lab.example.com"


@pytest.fixture
def oc_scenario(tmp_path: Path, pki, monkeypatch: pytest.MonkeyPatch):
    def use(scenario: str, graph_image: str = f"{GRAPH}@{GRAPH_DIGEST}") -> Path:
        env = install(tmp_path / "bin", scenario=scenario, log_dir=tmp_path / "oc-log", variables=variables_for(
            mirror=MIRROR, ca_file=pki.ca_file, mirror_repo=MIRROR_REPO, release_source=RELEASE_SOURCE,
            components_source=COMPONENTS_SOURCE, samples=ON_MIRROR, graph_image=graph_image, releases=MIRROR_REPO))
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return tmp_path / "oc-log" / "calls.log"
    return use


def with_release(expected: Expected, version: str) -> Expected:
    assert expected.plan.release is not None
    expected.plan.release.version = version
    return expected


def with_update_service(expected: Expected) -> Expected:
    assert expected.plan.release is not None and expected.instructions is not None
    expected.plan.release.graph_image = f"{GRAPH}:latest"
    expected.graph_image_digest = GRAPH_DIGEST
    expected.instructions.release_image = f"{MIRROR_REPO}:4.17.3-x86_64"
    return expected


# -- the 4.20 → 4.21 admin-ack -------------------------------------------------------------------------


def test_admin_ack_missing_before_an_update_to_4_21(tmp_path: Path, pki, oc_scenario) -> None:
    log = oc_scenario("ack-missing")
    checks = run_cluster(with_release(expected_state(tmp_path, pki.ca_file), "4.21.2"))
    ack = checks["admin-ack-sigstore"]
    assert ack.status is Status.FAIL
    assert ack.detail == (f"updating this 4.20 cluster to 4.21.2 waits for the admin-ack {SIGSTORE_GATE} (the cluster "
                          "raised it): 4.21 checks the release's Sigstore signature through the mirrors")
    # the command the CVO's admin-ack reads: openshift-config/admin-acks, the gate's key set to "true"
    assert ack.fix_command == ("oc -n openshift-config patch configmap admin-acks --type=merge --patch "
                               "'{\"data\":{\"ack-4.20-sigstore-in-4.21\":\"true\"}}'")
    assert ack.fix_command == admin_ack_command()
    assert_read_only(log)


def test_admin_ack_given_passes(tmp_path: Path, pki, oc_scenario) -> None:
    oc_scenario("ack-given")
    ack = run_cluster(with_release(expected_state(tmp_path, pki.ca_file), "4.21.2"))["admin-ack-sigstore"]
    assert ack.status is Status.PASS
    assert ack.detail == f"{SIGSTORE_GATE} is acknowledged in openshift-config/admin-acks"


def test_admin_ack_is_said_but_not_failed_below_4_21(tmp_path: Path, pki, oc_scenario) -> None:
    oc_scenario("ack-missing")
    ack = run_cluster(with_release(expected_state(tmp_path, pki.ca_file), "4.20.18"))["admin-ack-sigstore"]
    assert ack.status is Status.SKIP
    assert ack.fix == admin_ack_command() and "before updating to 4.21" in ack.detail


def test_admin_ack_not_a_417_clusters_business(tmp_path: Path, pki, oc_scenario) -> None:
    oc_scenario("healthy")
    ack = run_cluster(with_release(expected_state(tmp_path, pki.ca_file), "4.21.2"))["admin-ack-sigstore"]
    assert ack.status is Status.SKIP and ack.detail.startswith("the cluster runs 4.17.3")


# -- image.config allows samplesRegistry -------------------------------------------------------------


def test_allowed_registries_without_the_port_refuse_the_mirror(tmp_path: Path, pki, oc_scenario) -> None:
    oc_scenario("allowed-no-port")
    allowed = run_cluster(expected_state(tmp_path, pki.ca_file))["samples-registry-allowed"]
    assert allowed.status is Status.FAIL
    assert allowed.detail == f"2 image.config settings refuse {MIRROR}"
    assert allowed.items == [
        f"spec.allowedRegistriesForImport has no domainName matching {MIRROR} (it names the host without the port :8443)",
        f"spec.registrySources.allowedRegistries does not list {MIRROR} exactly (it lists the host without the port)"]
    patches = allowed.fix.split(" && ")
    assert patches[0] == ("oc patch image.config.openshift.io/cluster --type=json --patch "
                          f"'[{{\"op\":\"add\",\"path\":\"/spec/allowedRegistriesForImport/-\","
                          f"\"value\":{{\"domainName\":\"{MIRROR}\"}}}}]'")
    assert json.loads(patches[1].split("--patch ", 1)[1].strip("'")) == [
        {"op": "add", "path": "/spec/registrySources/allowedRegistries/-", "value": MIRROR}]


def test_allowed_registries_with_the_port_pass(tmp_path: Path, pki, oc_scenario) -> None:
    oc_scenario("allowed-port")
    allowed = run_cluster(expected_state(tmp_path, pki.ca_file))["samples-registry-allowed"]
    assert allowed.status is Status.PASS
    assert allowed.detail == f"{MIRROR}: allowedRegistriesForImport matches it, allowedRegistries lists it"


def test_blocked_mirror_is_refused(tmp_path: Path, pki, oc_scenario) -> None:
    oc_scenario("blocked")
    allowed = run_cluster(expected_state(tmp_path, pki.ca_file))["samples-registry-allowed"]
    assert allowed.status is Status.FAIL
    assert allowed.detail.startswith(f"spec.registrySources.blockedRegistries lists {MIRROR}; the samples operator")
    assert json.loads(allowed.fix.split("--patch ", 1)[1].strip("'")) == [
        {"op": "remove", "path": "/spec/registrySources/blockedRegistries/1"}]


def test_no_registry_restrictions_pass(tmp_path: Path, pki, oc_scenario) -> None:
    oc_scenario("healthy")
    checks = run_cluster(expected_state(tmp_path, pki.ca_file))
    assert checks["samples-registry-allowed"].status is Status.PASS
    assert checks["samples-registry-allowed"].detail == f"{MIRROR}: image.config restricts no registries"
    mode = checks["samples-import-mode"]
    assert mode.status is Status.PASS and mode.detail.startswith("imageStreamImportMode is unset (Legacy")


# -- the samples operator bootstrapped Removed --------------------------------------------------------


def test_removed_at_bootstrap_says_why(tmp_path: Path, pki, oc_scenario) -> None:
    oc_scenario("removed-bootstrap")
    config = run_cluster(expected_state(tmp_path, pki.ca_file))["samples-config"]
    assert config.status is Status.FAIL
    assert config.detail == ("managementState is Removed, not Managed (no samples are installed); it bootstrapped as "
                             "Removed at install: registry.redhat.io was unreachable (a disconnected install); the "
                             "patch sets Managed with samplesRegistry on the mirror")
    assert '"managementState":"Managed"' in (config.fix or "")


def test_removed_by_the_admin_says_no_more(tmp_path: Path, pki, oc_scenario) -> None:
    oc_scenario("removed")  # no ClusterOperator reason recorded: nothing is guessed
    config = run_cluster(expected_state(tmp_path, pki.ca_file))["samples-config"]
    assert config.detail == "managementState is Removed, not Managed (no samples are installed)"


# -- the OpenShift Update Service ----------------------------------------------------------------------


def test_update_service_ready(tmp_path: Path, pki, oc_scenario) -> None:
    log = oc_scenario("update-service")
    checks = run_cluster(with_update_service(expected_state(tmp_path, pki.ca_file)))
    for name in ("update-service-ca", "update-service", "cluster-upstream"):
        assert checks[name].status is Status.PASS, checks[name].line()
    assert checks["update-service-ca"].detail == "ConfigMap registry-config has updateservice-registry with the plan's CA"
    assert checks["update-service"].detail == f"UpdateService update-service reconciled, serving {ROUTE}"
    assert checks["cluster-upstream"].detail == f"the cluster asks {ROUTE}/api/upgrades_info/v1/graph for updates"
    assert_read_only(log)


def test_update_service_unready_names_each_problem(tmp_path: Path, pki, oc_scenario) -> None:
    oc_scenario("update-service-unready")
    checks = run_cluster(with_update_service(expected_state(tmp_path, pki.ca_file)))
    ca = checks["update-service-ca"]
    assert ca.status is Status.FAIL
    assert ca.detail.startswith("ConfigMap registry-config has no key updateservice-registry")
    assert ca.fix == (f"oc set data configmap/registry-config -n openshift-config "
                      f"--from-file=updateservice-registry={pki.ca_file}")
    service = checks["update-service"]
    assert service.status is Status.FAIL and service.detail == "UpdateService update-service: 3 problems"
    assert service.items == [
        "ReconcileCompleted is False: Reconcile started",
        "RegistryCACertFound is False: Found ConfigMap referenced by ImageConfig.Spec.AdditionalTrustedCA.Name but "
        "did not find key 'updateservice-registry' for registry CA cert in ConfigMap (Name: registry-config, "
        "Namespace: openshift-config)",
        "status.policyEngineURI is empty (the route is not admitted yet)"]
    assert checks["cluster-upstream"].status is Status.SKIP


def test_update_service_with_another_graph_image(tmp_path: Path, pki, oc_scenario) -> None:
    oc_scenario("update-service", graph_image=f"{GRAPH}@sha256:{'00' * 32}")
    service = run_cluster(with_update_service(expected_state(tmp_path, pki.ca_file)))["update-service"]
    assert service.status is Status.FAIL
    assert service.detail.startswith(f"no UpdateService uses the plan's graph image {GRAPH}:latest @ {GRAPH_DIGEST}")


def test_upstream_not_pointed_at_the_service(tmp_path: Path, pki, oc_scenario) -> None:
    oc_scenario("upstream-unset")
    upstream = run_cluster(with_update_service(expected_state(tmp_path, pki.ca_file)))["cluster-upstream"]
    assert upstream.status is Status.FAIL
    assert upstream.detail == f"spec.upstream is unset, not the update service's {ROUTE}/api/upgrades_info/v1/graph"
    assert upstream.fix_command == ("oc patch clusterversion/version --type=merge --patch "
                                    f"'{{\"spec\":{{\"upstream\":\"{ROUTE}/api/upgrades_info/v1/graph\"}}}}'")


def test_no_update_service_in_the_plan_skips(tmp_path: Path, pki, oc_scenario) -> None:
    oc_scenario("update-service")
    checks = run_cluster(expected_state(tmp_path, pki.ca_file))
    assert {checks[n].status for n in ("update-service-ca", "update-service", "cluster-upstream")} == {Status.SKIP}


# -- the ImageTagMirrorSet alongside the IDMS ----------------------------------------------------------------


def test_no_pull_by_tag_needs_no_itms(tmp_path: Path, pki, oc_scenario) -> None:
    oc_scenario("healthy")
    itms = run_cluster(expected_state(tmp_path, pki.ca_file))["tag-mirror-sets"]
    assert itms.status is Status.SKIP and itms.detail.endswith("no ImageTagMirrorSet needed")


@pytest.mark.parametrize("scenario, status", [("healthy", Status.FAIL), ("itms", Status.PASS)])
def test_pull_by_tag_needs_an_itms(tmp_path: Path, pki, oc_scenario, scenario: str, status: Status) -> None:
    log = oc_scenario(scenario)
    expected = expected_state(tmp_path, pki.ca_file)
    expected.tag_pulls = [(RELEASE_SOURCE, MIRROR_REPO)]
    itms = run_cluster(expected)["tag-mirror-sets"]
    assert itms.status is status, itms.line()
    if status is Status.FAIL:
        assert itms.items == [f"{RELEASE_SOURCE} → {MIRROR_REPO}"]
        document = json.loads(itms.fix.split("echo '", 1)[1].split("' | oc apply -f -", 1)[0])
        assert document["kind"] == "ImageTagMirrorSet"
        assert document["spec"] == {"imageTagMirrors": [{"mirrors": [MIRROR_REPO], "source": RELEASE_SOURCE}]}
    else:
        assert itms.detail == "every source pulled by tag is mirrored (1 imagetagmirrorsets)"
    assert ["get", "imagetagmirrorsets", "-o", "json"] in [json.loads(line) for line in log.read_text().splitlines()]


def test_admin_ack_not_raised_yet_is_said_ahead(tmp_path: Path, pki, oc_scenario) -> None:
    """The machine-config-operator raises the gate only on a 4.20 cluster with mirror sets; before that the
    line says so and gives the patch, without failing."""
    oc_scenario("ack-not-raised")
    ack = run_cluster(with_release(expected_state(tmp_path, pki.ca_file), "4.21.2"))["admin-ack-sigstore"]
    assert ack.status is Status.SKIP
    assert ack.detail.startswith(f"openshift-config-managed/admin-gates holds no {SIGSTORE_GATE} yet")
    assert ack.fix == admin_ack_command()


def test_no_update_service_on_the_cluster(tmp_path: Path, pki, oc_scenario) -> None:
    oc_scenario("healthy")  # no UpdateService recorded; the ConfigMap lacks the operator's key
    checks = run_cluster(with_update_service(expected_state(tmp_path, pki.ca_file)))
    service = checks["update-service"]
    assert service.status is Status.FAIL and service.detail == "no UpdateService in openshift-update-service"
    assert service.fix_command == "oc apply -f DIR/updateservice.yaml"
    assert checks["update-service-ca"].status is Status.FAIL
    assert checks["cluster-upstream"].status is Status.SKIP
