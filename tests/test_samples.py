"""Samples image streams: loading the real operator streams and the config map, the samplesRegistry
rule, the plan (mapping, Config, commands) and the ``samples`` commands."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml

from core.errors import ImageStreamError, InputError, ToolError
from core.samples import (
    SamplesPlan,
    load_configmap,
    load_from_cluster,
    load_imagestreams,
    load_streams,
    load_streams_from,
    mirror_pull_spec,
    plan_samples,
    split_configmap_key,
)
from core.yamlout import dump_yaml
from tui.cli import main

FIXTURES = Path("/work/shared/fixtures/imagestreams")
PAYLOAD_STREAMS = Path("/work/shared/fixtures/release/cluster-samples-operator-manifests/08-openshift-imagestreams.yaml")
MIRROR = "mirror.example.com:8443"


def _stream(name: str, tags: dict[str, tuple[str, str]], **metadata) -> dict:
    """A hand-made ImageStream; tags: name -> (kind, from.name)."""
    return {"kind": "ImageStream", "apiVersion": "image.openshift.io/v1",
            "metadata": {"name": name, **metadata},
            "spec": {"tags": [{"name": t, "from": {"kind": k, "name": n}} for t, (k, n) in tags.items()]}}


def _write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, indent=2))
    return path


def _configmap_from_fixtures() -> dict:
    """The imagestreamtag-to-image config map the operator would build from the fixture streams:
    one <stream>_<tag> key per tag (references resolved), jenkins* streams left out."""
    data = {}
    for stream in load_imagestreams([FIXTURES]):
        if stream.name.startswith("jenkins"):
            continue
        for tag in stream.tags:
            data[f"{stream.name}_{tag.name}"] = tag.pull_spec
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "imagestreamtag-to-image", "namespace": "openshift-cluster-samples-operator"},
            "data": data}


# -- loading the real streams -------------------------------------------------------------------------

def test_loads_every_real_stream_with_references_resolved() -> None:
    streams = load_imagestreams([FIXTURES])
    names = [s.name for s in streams]
    assert len(streams) == 27 and names == sorted(names)
    by_name = {s.name: s for s in streams}
    ruby = by_name["ruby"]
    assert len(ruby.tags) == 6 and ruby.source == str(FIXTURES / "ruby-rhel.json")
    latest = next(t for t in ruby.tags if t.name == "latest")
    assert latest.reference_to == "3.3-ubi9"
    assert latest.pull_spec == "registry.redhat.io/ubi9/ruby-33:latest"
    assert not any(s.problems for s in streams)
    # the shipped streams pull from both Red Hat hosts
    assert by_name["dotnet"].registries == ["registry.access.redhat.com"]
    assert by_name["ruby"].registries == ["registry.redhat.io"]
    # a tagless spec and the same spec with :latest are one image
    assert by_name["jboss-eap74-openjdk11-openshift"].pull_specs == [
        "registry.redhat.io/jboss-eap-7/eap74-openjdk11-openshift-rhel8:latest"]
    # jenkins: two tags reference tag "2"
    jenkins = by_name["jenkins"]
    assert {t.name: t.pull_spec for t in jenkins.tags if t.reference_to} == {
        "latest": "registry.redhat.io/ocp-tools-4/jenkins-rhel8:v4.13.0-1686682222",
        "ocp-upgrade-redeploy": "registry.redhat.io/ocp-tools-4/jenkins-rhel8:v4.13.0-1686682222",
    }


def test_single_file_list_and_multi_document_yaml(tmp_path: Path) -> None:
    one = load_imagestreams([FIXTURES / "ruby-rhel.json"])
    assert [s.name for s in one] == ["ruby"]
    as_list = {"kind": "List", "apiVersion": "v1", "items": [
        json.loads((FIXTURES / "ruby-rhel.json").read_text()),
        json.loads((FIXTURES / "perl-rhel.json").read_text()),
    ]}
    listed = load_imagestreams([_write_json(tmp_path / "is.json", as_list)])
    assert [s.name for s in listed] == ["perl", "ruby"]
    assert listed[1].pull_specs == one[0].pull_specs
    multi = tmp_path / "streams.yaml"
    multi.write_text(dump_yaml(_stream("a", {"1": ("DockerImage", "registry.redhat.io/x/a:1")})) + "---\n"
                     + dump_yaml(as_list))
    assert [s.name for s in load_imagestreams([multi])] == ["a", "perl", "ruby"]


def test_payload_streams_are_not_samples() -> None:
    with pytest.raises(ImageStreamError, match="cluster version operator.*|only release-payload") as err:
        load_imagestreams([PAYLOAD_STREAMS])
    assert "must-gather" in str(err.value)


@pytest.mark.parametrize(("content", "match"), [
    ("{not json", r"is not valid JSON: .* at line 1 column 2"),
    ('{"kind": "Deployment", "metadata": {"name": "x"}}', r"expected kind ImageStream or List, got 'Deployment'"),
    ('{"metadata": {"name": "x"}}', r"has no 'kind'"),
    ('{"kind": "ImageStream", "spec": {"tags": []}}', r"no metadata.name"),
    ('{"kind": "List", "items": 3}', r"no 'items' list"),
    ('{"kind": "ImageStream", "metadata": {"name": "x"}, "spec": {"tags": [{"from": {}}]}}', r"spec.tags\[0\] has no name"),
    ("[1, 2]", r"expected a Kubernetes object"),
    ("", r"is empty"),
    ('{"kind": "ImageStream", "metadata": {"name": "x"}, "spec": [1]}', r"spec of image stream 'x' is not a mapping"),
    ('{"kind": "ImageStream", "metadata": {"name": "x"}, "spec": {"tags": [{"name": "t", "from": '
     '{"kind": "DockerImage", "name": " "}}]}}', r"image stream 'x' tag 't': from.name is empty"),
])
def test_bad_stream_files(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ImageStreamError, match=match):
        load_imagestreams([path])


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("kind: ImageStream\nmetadata:\n  name: [unclosed\n")
    with pytest.raises(ImageStreamError, match=r"bad.yaml is not valid JSON or YAML: .* line \d+ column \d+"):
        load_imagestreams([path])


def test_missing_paths_duplicates_and_configmaps(tmp_path: Path) -> None:
    with pytest.raises(ImageStreamError, match="does not exist"):
        load_imagestreams([tmp_path / "nope"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageStreamError, match="holds no .json, .yaml or .yml files"):
        load_imagestreams([tmp_path / "empty"])
    with pytest.raises(ImageStreamError, match="'ruby' is defined twice"):
        load_imagestreams([FIXTURES / "ruby-rhel.json", FIXTURES])
    cm = _write_json(tmp_path / "cm.json", _configmap_from_fixtures())
    with pytest.raises(ImageStreamError, match="is a ConfigMap"):
        load_imagestreams([cm])
    with pytest.raises(ImageStreamError, match="expected the imagestreamtag-to-image ConfigMap, got kind 'ImageStream'"):
        load_configmap(FIXTURES / "ruby-rhel.json")


def test_reference_chains_cycles_and_dangling(tmp_path: Path) -> None:
    path = _write_json(tmp_path / "refs.json", _stream("app", {
        "base": ("DockerImage", "registry.redhat.io/ns/app:1"),
        "mid": ("ImageStreamTag", "base"),
        "top": ("ImageStreamTag", "app:mid"),       # stream:tag naming itself
        "x": ("ImageStreamTag", "y"),
        "y": ("ImageStreamTag", "x"),
        "ghost": ("ImageStreamTag", "9.9"),
        "other": ("ImageStreamTag", "ruby:latest"),
        "pinned": ("ImageStreamImage", "app@sha256:" + "a" * 64),
    }))
    [app] = load_imagestreams([path])
    specs = {t.name: t.pull_spec for t in app.tags}
    assert specs == {"base": "registry.redhat.io/ns/app:1", "mid": "registry.redhat.io/ns/app:1",
                     "top": "registry.redhat.io/ns/app:1", "x": None, "y": None, "ghost": None,
                     "other": None, "pinned": None}
    problems = "\n".join(app.problems)
    assert "app:x is part of a reference cycle (x -> y -> x)" in problems
    assert "app:ghost refers to tag '9.9', which the stream does not have" in problems
    assert "refers to another stream (ruby:latest)" in problems
    assert "ImageStreamImage" in problems
    assert app.pull_specs == ["registry.redhat.io/ns/app:1"]
    plan = plan_samples([app], MIRROR)
    assert plan.mapping == [("registry.redhat.io/ns/app:1", f"{MIRROR}/ns/app:1")]
    assert sum(note.startswith("not mirrored: app:") for note in plan.notes) == 5


# -- the config map -----------------------------------------------------------------------------------

def test_configmap_gives_the_same_streams_without_jenkins(tmp_path: Path) -> None:
    path = tmp_path / "imagestreamtag-to-image.yaml"
    path.write_text(dump_yaml(_configmap_from_fixtures()))
    from_map = load_configmap(path)
    from_files = [s for s in load_imagestreams([FIXTURES]) if not s.name.startswith("jenkins")]
    assert [s.name for s in from_map] == [s.name for s in from_files]
    assert [s.pull_specs for s in from_map] == [s.pull_specs for s in from_files]
    assert all(s.from_configmap and s.source == f"configmap {path}" for s in from_map)
    # auto-detection takes the same file
    assert [s.name for s in load_streams(path)] == [s.name for s in from_map]

    plan = plan_samples(from_map, MIRROR, skip=["jenkins", "jenkins-agent-base"])
    # absent from the map, yet skippable: they go into skippedImagestreams as given
    assert plan.skipped == ["jenkins", "jenkins-agent-base"]
    assert len(plan.mapping) == len({spec for s in from_files for spec in s.pull_specs})
    # ... which the admin can add next to the map
    merged = load_streams_from([path, FIXTURES / "jenkins-rhel.json"])
    plan = plan_samples(merged, MIRROR, include=["jenkins"])
    assert plan.mapping == [
        ("registry.redhat.io/ocp-tools-4/jenkins-rhel8:v4.13.0", f"{MIRROR}/ocp-tools-4/jenkins-rhel8:v4.13.0"),
        ("registry.redhat.io/ocp-tools-4/jenkins-rhel8:v4.13.0-1686682222",
         f"{MIRROR}/ocp-tools-4/jenkins-rhel8:v4.13.0-1686682222"),
    ]
    # the stream still missing (no file given for it) is skipped, and the note names only that one
    assert "jenkins-agent-base" in plan.skipped and "jenkins" not in plan.skipped
    assert [n for n in plan.notes if "jenkins" in n] == [
        "the imagestreamtag-to-image config map leaves out the jenkins streams: jenkins-agent-base goes into "
        "skippedImagestreams; to mirror it, add the jenkins ImageStream files with --imagestreams (repeated)"]


def _configmap_file(tmp_path: Path) -> Path:
    path = tmp_path / "imagestreamtag-to-image.yaml"
    path.write_text(dump_yaml(_configmap_from_fixtures()))
    return path


def test_configmap_alone_skips_the_shipped_jenkins_streams_by_default(tmp_path: Path) -> None:
    from_map = load_configmap(_configmap_file(tmp_path))
    shipped_jenkins = sorted(s.name for s in load_imagestreams([FIXTURES]) if s.name.startswith("jenkins"))
    assert shipped_jenkins == ["jenkins", "jenkins-agent-base"]
    # nothing named: every stream in the map is mirrored, the jenkins ones the operator ships are skipped
    plan = plan_samples(from_map, MIRROR)
    assert plan.skipped == shipped_jenkins
    assert plan.config_patch["spec"]["skippedImagestreams"] == shipped_jenkins
    assert '"skippedImagestreams":["jenkins","jenkins-agent-base"]' in plan.commands[-1]
    jenkins_notes = [n for n in plan.notes if "jenkins" in n]
    assert jenkins_notes == [
        "the imagestreamtag-to-image config map leaves out the jenkins streams: jenkins, jenkins-agent-base go "
        "into skippedImagestreams; to mirror them, add the jenkins ImageStream files with --imagestreams (repeated)"]
    # with a selection too: skipped = the map's streams not chosen + the jenkins ones
    plan = plan_samples(from_map, MIRROR, include=["ruby"])
    assert "jenkins" in plan.skipped and "jenkins-agent-base" in plan.skipped
    assert len(plan.skipped) == len(from_map) - 1 + 2
    # both jenkins stream files given: nothing is skipped by default, no note
    merged = load_streams_from([_configmap_file(tmp_path), FIXTURES / "jenkins-rhel.json",
                                FIXTURES / "jenkins-agent-base-rhel.json"])
    plan = plan_samples(merged, MIRROR)
    assert plan.skipped == [] and not any("jenkins" in n for n in plan.notes)
    # files as the source: the jenkins rule does not apply
    assert plan_samples(load_imagestreams([FIXTURES / "ruby-rhel.json"]), MIRROR).skipped == []


@pytest.mark.parametrize("include", [["jenkins"], ["ruby", "jenkins-agent-base"], ["jenkins-custom"]])
def test_including_a_jenkins_stream_the_map_leaves_out_asks_for_its_file(tmp_path: Path, include: list[str]) -> None:
    from_map = load_configmap(_configmap_file(tmp_path))
    wanted = include[-1]
    with pytest.raises(ImageStreamError) as err:
        plan_samples(from_map, MIRROR, include=include)
    message = str(err.value)
    assert message.startswith(f"cannot mirror {wanted}: the imagestreamtag-to-image config map leaves out every "
                              "jenkins* stream; add the jenkins ImageStream files with --imagestreams (repeated)")
    assert "\n" not in message


def test_configmap_keys_split_at_the_first_underscore(tmp_path: Path) -> None:
    assert split_configmap_key("jboss-eap74-openjdk11-openshift_7.4.0") == ("jboss-eap74-openjdk11-openshift", "7.4.0")
    assert split_configmap_key("app_v1_beta") == ("app", "v1_beta")  # docker tags may hold '_', stream names do not
    for bad in ("noseparator", "_tag", "stream_"):
        with pytest.raises(ImageStreamError, match="is not <imagestream>_<tag>"):
            split_configmap_key(bad)
    bad = _write_json(tmp_path / "cm.json", {"kind": "ConfigMap", "metadata": {"name": "imagestreamtag-to-image"},
                                             "data": {"ruby_latest": ""}})
    with pytest.raises(ImageStreamError, match="'ruby_latest' has no pull spec"):
        load_configmap(bad)
    empty = _write_json(tmp_path / "empty.json", {"kind": "ConfigMap", "metadata": {"name": "x"}, "data": {}})
    with pytest.raises(ImageStreamError, match="no data entries"):
        load_configmap(empty)


# -- the samplesRegistry rule ---------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "expected"), [
    ("registry.redhat.io/ubi8/ruby-25:latest", f"{MIRROR}/ubi8/ruby-25:latest"),
    ("registry.access.redhat.com/ubi8/dotnet-80:8.0", f"{MIRROR}/ubi8/dotnet-80:8.0"),
    ("registry.access.redhat.com/ubi9/dotnet-100", f"{MIRROR}/ubi9/dotnet-100"),
    ("quay.io:443/ns/img@sha256:" + "b" * 64, f"{MIRROR}/ns/img@sha256:" + "b" * 64),
    ("centos/ruby-25-centos7:latest", f"{MIRROR}/centos/ruby-25-centos7:latest"),  # one slash: prefixed
    ("ruby:2.5", f"{MIRROR}/ruby:2.5"),
    ("registry.example.com/a/b/c:1", f"{MIRROR}/registry.example.com/a/b/c:1"),  # three slashes: prefixed
    (f"{MIRROR}/ubi8/ruby-25:latest", f"{MIRROR}/ubi8/ruby-25:latest"),          # already there
])
def test_mirror_pull_spec_follows_the_operator(spec: str, expected: str) -> None:
    assert mirror_pull_spec(spec, MIRROR) == expected


# -- plans --------------------------------------------------------------------------------------------

def test_exact_mapping_config_and_commands_for_a_small_selection() -> None:
    streams = load_imagestreams([FIXTURES / "ruby-rhel.json", FIXTURES / "jboss-eap74-openjdk11-openshift-rhel8.json",
                                 FIXTURES / "jenkins-rhel.json", FIXTURES / "dotnet-runtime-rhel.json"])
    plan = plan_samples(streams, MIRROR, include=["ruby", "jboss-eap74-openjdk11-openshift,dotnet-runtime"],
                        mapping_file="samples-mapping.txt", auth_file="pull-secret.json")
    assert isinstance(plan, SamplesPlan)
    assert plan.included == ["dotnet-runtime", "jboss-eap74-openjdk11-openshift", "ruby"]
    assert plan.skipped == ["jenkins"]
    assert plan.mapping_text() == f"""\
registry.access.redhat.com/ubi8/dotnet-80-runtime:8.0={MIRROR}/ubi8/dotnet-80-runtime:8.0
registry.access.redhat.com/ubi8/dotnet-90-runtime:9.0={MIRROR}/ubi8/dotnet-90-runtime:9.0
registry.access.redhat.com/ubi9/dotnet-100-runtime:latest={MIRROR}/ubi9/dotnet-100-runtime:latest
registry.redhat.io/jboss-eap-7/eap74-openjdk11-openshift-rhel8:latest={MIRROR}/jboss-eap-7/eap74-openjdk11-openshift-rhel8:latest
registry.redhat.io/ubi10/ruby-33:latest={MIRROR}/ubi10/ruby-33:latest
registry.redhat.io/ubi8/ruby-25:latest={MIRROR}/ubi8/ruby-25:latest
registry.redhat.io/ubi8/ruby-33:latest={MIRROR}/ubi8/ruby-33:latest
registry.redhat.io/ubi9/ruby-30:latest={MIRROR}/ubi9/ruby-30:latest
registry.redhat.io/ubi9/ruby-33:latest={MIRROR}/ubi9/ruby-33:latest
"""
    assert plan.config_yaml() == f"""\
apiVersion: samples.operator.openshift.io/v1
kind: Config
metadata:
  name: cluster
spec:
  samplesRegistry: {MIRROR}
  skippedImagestreams:
  - jenkins
  managementState: Managed
"""
    assert plan.config_patch == {"spec": {"samplesRegistry": MIRROR, "skippedImagestreams": ["jenkins"],
                                          "managementState": "Managed"}}
    assert plan.commands == [
        "oc image mirror -a pull-secret.json -f samples-mapping.txt",
        ("oc patch configs.samples.operator.openshift.io/cluster --type=merge --patch "
         f"""'{{"spec":{{"samplesRegistry":"{MIRROR}","skippedImagestreams":["jenkins"],"managementState":"Managed"}}}}'"""),
    ]
    assert plan.notes == []
    tasks = plan.tasks()
    assert [str(t.source) for t in tasks] == [src for src, _ in plan.mapping]
    assert str(tasks[0].destination) == f"{MIRROR}/ubi8/dotnet-80-runtime:8.0"


def test_whole_catalogue_mirrors_both_red_hat_hosts_once_each() -> None:
    streams = load_imagestreams([FIXTURES])
    plan = plan_samples(streams, MIRROR)
    assert plan.skipped == [] and plan.included == sorted(s.name for s in streams)
    assert plan.notes == []  # a spec shared by several streams is neither a collision nor copied twice
    sources = [src for src, _ in plan.mapping]
    assert len(sources) == len(set(sources)) == 134  # 135 specs as written; one is a tagless duplicate
    assert {src.split("/")[0] for src in sources} == {"registry.redhat.io", "registry.access.redhat.com"}
    assert all(dst.startswith(f"{MIRROR}/") and dst.split("/", 1)[1] == src.split("/", 1)[1]
               for src, dst in plan.mapping)
    # the same spec used by several tags and streams appears once
    assert sources.count("registry.access.redhat.com/ubi8/dotnet-80-runtime:8.0") == 1
    assert len(plan.tasks()) == 134


def test_one_image_written_two_ways_is_copied_to_both_destinations(tmp_path: Path) -> None:
    """The operator rewrites each spec as written: 'ruby:2.5' becomes MIRROR/ruby:2.5 but
    'docker.io/library/ruby:2.5' becomes MIRROR/library/ruby:2.5, so both must be on the mirror;
    the same spelling used by several tags and streams is copied once."""
    path = _write_json(tmp_path / "s.json", {"kind": "List", "items": [
        _stream("short", {"a": ("DockerImage", "ruby:2.5"), "b": ("DockerImage", "ruby:2.5"),
                          "c": ("ImageStreamTag", "a")}),
        _stream("long", {"a": ("DockerImage", "docker.io/library/ruby:2.5")}),
        _stream("again", {"x": ("DockerImage", "ruby:2.5"), "y": ("DockerImage", "registry.redhat.io/ns/app"),
                          "z": ("DockerImage", "registry.redhat.io/ns/app:latest")}),
    ]})
    plan = plan_samples(load_imagestreams([path]), MIRROR)
    assert plan.mapping == [
        ("docker.io/library/ruby:2.5", f"{MIRROR}/library/ruby:2.5"),
        ("registry.redhat.io/ns/app:latest", f"{MIRROR}/ns/app:latest"),
        ("ruby:2.5", f"{MIRROR}/ruby:2.5"),
    ]
    assert plan.notes == []


def test_skip_lists_every_stream_not_mirrored() -> None:
    streams = load_imagestreams([FIXTURES])
    plan = plan_samples(streams, MIRROR, skip=["jenkins", "jenkins-agent-base", "dotnet"])
    assert plan.skipped == ["dotnet", "jenkins", "jenkins-agent-base"]
    assert not any("jenkins" in src for src, _ in plan.mapping)
    # dotnet's own repositories are left out (the runtime/aspnet streams use other repositories)
    assert not any(src.endswith(("/dotnet-80:8.0", "/dotnet-90:9.0")) for src, _ in plan.mapping)


def test_unknown_and_conflicting_names_and_bad_mirrors() -> None:
    streams = load_imagestreams([FIXTURES / "ruby-rhel.json", FIXTURES / "perl-rhel.json"])
    with pytest.raises(ImageStreamError) as err:
        plan_samples(streams, MIRROR, include=["ruby", "rubyy"], skip=["pearl"])
    assert str(err.value).startswith("unknown image stream(s): rubyy, pearl (known: perl, ruby)")
    with pytest.raises(ImageStreamError, match="both included and skipped: ruby"):
        plan_samples(streams, MIRROR, include=["ruby"], skip=["ruby"])
    # jenkins names are only waved through when the source is the config map
    with pytest.raises(ImageStreamError, match="unknown image stream.*jenkins"):
        plan_samples(streams, MIRROR, skip=["jenkins"])
    for bad in ("", "https://mirror.example.com", "mirror.example.com/ns", "mirror.example.com:99999", "bad host"):
        with pytest.raises(InputError, match="HOST\\[:PORT\\]"):
            plan_samples(streams, bad)
    assert plan_samples(streams, "10.0.0.5:5000").mirror == "10.0.0.5:5000"
    assert plan_samples(streams, MIRROR, include=[]).included == ["perl", "ruby"]


def test_digest_pins_collisions_and_specs_already_on_the_mirror(tmp_path: Path) -> None:
    digest = "sha256:" + "c" * 64
    path = _write_json(tmp_path / "s.json", {"kind": "List", "items": [
        _stream("pinned", {"1": ("DockerImage", f"registry.redhat.io/ns/pinned@{digest}")}),
        _stream("twin", {"a": ("DockerImage", "registry.redhat.io/ubi8/twin:1"),
                         "b": ("DockerImage", "registry.access.redhat.com/ubi8/twin:1")}),
        _stream("local", {"1": ("DockerImage", f"{MIRROR}/ns/local:1")}),
        _stream("deep", {"1": ("DockerImage", "registry.example.com:5000/a/b/c:1")}),
    ]})
    plan = plan_samples(load_imagestreams([path]), MIRROR)
    assert plan.mapping == [
        ("registry.access.redhat.com/ubi8/twin:1", f"{MIRROR}/ubi8/twin:1"),
        (f"registry.redhat.io/ns/pinned@{digest}", f"{MIRROR}/ns/pinned@{digest}"),
    ]
    # oc pushes a digest-pinned image by digest when DST names none
    assert f"registry.redhat.io/ns/pinned@{digest}={MIRROR}/ns/pinned\n" in plan.mapping_text()
    task = plan.tasks()[1]
    assert task.destination.ref.digest == digest and task.destination.ref.tag is None
    notes = "\n".join(plan.notes)
    assert (f"registry.access.redhat.com/ubi8/twin:1 and registry.redhat.io/ubi8/twin:1 both become "
            f"{MIRROR}/ubi8/twin:1") in notes
    assert f"local: {MIRROR}/ns/local:1 is already on the mirror" in notes
    assert "deep: cannot mirror registry.example.com:5000/a/b/c:1" in notes


# -- a live cluster through oc ------------------------------------------------------------------------

def _fake_oc(folder: Path, script: str) -> Path:
    """A stand-in ``oc`` program: the real one needs a cluster, this one needs only a shell."""
    path = folder / "oc"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_cluster_streams_through_oc(tmp_path: Path) -> None:
    ruby = json.loads((FIXTURES / "ruby-rhel.json").read_text())
    ruby["metadata"]["labels"] = {"samples.operator.openshift.io/managed": "true"}
    perl = json.loads((FIXTURES / "perl-rhel.json").read_text())
    perl["metadata"]["labels"] = {"samples.operator.openshift.io/managed": "false"}  # skipped, still the operator's
    cli = _stream("cli", {"latest": ("DockerImage", "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + "d" * 64)})
    listing = _write_json(tmp_path / "is.json", {"kind": "List", "apiVersion": "v1", "items": [cli, perl, ruby]})
    oc = _fake_oc(tmp_path, f'[ "$*" = "get imagestreams -n openshift -o json" ] || exit 3\ncat {listing}\n')
    streams = load_from_cluster(str(oc))
    assert [s.name for s in streams] == ["perl", "ruby"] and streams[0].source == "cluster"

    failing = _fake_oc(tmp_path, 'echo "error: You must be logged in to the server (Unauthorized)" >&2\nexit 1\n')
    with pytest.raises(ToolError, match=r"failed: error: You must be logged in .* \(log in with 'oc login' first\)"):
        load_from_cluster(str(failing))
    removed = _fake_oc(tmp_path, f"cat {_write_json(tmp_path / 'none.json', {'kind': 'List', 'items': [cli]})}\n")
    with pytest.raises(ToolError, match="operator may be Removed.*oc get configmap imagestreamtag-to-image"):
        load_from_cluster(str(removed))
    with pytest.raises(ToolError, match="cannot find 'no-such-oc-here'"):
        load_from_cluster("no-such-oc-here")


# -- the commands -------------------------------------------------------------------------------------

def test_cli_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["samples", "list", "--imagestreams", str(FIXTURES)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "TAGS", "IMAGES", "REGISTRIES"]
    assert any(line.split() == ["ruby", "6", "5", "registry.redhat.io"] for line in lines)
    assert any(line.split() == ["dotnet", "7", "3", "registry.access.redhat.com"] for line in lines)
    assert "27 image streams, 134 distinct images" in out


def test_cli_plan_prints_and_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mapping, config = tmp_path / "mapping.txt", tmp_path / "config.yaml"
    code = main(["samples", "plan", "--imagestreams", str(FIXTURES / "ruby-rhel.json"),
                 "--imagestreams", str(FIXTURES / "perl-rhel.json"), "--mirror", MIRROR,
                 "--include", "ruby", "--mapping-out", str(mapping), "--config-out", str(config)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert mapping.read_text().splitlines()[0] == f"registry.redhat.io/ubi10/ruby-33:latest={MIRROR}/ubi10/ruby-33:latest"
    assert len(mapping.read_text().splitlines()) == 5
    assert yaml.safe_load(config.read_text())["spec"] == {"samplesRegistry": MIRROR, "skippedImagestreams": ["perl"],
                                                          "managementState": "Managed"}
    assert mapping.read_text() in captured.out and config.read_text() in captured.out
    assert f"oc image mirror -a ${{LOCAL_SECRET_JSON}} -f {mapping}" in captured.out
    assert "oc patch configs.samples.operator.openshift.io/cluster --type=merge --patch" in captured.out


def test_cli_plan_from_the_configmap_says_jenkins_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write_json(tmp_path / "cm.json", _configmap_from_fixtures())
    assert main(["samples", "plan", "--imagestreams", str(path), "--mirror", MIRROR, "--skip", "jenkins"]) == 0
    captured = capsys.readouterr()
    assert ("note: the imagestreamtag-to-image config map leaves out the jenkins streams: jenkins, "
            "jenkins-agent-base go into skippedImagestreams") in captured.err
    assert "  - jenkins\n  - jenkins-agent-base\n" in captured.out
    # without any --skip the same two are skipped
    assert main(["samples", "plan", "--imagestreams", str(path), "--mirror", MIRROR]) == 0
    captured = capsys.readouterr()
    assert "skippedImagestreams:\n  - jenkins\n  - jenkins-agent-base\n" in captured.out
    assert len([line for line in captured.err.splitlines() if "jenkins" in line]) == 1  # one line naming both
    # including one without its file: a one-line error, exit 2
    assert main(["samples", "plan", "--imagestreams", str(path), "--mirror", MIRROR, "--include", "jenkins"]) == 2
    err = capsys.readouterr().err
    assert "add the jenkins ImageStream files with --imagestreams (repeated)" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["--include", "ruby", "--include", "nosuch"], 2, "error: unknown image stream(s): nosuch (known: "),
    (["--mirror", "https://mirror.example.com"], 2, "is not HOST[:PORT]"),
])
def test_cli_plan_errors(argv: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["samples", "plan", "--imagestreams", str(FIXTURES)]
    if "--mirror" not in argv:
        base += ["--mirror", MIRROR]
    assert main(base + argv) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_cli_bad_file_and_missing_oc(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"kind": "Pod", "metadata": {"name": "x"}}')
    assert main(["samples", "list", "--imagestreams", str(bad)]) == 2
    assert "error: " in capsys.readouterr().err
    assert main(["samples", "list", "--from-cluster", "--oc", str(tmp_path / "oc-missing")]) == 1
    assert "error: cannot find" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # argparse: a source is required
        main(["samples", "list"])
    assert exit_info.value.code == 2
    capsys.readouterr()


def test_cli_mirror_with_nothing_to_copy(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["samples", "mirror", "--imagestreams", str(FIXTURES / "ruby-rhel.json"), "--mirror", MIRROR,
                 "--skip", "ruby"])
    assert code == 2
    assert "error: nothing to mirror" in capsys.readouterr().err



# -- the wizard's samples step -------------------------------------------------------------------------

async def test_wizard_with_the_configmap_shows_the_jenkins_streams_skipped(tmp_path: Path) -> None:
    """The samples screen plans through core: the config map alone gives a Config skipping jenkins, and says why."""
    import base64

    from textual.widgets import Input, Select, Static

    from core.plan import plan_from_dict
    from tui.app import MirrorWizardApp
    from tui.state import WizardState

    secret = tmp_path / "pull-secret.json"
    secret.write_text(json.dumps({"auths": {"quay.io": {"auth": base64.b64encode(b"someone:token").decode()}}}))
    state = WizardState(plan=plan_from_dict({"auth_file": str(secret), "mirror": {"registry": MIRROR},
                                             "output_dir": str(tmp_path / "out")}))
    app = MirrorWizardApp(state, start="samples", auto_check=False)
    path = _configmap_file(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.screen.query_one("#source", Select).value = "configmap"
        field = app.screen.query_one("#path", Input)
        field.focus()
        field.value = str(path)
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert len(app.state.streams) == 25
        config = str(app.screen.query_one("#config", Static).render())
        assert "skippedImagestreams:\n  - jenkins\n  - jenkins-agent-base\n" in config
        assert "# note: the imagestreamtag-to-image config map leaves out the jenkins streams" in config
        plan = app.state.samples_plan()
        assert plan.skipped == ["jenkins", "jenkins-agent-base"]
        # the command the help panel offers runs as shown: jenkins names are accepted as --skip for the map
        commands = app.screen.help_commands()
        assert any("--skip jenkins,jenkins-agent-base" in c for c in commands)
    assert main(["samples", "plan", "--imagestreams", str(path), "--mirror", MIRROR,
                 "--skip", "jenkins,jenkins-agent-base"]) == 0
