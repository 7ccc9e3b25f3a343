"""Registry auth: challenges, Basic, Bearer tokens (narrowest scopes, cached), and where a password may go.

Auth hands out headers (:meth:`Authenticator.headers`) for every call of the API layer, which drives
the 401 → new token → one retry dance; token requests go over the same HTTP client (and its proxy).

Where the Basic password may go (a token realm is named by the registry, so a hostile or compromised
registry could name any URL): see :func:`realm_refusal`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from ..authfile import Credential
from ..errors import (
    AccessDenied,
    AuthenticationFailed,
    ErrorCode,
    RegistryError,
    RegistryProtocolError,
    RegistryUnreachable,
)
from ..tlsconfig import TLSOptions
from .transport import RETRY_STATUSES, TOKEN_LIMIT, RetryPolicy, Transport

# Registries whose token service lives on another host of the same operator. Beyond these, a realm on
# another host than the registry gets no password unless the admin lists it (TLSOptions.auth_hosts).
KNOWN_AUTH_HOSTS: dict[str, frozenset[str]] = {
    "registry.redhat.io": frozenset({"sso.redhat.com"}),
    "registry-1.docker.io": frozenset({"auth.docker.io"}),
    "docker.io": frozenset({"auth.docker.io"}),
    "registry.gitlab.com": frozenset({"gitlab.com"}),
}
TOKEN_MIN_SECONDS = 10
TOKEN_MAX_SECONDS = 24 * 3600
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")  # printable ASCII: a token goes into a header line as is


@dataclass
class Challenge:
    scheme: str  # "basic" | "bearer" | "none"
    params: dict[str, str] = field(default_factory=dict)


_CHALLENGE_RE = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def parse_challenge(header: str) -> Challenge:
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
              for m in _CHALLENGE_RE.finditer(rest)}
    return Challenge(scheme.lower(), params)


def _host_of(netloc: str) -> str:
    return (urlsplit(f"//{netloc}").hostname or netloc).lower()


def realm_refusal(realm: str, *, api_host: str, registry_scheme: str, tls: TLSOptions) -> str | None:
    """Why the registry's Basic password must not go to token ``realm``; None when it may.

    The rule: the realm must be as private as the registry (https when the registry is https, unless
    the admin marked that registry insecure), and on the registry's own host name (any port: the
    token service often listens beside the registry), on a host the registry is known to delegate
    to (``KNOWN_AUTH_HOSTS``, e.g. registry.redhat.io → sso.redhat.com), or on a host the admin
    allowed in ``TLSOptions.auth_hosts`` (a name, or name:port).
    """
    parts = urlsplit(realm)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "it is not an http(s) URL"
    if parts.scheme == "http" and registry_scheme == "https" and not tls.is_insecure(api_host):
        return "it is plain http while the registry uses https"
    realm_host = parts.hostname.lower()
    realm_netloc = parts.netloc.rpartition("@")[2].lower()
    registry_host = _host_of(api_host)
    if realm_host == registry_host or realm_host in KNOWN_AUTH_HOSTS.get(registry_host, frozenset()):
        return None
    allowed = {h.lower() for h in tls.auth_hosts}
    if realm_host in allowed or realm_netloc in allowed:
        return None
    return f"it is on {realm_netloc}, another host than the registry"


def parse_token_answer(raw: bytes, *, registry: str) -> tuple[str, float]:
    """(token, lifetime in seconds) from a token service's JSON; anything else is a one-line error."""
    where = f"the token service for {registry}"
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise RegistryProtocolError(f"{where} did not answer JSON", registry=registry) from None
    if not isinstance(body, dict):
        raise RegistryProtocolError(f"{where} did not answer a JSON object", registry=registry)
    token = body.get("token") or body.get("access_token")
    if not token:
        raise RegistryProtocolError(f"{where} returned no token", registry=registry)
    if not isinstance(token, str) or not _TOKEN_CHARS.fullmatch(token):
        raise RegistryProtocolError(f"{where} returned a token that is not a plain string", registry=registry)
    expires = body.get("expires_in")
    if expires is None or expires == 0:
        expires = 60  # the distribution spec's default
    if isinstance(expires, bool) or not isinstance(expires, (int, float)) or math.isnan(expires):
        raise RegistryProtocolError(f"{where} returned expires_in {str(expires)[:40]!r}, not a number",
                                    registry=registry)
    lifetime = max(TOKEN_MIN_SECONDS, min(float(expires), TOKEN_MAX_SECONDS) - 10)
    return token, lifetime


class Authenticator:
    """The auth state of one registry: its challenge, its credential and a token cache per scope set."""

    def __init__(self, registry: str, api_host: str, credential: Credential | None, tls: TLSOptions,
                 transport: Transport, retry: RetryPolicy) -> None:
        self.registry = registry
        self.api_host = api_host
        self.credential = credential
        self.tls = tls
        self.transport = transport
        self.retry = retry
        self.challenge: Challenge | None = None
        self.registry_scheme = "https"
        # A realm refused the password: said again in a later login error, which would puzzle otherwise.
        self.withheld: str | None = None
        self._tokens: dict[frozenset[str], tuple[str, float]] = {}
        self._locks: dict[frozenset[str], asyncio.Lock] = {}

    def basic_header(self) -> dict[str, str]:
        assert self.credential is not None
        raw = f"{self.credential.username}:{self.credential.password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

    def failed(self) -> AuthenticationFailed:
        """The registry turned our login down (or we had none to offer)."""
        if self.withheld is not None:
            return AuthenticationFailed(
                f"{self.registry} wants a login at a token service that was not sent the password: {self.withheld}",
                hint="if that service belongs to the registry, allow its host with --auth-host HOST "
                     "(--insecure for a plain-http one)",
                registry=self.registry,
            )
        if self.credential is None:
            return AuthenticationFailed(
                f"{self.registry} requires a login and the auth file has no entry for it",
                hint="add a login for it: mirror-wizard credentials add, or the wizard's Credentials step",
                registry=self.registry, code=ErrorCode.LOGIN_MISSING,
            )
        return AuthenticationFailed(
            f"{self.registry} rejected the user name or password for {self.credential.username!r}",
            hint="check the entry for this registry in the auth file",
            registry=self.registry, code=ErrorCode.LOGIN_REFUSED,
        )

    def update(self, header: str | None) -> None:
        """A 401 may carry a new challenge (another realm, a scope the call needs)."""
        if header:
            self.challenge = parse_challenge(header)

    async def headers(self, scopes: frozenset[str]) -> dict[str, str]:
        challenge = self.challenge
        if challenge is None:
            return {}
        if challenge.scheme == "basic" and self.credential is not None:
            return self.basic_header()
        if challenge.scheme == "bearer":
            token = await self.token(scopes)
            return {"Authorization": f"Bearer {token}"} if token else {}
        return {}

    async def token(self, scopes: frozenset[str], *, force: bool = False) -> str | None:
        challenge = self.challenge
        if challenge is None or challenge.scheme != "bearer":
            return None
        cached = self._tokens.get(scopes)
        if cached and not force and cached[1] > time.monotonic():
            return cached[0]
        lock = self._locks.setdefault(scopes, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(scopes)
            if cached and not force and cached[1] > time.monotonic():
                return cached[0]
            token, lifetime = await self.retry.run(lambda: self._fetch(challenge, scopes))
            self._tokens[scopes] = (token, time.monotonic() + lifetime)
            return token

    async def _fetch(self, challenge: Challenge, scopes: frozenset[str]) -> tuple[str, float]:
        realm = challenge.params.get("realm")
        if not realm:
            raise RegistryProtocolError(f"{self.registry} asked for a token but named no realm", registry=self.registry)
        refusal = realm_refusal(realm, api_host=self.api_host, registry_scheme=self.registry_scheme, tls=self.tls)
        send_password = self.credential is not None and refusal is None
        if self.credential is not None and refusal is not None:
            self.withheld = f"{_display(realm)} ({refusal})"
        params: list[tuple[str, str]] = []
        if challenge.params.get("service"):
            params.append(("service", challenge.params["service"]))
        # Newly needed scopes first (sorted push-scopes before pull-only mount sources).
        for scope in sorted(scopes, key=lambda s: (not s.endswith("push"), s)):
            params.append(("scope", scope))
        if send_password and self.credential is not None:
            params.append(("account", self.credential.username))
        headers = self.basic_header() if send_password else {}
        url = realm + ("&" if "?" in realm else "?") + urlencode(params)
        response = await self.transport.send("GET", url, headers)
        status = response.status
        if status == 200:
            raw = await self.transport.read_limited(response, url, TOKEN_LIMIT,
                                                    f"the token answer of {_display(realm)}")
            return parse_token_answer(raw, registry=self.registry)
        await self.transport.read_error_body(response)
        if status == 401:
            raise self.failed()
        if status == 403:
            raise AccessDenied(
                f"the token service for {self.registry} refused access to {', '.join(sorted(scopes)) or 'the registry'}",
                registry=self.registry, status=403,
            )
        raise _token_status_error(self.registry, status, response.headers.get("retry-after"))


def _display(realm: str) -> str:
    parts = urlsplit(realm)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


def _token_status_error(registry: str, status: int, retry_after: str | None) -> RegistryError:
    text = f"{registry}: token request answered {status}"
    if status in RETRY_STATUSES:
        return RegistryUnreachable(text + " (still failing after retries)", registry=registry, status=status,
                                   retry_after=retry_after)
    return RegistryProtocolError(text, registry=registry, status=status)


__all__ = ["KNOWN_AUTH_HOSTS", "Authenticator", "Challenge", "parse_challenge", "parse_token_answer", "realm_refusal"]
