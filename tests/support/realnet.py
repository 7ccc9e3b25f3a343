"""Session fixtures for the real-network tests: a corporate proxy (Squid), a source whose blobs come from a
CDN (tests/support/cdn_front.py), and a mirror registry known by a name only the proxy resolves.

Registered from the end of tests/conftest.py. Every name below resolves only through Squid, so a client
that does not use the proxy fails with a name-resolution error instead of quietly going direct.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support import skopeo
from tests.support.cdn_front import MIRROR_HOST, CdnSource, CdnStats, FrontStats, StoredImage
from tests.support.constants import PASSWORD, USER
from tests.support.squid import PROXY_PASSWORD, PROXY_USER, Squid, available
from tui.sandbox.content import build_release, new_builder
from tui.sandbox.pki import make_server_cert
from tui.sandbox.registry import LocalRegistry, free_port, make_registry

needs_squid = pytest.mark.skipif(not available(), reason="squid is not installed (scripts/setup installs it)")

PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")
CLI = [sys.executable, "-m", "tui.cli"]
ROOT = Path(__file__).resolve().parents[2]


def clean_environment(**extra: str) -> dict[str, str]:
    """The test process's environment without any proxy setting or registry login of its own, plus ``extra``
    (e.g. HTTPS_PROXY=...). Children import this checkout first (PYTHONPATH), as ``python -m`` does here."""
    env = {k: v for k, v in os.environ.items()
           if k.upper() not in PROXY_VARIABLES and k not in ("REGISTRY_AUTH_FILE", "SSL_CERT_FILE", "SSL_CERT_DIR")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    env.update(extra)
    return env


@dataclass
class Realnet:
    """The whole world of a mirror host behind a proxy."""

    squid: Squid
    source: CdnSource
    mirror: LocalRegistry           # TLS + htpasswd; reached as mirror.example.test:PORT or 127.0.0.1:PORT
    ca_file: Path
    cert_dir: Path                  # only ca.crt: what skopeo's --cert-dir wants
    auth_file: Path                 # logins for the source (token service) and both names of the mirror
    folder: Path
    image: StoredImage              # a small multi-layer image in the source
    release_ref: str = ""           # a release-shaped payload in the source (src.example.test:PORT/...)
    release_components: dict[str, str] = field(default_factory=dict)  # component -> pull spec by digest

    @property
    def mirror_name(self) -> str:
        """The mirror by a name (proxied unless NO_PROXY says otherwise)."""
        return f"{MIRROR_HOST}:{self.mirror.port}"

    @property
    def mirror_ip(self) -> str:
        """The mirror by loopback address (never proxied, as Go's ProxyFromEnvironment)."""
        return f"127.0.0.1:{self.mirror.port}"

    def proxy_env(self, **extra: str) -> dict[str, str]:
        """What a mirror host's shell has: HTTPS_PROXY with the proxy's credentials in it."""
        return clean_environment(HTTPS_PROXY=self.squid.url(), **extra)

    def registry_args(self) -> list[str]:
        """Options every registry command gets here: logins, the test CA, the token service on another host."""
        return ["-a", str(self.auth_file), "--ca-file", str(self.ca_file), "--auth-host", self.source.auth_host]

    def cli(self, *args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout,
                              check=False)

    def skopeo(self, *args: str, env: dict[str, str] | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """skopeo through the proxy (it honours HTTPS_PROXY as every Go tool does) with our logins and CA."""
        return subprocess.run([skopeo.SKOPEO, *args], capture_output=True, text=True, timeout=timeout, check=False,
                              env=env or self.proxy_env())

    def skopeo_digest(self, ref: str) -> str:
        """The manifest digest skopeo reads through the proxy (the referee)."""
        out = self.skopeo("inspect", "--raw", "--authfile", str(self.auth_file), "--cert-dir", str(self.cert_dir),
                          f"docker://{ref}")
        assert out.returncode == 0, out.stderr
        return "sha256:" + hashlib.sha256(out.stdout.encode()).hexdigest()

    def counts(self) -> tuple[FrontStats, CdnStats]:
        """Copies of the front's and the CDN's counters, taken on their own thread."""
        return self.source.call(lambda: (self.source.front.stats.snapshot(), self.source.cdn.stats.snapshot()))

    def mirror_has(self, repo: str) -> bool:
        """Whether the mirror holds any tag of ``repo`` (read directly from its storage: no client involved)."""
        tags = self.mirror.root / "data" / "docker" / "registry" / "v2" / "repositories" / repo / "_manifests" / "tags"
        return tags.is_dir() and any(tags.iterdir())

    def mirror_blob_uploads(self, repo: str) -> int:
        """Blobs linked into ``repo`` on the mirror (0: nothing was written there)."""
        layers = self.mirror.root / "data" / "docker" / "registry" / "v2" / "repositories" / repo / "_layers"
        return sum(1 for _ in layers.rglob("link")) if layers.is_dir() else 0


def _auth_entry(user: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture(scope="session")
def squid() -> Iterator[Squid]:
    """Squid on 127.0.0.1 wanting PROXY_USER/PROXY_PASSWORD; it refuses CONNECT to ``squid.refused_port``."""
    if not available():
        pytest.skip("squid is not installed (scripts/setup installs it)")
    proxy = Squid(auth=(PROXY_USER, PROXY_PASSWORD), refused_port=free_port())
    proxy.start()
    yield proxy
    proxy.remove()


@pytest.fixture(scope="session")
def cdn_source(tmp_path_factory: pytest.TempPathFactory, pki) -> Iterator[CdnSource]:  # type: ignore[no-untyped-def]
    """docker-registry (token auth, realm on auth.example.test) behind the redirecting front on
    src.example.test, blobs served by cdn.example.test. USER/PASSWORD may pull everything."""
    source = CdnSource(tmp_path_factory.mktemp("cdn-source"), pki.ca_cert, pki.ca_key, pki.ca_file, {USER: PASSWORD})
    source.start()
    yield source
    source.stop()


@pytest.fixture(scope="session")
def realnet_mirror(tmp_path_factory: pytest.TempPathFactory, pki) -> Iterator[LocalRegistry]:  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("realnet-mirror")
    cert = make_server_cert(pki.dir, pki.ca_cert, pki.ca_key, hosts=(MIRROR_HOST, "127.0.0.1", "localhost"),
                            name="realnet-mirror")
    registry = make_registry(folder, tls=(cert.cert_path, cert.key_path), ca_file=pki.ca_file, htpasswd=(USER, PASSWORD))
    registry.start()
    yield registry
    registry.stop()


@pytest.fixture(scope="session")
def realnet(tmp_path_factory: pytest.TempPathFactory, pki, squid: Squid, cdn_source: CdnSource,  # type: ignore[no-untyped-def]
            realnet_mirror: LocalRegistry) -> Realnet:
    """Squid + the CDN source (seeded: a 3-layer image and a small release) + the mirror, with an auth
    file and a cert dir for both our CLI and skopeo."""
    folder = tmp_path_factory.mktemp("realnet")
    cert_dir = folder / "certs"
    cert_dir.mkdir()
    shutil.copyfile(pki.ca_file, cert_dir / "ca.crt")
    auth_file = folder / "auth.json"
    entry = _auth_entry(USER, PASSWORD)
    auth_file.write_text(json.dumps({"auths": {cdn_source.host: entry, f"{MIRROR_HOST}:{realnet_mirror.port}": entry,
                                               f"127.0.0.1:{realnet_mirror.port}": entry}}))
    auth_file.chmod(0o600)
    image = cdn_source.random_image("realnet/base", "v1", [2048, 96 * 1024, 700 * 1024], seed=22)
    world = Realnet(squid, cdn_source, realnet_mirror, pki.ca_file, cert_dir, auth_file, folder, image)

    async def release() -> None:
        builder = new_builder(folder / "release-layout")
        built = await build_release(builder, source_host=cdn_source.host, layer_size=16 * 1024)
        stored = cdn_source.store_layout(folder / "release-layout")
        world.release_ref = stored[built.release_name].ref
        world.release_components = {name: f"{cdn_source.host}/{layout_name.rpartition(':')[0]}@"
                                    f"{builder.names[layout_name].digest}" for name, layout_name in built.components.items()}

    asyncio.run(release())
    return world


def serve(folder: Path) -> None:
    """Start the whole world by hand and print how to reach it (for debugging a client against it):

        python3 -m tests.support.realnet [FOLDER]
    """
    import signal
    import time

    from tui.sandbox.pki import make_ca

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt  # SIGTERM too stops every process started here

    signal.signal(signal.SIGTERM, interrupt)

    folder.mkdir(parents=True, exist_ok=True)
    pair, ca_cert, ca_key = make_ca(folder / "pki", "mirror-wizard realnet CA")
    proxy = Squid(auth=(PROXY_USER, PROXY_PASSWORD), refused_port=free_port())
    proxy.start()
    source = CdnSource(folder / "cdn-source", ca_cert, ca_key, pair.cert_path, {USER: PASSWORD})
    source.start()
    cert = make_server_cert(folder / "pki", ca_cert, ca_key, hosts=(MIRROR_HOST, "127.0.0.1", "localhost"),
                            name="realnet-mirror")
    mirror = make_registry(folder / "mirror", tls=(cert.cert_path, cert.key_path), ca_file=pair.cert_path,
                           htpasswd=(USER, PASSWORD))
    mirror.start()
    try:
        image = source.random_image("realnet/base", "v1", [2048, 96 * 1024, 700 * 1024, 30 << 20], seed=22)
        auth_file = folder / "auth.json"
        entry = _auth_entry(USER, PASSWORD)
        auth_file.write_text(json.dumps({"auths": {source.host: entry, f"{MIRROR_HOST}:{mirror.port}": entry,
                                                   f"127.0.0.1:{mirror.port}": entry}}))
        print(f"export HTTPS_PROXY={proxy.url()} NO_PROXY=127.0.0.1\n"
              f"python3 -m tui.cli image mirror -a {auth_file} --ca-file {pair.cert_path} "
              f"--auth-host {source.auth_host} {image.ref} {MIRROR_HOST}:{mirror.port}/copy/base:v1\n"
              f"squid log: {proxy.access_log}   refused CONNECT port: {proxy.refused_port}\n"
              "Ctrl+C stops everything; the counters are printed then.", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print(source.front.stats, source.cdn.stats, sep="\n")
    finally:
        mirror.stop()
        source.stop()
        proxy.remove()


if __name__ == "__main__":
    import tempfile

    serve(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="mirror-wizard-realnet-")))
