"""Client CPU per GB read over TLS: httpx/httpcore against core.http, the one backend we kept.

    python3 -m tests.benchmark.backends [--mb 512] [--rounds 3]

A TLS server (its own process, so its CPU is not counted) sends a blob of ``--mb`` MiB with a
Content-Length on a kept-alive connection, as a CDN does; each client (its own process) reads it
``--rounds`` times and hashes it with sha256, as the copy does. Printed: client CPU ms per MB (user +
system of the client process alone) and the floor on this CPU (``openssl speed`` of sha256 and
aes-128-gcm, the work any client must do per byte).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import resource
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MiB = 1 << 20


async def _serve(port_file: Path, cert: str, key: str, size: int) -> None:
    block = os.urandom(MiB)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head:
                    return
                writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nContent-Type: application/octet-stream"
                             "\r\n\r\n".encode())
                left = size
                while left:
                    piece = block[: min(left, MiB)]
                    writer.write(piece)
                    left -= len(piece)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    port_file.write_text(str(server.sockets[0].getsockname()[1]))
    async with server:
        await server.serve_forever()


async def _read_httpx(url: str, ca: str, rounds: int) -> int:
    import httpx

    total = 0
    async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=ca), timeout=60) as client:
        for _ in range(rounds):
            hasher = hashlib.sha256()
            async with client.stream("GET", url) as response:
                async for chunk in response.aiter_raw():
                    hasher.update(chunk)
                    total += len(chunk)
    return total


async def _read_core(url: str, ca: str, rounds: int) -> int:
    from core.http import HttpClient
    from core.tlsconfig import TLSOptions

    total = 0
    http = HttpClient(TLSOptions(ca_files=(ca,), certs_dirs=()))
    try:
        for _ in range(rounds):
            hasher = hashlib.sha256()
            response = await http.send("GET", url, {})
            async for chunk in http.body(response, url):
                hasher.update(chunk)
                total += len(chunk)
            response.close()
    finally:
        await http.aclose()
    return total


def _client(which: str, url: str, ca: str, rounds: int) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    reader = _read_httpx if which == "httpx" else _read_core
    total = asyncio.run(reader(url, ca, rounds))
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(json.dumps({"bytes": total, "cpu": cpu, "wall": time.monotonic() - started}))


def openssl_floor() -> str:
    """ms of CPU per MB for sha256 + aes-128-gcm (decrypt ≈ encrypt), from openssl speed (1 MiB blocks)."""
    rates = {}
    for algo in ("sha256", "aes-128-gcm"):
        done = subprocess.run(["openssl", "speed", "-evp", algo, "-seconds", "1", "-bytes", str(MiB)],
                              capture_output=True, text=True, check=False)
        match = re.search(r"\s([\d.]+)k\s*$", done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else None
        if match:
            rates[algo] = float(match.group(1)) * 1000  # bytes per second
    if len(rates) < 2:
        return "floor: openssl speed unavailable"
    per_mb = sum(1000 * 1e6 / rate for rate in rates.values())
    return (f"floor (openssl speed, 1 MiB blocks): sha256 {rates['sha256'] / 1e6:.0f} MB/s, aes-128-gcm "
            f"{rates['aes-128-gcm'] / 1e6:.0f} MB/s → {per_mb:.2f} CPU-ms per MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tests.benchmark.backends")
    parser.add_argument("--mb", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", nargs=4, metavar=("PORTFILE", "CERT", "KEY", "SIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--client", nargs=4, metavar=("WHICH", "URL", "CA", "ROUNDS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(_serve(Path(args.serve[0]), args.serve[1], args.serve[2], int(args.serve[3])))
        return 0
    if args.client:
        _client(args.client[0], args.client[1], args.client[2], int(args.client[3]))
        return 0
    from tui.sandbox.pki import make_ca, make_server_cert

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pair, cert, key = make_ca(folder, "backends CA")
        server = make_server_cert(folder, cert, key, hosts=("127.0.0.1",))
        port_file = folder / "port"
        serving = subprocess.Popen([sys.executable, "-m", "tests.benchmark.backends", "--serve", str(port_file),
                                    str(server.cert_path), str(server.key_path), str(args.mb * MiB)])
        try:
            for _ in range(100):
                if port_file.exists() and port_file.read_text():
                    break
                time.sleep(0.05)
            url = f"https://127.0.0.1:{port_file.read_text()}/blob"
            print(f"{args.mb} MiB × {args.rounds} rounds over TLS on one kept-alive connection, sha256 included")
            for which in ("httpx", "core.http"):
                done = subprocess.run([sys.executable, "-m", "tests.benchmark.backends", "--client", which, url,
                                       str(pair.cert_path), str(args.rounds)], capture_output=True, text=True, check=True)
                result = json.loads(done.stdout.strip().splitlines()[-1])
                mb = result["bytes"] / 1e6
                print(f"  {which:<10} {1000 * result['cpu'] / mb:6.2f} CPU-ms per MB ({1000 * result['cpu'] / mb:.0f} "
                      f"CPU-s per GB), {mb / result['wall']:.0f} MB/s")
            print("  " + openssl_floor())
        finally:
            serving.terminate()
            serving.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
