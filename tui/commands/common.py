"""Options and output shared by every command that talks to registries."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from core.authfile import load_auth
from core.copier import CopyOptions, CopyResult, CopyTask, copy_images
from core.errors import Cancelled, InputError
from core.events import (
    BlobDone,
    BlobMounted,
    BlobProgress,
    BlobSkipped,
    Event,
    ImageDone,
    ImageFailed,
    LogMessage,
    PlanReady,
)
from core.registry import RegistrySession
from core.tlsconfig import TLSOptions

T = TypeVar("T")


def add_registry_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("registry access")
    group.add_argument("-a", "--registry-config", metavar="FILE",
                       help="auth file (pull secret / containers auth.json); default: REGISTRY_AUTH_FILE, "
                            "$XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json")
    group.add_argument("--ca-file", metavar="PEM", action="append", default=[],
                       help="trust this CA too (repeatable; adds to the system trust)")
    group.add_argument("--insecure", action="store_true",
                       help="allow plain HTTP and unverified TLS (testing only)")
    group.add_argument("--max-per-registry", type=positive_int, default=6, metavar="N",
                       help="parallel blob transfers per registry (default 6)")


def add_idms_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--idms-file", metavar="FILE",
                        help="an ImageDigestMirrorSet (or ImageContentSourcePolicy): read source images from "
                             "its mirrors instead, as oc's --idms-file")


def add_copy_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="show what would be copied; copy nothing")
    parser.add_argument("--skip-missing", action="store_true", help="skip source images that do not exist")
    parser.add_argument("--continue-on-error", action="store_true", help="keep going when an image fails")
    parser.add_argument("--json", action="store_true", help="print a machine-readable summary")


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1 or number > 64:
        raise argparse.ArgumentTypeError("must be between 1 and 64")
    return number


def session_from_args(args: argparse.Namespace) -> RegistrySession:
    auth = load_auth(getattr(args, "registry_config", None))
    tls = TLSOptions(ca_files=tuple(getattr(args, "ca_file", []) or ()), insecure=bool(getattr(args, "insecure", False)))
    session = RegistrySession(auth, tls, max_per_registry=getattr(args, "max_per_registry", 6))
    if getattr(args, "idms_file", None):  # sources read through a mirror set, as oc's --idms-file
        from core.mirror_config import load_mirror_sets

        session.source_mirrors = load_mirror_sets(args.idms_file)
    return session


def run_async(factory: Callable[[asyncio.Event], Awaitable[T]]) -> T:
    """Run a coroutine; Ctrl+C sets the cancel event first so copies stop cleanly, a second one aborts."""

    async def main() -> T:
        cancel = asyncio.Event()
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def on_sigint() -> None:
            if cancel.is_set() and task is not None:
                task.cancel()
            cancel.set()

        try:
            loop.add_signal_handler(signal.SIGINT, on_sigint)
        except (NotImplementedError, RuntimeError):
            pass
        try:
            return await factory(cancel)
        except asyncio.CancelledError:
            raise Cancelled() from None
        finally:
            try:
                loop.remove_signal_handler(signal.SIGINT)
            except (NotImplementedError, RuntimeError):
                pass

    return asyncio.run(main())


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


class ProgressPrinter:
    """Turns engine events into output: a live line on a terminal, plain lines otherwise."""

    def __init__(self, *, stream=None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() and not quiet
        self.quiet = quiet
        self.total_bytes = 0
        self.total_images = 0
        self.moved = 0
        self.images = 0
        self.started = time.monotonic()
        self._last_draw = 0.0

    def __call__(self, event: Event) -> None:
        if isinstance(event, PlanReady):
            self.total_bytes, self.total_images = event.total_bytes, event.images
            self._line(f"plan: {event.images} images, {event.blobs} unique blobs, {human_bytes(event.total_bytes)}")
        elif isinstance(event, BlobProgress):
            self.moved += event.delta
            self._draw()
        elif isinstance(event, (BlobSkipped, BlobMounted)):
            self.moved += event.size
            self._draw()
        elif isinstance(event, BlobDone):
            self._draw()
        elif isinstance(event, ImageDone):
            self.images += 1
            state = "exists " if event.skipped else "copied "
            self._line(f"{state} {event.destination} ({event.digest[:19]})")
        elif isinstance(event, ImageFailed):
            self.images += 1
            self._line(f"FAILED  {event.source} → {event.destination}: {event.error}")
        elif isinstance(event, LogMessage):
            self._line(f"{event.level}: {event.message}")

    def _line(self, text: str) -> None:
        if self.quiet:
            return
        if self.live:
            self.stream.write("\r\x1b[2K")
        self.stream.write(text + "\n")
        self._draw(force=True)

    def _draw(self, force: bool = False) -> None:
        if not self.live:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        elapsed = max(now - self.started, 1e-6)
        rate = self.moved / elapsed
        remaining = max(self.total_bytes - self.moved, 0)
        eta = f"{remaining / rate:.0f}s" if rate > 0 and remaining else "-"
        self.stream.write(
            f"\r\x1b[2K{human_bytes(self.moved)}/{human_bytes(self.total_bytes)}  "
            f"images {self.images}/{self.total_images}  {human_bytes(rate)}/s  ETA {eta}"
        )
        self.stream.flush()

    def finish(self) -> None:
        if self.live:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


def summary_text(result: CopyResult, *, dry_run: bool = False) -> str:
    head = "dry run" if dry_run else ("mirror complete" if result.ok else "mirror FAILED")
    lines = [
        f"{head}: {result.images_done}/{result.images_total} images"
        + (f", {result.images_skipped_missing} missing skipped" if result.images_skipped_missing else "")
        + (f", {len(result.failures)} failed" if result.failures else ""),
        f"blobs: {result.blobs_total} unique, {result.blobs_copied} copied, {result.blobs_skipped} already present, "
        f"{result.blobs_mounted} mounted",
        f"bytes: {human_bytes(result.bytes_copied)} copied of {human_bytes(result.bytes_total)} "
        f"in {result.seconds:.1f}s",
    ]
    if dry_run:
        lines[0] = f"dry run: {len(result.images)} images would be mirrored"
        lines[2] = f"bytes: {human_bytes(result.bytes_total - result.bytes_present)} to move of {human_bytes(result.bytes_total)}"
    for failure in result.failures:
        lines.append(f"  failed: {failure.source} → {failure.destination}: {failure.error}")
    return "\n".join(lines)


def copy_with_progress(args: argparse.Namespace, tasks: list[CopyTask], options: CopyOptions) -> CopyResult:
    """Run the engine for a command: progress to stderr, summary to stdout (or JSON)."""
    if not tasks:
        raise InputError("nothing to mirror: give SRC DST pairs or a mapping file with -f")
    printer = ProgressPrinter(quiet=bool(getattr(args, "json", False)))

    async def go(cancel: asyncio.Event) -> CopyResult:
        async with session_from_args(args) as session:
            return await copy_images(tasks, session, options, on_event=printer, cancel=cancel)

    try:
        result = run_async(go)
    finally:
        printer.finish()
    if getattr(args, "json", False):
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(summary_text(result, dry_run=options.dry_run))
    return result
