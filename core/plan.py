"""The plan: every choice the wizard makes, saved as YAML so a run can be repeated headless.

A plan never holds a password: credentials live in the auth file it points at (and the keyring).
Loading is strict: an unknown key or a missing one is a PlanError that names it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

import yaml

from .bundle import safe_relpath
from .errors import InputError, PlanError, ReferenceFormatError
from .fsio import atomic_write
from .http.connection import STALL_SECONDS
from .http.proxy import parse_proxy
from .reference import is_registry_host, parse_reference, parse_repository, split_host
from .userfiles import parse_yaml, read_user_file

PLAN_VERSION = 1


class _Dataclass(Protocol):
    __dataclass_fields__: ClassVar[dict[str, Any]]


_T = TypeVar("_T", bound=_Dataclass)
#: Where the release's images go in the mirror when the admin names no repository (oc's examples use it).
DEFAULT_TARGET_REPOSITORY = "ocp4/openshift4"
DEFAULT_OUTPUT_DIR = "mirror-wizard-output"


class ReleaseMode(StrEnum):
    """How the release reaches the mirror: straight, or through removable media in two trips."""

    REGISTRY = "registry"    # source registry → mirror registry
    TO_DIR = "to-dir"        # source registry → removable medium (connected side)
    FROM_DIR = "from-dir"    # removable medium → mirror registry (disconnected side)

    @property
    def uses_media(self) -> bool:
        return self is not ReleaseMode.REGISTRY

    @property
    def reads_source(self) -> bool:
        """Reads the release from its registry (every mode but the upload from the medium)."""
        return self is not ReleaseMode.FROM_DIR

    @property
    def writes_mirror(self) -> bool:
        """Ends in the mirror registry (every mode but the trip to the medium)."""
        return self is not ReleaseMode.TO_DIR


class SamplesSource(StrEnum):
    """Where the samples operator's image streams are read from."""

    FILES = "files"          # ImageStream files or directories
    CONFIGMAP = "configmap"  # the imagestreamtag-to-image config map
    CLUSTER = "cluster"      # the logged-in cluster, with oc
    RELEASE = "release"      # the cluster-samples-operator image of the plan's release (offline)


RELEASE_MODES = tuple(ReleaseMode)
SAMPLES_SOURCES = tuple(SamplesSource)


def default_target(mirror: str) -> str:
    """The release's repository in ``mirror`` when the plan names none."""
    return f"{mirror}/{DEFAULT_TARGET_REPOSITORY}"


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
    mode: ReleaseMode = ReleaseMode.REGISTRY
    target: str = ""
    directory: str | None = None
    to_release_image: str | None = None
    # Release signatures (GPG): extra stores to ask, a directory holding them instead (offline hosts),
    # where the signature ConfigMap file goes (default: <directory>/config in to-dir mode, else output_dir),
    # and whether a release that does not verify may be mirrored anyway.
    signature_stores: list[str] = field(default_factory=list)
    signatures_dir: str | None = None
    signatures_to_dir: str | None = None
    allow_unsigned: bool = False
    # Public key files of release keys to trust besides Red Hat's (shipped): OKD, CI, a custom payload.
    # A payload naming a key neither shipped nor listed here is refused (core.release_keys).
    keys: list[str] = field(default_factory=list)
    # From-dir: the key that must have signed the bundle's SHA256SUMS (fingerprint or public key file).
    bundle_signer: str | None = None
    # An update path: every release from from_version to version on the channel's update graph (read
    # from graph_file, else graph_url), the shortest path unless all_versions. From-dir: the releases of
    # the medium in that range.
    from_version: str | None = None
    all_versions: bool = False
    graph_file: str | None = None
    graph_url: str | None = None
    # The releases that path resolved to, each pinned by digest (the wizard writes them once it has
    # shown the path): a later run mirrors exactly these, whatever the graph says by then.
    releases: list[str] = field(default_factory=list)
    # Updates inside the cluster (OpenShift Update Service): the graph-data image on the mirror, as
    # ``mirror-wizard release graph-image --to`` pushed it (HOST[/NAMESPACE]/openshift/graph-image:latest).
    # verify checks it is there, and with --cluster the UpdateService, its CA key and spec.upstream.
    graph_image: str | None = None
    # Where the run reads the graph data that image carries: the update service's graph-data tarball as a
    # file (offline hosts, the demo sandbox's), or an http(s) URL; None: core.graph_image.GRAPH_DATA_URL.
    graph_data: str | None = None

    def __post_init__(self) -> None:
        # A plan file, a test or a flag gives the mode as text: keep the vocabulary, refuse nothing here
        # (validate_plan says which key is wrong and what is allowed).
        if not isinstance(self.mode, ReleaseMode) and self.mode in RELEASE_MODES:
            self.mode = ReleaseMode(self.mode)

    @property
    def uses_media(self) -> bool:
        return self.mode in RELEASE_MODES and ReleaseMode(self.mode).uses_media

    @property
    def reads_source(self) -> bool:
        return self.mode != ReleaseMode.FROM_DIR

    @property
    def chosen(self) -> bool:
        """Something to mirror: a source, an update path, or (from-dir) the medium."""
        return bool(self.source) or self.is_path or self.mode == ReleaseMode.FROM_DIR

    @property
    def is_path(self) -> bool:
        """Several releases: the update path from ``from_version`` to ``version``."""
        return bool(self.from_version)


_OPTIONAL_RELEASE_KEYS = ("signature_stores", "signatures_dir", "signatures_to_dir", "allow_unsigned", "keys",
                          "bundle_signer", "from_version", "all_versions", "graph_file", "graph_url", "releases",
                          "graph_image", "graph_data")


@dataclass
class SamplesChoice:
    """``paths``: every file or directory the streams are read from, merged (the config map plus the
    jenkins stream files, say), as ``samples --imagestreams`` takes them. Source ``release``: the
    streams the plan's release ships (its cluster-samples-operator image), or those of the release
    pull spec (or ``oci:DIR:NAME``) given as the one path."""

    source: SamplesSource = SamplesSource.FILES
    paths: list[str] = field(default_factory=list)
    mirror: str = ""
    include: list[str] = field(default_factory=list)
    skip: list[str] = field(default_factory=list)
    # Source release: which of the operator's content folders (default: the release's architecture).
    architecture: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.source, SamplesSource) and self.source in SAMPLES_SOURCES:
            self.source = SamplesSource(self.source)

    @property
    def chosen(self) -> bool:
        """Streams to mirror: files named, or the cluster to read them from."""
        return bool(self.paths) or self.source in (SamplesSource.CLUSTER, SamplesSource.RELEASE)

    @property
    def path(self) -> str | None:
        """The first path: what a screen with one path field shows."""
        return self.paths[0] if self.paths else None

    @path.setter
    def path(self, value: str | None) -> None:
        self.paths = [value] if value else []


@dataclass
class Options:
    # Parallel transfers per registry: None adapts (6 at first, up to 16 while the copy gets faster);
    # a number is the admin's hard limit (and where it starts).
    max_per_registry: int | None = None
    skip_missing: bool = False
    continue_on_error: bool = False
    # Seconds without a byte before a transfer counts as stalled (retried, then reported).
    stall_timeout: float = STALL_SECONDS  # the same default as --stall-timeout
    # Token services on other hosts that may receive the registry password (see core.registry.auth).
    auth_hosts: list[str] = field(default_factory=list)
    # The forward proxy for registries, token services and CDNs (http://[user:pass@]host:port; "" for none)
    # and the hosts reached directly (NO_PROXY's list); unset: the environment's HTTPS_PROXY / NO_PROXY.
    proxy: str | None = None
    no_proxy: str | None = None


@dataclass
class Plan:
    auth_file: str | None = None
    mirror: MirrorRegistry = field(default_factory=MirrorRegistry)
    registries: list[RegistryTrust] = field(default_factory=list)
    release: ReleaseChoice | None = None
    samples: SamplesChoice | None = None
    options: Options = field(default_factory=Options)
    output_dir: str = DEFAULT_OUTPUT_DIR
    idms_file: str | None = None
    version: int = PLAN_VERSION

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        # Plain text in the YAML (a StrEnum would be dumped as a Python object).
        for section, key in (("release", "mode"), ("samples", "source")):
            if data[section] is not None:
                data[section][key] = str(data[section][key])
        # Day-2 keys are written only when used: a plain single-release plan reads as it always did.
        for section, keys in (("release", _OPTIONAL_RELEASE_KEYS), ("samples", ("architecture",))):
            if data[section] is not None:
                defaults = asdict(ReleaseChoice() if section == "release" else SamplesChoice())
                for key in keys:
                    if data[section][key] == defaults[key]:
                        del data[section][key]
        order = ["version", "auth_file", "idms_file", "mirror", "registries", "release", "samples", "options", "output_dir"]
        return {key: data[key] for key in order}

    @property
    def release_mode(self) -> ReleaseMode | None:
        return ReleaseMode(self.release.mode) if self.release is not None else None

    @property
    def uses_media(self) -> bool:
        """The release goes through removable media (either trip)."""
        return self.release is not None and self.release.uses_media

    @property
    def media_directory(self) -> Path | None:
        """The removable medium's directory, when the plan uses one."""
        if self.release is None or not self.release.uses_media or not self.release.directory:
            return None
        return Path(self.release.directory)

    @property
    def release_target(self) -> str:
        """The release's repository in the mirror: the plan's, or the default one."""
        if self.release is not None and self.release.target:
            return self.release.target
        return default_target(self.mirror.registry) if self.mirror.registry else ""

    def ca_files(self) -> list[str]:
        found = [self.mirror.ca_file] + [r.ca_file for r in self.registries]
        return list(dict.fromkeys(f for f in found if f))

    def insecure_hosts(self) -> list[str]:
        hosts = [r.host for r in self.registries if r.insecure]
        if self.mirror.insecure and self.mirror.registry:
            hosts.append(self.mirror.registry)
        return hosts


def _section(cls: type[_T], value: Any, where: str) -> _T:
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
    if expected in ("ReleaseMode", "SamplesSource"):  # written as text in the plan file
        expected = "str"
    if value is None:
        if not optional:
            raise PlanError(f"{where} must not be empty")
        return
    if expected.startswith("str") and not isinstance(value, str):
        raise PlanError(f"{where} must be text, not {value!r}")
    if expected.startswith("bool") and not isinstance(value, bool):
        raise PlanError(f"{where} must be true or false, not {value!r}")
    if expected.startswith("float") and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise PlanError(f"{where} must be a number, not {value!r}")
    if expected.startswith("int") and (isinstance(value, bool) or not isinstance(value, int)):
        raise PlanError(f"{where} must be a whole number, not {value!r}")
    if expected.startswith("list[str]") and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
        what = "paths" if where.endswith((".paths", ".keys")) else "names"
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
        output_dir=data.get("output_dir") or DEFAULT_OUTPUT_DIR,
    )
    validate_plan(plan, where)
    return plan


def validate_plan(plan: Plan, where: str = "plan") -> None:
    """Checks that need more than one field; each failure says which key to fix."""
    if not plan.mirror.registry:
        raise PlanError(f"{where}.mirror.registry is empty: give the mirror registry as HOST[:PORT]")
    _host(plan.mirror.registry, f"{where}.mirror.registry")
    if plan.options.max_per_registry is not None and not 1 <= plan.options.max_per_registry <= 64:
        raise PlanError(f"{where}.options.max_per_registry must be between 1 and 64")
    if not 1 <= plan.options.stall_timeout <= 3600:
        raise PlanError(f"{where}.options.stall_timeout must be between 1 and 3600 seconds")
    if plan.options.proxy:
        try:
            parse_proxy(plan.options.proxy, source=f"{where}.options.proxy")
        except InputError as exc:
            raise PlanError(exc.message) from None
    release = plan.release
    if release is not None:
        if release.mode not in RELEASE_MODES:
            raise PlanError(f"{where}.release.mode is {release.mode!r}; use one of {', '.join(RELEASE_MODES)}")
        if release.is_path:
            _check_release_path(release, f"{where}.release")
        elif release.releases:
            raise PlanError(f"{where}.release.releases pins an update path, but from_version is empty; give "
                            "from_version (or remove releases)")
        elif release.reads_source and not release.source:
            raise PlanError(f"{where}.release.source is empty: give the release pull spec")
        if release.uses_media and not release.directory:
            raise PlanError(f"{where}.release.directory is needed for mode {release.mode}")
        if release.mode != ReleaseMode.TO_DIR and not release.target:
            raise PlanError(f"{where}.release.target is empty: give the mirror repository, e.g. "
                            f"{default_target(plan.mirror.registry)}")
        _check_release_names(release, plan.mirror.registry, f"{where}.release")
    samples = plan.samples
    if samples is not None:
        if samples.source not in SAMPLES_SOURCES:
            raise PlanError(f"{where}.samples.source is {samples.source!r}; use one of {', '.join(SAMPLES_SOURCES)}")
        if samples.source == SamplesSource.RELEASE and release is None and not samples.paths:
            raise PlanError(f"{where}.samples.source is release but the plan has no release: choose one, "
                            "or give the release pull spec in samples.paths")
        if samples.source not in (SamplesSource.CLUSTER, SamplesSource.RELEASE) and not samples.paths:
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


def _check_release_path(release: ReleaseChoice, where: str) -> None:
    if not release.version:
        raise PlanError(f"{where}.version is empty: an update path from {release.from_version} needs the version "
                        "it ends at")
    if release.source:
        raise PlanError(f"{where} has both source and from_version: give one release (source) or an update "
                        "path (channel, from_version, version)")
    try:
        tagged = bool(release.to_release_image) and parse_reference(release.to_release_image or "",
                                                                    default_tag=None).tag is not None
    except ReferenceFormatError:
        tagged = False  # _check_release_names says what is wrong with it
    if tagged:
        # A repository (no tag) is fine: each release lands there tagged VERSION-ARCH (core.release_tag), as
        # the update service's graph builder wants (release images alone in their repository).
        raise PlanError(f"{where}.to_release_image names one image, but the plan mirrors an update path; "
                        "give a repository without a tag (each release is tagged VERSION-ARCH there), or remove it")
    if release.mode != ReleaseMode.FROM_DIR and not release.channel:
        raise PlanError(f"{where}.channel is empty: the update path is read from a channel's graph, "
                        "e.g. stable-4.17")
    if release.graph_file and release.graph_url:
        raise PlanError(f"{where} has both graph_file and graph_url; keep one")
    for number, spec in enumerate(release.releases):
        try:
            pinned = parse_reference(spec, default_tag=None)
        except ReferenceFormatError as exc:
            raise PlanError(f"{where}.releases[{number}]: {exc.message}") from None
        if not pinned.digest:
            raise PlanError(f"{where}.releases[{number}] is {spec!r}: pin each release by digest (REPO@sha256:…)")


def _check_release_names(release: ReleaseChoice, mirror: str, where: str) -> None:
    """Names that would only fail after the source was read: refuse them when the plan loads."""
    example = default_target(mirror)
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
    if release.graph_image:
        try:
            parse_reference(release.graph_image)
        except ReferenceFormatError as exc:
            raise PlanError(f"{where}.graph_image: {exc.message}") from None
    if release.source and release.reads_source and not release.source.startswith(("oci:", "file://")):
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


def load_plan(path: str | Path, *, confirm_target: str | None = None) -> Plan:
    """A plan file. One beside a ``bundle.json`` came on removable media: whoever wrote the medium wrote
    it, so every path in it must stay inside the bundle (see :func:`check_bundle_plan`), and with
    ``confirm_target`` (the far-side admin's own answer) its target must be that one."""
    path = Path(path)
    text = read_user_file(path, "plan file", PlanError, text=True, inside="the plan YAML file")
    data = parse_yaml(text, where=f"plan file {path}", error=PlanError)
    plan = plan_from_dict(data, where=str(path))
    if (path.parent / "bundle.json").exists():
        check_bundle_plan(plan, str(path), confirm_target=confirm_target)
    return plan


def check_bundle_plan(plan: Plan, where: str, *, confirm_target: str | None = None) -> None:
    """A plan read from a bundle names paths inside the bundle only (relative, never leaving it): an
    absolute auth file would send this host's credentials where the medium says, an absolute output
    folder would write where it says. Keys that decide trust (release.keys, release.bundle_signer) are the
    admin's answer on this side, never the medium's: the bundle carries the release key files
    (config/release-keys/) for the admin to compare and name. PlanError (one line) naming the key."""
    paths: list[tuple[str, str | None]] = [("auth_file", plan.auth_file), ("idms_file", plan.idms_file),
                                           ("output_dir", plan.output_dir), ("mirror.ca_file", plan.mirror.ca_file)]
    paths += [(f"registries[{i}].ca_file", r.ca_file) for i, r in enumerate(plan.registries)]
    release = plan.release
    if release is not None:
        paths += [("release.directory", release.directory), ("release.signatures_dir", release.signatures_dir),
                  ("release.signatures_to_dir", release.signatures_to_dir), ("release.graph_file", release.graph_file)]
        if release.graph_data and not release.graph_data.startswith(("https://", "http://")):
            paths.append(("release.graph_data", release.graph_data))
        for key, value in (("release.keys", release.keys), ("release.bundle_signer", release.bundle_signer)):
            if value:
                raise PlanError(f"{where}: {key} in a bundle's plan would let the medium choose what is trusted; "
                                "give it on this side (--release-key, --signer) instead")
        if confirm_target is not None and release.target != confirm_target:
            raise PlanError(f"{where}: release.target is {release.target!r}, not {confirm_target!r} as you confirmed; "
                            "refusing the bundle's plan")
    if plan.samples is not None:
        paths += [(f"samples.paths[{i}]", p) for i, p in enumerate(plan.samples.paths)]
    for key, value in paths:
        if value is None or value in ("", "."):
            continue
        try:
            safe_relpath(value.removeprefix("./"))
        except ValueError as exc:
            raise PlanError(f"{where}: {key} {value!r} is {exc}; a bundle's plan names paths inside the bundle "
                            "only") from None


def save_plan(plan: Plan, path: str | Path) -> Path:
    """Atomic write: a crash never leaves half a plan behind."""
    path = Path(path)
    text = "# mirror-wizard plan: run it with `mirror-wizard run " + path.name + "`\n"
    text += yaml.safe_dump(plan.to_dict(), sort_keys=False)
    # The plan names the auth file but never holds a secret: readable like any document.
    return atomic_write(path, text, hint="choose a folder you can write to")
