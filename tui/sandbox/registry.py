"""Start and stop Debian's ``docker-registry`` (the CNCF distribution registry) on 127.0.0.1."""

from __future__ import annotations

import ctypes
import ctypes.util
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.errors import ToolError

# Optional (htpasswd(1) is the usual way): bcrypt makes the entry when htpasswd is missing. Imported here, it
# costs 0.5 ms (python3 -X importtime -c 'import bcrypt'), and only the demo sandbox loads this module.
try:
    import bcrypt
    _HAS_BCRYPT = True
except ImportError:
    _HAS_BCRYPT = False

INSTALL_HINT = ("install it with 'sudo apt-get install docker-registry' (Debian/Ubuntu), "
                "or run ./scripts/setup, which does that for you")


def registry_binary() -> str:
    found = shutil.which("docker-registry") or shutil.which("registry")
    if not found:
        raise ToolError(f"docker-registry is not installed: {INSTALL_HINT}")
    return found


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent() -> None:
    """In the registry's child before exec: the kernel sends it SIGTERM when its parent dies, whatever
    killed the parent (SIGKILL included), so a practice registry never outlives the wizard."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _parent_death_hook() -> Callable[[], None] | None:
    """The hook on Linux, from the main thread only: the death signal fires when the *thread* that
    started the child ends, and a worker thread ends long before the sandbox should."""
    if sys.platform.startswith("linux") and threading.current_thread() is threading.main_thread():
        return _die_with_parent
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def htpasswd_line(user: str, password: str) -> str:
    """A bcrypt htpasswd entry (distribution only accepts bcrypt); htpasswd(1) makes it."""
    tool = shutil.which("htpasswd")
    if tool:
        out = subprocess.run([tool, "-Bbn", user, password], capture_output=True, text=True, check=True)
        return out.stdout.strip()
    if not _HAS_BCRYPT:
        raise ToolError("htpasswd is not installed: install apache2-utils (Debian/Ubuntu)")
    return f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()}"


@dataclass
class LocalRegistry:
    """One registry process; ``stop``/``start`` keep the port and the data."""

    root: Path
    port: int
    cert: Path | None = None
    key: Path | None = None
    ca_file: Path | None = None
    htpasswd: tuple[str, str] | None = None
    extra_auth: dict[str, Any] | None = None
    # DELETE of manifests (release prune --apply); False answers 405, as registries configured without it do.
    allow_delete: bool = True
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.cert else 'http'}://{self.host}"

    def config(self) -> dict[str, Any]:
        http: dict[str, Any] = {"addr": self.host, "secret": "mirror-wizard-sandbox",
                      "headers": {"X-Content-Type-Options": ["nosniff"]}}
        if self.cert and self.key:
            http["tls"] = {"certificate": str(self.cert), "key": str(self.key)}
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(self.root / "data")}, "delete": {"enabled": self.allow_delete},
                        "redirect": {"disable": True}},
            "http": http,
        }
        if self.htpasswd:
            path = self.root / "htpasswd"
            path.write_text(htpasswd_line(*self.htpasswd) + "\n")
            config["auth"] = {"htpasswd": {"realm": "mirror-wizard", "path": str(path)}}
        elif self.extra_auth:
            config["auth"] = self.extra_auth
        return config

    def start(self, timeout: float = 20.0) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        config_path = self.root / "config.yml"
        config_path.write_text(yaml.safe_dump(self.config()))
        log = open(self.root / "registry.log", "ab")
        self.process = subprocess.Popen([registry_binary(), "serve", str(config_path)], stdout=log, stderr=log,
                                        stdin=subprocess.DEVNULL, start_new_session=True,
                                        preexec_fn=_parent_death_hook())
        log.close()
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        context = ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file else None
        # Straight to the process just started on loopback: never through HTTPS_PROXY (urllib, unlike Go
        # and core.http, would send 127.0.0.1 to the proxy unless NO_PROXY lists it).
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                             urllib.request.HTTPSHandler(context=context))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                break
            try:
                opener.open(f"{self.url}/v2/", timeout=1)
                return
            except urllib.error.HTTPError as exc:
                if exc.code == 401:
                    return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        tail = (self.root / "registry.log").read_text(errors="replace")[-800:]
        self.stop()
        raise ToolError(f"docker-registry on {self.host} did not start: {tail.strip() or 'no log output'}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def __enter__(self) -> LocalRegistry:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def make_registry(root: Path, *, tls: tuple[Path, Path] | None = None, ca_file: Path | None = None,
                  htpasswd: tuple[str, str] | None = None, port: int | None = None,
                  allow_delete: bool = True) -> LocalRegistry:
    return LocalRegistry(root=root, port=port or free_port(), cert=tls[0] if tls else None,
                         key=tls[1] if tls else None, ca_file=ca_file, htpasswd=htpasswd, allow_delete=allow_delete)


