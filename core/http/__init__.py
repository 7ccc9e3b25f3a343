"""The one HTTP stack: every request the tool makes goes through here.

* :mod:`.proxy` — which forward proxy an origin goes through (``HTTPS_PROXY``/``NO_PROXY``, ``--proxy``);
* :mod:`.connection` — connections (direct, CONNECT tunnels, TLS per origin), keep-alive pools, HTTP/1.1;
* :mod:`.client` — :class:`HttpClient`: one exchange, the one error map, bounded reads, small documents.

Registry auth, redirects of blob reads and retries are built on it in :mod:`core.registry`.
"""

from __future__ import annotations

from .client import ERROR_BODY_LIMIT, REDIRECTS, Answer, HttpClient, display_host, map_error
from .connection import ConnectionPool, Connector, RawHTTPError, RawResponse
from .proxy import Proxy, ProxySettings, bypasses, parse_proxy

__all__ = [
    "ERROR_BODY_LIMIT",
    "REDIRECTS",
    "Answer",
    "ConnectionPool",
    "Connector",
    "HttpClient",
    "Proxy",
    "ProxySettings",
    "RawHTTPError",
    "RawResponse",
    "bypasses",
    "display_host",
    "map_error",
    "parse_proxy",
]
