"""Debian's real Squid as the corporate forward proxy a mirror host sits behind (tests and the benchmark).

Started on 127.0.0.1 with a free port and its own configuration in its own folder: no caching, its own
pid file and logs, optional proxy authentication (``basic_ncsa_auth`` over an htpasswd file), CONNECT to
every port except one ``refused_port`` (as a proxy that only lets 443 out refuses the rest), plain-HTTP
forwarding too. ``hosts_file`` maps the test names (``src.example.test`` ...) to 127.0.0.1 and DNS
points at 127.0.0.1 where nothing answers, so those names resolve *only through the proxy*: a client
that bypasses the proxy fails name resolution, and no test reaches the internet.

Squid started as root drops to ``cache_effective_user`` (Debian: ``proxy``) before it opens its logs
and runs the auth helper, so its folder lives outside pytest's 0700 temp tree and belongs to that user.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tui.sandbox.registry import free_port, htpasswd_line

SQUID = "/usr/sbin/squid"
NCSA_AUTH = "/usr/lib/squid/basic_ncsa_auth"
# The names every realnet fixture uses; none is in /etc/hosts.
TEST_HOSTS = ("src.example.test", "cdn.example.test", "auth.example.test", "mirror.example.test", "graph.example.test")
PROXY_USER = "mirror-proxy-user"
PROXY_PASSWORD = "Px-9vR2-proxy-secret-never-printed"

# squid's native access-log format: time elapsed client code/status bytes method URL user hierarchy type
_ACCESS = re.compile(r"^\s*(?P<time>[\d.]+)\s+\d+\s+\S+\s+(?P<code>\S+)/(?P<status>\d{3})\s+(?P<bytes>\d+)\s+"
                     r"(?P<method>\S+)\s+(?P<url>\S+)\s+(?P<user>\S+)")


def available() -> bool:
    return Path(SQUID).exists() and Path(NCSA_AUTH).exists()


@dataclass(frozen=True)
class AccessEntry:
    method: str
    url: str          # "host:port" for CONNECT, the absolute URL for plain http
    status: int       # 200 for a tunnel that was opened, 407 for missing/wrong credentials, 403 refused
    code: str         # e.g. TCP_TUNNEL, TCP_DENIED, TCP_MISS
    user: str         # proxy user name, "-" when none
    bytes: int


@dataclass
class Squid:
    """One squid process. ``auth``: (user, password) the proxy requires, None for an open proxy."""

    auth: tuple[str, str] | None = (PROXY_USER, PROXY_PASSWORD)
    refused_port: int | None = None
    hosts: tuple[str, ...] = TEST_HOSTS
    port: int = field(default_factory=free_port)
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mirror-wizard-squid-")))
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    # -- addresses ----------------------------------------------------------------------------------
    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, user: str | None = None, password: str | None = None) -> str:
        """The proxy URL as a mirror host's environment carries it; without arguments, with the right
        credentials (when the proxy wants any)."""
        if user is None and password is None and self.auth:
            user, password = self.auth
        if user is None:
            return f"http://{self.address}"
        return f"http://{user}:{password or ''}@{self.address}"

    @property
    def access_log(self) -> Path:
        return self.folder / "access.log"

    # -- configuration ------------------------------------------------------------------------------
    def config(self) -> str:
        d = self.folder
        lines = [
            f"http_port 127.0.0.1:{self.port}",
            f"pid_filename {d}/squid.pid",
            f"access_log stdio:{d}/access.log squid",
            f"cache_log {d}/cache.log",
            f"coredump_dir {d}",
            "cache_store_log none",
            "logfile_rotate 0",
            "netdb_filename none",
            "pinger_enable off",
            "cache deny all",
            "cache_mem 4 MB",
            "shutdown_lifetime 0 seconds",
            "max_filedescriptors 4096",
            # Names resolve from hosts_file only: DNS goes to 127.0.0.1:53, where nothing answers.
            f"hosts_file {d}/hosts",
            "dns_nameservers 127.0.0.1",
            "dns_timeout 2 seconds",
            "dns_retransmit_interval 1 seconds",
            "negative_dns_ttl 1 seconds",
            "positive_dns_ttl 1 seconds",
            # A blob streams for minutes: do not cut tunnels a client keeps open.
            "read_timeout 5 minutes",
            "client_lifetime 1 hour",
            "forwarded_for delete",
            "via off",
            "acl CONNECT method CONNECT",
        ]
        if self.auth:
            lines += [f"auth_param basic program {NCSA_AUTH} {d}/htpasswd",
                      "auth_param basic realm mirror-wizard test proxy",
                      "auth_param basic children 2 startup=1 idle=1",
                      "auth_param basic credentialsttl 1 hour",
                      "acl auth proxy_auth REQUIRED",
                      "http_access deny !auth"]
        if self.refused_port:
            # After the credentials check: a proxy user with the right password is still refused this port.
            lines += [f"acl refused_port port {self.refused_port}", "http_access deny CONNECT refused_port"]
        lines += ["http_access allow all"]
        return "\n".join(lines) + "\n"

    # -- life cycle ---------------------------------------------------------------------------------
    def start(self, timeout: float = 20.0) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "hosts").write_text("".join(f"127.0.0.1 {name}\n" for name in self.hosts))
        if self.auth:
            (self.folder / "htpasswd").write_text(htpasswd_line(*self.auth) + "\n")
        (self.folder / "squid.conf").write_text(self.config())
        self._hand_to_squid_user()
        log = open(self.folder / "squid.out", "ab")
        self.process = subprocess.Popen([SQUID, "-N", "-f", str(self.folder / "squid.conf")], stdout=log, stderr=log,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if self._answers():
                return
            time.sleep(0.1)
        tail = self._tail()
        self.stop()
        raise RuntimeError(f"squid on {self.address} did not start: {tail}")

    def _hand_to_squid_user(self) -> None:
        """Running as root, squid switches to the ``proxy`` user, who must be able to reach and write here."""
        os.chmod(self.folder, 0o755)
        if os.geteuid() != 0:
            return
        try:
            entry = pwd.getpwnam("proxy")
        except KeyError:
            return
        for path in [self.folder, *self.folder.iterdir()]:
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _answers(self) -> bool:
        """squid accepts connections and answers HTTP (any status): a request for its own error page."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"GET cache_object://127.0.0.1/info HTTP/1.0\r\n\r\n")
                return sock.recv(12).startswith(b"HTTP/")
        except OSError:
            return False

    def _tail(self) -> str:
        text = ""
        for name in ("cache.log", "squid.out"):
            path = self.folder / name
            if path.exists():
                text += path.read_text(errors="replace")[-600:]
        return text.strip() or "no log output"

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            # SIGTERM is squid's shutdown (squid -k shutdown); with shutdown_lifetime 0 it exits at once, its
            # auth helpers with it. A squid still starting up may not have its handler yet: SIGKILL then.
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Squid:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    # -- what it saw --------------------------------------------------------------------------------
    def mark(self) -> int:
        """An offset into the access log; ``entries(since=mark)`` then reads only what came after."""
        return self.access_log.stat().st_size if self.access_log.exists() else 0

    def entries(self, since: int = 0, settle: float = 0.3) -> list[AccessEntry]:
        """Access-log lines after ``since``. squid writes a tunnel's line when the tunnel closes; ``settle``
        gives a client that just exited that moment."""
        if settle:
            time.sleep(settle)
        if not self.access_log.exists():
            return []
        with open(self.access_log, "rb") as handle:
            handle.seek(since)
            text = handle.read().decode(errors="replace")
        out = []
        for line in text.splitlines():
            match = _ACCESS.match(line)
            if match:
                out.append(AccessEntry(match["method"], match["url"], int(match["status"]), match["code"],
                                       match["user"], int(match["bytes"])))
        return out

    def connects(self, since: int = 0, *, status: int | None = 200) -> list[str]:
        """``host:port`` of every CONNECT (by default only the tunnels squid opened)."""
        return [e.url for e in self.entries(since) if e.method == "CONNECT" and (status is None or e.status == status)]

    def plain_requests(self, since: int = 0) -> list[AccessEntry]:
        """Requests forwarded as plain HTTP (absolute URLs), not tunnels."""
        return [e for e in self.entries(since) if e.method != "CONNECT"]
