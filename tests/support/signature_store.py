"""A release signature store over HTTP on loopback, laid out as the real ones
(``<base>/sha256=<hex>/signature-<n>``), recording what it was asked.

Only plain static files: the real stores are buckets behind a web server. ``overrides`` lets a test make
one path answer a status or an oversized body, as a misbehaving store would.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class SignatureStore:
    prefix: str = "/signatures/openshift/release"
    files: dict[str, bytes] = field(default_factory=dict)      # path under prefix → body
    overrides: dict[str, int] = field(default_factory=dict)    # path under prefix → status
    drip: dict[str, float] = field(default_factory=dict)       # path under prefix → seconds between bytes
    requests: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    def add(self, digest: str, signatures: list[bytes]) -> None:
        algo, _, hexpart = digest.partition(":")
        for number, data in enumerate(signatures, start=1):
            self.files[f"/{algo}={hexpart}/signature-{number}"] = data

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.prefix}"

    def start(self) -> SignatureStore:
        store = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                store.requests.append(self.path)
                path = self.path[len(store.prefix):] if self.path.startswith(store.prefix) else None
                status = store.overrides.get(path or "", 0)
                body = store.files.get(path or "") if not status else b"error"
                if status == 0:
                    status = 200 if body is not None else 404
                    body = body if body is not None else b"not found"
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    pause = store.drip.get(path or "")
                    if pause:  # a store that answers, but a byte at a time
                        for byte in body[:20]:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(pause)
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading an oversized answer, as it should

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
