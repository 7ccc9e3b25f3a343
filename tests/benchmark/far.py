"""The far-source benchmark: the source registry behind a shaping proxy (round-trip delay, a cap per
connection and on the whole link), ours and skopeo on the same workload in the same run.

    python3 -m tests.benchmark.run_benchmark --far [--big-layer-gb 1] [--rtt-ms 40] [--conn-mbps 10] [--link-mbps 80]

The workload names the source by the proxy's address (the release image's references too), so every
client reads through the proxy; the registry's certificate names 127.0.0.1, so TLS verifies on the
proxy's port. Seeding goes to the registry directly. See tests/benchmark/README.md, "Far source".
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from pathlib import Path

from .run_benchmark import (
    Check,
    Commands,
    Runner,
    Step,
    aggregate,
    cpu_bound_note,
    mb,
    print_checks,
    print_cpu,
    print_table,
    print_tokens,
    ratio,
    read_once,
    skopeo_inputs,
    skopeo_pairs,
)
from .workload import MiB, Workload, create_env, free_port, prepare

RANGED_THRESHOLD = 16 * MiB  # core.ranged.RangedConfig.far_threshold: from a far source, split from this size
BIG_LAYER = 64 * MiB        # a release whose largest blob is this big and ≥ 20 % of it is the 'one big layer' case


def _wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the shaping proxy did not listen on port {port}")


def run_far(args: argparse.Namespace, root: Path) -> int:
    total_mb = 60 if args.quick else args.layer_mb
    link = args.link_mbps * MiB
    print(f"far-source benchmark in {root}: rtt {args.rtt_ms:g} ms, {args.conn_mbps:g} MiB/s per connection, "
          f"{args.link_mbps:g} MiB/s link")
    env = create_env(root / "env", args.mirror_auth)
    proxy_port = free_port()
    proxy_log = open(root / "shaping-proxy.log", "wb")
    proxy = subprocess.Popen([sys.executable, "-m", "tests.benchmark.shaping_proxy", "--listen", f"127.0.0.1:{proxy_port}",
                              "--upstream", env.source.host, "--rtt-ms", str(args.rtt_ms),
                              "--conn-mbps", str(args.conn_mbps), "--link-mbps", str(args.link_mbps)],
                             stdout=proxy_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait_port(proxy_port)
        far_host = f"127.0.0.1:{proxy_port}"
        started = time.monotonic()
        workload: Workload = prepare(root, env, total_bytes=int(total_mb * MiB), big_layer_gb=args.big_layer_gb,
                                     source_host=far_host)
        release = workload.releases[workload.main]
        images = len(release.images)
        print(f"workload: release {release.version}, {images - 1} components, {len(release.blobs)} unique blobs, "
              f"{mb(release.total_bytes)} MB (largest {mb(release.largest_blob)} MB), source named {far_host}; "
              f"built and seeded in {time.monotonic() - started:.1f}s")
        work = root / "steps"
        work.mkdir()
        commands = Commands.detect(env, work, args.engine)
        runner = Runner(env, work, proxy_pid=proxy.pid)
        expected = {d: b.size for d, b in release.blobs.items()}
        folder = work / "release-dir"
        pairs = skopeo_pairs(env, release, work)
        skopeo1, skopeo_env = skopeo_inputs(env, work, 1)
        skopeo4, _ = skopeo_inputs(env, work, 4)
        plan: list[tuple[str, str, list[str], bool, dict, dict]] = [
            ("direct", "ours: release mirror (far source)", commands.direct(release), True, {}, expected),
            ("rerun", "ours: rerun onto the full mirror", commands.direct(release), False, {}, {}),
        ]
        if release.largest_blob >= RANGED_THRESHOLD:
            plan.append(("single", "ours: ranged reads off (one conn/blob)", commands.direct(release), True,
                         {"extra_env": {"MIRROR_WIZARD_RANGED": "off"}}, expected))
        to_dir = commands.to_dir(release, folder)  # without the wheelhouse (see Commands.to_dir)
        plan += [
            ("to_dir", "ours: --to-dir (far source)", to_dir, False, {}, expected),
            ("skopeo1", "skopeo copy, one after another", skopeo1, True, {"stdin": pairs, "extra_env": skopeo_env},
             expected),
        ]
        if not args.no_skopeo_parallel:
            plan.append(("skopeo4", "skopeo copy, 4 at a time", skopeo4, True,
                         {"stdin": pairs, "extra_env": skopeo_env}, expected))
        runs: dict[str, list[Step]] = {key: [] for key, *_ in plan}
        for round_number in range(1, args.repeat + 1):
            print(f"round {round_number} of {args.repeat}:" if args.repeat > 1 else "steps:")
            for key, label, argv, empty, kwargs, wanted in plan:
                if empty:
                    env.mirror.empty()
                runs[key].append(runner.run(Step(key, label, expected=dict(wanted)), argv, **kwargs))
            import shutil
            shutil.rmtree(folder, ignore_errors=True)
        steps = {key: aggregate(results) for key, results in runs.items()}
        release_own = frozenset(d.digest for r in workload.releases.values() for d in r.release_image.manifest.blobs())
        print()
        print_table(list(steps.values()), release.total_bytes, release_own)
        print()
        print_cpu(list(steps.values()))
        print()
        if env.issuer is not None:
            print_tokens(list(steps.values()), env)
            print()

        def link_fraction(key: str) -> float | None:
            step = steps.get(key)
            if step is None or not step.ok or not step.seconds:
                return None
            return release.total_bytes / step.seconds / link

        print("ratios:")
        for text, a, b in (("ours / skopeo sequential", "direct", "skopeo1"),
                           ("ours / skopeo 4 at a time", "direct", "skopeo4"),
                           ("ranged on / off", "direct", "single"), ("to-dir / direct", "to_dir", "direct")):
            value = ratio(steps.get(a), steps.get(b))
            if value is not None:
                print(f"  {text:<28} {value:.2f}")
        print(f"fraction of the {args.link_mbps:g} MiB/s link cap (unique bytes / wall time):")
        for key in ("direct", "single", "to_dir", "skopeo1", "skopeo4"):
            value = link_fraction(key)
            if value is not None:
                print(f"  {steps[key].label:<42} {value:.2f}")
        print("the copy alone (the engine's own seconds; the rest is start-up, release reading, bundle):")
        for key in ("direct", "to_dir"):
            step = steps.get(key)
            seconds = (step.summary or {}).get("seconds") if step is not None else None
            if step is not None and isinstance(seconds, (int, float)) and seconds > 0:
                print(f"  {step.label:<42} {seconds:6.2f} s of {step.seconds:.2f} s, "
                      f"{release.total_bytes / seconds / link:.2f} of the link cap")
        print(f"requests per image ({images} images; source + mirror):")
        for key in ("direct", "rerun"):
            step = steps.get(key)
            if step is not None:
                print(f"  {step.label:<42} {step.source.requests / images:5.1f} + {step.mirror.requests / images:5.1f}")
        print()
        big = release.largest_blob >= BIG_LAYER and release.largest_blob >= 0.2 * release.total_bytes
        checks: list[Check] = []
        direct_fraction = link_fraction("direct")
        want = 0.7 if big else 0.85
        checks.append(Check(f"far, {'one big layer' if big else 'usual release'}: ≥ {want} × link cap",
                            "-" if direct_fraction is None else f"{direct_fraction:.2f}",
                            None if direct_fraction is None else direct_fraction >= want))
        if not big:
            value = ratio(steps.get("direct"), steps.get("skopeo1"))
            checks.append(Check("far, usual release: ≤ 0.15 × skopeo", "-" if value is None else f"{value:.2f}",
                                None if value is None else value <= 0.15))
        ours = [s for k, s in steps.items() if k in ("direct", "rerun", "to_dir", "single") and s.rss_mb]
        if ours:
            worst = max(ours, key=lambda s: s.rss_mb or 0)
            checks.append(Check("peak RSS ≤ 150 MB (our steps)", f"{worst.rss_mb:.0f} MB ({worst.label})",
                                (worst.rss_mb or 0) <= 150))
        for key in ("direct", "to_dir"):
            step = steps.get(key)
            if step is not None:
                ok, text = read_once(step, release_own)
                checks.append(Check(f"{step.label}: each blob's bytes read once", text, ok and step.ok))
        print("targets (issue 16):")
        print_checks(checks)
        direct = steps.get("direct")
        if direct is not None:
            note = cpu_bound_note(direct, release.total_bytes / link / want, f"{want} of the link")
            if note:
                print(note)
        for s in steps.values():
            if not s.ok:
                print(f"  {s.label}: {s.error}")
        return 0 if all(c.ok is not False for c in checks) and all(s.ok for s in steps.values()) else 1
    finally:
        proxy.terminate()
        try:
            proxy.wait(5)
        except subprocess.TimeoutExpired:
            proxy.kill()
        proxy_log.close()
        env.close()
