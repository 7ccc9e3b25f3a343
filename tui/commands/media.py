"""``mirror-wizard media verify|bundle|split|join``: the removable-media bundle, checked, made, cut and
put back together. ``release mirror --to-dir`` and ``run`` of a to-dir plan write the bundle themselves;
these commands are for checking what arrived and for media of a fixed size."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TextIO

from core.bundle import (
    BundleOptions,
    BundleResult,
    join_volumes,
    missing_volumes,
    parse_size,
    releases_in_bundle,
    split_volumes,
    verify_bundle,
)
from core.bundle_write import write_bundle
from core.errors import InputError
from core.text import human_bytes

from .common import run_async

EPILOG = """\
examples:
  mirror-wizard release mirror -a pull-secret.json --from RELEASE --to-dir /data/bundle \\
      --bundle-target mirror.example.com:8443/ocp4/openshift4 --max-medium-size 32G
  mirror-wizard media verify /data/bundle              # on the far side, before anything else
  mirror-wizard media join /data/bundle /media/usb/volume-02-of-03   # one medium at a time, any order
  mirror-wizard release mirror -a AUTH --from-dir /data/bundle --to mirror.example.com:8443/ocp4/openshift4

by hand: (cd /data/bundle && sha256sum -c SHA256SUMS) checks every file but not the images' graphs.
"""


def add_bundle_options(parser: argparse.ArgumentParser, *, with_target: bool = True) -> None:
    """The options a to-dir run takes for the bundle it writes around its OCI layout."""
    group = parser.add_argument_group("removable-media bundle (with --to-dir)")
    if with_target:
        group.add_argument("--bundle-target", metavar="HOST/REPO",
                           help="the mirror repository the far side uploads to: the bundle's plan, cluster YAML and "
                                "runbook then name it (otherwise they name a placeholder to edit)")
    group.add_argument("--max-medium-size", metavar="SIZE", type=_size,
                       help="also cut the bundle into numbered volumes none larger than SIZE (e.g. 32G, 700M), "
                            "written beside DIR as DIR.volumes/volume-NN-of-MM")
    group.add_argument("--volumes-dir", metavar="DIR", help="write the volumes here instead")
    group.add_argument("--since", metavar="BUNDLE_JSON",
                       help="incremental: leave out the layers an earlier bundle carried (its bundle.json, or its "
                            "directory); the far side must have uploaded that one first")
    group.add_argument("--wheelhouse", metavar="DIR",
                       help="copy mirror-wizard's wheels from here instead of building them with pip")
    group.add_argument("--no-wheelhouse", action="store_true",
                       help="leave mirror-wizard's wheels out (the far host installs it some other way)")
    group.add_argument("--wheel-python", metavar="X.Y",
                       help="the far host's Python version, when it differs from this one's")
    group.add_argument("--wheel-platform", metavar="TAG", action="append", default=[],
                       help="the far host's platform tag (e.g. manylinux2014_x86_64; repeatable)")
    group.add_argument("--sign-key", metavar="FILE",
                       help="sign SHA256SUMS with this armored OpenPGP secret key (no passphrase); default: this "
                            "host's bundle key, made once under ~/.config/mirror-wizard (mode 0600)")


def bundle_flags_given(args: argparse.Namespace) -> list[str]:
    """The bundle flags (add_bundle_options) this command line used, as typed."""
    flags = (("--bundle-target", "bundle_target"), ("--since", "since"), ("--max-medium-size", "max_medium_size"),
             ("--volumes-dir", "volumes_dir"), ("--wheelhouse", "wheelhouse"), ("--wheel-python", "wheel_python"),
             ("--wheel-platform", "wheel_platform"), ("--no-wheelhouse", "no_wheelhouse"), ("--sign-key", "sign_key"))
    return [flag for flag, name in flags if getattr(args, name, None)]


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def bundle_options_from_args(args: argparse.Namespace) -> BundleOptions:
    since = getattr(args, "since", None)
    if since and not Path(since).exists():
        raise InputError(f"--since {since}: no such file; give the earlier bundle's bundle.json or its directory")
    wheelhouse = getattr(args, "wheelhouse", None)
    return BundleOptions(
        target=getattr(args, "bundle_target", None) or getattr(args, "to", None),
        max_medium_size=getattr(args, "max_medium_size", None),
        volumes_dir=Path(args.volumes_dir) if getattr(args, "volumes_dir", None) else None,
        since=Path(since) if since else None,
        wheelhouse=Path(wheelhouse) if wheelhouse else None,
        wheel_python=getattr(args, "wheel_python", None),
        wheel_platforms=tuple(getattr(args, "wheel_platform", None) or ()),
        include_wheelhouse=not getattr(args, "no_wheelhouse", False),
        sign_key=Path(args.sign_key) if getattr(args, "sign_key", None) else None,
    )


def print_bundle_result(result: BundleResult, stream: TextIO | None = None) -> None:
    stream = stream or sys.stderr
    for warning in result.warnings:
        print(f"warning: {warning}", file=stream)
    text = (f"bundle: {result.directory} holds {result.images} images, {result.files} files "
            f"({human_bytes(result.bytes)}); SHA256SUMS written last")
    if result.omitted:
        text += f"; {len(result.omitted)} layers left to the base bundle"
    print(text, file=stream)
    if result.signer:
        made = " (this host's bundle key, made now)" if result.signer_made else ""
        print(f"signed by {result.signer}{made}: carry this fingerprint to the far side apart from the medium; "
              f"there: mirror-wizard media verify DIR --signer {result.signer}", file=stream)
    if result.volumes:
        print(f"volumes: {len(result.volumes)} in {result.volumes[0].parent}: "
              + ", ".join(v.name for v in result.volumes), file=stream)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    media = subparsers.add_parser("media", help="check, make, cut and join a removable-media bundle",
                                  description="The bundle a --to-dir run writes: everything the disconnected side "
                                              "needs, with SHA256SUMS to prove it arrived intact.",
                                  epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = media.add_subparsers(dest="media_command", metavar="COMMAND", required=True)

    verify = sub.add_parser("verify", help="check every file, every blob and every image of a bundle",
                            description="Check a bundle as it arrived: every file SHA256SUMS lists is there with "
                                        "its hash, nothing unlisted that would be used, every blob matches its "
                                        "digest and every image's manifest graph is complete. One line per problem; "
                                        "exit code 0 only when there are none.",
                            epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    verify.add_argument("directory", metavar="DIR")
    verify.add_argument("--signer", metavar="FINGERPRINT|KEYFILE",
                        help="refuse the bundle unless SHA256SUMS is signed by this key (the fingerprint printed "
                             "when the bundle was written, or its public key file); without it the bundle's "
                             "origin is not checked")
    verify.add_argument("--json", action="store_true", help="print a machine-readable report")
    verify.set_defaults(func=run_verify)

    bundle = sub.add_parser("bundle", help="write the bundle around a directory an earlier --to-dir run wrote",
                            description="Add the binaries, wheelhouse, plan, cluster YAML, runbook and SHA256SUMS "
                                        "to an OCI layout written by release mirror --to-dir (which does this itself).",
                            epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    bundle.add_argument("directory", metavar="DIR")
    add_bundle_options(bundle)
    bundle.set_defaults(func=run_bundle)

    split = sub.add_parser("split", help="cut a finished bundle into volumes none larger than SIZE",
                           description="Cut the bundle into volume-NN-of-MM directories, one per medium. A file "
                                       "is cut only when it alone is larger than a volume.",
                           epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    split.add_argument("directory", metavar="DIR")
    split.add_argument("--max-medium-size", metavar="SIZE", type=_size, required=True)
    split.add_argument("--to", metavar="OUT", help="where the volumes go (default DIR.volumes beside DIR)")
    split.set_defaults(func=run_split)

    join = sub.add_parser("join", help="copy volumes into one bundle directory (any order, one medium at a time)",
                          description="Copy each volume into TARGET and put together files that were cut; says "
                                      "what is still to come.",
                          epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    join.add_argument("target", metavar="TARGET")
    join.add_argument("volumes", metavar="VOLUME", nargs="*")
    join.set_defaults(func=run_join)


def run_verify(args: argparse.Namespace) -> int:
    report = verify_bundle(Path(args.directory), signer=args.signer)
    if args.json:
        print(json.dumps({"ok": report.ok, "signed_by": report.signed_by, "files": report.files,
                          "bytes": report.bytes, "images": report.images, "blobs": report.blobs, "omitted": report.omitted,
                          "volumes": list(report.volumes) if report.volumes else None,
                          "problems": [{"path": p.path, "message": p.message, "severity": str(p.severity)}
                                       for p in report.problems]}, indent=2))
    else:
        for problem in report.problems:
            print(str(problem))
        print(report.summary(), file=sys.stderr if report.problems else sys.stdout)
    return 0 if report.ok else 1


def run_bundle(args: argparse.Namespace) -> int:
    directory = Path(args.directory)
    options = bundle_options_from_args(args)

    async def go(cancel: asyncio.Event) -> BundleResult:
        releases = await releases_in_bundle(directory)
        return await write_bundle(directory, releases, options=options,
                                  on_message=lambda text: print(text, file=sys.stderr))

    print_bundle_result(run_async(go), sys.stdout)
    return 0


def run_split(args: argparse.Namespace) -> int:
    directory = Path(args.directory)
    out = Path(args.to) if args.to else directory.with_name(directory.name + ".volumes")
    volumes = split_volumes(directory, args.max_medium_size, out)
    for volume in volumes:
        size = sum(p.stat().st_size for p in volume.rglob("*") if p.is_file())
        print(f"{volume}  {human_bytes(size)}")
    print(f"{len(volumes)} volumes, none larger than {human_bytes(args.max_medium_size)}")
    return 0


def run_join(args: argparse.Namespace) -> int:
    waiting = join_volumes(Path(args.target), args.volumes, on_message=lambda text: print(text, file=sys.stderr))
    for line in waiting:
        print(line)
    missing = missing_volumes(Path(args.target))
    for problem in missing:
        print(str(problem))
    if not missing and not waiting:
        print(f"every volume is in; check it with: mirror-wizard media verify {args.target}")
        return 0
    return 1
