"""Session-wide real registries (Debian's docker-registry on 127.0.0.1) and the content they serve.

Each registry starts once per test session; tests keep apart by using unique repository names
(tests.support.repos.unique_repo).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from core.copier import CopyOptions, CopyTask, copy_images
from core.endpoints import LayoutLocation, RegistryLocation
from core.reference import parse_reference
from core.registry import RegistrySession
from core.tlsconfig import TLSOptions
from tests.support.constants import PASSWORD, TOKEN_ISSUER, TOKEN_SERVICE, USER
from tests.support.token_issuer import TokenIssuer
from tui.sandbox.content import build_release, new_builder
from tui.sandbox.pki import CertPair, make_ca, make_server_cert
from tui.sandbox.registry import LocalRegistry, make_registry

needs_registry = pytest.mark.skipif(shutil.which("docker-registry") is None
                                    and not Path("/usr/bin/docker-registry").exists(),
                                    reason="docker-registry is not installed (scripts/setup installs it)")


def _session_folder(factory: pytest.TempPathFactory, name: str, variable: str) -> Iterator[Path]:
    """A folder of the suite's own, named by ``variable`` for the whole session (restored after)."""
    folder = factory.mktemp(name)
    before = os.environ.get(variable)
    os.environ[variable] = str(folder)
    yield folder
    if before is None:
        os.environ.pop(variable, None)
    else:
        os.environ[variable] = before


@pytest.fixture(scope="session", autouse=True)
def quick_retries() -> Iterator[None]:
    """Every run the suite starts (in process or as a command) retries as often as an admin's would, but
    waits 10 ms doubling up to 0.4 s instead of 0.5 s up to 20 s (core.registry.RetryPolicy.from_env):
    unreachable hosts are given up on in a blink. Tests of the waiting itself pass their own policy."""
    before = os.environ.get("MIRROR_WIZARD_RETRY_DELAY")
    os.environ["MIRROR_WIZARD_RETRY_DELAY"] = "0.01"
    yield
    if before is None:
        os.environ.pop("MIRROR_WIZARD_RETRY_DELAY", None)
    else:
        os.environ["MIRROR_WIZARD_RETRY_DELAY"] = before


@pytest.fixture(scope="session", autouse=True)
def wheelhouse_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every to-dir bundle carries mirror-wizard's wheelhouse: pip builds it (PyPI) once per session,
    into this cache, and later bundles of the session reuse it."""
    yield from _session_folder(tmp_path_factory, "mirror-wizard-cache", "MIRROR_WIZARD_CACHE")


@pytest.fixture(scope="session", autouse=True)
def config_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every bundle is signed, by default with this host's bundle key (core.bundle_sign), made once in
    the user's config folder: the suite's own folder, never the real ~/.config."""
    yield from _session_folder(tmp_path_factory, "mirror-wizard-config", "MIRROR_WIZARD_CONFIG")


@dataclass
class PKI:
    dir: Path
    ca_file: Path
    ca_cert: x509.Certificate
    ca_key: ec.EllipticCurvePrivateKey
    server: CertPair


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    folder = tmp_path_factory.mktemp("pki")
    pair, cert, key = make_ca(folder, "mirror-wizard test CA")
    server = make_server_cert(folder, cert, key)
    return PKI(folder, pair.cert_path, cert, key, server)


@pytest.fixture(scope="session")
def tls_options(pki: PKI) -> TLSOptions:
    return TLSOptions(ca_files=(str(pki.ca_file),))


def _started(registry: LocalRegistry) -> Iterator[LocalRegistry]:
    registry.start()
    try:
        yield registry
    finally:
        registry.stop()


@pytest.fixture(scope="session")
def plain_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    yield from _started(make_registry(tmp_path_factory.mktemp("plain-registry")))


@pytest.fixture(scope="session")
def tls_registry(tmp_path_factory: pytest.TempPathFactory, pki: PKI) -> Iterator[LocalRegistry]:
    yield from _started(make_registry(tmp_path_factory.mktemp("tls-registry"),
                                      tls=(pki.server.cert_path, pki.server.key_path), ca_file=pki.ca_file,
                                      htpasswd=(USER, PASSWORD)))


@pytest.fixture(scope="session")
def token_issuer(tmp_path_factory: pytest.TempPathFactory, pki: PKI) -> Iterator[TokenIssuer]:
    issuer = TokenIssuer(tmp_path_factory.mktemp("token-issuer"), {USER: PASSWORD}, TOKEN_SERVICE, TOKEN_ISSUER,
                         tls=(pki.server.cert_path, pki.server.key_path))
    issuer.start()
    yield issuer
    issuer.stop()


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory, pki: PKI, token_issuer: TokenIssuer) -> Iterator[LocalRegistry]:
    registry = make_registry(tmp_path_factory.mktemp("token-registry"), tls=(pki.server.cert_path, pki.server.key_path),
                             ca_file=pki.ca_file)
    registry.extra_auth = token_issuer.registry_auth_config()
    yield from _started(registry)


def auth_entry(user: str, password: str) -> dict:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture(scope="session")
def auth_file(tmp_path_factory: pytest.TempPathFactory, tls_registry: LocalRegistry, token_registry: LocalRegistry) -> Path:
    path = tmp_path_factory.mktemp("auth") / "auth.json"
    path.write_text(json.dumps({"auths": {tls_registry.host: auth_entry(USER, PASSWORD),
                                          token_registry.host: auth_entry(USER, PASSWORD)}}))
    path.chmod(0o600)
    return path


@dataclass
class SeededRelease:
    host: str
    version: str
    architecture: str
    release_ref: str
    component_refs: dict[str, str] = field(default_factory=dict)
    layout: Path | None = None
    layout_names: dict[str, str] = field(default_factory=dict)
    release_digest: str = ""


@pytest.fixture(scope="session")
def seed_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("seed")


@pytest.fixture(scope="session")
def seeded_release(plain_registry: LocalRegistry, seed_layout: Path) -> SeededRelease:
    """The sandbox release pushed into ``plain_registry`` (components referenced by digest, as in real payloads)."""
    host = plain_registry.host

    async def seed() -> SeededRelease:
        builder = new_builder(seed_layout / "release")
        release = await build_release(builder, source_host=host, layer_size=32 * 1024)
        session = RegistrySession(tls=TLSOptions(insecure=True))
        tasks = [CopyTask(LayoutLocation(seed_layout / "release", name), RegistryLocation(parse_reference(f"{host}/{name}")))
                 for name in [*release.components.values(), release.release_name]]
        async with session:
            result = await copy_images(tasks, session, CopyOptions())
        assert result.ok, result.failures
        components = {name: f"{host}/{layout_name.split(':')[0]}@{builder.names[layout_name].digest}"
                      for name, layout_name in release.components.items()}
        return SeededRelease(host, release.version, release.architecture, f"{host}/{release.release_name}", components,
                             seed_layout / "release", dict(release.components),
                             builder.names[release.release_name].digest)

    return asyncio.run(seed())


# Real networks (issue 22): Squid, a source whose blobs redirect to a CDN, a mirror known by name.
from tests.support.realnet import cdn_source, realnet, realnet_mirror, squid  # noqa: E402,F401
