"""The documents a cluster gets for a prepared plan, each with the commands that apply it: the wizard's
Done step shows them one per tab; the files themselves are written by core.run.write_outputs and the
whole procedure by core.runbook.

One generator, so the tab's text, the file and the runbook say the same thing.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

from ..filenames import IMAGE_CONFIG_PATCH_FILE, REGISTRY_CONFIG_FILE, SAMPLES_MAPPING_FILE
from ..graph_image import (
    CA_KEY,
    CONFIG_NAMESPACE,
    UPDATE_SERVICE_CA_FILE,
    UPDATE_SERVICE_FILE,
    UPDATE_SERVICE_NAMESPACE,
    ca_merge_patch,
    releases_repository,
    update_service,
    upstream_patch_commands,
)
from ..mirror_config import ICSP_FILE, IDMS_FILE
from ..plan import Plan, ReleaseMode
from ..run import Prepared
from ..runbook import admin_ack_command, oc_release_mirror_commands, plan_flags, release_mirror_command, sigstore_ack_lines
from ..samples import oc_image_mirror_command
from ..signatures import configmap_yaml
from ..text import shell_quote
from ..yamlout import dump_yaml


@dataclass(frozen=True)
class Document:
    """One document for the cluster: a short key (``idms``), a title (``IDMS``) and its text with the
    commands that apply it, as comments."""

    key: str
    title: str
    text: str


def cluster_documents(prepared: Prepared, plan_file: str = "plan.yaml") -> list[Document]:
    """Everything the cluster gets: install-config's mirror sources, the IDMS and ICSP, the CA ConfigMap
    (and the image.config patch), the release signatures, the samples operator's Config, and the update
    service's objects when the plan keeps one."""
    out: list[Document] = []
    instructions = prepared.instructions
    if instructions is not None:
        # One install-config block (the installer refuses both) and one mirror set, as the release wants.
        out.append(Document("install", "install-config",
                            "# add to install-config.yaml (new clusters)\n" + instructions.install_config_yaml()))
        if instructions.wants_idms:
            out.append(Document("idms", "IDMS", "# running clusters (4.13 and later)\n"
                                + dump_yaml(instructions.cluster_set())))
        else:
            out.append(Document("icsp", "ICSP", "# running clusters (this release is before 4.13)\n"
                                + dump_yaml(instructions.cluster_set())))
    ca = prepared.ca
    if ca is not None:
        out.append(Document("ca", "CA", ca.yaml() + "\n# then\n" + "\n".join(ca.commands)))
    signatures = prepared.signature_configmaps()
    if signatures:
        out.append(Document("signatures", "Signatures", "# release signatures: a disconnected cluster accepts an "
                            "update only with these\n" + "---\n".join(configmap_yaml(c) for c in signatures)))
    samples = prepared.samples
    if samples is not None:
        out.append(Document("samples", "Samples", samples.config_yaml() + "\n# then\n"
                            + "\n".join(samples_patch_commands(prepared))))
    service = update_service_document(prepared, plan_file)
    if service is not None:
        out.append(service)
    return out


def update_service_document(prepared: Prepared, plan_file: str = "plan.yaml") -> Document | None:
    """Updates inside the cluster (the plan's release.graph_image): the ``UpdateService`` (graph data by digest
    once the mirror holds it), the CA ConfigMap's ``updateservice-registry`` key merged beside ``host..port``,
    the ``clusterversion`` ``spec.upstream`` patch, and before a 4.20 cluster updates to 4.21 or later the
    admin-ack (core.runbook.sigstore_ack_lines). Every object is core.graph_image's, as ``release graph-image
    -o`` writes them."""
    plan = prepared.plan
    release = plan.release
    if release is None or not release.graph_image:
        return None
    pinned = prepared.graph_image_pinned
    service = update_service(releases_repository(plan), pinned or release.graph_image)
    name = service["metadata"]["name"]
    # Short lines: the tab does not wrap (YAML must not), so prose stays within 80 columns.
    text = ("# Updates inside the cluster: an OpenShift Update Service gives the\n"
            "# disconnected cluster its update recommendations.\n"
            "# 1. install the 'OpenShift Update Service' operator (OperatorHub,\n"
            f"#    namespace {UPDATE_SERVICE_NAMESPACE}), mirrored with the operators\n"
            f"# 2. the UpdateService ({UPDATE_SERVICE_FILE}):\n")
    if pinned is None:
        text += "#    graphDataImage is the tag until the mirror holds the image\n"
    text += dump_yaml(service) + f"# oc apply -f {UPDATE_SERVICE_FILE}\n"
    ca = prepared.ca
    if ca is not None:
        data = ca.configmap.get("data") or {}
        key, pem = next(iter(data.items()))
        name_cm = ca.configmap["metadata"]["name"]
        text += (f"\n# 3. the mirror's CA under {CA_KEY} too, merged beside\n"
                 f"#    {key} (the operator reads the releases with it):\n"
                 f"# oc patch configmap/{name_cm} -n {CONFIG_NAMESPACE} --type=merge \\\n"
                 f"#     --patch-file={UPDATE_SERVICE_CA_FILE}\n" + dump_yaml(ca_merge_patch(key, pem)))
    else:
        text += (f"\n# 3. add the mirror's CA under the key {CA_KEY} (beside its\n"
                 "#    host..port key) to the ConfigMap image.config's additionalTrustedCA names\n")
    text += ("\n# 4. point the cluster at it (clusterversion spec.upstream) once the\n"
             "#    UpdateService is ready:\n" + upstream_patch_commands(name) + "\n")
    versions = [r.version for r in prepared.releases] or [v for v in (release.version,) if v]
    ack = sigstore_ack_lines(versions, plan_file)
    if ack:
        prose = " ".join(line.replace("`", "") for line in ack if line and not line.startswith("```"))
        text += "\n" + "\n".join("# " + line for line in textwrap.wrap("5. " + prose, 76)) + "\n"
        text += admin_ack_command() + "\n"
    return Document("updateservice", "Update service", text)


# -- the equivalent oc commands of a copy: one spelling for every step that shows them ---------------------

def oc_release_mirror(auth: str, source: str, target: str, to_release_image: str | None = None) -> str:
    """``oc adm release mirror`` straight into a registry (``to_release_image`` None: oc's default)."""
    command = f"oc adm release mirror -a {auth} \\\n    --from={source} \\\n    --to={target}"
    return command + (f" \\\n    --to-release-image={to_release_image}" if to_release_image else "")


# The medium is an OCI layout with mirror-wizard's bundle around it: oc's --to-dir/--from-dir read and
# write oc's own directory format, so its route is never offered for this folder (issue 26).
OC_DIR_NOTE = ("# oc adm release mirror --to-dir / oc image mirror --from-dir use oc's own folder format, "
               "not this one:\n# use one route on both sides (the runbook's section 3 has skopeo's way too)")


def medium_to_dir(auth: str, directory: str, what: str) -> str:
    """The release onto removable media, in the medium's format (an OCI layout and its bundle). ``what``:
    ``--from SPEC``, or an update path's ``--channel … --from-version … --to-version …``."""
    return f"mirror-wizard release mirror -a {auth} \\\n    {what} --to-dir {directory}"


def medium_from_dir(auth: str, directory: str, target: str) -> str:
    """The medium's releases (every one of an update path) into the registry."""
    return f"mirror-wizard release mirror -a {auth} \\\n    --from-dir {directory} --to {target}"


def mirror_step_commands(plan: Plan, auth: str, *, path: list[tuple[str, str]] | None = None,
                         mapping_file: str = SAMPLES_MAPPING_FILE, plan_file: str = "plan.yaml") -> list[str]:
    """What the Mirror step does, by hand, for the plan as it is (``auth`` quoted already): the release
    (every release of an update path, oc one at a time) straight to the registry, onto the medium or from
    it, and the samples; each command with the plan's flags (login, CAs, release keys, graph file,
    to-release-image) from core.runbook's one generator. ``path``: the update path's (version, digest)
    pairs as read; ``mapping_file``: where the run writes the samples mapping."""
    commands: list[str] = []
    release = plan.release
    wrap = " \\\n    "
    if release is not None:
        if release.mode == ReleaseMode.REGISTRY:
            if release.is_path:
                commands.append("# the whole update path in one copy (shared layers once):\n"
                                + release_mirror_command(plan, auth, sep=wrap))
                commands.append("# or with oc, one release at a time: every release of the path")
            commands += oc_release_mirror_commands(plan, auth, path)
        else:
            commands += [release_mirror_command(plan, auth, sep=wrap), OC_DIR_NOTE]
    if plan.samples is not None:
        if release is not None and release.mode != ReleaseMode.REGISTRY:
            # A to-dir run writes the samples into the medium beside the release; a from-dir run uploads them
            # from it: oc image mirror -f would push to (or read from) the registries instead.
            side = "writes them onto" if release.mode == ReleaseMode.TO_DIR else "uploads them from"
            commands.append(f"# the samples images travel in the medium beside the release: the run below {side}\n"
                            f"# it (by hand: skopeo, the runbook's section 4)")
        else:
            skip = " --skip-missing" if plan.options.skip_missing else ""
            mapping = shell_quote(mapping_file)
            commands.append(f"# the samples, from the mapping the run writes ({mapping}); or oc's line below\n"
                            f"mirror-wizard image mirror {' '.join(plan_flags(plan, auth, []))} -f {mapping}"
                            f" --keep-manifest-list{skip}")
            commands.append(oc_samples_mirror(auth, skip_missing=plan.options.skip_missing, mapping=mapping))
    commands.append(f"# or all of it, resumable:\nmirror-wizard run {shell_quote(plan_file)}")
    return commands


def oc_samples_mirror(auth: str, *, skip_missing: bool = False, mapping: str = SAMPLES_MAPPING_FILE) -> str:
    """``oc image mirror -f``: the samples images, from the mapping file the run writes (``auth`` quoted
    already); ``skip_missing``: the plan's options.skip_missing."""
    return oc_image_mirror_command(auth, mapping, skip_missing=skip_missing, keep_manifest_list=True)


def apply_commands(prepared: Prepared | None, out: Path) -> list[str]:
    """The ``oc`` commands that apply, by hand, the files core.run.write_outputs writes to ``out`` (what the
    wizard's Apply and ``mirror-wizard apply`` do, merges aside); ``prepared`` None: not computed yet."""
    commands: list[str] = []
    instructions = prepared.instructions if prepared is not None else None
    if prepared is None:
        commands.append(f"oc apply -f {shell_quote(str(out / IDMS_FILE))}   # 4.13 and later\n"
                        f"# a release before 4.13: oc apply -f {shell_quote(str(out / ICSP_FILE))}")
    elif instructions is not None:  # the one mirror set written for this release
        commands.append(f"oc apply -f {shell_quote(str(out / instructions.cluster_file))}   # its "
                        f"{instructions.cluster_kind}")
    if prepared is not None and prepared.ca is not None:
        commands.append(f"oc apply -f {shell_quote(str(out / REGISTRY_CONFIG_FILE))}   # the CA ConfigMap\n"
                        "# already there? keep its other keys: oc set data configmap/registry-config \\\n"
                        "#     -n openshift-config --from-file=<host..port>=<ca.crt>")
        commands.append("oc patch image.config.openshift.io/cluster --type=merge \\\n"
                        f"    --patch-file={shell_quote(str(out / IMAGE_CONFIG_PATCH_FILE))}")
    if prepared is not None:
        commands += samples_patch_commands(prepared)
    release = prepared.plan.release if prepared is not None else None
    if release is not None and release.graph_image:

        # updates inside the cluster, once the OpenShift Update Service operator is installed
        if prepared is not None and prepared.ca is not None:
            commands.append("oc patch configmap/registry-config -n openshift-config --type=merge \\\n"
                            f"    --patch-file={shell_quote(str(out / UPDATE_SERVICE_CA_FILE))}   # updateservice-registry")
        commands.append(f"oc apply -f {shell_quote(str(out / UPDATE_SERVICE_FILE))}   # the UpdateService")
    commands.append("oc get mcp   # wait until every pool shows UPDATED=True")
    return commands


def samples_patch_commands(prepared: Prepared) -> list[str]:
    """The ``oc patch`` that points the samples operator at the mirror (none without samples)."""
    samples = prepared.samples
    return [c for c in samples.commands if c.startswith("oc patch")] if samples is not None else []


__all__ = ["OC_DIR_NOTE", "Document", "apply_commands", "cluster_documents", "update_service_document",
            "medium_from_dir", "medium_to_dir", "mirror_step_commands",
           "oc_release_mirror", "oc_samples_mirror", "samples_patch_commands"]
