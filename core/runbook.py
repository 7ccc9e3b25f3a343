"""The runbook: one Markdown document, in the procedure's order, with every command and YAML document
for the choices in a plan. It is what a first-time admin keeps next to the cluster.

The order is the procedure's (sections 3.1 to 3.4): the mirror host and its registry, credentials, the
release mirror (and the installer extracted from it), the samples images, install-config.yaml, then
on the running cluster the CA ConfigMap and image.config patch *before* the samples operator patch,
because the operator imports from the mirror only once the cluster trusts the mirror's CA.

It never contains a password: the credentials step shows how to make the ``auth`` value, with
placeholders where the secret goes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .ca import configmap_key
from .endpoints import RegistryLocation
from .errors import InputError, MirrorError
from .filenames import SAMPLES_CONFIG_FILE, SAMPLES_MAPPING_FILE
from .graph_image import (
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
from .plan import Plan, ReleaseMode
from .reference import LOOPBACK_NOTE, is_loopback_host, parse_reference
from .release import LAYOUT_REPOSITORY
from .release_tag import release_image_in_mirror, release_tag
from .samples import oc_image_mirror_command, samples_layout_name
from .signatures import configmap_yaml
from .text import human_bytes, shell_quote
from .yamlout import dump_yaml

if TYPE_CHECKING:
    from .ca import CAManifests
    from .mirror_config import MirrorInstructions
    from .samples import SamplesPlan

PRODUCT_REPO = "openshift-release-dev"
RELEASE_NAME = "ocp-release"
# Every platform, digests unchanged: the cluster pulls release components by digest.
SKOPEO_COPY = "skopeo copy --all --preserve-digests"
CA_CONFIGMAP = "registry-config"
SAMPLES_CONFIG = "configs.samples.operator.openshift.io/cluster"
# The cluster-version-operator's admin gate of a 4.20 cluster with mirrors (pkg/risk/adminack and its test
# Test_checkAdminGate): the update to 4.21 waits until openshift-config/admin-acks holds it as "true".
SIGSTORE_GATE = "ack-4.20-sigstore-in-4.21"
ADMIN_ACKS = ("admin-acks", "openshift-config")


@dataclass
class RunbookParts:
    """What was computed for the plan (each part optional: the runbook says how to get what is missing)."""

    release_version: str | None = None
    release_architecture: str | None = None
    release_components: int | None = None
    release_bytes: int | None = None
    instructions: MirrorInstructions | None = None
    samples: SamplesPlan | None = None
    ca: CAManifests | None = None
    plan_file: str | None = None      # the plan's path, for the `mirror-wizard run` lines
    extra_notes: list[str] = field(default_factory=list)
    release_versions: list[str] = field(default_factory=list)  # every release of an update path
    release_digest: str | None = None  # the release the cluster ends at: what `oc adm upgrade` is given
    # Every release of an update path in path order, (version, digest): the cluster updates one hop at a time.
    release_path: list[tuple[str, str]] = field(default_factory=list)
    signature_configmaps: list[dict[str, Any]] = field(default_factory=list)  # verified release signatures
    signature_warnings: list[str] = field(default_factory=list)
    # Updates inside the cluster: the plan's graph-data image by digest (``REPO@sha256:…``) once known.
    graph_image_pinned: str | None = None
    # The release key files to name with --release-key instead of the plan's release.keys: a bundle's runbook
    # names the copies it carries (config/release-keys/…), which the far plan leaves to its admin to trust.
    release_key_files: list[str] | None = None


@dataclass
class _Context:
    """What every section needs, worked out once."""

    plan: Plan
    parts: RunbookParts
    auth: str
    tls: str          # " --ca-file X" for every CA file of the plan ("" without)
    plan_file: str

    @property
    def mirror(self) -> str:
        return self.plan.mirror.registry

    @property
    def media(self) -> str | None:
        """The removable-media directory, when the plan goes through one."""
        release = self.plan.release
        if release is None or release.mode == ReleaseMode.REGISTRY:
            return None
        return release.directory or "<removable media path>"


def _code(text: str, lang: str = "") -> str:
    return f"```{lang}\n{text.rstrip()}\n```\n"


def render_runbook(plan: Plan, parts: RunbookParts | None = None) -> str:
    parts = parts or RunbookParts()
    tls = "".join(f" --ca-file {shell_quote(f)}" for f in plan.ca_files())
    ctx = _Context(plan, parts, plan.auth_file or "<path to your merged pull secret>", tls,
                   parts.plan_file or "plan.yaml")
    out: list[str] = ["# Mirroring runbook", ""]
    out += [f"Mirror registry: `{ctx.mirror}`. Made by mirror-wizard from the plan it saved; every step lists",
            "the commands that do the same by hand. Sections 1 to 4 run on the mirror host (or, with removable",
            "media, on the connected host and then the mirror host); 5 is the installation; 6 to "
            f"{9 if plan.release is not None and plan.release.graph_image else 8} need the",
            "running cluster (`oc login` as cluster-admin); 8 proves it all worked.", ""]

    if is_loopback_host(ctx.mirror):
        out += [f"> **The mirror `{ctx.mirror}` is on a loopback address**: {LOOPBACK_NOTE}.", ""]
    if ctx.media is not None:
        out += [f"Everything in sections 3 and 4 at once: `mirror-wizard run {shell_quote(ctx.plan_file)}`.", ""]
    for section in (_host_section, _credentials_section, _release_section, _samples_copy_section,
                    _install_section, _ca_section, _samples_operator_section, _check_section,
                    _update_service_section):
        out += section(ctx)
    for note in parts.extra_notes:
        out.append(f"> {note}")
    return "\n".join(out).rstrip() + "\n"


# -- on the mirror host -------------------------------------------------------------------------------

def _host_section(ctx: _Context) -> list[str]:
    out = ["## 1. The mirror host and its registry", "",
           f"The mirror registry `{ctx.mirror}` serves TLS with a certificate whose Subject Alternative Name",
           "covers the host name clients use."]
    ca_file = ctx.plan.mirror.ca_file
    if ca_file:
        out += [f"The plan trusts it through the CA in `{ca_file}`; check both before copying:", "",
                _code(f"mirror-wizard ca check --registry {ctx.mirror} --ca-file {shell_quote(ca_file)}", "sh")]
    else:
        out += ["", "When it is signed by a private CA, name the CA file in the plan (mirror.ca_file) so every",
                "command and the cluster trust it.", ""]
    insecure = ctx.plan.insecure_hosts()
    if insecure:
        out += [f"The plan allows plain HTTP or unverified TLS for {', '.join(f'`{h}`' for h in insecure)}; the",
                "commands below need `--insecure` for those (it applies to every registry they contact).", ""]
    return out + _proxy_lines(ctx)


def _proxy_lines(ctx: _Context) -> list[str]:
    """The mirror host behind a company proxy: what every command (ours, oc, skopeo) reads."""
    host_port = ctx.mirror.split("/")[0]
    host = urlsplit(f"//{host_port}").hostname or host_port
    options = ctx.plan.options
    if options.proxy:
        return ["", f"The plan sends every request through the proxy in options.proxy"
                    f"{f' (direct: {options.no_proxy})' if options.no_proxy else ''}; oc and skopeo read the same "
                    "from the environment instead:", "",
                _code(f"export HTTPS_PROXY=<the proxy URL> NO_PROXY={shell_quote(options.no_proxy or host)}", "sh")]
    return ["", "Behind a company proxy, set it before any command (mirror-wizard, oc and skopeo all read it); list",
            "the mirror, which is inside your network, as reached directly:", "",
            _code(f"export HTTPS_PROXY=http://<user>:<password>@<proxy host>:<port>   # only if there is one\n"
                  f"export NO_PROXY={host}", "sh"),
            "`mirror-wizard preflight plan.yaml` shows which server goes through the proxy."]


def _credentials_section(ctx: _Context) -> list[str]:
    auth, mirror = ctx.auth, ctx.mirror
    return ["## 2. Credentials", "",
            "The pull secret from console.redhat.com lets the mirror host read Red Hat's registries. The mirror",
            "registry's login is added to it as one more `auths` entry whose `auth` is base64 of `user:password`.", "",
            _code(f"echo -n '<user_name>:<password>' | base64 -w0\n"
                  f"# add to {auth}:\n"
                  f'#   "auths": {{ "{mirror}": {{ "auth": "<that base64 text>", "email": "you@example.com" }} }}', "sh"),
            "With mirror-wizard (the password is read from standard input, never from the command line):", "",
            _code(f"mirror-wizard credentials add --pull-secret pull-secret.json --registry {mirror} \\\n"
                  f"    --username <user_name> --password-stdin -o {shell_quote(auth)}   # --remember: also in the keyring\n"
                  f"mirror-wizard credentials check -a {shell_quote(auth)}{ctx.tls}", "sh")]


def _release_section(ctx: _Context) -> list[str]:
    plan, parts = ctx.plan, ctx.parts
    release = plan.release
    out = ["## 3. Release images", ""]
    if release is None:
        return out + ["This plan mirrors no release.", ""]
    version = parts.release_version or release.version or "<release_version>"
    arch = parts.release_architecture or release.architecture
    target = plan.release_target
    registry, _, repository = target.partition("/")
    # An update path: every release of it is mirrored (the cluster updates through each), not only the last.
    releases = path_releases(plan, parts.release_path) if release.is_path or len(parts.release_path) > 1 else []
    wanted = (_repository(release.to_release_image) if releases and release.to_release_image
              else release.to_release_image)
    to_release = release_image_in_mirror(target, version, arch, wanted)
    if releases:
        names = ", ".join(v for v, _ in releases)
        out += [f"Update path {releases[0][0]} to {releases[-1][0]} ({arch}): every release of it is mirrored "
                f"({names}); the cluster updates through each one (section 5).", ""]
    elif parts.release_components is not None:
        size = f", {human_bytes(parts.release_bytes)} of layers" if parts.release_bytes is not None else ""
        out += [f"Release {version} ({arch}): {parts.release_components} component images{size}.", ""]
    auth = shell_quote(ctx.auth)
    first = f"OCP_RELEASE={shell_quote(version)}\n" if not releases else \
        f"# OCP_RELEASE: each of {' '.join(v for v, _ in releases)} in turn\n"
    out += ["The variables the procedure uses:", "",
            _code(f"{first}LOCAL_REGISTRY={shell_quote(registry)}\nLOCAL_REPOSITORY={shell_quote(repository)}\n"
                  f"PRODUCT_REPO={PRODUCT_REPO}\nLOCAL_SECRET_JSON={auth}\nRELEASE_NAME={RELEASE_NAME}\n"
                  f"ARCHITECTURE={shell_quote(arch)}"
                  + (f"\nREMOVABLE_MEDIA_PATH={shell_quote(release.directory)}" if release.directory else ""), "sh")]
    keys = parts.release_key_files
    if release.mode == ReleaseMode.REGISTRY:
        oc = oc_release_mirror_commands(plan, "${LOCAL_SECRET_JSON}", parts.release_path,
                                        "${LOCAL_REGISTRY}/${LOCAL_REPOSITORY}")
        out += ["Mirror straight into the registry" + (" (the whole update path in one copy):" if releases else ":"),
                "",
                _code(release_mirror_command(plan, auth, keys=keys, sep=" \\\n    ") + "\n"
                      + (f"# oc mirrors one release at a time: {len(oc)} commands\n" if releases else "")
                      + "\n".join("# oc: " + c.replace("\n", "\n#   ") for c in oc), "sh")]
    else:
        out += _removable_media_release(ctx, target, [release_tag(v, arch) for v, _ in releases]
                                        or [release_tag(version, arch)], keys)
    out += ["Extract the installer from the mirrored release, so it installs exactly these images:", "",
            _code(f"mirror-wizard release extract -a {auth}{ctx.tls} --command openshift-install --to . {to_release}\n"
                  f"# oc: oc adm release extract -a ${{LOCAL_SECRET_JSON}} --command=openshift-install {to_release}", "sh")]
    return out


def _removable_media_release(ctx: _Context, target: str, tags: list[str], keys: list[str] | None) -> list[str]:
    directory = ctx.media or "<removable media path>"
    d, auth = shell_quote(directory), shell_quote(ctx.auth)
    release = ctx.plan.release
    several = len(tags) > 1
    near = ctx.plan
    if release is not None and release.mode == ReleaseMode.FROM_DIR:
        near = Plan(**{**ctx.plan.__dict__})  # the connected side's half of the same plan: onto the medium
        near.release = type(release)(**{**release.__dict__, "mode": ReleaseMode.TO_DIR})
    far = Plan(**{**ctx.plan.__dict__})
    if release is not None:
        far.release = type(release)(**{**release.__dict__, "mode": ReleaseMode.FROM_DIR})
    copies = []
    for tag in tags:
        release_name = f"{LAYOUT_REPOSITORY}:{tag}"
        select = f'select(startswith("{release_name}-"))'
        lands = _release_image_for_tag(ctx.plan, target, tag, several)
        copies.append(f"{SKOPEO_COPY} --dest-authfile {auth} \\\n"
                      f"    \"oci:${{MEDIA}}:{release_name}\" docker://{lands}\n"
                      f"jq -r '.manifests[].annotations[\"org.opencontainers.image.ref.name\"] // empty | {select}' \\\n"
                      f"    \"${{MEDIA}}/index.json\" | while read -r name; do\n"
                      f"  {SKOPEO_COPY} --dest-authfile {auth} \\\n"
                      f"      \"oci:${{MEDIA}}:$name\" \"docker://{target}:${{name#{LAYOUT_REPOSITORY}:}}\"\n"
                      "done")
    return [
        "On the connected host, write the release" + ("s of the update path" if several else "")
        + " to removable media (a standard OCI image layout: each",
        f"image is named `{LAYOUT_REPOSITORY}:<version>-<arch>[-<component>]` in it):", "",
        _code(release_mirror_command(near, auth, keys=keys, directory=directory, sep=" \\\n    "), "sh"),
        "Carry the media to the mirror host, then upload it (same tags and digests as a direct mirror"
        + ("; every release on the medium" if several else "") + "):", "",
        _code(release_mirror_command(far, auth, keys=keys, directory=directory, target=target, several=several,
                                     sep=" \\\n    "), "sh"),
        "Without mirror-wizard on the mirror host, skopeo uploads the same directory (it trusts the mirror's",
        f"CA from `/etc/containers/certs.d/{ctx.mirror}/ca.crt`)" + (", one release at a time" if several else "")
        + ":", "",
        _code(f"MEDIA={d}\n" + "\n".join(copies), "sh"),
        "`oc adm release mirror --to-dir` and `oc image mirror --from-dir` are a separate route: they write",
        "and read oc's own directory format, not this OCI layout. Use one route on both sides.", ""]


def _release_image_for_tag(plan: Plan, target: str, tag: str, several: bool) -> str:
    """Where the release tagged ``tag`` lands: the plan's to_release_image (its repository for several
    releases), else the target."""
    release = plan.release
    wanted = release.to_release_image if release is not None else None
    if not wanted:
        return f"{target}:{tag}"
    if several or ":" not in wanted.rpartition("/")[2]:
        return f"{_repository(wanted)}:{tag}"
    return wanted


def _samples_copy_section(ctx: _Context) -> list[str]:
    samples = ctx.plan.samples
    out = ["## 4. Samples images", ""]
    if samples is None:
        return out + ["This plan mirrors no samples image streams. Either set the Cluster Samples Operator to",
                      "`Removed` (section 8), or mirror the streams you need later.", ""]
    sample_plan = ctx.parts.samples
    if sample_plan is None:
        sources = " ".join(f"--imagestreams {shell_quote(p)}" for p in samples.paths) or "--from-cluster"
        mirror = samples.mirror or ctx.mirror
        return out + ["Plan the copies (which images the chosen streams use, and where they land):", "",
                      _code(f"mirror-wizard samples plan {sources} --mirror {mirror} \\\n"
                            f"    --mapping-out {SAMPLES_MAPPING_FILE} --config-out {SAMPLES_CONFIG_FILE}", "sh")]
    out += [f"{len(sample_plan.included)} image streams mirrored ({sample_plan.images} images), "
            f"{len(sample_plan.skipped)} skipped.", "",
            f"Images to copy (`SRC=DST`, saved as `{SAMPLES_MAPPING_FILE}`):", "",
            _code(sample_plan.mapping_text() or "# nothing to copy")]
    if ctx.media is None:
        skip = " --skip-missing" if ctx.plan.options.skip_missing else ""
        oc = oc_image_mirror_command("${LOCAL_SECRET_JSON}", SAMPLES_MAPPING_FILE,
                                     skip_missing=ctx.plan.options.skip_missing)
        out += [_code(f"mirror-wizard image mirror -a {shell_quote(ctx.auth)}{ctx.tls} -f {SAMPLES_MAPPING_FILE}"
                      f"{skip}\n# oc: {oc}", "sh")]
    else:
        out += _removable_media_samples(ctx, sample_plan)
    for note in sample_plan.notes:
        out.append(f"> {note}")
    out.append("")
    return out


def _removable_media_samples(ctx: _Context, sample_plan: Any) -> list[str]:
    """The samples travel with the release, in the same layout, each named by its source reference."""
    directory, auth = ctx.media or "<removable media path>", shell_quote(ctx.auth)
    to_dir, from_dir = [], []
    for src, dst in sample_plan.mapping:
        layout = shell_quote(f"oci:{directory}:{samples_layout_name(RegistryLocation(parse_reference(src)))}")
        to_dir.append(f"{SKOPEO_COPY} --src-authfile {auth} docker://{src} {layout}")
        from_dir.append(f"{SKOPEO_COPY} --dest-authfile {auth} {layout} docker://{dst}")
    plan_file = shell_quote(ctx.plan_file)
    return [
        f"They travel on the removable media with the release: `mirror-wizard run {plan_file}` (mode to-dir)",
        "writes each image into the same directory, named by its source reference. On the mirror host, the",
        "same plan with `release.mode: from-dir` (and the image stream files beside it) uploads them to the",
        "destinations above.", "",
        "The same by hand with skopeo, on the connected host:", "",
        _code("\n".join(to_dir) or "# nothing to copy", "sh"),
        "and on the mirror host:", "",
        _code("\n".join(from_dir) or "# nothing to copy", "sh")]


# -- the release mirror commands of a plan: one home for the runbook, README.txt, Done and the wizard's F1 ----

def plan_flags(plan: Plan, auth: str, keys: list[str] | None = None) -> list[str]:
    """What every release command of the plan needs: the login (``auth`` as the shell should read it), each
    CA file, ``--insecure`` when the plan allows it, and ``--release-key`` for each key the plan trusts
    (``keys``: the files to name instead, e.g. the copies a bundle carries in config/release-keys/)."""
    release = plan.release
    named = (list(release.keys) if release is not None else []) if keys is None else keys
    return ([f"-a {auth}"] + [f"--ca-file {shell_quote(f)}" for f in plan.ca_files()]
            + (["--insecure"] if plan.insecure_hosts() else [])
            + [f"--release-key {shell_quote(k)}" for k in named])


def path_flags(plan: Plan) -> list[str]:
    """An update path as the CLI reads it: the channel, both ends, and the plan's graph (a saved graph file
    is what lets a host without api.openshift.com resolve the path)."""
    release = plan.release
    if release is None or not release.is_path:
        return []
    flags = [f"--channel {shell_quote(release.channel or '<channel>')}",
             f"--from-version {shell_quote(release.from_version or '')} --to-version {shell_quote(release.version or '')}"]
    if release.all_versions:
        flags.append("--all-versions")
    if release.graph_file:
        flags.append(f"--graph-file {shell_quote(release.graph_file)}")
    elif release.graph_url:
        flags.append(f"--graph-url {shell_quote(release.graph_url)}")
    return flags


def to_release_image_flags(plan: Plan, version: str | None = None, *, several: bool = False) -> list[str]:
    """``--to-release-image`` as the plan wants it: for an update path (or a medium holding several
    releases, ``several``) the repository only, each release tagged VERSION-ARCH there (a tag would name
    one image, which the upload refuses); for one release the image itself. None when the plan has none."""
    release = plan.release
    if release is None or not release.to_release_image:
        return []
    if release.is_path or several:
        return [f"--to-release-image {_repository(release.to_release_image)}"]
    image = release_image_in_mirror(plan.release_target, version or release.version or "<release_version>",
                                    release.architecture, release.to_release_image)
    return [f"--to-release-image {image}"]


def _repository(reference: str) -> str:
    """The repository of ``reference`` (its tag dropped); as given when it does not parse."""
    try:
        return parse_reference(reference, default_tag=None).name
    except MirrorError:
        return reference


def release_mirror_command(plan: Plan, auth: str, *, keys: list[str] | None = None, tool: str = "mirror-wizard",
                           directory: str | None = None, target: str | None = None, signer: str = "",
                           several: bool = False, sep: str = " ") -> str:
    """``mirror-wizard release mirror`` for the plan's release (one release, or the whole update path),
    with every flag the plan needs: straight to the registry, onto the medium (``--to-dir``) or from it
    (``--from-dir``). ``directory``/``target`` override the plan's; ``signer``: the bundle key's
    fingerprint (--signer); ``sep``: " \\\\\\n    " to break the line between flags."""
    release = plan.release
    if release is None:
        return ""
    flags = plan_flags(plan, auth, keys)
    where = shell_quote(directory or release.directory or "<removable media path>")
    to = target or plan.release_target or "<local_registry>/<local_repository>"
    if release.mode == ReleaseMode.FROM_DIR:
        parts = [*flags, f"--from-dir {where} --to {to}", *to_release_image_flags(plan, several=several)]
        parts += [f"--signer {signer}"] if signer else []
    else:
        what = path_flags(plan) or [f"--from {release_source(plan)}"]
        if release.mode == ReleaseMode.TO_DIR:
            parts = [*flags, *what, f"--to-dir {where}"]
        else:
            parts = [*flags, *what, f"--to {to}", *to_release_image_flags(plan)]
    # The login, CAs and keys on the first line; what and where each on its own when ``sep`` breaks lines.
    return f"{tool} release mirror " + " ".join(flags) + sep + sep.join(parts[len(flags):])


def release_source(plan: Plan, version: str | None = None) -> str:
    """The release's pull spec: the plan's source, else Red Hat's VERSION-ARCH tag."""
    release = plan.release
    if release is not None and release.source and not release.is_path:
        return release.source
    arch = release.architecture if release is not None else "x86_64"
    version = version or (release.version if release is not None else None) or "<release_version>"
    return f"quay.io/{PRODUCT_REPO}/{RELEASE_NAME}:{release_tag(version, arch)}"


def path_releases(plan: Plan, path: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """Every release the plan mirrors, (version, pull spec), oldest first: the plan's pins (by digest)
    when it keeps them, else each version's tag; ``path``: the (version, digest) pairs as read. One
    release: just that one. Versions unknown yet: the two ends, with "…" between."""
    release = plan.release
    if release is None:
        return []
    if not release.is_path:
        return [(release.version or "<release_version>", release_source(plan))]
    versions = [v for v, _ in path or []]
    if release.releases and (not versions or len(release.releases) == len(versions)):
        return [(versions[i] if versions else pin.rpartition("@")[2][:19], pin)
                for i, pin in enumerate(release.releases)]
    if versions:
        return [(v, release_source(plan, v)) for v in versions]
    start, end = release.from_version or "<from_version>", release.version or "<to_version>"
    return [(start, release_source(plan, start)), ("…", ""), (end, release_source(plan, end))]


def oc_release_mirror_commands(plan: Plan, auth: str, path: list[tuple[str, str]] | None = None,
                               target: str | None = None) -> list[str]:
    """``oc adm release mirror`` straight into the registry, one per release (oc mirrors one at a time):
    every release of an update path, each with its own --to-release-image."""
    release = plan.release
    if release is None:
        return []
    to = target or plan.release_target or "<local_registry>/<local_repository>"
    commands = []
    for version, spec in path_releases(plan, path):
        if version == "…":
            commands.append("# … each release in between (mirror-wizard release list shows them) …")
            continue
        known = not version.startswith("sha256:")  # pins whose versions were not read yet: oc's default tag
        wanted = (_repository(release.to_release_image) if release.is_path and release.to_release_image
                  else release.to_release_image)
        image = release_image_in_mirror(to, version, release.architecture, wanted) if known else None
        command = f"oc adm release mirror -a {auth} \\\n    --from={spec} \\\n    --to={to}"
        commands.append(command + (f" \\\n    --to-release-image={image}" if image else ""))
    return commands


# -- installing ---------------------------------------------------------------------------------------

def _install_section(ctx: _Context) -> list[str]:
    out = ["## 5. Install the cluster, or update a running one", ""]
    instructions = ctx.parts.instructions
    pieces = [f"pullSecret: '<the contents of {ctx.auth}>'"]
    ca_pem = _ca_pem(ctx)
    if ctx.plan.mirror.ca_file or ca_pem:
        pem = ca_pem or "-----BEGIN CERTIFICATE-----\n<the contents of the CA file>\n-----END CERTIFICATE-----\n"
        indented = "".join(f"  {line}\n" for line in pem.rstrip("\n").splitlines())
        pieces.append(f"additionalTrustBundle: |\n{indented.rstrip()}")
    out += ["New installation: add to `install-config.yaml` the pull secret, the mirror's CA as",
            "`additionalTrustBundle` (the PEM of its private CA, so every node trusts the mirror), and where",
            "the release images are mirrored:", ""]
    if instructions is not None:
        # The one block this release's installer reads: it refuses a config that sets both.
        pieces.append(instructions.install_config_yaml().rstrip())
    else:
        pieces.append("imageDigestSources:   # printed by the release mirror command (section 3); "
                      "imageContentSources before 4.14")
    out += [_code("\n".join(pieces), "yaml")]
    if instructions is not None:
        out += ["Run the extracted `openshift-install` (section 3). To move a running cluster to this mirror",
                f"instead, apply this {instructions.cluster_kind}:", "",
                _code(_yaml(instructions.cluster_set()), "yaml")]
    else:
        out += ["Run the extracted `openshift-install` (section 3).", ""]
    return out + _signatures_block(ctx) + _upgrade_block(ctx)


def _upgrade_block(ctx: _Context) -> list[str]:
    """An update ends with starting it, after the signature ConfigMaps above: update_hop_lines."""
    release = ctx.plan.release
    if release is None or not release.is_path:
        return []
    parts = ctx.parts
    repository = (parts.instructions.release_image or "").rsplit(":", 1)[0] if parts.instructions else ""
    hops = parts.release_path or ([(parts.release_version or release.version or "<version>",
                                    parts.release_digest or "sha256:<digest of the release>")])
    return update_hop_lines(repository or "<mirror>/<repository>", hops) + [""]


def update_hop_lines(repository: str, path: list[tuple[str, str]]) -> list[str]:
    """The one text that starts the update of a running cluster along an update path (the runbook, Done).

    The cluster is told each release by digest in the mirror (it cannot read the update graph from a
    disconnected network, so ``--allow-explicit-upgrade`` skips that check): therefore one hop at a time,
    in path order, each started only after the one before finished — a jump over a release of the path
    could take an edge the graph only allows conditionally (why that release was mirrored)."""
    hops = path[1:] if len(path) > 1 else path  # the first release of a path is the one the cluster runs
    start = f" from {path[0][0]}" if len(path) > 1 else ""
    out = [f"Then update the cluster{start} one release at a time, in this order, once the mirror set, the CA and",
           "the signature ConfigMaps are applied (the cluster checks the signature of each digest it is given).",
           "Start each hop only after the one before finished: `oc adm upgrade` shows the progress, and",
           "`oc get clusterversion` must show the version reached with PROGRESSING False.", ""]
    for version, digest in hops:
        out += [f"Update to {version}:", "",
                _code(f"oc adm upgrade --allow-explicit-upgrade --to-image={repository}@{digest}\n"
                      f"oc get clusterversion   # wait until VERSION is {version} and PROGRESSING is False", "sh")]
    return out


def _signatures_block(ctx: _Context) -> list[str]:
    """The release signatures a disconnected cluster needs before it accepts an update."""
    parts = ctx.parts
    if not parts.signature_configmaps and not parts.signature_warnings:
        return []
    out = ["Release signatures: a disconnected cluster reads them from ConfigMaps in `openshift-config-managed`",
           "(it cannot reach the signature stores) and refuses an update without them. Apply each one",
           "(`oc apply -f signature-sha256-<first 16 hex>.json`, written next to this runbook; replace an",
           "existing one only after checking it names the same release digest):", ""]
    if len(parts.release_versions) > 1:
        out[-1:-1] = [f"The update path mirrors {', '.join(parts.release_versions)}; each has its own."]

    for configmap in parts.signature_configmaps:
        out += [_code(configmap_yaml(configmap), "yaml")]
    out += [f"> {warning}" for warning in parts.signature_warnings]
    return out + [""]


def _ca_pem(ctx: _Context) -> str | None:
    ca = ctx.parts.ca
    if ca is None:
        return None
    data = (ca.configmap or {}).get("data") or {}
    return next(iter(data.values()), None)


# -- on the running cluster ---------------------------------------------------------------------------

def _ca_section(ctx: _Context) -> list[str]:
    out = ["## 6. On the running cluster: trust the mirror registry's CA", ""]
    if ctx.media is None:  # a to-dir plan is applied on the far side, after the upload
        plan_file = shell_quote(ctx.plan_file)
        out += ["On a running cluster, the mirror sets, the release signatures (section 5), the CA (this section)",
                "and the samples operator's Config (section 7) can be applied in that order in one go, merged into",
                f"what the cluster has: `mirror-wizard apply {plan_file} --dry-run` shows every object and the",
                f"cluster it would change, then `mirror-wizard apply {plan_file}` asks and applies.", ""]
    registry = ctx.mirror
    ca_file = ctx.plan.mirror.ca_file or "<path to ca.crt>"
    out += ["Image stream imports (the samples among them) use the cluster image configuration, not the",
            "nodes' trust: give it the CA that signed the mirror's certificate before the samples operator",
            "imports anything from the mirror.", ""]
    if ctx.parts.ca is not None:
        out += [_code(ctx.parts.ca.yaml(), "yaml"), _code("\n".join(ctx.parts.ca.commands), "sh")]
        out += [f"> {note}" for note in ctx.parts.ca.notes] + [""]
    else:
        key = _configmap_key(registry)
        patch = json.dumps({"spec": {"additionalTrustedCA": {"name": CA_CONFIGMAP}}}, separators=(",", ":"))
        out += [_code(f"oc create configmap {CA_CONFIGMAP} --from-file={key}={shell_quote(ca_file)} -n openshift-config\n"
                      f"oc patch image.config.openshift.io/cluster --patch '{patch}' --type=merge", "sh")]
    return out


def _configmap_key(registry: str) -> str:
    try:
        return configmap_key(registry)
    except InputError:  # an IPv6 mirror has no key; `mirror-wizard ca manifests` explains why
        return registry.replace(":", "..")


def _samples_operator_section(ctx: _Context) -> list[str]:
    samples = ctx.plan.samples
    out = ["## 7. On the running cluster: the Cluster Samples Operator", ""]
    if samples is None:
        patch = json.dumps({"spec": {"managementState": "Removed"}}, separators=(",", ":"))
        return out + ["No samples are mirrored: keep the operator `Removed` (as a disconnected install leaves it):", "",
                      _code(f"oc patch {SAMPLES_CONFIG} --type=merge --patch '{patch}'", "sh")]
    sample_plan = ctx.parts.samples
    out += ["If the cluster itself has a proxy (`oc get proxy/cluster -o jsonpath='{.spec}'` is not empty), its",
            "`noProxy` must list the mirror so nodes pull from it directly, and the operator then assumes",
            "registry.redhat.io is reachable and installs `Managed` even without a mirror: the patch below is",
            "what points it at the mirror.", ""]
    out += ["With the mirror trusted (section 6), point the operator at it, skip what was not mirrored, and set",
            "it `Managed` so it imports the mirrored streams:", ""]
    if sample_plan is None:
        return out + [f"Apply the `{SAMPLES_CONFIG_FILE}` that `mirror-wizard samples plan` wrote (section 4):", "",
                      _code(f"oc apply -f {SAMPLES_CONFIG_FILE}   # or: oc edit {SAMPLES_CONFIG}", "sh")]
    commands = [c for c in sample_plan.commands if not c.startswith("oc image mirror")]
    return out + [_code(sample_plan.config_yaml(), "yaml"), _code("\n".join(commands), "sh")]


def crio_pull_command(node: str, host: str) -> str:
    """The command that shows, on a node, where CRI-O really pulled from. ``crictl images`` lists mirrored
    images under their source names, so only CRI-O's own log ("Trying to access …") proves the mirror."""
    return (f"oc debug node/{shell_quote(node)} -- chroot /host journalctl -u crio --since=-2h "
            f"| grep 'Trying to access' | grep -F {shell_quote(host)}")


def admin_ack_command(gate: str = SIGSTORE_GATE) -> str:
    """The patch that acknowledges an admin gate (openshift-config/admin-acks, value "true")."""
    patch = json.dumps({"data": {gate: "true"}}, separators=(",", ":"))
    return f"oc -n {ADMIN_ACKS[1]} patch configmap {ADMIN_ACKS[0]} --type=merge --patch '{patch}'"


def _minor(version: str) -> tuple[int, int] | None:
    parts = version.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None


def sigstore_ack_lines(versions: list[str], plan_file: str = "plan.yaml") -> list[str]:
    """What the admin must do before a 4.20 cluster updates to one of ``versions`` (Markdown lines; none when
    every version is below 4.21). The Done step and the runbook say it the same way."""
    targets = [v for v in versions if (_minor(v) or (0, 0)) >= (4, 21)]
    if not targets:
        return []
    components = any((_minor(v) or (0, 0)) >= (4, 22) for v in targets)
    return [
        f"Before updating a 4.20 cluster to {', '.join(targets)}: a 4.20 cluster with mirrors configured holds the",
        f"update behind the admin gate `{SIGSTORE_GATE}`, because from 4.21 it checks the release image's",
        "Sigstore signature through its mirrors" + (" (from 4.22 each component image's signature as well)" if components
                                                    else "") + ". The mirror must hold the `.sig` tags first:",
        f"`mirror-wizard verify {shell_quote(plan_file)} --cluster` checks them (its Sigstore signatures line) and",
        "says whether the gate is acknowledged. Once that line passes, acknowledge it:", "",
        _code(admin_ack_command(), "sh"),
    ]


def _check_section(ctx: _Context) -> list[str]:
    plan_file = shell_quote(ctx.plan_file)
    out = ["## 8. Verify: the mirror and the cluster are ready", "",
           "Once the cluster has the changes above, check everything at once (read-only; the exit status is 0",
           "only when every check it ran passed, and each failing line names its fix). Run it again while the",
           "machine config pools roll out the new mirror and CA settings:", "",
           _code(f"mirror-wizard verify {plan_file} --cluster", "sh"),
           "It checks the mirror (every release image by digest, through the mirror sets as CRI-O reads them;",
           "every kept samples tag on samplesRegistry; the skipped streams; the certificate against the CA;",
           "every image the cluster pulls by digest kept by a tag; the Sigstore `.sig` tags 4.21 and 4.22 check)",
           "and, through `oc`, the cluster (image.config trust and the registries it allows, IDMS/ICSP, the",
           "samples operator, imports and their import mode, pools, the 4.20 → 4.21 admin-ack).", "",
           "Registries delete manifests no tag names when they collect garbage (`registry garbage-collect",
           "--delete-untagged`, Quay after its time-machine window): mirroring tags everything it copies, and",
           "verify's \"images kept by a tag\" line finds an image whose tag was moved or never written.", "",
           "The same by hand:", "",
           _code("oc get imagecontentsourcepolicy,imagedigestmirrorset\n"
                 "oc get image.config.openshift.io/cluster -o jsonpath='{.spec.additionalTrustedCA}'\n"
                 "oc get machineconfigpool   # every pool UPDATED=True, UPDATING=False, DEGRADED=False\n"
                 f"oc get {SAMPLES_CONFIG} -o yaml\n"
                 "oc get clusteroperator openshift-samples\n"
                 "oc get is -n openshift   # every mirrored stream imports; skipped ones are absent", "sh")]
    if ctx.plan.samples is not None:
        out += ["A healthy samples operator: the Config's spec has `managementState: Managed`, "
                f"`samplesRegistry: {(ctx.plan.samples.mirror or ctx.mirror)}` and the skipped streams above; its",
                "status.conditions show ConfigurationValid and SamplesExist `True`, ImportImageErrorsExist and",
                "ImageChangesInProgress `False`; `oc get clusteroperator openshift-samples` is Available, not",
                "Progressing, not Degraded. A stream that failed to import says why in",
                "`oc describe is/<name> -n openshift` (a missing tag, the CA, or the mirror's login in the pull",
                "secret).", ""]
    versions = ctx.parts.release_versions or ([ctx.parts.release_version] if ctx.parts.release_version else []) \
        or ([ctx.plan.release.version] if ctx.plan.release is not None and ctx.plan.release.version else [])
    ack = sigstore_ack_lines(versions, ctx.plan_file)
    if ack:
        out += ["### Before updating to 4.21 or later", ""] + ack
    out += ["Pulls really come from the mirror: after a pod pulled an image, CRI-O on its node logs the location",
            f"it used (`crictl images` still shows the source names). Expect `{ctx.mirror}` in every line:", "",
            _code(crio_pull_command("<node>", ctx.mirror), "sh")]
    return out


def _update_service_section(ctx: _Context) -> list[str]:
    """Updates inside the disconnected cluster (the plan's release.graph_image): the OpenShift Update
    Service, its objects from core.graph_image's generators (the same the Done tab and the run write)."""
    release = ctx.plan.release
    if release is None or not release.graph_image:
        return []

    pinned = ctx.parts.graph_image_pinned
    service = update_service(releases_repository(ctx.plan), pinned or release.graph_image)
    key = _configmap_key(ctx.mirror)
    out = ["## 9. On the running cluster: updates inside the cluster (OpenShift Update Service)", "",
           "A disconnected cluster cannot ask Red Hat which updates are safe. The OpenShift Update Service answers",
           "it from inside: it reads the channels and blocked edges from the graph-data image, and the releases",
           f"from the mirror repository `{releases_repository(ctx.plan)}`. Both are in the mirror once section 3 ran:",
           f"the run builds the graph-data image `{release.graph_image}` (from "
           f"`{release.graph_data or 'the update service graph data'}`) before the copy.", "",
           "1. Install the **OpenShift Update Service** operator first, from the mirrored operator catalog",
           f"   (OperatorHub, namespace `{UPDATE_SERVICE_NAMESPACE}`): this plan mirrors the release, not the",
           "   operator catalog, which must already be in the mirror (oc-mirror's operator mirroring).", "",
           f"2. The operator reads the release repository through the CA under the key `{CA_KEY}`: merge it",
           f"   into the ConfigMap image.config's `additionalTrustedCA` names, beside `{key}` (the other keys stay;",
           f"   saved as `{UPDATE_SERVICE_CA_FILE}`):", ""]
    pem = _ca_pem(ctx)
    if pem is not None:
        out += [_code(_yaml(ca_merge_patch(key, pem)), "yaml"),
                _code(f"oc patch configmap/{CA_CONFIGMAP} -n {CONFIG_NAMESPACE} --type=merge \\\n"
                      f"    --patch-file={UPDATE_SERVICE_CA_FILE}", "sh")]
    else:
        out += ["   (the plan names no CA file: add the PEM of the mirror's CA under both keys, e.g. "
                f"`oc set data configmap/{CA_CONFIGMAP} -n {CONFIG_NAMESPACE} --from-file={CA_KEY}=<ca.crt>`)", ""]
    out += [f"3. The `UpdateService` (saved as `{UPDATE_SERVICE_FILE}`), the graph-data image by digest so the",
            "   operator does not keep polling its tag" + ("" if pinned else
                                                        " (the tag below until the mirror holds the image: "
                                                        "once it does, rerun `mirror-wizard runbook` or use Done's "
                                                        "Update service tab for the digest)") + ":", "",
            _code(_yaml(service), "yaml"), _code(f"oc apply -f {UPDATE_SERVICE_FILE}", "sh"),
            "4. Once it is ready, point the cluster version operator at its route (clusterversion `spec.upstream`):",
            "", _code(upstream_patch_commands(service["metadata"]["name"]), "sh"),
            "`oc adm upgrade` then lists the recommended updates of the cluster's channel; section 8's verify",
            "checks the graph-data image, the CA key, and with `--cluster` the `UpdateService` and `spec.upstream`.",
            ""]
    return out


def _yaml(data: Any) -> str:
    return dump_yaml(data)
