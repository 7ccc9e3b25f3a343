"""Synthetic releases for signatures, update paths and samples-from-the-release tests.

Built like tui/sandbox/content.py's release (and with its builder), plus what real payloads carry
that the sandbox does not:

* ``release-manifests/0000_90_cluster-update-keys_configmap.yaml``: the ``release-verification``
  ConfigMap (keys and stores given by the test), annotated as in openshift/cluster-update-keys;
* a ``cluster-samples-operator`` component whose image holds ImageStream and Template files under
  ``/opt/openshift/operator/<arch>/<group>/{imagestreams,templates}/`` (its Dockerfile's layout), from
  the real stream files in /work/shared/fixtures/imagestreams.

Several versions built into one layout share their base layers and most components, as real
consecutive releases do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from core.copier import CopyOptions, CopyTask, copy_images
from core.endpoints import LayoutLocation, RegistryLocation
from core.manifest import Manifest
from core.reference import parse_reference
from core.registry import RegistrySession
from core.tlsconfig import TLSOptions
from tui.sandbox.content import (
    COMPONENT_REPO,
    RELEASE_REPO,
    VERIFICATION_MANIFEST,
    Layer,
    LayoutBuilder,
    make_layer,
    verification_configmap,
)

IMAGESTREAM_FIXTURES = Path("/work/shared/fixtures/imagestreams")
SAMPLES_COMPONENT = "cluster-samples-operator"
# Components that change in every version; the others keep their digest across versions.
CHANGING = ("cluster-version-operator", SAMPLES_COMPONENT)
COMPONENTS = ("cli", "cluster-version-operator", "etcd", "console", SAMPLES_COMPONENT)
TEMPLATE = {"kind": "Template", "apiVersion": "template.openshift.io/v1", "metadata": {"name": "httpd-example"},
            "objects": [{"kind": "ImageStream", "apiVersion": "image.openshift.io/v1",
                         "metadata": {"name": "not-a-sample"}, "spec": {"tags": []}}]}


def stream_group(path: Path) -> str:
    """``dotnet-aspnet-rhel.json`` → ``dotnet``: the samples repository folder it ships in."""
    return path.stem.split("-", 1)[0]


def samples_files(arch: str, streams: list[Path]) -> dict[str, tuple[bytes, int]]:
    root = f"opt/openshift/operator/{arch}"
    files = {f"{root}/{stream_group(p)}/imagestreams/{p.name}": (p.read_bytes(), 0o644) for p in streams}
    files[f"{root}/httpd/templates/httpd-example.json"] = (json.dumps(TEMPLATE).encode(), 0o644)
    return files


@dataclass
class BuiltRelease:
    version: str
    release_name: str                       # layout name of the release image
    digest: str
    components: dict[str, str]              # component → layout name
    component_digests: dict[str, str] = field(default_factory=dict)
    blobs: dict[str, int] = field(default_factory=dict)


async def build_day2_release(builder: LayoutBuilder, *, source_host: str, version: str,
                             keyrings: dict[str, str] | None = None, stores: list[str] | None = None,
                             samples: dict[str, list[Path]] | None = None, previous: list[str] | None = None,
                             layer_size: int = 16 * 1024, extra_manifests: dict[str, bytes] | None = None,
                             release_base: Layer | None = None,
                             prefix: str = "") -> BuiltRelease:
    """One release; every version shares base layers and the components not in CHANGING.

    Components are named as living in ``source_host/<prefix>`` + the sandbox's component repository.
    """
    base = make_layer(1, layer_size)
    runtime = make_layer(2, layer_size)
    vseed = sum(int(p) * 1000 ** i for i, p in enumerate(reversed(version.split(".")))) % 100_000
    manifests: dict[str, Manifest] = {}
    for number, name in enumerate(COMPONENTS, start=10):
        files: dict[str, tuple[bytes, int]] = {}
        if name == SAMPLES_COMPONENT:
            for arch, streams in (samples if samples is not None else
                                  {"x86_64": sorted(IMAGESTREAM_FIXTURES.glob("*.json"))}).items():
                files |= samples_files(arch, streams)
        seed = number * 1_000_000 + (vseed if name in CHANGING else 0)
        own = make_layer(seed, layer_size // 4, files)
        manifests[name] = builder.image([base, runtime, own], labels={"io.openshift.release.operator": "true"})
    references = {
        "kind": "ImageStream", "apiVersion": "image.openshift.io/v1",
        "metadata": {"name": version, "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"lookupPolicy": {"local": False}, "tags": [
            {"name": name, "from": {"kind": "DockerImage", "name": f"{source_host}/{prefix}{COMPONENT_REPO}@{m.digest}"}}
            for name, m in sorted(manifests.items())]},
    }
    metadata = {"kind": "cincinnati-metadata-v0", "version": version, "previous": previous or []}
    release_files = {
        "release-manifests/image-references": (json.dumps(references, indent=2).encode(), 0o644),
        "release-manifests/release-metadata": (json.dumps(metadata, indent=2).encode(), 0o644),
        "release-manifests/0000_50_other_configmap.yaml": (b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", 0o644),
    }
    if keyrings is not None:
        release_files[VERIFICATION_MANIFEST] = (
            yaml.safe_dump(verification_configmap(keyrings, stores or [])).encode(), 0o644)
    for path, data in (extra_manifests or {}).items():
        release_files[path] = (data, 0o644)
    manifests_layer = make_layer(200_000 + vseed, 0, release_files)
    release = builder.image([release_base or base, manifests_layer], labels={"io.openshift.release": version})
    names: dict[str, str] = {}
    for name, manifest in manifests.items():
        names[name] = f"{COMPONENT_REPO}:day2-{version}-{name}"
        await builder.name(names[name], manifest)
    release_name = f"{RELEASE_REPO}:{version}-x86_64"
    await builder.name(release_name, release)
    blobs: dict[str, int] = {}
    for m in [release, *manifests.values()]:
        blobs.update({d.digest: d.size for d in m.blobs()})
    return BuiltRelease(version, release_name, release.digest, names,
                        {n: m.digest for n, m in manifests.items()}, blobs)


async def push_layout(layout: Path, names: list[str], host: str, prefix: str = "") -> None:
    """Copy layout names (``repo:tag``) to ``host/<prefix><repo>:tag`` with the engine (skopeo checks it later)."""
    session = RegistrySession(tls=TLSOptions(insecure=True))
    tasks = [CopyTask(LayoutLocation(layout, name), RegistryLocation(parse_reference(f"{host}/{prefix}{name}")))
             for name in names]
    async with session:
        result = await copy_images(tasks, session, CopyOptions())
    assert result.ok, result.failures
