"""Progress events: plain data the copy engine emits; the CLI prints them, the wizard shows them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlanReady:
    """Everything that will be looked at, known before any blob moves."""

    images: int
    blobs: int
    total_bytes: int


@dataclass(frozen=True)
class BlobStarted:
    digest: str
    size: int
    destination: str


@dataclass(frozen=True)
class BlobProgress:
    """``delta`` bytes moved since the previous event for this blob (coalesced, not per chunk)."""

    digest: str
    delta: int


@dataclass(frozen=True)
class BlobSkipped:
    digest: str
    size: int
    destination: str


@dataclass(frozen=True)
class BlobMounted:
    digest: str
    size: int
    destination: str
    source_repository: str


@dataclass(frozen=True)
class BlobDone:
    digest: str
    size: int
    destination: str


@dataclass(frozen=True)
class ImageDone:
    source: str
    destination: str
    digest: str
    skipped: bool = False


@dataclass(frozen=True)
class ImageFailed:
    source: str
    destination: str
    error: str


@dataclass(frozen=True)
class LogMessage:
    level: str
    message: str


Event = PlanReady | BlobStarted | BlobProgress | BlobSkipped | BlobMounted | BlobDone | ImageDone | ImageFailed | LogMessage
