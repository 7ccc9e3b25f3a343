"""An async client for the OCI distribution API over :mod:`core.http`, layered like go-containerregistry's:

* :mod:`.transport` — one registry's view of the one HTTP client (error labels, answer timing), the one
  retry policy;
* :mod:`.auth` — challenges, Basic, Bearer tokens (narrowest scopes, cached) and where a password may go;
* :mod:`.client` — the API calls against one registry (:class:`RegistryClient`);
* :mod:`.settings` — the run's settings (:class:`Access`), built once and held by the session.
* :mod:`.session` — a client per registry host for one run, and its blob cache (:class:`RegistrySession`).

Import from here: ``from core.registry import RegistrySession, RegistryClient, RetryPolicy``.
"""

from __future__ import annotations

from .auth import (
    KNOWN_AUTH_HOSTS,
    Authenticator,
    Challenge,
    parse_challenge,
    parse_token_answer,
    realm_refusal,
)
from .client import (
    CHUNK,
    MAX_INDEX_CHILDREN,
    MAX_TAG_PAGES,
    RegistryClient,
    next_link,
    parse_manifest,
    parse_tag_list,
)
from .session import BlobCache, RegistrySession
from .settings import Access
from .transport import (
    ERROR_BODY_LIMIT,
    MANIFEST_LIMIT,
    RETRY_STATUSES,
    STALL_TIMEOUT,
    TAG_PAGE_LIMIT,
    THROTTLE_STATUSES,
    TOKEN_LIMIT,
    RetryPolicy,
    Transport,
    retry_after_seconds,
)

__all__ = [
    "Access",
    "CHUNK",
    "ERROR_BODY_LIMIT",
    "KNOWN_AUTH_HOSTS",
    "MANIFEST_LIMIT",
    "MAX_INDEX_CHILDREN",
    "MAX_TAG_PAGES",
    "RETRY_STATUSES",
    "STALL_TIMEOUT",
    "TAG_PAGE_LIMIT",
    "THROTTLE_STATUSES",
    "TOKEN_LIMIT",
    "Authenticator",
    "BlobCache",
    "Challenge",
    "RegistryClient",
    "RegistrySession",
    "RetryPolicy",
    "Transport",
    "next_link",
    "parse_challenge",
    "parse_manifest",
    "parse_tag_list",
    "parse_token_answer",
    "realm_refusal",
    "retry_after_seconds",
]
