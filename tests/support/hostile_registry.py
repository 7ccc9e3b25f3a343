"""A registry stand-in that misbehaves on purpose (issue 15): what a real registry will not do.

It serves a tiny image (config + one layer + manifest) the honest way by default, over HTTP or HTTPS
(the test PKI), and each test swaps in answers for some paths: stall, send endless bodies, lie about
sizes, break chunked framing, send a giant header line, name a token realm elsewhere, loop the tag
list. Every request is recorded (method, path, headers) so tests can prove what was, or was not, sent.

Answers are written by hand on asyncio streams: malformed HTTP is the point, so no HTTP library.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import ssl
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Answer:
    """What to send back. ``mode``:

    * ``normal`` — status, headers, body with a Content-Length;
    * ``stall`` — status and headers (Content-Length ``declared`` or len(body)), the first
      ``stall_after`` body bytes, then nothing, the connection held open;
    * ``endless`` — a chunked body of ``body`` repeated for ever (until the client hangs up);
    * ``raw`` — ``body`` written as is, the connection then closed (malformed HTTP).
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    mode: str = "normal"
    stall_after: int = 0
    declared: int | None = None


Handler = Callable[[Seen], Answer | Awaitable[Answer]]


@dataclass
class TinyImage:
    repository: str
    tag: str
    config: bytes
    layer: bytes
    manifest: bytes

    @property
    def digest(self) -> str:
        return sha256(self.manifest)

    @property
    def layer_digest(self) -> str:
        return sha256(self.layer)


def tiny_image(repository: str = "hostile/app", tag: str = "v1", layer_size: int = 256 * 1024) -> TinyImage:
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    layer = (hashlib.sha256(repository.encode()).digest() * (layer_size // 32 + 1))[:layer_size]
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(layer), "size": len(layer)}],
    }).encode()
    return TinyImage(repository, tag, config, layer, manifest)


class HostileRegistry:
    def __init__(self, *, tls: tuple[Path, Path] | None = None, challenge: str | None = None) -> None:
        self.tls = tls
        self.challenge = challenge  # a WWW-Authenticate for /v2/ and for any request without Authorization
        self.images: dict[str, TinyImage] = {}
        self.routes: list[tuple[str | None, re.Pattern[str], Handler]] = []
        self.seen: list[Seen] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._writers: set[asyncio.StreamWriter] = set()

    # -- set-up -------------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def add_image(self, image: TinyImage) -> TinyImage:
        self.images[image.repository] = image
        return image

    def on(self, method: str | None, path: str, handler: Handler | Answer) -> None:
        """Answer requests whose path matches ``path`` (a regex, searched) this way, before the defaults."""
        if isinstance(handler, Answer):
            fixed = handler
            self.routes.insert(0, (method, re.compile(path), lambda _seen: fixed))
        else:
            self.routes.insert(0, (method, re.compile(path), handler))

    def requests(self, path: str = "", method: str | None = None) -> list[Seen]:
        return [s for s in self.seen if re.search(path, s.path) and method in (None, s.method)]

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._run, name="hostile-registry", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the hostile registry did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(5)
        self._loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving ------------------------------------------------------------------------------
    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        context = None
        if self.tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(self.tls[0]), str(self.tls[1]))
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=context, limit=1 << 20))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                first = await reader.readexactly(1)
                if first == b"\x16" and not self.tls:  # a TLS hello on the plain listener: close, clients fall back
                    break
                head = first + await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                if headers.get("content-length", "0").isdigit() and int(headers.get("content-length", "0")):
                    await reader.readexactly(int(headers["content-length"]))
                seen = Seen(method, target, headers)
                self.seen.append(seen)
                answer = await self._answer(seen)
                if not await self._send(answer, method, reader, writer):
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ssl.SSLError,
                asyncio.CancelledError, ValueError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _answer(self, seen: Seen) -> Answer:
        for method, pattern, handler in self.routes:
            if method in (None, seen.method) and pattern.search(seen.path):
                answer = handler(seen)
                return await answer if not isinstance(answer, Answer) else answer
        return self._default(seen)

    def _default(self, seen: Seen) -> Answer:
        if self.challenge and "authorization" not in seen.headers:
            return Answer(401, {"WWW-Authenticate": self.challenge}, b'{"errors":[{"code":"UNAUTHORIZED"}]}')
        path = seen.path.split("?")[0]
        if path == "/v2/":
            return Answer(200, {"Content-Type": "application/json"}, b"{}")
        match = re.fullmatch(r"/v2/(.+)/(manifests|blobs)/([^/]+)", path)
        if match:
            image = self.images.get(match.group(1))
            ref = match.group(3)
            if image is not None:
                if match.group(2) == "manifests" and ref in (image.tag, image.digest):
                    return Answer(200, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": image.digest},
                                  image.manifest)
                blobs = {sha256(image.config): image.config, image.layer_digest: image.layer}
                if match.group(2) == "blobs" and ref in blobs:
                    data = blobs[ref]
                    wanted = re.fullmatch(r"bytes=(\d+)-", seen.headers.get("range", ""))
                    if wanted:
                        start = int(wanted.group(1))
                        return Answer(206, {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}, data[start:])
                    return Answer(200, {"Content-Type": "application/octet-stream"}, data)
        match = re.fullmatch(r"/v2/(.+)/tags/list", path)
        if match and match.group(1) in self.images:
            return Answer(200, {"Content-Type": "application/json"},
                          json.dumps({"name": match.group(1), "tags": [self.images[match.group(1)].tag]}).encode())
        return Answer(404, {"Content-Type": "application/json"}, b'{"errors":[{"code":"NOT_FOUND","message":"unknown"}]}')

    async def _send(self, answer: Answer, method: str, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> bool:
        if answer.mode == "raw":
            writer.write(answer.body)
            await writer.drain()
            return False
        headers = dict(answer.headers)
        if answer.mode == "endless":
            headers["Transfer-Encoding"] = "chunked"
        else:
            headers.setdefault("Content-Length", str(answer.declared if answer.declared is not None else len(answer.body)))
        head = [f"HTTP/1.1 {answer.status} Hostile"] + [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if method == "HEAD":
            await writer.drain()
            return True
        if answer.mode == "stall":
            writer.write(answer.body[: answer.stall_after])
            await writer.drain()
            await reader.read()  # hold the connection until the client gives up on it
            return False
        if answer.mode == "endless":
            piece = answer.body or b"x" * 65536
            frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
            while not writer.is_closing():
                writer.write(frame)
                await writer.drain()
            return False
        writer.write(answer.body)
        await writer.drain()
        return True


def run_in_thread(coro_factory: Callable[[], Awaitable[object]], timeout: float = 60.0) -> object:
    """Run an async test body with a hard ceiling, so a client that hangs fails the test instead of the suite."""
    async def bounded() -> object:
        return await asyncio.wait_for(coro_factory(), timeout)

    return asyncio.run(bounded())
