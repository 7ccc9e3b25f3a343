"""The benchmark's world: two TLS registries with access logs, and a release-shaped workload.

The workload imitates what makes a real OpenShift payload expensive to mirror: dozens of component
images that all sit on the same few RHEL base layers, a couple of runtime layers shared by some,
many small own layers and a few big ones. Bulk layer bytes are seeded random data labelled
tar+gzip (registries never look inside) and are written straight to disk, so a 1 GB layer never sits
in memory. The release image itself is faithful: a real tar.gz with ``release-manifests/image-references``
naming every component by digest, and ``release-manifests/release-metadata``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import random
import re
import secrets
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from core.copier import CopyOptions, CopyTask, copy_images
from core.endpoints import LayoutLocation, RegistryLocation
from core.manifest import Manifest
from core.reference import parse_reference
from core.registry import RegistrySession
from core.tlsconfig import TLSOptions
from tests.support.token_issuer import TokenIssuer
from tui.sandbox.content import (
    COMPONENT_REPO,
    RELEASE_REPO,
    LayoutBuilder,
    make_layer,
    new_builder,
)
from tui.sandbox.pki import make_ca, make_server_cert
from tui.sandbox.registry import LocalRegistry, free_port, registry_binary

MiB = 1 << 20
GiB = 1 << 30
ARCH = "x86_64"
MIRROR_USER = "bench"
MIRROR_REPO = "ocp4/openshift4"
VERSION = "4.17.3"
BASELINE_VERSION = "4.17.2"  # same release without the giant layer, for the flat-RSS comparison
CHUNK = 4 * MiB

# Real component names (from a 4.8 payload), enough for the >= 40 the benchmark asks for.
COMPONENTS = (
    "aws-ebs-csi-driver", "aws-machine-controllers", "baremetal-installer", "baremetal-operator", "cli",
    "cli-artifacts", "cloud-credential-operator", "cluster-authentication-operator", "cluster-autoscaler",
    "cluster-bootstrap", "cluster-config-operator", "cluster-dns-operator", "cluster-etcd-operator",
    "cluster-image-registry-operator", "cluster-ingress-operator", "cluster-kube-apiserver-operator",
    "cluster-machine-approver", "cluster-monitoring-operator", "cluster-network-operator",
    "cluster-node-tuning-operator", "cluster-samples-operator", "cluster-storage-operator",
    "cluster-version-operator", "console", "console-operator", "coredns", "csi-external-attacher",
    "csi-snapshot-controller", "deployer", "docker-builder", "driver-toolkit", "etcd", "haproxy-router",
    "hyperkube", "installer", "installer-artifacts", "machine-config-operator", "machine-os-content",
    "must-gather", "oauth-server", "openshift-apiserver", "ovn-kubernetes", "pod", "prometheus", "tests",
    "tools",
)
# Components carrying one big own layer (hyperkube-, installer-, rhcos- and tests-like).
BIG_COMPONENTS = ("hyperkube", "installer", "machine-os-content", "tests")
# (name, fraction of the total, every n-th component uses it); n == 1: all of them, like RHEL base layers.
SHARED_LAYERS = (
    ("rhel-base", 0.16, 1), ("rhel-update", 0.05, 1), ("ocp-base", 0.02, 1),
    ("golang-runtime", 0.025, 2), ("python-runtime", 0.012, 3),
)
BIG_FRACTION = 0.08  # 40 MB of a 500 MB workload


# -- registries ------------------------------------------------------------------------------------

ACCESS_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3}) (?P<size>\d+|-)')
BLOB_PATH = re.compile(r"^/v2/(?P<repo>.+)/blobs/(?P<digest>sha256:[0-9a-f]{64})(?:\?.*)?$")
UPLOAD_PATH = re.compile(r"^/v2/(?P<repo>.+)/blobs/uploads/?(?:\?.*)?$")


@dataclass
class AccessStats:
    """What one registry served between two marks of its access log."""

    blob_reads: Counter = field(default_factory=Counter)  # digest -> GETs answered 200/206
    blob_bytes: int = 0                                    # body bytes of those GETs
    blob_read_bytes: Counter = field(default_factory=Counter)  # digest -> body bytes (ranged parts add up)
    uploads_started: int = 0                               # POST .../blobs/uploads/
    requests: int = 0


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU one process has used so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class BenchRegistry(LocalRegistry):
    """A LocalRegistry with the access log on: distribution writes it (combined log format) to stdout,
    which goes to its own file so error output never mixes in."""

    def config(self) -> dict:
        config = super().config()
        config["log"] = {"level": "error", "accesslog": {"disabled": False}}
        return config

    @property
    def access_log(self) -> Path:
        return self.root / "access.log"

    def start(self, timeout: float = 20.0) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        config_path = self.root / "config.yml"
        config_path.write_text(yaml.safe_dump(self.config()))
        with open(self.access_log, "ab") as access, open(self.root / "registry.log", "ab") as errors:
            self.process = subprocess.Popen([registry_binary(), "serve", str(config_path)], stdout=access,
                                            stderr=errors, stdin=subprocess.DEVNULL, start_new_session=True)
        self._wait_ready(timeout)

    def empty(self) -> None:
        """Stop, delete every stored image, start again on the same port."""
        self.stop()
        shutil.rmtree(self.root / "data", ignore_errors=True)
        self.start()

    def cpu_seconds(self) -> float:
        """User + system CPU the registry process has used so far (0 when not running)."""
        return process_cpu_seconds(self.process.pid) if self.process is not None else 0.0

    def mark(self) -> int:
        return self.access_log.stat().st_size if self.access_log.exists() else 0

    def stats_since(self, offset: int) -> AccessStats:
        stats = AccessStats()
        with open(self.access_log, "rb") as handle:
            handle.seek(offset)
            text = handle.read().decode(errors="replace")
        for line in text.splitlines():
            match = ACCESS_LINE.search(line)
            if not match:
                continue
            stats.requests += 1
            method, path, status = match["method"], match["path"], int(match["status"])
            if method == "POST" and UPLOAD_PATH.match(path):
                stats.uploads_started += 1
            blob = BLOB_PATH.match(path)
            if method == "GET" and blob and status in (200, 206):
                stats.blob_reads[blob["digest"]] += 1
                size = int(match["size"]) if match["size"] != "-" else 0
                stats.blob_bytes += size
                stats.blob_read_bytes[blob["digest"]] += size
        return stats


@dataclass
class BenchEnv:
    """Both registries, the CA, and the credential files each client wants."""

    root: Path
    source: BenchRegistry
    mirror: BenchRegistry
    ca_file: Path
    cert_dir: Path      # only the CA .crt, as skopeo's --*-cert-dir wants
    auth_file: Path     # containers auth.json with the mirror's user
    netrc: Path         # the same credential for curl
    password: str = field(repr=False)
    issuer: TokenIssuer | None = None  # --mirror-auth token: the mirror's token service (in this process)

    @property
    def mirror_target(self) -> str:
        return f"{self.mirror.host}/{MIRROR_REPO}"

    def close(self) -> None:
        self.source.stop()
        self.mirror.stop()
        if self.issuer is not None:
            self.issuer.stop()

    def token_requests(self) -> int:
        return len(self.issuer.requests) if self.issuer is not None else 0


def create_env(root: Path, mirror_auth: str = "htpasswd") -> BenchEnv:
    """``mirror_auth``: "htpasswd" (distribution's own basic auth: a bcrypt check on every request, as a
    small docker-registry mirror has) or "token" (a token service, as Quay, the mirror registry for Red
    Hat OpenShift, and Harbor have: the password is checked once per token, each request then carries
    a signed token the registry verifies)."""
    pki_dir = root / "pki"
    pair, ca_cert, ca_key = make_ca(pki_dir, name="mirror-wizard benchmark CA")
    server = make_server_cert(pki_dir, ca_cert, ca_key)
    cert_dir = root / "certs"
    cert_dir.mkdir(parents=True)
    shutil.copyfile(pair.cert_path, cert_dir / "ca.crt")
    password = secrets.token_urlsafe(12)
    tls = {"cert": server.cert_path, "key": server.key_path, "ca_file": pair.cert_path}
    source = BenchRegistry(root=root / "source-registry", port=free_port(), **tls)
    issuer: TokenIssuer | None = None
    if mirror_auth == "token":
        issuer = TokenIssuer(root / "token-issuer", {MIRROR_USER: password}, "mirror-wizard-bench", "mirror-wizard-bench",
                             tls=(server.cert_path, server.key_path))
        issuer.start()
        mirror = BenchRegistry(root=root / "mirror-registry", port=free_port(), **tls)
        mirror.extra_auth = issuer.registry_auth_config()
    else:
        mirror = BenchRegistry(root=root / "mirror-registry", port=free_port(), htpasswd=(MIRROR_USER, password), **tls)
    auth_file = root / "mirror-auth.json"
    token = base64.b64encode(f"{MIRROR_USER}:{password}".encode()).decode()
    auth_file.write_text(json.dumps({"auths": {mirror.host: {"auth": token}}}))
    auth_file.chmod(0o600)
    netrc = root / "mirror.netrc"
    netrc.write_text(f"machine 127.0.0.1 login {MIRROR_USER} password {password}\n")
    netrc.chmod(0o600)
    env = BenchEnv(root, source, mirror, pair.cert_path, cert_dir, auth_file, netrc, password, issuer)
    try:
        source.start()
        mirror.start()
    except BaseException:
        env.close()
        raise
    return env


# -- workload --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OnDisk:
    """Stands in for a layer's bytes in LayoutBuilder: the blob is already in the layout."""

    digest: str
    size: int


@dataclass(frozen=True)
class FileLayer:
    blob: OnDisk
    digest: str
    diff_id: str

    @property
    def size(self) -> int:
        return self.blob.size


class StreamingBuilder(LayoutBuilder):
    """LayoutBuilder that also takes layers written straight to the layout (never held in memory)."""

    def blob(self, data) -> dict:  # type: ignore[override]
        if isinstance(data, OnDisk):
            return {"digest": data.digest, "size": data.size}
        return super().blob(data)

    def random_layer(self, seed: int, size: int) -> FileLayer:
        rng = random.Random(seed)
        hasher = hashlib.sha256()
        tmp = self.layout.root / f"layer-{seed}.tmp"
        with open(tmp, "wb") as handle:
            left = size
            while left:
                chunk = rng.randbytes(min(CHUNK, left))
                handle.write(chunk)
                hasher.update(chunk)
                left -= len(chunk)
        digest = "sha256:" + hasher.hexdigest()
        target = self.layout.blob_path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.replace(target)
        # The bytes are not really gzip, so the "uncompressed" digest is the same; nobody checks.
        return FileLayer(OnDisk(digest, size), digest, digest)


@dataclass
class BlobInfo:
    size: int
    repository: str  # a source repository that holds it (blob GETs are per repository)


@dataclass
class MirrorImage:
    """One image of a release: where it is in the source and which mirror tag it gets."""

    name: str            # component name, or "" for the release image
    layout_name: str
    source: str          # pull spec by digest
    tag: str             # tag in the mirror repository
    manifest: Manifest


@dataclass
class Release:
    version: str
    release_ref: str     # pull spec of the release image by tag in the source registry
    images: list[MirrorImage]
    blobs: dict[str, BlobInfo]

    @property
    def release_image(self) -> MirrorImage:
        return next(image for image in self.images if not image.name)

    @property
    def total_bytes(self) -> int:
        return sum(blob.size for blob in self.blobs.values())

    @property
    def largest_blob(self) -> int:
        return max(blob.size for blob in self.blobs.values())


@dataclass
class Workload:
    layout: Path
    releases: dict[str, Release]  # version -> release
    main: str                     # version the measured steps mirror
    baseline: str | None          # version without the giant layer (only with big_layer_gb)


@dataclass(frozen=True)
class LayerSpec:
    seed: int
    size: int


def plan_layers(total_bytes: int) -> tuple[dict[str, list[LayerSpec]], list[tuple[LayerSpec, int]]]:
    """Layers per component (own + shared), deterministic for a given total."""
    rng = random.Random(4173)
    shared = [(LayerSpec(seed, max(int(total_bytes * fraction), 4096)), every)
              for seed, (_, fraction, every) in enumerate(SHARED_LAYERS, start=1)]
    big_size = int(total_bytes * BIG_FRACTION)
    used = sum(spec.size for spec, _ in shared) + big_size * len(BIG_COMPONENTS)
    tiny = [rng.randint(512, 32 * 1024) for _ in COMPONENTS]
    remaining = max(total_bytes - used - sum(tiny), len(COMPONENTS) * 4096)
    weights = [[rng.uniform(0.2, 1.0) ** 3 for _ in range(rng.randint(1, 3))] for _ in COMPONENTS]
    scale = remaining / sum(sum(w) for w in weights)
    layers: dict[str, list[LayerSpec]] = {}
    seed = 1000
    for index, name in enumerate(COMPONENTS):
        own = [spec for spec, every in shared if index % every == 0]
        for weight in weights[index]:
            own.append(LayerSpec(seed, max(int(weight * scale), 4096)))
            seed += 1
        if name in BIG_COMPONENTS:
            own.append(LayerSpec(100 + BIG_COMPONENTS.index(name), big_size))
        own.append(LayerSpec(seed, tiny[index]))
        seed += 1
        layers[name] = own
    return layers, shared


def _release_image(builder: StreamingBuilder, version: str, base: FileLayer, source_host: str,
                   components: dict[str, Manifest]) -> Manifest:
    references = {
        "kind": "ImageStream", "apiVersion": "image.openshift.io/v1",
        "metadata": {"name": version, "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"lookupPolicy": {"local": False}, "tags": [
            {"name": name, "from": {"kind": "DockerImage", "name": f"{source_host}/{COMPONENT_REPO}@{m.digest}"}}
            for name, m in sorted(components.items())
        ]},
    }
    metadata = {"kind": "cincinnati-metadata-v0", "version": version, "previous": [],
                "metadata": {"url": "https://example.com/mirror-wizard-benchmark"}}
    manifests_layer = make_layer(50_000 + int(version.replace(".", "")), 0, {
        "release-manifests/image-references": (json.dumps(references, indent=2).encode(), 0o644),
        "release-manifests/release-metadata": (json.dumps(metadata, indent=2).encode(), 0o644),
    })
    return builder.image([base, manifests_layer], labels={"io.openshift.release": version})


async def build_workload(folder: Path, source_host: str, *, total_bytes: int, big_layer_gb: float = 0) -> Workload:
    """Write the OCI layout. With ``big_layer_gb`` the measured release has the first big component's
    layer replaced by one of that size, and an otherwise identical baseline release is built too."""
    builder = StreamingBuilder(new_builder(folder).layout)
    plan, shared = plan_layers(total_bytes)
    written: dict[int, FileLayer] = {}

    def layer(spec: LayerSpec) -> FileLayer:
        if spec.seed not in written:
            written[spec.seed] = builder.random_layer(spec.seed, spec.size)
        return written[spec.seed]

    variants = {VERSION: 0}
    if big_layer_gb:
        variants = {VERSION: int(big_layer_gb * GiB), BASELINE_VERSION: 0}
    releases: dict[str, Release] = {}
    for version, big in variants.items():
        manifests: dict[str, Manifest] = {}
        images: list[MirrorImage] = []
        for name in COMPONENTS:
            specs = list(plan[name])
            giant = big and name == BIG_COMPONENTS[0]
            if giant:
                specs = [LayerSpec(99, big) if s.seed == 100 else s for s in specs]
            manifest = builder.image([layer(s) for s in specs],
                                     labels={"io.openshift.build.source-location": f"https://example.com/{name}"})
            manifests[name] = manifest
            layout_name = f"{COMPONENT_REPO}:bench-{name}" + ("-giant" if giant else "")
            await builder.name(layout_name, manifest)
            images.append(MirrorImage(name, layout_name, f"{source_host}/{COMPONENT_REPO}@{manifest.digest}",
                                      f"{version}-{ARCH}-{name}", manifest))
        base = layer(shared[0][0])  # the release image sits on the RHEL base layer too
        release = _release_image(builder, version, base, source_host, manifests)
        layout_name = f"{RELEASE_REPO}:{version}-{ARCH}"
        await builder.name(layout_name, release)
        images.append(MirrorImage("", layout_name, f"{source_host}/{RELEASE_REPO}@{release.digest}",
                                  f"{version}-{ARCH}", release))
        blobs: dict[str, BlobInfo] = {}
        for image in images:
            repo = COMPONENT_REPO if image.name else RELEASE_REPO
            for desc in image.manifest.blobs():
                blobs.setdefault(desc.digest, BlobInfo(desc.size, repo))
        releases[version] = Release(version, f"{source_host}/{RELEASE_REPO}:{version}-{ARCH}", images, blobs)
    return Workload(folder, releases, VERSION, BASELINE_VERSION if big_layer_gb else None)


async def seed_source(workload: Workload, env: BenchEnv) -> None:
    """Push every image of the layout into the source registry with our own engine."""
    session = RegistrySession(tls=TLSOptions(ca_files=(str(env.ca_file),)))
    tasks: list[CopyTask] = []
    seen: set[str] = set()
    for release in workload.releases.values():
        for image in release.images:
            if image.layout_name in seen:
                continue
            seen.add(image.layout_name)
            target = parse_reference(f"{env.source.host}/{image.layout_name}")
            tasks.append(CopyTask(LayoutLocation(workload.layout, image.layout_name), RegistryLocation(target)))
    async with session:
        result = await copy_images(tasks, session, CopyOptions())
    if not result.ok:
        raise RuntimeError(f"seeding the source registry failed: {result.failures[0].error}")


def prepare(root: Path, env: BenchEnv, *, total_bytes: int, big_layer_gb: float = 0,
            source_host: str | None = None) -> Workload:
    """Build and seed the workload. ``source_host``: the name its pull specs (and the release image's
    references) use for the source, when clients reach it through a proxy; seeding goes direct."""
    workload = asyncio.run(build_workload(root / "layout", source_host or env.source.host, total_bytes=total_bytes,
                                          big_layer_gb=big_layer_gb))
    asyncio.run(seed_source(workload, env))
    return workload
