"""``verify --cluster``: the cluster side, through the ``oc`` stand-in answering recorded JSON.

The expected state comes from a plan (streams ruby, perl and a skipped jenkins; a release from
quay.io's two repositories into one mirror repository) without touching any registry, so each test
only exercises what the cluster says.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from core.mirror_config import MirrorInstructions
from core.oc import Oc
from core.plan import MirrorRegistry, Plan, ReleaseChoice, SamplesChoice
from core.verify import Check, Expected, Side, Status, cluster_checks, import_failure_cause, load_samples
from tests.support.fake_oc import install, variables_for

MIRROR = "mirror.lab.example.com:8443"
MIRROR_REPO = f"{MIRROR}/ocp4/openshift4"
RELEASE_SOURCE = "quay.io/openshift-release-dev/ocp-release"
COMPONENTS_SOURCE = "quay.io/openshift-release-dev/ocp-v4.0-art-dev"
SAMPLES = {"ruby": "registry.redhat.io/ubi9/ruby-33:latest", "perl": "registry.access.redhat.com/ubi9/perl-532:latest",
           "jenkins": "registry.redhat.io/ocp-tools-4/jenkins-rhel9:v4.17.0"}
ON_MIRROR = {"ruby": f"{MIRROR}/ubi9/ruby-33:latest", "perl": f"{MIRROR}/ubi9/perl-532:latest"}


def expected_state(tmp_path: Path, ca_file: Path) -> Expected:
    streams = tmp_path / "streams.json"
    streams.write_text(json.dumps({"kind": "List", "apiVersion": "v1", "items": [
        {"kind": "ImageStream", "apiVersion": "image.openshift.io/v1", "metadata": {"name": name},
         "spec": {"tags": [{"name": spec.rsplit(":", 1)[1], "from": {"kind": "DockerImage", "name": spec}}]}}
        for name, spec in SAMPLES.items()]}))
    plan = Plan(mirror=MirrorRegistry(MIRROR, ca_file=str(ca_file)),
                release=ReleaseChoice(source=f"{RELEASE_SOURCE}:4.17.3-x86_64", target=MIRROR_REPO),
                samples=SamplesChoice(paths=[str(streams)], mirror=MIRROR, skip=["jenkins"]),
                output_dir=str(tmp_path / "out"))
    expected = Expected(plan, plan_file="plan.yaml")
    load_samples(expected)
    assert expected.samples is not None, expected.samples_error
    expected.instructions = MirrorInstructions([(RELEASE_SOURCE, MIRROR_REPO), (COMPONENTS_SOURCE, MIRROR_REPO)])
    return expected


@pytest.fixture
def use_oc(tmp_path: Path, pki, monkeypatch: pytest.MonkeyPatch):
    """use_oc(scenario) puts the stand-in first on PATH; returns the file it logs its calls to."""
    def use(scenario: str) -> Path:
        env = install(tmp_path / "bin", scenario=scenario, log_dir=tmp_path / "oc-log", variables=variables_for(
            mirror=MIRROR, ca_file=pki.ca_file, mirror_repo=MIRROR_REPO, release_source=RELEASE_SOURCE,
            components_source=COMPONENTS_SOURCE, samples=ON_MIRROR))
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return tmp_path / "oc-log" / "calls.log"
    return use


def run_cluster(expected: Expected) -> dict[str, Check]:
    async def go() -> list[Check]:
        return [check async for check in cluster_checks(expected, Oc())]
    checks = asyncio.run(go())
    assert all(c.side is Side.CLUSTER for c in checks)
    return {c.name: c for c in checks}


def assert_read_only(log: Path) -> None:
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert calls and all(call[0] in ("whoami", "version", "get") for call in calls), calls


def test_healthy_cluster_passes(tmp_path: Path, pki, use_oc) -> None:
    log = use_oc("healthy")
    checks = run_cluster(expected_state(tmp_path, pki.ca_file))
    failing = [c.line() for c in checks.values() if c.status is Status.FAIL]
    assert not failing, failing
    assert checks["cluster-access"].detail == \
        "logged in as kube:admin to https://api.lab.example.com:6443, OpenShift 4.17.3"
    for name in ("cluster-trust", "cluster-mirror-sets", "samples-config", "samples-status", "samples-imports",
                 "machine-config-pools"):
        assert checks[name].status is Status.PASS, checks[name].line()
    # the skipped jenkins stream fails to import on this cluster, and must not count
    assert checks["samples-imports"].detail == "all 2 managed, not skipped streams imported"
    node = checks["node-pull-source"]
    assert node.status is Status.SKIP
    assert node.fix == ("oc debug node/worker-0.lab.example.com -- chroot /host journalctl -u crio --since=-2h "
                        f"| grep 'Trying to access' | grep -F {MIRROR}")
    assert_read_only(log)


def test_broken_cluster_gives_the_right_lines(tmp_path: Path, pki, use_oc) -> None:
    log = use_oc("broken")
    checks = run_cluster(expected_state(tmp_path, pki.ca_file))
    failing = {name for name, c in checks.items() if c.status is Status.FAIL}
    assert failing == {"cluster-trust", "cluster-mirror-sets", "samples-status", "samples-imports",
                       "machine-config-pools"}

    trust = checks["cluster-trust"]
    assert trust.detail == "image.config.openshift.io/cluster has no spec.additionalTrustedCA"
    assert trust.fix == (f"oc create configmap registry-config --from-file=mirror.lab.example.com..8443={pki.ca_file} "
                         "-n openshift-config && oc patch image.config.openshift.io/cluster --patch "
                         "'{\"spec\":{\"additionalTrustedCA\":{\"name\":\"registry-config\"}}}' --type=merge")

    sets = checks["cluster-mirror-sets"]
    assert sets.items == [f"{COMPONENTS_SOURCE} → {MIRROR_REPO}"]
    assert sets.fix == f"oc apply -f {tmp_path / 'out' / 'imageDigestMirrorSet.yaml'}"

    assert checks["samples-status"].detail.startswith("ImportImageErrorsExist is True: ImageStream import errors")

    imports = checks["samples-imports"]
    assert imports.detail == "2 tags of 2 streams failed to import"
    perl, ruby = imports.items
    assert perl.startswith(f"perl:latest: Internal error occurred: {ON_MIRROR['perl']}: Get ")
    assert perl.endswith("likely cause: CA: the cluster does not trust the mirror's certificate "
                         "(registry-config, additionalTrustedCA)")
    assert ruby == (f"ruby:latest: dockerimage.image.openshift.io \"{ON_MIRROR['ruby']}\" not found — likely cause: "
                    "missing tag: this tag is not on the mirror; mirror it or skip the stream")

    pools = checks["machine-config-pools"]
    assert pools.detail == "1 of 2 pools have not finished rolling out"
    assert pools.items == ["worker: still rolling out (1/3 updated): All nodes are updating to MachineConfig "
                           "rendered-worker-9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"]
    assert pools.fix and pools.fix.startswith("oc get machineconfigpools -w")
    assert_read_only(log)


def test_configmap_under_the_wrong_key(tmp_path: Path, pki, use_oc) -> None:
    use_oc("wrong-key")
    checks = run_cluster(expected_state(tmp_path, pki.ca_file))
    trust = checks["cluster-trust"]
    assert trust.status is Status.FAIL
    assert trust.detail == ("ConfigMap registry-config has mirror.lab.example.com but not mirror.lab.example.com..8443 "
                            "(host..port, the key the cluster looks up)")
    assert trust.fix == ("oc set data configmap/registry-config -n openshift-config "
                         f"--from-file=mirror.lab.example.com..8443={pki.ca_file}")


def test_another_ca_in_the_configmap(tmp_path: Path, pki, use_oc) -> None:
    from tui.sandbox.pki import make_ca

    use_oc("healthy")  # the recorded ConfigMap holds the suite's CA; the plan names another one
    pair, _, _ = make_ca(tmp_path / "other", "another CA")
    trust = run_cluster(expected_state(tmp_path, pair.cert_path))["cluster-trust"]
    assert trust.status is Status.FAIL
    assert trust.detail == f"ConfigMap registry-config key mirror.lab.example.com..8443 holds another certificate " \
                           f"than {pair.cert_path}"


def test_operator_removed(tmp_path: Path, pki, use_oc) -> None:
    use_oc("removed")
    expected = expected_state(tmp_path, pki.ca_file)
    checks = run_cluster(expected)
    config = checks["samples-config"]
    assert config.status is Status.FAIL
    assert config.detail == "managementState is Removed, not Managed (no samples are installed)"
    assert config.fix == expected.samples.commands[1] and config.fix.startswith(
        "oc patch configs.samples.operator.openshift.io/cluster --type=merge --patch ")
    assert '"managementState":"Managed"' in config.fix and '"skippedImagestreams":["jenkins"]' in config.fix
    assert checks["samples-status"].status is Status.FAIL
    assert checks["samples-status"].items == ["SamplesExist is False", "status.managementState is Removed"]
    imports = checks["samples-imports"]
    assert imports.status is Status.FAIL
    assert imports.detail == "2 mirrored stream(s) do not exist in openshift yet: perl, ruby"


@pytest.mark.parametrize("scenario, expected_detail", [
    ("logged-out", "cluster not checked: oc is not logged in to a cluster "
                   "(error: You must be logged in to the server (Unauthorized))"),
    (None, "cluster not checked: oc is not on PATH"),
])
def test_no_usable_oc_is_one_clear_line(tmp_path: Path, pki, use_oc, monkeypatch: pytest.MonkeyPatch,
                                        scenario: str | None, expected_detail: str) -> None:
    if scenario:
        use_oc(scenario)
    else:
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    checks = run_cluster(expected_state(tmp_path, pki.ca_file))
    assert list(checks) == ["cluster-access"]
    (check,) = checks.values()
    assert check.status is Status.SKIP and check.detail == expected_detail
    assert check.fix


def test_failure_causes() -> None:
    mirror = "mirror.lab.example.com:8443"
    spec = f"{mirror}/ubi9/ruby-33:latest"
    assert import_failure_cause("Unauthorized", f'you may not have access to the container image "{spec}"', mirror) \
        .startswith("auth:")
    assert import_failure_cause("NotFound", f'dockerimage.image.openshift.io "{spec}" not found', mirror) \
        .startswith("missing tag:")
    assert import_failure_cause("InternalError", f'Internal error occurred: {spec}: Get "https://{mirror}/v2/": '
                                "x509: certificate signed by unknown authority", mirror).startswith("CA:")
    assert import_failure_cause("InternalError", 'Internal error occurred: registry.redhat.io/ubi9/ruby-33:latest: '
                                'Get "https://registry.redhat.io/v2/": dial tcp: lookup registry.redhat.io: no such '
                                "host", mirror).startswith("imports from elsewhere than the mirror")


def test_older_cluster_reads_the_icsp_and_names_its_file(tmp_path: Path, pki, use_oc) -> None:
    log = use_oc("old-icsp")  # 4.12: no ImageDigestMirrorSet type; the ICSP covers the release repository only
    sets = run_cluster(expected_state(tmp_path, pki.ca_file))["cluster-mirror-sets"]
    assert sets.status is Status.FAIL
    assert sets.detail == "1 release source not sent to the mirror by any ImageContentSourcePolicy"
    assert sets.items == [f"{COMPONENTS_SOURCE} → {MIRROR_REPO}"]
    assert sets.fix == f"oc apply -f {tmp_path / 'out' / 'imageContentSourcePolicy.yaml'}"
    assert ["get", "imagedigestmirrorsets", "-o", "json"] in [json.loads(line) for line in log.read_text().splitlines()]
