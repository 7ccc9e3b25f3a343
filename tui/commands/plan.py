"""``mirror-wizard run PLAN`` and ``mirror-wizard runbook PLAN``: a saved plan, carried out or written down."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from core.errors import InputError, RegistryUnreachable, TLSVerifyError
from core.orchestrate import Job, RunResult, open_session, run_job
from core.plan import ReleaseMode, SamplesSource, load_plan
from core.run import Prepared, prepare, prepare_ca, prepare_samples, write_outputs, write_text
from core.runbook import render_runbook
from core.text import human_bytes, shell_quote

from .common import ProgressPrinter, run_async, summary_text
from .media import add_bundle_options, bundle_flags_given, bundle_options_from_args, print_bundle_result

RUN_EPILOG = """\
A plan is the YAML file the wizard saves (Ctrl+S). It names the auth file (never a password), the
mirror registry and its CA, the release to mirror and how, and the image streams to mirror or skip.

  mirror-wizard run plan.yaml --dry-run   # what would be copied, and how many bytes
  mirror-wizard run plan.yaml             # copy, then write every manifest to the plan's output_dir
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = subparsers.add_parser("run", help="carry out a saved plan (release and samples in one copy)",
                                description="Mirror everything a plan asks for, then write the manifests.",
                                epilog=RUN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("plan", metavar="PLAN", help="the plan file the wizard saved")
    run.add_argument("--dry-run", action="store_true", help="show what would be copied; copy and write nothing")
    run.add_argument("--json", action="store_true", help="print a machine-readable summary")
    run.add_argument("-o", "--output-dir", metavar="DIR", help="write manifests here instead of the plan's output_dir")
    run.add_argument("--signer", metavar="FINGERPRINT|KEYFILE",
                     help="a from-dir plan: refuse the bundle unless its SHA256SUMS is signed by this key")
    run.add_argument("--release-key", metavar="FILE", action="append", default=[],
                     help="also trust this release public key (repeatable; a bundle carries the connected "
                          "side's in config/release-keys/, but trusting one is your answer, never the medium's)")
    run.add_argument("-a", "--authfile", "--registry-config", dest="authfile", metavar="FILE",
                     help="the registry logins to use instead of the plan's auth_file (a bundle's plan names "
                          "none: without -a, REGISTRY_AUTH_FILE or the usual podman/docker auth files)")
    run.add_argument("--confirm-target", metavar="HOST/REPO",
                     help="a bundle's own plan: refuse it unless it uploads to this repository")
    add_bundle_options(run, with_target=False)
    run.set_defaults(func=run_command)

    book = subparsers.add_parser("runbook", help="write the whole procedure for a plan as Markdown",
                                 description="One Markdown document with every command and YAML document for "
                                             "the plan's choices, in the procedure's order.")
    book.add_argument("plan", metavar="PLAN")
    book.add_argument("-o", "--output", metavar="FILE", help="write here (default: standard output)")
    book.add_argument("--offline", action="store_true",
                      help="do not contact registries (the release's mirror instructions are then left out)")
    book.set_defaults(func=runbook_command)


def run_command(args: argparse.Namespace) -> int:
    plan = load_plan(args.plan, confirm_target=args.confirm_target)
    if args.signer:
        if plan.release is None or plan.release.mode != ReleaseMode.FROM_DIR:
            raise InputError("--signer checks who wrote a bundle: only for a from-dir plan")
        plan.release.bundle_signer = args.signer
    if args.release_key:
        if plan.release is None:
            raise InputError("--release-key trusts a release's signing key: this plan mirrors no release")
        plan.release.keys = list(dict.fromkeys([*plan.release.keys, *args.release_key]))
    if args.output_dir:
        plan.output_dir = args.output_dir
    if args.authfile:
        plan.auth_file = args.authfile  # this host's logins: never a path the plan (or a medium) chose
    printer = ProgressPrinter(quiet=args.json, failures=plan.options.continue_on_error)

    given = bundle_flags_given(args)
    if given and (plan.release is None or plan.release.mode != ReleaseMode.TO_DIR):
        raise InputError(f"{', '.join(given)}: only for the bundle a to-dir plan writes (release.mode: to-dir); "
                         "leave them out for this plan")
    bundle = bundle_options_from_args(args)  # how core.orchestrate writes a to-dir plan's bundle

    async def go(cancel: asyncio.Event) -> RunResult:
        return await run_job(Job(plan, dry_run=args.dry_run, bundle=bundle), on_event=printer, cancel=cancel,
                             on_message=printer.message)

    try:
        result = run_async(go)
    finally:
        printer.finish()
    copy = result.copy
    assert copy is not None
    space = result.prepared.space
    if space is not None and not args.json:
        print(f"space: {human_bytes(space.needed)} to write to {space.directory}, {human_bytes(space.free)} free",
              file=sys.stderr)
    if args.json:
        data = copy.as_dict()
        data["outputs"] = [str(p) for p in result.outputs]
        data["release_notes"] = result.prepared.release_lines()
        if result.bundle is not None:
            data["bundle"] = result.bundle.as_dict()
        print(json.dumps(data, indent=2))
    else:
        print(summary_text(copy, dry_run=args.dry_run))
        for line in result.prepared.release_lines():  # signatures, Sigstore, update path bytes, warnings
            print(line)
        for path in result.outputs:
            print(f"wrote {path}")
        if result.bundle is not None:
            print_bundle_result(result.bundle)
        if result.prepared.instructions is not None and not args.dry_run:
            instructions = result.prepared.instructions
            print(f"\n{instructions.install_config_key} for install-config.yaml:\n")
            print(instructions.install_config_yaml())
    return 0 if result.ok else 1


def runbook_command(args: argparse.Namespace) -> int:
    plan = load_plan(args.plan)

    async def build() -> str:
        if args.offline:
            prepared = Prepared(plan)
            if plan.samples is None or plan.samples.source != SamplesSource.RELEASE:  # that one needs a registry
                prepared.samples, _ = prepare_samples(plan)
            prepared.ca = prepare_ca(plan)
        else:
            async with open_session(plan) as session:
                # Reads only: writing down a plan never touches its removable medium.
                prepared = await prepare(plan, session, read_only=True)
        return render_runbook(plan, prepared.runbook_parts(plan_file=args.plan))

    try:
        text = asyncio.run(build())
    except (RegistryUnreachable, TLSVerifyError) as exc:
        # The runbook only needs the registries for the release's details: say how to do without them.
        offline = f"mirror-wizard runbook {shell_quote(args.plan)} --offline"
        raise type(exc)(exc.message, hint="; ".join(filter(None, [
            exc.hint, f"to write the runbook without contacting any registry: {offline}"])),
            registry=exc.registry) from None
    if args.output:
        write_text(Path(args.output), text)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


__all__ = ["register", "run_command", "runbook_command", "write_outputs"]
