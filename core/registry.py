"""An async client for the OCI distribution API, on httpx.

One :class:`RegistrySession` per command run owns one :class:`RegistryClient` per registry host; each
client owns its connection pool, its auth state (challenge, token cache per scope set) and its two
concurrency limits: ``transfers`` for blob bodies, and a separate lane for small requests (HEAD,
manifests, mounts) so they never queue behind big blobs.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import hashlib
import random
import re
import ssl
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit, parse_qsl

import httpx

from .authfile import AuthFile, Credential
from .errors import (
    AccessDenied,
    AuthenticationFailed,
    Cancelled,
    IntegrityError,
    NotFound,
    PushRefused,
    RegistryError,
    RegistryProtocolError,
    RegistryUnreachable,
    TLSVerifyError,
)
from . import rawhttp
from .manifest import ACCEPT, Manifest
from .reference import ImageReference
from .rawhttp import RawHTTPError, RawResponse
from .tlsconfig import TLSOptions, build_ssl_context

CHUNK = 1 << 20
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
SMALL_LANE = 8

BodyFactory = Callable[[], Any]


@dataclass
class Challenge:
    scheme: str  # "basic" | "bearer" | "none"
    params: dict[str, str] = field(default_factory=dict)


_CHALLENGE_RE = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def parse_challenge(header: str) -> Challenge:
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3)) for m in _CHALLENGE_RE.finditer(rest)}
    return Challenge(scheme.lower(), params)


def retry_after_seconds(value: str | None, default: float) -> float:
    if not value:
        return default
    value = value.strip()
    if value.isdigit():
        return min(float(value), 60.0)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, min(when.timestamp() - time.time(), 60.0))


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query = [(k, v) for k, v in query if k not in params] + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


@dataclass
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0

    def delay(self, attempt: int) -> float:
        return min(self.max_delay, self.base_delay * (2 ** attempt)) * (0.75 + random.random() / 2)


class RegistryClient:
    """Talks to one registry host. Repository-level scopes are requested per call, narrowest first."""

    def __init__(
        self,
        registry: str,
        *,
        credential: Credential | None,
        tls: TLSOptions,
        max_transfers: int = 6,
        retry: RetryPolicy | None = None,
        api_host: str | None = None,
    ) -> None:
        self.registry = registry
        self.api_host = api_host or registry
        self.credential = credential
        self.insecure = tls.is_insecure(self.api_host)
        self.retry = retry or RetryPolicy()
        self.transfers = asyncio.Semaphore(max_transfers)
        self.small = asyncio.Semaphore(SMALL_LANE)
        self._ssl = build_ssl_context(self.api_host, tls)
        # Keep-alive connections for blob bodies; room for every transfer plus a few reads outside
        # the transfer limit (release files, configs), so a full round of transfers reuses them all.
        self.raw_pool = rawhttp.ConnectionPool(self._ssl, max_idle=max_transfers + 2)
        self._client = httpx.AsyncClient(
            verify=self._ssl,
            http2=False,
            follow_redirects=False,
            timeout=httpx.Timeout(connect=15.0, read=120.0, write=120.0, pool=None),
            limits=httpx.Limits(
                max_connections=max_transfers + SMALL_LANE + 2,
                max_keepalive_connections=max_transfers + SMALL_LANE + 2,
            ),
            headers={"User-Agent": "mirror-wizard/0.1"},
        )
        self._base: str | None = None
        self._challenge: Challenge | None = None
        self._tokens: dict[frozenset[str], tuple[str, float]] = {}
        self._token_locks: dict[frozenset[str], asyncio.Lock] = {}
        self._ping_lock = asyncio.Lock()
        self.token_requests: list[list[str]] = []  # scopes asked, for tests and diagnostics
        # Set once a manifest PUT by digest alone was accepted: from then on a tagged image may go up by
        # its tag only (see RegistryDestination.put_tagged); until then, refusal is detected and explained.
        self.digest_pushes_ok = False

    async def aclose(self) -> None:
        await self.raw_pool.aclose()
        await self._client.aclose()

    # -- connection and auth ------------------------------------------------------------------

    async def ping(self) -> Challenge:
        """GET /v2/ once; remember the base URL and the auth challenge for every later call."""
        async with self._ping_lock:
            if self._base is not None and self._challenge is not None:
                return self._challenge
            attempt = 0
            while True:
                try:
                    return await self._ping_once()
                except RegistryUnreachable:
                    # A registry restarting (or a blip) should not fail a long mirror at its first call.
                    if attempt + 1 >= self.retry.attempts:
                        raise
                    await asyncio.sleep(self.retry.delay(attempt))
                    attempt += 1

    async def _ping_once(self) -> Challenge:
        schemes = ["https", "http"] if self.insecure else ["https"]
        last_error: Exception | None = None
        for scheme in schemes:
            base = f"{scheme}://{self.api_host}"
            try:
                response = await self._send_raw("GET", f"{base}/v2/", headers={})
            except (RegistryUnreachable, TLSVerifyError) as exc:
                last_error = exc
                continue
            if response.status_code in (200, 401):
                self._base = base
                header = response.headers.get("www-authenticate")
                if response.status_code == 401 and header:
                    self._challenge = parse_challenge(header)
                elif response.status_code == 401:
                    self._challenge = Challenge("basic")
                else:
                    self._challenge = Challenge("none")
                return self._challenge
            if response.status_code == 404:
                raise RegistryProtocolError(
                    f"{self.registry} does not serve the registry API at /v2/", registry=self.registry
                )
            last_error = self._status_error(response, what="/v2/")
        assert last_error is not None
        raise last_error

    async def check_login(self, repository: str | None = None) -> None:
        """Prove the credentials work: Basic against /v2/, Bearer by getting a token."""
        challenge = await self.ping()
        if challenge.scheme == "none":
            return
        if challenge.scheme == "basic":
            if self.credential is None:
                raise AuthenticationFailed(
                    f"{self.registry} requires a login and the auth file has no entry for it",
                    registry=self.registry,
                )
            response = await self._send_raw("GET", f"{self._base}/v2/", headers=self._basic_header())
            if response.status_code == 401:
                raise self._auth_failed()
            if response.status_code >= 400:
                raise self._status_error(response, what="/v2/")
            return
        scopes = frozenset({f"repository:{repository}:pull"}) if repository else frozenset()
        await self._token(scopes, force=True)

    def _basic_header(self) -> dict[str, str]:
        assert self.credential is not None
        raw = f"{self.credential.username}:{self.credential.password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

    def _auth_failed(self) -> AuthenticationFailed:
        if self.credential is None:
            return AuthenticationFailed(
                f"{self.registry} requires a login and the auth file has no entry for it",
                hint="add a login for it: mirror-wizard credentials add, or the wizard's Credentials step",
                registry=self.registry,
            )
        return AuthenticationFailed(
            f"{self.registry} rejected the user name or password for {self.credential.username!r}",
            hint="check the entry for this registry in the auth file",
            registry=self.registry,
        )

    async def _token(self, scopes: frozenset[str], *, force: bool = False) -> str | None:
        challenge = self._challenge
        if challenge is None or challenge.scheme != "bearer":
            return None
        cached = self._tokens.get(scopes)
        if cached and not force and cached[1] > time.monotonic():
            return cached[0]
        lock = self._token_locks.setdefault(scopes, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(scopes)
            if cached and not force and cached[1] > time.monotonic():
                return cached[0]
            realm = challenge.params.get("realm")
            if not realm:
                raise RegistryProtocolError(f"{self.registry} asked for a token but named no realm", registry=self.registry)
            params: list[tuple[str, str]] = []
            if challenge.params.get("service"):
                params.append(("service", challenge.params["service"]))
            # Newly needed scopes first (sorted push-scopes before pull-only mount sources).
            for scope in sorted(scopes, key=lambda s: (not s.endswith("push"), s)):
                params.append(("scope", scope))
            if self.credential is not None:
                params.append(("account", self.credential.username))
            headers = self._basic_header() if self.credential is not None else {}
            self.token_requests.append(sorted(scopes))
            url = realm + ("&" if "?" in realm else "?") + urlencode(params)
            response = await self._send_raw("GET", url, headers=headers)
            if response.status_code == 401:
                raise self._auth_failed()
            if response.status_code == 403:
                raise AccessDenied(
                    f"the token service for {self.registry} refused access to {', '.join(sorted(scopes)) or 'the registry'}",
                    registry=self.registry,
                )
            if response.status_code != 200:
                raise self._status_error(response, what="token request")
            try:
                body = response.json()
            except ValueError:
                raise RegistryProtocolError(f"the token service for {self.registry} did not answer JSON") from None
            token = body.get("token") or body.get("access_token")
            if not token:
                raise RegistryProtocolError(f"the token service for {self.registry} returned no token")
            expires = body.get("expires_in") or 60
            self._tokens[scopes] = (token, time.monotonic() + max(10, int(expires) - 10))
            return token

    async def _auth_headers(self, scopes: frozenset[str]) -> dict[str, str]:
        challenge = self._challenge or await self.ping()
        if challenge.scheme == "basic" and self.credential is not None:
            return self._basic_header()
        if challenge.scheme == "bearer":
            token = await self._token(scopes)
            return {"Authorization": f"Bearer {token}"} if token else {}
        return {}

    # -- sending ------------------------------------------------------------------------------

    async def _send_raw(self, method: str, url: str, *, headers: dict[str, str], content: Any = None,
                        stream: bool = False) -> httpx.Response:
        """One HTTP exchange with transport errors mapped to our tree (no retry here)."""
        try:
            request = self._client.build_request(method, url, headers=headers, content=content)
            return await self._client.send(request, stream=stream)
        except httpx.ConnectError as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(exc):
                reason = getattr(cause, "verify_message", None) or "certificate verify failed"
                raise TLSVerifyError(
                    f"the TLS certificate of {self.api_host} is not trusted ({reason})",
                    hint="pass its CA with --ca-file, or put it in /etc/containers/certs.d/HOST:PORT/ca.crt",
                    registry=self.registry,
                ) from None
            if isinstance(cause, ssl.SSLError) or "SSL" in str(exc):
                raise TLSVerifyError(
                    f"TLS handshake with {self.api_host} failed ({exc})",
                    hint="does the registry speak HTTPS? use --insecure for a plain HTTP registry",
                    registry=self.registry,
                ) from None
            raise RegistryUnreachable(f"cannot connect to {self.api_host}: {exc or 'connection failed'}",
                                      registry=self.registry) from None
        except httpx.TimeoutException:
            raise RegistryUnreachable(f"{self.api_host} timed out", registry=self.registry) from None
        except httpx.TransportError as exc:
            raise RegistryUnreachable(f"connection to {self.api_host} failed: {exc or type(exc).__name__}",
                                      registry=self.registry) from None

    async def request(
        self,
        method: str,
        path_or_url: str,
        *,
        scopes: frozenset[str],
        headers: dict[str, str] | None = None,
        body: BodyFactory | None = None,
        ok: tuple[int, ...] = (200,),
        stream: bool = False,
        what: str = "",
    ) -> httpx.Response:
        """Send with auth, retries (transport errors, 5xx, 429 with Retry-After) and one re-auth on 401.

        ``body`` is a factory, so a retry gets a fresh body (a consumed stream cannot be replayed).
        Returns a response whose status is in ``ok`` or 404/403 (the caller decides); raises otherwise.
        """
        if self._base is None:
            await self.ping()
        url = path_or_url if path_or_url.startswith(("http://", "https://")) else f"{self._base}{path_or_url}"
        reauthed = False
        attempt = 0
        while True:
            hdrs = dict(headers or {})
            hdrs.update(await self._auth_headers(scopes))
            try:
                response = await self._send_raw(method, url, headers=hdrs,
                                                content=body() if body else None, stream=stream)
            except RegistryUnreachable:
                if attempt + 1 >= self.retry.attempts:
                    raise
                await asyncio.sleep(self.retry.delay(attempt))
                attempt += 1
                continue
            status = response.status_code
            if status in ok:
                return response
            if status == 401 and not reauthed:
                await response.aclose()
                header = response.headers.get("www-authenticate")
                if header:
                    self._challenge = parse_challenge(header)
                if self._challenge and self._challenge.scheme == "bearer":
                    extra = self._challenge.params.get("scope")
                    needed = scopes | frozenset(extra.split(" ")) if extra else scopes
                    await self._token(needed, force=True)
                    scopes = needed
                reauthed = True
                continue
            if status in RETRY_STATUSES and attempt + 1 < self.retry.attempts:
                await response.aread()
                await response.aclose()
                wait = retry_after_seconds(response.headers.get("retry-after"), self.retry.delay(attempt))
                await asyncio.sleep(wait)
                attempt += 1
                continue
            if status in (404, 403) and (404 in ok or 403 in ok):
                return response
            await response.aread()
            await response.aclose()
            raise self._status_error(response, what=what or f"{method} {urlsplit(url).path}")

    def _status_error(self, response: httpx.Response, *, what: str) -> RegistryError:
        status = response.status_code
        detail = ""
        code = ""
        try:
            errors = response.json().get("errors") or []
            if errors:
                code = str(errors[0].get("code", ""))
                detail = str(errors[0].get("message", ""))
        except (ValueError, AttributeError, httpx.ResponseNotRead):
            pass
        text = f"{self.registry}: {what} answered {status}" + (f" {code}: {detail}" if code or detail else "")
        if status == 401:
            return self._auth_failed()
        if status == 403:
            return AccessDenied(text, registry=self.registry, status=status)
        if status == 404:
            return NotFound(text, registry=self.registry, status=status)
        if status in (500, 502, 503, 504, 429, 408):
            return RegistryUnreachable(text + " (still failing after retries)", registry=self.registry, status=status)
        return RegistryProtocolError(text, registry=self.registry, status=status)

    # -- scopes ---------------------------------------------------------------------------

    @staticmethod
    def pull_scope(repository: str) -> frozenset[str]:
        return frozenset({f"repository:{repository}:pull"})

    @staticmethod
    def push_scope(repository: str, *mount_from: str) -> frozenset[str]:
        # Mounting from the repository itself (an existence check) needs no extra scope.
        return frozenset({f"repository:{repository}:pull,push"}
                         | {f"repository:{m}:pull" for m in mount_from if m != repository})

    # -- reading ----------------------------------------------------------------------------

    async def get_manifest(self, repository: str, reference: str, *, push_scope: bool = False) -> Manifest:
        scopes = self.push_scope(repository) if push_scope else self.pull_scope(repository)
        async with self.small:
            response = await self.request(
                "GET", f"/v2/{repository}/manifests/{reference}", scopes=scopes,
                headers={"Accept": ACCEPT}, ok=(200, 404), what=f"manifest {repository}:{reference}",
            )
        where = f"{self.registry}/{repository}{'@' if reference.startswith('sha256:') else ':'}{reference}"
        if response.status_code == 404:
            raise NotFound(f"{where} does not exist", registry=self.registry, status=404)
        manifest = Manifest.parse(response.content, response.headers.get("content-type"), where=where)
        if reference.startswith("sha256:") and manifest.digest != reference:
            raise IntegrityError(f"{where}: the manifest served has digest {manifest.digest}")
        header = response.headers.get("docker-content-digest")
        if header and header.startswith("sha256:") and header != manifest.digest and reference.startswith("sha256:"):
            raise IntegrityError(f"{where}: Docker-Content-Digest {header} does not match the manifest bytes")
        return manifest

    async def manifest_digest(self, repository: str, reference: str, *, push_scope: bool = True) -> str | None:
        """HEAD a manifest: its digest, or None when absent (404, and 403 from some registries)."""
        scopes = self.push_scope(repository) if push_scope else self.pull_scope(repository)
        async with self.small:
            response = await self.request(
                "HEAD", f"/v2/{repository}/manifests/{reference}", scopes=scopes,
                headers={"Accept": ACCEPT}, ok=(200, 404, 403), what=f"manifest {repository}:{reference}",
            )
        if response.status_code != 200:
            return None
        digest = response.headers.get("docker-content-digest")
        if digest:
            return digest
        # No header: fetch the bytes and compute it ourselves.
        return (await self.get_manifest(repository, reference, push_scope=push_scope)).digest

    async def blob_exists(self, repository: str, digest: str, *, push_scope: bool = True) -> bool:
        scopes = self.push_scope(repository) if push_scope else self.pull_scope(repository)
        async with self.small:
            response = await self.request(
                "HEAD", f"/v2/{repository}/blobs/{digest}", scopes=scopes,
                ok=(200, 404, 403), what=f"blob {digest[:19]} in {repository}",
            )
        return response.status_code == 200

    @asynccontextmanager
    async def open_blob(self, repository: str, digest: str, offset: int = 0) -> AsyncIterator[httpx.Response]:
        """A streaming GET of a blob (redirects followed; httpx drops Authorization across hosts)."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        url = f"/v2/{repository}/blobs/{digest}"
        for _ in range(5):
            response = await self.request(
                "GET", url, scopes=self.pull_scope(repository), headers=headers,
                ok=(200, 206, 404, 301, 302, 303, 307, 308), stream=True, what=f"blob {digest[:19]} in {repository}",
            )
            if response.status_code in (301, 302, 303, 307, 308):
                location = response.headers.get("location", "")
                await response.aclose()
                target = urljoin(str(response.url), location)
                if urlsplit(target).netloc != urlsplit(str(response.url)).netloc:
                    # Object storage: never send our registry credentials there.
                    response = await self._send_raw("GET", target, headers=headers, stream=True)
                    if response.status_code in (200, 206):
                        break
                    await response.aclose()
                    raise self._status_error(response, what=f"blob {digest[:19]} redirect")
                url = target
                continue
            break
        else:
            raise RegistryProtocolError(f"{self.registry}: too many redirects for blob {digest}")
        if response.status_code == 404:
            await response.aclose()
            raise NotFound(f"{self.registry}/{repository}: blob {digest} does not exist", registry=self.registry, status=404)
        if offset and response.status_code != 206:
            await response.aclose()
            raise RegistryProtocolError(f"{self.registry} ignored a Range request for blob {digest}")
        try:
            yield response
        finally:
            await response.aclose()

    async def _fast_blob_get(self, repository: str, digest: str, offset: int) -> RawResponse | None:
        """The lean path for a blob body; None when the answer needs httpx's handling (auth, redirect, error)."""
        if self._base is None:
            await self.ping()
        headers = await self._auth_headers(self.pull_scope(repository))
        if offset:
            headers["Range"] = f"bytes={offset}-"
        response = await self._raw_exchange("GET", f"{self._base}/v2/{repository}/blobs/{digest}", headers)
        if response.status == 200 and not offset or response.status == 206 and offset:
            return response
        response.close()
        return None

    async def _raw_exchange(self, method: str, url: str, headers: dict[str, str],
                            body: AsyncIterator[bytes] | None = None) -> RawResponse:
        try:
            return await rawhttp.exchange(method, url, headers, ssl_context=self._ssl, body=body, pool=self.raw_pool)
        except ssl.SSLError as exc:
            raise TLSVerifyError(f"TLS with {self.api_host} failed: {exc}", registry=self.registry) from None
        except RawHTTPError as exc:
            raise RegistryUnreachable(f"connection to {self.api_host} failed: {exc}", registry=self.registry) from None

    async def stream_blob(self, repository: str, digest: str, size: int | None = None) -> AsyncIterator[bytes]:
        """Yield a blob's bytes, resuming with Range after a broken connection; verify sha256 at the end."""
        hasher = hashlib.sha256()
        received = 0
        failures = 0
        while True:
            try:
                fast = await self._fast_blob_get(repository, digest, received)
                if fast is not None:
                    try:
                        async for chunk in fast.body():
                            hasher.update(chunk)
                            received += len(chunk)
                            if size is not None and received > size:
                                raise IntegrityError(f"blob {digest} from {self.registry}/{repository} is longer than {size} bytes")
                            yield chunk
                    finally:
                        fast.close()
                else:
                    async with self.open_blob(repository, digest, offset=received) as response:
                        async for chunk in response.aiter_raw():
                            hasher.update(chunk)
                            received += len(chunk)
                            if size is not None and received > size:
                                raise IntegrityError(f"blob {digest} from {self.registry}/{repository} is longer than {size} bytes")
                            yield chunk
                if size is None or received == size:
                    break
                raise httpx.ReadError("short read")
            except (httpx.TransportError, RawHTTPError, RegistryUnreachable, RegistryProtocolError) as exc:
                failures += 1
                if failures >= self.retry.attempts or (isinstance(exc, RegistryProtocolError) and received):
                    raise RegistryUnreachable(
                        f"reading blob {digest} from {self.registry}/{repository} failed after {received} bytes: {exc}",
                        registry=self.registry,
                    ) from None
                await asyncio.sleep(self.retry.delay(failures - 1))
        if "sha256:" + hasher.hexdigest() != digest:
            raise IntegrityError(f"blob {digest} from {self.registry}/{repository} does not match its digest")

    async def read_blob(self, repository: str, digest: str, *, limit: int = 64 << 20) -> bytes:
        """A small blob (config, metadata) whole in memory, verified."""
        parts: list[bytes] = []
        total = 0
        async for chunk in self.stream_blob(repository, digest):
            total += len(chunk)
            if total > limit:
                raise RegistryProtocolError(f"blob {digest} is larger than {limit} bytes; not read into memory")
            parts.append(chunk)
        return b"".join(parts)

    async def list_tags(self, repository: str, *, page_size: int = 1000) -> list[str]:
        tags: list[str] = []
        url: str | None = f"/v2/{repository}/tags/list?n={page_size}"
        while url:
            async with self.small:
                response = await self.request("GET", url, scopes=self.pull_scope(repository), ok=(200, 404),
                                              what=f"tags of {repository}")
            if response.status_code == 404:
                raise NotFound(f"{self.registry}/{repository} does not exist", registry=self.registry, status=404)
            try:
                tags.extend(response.json().get("tags") or [])
            except ValueError:
                raise RegistryProtocolError(f"{self.registry}: tag list of {repository} is not JSON") from None
            url = _next_link(response.headers.get("link"), str(response.url))
        return tags

    # -- writing ------------------------------------------------------------------------------

    async def mount_blob(self, repository: str, digest: str, from_repository: str) -> tuple[bool, str | None]:
        """Cross-repository mount in one POST: (True, None) when the blob is in ``repository`` now.

        Otherwise (False, upload URL): the registry opened an ordinary upload session instead (the blob
        is not in ``from_repository``, or mounts are not supported); the caller uploads into it rather
        than paying another POST. ``from_repository`` may be ``repository`` itself: then the POST doubles
        as the existence check (distribution answers 201 when the blob is already linked there).
        """
        async with self.small:
            response = await self.request(
                "POST", f"/v2/{repository}/blobs/uploads/?{urlencode({'mount': digest, 'from': from_repository})}",
                scopes=self.push_scope(repository, from_repository), ok=(201, 202, 401, 403, 404),
                what=f"mount {digest[:19]} into {repository}",
            )
        if response.status_code == 201:
            return True, None
        if response.status_code == 202 and response.headers.get("location"):
            return False, urljoin(str(response.url), response.headers["location"])
        return False, None

    async def _start_upload(self, repository: str, digest: str) -> str:
        scopes = self.push_scope(repository)
        async with self.small:
            start = await self.request(
                "POST", f"/v2/{repository}/blobs/uploads/", scopes=scopes, ok=(202,),
                what=f"upload {digest[:19]} to {repository}",
            )
        location = start.headers.get("location")
        if not location:
            raise RegistryProtocolError(f"{self.registry} opened an upload without a Location header")
        return urljoin(str(start.url), location)

    async def upload_blob(self, repository: str, digest: str, size: int, body: Callable[[], AsyncIterator[bytes]],
                          *, location: str | None = None) -> None:
        """POST an upload session (unless ``location`` is one already open), then one streamed PUT
        ?digest= with a Content-Length.

        ``body`` opens a fresh source stream for each try; if the source bytes fail verification the
        stream raises mid-PUT and the registry never commits the blob. Retries open a new session.
        """
        scopes = self.push_scope(repository)
        attempt = 0
        while True:
            session_url = location or await self._start_upload(repository, digest)
            location = None
            put_url = _with_query(session_url, digest=digest)
            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
            try:
                hdrs = dict(headers)
                hdrs.update(await self._auth_headers(scopes))
                raw = await self._raw_exchange("PUT", put_url, hdrs, body=body())
                try:
                    if raw.status in (201, 204):
                        return  # the connection goes back to the pool; no httpx objects for the usual answer
                    error_body = await raw.read_all()
                finally:
                    raw.close()
                response = httpx.Response(raw.status, headers=raw.headers, content=error_body,
                                          request=httpx.Request("PUT", put_url))
            except (RegistryUnreachable, TLSVerifyError) as exc:
                attempt += 1
                if attempt >= self.retry.attempts:
                    raise RegistryUnreachable(f"uploading blob {digest} to {self.registry}/{repository} failed: {exc}",
                                              registry=self.registry) from None
                await asyncio.sleep(self.retry.delay(attempt))
                continue
            if response.status_code in RETRY_STATUSES or response.status_code == 401:
                attempt += 1
                if attempt < self.retry.attempts:
                    if response.status_code == 401:
                        await self._token(scopes, force=True)
                    await asyncio.sleep(retry_after_seconds(response.headers.get("retry-after"), self.retry.delay(attempt)))
                    continue
            if response.status_code == 413:
                # A front proxy that limits body sizes: fall back to PATCH chunks.
                await self._upload_chunked(repository, digest, size, body)
                return
            raise self._status_error(response, what=f"upload of blob {digest[:19]} to {repository}")

    async def _upload_chunked(self, repository: str, digest: str, size: int,
                              body: Callable[[], AsyncIterator[bytes]], chunk_size: int = 8 << 20) -> None:
        scopes = self.push_scope(repository)
        start = await self.request("POST", f"/v2/{repository}/blobs/uploads/", scopes=scopes, ok=(202,))
        location = urljoin(str(start.url), start.headers["location"])
        min_chunk = int(start.headers.get("oci-chunk-min-length") or 0)
        chunk_size = max(chunk_size, min_chunk)
        offset = 0
        buffer = bytearray()

        async def send(data: bytes) -> None:
            nonlocal location, offset
            response = await self.request(
                "PATCH", location, scopes=scopes, ok=(202,),
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(data)),
                         "Content-Range": f"{offset}-{offset + len(data) - 1}"},
                body=lambda: data,
            )
            location = urljoin(str(response.url), response.headers.get("location", location))
            offset += len(data)

        async for chunk in body():
            buffer += chunk
            while len(buffer) >= chunk_size:
                await send(bytes(buffer[:chunk_size]))
                del buffer[:chunk_size]
        if buffer:
            await send(bytes(buffer))
        await self.request("PUT", _with_query(location, digest=digest), scopes=scopes, ok=(201, 204),
                           headers={"Content-Length": "0"})

    async def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> str | None:
        """PUT a manifest by tag or digest; returns the digest the registry says it stored (if it says)."""
        async with self.small:
            response = await self.request(
                "PUT", f"/v2/{repository}/manifests/{reference}", scopes=self.push_scope(repository),
                headers={"Content-Type": manifest.media_type}, body=lambda: manifest.raw,
                ok=(200, 201, 202, 400, 404, 405), what=f"manifest {repository}:{reference}",
            )
        if response.status_code in (200, 201, 202):
            digest = response.headers.get("docker-content-digest")
            if digest and digest != manifest.digest:
                raise IntegrityError(f"{self.registry}/{repository} stored manifest {manifest.digest} as {digest}")
            if reference.startswith("sha256:"):
                self.digest_pushes_ok = True
            return digest
        await response.aread()
        if reference.startswith("sha256:") and response.status_code in (400, 404, 405):
            raise PushRefused(
                f"{self.registry}/{repository} refused a manifest pushed by digest without a tag",
                hint="registries like the OpenShift internal registry cannot be mirror targets; use a registry such as Quay, Harbor or the mirror registry for Red Hat OpenShift",
                registry=self.registry, status=response.status_code,
            )
        raise self._status_error(response, what=f"manifest {repository}:{reference}")


def _next_link(header: str | None, current: str) -> str | None:
    if not header:
        return None
    match = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', header)
    return urljoin(current, match.group(1)) if match else None


class BlobCache:
    """Small verified blobs by digest, kept for one session: what reading a release needs whole (its
    config, its release-manifests layer) the copy then serves again instead of reading the source twice."""

    def __init__(self, *, max_blob: int = 16 << 20, max_total: int = 64 << 20) -> None:
        self.max_blob = max_blob
        self.max_total = max_total
        self._blobs: dict[str, bytes] = {}
        self._total = 0
        self.hits = 0  # times a blob was served from here, for tests and diagnostics

    def get(self, digest: str) -> bytes | None:
        data = self._blobs.get(digest)
        if data is not None:
            self.hits += 1
        return data

    def add(self, digest: str, data: bytes) -> None:
        """Keep ``data`` (already verified against ``digest``) unless it would exceed the bounds."""
        if digest in self._blobs or len(data) > self.max_blob or self._total + len(data) > self.max_total:
            return
        self._blobs[digest] = data
        self._total += len(data)


class RegistrySession:
    """Clients for every registry a run touches, sharing one auth file and TLS options."""

    def __init__(self, auth: AuthFile | None = None, tls: TLSOptions | None = None, *,
                 max_per_registry: int = 6, retry: RetryPolicy | None = None,
                 source_mirrors: list[tuple[str, str]] | None = None) -> None:
        self.auth = auth or AuthFile(path=None, data={"auths": {}})
        self.tls = tls or TLSOptions()
        self.max_per_registry = max_per_registry
        self.retry = retry
        # (source prefix, mirror prefix): where to really read images named under the source
        # (an ImageDigestMirrorSet given with --idms-file, or the sandbox standing in for quay.io).
        self.source_mirrors = list(source_mirrors or [])
        self._clients: dict[str, RegistryClient] = {}
        self.blob_cache = BlobCache()

    def resolve_source(self, ref: ImageReference) -> ImageReference:
        """Where to read ``ref`` from: the first mirror whose source prefix matches, else itself."""
        name = ref.name
        for source, mirror in self.source_mirrors:
            if name == source or name.startswith(source.rstrip("/") + "/"):
                from .reference import parse_reference

                rewritten = mirror.rstrip("/") + name[len(source.rstrip("/")):]
                target = parse_reference(rewritten, default_tag=None)
                return ImageReference(target.registry, target.repository, ref.tag, ref.digest)
        return ref

    def client(self, registry: str) -> RegistryClient:
        client = self._clients.get(registry)
        if client is None:
            from .reference import DOCKER_HUB, DOCKER_HUB_API

            client = RegistryClient(
                registry,
                credential=self.auth.lookup(registry),
                tls=self.tls,
                max_transfers=self.max_per_registry,
                retry=self.retry,
                api_host=DOCKER_HUB_API if registry == DOCKER_HUB else registry,
            )
            self._clients[registry] = client
        return client

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def __aenter__(self) -> RegistrySession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def guard_cancel(cancel: asyncio.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


__all__ = [
    "RegistryClient",
    "RegistrySession",
    "RetryPolicy",
    "BlobCache",
    "Challenge",
    "parse_challenge",
    "retry_after_seconds",
    "guard_cancel",
]

