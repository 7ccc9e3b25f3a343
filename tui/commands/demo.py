"""``mirror-wizard demo``: the practice sandbox — local registries, seeded, and the wizard pointed at them."""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
from pathlib import Path


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


def run_demo(args: argparse.Namespace) -> int:
    from tui.sandbox.demo import create_sandbox
    from tui.sandbox.plan import write_demo_plan

    workdir = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="mirror-wizard-demo-"))
    print(f"starting the sandbox in {workdir} …", file=sys.stderr)
    sandbox = create_sandbox(workdir)
    try:
        sandbox.plan_path = write_demo_plan(sandbox)
        print(describe(sandbox), file=sys.stderr)
        if args.no_wizard:
            print("registries are running; press Ctrl+C to stop them", file=sys.stderr)
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
