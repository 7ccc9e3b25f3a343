"""Mirror a release-shaped workload between two local TLS registries and compare with skopeo and curl.

    python3 -m tests.benchmark.run_benchmark [--layer-mb 500] [--big-layer-gb 1] [--quick] [--profile]

Every step runs on a freshly emptied mirror (except the rerun), under ``/usr/bin/time -v`` for the
peak RSS, while the source registry's access log tells which blobs were read and how many bytes.
See tests/benchmark/README.md for the targets.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .workload import (
    MIRROR_REPO,
    AccessStats,
    BenchEnv,
    MiB,
    Release,
    Workload,
    create_env,
    prepare,
    process_cpu_seconds,
)

TIME = "/usr/bin/time"
ROOT = Path(__file__).resolve().parents[2]  # the checkout: core/ and tui/ live here
PY = [sys.executable, "-m", "tui.cli"]

FLOOR_SCRIPT = """\
#!/bin/bash
# copy-blob REPO DIGEST: stream one blob from the source into the mirror (POST, then a streamed PUT).
set -euo pipefail
location=$(curl -sS --fail --cacert "$CA" --netrc-file "$NETRC" -X POST -o /dev/null \\
  -w '%header{location}' "$MIRROR/v2/$TARGET/blobs/uploads/")
case "$location" in http*) ;; *) location="$MIRROR$location" ;; esac
case "$location" in *\\?*) sep='&' ;; *) sep='?' ;; esac
curl -sS --fail --cacert "$CA" "$SOURCE/v2/$1/blobs/$2" \\
  | curl -sS --fail --cacert "$CA" --netrc-file "$NETRC" -X PUT -T - -o /dev/null \\
      -H 'Content-Type: application/octet-stream' "$location${sep}digest=$2"
"""


@dataclass
class Step:
    key: str
    label: str
    seconds: float = 0.0
    rss_mb: float | None = None
    client_cpu: float | None = None   # user + system seconds of the step's processes
    registry_cpu: float = 0.0         # CPU seconds both registries spent serving the step
    source_cpu: float = 0.0           # ... of which the source registry
    proxy_cpu: float | None = None    # CPU seconds the shaping proxy spent (far benchmark only)
    token_requests: int = 0           # tokens asked of the mirror's token service (--mirror-auth token)
    ok: bool = True
    error: str = ""
    source: AccessStats = field(default_factory=AccessStats)
    mirror: AccessStats = field(default_factory=AccessStats)
    summary: dict | None = None  # our --json summary, when the command has one
    expected: dict[str, int] = field(default_factory=dict)  # digest -> size the step should read once
    all_seconds: list[float] = field(default_factory=list)  # every run of the step, with --repeat
    retries: int = 0  # skopeo copies that failed and were run again


@dataclass
class Commands:
    """How to call our engine: ``release mirror`` once it exists, else ``image mirror -f`` by digest."""

    mode: str  # "release" or "image"
    json: bool
    env: BenchEnv
    work: Path

    @classmethod
    def detect(cls, env: BenchEnv, work: Path, wanted: str) -> Commands:
        if wanted in ("auto", "release"):
            probe = subprocess.run([*PY, "release", "mirror", "--help"], capture_output=True, text=True, check=False)
            text = probe.stdout
            if probe.returncode == 0 and all(flag in text for flag in ("--from", "--to", "--to-dir", "--from-dir")):
                return cls("release", "--json" in text, env, work)
            if wanted == "release":
                raise SystemExit("mirror-wizard release mirror is not available (or lacks --to-dir/--from-dir)")
        return cls("image", True, env, work)

    def _common(self) -> list[str]:
        return ["-a", str(self.env.auth_file), "--ca-file", str(self.env.ca_file), *(["--json"] if self.json else [])]

    def _mapping(self, release: Release, name: str, line) -> Path:
        path = self.work / f"{name}-{release.version}.txt"
        path.write_text("".join(line(image) + "\n" for image in release.images))
        return path

    def direct(self, release: Release) -> list[str]:
        if self.mode == "release":
            return [*PY, "release", "mirror", "--from", release.release_ref, "--to", self.env.mirror_target,
                    *self._common()]
        target = self.env.mirror_target
        mapping = self._mapping(release, "direct", lambda i: f"{i.source}={target}:{i.tag}")
        return [*PY, "image", "mirror", "-f", str(mapping), *self._common()]

    def to_dir(self, release: Release, folder: Path) -> list[str]:
        if self.mode == "release":
            # Without --no-wheelhouse the bundle step runs pip to build mirror-wizard's own wheels, cached
            # by a hash of the source tree: ~10 s of CPU (which /usr/bin/time counts) in the first run
            # after every change of a checkout, never again for an installed version. Not the copy.
            return [*PY, "release", "mirror", "--from", release.release_ref, "--to-dir", str(folder), *self._common(),
                    "--no-wheelhouse"]
        mapping = self._mapping(release, "to-dir", lambda i: f"{i.source}=oci:{folder}:{MIRROR_REPO}:{i.tag}")
        return [*PY, "image", "mirror", "-f", str(mapping), *self._common()]

    def from_dir(self, release: Release, folder: Path) -> list[str]:
        if self.mode == "release":
            return [*PY, "release", "mirror", "--from-dir", str(folder), "--to", self.env.mirror_target,
                    *self._common()]
        target = self.env.mirror_target
        mapping = self._mapping(release, "from-dir", lambda i: f"oci:{folder}:{MIRROR_REPO}:{i.tag}={target}:{i.tag}")
        return [*PY, "image", "mirror", "-f", str(mapping), *self._common()]


class Runner:
    def __init__(self, env: BenchEnv, work: Path, proxy_pid: int | None = None) -> None:
        self.env = env
        self.work = work
        self.count = 0
        self.proxy_pid = proxy_pid  # the shaping proxy: it shares the CPUs, so its share is reported too

    def _proxy_cpu(self) -> float:
        return process_cpu_seconds(self.proxy_pid) if self.proxy_pid is not None else 0.0

    def run(self, step: Step, argv: list[str], *, stdin: Path | None = None, extra_env: dict | None = None) -> Step:
        self.count += 1
        base = self.work / f"step{self.count:02d}-{step.key}"
        timing = base.with_suffix(".time")
        src_mark, dst_mark = self.env.source.mark(), self.env.mirror.mark()
        source_mark, mirror_mark, proxy_mark = (self.env.source.cpu_seconds(), self.env.mirror.cpu_seconds(),
                                                self._proxy_cpu())
        tokens_mark = self.env.token_requests()
        print(f"  {step.label} ...", end="", flush=True)
        with open(base.with_suffix(".out"), "wb") as out, open(base.with_suffix(".err"), "wb") as err, \
                open(stdin or os.devnull, "rb") as inp:
            started = time.monotonic()
            proc = subprocess.run([TIME, "-v", "-o", str(timing), *argv], stdin=inp, stdout=out, stderr=err, check=False,
                                  env={**os.environ, **(extra_env or {})})
            step.seconds = time.monotonic() - started
        time.sleep(0.3)  # the registry writes its access-log line just after the response
        step.source_cpu = self.env.source.cpu_seconds() - source_mark
        step.registry_cpu = step.source_cpu + self.env.mirror.cpu_seconds() - mirror_mark
        if self.proxy_pid is not None:
            step.proxy_cpu = self._proxy_cpu() - proxy_mark
        step.token_requests = self.env.token_requests() - tokens_mark
        step.source = self.env.source.stats_since(src_mark)
        step.mirror = self.env.mirror.stats_since(dst_mark)
        report = timing.read_text(errors="replace")
        found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report)
        step.rss_mb = int(found[1]) / 1024 if found else None
        times = re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", report)
        step.client_cpu = sum(float(t) for t in times) if times else None
        output = base.with_suffix(".out").read_text(errors="replace")
        if proc.returncode != 0:
            step.ok = False
            tail = base.with_suffix(".err").read_text(errors="replace").strip().splitlines()[-3:]
            step.error = f"exit {proc.returncode}: {' | '.join(tail) or output.strip()[-300:]}"
        step.retries = base.with_suffix(".err").read_text(errors="replace").count("RETRY ")
        if output.lstrip().startswith("{"):
            try:
                step.summary = json.loads(output)
            except json.JSONDecodeError:
                pass
        print(f" {step.seconds:.1f}s" + ("" if step.ok else f"  FAILED {step.error}"), flush=True)
        return step


def skopeo_pairs(env: BenchEnv, release: Release, work: Path) -> Path:
    path = work / f"skopeo-{release.version}.txt"
    path.write_text("".join(f"docker://{i.source} docker://{env.mirror_target}:{i.tag}\n" for i in release.images))
    return path


SKOPEO_SCRIPT = """\
#!/bin/bash
# skopeo-copy SRC DST: one skopeo copy, retried up to 3 times. Parallel copies of images that share
# layers can race inside the registry ("manifest blob unknown"); a retry is what a user would do.
for attempt in 1 2 3; do
  "$SKOPEO" copy --quiet --all --preserve-digests --src-cert-dir "$CERTS" --dest-cert-dir "$CERTS" \\
    --dest-authfile "$AUTH" "$1" "$2" && exit 0
  echo "RETRY $attempt $1" >&2
done
exit 1
"""


def skopeo_inputs(env: BenchEnv, work: Path, jobs: int) -> tuple[list[str], dict]:
    script = work / "skopeo-copy.sh"
    script.write_text(SKOPEO_SCRIPT)
    script.chmod(0o755)
    extra = {"SKOPEO": shutil.which("skopeo") or "skopeo", "CERTS": str(env.cert_dir), "AUTH": str(env.auth_file)}
    return ["xargs", "-P", str(jobs), "-L", "1", str(script)], extra


def floor_inputs(env: BenchEnv, release: Release, work: Path) -> tuple[Path, Path, dict]:
    script = work / "copy-blob.sh"
    script.write_text(FLOOR_SCRIPT)
    script.chmod(0o755)
    blobs = work / f"blobs-{release.version}.txt"
    # Largest first, as any sensible copier would, so a big blob does not start last.
    ordered = sorted(release.blobs.items(), key=lambda item: -item[1].size)
    blobs.write_text("".join(f"{info.repository} {digest}\n" for digest, info in ordered))
    extra = {"CA": str(env.ca_file), "NETRC": str(env.netrc), "SOURCE": env.source.url, "MIRROR": env.mirror.url,
             "TARGET": MIRROR_REPO}
    return script, blobs, extra


def aggregate(results: list[Step]) -> Step:
    """The median run by time (a failed run wins: it must show), with the highest RSS of all runs."""
    failed = [r for r in results if not r.ok]
    chosen = failed[0] if failed else sorted(results, key=lambda r: r.seconds)[(len(results) - 1) // 2]
    rss = [r.rss_mb for r in results if r.rss_mb is not None]
    chosen.rss_mb = max(rss) if rss else None
    chosen.all_seconds = [r.seconds for r in results]
    return chosen


def read_once(step: Step, release_own: frozenset[str] = frozenset()) -> tuple[bool, str]:
    """Did the step read every expected blob from the source exactly once? ``release_own``: the
    release image's own blobs (config, release-manifests layer), named in the answer when re-read."""
    reads, expected = step.source.blob_reads, step.expected
    missing = [d for d in expected if reads.get(d, 0) == 0]
    # Several GETs of one blob are one read when their bytes add up to its size (ranged parts).
    read_bytes = step.source.blob_read_bytes
    repeated = {d: n for d, n in reads.items() if n > 1 and read_bytes.get(d, 0) > expected.get(d, 0)}
    extra = [d for d in reads if d not in expected]
    if not missing and not repeated and not extra:
        return True, "yes"
    parts = []
    if repeated:
        again = sum(expected.get(d, 0) * (n - 1) for d, n in repeated.items())
        whose = " (release image config/manifests layer)" if set(repeated) <= release_own else ""
        parts.append(f"{len(repeated)} read twice or more, +{human(again)}{whose}")
    if missing:
        parts.append(f"{len(missing)} never read")
    if extra:
        parts.append(f"{len(extra)} not in the release")
    return False, "no: " + "; ".join(parts)


def human(n: float) -> str:
    return f"{n / 1024:.0f} KiB" if n < MiB else f"{n / MiB:.1f} MB"


def mb(n: float) -> str:
    return f"{n / MiB:.1f}"


def print_table(steps: list[Step], total: int, release_own: frozenset[str]) -> None:
    ranges = any(len(step.all_seconds) > 1 for step in steps)
    head = (f"{'step':<42} {'seconds':>8}" + (f" {'range':>11}" if ranges else "") +
            f" {'MB/s':>6} {'peak RSS MB':>11} {'read from source':>16} {'CPU s client':>12} {'CPU s registries':>16}"
            f" {'requests src/mirror':>19}  each blob read once")
    print(head)
    print("-" * (len(head) + 30))
    for step in steps:
        rate = f"{total / MiB / step.seconds:.0f}" if step.ok and step.expected and step.seconds else "-"
        rss = f"{step.rss_mb:.0f}" if step.rss_mb is not None else "-"
        cpu = f"{step.client_cpu:.1f}" if step.client_cpu is not None else "-"
        once = read_once(step, release_own)[1] if step.expected else "-"
        spread = f" {min(step.all_seconds):>5.1f}-{max(step.all_seconds):<5.1f}" if ranges else ""
        status = ("" if step.ok else "  FAILED") + (f"  ({step.retries} copies retried)" if step.retries else "")
        print(f"{step.label:<42} {step.seconds:>8.2f}{spread} {rate:>6} {rss:>11} {human(step.source.blob_bytes):>16} "
              f"{cpu:>12} {step.registry_cpu:>16.1f} {f'{step.source.requests}/{step.mirror.requests}':>19}  {once}{status}")


def print_tokens(steps: list[Step], env: BenchEnv) -> None:
    """With a token service: how many tokens each step asked for (one per scope set is the least)."""
    if env.issuer is None:
        return
    print("tokens asked of the mirror's token service:")
    for step in steps:
        print(f"  {step.label:<42} {step.token_requests:5d}")


def print_cpu(steps: list[Step]) -> None:
    """Where the machine's CPU went in each step. The client, both registries and (far) the shaping proxy
    share these CPUs, so no step can take less than their CPU seconds over the CPU count: the floor.
    "others" is what is not ours (registries and proxy): on a real mirror host they run elsewhere."""
    cpus = os.cpu_count() or 1
    proxy = any(step.proxy_cpu is not None for step in steps)
    print(f"CPU seconds by process ({cpus} CPUs; floor = all of them / {cpus}, others = registries"
          f"{' + proxy' if proxy else ''} / {cpus}):")
    head = (f"  {'step':<42} {'client':>7} {'source':>7} {'mirror':>7}" + (f" {'proxy':>6}" if proxy else "") +
            f" {'busy':>6} {'floor s':>8} {'others s':>9} {'wall s':>7}")
    print(head)
    for step in steps:
        if step.client_cpu is None or not step.seconds:
            continue
        others = step.registry_cpu + (step.proxy_cpu or 0.0)
        total = step.client_cpu + others
        busy = total / (cpus * step.seconds)
        mirror = max(0.0, step.registry_cpu - step.source_cpu)  # the mirror restarted (emptied): never below 0
        print(f"  {step.label:<42} {step.client_cpu:>7.1f} {step.source_cpu:>7.1f} {mirror:>7.1f}" +
              (f" {step.proxy_cpu or 0.0:>6.1f}" if proxy else "") +
              f" {busy:>6.0%} {total / cpus:>8.2f} {others / cpus:>9.2f} {step.seconds:>7.2f}")


def cpu_bound_note(step: Step, allowed: float, what: str) -> str | None:
    """One line when this machine cannot reach a wall-time target whatever the client does: the
    registries (and proxy) alone need more of its CPUs than the target leaves, or everything together does."""
    if step.client_cpu is None or not step.ok:
        return None
    cpus = os.cpu_count() or 1
    others = (step.registry_cpu + (step.proxy_cpu or 0.0)) / cpus
    floor = others + step.client_cpu / cpus
    if floor <= allowed:
        return None
    return (f"  note: {what} needs ≤ {allowed:.2f} s; on {cpus} CPUs this run's registries"
            f"{' and proxy' if step.proxy_cpu is not None else ''} alone need ≥ {others:.2f} s and everything "
            f"it ran ≥ {floor:.2f} s (the client: {step.client_cpu:.1f} CPU s)")


@dataclass
class Check:
    target: str
    measured: str
    ok: bool | None  # None: not measured


def ratio(a: Step | None, b: Step | None) -> float | None:
    if a is None or b is None or not (a.ok and b.ok) or not b.seconds:
        return None
    return a.seconds / b.seconds


def evaluate(steps: dict[str, Step], big_layer_gb: float, release_own: frozenset[str]) -> list[Check]:
    checks: list[Check] = []

    def ratio_check(target: str, a: str, b: str, limit: float) -> None:
        value = ratio(steps.get(a), steps.get(b))
        checks.append(Check(target, "-" if value is None else f"{value:.2f}", None if value is None else value <= limit))

    ratio_check("direct ≤ 0.55 × skopeo sequential", "direct", "skopeo1", 0.55)
    ratio_check("direct ≤ 1.25 × floor", "direct", "floor", 1.25)
    for key in ("direct", "to_dir"):
        step = steps.get(key)
        if step is not None:
            ok, text = read_once(step, release_own)
            checks.append(Check(f"{step.label}: each blob read once", text, ok and step.ok))
    rerun = steps.get("rerun")
    if rerun is not None:
        checks.append(Check("rerun ≤ 3 s", f"{rerun.seconds:.2f} s", rerun.ok and rerun.seconds <= 3.0))
        copied = (rerun.summary or {}).get("bytes", {}).get("copied") if rerun.summary else None
        uploads = rerun.mirror.uploads_started
        text = f"{uploads} blob uploads" + (f", {copied} bytes copied" if copied is not None else "")
        text += f"; {human(rerun.source.blob_bytes)} read from source"
        checks.append(Check("rerun moves zero blob bytes", text, rerun.ok and uploads == 0 and not copied))
    ours = [s for k, s in steps.items() if k in ("direct", "rerun", "to_dir", "from_dir", "baseline") and s.rss_mb]
    if ours:
        worst = max(ours, key=lambda s: s.rss_mb or 0)
        checks.append(Check("peak RSS ≤ 150 MB (our steps)", f"{worst.rss_mb:.0f} MB ({worst.label})",
                            (worst.rss_mb or 0) <= 150))
    if big_layer_gb:
        base, direct = steps.get("baseline"), steps.get("direct")
        if base and direct and base.rss_mb and direct.rss_mb:
            # "unchanged": within 15 MB of the same release with a 40 MB layer in its place
            checks.append(Check(f"RSS flat with a {big_layer_gb:g} GB layer (± 15 MB)",
                                f"{direct.rss_mb:.0f} vs {base.rss_mb:.0f} MB", direct.rss_mb <= base.rss_mb + 15))
    ratio_check("to-dir ≤ 1.5 × direct", "to_dir", "direct", 1.5)
    ratio_check("from-dir ≤ 1.5 × direct", "from_dir", "direct", 1.5)
    return checks


def print_checks(checks: list[Check]) -> None:
    width = max(len(c.target) for c in checks)
    for check in checks:
        verdict = {True: "PASS", False: "FAIL", None: "n/a "}[check.ok]
        print(f"  {verdict}  {check.target:<{width}}  {check.measured}")


def run_profile(env: BenchEnv, commands: Commands, release: Release, work: Path) -> Path | None:
    """The direct mirror once more under pyinstrument, on an emptied mirror; returns the text report."""
    try:
        import pyinstrument  # noqa: F401
    except ImportError:
        print("  pyinstrument is not installed (pip install -e '.[bench]'); no profile")
        return None
    env.mirror.empty()
    argv = commands.direct(release)
    report = work / "profile.txt"
    cmd = [sys.executable, "-m", "pyinstrument", "-r", "text", "-o", str(report), "-m", *argv[2:]]
    started = time.monotonic()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    print(f"  direct under pyinstrument: {time.monotonic() - started:.1f}s")
    return report


def run(args: argparse.Namespace, root: Path) -> int:
    total_mb = 60 if args.quick else args.layer_mb
    print(f"benchmark in {root} ({os.cpu_count()} CPUs; client and both registries share them)")
    env = create_env(root / "env", args.mirror_auth)
    try:
        started = time.monotonic()
        workload: Workload = prepare(root, env, total_bytes=int(total_mb * MiB), big_layer_gb=args.big_layer_gb)
        release = workload.releases[workload.main]
        components = len(release.images) - 1
        print(f"workload: release {release.version} with {components} components, {len(release.blobs)} unique blobs, "
              f"{mb(release.total_bytes)} MB (largest {mb(release.largest_blob)} MB); "
              f"built and seeded in {time.monotonic() - started:.1f}s")
        shutil.rmtree(workload.layout)  # the source registry has it now; free the disk
        work = root / "steps"
        work.mkdir()
        commands = Commands.detect(env, work, args.engine)
        if commands.mode == "image":
            print("note: 'mirror-wizard release mirror' is not available yet; measuring 'image mirror -f' "
                  "with every image of the release by digest")
        runner = Runner(env, work)
        expected = {d: b.size for d, b in release.blobs.items()}
        folder = work / "release-dir"
        pairs = skopeo_pairs(env, release, work)
        skopeo1, skopeo_env = skopeo_inputs(env, work, 1)
        skopeo4, _ = skopeo_inputs(env, work, 4)
        script, blobs, extra = floor_inputs(env, release, work)
        # (key, label, argv, empty the mirror first, keyword arguments for Runner.run, expected reads)
        plan: list[tuple[str, str, list[str], bool, dict, dict]] = []
        if workload.baseline:
            base_release = workload.releases[workload.baseline]
            plan.append(("baseline", f"direct, {mb(base_release.largest_blob)} MB layer (RSS baseline)",
                         commands.direct(base_release), True, {}, {d: b.size for d, b in base_release.blobs.items()}))
        plan += [
            ("direct", "ours: release mirror (direct)", commands.direct(release), True, {}, expected),
            ("rerun", "ours: rerun onto the full mirror", commands.direct(release), False, {}, {}),
            ("to_dir", "ours: --to-dir", commands.to_dir(release, folder), False, {}, expected),
            ("from_dir", "ours: --from-dir (source untouched)", commands.from_dir(release, folder), True, {}, {}),
            ("skopeo1", "skopeo copy, one after another", skopeo1, True, {"stdin": pairs, "extra_env": skopeo_env},
             expected),
            ("skopeo4", "skopeo copy, 4 at a time", skopeo4, True, {"stdin": pairs, "extra_env": skopeo_env}, expected),
            ("floor", "floor: curl every blob once, 2 at a time", ["xargs", "-P", "2", "-L", "1", str(script)], True,
             {"stdin": blobs, "extra_env": extra}, expected),
        ]
        runs: dict[str, list[Step]] = {key: [] for key, *_ in plan}
        # Rounds rather than N runs of one step in a row: a burst of load elsewhere on the machine then
        # spreads over every step instead of landing on one.
        for round_number in range(1, args.repeat + 1):
            print(f"round {round_number} of {args.repeat}:" if args.repeat > 1 else "steps:")
            for key, label, argv, empty, kwargs, wanted in plan:
                if empty:
                    env.mirror.empty()
                result = runner.run(Step(key, label, expected=dict(wanted)), argv, **kwargs)
                if key == "floor" and result.ok and result.mirror.uploads_started != len(release.blobs):
                    result.ok = False
                    result.error = f"{result.mirror.uploads_started} uploads for {len(release.blobs)} blobs"
                runs[key].append(result)
            shutil.rmtree(folder, ignore_errors=True)
        steps = {key: aggregate(results) for key, results in runs.items()}
        release_own = frozenset(d.digest for r in workload.releases.values() for d in r.release_image.manifest.blobs())

        print()
        if args.repeat > 1:
            print(f"seconds: median of {args.repeat} runs (range: fastest-slowest); peak RSS: the highest of them")
        print_table(list(steps.values()), release.total_bytes, release_own)
        print()
        print_cpu(list(steps.values()))
        print()
        print("ratios:")
        for text, a, b in (("ours / skopeo sequential", "direct", "skopeo1"),
                           ("ours / skopeo 4 at a time", "direct", "skopeo4"),
                           ("ours / floor", "direct", "floor"), ("to-dir / direct", "to_dir", "direct"),
                           ("from-dir / direct", "from_dir", "direct")):
            value = ratio(steps.get(a), steps.get(b))
            print(f"  {text:<28} {'-' if value is None else f'{value:.2f}'}")
        print()
        print("targets (issue 6):")
        checks = evaluate(steps, args.big_layer_gb, release_own)
        print_checks(checks)
        for s in steps.values():
            if not s.ok:
                print(f"  {s.label}: {s.error}")
        if args.profile:
            print()
            report = run_profile(env, commands, release, work)
            if report and report.exists():
                print(report.read_text()[:6000])
        if args.json_out:
            Path(args.json_out).write_text(json.dumps({
                "workload": {"version": release.version, "components": components, "blobs": len(release.blobs),
                             "bytes": release.total_bytes, "largest_blob": release.largest_blob, "mode": commands.mode},
                "steps": [{"key": s.key, "label": s.label, "seconds": round(s.seconds, 3),
                           "all_seconds": [round(x, 3) for x in s.all_seconds], "rss_mb": s.rss_mb,
                           "client_cpu": s.client_cpu, "registry_cpu": round(s.registry_cpu, 2),
                           "source_cpu": round(s.source_cpu, 2), "proxy_cpu": s.proxy_cpu,
                           "ok": s.ok, "error": s.error, "source_blob_bytes": s.source.blob_bytes,
                           "source_blob_reads": sum(s.source.blob_reads.values()),
                           "mirror_uploads": s.mirror.uploads_started,
                           "source_requests": s.source.requests, "mirror_requests": s.mirror.requests,
                           "retries": s.retries} for s in steps.values()],
                "checks": [{"target": c.target, "measured": c.measured, "ok": c.ok} for c in checks],
            }, indent=2) + "\n")
        return 0 if all(c.ok is not False for c in checks) and all(s.ok for s in steps.values()) else 1
    finally:
        env.close()


def compile_tree() -> None:
    """Byte-compile core/ and tui/ once, as pip does when it installs a package. Without it a checkout
    run with PYTHONDONTWRITEBYTECODE (CI, this sandbox) compiles every changed module in every step,
    and each of our steps would pay that start-up (a few tenths of a second) that no installed copy pays."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "core"), str(ROOT / "tui")], env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tests.benchmark.run_benchmark",
                                     description="Time mirroring a release-shaped workload against skopeo and a curl floor.")
    parser.add_argument("--layer-mb", type=float, default=500, help="unique compressed layer bytes (default 500)")
    parser.add_argument("--big-layer-gb", type=float, default=0, metavar="GB",
                        help="replace one 40 MB layer with one of this size; adds an RSS baseline step")
    parser.add_argument("--quick", action="store_true", help="about 60 MB in all: a fast smoke run")
    parser.add_argument("--engine", choices=("auto", "release", "image"), default="auto",
                        help="measure 'release mirror' or 'image mirror -f' (default: release when available)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run every step N times, in rounds, and report the median (default 1)")
    parser.add_argument("--profile", action="store_true", help="also run the direct mirror under pyinstrument")
    parser.add_argument("--json-out", metavar="FILE", help="write the results as JSON too")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, outputs)")
    parser.add_argument("--workdir", metavar="DIR", help="parent of the temporary directory (default: system temp)")
    far = parser.add_argument_group("far source (--far)")
    far.add_argument("--far", action="store_true",
                     help="read the source through a shaping proxy (delay, per-connection and link caps); "
                          "ours and skopeo, fractions of the link cap")
    far.add_argument("--rtt-ms", type=float, default=40.0, help="round trip added by the proxy (default 40)")
    far.add_argument("--conn-mbps", type=float, default=10.0, help="cap per connection, MiB/s (default 10)")
    far.add_argument("--link-mbps", type=float, default=80.0, help="cap on the whole link, MiB/s (default 80)")
    far.add_argument("--real", action="store_true",
                     help="the real internet: through Squid (proxy login), far link (the options above), every source "
                          "blob redirected to a CDN, token service on another host; ours and skopeo (see real.py)")
    parser.add_argument("--many", action="store_true",
                        help="3 releases × 190 components (small layers, 90%% shared), one run of three mapping files")
    far.add_argument("--no-skopeo-parallel", action="store_true", help="skip 'skopeo copy, 4 at a time'")
    parser.add_argument("--mirror-auth", choices=("htpasswd", "token"), default="htpasswd",
                        help="how the mirror registry checks logins: htpasswd (a bcrypt check on every request, "
                             "the default) or token (a token service, as Quay and Harbor); token with --far or --many")
    args = parser.parse_args(argv)
    if args.mirror_auth == "token" and not (args.far or args.many or args.real):
        parser.error("--mirror-auth token goes with --far, --many or --real (the curl floor logs in with a password)")
    for tool in (TIME, "curl", "skopeo", "xargs"):
        if not shutil.which(tool):
            parser.error(f"{tool} is required")
    compile_tree()
    root = Path(tempfile.mkdtemp(prefix="mirror-wizard-bench-", dir=args.workdir))
    try:
        if args.many:
            from .many import run_many

            return run_many(args, root)
        if args.real:
            from .real import run_real

            return run_real(args, root)
        if args.far:
            from .far import run_far

            return run_far(args, root)
        return run(args, root)
    except KeyboardInterrupt:
        return 130
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
