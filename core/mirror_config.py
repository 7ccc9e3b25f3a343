"""What a cluster needs to pull a mirrored release: the mirror instructions, in every form admins paste.

- ``imageDigestSources`` for install-config.yaml from 4.14 (``imageContentSources`` before: the installer
  refuses a config that sets both, so only the one the release's installer wants is printed or written),
- an ImageDigestMirrorSet (config.openshift.io/v1) for a cluster on 4.13 and later,
- an ImageContentSourcePolicy (operator.openshift.io/v1alpha1) only for releases before 4.13.

A mirror set's name follows its content (``release-`` and a digest of its entries): sets for different
mirrors or sources never replace each other on a cluster, and applying the same content again updates
it in place.

The shape follows ``oc adm release mirror``: one entry per source repository, sorted by source, each
with its mirror repositories; keys in the order oc's marshaller writes them (``mirrors`` before
``source``). Also reads mirror sets back (``--idms-file``), so a mirror host can pull through another
mirror.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError, ReleaseError
from .fsio import PUBLIC, atomic_write
from .reference import parse_reference, parse_repository
from .release_tag import release_image_in_mirror
from .userfiles import read_user_file
from .yamlout import dump_documents, dump_yaml

ICSP_API = "operator.openshift.io/v1alpha1"
IDMS_API = "config.openshift.io/v1"
NAME_PREFIX = "release-"
# From these releases on: the installer reads imageDigestSources (imageContentSources is deprecated),
# and a cluster takes an ImageDigestMirrorSet (an ICSP only before).
DIGEST_SOURCES_FROM = (4, 14)
IDMS_FROM = (4, 13)

# File names written by write(); fixed so a rerun replaces them rather than piling up copies.
INSTALL_CONFIG_FILE = "install-config-imageContentSources.yaml"
INSTALL_CONFIG_DIGEST_FILE = "install-config-imageDigestSources.yaml"
ICSP_FILE = "imageContentSourcePolicy.yaml"
IDMS_FILE = "imageDigestMirrorSet.yaml"


@dataclass
class MirrorInstructions:
    """``sources`` pairs a source repository with a mirror repository (a source may have several)."""

    sources: list[tuple[str, str]]
    name: str | None = None  # None: named after the content (set_name)
    release_image: str | None = field(default=None)  # where the mirrored release image landed, for notes
    # The release these are for (the newest of an update path): which install-config key and which
    # cluster object apply. None (unknown): the current forms.
    version: str | None = None

    @property
    def set_name(self) -> str:
        """The mirror set's metadata.name: the same content gets the same name (applied again, it
        updates in place), different content another one (it never replaces a set for another mirror)."""
        if self.name:
            return self.name
        text = json.dumps(self.entries(), sort_keys=True, separators=(",", ":"))
        return NAME_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:10]

    def _minor(self) -> tuple[int, int] | None:
        match = re.match(r"(\d+)\.(\d+)", self.version or "")
        return (int(match.group(1)), int(match.group(2))) if match else None

    @property
    def digest_sources(self) -> bool:
        """install-config takes imageDigestSources (4.14 and later, or the version unknown)."""
        minor = self._minor()
        return minor is None or minor >= DIGEST_SOURCES_FROM

    @property
    def wants_idms(self) -> bool:
        """A cluster of this release takes an ImageDigestMirrorSet (4.13 and later, or unknown)."""
        minor = self._minor()
        return minor is None or minor >= IDMS_FROM

    @property
    def install_config_key(self) -> str:
        return "imageDigestSources" if self.digest_sources else "imageContentSources"

    def install_config_yaml(self) -> str:
        """The one block install-config.yaml gets for this release (never both: the installer refuses it)."""
        return dump_yaml({self.install_config_key: self.entries()})

    @property
    def install_config_file(self) -> str:
        return INSTALL_CONFIG_DIGEST_FILE if self.digest_sources else INSTALL_CONFIG_FILE

    @property
    def cluster_kind(self) -> str:
        return "ImageDigestMirrorSet" if self.wants_idms else "ImageContentSourcePolicy"

    def cluster_set(self) -> dict[str, Any]:
        """The mirror set a cluster of this release gets: the IDMS, or the ICSP before 4.13."""
        return self.idms() if self.wants_idms else self.icsp()

    @property
    def cluster_file(self) -> str:
        return IDMS_FILE if self.wants_idms else ICSP_FILE

    def grouped(self) -> list[tuple[str, list[str]]]:
        """(source, [mirrors]) sorted by source; mirrors in the order first given, without repeats."""
        out: dict[str, list[str]] = {}
        for source, mirror in self.sources:
            mirrors = out.setdefault(source, [])
            if mirror not in mirrors:
                mirrors.append(mirror)
        return sorted(out.items())

    def entries(self) -> list[dict[str, Any]]:
        """``[{mirrors: [...], source: ...}]``: the shape install-config, ICSP and IDMS all use."""
        return [{"mirrors": list(mirrors), "source": source} for source, mirrors in self.grouped()]

    def image_content_sources_yaml(self) -> str:
        """The deprecated block (installers before 4.14); install_config_yaml picks the right one."""
        return dump_yaml({"imageContentSources": self.entries()})

    def image_digest_sources_yaml(self) -> str:
        """The same for installers from 4.14 (``imageDigestSources``)."""
        return dump_yaml({"imageDigestSources": self.entries()})

    def icsp(self) -> dict[str, Any]:
        return {"apiVersion": ICSP_API, "kind": "ImageContentSourcePolicy", "metadata": {"name": self.set_name},
                "spec": {"repositoryDigestMirrors": self.entries()}}

    def idms(self) -> dict[str, Any]:
        return {"apiVersion": IDMS_API, "kind": "ImageDigestMirrorSet", "metadata": {"name": self.set_name},
                "spec": {"imageDigestMirrors": self.entries()}}

    def all_yaml(self) -> str:
        """What this release needs, as one multi-document YAML stream, a comment above each part saying
        where it goes: the one install-config block, the one mirror set for a running cluster."""
        when = "4.13 and later" if self.wants_idms else "before 4.13"
        parts = [
            ("install-config.yaml (new clusters)", self.install_config_yaml()),
            (f"running cluster ({when}): oc apply -f", dump_yaml(self.cluster_set())),
        ]
        return "---\n".join(f"# {comment}\n{text}" for comment, text in parts)

    def write(self, dir: Path) -> list[Path]:
        """The install-config block and the cluster's mirror set as files in ``dir`` (atomic writes). The
        other form's files, left by an earlier run for another release, are removed: a folder holding
        both install-config blocks would invite pasting both, which the installer refuses."""
        folder = Path(dir)
        for stale in {INSTALL_CONFIG_FILE, INSTALL_CONFIG_DIGEST_FILE, ICSP_FILE, IDMS_FILE} - {
                self.install_config_file, self.cluster_file}:
            (folder / stale).unlink(missing_ok=True)
        return [
            _atomic_write(folder / self.install_config_file, self.install_config_yaml()),
            _atomic_write(folder / self.cluster_file, dump_yaml(self.cluster_set())),
        ]


def _atomic_write(path: Path, text: str) -> Path:
    # Documents for people and oc: readable by all (0644), replaced whole or not at all.
    return atomic_write(path, text, mode=PUBLIC, hint="choose a folder you can write to")


def _repository(text: str) -> str:
    ref = parse_reference(text, default_tag=None)
    return ref.name


def release_mirror_instructions(info: Any, to_repo: str, to_release_image: str | None = None,
                                name: str | None = None) -> MirrorInstructions:
    """Sources of a release (its own repository and every component repository) → the mirror.

    ``info`` is a core.release.ReleaseInfo. Components go to ``to_repo``; the release repository to
    the repository of ``to_release_image`` (``to_repo`` by default) — oc lists ``to_repo`` for both,
    which is the same thing in the usual case where they match; we name exactly where each lands.
    """
    mirror = parse_repository(to_repo).name
    release_mirror = _repository(to_release_image) if to_release_image else mirror
    source_repo = getattr(info, "source_repository", "") or ""
    if not source_repo or source_repo.startswith("oci:"):
        raise ReleaseError("the release's original repository is unknown, so no mirror instructions can be made; "
                           "mirror it from its registry pull spec")
    pairs = [(source_repo, release_mirror)]
    for repo in component_repositories(info):
        pairs.append((repo, mirror))
    release_image = release_image_in_mirror(mirror, info.version, info.architecture, to_release_image)
    return MirrorInstructions(pairs, name=name, release_image=release_image, version=info.version)


def component_repositories(info: Any) -> list[str]:
    repos = {_repository(spec) for spec in info.components.values()}
    return sorted(repos)


# -- reading mirror sets --------------------------------------------------------------------------

def parse_mirror_sets(text: str, where: str) -> list[tuple[str, str]]:
    """(source, mirror) pairs from ImageDigestMirrorSet / ImageTagMirrorSet / ImageContentSourcePolicy
    documents, or an install-config ``imageContentSources`` / ``imageDigestSources`` block."""
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"{where} is not valid YAML{at}") from None
    pairs: list[tuple[str, str]] = []
    for number, doc in enumerate(documents, start=1):
        if not isinstance(doc, dict):
            raise InputError(f"{where}: document {number} is not a mapping")
        if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            entries = []
            for item in doc["items"]:
                entries += _entries_of(item, where, number)
        else:
            entries = _entries_of(doc, where, number)
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("source"), str) or not entry["source"]:
                raise InputError(f"{where}: document {number} has a mirror entry without a source")
            mirrors = entry.get("mirrors") or []
            if not isinstance(mirrors, list) or not all(isinstance(m, str) and m for m in mirrors):
                raise InputError(f"{where}: the mirrors of {entry['source']} must be a list of repositories")
            for mirror in mirrors:
                parse_reference(mirror, default_tag=None)  # a clear error for a mistyped mirror
                pairs.append((entry["source"], mirror))
    if not pairs:
        raise InputError(f"{where} holds no mirrors (expected an ImageDigestMirrorSet with spec.imageDigestMirrors)")
    return pairs


def _entries_of(doc: Any, where: str, number: int) -> list[Any]:
    if not isinstance(doc, dict):
        raise InputError(f"{where}: document {number} is not a mapping")
    for key in ("imageContentSources", "imageDigestSources"):
        if key in doc:
            return list(doc.get(key) or [])
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        raise InputError(f"{where}: document {number} ({doc.get('kind') or 'no kind'}) has no spec")
    for key in ("imageDigestMirrors", "repositoryDigestMirrors", "imageTagMirrors"):
        if key in spec:
            value = spec.get(key) or []
            if not isinstance(value, list):
                raise InputError(f"{where}: spec.{key} must be a list")
            return value
    raise InputError(f"{where}: document {number} ({doc.get('kind') or 'no kind'}) has no spec.imageDigestMirrors")


def load_mirror_sets(path: str | Path) -> list[tuple[str, str]]:
    """Read an ``--idms-file`` (IDMS, ICSP or install-config mirrors) into RegistrySession source_mirrors."""
    p = Path(path).expanduser()
    text = read_user_file(p, "mirror set file", InputError, text=True)
    return parse_mirror_sets(text, str(p))


__all__ = [
    "MirrorInstructions",
    "component_repositories",
    "dump_documents",
    "load_mirror_sets",
    "parse_mirror_sets",
    "release_mirror_instructions",
]
