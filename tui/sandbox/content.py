"""Build a small but faithful OpenShift-like release and sample images as an OCI layout.

The release image carries ``release-manifests/image-references`` (an ImageStream naming every
component by digest) and ``release-manifests/release-metadata``, as real payloads do; components share
base layers, one is multi-arch, and ``installer``/``cli`` carry executables at the paths oc extracts.
Everything is deterministic (fixed seeds and mtimes), so the same inputs give the same digests.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.layout import OCILayout
from core.manifest import OCI_INDEX, OCI_MANIFEST, Manifest, sha256_digest
from core.release_tag import release_tag

LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"

RELEASE_REPO = "openshift-release-dev/ocp-release"
COMPONENT_REPO = "openshift-release-dev/ocp-v4.0-art-dev"
DEMO_COMPONENTS = (
    "cli", "installer", "installer-artifacts", "cluster-version-operator", "machine-config-operator",
    "etcd", "hyperkube", "console", "cluster-samples-operator", "must-gather", "tools", "tests",
)
MULTI_ARCH_COMPONENT = "pod"


@dataclass(frozen=True)
class Layer:
    blob: bytes
    digest: str
    diff_id: str

    @property
    def size(self) -> int:
        return len(self.blob)


def make_layer(seed: int, size: int = 2048, files: dict[str, tuple[bytes, int]] | None = None) -> Layer:
    """A gzip tar with ``size`` pseudo-random bytes (seeded) plus the given files."""
    rng = random.Random(seed)
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as tar:
        entries = dict(files or {})
        if size:
            entries.setdefault(f"var/lib/filler-{seed}", (rng.randbytes(size), 0o644))
        for path, (content, mode) in sorted(entries.items()):
            parts = path.split("/")
            for i in range(1, len(parts)):
                folder = "/".join(parts[:i])
                if folder not in tar.getnames():
                    info = tarfile.TarInfo(folder)
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
                    tar.addfile(info)
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(content), mode, 0
            tar.addfile(info, io.BytesIO(content))
    raw = tar_bytes.getvalue()
    blob = gzip.compress(raw, compresslevel=6, mtime=0)
    return Layer(blob, sha256_digest(blob), sha256_digest(raw))


@dataclass
class LayoutBuilder:
    """Writes blobs and manifests into an OCI layout; names go into index.json."""

    layout: OCILayout
    names: dict[str, Manifest] = field(default_factory=dict)

    def blob(self, data: bytes) -> dict[str, Any]:
        digest = sha256_digest(data)
        path = self.layout.blob_path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return {"digest": digest, "size": len(data)}

    def image(self, layers: list[Layer], *, arch: str = "amd64", os_name: str = "linux",
              labels: dict[str, str] | None = None) -> Manifest:
        config = {
            "architecture": arch, "os": os_name, "created": "2026-01-01T00:00:00Z",
            "config": {"Labels": labels or {}},
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        }
        config_desc = {"mediaType": CONFIG_TYPE, **self.blob(json.dumps(config, sort_keys=True).encode())}
        layer_descs = [{"mediaType": LAYER_TYPE, **self.blob(layer.blob)} for layer in layers]
        raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_desc,
                          "layers": layer_descs}, sort_keys=True).encode()
        manifest = Manifest.parse(raw, OCI_MANIFEST, where="sandbox")
        self.layout.put_manifest_blob(manifest)
        return manifest

    def index(self, images: list[tuple[Manifest, str]]) -> Manifest:
        raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": m.media_type, "digest": m.digest, "size": len(m.raw),
             "platform": {"os": "linux", "architecture": arch}} for m, arch in images
        ]}, sort_keys=True).encode()
        manifest = Manifest.parse(raw, OCI_INDEX, where="sandbox")
        self.layout.put_manifest_blob(manifest)
        return manifest

    async def name(self, name: str, manifest: Manifest) -> None:
        self.names[name] = manifest
        await self.layout.tag(name, manifest)


def _script(text: str) -> bytes:
    return f"#!/bin/sh\n{text}\n".encode()


def _installer_script(version: str) -> bytes:
    """An installer that, like the real one, carries placeholders that extraction fills in.

    It prints the release it was pinned to: the line after ``#PINNED`` holds the stamped pull spec up
    to its NUL, or still starts with NUL when nobody stamped it. The shell exits before the markers.
    """
    head = _script(
        f'echo "openshift-install {version} (mirror-wizard sandbox)"\n'
        "pinned=$(sed -n '/^#PINNED$/{n;p;q}' \"$0\" | tr '\\000' '\\n' | head -n 1)\n"
        'echo "release image ${pinned:-(not pinned: the built-in default)}"\n'
        "exit 0\n#PINNED")
    markers = (b"\x00_RELEASE_IMAGE" b"_LOCATION_\x00" + b"X" * 256 + b"\x00\n"
               b"\x00_RELEASE_VERSION" b"_LOCATION_\x00" + b"X" * 64 + b"\x00\n")
    return head + markers


@dataclass
class SandboxRelease:
    version: str
    architecture: str
    release_name: str  # name in the seed layout
    release_tag: str
    components: dict[str, str]  # component → layout name


VERIFICATION_MANIFEST = "release-manifests/0000_90_cluster-update-keys_configmap.yaml"


def verification_configmap(keyrings: dict[str, str], stores: list[str]) -> dict[str, Any]:
    """The payload's ``release-verification`` ConfigMap, shaped as openshift/cluster-update-keys ships it."""
    data = {f"verifier-public-key-{name}": text for name, text in keyrings.items()}
    data |= {f"store-{i}": url for i, url in enumerate(stores, start=1)}
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "release-verification", "namespace": "openshift-config-managed",
                         "annotations": {"include.release.openshift.io/self-managed-high-availability": "true",
                                         "release.openshift.io/verification-config-map": ""}},
            "data": data}


SAMPLES_COMPONENT = "cluster-samples-operator"


async def build_release(builder: LayoutBuilder, *, source_host: str, version: str = "4.17.3",
                        layer_size: int = 64 * 1024, keyrings: dict[str, str] | None = None,
                        samples: dict[str, bytes] | None = None, tag_prefix: str = "sandbox-") -> SandboxRelease:
    """Components first (their digests go into image-references), then the release image. ``keyrings``
    (name → armored public key): the payload carries a release-verification ConfigMap naming them.
    ``samples`` (path → content): files the cluster-samples-operator image ships, as the real one ships
    its image streams under /opt/openshift/operator/<arch>/. ``tag_prefix``: the components' tags in the
    layout (each release of several needs its own)."""
    base = make_layer(1, layer_size)
    runtime = make_layer(2, layer_size)
    components: dict[str, Manifest] = {}
    for number, name in enumerate(DEMO_COMPONENTS, start=10):
        files: dict[str, tuple[bytes, int]] = {}
        if name in ("installer", "installer-artifacts"):
            files["usr/bin/openshift-install"] = (_installer_script(version), 0o755)
        if name == "cli":
            files["usr/bin/oc"] = (_script(f'echo "Client Version: {version} (mirror-wizard sandbox)"'), 0o755)
        if name == SAMPLES_COMPONENT and samples:
            files |= {path: (data, 0o644) for path, data in samples.items()}
        own = make_layer(number, layer_size // 4, files)
        components[name] = builder.image([base, runtime, own], labels={"io.openshift.release.operator": "true"})
    arm_base = make_layer(101, layer_size)
    pod_amd = builder.image([base, make_layer(102, 1024)])
    pod_arm = builder.image([arm_base, make_layer(103, 1024)], arch="arm64")
    components[MULTI_ARCH_COMPONENT] = builder.index([(pod_amd, "amd64"), (pod_arm, "arm64")])

    references = {
        "kind": "ImageStream", "apiVersion": "image.openshift.io/v1",
        "metadata": {"name": version, "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"lookupPolicy": {"local": False}, "tags": [
            {"name": name, "from": {"kind": "DockerImage", "name": f"{source_host}/{COMPONENT_REPO}@{m.digest}"}}
            for name, m in sorted(components.items())
        ]},
    }
    metadata = {"kind": "cincinnati-metadata-v0", "version": version, "previous": ["4.17.0", "4.17.1", "4.17.2"],
                "metadata": {"url": f"https://access.redhat.com/errata/RHSA-2026:{version.replace('.', '')}"}}
    manifest_files = {
        "release-manifests/image-references": (json.dumps(references, indent=2).encode(), 0o644),
        "release-manifests/release-metadata": (json.dumps(metadata, indent=2).encode(), 0o644),
    }
    if keyrings is not None:
        manifest_files[VERIFICATION_MANIFEST] = (yaml.safe_dump(verification_configmap(keyrings, [])).encode(), 0o644)
    manifests_layer = make_layer(200, 0, manifest_files)
    release = builder.image([base, manifests_layer], labels={"io.openshift.release": version})
    arch = "x86_64"
    names: dict[str, str] = {}
    for name, manifest in components.items():
        names[name] = f"{COMPONENT_REPO}:{tag_prefix}{name}"
        await builder.name(names[name], manifest)
    release_name = f"{RELEASE_REPO}:{release_tag(version, arch)}"
    await builder.name(release_name, release)
    return SandboxRelease(version, arch, release_name, release_tag(version, arch), names)


async def build_samples(builder: LayoutBuilder, pull_specs: list[str], *, layer_size: int = 8 * 1024) -> dict[str, str]:
    """One tiny image per samples pull spec (sharing a base layer); returns layout name → pull spec."""
    base = make_layer(300, layer_size)
    out: dict[str, str] = {}
    for number, spec in enumerate(sorted(set(pull_specs))):
        host, _, rest = spec.partition("/")
        image = builder.image([base, make_layer(1000 + number, 512)])
        name = rest if ":" in rest.rsplit("/", 1)[-1] else f"{rest}:latest"
        await builder.name(f"samples/{host}/{name}", image)
        out[f"samples/{host}/{name}"] = spec
    return out


def new_builder(path: Path) -> LayoutBuilder:
    layout = OCILayout(path)
    layout.ensure()
    return LayoutBuilder(layout)
