"""``media verify``: every listed file with its hash, nothing unlisted that matters, every blob and image graph complete."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

from ..bundle_sign import check_sums_signature
from ..errors import BundleError
from ..text import plural, shell_quote
from .files import lstat_inside, read_bounded, read_volume_list, walk_files
from .images import layout_images
from .model import (
    BUNDLE_FILE,
    FAR_OUTPUT_DIR,
    MAX_LIST_BYTES,
    MAX_MISSING_SHOWN,
    META_FILES,
    PART_SUFFIX,
    SIZES_FILE,
    SUMS_FILE,
    SUMS_SIG_FILE,
    VOLUME_MARKER,
    VOLUMES_FILE,
    Message,
    Problem,
    Severity,
    VerifyReport,
)
from .record import omitted_blobs
from .sums import hash_all, parse_sizes, parse_sums

# -- verifying ----------------------------------------------------------------------------------------

def _volume_info(directory: Path, report: VerifyReport) -> dict[str, int]:
    """path → volume number from VOLUMES.json, noting which volumes arrived (their marker files)."""
    path = directory / VOLUMES_FILE
    if not path.exists():
        return {}
    try:
        listing = read_volume_list(path)
    except BundleError as exc:
        report.add(VOLUMES_FILE, "is not a volume list written by mirror-wizard"
                   + (f" ({str(exc).split(': ', 1)[1]})" if ": " in str(exc) else ""))
        return {}
    count, where = listing.count, listing.where
    arrived = set()
    for rel, _ in walk_files(directory):
        match = VOLUME_MARKER.fullmatch(rel)
        if match and int(match.group(2)) == count:
            arrived.add(int(match.group(1)))
    report.volumes = (len(arrived), count)
    missing = [number for number in range(1, count + 1) if number not in arrived]
    for number in missing[:MAX_MISSING_SHOWN]:
        files = sorted(p for p, v in where.items() if v == number)
        report.add(f"volume-{number:02d}-of-{count:02d}",
                   f"volume {number} of {count} is missing ({plural(len(files), 'file')}, e.g. "
                   f"{files[0] if files else '-'}): copy it in with mirror-wizard media join")
    if len(missing) > MAX_MISSING_SHOWN:
        report.add(VOLUMES_FILE, f"and {len(missing) - MAX_MISSING_SHOWN} more volumes of {count} are missing")
    return where


def missing_volumes(directory: str | os.PathLike[str]) -> list[Problem]:
    """Which volumes of a bundle that came in volumes have not been copied in yet (cheap: no hashing)."""
    report = VerifyReport(Path(directory))
    _volume_info(Path(directory), report)
    return report.problems


def _is_blob_path(rel: str) -> bool:
    return rel.startswith("blobs/sha256/") and rel.count("/") == 2


def _lstat_listed(directory: Path, rel: str, report: VerifyReport) -> tuple[bool, os.stat_result | None]:
    """A listed path's lstat, never followed out of the bundle: (True, its lstat or None when absent), or
    (False, None) when the path leads outside it (a link on the way, ..), reported here once for both
    the file list's and the image graphs' checks."""
    try:
        return True, lstat_inside(directory, rel)
    except ValueError as exc:
        report.add(rel, str(exc))
        return False, None


# A writer's temporary name (core.fsio's ".NAME.<hex>.tmp", pip's and others' "*.tmp"): a leftover of an
# interrupted write, harmless since nothing reads it.
LEFTOVER_TEMP = re.compile(r"\..+\.tmp|.+\.tmp")


def _add_ignored(report: VerifyReport, ignored: dict[tuple[str, str], list[str]]) -> None:
    """Files nothing uses, said once per folder and kind: 32 leftovers are one finding, not 32 lines."""
    for (folder, kind), rels in sorted(ignored.items()):
        if len(rels) == 1:
            what = "a leftover temporary file" if kind == "temporary" else "not in SHA256SUMS"
            report.add(rels[0], f"is {what} (ignored: nothing uses it)", Severity.WARNING)
            continue
        noun = (plural(len(rels), "leftover temporary file") if kind == "temporary"
                else plural(len(rels), "file") + " not in SHA256SUMS")
        report.add(folder or "./", f"{noun} (ignored: nothing uses them)", Severity.WARNING)


def verify_bundle(directory: str | os.PathLike[str], *, on_progress: Callable[[int], None] | None = None,
                  signer: str | None = None) -> VerifyReport:
    """Check a bundle as it arrived; never changes it. See the module for what is checked.

    ``signer`` (a fingerprint or a public key file): SHA256SUMS must carry a good signature by that key,
    checked first (core.bundle_sign); without it the report says the bundle's origin is not checked.
    A blob's problem is reported once, with the images that need it; a file's with its path."""
    directory = Path(directory)
    report = VerifyReport(directory)
    if not directory.is_dir():
        raise BundleError(f"{directory} is not a directory")
    if signer is not None and (directory / SUMS_FILE).exists():
        try:
            report.signed_by = check_sums_signature(directory, signer)
        except BundleError as exc:
            report.add(SUMS_SIG_FILE, str(exc))
    volumes = _volume_info(directory, report)
    sums_path = directory / SUMS_FILE
    if not sums_path.exists():
        how = ("the volume carrying it has not been copied in" if volumes else
               "the bundle was not finished (its writing was interrupted): run the same --to-dir command again")
        report.add(SUMS_FILE, f"is missing: {how}")
        return report
    sums, problems = parse_sums(read_bounded(sums_path, MAX_LIST_BYTES, "checksum list"))
    report.problems += problems
    sizes: dict[str, int] = {}
    if (directory / SIZES_FILE).exists():
        sizes = parse_sizes(read_bounded(directory / SIZES_FILE, MAX_LIST_BYTES, "size list"))
    issues: dict[str, str] = {}  # path → what is wrong, reported below (blobs: with the images needing them)
    present: list[str] = []
    for rel, digest in sums.items():
        if _is_blob_path(rel) and rel.rsplit("/", 1)[1] != digest:
            report.add(rel, f"SHA256SUMS gives it the hash {digest[:16]}…, which is not its name; refused")
            continue
        inside, st = _lstat_listed(directory, rel, report)
        if not inside:
            continue
        what = "blob" if _is_blob_path(rel) else "file"
        if st is None:
            volume = volumes.get(rel)
            issues[rel] = f"{what} is missing" + (f" (it travels in volume {volume})" if volume else "")
        elif not stat.S_ISREG(st.st_mode):
            issues[rel] = f"{what} is not a regular file"
        elif rel in sizes and sizes[rel] != st.st_size:
            issues[rel] = f"{what} is {st.st_size} bytes, {sizes[rel]} expected: cut short or damaged"
        else:
            present.append(rel)
    hashed = hash_all(directory, present, on_progress)
    for rel in present:
        what = "blob" if _is_blob_path(rel) else "file"
        result = hashed[rel]
        if isinstance(result, Exception):
            issues[rel] = f"{what} cannot be read: {result}"
            continue
        digest, size = result
        report.files += 1
        report.bytes += size
        if digest != sums[rel]:
            issues[rel] = f"{what} is damaged: its SHA-256 is {digest[:16]}…, SHA256SUMS says {sums[rel][:16]}…"
    # Anything not listed inside the bundle's own folders: a planted wheel or binary would be installed or
    # run, so it matters. Elsewhere (the far side's own output folder, notes) it is only mentioned.
    parts_seen: dict[str, set[int]] = {}
    folders = {rel.split("/", 1)[0] for rel in sums if "/" in rel} - {"blobs"}
    own_output = 0
    ignored: dict[tuple[str, str], list[str]] = {}  # (folder, kind) → files nothing uses
    for rel, _ in walk_files(directory):
        name = rel.rsplit("/", 1)[-1]
        if rel in sums or rel in META_FILES or VOLUME_MARKER.fullmatch(rel):
            continue
        if rel.startswith(FAR_OUTPUT_DIR + "/"):
            own_output += 1  # this host's own output (the bundle's plan names it): left aside, never read
            continue
        match = PART_SUFFIX.search(rel)
        if match and rel[:match.start()] in sums:
            parts_seen.setdefault(rel[:match.start()], set()).add(int(match.group(1)))
            continue
        if rel.split("/", 1)[0] in folders and not name.startswith("."):
            report.add(rel, "is not in SHA256SUMS: remove it, or write the bundle again")
        elif rel.startswith("blobs/") or name.startswith("."):
            folder = rel.rsplit("/", 1)[0] + "/" if "/" in rel else ""
            kind = "temporary" if LEFTOVER_TEMP.fullmatch(name) else "unlisted"
            ignored.setdefault((folder, kind), []).append(rel)
        else:
            report.add(rel, "is not part of the bundle (ignored)", Severity.WARNING)
    _add_ignored(report, ignored)
    if own_output:
        report.add(FAR_OUTPUT_DIR + "/", f"this host's own output ({plural(own_output, 'file')}), not part of the "
                   "bundle: left aside", Severity.NOTE)
    for rel in sorted(parts_seen):
        issues[rel] = (f"is still in {plural(len(parts_seen[rel]), 'part')}: run mirror-wizard media join "
                       f"{shell_quote(str(directory))} once every volume is in")
    _verify_layout(directory, report, issues, set(sums))
    for rel, issue in sorted(issues.items()):  # what no image needs (or a plain file)
        report.add(rel, issue)
    return report


def _verify_layout(directory: Path, report: VerifyReport, issues: dict[str, str], listed: set[str]) -> None:
    """Every image's graph: its manifests and blobs there (or left to the base), each one checked.
    Takes the blob problems out of ``issues`` and reports each with the images that need it."""
    if not (directory / "index.json").exists() or not (directory / "oci-layout").exists():
        report.add("index.json", "no OCI image layout here (oci-layout and index.json)")
        return
    try:
        omitted = omitted_blobs(directory)
    except BundleError as exc:
        report.add(BUNDLE_FILE, str(exc))
        omitted = set()
    try:
        images, problems = layout_images(directory)
    except BundleError as exc:
        report.add("index.json", str(exc))
        return
    for problem in problems:  # a manifest missing or damaged, named with its image
        issues.pop(problem.path, None)
        report.problems.append(problem)
    users: dict[str, set[str]] = {}
    sizes: dict[str, int] = {}
    for image in images:
        for digest, size in image.blobs.items():
            users.setdefault(digest, set()).add(image.name)
            sizes[digest] = size
    report.images = len(images)
    for digest, names in sorted(users.items()):
        rel = f"blobs/sha256/{digest.split(':', 1)[1]}"
        shown = ", ".join(sorted(names)[:4]) + (" …" if len(names) > 4 else "")
        if digest in omitted:
            report.omitted += 1
            continue
        if rel in issues:
            report.add(rel, f"{issues.pop(rel)}; images needing it: {shown}")
            continue
        inside, st = _lstat_listed(directory, rel, report)
        if not inside:
            continue
        if st is None:
            report.add(rel, f"blob is missing; images needing it: {shown}")
        elif st.st_size != sizes[digest]:
            report.add(rel, f"blob is {st.st_size} bytes, its manifest says {sizes[digest]}; images needing it: {shown}")
        elif rel not in listed:
            report.add(rel, f"blob is not in SHA256SUMS, so it was not checked; images needing it: {shown}")
        else:
            report.blobs += 1


def check_bundle_before_upload(directory: str | os.PathLike[str], on_problem: Message | None = None, *,
                               signer: str | None = None) -> VerifyReport | None:
    """The far side's first step: a directory that is a bundle (it has bundle.json or SHA256SUMS) must
    verify, or BundleError names what is wrong. A bare OCI layout (no bundle files) is left to the
    layout's own checks and None is returned."""
    directory = Path(directory)
    if not any((directory / name).exists() for name in (BUNDLE_FILE, SUMS_FILE, SIZES_FILE, VOLUMES_FILE)):
        return None
    report = verify_bundle(directory, signer=signer)
    if on_problem is not None:
        for problem in report.problems:
            on_problem(str(problem))
    if not report.ok:
        errors = sorted(report.errors, key=lambda p: "images needing it" not in p.message and "image " not in p.message)
        shown = "; ".join(str(p) for p in errors[:3]) + (f"; and {len(errors) - 3} more" if len(errors) > 3 else "")
        raise BundleError(f"{directory} failed its check, nothing was uploaded: {shown}",
                          hint="copy the damaged files again from the connected side, or write the bundle again "
                               "with the same --to-dir command; mirror-wizard media verify lists every problem")
    return report


