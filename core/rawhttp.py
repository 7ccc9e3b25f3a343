"""A lean HTTP/1.1 exchange on asyncio streams, for blob bodies only.

Profiling showed httpx/httpcore spending more CPU per byte than the whole rest of a mirror: every
chunk goes through anyio, h11 and several buffers. Blob bodies are the bulk of a release, so their
GET and PUT run here instead: one connection per transfer, large reads, no re-chunking. Everything
else (auth, tokens, manifests, redirects, errors) stays on httpx; any answer this path does not
expect (401, a redirect, 4xx/5xx) is handed back to the caller, which falls back to the httpx path.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

READ_SIZE = 1 << 20
STREAM_LIMIT = 1 << 22


class RawHTTPError(Exception):
    """Transport trouble on the fast path; the caller maps it to RegistryUnreachable or retries."""


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    length: int | None
    chunked: bool

    async def body(self) -> AsyncIterator[bytes]:
        try:
            if self.chunked:
                async for chunk in self._chunked():
                    yield chunk
                return
            remaining = self.length
            while remaining is None or remaining > 0:
                data = await self.reader.read(READ_SIZE if remaining is None else min(READ_SIZE, remaining))
                if not data:
                    if remaining is None:
                        return
                    raise RawHTTPError(f"connection closed with {remaining} bytes of the body missing")
                if remaining is not None:
                    remaining -= len(data)
                yield data
        except (ConnectionError, OSError, asyncio.IncompleteReadError) as exc:
            raise RawHTTPError(str(exc) or type(exc).__name__) from None

    async def _chunked(self) -> AsyncIterator[bytes]:
        while True:
            line = await self.reader.readline()
            if not line:
                raise RawHTTPError("connection closed inside a chunked body")
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await self.reader.readline()
                return
            remaining = size
            while remaining:
                data = await self.reader.read(min(READ_SIZE, remaining))
                if not data:
                    raise RawHTTPError("connection closed inside a chunk")
                remaining -= len(data)
                yield data
            await self.reader.readexactly(2)

    async def read_all(self, limit: int = 1 << 16) -> bytes:
        parts: list[bytes] = []
        total = 0
        async for chunk in self.body():
            total += len(chunk)
            if total > limit:
                break
            parts.append(chunk)
        return b"".join(parts)

    def close(self) -> None:
        self.writer.close()


async def exchange(
    method: str,
    url: str,
    headers: dict[str, str],
    *,
    ssl_context: ssl.SSLContext | None,
    body: AsyncIterator[bytes] | None = None,
    connect_timeout: float = 15.0,
) -> RawResponse:
    """Send one request (streaming ``body`` if given) and read the status line and headers."""
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    host = parts.hostname or ""
    port = parts.port or (443 if secure else 80)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=ssl_context if secure else None,
                                    server_hostname=host if secure else None, limit=STREAM_LIMIT),
            connect_timeout,
        )
    except ssl.SSLError:
        raise  # certificate problems are the caller's to explain
    except (OSError, asyncio.TimeoutError) as exc:
        raise RawHTTPError(f"cannot connect to {parts.netloc}: {exc or type(exc).__name__}") from None
    try:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close",
                 "User-Agent: mirror-wizard/0.1"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if body is not None:
            async for chunk in body:
                writer.write(chunk)
                if writer.transport.get_write_buffer_size() > STREAM_LIMIT:
                    await writer.drain()
        await writer.drain()
        status_line = await reader.readline()
        if not status_line:
            raise RawHTTPError("the server closed the connection without answering")
        try:
            status = int(status_line.split(b" ", 2)[1])
        except (IndexError, ValueError):
            raise RawHTTPError(f"not an HTTP answer: {status_line[:40]!r}") from None
        response_headers: dict[str, str] = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            response_headers[name.strip().lower()] = value.strip()
        length_text = response_headers.get("content-length")
        chunked = "chunked" in response_headers.get("transfer-encoding", "").lower()
        length = int(length_text) if length_text and length_text.isdigit() and not chunked else None
        if method == "HEAD" or status in (204, 304):
            length = 0
        return RawResponse(status, response_headers, reader, writer, length, chunked)
    except (ConnectionError, OSError, asyncio.IncompleteReadError) as exc:
        writer.close()
        raise RawHTTPError(str(exc) or type(exc).__name__) from None
    except BaseException:
        writer.close()
        raise
