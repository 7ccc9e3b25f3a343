"""Manifests and descriptors of every media type a mirror meets."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import RegistryProtocolError, UnsupportedManifest
from .reference import validate_digest
from .userfiles import parse_json

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
MANIFEST_TYPES = INDEX_TYPES | IMAGE_TYPES
# Full Accept list: a registry answering a tag with only what we list must never fall back to schema 1.
ACCEPT = ", ".join([OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST])

# Architectures are spelt two ways: the Go way in image platforms (amd64, arm64), the RPM way in release
# tags and the samples operator's content folders (x86_64, aarch64); ppc64le and s390x are the same in both.
_GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}
_RPM_ARCH = {go: rpm for rpm, go in _GO_ARCH.items()}


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text

    def matches(self, pattern: re.Pattern[str]) -> bool:
        return bool(pattern.search(str(self)))


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    urls: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Any, *, where: str) -> Descriptor:
        if not isinstance(data, dict):
            raise RegistryProtocolError(f"{where}: a descriptor is not an object")
        # The digest names a file (blobs/ALGO/HEX) and a URL: the OCI grammar, checked before any use.
        digest = validate_digest(data.get("digest"), where=f"{where}: descriptor", error=RegistryProtocolError)
        size = data.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise RegistryProtocolError(f"{where}: descriptor {digest} has no valid size")
        media_type = data.get("mediaType", "")
        if not isinstance(media_type, str):
            raise RegistryProtocolError(f"{where}: descriptor {digest} has a mediaType that is not text")
        platform = None
        if isinstance(data.get("platform"), dict):
            p = data["platform"]
            variant = p.get("variant")
            platform = Platform(_text(p.get("os", "")), _text(p.get("architecture", "")),
                                _text(variant) if variant else None)
        annotations = data.get("annotations") or {}
        if not isinstance(annotations, dict):
            raise RegistryProtocolError(f"{where}: descriptor {digest} has annotations that are not an object")
        urls = data.get("urls") or []
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise RegistryProtocolError(f"{where}: descriptor {digest} has urls that are not a list of text")
        return cls(
            media_type=media_type,
            digest=digest,
            size=size,
            platform=platform,
            annotations={str(k): _text(v) for k, v in annotations.items()},
            urls=tuple(urls),
        )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)[:200]


def _descriptor_list(data: dict[str, Any], key: str, *, where: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise RegistryProtocolError(f"{where}: {key!r} is not a list")
    return value


@dataclass(frozen=True)
class Manifest:
    """A manifest exactly as served: ``raw`` is pushed back byte for byte, never re-serialised."""

    raw: bytes
    media_type: str
    digest: str

    @classmethod
    def parse(cls, raw: bytes, content_type: str | None, *, where: str) -> Manifest:
        data = parse_json(raw, where=f"{where}: manifest", error=RegistryProtocolError)
        if not isinstance(data, dict):
            raise RegistryProtocolError(f"{where}: manifest is not a JSON object")
        media_type = data.get("mediaType") or (content_type or "").split(";")[0].strip()
        if not isinstance(media_type, str):
            raise RegistryProtocolError(f"{where}: manifest mediaType is not text")
        if data.get("schemaVersion") == 1 or media_type in (DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED):
            raise UnsupportedManifest(
                f"{where} is a Docker schema 1 manifest, which OpenShift mirrors cannot use",
                hint="push the image again with a current client (schema 2 or OCI)",
            )
        if not media_type:
            # OCI allows omitting mediaType: tell image and index apart by their fields.
            media_type = OCI_INDEX if "manifests" in data else OCI_MANIFEST
        if media_type not in MANIFEST_TYPES:
            raise UnsupportedManifest(f"{where}: unsupported manifest media type {media_type!r}")
        return cls(raw=raw, media_type=media_type, digest=sha256_digest(raw))

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.raw)  # an object: parse() refused anything else
        return data

    def _memo(self, key: str, make: Callable[[], Any]) -> Any:
        """The descriptors are read many times per image by a copy (planning, pushing, progress): parse
        them once. The instance is frozen, so the memo goes straight into its __dict__ (not a field:
        equality and hashing still see only raw, media_type and digest)."""
        memo = self.__dict__.get("_parsed")
        if memo is None:
            memo = {}
            object.__setattr__(self, "_parsed", memo)
        if key not in memo:
            memo[key] = make()
        return memo[key]

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    def children(self) -> list[Descriptor]:
        if not self.is_index:
            return []
        where = f"index {self.digest}"
        return list(self._memo("children", lambda: tuple(
            Descriptor.from_json(d, where=where) for d in _descriptor_list(self.json, "manifests", where=where))))

    def config(self) -> Descriptor | None:
        if self.is_index:
            return None

        def make() -> Descriptor | None:
            cfg = self.json.get("config")
            return Descriptor.from_json(cfg, where=f"manifest {self.digest}") if cfg else None

        config: Descriptor | None = self._memo("config", make)
        return config

    def layers(self) -> list[Descriptor]:
        if self.is_index:
            return []
        where = f"manifest {self.digest}"
        return list(self._memo("layers", lambda: tuple(
            Descriptor.from_json(d, where=where) for d in _descriptor_list(self.json, "layers", where=where))))

    def blobs(self) -> list[Descriptor]:
        """Config first, then layers; foreign layers (with urls) are not copied, as oc does."""
        config = self.config()
        items = [config] if config is not None else []
        return items + [layer for layer in self.layers() if not layer.urls]


def go_arch(arch: str) -> str:
    """Image platforms spell architectures the Go way: x86_64 → amd64, aarch64 → arm64."""
    return _GO_ARCH.get(arch, arch)


def openshift_arch(arch: str) -> str:
    """Release tags spell architectures the RPM way: amd64 → x86_64, arm64 → aarch64."""
    return _RPM_ARCH.get(arch, arch)
