"""``mirror-wizard image mirror``: copy images between registries (and OCI directories)."""

from __future__ import annotations

import argparse

from core.copier import CopyOptions
from core.mapping import load_mapping_file, pairs_to_tasks

from .common import (
    add_copy_options,
    add_idms_option,
    add_registry_options,
    copy_with_progress,
)

EPILOG = """\
equivalent oc command:
  oc image mirror -a AUTH [--filter-by-os REGEX] [--keep-manifest-list] SRC DST ...

examples:
  mirror-wizard image mirror -a pull-secret.json \\
      registry.redhat.io/ubi9/ubi:latest mirror.example.com:8443/ubi9/ubi:latest
  mirror-wizard image mirror -a pull-secret.json -f mapping.txt   # lines of SRC=DST
  mirror-wizard image mirror quay.io/x/y:1 oci:/media/usb/mirror:x/y:1   # to a directory
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    image = subparsers.add_parser("image", help="copy container images (like oc image mirror)")
    image_sub = image.add_subparsers(dest="image_command", metavar="COMMAND", required=True)
    mirror = image_sub.add_parser(
        "mirror", help="copy images from one registry to another",
        description="Copy images, with every layer read once and only what is missing moved.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_registry_options(mirror)
    add_idms_option(mirror)
    add_copy_options(mirror)
    mirror.add_argument("--filter-by-os", metavar="REGEX",
                        help="copy only these platforms of a multi-arch image, matched against os/arch[/variant]")
    mirror.add_argument("--keep-manifest-list", action="store_true",
                        help="keep a manifest list even when the filter leaves one platform")
    mirror.add_argument("-f", "--filename", metavar="MAPPING", action="append", default=[],
                        help="file of SRC=DST lines (repeatable)")
    mirror.add_argument("images", nargs="*", metavar="SRC DST", help="pairs of source and destination images")
    mirror.set_defaults(func=run_mirror)


def run_mirror(args: argparse.Namespace) -> int:
    tasks = pairs_to_tasks(args.images)
    for path in args.filename:
        tasks.extend(load_mapping_file(path))
    options = CopyOptions(
        filter_by_os=args.filter_by_os,
        keep_manifest_list=args.keep_manifest_list,
        skip_missing=args.skip_missing,
        continue_on_error=args.continue_on_error,
        dry_run=args.dry_run,
    )
    result = copy_with_progress(args, tasks, options)
    return 0 if result.ok else 1
