"""The documents a cluster gets for a prepared plan, each with the commands that apply it: the wizard's
Done step shows them one per tab; the files themselves are written by core.run.write_outputs and the
whole procedure by core.runbook.

One generator, so the tab's text, the file and the runbook say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..filenames import IMAGE_CONFIG_PATCH_FILE, REGISTRY_CONFIG_FILE, SAMPLES_MAPPING_FILE
from ..mirror_config import ICSP_FILE, IDMS_FILE
from ..run import Prepared
from ..text import shell_quote
from ..yamlout import dump_yaml


@dataclass(frozen=True)
class Document:
    """One document for the cluster: a short key (``idms``), a title (``IDMS``) and its text with the
    commands that apply it, as comments."""

    key: str
    title: str
    text: str


def cluster_documents(prepared: Prepared) -> list[Document]:
    """Everything the cluster gets: install-config's mirror sources, the IDMS and ICSP, the CA ConfigMap
    (and the image.config patch), the release signatures, the samples operator's Config."""
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
        from ..signatures import configmap_yaml  # pysequoia: imported only when there are signatures

        out.append(Document("signatures", "Signatures", "# release signatures: a disconnected cluster accepts an "
                            "update only with these\n" + "---\n".join(configmap_yaml(c) for c in signatures)))
    samples = prepared.samples
    if samples is not None:
        out.append(Document("samples", "Samples", samples.config_yaml() + "\n# then\n"
                            + "\n".join(samples_patch_commands(prepared))))
    return out


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


def oc_samples_mirror(auth: str) -> str:
    """``oc image mirror -f``: the samples images, from the mapping file the run writes."""
    return f"oc image mirror -a {auth} -f {SAMPLES_MAPPING_FILE} --keep-manifest-list=true"


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
    commands.append("oc get mcp   # wait until every pool shows UPDATED=True")
    return commands


def samples_patch_commands(prepared: Prepared) -> list[str]:
    """The ``oc patch`` that points the samples operator at the mirror (none without samples)."""
    samples = prepared.samples
    return [c for c in samples.commands if c.startswith("oc patch")] if samples is not None else []


__all__ = ["OC_DIR_NOTE", "Document", "apply_commands", "cluster_documents", "medium_from_dir", "medium_to_dir",
           "oc_release_mirror", "oc_samples_mirror", "samples_patch_commands"]
