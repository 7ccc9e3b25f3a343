"""The Cluster Samples Operator's image streams: what they pull, and how to mirror them.

Streams come from ImageStream files (single objects or ``List``s, as ``oc get is -n openshift -o json``
prints them), from the ``imagestreamtag-to-image`` ConfigMap (``<imagestream>_<tag>`` → pull spec), or
from a live cluster through ``oc``. A plan for a mirror registry has three parts:

* the mapping ``SRC=DST``: DST is what the operator will pull once ``samplesRegistry`` is set;
* the merge patch for ``configs.samples.operator.openshift.io/cluster`` (``samplesRegistry``, every
  stream not mirrored in ``skippedImagestreams``, ``managementState: Managed``);
* the ``oc`` commands that apply both.

The rewrite rule is the operator's own (``coreUpdateDockerPullSpec`` in cluster-samples-operator):
a spec with exactly two ``/`` (``host/namespace/name[:tag|@digest]``) gets its host replaced by the
mirror, any other shape gets the mirror prefixed, and a spec that already starts with the mirror is
left alone. The operator applies it to every ``DockerImage`` tag whatever the host, so images from
registry.redhat.io *and* registry.access.redhat.com (both appear in the shipped streams) end up under
the one mirror host — both must be mirrored.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .copier import CopyOptions, CopyTask, copy_images
from .endpoints import LayoutLocation, Location, RegistryLocation
from .errors import ImageStreamError, InputError, ReferenceFormatError, ToolError
from .filenames import SAMPLES_CONFIG_FILE as SAMPLES_CONFIG_FILE  # re-exported: the samples' files
from .filenames import SAMPLES_MAPPING_FILE
from .oc import Oc
from .plan import SamplesSource
from .reference import DOCKER_HUB, is_registry_host, parse_reference, split_host
from .registry import RegistrySession
from .text import shell_quote
from .userfiles import parse_json, read_user_file
from .yamlout import dump_yaml

CONFIG_RESOURCE = "configs.samples.operator.openshift.io/cluster"
CONFIG_API_VERSION = "samples.operator.openshift.io/v1"
CONFIGMAP_NAME = "imagestreamtag-to-image"
CONFIGMAP_NAMESPACE = "openshift-cluster-samples-operator"
# The operator leaves every stream whose name starts with this out of imagestreamtag-to-image.
CONFIGMAP_OMITTED_PREFIX = "jenkins"
# The jenkins streams the operator ships (openshift/library: jenkins-rhel, jenkins-agent-base-rhel). With the
# config map as the only source nothing describes them, yet the operator still imports them: a plan made
# from the map skips them unless the admin adds their ImageStream files.
OPERATOR_JENKINS_STREAMS = ("jenkins", "jenkins-agent-base")
# Streams the samples operator manages carry this label ("true", or "false" once skipped).
MANAGED_LABEL = "samples.operator.openshift.io/managed"
# Payload streams (cli, must-gather, tools ...) are the cluster version operator's, not samples.
PAYLOAD_ANNOTATION_PREFIX = "include.release.openshift.io/"
STREAM_SUFFIXES = (".json", ".yaml", ".yml")
OC_TIMEOUT = 120


@dataclass
class SampleTag:
    """One tag. ``pull_spec`` is the image it resolves to (followed through references), None if it
    cannot be resolved; ``reference_to`` names the tag (or ``stream:tag``) an ImageStreamTag points at."""

    name: str
    pull_spec: str | None
    reference_to: str | None = None


@dataclass
class SampleStream:
    name: str
    tags: list[SampleTag]
    source: str  # a file path, "configmap PATH" or "cluster" (SamplesSource words)
    problems: list[str] = field(default_factory=list)  # tags that resolve to nothing, and why

    @property
    def pull_specs(self) -> list[str]:
        """The images this stream needs, each once (a spec without tag or digest means :latest)."""
        return sorted({normalize_pull_spec(tag.pull_spec) for tag in self.tags if tag.pull_spec})

    @property
    def registries(self) -> list[str]:
        return sorted({_host_of(spec) for spec in self.pull_specs})

    @property
    def from_configmap(self) -> bool:
        return self.source.startswith(f"{SamplesSource.CONFIGMAP} ")


# -- pull specs ---------------------------------------------------------------------------------------

def digest_tag(digest: str) -> str:
    """``sha256:<hex>`` → ``sha256-<hex>``: the tag that keeps a by-digest image from garbage collection."""
    return digest.replace(":", "-", 1)


def _host_of(spec: str) -> str:
    host, _ = split_host(spec)
    return host or DOCKER_HUB


def normalize_pull_spec(spec: str) -> str:
    """Add ``:latest`` to a spec with neither tag nor digest (what an import pulls, and what ``oc image
    mirror`` needs: it refuses a source without one). Everything else is kept as written."""
    spec = spec.strip()
    last = spec.rsplit("/", 1)[-1]
    if "@" in spec or ":" in last:
        return spec
    return f"{spec}:latest"


def check_mirror(mirror: str) -> str:
    """``HOST[:PORT]`` — samplesRegistry is the host part of the mirror, nothing else."""
    value = (mirror or "").strip()
    if not value:
        raise InputError("the mirror registry is empty: give it as HOST[:PORT], e.g. mirror.example.com:8443")
    if "://" in value or "/" in value or not is_registry_host(value):
        raise InputError(f"mirror {mirror!r} is not HOST[:PORT] (no scheme, no path), e.g. mirror.example.com:8443")
    return value


def mirror_pull_spec(pull_spec: str, mirror: str) -> str:
    """The pull spec the samples operator uses once ``samplesRegistry`` is ``mirror``.

    ``host/namespace/name[:tag|@digest]`` (exactly two slashes): the host is swapped for the mirror;
    any other shape gets the mirror prefixed; a spec already on the mirror is unchanged.
    """
    spec = pull_spec.strip()
    if spec.startswith(mirror):
        return spec
    if spec.count("/") == 2:
        return mirror + "/" + spec.split("/", 1)[1]
    return f"{mirror}/{spec}"


# -- loading ------------------------------------------------------------------------------------------

def _parse_documents(path: Path) -> list[Any]:
    text = read_user_file(path, "image stream file", ImageStreamError, text=True)
    if not text.strip():
        raise ImageStreamError(f"{path} is empty (expected ImageStream JSON or YAML)")
    if text.lstrip().startswith(("{", "[")) or path.suffix == ".json":
        try:
            return [json.loads(text)]
        except json.JSONDecodeError as exc:
            raise ImageStreamError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        except RecursionError:  # absurd nesting: json and yaml report it so, not as a syntax error
            raise ImageStreamError(f"{path} is nested too deeply to be image streams") from None
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except RecursionError:
        raise ImageStreamError(f"{path} is nested too deeply to be image streams") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ImageStreamError(f"{path} is not valid JSON or YAML: {problem}{where}") from None
    if not documents:
        raise ImageStreamError(f"{path} holds no documents (expected ImageStream JSON or YAML)")
    return documents


def document_objects(document: Any, where: str, depth: int = 0) -> Iterator[tuple[dict[str, Any], str]]:
    """Every object in a document, Lists flattened; each with a label for messages."""
    if depth > 8:  # Lists inside Lists: real files nest one or two, a hostile one thousands
        raise ImageStreamError(f"{where}: Lists nested more than 8 deep")
    if not isinstance(document, dict):
        raise ImageStreamError(f"{where}: expected a Kubernetes object (a mapping with 'kind'), "
                               f"got {type(document).__name__}")
    kind = document.get("kind")
    if kind == "List" or (isinstance(kind, str) and kind.endswith("List") and "items" in document):
        items = document.get("items")
        if not isinstance(items, list):
            raise ImageStreamError(f"{where}: the {kind} has no 'items' list")
        for index, item in enumerate(items):
            yield from document_objects(item, f"{where} items[{index}]", depth + 1)
        return
    yield document, where


def is_payload_stream(obj: dict[str, Any]) -> bool:
    metadata = obj.get("metadata")
    annotations = (metadata.get("annotations") or {}) if isinstance(metadata, dict) else {}
    return isinstance(annotations, dict) and any(str(k).startswith(PAYLOAD_ANNOTATION_PREFIX) for k in annotations)


def _resolve(name: str, raw_tags: dict[str, dict[str, Any]], order: list[str], source: str) -> SampleStream:
    """Follow ImageStreamTag references inside the stream to a DockerImage; record what cannot resolve."""
    problems: list[str] = []
    tags: list[SampleTag] = []
    for tag_name in order:
        ref = raw_tags[tag_name]
        kind, target = ref.get("kind"), ref.get("name")
        if kind == "DockerImage":
            tags.append(SampleTag(tag_name, target))
            continue
        if kind != "ImageStreamTag":
            tags.append(SampleTag(tag_name, None, f"{kind}:{target}" if target else None))
            problems.append(f"{name}:{tag_name} is a {kind or 'tag without a source'}, which names no image to mirror")
            continue
        reference_to = target
        seen = [tag_name]
        # Hostile input may leave a name out: text always, so a missing one is a problem, not a crash.
        current = str(target or "")
        spec: str | None = None
        while True:
            stream_part, sep, tag_part = current.rpartition(":")
            local = tag_part if not sep or stream_part == name else None
            if local is None:
                problems.append(f"{name}:{tag_name} refers to another stream ({current}); mirror that stream for it")
                break
            if local in seen:
                chain = " -> ".join([*seen, local])
                problems.append(f"{name}:{tag_name} is part of a reference cycle ({chain})")
                break
            nxt = raw_tags.get(local)
            if nxt is None:
                problems.append(f"{name}:{tag_name} refers to tag {local!r}, which the stream does not have")
                break
            seen.append(local)
            if nxt.get("kind") == "DockerImage":
                spec = nxt.get("name")
                break
            if nxt.get("kind") != "ImageStreamTag":
                problems.append(f"{name}:{tag_name} ends at a {nxt.get('kind')}, which names no image to mirror")
                break
            current = str(nxt.get("name") or "")
        tags.append(SampleTag(tag_name, spec, reference_to))
    return SampleStream(name, tags, source, problems)


def stream_from_object(obj: dict[str, Any], where: str, source: str) -> SampleStream:
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(name, str) or not name:
        raise ImageStreamError(f"{where}: the ImageStream has no metadata.name")
    spec = obj.get("spec") or {}
    if not isinstance(spec, dict):
        raise ImageStreamError(f"{where}: spec of image stream {name!r} is not a mapping (expected spec.tags)")
    raw_list = spec.get("tags") or []
    if not isinstance(raw_list, list):
        raise ImageStreamError(f"{where}: spec.tags of image stream {name!r} is not a list")
    raw_tags: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for index, tag in enumerate(raw_list):
        if not isinstance(tag, dict) or not isinstance(tag.get("name"), str) or not tag["name"]:
            raise ImageStreamError(f"{where}: image stream {name!r} spec.tags[{index}] has no name")
        source_ref = tag.get("from") or {}
        if not isinstance(source_ref, dict):
            raise ImageStreamError(f"{where}: image stream {name!r} tag {tag['name']!r}: 'from' is not a mapping")
        if source_ref and not isinstance(source_ref.get("name"), str):
            raise ImageStreamError(f"{where}: image stream {name!r} tag {tag['name']!r}: from.name is missing")
        if source_ref and not source_ref["name"].strip():
            # silently nothing to mirror would leave the operator failing to import this tag
            raise ImageStreamError(f"{where}: image stream {name!r} tag {tag['name']!r}: from.name is empty")
        if tag["name"] in raw_tags:
            raise ImageStreamError(f"{where}: image stream {name!r} has tag {tag['name']!r} twice")
        raw_tags[tag["name"]] = source_ref
        order.append(tag["name"])
    return _resolve(name, raw_tags, order, source)


def _stream_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir()
                       if p.is_file() and p.suffix.lower() in STREAM_SUFFIXES and not p.name.startswith("."))
        if not files:
            raise ImageStreamError(f"{path} holds no .json, .yaml or .yml files")
        return files
    if not path.exists():
        raise ImageStreamError(f"{path} does not exist")
    return [path]


def add_stream(streams: dict[str, SampleStream], stream: SampleStream) -> None:
    if stream.name in streams:
        raise ImageStreamError(f"image stream {stream.name!r} is defined twice: in {streams[stream.name].source} "
                               f"and in {stream.source}; keep one")
    streams[stream.name] = stream


def _load_paths(paths: Iterable[str | Path], *, allow_configmap: bool) -> list[SampleStream]:
    streams: dict[str, SampleStream] = {}
    payload: list[str] = []
    any_path = False
    for given in paths:
        any_path = True
        for file in _stream_files(Path(given)):
            for number, document in enumerate(_parse_documents(file)):
                label = str(file) if number == 0 else f"{file} document {number + 1}"
                for obj, where in document_objects(document, label):
                    kind = obj.get("kind")
                    if kind == "ImageStream":
                        if is_payload_stream(obj):
                            payload.append(str((obj.get("metadata") or {}).get("name")))
                            continue
                        add_stream(streams, stream_from_object(obj, where, str(file)))
                    elif kind == "ConfigMap" and allow_configmap:
                        for stream in _streams_from_configmap(obj, where, file):
                            add_stream(streams, stream)
                    elif kind == "ConfigMap":
                        raise ImageStreamError(f"{where} is a ConfigMap; load it as the {CONFIGMAP_NAME} config map "
                                               "(mirror-wizard detects it when given as --imagestreams)")
                    else:
                        raise ImageStreamError(f"{where}: expected kind ImageStream or List, got "
                                               f"{kind!r}" if kind else f"{where}: the object has no 'kind'")
    if not any_path:
        raise ImageStreamError("no image stream files given")
    if not streams:
        if payload:
            raise ImageStreamError("only release-payload image streams found (" + ", ".join(sorted(payload)) +
                                   "); those belong to the cluster version operator, not the samples operator")
        raise ImageStreamError("no image streams found in " + ", ".join(str(p) for p in paths))
    return sorted(streams.values(), key=lambda s: s.name)


def load_imagestreams(paths: list[str | Path]) -> list[SampleStream]:
    """ImageStreams from files or directories (JSON/YAML; single objects, Lists, multi-document YAML).

    Payload streams (cli, must-gather ... annotated include.release.openshift.io/*) are left out:
    the samples operator does not manage them.
    """
    return _load_paths(paths, allow_configmap=False)


def split_configmap_key(key: str) -> tuple[str, str]:
    """``<imagestream>_<tag>`` → (stream, tag), split at the first ``_``.

    Stream names in the operator's content never contain ``_`` (they are Kubernetes names such as
    ``jboss-eap74-openjdk11-openshift``), while a tag may (Docker tags allow ``_``), so the first
    underscore is the separator.
    """
    stream, sep, tag = key.partition("_")
    if not sep or not stream or not tag:
        raise ImageStreamError(f"config map key {key!r} is not <imagestream>_<tag>")
    return stream, tag


def _streams_from_configmap(obj: dict[str, Any], where: str, path: Path) -> list[SampleStream]:
    data = obj.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ImageStreamError(f"{where}: the ConfigMap's data is not a mapping of <imagestream>_<tag> to pull spec")
    grouped: dict[str, list[SampleTag]] = {}
    for key in sorted(data, key=str):  # YAML keys may be numbers as well as text
        value = data[key]
        if not isinstance(value, str) or not value.strip():
            raise ImageStreamError(f"{where}: config map key {key!r} has no pull spec")
        stream, tag = split_configmap_key(str(key))
        grouped.setdefault(stream, []).append(SampleTag(tag, value.strip()))
    if not grouped:
        raise ImageStreamError(f"{where}: the ConfigMap has no data entries (expected <imagestream>_<tag>: pull spec)")
    source = f"{SamplesSource.CONFIGMAP} {path}"
    return [SampleStream(name, tags, source) for name, tags in sorted(grouped.items())]


def load_configmap(path: str | Path) -> list[SampleStream]:
    """Streams from the ``imagestreamtag-to-image`` ConfigMap (YAML or JSON, also inside a List).

    The operator leaves the jenkins* streams out of this map; plans made from it say so.
    """
    file = Path(path)
    streams: dict[str, SampleStream] = {}
    found = False
    for number, document in enumerate(_parse_documents(file)):
        label = str(file) if number == 0 else f"{file} document {number + 1}"
        for obj, where in document_objects(document, label):
            if obj.get("kind") != "ConfigMap":
                raise ImageStreamError(f"{where}: expected the {CONFIGMAP_NAME} ConfigMap, got kind {obj.get('kind')!r}")
            found = True
            for stream in _streams_from_configmap(obj, where, file):
                add_stream(streams, stream)
    if not found:
        raise ImageStreamError(f"{file} holds no ConfigMap")
    return sorted(streams.values(), key=lambda s: s.name)


def load_streams(path: str | Path) -> list[SampleStream]:
    """Auto-detect: a directory or file of ImageStreams, or the imagestreamtag-to-image ConfigMap."""
    return _load_paths([path], allow_configmap=True)


def load_streams_from(paths: Iterable[str | Path]) -> list[SampleStream]:
    """Like :func:`load_streams` for several paths merged (e.g. the config map plus jenkins stream files)."""
    return _load_paths(list(paths), allow_configmap=True)


def load_from_cluster(oc: str = "oc") -> list[SampleStream]:
    """The samples operator's streams in namespace ``openshift``, read with ``oc get is -o json``."""
    binary = shutil.which(oc)
    if binary is None:
        raise ToolError(f"cannot find {oc!r} (not on PATH, not a program): install the OpenShift CLI, "
                        "or give the image streams as files")
    # core.oc's runner: output read with a cap as it arrives, the process group ended on timeout
    done = Oc(binary, timeout=OC_TIMEOUT).run_sync("get", "imagestreams", "-n", "openshift", "-o", "json")
    if done.code != 0:
        raise ToolError(f"'oc get imagestreams -n openshift' failed: {done.first_error()} (log in with 'oc login' first)")
    document = parse_json(done.stdout, where="what 'oc get imagestreams' printed", error=ToolError)
    streams: dict[str, SampleStream] = {}
    for obj, where in document_objects(document, "oc get imagestreams"):
        if obj.get("kind", "ImageStream") != "ImageStream":
            continue
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if MANAGED_LABEL not in labels:
            continue  # payload streams and the admin's own: not the samples operator's
        add_stream(streams, stream_from_object(obj, where, SamplesSource.CLUSTER.value))
    if not streams:
        raise ToolError("no samples-operator image streams in namespace openshift (the operator may be Removed, as "
                        "after a disconnected install); use the config map instead: oc get configmap "
                        f"{CONFIGMAP_NAME} -n {CONFIGMAP_NAMESPACE} -o yaml > {CONFIGMAP_NAME}.yaml")
    return sorted(streams.values(), key=lambda s: s.name)


# -- planning -----------------------------------------------------------------------------------------

@dataclass
class SamplesPlan:
    mirror: str
    included: list[str]
    skipped: list[str]
    mapping: list[tuple[str, str]]  # (source, what the operator will pull from the mirror)
    config_patch: dict[str, Any]
    commands: list[str]
    notes: list[str]

    def mapping_text(self) -> str:
        """``SRC=DST`` lines for ``oc image mirror -f``. A digest-pinned image is pushed by digest: oc wants
        its DST without the digest (it keeps the source's), so the digest is left off that side."""
        lines = []
        for source, destination in self.mapping:
            if "@" in destination and "@" in source:
                destination = destination.split("@", 1)[0]
            lines.append(f"{source}={destination}")
        return "".join(line + "\n" for line in lines)

    def config_object(self) -> dict[str, Any]:
        return {"apiVersion": CONFIG_API_VERSION, "kind": "Config", "metadata": {"name": "cluster"},
                **self.config_patch}

    def config_yaml(self) -> str:
        """The Config with the fields this plan sets; usable as a merge patch or with ``oc apply``."""
        return dump_yaml(self.config_object())

    def tasks(self) -> list[CopyTask]:
        """One copy per mapping line. A digest-pinned image lands by digest, as the operator pulls it, and is
        tagged ``sha256-<hex>`` as well (oc-mirror v2's tag for by-digest images, internal/pkg/release/
        local_stored_collector.go): registries delete untagged manifests when they collect garbage."""
        tasks = []
        for src, dst in self.mapping:
            destination = parse_reference(dst)
            tags = (digest_tag(destination.digest),) if destination.digest else ()
            tasks.append(CopyTask(RegistryLocation(parse_reference(src)), RegistryLocation(destination), extra_tags=tags))
        return tasks

    @property
    def images(self) -> int:
        return len(self.mapping)


def _names(values: Iterable[str] | None) -> list[str]:
    """Names as given, comma lists split, order kept, duplicates dropped."""
    out: list[str] = []
    for value in values or []:
        for part in str(value).split(","):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return out


def _configmap_absent(by_name: dict[str, SampleStream], from_configmap: bool) -> Callable[[str], bool]:
    """A test for "a jenkins* stream the config map leaves out and no other source describes"."""
    def absent(name: str) -> bool:
        return from_configmap and name.startswith(CONFIGMAP_OMITTED_PREFIX) and name not in by_name
    return absent


def _check_jenkins_includes(include_names: list[str], absent: Callable[[str], bool]) -> None:
    """Including a jenkins stream only the config map was loaded for cannot work: nothing says what it pulls."""
    wanted = [n for n in include_names if absent(n)]
    if wanted:
        names = ", ".join(wanted)
        raise ImageStreamError(
            f"cannot mirror {names}: the {CONFIGMAP_NAME} config map leaves out every jenkins* stream; add the "
            f"jenkins ImageStream files with --imagestreams (repeated), e.g. oc get is {' '.join(wanted)} "
            f"-n openshift -o json > jenkins.json, or the files from github.com/openshift/library")


def _jenkins_note(names: list[str]) -> str:
    return (f"the {CONFIGMAP_NAME} config map leaves out the jenkins streams: {', '.join(names)} "
            f"{'go' if len(names) > 1 else 'goes'} into skippedImagestreams; to mirror "
            f"{'them' if len(names) > 1 else 'it'}, add the jenkins ImageStream files with --imagestreams (repeated)")


def oc_image_mirror_command(auth: str, mapping: str, *, skip_missing: bool = False,
                            keep_manifest_list: bool = False) -> str:
    """``oc image mirror -f``: the one spelling of the samples copy by hand (``auth`` and ``mapping`` as the
    shell should read them: quoted, or a ``${VARIABLE}``). ``skip_missing``: the plan's options.skip_missing,
    the procedure's answer to "unable to retrieve source image" (a sample image the source no longer has)."""
    command = f"oc image mirror -a {auth} -f {mapping}"
    if keep_manifest_list:
        command += " --keep-manifest-list=true"
    return command + (" --skip-missing" if skip_missing else "")


def plan_samples(streams: list[SampleStream], mirror: str, include: list[str] | None = None,
                 skip: list[str] | None = None, *, mapping_file: str = SAMPLES_MAPPING_FILE,
                 auth_file: str = "${LOCAL_SECRET_JSON}", skip_missing: bool = False) -> SamplesPlan:
    """Which streams to mirror, the mapping for them, and the operator Config that matches.

    ``include`` None (or empty) means every stream; ``skip`` removes streams. Every stream not mirrored goes into
    ``skippedImagestreams`` so the operator does not try (and fail) to import it from the mirror.
    ``skip_missing``: the printed ``oc image mirror`` skips images the source no longer has, as the copy does.
    """
    mirror = check_mirror(mirror)
    if not streams:
        raise ImageStreamError("no image streams to plan: load some first")
    by_name = {s.name: s for s in streams}
    from_configmap = any(s.from_configmap for s in streams)
    include_names = _names(include) or None  # an empty list (as a plan file holds it) also means "all"
    skip_names = _names(skip)
    # With the config map as source the jenkins* streams are absent by design: they can be skipped by name
    # (they go into skippedImagestreams as given), but not mirrored without their ImageStream files.
    absent = _configmap_absent(by_name, from_configmap)
    _check_jenkins_includes(include_names or [], absent)
    omitted_ok = {n for n in skip_names if absent(n)}
    unknown = [n for n in [*(include_names or []), *skip_names] if n not in by_name and n not in omitted_ok]
    if unknown:
        known = ", ".join(sorted(by_name))
        raise ImageStreamError(f"unknown image stream(s): {', '.join(dict.fromkeys(unknown))} (known: {known})")
    both = [n for n in (include_names or []) if n in skip_names]
    if both:
        raise ImageStreamError(f"image stream(s) both included and skipped: {', '.join(both)}; choose one")
    chosen = set(by_name) if include_names is None else set(include_names)
    included = sorted(n for n in chosen if n not in skip_names)
    # The shipped jenkins streams the map leaves out are skipped by default: otherwise the operator would
    # try to import them from the mirror, which does not have them, and keep failing.
    default_skipped = [n for n in OPERATOR_JENKINS_STREAMS if absent(n)]
    skipped = sorted((set(by_name) - set(included)) | omitted_ok | set(default_skipped))

    notes: list[str] = []
    if default_skipped:
        notes.append(_jenkins_note(default_skipped))

    # Keyed by destination: that is what the operator pulls. One image written two ways ("ruby:2.5" and
    # "docker.io/library/ruby:2.5") lands on two destinations under samplesRegistry, and both must exist.
    by_destination: dict[str, tuple[str, str]] = {}  # destination -> (source as written, normalised source)
    for name in included:
        stream = by_name[name]
        for problem in stream.problems:
            notes.append(f"not mirrored: {problem}")
        for spec in stream.pull_specs:
            destination = mirror_pull_spec(spec, mirror)
            if destination == spec:
                notes.append(f"{name}: {spec} is already on the mirror; nothing to copy")
                continue
            try:
                key = str(parse_reference(spec))
                parse_reference(destination)
            except ReferenceFormatError as exc:
                notes.append(f"{name}: cannot mirror {spec}: {exc}")
                continue
            other = by_destination.get(destination)
            if other is None:
                by_destination[destination] = (spec, key)
            elif other[1] != key:
                notes.append(f"{other[0]} and {spec} both become {destination} under samplesRegistry; "
                             f"copied from {other[0]} only")
            # else: the same image by several tags or streams, copied once
    mapping = sorted((src, dst) for dst, (src, _) in by_destination.items())

    config_patch = {"spec": {"samplesRegistry": mirror, "skippedImagestreams": skipped, "managementState": "Managed"}}
    patch_json = json.dumps(config_patch, separators=(",", ":"))
    commands = [
        oc_image_mirror_command(shell_quote(auth_file), shell_quote(mapping_file), skip_missing=skip_missing),
        f"oc patch {CONFIG_RESOURCE} --type=merge --patch {shell_quote(patch_json)}",
    ]
    return SamplesPlan(mirror, included, skipped, mapping, config_patch, commands, notes)


def samples_layout_name(source: Location) -> str:
    """A samples image's name in an OCI layout: its full source reference, so it can be found again
    (``skopeo inspect oci:DIR:registry.redhat.io/ubi9/ruby-33:latest``) and the upload side, which
    plans the same streams, knows every name without any record."""
    if isinstance(source, RegistryLocation):
        return str(source.ref)
    return source.name


@dataclass
class StreamSizes:
    """Compressed bytes each stream's images take (shared layers once per stream), and the images that
    could not be read (source, reason)."""

    sizes: dict[str, int]
    unreadable: list[tuple[str, str]]


async def measure_streams(session: RegistrySession, streams: list[SampleStream]) -> StreamSizes:
    """A dry run over every stream's images: manifests only, so it is quick, and no bytes move. Sizes
    come from the sources alone: an empty scratch layout stands in for the mirror, so neither its login
    nor its contents matter."""

    everything = plan_samples(streams, "mirror.invalid")
    options = CopyOptions(dry_run=True, skip_missing=True, continue_on_error=True)
    with tempfile.TemporaryDirectory(prefix="mirror-wizard-sizes-") as scratch:
        tasks = [CopyTask(task.source, LayoutLocation(Path(scratch), f"image-{n}"))
                 for n, task in enumerate(everything.tasks())]
        result = await copy_images(tasks, session, options)
    blobs_by_source = {str(image.task.source): image.blobs() for image in result.images}
    sizes: dict[str, int] = {}
    for stream in streams:
        blobs: dict[str, int] = {}
        for spec in stream.pull_specs:
            blobs.update(blobs_by_source.get(str(parse_reference(spec)), {}))
        sizes[stream.name] = sum(blobs.values())
    unreadable = [(f.source, str(f.error)) for f in result.failures]
    missing = result.images_skipped_missing
    unreadable += [("", "not found")] * missing
    return StreamSizes(sizes, unreadable)
