"""The plan file: strict loading, round trips, and errors that name the key to fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.errors import LocalStorageError, PlanError
from core.plan import Plan, load_plan, plan_from_dict, save_plan

GOOD = {
    "version": 1,
    "auth_file": "/home/admin/pull-secret.json",
    "idms_file": None,
    "mirror": {"registry": "mirror.example.com:8443", "ca_file": "/etc/pki/mirror-ca.crt", "insecure": False},
    "registries": [{"host": "quay.io", "ca_file": None}],
    "release": {"source": "quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64", "channel": "stable-4.17",
                "version": "4.17.3", "architecture": "x86_64", "mode": "registry",
                "target": "mirror.example.com:8443/ocp4/openshift4", "directory": None},
    "samples": {"source": "files", "path": "imagestreams/", "mirror": "mirror.example.com:8443",
                "include": ["ruby", "nodejs"], "skip": []},
    "options": {"max_per_registry": 6},
    "output_dir": "out",
}


def test_round_trip_keeps_every_choice(tmp_path: Path) -> None:
    plan = plan_from_dict(GOOD)
    path = save_plan(plan, tmp_path / "plan.yaml")
    again = load_plan(path)
    assert again == plan
    assert again.release is not None and again.release.target.endswith("/ocp4/openshift4")
    assert again.samples is not None and again.samples.include == ["ruby", "nodejs"]
    assert again.ca_files() == ["/etc/pki/mirror-ca.crt"]
    assert yaml.safe_load(path.read_text())["mirror"]["registry"] == "mirror.example.com:8443"


def test_release_and_samples_are_optional() -> None:
    plan = plan_from_dict({"mirror": {"registry": "mirror.example.com"}})
    assert plan.release is None and plan.samples is None and isinstance(plan, Plan)


@pytest.mark.parametrize(("change", "message"), [
    ({"colour": "blue"}, "unknown key(s): colour"),
    ({"mirror": {"registry": "mirror.example.com", "pasword": "x"}}, "plan.mirror has unknown key(s): pasword"),
    ({"mirror": {"registry": "https://mirror.example.com/v2"}}, "plan.mirror.registry is 'https://mirror.example.com/v2'"),
    ({"mirror": {"registry": ""}}, "plan.mirror.registry is empty"),
    ({"release": {**GOOD["release"], "mode": "usb"}}, "plan.release.mode is 'usb'"),
    ({"release": {**GOOD["release"], "mode": "to-dir"}}, "plan.release.directory is needed for mode to-dir"),
    ({"release": {**GOOD["release"], "target": ""}}, "plan.release.target is empty"),
    ({"samples": {**GOOD["samples"], "skip": ["ruby"]}}, "ruby as both included and skipped"),
    ({"samples": {**GOOD["samples"], "include": "ruby"}}, "plan.samples.include must be a list of names"),
    ({"options": {"max_per_registry": 0}}, "max_per_registry must be between 1 and 64"),
    ({"options": {"max_per_registry": "six"}}, "max_per_registry must be a whole number"),
    ({"version": 7}, "version 7"),
    ({"mirror": {"registry": "m.example.com", "insecure": "yes"}}, "plan.mirror.insecure must be true or false"),
])
def test_bad_plans_name_what_to_fix(change: dict, message: str) -> None:
    with pytest.raises(PlanError) as info:
        plan_from_dict({**GOOD, **change})
    assert message in str(info.value)


def test_missing_mirror_section() -> None:
    data = dict(GOOD)
    del data["mirror"]
    with pytest.raises(PlanError, match="missing 'mirror:'"):
        plan_from_dict(data)


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="does not exist"):
        load_plan(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("mirror: [unclosed\n")
    with pytest.raises(PlanError, match="not valid YAML at line"):
        load_plan(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(PlanError, match="not a YAML mapping"):
        load_plan(listy)


def test_a_plan_never_holds_a_password() -> None:
    with pytest.raises(PlanError, match="unknown key"):
        plan_from_dict({**GOOD, "mirror": {**GOOD["mirror"], "password": "hunter2"}})


# -- samples paths: a list, and the single path of plans saved before ---------------------------------

def test_samples_hold_several_paths(tmp_path: Path) -> None:
    plan = plan_from_dict({**GOOD, "samples": {**_samples_without_path(), "paths": ["cm.yaml", "jenkins/"]}})
    assert plan.samples is not None and plan.samples.paths == ["cm.yaml", "jenkins/"]
    again = load_plan(save_plan(plan, tmp_path / "plan.yaml"))
    assert again.samples is not None and again.samples.paths == ["cm.yaml", "jenkins/"]
    saved = yaml.safe_load((tmp_path / "plan.yaml").read_text())["samples"]
    assert saved["paths"] == ["cm.yaml", "jenkins/"] and "path" not in saved


def test_an_old_single_path_still_loads() -> None:
    plan = plan_from_dict(GOOD)  # GOOD keeps the old `path:` key
    assert plan.samples is not None and plan.samples.paths == ["imagestreams/"] and plan.samples.path == "imagestreams/"


def _samples_without_path() -> dict:
    return {k: v for k, v in GOOD["samples"].items() if k != "path"}


@pytest.mark.parametrize(("samples", "message"), [
    ({"paths": "imagestreams/"}, "plan.samples.paths must be a list of paths"),
    ({"paths": ["a", 3]}, "plan.samples.paths must be a list of paths"),
    ({"paths": []}, "plan.samples.paths is empty"),
    ({"paths": ["a", " "]}, "plan.samples.paths[1] is empty"),
    ({"paths": ["a"], "path": "b"}, "plan.samples has both path and paths"),
    ({"path": ["a"]}, "plan.samples.path must be text"),
])
def test_samples_path_errors_name_the_key(samples: dict, message: str) -> None:
    with pytest.raises(PlanError) as info:
        plan_from_dict({**GOOD, "samples": {**_samples_without_path(), **samples}})
    assert message in str(info.value)


# -- release names are checked when the plan loads, before any registry is contacted ----------------

@pytest.mark.parametrize(("change", "message"), [
    ({"target": "mirror.example.com:8443/OCP4/openshift4"}, "plan.release.target: "),
    ({"target": "mirror.example.com:8443/ocp4/openshift4:4.17"}, "plan.release.target: "),
    ({"target": "ocp4/openshift4"}, "plan.release.target is 'ocp4/openshift4': name the mirror registry too"),
    ({"to_release_image": "mirror.example.com:8443/ocp4/release@sha256:" + "a" * 64}, "give a tag, not a digest"),
    ({"to_release_image": "mirror.example.com:8443/Bad Name"}, "plan.release.to_release_image: "),
    ({"source": "quay.io/openshift-release-dev/ocp-release:bad tag"}, "plan.release.source: "),
    ({"mode": "to-dir", "directory": "/media/usb:1"}, "plan.release.directory is '/media/usb:1'"),
])
def test_bad_release_names_fail_at_load(change: dict, message: str) -> None:
    with pytest.raises(PlanError) as info:
        plan_from_dict({**GOOD, "release": {**GOOD["release"], **change}})
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_to_dir_plan_needs_no_target() -> None:
    plan = plan_from_dict({**GOOD, "release": {**GOOD["release"], "mode": "to-dir", "target": "",
                                               "directory": "/media/usb"}})
    assert plan.release is not None and plan.release.mode == "to-dir"


# -- saving: file errors are one line --------------------------------------------------------------

def test_save_plan_where_it_cannot_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    plan = plan_from_dict(GOOD)
    with pytest.raises(LocalStorageError, match=r"cannot write .*a-file/sub/plan.yaml: .*; choose"):
        save_plan(plan, blocker / "sub" / "plan.yaml")
    with pytest.raises(LocalStorageError, match="it is a directory"):  # refused before any temporary file is made
        save_plan(plan, tmp_path)
    assert not list(tmp_path.parent.glob(f".{tmp_path.name}.*"))  # no temporary file left behind


# -- day 2: signatures, update paths, samples from the release ----------------------------------------

PATH_RELEASE = {"source": "", "channel": "stable-4.17", "from_version": "4.17.1", "version": "4.17.3",
                "architecture": "x86_64", "mode": "registry", "target": "mirror.example.com:8443/ocp4/openshift4",
                "all_versions": True, "graph_file": "graph.json",
                "signature_stores": ["https://mirror.example.com/signatures"], "signatures_dir": None,
                "allow_unsigned": False, "signatures_to_dir": "sigs"}


def test_an_update_path_plan_round_trips(tmp_path: Path) -> None:
    plan = plan_from_dict({**GOOD, "release": PATH_RELEASE,
                           "samples": {"source": "release", "paths": [], "architecture": "aarch64"}})
    assert plan.release is not None and plan.release.is_path and plan.release.chosen
    assert plan.samples is not None and plan.samples.source == "release" and plan.samples.chosen
    again = load_plan(save_plan(plan, tmp_path / "plan.yaml"))
    assert again == plan
    old = plan_from_dict(GOOD)  # a plan saved before these keys existed: no path, signatures required
    assert old.release is not None and not old.release.is_path and old.release.allow_unsigned is False


@pytest.mark.parametrize(("change", "message"), [
    ({"channel": None}, "plan.release.channel is empty"),
    ({"version": None}, "plan.release.version is empty: an update path from 4.17.1"),
    ({"source": "quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64"}, "has both source and from_version"),
    ({"to_release_image": "mirror.example.com:8443/ocp4/release:x"}, "remove it"),
    ({"graph_url": "https://example.test/graph"}, "both graph_file and graph_url"),
    ({"allow_unsigned": "yes"}, "plan.release.allow_unsigned must be true or false"),
    ({"signature_stores": "https://x"}, "plan.release.signature_stores must be a list"),
])
def test_bad_update_paths_name_the_key(change: dict, message: str) -> None:
    with pytest.raises(PlanError) as info:
        plan_from_dict({**GOOD, "release": {**PATH_RELEASE, **change}})
    assert message in str(info.value)


def test_samples_from_the_release_need_a_release() -> None:
    with pytest.raises(PlanError, match="samples.source is release but the plan has no release"):
        plan_from_dict({**GOOD, "release": None, "samples": {"source": "release", "paths": []}})
    plan = plan_from_dict({**GOOD, "release": None,
                           "samples": {"source": "release", "paths": ["quay.io/x/release:4.17.3-x86_64"]}})
    assert plan.samples is not None and plan.samples.paths == ["quay.io/x/release:4.17.3-x86_64"]


def test_max_per_registry_left_out_is_adaptive_and_a_number_is_a_hard_limit(tmp_path: Path) -> None:
    """No limit in the plan or on the command line: None, the adaptive default (6 up to 16,
    core.adaptive.transfer_bounds); a number given stays the start and the upper bound."""
    from core.adaptive import transfer_bounds
    from tui.cli import build_parser
    from tui.commands.common import options_from_args

    plan = plan_from_dict({"mirror": {"registry": "mirror.example.com"}})
    assert plan.options.max_per_registry is None
    assert load_plan(save_plan(plan, tmp_path / "plan.yaml")).options.max_per_registry is None
    assert plan_from_dict({**GOOD, "options": {"max_per_registry": None}}).options.max_per_registry is None
    assert transfer_bounds(plan.options.max_per_registry) == (6, 16)
    parser = build_parser()
    default = parser.parse_args(["image", "mirror", "a.example/x:1=b.example/x:1"])
    assert options_from_args(default).max_per_registry is None
    given = parser.parse_args(["image", "mirror", "--max-per-registry", "3", "a.example/x:1=b.example/x:1"])
    assert options_from_args(given).max_per_registry == 3 and transfer_bounds(3) == (3, 3)
