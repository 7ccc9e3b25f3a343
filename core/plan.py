"""The plan: every choice the wizard makes, saved as YAML so a run can be repeated headless.

A plan never holds a password: credentials live in the auth file it points at (and the keyring).
Loading is strict: an unknown key or a missing one is a PlanError that names it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from .errors import LocalStorageError, PlanError, ReferenceFormatError
from .reference import is_registry_host, parse_reference, parse_repository, split_host
from .userfiles import read_user_file

PLAN_VERSION = 1
RELEASE_MODES = ("registry", "to-dir", "from-dir")
SAMPLES_SOURCES = ("files", "configmap", "cluster")


@dataclass
class MirrorRegistry:
    registry: str = ""
    ca_file: str | None = None
    insecure: bool = False


@dataclass
class RegistryTrust:
    host: str = ""
    ca_file: str | None = None
    insecure: bool = False


@dataclass
class ReleaseChoice:
    source: str = ""
    channel: str | None = None
    version: str | None = None
    architecture: str = "x86_64"
    mode: str = "registry"
    target: str = ""
    directory: str | None = None
    to_release_image: str | None = None


@dataclass
class SamplesChoice:
    """``paths``: every file or directory the streams are read from, merged (the config map plus the
    jenkins stream files, say), as ``samples --imagestreams`` takes them."""

    source: str = "files"
    paths: list[str] = field(default_factory=list)
    mirror: str = ""
    include: list[str] = field(default_factory=list)
    skip: list[str] = field(default_factory=list)

    @property
    def path(self) -> str | None:
        """The first path: what a screen with one path field shows."""
        return self.paths[0] if self.paths else None

    @path.setter
    def path(self, value: str | None) -> None:
        self.paths = [value] if value else []


@dataclass
class Options:
    max_per_registry: int = 6
    skip_missing: bool = False
    continue_on_error: bool = False


@dataclass
class Plan:
    auth_file: str | None = None
    mirror: MirrorRegistry = field(default_factory=MirrorRegistry)
    registries: list[RegistryTrust] = field(default_factory=list)
    release: ReleaseChoice | None = None
    samples: SamplesChoice | None = None
    options: Options = field(default_factory=Options)
    output_dir: str = "mirror-wizard-output"
    idms_file: str | None = None
    version: int = PLAN_VERSION

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        order = ["version", "auth_file", "idms_file", "mirror", "registries", "release", "samples", "options", "output_dir"]
        return {key: data[key] for key in order}

    def ca_files(self) -> list[str]:
        found = [self.mirror.ca_file] + [r.ca_file for r in self.registries]
        return list(dict.fromkeys(f for f in found if f))

    def insecure_hosts(self) -> list[str]:
        hosts = [r.host for r in self.registries if r.insecure]
        if self.mirror.insecure and self.mirror.registry:
            hosts.append(self.mirror.registry)
        return hosts


def _section(cls: type, value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise PlanError(f"{where} must be a mapping of keys, not {type(value).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(map(_key_name, set(value) - known))
    if unknown:
        raise PlanError(f"{where} has unknown key(s): {', '.join(unknown)}",
                        hint=f"allowed: {', '.join(sorted(known))}")
    for f in fields(cls):
        if f.name not in value:
            continue
        item = value[f.name]
        expected = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
        _check_type(item, expected, f"{where}.{f.name}")
    return cls(**value)


def _key_name(key: Any) -> str:
    """Plain keys as they are; anything odd quoted, so an error stays on one line."""
    text = str(key)
    return text if re.fullmatch(r"[\w.-]+", text) else repr(text)


def _check_type(value: Any, expected: str, where: str) -> None:
    optional = "None" in expected
    if value is None:
        if not optional:
            raise PlanError(f"{where} must not be empty")
        return
    if expected.startswith("str") and not isinstance(value, str):
        raise PlanError(f"{where} must be text, not {value!r}")
    if expected.startswith("bool") and not isinstance(value, bool):
        raise PlanError(f"{where} must be true or false, not {value!r}")
    if expected.startswith("int") and (isinstance(value, bool) or not isinstance(value, int)):
        raise PlanError(f"{where} must be a whole number, not {value!r}")
    if expected.startswith("list[str]") and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
        what = "paths" if where.endswith(".paths") else "names"
        raise PlanError(f"{where} must be a list of {what}")


def _samples_section(value: Any, where: str) -> SamplesChoice:
    """Plans saved before ``paths`` existed hold one ``path``: read it as a list of one."""
    if isinstance(value, dict) and "path" in value:
        value = dict(value)
        old = value.pop("path")
        if "paths" in value:
            raise PlanError(f"{where} has both path and paths; keep paths (a list)")
        if old is not None and not isinstance(old, str):
            raise PlanError(f"{where}.path must be text, not {old!r}")
        value["paths"] = [old] if old else []
    return _section(SamplesChoice, value, where)


def plan_from_dict(data: Any, where: str = "plan") -> Plan:
    if not isinstance(data, dict):
        raise PlanError(f"{where} is not a YAML mapping (expected keys such as mirror:, release:, samples:)")
    data = dict(data)
    version = data.pop("version", PLAN_VERSION)
    if version != PLAN_VERSION:
        raise PlanError(f"{where} has version {version!r}; this mirror-wizard reads version {PLAN_VERSION}")
    known = {f.name for f in fields(Plan)} - {"version"}
    unknown = sorted(map(_key_name, set(data) - known))
    if unknown:
        raise PlanError(f"{where} has unknown key(s): {', '.join(unknown)}", hint=f"allowed: {', '.join(sorted(known))}")
    if "mirror" not in data:
        raise PlanError(f"{where} is missing 'mirror:' (the mirror registry, e.g. registry: mirror.example.com:8443)")
    registries = data.get("registries") or []
    if not isinstance(registries, list):
        raise PlanError(f"{where}: registries must be a list")
    options = data.get("options") or {}
    for key in ("auth_file", "idms_file", "output_dir"):
        if key in data:
            _check_type(data[key], "str | None" if key != "output_dir" else "str", f"{where}.{key}")
    plan = Plan(
        auth_file=data.get("auth_file"),
        idms_file=data.get("idms_file"),
        mirror=_section(MirrorRegistry, data["mirror"], f"{where}.mirror"),
        registries=[_section(RegistryTrust, r, f"{where}.registries[{i}]") for i, r in enumerate(registries)],
        release=_section(ReleaseChoice, data["release"], f"{where}.release") if data.get("release") else None,
        samples=_samples_section(data["samples"], f"{where}.samples") if data.get("samples") else None,
        options=_section(Options, options, f"{where}.options"),
        output_dir=data.get("output_dir") or "mirror-wizard-output",
    )
    validate_plan(plan, where)
    return plan


def validate_plan(plan: Plan, where: str = "plan") -> None:
    """Checks that need more than one field; each failure says which key to fix."""
    if not plan.mirror.registry:
        raise PlanError(f"{where}.mirror.registry is empty: give the mirror registry as HOST[:PORT]")
    _host(plan.mirror.registry, f"{where}.mirror.registry")
    if not 1 <= plan.options.max_per_registry <= 64:
        raise PlanError(f"{where}.options.max_per_registry must be between 1 and 64")
    release = plan.release
    if release is not None:
        if release.mode not in RELEASE_MODES:
            raise PlanError(f"{where}.release.mode is {release.mode!r}; use one of {', '.join(RELEASE_MODES)}")
        if release.mode != "from-dir" and not release.source:
            raise PlanError(f"{where}.release.source is empty: give the release pull spec")
        if release.mode in ("to-dir", "from-dir") and not release.directory:
            raise PlanError(f"{where}.release.directory is needed for mode {release.mode}")
        if release.mode != "to-dir" and not release.target:
            raise PlanError(f"{where}.release.target is empty: give the mirror repository, e.g. "
                            f"{plan.mirror.registry}/ocp4/openshift4")
        _check_release_names(release, plan.mirror.registry, f"{where}.release")
    samples = plan.samples
    if samples is not None:
        if samples.source not in SAMPLES_SOURCES:
            raise PlanError(f"{where}.samples.source is {samples.source!r}; use one of {', '.join(SAMPLES_SOURCES)}")
        if samples.source != "cluster" and not samples.paths:
            raise PlanError(f"{where}.samples.paths is empty: list the image stream files or directories, "
                            "or the imagestreamtag-to-image config map")
        for number, item in enumerate(samples.paths):
            if not item.strip():
                raise PlanError(f"{where}.samples.paths[{number}] is empty: give a file or directory")
        if samples.mirror:
            _host(samples.mirror, f"{where}.samples.mirror")
        overlap = sorted(set(samples.include) & set(samples.skip))
        if overlap:
            raise PlanError(f"{where}.samples lists {', '.join(overlap)} as both included and skipped")


def _check_release_names(release: ReleaseChoice, mirror: str, where: str) -> None:
    """Names that would only fail after the source was read: refuse them when the plan loads."""
    example = f"{mirror}/ocp4/openshift4"
    if release.target:
        try:
            parse_repository(release.target)
        except ReferenceFormatError as exc:
            raise PlanError(f"{where}.target: {exc.message}; give the mirror repository, e.g. {example}") from None
        if split_host(release.target)[0] is None:
            raise PlanError(f"{where}.target is {release.target!r}: name the mirror registry too, e.g. {example}")
    if release.to_release_image:
        try:
            ref = parse_reference(release.to_release_image, default_tag=None)
        except ReferenceFormatError as exc:
            raise PlanError(f"{where}.to_release_image: {exc.message}") from None
        if ref.digest:
            raise PlanError(f"{where}.to_release_image is {release.to_release_image!r}: give a tag, not a digest")
    if release.source and release.mode != "from-dir" and not release.source.startswith(("oci:", "file://")):
        try:
            parse_reference(release.source)
        except ReferenceFormatError as exc:
            raise PlanError(f"{where}.source: {exc.message}") from None
    if release.directory and ":" in release.directory:
        raise PlanError(f"{where}.directory is {release.directory!r}: a mirror directory path cannot contain ':' "
                        "(skopeo reads oci:DIR:NAME)")


def _host(value: str, where: str) -> None:
    if not is_registry_host(value):
        raise PlanError(f"{where} is {value!r}: expected HOST or HOST:PORT")


def load_plan(path: str | Path) -> Plan:
    path = Path(path)
    text = read_user_file(path, "plan file", PlanError, text=True, inside="the plan YAML file")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PlanError(f"plan file {path} is not valid YAML{where}") from None
    return plan_from_dict(data, where=str(path))


def save_plan(plan: Plan, path: str | Path) -> Path:
    """Atomic write (a crash never leaves half a plan behind), 0644 like every document: a plan holds
    no password."""
    from .fsio import PUBLIC, atomic_write

    path = Path(path)
    text = "# mirror-wizard plan: run it with `mirror-wizard run " + path.name + "`\n"
    text += yaml.safe_dump(plan.to_dict(), sort_keys=False)
    try:
        return atomic_write(path, text, mode=PUBLIC, hint="choose a folder you can write to")
    except LocalStorageError as exc:
        raise LocalStorageError(str(exc).replace("cannot write", "cannot save the plan to", 1)) from None
