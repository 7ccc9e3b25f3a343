"""Every job has one home (issue 23): the copies that drifted apart now call one implementation.

Each test here failed before its fix: the samples mapping file the wizard names vs the one the run
writes, the auth file a plan's run and the wizard log in with, the mirror-set matcher, and the release
image's tag for an untagged ``to_release_image``.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.plan import plan_from_dict
from core.run import Prepared, write_outputs
from core.samples import SampleStream, SampleTag, plan_samples
from tui.state import WizardState

MIRROR = "mirror.example.com:8443"


def _streams() -> list[SampleStream]:
    return [SampleStream("ruby", [SampleTag("3.3", "registry.redhat.io/ubi9/ruby-33:latest")], "ruby.json")]


# -- the samples mapping file ---------------------------------------------------------------------------

def _mapping_files(commands: list[str]) -> set[str]:
    """The files named after ``-f`` or ``--mapping-out`` in these commands."""
    names: set[str] = set()
    for command in commands:
        words = command.replace("\\\n", " ").split()
        for flag, value in zip(words, words[1:], strict=False):
            if flag in ("-f", "--mapping-out"):
                names.add(value)
    return names


def test_the_samples_mapping_the_commands_name_is_the_file_the_run_writes(tmp_path: Path) -> None:
    plan = plan_from_dict({"mirror": {"registry": MIRROR}, "samples": {"paths": ["ruby.json"]},
                           "output_dir": str(tmp_path)})
    samples = plan_samples(_streams(), MIRROR)
    written = {p.name for p in write_outputs(Prepared(plan=plan, samples=samples))}
    named = _mapping_files(samples.commands)
    assert named and named <= written, (named, written)


def test_the_samples_step_names_the_mapping_file_the_run_writes(tmp_path: Path) -> None:
    from tui.screens.samples import SamplesScreen

    plan = plan_from_dict({"mirror": {"registry": MIRROR}, "samples": {"paths": ["ruby.json"]},
                           "output_dir": str(tmp_path)})
    state = WizardState(plan=plan, plan_path=tmp_path / "plan.yaml")
    state.streams = _streams()
    samples = state.samples_plan()
    assert samples is not None
    written = {p.name for p in write_outputs(Prepared(plan=plan, samples=samples))}
    # The step's help, read without mounting it: it only needs the state.
    screen = SimpleNamespace(state=state, release_spec=lambda: "quay.io/x/release:1")
    commands = SamplesScreen.help_commands(screen)  # type: ignore[arg-type]
    named = _mapping_files(commands)
    assert named and named <= written, (named, written)


# -- one auth-file resolution ---------------------------------------------------------------------------

def test_a_plan_without_an_auth_file_logs_in_the_same_way_in_the_run_and_the_wizard(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.access import open_session
    from core.authfile import encode_auth
    from tui.access import wizard_auth, wizard_session

    found = tmp_path / "auth.json"
    found.write_text(json.dumps({"auths": {"quay.io": {"auth": encode_auth("admin", "secret")}}}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(found))  # the first default location podman and oc read
    plan = plan_from_dict({"mirror": {"registry": MIRROR}})
    assert plan.auth_file is None
    state = WizardState(plan=plan, plan_path=tmp_path / "plan.yaml")
    headless = open_session(plan).auth   # what `mirror-wizard run plan.yaml` logs in with
    wizard = wizard_auth(state)          # what the wizard logs in with, no login typed
    assert headless.registries() == wizard.registries() == ["quay.io"]
    assert wizard_session(state).auth.lookup("quay.io") == headless.lookup("quay.io")


# -- one mirror-set matcher -----------------------------------------------------------------------------

# A broad set for the whole organisation and a narrower one for one repository: CRI-O uses the narrower.
SETS = [("quay.io/openshift-release-dev", "broad.example.com/all"),
        ("quay.io/openshift-release-dev/ocp-release", "narrow.example.com/release")]


def test_the_plan_reaches_a_source_where_the_copy_and_cri_o_read_it() -> None:
    from core.mirror_sets import crio_pull_specs, resolve_through_mirrors
    from core.reference import parse_reference
    from core.verify import crio_rewrite

    ref = parse_reference("quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64")
    assert str(resolve_through_mirrors(ref, SETS)) == "narrow.example.com/release:4.17.3-x86_64"
    digest = "@sha256:" + "0" * 64
    assert crio_rewrite(ref.name + digest, SETS) == crio_pull_specs(ref.name + digest, SETS) \
        == ["narrow.example.com/release" + digest]
    # at a path boundary only: ocp-release-nightly is not under ocp-release
    other = parse_reference("quay.io/openshift-release-dev/ocp-release-nightly:4.18")
    assert str(resolve_through_mirrors(other, SETS)) == "broad.example.com/all/ocp-release-nightly:4.18"


def test_registries_in_use_name_the_host_the_copy_reads_from(tmp_path: Path) -> None:
    from core.access import registries_in_use

    idms = tmp_path / "idms.yaml"
    idms.write_text(json.dumps({"apiVersion": "config.openshift.io/v1", "kind": "ImageDigestMirrorSet",
                                "metadata": {"name": "x"}, "spec": {"imageDigestMirrors": [
                                    {"source": s, "mirrors": [m]} for s, m in SETS]}}))
    plan = plan_from_dict({"mirror": {"registry": MIRROR}, "idms_file": str(idms),
                           "release": {"source": "quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64",
                                       "mode": "registry", "target": f"{MIRROR}/ocp4/openshift4"}})
    source = next(u for u in registries_in_use(plan, []) if u.role == "release source")
    assert (source.host, source.via) == ("narrow.example.com", "narrow.example.com/release")


def test_the_copy_session_resolves_sources_with_the_one_matcher() -> None:
    from core.reference import parse_reference
    from core.registry import RegistrySession

    ref = parse_reference("quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64")
    assert str(RegistrySession(source_mirrors=SETS).resolve_source(ref)) == "narrow.example.com/release:4.17.3-x86_64"


# -- one release-image tag rule -------------------------------------------------------------------------

def test_an_untagged_to_release_image_names_one_image_everywhere(tmp_path: Path) -> None:
    from core.mirror_config import release_mirror_instructions
    from core.release import ReleaseInfo, release_tasks
    from core.runbook import RunbookParts, render_runbook

    untagged = f"{MIRROR}/ocp4/release-images"
    wanted = f"{untagged}:4.17.3-x86_64"
    plan = plan_from_dict({"mirror": {"registry": MIRROR},
                           "release": {"source": "quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64",
                                       "version": "4.17.3", "mode": "registry", "target": f"{MIRROR}/ocp4/openshift4",
                                       "to_release_image": untagged}})
    info = ReleaseInfo(pull_spec="quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64",
                       digest="sha256:" + "1f" * 32, version="4.17.3", architecture="x86_64", metadata={},
                       components={}, source_repository="quay.io/openshift-release-dev/ocp-release",
                       component_repository="quay.io/openshift-release-dev/ocp-v4.0-art-dev")
    copied_to = str(release_tasks(info, f"{MIRROR}/ocp4/openshift4", untagged)[0].destination)
    instructed = release_mirror_instructions(info, f"{MIRROR}/ocp4/openshift4", untagged).release_image
    wizard = WizardState(plan=plan, plan_path=tmp_path / "plan.yaml").to_release_image()
    runbook = render_runbook(plan, RunbookParts())
    assert copied_to == instructed == wizard == wanted
    assert f"--to-release-image {wanted}" in runbook and f"--to-release-image {untagged}\n" not in runbook


def test_verify_reads_the_release_back_where_the_copy_put_it() -> None:
    from core.release_tag import release_image_in_mirror

    # verify's fallback when the source cannot be read (a disconnected mirror host) asks the same rule
    assert release_image_in_mirror(f"{MIRROR}/ocp4/openshift4", "4.17.3", "x86_64", f"{MIRROR}/r") \
        == f"{MIRROR}/r:4.17.3-x86_64"
    assert release_image_in_mirror(f"{MIRROR}/ocp4/openshift4", "4.17.3", "x86_64") \
        == f"{MIRROR}/ocp4/openshift4:4.17.3-x86_64"
    assert release_image_in_mirror("t", "4.17.3", "x86_64", f"{MIRROR}/r:mine") == f"{MIRROR}/r:mine"


# -- the wizard decides on codes, not on message text ---------------------------------------------------

def test_the_wizard_words_an_error_by_its_code_whatever_the_engine_says() -> None:
    from core.errors import ErrorCode, ReleaseError, TLSVerifyError
    from tui.screens.release import path_problem
    from tui.state import error_text

    # reworded engine messages and hints: the wizard's words stay, and no CLI flag reaches the screen
    untrusted = TLSVerifyError("mirror:8443 presents a certificate nobody vouches for", hint="try --ca-file X",
                               registry="mirror:8443", code=ErrorCode.TLS_UNTRUSTED)
    assert error_text(untrusted) == ("mirror:8443 presents a certificate nobody vouches for (give its CA file in "
                                     "the CA step, or put it in /etc/containers/certs.d/HOST:PORT/ca.crt)")
    no_path = ReleaseError("graph says: unreachable version", code=ErrorCode.NO_UPDATE_PATH)
    assert path_problem(no_path, "4.16.3", "4.17.9", "stable-4.17").startswith(
        "4.16.3 → 4.17.9 is not on channel stable-4.17's update graph")
    older = ReleaseError("--to-version is smaller", code=ErrorCode.DOWNGRADE)
    assert "--" not in path_problem(older, "4.17.3", "4.16.1", "stable-4.17")


def test_a_release_without_samples_says_so_by_its_code() -> None:
    import asyncio

    from core.errors import ErrorCode, ReleaseError
    from core.release import ReleaseInfo
    from core.release_samples import samples_from_release

    info = ReleaseInfo(pull_spec="q/r:1", digest="sha256:" + "1f" * 32, version="4.17.3", architecture="x86_64",
                       metadata={}, components={}, source_repository="q/r", component_repository="q/c")
    with pytest.raises(ReleaseError) as raised:
        asyncio.run(samples_from_release(None, info))  # type: ignore[arg-type]
    assert raised.value.code == ErrorCode.RELEASE_WITHOUT_SAMPLES


def test_no_screen_matches_engine_message_text() -> None:
    """Nowhere in tui/ (screens, widgets, the wording, the commands): a text's words are never the test."""
    import re

    tui = Path(__file__).resolve().parent.parent / "tui"
    pattern = re.compile(r"(message|detail|hint)\.(startswith|endswith)\("        # exc.message.startswith(
                         r"|[\"'][^\"']*[\"']\s+(not\s+)?in\s+[\w.()\[\]]*\.(message|detail|hint)\b"  # "x" in exc.message
                         r"|\.message\s+for\s+why"
                         r"|re\.compile\(r?[\"'][^\"']*(--|auth file)")                # regexes over engine hints
    found = [f"{p.relative_to(tui)}: {line.strip()}" for p in sorted(tui.rglob("*.py"))
             for line in p.read_text().splitlines() if pattern.search(line)]
    assert not found, found


def test_the_verify_step_decides_on_the_oc_missing_code_not_on_its_words() -> None:
    from core.errors import ErrorCode
    from core.verify import Check, Side, Status
    from tui.screens.verify import wizard_advice

    reworded = Check("cluster-access", "cluster access", Side.CLUSTER, Status.SKIP,
                     "the cluster could not be looked at (no OpenShift CLI here)", code=ErrorCode.OC_MISSING)
    assert wizard_advice(reworded, oc_found=True).startswith("Get the OpenShift CLI (oc)")
    # the same words without the code: oc is there and the check says why it could not log in
    other = Check("cluster-access", "cluster access", Side.CLUSTER, Status.SKIP, "cluster not checked: oc is not on PATH")
    assert wizard_advice(other, oc_found=True).startswith("Log in to the cluster")


def test_a_refused_login_is_worded_by_its_code_whatever_its_message() -> None:
    from core.credentials import LoginResult, LoginState
    from core.errors import ErrorCode
    from tui.wording import login_message

    result = LoginResult("mirror:5000", LoginState.WRONG_CREDENTIALS, "mirror:5000 says no (see --authfile)",
                         code=ErrorCode.LOGIN_REFUSED, reason="mirror:5000 says no")
    assert login_message(result, typed_user=None, reach=None) == (
        "mirror:5000 says no (the login saved in the pull secret is refused: type the user name and password again)")


def test_an_unreachable_login_is_worded_from_what_the_quick_look_found_not_from_its_message() -> None:
    from core.credentials import LoginResult, LoginState
    from tui.wording import for_wizard

    # a source behind a mirror set: the host dialled is the mirror's, whatever the message says
    result = LoginResult("quay.io", LoginState.UNREACHABLE, "no way through", host="mirror.invalid:8443",
                         reach="unresolvable")
    worded = for_wizard(result, typed_user=None, reach=None).message
    assert worded == "the name mirror.invalid does not resolve: check its spelling, or this machine's DNS"
    refused = LoginResult("mirror:5000", LoginState.UNREACHABLE, "reworded", host="mirror:5000", reach="refused")
    assert for_wizard(refused, typed_user=None, reach=None).message.startswith("nothing answers at mirror:5000")


def test_the_release_step_and_the_mirror_step_name_the_same_release_image(tmp_path: Path) -> None:
    """Both steps' equivalent oc commands come from core.usecases.documents: with the plan's own
    to_release_image, neither shows the default tag rule instead."""
    from tui.screens.mirror import MirrorScreen
    from tui.screens.release import ReleaseScreen

    plan = plan_from_dict({"mirror": {"registry": MIRROR},
                           "release": {"source": "quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64",
                                       "version": "4.17.3", "mode": "registry", "target": f"{MIRROR}/ocp4/openshift4",
                                       "to_release_image": f"{MIRROR}/ocp4/release-images"}})
    state = WizardState(plan=plan, plan_path=tmp_path / "plan.yaml")
    wanted = f"--to-release-image={MIRROR}/ocp4/release-images:4.17.3-x86_64"
    for screen_class in (MirrorScreen, ReleaseScreen):
        screen = SimpleNamespace(state=state, path_commands=lambda: [])
        commands = "\n".join(screen_class.help_commands(screen))  # type: ignore[arg-type]
        assert wanted in commands, (screen_class.__name__, commands)


def test_the_session_holds_the_settings_it_was_built_from(tmp_path: Path) -> None:
    """One settings object per run: open_session builds the session from an Access and the session owns
    it; its bounds, stall timeout, retry policy and TLS setup are that Access's, not copies beside it."""
    import asyncio

    from core.access import Access, open_session
    from core.registry import RetryPolicy

    retry = RetryPolicy(attempts=1)
    access = Access(ca_files=("/nonexistent/ca.crt",), insecure_hosts=("m:5000",), max_per_registry=3,
                    stall_timeout=7.0, auth_hosts=("sso.example.com",), proxy="", retry=retry)
    session = open_session(access)
    assert session.access is access
    assert (session.max_per_registry, session.stall_timeout, session.retry) == (3, 7.0, retry)
    assert session.tls.ca_files == access.ca_files and session.tls.insecure_hosts == access.insecure_hosts
    assert session.tls.auth_hosts == ("sso.example.com",)
    asyncio.run(session.aclose())

    plan = plan_from_dict({"version": 1, "mirror": {"registry": MIRROR},
                           "options": {"stall_timeout": 42, "max_per_registry": 5}})
    from_plan = open_session(plan)
    assert from_plan.access == Access.of_plan(plan)
    assert (from_plan.stall_timeout, from_plan.max_per_registry) == (42.0, 5)
    asyncio.run(from_plan.aclose())
