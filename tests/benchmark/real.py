"""The real-internet benchmark (issue 22): a corporate proxy, a far source whose blobs all come from a CDN,
a token service on another host; ours and skopeo on the same workload in the same run.

    python3 -m tests.benchmark.run_benchmark --real [--quick] [--rtt-ms 40] [--conn-mbps 10] [--link-mbps 80]

The path of every source byte: client → Squid (CONNECT, proxy login; tests/support/squid.py) → a shaping
proxy per far origin (tests/benchmark/shaping_proxy.py: round trip, per-connection and link caps) →
``src.example.test`` (the front: passes the registry's API through, answers each blob GET with a 307 to
a signed, expiring URL), ``cdn.example.test`` (serves the bytes, refuses Authorization) or
``auth.example.test`` (the token service). Those names resolve only through Squid. The mirror is
127.0.0.1 (loopback: never proxied, as an internal mirror in NO_PROXY).

Printed per client: wall time, registry GETs and CDN GETs per blob, new TLS connections to the CDN per
blob, client CPU per GB moved (from /usr/bin/time: the process and every child it waited for), and the
CPU floor of one sha256 plus TLS decrypt and encrypt of every byte (``openssl speed``).
See tests/benchmark/README.md, "Real internet".
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.support.cdn_front import CdnSource, CdnStats, FrontStats
from tests.support.squid import PROXY_PASSWORD, PROXY_USER, Squid

from .far import _wait_port
from .run_benchmark import Check, Commands, Runner, Step, aggregate, mb, print_checks, print_cpu, ratio, skopeo_pairs
from .workload import BenchEnv, MiB, Release, create_env, free_port, prepare, process_cpu_seconds

GB = 1e9
SOURCE_USER = "puller"
CDN_CONNECTIONS_PER_BLOB = 1 / 20  # target: a release costs a few handshakes to the CDN, not one per blob

SKOPEO_SCRIPT = """\
#!/bin/bash
# skopeo-copy SRC DST through the proxy in the environment (HTTPS_PROXY), retried up to 3 times.
for attempt in 1 2 3; do
  "$SKOPEO" copy --quiet --all --preserve-digests --src-cert-dir "$CERTS" --dest-cert-dir "$CERTS" \\
    --src-authfile "$AUTH" --dest-authfile "$AUTH" "$1" "$2" && exit 0
  echo "RETRY $attempt $1" >&2
done
exit 1
"""


@dataclass
class Traffic:
    """What the front and the CDN saw during one step."""

    front: FrontStats
    cdn: CdnStats
    blobs: int                 # unique blobs of the release

    def per_blob(self, n: float) -> float:
        return n / self.blobs if self.blobs else 0.0

    @property
    def registry_gets(self) -> int:
        return sum(self.front.blob_gets.values())

    @property
    def cdn_gets(self) -> int:
        return sum(self.cdn.gets.values())


class RealCommands(Commands):
    """Our command line, plus the token service on another host (its name is not the registry's)."""

    auth_host: str = ""

    def _common(self) -> list[str]:
        return [*super()._common(), "--auth-host", self.auth_host]


def load_ca(env: BenchEnv) -> tuple[x509.Certificate, object]:
    """The benchmark CA (tests/benchmark/workload.create_env wrote it): the front, the CDN and the token
    service get certificates for their names from it, so every client already trusts them."""
    cert = x509.load_pem_x509_certificate(env.ca_file.read_bytes())
    key = serialization.load_pem_private_key((env.ca_file.parent / "private" / "ca.key").read_bytes(), None)
    return cert, key


def openssl_rate(algorithm: str) -> float | None:
    """Bytes per second one CPU hashes or encrypts 16 KiB blocks (``openssl speed -evp``)."""
    try:
        out = subprocess.run(["openssl", "speed", "-evp", algorithm, "-bytes", "16384", "-seconds", "1"],
                             capture_output=True, text=True, timeout=60, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(rf"^{re.escape(algorithm)}\s+([\d.]+)k\s*$", out, re.M | re.I)
    return float(found[1]) * 1000 if found else None


def floor_line() -> str:
    sha, aes = openssl_rate("sha256"), openssl_rate("aes-128-gcm")
    if not sha or not aes:
        return "floor: openssl speed unavailable"
    # Every byte moved is decrypted once (TLS from the CDN), hashed once (the digest) and encrypted once (TLS to
    # the mirror); anything a client spends above this is its own overhead.
    floor = GB / sha + 2 * GB / aes
    return (f"floor (openssl speed, one CPU): sha256 {sha / GB:.2f} GB/s, aes-128-gcm {aes / GB:.2f} GB/s → "
            f"≥ {floor:.2f} CPU s per GB moved (sha256 once + aes-128-gcm both ways)")


def start_shaper(root: Path, name: str, listen: int, upstream: int, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    log = open(root / f"shaping-{name}.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "tests.benchmark.shaping_proxy", "--listen", f"127.0.0.1:{listen}",
                             "--upstream", f"127.0.0.1:{upstream}", "--rtt-ms", str(args.rtt_ms),
                             "--conn-mbps", str(args.conn_mbps), "--link-mbps", str(args.link_mbps)],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    return proc


def merged_auth(env: BenchEnv, source_host: str, password: str) -> Path:
    """The mirror's login (from the benchmark env) plus the source's, as a pull secret carries both."""
    auths = json.loads(env.auth_file.read_text())
    token = base64.b64encode(f"{SOURCE_USER}:{password}".encode()).decode()
    auths["auths"][source_host] = {"auth": token}
    path = env.root / "real-auth.json"
    path.write_text(json.dumps(auths))
    path.chmod(0o600)
    return path


def run_real(args: argparse.Namespace, root: Path) -> int:
    total_mb = 60 if args.quick else args.layer_mb
    print(f"real-internet benchmark in {root}: Squid with proxy auth; far link rtt {args.rtt_ms:g} ms, "
          f"{args.conn_mbps:g} MiB/s per connection, {args.link_mbps:g} MiB/s link per origin; every source blob "
          f"redirected to a CDN; token service on another host")
    env = create_env(root / "env", args.mirror_auth)
    squid = Squid(auth=(PROXY_USER, PROXY_PASSWORD))
    shapers: list[subprocess.Popen[bytes]] = []
    source: CdnSource | None = None
    try:
        squid.start()
        ca_cert, ca_key = load_ca(env)
        public = {"src": free_port(), "cdn": free_port(), "auth": free_port()}
        password = secrets.token_urlsafe(12)
        source = CdnSource(root / "cdn-source", ca_cert, ca_key, env.ca_file, {SOURCE_USER: password},  # type: ignore[arg-type]
                           registry=env.source, public_ports=public)
        started = time.monotonic()
        # Seeded straight into the registry (no auth yet); the workload names the source by its far name.
        workload = prepare(root, env, total_bytes=int(total_mb * MiB), big_layer_gb=args.big_layer_gb,
                           source_host=source.host)
        shutil.rmtree(workload.layout)
        source.start()  # restarts the registry with token auth, realm on auth.example.test
        shapers = [start_shaper(root, "src", public["src"], source.front.port, args),
                   start_shaper(root, "cdn", public["cdn"], source.cdn.port, args),
                   start_shaper(root, "auth", public["auth"], source.issuer_port, args)]
        for port in public.values():
            _wait_port(port)
        release: Release = workload.releases[workload.main]
        blobs = len(release.blobs)
        print(f"workload: release {release.version}, {len(release.images) - 1} components, {blobs} unique blobs, "
              f"{mb(release.total_bytes)} MB (largest {mb(release.largest_blob)} MB), source {source.host}; "
              f"built and seeded in {time.monotonic() - started:.1f}s")
        env.auth_file = merged_auth(env, source.host, password)
        work = root / "steps"
        work.mkdir()
        commands = RealCommands.detect(env, work, args.engine)
        commands.auth_host = source.auth_host
        # Squid's CPU is the "proxy" column (the shaping proxies stand for the internet: not ours to pay).
        runner = Runner(env, work, proxy_pid=squid.process.pid if squid.process else None)
        proxy_env = {"HTTPS_PROXY": squid.url(), "https_proxy": squid.url(), "HTTP_PROXY": squid.url(),
                     "http_proxy": squid.url(), "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
        script = work / "skopeo-copy.sh"
        script.write_text(SKOPEO_SCRIPT)
        script.chmod(0o755)
        skopeo_env = {**proxy_env, "SKOPEO": shutil.which("skopeo") or "skopeo", "CERTS": str(env.cert_dir),
                      "AUTH": str(env.auth_file)}
        pairs = skopeo_pairs(env, release, work)
        expected = {d: b.size for d, b in release.blobs.items()}
        plan: list[tuple[str, str, list[str], dict]] = [
            ("direct", "ours: release mirror (real)", commands.direct(release), {"extra_env": proxy_env}),
            ("skopeo1", "skopeo copy, one after another", ["xargs", "-P", "1", "-L", "1", str(script)],
             {"stdin": pairs, "extra_env": skopeo_env}),
        ]
        if not args.no_skopeo_parallel:
            plan.append(("skopeo4", "skopeo copy, 4 at a time", ["xargs", "-P", "4", "-L", "1", str(script)],
                         {"stdin": pairs, "extra_env": skopeo_env}))
        runs: dict[str, list[Step]] = {key: [] for key, *_ in plan}
        traffic: dict[str, Traffic] = {}
        helper_cpu: dict[str, float] = {}
        for round_number in range(1, args.repeat + 1):
            print(f"round {round_number} of {args.repeat}:" if args.repeat > 1 else "steps:")
            for key, label, argv, kwargs in plan:
                env.mirror.empty()
                front0, cdn0 = source.call(lambda: (source.front.stats.snapshot(), source.cdn.stats.snapshot()))
                shaped0 = sum(process_cpu_seconds(p.pid) for p in shapers)
                result = runner.run(Step(key, label, expected=dict(expected)), argv, **kwargs)
                front1, cdn1 = source.call(lambda: (source.front.stats.snapshot(), source.cdn.stats.snapshot()))
                runs[key].append(result)
                traffic[key] = Traffic(front1.since(front0), cdn1.since(cdn0), blobs)
                helper_cpu[key] = sum(process_cpu_seconds(p.pid) for p in shapers) - shaped0
        steps = {key: aggregate(results) for key, results in runs.items()}
        print()
        print_real_table(steps, traffic, release.total_bytes)
        print()
        print_cpu(list(steps.values()))
        print("  (proxy = Squid; the shaping proxies, standing for the internet, used "
              + ", ".join(f"{steps[k].label.split(':')[0]} {v:.1f} s" for k, v in helper_cpu.items()) + ")")
        print()
        print(floor_line())
        print()
        print("ratios:")
        for text, a, b in (("ours / skopeo sequential", "direct", "skopeo1"),
                           ("ours / skopeo 4 at a time", "direct", "skopeo4")):
            value = ratio(steps.get(a), steps.get(b))
            if value is not None:
                print(f"  {text:<28} {value:.2f}")
        print()
        checks = evaluate_real(steps, traffic, expected)
        print("targets (issue 22):")
        print_checks(checks)
        for s in steps.values():
            if not s.ok:
                print(f"  {s.label}: {s.error}")
        return 0 if all(c.ok is not False for c in checks) and all(s.ok for s in steps.values()) else 1
    finally:
        for proc in shapers:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        if source is not None:
            source.stop()
        squid.remove()
        env.close()


def print_real_table(steps: dict[str, Step], traffic: dict[str, Traffic], total: int) -> None:
    head = (f"{'step':<36} {'seconds':>8} {'MB/s':>6} {'reg GETs/blob':>13} {'CDN GETs/blob':>13} "
            f"{'CDN TLS conns':>13} {'conns/blob':>10} {'CPU s client':>12} {'CPU s/GB':>8} {'CPU ms/MB':>9}")
    print(head)
    print("-" * len(head))
    for key, step in steps.items():
        seen = traffic.get(key)
        rate = f"{total / MiB / step.seconds:.0f}" if step.ok and step.seconds else "-"
        cpu = f"{step.client_cpu:.1f}" if step.client_cpu is not None else "-"
        per_gb = f"{step.client_cpu / (total / GB):.1f}" if step.client_cpu is not None and step.ok else "-"
        per_mb = f"{step.client_cpu * 1000 / (total / MiB):.1f}" if step.client_cpu is not None and step.ok else "-"
        if seen is None:
            continue
        status = "" if step.ok else "  FAILED"
        print(f"{step.label:<36} {step.seconds:>8.2f} {rate:>6} {seen.per_blob(seen.registry_gets):>13.2f} "
              f"{seen.per_blob(seen.cdn_gets):>13.2f} {seen.cdn.connections:>13d} "
              f"{seen.per_blob(seen.cdn.connections):>10.3f} {cpu:>12} {per_gb:>8} {per_mb:>9}{status}")
        if seen.cdn.with_authorization:
            print(f"  {step.label}: {seen.cdn.with_authorization} CDN requests carried Authorization (answered 400)")


def evaluate_real(steps: dict[str, Step], traffic: dict[str, Traffic], expected: dict[str, int]) -> list[Check]:
    checks: list[Check] = []
    value = ratio(steps.get("direct"), steps.get("skopeo1"))
    checks.append(Check("real: ours ≤ 0.2 × skopeo (sequential) wall time", "-" if value is None else f"{value:.2f}",
                        None if value is None else value <= 0.2))
    direct, seen = steps.get("direct"), traffic.get("direct")
    if direct is None or seen is None or not direct.ok:
        checks.append(Check("real: 1 registry GET + 1 CDN GET per blob (or its ranged parts)", "-", None))
        checks.append(Check("real: new TLS connections to the CDN ≤ 1 per 20 blobs", "-", None))
        return checks
    # One registry GET per blob; the CDN delivers each blob's bytes exactly once (in one GET or in ranged parts).
    extra_registry = {d: n for d, n in seen.front.blob_gets.items() if n != 1}
    missing = [d for d in expected if seen.front.blob_gets.get(d, 0) == 0]
    wrong_bytes = [d for d, size in expected.items() if seen.cdn.bytes_by_digest.get(d, 0) != size]
    single = sum(1 for d in expected if seen.cdn.gets.get(d, 0) == 1)
    text = (f"{seen.per_blob(seen.registry_gets):.2f} + {seen.per_blob(seen.cdn_gets):.2f} per blob; "
            f"{single}/{len(expected)} in one CDN GET")
    if extra_registry or missing or wrong_bytes:
        text += f"; {len(extra_registry)} asked twice+, {len(missing)} never, {len(wrong_bytes)} CDN bytes ≠ size"
    checks.append(Check("real: 1 registry GET + 1 CDN GET per blob (or its ranged parts)", text,
                        not extra_registry and not missing and not wrong_bytes and seen.cdn.with_authorization == 0))
    allowed = max(1.0, len(expected) * CDN_CONNECTIONS_PER_BLOB)
    checks.append(Check("real: new TLS connections to the CDN ≤ 1 per 20 blobs",
                        f"{seen.cdn.connections} for {len(expected)} blobs (≤ {allowed:.0f})",
                        seen.cdn.connections <= allowed))
    return checks
