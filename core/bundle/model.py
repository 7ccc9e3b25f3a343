"""Names, bounds and the plain data of a removable-media bundle (its files, options, results, problems)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..text import human_bytes, plural

BUNDLE_KIND = "mirror-wizard-bundle"
BUNDLE_VERSION = 1
BUNDLE_FILE = "bundle.json"
SUMS_FILE = "SHA256SUMS"
SIZES_FILE = "SIZES"
README_FILE = "README.txt"
PLAN_FILE = "plan.yaml"
WHEELHOUSE = "wheelhouse"
BIN_DIR = "bin"
CLUSTER_DIR = "cluster"
SIGNATURES_DIR = "signatures"
SAMPLES_DIR = "samples"
CONFIG_DIR = "config"
# The release public keys the connected side trusted (the plan's release.keys), carried for the far side.
RELEASE_KEYS_DIR = "config/release-keys"
VOLUMES_FILE = "VOLUMES.json"
VOLUME_MARKER = re.compile(r"VOLUME-(\d{2,4})-of-(\d{2,4})\.json")
PART_SUFFIX = re.compile(r"\.part-(\d{3,5})-of-(\d{3,5})$")
PACKAGE = "mirror-wizard"
# The far side's own output folder (the bundle's plan.yaml names it, relative): what the wizard and `run`
# write on this host. Never part of the bundle and never read as part of it; the check only mentions it.
FAR_OUTPUT_DIR = "mirror-wizard-output"
# The far side's mirror registry when the connected side was not told it: the plan says to edit it.
PLACEHOLDER_TARGET = "mirror.example.com:8443/ocp4/openshift4"

# Bounds on what is read whole from the medium (everything else is streamed).
MAX_LIST_BYTES = 256 << 20      # SHA256SUMS, SIZES, VOLUMES.json
MAX_JSON_BYTES = 64 << 20       # bundle.json, index.json
MAX_MANIFEST_BYTES = 4 << 20    # one image manifest
MAX_FILES = 1_000_000
# Volume and part counts: VOLUME_MARKER and PART_SUFFIX allow four and five digits, and a file is never
# cut into more parts than there are volumes. A record claiming more is not one we wrote (and a count
# of millions must not become millions of names, lines or files).
MAX_VOLUMES = 9999
# Missing volumes named one per line, up to this many; the rest are counted in one more line.
MAX_MISSING_SHOWN = 20
CHUNK = 1 << 20
HASH_THREADS = 4
PIP_TIMEOUT = 900
# Written only by the medium's own file system: never part of a bundle, never a problem.
OS_JUNK = frozenset({".DS_Store", "System Volume Information", "$RECYCLE.BIN", ".Trashes", ".Spotlight-V100",
                     ".fseventsd", "lost+found", ".TemporaryItems", "Thumbs.db", "desktop.ini"})
# SHA256SUMS' detached signature (core.bundle_sign): written after SHA256SUMS, so never listed in it.
SUMS_SIG_FILE = "SHA256SUMS.sig"
# Files that describe the bundle or its volumes: checked on their own terms, never listed in SHA256SUMS.
META_FILES = frozenset({SUMS_FILE, SIZES_FILE, VOLUMES_FILE, SUMS_SIG_FILE})

Message = Callable[[str], None]
SignatureWriter = Callable[[Path], Iterable[Path]]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"  # nothing wrong: what the check left aside, said once


@dataclass(frozen=True)
class Problem:
    """One finding of :func:`verify_bundle`: a path inside the bundle and what is wrong with it."""

    path: str
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        prefix = "" if self.severity is Severity.ERROR else f"{self.severity}: "
        return f"{prefix}{self.path}: {self.message}"


@dataclass
class VerifyReport:
    directory: Path
    problems: list[Problem] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    images: int = 0
    blobs: int = 0
    omitted: int = 0          # blobs an incremental bundle leaves to the far side's registry
    volumes: tuple[int, int] | None = None  # (arrived, of) when the bundle came in volumes
    # The key that signed SHA256SUMS, when --signer was given and it checked; None: origin not checked.
    signed_by: str | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, path: str, message: str, severity: Severity = Severity.ERROR) -> None:
        self.problems.append(Problem(path, message, severity))

    def summary(self) -> str:
        if self.ok:
            extra = f", {self.omitted} blobs left to the base bundle" if self.omitted else ""
            origin = (f"; signed by {self.signed_by}" if self.signed_by else
                      "; its origin is NOT checked (SHA256SUMS can be rewritten by whoever wrote the medium): "
                      "give --signer FINGERPRINT, printed when the bundle was written")
            return (f"bundle {self.directory} is complete: {plural(self.files, 'file')} "
                    f"({human_bytes(self.bytes)}), {plural(self.images, 'image')}, {plural(self.blobs, 'blob')} "
                    f"checked against their digests{extra}{origin}")
        return f"bundle {self.directory} has {plural(len(self.errors), 'problem')}"


@dataclass
class BundleOptions:
    """How the bundle is written. Every field has a working default."""

    target: str | None = None               # the far side's mirror repository (for plan and cluster YAML)
    to_release_image: str | None = None
    max_medium_size: int | None = None      # split into volumes none larger than this
    volumes_dir: Path | None = None         # where volumes go (default: DIR.volumes beside DIR)
    since: Path | None = None               # a previous bundle's bundle.json (or its directory)
    wheelhouse: Path | None = None          # use these wheels instead of running pip
    include_wheelhouse: bool = True         # False: no wheels (the far host installs mirror-wizard otherwise)
    wheel_python: str | None = None         # the far host's Python (X.Y); default: this one
    wheel_platforms: tuple[str, ...] = ()   # the far host's platform tags; default: this one
    signatures: SignatureWriter | None = None  # fills DIR/signatures (core.signatures, day 2)
    extract: bool = True                    # openshift-install and oc into bin/
    sign_key: Path | None = None            # signs SHA256SUMS; default: this host's key (core.bundle_sign)
    # The mirror's CA when the plan names none (`release mirror --to-dir --ca-file`): travels as the
    # bundle's config/mirror-ca.pem, each file in the order given (core.bundle_write).
    mirror_ca_files: tuple[Path, ...] = ()


@dataclass
class BundleResult:
    directory: Path
    files: int
    bytes: int
    images: int
    blobs: int
    omitted: list[str] = field(default_factory=list)
    volumes: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    wheelhouse: bool = False
    signer: str | None = None               # fingerprint of the key that signed SHA256SUMS
    signer_made: bool = False               # this host's key was made by this run

    def as_dict(self) -> dict[str, Any]:
        return {"directory": str(self.directory), "files": self.files, "bytes": self.bytes, "images": self.images,
                "blobs": self.blobs, "omitted_blobs": len(self.omitted), "volumes": [str(v) for v in self.volumes],
                "wheelhouse": self.wheelhouse, "warnings": self.warnings, "signer": self.signer}


# -- sizes ------------------------------------------------------------------------------------------

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``4G``, ``4GiB``, ``700M``, ``1.5T``, ``123456`` → bytes (binary units: media sizes are read
    with ``df -h``, which counts in powers of 1024; a decimal-marked size would only be smaller)."""
    match = _SIZE.match(str(text))
    if not match:
        raise InputError(f"size {text!r}: give a number with an optional unit, e.g. 4G, 700M or 64GiB")
    number, unit = float(match.group(1)), match.group(2).upper()
    value = int(number * (1024 ** " KMGT".index(unit or " ")))
    if value < 1 << 20:
        raise InputError(f"size {text!r} is smaller than 1 MiB; no medium is that small")
    return value


