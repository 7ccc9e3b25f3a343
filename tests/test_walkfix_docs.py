"""Walk fixes for the printed commands of an update path (4.21.1 → 4.21.3 here, the tester's 4.17 walk):
every command the runbooks, README.txt and the wizard's F1 print works when pasted as written — the
bundle's runbook upload and README.txt's run against a real TLS registry, the rest parsed and checked
flag by flag."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from core.plan import MirrorRegistry, Plan, RegistryTrust, ReleaseChoice, ReleaseMode, save_plan
from core.runbook import RunbookParts, render_runbook
from tests.support import skopeo
from tests.support.gpg import needs_gpg
from tests.support.repos import unique_repo
from tests.test_update_path_mirror import (  # noqa: F401 - module fixtures reused
    VERSIONS,
    _cli,
    key,
    key_file,
    path_source,
    store,
)
from tests.test_walkfix_done import _readme_commands

AUTH_PLACEHOLDER = "<path to your merged pull secret>"


def _shell_commands(text: str, start: str) -> list[list[str]]:
    """Every command in the Markdown's code blocks that starts with ``start``, continuation lines joined, as
    argv (what a shell pasting it would run)."""
    joined = text.replace("\\\n", " ")
    return [shlex.split(line, comments=True) for line in joined.splitlines() if line.startswith(start)]


def _section(text: str, number: int) -> str:
    return text[text.index(f"## {number}. "):text.index(f"## {number + 1}. ")]


@needs_gpg
def test_bundle_runbook_and_readme_uploads_work_with_a_release_images_repository(
        path_source, tls_registry, auth_file, pki, tmp_path, capsys, key_file, monkeypatch) -> None:  # noqa: F811
    """1, 2, 5: a path bundle whose plan sends the release images to their own repository: the runbook's
    §3 covers every release and its upload line (repository, no tag; the carried key) uploads all three
    as pasted; README.txt's release mirror line carries the same --to-release-image."""
    source_host, _, built, graph_file = path_source
    target = f"{tls_registry.host}/{unique_repo('docs-path')}"
    images = f"{tls_registry.host}/{unique_repo('docs-release-images')}"
    media = tmp_path / "media"
    plan = Plan(auth_file=str(auth_file), mirror=MirrorRegistry(registry=tls_registry.host, ca_file=str(pki.ca_file)),
                registries=[RegistryTrust(source_host, insecure=True)],
                release=ReleaseChoice(target=target, channel="candidate-4.21", from_version="4.21.1",
                                      version="4.21.3", graph_file=str(graph_file), keys=[key_file],
                                      mode=ReleaseMode.TO_DIR, directory=str(media), to_release_image=images),
                output_dir=str(tmp_path / "near-out"))
    save_plan(plan, tmp_path / "near.yaml")
    code, out, err = _cli(["run", str(tmp_path / "near.yaml"), "--no-wheelhouse"], capsys)
    assert code == 0, out + err
    runbook = (media / "cluster" / "runbook.md").read_text()
    # The runbook's placeholder for the far side's login, filled in as the admin does.
    release = _section(runbook, 3).replace(AUTH_PLACEHOLDER, str(auth_file))
    assert all(v in release for v in VERSIONS), release
    assert "OCP_RELEASE='4.21.3'" not in release and "OCP_RELEASE=4.21.3" not in release
    uploads = [c for c in _shell_commands(release, "mirror-wizard release mirror") if "--from-dir" in c]
    assert len(uploads) == 1, release
    upload = uploads[0]
    assert upload[upload.index("--to-release-image") + 1] == images  # the repository: each release tagged there
    assert "--release-key" in upload and upload[upload.index("--release-key") + 1].startswith("config/release-keys/")
    readme = (media / "README.txt").read_text()
    readme_upload = next(c for c in _readme_commands(readme) if c[:2] == ["release", "mirror"])
    assert readme_upload[readme_upload.index("--to-release-image") + 1] == images
    assert "graph-data" not in readme  # no extras in this plan: release mirror does the whole upload

    monkeypatch.chdir(media)
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    code, out, err = _cli(upload[1:], capsys)  # without the program name
    assert code == 0, f"{upload}: {out}{err}"
    opts = {"authfile": auth_file, "cert_dir": pki.dir}
    for one in built:
        assert skopeo.digest(f"{images}:{one.version}-x86_64", **opts) == one.digest


def _path_plan(mode: ReleaseMode, **release: object) -> Plan:
    return Plan(auth_file="/home/admin/ps.json",
                mirror=MirrorRegistry(registry="mirror.example.com:8443", ca_file="/etc/mirror-ca.pem"),
                release=ReleaseChoice(target="mirror.example.com:8443/ocp4/openshift4", channel="stable-4.17",
                                      from_version="4.17.1", version="4.17.3", graph_file="/data/graph.json",
                                      keys=["/keys/release.asc"], mode=mode, directory="/media/usb",
                                      to_release_image="mirror.example.com:8443/ocp4/release-images",
                                      **release))  # type: ignore[arg-type]


PATH = [("4.17.1", "sha256:" + "1" * 64), ("4.17.2", "sha256:" + "2" * 64), ("4.17.3", "sha256:" + "3" * 64)]


@pytest.mark.parametrize("mode", [ReleaseMode.REGISTRY, ReleaseMode.TO_DIR])
def test_connected_runbook_mirrors_every_release_of_the_path(mode: ReleaseMode) -> None:
    """2: §3 of the connected side's runbook: the whole path (mirror-wizard, with its graph file and key),
    and in registry mode one oc adm release mirror per release, each tagged in the release-images repository."""
    text = _section(render_runbook(_path_plan(mode), RunbookParts(release_path=PATH, release_version="4.17.3")), 3)
    ours = _shell_commands(text, "mirror-wizard release mirror")
    first = ours[0]
    for flag, value in (("--from-version", "4.17.1"), ("--to-version", "4.17.3"), ("--graph-file", "/data/graph.json"),
                        ("--release-key", "/keys/release.asc"), ("--ca-file", "/etc/mirror-ca.pem")):
        assert first[first.index(flag) + 1] == value, first
    if mode == ReleaseMode.REGISTRY:
        assert first[first.index("--to-release-image") + 1] == "mirror.example.com:8443/ocp4/release-images"
        oc = [line for line in text.replace("\\\n#", " ").replace("\\\n", " ").splitlines()
              if line.startswith("# oc: oc adm release mirror")]
        assert len(oc) == 3, text
        for (version, _), line in zip(PATH, oc, strict=True):
            assert f"--from=quay.io/openshift-release-dev/ocp-release:{version}-x86_64" in line
            assert f"--to-release-image=mirror.example.com:8443/ocp4/release-images:{version}-x86_64" in line
    else:
        assert "--to-dir" in first and "--to-release-image" not in first
        upload = ours[1]
        assert upload[upload.index("--to-release-image") + 1] == "mirror.example.com:8443/ocp4/release-images"


def test_the_cli_takes_a_release_images_repository_for_an_update_path(capsys) -> None:
    """The printed registry-mode path command passes --to-release-image REPO (no tag): the CLI must take it
    (a tag still names one image and is refused)."""
    base = ["release", "mirror", "--channel", "c", "--from-version", "4.17.1", "--to-version", "4.17.3",
            "--graph-file", "/nonexistent/graph.json", "--to", "h.example:5000/a/b"]
    code, _, err = _cli([*base, "--to-release-image", "h.example:5000/a/images:4.17.3-x86_64"], capsys)
    assert code != 0 and "names one image" in err
    code, _, err = _cli([*base, "--to-release-image", "h.example:5000/a/images"], capsys)
    assert "names one image" not in err  # (it then fails on the missing graph file, not on the flag)



# -- the Mirror step's F1 ----------------------------------------------------------------------------------

def _mirror_f1(plan: Plan, tmp_path: Path) -> list[str]:
    from types import SimpleNamespace

    from tui.screens.mirror import MirrorScreen
    from tui.state import WizardState

    state = WizardState(plan=plan, plan_path=tmp_path / "plan.yaml")
    return MirrorScreen.help_commands(SimpleNamespace(state=state))  # type: ignore[arg-type]


def _argvs(commands: list[str], start: str) -> list[list[str]]:
    return [shlex.split(line, comments=True) for c in commands for line in c.replace("\\\n", " ").splitlines()
            if line.startswith(start)]


def test_mirror_f1_registry_path_mirrors_each_release_never_an_empty_from(tmp_path: Path) -> None:
    """3: registry mode, an update path: one oc adm release mirror per release, each --from a pull spec
    and its own --to-release-image in the release-images repository; the one-copy command carries the
    plan's graph file and key."""
    commands = _mirror_f1(_path_plan(ReleaseMode.REGISTRY), tmp_path)
    text = "\n".join(commands)
    assert "--from= " not in text and "--from=\n" not in text and not text.rstrip().endswith("--from=")
    oc = _argvs(commands, "oc adm release mirror")
    assert [next(a for a in c if a.startswith("--from=")) for c in oc] == [
        "--from=quay.io/openshift-release-dev/ocp-release:4.17.1-x86_64",
        "--from=quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64"]  # the path not read yet: its two ends
    assert "# … each release in between" in text
    ours = _argvs(commands, "mirror-wizard release mirror")[0]
    assert ours[ours.index("--graph-file") + 1] == "/data/graph.json"
    assert ours[ours.index("--release-key") + 1] == "/keys/release.asc"
    assert ours[ours.index("--to-release-image") + 1] == "mirror.example.com:8443/ocp4/release-images"


def test_mirror_f1_far_side_and_medium_side_carry_the_plans_flags(tmp_path: Path) -> None:
    """4: from the medium, the keys the admin named and the CA; onto the medium, the graph file (offline)
    and the keys; the samples never `oc image mirror -f` to the registry in a medium plan."""
    from core.plan import SamplesChoice

    far = _path_plan(ReleaseMode.FROM_DIR)
    far.release.directory = "."  # type: ignore[union-attr]
    far.samples = SamplesChoice(source="files", paths=["/data/streams.json"])
    commands = _mirror_f1(far, tmp_path)
    upload = _argvs(commands, "mirror-wizard release mirror")[0]
    assert upload[upload.index("--release-key") + 1] == "/keys/release.asc"
    assert upload[upload.index("--ca-file") + 1] == "/etc/mirror-ca.pem"
    assert upload[upload.index("--from-dir") + 1] == "."
    assert upload[upload.index("--to-release-image") + 1] == "mirror.example.com:8443/ocp4/release-images"
    assert not _argvs(commands, "oc image mirror")
    near = _path_plan(ReleaseMode.TO_DIR)
    near.samples = SamplesChoice(source="files", paths=["/data/streams.json"])
    commands = _mirror_f1(near, tmp_path)
    to_dir = _argvs(commands, "mirror-wizard release mirror")[0]
    for flag, value in (("--graph-file", "/data/graph.json"), ("--release-key", "/keys/release.asc"),
                        ("--to-dir", "/media/usb"), ("--channel", "stable-4.17")):
        assert to_dir[to_dir.index(flag) + 1] == value, to_dir
    assert not _argvs(commands, "oc image mirror") and "medium" in "\n".join(commands)


def test_mirror_f1_registry_samples_name_the_mapping_the_run_writes(tmp_path: Path) -> None:
    """4: registry mode: the samples copy reads the mapping where the run writes it (the plan's output
    folder), with the plan's CA."""
    from core.plan import SamplesChoice

    plan = _path_plan(ReleaseMode.REGISTRY)
    plan.samples = SamplesChoice(source="files", paths=["/data/streams.json"])
    plan.output_dir = str(tmp_path / "mirror-wizard-output")
    commands = _mirror_f1(plan, tmp_path)
    ours = _argvs(commands, "mirror-wizard image mirror")[0]
    assert ours[ours.index("-f") + 1] == str(tmp_path / "mirror-wizard-output" / "samples-mapping.txt")
    assert ours[ours.index("--ca-file") + 1] == "/etc/mirror-ca.pem"


@needs_gpg
def test_mirror_f1_to_dir_command_runs_offline_as_written(path_source, tmp_path, capsys, key_file,  # noqa: F811
                                                          monkeypatch) -> None:
    """4: the near side's printed to-dir command (graph file, key, the source's --insecure) writes the whole
    path to the medium without asking any update service."""
    source_host, _, built, graph_file = path_source
    media = tmp_path / "media"
    plan = Plan(auth_file=None, mirror=MirrorRegistry(registry="mirror.example.com:8443"),
                registries=[RegistryTrust(source_host, insecure=True)],
                release=ReleaseChoice(target="mirror.example.com:8443/ocp4/openshift4", channel="candidate-4.21",
                                      from_version="4.21.1", version="4.21.3", graph_file=str(graph_file),
                                      keys=[key_file], mode=ReleaseMode.TO_DIR, directory=str(media)))
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # nothing answers there: offline but for the source
    monkeypatch.setenv("NO_PROXY", source_host.split(":")[0])
    commands = _mirror_f1(plan, tmp_path)
    argv = _argvs(commands, "mirror-wizard release mirror")[0]
    argv = argv[1:]  # without the program name
    at = argv.index("-a")
    del argv[at:at + 2]  # no login: the test source needs none (the printed placeholder is the admin's file)
    code, out, err = _cli([*argv, "--no-wheelhouse"], capsys)
    assert code == 0, f"{argv}: {out}{err}"
    releases = json.loads((media / "bundle.json").read_text())["releases"]
    assert sorted(r["version"] for r in releases) == VERSIONS


def test_readme_says_run_uploads_the_graph_image_and_samples_release_mirror_does_not() -> None:
    """5: with a graph-data image or samples in the plan, README.txt's release mirror line is the releases
    only, and it says `run` is the one that uploads the rest; its --to-release-image is the plan's."""
    from core.bundle_write import FarSide, far_side_steps
    from core.plan import SamplesChoice

    plan = _path_plan(ReleaseMode.FROM_DIR)
    plan.release.graph_image = "mirror.example.com:8443/ocp4/graph-data:latest"  # type: ignore[union-attr]
    plan.samples = SamplesChoice(source="files", paths=["samples/00-streams.json"])
    far = FarSide(target=plan.release_target, versions=["4.17.1", "4.17.2", "4.17.3"], plan=plan,
                  keys=["config/release-keys/00-release.asc"])
    text = "\n".join(far_side_steps(far))
    upload = next(shlex.split(line) for line in text.splitlines() if " release mirror " in line)
    assert upload[upload.index("--to-release-image") + 1] == "mirror.example.com:8443/ocp4/release-images"
    assert upload[upload.index("--release-key") + 1] == "config/release-keys/00-release.asc"
    flat = " ".join(text.split())
    assert "the graph-data image" in flat and "the samples images" in flat
    assert "upload all of it with the plan (`run`" in flat and "Or the releases only (not the graph-data image" in flat
    assert flat.index(" run plan.yaml ") < flat.index(" release mirror ")  # the recommended one first
