"""The runbook: the procedure's order, the plan's real files in every command, nothing claimed that
oc does not do, and ``mirror-wizard runbook`` errors as one line.

Built from real parts: the shared fixture image streams, a CA made by the tests, mirror instructions
as core.mirror_config makes them.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from core.mirror_config import MirrorInstructions
from core.plan import plan_from_dict
from core.run import prepare_ca, prepare_samples
from core.runbook import RunbookParts, render_runbook
from tui.cli import main

FIXTURES = Path("/work/shared/fixtures/imagestreams")
MIRROR = "mirror.example.com:8443"
TARGET = f"{MIRROR}/ocp4/openshift4"
SOURCE = "quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64"


def _plan(pki, mode: str = "registry", **release: str):
    data = {
        "auth_file": "/home/admin/pull-secret.json",
        "mirror": {"registry": MIRROR, "ca_file": str(pki.ca_file)},
        "release": {"source": SOURCE, "mode": mode, "target": TARGET, "version": "4.17.3", **release},
        "samples": {"paths": [str(FIXTURES / "ruby-rhel.json"), str(FIXTURES / "jenkins-rhel.json")]},
    }
    return plan_from_dict(data)


def _render(plan) -> str:
    samples, _ = prepare_samples(plan)
    instructions = MirrorInstructions([("quay.io/openshift-release-dev/ocp-release", TARGET),
                                       ("quay.io/openshift-release-dev/ocp-v4.0-art-dev", TARGET)])
    parts = RunbookParts(release_version="4.17.3", release_architecture="x86_64", release_components=3,
                         instructions=instructions, samples=samples, ca=prepare_ca(plan), plan_file="plan.yaml")
    return render_runbook(plan, parts)


def _position(text: str, needle: str) -> int:
    assert needle in text, needle
    return text.index(needle)


def test_sections_follow_the_procedure(pki) -> None:
    text = _render(_plan(pki))
    headings = re.findall(r"^## \d+\. (.*)$", text, flags=re.M)
    assert headings == [
        "The mirror host and its registry", "Credentials", "Release images", "Samples images",
        "Install the cluster, or update a running one",
        "On the running cluster: trust the mirror registry's CA",
        "On the running cluster: the Cluster Samples Operator", "Verify: the mirror and the cluster are ready"]
    # The samples registry must be trusted before the operator is pointed at it.
    configmap = _position(text, "oc create configmap registry-config")
    image_patch = _position(text, "oc patch image.config.openshift.io/cluster")
    samples_patch = _position(text, "oc patch configs.samples.operator.openshift.io/cluster")
    assert configmap < image_patch < samples_patch
    assert _position(text, "mirror-wizard release mirror") < _position(text, "imageDigestSources:") < configmap


def test_the_runbook_ends_with_verify_and_the_manual_checks(pki) -> None:
    text = _render(_plan(pki))
    last = text[_position(text, "## 8. Verify"):]
    assert "## " not in last[3:]  # the last section
    # The one command first, with the plan the runbook was written for, then the same by hand.
    verify = _position(last, "mirror-wizard verify plan.yaml --cluster")
    assert verify < _position(last, "oc get machineconfigpool") < _position(last, "oc get is -n openshift")
    # What a healthy samples operator looks like, in its own condition names.
    for words in ("managementState: Managed", f"samplesRegistry: {MIRROR}", "ConfigurationValid", "SamplesExist",
                  "ImportImageErrorsExist", "oc get clusteroperator openshift-samples"):
        assert words in last, words
    # On a node: CRI-O's own log line, filtered to the mirror, as the text's last command.
    node = ("oc debug node/<node> -- chroot /host journalctl -u crio --since=-2h | grep 'Trying to access' "
            f"| grep -F {MIRROR}")
    assert text.rstrip().endswith(f"{node}\n```")


def test_commands_use_the_plans_files(pki) -> None:
    text = _render(_plan(pki))
    ca = str(pki.ca_file)
    assert f"oc create configmap registry-config --from-file=mirror.example.com..8443={ca} -n openshift-config" in text
    mirror_line = next(line for line in text.splitlines() if line.startswith("mirror-wizard release mirror"))
    extract_line = next(line for line in text.splitlines() if line.startswith("mirror-wizard release extract"))
    for line in (mirror_line, extract_line):
        assert f"--ca-file {ca}" in line and "-a /home/admin/pull-secret.json" in line
    assert f"mirror-wizard image mirror -a /home/admin/pull-secret.json --ca-file {ca} -f samples-mapping.txt" in text


def test_install_config_carries_the_ca_as_additional_trust_bundle(pki) -> None:
    text = _render(_plan(pki))
    block = text.split("```yaml\n")[1].split("```")[0]
    assert block.startswith("pullSecret:")
    install = yaml.safe_load(block)
    assert install["additionalTrustBundle"] == pki.ca_file.read_text()
    assert install["imageDigestSources"][0]["mirrors"] == [TARGET]
    assert "imageContentSources" not in install and "ImageContentSourcePolicy" not in text  # 4.17: never both


def test_removable_media_names_our_tools_not_ocs_directory_reader(pki) -> None:
    text = _render(_plan(pki, "to-dir", directory="/media/usb"))
    assert "--from-dir /media/usb --to " + TARGET in text
    assert "oc image mirror -a" not in text and "oc image mirror --from-dir" not in text.replace(
        "`oc image mirror --from-dir` are a separate route", "")
    assert 'skopeo copy --all --preserve-digests --dest-authfile /home/admin/pull-secret.json \\\n' \
           '    "oci:${MEDIA}:openshift/release:4.17.3-x86_64" docker://' + TARGET + ":4.17.3-x86_64" in text
    # the samples travel in the same layout, named by their source reference
    ruby = "registry.redhat.io/ubi9/ruby-33:latest"
    assert f"oci:/media/usb:{ruby} docker://{MIRROR}/ubi9/ruby-33:latest" in text
    assert f"docker://{ruby} oci:/media/usb:{ruby}" in text
    assert "mirror-wizard run plan.yaml" in text


def test_every_samples_path_of_the_plan_is_read(pki) -> None:
    text = _render(_plan(pki))  # ruby from the first path, jenkins from the second
    assert "2 image streams mirrored" in text
    assert (f"registry.redhat.io/ocp-tools-4/jenkins-rhel8:v4.13.0={MIRROR}/ocp-tools-4/jenkins-rhel8:v4.13.0\n"
            in text)
    assert f"registry.redhat.io/ubi9/ruby-33:latest={MIRROR}/ubi9/ruby-33:latest\n" in text


def test_runbook_command_output_errors_are_one_line(pki, tmp_path: Path, capsys) -> None:
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(yaml.safe_dump({"mirror": {"registry": MIRROR, "ca_file": str(pki.ca_file)},
                                         "samples": {"paths": [str(FIXTURES)]}}))
    blocker = tmp_path / "a-file"  # a folder that cannot exist (the tests may run as root)
    blocker.write_text("")
    code = main(["runbook", str(plan_file), "--offline", "-o", str(blocker / "dir" / "runbook.md")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert err == f"error: cannot write {blocker}/dir/runbook.md: Not a directory; choose a folder you can write to\n"

    out = tmp_path / "docs" / "runbook.md"
    assert main(["runbook", str(plan_file), "--offline", "-o", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# Mirroring runbook") and f"--from-file=mirror.example.com..8443={pki.ca_file}" in text
    assert not list(out.parent.glob(".runbook.md.*"))


def test_a_missing_samples_path_names_the_plan_key(pki, tmp_path: Path, capsys) -> None:
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(yaml.safe_dump({"mirror": {"registry": MIRROR},
                                         "samples": {"paths": [str(FIXTURES), str(tmp_path / "jenkins")]}}))
    code = main(["runbook", str(plan_file), "--offline"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: plan samples.paths: ") and str(tmp_path / "jenkins") in err


def test_an_update_path_ends_with_starting_the_update_by_digest(pki) -> None:
    """Issue 26: update mode ends with how to start the update, after the signature ConfigMaps. Walk W3:
    one hop at a time in path order, each by digest (4.17.1→4.17.3 may be only a conditional edge, and
    --allow-explicit-upgrade skips the graph check), never a single jump to the last release."""
    plan = _plan(pki, from_version="4.17.1", channel="stable-4.17", source="")
    digests = {v: "sha256:" + c * 64 for v, c in (("4.17.1", "a"), ("4.17.2", "b"), ("4.17.3", "c"))}
    instructions = MirrorInstructions([("quay.io/openshift-release-dev/ocp-release", TARGET)],
                                      release_image=f"{TARGET}:4.17.3-x86_64", version="4.17.3")
    parts = RunbookParts(release_version="4.17.3", release_digest=digests["4.17.3"], instructions=instructions,
                         release_versions=list(digests), release_path=list(digests.items()), plan_file="plan.yaml")
    text = render_runbook(plan, parts)
    commands = [line for line in text.splitlines() if line.startswith("oc adm upgrade --allow-explicit-upgrade")]
    assert commands == [f"oc adm upgrade --allow-explicit-upgrade --to-image={TARGET}@{digests[v]}"
                        for v in ("4.17.2", "4.17.3")]
    assert text.index("Update to 4.17.2") < text.index("Update to 4.17.3")
    assert "wait until VERSION is 4.17.2" in text and "oc get clusterversion" in text
    assert "oc adm upgrade" not in _render(_plan(pki))  # an install is not an update


def test_the_login_is_kept_in_the_keyring_only_when_asked(pki) -> None:
    text = _render(_plan(pki))
    command = next(line for line in text.splitlines() if "--password-stdin" in line)
    assert "--remember -o" not in command and "# --remember" in command


# -- updates inside the cluster (issue 24) and --skip-missing ---------------------------------------------

GRAPH_IMAGE = f"{MIRROR}/openshift/graph-image:latest"


def _code_blocks(section: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", section, flags=re.S)


def test_the_update_service_is_described_when_the_plan_keeps_a_graph_image(pki) -> None:
    from core.graph_image import update_service

    plan = _plan(pki, graph_image=GRAPH_IMAGE, to_release_image=f"{MIRROR}/ocp4/release-images:4.17.3-x86_64")
    samples, _ = prepare_samples(plan)
    pinned = f"{MIRROR}/openshift/graph-image@sha256:" + "ab" * 32
    parts = RunbookParts(release_version="4.17.3", samples=samples, ca=prepare_ca(plan), plan_file="plan.yaml",
                         graph_image_pinned=pinned)
    text = render_runbook(plan, parts)
    section = text[_position(text, "## 9. On the running cluster: updates inside the cluster"):]
    # the operator first, from the mirrored operator catalog
    assert "OpenShift Update Service" in section and "operator catalog" in section
    assert _position(section, "operator catalog") < _position(section, "kind: UpdateService")
    documents = [yaml.safe_load(block) for block in _code_blocks(section, "yaml")]
    # the CA merged under both keys (host..port for pulls, updateservice-registry for the operator)
    merge = next(d for d in documents if "data" in d)
    assert set(merge["data"]) == {"mirror.example.com..8443", "updateservice-registry"}
    assert "--type=merge" in section and "--patch-file=registry-ca-merge-patch.yaml" in section
    # the UpdateService: core.graph_image's one generator, the release images' own repository, by digest
    service = next(d for d in documents if d.get("kind") == "UpdateService")
    assert service == update_service(f"{MIRROR}/ocp4/release-images", pinned)
    assert service["metadata"]["namespace"] == "openshift-update-service"
    # then spec.upstream to the service's route
    assert "oc patch clusterversion/version --type=merge" in section and "/api/upgrades_info/v1/graph" in section
    assert "policyEngineURI" in section and "6 to 9 need the" in text
    # without a graph image: no such section
    assert "## 9." not in _render(_plan(pki)) and "6 to 8 need the" in _render(_plan(pki))


def test_the_update_service_section_says_the_digest_is_not_known_yet(pki) -> None:
    plan = _plan(pki, graph_image=GRAPH_IMAGE)
    text = render_runbook(plan, RunbookParts(ca=prepare_ca(plan), plan_file="plan.yaml"))
    service = next(d for d in (yaml.safe_load(b) for b in _code_blocks(text, "yaml"))
                   if isinstance(d, dict) and d.get("kind") == "UpdateService")
    assert service["spec"]["graphDataImage"] == GRAPH_IMAGE and "until the mirror holds the image" in text
    assert service["spec"]["releases"] == TARGET  # no repository of their own: the release target


def test_skip_missing_reaches_every_printed_oc_image_mirror(pki) -> None:
    from core.usecases.documents import oc_samples_mirror
    from core.usecases.samples import plan_streams

    plan = _plan(pki)
    streams = prepare_samples(plan)[0]
    assert streams is not None
    assert not any("--skip-missing" in line for line in _render(plan).splitlines() if "image mirror" in line)
    plan.options.skip_missing = True
    from core.samples import load_streams_from

    loaded = load_streams_from([Path(p) for p in plan.samples.paths])  # type: ignore[union-attr]
    command = plan_streams(plan, loaded).commands[0]
    assert command.startswith("oc image mirror") and command.endswith(" --skip-missing")
    assert oc_samples_mirror("pull-secret.json", skip_missing=True).endswith(" --skip-missing")
    assert "--skip-missing" not in oc_samples_mirror("pull-secret.json")
    text = _render(plan)
    mirrors = [line for line in text.splitlines() if "image mirror -a" in line]
    assert mirrors and all("--skip-missing" in line for line in mirrors), mirrors
