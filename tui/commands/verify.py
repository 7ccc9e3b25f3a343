"""``mirror-wizard verify PLAN [--cluster] [--json]``: prove the mirror (and the cluster) are ready."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TextIO

from core.plan import load_plan
from core.verify import Check, Report, Status, report_json, verify

from .common import run_async

EPILOG = """\
Mirror side (always, read-only): release images by digest through the plan's mirror sets, the release
tag, every kept samples tag on samplesRegistry (digests compared with the source when reachable), the
skipped streams, the mirror's certificate against the plan's CA, the release signatures; every image the
cluster pulls by digest kept by a tag (registries delete untagged manifests when they collect garbage),
the Sigstore .sig tags a 4.21 (release image) or 4.22 (components too) cluster checks, and the plan's
update service graph-data image (release.graph_image).

With --cluster, through your logged-in oc (read-only): image.config trust and its ConfigMap, the
IDMS/ICSP, the samples operator Config and status (and why it is Removed), imports in the openshift
namespace, image.config's allowed/blocked registries against samplesRegistry (with its port),
imageStreamImportMode (PreserveOriginal: the samples mirror must keep manifest lists), an
ImageTagMirrorSet where something is pulled by tag, the 4.20 -> 4.21 admin-ack ack-4.20-sigstore-in-4.21,
the UpdateService, its updateservice-registry CA key and clusterversion spec.upstream, machine config
pools; plus the command that shows on a node where CRI-O pulled from.

Exit status 0 only when every check that was performed passed (– lines are not counted).

  mirror-wizard verify plan.yaml
  mirror-wizard verify plan.yaml --cluster --json
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("verify", help="check that the mirror and the cluster are ready for the plan",
                                   description="Check, read-only, that everything a plan mirrored is where the "
                                               "cluster will look for it, and (--cluster) that the cluster uses it.",
                                   epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("plan", metavar="PLAN", help="the plan file the wizard saved")
    parser.add_argument("--cluster", action="store_true", help="also check the cluster through oc (read-only)")
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    parser.set_defaults(func=verify_command)


def print_check(check: Check, stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    print(check.line(), file=out)
    for item in check.items:
        print(f"    {item}", file=out)
    out.flush()


def verify_command(args: argparse.Namespace) -> int:
    plan = load_plan(args.plan)

    async def go(cancel: asyncio.Event) -> Report:
        return await verify(plan, cluster=args.cluster, plan_file=args.plan,
                            on_check=None if args.json else print_check, cancel=cancel)

    report = run_async(go)
    if args.json:
        print(report_json(report))
    else:
        failed = sum(1 for c in report.checks if c.failed)
        passed = sum(1 for c in report.checks if c.status == Status.PASS)
        skipped = len(report.checks) - failed - passed
        verdict = "ready" if report.ok else "NOT ready"
        print(f"\n{verdict}: {passed} passed, {failed} failed, {skipped} not checked")
    return 0 if report.ok else 1


__all__ = ["register", "verify_command"]
