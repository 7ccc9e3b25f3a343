"""``mirror-wizard release list|info|mirror|extract``: choose, inspect, mirror and unpack an OpenShift release.

``graph-image`` and ``prune`` are in release_day3."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.bundle import BundleOptions
from core.copier import CopyResult
from core.errors import InputError
from core.graph import (
    DEFAULT_GRAPH_URL,
    GraphRelease,
    load_graph_file,
    registry_release_tags,
)
from core.mirror_config import MirrorInstructions
from core.orchestrate import Job, open_session, tls_options
from core.plan import MirrorRegistry, Plan, ReleaseChoice, ReleaseMode
from core.reference import parse_reference, parse_repository
from core.registry import RegistrySession
from core.release import (
    COMMANDS,
    ReleaseInfo,
    extract_command,
    layout_name,
)
from core.release_path import PathSizes
from core.run import Prepared
from core.text import human_bytes
from core.usecases.releases import (
    InspectedRelease,
    inspect_release,
    measure_graph_path,
    read_graph,
    release_tags,
    resolve_path,
)
from core.yamlout import dump_yaml

from .common import (
    access_from_args,
    add_copy_options,
    add_idms_option,
    add_registry_options,
    options_from_args,
    run_async,
    run_job_with_progress,
    summary_text,
)
from .media import add_bundle_options, bundle_flags_given, bundle_options_from_args, print_bundle_result
from .release_day3 import register as register_day3

RELEASE_ARCHES = ("x86_64", "aarch64", "ppc64le", "s390x", "multi")

EPILOG = """\
equivalent oc commands:
  oc adm release mirror -a AUTH --from=RELEASE --to=HOST/REPO --to-release-image=HOST/REPO:VERSION-ARCH
  oc adm release mirror -a AUTH --to-dir=DIR RELEASE        (oc's own directory format)
  oc image mirror -a AUTH --from-dir=DIR 'file://openshift/release:VERSION*' HOST/REPO
  oc adm release extract -a AUTH --command=openshift-install RELEASE
  (--to-dir here writes a standard OCI image layout instead, which oc does not read: upload it with
  --from-dir, or image by image with skopeo copy --all oci:DIR:NAME docker://HOST/REPO:TAG)

examples:
  mirror-wizard release list --channel stable-4.17
  mirror-wizard release info quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64 \\
      --to mirror.example.com:8443/ocp4/openshift4 -a pull-secret.json
  mirror-wizard release mirror -a pull-secret.json \\
      --from quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64 \\
      --to mirror.example.com:8443/ocp4/openshift4 --manifests-dir ./cluster-manifests
  mirror-wizard release mirror -a pull-secret.json --from RELEASE --to-dir /media/usb/mirror
  mirror-wizard release mirror -a pull-secret.json --from-dir /media/usb/mirror \\
      --to mirror.example.com:8443/ocp4/openshift4
  mirror-wizard release extract -a pull-secret.json --command openshift-install --to . \\
      mirror.example.com:8443/ocp4/openshift4:4.17.3-x86_64
"""


def _add_idms(parser: argparse.ArgumentParser) -> None:
    add_idms_option(parser)


def _sub(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str,
         description: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=description, epilog=EPILOG,
                                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    return parser


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    release = subparsers.add_parser("release", help="choose, inspect, mirror and extract an OpenShift release",
                                    description="Work with OpenShift release payloads (like oc adm release).",
                                    epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = release.add_subparsers(dest="release_command", metavar="COMMAND", required=True)

    listing = _sub(sub, "list", "list the releases of a channel (or the release tags of a registry)",
                   "List releases newest first: from the OpenShift update graph with --channel, or the "
                   "VERSION-ARCH tags a registry repository holds with --from-registry.")
    where = listing.add_mutually_exclusive_group(required=True)
    where.add_argument("--channel", metavar="CHANNEL", help="update channel, e.g. stable-4.17 or fast-4.16")
    where.add_argument("--from-registry", metavar="HOST/REPO", help="list the release tags of this repository")
    listing.add_argument("--arch", metavar="ARCH",
                         help="architecture: x86_64 (default for the graph), aarch64, ppc64le, s390x, multi")
    listing.add_argument("--graph-url", metavar="URL", default=DEFAULT_GRAPH_URL,
                         help=f"update service graph endpoint (default {DEFAULT_GRAPH_URL})")
    listing.add_argument("--graph-file", metavar="FILE",
                         help="read the update graph from this JSON file (saved from the update service) instead")
    listing.add_argument("--from-version", metavar="VERSION",
                         help="with --to-version: show the update path between them and each release's bytes")
    listing.add_argument("--to-version", metavar="VERSION", help="where the update path ends")
    listing.add_argument("--all-versions", action="store_true",
                         help="the path holds every version on some update path, not only the shortest")
    listing.add_argument("--json", action="store_true", help="print JSON")
    add_registry_options(listing)
    _add_idms(listing)
    listing.set_defaults(func=run_list)

    info = _sub(sub, "info", "show a release: version, components and what a mirror would move",
                "Read a release image and show its version, architecture, metadata, every component and "
                "the compressed bytes a mirror moves; with --to, how much of that the mirror already has.")
    info.add_argument("release", metavar="RELEASE", help="release pull spec (by tag or digest) or oci:DIR:NAME")
    info.add_argument("--to", metavar="HOST/REPO", help="mirror repository to compare with")
    info.add_argument("--json", action="store_true", help="print JSON")
    add_registry_options(info)
    _add_idms(info)
    info.set_defaults(func=run_info)

    mirror = _sub(sub, "mirror", "copy a release to a mirror registry or a directory, print the cluster config",
                  "Copy the release image (digest unchanged) and every component (by digest, tagged "
                  "VERSION-ARCH-COMPONENT) in one pass, then print imageContentSources, imageDigestSources, "
                  "an ImageContentSourcePolicy and an ImageDigestMirrorSet.")
    mirror.add_argument("release", metavar="RELEASE", nargs="?", help="same as --from")
    mirror.add_argument("--from", dest="from_", metavar="RELEASE",
                        help="release pull spec; with --from-dir, which release of the directory (VERSION)")
    mirror.add_argument("--from-dir", metavar="DIR", help="upload a release written earlier with --to-dir")
    mirror.add_argument("--signer", metavar="FINGERPRINT|KEYFILE",
                        help="with --from-dir: refuse the bundle unless its SHA256SUMS is signed by this key")
    mirror.add_argument("--to", metavar="HOST/REPO", help="mirror repository for the components (and release)")
    mirror.add_argument("--to-release-image", metavar="REF",
                        help="where the release image goes (default: TO:VERSION-ARCH)")
    mirror.add_argument("--to-dir", metavar="DIR",
                        help="write a removable-media bundle instead: an OCI image layout plus openshift-install, "
                             "oc, mirror-wizard's own wheels, plan, cluster YAML, runbook and SHA256SUMS")
    mirror.add_argument("--manifests-dir", metavar="DIR",
                        help="also write the install-config fragments, ICSP and IDMS as files here")
    path = mirror.add_argument_group("update path (several releases in one copy)")
    path.add_argument("--channel", metavar="CHANNEL", help="the update channel whose graph gives the path")
    path.add_argument("--from-version", metavar="VERSION", help="the version the cluster runs now")
    path.add_argument("--to-version", metavar="VERSION", help="the version it should end at")
    path.add_argument("--all-versions", action="store_true",
                      help="mirror every version on some path from one to the other, not only the shortest path")
    path.add_argument("--graph-url", metavar="URL", help=f"update service graph endpoint (default {DEFAULT_GRAPH_URL})")
    path.add_argument("--graph-file", metavar="FILE", help="read the update graph from a saved JSON file (offline)")
    path.add_argument("--arch", metavar="ARCH", default="x86_64", help="architecture of the releases (default x86_64)")
    signing = mirror.add_argument_group("release signatures")
    signing.add_argument("--signature-store", metavar="URL", action="append", default=[],
                         help="also look for signatures in this store, before the payload's own (repeatable)")
    signing.add_argument("--signatures-dir", metavar="DIR",
                         help="read the signatures from this directory instead of any store (hosts without access)")
    signing.add_argument("--release-key", metavar="FILE", action="append", default=[],
                         help="also trust this release key (armored or binary OpenPGP public key; repeatable): "
                              "Red Hat's are built in; OKD, CI and custom payloads need theirs")
    signing.add_argument("--allow-unsigned", action="store_true",
                         help="mirror a release whose signatures do not verify (a cluster refuses to update to it)")
    signing.add_argument("--release-image-signature-to-dir", metavar="DIR",
                         help="write the signature ConfigMap files (signature-sha256-<16 hex>.json) here (not with "
                              "--to-dir: they go in DIR/config); default: --manifests-dir, else mirror-wizard-output")
    add_copy_options(mirror)
    add_bundle_options(mirror)
    add_registry_options(mirror)
    _add_idms(mirror)
    mirror.set_defaults(func=run_mirror)

    extract = _sub(sub, "extract", "write openshift-install or oc from a release",
                   "Find the component that carries the command, stream its layers and write the binary "
                   "(executable) — from the original registry, a mirror, or a --to-dir directory.")
    extract.add_argument("release", metavar="RELEASE", help="release pull spec, oci:DIR:NAME, or oci:DIR")
    extract.add_argument("--command", required=True, choices=sorted(COMMANDS), help="which binary")
    extract.add_argument("--to", metavar="DIR", default=".", help="directory to write it to (default: here)")
    add_registry_options(extract)
    _add_idms(extract)
    extract.set_defaults(func=run_extract)

    register_day3(sub)  # graph-image (the update service's graph data) and prune


def make_session(args: argparse.Namespace) -> RegistrySession:
    return open_session(access_from_args(args))


# -- list ---------------------------------------------------------------------------------------

def run_list(args: argparse.Namespace) -> int:
    if args.arch is not None and args.arch not in RELEASE_ARCHES + ("amd64", "arm64"):
        raise InputError(f"--arch {args.arch!r}: use one of {', '.join(RELEASE_ARCHES)}")
    if args.from_registry:
        return _list_registry(args)
    arch = args.arch or "x86_64"
    if bool(args.from_version) != bool(args.to_version):
        raise InputError("give both --from-version and --to-version to see an update path")
    if args.graph_file:
        releases = load_graph_file(args.graph_file)  # no event loop needed for a file
    else:
        tls = tls_options(access_from_args(args))
        releases = run_async(lambda cancel: read_graph(args.channel, arch, graph_url=args.graph_url, tls=tls))
    if args.from_version:
        return _list_path(args, releases)
    if args.json:
        print(json.dumps([{"version": r.version, "payload": r.payload, "metadata": r.metadata,
                           "upgrades_from": r.upgrades_from, "conditional_from": r.conditional_from}
                          for r in releases], indent=2))
        return 0
    if not releases:
        print(f"channel {args.channel} ({arch}) has no releases")
        return 0
    width = max(len(r.version) for r in releases)
    for r in releases:
        print(f"{r.version:<{width}}  {r.payload}")
        indent = " " * (width + 2)
        if r.errata_url:
            print(f"{indent}errata: {r.errata_url}")
        for label, versions in (("updates from", r.upgrades_from), ("conditional updates from", r.conditional_from)):
            if versions:
                text = f"{label} ({len(versions)}): " + ", ".join(versions)
                print(textwrap.fill(text, width=100, initial_indent=indent, subsequent_indent=indent + "  "))
    print(f"\n{len(releases)} releases in {args.channel} ({arch}), newest first")
    return 0


def _list_path(args: argparse.Namespace, releases: list[GraphRelease]) -> int:
    """The update path, each release with the bytes it adds to the ones before it."""
    path = resolve_path(releases, args.from_version, args.to_version, all_versions=args.all_versions,
                        channel=args.channel or "")

    async def go(cancel: asyncio.Event) -> PathSizes:
        async with make_session(args) as session:
            return await measure_graph_path(session, path)

    sizes = run_async(go)
    if args.json:
        print(json.dumps({"path": [{"version": g.version, "payload": g.payload, "bytes": r.total_bytes,
                                    "new_bytes": r.new_bytes} for g, r in zip(path, sizes.releases, strict=True)],
                          "unique_bytes": sizes.unique_bytes, "saved_bytes": sizes.saved_bytes}, indent=2))
        return 0
    width = max(len(g.version) for g in path)
    for number, (graph_release, size) in enumerate(zip(path, sizes.releases, strict=True)):
        hop = "start" if number == 0 else f"hop {number}"
        print(f"{hop:>7}  {graph_release.version:<{width}}  {human_bytes(size.total_bytes):>10}  "
              f"+{human_bytes(size.new_bytes):>10} to move  {graph_release.payload}")
    print(f"\n{len(path)} releases from {args.from_version} to {args.to_version}: {human_bytes(sizes.unique_bytes)} "
          f"in one copy, {human_bytes(sizes.saved_bytes)} saved by sharing")
    return 0


def _list_registry(args: argparse.Namespace) -> int:
    async def go(cancel: asyncio.Event) -> list[str]:
        async with make_session(args) as session:
            return await registry_release_tags(session, args.from_registry)

    tags = run_async(go)
    releases = release_tags(tags, (args.arch,) if args.arch else RELEASE_ARCHES)
    if args.json:
        print(json.dumps(releases, indent=2))
        return 0
    for tag in releases:
        print(f"{tag:<30}  {args.from_registry}:{tag}")
    print(f"\n{len(releases)} release tags (VERSION-ARCH) among {len(tags)} tags in {args.from_registry}")
    return 0


# -- info ---------------------------------------------------------------------------------------

def _info_dict(info: ReleaseInfo) -> dict[str, Any]:
    return {"pull_spec": info.pull_spec, "digest": info.digest, "version": info.version,
            "architecture": info.architecture, "previous": info.previous, "errata_url": info.errata_url,
            "source_repository": info.source_repository, "component_repository": info.component_repository,
            "components": info.components}


def run_info(args: argparse.Namespace) -> int:
    async def go(cancel: asyncio.Event) -> InspectedRelease:
        async with make_session(args) as session:
            return await inspect_release(session, args.release, args.to)

    inspected = run_async(go)
    if inspected.size_error is not None:  # the command line says it rather than measuring less
        raise inspected.size_error
    info, size = inspected.info, inspected.size
    if args.json:
        data = _info_dict(info)
        data["size"] = {"images": size.images, "blobs": size.blobs, "bytes": size.total_bytes,
                        "present_bytes": size.present_bytes}
        print(json.dumps(data, indent=2))
        return 0
    rows = [("release", info.pull_spec), ("digest", info.digest), ("version", info.version),
            ("architecture", info.architecture)]
    if info.errata_url:
        rows.append(("errata", info.errata_url))
    previous = info.previous
    rows.append(("previous", f"{len(previous)} versions update to it" + (f": {', '.join(previous)}" if previous else "")))
    for key, value in rows:
        print(textwrap.fill(f"{key + ':':<14}{value}", width=110, subsequent_indent=" " * 14))
    print(f"{'components:':<14}{len(info.components)} (mostly in {info.component_repository})")
    width = max(len(n) for n in info.components)
    for name, spec in info.components.items():
        print(f"  {name:<{width}}  {spec}")
    print(f"{'size:':<14}{size.images} images, {size.blobs} unique blobs, {human_bytes(size.total_bytes)} "
          f"compressed ({size.total_bytes} bytes) for a mirror to move")
    if size.present_bytes is not None:
        print(f"{'in mirror:':<14}{human_bytes(size.present_bytes)} already in {args.to}, "
              f"{human_bytes(size.missing_bytes)} still to move")
    return 0


# -- mirror -------------------------------------------------------------------------------------

def _check_mirror_args(args: argparse.Namespace) -> None:
    if args.release and args.from_:
        raise InputError("give the release either as an argument or with --from, not both")
    args.from_ = args.from_ or args.release
    if args.from_version or args.to_version:
        if not (args.from_version and args.to_version):
            raise InputError("an update path needs both --from-version and --to-version")
        if args.from_:
            raise InputError("give one release (--from) or an update path (--from-version/--to-version), not both")
        if not args.from_dir and not args.channel:
            raise InputError("an update path is read from a channel's graph: add --channel, e.g. stable-4.17")
        if args.graph_url and args.graph_file:
            raise InputError("give the update graph as --graph-url or --graph-file, not both")
        if args.to_release_image and parse_reference(args.to_release_image, default_tag=None).tag is not None:
            # A repository is fine (each release lands there tagged VERSION-ARCH, as the plan's to_release_image).
            raise InputError("--to-release-image names one image; an update path tags each release VERSION-ARCH",
                             hint="give a repository without a tag, or leave it out")
    elif args.channel or args.all_versions or args.graph_url or args.graph_file:
        raise InputError("--channel, --all-versions, --graph-url and --graph-file go with --from-version and "
                         "--to-version (an update path)")
    elif not args.from_ and not args.from_dir:
        raise InputError("say which release to mirror: --from RELEASE, --from-dir DIR, or an update path "
                         "(--channel C --from-version A --to-version B)")
    if bool(args.to) == bool(args.to_dir):
        raise InputError("say where to mirror to: --to HOST/REPO (a registry) or --to-dir DIR (removable media)")
    if args.from_dir and args.to_dir:
        raise InputError("--from-dir uploads a directory to a registry: use --to HOST/REPO with it")
    if args.signer and not args.from_dir:
        raise InputError("--signer checks who wrote a bundle: it goes with --from-dir DIR")
    bundle_flags = bundle_flags_given(args)
    if bundle_flags and not args.to_dir:
        raise InputError(f"{', '.join(bundle_flags)}: only for the bundle a --to-dir run writes; add --to-dir "
                         "or leave them out")
    if args.to_release_image and not args.to:
        raise InputError("--to-release-image needs --to (a directory has fixed names)")
    if args.to_dir and args.release_image_signature_to_dir:
        # outside the bundle they would not travel, and the far side's upload needs them in DIR/config
        raise InputError("--release-image-signature-to-dir: with --to-dir the signatures go in DIR/config, inside "
                         "the bundle that travels; leave it out")
    if args.to_dir and args.manifests_dir:
        raise InputError("--manifests-dir: with --to-dir the cluster's YAML goes in DIR/cluster (and the upload "
                         "writes it again for its target); leave it out, or give it to the --from-dir upload")
    # Bad targets are refused before anything is read from the source.
    if args.to:
        parse_repository(args.to)
    if args.to_release_image:
        parse_reference(args.to_release_image, default_tag=None)


def _describe(info: ReleaseInfo) -> str:
    return (f"release {info.version} ({info.architecture}) {info.digest[:19]}…, {len(info.components)} components, "
            f"from {info.pull_spec}")


def plan_from_args(args: argparse.Namespace) -> Plan:
    """The flags as a plan with only a release, for core.orchestrate (which dispatches the mode)."""
    if args.to_dir:
        release = ReleaseChoice(source=args.from_, mode=ReleaseMode.TO_DIR, directory=args.to_dir)
    elif args.from_dir:
        release = ReleaseChoice(mode=ReleaseMode.FROM_DIR, directory=args.from_dir, target=args.to,
                                to_release_image=args.to_release_image)
    else:
        release = ReleaseChoice(source=args.from_, mode=ReleaseMode.REGISTRY, target=args.to,
                                to_release_image=args.to_release_image)
    release.signature_stores = list(args.signature_store)
    release.signatures_dir = args.signatures_dir
    release.allow_unsigned = args.allow_unsigned
    release.keys = list(args.release_key)
    release.bundle_signer = args.signer
    release.signatures_to_dir = args.release_image_signature_to_dir or (None if args.to_dir else args.manifests_dir)
    if args.from_version:
        release.source = ""
        release.channel, release.from_version, release.version = args.channel, args.from_version, args.to_version
        release.all_versions, release.architecture = args.all_versions, args.arch
        release.graph_file, release.graph_url = args.graph_file, args.graph_url
    mirror = parse_repository(args.to).registry if args.to else ""
    return Plan(auth_file=args.registry_config, mirror=MirrorRegistry(registry=mirror), release=release,
                idms_file=args.idms_file, options=options_from_args(args))


def _bundle_options(args: argparse.Namespace) -> BundleOptions:
    """The bundle flags, and the mirror's CA for the far side (config/mirror-ca.pem, as a plan's
    mirror.ca_file travels). Which --ca-file is the mirror's: every one given. Like oc's
    --certificate-authority, --ca-file trusts each CA for every registry, and a --to-dir copy never reaches
    the mirror, so nothing here can tell which one signs the mirror's certificate; leaving the right one
    behind would fail the far side's upload where nobody can fetch it, while carrying all of them asks the
    far side to trust no CA this command was not told to trust (the bundle's README says so when several)."""
    return replace(bundle_options_from_args(args), mirror_ca_files=tuple(Path(f) for f in args.ca_file))


def run_mirror(args: argparse.Namespace) -> int:
    _check_mirror_args(args)

    def prepared(ready: Prepared) -> None:
        if args.json or ready.release is None:
            return
        for info in ready.releases or [ready.release]:
            print(_describe(info), file=sys.stderr)
        for line in ready.release_lines():
            print(line, file=sys.stderr)
        if ready.space is not None:
            print(f"space: {human_bytes(ready.space.needed)} to write to {args.to_dir}, "
                  f"{human_bytes(ready.space.free)} free", file=sys.stderr)

    # The bundle around a --to-dir layout, and the check of a --from-dir one, are core.orchestrate's
    # (as for `run` and the wizard): the flags only say how the bundle is written.
    job = Job(plan_from_args(args), dry_run=args.dry_run, dir_release=args.from_ if args.from_dir else None,
              write_outputs=False, bundle=_bundle_options(args) if args.to_dir else None)
    run = run_job_with_progress(args, job, on_prepared=prepared)
    result, info, instructions = run.copy, run.prepared.release, run.prepared.instructions
    bundle_result = run.bundle
    assert result is not None and info is not None
    written: list[Path] = list(run.outputs)  # the signature ConfigMap files
    if instructions is not None and args.manifests_dir and result.ok and not args.dry_run:
        written += instructions.write(Path(args.manifests_dir))
    if args.json:
        data: dict[str, Any] = result.as_dict()
        data["release"] = _info_dict(info)
        data["releases"] = [_info_dict(i) for i in run.prepared.releases]
        data["signatures"] = [{"digest": r.digest, "verified": r.ok, "signatures": len(r.signatures)}
                              for r in run.prepared.signatures]
        data["signature_files"] = [str(p) for p in run.outputs]
        data["sigstore_signatures"] = len(run.prepared.sigstore.found) if run.prepared.sigstore else 0
        data["warnings"] = run.prepared.warnings
        sizes = run.prepared.path_sizes
        if sizes is not None:
            data["path"] = {"releases": [{"version": r.version, "bytes": r.total_bytes, "new_bytes": r.new_bytes}
                                         for r in sizes.releases],
                            "unique_bytes": sizes.unique_bytes, "saved_bytes": sizes.saved_bytes}
        if bundle_result is not None:
            data["bundle"] = bundle_result.as_dict()
        if instructions is not None:
            data["instructions"] = {instructions.install_config_key: instructions.entries(),
                                    ("idms" if instructions.wants_idms else "icsp"): instructions.cluster_set(),
                                    "files": [str(p) for p in written]}
        print(json.dumps(data, indent=2))
        return 0 if result.ok else 1
    if args.dry_run:
        _print_dry_run(result)
    print(summary_text(result, dry_run=args.dry_run))
    for line in run.prepared.release_lines():
        print(line)
    for path in run.outputs:
        print(f"signature ConfigMap: {path}")
    if not result.ok:
        print("\nthe mirror is incomplete: fix the failures and run the same command again (what was copied is kept)")
        return 1
    if bundle_result is not None:
        print_bundle_result(bundle_result)
    if args.to_dir:
        _print_to_dir_next(info, args)
    elif instructions is not None:
        _print_instructions(info, instructions, args, written)
    return 0


def _print_dry_run(result: CopyResult) -> None:
    for plan in result.images:
        size = sum(plan.blobs().values())
        state = "present" if plan.present else "copy"
        print(f"{state:<8} {human_bytes(size):>10}  {plan.task.source} → {plan.task.destination}")


def _print_to_dir_next(info: ReleaseInfo, args: argparse.Namespace) -> None:
    directory = args.to_dir
    print(f"\nrelease {info.version} is in {directory} (OCI image layout), e.g. "
          f"skopeo inspect oci:{directory}:{layout_name(info)}")
    if not args.dry_run:
        target = args.bundle_target or "HOST/REPO"
        print(f"it is a complete bundle (see {directory}/README.txt): carry it to the mirror host, install "
              "mirror-wizard from its wheelhouse, check it and upload it with:\n\n"
              f"    mirror-wizard media verify {directory}\n"
              f"    mirror-wizard release mirror --from-dir {directory} --to {target} -a AUTH_FILE\n\n"
              "that prints the imageContentSources / ImageDigestMirrorSet for the cluster.")


def _print_instructions(info: ReleaseInfo, instructions: MirrorInstructions, args: argparse.Namespace,
                        written: list[Path]) -> None:
    head = "would be" if args.dry_run else "is"
    print(f"\n{'Dry run' if args.dry_run else 'Success'}\nUpdate image:  {instructions.release_image}")
    print(f"Mirror prefix: {args.to}")
    print(f"(the release {head} at {instructions.release_image}, digest {info.digest})")
    print("\nTo use the new mirrored repository to install, add the following section to the install-config.yaml:\n")
    # The one block this release's installer reads (imageDigestSources from 4.14): never both, which the
    # installer refuses.
    sys.stdout.write(instructions.install_config_yaml())
    when = "4.13 and later" if instructions.wants_idms else "a release before 4.13"
    print(f"\nTo use the new mirrored repository for upgrades ({when}), use the following to create "
          f"an {instructions.cluster_kind}:\n")
    sys.stdout.write(dump_yaml(instructions.cluster_set()))
    if written:
        print("\nwritten: " + ", ".join(str(p) for p in written))
    if not args.dry_run:
        print(f"\nnext: mirror-wizard release extract --command openshift-install --to . {instructions.release_image}")


# -- extract ------------------------------------------------------------------------------------

def run_extract(args: argparse.Namespace) -> int:
    async def go(cancel: asyncio.Event) -> Path:
        async with make_session(args) as session:
            return await extract_command(session, args.release, args.command, Path(args.to))

    path = run_async(go)
    print(f"wrote {path} ({human_bytes(path.stat().st_size)}, executable)")
    return 0
