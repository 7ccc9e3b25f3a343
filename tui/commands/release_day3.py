"""``mirror-wizard release graph-image`` and ``release prune``: a mirror that stays healthy for years.

graph-image builds the OpenShift Update Service's graph-data image and writes what the cluster needs to
use it (updates recommended inside a disconnected cluster); prune removes the releases no longer needed,
in two reviewed steps. The work is core.graph_image's and core.prune's; this module reads flags and prints.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from core.ca import parse_ca_pem
from core.errors import InputError
from core.fsio import atomic_write
from core.graph_image import (
    DEFAULT_BASE_IMAGE,
    GRAPH_DATA_URL,
    GraphImageResult,
    build_graph_image,
    fetch_graph_data,
    graph_data_layer,
    graph_image_reference,
    read_graph_data_file,
    write_cluster_files,
)
from core.orchestrate import open_session, tls_options
from core.prune import (
    RECLAIM,
    ApplyResult,
    PrunePlan,
    apply_prune,
    load_prune_file,
    plan_prune,
    plan_prune_dir,
    prune_yaml,
    summary_lines,
)
from core.reference import parse_reference, parse_repository
from core.text import human_bytes, shown
from core.userfiles import read_user_file

from .common import access_from_args, add_idms_option, add_registry_options, run_async

GRAPH_EPILOG = """\
equivalent: oc-mirror v2 with graph: true in its ImageSetConfiguration (it builds the same image with
buildah); by hand: podman build of a Dockerfile FROM ubi9 that ADDs the tarball, then podman push.

examples:
  mirror-wizard release graph-image --graph-data-url https://api.openshift.com/api/upgrades_info/graph-data \\
      --to mirror.example.com:8443 -a pull-secret.json \\
      --releases mirror.example.com:8443/ocp4/openshift4 --registry-ca-file ca.crt -o ./update-service
  mirror-wizard release graph-image --graph-data graph-data.tar.gz --to mirror.example.com:8443/ocp4 \\
      --base-image mirror.example.com:8443/ubi9/ubi:latest -a auth.json
"""

PRUNE_EPILOG = """\
equivalent: oc-mirror v2's delete --generate, then delete --delete-yaml-file.

examples:
  mirror-wizard release prune --to mirror.example.com:8443/ocp4/openshift4 --keep-version 4.17.3 -o PRUNE.yaml
  mirror-wizard release prune --apply PRUNE.yaml -a auth.json
  mirror-wizard release prune --dir /media/usb/mirror --keep-version 4.17.3 -o PRUNE.yaml
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    graph = sub.add_parser(
        "graph-image", help="build the OpenShift Update Service's graph-data image and its UpdateService",
        description="Build the update service's graph-data image (the graph data under "
                    "/var/lib/cincinnati-graph-data on a base image, one layer, no container engine), push it "
                    "to HOST[/NAMESPACE]/openshift/graph-image:latest, and with -o write the UpdateService, the "
                    "CA ConfigMap patch and the ClusterVersion upstream patch.",
        epilog=GRAPH_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = graph.add_mutually_exclusive_group(required=True)
    source.add_argument("--graph-data", metavar="FILE", help="the graph-data tarball (blocked-edges/, channels/, raw/, "
                                                             "version), downloaded on a connected host")
    source.add_argument("--graph-data-url", metavar="URL", nargs="?", const=GRAPH_DATA_URL,
                        help=f"download it (default {GRAPH_DATA_URL})")
    graph.add_argument("--to", metavar="HOST[/NAMESPACE]", required=True, help="the mirror registry (and namespace)")
    graph.add_argument("--graph-image", metavar="REF", help="push here instead of TO/openshift/graph-image:latest")
    graph.add_argument("--base-image", metavar="REF", default=DEFAULT_BASE_IMAGE,
                       help=f"the image under the graph data, copied to the mirror like any image (default "
                            f"{DEFAULT_BASE_IMAGE}, as oc-mirror; it needs /bin/bash and cp)")
    graph.add_argument("-o", "--output-dir", metavar="DIR", help="write updateservice.yaml, the CA ConfigMap patch, "
                                                                 "the upstream patch and the steps here")
    graph.add_argument("--releases", metavar="HOST/REPO",
                       help="with -o: the mirror repository the release images are tagged in (release mirror's --to, "
                            "or the repository of --to-release-image)")
    graph.add_argument("--registry-ca-file", metavar="PEM",
                       help="with -o: the mirror's CA, for the updateservice-registry key (default: the one --ca-file)")
    graph.add_argument("--configmap", metavar="NAME", default="registry-config",
                       help="with -o: the ConfigMap image.config's additionalTrustedCA names (default registry-config)")
    graph.add_argument("--route-host", metavar="HOST",
                       help="with -o: the update service route's host, to write the ClusterVersion upstream patch "
                            "(otherwise the steps read it from the UpdateService's status)")
    graph.add_argument("--json", action="store_true", help="print JSON")
    add_registry_options(graph)
    add_idms_option(graph)
    graph.set_defaults(func=run_graph_image)

    prune = sub.add_parser(
        "prune", help="list, then delete, the mirrored releases no longer needed",
        description="Without --apply: write PRUNE.yaml listing every release tag and manifest that only the "
                    "releases not kept use, what stays and the bytes a garbage collection would free; nothing is "
                    "deleted. With --apply PRUNE.yaml: check each entry against the mirror again and delete the "
                    "manifests by digest.",
        epilog=PRUNE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    prune.add_argument("--to", metavar="HOST/REPO", help="the mirror repository the releases were mirrored to")
    prune.add_argument("--dir", metavar="DIR", help="a mirror directory (release mirror --to-dir) instead: its unused "
                                                    "blobs are removed at once")
    prune.add_argument("--keep-version", metavar="VERSION", action="append", default=[],
                       help="a release that stays (repeatable); everything only other releases use goes")
    prune.add_argument("-o", "--output", metavar="PRUNE.yaml", help="where to write the list (default: print it)")
    prune.add_argument("--apply", metavar="PRUNE.yaml", help="delete what this reviewed file lists")
    prune.add_argument("--json", action="store_true", help="print JSON")
    add_registry_options(prune)
    prune.set_defaults(func=run_prune)


# -- graph-image ------------------------------------------------------------------------------------

def _graph_ca(args: argparse.Namespace) -> str | None:
    path = args.registry_ca_file or (args.ca_file[0] if len(args.ca_file) == 1 else None)
    if path is None:
        return None
    text = read_user_file(path, "CA file", InputError, text=True, inside="ca.crt")
    parse_ca_pem(text, path)
    return text


def run_graph_image(args: argparse.Namespace) -> int:
    graph_image_reference(args.to, args.graph_image)  # a bad target is refused before anything is read
    parse_reference(args.base_image)
    if args.output_dir and not args.releases:
        raise InputError("-o writes the UpdateService, whose releases is the mirror repository the release images "
                         "are in: add --releases HOST/REPO")
    if args.releases:
        parse_repository(args.releases)
    if (args.route_host or args.registry_ca_file) and not args.output_dir:
        raise InputError("--route-host and --registry-ca-file go into the files -o DIR writes: add -o DIR")
    ca_pem = _graph_ca(args) if args.output_dir else None
    access = access_from_args(args)

    async def go(cancel: asyncio.Event) -> GraphImageResult:
        if args.graph_data:
            data, where = read_graph_data_file(args.graph_data)
        else:
            data, where = await fetch_graph_data(args.graph_data_url, tls_options(access))
        layer = graph_data_layer(data, where)
        async with open_session(access) as session:
            return await build_graph_image(session, layer, to=args.to, graph_image=args.graph_image,
                                           base_image=args.base_image, cancel=cancel)

    result = run_async(go)
    files = write_cluster_files(Path(args.output_dir), result, releases=args.releases, ca_pem=ca_pem,
                                configmap=args.configmap, route_host=args.route_host) if args.output_dir else None
    layer = result.layer
    assert layer is not None
    if args.json:
        data: dict[str, Any] = {"image": str(result.reference), "digest": result.digest, "pinned": result.pinned,
                                "base": result.base, "base_mirror": str(result.base_mirror),
                                "platforms": result.platforms, "layer": {"digest": layer.digest, "size": layer.size,
                                                                         "files": layer.files,
                                                                         "channels": len(layer.channels)},
                                "files": [str(p) for p in files.written] if files else []}
        print(json.dumps(data, indent=2))
        return 0
    print(f"graph data: {layer.contents}, schema {shown(layer.version) or '?'}; "
          f"layer {layer.digest[:19]}… ({human_bytes(layer.size)})")
    print(f"base image: {result.base} → {result.base_mirror} ({', '.join(result.platforms)})")
    print(f"graph image: {result.reference}\n  pinned: {result.pinned}")
    if files is None:
        print("\nnext: write the UpdateService and patches with -o DIR --releases HOST/REPO "
              "(the repository your release images are in)")
        return 0
    print("\nwritten: " + ", ".join(str(p) for p in files.written))
    print("\nthen, on the cluster:")
    for line in files.commands:
        print(f"  {line}")
    return 0


# -- prune ------------------------------------------------------------------------------------------

def run_prune(args: argparse.Namespace) -> int:
    if args.apply:
        if args.to or args.dir or args.keep_version or args.output:
            raise InputError("--apply takes everything from the reviewed file: leave out --to, --dir, --keep-version "
                             "and -o")
        return _apply(args)
    if bool(args.to) == bool(args.dir):
        raise InputError("say what to prune: --to HOST/REPO (release mirror's --to) or --dir DIR (its --to-dir); "
                         "or --apply PRUNE.yaml")
    if args.to:
        parse_repository(args.to)

    async def go(cancel: asyncio.Event) -> PrunePlan:
        async with open_session(access_from_args(args)) as session:
            if args.dir:
                return await plan_prune_dir(session, args.dir, args.keep_version)
            return await plan_prune(session, args.to, args.keep_version)

    plan = run_async(go)
    text = prune_yaml(plan)
    if args.output:
        atomic_write(args.output, text, hint="choose a file you can write with -o")
    if args.json:
        print(json.dumps(plan.as_dict(), indent=2))
        return 0
    for line in summary_lines(plan):
        print(line)
    if args.output:
        print(f"\nwritten: {args.output} (nothing was deleted). Review it, then:\n"
              f"  mirror-wizard release prune --apply {args.output}")
    else:
        sys.stdout.write("\n" + text)
    return 0


def _apply(args: argparse.Namespace) -> int:
    planned = load_prune_file(args.apply)

    async def go(cancel: asyncio.Event) -> ApplyResult:
        async with open_session(access_from_args(args)) as session:
            return await apply_prune(session, planned)

    result = run_async(go)
    if args.json:
        print(json.dumps({"deleted": [e.digest for e in result.deleted], "already_gone": [e.digest for e in result.gone],
                          "kept_changed": [{"digest": e.digest, "reason": r} for e, r in result.changed],
                          "free_bytes": result.free_bytes}, indent=2))
        return 0
    for entry, reason in result.changed:
        print(f"kept {entry.digest[:19]}… ({', '.join(entry.tags) or entry.kind}): {reason}")
    print(f"{'removed' if planned.directory else 'deleted'} {len(result.deleted)} manifests from {planned.where}"
          + (f" ({len(result.gone)} were already gone)" if result.gone else "")
          + (f"; {len(result.changed)} kept because the mirror changed since the file was written" if result.changed
             else ""))
    if planned.directory:
        print(f"{human_bytes(result.free_bytes)} removed: {result.reclaim}")
        return 0
    print(f"up to {human_bytes(result.free_bytes)} of layers can now be freed: "
          + (result.reclaim or "the registry frees them at its garbage collection:"))
    if not result.reclaim:
        for text in RECLAIM.values():
            print(f"  - {text}")
    return 0
