"""A small HTTP server on 127.0.0.1 answering every GET with one JSON body (an update service's graph),
recording each request's path and Accept header."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def json_server(body: bytes) -> Iterator[tuple[int, list[tuple[str, str]]]]:
    """(its port, the (path, Accept) of every request so far) while the block runs."""
    requests: list[tuple[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802  (http.server's name)
            requests.append((self.path, self.headers.get("Accept", "")))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], requests
    finally:
        server.shutdown()
        server.server_close()


__all__ = ["json_server"]
