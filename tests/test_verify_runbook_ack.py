"""The 4.20 → 4.21 admin-ack in core's text (the runbook, and sigstore_ack_lines for the Done step): said for
a plan whose release is 4.21 or later, with the exact patch verify --cluster names; not for older ones."""

from __future__ import annotations

from core.plan import MirrorRegistry, Plan, ReleaseChoice
from core.runbook import RunbookParts, admin_ack_command, render_runbook, sigstore_ack_lines
from core.verify.lifecycle import admin_ack_command as verify_command

PATCH = ("oc -n openshift-config patch configmap admin-acks --type=merge --patch "
         "'{\"data\":{\"ack-4.20-sigstore-in-4.21\":\"true\"}}'")


def plan(version: str) -> Plan:
    return Plan(mirror=MirrorRegistry("mirror.example.com:8443"),
                release=ReleaseChoice(source=f"quay.io/openshift-release-dev/ocp-release:{version}-x86_64",
                                      target="mirror.example.com:8443/ocp4/openshift4", version=version))


def test_runbook_says_the_admin_ack_before_4_21() -> None:
    text = render_runbook(plan("4.21.2"), RunbookParts(release_version="4.21.2", plan_file="site.yaml"))
    assert "### Before updating to 4.21 or later" in text
    assert "admin gate `ack-4.20-sigstore-in-4.21`" in text
    assert f"```sh\n{PATCH}\n```" in text
    assert "`mirror-wizard verify site.yaml --cluster` checks them" in text
    assert "from 4.22 each component image's signature" not in text
    assert admin_ack_command() == verify_command() == PATCH


def test_update_path_into_4_22_names_the_components_too() -> None:
    lines = sigstore_ack_lines(["4.20.18", "4.21.9", "4.22.1"])
    assert lines[0].startswith("Before updating a 4.20 cluster to 4.21.9, 4.22.1:")
    assert any("from 4.22 each component image's signature as well" in line for line in lines)


def test_no_admin_ack_text_for_older_releases() -> None:
    assert sigstore_ack_lines(["4.17.3", "4.20.18"]) == []
    assert "ack-4.20-sigstore-in-4.21" not in render_runbook(plan("4.17.3"), RunbookParts(release_version="4.17.3"))
