"""``mirror-wizard demo``: the practice sandbox — local registries, seeded, and the wizard pointed at them."""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
from pathlib import Path

from core.text import shell_quote


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser(
        "demo", help="practice the whole procedure against local registries (no cluster, no internet)",
        description=("Starts two local registries with TLS — a source standing in for quay.io and "
                     "registry.redhat.io, and a password-protected mirror — seeds the source with a small "
                     "OpenShift-like release and the samples images, writes a plan, and opens the wizard. "
                     "Everything stops when you leave."),
    )
    demo.add_argument("--dir", metavar="DIR", help="keep the sandbox in DIR (default: a temporary folder)")
    demo.add_argument("--no-wizard", action="store_true",
                      help="only start and seed the registries, print how to use them, wait for Ctrl+C")
    demo.set_defaults(func=run_demo)


def describe(sandbox) -> str:  # type: ignore[no-untyped-def]
    return "\n".join([
        "mirror-wizard practice sandbox",
        f"  source registry (stands in for quay.io, registry.redhat.io): {sandbox.source.host}",
        f"  mirror registry (yours):  {sandbox.mirror.host}   user: {sandbox.mirror_user}",
        f"  mirror password:          in {sandbox.workdir / 'mirror-password.txt'}",
        f"  CA certificate:           {sandbox.ca_file}",
        f"  pull secret:              {sandbox.pull_secret}",
        f"  image streams:            {sandbox.imagestreams_dir}",
        f"  release:                  {sandbox.release_source}",
        f"  plan:                     {sandbox.plan_path}",
    ])


def cli_commands(sandbox) -> list[str]:  # type: ignore[no-untyped-def]
    """The whole practice run without the wizard: commands to paste, each complete (no placeholders)."""
    q = shell_quote
    work = sandbox.workdir
    merged = work / "pull-secret-mirror.json"
    ca, idms, mirror = q(str(sandbox.ca_file)), q(str(sandbox.idms_file)), sandbox.mirror.host
    return [
        "# 1. the pull secret plus the mirror's login (tested before it is saved)",
        f"mirror-wizard credentials add --pull-secret {q(str(sandbox.pull_secret))} --registry {mirror} \\\n"
        f"    --username {sandbox.mirror_user} --password-stdin --ca-file {ca} \\\n"
        f"    -o {q(str(merged))} < {q(str(work / 'mirror-password.txt'))}",
        "# 2. the release, read through the practice mirror set (it stands in for quay.io)",
        f"mirror-wizard release mirror -a {q(str(merged))} --ca-file {ca} --idms-file {idms} \\\n"
        f"    --from {q(sandbox.release_source)} --to {sandbox.mirror_repository}",
        "# 3. the samples image streams",
        f"mirror-wizard samples mirror -a {q(str(merged))} --ca-file {ca} --idms-file {idms} \\\n"
        f"    --imagestreams {q(str(sandbox.imagestreams_dir))} --mirror {mirror}",
        "# 4. the whole procedure for this plan, as Markdown",
        f"mirror-wizard runbook {q(str(sandbox.plan_path))} -o {q(str(work / 'runbook.md'))}",
    ]


def run_demo(args: argparse.Namespace) -> int:
    # lazy: the sandbox (registries, a CA, a signing key) adds 0.1-0.2 s that only `demo` pays
    from tui.sandbox.demo import create_sandbox
    from tui.sandbox.plan import write_demo_plan

    workdir = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="mirror-wizard-demo-"))
    print(f"starting the sandbox in {workdir} …", file=sys.stderr)
    sandbox = create_sandbox(workdir)
    try:
        sandbox.plan_path = write_demo_plan(sandbox)
        print(describe(sandbox), file=sys.stderr)
        if args.no_wizard:
            print("\nready to paste, in another terminal:\n")
            print("\n".join(cli_commands(sandbox)), flush=True)
            print("\nregistries are running; press Ctrl+C to stop them", file=sys.stderr)
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            try:
                stop.wait()
            except KeyboardInterrupt:
                pass
            return 0
        from tui.app import run_app  # here, not at the top: the other commands never load Textual

        return run_app(str(sandbox.plan_path))
    finally:
        sandbox.stop()
        print(f"sandbox stopped; its files stay in {workdir}", file=sys.stderr)
