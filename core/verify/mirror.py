"""Mirror-side checks (HEAD and GET only, pull scope only): the release by digest where CRI-O looks for
it, its tag, the image streams' tags on samplesRegistry, the skipped streams, the certificate, the
release signatures and a removable medium."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import yaml

from ..bundle import verify_bundle
from ..ca import check_registry_ca
from ..errors import MirrorError, ReferenceFormatError, SignatureError
from ..filenames import SAMPLES_CONFIG_FILE
from ..mirror_sets import crio_pull_specs
from ..plan import ReleaseMode
from ..reference import ImageReference, parse_reference
from ..registry import RegistrySession
from ..release_keys import pinned_keys
from ..run import signatures_folder
from ..signatures import (
    expected_identities,
    read_verification_config,
    signature_file_name,
    verify_release,
)
from ..text import plural, shell_quote
from .expected import Expected, rerun_command, stream_destinations
from .keep import check_graph_image, check_kept_by_tag, check_sigstore
from .model import MAX_ITEMS, PARALLEL_HEADS, Check, Side, Status, cut_items

# -- CRI-O's view of mirror sets ------------------------------------------------------------------

def crio_rewrite(pull_spec: str, mirror_sets: list[tuple[str, str]]) -> list[str]:
    """Where CRI-O looks for a by-digest pull of ``pull_spec`` (core.mirror_sets: longest source prefix
    at a path boundary, as registries.conf; only its mirrors, in order)."""
    return crio_pull_specs(pull_spec, mirror_sets)


async def _head(session: RegistrySession, ref: ImageReference) -> str | None:
    """The manifest digest at ``ref`` (pull scope: verify never asks for push rights), None when absent."""
    client = session.client(ref.registry)
    return await client.manifest_digest(ref.repository, ref.reference, push_scope=False)


# -- mirror side ----------------------------------------------------------------------------------


async def check_release(expected: Expected, session: RegistrySession) -> Check:
    title = "release images on the mirror"
    name = "release-images"
    if expected.plan.release is None:
        return Check(name, title, Side.MIRROR, Status.SKIP, "the plan mirrors no release")
    if expected.release_error:
        return Check(name, title, Side.MIRROR, Status.FAIL, expected.release_error,
                     fix=f"check the plan's release.source and the registries' logins, then {rerun_command(expected)}")
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
                     f"{len(problems)} of {total} images are not on the mirror by digest", fix=rerun_command(expected),
                     items=cut_items(problems))
    from_medium = expected.plan.release is not None and expected.plan.release.mode == ReleaseMode.FROM_DIR
    how = ("read back from the mirror (source unreachable)" if expected.release_from_mirror
           else "as the medium lists them" if from_medium else "as the source lists them")
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
        return Check(name, title, Side.MIRROR, Status.FAIL, f"{image}: {exc}", fix=rerun_command(expected))
    if found is None:
        return Check(name, title, Side.MIRROR, Status.FAIL, f"{image} does not exist", fix=rerun_command(expected))
    if found != info.digest:
        return Check(name, title, Side.MIRROR, Status.FAIL,
                     f"{image} names {found}, not the release {info.digest}", fix=rerun_command(expected))
    note = " (not compared with the source: unreachable)" if expected.release_from_mirror else ""
    return Check(name, title, Side.MIRROR, Status.PASS, f"{image} resolves to {info.digest}{note}")


async def check_samples(expected: Expected, session: RegistrySession) -> Check:
    title = "samples images on samplesRegistry"
    name = "samples-images"
    if expected.plan.samples is None:
        return Check(name, title, Side.MIRROR, Status.SKIP, "the plan mirrors no image streams")
    if expected.samples_error or expected.samples is None:
        return Check(name, title, Side.MIRROR, Status.FAIL, expected.samples_error or "the image streams were not loaded",
                     fix="correct the plan's samples.paths (or samples.source)")
    destinations = stream_destinations(expected, expected.samples)
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
                     fix=rerun_command(expected), items=cut_items(problems))
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
    fix = (f"{rerun_command(expected)}  # mirrors what is missing and writes {SAMPLES_CONFIG_FILE} again; "
           "or add the stream to samples.skip in the plan")
    if problems:
        return Check(name, title, Side.MIRROR, Status.FAIL,
                     f"{len(problems)} stream(s) neither mirrored nor skipped, or skipped although mirrored",
                     fix=fix, items=cut_items(problems))
    return Check(name, title, Side.MIRROR, Status.PASS,
                 f"{len(expected.samples.included)} mirrored, {len(skipped_set)} in skippedImagestreams ({where})")


async def check_certificate(expected: Expected) -> Check:
    title = "mirror certificate"
    name = "mirror-certificate"
    plan = expected.plan
    if not plan.mirror.ca_file:
        return Check(name, title, Side.MIRROR, Status.SKIP,
                     "the plan names no CA file (the mirror's certificate is trusted through the system store)")

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
    its signatures verify, offline, with the pinned keys (Red Hat's and the plan's release.keys)."""
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
            await verify_release(info.digest, config, signatures_dir=folder, identities=expected_identities(info),
                                 pinned=pinned_keys(expected.plan.release.keys))
            good += 1
        except (SignatureError, MirrorError) as exc:
            problems.append(f"{info.version}: {exc}")
    if problems:
        return Check(name, title, Side.MIRROR, Status.FAIL,
                     f"{len(problems)} of {len(releases)} release(s) without verified signatures in {folder}",
                     fix=rerun_command(expected), items=problems[:MAX_ITEMS])
    if not good:
        return Check(name, title, Side.MIRROR, Status.SKIP,
                     f"release {', '.join(unchecked)} carries no release-verification ConfigMap: nothing to verify")
    detail = f"{good} signature ConfigMap(s) in {folder} name their release digest and verify"
    if unchecked:
        detail += f"; {', '.join(unchecked)} carries no verification ConfigMap"
    return Check(name, title, Side.MIRROR, Status.PASS, detail)


async def check_medium(expected: Expected, directory: str) -> Check:
    """A to-dir plan's mirror is the removable medium: every file against SHA256SUMS, every image whole."""
    title = "removable media"
    try:
        report = await asyncio.to_thread(verify_bundle, directory)
    except (MirrorError, OSError) as exc:
        return Check("medium", title, Side.MIRROR, Status.FAIL, f"{directory}: {exc}", fix=rerun_command(expected))
    if report.ok:
        return Check("medium", title, Side.MIRROR, Status.PASS, report.summary())
    return Check("medium", title, Side.MIRROR, Status.FAIL, report.summary(),
                 fix=f"{rerun_command(expected)} (copies only what is missing), then mirror-wizard media verify "
                     f"{shell_quote(directory)}",
                 items=cut_items([f"{p.path}: {p.message}" for p in report.errors]))


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
    yield await check_kept_by_tag(expected, session)
    yield await check_sigstore(expected, session)
    yield await check_graph_image(expected, session)
