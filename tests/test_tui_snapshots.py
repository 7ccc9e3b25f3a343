"""Snapshot tests: every step at 80x24 and 120x40, from a fixed plan with fixed names and no network.

The state is built by hand (the results a step would have found) so the pictures never depend on
ports, clocks or timing. Update on purpose with: pytest tests/test_tui_snapshots.py --snapshot-update
"""

from __future__ import annotations

import base64
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.events import (
    BlobProgress,
    BlobStarted,
    ImageDone,
    ImageFailed,
    LogMessage,
    PlanReady,
)
from core.plan import plan_from_dict
from tui.app import MirrorWizardApp
from tui.sandbox.demo import bundled_imagestreams
from tui.state import Check, WizardState

MIRROR = "mirror.example.com:8443"
TARGET = f"{MIRROR}/ocp4/openshift4"
SIZES = [(80, 24), (120, 40)]
# A fixed CA (EC P-256, valid 2024-2083) so the ConfigMap preview is the same on every run.
CA_PEM = """-----BEGIN CERTIFICATE-----
MIIBSzCB86ADAgECAgIQkjAKBggqhkjOPQQDAjAcMRowGAYDVQQDDBFFeGFtcGxl
IE1pcnJvciBDQTAgFw0yNDAxMDEwMDAwMDBaGA8yMDgzMTIxNzAwMDAwMFowHDEa
MBgGA1UEAwwRRXhhbXBsZSBNaXJyb3IgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMB
BwNCAATn3RyrjXs04/hSu5ccRryIR8HjlElnals49f8l+BABc3mzL1Ns3i5uH7PZ
SYlqDA1K9TyngfZNZdPH76j6fBAyoyMwITAPBgNVHRMBAf8EBTADAQH/MA4GA1Ud
DwEB/wQEAwIBhjAKBggqhkjOPQQDAgNHADBEAiAVNPolQ4AivGs24Nc66TcRjw/g
sRVUXJM9lGC53WLHXgIgZbr1PwEoZr3ud4HkphjIXB+9PS5MZUsA133KMEnmPWg=
-----END CERTIFICATE-----
"""


class FixedClock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Relative paths in the plan, resolved from here, so no temporary path shows on screen."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # no oc on any machine: the same Done step everywhere
    auth = base64.b64encode(b"someone:not-a-token").decode()
    Path("pull-secret.json").write_text(json.dumps({"auths": {h: {"auth": auth, "email": "you@example.com"} for h in
                                                              ("cloud.openshift.com", "quay.io", "registry.redhat.io")}}))
    Path("ca.crt").write_text(CA_PEM)
    Path("imagestreams").mkdir()
    for path in bundled_imagestreams():
        shutil.copyfile(path, Path("imagestreams") / path.name)
    return tmp_path


def fixed_state() -> WizardState:
    plan = plan_from_dict({
        "version": 1,
        "auth_file": "pull-secret.json",
        "mirror": {"registry": MIRROR, "ca_file": "ca.crt", "insecure": False},
        "release": {"source": "quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64", "channel": "stable-4.17",
                    "version": "4.17.3", "architecture": "x86_64", "mode": "registry", "target": TARGET},
        "samples": {"source": "files", "path": "imagestreams", "mirror": MIRROR, "include": [],
                    "skip": ["jenkins", "jenkins-agent-base"]},
        "output_dir": "output",
    })
    state = WizardState(plan=plan, plan_path=Path("mirror-plan.yaml"))
    state.checks = [
        Check("oc (OpenShift CLI)", "ok", "4.17.3 at /usr/local/bin/oc"),
        Check("pull secret", "ok", "3 registries in pull-secret.json"),
        Check("keyring", "warn", "no usable backend",
              "Passwords cannot be remembered; type the mirror password when asked"),
        Check("free disk", "ok", "212.4 GiB free in /srv/mirror"),
    ]
    from core.samples import load_streams

    state.streams = load_streams("imagestreams")
    state.mirror_user = "admin"
    state.visited = set()
    return state


def mid_copy(state: WizardState, clock: FixedClock) -> None:
    """The Mirror step a little past a third of the way."""
    progress = state.progress
    progress.clock = clock
    progress.reset()
    components = ["cli", "installer", "etcd", "console", "hyperkube", "machine-config-operator", "tests", "tools"]
    rows = [(f"quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:{i:064x}", f"{TARGET}:4.17.3-x86_64-{c}",
             f"release · {c}") for i, c in enumerate(components)]
    rows.append(("registry.redhat.io/ubi8/ruby-30:latest", f"{MIRROR}/ubi8/ruby-30:latest", "ubi8/ruby-30:latest"))
    progress.set_rows(rows)
    progress.feed(PlanReady(images=len(rows), blobs=64, total_bytes=3 << 30))
    for second, mib in enumerate([40, 55, 80, 120, 118, 96, 130, 140, 125, 135]):
        progress.feed(BlobStarted(f"sha256:{second:064x}", 200 << 20, TARGET))
        for half in (mib // 2 - 5, mib - mib // 2 + 5):  # two half-second samples per second
            clock.now += 0.5
            progress.feed(BlobProgress(f"sha256:{second:064x}", half << 20))
    for source, destination, _ in rows[:3]:
        progress.feed(ImageDone(source, destination, "sha256:" + "ab" * 32, skipped=destination.endswith("cli")))
    progress.feed(LogMessage("warning", "connection reset reading sha256:5e1f…; reading it again"))
    progress.feed(ImageFailed(rows[-1][0], rows[-1][1], "registry.redhat.io: access denied to ubi8/ruby-30"))


COMPONENTS = ["cli", "installer", "etcd", "console", "hyperkube", "machine-config-operator", "must-gather", "tests",
              "tools", "cluster-version-operator", "cluster-samples-operator", "pod"]


def with_logins(state: WizardState) -> None:
    from core.credentials import LoginResult

    state.auth_data = json.loads(Path("pull-secret.json").read_text())  # as loaded when the logins were tested
    state.logins = [LoginResult(MIRROR, "ok", "logged in as admin"),
                    LoginResult("quay.io", "ok", "logged in"),
                    LoginResult("registry.redhat.io", "wrong-credentials",
                                "registry.redhat.io refused the user name or password: download a fresh pull secret")]


def with_release(state: WizardState) -> None:
    from core.release import ReleaseInfo, SizeReport

    art = "quay.io/openshift-release-dev/ocp-v4.0-art-dev"
    state.release_info = ReleaseInfo(
        pull_spec="quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64", digest="sha256:" + "1f" * 32,
        version="4.17.3", architecture="x86_64", metadata={},
        components={name: f"{art}@sha256:{i:064x}" for i, name in enumerate(COMPONENTS)},
        source_repository="quay.io/openshift-release-dev/ocp-release", component_repository=art)
    state.release_size = SizeReport(images=len(COMPONENTS) + 1, blobs=57, total_bytes=17_716_740_096,
                                    present_bytes=4_294_967_296)
    state.versions = ["4.17.5", "4.17.4", "4.17.3", "4.17.2", "4.17.1", "4.17.0"]


def with_ca(state: WizardState) -> None:
    from core.ca import CACheck, CertificateInfo, parse_ca_pem

    certs = parse_ca_pem(CA_PEM.encode(), "ca.crt")
    server = CertificateInfo(subject="CN=mirror.example.com", issuer="CN=Example Mirror CA",
                             fingerprint_sha256="AB:" * 31 + "CD",
                             not_before=datetime(2024, 1, 1, tzinfo=UTC),
                             not_after=datetime(2080, 1, 1, tzinfo=UTC),
                             is_ca=False, san=["mirror.example.com"], self_signed=False)
    state.ca_certs = certs
    state.ca_check = CACheck(registry=MIRROR, ca_certs=certs, server_chain=[server], san_ok=True, verified=True,
                             problems=[])


def with_prepared(state: WizardState) -> None:
    from core.ca import ca_manifests
    from core.copier import CopyResult
    from core.mirror_config import release_mirror_instructions
    from core.progress import Progress
    from core.run import Prepared

    info = state.release_info
    state.prepared = Prepared(plan=state.plan_for_saving(), release=info,
                              instructions=release_mirror_instructions(info, TARGET, None),
                              samples=state.samples_plan(), ca=ca_manifests(MIRROR, CA_PEM))
    state.prepared_key = state.mirror_key = state.plan_key()  # computed, and mirrored, for this very plan
    state.mirror_result = CopyResult(images_total=143, count=Progress(
        images_copied=143, total_blobs=380, blobs_copied=301, blobs_skipped=79, total_bytes=17_716_740_096,
        bytes_moved=13_421_772_800))


def with_verified(state: WizardState) -> None:
    """The Verify step after a mirror with one stream tag missing and a cluster still rolling out."""
    from core.verify import Check as VerifyCheck
    from core.verify import Side, Status

    mirror, cluster, ok, bad, skip = Side.MIRROR, Side.CLUSTER, Status.PASS, Status.FAIL, Status.SKIP
    state.verify_checks = [
        VerifyCheck("release-images", "release images on the mirror", mirror, ok,
                    "all 14 images of 4.17.3 (13 components + 1 release image; from the source) are on the mirror by "
                    "digest, through the plan's "
                    "mirror sets"),
        VerifyCheck("release-tag", "release tag on the mirror", mirror, ok,
                    f"{TARGET}:4.17.3-x86_64 resolves to sha256:{'1f' * 32}"),
        VerifyCheck("samples-images", "samples images on samplesRegistry", mirror, bad,
                    f"1 of 52 images are missing or wrong on {MIRROR}", fix="mirror-wizard run mirror-plan.yaml",
                    items=[f"ruby: {MIRROR}/ubi9/ruby-33:latest is missing"]),
        VerifyCheck("samples-skipped", "streams left out are skipped", mirror, ok,
                    "31 mirrored, 2 in skippedImagestreams (the plan)"),
        VerifyCheck("mirror-certificate", "mirror certificate", mirror, ok,
                    f"{MIRROR}: the certificate verifies with ca.crt and its SAN names the host"),
        VerifyCheck("release-signatures", "release signatures", mirror, skip,
                    "not checked: the plan does not include release signatures"),
        VerifyCheck("cluster-access", "cluster access", cluster, ok,
                    "logged in as kube:admin to https://api.lab.example.com:6443, OpenShift 4.17.3"),
        VerifyCheck("machine-config-pools", "machine config pools", cluster, bad,
                    "1 of 2 pools have not finished rolling out",
                    fix="oc get machineconfigpools -w  # wait until UPDATED is True everywhere, then run verify again",
                    items=["worker: still rolling out (1/3 updated)"]),
        VerifyCheck("node-pull-source", "pulls come from the mirror (on a node)", cluster, skip,
                    f"run by hand: CRI-O logs \"Trying to access\" with the location it pulled from; expect {MIRROR}",
                    fix="oc debug node/worker-0.lab.example.com -- chroot /host journalctl -u crio --since=-2h "
                        f"| grep 'Trying to access' | grep -F {MIRROR}"),
    ]
    state.verify_key = state.plan_key()
    state.verify_cluster_applies = 0


STEPS = ["preflight", "credentials", "release", "samples", "ca", "review", "mirror", "done", "verify"]


def app_at(step: str, **kwargs) -> MirrorWizardApp:
    state = fixed_state()
    clock = FixedClock()
    if step in ("credentials",):
        with_logins(state)
    if step in ("release", "review", "done", "verify"):
        with_release(state)
    if step in ("ca", "review", "done", "verify"):
        with_ca(state)
    if step in ("done", "verify"):
        with_prepared(state)
    if step == "verify":
        with_verified(state)
    if step in ("mirror",):
        mid_copy(state, clock)
    for key in STEPS:
        if key == step:
            break
        state.visited.add(key)
    return MirrorWizardApp(state, start=step, auto_check=False, clock=clock, **kwargs)




@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("step", STEPS)
def test_step(snap_compare, workdir: Path, step: str, size: tuple[int, int]) -> None:
    assert snap_compare(app_at(step), terminal_size=size)


def test_help_panel_open_at_80_columns(snap_compare, workdir: Path) -> None:
    assert snap_compare(app_at("samples"), terminal_size=(80, 24), press=["f1"])


def test_cancel_confirmation(snap_compare, workdir: Path) -> None:
    async def open_confirm(pilot) -> None:  # type: ignore[no-untyped-def]
        app = pilot.app
        app.mirror_worker = _Running()
        app.confirm_cancel_mirror()

    assert snap_compare(app_at("mirror"), terminal_size=(80, 24), run_before=open_confirm)


class _Running:
    """Stands in for the copy worker so the confirmation opens without a registry."""

    is_running = True
