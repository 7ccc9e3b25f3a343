"""A TCP proxy on loopback that makes a local registry look far away: a round-trip delay, a cap per
connection and a cap on the whole link. Bytes pass through untouched (TLS included: the client still
verifies the registry's own certificate, whose names include 127.0.0.1 whatever the port).

    python3 -m tests.benchmark.shaping_proxy --listen 127.0.0.1:9000 --upstream 127.0.0.1:5000 \\
        [--rtt-ms 40] [--conn-mbps 10] [--link-mbps 80]

Rates are MiB/s. Each direction of each connection is a pipeline: a reader stamps every chunk with the
time it "arrives" (now + half the round trip) and a writer sends it no earlier than that, paced by two
virtual clocks: the connection's (its cap) and the link's (shared by every connection, one per
direction). The queue between them holds about one bandwidth-delay product, so TCP back-pressure
still reaches the sender as on a real link. Counters are printed on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from dataclasses import dataclass, field

MiB = 1 << 20
# Big reads keep the proxy's own CPU low (it shares the machine with the client and both registries;
# the internet it stands for costs the mirror host nothing). 256 KiB is 25 ms of a 10 MiB/s connection,
# still well under the round trip, so pacing stays smooth.
CHUNK = 256 * 1024
BUFFER = 4 * CHUNK  # StreamReader limit: lets one read return a whole CHUNK


@dataclass
class Pacer:
    """A virtual clock: when the link (or connection) is free to send the next byte."""

    rate: float  # bytes per second
    free_at: float = 0.0


@dataclass
class Shaping:
    rtt: float = 0.040
    conn_rate: float = 10 * MiB
    link_rate: float = 80 * MiB
    links: dict[str, Pacer] = field(default_factory=dict)
    bytes_down: int = 0
    bytes_up: int = 0
    connections: int = 0

    def link(self, direction: str) -> Pacer:
        if direction not in self.links:
            self.links[direction] = Pacer(self.link_rate)
        return self.links[direction]


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, shaping: Shaping, direction: str) -> None:
    loop = asyncio.get_running_loop()
    conn = Pacer(shaping.conn_rate)
    link = shaping.link(direction)
    depth = max(4, int(shaping.conn_rate * shaping.rtt / CHUNK) + 4)
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(maxsize=depth)

    async def receive() -> None:
        try:
            while data := await reader.read(CHUNK):
                await queue.put((loop.time() + shaping.rtt / 2, data))
        except (ConnectionError, OSError):
            pass
        finally:
            await queue.put((loop.time() + shaping.rtt / 2, b""))

    receiver = asyncio.create_task(receive())
    try:
        while True:
            due, data = await queue.get()
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if not data:
                break
            # Virtual time, not the clock: a writer woken late (a busy machine) does not lose its
            # share, it sends the next chunks without waiting until it is back on schedule.
            start = max(due, conn.free_at, link.free_at)
            conn.free_at = start + len(data) / conn.rate
            link.free_at = start + len(data) / link.rate
            wait = conn.free_at - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
            if direction == "down":
                shaping.bytes_down += len(data)
            else:
                shaping.bytes_up += len(data)
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass
    finally:
        receiver.cancel()


async def _handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter, upstream: tuple[str, int],
                  shaping: Shaping) -> None:
    shaping.connections += 1
    try:
        up_reader, up_writer = await asyncio.open_connection(*upstream, limit=BUFFER)
    except OSError:
        client_writer.close()
        return
    try:
        await asyncio.gather(_pipe(client_reader, up_writer, shaping, "up"),
                             _pipe(up_reader, client_writer, shaping, "down"))
    except asyncio.CancelledError:
        pass  # the proxy is shutting down
    finally:
        for w in (client_writer, up_writer):
            w.close()


async def serve(listen: tuple[str, int], upstream: tuple[str, int], shaping: Shaping) -> None:
    server = await asyncio.start_server(lambda r, w: _handle(r, w, upstream, shaping), *listen, reuse_address=True,
                                        limit=BUFFER)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"shaping {listen[0]}:{listen[1]} -> {upstream[0]}:{upstream[1]}: rtt {shaping.rtt * 1000:.0f} ms, "
          f"{shaping.conn_rate / MiB:g} MiB/s per connection, {shaping.link_rate / MiB:g} MiB/s link", flush=True)
    async with server:
        await stop.wait()
    print(f"connections {shaping.connections}, down {shaping.bytes_down / MiB:.1f} MiB, "
          f"up {shaping.bytes_up / MiB:.1f} MiB", flush=True)


def _hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tests.benchmark.shaping_proxy",
                                     description="A TCP proxy adding latency and bandwidth caps (loopback benchmarks).")
    parser.add_argument("--listen", required=True, metavar="HOST:PORT")
    parser.add_argument("--upstream", required=True, metavar="HOST:PORT")
    parser.add_argument("--rtt-ms", type=float, default=40.0, help="round-trip delay added (default 40)")
    parser.add_argument("--conn-mbps", type=float, default=10.0, help="cap per connection, MiB/s (default 10)")
    parser.add_argument("--link-mbps", type=float, default=80.0, help="cap on all connections together, MiB/s (default 80)")
    args = parser.parse_args(argv)
    shaping = Shaping(rtt=args.rtt_ms / 1000, conn_rate=args.conn_mbps * MiB, link_rate=args.link_mbps * MiB)
    asyncio.run(serve(_hostport(args.listen), _hostport(args.upstream), shaping))
    return 0


if __name__ == "__main__":
    sys.exit(main())
