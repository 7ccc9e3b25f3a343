"""Writing the removable-media bundle (see core.bundle for what it holds and how it is checked).

After a to-dir copy, :func:`write_bundle` adds around the OCI layout: openshift-install and oc, the
wheelhouse, the far side's plan, the cluster documents and runbook (through core.run, as a run writes
them), README.txt, then SHA256SUMS last, and cuts volumes when asked. core.orchestrate calls it for
every to-dir job (``release mirror --to-dir``, ``run`` of a to-dir plan, the wizard's removable-media
mode); ``media bundle`` calls it for a layout written earlier. A module of its own so the far side's
reading (core.bundle, used by core.run) never imports core.run back.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
import textwrap
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import __version__
from .bundle import (
    BIN_DIR,
    BUNDLE_FILE,
    BUNDLE_KIND,
    BUNDLE_VERSION,
    CLUSTER_DIR,
    CONFIG_DIR,
    FAR_OUTPUT_DIR,
    PACKAGE,
    PLACEHOLDER_TARGET,
    PLAN_FILE,
    README_FILE,
    RELEASE_KEYS_DIR,
    SAMPLES_DIR,
    SIGNATURES_DIR,
    SUMS_FILE,
    SUMS_SIG_FILE,
    VOLUMES_FILE,
    WHEELHOUSE,
    BundleOptions,
    BundleResult,
    ImageGraph,
    Message,
    begin_bundle,
    build_wheelhouse,
    layout_images,
    read_bundle_manifest,
    split_volumes,
    write_sums,
)
from .bundle_sign import SIGNER_FILE, BundleSigner, host_signer, sign_sums, signer_from_file, write_signer_key
from .ca import ca_manifests, load_ca_bundle
from .errors import BundleError, LocalStorageError, MirrorError
from .fsio import atomic_write
from .graph import version_key
from .mirror_config import release_mirror_instructions
from .plan import (
    MirrorRegistry,
    Plan,
    ReleaseChoice,
    ReleaseMode,
    SamplesChoice,
    load_plan,
    plan_from_dict,
    save_plan,
)
from .registry import RegistrySession
from .release import COMMANDS, extract_command, layout_name
from .run import Prepared, write_outputs
from .runbook import release_mirror_command, render_runbook
from .text import human_bytes, plural

__all__ = ["extract_binaries", "write_bundle"]

MIRROR_CA = f"{CONFIG_DIR}/mirror-ca.pem"  # the mirror registry's CA, when the plan or the command named one


async def extract_binaries(directory: Path, releases: list[Any], on_message: Message | None = None) -> list[str]:
    """openshift-install and oc of each release into DIR/bin, read from the layout itself (offline).
    Several releases: DIR/bin/<version>/. Returns warnings for what could not be extracted."""
    warnings: list[str] = []
    async with RegistrySession() as session:  # no credentials: the layout is read from disk
        for info in releases:
            folder = directory / BIN_DIR if len(releases) == 1 else directory / BIN_DIR / info.version
            for command in COMMANDS:
                try:
                    await extract_command(session, f"oci:{directory}:{layout_name(info)}", command, folder)
                except MirrorError as exc:
                    warnings.append(f"{command} of release {info.version} was not extracted: {exc}")
            if on_message:
                on_message(f"bin: openshift-install and oc of {info.version} in {folder}")
    return warnings


def _far_plan(plan: Any, directory: Path, options: BundleOptions,
              releases: list[Any]) -> tuple[Any, list[str], list[str]]:
    """The far side's plan: the release from-dir at ".", files the plan names copied into the bundle
    and named relative to it; returns (plan, notes, the release key files carried, relative)."""

    notes: list[str] = []
    target = options.target or (plan.release.target if plan is not None and plan.release is not None else None)
    if not target:
        target = PLACEHOLDER_TARGET
        notes.append(f"plan.yaml names {PLACEHOLDER_TARGET}: edit mirror.registry and release.target")
    far = _copy_plan(plan, target) if plan is not None else Plan(mirror=MirrorRegistry(registry=""))
    if not far.mirror.registry or far.mirror.registry == PLACEHOLDER_TARGET.split("/", 1)[0]:
        far.mirror.registry = target.split("/", 1)[0]
    far.auth_file = None  # the far side's own credentials: REGISTRY_AUTH_FILE or -a
    far.idms_file = None
    far.output_dir = FAR_OUTPUT_DIR  # the bundle check leaves it aside; on a read-only medium see output_folder
    if len(releases) == 1:
        info = releases[0]
        release = far.release or ReleaseChoice()
        far.release = ReleaseChoice(source=f"{info.source_repository}:{info.tag}" if info.source_repository else "",
                                    channel=release.channel, version=info.version, architecture=info.architecture,
                                    mode=ReleaseMode.FROM_DIR, target=target, directory=".",
                                    to_release_image=options.to_release_image or release.to_release_image)
    elif releases:
        # An update path: the far side uploads every release on the medium, pinned by digest (the oldest
        # first, as the connected side mirrored them), never just the first one.
        ordered = sorted(releases, key=lambda r: version_key(r.version))
        release = far.release or ReleaseChoice()
        far.release = ReleaseChoice(channel=release.channel, from_version=ordered[0].version,
                                    version=ordered[-1].version, architecture=ordered[0].architecture,
                                    mode=ReleaseMode.FROM_DIR, target=target, directory=".",
                                    releases=[f"{r.source_repository}@{r.digest}" for r in ordered]
                                    if all(r.source_repository for r in ordered) else [])
        if release.to_release_image and ":" not in release.to_release_image.rpartition("/")[2]:
            far.release.to_release_image = release.to_release_image  # a repository: each release tagged there
    if far.release is not None and plan is not None and plan.release is not None and plan.release.graph_image:
        # Updates inside the cluster: the graph-data image on the medium goes up with the releases (core.run).
        far.release.graph_image = plan.release.graph_image
    # The release keys the connected side trusted travel as files inside the bundle (covered by SHA256SUMS
    # like the payload), but the far plan does not name them: which keys a host trusts is its admin's answer
    # (--release-key, the wizard's Release keys field), never the medium's (issue 25's rule, as for --signer).
    near_keys = list(plan.release.keys) if plan is not None and plan.release is not None else []
    carried_keys = [_carry(Path(key), directory / RELEASE_KEYS_DIR / f"{number:02d}-{Path(key).name}", directory)
                    for number, key in enumerate(near_keys)]
    if far.mirror.ca_file:
        far.mirror.ca_file = _carry(Path(far.mirror.ca_file), directory / MIRROR_CA, directory)
    elif options.mirror_ca_files:
        far.mirror.ca_file = _carry_cas(options.mirror_ca_files, directory / MIRROR_CA, directory)
        if len(options.mirror_ca_files) > 1:
            notes.append(f"{MIRROR_CA} holds the {len(options.mirror_ca_files)} CAs given with --ca-file (the "
                         "connected side trusted each for every registry and cannot tell which one signs the "
                         "mirror's certificate), so the upload and the cluster trust all of them for the mirror; to "
                         "trust only the mirror's, write the bundle again with --ca-file naming it alone")
    # The far side talks to the mirror registry only (the images come from the medium): a source registry's
    # trust (its CA file, its --insecure) would be carried and passed to the upload for a host it never reaches.
    far_hosts = {far.mirror.registry, target.split("/", 1)[0]}
    far.registries = [trust for trust in far.registries if trust.host in far_hosts]
    for trust in far.registries:
        if trust.ca_file:
            trust.ca_file = _carry(Path(trust.ca_file), directory / CONFIG_DIR / f"{_safe_name(trust.host)}-ca.pem",
                                   directory)
    if far.samples is not None and far.samples.source != "cluster":
        carried = []
        for number, item in enumerate(far.samples.paths):
            source = Path(item)
            carried.append(_carry(source, directory / SAMPLES_DIR / f"{number:02d}-{source.name}", directory))
        far.samples = SamplesChoice(source=far.samples.source, paths=carried, mirror=far.samples.mirror,
                                    include=list(far.samples.include), skip=list(far.samples.skip))
    return far, notes, carried_keys


def _copy_plan(plan: Any, target: str) -> Any:
    data = plan.to_dict()
    mirror = data.get("mirror") or {}
    if not mirror.get("registry"):  # `release mirror --to-dir` names no mirror: the far side's target's host
        data["mirror"] = dict(mirror, registry=target.split("/", 1)[0])
    if data.get("release"):
        data["release"] = dict(data["release"], mode="from-dir", directory=".")
        if not data["release"].get("target"):
            data["release"]["target"] = PLACEHOLDER_TARGET
    return plan_from_dict(data, where="plan")


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


def _carry_cas(sources: tuple[Path, ...], target: Path, directory: Path) -> str:
    """The mirror's CA files as one PEM file in the bundle, in the order given; its path relative to DIR.
    Only the certificates, as parsed and written again (as the cluster's ConfigMap holds them): never a
    private key or whatever else a CA file passed around picked up, which the medium would carry away."""
    certificates = []
    for source in sources:
        certificates += load_ca_bundle(source)  # a file that holds no certificate is refused, named
    atomic_write(target, "".join(cert.pem for cert in certificates))
    return target.relative_to(directory).as_posix()


def _carry(source: Path, target: Path, directory: Path) -> str:
    """Copy a file (or a directory of files) the plan names into the bundle; its path relative to DIR."""
    try:
        if source.is_dir():
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(source, target, symlinks=False)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    except OSError as exc:
        raise LocalStorageError(f"cannot copy {source} into the bundle: {exc.strerror or exc}") from None
    return target.relative_to(directory).as_posix()


def _prune_for_base(directory: Path, images: list[ImageGraph], since: Path, release_digests: set[str]
                    ) -> tuple[dict[str, Any], list[str]]:
    """Leave out the layers the base bundle carried (the far side has them); never a manifest, a config
    or a release image's layer (the far side reads those from the medium)."""
    base = read_bundle_manifest(since)
    carried = set(base["blobs"])
    keep: set[str] = set()
    for image in images:
        keep |= set(image.manifests) | image.configs
        if image.digest in release_digests:
            keep |= set(image.blobs)
    needed = {d for image in images for d in image.blobs}
    omitted = sorted((needed & carried) - keep)
    for digest in omitted:
        try:
            os.unlink(directory / "blobs" / "sha256" / digest.split(":", 1)[1])
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise LocalStorageError(f"cannot leave out {digest} from {directory}: {exc.strerror or exc}") from None
    return {"id": base.get("id"), "created": base.get("created"), "omitted": omitted,
            "releases": base.get("releases") or []}, omitted


def _spaced(fingerprint: str) -> str:
    """As gpg prints it: ten groups of four, two spaces in the middle."""
    groups = [fingerprint[i:i + 4] for i in range(0, len(fingerprint), 4)]
    half = len(groups) // 2
    return " ".join(groups[:half]) + "  " + " ".join(groups[half:])


VENV = "~/mirror-wizard-venv"  # where README.txt and Done's Removable media tab install mirror-wizard
README_WIDTH = 100  # README.txt's prose is wrapped at this width; its commands are never cut

# How a command line of the far side's steps starts, after its indent: anything else is prose ("gpg must say …"
# is a sentence). Commands are never joined or wrapped as prose.
COMMAND_STARTS = (f"{VENV}/", "mirror-wizard ", "sha256sum ", "G=$(", "python3 -m ", "sq ")
LIST_ITEM = re.compile(r"(\d+\.|•) ")  # "1. Install …", "• the whole bundle folder …"
ENDS_SENTENCE = (".", ":", "?")  # a line ending so is a paragraph's last (one paragraph a line elsewhere)


def is_command(line: str) -> bool:
    return line.lstrip().startswith(COMMAND_STARTS)


def split_continued(line: str) -> bool:
    """Whether a command line continues on the next (ends in a backslash outside a trailing comment)."""
    return line.split("  #", 1)[0].rstrip().endswith("\\")


@dataclass
class Paragraph:
    indent: int        # of its first line
    hang: int          # of its further lines (a list item's text, after its marker)
    words: list[str]


def keep_command(line: str, width: int, *, continued: bool = False) -> list[str]:
    return [line]


def reflow(text: str, width: int, wrap_command: Callable[..., list[str]] = keep_command,
           continues: Callable[[str], bool] = split_continued) -> str:
    """``text`` wrapped to ``width``: hard-wrapped prose joined into paragraphs and wrapped again at word
    boundaries (a list item's further lines under its text), command lines given to ``wrap_command`` (README.txt
    keeps them whole; Done's tab cuts them as F1 does), blank lines kept. A word longer than the width stays
    whole. The one wrapping of the far side's steps: README.txt at README_WIDTH, the tab at its own width."""
    if width <= 0:
        return text
    out: list[str] = []
    paragraph: Paragraph | None = None
    last_prose = ""

    def flush() -> None:
        nonlocal paragraph
        if paragraph is not None:
            out.extend(textwrap.wrap(" ".join(paragraph.words), width, initial_indent=" " * paragraph.indent,
                                     subsequent_indent=" " * paragraph.hang, break_long_words=False,
                                     break_on_hyphens=False) or [""])
            paragraph = None

    continued = False
    for line in text.splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if not stripped:
            flush()
            out.append("")
            continued = False
            continue
        if is_command(line) or continued:
            flush()
            out.extend(wrap_command(line.rstrip(), width, continued=continued))
            continued = continues(line)
            continue
        item = LIST_ITEM.match(stripped)
        joins = (paragraph is not None and item is None and indent == paragraph.hang
                 and not last_prose.endswith(ENDS_SENTENCE))
        if not joins:
            flush()
            paragraph = Paragraph(indent, indent + (len(item.group(0)) if item else 0), [])
        assert paragraph is not None
        paragraph.words.append(stripped)
        last_prose = stripped
    flush()
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


@dataclass
class FarSide:
    """What the far side's steps name, read from a written bundle (:func:`far_side_of`)."""

    target: str = "HOST:PORT/REPO"
    signer: str = ""                 # the bundle key's fingerprint ("" before the bundle is signed)
    keys: list[str] = field(default_factory=list)  # release key files carried, relative to the bundle
    wheelhouse: bool = True
    ca_file: str | None = None       # the mirror's CA inside the bundle, relative
    versions: list[str] = field(default_factory=list)  # the releases, oldest first
    per_version_bin: bool = False    # bin/<version>/ (an update path) rather than bin/
    base: dict[str, Any] | None = None
    plan: Plan | None = None         # the bundle's plan.yaml, when it reads: the upload line carries its flags


def far_side_of(directory: str | os.PathLike[str], manifest: dict[str, Any] | None = None) -> FarSide:
    """The facts the steps name, as the bundle in ``directory`` holds them (its bundle.json unless the
    ``manifest`` being written is given; defaults where it holds none yet: the steps still read right,
    with placeholders)."""
    directory = Path(directory)
    if manifest is None:
        try:
            manifest = read_bundle_manifest(directory)
        except MirrorError:
            manifest = {}
    releases = [r for r in manifest.get("releases") or [] if isinstance(r, dict)]
    versions = sorted((str(r.get("version")) for r in releases), key=version_key)
    keys_dir = directory / RELEASE_KEYS_DIR
    keys = sorted(f"{RELEASE_KEYS_DIR}/{p.name}" for p in keys_dir.iterdir() if p.is_file()) \
        if keys_dir.is_dir() and not keys_dir.is_symlink() else []
    signer = manifest.get("signer")
    base = manifest.get("base")
    try:  # hostile or missing: the steps fall back to what bundle.json says
        plan: Plan | None = load_plan(str(directory / PLAN_FILE)) if (directory / PLAN_FILE).is_file() else None
    except (MirrorError, OSError):
        plan = None
    return FarSide(target=str(manifest.get("target") or "HOST:PORT/REPO"),
                   signer=str(signer.get("fingerprint") or "") if isinstance(signer, dict) else "",
                   keys=keys, wheelhouse=bool(manifest.get("wheelhouse")) if manifest else True,
                   ca_file=MIRROR_CA if (directory / MIRROR_CA).is_file() else None,
                   versions=versions, per_version_bin=len(versions) > 1,
                   base=base if isinstance(base, dict) else None,
                   plan=plan if plan is not None and plan.release is not None else None)


def far_side_steps(far: FarSide) -> list[str]:
    """The far side's steps, in order: check the medium, install mirror-wizard, verify, upload, then the
    cluster (by hand or from the wizard's Done step). The one text README.txt and the wizard's Done step
    (Removable media tab) both print, so the two never disagree; commands indented three spaces, each on a
    line of its own."""
    signer_flag = f" --signer {far.signer}" if far.signer else ""
    key_flags = "".join(f" --release-key {key}" for key in far.keys)
    ca_flag = f" --ca-file {far.ca_file}" if far.ca_file else ""
    tool = f"{VENV}/bin/mirror-wizard"
    # The runbook's upload line too (core.runbook.release_mirror_command): the plan's CAs, the carried keys,
    # its --to-release-image (a repository for several releases: a tag names one image, which is refused).
    upload = (release_mirror_command(far.plan, "AUTH_FILE", keys=far.keys, tool=tool, directory=".",
                                     target=far.target, signer=far.signer, several=len(far.versions) > 1)
              if far.plan is not None else
              f"{tool} release mirror -a AUTH_FILE --from-dir . --to {far.target}{ca_flag}{signer_flag}{key_flags}")
    extras = [what for what, kept in (("the graph-data image (updates inside the cluster)",
                                       far.plan is not None and far.plan.release is not None
                                       and bool(far.plan.release.graph_image)),
                                      ("the samples images", far.plan is not None and far.plan.samples is not None))
              if kept]
    plan_commands = [f"   {tool} run {PLAN_FILE} -a AUTH_FILE --confirm-target {far.target}{signer_flag}{key_flags}",
                     f"   {tool} --plan {PLAN_FILE}   # the wizard on the bundle's plan: the same upload, step by step"]
    if extras:
        # `release mirror` would leave the graph-data image or the samples behind: the plan's upload first.
        what = " and ".join(extras)
        upload_lines = [f"   The plan holds {what} besides the releases: upload all of it with the plan (`run`, or",
                        "   the wizard step by step):", "", *plan_commands, "",
                        f"   Or the releases only (not {what}):", "", f"   {upload}", ""]
    else:
        upload_lines = [f"   {upload}", "",
                        "   Or the same upload from the bundle's plan (the CA as it names it), with `run` or the",
                        "   wizard step by step:", "", *plan_commands, ""]
    lines = [
        "FIRST, before installing or running anything from this medium, check it with tools this host has:",
        "",
        f"   sha256sum -c --quiet {SUMS_FILE}",
        f'   G=$(mktemp -d) && gpg --homedir "$G" --import {SIGNER_FILE} && '
        f'gpg --homedir "$G" --verify {SUMS_SIG_FILE} {SUMS_FILE}',
        "",
        "   Or, with Sequoia:",
        f"   sq verify --signer-file {SIGNER_FILE} --signature-file {SUMS_SIG_FILE} {SUMS_FILE}",
        "",
        "   gpg must say \"Good signature\", and the \"Primary key fingerprint\" it prints must be the one you",
        "   were given APART from this medium (the connected side printed it when writing the bundle). This",
        "   file says:",
        "",
        # A line of its own: a fingerprint is compared group by group, never cut across lines.
        f"      {_spaced(far.signer) if far.signer else '-'}",
        "",
        "   but whoever can rewrite the medium can rewrite this file too. If either check fails, stop: do not",
        "   install or run anything from this medium.",
        "",
        "On the mirror host, from this directory, once the checks above passed:",
        "",
    ]
    if far.wheelhouse:
        lines += ["1. Install mirror-wizard without any package index (Python 3.10 or later):",
                  "",
                  f"   python3 -m venv {VENV} && {VENV}/bin/pip install --no-index --find-links ./{WHEELHOUSE} {PACKAGE}",
                  ""]
    else:
        lines += ["1. This bundle carries no wheelhouse (pip could not build one on the connected side):",
                  "   install mirror-wizard on this host some other way.", ""]
    lines += ["2. Check that everything arrived intact (every file, every blob, every image) and who wrote it:",
              "",
              f"   {tool} media verify .{signer_flag}",
              "",
              "   Came in volumes? Copy each volume into one directory, in any order:",
              f"   {tool} media join /data/bundle /media/usb/volume-NN-of-MM",
              "",
              "3. Upload the images into the mirror registry (this checks the bundle first, too). AUTH_FILE is a",
              "   file holding the mirror registry's login (an auth.json, or the pull secret with it; without -a,",
              "   REGISTRY_AUTH_FILE or the usual podman/docker auth files are read). To make one:",
              "",
              # a line of its own: prose is wrapped to the width, a command never
              f"   {tool} credentials add --pull-secret FILE --registry HOST -u USER -o AUTH_FILE",
              "",
              "   The upload:",
              "",
              *upload_lines]
    if far.keys:
        # Not Red Hat's keys (those are built in). The medium carries them but never decides trust: naming
        # them with --release-key (or in the wizard's Release keys field) is this host's admin's answer.
        lines += ["   The release is signed by a key that is not Red Hat's; the connected side trusted it, and it",
                  f"   travels here as {', '.join(far.keys)}. This host trusts it only when you name it",
                  "   (--release-key above, or the wizard's Release keys field): first compare its fingerprint",
                  "   (gpg --show-keys FILE) with the one you were given apart from this medium.", ""]
    if far.base:
        lines += [f"   This bundle is incremental: it leaves out {len(far.base.get('omitted') or [])} layers the "
                  f"earlier bundle {far.base.get('id')} carried. Upload that one first; the upload checks the "
                  "registry has them.", ""]
    lines += [f"4. Install or update the cluster with the files in {CLUSTER_DIR}/ as {CLUSTER_DIR}/runbook.md says,"]
    lines += [f"   {line}" for line in bin_lines(far)] + [""]
    lines += ["5. Then, from the Done step of the wizard on the bundle's plan, write or apply the mirror set, the CA",
              f"   and the samples operator's settings ({CLUSTER_DIR}/runbook.md says the same by hand).", ""]
    return lines


def bin_lines(far: FarSide) -> list[str]:
    """Which of the medium's openshift-install and oc to use (they match their release exactly)."""
    if not far.per_version_bin:
        return [f"using {BIN_DIR}/openshift-install and {BIN_DIR}/oc from this bundle."]
    oldest, newest = far.versions[0], far.versions[-1]
    return [f"using the tools of each release from this bundle, in {BIN_DIR}/<version>/: a new cluster is installed",
            f"at {oldest} with {BIN_DIR}/{oldest}/openshift-install; a running cluster is updated hop by hop with",
            f"{BIN_DIR}/{oldest}/oc, and once it reached {newest}, {BIN_DIR}/{newest}/oc matches it."]


def _readme(directory: Path, manifest: dict[str, Any], notes: list[str]) -> str:
    releases = manifest.get("releases") or []
    names = ", ".join(f"{r['version']} ({r['architecture']})" for r in releases) or "no release"
    far = far_side_of(directory, manifest)
    steps = far_side_steps(far)
    split = steps.index("On the mirror host, from this directory, once the checks above passed:")
    lines = [
        "mirror-wizard bundle",
        "====================",
        "",
        *steps[:split],
        f"Release: {names}. Written {manifest['created']} by mirror-wizard {manifest['tool_version']}.",
        "Everything the disconnected mirror host needs: the images (an OCI layout), openshift-install and oc,",
        "mirror-wizard itself, the plan, the cluster YAML and the runbook. SHA256SUMS lists every file; it is",
        "written last, so a bundle without it was not finished.",
        "",
        *steps[split:],
    ]
    # One width for all of README.txt's prose (the steps were hard-wrapped near it, the fingerprint sentence and
    # the notes were not); commands stay whole, whatever their length. The title is kept as it is.
    body = reflow("\n".join(lines[3:]), README_WIDTH)
    wrapped_notes = [line for note in notes
                     for line in textwrap.wrap(f"Note: {note}", README_WIDTH, subsequent_indent="      ",
                                               break_long_words=False, break_on_hyphens=False)]
    return "\n".join([*lines[:3], body, *wrapped_notes]).rstrip() + "\n"


async def write_bundle(directory: str | os.PathLike[str], releases: list[Any], *, plan: Any = None,
                       prepared: Any = None, options: BundleOptions | None = None,
                       on_message: Message | None = None) -> BundleResult:
    """Complete the OCI layout a to-dir run wrote in ``directory`` into a bundle (see the module).

    ``releases``: the core.release.ReleaseInfo of each release in it; ``plan``/``prepared``: the
    connected side's plan and what core.run prepared for it (samples, CA), when there is one.
    """
    options = options or BundleOptions()
    directory = Path(directory)
    say = on_message or (lambda text: None)
    warnings: list[str] = []
    # the key first: a key that cannot be used stops the run before anything is written
    signer: BundleSigner = signer_from_file(options.sign_key) if options.sign_key else host_signer()
    begin_bundle(directory)  # also removes an earlier SHA256SUMS.sig: it vouches for nothing here
    shutil.rmtree(directory / BIN_DIR, ignore_errors=True)  # never vouch for an earlier bundle's binaries
    for stale in [directory / VOLUMES_FILE, *directory.glob("VOLUME-*-of-*.json")]:
        stale.unlink(missing_ok=True)  # a directory joined from volumes, written anew: whole again
    if options.extract and releases:
        warnings += await extract_binaries(directory, releases, say)
    wheels: list[str] = []
    if not options.include_wheelhouse:
        shutil.rmtree(directory / WHEELHOUSE, ignore_errors=True)  # an earlier bundle's wheels must not linger
    else:
        try:
            # pip runs in a thread; its lines reach on_message on the event loop, like every other line
            loop = asyncio.get_running_loop()
            wheels = await asyncio.to_thread(build_wheelhouse, directory / WHEELHOUSE, options,
                                             lambda text: None if loop.call_soon_threadsafe(say, text) else None)
        except LocalStorageError as exc:
            if options.wheelhouse is not None:
                raise
            warnings.append(f"no wheelhouse in the bundle: {exc}")
    (directory / SIGNATURES_DIR).mkdir(exist_ok=True)
    if options.signatures is not None:
        list(options.signatures(directory / SIGNATURES_DIR))

    far, notes, carried_keys = _far_plan(plan, directory, options, releases)
    target = far.release.target if far.release is not None else options.target
    save_plan(far, directory / PLAN_FILE)
    far_prepared = Prepared(far)
    if prepared is not None:
        far_prepared.samples, far_prepared.ca = prepared.samples, prepared.ca
    if far.mirror.ca_file and target and target != PLACEHOLDER_TARGET:
        # The cluster's trust for the mirror host from the carried file, naming the bundle's path: the far
        # side runs these `oc` commands from the bundle, where this host's path to the CA does not exist
        # (whether the CA came from the plan, core.run.prepare_ca, or the command's --ca-file).
        far_prepared.ca = ca_manifests(far.mirror.registry, (directory / far.mirror.ca_file).read_text(),
                                       ca_path=far.mirror.ca_file)
    if releases:
        # As core.run prepares a path: every release in path order, the last the one the cluster ends at (the
        # runbook's update hops come from these; releases[0] alone made it one jump to the oldest release).
        far_prepared.releases = sorted(releases, key=lambda r: version_key(r.version))
        far_prepared.release = far_prepared.releases[-1]
        if target and target != PLACEHOLDER_TARGET:
            far_prepared.instructions = release_mirror_instructions(releases[0], target, far.release.to_release_image)
    cluster = directory / CLUSTER_DIR
    if cluster.exists():
        shutil.rmtree(cluster)  # documents of an earlier bundle for another target must not linger
    write_outputs(far_prepared, cluster)
    # The runbook again, naming the release keys the bundle carries (--release-key config/release-keys/…):
    # the far plan leaves trusting them to its admin, but the printed upload must work as written.
    atomic_write(cluster / "runbook.md", render_runbook(far, replace(far_prepared.runbook_parts(),
                                                                    release_key_files=carried_keys)))

    images, problems = layout_images(directory)
    if problems:
        raise BundleError(f"{directory} is not a complete image layout: {problems[0]}; "
                          "run the same --to-dir command again")
    base_info: dict[str, Any] | None = None
    omitted: list[str] = []
    if options.since is not None:
        base_info, omitted = _prune_for_base(directory, images, Path(options.since), {r.digest for r in releases})
        say(f"incremental: left out {plural(len(omitted), 'layer')} the base bundle carried")
    all_blobs: dict[str, int] = {}
    for image in images:
        all_blobs.update(image.manifests)
        all_blobs.update(image.blobs)
    manifest: dict[str, Any] = {
        "kind": BUNDLE_KIND, "version": BUNDLE_VERSION, "id": str(uuid.uuid4()),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "tool_version": __version__,
        "target": target if target != PLACEHOLDER_TARGET else None,
        "releases": [{"name": r.layout_names.get("") if r.layout_names else None, "version": r.version,
                      "architecture": r.architecture, "digest": r.digest,
                      "source_repository": r.source_repository} for r in releases],
        "images": {image.name: image.digest for image in images},
        "blobs": dict(sorted(all_blobs.items())),
        "base": base_info,
        "wheelhouse": {"wheels": wheels, "python": options.wheel_python or f"{sys.version_info[0]}.{sys.version_info[1]}",
                       "install": f"pip install --no-index --find-links ./{WHEELHOUSE} {PACKAGE}"} if wheels else None,
    }
    manifest["signer"] = {"fingerprint": signer.fingerprint, "key": SIGNER_FILE}
    for release in manifest["releases"]:
        if release["name"] is None:
            info = next(r for r in releases if r.digest == release["digest"])
            release["name"] = layout_name(info)
    atomic_write(directory / BUNDLE_FILE, json.dumps(manifest, indent=1) + "\n")
    # README.txt reads back what is on the medium (bundle.json, config/, bin/): far_side_of, as Done's tab does.
    atomic_write(directory / README_FILE, _readme(directory, manifest, notes + warnings))
    write_signer_key(directory, signer)
    files, total = await asyncio.to_thread(write_sums, directory)
    sign_sums(directory, signer)
    say(f"bundle: {plural(files, 'file')}, {human_bytes(total)}, SHA256SUMS written and signed by {signer.fingerprint}"
        + (f" (this host's bundle key, made now in {signer.origin})" if signer.made else f" ({signer.origin})"))
    result = BundleResult(directory, files, total, len(images), len(all_blobs), omitted, warnings=warnings,
                          wheelhouse=bool(wheels), signer=signer.fingerprint, signer_made=signer.made)
    if options.max_medium_size:
        out = options.volumes_dir or directory.with_name(directory.name + ".volumes")
        result.volumes = await asyncio.to_thread(split_volumes, directory, options.max_medium_size, out)
        say(f"volumes: {len(result.volumes)} in {out}, none larger than {human_bytes(options.max_medium_size)}")
    return result
