"""The ``mirror-wizard`` command: no arguments opens the wizard, sub-commands run headless.

Errors from ``core`` arrive here as :class:`core.errors.MirrorError` and leave as one line on
stderr; nothing below this layer prints tracebacks at the admin.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence

from core.errors import Cancelled, InputError, MirrorError

# Command groups, in the order of the procedure; each module has register(subparsers).
COMMAND_MODULES = (
    "tui.commands.preflight",
    "tui.commands.image",
    "tui.commands.release",
    "tui.commands.credentials",
    "tui.commands.ca",
    "tui.commands.samples",
    "tui.commands.plan",
    "tui.commands.apply",
    "tui.commands.verify",
    "tui.commands.media",
    "tui.commands.demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mirror-wizard",
        description=(
            "Mirror an OpenShift release and the samples image streams into your own registry, "
            "and configure the cluster to trust and use it. Run without a command for the wizard."
        ),
    )
    parser.add_argument("--plan", metavar="FILE", help="open the wizard prefilled from a saved plan")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # a command group not built yet
            raise
        module.register(subparsers)
    return parser


def run_wizard(plan: str | None) -> int:
    from tui.app import run_app  # lazy: Textual 0.175 s at start (-X importtime over --help's imports)

    return run_app(plan, reopen=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = None
    if args.command is not None:
        # SIGTERM (a service manager, kill) stops a headless command the way Ctrl+C does.
        try:
            previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
        except ValueError:  # not the main thread (an embedding caller): leave signals alone
            pass
    try:
        if args.command is None:
            return run_wizard(args.plan)
        return int(args.func(args) or 0)
    except Cancelled as exc:
        print(f"mirror-wizard: {exc}", file=sys.stderr)
        return 130
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except MirrorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mirror-wizard: interrupted; everything copied so far is kept — run the same command to resume",
              file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def entry_point() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry_point()
