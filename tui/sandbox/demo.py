"""Start, seed and stop the practice sandbox.

Two registries on 127.0.0.1, both with TLS from a throwaway CA (with SANs, as the procedure asks):
- *source* stands in for quay.io and registry.redhat.io: an ImageDigestMirrorSet written into the
  sandbox points those names at it, so the wizard shows the real pull specs;
- *mirror* is the admin's own registry, with a user and password to add in the Credentials step.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
import secrets
import shutil
import socket
import tarfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from core.copier import CopyOptions, CopyTask, copy_images
from core.endpoints import LayoutLocation, RegistryLocation
from core.graph_image import DEFAULT_BASE_IMAGE
from core.orchestrate import Access, auth_from_data, open_session
from core.plan import default_target
from core.reference import parse_reference

from . import signing
from .content import RELEASE_REPO, build_release, build_samples, make_layer, new_builder
from .pki import make_ca, make_server_cert
from .registry import LocalRegistry, make_registry

MIRROR_USER = "admin"
RELEASE_VERSION = "4.17.3"
CHANNEL = "stable-4.17"
# Every release the sandbox holds, oldest first: a cluster "at 4.17.1" can practise the update to 4.17.3.
VERSIONS = ("4.17.1", "4.17.2", RELEASE_VERSION)
GRAPH_FILE = f"graph-{CHANNEL}.json"
GRAPH_BASE_NAME = "graph-base/ubi9/ubi:latest"  # layout name of the stand-in base
GRAPH_DATA_FILE = "graph-data.tar.gz"  # the update service's graph data for CHANNEL, as downloaded from it


@dataclass
class Sandbox:
    workdir: Path
    source: LocalRegistry
    mirror: LocalRegistry
    ca_file: Path
    pull_secret: Path
    mirror_password: str = field(repr=False)
    imagestreams_dir: Path
    idms_file: Path
    source_mirrors: list[tuple[str, str]]
    release_source: str
    plan_path: Path | None = None
    signatures_dir: Path | None = None  # the release's signatures (store layout), signed at start
    graph_file: Path | None = None      # the update graph of CHANNEL over VERSIONS (the service's format)
    # The throwaway release key's public half: not Red Hat's, so the plan names it (release.keys) as an
    # admin names an OKD or custom key; without it the sandbox release is refused, as it should be.
    release_key_file: Path | None = None
    # The update service's graph-data tarball for CHANNEL (what https://api.openshift.com/api/upgrades_info/
    # graph-data serves), for "updates inside the cluster" offline.
    graph_data_file: Path | None = None

    @property
    def mirror_user(self) -> str:
        return MIRROR_USER

    @property
    def mirror_repository(self) -> str:
        return default_target(self.mirror.host)

    def stop(self) -> None:
        self.source.stop()
        self.mirror.stop()

    def start(self) -> None:
        self.source.start()
        self.mirror.start()


def bundled_imagestreams() -> list[Path]:
    folder = resources.files("tui.sandbox") / "data" / "imagestreams"
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith(".json"))


def _sample_pull_specs(files: list[Path]) -> list[str]:
    specs: list[str] = []
    for path in files:
        stream = json.loads(path.read_text())
        for tag in stream.get("spec", {}).get("tags", []):
            source = tag.get("from") or {}
            if source.get("kind") == "DockerImage":
                specs.append(source["name"])
    return specs


def _pull_secret(path: Path) -> None:
    """A pull secret shaped like the one from console.redhat.com (these entries are placeholders)."""
    fake = base64.b64encode(b"sandbox-user:not-a-real-token").decode()
    data = {"auths": {host: {"auth": fake, "email": "admin@example.com"}
                      for host in ("cloud.openshift.com", "quay.io", "registry.connect.redhat.com",
                                   "registry.redhat.io")}}
    path.write_text(json.dumps(data, indent=2) + "\n")
    path.chmod(0o600)


def _idms(path: Path, mirrors: list[tuple[str, str]]) -> None:
    doc = {"apiVersion": "config.openshift.io/v1", "kind": "ImageDigestMirrorSet",
           "metadata": {"name": "mirror-wizard-sandbox-sources"},
           "spec": {"imageDigestMirrors": [{"source": s, "mirrors": [m]} for s, m in mirrors]}}
    path.write_text("# The sandbox's stand-in for quay.io and registry.redhat.io.\n" + yaml.safe_dump(doc, sort_keys=False))


def samples_content(arch: str = "x86_64") -> dict[str, bytes]:
    """The bundled streams where the real cluster-samples-operator image ships them:
    ``opt/openshift/operator/<arch>/<group>/imagestreams/<file>`` (group: the file name's first word)."""
    return {f"opt/openshift/operator/{arch}/{path.stem.split('-', 1)[0]}/imagestreams/{path.name}": path.read_bytes()
            for path in bundled_imagestreams()}


def graph(releases: list[tuple[str, str]]) -> dict[str, object]:
    """The update service's answer for CHANNEL (``/graph`` v1: nodes, edges as index pairs, conditional
    edges): each release updates to the next; the jump over one is a known risk, as real channels have."""
    nodes = [{"version": version, "payload": f"quay.io/{RELEASE_REPO}@{digest}",
              "metadata": {"io.openshift.upgrades.graph.release.channels": CHANNEL,
                           "io.openshift.upgrades.graph.release.manifestref": digest,
                           "url": f"https://access.redhat.com/errata/RHSA-2026:{version.replace('.', '')}"}}
             for version, digest in releases]
    edges = [[i, i + 1] for i in range(len(releases) - 1)]
    risky = [{"from": releases[i][0], "to": releases[i + 2][0]} for i in range(len(releases) - 2)]
    return {"version": 1, "nodes": nodes, "edges": edges,
            "conditionalEdges": [{"edges": risky, "risks": [{
                "name": "SandboxPracticeRisk", "url": "https://example.invalid/sandbox-risk",
                "message": "A practice risk: the update service recommends this jump only where it does not apply.",
                "matchingRules": [{"type": "Always"}]}]}] if risky else []}


def write_graph_data(path: Path) -> Path:
    """The graph-data tarball as the update service publishes it (channels/, blocked-edges/, version), for
    CHANNEL over VERSIONS, with the practice risk of the graph above as a blocked edge."""
    members = {
        "version": b"1.0.0\n",
        f"channels/{CHANNEL}.yaml": yaml.safe_dump({"name": CHANNEL, "versions": list(VERSIONS)},
                                                  sort_keys=False).encode(),
        f"blocked-edges/{VERSIONS[-1]}-SandboxPracticeRisk.yaml": yaml.safe_dump({
            "to": VERSIONS[-1], "from": re.escape(VERSIONS[0]), "url": "https://example.invalid/sandbox-risk",
            "name": "SandboxPracticeRisk", "message": "A practice risk.",
            "matchingRules": [{"type": "Always"}]}, sort_keys=False).encode(),
    }
    with tarfile.open(path, "w:gz") as tar:
        for folder in ("blocked-edges", "channels"):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


async def _seed(sandbox: Sandbox, seed_dir: Path, layer_size: int) -> None:
    builder = new_builder(seed_dir)
    key = signing.make_key()
    if sandbox.release_key_file is not None:
        signing.write_public_key(sandbox.release_key_file, key)
    # Content names the real hosts; the IDMS sends reads of them to the sandbox source.
    names: list[str] = []
    digests: list[tuple[str, str]] = []
    for version in VERSIONS:
        release = await build_release(builder, source_host="quay.io", version=version, layer_size=layer_size,
                                      keyrings={signing.KEY_NAME: signing.public_key(key)},
                                      samples=samples_content(),
                                      tag_prefix="sandbox-" if version == RELEASE_VERSION else f"sandbox-{version}-")
        digest = builder.names[release.release_name].digest
        digests.append((version, digest))
        names += [*release.components.values(), release.release_name]
        if sandbox.signatures_dir is not None:
            signature = signing.sign_release(key, digest, f"quay.io/{RELEASE_REPO}:{release.release_tag}")
            signing.write_store_copy(sandbox.signatures_dir, digest, [signature])
    if sandbox.graph_file is not None:
        sandbox.graph_file.write_text(json.dumps(graph(digests), indent=2) + "\n")
    if sandbox.graph_data_file is not None:
        write_graph_data(sandbox.graph_data_file)
    samples = await build_samples(builder, _sample_pull_specs(bundled_imagestreams()))
    # A small stand-in for the graph-data image's default base (oc-mirror's ubi9), behind the sandbox's
    # registry.access.redhat.com mirror, so `release graph-image` works offline with its default.
    base = builder.image([make_layer(400, 4096, {"bin/bash": (b"#!/bin/sh\nexec /bin/sh \"$@\"\n", 0o755)})])
    await builder.name(GRAPH_BASE_NAME, base)
    # Through the facade like every front end; no logins (the sandbox's source needs none).
    session = open_session(Access(ca_files=(str(sandbox.ca_file),), idms_file=str(sandbox.idms_file)),
                           auth=auth_from_data({"auths": {}}))
    tasks: list[CopyTask] = []
    for name in dict.fromkeys(names):
        ref = session.resolve_source(parse_reference(f"quay.io/{name}"))
        tasks.append(CopyTask(LayoutLocation(seed_dir, name), RegistryLocation(ref)))
    for name, spec in samples.items():
        where = session.resolve_source(parse_reference(spec))
        tasks.append(CopyTask(LayoutLocation(seed_dir, name), RegistryLocation(where)))
    tasks.append(CopyTask(LayoutLocation(seed_dir, GRAPH_BASE_NAME),
                          RegistryLocation(session.resolve_source(parse_reference(DEFAULT_BASE_IMAGE)))))
    async with session:
        await copy_images(tasks, session, CopyOptions())


def _sandbox(workdir: Path, source: LocalRegistry, mirror: LocalRegistry, ca_file: Path, password: str) -> Sandbox:
    """The sandbox's files in ``workdir`` around two registries (made, not started)."""
    src = source.host
    source_mirrors = [
        ("quay.io/openshift-release-dev", f"{src}/openshift-release-dev"),
        ("registry.redhat.io", f"{src}/redhat"),
        ("registry.access.redhat.com", f"{src}/access"),
    ]
    return Sandbox(
        workdir=workdir, source=source, mirror=mirror, ca_file=ca_file,
        pull_secret=workdir / "pull-secret.json", mirror_password=password, imagestreams_dir=workdir / "imagestreams",
        idms_file=workdir / "sandbox-sources-idms.yaml", source_mirrors=source_mirrors,
        release_source=f"quay.io/{RELEASE_REPO}:{RELEASE_VERSION}-x86_64",
        signatures_dir=workdir / "release-signatures",
        graph_file=workdir / GRAPH_FILE,
        release_key_file=workdir / "sandbox-release-key.asc",
        graph_data_file=workdir / GRAPH_DATA_FILE,
    )


PLAN_NAME = "plan.yaml"
PASSWORD_NAME = "mirror-password.txt"
SOURCE_DIR, MIRROR_DIR = "source-registry", "mirror-registry"


def _saved_port(root: Path) -> int | None:
    """The port a registry of an earlier run listened on (its config.yml's ``http.addr``)."""
    try:
        config = yaml.safe_load((root / "config.yml").read_text())
        addr = str(config["http"]["addr"])
        return int(addr.rsplit(":", 1)[1])
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, IndexError):
        return None


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # as the registry itself binds (Go sets SO_REUSEADDR): connections of the last run lingering in
        # TIME_WAIT do not make the port taken; a listener does
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def can_reopen(workdir: Path) -> bool:
    """A folder an earlier ``demo`` left: its plan, password, certificates and both seeded registries."""
    pki_dir = workdir / "pki"
    return all(path.is_file() for path in (
        workdir / PLAN_NAME, workdir / PASSWORD_NAME, pki_dir / "ca.crt", pki_dir / "private" / "registry.crt",
        pki_dir / "private" / "registry.key")) and all(
        _saved_port(workdir / name) is not None for name in (SOURCE_DIR, MIRROR_DIR)) and (
        workdir / SOURCE_DIR / "data").is_dir()  # seeded (the mirror's data appears with its first push)


@dataclass
class Reopened:
    sandbox: Sandbox
    moved: dict[str, str]  # host:port of the earlier run -> the one used now (its port was taken)


def reopen_sandbox(workdir: Path) -> Reopened:
    """Start the registries of an earlier run again, with their data, certificates and password: on the
    same ports when they are free (the saved plan names them), else on new ones (``moved`` says which)."""
    pki_dir = workdir / "pki"
    password = (workdir / PASSWORD_NAME).read_text().strip()
    tls = (pki_dir / "private" / "registry.crt", pki_dir / "private" / "registry.key")
    ca_file = pki_dir / "ca.crt"
    moved: dict[str, str] = {}
    registries: list[LocalRegistry] = []
    for name, login in ((SOURCE_DIR, None), (MIRROR_DIR, (MIRROR_USER, password))):
        old = _saved_port(workdir / name)
        assert old is not None  # can_reopen checked it
        registry = make_registry(workdir / name, tls=tls, ca_file=ca_file, htpasswd=login,
                                 port=old if port_free(old) else None)
        if registry.port != old:
            moved[f"127.0.0.1:{old}"] = registry.host
        registries.append(registry)
    sandbox = _sandbox(workdir, registries[0], registries[1], ca_file, password)
    if sandbox.source.host in moved.values():
        _idms(sandbox.idms_file, sandbox.source_mirrors)  # the stand-in for quay.io moved
    sandbox.start()
    return Reopened(sandbox, moved)


def create_sandbox(workdir: Path, *, layer_size: int = 256 * 1024) -> Sandbox:
    """Start both registries and seed the source. Call ``stop()`` when done (also on errors)."""
    workdir.mkdir(parents=True, exist_ok=True)
    pki_dir = workdir / "pki"
    pair, ca_cert, ca_key = make_ca(pki_dir)
    server = make_server_cert(pki_dir, ca_cert, ca_key)
    password = secrets.token_urlsafe(12)
    source = make_registry(workdir / "source-registry", tls=(server.cert_path, server.key_path), ca_file=pair.cert_path)
    mirror = make_registry(workdir / "mirror-registry", tls=(server.cert_path, server.key_path), ca_file=pair.cert_path,
                           htpasswd=(MIRROR_USER, password))
    streams = workdir / "imagestreams"
    streams.mkdir(exist_ok=True)
    for path in bundled_imagestreams():
        shutil.copyfile(path, streams / path.name)
    sandbox = _sandbox(workdir, source, mirror, pair.cert_path, password)
    _pull_secret(sandbox.pull_secret)
    _idms(sandbox.idms_file, sandbox.source_mirrors)
    (workdir / PASSWORD_NAME).write_text(password + "\n")
    (workdir / PASSWORD_NAME).chmod(0o600)
    sandbox.start()
    try:
        asyncio.run(_seed(sandbox, workdir / "seed", layer_size))
    except BaseException:
        sandbox.stop()
        raise
    return sandbox
