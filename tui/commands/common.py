"""Options and output shared by every command that talks to registries."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TextIO, TypeVar

from core.access import DEFAULT_STALL_TIMEOUT
from core.adaptive import TRANSFER_CEILING, TRANSFER_START
from core.copier import CopyResult
from core.errors import Cancelled
from core.events import Event, ImageDone, ImageFailed, LogMessage, PlanReady
from core.orchestrate import Access, Job, RunResult, run_job
from core.plan import Options
from core.progress import Progress
from core.run import Prepared
from core.text import human_bytes, human_seconds, plural, shown

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
    group.add_argument("--auth-host", metavar="HOST", action="append", default=[],
                       help="a login service on another host that may receive registry passwords "
                            "(repeatable; the registry's own host is always allowed)")
    group.add_argument("--max-per-registry", type=positive_int, default=None, metavar="N",
                       help=f"at most N parallel connections per registry, a hard limit (default: adaptive, "
                            f"{TRANSFER_START} at first, up to {TRANSFER_CEILING} while more make the copy "
                            f"faster, fewer when a registry pushes back)")
    group.add_argument("--stall-timeout", type=stall_seconds, default=DEFAULT_STALL_TIMEOUT, metavar="SECONDS",
                       help=f"give up on a connection that moves no byte for this long, then retry "
                            f"(default {DEFAULT_STALL_TIMEOUT:g})")
    add_proxy_options(group)


def add_proxy_options(group: argparse._ActionsContainer) -> None:
    """--proxy and --no-proxy: over the environment's HTTPS_PROXY / NO_PROXY (core.http.proxy)."""
    group.add_argument("--proxy", metavar="URL", default=None,
                       help="reach registries, token services, CDNs and the update service through this HTTP "
                            "proxy (http://[USER:PASSWORD@]HOST:PORT; '' for none); overrides HTTPS_PROXY, "
                            "HTTP_PROXY and ALL_PROXY")
    group.add_argument("--no-proxy", metavar="LIST", default=None,
                       help="hosts reached directly, as NO_PROXY lists them (host, .domain, host:port, IP, CIDR, "
                            "'*' for all); overrides NO_PROXY")


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


def stall_seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not 1 <= number <= 3600:
        raise argparse.ArgumentTypeError("must be between 1 and 3600 seconds")
    return number


CANCEL_GRACE = 2.0  # seconds a cancelled run gets to stop between chunks before its requests are cut


def access_from_args(args: argparse.Namespace) -> Access:
    """How the command reaches registries, from its flags (see add_registry_options)."""
    return Access(auth_file=getattr(args, "registry_config", None),
                  ca_files=tuple(getattr(args, "ca_file", []) or ()), insecure=bool(getattr(args, "insecure", False)),
                  idms_file=getattr(args, "idms_file", None), max_per_registry=getattr(args, "max_per_registry", None),
                  stall_timeout=getattr(args, "stall_timeout", DEFAULT_STALL_TIMEOUT),
                  auth_hosts=tuple(getattr(args, "auth_host", []) or ()),
                  proxy=getattr(args, "proxy", None), no_proxy=getattr(args, "no_proxy", None))


def run_async(factory: Callable[[asyncio.Event], Awaitable[T]]) -> T:
    """Run a coroutine; Ctrl+C (or SIGTERM) sets the cancel event first so copies stop cleanly, and
    cancels the task after CANCEL_GRACE seconds (a request stalled on a silent registry never looks
    at the event); a second one cancels at once."""

    async def main() -> T:
        cancel = asyncio.Event()
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def on_signal() -> None:
            if task is None:
                return
            if cancel.is_set():
                task.cancel()
            else:
                loop.call_later(CANCEL_GRACE, task.cancel)
            cancel.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, on_signal)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        try:
            return await factory(cancel)
        except asyncio.CancelledError:
            raise Cancelled() from None
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.remove_signal_handler(signum)
                except (NotImplementedError, RuntimeError, ValueError):
                    pass

    return asyncio.run(main())


class ProgressPrinter:
    """Renders core.progress.Progress (the same numbers the wizard shows): a live line on a terminal,
    plain lines for images as they land otherwise."""

    def __init__(self, *, stream: TextIO | None = None, quiet: bool = False, progress: Progress | None = None,
                 failures: bool = True) -> None:
        """``failures`` False: a failed image is not a line of its own, because the run stops at the first
        failure and the command's one error line names it (the same words twice helped nobody)."""
        self.stream = stream or sys.stderr
        self.failures = failures
        self.live = self.stream.isatty() and not quiet
        self.quiet = quiet
        self.progress = progress or Progress()
        self.progress.reset()
        self._last_draw = 0.0
        self._log_seq = self.progress.log_seq

    def __call__(self, event: Event) -> None:
        self.progress.feed(event)
        if isinstance(event, ImageDone):
            state = "exists " if event.skipped else "copied "
            self._line(f"{state} {event.destination} ({event.digest[:19]})")
        elif isinstance(event, ImageFailed):
            if self.failures:
                self._line(f"FAILED  {event.source} → {event.destination}: {event.error}")
        elif isinstance(event, PlanReady):
            self._line(f"plan: {event.images} images, {event.blobs} unique blobs, {human_bytes(event.total_bytes)}")
        elif isinstance(event, LogMessage):
            self._line(f"{event.level}: {event.message}")
        else:
            self._draw()

    def _line(self, text: str) -> None:
        if self.quiet:
            return
        if self.live:
            self.stream.write("\r\x1b[2K")
        self.stream.write(shown(text) + "\n")  # registry errors and log lines quote the outside
        self._draw(force=True)

    def _draw(self, force: bool = False) -> None:
        if not self.live:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        self.stream.write("\r\x1b[2K" + progress_line(self.progress))
        self.stream.flush()

    def message(self, text: str) -> None:
        """A line from the run that is not a copy event (a medium checked, a bundle written)."""
        self._line(text)

    def finish(self) -> None:
        if self.live:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


def progress_line(progress: Progress) -> str:
    """One line: bytes moved of bytes to move (and what was there already), images, speed, ETA."""
    present = progress.bytes_not_moving
    there = f" (+{human_bytes(present)} {progress.not_moving_word})" if present else ""
    # Every byte is there and images are still being written: say how many, not a vague "finishing".
    eta = f"{plural(progress.images_left, 'image')} to write" if progress.finishing else f"ETA {human_seconds(progress.eta)}"
    return (f"{human_bytes(progress.bytes_moved_of_plan)}/{human_bytes(progress.bytes_to_move)}{there}  "
            f"images {progress.images_finished}/{progress.total_images}  {human_bytes(progress.rate)}/s  {eta}")


def summary_text(result: CopyResult, *, dry_run: bool = False) -> str:
    """The end of a run, from the run's count (``result.count``: the progress model, folded from the
    same events as the progress line; the wizard's Mirror step and Done read the same numbers)."""
    head = "dry run" if dry_run else ("mirror complete" if result.ok else "mirror FAILED")
    images_done, failed = result.images_done, len(result.failures)
    blobs = (result.blobs_copied, result.blobs_skipped, result.blobs_mounted)
    moved, present, seconds = result.bytes_copied, result.bytes_present, result.seconds
    lines = [
        f"{head}: {images_done}/{result.images_total} images"
        + (f", {result.images_skipped_missing} missing skipped" if result.images_skipped_missing else "")
        + (f", {failed} failed" if failed else ""),
        f"blobs: {result.blobs_total} unique, {blobs[0]} copied, {blobs[1]} already present, {blobs[2]} mounted",
        f"bytes: {human_bytes(moved)} copied of {human_bytes(result.bytes_total)} "
        f"({human_bytes(present)} already present) in {seconds:.1f}s",
    ]
    if result.count.planned and result.bytes_copied:
        lines[2] += f", {human_bytes(result.count.throughput)}/s while moving"
    if dry_run:
        lines[0] = f"dry run: {len(result.images)} images would be mirrored"
        to_move = result.bytes_total - result.bytes_present
        lines[2] = f"bytes: {human_bytes(to_move)} to move of {human_bytes(result.bytes_total)}"
    for failure in result.failures:
        lines.append(f"  failed: {failure.source} → {failure.destination}: {failure.error}")
    return "\n".join(lines)


def options_from_args(args: argparse.Namespace) -> Options:
    """The plan options a copy command's flags set (see add_copy_options, add_registry_options)."""
    return Options(max_per_registry=getattr(args, "max_per_registry", None),
                   skip_missing=bool(getattr(args, "skip_missing", False)),
                   continue_on_error=bool(getattr(args, "continue_on_error", False)),
                   stall_timeout=float(getattr(args, "stall_timeout", DEFAULT_STALL_TIMEOUT)),
                   auth_hosts=list(getattr(args, "auth_host", []) or []))


def run_job_with_progress(args: argparse.Namespace, job: Job, *,
                          on_prepared: Callable[[Prepared], None] | None = None) -> RunResult:
    """Run a job for a command through core.orchestrate, progress on stderr (none with --json). The
    command's own flags say how to reach registries."""
    printer = ProgressPrinter(quiet=bool(getattr(args, "json", False)),
                              failures=bool(getattr(args, "continue_on_error", False)))

    async def go(cancel: asyncio.Event) -> RunResult:
        return await run_job(job, access=access_from_args(args), on_event=printer, cancel=cancel,
                             on_prepared=on_prepared, on_message=printer.message)

    try:
        result = run_async(go)
    finally:
        printer.finish()
    return result


def print_summary(args: argparse.Namespace, result: RunResult, *, dry_run: bool) -> CopyResult:
    """The summary on stdout, or the engine's counts as JSON with --json."""
    copy = result.copy
    assert copy is not None
    if getattr(args, "json", False):
        print(json.dumps(copy.as_dict(), indent=2))
    else:
        print(summary_text(copy, dry_run=dry_run))
    return copy
