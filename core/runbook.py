"""The runbook: one Markdown document, in the procedure's order, with every command and YAML document
for the choices in a plan. It is what a first-time admin keeps next to the cluster.

It never contains a password: the credentials step shows how to make the ``auth`` value, with
placeholders where the secret goes.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from .plan import Plan

PRODUCT_REPO = "openshift-release-dev"
RELEASE_NAME = "ocp-release"


@dataclass
class RunbookParts:
    """What was computed for the plan (each part optional: the runbook says how to get what is missing)."""

    release_version: str | None = None
    release_architecture: str | None = None
    release_components: int | None = None
    release_bytes: int | None = None
    instructions: Any = None          # core.mirror_config.MirrorInstructions
    samples: Any = None               # core.samples.SamplesPlan
    ca: Any = None                    # core.ca.CAManifests
    extra_notes: list[str] = field(default_factory=list)


def _q(value: str) -> str:
    return shlex.quote(value)


def _code(text: str, lang: str = "") -> str:
    return f"```{lang}\n{text.rstrip()}\n```\n"


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return f"{n} B"


def render_runbook(plan: Plan, parts: RunbookParts | None = None) -> str:
    parts = parts or RunbookParts()
    mirror = plan.mirror.registry
    auth = plan.auth_file or "<path to your merged pull secret>"
    out: list[str] = ["# Mirroring runbook", ""]
    out += [f"Mirror registry: `{mirror}`. Made by mirror-wizard from the plan it saved; every step lists",
            "the `oc` commands that do the same, so the procedure can be repeated by hand.", ""]

    out += ["## 1. Credentials", "",
            "The pull secret from console.redhat.com lets the mirror host read Red Hat's registries. The mirror",
            "registry's login is added to it as one more `auths` entry whose `auth` is base64 of `user:password`.", "",
            _code(f"echo -n '<user_name>:<password>' | base64 -w0\n"
                  f"# add to {auth}:\n"
                  f'#   "auths": {{ "{mirror}": {{ "auth": "<that base64 text>", "email": "you@example.com" }} }}', "sh"),
            "With mirror-wizard (the password is read from standard input, never from the command line):", "",
            _code(f"mirror-wizard credentials add --pull-secret pull-secret.json --registry {mirror} \\\n"
                  f"    --username <user_name> --password-stdin --remember -o {_q(auth)}\n"
                  f"mirror-wizard credentials check -a {_q(auth)}", "sh")]

    out += _release_section(plan, parts, auth)
    out += _samples_section(plan, parts, auth)
    out += _ca_section(plan, parts)
    out += ["## 6. Check", "",
            _code("oc get imagecontentsourcepolicy,imagedigestmirrorset\n"
                  "oc get configs.samples.operator.openshift.io/cluster -o yaml\n"
                  "oc get is -n openshift   # every mirrored stream imports; skipped ones are absent", "sh")]
    for note in parts.extra_notes:
        out.append(f"> {note}")
    return "\n".join(out).rstrip() + "\n"


def _release_section(plan: Plan, parts: RunbookParts, auth: str) -> list[str]:
    release = plan.release
    out = ["## 2. Release images", ""]
    if release is None:
        return out + ["This plan mirrors no release.", ""]
    version = parts.release_version or release.version or "<release_version>"
    arch = parts.release_architecture or release.architecture
    target = release.target or f"{plan.mirror.registry}/ocp4/openshift4"
    registry, _, repository = target.partition("/")
    to_release = release.to_release_image or f"{target}:{version}-{arch}"
    if parts.release_components is not None:
        size = f", {_human(parts.release_bytes)} of layers" if parts.release_bytes is not None else ""
        out += [f"Release {version} ({arch}): {parts.release_components} component images{size}.", ""]
    out += ["The variables the procedure uses:", "",
            _code(f"OCP_RELEASE={_q(version)}\nLOCAL_REGISTRY={_q(registry)}\nLOCAL_REPOSITORY={_q(repository)}\n"
                  f"PRODUCT_REPO={PRODUCT_REPO}\nLOCAL_SECRET_JSON={_q(auth)}\nRELEASE_NAME={RELEASE_NAME}\n"
                  f"ARCHITECTURE={_q(arch)}" + (f"\nREMOVABLE_MEDIA_PATH={_q(release.directory)}" if release.directory else ""), "sh")]
    source = release.source or f"quay.io/{PRODUCT_REPO}/{RELEASE_NAME}:{version}-{arch}"
    if release.mode == "registry":
        out += ["Mirror straight into the registry:", "",
                _code(f"mirror-wizard release mirror -a {_q(auth)} --from {source} --to {target} \\\n"
                      f"    --to-release-image {to_release}\n"
                      f"# oc: oc adm release mirror -a ${{LOCAL_SECRET_JSON}} --from={source} \\\n"
                      f"#       --to=${{LOCAL_REGISTRY}}/${{LOCAL_REPOSITORY}} --to-release-image={to_release}", "sh")]
    else:
        directory = release.directory or "<removable media path>"
        out += ["On the connected host, write the release to removable media:", "",
                _code(f"mirror-wizard release mirror -a {_q(auth)} --from {source} --to-dir {_q(directory)}\n"
                      f"# oc: oc adm release mirror -a ${{LOCAL_SECRET_JSON}} --to-dir={directory} {source}", "sh"),
                "Carry the media to the mirror host, then upload it:", "",
                _code(f"mirror-wizard release mirror -a {_q(auth)} --from-dir {_q(directory)} --to {target}\n"
                      f"# oc: oc image mirror -a ${{LOCAL_SECRET_JSON}} --from-dir={directory} \\\n"
                      f"#       \"file://openshift/release:{version}*\" {target}", "sh")]
    instructions = parts.instructions
    if instructions is not None:
        out += ["Add this to `install-config.yaml` (new clusters):", "",
                _code(instructions.image_content_sources_yaml(), "yaml"),
                "(Newer installers read the same as `imageDigestSources`:)", "",
                _code(instructions.image_digest_sources_yaml(), "yaml"),
                "For a running cluster apply one of these (ImageDigestMirrorSet on 4.13 and later):", "",
                _code(_yaml(instructions.idms()), "yaml"), _code(_yaml(instructions.icsp()), "yaml")]
    else:
        out += ["The `imageContentSources` block is printed by the mirror command; keep it for install-config.yaml.", ""]
    out += ["Extract the installer from the mirrored release, so it installs exactly these images:", "",
            _code(f"mirror-wizard release extract -a {_q(auth)} --command openshift-install --to . {to_release}\n"
                  f"# oc: oc adm release extract -a ${{LOCAL_SECRET_JSON}} --command=openshift-install {to_release}", "sh")]
    return out


def _samples_section(plan: Plan, parts: RunbookParts, auth: str) -> list[str]:
    samples = plan.samples
    out = ["## 3. Samples image streams", ""]
    if samples is None:
        return out + ["This plan mirrors no samples image streams. Either set the Cluster Samples Operator to",
                      "`Removed`, or mirror the streams you need later.", ""]
    mirror = samples.mirror or plan.mirror.registry
    sample_plan = parts.samples
    if sample_plan is not None:
        out += [f"{len(sample_plan.included)} image streams mirrored ({sample_plan.images} images), "
                f"{len(sample_plan.skipped)} skipped.", "",
                "Images to copy (`SRC=DST`, saved as `samples-mapping.txt`):", "",
                _code(sample_plan.mapping_text() or "# nothing to copy"),
                _code(f"mirror-wizard image mirror -a {_q(auth)} -f samples-mapping.txt\n"
                      f"# oc: oc image mirror -a ${{LOCAL_SECRET_JSON}} -f samples-mapping.txt", "sh"),
                "Point the operator at the mirror and skip what was not mirrored:", "",
                _code(sample_plan.config_yaml(), "yaml")]
        out += [_code("\n".join(c for c in sample_plan.commands if not c.startswith("oc image mirror")), "sh")]
        for note in sample_plan.notes:
            out.append(f"> {note}")
        out.append("")
    else:
        out += [_code(f"mirror-wizard samples plan --imagestreams {_q(samples.path or '<streams>')} --mirror {mirror}", "sh")]
    return out


def _ca_section(plan: Plan, parts: RunbookParts) -> list[str]:
    out = ["## 4. Trust the mirror registry's CA", ""]
    registry = plan.mirror.registry
    ca_file = plan.mirror.ca_file or "<path to ca.crt>"
    key = registry.replace(":", "..")
    out += ["The cluster must trust the CA that signed the mirror's certificate (which needs a Subject",
            "Alternative Name for the host name clients use).", ""]
    if parts.ca is not None:
        out += [_code(parts.ca.yaml(), "yaml"), _code("\n".join(parts.ca.commands), "sh")]
    else:
        out += [_code(f"oc create configmap registry-config --from-file={key}={_q(ca_file)} -n openshift-config\n"
                      "oc patch image.config.openshift.io/cluster --type=merge \\\n"
                      "    --patch '{\"spec\":{\"additionalTrustedCA\":{\"name\":\"registry-config\"}}}'", "sh")]
    out += ["## 5. Install or update", "",
            "Install with the extracted `openshift-install` (with the imageContentSources above in",
            "install-config.yaml), or apply the mirror set to a running cluster.", ""]
    return out


def _yaml(data: Any) -> str:
    from .yamlout import dump_yaml

    return dump_yaml(data)
