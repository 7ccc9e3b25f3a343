"""Prove that a plan's mirror and the cluster are ready, instead of hoping: ``mirror-wizard verify``.

Mirror side (always; HEAD and GET only, pull scope only):

* every release image the cluster pulls is on the mirror **by digest**, found the way CRI-O finds it
  (the longest matching source prefix of the plan's mirror sets rewritten to its mirror), and the
  release's tag on the mirror names the release digest;
* every image stream tag the plan keeps is on ``samplesRegistry`` **by tag** after the samples operator's
  own host rewrite, with the source's digest when the source can be reached;
* the streams left out are exactly the ones in ``skippedImagestreams``;
* the mirror's certificate verifies with the plan's CA, with a SAN for the host the cluster uses.

Cluster side (``cluster=True``, through the admin's ``oc``, read-only): trust (image.config +
registry-config ConfigMap), mirror sets (IDMS / ICSP), the samples operator's Config and conditions,
the imports in ``openshift``, machine config pool roll-out, and the node-side command to confirm pulls.

:func:`run_checks` is an async generator yielding each :class:`Check` as it completes (mirror side
first), so a screen can show them one by one; :func:`verify` collects them into a :class:`Report`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .errors import Cancelled, MirrorError, ReferenceFormatError, ToolError
from .filenames import SAMPLES_CONFIG_FILE
from .mirror_sets import crio_pull_specs
from .oc import NotLoggedIn, Oc, ResourceMissing
from .plan import Plan, ReleaseMode, SamplesSource
from .reference import ImageReference, parse_reference
from .registry import RegistrySession
from .release_tag import release_image_in_mirror
from .text import plural, shell_quote

if TYPE_CHECKING:
    from .mirror_config import MirrorInstructions
    from .release import ReleaseInfo
    from .samples import SamplesPlan, SampleStream

PARALLEL_HEADS = 16
MAX_ITEMS = 200  # a list longer than this is cut (with a count): a report, not a dump


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"  # not checked (no such part in the plan, oc missing, or a manual step)

    @property
    def symbol(self) -> str:
        return {"pass": "✓", "fail": "✗", "skip": "–"}[self.value]


class Side(StrEnum):
    MIRROR = "mirror"
    CLUSTER = "cluster"


@dataclass
class Check:
    """One verdict. ``detail`` is the reason in one line, ``fix`` the exact command(s) to run, ``items``
    one line per failing thing (a missing image, a failed import) when there are several."""

    name: str
    title: str
    side: Side
    status: Status
    detail: str
    fix: str | None = None
    items: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status is Status.FAIL

    def line(self) -> str:
        text = f"{self.status.symbol} {self.title}: {self.detail}"
        if self.fix:
            text += f" — fix: {self.fix}"
        return text

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["side"] = self.side.value
        data["status"] = self.status.value
        return data


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every check that was performed passed (– lines do not count)."""
        return not any(c.failed for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [c.as_dict() for c in self.checks]}


# -- the expected state, computed once from the plan ----------------------------------------------


@dataclass
class Expected:
    """What the plan says the mirror and the cluster should hold. ``*_error`` says why a part could not
    be worked out (its checks then fail with that reason rather than vanish)."""

    plan: Plan
    plan_file: str = "PLAN"
    release: ReleaseInfo | None = None
    release_error: str | None = None
    release_from_mirror: bool = False   # the source was unreachable: read back from the mirror instead
    releases: list[ReleaseInfo] = field(default_factory=list)  # every release of an update path (release: the last)
    instructions: MirrorInstructions | None = None
    samples: SamplesPlan | None = None
    streams: list[SampleStream] = field(default_factory=list)  # all loaded
    samples_error: str | None = None
    mirrored_streams: dict[str, bool] = field(default_factory=dict)  # stream → complete on the mirror

    @property
    def mirror(self) -> str:
        return self.plan.mirror.registry

    @property
    def samples_registry(self) -> str:
        return (self.plan.samples.mirror if self.plan.samples and self.plan.samples.mirror else self.mirror)

    def release_sources(self) -> list[tuple[str, list[str]]]:
        return self.instructions.grouped() if self.instructions is not None else []

    def mirror_sets(self) -> list[tuple[str, str]]:
        """(source, mirror) pairs of the IDMS the plan writes: what the cluster is told to use."""
        return list(self.instructions.sources) if self.instructions is not None else []


def open_session(plan: Plan) -> AbstractAsyncContextManager[RegistrySession]:
    """The one place a verify opens its registry session (the plan's auth file, CA and source mirrors),
    so a change in how sessions are made from plans is a change here only."""
    from .orchestrate import open_session as open_plan_session

    return open_plan_session(plan)


async def _load_release(expected: Expected, session: RegistrySession) -> None:
    plan = expected.plan
    if plan.release is None:
        return
    from . import run
    from .mirror_config import release_mirror_instructions

    try:
        prepared = await run.prepare_releases(plan, session, signatures=False)
        expected.release, expected.instructions, expected.releases = \
            prepared.release, prepared.instructions, prepared.releases
        return
    except MirrorError as exc:
        source_error = str(exc)
    # A disconnected mirror host cannot read the source: read the release back from the mirror (the tag
    # the plan gives it), keeping the source repository the cluster asks for.
    release = plan.release
    mirror_image = None
    if release.target and release.version:  # where the copy put it (core.release_tag)
        mirror_image = release_image_in_mirror(release.target, release.version, release.architecture,
                                               release.to_release_image)
    if not mirror_image or not release.source or not release.target:
        expected.release_error = f"cannot read the release: {source_error}"
        return
    from .release import load_release

    try:
        info = await load_release(session, mirror_image)
        info.source_repository = parse_reference(release.source).name
        expected.instructions = release_mirror_instructions(info, release.target, release.to_release_image)
        expected.release = info
        expected.release_from_mirror = True
    except MirrorError as exc:
        expected.release_error = f"cannot read the release from its source ({source_error}) nor from the mirror ({exc})"


def load_samples(expected: Expected, streams: list[SampleStream] | None = None) -> None:
    """The plan's image streams and samples plan into ``expected`` (a failure is kept as samples_error).
    ``streams``: already read (samples source ``release``), else read from the plan's files."""
    plan = expected.plan
    choice = plan.samples
    if choice is None:
        return
    from .run import load_sample_streams, samples_plan_for

    try:
        streams = streams if streams is not None else load_sample_streams(plan)
        expected.streams = streams
        expected.samples = samples_plan_for(plan, streams)
    except MirrorError as exc:
        expected.samples_error = f"cannot work out the plan's image streams: {exc}"


async def _load_release_samples(expected: Expected, session: RegistrySession) -> None:
    """Samples source ``release``: the streams of the release the plan mirrors (its last, for a path),
    read as the copy read them; no release, or an unreadable one, is the samples' error too."""
    from .run import release_sample_streams

    releases = expected.releases or ([expected.release] if expected.release is not None else [])
    try:
        streams = await release_sample_streams(expected.plan, session, releases)
    except MirrorError as exc:
        reason = expected.release_error or str(exc)
        expected.samples_error = f"cannot read the image streams from the release: {reason}"
        return
    load_samples(expected, streams)


async def expected_from_plan(plan: Plan, session: RegistrySession, plan_file: str = "PLAN") -> Expected:
    expected = Expected(plan, plan_file=plan_file)
    await _load_release(expected, session)
    if plan.samples is not None and plan.samples.source == SamplesSource.RELEASE:
        await _load_release_samples(expected, session)
    else:
        load_samples(expected)
    return expected


# -- CRI-O's view of mirror sets --------------------------------------------------------------------


def crio_rewrite(pull_spec: str, mirror_sets: list[tuple[str, str]]) -> list[str]:
    """Where CRI-O looks for a by-digest pull of ``pull_spec`` (core.mirror_sets: longest source prefix
    at a path boundary, as registries.conf; only its mirrors, in order)."""
    return crio_pull_specs(pull_spec, mirror_sets)


def _covered_by(source: str, wanted_mirror: str, cluster_sets: list[tuple[str, str]]) -> bool:
    """Does the cluster send pulls from ``source`` to ``wanted_mirror`` (longest prefix, as CRI-O)?"""
    digest = "@sha256:" + "0" * 64
    return any(spec.rsplit("@", 1)[0] == wanted_mirror for spec in crio_rewrite(source + digest, cluster_sets))


async def _head(session: RegistrySession, ref: ImageReference) -> str | None:
    """The manifest digest at ``ref`` (pull scope: verify never asks for push rights), None when absent."""
    client = session.client(ref.registry)
    return await client.manifest_digest(ref.repository, ref.reference, push_scope=False)


def _cut(items: list[str]) -> list[str]:
    if len(items) <= MAX_ITEMS:
        return items
    return items[:MAX_ITEMS] + [f"… and {len(items) - MAX_ITEMS} more"]


def _rerun(expected: Expected) -> str:
    return f"mirror-wizard run {shell_quote(expected.plan_file)}"


# -- mirror side ----------------------------------------------------------------------------------


async def check_release(expected: Expected, session: RegistrySession) -> Check:
    title = "release images on the mirror"
    name = "release-images"
    if expected.plan.release is None:
        return Check(name, title, Side.MIRROR, Status.SKIP, "the plan mirrors no release")
    if expected.release_error:
        return Check(name, title, Side.MIRROR, Status.FAIL, expected.release_error,
                     fix=f"check the plan's release.source and the registries' logins, then {_rerun(expected)}")
    info = expected.release
    if expected.instructions is None or info is None:  # prepare_release sets both, or neither
        return Check(name, title, Side.MIRROR, Status.SKIP,
                     "the plan copies the release to a directory only (no release.target to check)")
    sets = expected.mirror_sets()
    # Every release of an update path: the cluster pulls each one's images as it updates through them.
    infos = expected.releases or [info]
    by_spec: dict[str, str] = {}
    for each in infos:
        prefix = f"{each.version} " if len(infos) > 1 else ""
        by_spec.setdefault(f"{expected.instructions.sources[0][0]}@{each.digest}", f"{prefix}release image")
        for component, spec in sorted(each.components.items()):
            by_spec.setdefault(spec, f"{prefix}{component}")  # a component shared by releases is checked once
    images = [(label, spec) for spec, label in by_spec.items()]
    limit = asyncio.Semaphore(PARALLEL_HEADS)

    async def one(label: str, spec: str) -> str | None:
        try:
            ref = parse_reference(spec, default_tag=None)
        except ReferenceFormatError as exc:
            return f"{label}: {exc}"
        if not ref.digest:
            return f"{label}: {spec} is not pinned by digest; CRI-O mirrors only by-digest pulls"
        candidates = crio_rewrite(spec, sets)
        if not candidates:
            return f"{label}: no mirror set covers {ref.name}"
        errors: list[str] = []
        for candidate in candidates:
            try:
                async with limit:
                    found = await _head(session, parse_reference(candidate, default_tag=None))
            except MirrorError as exc:
                errors.append(str(exc))
                continue
            if found == ref.digest:
                return None
            errors.append(f"{candidate} is missing" if found is None else f"{candidate} answered {found}")
        return f"{label}: {'; '.join(errors)}"

    problems = [p for p in await asyncio.gather(*(one(label, spec) for label, spec in images)) if p]
    total = len(images)
    if problems:
        return Check(name, title, Side.MIRROR, Status.FAIL,
                     f"{len(problems)} of {total} images are not on the mirror by digest", fix=_rerun(expected),
                     items=_cut(problems))
    how = "read back from the mirror (source unreachable)" if expected.release_from_mirror else "from the source"
    versions = ", ".join(each.version for each in infos)
    # Said as the Release step counts them (components), so 13 there and 14 here never look like a miss.
    release_images = sum(1 for label, _ in images if label.endswith("release image"))
    parts = f"{plural(total - release_images, 'component')} + {plural(release_images, 'release image')}"
    return Check(name, title, Side.MIRROR, Status.PASS,
                 f"all {total} images of {versions} ({parts}; {how}) are "
                 "on the mirror by digest, through the plan's mirror sets")


async def check_release_tag(expected: Expected, session: RegistrySession) -> Check:
    title = "release tag on the mirror"
    name = "release-tag"
    if expected.plan.release is None or expected.instructions is None or expected.release is None:
        reason = expected.release_error or "no release on the mirror to check"
        status = Status.FAIL if expected.release_error else Status.SKIP
        return Check(name, title, Side.MIRROR, status, reason)
    info = expected.release
    image = expected.instructions.release_image
    if image is None:  # release_mirror_instructions always names it
        return Check(name, title, Side.MIRROR, Status.SKIP, "the mirror sets name no release image to check")
    try:
        found = await _head(session, parse_reference(image, default_tag=None))
    except MirrorError as exc:
        return Check(name, title, Side.MIRROR, Status.FAIL, f"{image}: {exc}", fix=_rerun(expected))
    if found is None:
        return Check(name, title, Side.MIRROR, Status.FAIL, f"{image} does not exist", fix=_rerun(expected))
    if found != info.digest:
        return Check(name, title, Side.MIRROR, Status.FAIL,
                     f"{image} names {found}, not the release {info.digest}", fix=_rerun(expected))
    note = " (not compared with the source: unreachable)" if expected.release_from_mirror else ""
    return Check(name, title, Side.MIRROR, Status.PASS, f"{image} resolves to {info.digest}{note}")


def _stream_destinations(expected: Expected, samples: SamplesPlan) -> dict[str, list[tuple[str, str]]]:
    """stream → [(source pull spec, what the operator pulls once samplesRegistry is set)] for every stream
    the plan keeps, following the operator's own rewrite (both Red Hat hosts end on the mirror)."""
    from .samples import mirror_pull_spec

    registry = samples.mirror
    by_name = {s.name: s for s in expected.streams}
    out: dict[str, list[tuple[str, str]]] = {}
    for stream_name in samples.included:
        pairs = []
        for spec in by_name[stream_name].pull_specs:
            destination = mirror_pull_spec(spec, registry)
            if destination != spec:
                pairs.append((spec, destination))
        out[stream_name] = pairs
    return out


async def check_samples(expected: Expected, session: RegistrySession) -> Check:
    title = "samples images on samplesRegistry"
    name = "samples-images"
    if expected.plan.samples is None:
        return Check(name, title, Side.MIRROR, Status.SKIP, "the plan mirrors no image streams")
    if expected.samples_error or expected.samples is None:
        return Check(name, title, Side.MIRROR, Status.FAIL, expected.samples_error or "the image streams were not loaded",
                     fix="correct the plan's samples.paths (or samples.source)")
    destinations = _stream_destinations(expected, expected.samples)
    limit = asyncio.Semaphore(PARALLEL_HEADS)
    # (problem or None, compared with the source?, pullable by tag at all?) per (source, destination)
    Answer = tuple[str | None, str, bool]

    async def one(source: str, destination: str) -> Answer:
        try:
            dst = parse_reference(destination)
            src = parse_reference(source)
        except ReferenceFormatError as exc:
            return str(exc), "no", False
        try:
            async with limit:
                found = await _head(session, dst)
        except MirrorError as exc:
            return f"{destination}: {exc}", "no", False
        if found is None:
            return f"{destination} is missing", "no", False
        if dst.digest and found != dst.digest:
            return f"{destination} answered {found}", "no", True
        try:
            async with limit:
                wanted = await _head(session, session.resolve_source(src))
        except MirrorError:
            wanted = None
        if wanted is None:
            return None, "not compared", True
        if wanted != found:
            return f"{destination} is {found} but {source} is {wanted} (the tag points elsewhere)", "yes", True
        return None, "yes", True

    pairs = sorted({pair for items in destinations.values() for pair in items})
    answers = await asyncio.gather(*(one(src, dst) for src, dst in pairs))
    results = dict(zip(pairs, answers, strict=True))
    problems: list[str] = []
    for stream_name, items in sorted(destinations.items()):
        bad = [results[pair][0] for pair in items if results[pair][0]]
        # "mirrored" for skippedImagestreams means pullable: a wrong digest is this check's problem only
        expected.mirrored_streams[stream_name] = bool(items) and all(results[pair][2] for pair in items)
        problems += [f"{stream_name}: {text}" for text in bad]
    uncompared = sum(1 for _, how, _ in answers if how == "not compared")
    total = len(pairs)
    if problems:
        return Check(name, title, Side.MIRROR, Status.FAIL,
                     f"{sum(1 for a in answers if a[0])} of {total} images are missing or wrong on "
                     f"{expected.samples_registry}",
                     fix=_rerun(expected), items=_cut(problems))
    note = f"; {uncompared} not compared with their source (unreachable)" if uncompared else \
        "; every digest matches its source"
    return Check(name, title, Side.MIRROR, Status.PASS,
                 f"all {total} images of {len(destinations)} streams pull by tag from {expected.samples_registry}{note}")


def _written_skipped(expected: Expected) -> tuple[list[str], str]:
    """The skippedImagestreams the admin is about to apply: the plan's written samples-operator-config.yaml
    when there is one (it may be older than the plan), else the plan's own list."""
    path = Path(expected.plan.output_dir) / SAMPLES_CONFIG_FILE
    try:
        small = path.is_file() and path.stat().st_size < (1 << 20)
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if small else None
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        data = None
    spec = data.get("spec") if isinstance(data, dict) else None
    skipped = spec.get("skippedImagestreams") if isinstance(spec, dict) else None
    if isinstance(skipped, list) and all(isinstance(s, str) for s in skipped):
        return skipped, str(path)
    return (list(expected.samples.skipped) if expected.samples is not None else []), "the plan"


def check_skipped(expected: Expected) -> Check:
    title = "streams left out are skipped"
    name = "samples-skipped"
    if expected.plan.samples is None or expected.samples is None:
        return Check(name, title, Side.MIRROR, Status.SKIP,
                     "the plan mirrors no image streams" if expected.plan.samples is None else
                     (expected.samples_error or "no image streams"))
    skipped, where = _written_skipped(expected)
    skipped_set = set(skipped)
    every = {s.name for s in expected.streams} | set(expected.samples.skipped)
    problems: list[str] = []
    for stream_name in sorted(every):
        on_mirror = expected.mirrored_streams.get(stream_name, False)
        if stream_name in skipped_set and on_mirror:
            problems.append(f"{stream_name}: mirrored, yet skipped in {where} (the operator will not create it)")
        elif stream_name not in skipped_set and not on_mirror:
            why = "not (fully) on the mirror" if stream_name in expected.samples.included else "left out by the plan"
            problems.append(f"{stream_name}: {why} and not in skippedImagestreams (its imports will fail)")
    fix = (f"{_rerun(expected)}  # mirrors what is missing and writes {SAMPLES_CONFIG_FILE} again; "
           "or add the stream to samples.skip in the plan")
    if problems:
        return Check(name, title, Side.MIRROR, Status.FAIL,
                     f"{len(problems)} stream(s) neither mirrored nor skipped, or skipped although mirrored",
                     fix=fix, items=_cut(problems))
    return Check(name, title, Side.MIRROR, Status.PASS,
                 f"{len(expected.samples.included)} mirrored, {len(skipped_set)} in skippedImagestreams ({where})")


async def check_certificate(expected: Expected) -> Check:
    title = "mirror certificate"
    name = "mirror-certificate"
    plan = expected.plan
    if not plan.mirror.ca_file:
        return Check(name, title, Side.MIRROR, Status.SKIP,
                     "the plan names no CA file (the mirror's certificate is trusted through the system store)")
    from .ca import check_registry_ca

    hosts = list(dict.fromkeys([plan.mirror.registry, expected.samples_registry if plan.samples else plan.mirror.registry]))
    problems: list[str] = []
    for host in hosts:
        try:
            result = await check_registry_ca(host, plan.mirror.ca_file)
        except MirrorError as exc:
            problems.append(f"{host}: {exc}")
            continue
        problems += [f"{host}: {p}" for p in result.problems]
    if problems:
        return Check(name, title, Side.MIRROR, Status.FAIL, problems[0] if len(problems) == 1 else
                     f"{len(problems)} problems with the mirror's certificate",
                     fix=(f"mirror-wizard ca check --registry {shell_quote(hosts[0])} "
                          f"--ca-file {shell_quote(plan.mirror.ca_file)} --fetch"),
                     items=problems if len(problems) > 1 else [])
    return Check(name, title, Side.MIRROR, Status.PASS,
                 f"{', '.join(hosts)}: the certificate verifies with {plan.mirror.ca_file} and its SAN names the host")


async def check_signatures(expected: Expected, session: RegistrySession) -> Check:
    """The signature ConfigMap file of each release (where the run wrote it) names the release digest and
    its signatures verify, offline, against the keys the release payload carries."""
    from .errors import SignatureError
    from .run import signatures_folder
    from .signatures import (
        expected_identities,
        read_verification_config,
        signature_file_name,
        verify_release,
    )

    name, title = "release-signatures", "release signatures"
    if expected.plan.release is None:
        return Check(name, title, Side.MIRROR, Status.SKIP, "the plan mirrors no release")
    releases = expected.releases or ([expected.release] if expected.release is not None else [])
    if not releases:
        return Check(name, title, Side.MIRROR, Status.FAIL, expected.release_error or "the release could not be read")
    folder = signatures_folder(expected.plan)
    problems: list[str] = []
    unchecked: list[str] = []
    good = 0
    for info in releases:
        config = await read_verification_config(session, info)
        if config is None:
            unchecked.append(info.version)
            continue
        path = folder / signature_file_name(info.digest)
        if not path.is_file():
            problems.append(f"{info.version}: no {path}")
            continue
        try:
            await verify_release(info.digest, config, signatures_dir=folder, identities=expected_identities(info))
            good += 1
        except (SignatureError, MirrorError) as exc:
            problems.append(f"{info.version}: {exc}")
    if problems:
        return Check(name, title, Side.MIRROR, Status.FAIL,
                     f"{len(problems)} of {len(releases)} release(s) without verified signatures in {folder}",
                     fix=_rerun(expected), items=problems[:MAX_ITEMS])
    if not good:
        return Check(name, title, Side.MIRROR, Status.SKIP,
                     f"release {', '.join(unchecked)} carries no release-verification ConfigMap: nothing to verify")
    detail = f"{good} signature ConfigMap(s) in {folder} name their release digest and verify"
    if unchecked:
        detail += f"; {', '.join(unchecked)} carries no verification ConfigMap"
    return Check(name, title, Side.MIRROR, Status.PASS, detail)


# -- cluster side -------------------------------------------------------------------------------------


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    status = obj.get("status")
    items = status.get("conditions") if isinstance(status, dict) else None
    out: dict[str, dict[str, Any]] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("type"), str):
            out[item["type"]] = item
    return out


def _text(value: Any, limit: int = 500) -> str:
    """A string from the cluster, on one line and bounded (it is printed to the admin)."""
    text = " ".join(str(value or "").split())
    return text if len(text) <= limit else text[:limit] + "…"


async def check_trust(expected: Expected, oc: Oc) -> Check:
    title = "cluster trusts the mirror's CA"
    name = "cluster-trust"
    plan = expected.plan
    if not plan.mirror.ca_file:
        return Check(name, title, Side.CLUSTER, Status.SKIP, "the plan names no CA file for the mirror")
    from .ca import ca_manifests, configmap_key, parse_ca_pem
    from .errors import CertificateError
    from .userfiles import read_user_file

    pem = read_user_file(plan.mirror.ca_file, "CA file", CertificateError, text=True, inside="the PEM file")
    manifests = ca_manifests(plan.mirror.registry, pem, ca_path=plan.mirror.ca_file)
    create, patch = manifests.commands
    key = configmap_key(plan.mirror.registry)
    image = await oc.get("image.config.openshift.io", "cluster")
    spec = _object(image.get("spec"))
    trusted = spec.get("additionalTrustedCA")
    cm_name = trusted.get("name") if isinstance(trusted, dict) else None
    if not isinstance(cm_name, str) or not cm_name:
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     "image.config.openshift.io/cluster has no spec.additionalTrustedCA", fix=f"{create} && {patch}")
    try:
        configmap = await oc.get("configmap", cm_name, namespace="openshift-config")
    except ResourceMissing:
        try:  # the ConfigMap the cluster already names, so only the missing part is made
            create = ca_manifests(plan.mirror.registry, pem, name=cm_name, ca_path=plan.mirror.ca_file).commands[0]
        except MirrorError:
            pass
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     f"additionalTrustedCA names ConfigMap {_text(cm_name, 253)}, which does not exist in "
                     "openshift-config", fix=create)
    data = _object(configmap.get("data"))
    set_data = (f"oc set data configmap/{shell_quote(cm_name)} -n openshift-config "
                f"--from-file={key}={shell_quote(plan.mirror.ca_file)}")
    if key not in data:
        keys = ", ".join(sorted(map(str, data))) or "no keys"
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     f"ConfigMap {cm_name} has {keys} but not {key} (host..port, the key the cluster looks up)",
                     fix=set_data)
    try:
        on_cluster = {c.fingerprint_sha256 for c in parse_ca_pem(str(data[key]), f"ConfigMap {cm_name} key {key}")}
    except CertificateError as exc:
        return Check(name, title, Side.CLUSTER, Status.FAIL, str(exc), fix=set_data)
    ours = {c.fingerprint_sha256 for c in parse_ca_pem(pem, plan.mirror.ca_file)}
    if not ours <= on_cluster:
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     f"ConfigMap {cm_name} key {key} holds another certificate than {plan.mirror.ca_file}", fix=set_data)
    return Check(name, title, Side.CLUSTER, Status.PASS,
                 f"additionalTrustedCA → ConfigMap {cm_name}, key {key} holds the plan's CA")


async def check_mirror_sets(expected: Expected, oc: Oc, version: str | None) -> Check:
    title = "cluster mirror sets cover the release"
    name = "cluster-mirror-sets"
    if expected.plan.release is None:
        return Check(name, title, Side.CLUSTER, Status.SKIP, "the plan mirrors no release")
    if expected.instructions is None:
        return Check(name, title, Side.CLUSTER, Status.FAIL if expected.release_error else Status.SKIP,
                     expected.release_error or "the plan names no release.target")
    pairs: list[tuple[str, str]] = []
    kinds: list[str] = []
    for kind, key in (("imagedigestmirrorsets", "imageDigestMirrors"),
                      ("imagecontentsourcepolicies", "repositoryDigestMirrors")):
        items = await oc.items(kind)
        if items:
            kinds.append(f"{len(items)} {kind}")
        for item in items:
            spec = _object(item.get("spec"))
            for entry in spec.get(key) or []:
                if not isinstance(entry, dict) or not isinstance(entry.get("source"), str):
                    continue
                for mirror in entry.get("mirrors") or []:
                    if isinstance(mirror, str):
                        pairs.append((entry["source"], mirror))
    uncovered = []
    for source, mirrors in expected.release_sources():
        if not any(_covered_by(source, m, pairs) for m in mirrors):
            uncovered.append(f"{source} → {', '.join(mirrors)}")
    old = _older_than(version, (4, 13))
    out = Path(expected.plan.output_dir)
    fix = f"oc apply -f {shell_quote(str(out / ('imageContentSourcePolicy.yaml' if old else 'imageDigestMirrorSet.yaml')))}"
    if uncovered:
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     f"{plural(len(uncovered), 'release source')} not sent to the mirror by any "
                     f"{'ImageContentSourcePolicy' if old else 'ImageDigestMirrorSet or ImageContentSourcePolicy'}",
                     fix=fix, items=_cut(uncovered))
    return Check(name, title, Side.CLUSTER, Status.PASS,
                 f"every release source is mirrored ({', '.join(kinds)})")


def _older_than(version: str | None, bound: tuple[int, int]) -> bool:
    if not version:
        return False
    parts = version.split(".")
    try:
        return (int(parts[0]), int(parts[1])) < bound
    except (IndexError, ValueError):
        return False


async def check_samples_config(expected: Expected, oc: Oc) -> tuple[Check, dict[str, Any] | None]:
    title = "samples operator Config"
    name = "samples-config"
    if expected.plan.samples is None:
        return Check(name, title, Side.CLUSTER, Status.SKIP, "the plan mirrors no image streams"), None
    if expected.samples is None:
        return Check(name, title, Side.CLUSTER, Status.FAIL, expected.samples_error or "no streams"), None
    from .samples import CONFIG_RESOURCE

    fix = expected.samples.commands[1]
    try:
        config = await oc.get(CONFIG_RESOURCE)
    except ResourceMissing:
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     f"{CONFIG_RESOURCE} does not exist (the openshift-samples capability is disabled?)",
                     fix="oc get clusterversion version -o jsonpath='{.status.capabilities.enabledCapabilities}'"), None
    spec = _object(config.get("spec"))
    problems: list[str] = []
    state = spec.get("managementState")
    if state != "Managed":
        problems.append(f"managementState is {_text(state) or 'unset'}, not Managed (no samples are installed)")
    registry = spec.get("samplesRegistry")
    if registry != expected.samples.mirror:
        problems.append(f"samplesRegistry is {_text(registry) or 'unset'}, not {expected.samples.mirror}")
    skipped = spec.get("skippedImagestreams")
    skipped_set = {s for s in skipped if isinstance(s, str)} if isinstance(skipped, list) else set()
    wanted = set(expected.samples.skipped)
    if wanted - skipped_set:
        problems.append("not skipped although not mirrored: " + ", ".join(sorted(wanted - skipped_set)))
    mirrored = skipped_set & set(expected.samples.included)
    if mirrored:
        problems.append("skipped although mirrored: " + ", ".join(sorted(mirrored)))
    if problems:
        return Check(name, title, Side.CLUSTER, Status.FAIL, problems[0] if len(problems) == 1 else
                     f"{len(problems)} settings differ from the plan", fix=fix,
                     items=problems if len(problems) > 1 else []), config
    return Check(name, title, Side.CLUSTER, Status.PASS,
                 f"Managed, samplesRegistry {registry}, {plural(len(skipped_set), 'skipped stream')} as planned"), config


def check_samples_status(expected: Expected, config: dict[str, Any] | None) -> Check:
    title = "samples operator status"
    name = "samples-status"
    if config is None:
        return Check(name, title, Side.CLUSTER, Status.SKIP, "no samples operator Config to read")
    conditions = _conditions(config)
    problems: list[str] = []
    healthy = {"ConfigurationValid": "True", "SamplesExist": "True", "ImportImageErrorsExist": "False",
               "ImageChangesInProgress": "False", "RemovePending": "False"}
    for kind, good in healthy.items():
        condition = conditions.get(kind)
        status = condition.get("status") if condition else None
        if condition is None and kind in ("ImportImageErrorsExist", "ImageChangesInProgress", "RemovePending"):
            continue  # absent means not raised
        if status != good:
            message = _text((condition or {}).get("message")) or _text((condition or {}).get("reason"))
            problems.append(f"{kind} is {status or 'missing'}" + (f": {message}" if message else ""))
    status_block = _object(config.get("status"))
    if status_block.get("managementState") not in (None, "Managed"):
        problems.append(f"status.managementState is {_text(status_block.get('managementState'))}")
    if problems:
        return Check(name, title, Side.CLUSTER, Status.FAIL, problems[0] if len(problems) == 1 else
                     f"{len(problems)} conditions are not healthy",
                     fix="oc get configs.samples.operator.openshift.io/cluster -o yaml  # read status.conditions; "
                         "run verify again once imports settle",
                     items=problems if len(problems) > 1 else [])
    version = _text(status_block.get("version"))
    return Check(name, title, Side.CLUSTER, Status.PASS,
                 f"samples installed{' at ' + version if version else ''}, no import errors, nothing in progress")


def import_failure_cause(reason: str, message: str, mirror: str) -> str:
    """The likely cause of a failed import, from the image importer's reason and message."""
    text = message.lower()
    if mirror and mirror.lower() not in text and ("/" in text):
        return "imports from elsewhere than the mirror: samplesRegistry is not applied to this stream yet"
    if "x509" in text or "certificate" in text:
        return "CA: the cluster does not trust the mirror's certificate (registry-config, additionalTrustedCA)"
    if reason.lower() == "unauthorized" or "may not have access" in text or "credentials" in text \
            or "incorrect username" in text or "unauthorized" in text:
        return "auth: add the mirror's login to the global pull secret (openshift-config/pull-secret)"
    if reason.lower() == "notfound" or "not found" in text or "manifest unknown" in text:
        if "name unknown" in text or "repository" in text:
            return "missing image: the repository is not on the mirror; mirror it or skip the stream"
        return "missing tag: this tag is not on the mirror; mirror it or skip the stream"
    if "no such host" in text or "connection refused" in text or "i/o timeout" in text or "timeout" in text:
        return "network: the cluster cannot reach the mirror (DNS, firewall, proxy)"
    if "http response to https client" in text or "http only" in text:
        return "the mirror serves plain HTTP; serve it over TLS"
    return "see the message"


async def check_imports(expected: Expected, oc: Oc, config: dict[str, Any] | None) -> Check:
    title = "image stream imports in openshift"
    name = "samples-imports"
    if expected.plan.samples is None:
        return Check(name, title, Side.CLUSTER, Status.SKIP, "the plan mirrors no image streams")
    from .samples import MANAGED_LABEL

    skipped: set[str] = set(expected.samples.skipped) if expected.samples else set()
    spec = (config or {}).get("spec")
    if isinstance(spec, dict) and isinstance(spec.get("skippedImagestreams"), list):
        skipped = {s for s in spec["skippedImagestreams"] if isinstance(s, str)}
    streams = await oc.items("imagestreams", namespace="openshift")
    failures: list[str] = []
    checked = 0
    seen: set[str] = set()
    for stream in streams:
        metadata = _object(stream.get("metadata"))
        stream_name = metadata.get("name")
        labels = _object(metadata.get("labels"))
        if not isinstance(stream_name, str) or MANAGED_LABEL not in labels or stream_name in skipped:
            continue
        checked += 1
        seen.add(stream_name)
        status = _object(stream.get("status"))
        for tag in status.get("tags") or []:
            if not isinstance(tag, dict):
                continue
            for condition in tag.get("conditions") or []:
                if isinstance(condition, dict) and condition.get("type") == "ImportSuccess" \
                        and condition.get("status") == "False":
                    message = _text(condition.get("message"), 300)
                    cause = import_failure_cause(str(condition.get("reason") or ""), message,
                                                 expected.samples_registry)
                    failures.append(f"{stream_name}:{_text(tag.get('tag'), 128)}: {message} — likely cause: {cause}")
    missing = sorted(set(expected.samples.included) - seen) if expected.samples else []
    if failures:
        names = sorted({f.split(":", 1)[0] for f in failures})
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     f"{plural(len(failures), 'tag')} of {plural(len(names), 'stream')} failed to import",
                     fix=" && ".join(f"oc import-image {shell_quote(n)} --all -n openshift" for n in names[:5])
                         + "  # once the cause is fixed (the operator also retries every 15 minutes)",
                     items=_cut(failures))
    if missing:
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     f"{len(missing)} mirrored stream(s) do not exist in openshift yet: {', '.join(missing[:10])}",
                     fix="oc get configs.samples.operator.openshift.io/cluster -o yaml  # is it Managed? then wait "
                         "and run verify again")
    return Check(name, title, Side.CLUSTER, Status.PASS, f"all {checked} managed, not skipped streams imported")


async def check_pools(oc: Oc) -> Check:
    title = "machine config pools"
    name = "machine-config-pools"
    pools = await oc.items("machineconfigpools")
    if not pools:
        return Check(name, title, Side.CLUSTER, Status.SKIP, "no machine config pools visible")
    problems: list[str] = []
    for pool in pools:
        pool_name = _text((pool.get("metadata") or {}).get("name") if isinstance(pool.get("metadata"), dict) else "?")
        conditions = _conditions(pool)
        status = _object(pool.get("status"))
        total, updated = status.get("machineCount"), status.get("updatedMachineCount")
        counts = f"{updated}/{total} updated" if isinstance(total, int) and isinstance(updated, int) else "counts unknown"
        if (conditions.get("Degraded") or {}).get("status") == "True":
            message = _text((conditions["Degraded"]).get("message"), 300)
            problems.append(f"{pool_name}: Degraded ({counts}){': ' + message if message else ''}")
        elif (conditions.get("Updating") or {}).get("status") == "True" or \
                (conditions.get("Updated") or {}).get("status") != "True" or \
                (isinstance(total, int) and updated != total):
            message = _text((conditions.get("Updating") or {}).get("message"), 300)
            problems.append(f"{pool_name}: still rolling out ({counts}){': ' + message if message else ''}")
    if problems:
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     f"{len(problems)} of {len(pools)} pools have not finished rolling out",
                     fix="oc get machineconfigpools -w  # wait until UPDATED is True everywhere, then run verify again",
                     items=problems)
    return Check(name, title, Side.CLUSTER, Status.PASS, f"all {len(pools)} pools updated")


async def node_command(expected: Expected, oc: Oc) -> Check:
    """Not a check this program performs: the command that shows, on a node, where CRI-O really pulled from
    (``crictl images`` shows the source names even for mirrored images; CRI-O logs the location it used)."""
    node = "<node>"
    try:
        nodes = await oc.items("nodes")
    except ToolError:
        nodes = []
    names = [n.get("metadata", {}).get("name") for n in nodes if isinstance(n.get("metadata"), dict)]
    workers = [n.get("metadata", {}).get("name") for n in nodes if isinstance(n.get("metadata"), dict)
               and "node-role.kubernetes.io/worker" in (n["metadata"].get("labels") or {})]
    chosen = next((n for n in workers + names if isinstance(n, str) and n), None)
    if chosen:
        node = chosen
    from .runbook import crio_pull_command

    host = expected.mirror
    command = crio_pull_command(node, host)
    return Check("node-pull-source", "pulls come from the mirror (on a node)", Side.CLUSTER, Status.SKIP,
                 f"run by hand: CRI-O logs \"Trying to access\" with the location it pulled from; expect {host}",
                 fix=command)


async def cluster_checks(expected: Expected, oc: Oc | None = None) -> AsyncIterator[Check]:
    oc = oc or Oc()
    title = "cluster access"
    if oc.path() is None:
        yield Check("cluster-access", title, Side.CLUSTER, Status.SKIP,
                    "cluster not checked: oc is not on PATH",
                    fix="install the OpenShift CLI (oc), log in, and run verify again with --cluster")
        return
    try:
        user, server = await oc.whoami()
    except ToolError as exc:
        yield Check("cluster-access", title, Side.CLUSTER, Status.SKIP, f"cluster not checked: {exc}",
                    fix="oc login <API server URL>  # then run verify again with --cluster")
        return
    version = await oc.version()
    yield Check("cluster-access", title, Side.CLUSTER, Status.PASS,
                f"logged in as {_text(user, 100)}" + (f" to {_text(server, 200)}" if server else "")
                + (f", OpenShift {_text(version, 40)}" if version else ""))
    yield await _guard("cluster-trust", "cluster trusts the mirror's CA", lambda: check_trust(expected, oc))
    yield await _guard("cluster-mirror-sets", "cluster mirror sets cover the release",
                       lambda: check_mirror_sets(expected, oc, version))
    config: dict[str, Any] | None = None
    try:
        check, config = await check_samples_config(expected, oc)
    except ToolError as exc:
        check = _tool_failure("samples-config", "samples operator Config", exc)
    yield check
    yield check_samples_status(expected, config)
    yield await _guard("samples-imports", "image stream imports in openshift",
                       lambda: check_imports(expected, oc, config))
    yield await _guard("machine-config-pools", "machine config pools", lambda: check_pools(oc))
    yield await node_command(expected, oc)


def _object(value: object) -> dict[str, Any]:
    """A JSON object from the cluster, or an empty one when the field is missing or of another type."""
    return value if isinstance(value, dict) else {}


def _tool_failure(name: str, title: str, exc: MirrorError) -> Check:
    if isinstance(exc, NotLoggedIn):
        return Check(name, title, Side.CLUSTER, Status.FAIL, str(exc), fix="oc login <API server URL>")
    return Check(name, title, Side.CLUSTER, Status.FAIL, str(exc))


async def _guard(name: str, title: str, step: Callable[[], Awaitable[Check]]) -> Check:
    """A cluster check that cannot finish (oc failing, an unreadable file) is a ✗ line with the reason."""
    try:
        return await step()
    except MirrorError as exc:
        return _tool_failure(name, title, exc)


# -- running ------------------------------------------------------------------------------------------


async def check_medium(expected: Expected, directory: str) -> Check:
    """A to-dir plan's mirror is the removable medium: every file against SHA256SUMS, every image whole."""
    from .bundle import verify_bundle

    title = "removable media"
    try:
        report = await asyncio.to_thread(verify_bundle, directory)
    except (MirrorError, OSError) as exc:
        return Check("medium", title, Side.MIRROR, Status.FAIL, f"{directory}: {exc}", fix=_rerun(expected))
    if report.ok:
        return Check("medium", title, Side.MIRROR, Status.PASS, report.summary())
    return Check("medium", title, Side.MIRROR, Status.FAIL, report.summary(),
                 fix=f"{_rerun(expected)} (copies only what is missing), then mirror-wizard media verify "
                     f"{shell_quote(directory)}",
                 items=_cut([f"{p.path}: {p.message}" for p in report.errors]))


async def mirror_checks(expected: Expected, session: RegistrySession) -> AsyncIterator[Check]:
    release = expected.plan.release
    if release is not None and release.mode == ReleaseMode.TO_DIR and release.directory:
        # Connected side of removable media: nothing is in the registry yet, so checking it would only
        # fail. The medium is what this side made; the registry is checked on the mirror host.
        yield await check_medium(expected, release.directory)
        yield Check("registry", "mirror registry", Side.MIRROR, Status.SKIP,
                    "not checked here: the images are on the removable media, not in the registry yet. On the "
                    "mirror host, upload them (the plan in from-dir mode, see Done) and verify there")
        yield await check_signatures(expected, session)
        return
    yield await check_release(expected, session)
    yield await check_release_tag(expected, session)
    yield await check_samples(expected, session)
    yield check_skipped(expected)
    yield await check_certificate(expected)
    yield await check_signatures(expected, session)


async def run_checks(plan: Plan, *, cluster: bool = False, oc: Oc | None = None,
                     plan_file: str = "PLAN") -> AsyncIterator[Check]:
    """Every check, each yielded as soon as it is known: the mirror side first, then (``cluster``) the
    cluster side through ``oc``. Nothing is written anywhere."""
    async with open_session(plan) as session:
        expected = await expected_from_plan(plan, session, plan_file)
        async for check in mirror_checks(expected, session):
            yield check
    if cluster:
        async for check in cluster_checks(expected, oc):
            yield check


async def verify(plan: Plan, *, cluster: bool = False, oc: Oc | None = None, plan_file: str = "PLAN",
                 on_check: Callable[[Check], None] | None = None, cancel: asyncio.Event | None = None) -> Report:
    """Every check into one Report; ``on_check`` sees each as it completes; ``cancel`` stops between checks."""
    report = Report()
    async for check in run_checks(plan, cluster=cluster, oc=oc, plan_file=plan_file):
        report.checks.append(check)
        if on_check is not None:
            on_check(check)
        if cancel is not None and cancel.is_set():
            raise Cancelled("verify cancelled; nothing was changed")
    return report


def report_json(report: Report) -> str:
    return json.dumps(report.as_dict(), indent=2, ensure_ascii=False)


__all__ = [
    "Check",
    "Expected",
    "Report",
    "Side",
    "Status",
    "cluster_checks",
    "crio_rewrite",
    "expected_from_plan",
    "import_failure_cause",
    "mirror_checks",
    "open_session",
    "report_json",
    "run_checks",
    "verify",
]
