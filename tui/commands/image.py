"""``mirror-wizard image mirror``: copy images between registries (and OCI directories)."""

from __future__ import annotations

import argparse

from core.errors import InputError
from core.mapping import check_unique_destinations, load_mapping_file, pairs_to_tasks
from core.orchestrate import Job
from core.plan import Plan

from .common import (
    add_copy_options,
    add_idms_option,
    add_registry_options,
    options_from_args,
    print_summary,
    run_job_with_progress,
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


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    check_unique_destinations(tasks)  # across the files and the arguments too, before anything is copied
    if not tasks:
        raise InputError("nothing to mirror: give SRC DST pairs or a mapping file with -f")
    job = Job(Plan(options=options_from_args(args)), images=tasks, dry_run=args.dry_run,
              filter_by_os=args.filter_by_os, keep_manifest_list=args.keep_manifest_list, write_outputs=False)
    result = run_job_with_progress(args, job)
    print_summary(args, result, dry_run=args.dry_run)
    return 0 if result.ok else 1
