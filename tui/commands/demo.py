"""``mirror-wizard demo``: the practice sandbox — local registries, seeded, and the wizard pointed at them."""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.text import shell_quote

if TYPE_CHECKING:  # the sandbox loads only when `demo` runs (registries, a CA, a signing key)
    from tui.sandbox.demo import Sandbox


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


@dataclass
class Prepared:
    sandbox: Sandbox
    reopen: bool         # a saved plan: the wizard opens at its first step that still needs the admin
    notes: list[str]     # what was done to the admin's files, one line each


def prepare_demo(workdir: Path, *, reuse: bool) -> Prepared:
    """The sandbox in ``workdir``: an earlier run's started again with its plan kept (``reuse``: --dir on a
    folder holding one), else a new one. A plan the admin saved is never written over unannounced: it is
    kept as plan.yaml.bak first."""
    # lazy: the sandbox adds 8 ms to every command's start (python3 -X importtime, over --help's imports)
    from tui.sandbox.demo import PLAN_NAME, can_reopen, create_sandbox, reopen_sandbox
    from tui.sandbox.plan import backup_plan, move_hosts, write_demo_plan  # lazy: with tui.sandbox.demo above (same 8 ms)

    plan = workdir / PLAN_NAME
    notes: list[str] = []
    if reuse and can_reopen(workdir):
        reopened = reopen_sandbox(workdir)
        sandbox = reopened.sandbox
        try:
            if reopened.moved:
                backup = backup_plan(plan)
                changed = move_hosts(sandbox, plan, reopened.moved)
                ports = ", ".join(f"{old} → {new}" for old, new in reopened.moved.items())
                notes.append(f"port taken: the registries moved ({ports}); only those host:port fields changed in "
                             f"{', '.join(str(p) for p in changed)} (the plan as it was: {backup})")
        except BaseException:
            sandbox.stop()
            raise
        sandbox.plan_path = plan
        notes.append(f"reopening your saved plan {plan} (same mirror password)")
        return Prepared(sandbox, True, notes)
    if plan.exists():
        backup = backup_plan(plan)
        notes.append(f"{plan} is replaced by a new sandbox's plan; the one there is kept as {backup}")
    sandbox = create_sandbox(workdir)
    try:
        sandbox.plan_path = write_demo_plan(sandbox)
    except BaseException:
        sandbox.stop()
        raise
    return Prepared(sandbox, False, notes)


def comeback_line(workdir: Path) -> str:
    """How to come back to this sandbox: one line, said when it stops."""
    return f"`mirror-wizard demo --dir {shell_quote(str(workdir))}` reopens your saved plan"


def stop_on_hangup(sandbox: Sandbox) -> None:
    """SIGHUP (the terminal closed: tmux killed, ssh dropped) and SIGTERM stop the registries as leaving
    does. They are stopped in the handler itself, before anything else: the wizard's own shutdown may
    not finish once its terminal is gone. (A SIGKILL is the registries' own parent-death signal's job,
    tui.sandbox.registry.)"""
    def on_signal(signum: int, _frame: object) -> None:
        sandbox.stop()
        raise SystemExit(128 + signum)

    for number in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(number, on_signal)


def run_demo(args: argparse.Namespace) -> int:
    workdir = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="mirror-wizard-demo-"))
    print(f"starting the sandbox in {workdir} …", file=sys.stderr)
    prepared = prepare_demo(workdir, reuse=bool(args.dir))
    sandbox = prepared.sandbox
    try:
        stop_on_hangup(sandbox)
        for note in prepared.notes:
            print(note, file=sys.stderr)
        print(describe(sandbox), file=sys.stderr)
        if args.no_wizard:
            print("\nready to paste, in another terminal:\n")
            print("\n".join(cli_commands(sandbox)), flush=True)
            print("\nregistries are running; press Ctrl+C to stop them", file=sys.stderr)
            try:
                threading.Event().wait()  # until Ctrl+C, or SIGTERM/SIGHUP (stop_on_hangup)
            except KeyboardInterrupt:
                pass
            return 0
        from tui.app import run_app  # lazy: Textual 0.175 s at start (-X importtime over --help's imports)

        return run_app(str(sandbox.plan_path), reopen=prepared.reopen, notes=prepared.notes)
    finally:
        sandbox.stop()
        print(f"sandbox stopped; its files stay in {workdir}", file=sys.stderr)
        print(comeback_line(workdir), file=sys.stderr)
