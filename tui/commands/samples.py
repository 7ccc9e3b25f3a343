"""``mirror-wizard samples list|plan|mirror``: the samples operator's image streams on a mirror registry."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TextIO

from core.errors import InputError
from core.filenames import SAMPLES_MAPPING_FILE
from core.fsio import atomic_write
from core.orchestrate import Job, open_session
from core.plan import Plan, SamplesChoice, SamplesSource
from core.run import Prepared
from core.samples import (
    CONFIG_RESOURCE,
    CONFIGMAP_NAME,
    CONFIGMAP_NAMESPACE,
    OPERATOR_JENKINS_STREAMS,
    SamplesPlan,
    SampleStream,
    plan_samples,
)
from core.usecases.samples import LoadedStreams, load_local_streams, load_streams

from .common import (
    access_from_args,
    add_copy_options,
    add_idms_option,
    add_registry_options,
    options_from_args,
    print_summary,
    run_async,
    run_job_with_progress,
)

EPILOG = f"""\
where the image streams come from (one of):
  --imagestreams DIR|FILE   ImageStream JSON/YAML (single objects or Lists, e.g. the output of
                            'oc get is -n openshift -o json'), or the {CONFIGMAP_NAME} config map:
                            oc get configmap {CONFIGMAP_NAME} -n {CONFIGMAP_NAMESPACE} -o yaml
                            Repeat it to merge sources (the config map plus jenkins stream files).
  --from-cluster            read them from the logged-in cluster with oc
  --from-release RELEASE    read the ones a release ships, in its cluster-samples-operator image
                            (a pull spec, or oci:DIR:NAME written by release mirror --to-dir):
                            exactly that version's streams, no cluster needed; --arch picks the folder

how samplesRegistry works: for host/namespace/name[:tag] the host becomes the mirror (any other shape
gets the mirror in front), so DST keeps the repository path and tag. Streams you do not mirror go into
skippedImagestreams, or the operator keeps failing to import them.

examples:
  mirror-wizard samples list --imagestreams ./imagestreams
  mirror-wizard samples plan --imagestreams ./imagestreams --mirror mirror.example.com:8443 \\
      --include ruby --include nodejs --mapping-out mapping.txt --config-out samples-config.yaml
  mirror-wizard samples mirror -a pull-secret.json --imagestreams ./imagestreams \\
      --mirror mirror.example.com:8443 --skip jenkins --skip jenkins-agent-base
  mirror-wizard samples plan --imagestreams imagestreamtag-to-image.yaml \\
      --imagestreams jenkins-rhel.json --imagestreams jenkins-agent-base-rhel.json --mirror mirror.example.com:8443

the config map leaves out every jenkins* stream: from it alone, jenkins and jenkins-agent-base are
skipped; add their ImageStream files (as above) to mirror them.
"""


def _add_source_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("image streams")
    source = group.add_mutually_exclusive_group(required=True)
    source.add_argument("--imagestreams", metavar="PATH", action="append",
                        help="file or directory of ImageStreams, or the imagestreamtag-to-image config map (repeatable)")
    source.add_argument("--from-cluster", action="store_true",
                        help="read the samples operator's image streams from the cluster with oc")
    source.add_argument("--from-release", metavar="RELEASE",
                        help="read the streams a release ships (pull spec, or oci:DIR:NAME from a --to-dir run)")
    group.add_argument("--arch", metavar="ARCH",
                       help="with --from-release: x86_64, aarch64, ppc64le or s390x (default: the release's)")
    group.add_argument("--oc", metavar="PATH", default="oc", help="the oc binary for --from-cluster (default: oc)")


def _add_plan_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mirror", metavar="HOST[:PORT]", required=True,
                        help="the mirror registry; becomes samplesRegistry")
    parser.add_argument("--include", metavar="NAME", action="append",
                        help="mirror only these streams (repeatable, or comma-separated; default: all)")
    parser.add_argument("--skip", metavar="NAME", action="append",
                        help="do not mirror these streams; they go into skippedImagestreams (repeatable)")
    parser.add_argument("--mapping-out", metavar="FILE", help="write the SRC=DST mapping (for oc image mirror -f)")
    parser.add_argument("--config-out", metavar="FILE", help="write the samples operator Config (merge patch)")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    samples = subparsers.add_parser("samples", help="mirror the samples operator's image streams",
                                    description="Plan and mirror the Cluster Samples Operator's image streams.",
                                    epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = samples.add_subparsers(dest="samples_command", metavar="COMMAND", required=True)

    listing = sub.add_parser("list", help="show the image streams, their tags and source registries",
                             epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_source_options(listing)
    add_registry_options(listing)
    listing.set_defaults(func=run_list)

    plan = sub.add_parser("plan", help="print the mapping, the operator Config and the oc commands",
                          epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_source_options(plan)
    _add_plan_options(plan)
    add_registry_options(plan)
    plan.set_defaults(func=run_plan)

    mirror = sub.add_parser("mirror", help="plan, then copy the images to the mirror in one go",
                            epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_source_options(mirror)
    _add_plan_options(mirror)
    add_registry_options(mirror)
    add_idms_option(mirror)
    add_copy_options(mirror)
    mirror.set_defaults(func=run_mirror)


def choice_from_args(args: argparse.Namespace) -> SamplesChoice:
    """The source flags as the plan's samples choice (core.usecases.samples reads any of them)."""
    if args.arch and not args.from_release:
        raise InputError("--arch goes with --from-release (files and the cluster say their own images)")
    source = SamplesSource.CLUSTER if getattr(args, "from_cluster", False) else SamplesSource.FILES
    paths = list(args.imagestreams or [])
    if args.from_release:
        source, paths = SamplesSource.RELEASE, [args.from_release]
    return SamplesChoice(source=source, paths=paths, mirror=getattr(args, "mirror", "") or "",
                         architecture=args.arch, include=list(getattr(args, "include", None) or []),
                         skip=list(getattr(args, "skip", None) or []))


def load_from_args(args: argparse.Namespace) -> list[SampleStream]:
    choice = choice_from_args(args)
    if choice.source != SamplesSource.RELEASE:
        return load_local_streams(choice, oc=args.oc)

    async def go(cancel: asyncio.Event) -> LoadedStreams:
        async with open_session(access_from_args(args)) as session:
            return await load_streams(choice, session=session)

    found = run_async(go).release
    assert found is not None  # a release source says what it read
    print(f"# {len(found.streams)} image streams shipped by {found.image} for {found.architecture} "
          f"({found.templates} templates and {len(found.payload_streams)} payload streams left out)", file=sys.stderr)
    return found.streams


def run_list(args: argparse.Namespace) -> int:
    streams = load_from_args(args)
    rows = [(s.name, str(len(s.tags)), str(len(s.pull_specs)), ", ".join(s.registries) or "-") for s in streams]
    header = ("NAME", "TAGS", "IMAGES", "REGISTRIES")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    for row in [header, *rows]:
        print(f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}")
    images = len({spec for s in streams for spec in s.pull_specs})
    print(f"\n{len(streams)} image streams, {images} distinct images")
    for stream in streams:
        for problem in stream.problems:
            print(f"note: {problem}")
    missing = [n for n in OPERATOR_JENKINS_STREAMS if n not in {s.name for s in streams}]
    if any(s.from_configmap for s in streams) and missing:
        print(f"note: the {CONFIGMAP_NAME} config map leaves out every jenkins* stream: a plan skips "
              f"{', '.join(missing)} unless you add their ImageStream files with --imagestreams (repeated)")
    return 0


def _write(path: str, text: str, what: str) -> None:
    atomic_write(path, text, make_parents=False, hint=f"the {what} goes there: choose a file you can write")


def _write_outputs(plan: SamplesPlan, args: argparse.Namespace) -> None:
    if args.mapping_out:
        _write(args.mapping_out, plan.mapping_text(), "mapping")
    if args.config_out:
        _write(args.config_out, plan.config_yaml(), "samples operator Config")


def _make_plan(args: argparse.Namespace) -> SamplesPlan:
    streams = load_from_args(args)
    plan = plan_samples(streams, args.mirror, include=args.include, skip=args.skip,
                        mapping_file=args.mapping_out or SAMPLES_MAPPING_FILE)
    _write_outputs(plan, args)
    return plan


def _print_plan(plan: SamplesPlan, args: argparse.Namespace, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    print(f"# samples: {len(plan.included)} image streams mirrored, {len(plan.skipped)} skipped, "
          f"{len(plan.mapping)} images to {plan.mirror}", file=out)
    print("\n# mapping (SRC=DST)" + (f", written to {args.mapping_out}" if args.mapping_out else ""), file=out)
    out.write(plan.mapping_text() or "# (nothing to mirror)\n")
    print(f"\n# {CONFIG_RESOURCE}" + (f", written to {args.config_out}" if args.config_out else ""), file=out)
    out.write(plan.config_yaml())
    print("\n# commands", file=out)
    for command in plan.commands:
        print(command, file=out)
    for note in plan.notes:
        print(f"note: {note}", file=sys.stderr)


def run_plan(args: argparse.Namespace) -> int:
    plan = _make_plan(args)
    _print_plan(plan, args)
    return 0


def plan_from_args(args: argparse.Namespace) -> Plan:
    """The flags as a plan with only image streams, for core.orchestrate."""
    choice = choice_from_args(args)
    return Plan(auth_file=args.registry_config, samples=choice, options=options_from_args(args))


def run_mirror(args: argparse.Namespace) -> int:
    found: list[SamplesPlan] = []

    def prepared(ready: Prepared) -> None:
        plan = ready.samples
        assert plan is not None
        found.append(plan)
        _write_outputs(plan, args)
        for note in plan.notes:
            print(f"note: {note}", file=sys.stderr)

    job = Job(plan_from_args(args), dry_run=args.dry_run, oc=args.oc, write_outputs=False,
              nothing_to_do="nothing to mirror: every image stream is skipped or has no image")
    result = run_job_with_progress(args, job, on_prepared=prepared)
    print_summary(args, result, dry_run=args.dry_run)
    if args.json:
        return 0 if result.ok else 1
    plan = found[0]
    if result.ok and not args.dry_run:
        print(f"\nnext: point the samples operator at {plan.mirror}")
    elif not result.ok:
        print("\nthe mirror is incomplete: fix the failures and run the same command again "
              "(what was copied is kept) before patching the samples operator")
        return 1
    print(f"# {CONFIG_RESOURCE}" + (f" (written to {args.config_out})" if args.config_out else ""))
    sys.stdout.write(plan.config_yaml())
    print(plan.commands[-1])
    return 0
