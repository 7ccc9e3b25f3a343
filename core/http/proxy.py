"""Which proxy a request goes through, decided as every container tool decides it.

Go's ``net/http`` (oc, skopeo, podman, oc-mirror) reads ``HTTPS_PROXY`` for https URLs and
``HTTP_PROXY`` for http ones, upper or lower case; curl adds ``ALL_PROXY`` as the fallback for both,
and so do we. ``NO_PROXY`` is a comma-separated list (see :func:`bypasses`); loopback addresses and
``localhost`` never go through a proxy (as Go). ``--proxy URL`` and ``--no-proxy LIST`` (and the plan's
``proxy:`` key) override the environment.

A proxy URL may carry credentials (``http://user:pass@proxy:3128``); they travel only in
``Proxy-Authorization`` to the proxy itself and never appear in a message: :attr:`Proxy.display`
is ``host:port`` alone.
"""

from __future__ import annotations

import base64
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from ..errors import InputError


@dataclass(frozen=True)
class Proxy:
    """One forward proxy: plain HTTP to the proxy (https origins through a CONNECT tunnel)."""

    host: str
    port: int
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    @property
    def display(self) -> str:
        """``host:port``: what every message names (never the credentials)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def authorization(self) -> str | None:
        """The ``Proxy-Authorization`` value, when the proxy URL carried a user."""
        if self.username is None:
            return None
        raw = f"{self.username}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


def parse_proxy(url: str, *, source: str = "the proxy URL") -> Proxy:
    """A proxy from ``http://[user:pass@]host[:port]`` (no scheme means http, as Go and curl take it)."""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise InputError(f"{source} is not a URL like http://proxy.example.com:3128") from None
    if parts.scheme.lower() != "http":
        raise InputError(f"{source} uses {parts.scheme}://; only http:// proxies are supported "
                         "(https destinations still go through them in a CONNECT tunnel)")
    if not parts.hostname:
        raise InputError(f"{source} names no host; write it like http://proxy.example.com:3128")
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return Proxy(parts.hostname.lower(), port or 80, username, password)


def _split_list(value: str) -> tuple[str, ...]:
    return tuple(item.strip().lower() for item in value.split(",") if item.strip())


@dataclass(frozen=True)
class ProxySettings:
    """The proxies for a run and the hosts that bypass them."""

    https: Proxy | None = None
    http: Proxy | None = None
    no_proxy: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, proxy: str | None = None,
                 no_proxy: str | None = None) -> ProxySettings:
        """The environment's settings, ``proxy`` (one URL for both schemes) and ``no_proxy`` (a NO_PROXY
        list) overriding it when given. An empty ``proxy`` means none at all."""
        env = os.environ if environ is None else environ

        def var(name: str) -> str:
            # lower case first, as Go and curl (a lower-case http_proxy is the CGI-safe spelling)
            return (env.get(name.lower()) or env.get(name.upper()) or "").strip()

        if proxy is not None:
            chosen = parse_proxy(proxy, source="--proxy") if proxy.strip() else None
            https = http = chosen
        else:
            fallback = var("ALL_PROXY")
            https_text = var("HTTPS_PROXY") or fallback
            http_text = var("HTTP_PROXY") or fallback
            https = parse_proxy(https_text, source="HTTPS_PROXY") if https_text else None
            http = parse_proxy(http_text, source="HTTP_PROXY") if http_text else None
        bypass = no_proxy if no_proxy is not None else var("NO_PROXY")
        return cls(https, http, _split_list(bypass))

    def for_url(self, scheme: str, host: str, port: int) -> Proxy | None:
        """The proxy to use for ``scheme://host:port``, or None to connect directly."""
        proxy = self.https if scheme == "https" else self.http
        if proxy is None or bypasses(self.no_proxy, host, port):
            return None
        return proxy

    def describe(self, scheme: str, host: str, port: int) -> str:
        """One line for preflight: how this origin will be reached."""
        proxy = self.for_url(scheme, host, port)
        if proxy is not None:
            return f"through the proxy {proxy.display}"
        if (self.https if scheme == "https" else self.http) is None:
            return "directly (no proxy set)"
        if _is_loopback(host.lower().strip("[]")):
            return "directly (a loopback address)"
        return "directly (NO_PROXY)"


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bypasses(entries: tuple[str, ...], host: str, port: int) -> bool:
    """Whether ``host:port`` is reached directly under a NO_PROXY list.

    An entry is ``*`` (everything), an IP address, a CIDR block (``10.0.0.0/8``), a host name (itself and
    its subdomains), ``.domain`` (subdomains only) or any of these with ``:port`` (that port only).
    Loopback addresses and ``localhost`` are always direct, as in Go.
    """
    host = host.lower().strip("[]").rstrip(".")
    if _is_loopback(host):
        return True
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for raw in entries:
        entry = raw
        if entry == "*":
            return True
        entry_port: int | None = None
        if entry.startswith("["):  # [v6]:port or [v6]
            inside, _, rest = entry[1:].partition("]")
            entry = inside
            if rest.startswith(":") and rest[1:].isdigit():
                entry_port = int(rest[1:])
        elif entry.count(":") == 1:  # name:port or v4:port (a bare v6 has several colons)
            name, _, port_text = entry.partition(":")
            if port_text.isdigit():
                entry, entry_port = name, int(port_text)
        if entry_port is not None and entry_port != port:
            continue
        if "/" in entry:
            if address is None:
                continue
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        try:
            if address is not None and address == ipaddress.ip_address(entry):
                return True
            ipaddress.ip_address(entry)
            continue  # an IP entry never matches a name
        except ValueError:
            pass
        entry = entry.rstrip(".")
        if entry.startswith("*."):
            entry = entry[1:]
        if entry.startswith("."):
            if host.endswith(entry):
                return True
        elif host == entry or host.endswith("." + entry):
            return True
    return False


__all__ = ["Proxy", "ProxySettings", "bypasses", "parse_proxy"]
