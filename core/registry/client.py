"""The OCI distribution API calls against one registry: manifests, blobs, uploads, mounts, tags.

Every call goes through :meth:`RegistryClient.request` (a small answer read whole) or, for blob
bodies, :meth:`RegistryClient.blob_response`; both take their auth headers from
:class:`~core.registry.auth.Authenticator`, their errors from :func:`core.http.map_error` and
:meth:`RegistryClient.status_error`, and their retries from :class:`~core.registry.transport.RetryPolicy`,
over the one :class:`core.http.HttpClient`.

A blob GET that the registry answers with a redirect (quay.io and registry.redhat.io send every blob
to a CDN with a signed, expiring URL) is followed on the CDN origin's own keep-alive pool, never with
the registry's credentials; the CDN URL is kept for the blob's later ranged parts and resumes, and
when it stops working (401/403/410: it expired) the registry is asked again for a fresh one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from .. import adaptive
from ..authfile import Credential
from ..errors import (
    AccessDenied,
    CDNRefused,
    ErrorCode,
    IntegrityError,
    MirrorError,
    NotFound,
    PushRefused,
    RegistryError,
    RegistryProtocolError,
    RegistryUnreachable,
    TLSVerifyError,
)
from ..http import HttpClient, RawResponse, display_host
from ..http.connection import ConnectionPool
from ..manifest import ACCEPT, Manifest
from ..tlsconfig import TLSOptions
from .auth import Authenticator, Challenge, parse_challenge
from .transport import (
    ERROR_BODY_LIMIT,
    MANIFEST_LIMIT,
    RETRY_STATUSES,
    SMALL_BODY_LIMIT,
    SMALL_LANE,
    STALL_TIMEOUT,
    TAG_PAGE_LIMIT,
    RetryPolicy,
    Transport,
)

CHUNK = 1 << 20
MAX_INDEX_CHILDREN = 1000  # real indexes list a handful of platforms; thousands is an attack on memory
MAX_TAG_PAGES = 1000
MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)
REDIRECT_BODY_LIMIT = 16 << 10
# A CDN URL that stopped working: signed URLs expire (S3 and CloudFront answer 403, some 410 or 401).
CDN_EXPIRED = (401, 403, 410)

RequestBody = Callable[[], bytes]
_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query = [(k, v) for k, v in query if k not in params] + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def parse_manifest(raw: bytes, content_type: str | None, *, where: str) -> Manifest:
    """A manifest from a registry, with every field it will be asked for checked now: a wrong JSON
    type, absurd nesting or an index with thousands of children is one clear error, here."""
    try:
        manifest = Manifest.parse(raw, content_type, where=where)
        children = manifest.children()
        if len(children) > MAX_INDEX_CHILDREN:
            raise RegistryProtocolError(
                f"{where}: index lists {len(children)} manifests, more than the {MAX_INDEX_CHILDREN} accepted")
        manifest.blobs()
    except MirrorError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, RecursionError):
        raise RegistryProtocolError(f"{where}: manifest has a field of the wrong type") from None
    return manifest


def parse_tag_list(raw: bytes, *, where: str) -> list[str]:
    """The ``tags`` of one tag-list page (null or missing means none); anything else is one error."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise RegistryProtocolError(f"{where}: tag list is not JSON") from None
    if not isinstance(body, dict):
        raise RegistryProtocolError(f"{where}: tag list is not a JSON object")
    tags = body.get("tags")
    if tags is None:
        return []
    if not isinstance(tags, list):
        raise RegistryProtocolError(f"{where}: tag list's tags is not a list")
    for tag in tags:
        if not isinstance(tag, str) or not _TAG_RE.fullmatch(tag):
            raise RegistryProtocolError(f"{where}: tag list holds {str(tag)[:60]!r}, which is not a tag")
    return list(tags)


def next_link(header: str | None, current: str) -> str | None:
    """The ``rel="next"`` target of a Link header, resolved against ``current``; None when there is none."""
    if not header:
        return None
    match = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', header)
    if not match:
        return None
    named: str = match.group(1)
    try:
        target = urljoin(current, named)
        urlsplit(target).port  # noqa: B018 - parses the host and port: a bad one raises here, not later
    except ValueError:
        raise RegistryProtocolError(f"the Link header names {named[:60]!r}, which is not a URL") from None
    return target


MANIFEST_RACE_ATTEMPTS = 3


def error_code(body: bytes) -> str:
    """The first ``errors[].code`` of a registry's error JSON ("" when there is none)."""
    try:
        data = json.loads(body[:ERROR_BODY_LIMIT]) if body else {}
    except (ValueError, RecursionError):
        return ""
    errors = data.get("errors") if isinstance(data, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("code", ""))[:80]
    return ""


@dataclass(frozen=True)
class Reply:
    """A small answer read whole on the lean path (:meth:`RegistryClient.call`)."""

    status_code: int
    headers: dict[str, str]  # names in lower case
    content: bytes
    url: str


@dataclass
class BlobLocation:
    """Where one blob's bytes come from: the CDN URL a registry redirected it to, once known (ranged parts
    and resumes go there directly; forgotten when it expires)."""

    cdn: str | None = None
    refreshed: int = 0  # fresh redirects asked after the CDN refused an old one


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.rpartition("@")[2].lower()


class RegistryClient:
    """Talks to one registry host. Repository-level scopes are requested per call, narrowest first.

    Owns its connections (:class:`Transport`), its auth state (:class:`Authenticator`) and two
    concurrency limits: ``transfers`` for blob bodies, and ``small`` for HEAD, manifests and mounts so
    they never queue behind big blobs.
    """

    def __init__(
        self,
        registry: str,
        *,
        credential: Credential | None,
        tls: TLSOptions,
        max_transfers: int = 6,
        retry: RetryPolicy | None = None,
        api_host: str | None = None,
        stall_timeout: float = STALL_TIMEOUT,
        http: HttpClient | None = None,
    ) -> None:
        self.registry = registry
        self.api_host = api_host or registry
        self.insecure = tls.is_insecure(self.api_host)
        # Every 429/5xx the one retry policy sees also narrows this registry's adaptive transfer limit
        # (weakly: the policy must not keep the client alive).
        me = weakref.ref(self)
        self.retry = (retry or RetryPolicy()).bound(lambda _error: adaptive.note_throttled(me()))
        self.transfers = asyncio.Semaphore(max_transfers)
        self.small = asyncio.Semaphore(SMALL_LANE)
        # A run's session shares one HTTP client among its registries (a CDN several of them redirect to
        # keeps one pool); a client made alone owns its own.
        self._own_http = http is None
        self.http = http or HttpClient(tls, stall_timeout=stall_timeout, max_idle=max_transfers + SMALL_LANE + 2)
        self.http.check_tls(self.api_host)
        self.transport = Transport(registry, self.api_host, self.http)
        self.auth = Authenticator(registry, self.api_host, credential, tls, self.transport, self.retry)
        self._base: str | None = None
        self._ping_lock = asyncio.Lock()
        # Set once a manifest PUT by digest alone was accepted: from then on a tagged image may go up by
        # its tag only (see RegistryDestination.put_tagged); until then, refusal is detected and explained.
        self.digest_pushes_ok = False
        self.first_digest_push = asyncio.Lock()  # held while no push by digest has been seen to succeed
        # Per-run state of the copy, kept here (one client per registry and session), not in module globals:
        self.transfer_pairs = adaptive.PairLimiters()  # the transfer limiters this registry is an end of
        self.ranged_limiter: adaptive.AdaptiveLimiter | None = None  # core.ranged's budget for big blobs
        self.ignores_range = False  # answered a Range request with the whole blob: not asked again

    @property
    def credential(self) -> Credential | None:
        return self.auth.credential

    @property
    def raw_pool(self) -> ConnectionPool:
        return self.transport.pool

    async def aclose(self) -> None:
        if self._own_http:
            await self.http.aclose()

    # -- connection and auth ------------------------------------------------------------------

    async def ping(self) -> Challenge:
        """GET /v2/ once; remember the base URL and the auth challenge for every later call."""
        async with self._ping_lock:
            if self._base is not None and self.auth.challenge is not None:
                return self.auth.challenge
            # A registry restarting (or a blip) should not fail a long mirror at its first call.
            return await self.retry.run(self._ping_once)

    async def _ping_once(self) -> Challenge:
        schemes = ["https", "http"] if self.insecure else ["https"]
        last_error: RegistryError | None = None
        for scheme in schemes:
            base = f"{scheme}://{self.api_host}"
            try:
                response = await self.transport.send("GET", f"{base}/v2/", {})
            except (RegistryUnreachable, TLSVerifyError) as exc:
                last_error = exc
                continue
            status = response.status
            if status in (200, 401):
                await self.transport.read_error_body(response)  # a ping's body says nothing we need
                self._base = base
                self.auth.registry_scheme = scheme
                header = response.headers.get("www-authenticate")
                if status == 401 and header:
                    self.auth.challenge = parse_challenge(header)
                elif status == 401:
                    self.auth.challenge = Challenge("basic")
                else:
                    self.auth.challenge = Challenge("none")
                return self.auth.challenge
            body = await self.transport.read_error_body(response)
            if status == 404:
                raise RegistryProtocolError(
                    f"{self.registry} does not serve the registry API at /v2/", registry=self.registry
                )
            last_error = self.status_error(status, response.headers, body, what="/v2/")
        assert last_error is not None
        raise last_error

    async def check_login(self, repository: str | None = None) -> None:
        """Prove the credentials work: Basic against /v2/, Bearer by getting a token."""
        challenge = await self.ping()
        if challenge.scheme == "none":
            return
        if challenge.scheme == "basic":
            if self.auth.credential is None:
                raise self.auth.failed()
            response = await self.transport.send("GET", f"{self._base}/v2/", self.auth.basic_header())
            body = await self.transport.read_error_body(response)
            if response.status == 401:
                raise self.auth.failed()
            if response.status >= 400:
                raise self.status_error(response.status, response.headers, body, what="/v2/")
            return
        scopes = frozenset({f"repository:{repository}:pull"}) if repository else frozenset()
        await self.auth.token(scopes, force=True)
        if self.auth.withheld is not None and self.auth.credential is not None:
            raise self.auth.failed()  # an anonymous token proves nothing about the login

    # -- sending ------------------------------------------------------------------------------

    def url(self, path_or_url: str) -> str:
        return path_or_url if path_or_url.startswith(("http://", "https://")) else f"{self._base}{path_or_url}"

    async def base_url(self) -> str:
        """``scheme://host[:port]`` of the registry API (pinging it first when not yet done)."""
        if self._base is None:
            await self.ping()
        assert self._base is not None
        return self._base

    async def reauthenticate(self, scopes: frozenset[str], challenge_header: str | None) -> frozenset[str]:
        """After a 401: take its challenge (another realm, a scope the call needs) and get a fresh
        token; returns the scopes to ask with from now on. Callers do this once per call."""
        self.auth.update(challenge_header)
        challenge = self.auth.challenge
        if challenge is not None and challenge.scheme == "bearer":
            extra = challenge.params.get("scope")
            if extra:
                scopes = scopes | frozenset(extra.split(" "))
            await self.auth.token(scopes, force=True)
        return scopes

    async def auth_headers(self, url: str, scopes: frozenset[str]) -> dict[str, str]:
        """Our Authorization, only for the registry itself: a Location or Link a registry names on
        another origin (scheme, host or port) gets none."""
        if self._base is None:
            return {}
        # Nearly every URL is one we built from the base: a plain prefix test (the "/" ends the
        # authority, so no user@host or longer port can hide behind it); anything else is parsed.
        if not url.startswith(self._base + "/") and _origin(url) != _origin(self._base):
            return {}
        return await self.auth.headers(scopes)

    async def request(
        self,
        method: str,
        path_or_url: str,
        *,
        scopes: frozenset[str],
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        ok: tuple[int, ...] = (200,),
        limit: int = SMALL_BODY_LIMIT,
        what: str = "",
    ) -> Reply:
        """Send with auth, retries (transport errors, stalls, 5xx, 429 with Retry-After) and one
        re-auth on 401; the whole (small) answer is read, at most ``limit`` bytes (else refused), inside
        the retries. Returns a reply whose status is in ``ok`` (or 404/403 when ``ok`` names either);
        raises otherwise. No redirects are followed (blob reads follow theirs: :meth:`blob_response`)."""
        if self._base is None:
            await self.ping()
        url = self.url(path_or_url)
        label = what or f"{method} {urlsplit(url).path}"
        reauthed = False

        async def once() -> Reply:
            nonlocal scopes, reauthed
            while True:
                hdrs = dict(headers or {})
                if body is not None or method in ("POST", "PUT", "PATCH"):
                    hdrs["Content-Length"] = str(len(body or b""))
                hdrs.update(await self.auth_headers(url, scopes))
                raw = await self.transport.send(method, url, hdrs, _one_chunk(body) if body else None)
                status = raw.status
                if status in ok or (status in (404, 403) and (404 in ok or 403 in ok)):
                    content = await self.transport.read_limited(raw, url, limit, f"the answer to {label}")
                    return Reply(status, raw.headers, content, url)
                error_body = await self.transport.read_error_body(raw)
                if status == 401 and not reauthed:
                    # Once: a fresh token (the challenge may name another realm, or a scope the call needs).
                    scopes = await self.reauthenticate(scopes, raw.headers.get("www-authenticate"))
                    reauthed = True
                    continue
                raise self.status_error(status, raw.headers, error_body, what=label)

        return await self.retry.run(once)

    def status_error(self, status: int, headers: dict[str, str], body: bytes, *, what: str) -> RegistryError:
        """The one map from an HTTP status (and the registry's error JSON) to the error tree."""
        detail = ""
        code = ""
        try:
            data = json.loads(body[:ERROR_BODY_LIMIT]) if body else {}
            errors = data.get("errors") if isinstance(data, dict) else None
            if isinstance(errors, list) and errors and isinstance(errors[0], dict):
                code = str(errors[0].get("code", ""))[:80]
                detail = str(errors[0].get("message", ""))[:200]
        except (ValueError, RecursionError):
            pass
        detail = " ".join(detail.split())  # one line, whatever the registry put in it
        text = f"{self.registry}: {what} answered {status}" + (f" {code}: {detail}" if code or detail else "")
        if status == 401:
            return self.auth.failed()
        if status == 403:
            return AccessDenied(text, registry=self.registry, status=status)
        if status == 404:
            return NotFound(text, registry=self.registry, status=status)
        if status in RETRY_STATUSES:
            return RegistryUnreachable(text + " (still failing after retries)", registry=self.registry, status=status,
                                       retry_after=headers.get("retry-after"))
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
        where = f"{self.registry}/{repository}{'@' if reference.startswith('sha256:') else ':'}{reference}"
        async with self.small:
            response = await self.request(
                "GET", f"/v2/{repository}/manifests/{reference}", scopes=scopes,
                headers={"Accept": ACCEPT}, ok=(200, 404), limit=MANIFEST_LIMIT, what=f"manifest {where}",
            )
        if response.status_code == 404:
            raise NotFound(f"{where} does not exist", registry=self.registry, status=404)
        manifest = parse_manifest(response.content, response.headers.get("content-type"), where=where)
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
        digest: str | None = response.headers.get("docker-content-digest")
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

    def on_registry(self, url: str) -> bool:
        return self._base is not None and (url.startswith(self._base + "/") or _origin(url) == _origin(self._base))

    async def blob_response(self, repository: str, digest: str, where: BlobLocation, *,
                            range_header: str | None = None, pool: ConnectionPool | None = None,
                            scopes: frozenset[str] | None = None) -> tuple[RawResponse, str]:
        """One GET of a blob's bytes (``Range`` when given): at the CDN URL ``where`` holds, else at the
        registry, following its redirect (kept in ``where`` for the next part or resume). Returns the
        answer, whatever its status (the caller judges it: :meth:`blob_error`), and the URL that gave it.
        Our Authorization goes to the registry's own origin only; a redirect's small body is read so its
        connection is kept alive."""
        if self._base is None:
            await self.ping()
        scopes = scopes or self.pull_scope(repository)
        url = where.cdn or f"{self._base}/v2/{repository}/blobs/{digest}"
        for _ in range(MAX_REDIRECTS + 1):
            headers = await self.auth_headers(url, scopes)
            if range_header:
                headers["Range"] = range_header
            response = await self.transport.send("GET", url, headers, pool=pool)
            location = response.headers.get("location")
            if response.status not in REDIRECTS or not location:
                return response, url
            await self.transport.read_error_body(response)
            target = urljoin(url, location)
            if urlsplit(target).scheme not in ("http", "https"):
                raise RegistryProtocolError(f"{self.registry} redirected blob {digest} to {target[:80]!r}",
                                            registry=self.registry)
            if not self.on_registry(target):
                where.cdn = target
            url = target
        raise RegistryProtocolError(f"{self.registry}: too many redirects for blob {digest}", registry=self.registry)

    def blob_error(self, status: int, headers: dict[str, str], body: bytes, url: str, *, what: str) -> RegistryError:
        """An unwanted answer to a blob GET: the registry's (the one status map) or the CDN's, which is
        never about the registry login."""
        if self.on_registry(url):
            return self.status_error(status, headers, body, what=what)
        text = (f"{display_host(url)}, where {self.registry} sent {what} (a CDN or object storage), "
                f"answered {status}")
        if status in RETRY_STATUSES:
            return RegistryUnreachable(text + " (still failing after retries)", registry=self.registry, status=status,
                                       retry_after=headers.get("retry-after"))
        return CDNRefused(text, hint="this is not the registry login: the download link may have expired, or the "
                                     "CDN or a proxy blocks this host", registry=self.registry, status=status,
                          code=ErrorCode.CDN_REFUSED)

    async def refused(self, response: RawResponse, url: str, where: BlobLocation, scopes: frozenset[str],
                      reauthed: bool, *, what: str) -> tuple[RegistryError | None, frozenset[str]]:
        """After an unwanted blob answer (closed here): None when asking again now may work (a CDN URL
        expired and is forgotten, or a first 401 got a fresh token), else the error; and the scopes."""
        body = await self.transport.read_error_body(response)
        status = response.status
        if not self.on_registry(url):
            if status in CDN_EXPIRED and where.refreshed < MAX_REDIRECTS:
                where.cdn = None  # a signed URL that expired: the registry hands out a fresh one
                where.refreshed += 1
                return None, scopes
        elif status == 401 and not reauthed:
            return None, await self.reauthenticate(scopes, response.headers.get("www-authenticate"))
        elif status == 404:
            return NotFound(f"{self.registry}: {what} does not exist", registry=self.registry, status=404), scopes
        return self.blob_error(status, response.headers, body, url, what=what), scopes

    async def stream_blob(self, repository: str, digest: str, size: int | None = None) -> AsyncIterator[bytes]:
        """Yield a blob's bytes, resuming with Range after a broken or stalled connection; verify sha256."""
        hasher = hashlib.sha256()
        received = 0
        failures = 0
        reauthed = False
        where = BlobLocation()
        scopes = self.pull_scope(repository)
        place = f"{self.registry}/{repository}"
        what = f"blob {digest[:19]} in {repository}"
        while True:
            try:
                response, url = await self.blob_response(repository, digest, where, scopes=scopes,
                                                         range_header=f"bytes={received}-" if received else None)
                if response.status == 200 and not received or response.status == 206 and received:
                    try:
                        async for chunk in self.transport.body(response, url):
                            hasher.update(chunk)
                            received += len(chunk)
                            if size is not None and received > size:
                                raise IntegrityError(f"blob {digest} from {place} is longer than {size} bytes")
                            yield chunk
                    finally:
                        response.close()
                    if size is None or received == size:
                        break
                    raise RegistryUnreachable(f"the connection ended {size - received} bytes short",
                                              registry=self.registry)
                if received and response.status == 200:
                    response.close()
                    raise RegistryProtocolError(f"{self.registry} ignored a Range request for blob {digest}",
                                                registry=self.registry)
                error, scopes = await self.refused(response, url, where, scopes, reauthed, what=what)
                if error is None:
                    reauthed = reauthed or self.on_registry(url)
                    continue
                raise error
            except (RegistryUnreachable, RegistryProtocolError) as exc:
                kind = type(exc) if isinstance(exc, RegistryUnreachable) else RegistryUnreachable
                final = kind(
                    f"reading blob {digest} from {place} failed after {received} bytes: {exc}",
                    registry=self.registry, retry_after=exc.retry_after,
                )
                if isinstance(exc, RegistryProtocolError) and received:
                    raise final from None
                if isinstance(exc, RegistryProtocolError) and exc.status is not None:
                    raise  # an answer, not a transport failure: asking again gives the same
                failures = await self.retry.backoff(failures, final)
        if "sha256:" + hasher.hexdigest() != digest:
            raise IntegrityError(f"blob {digest} from {place} does not match its digest")

    async def read_blob(self, repository: str, digest: str, *, limit: int = 64 << 20) -> bytes:
        """A small blob (config, metadata) whole in memory, verified."""
        parts: list[bytes] = []
        total = 0
        async for chunk in self.stream_blob(repository, digest):
            total += len(chunk)
            if total > limit:
                raise RegistryProtocolError(f"blob {digest} is larger than {limit} bytes; not read into memory",
                                            registry=self.registry)
            parts.append(chunk)
        return b"".join(parts)

    async def list_tags(self, repository: str, *, page_size: int = 1000, max_pages: int = MAX_TAG_PAGES) -> list[str]:
        """Every tag, following ``Link: <…>; rel="next"``; a page seen twice or too many pages is an error."""
        tags: list[str] = []
        url: str | None = f"/v2/{repository}/tags/list?n={page_size}"
        seen: set[str] = set()
        where = f"{self.registry}/{repository}"
        while url:
            if len(seen) >= max_pages:
                raise RegistryProtocolError(f"{where}: tag list goes on past {max_pages} pages; stopped",
                                            registry=self.registry)
            seen.add(self.url(url))
            async with self.small:
                response = await self.request("GET", url, scopes=self.pull_scope(repository), ok=(200, 404),
                                              limit=TAG_PAGE_LIMIT, what=f"tags of {repository}")
            if response.status_code == 404:
                raise NotFound(f"{where} does not exist", registry=self.registry, status=404)
            if response.status_code == 403:  # accepted by request() beside 404; never an empty list
                raise self.status_error(response.status_code, response.headers, response.content,
                                        what=f"tags of {repository}")
            tags.extend(parse_tag_list(response.content, where=where))
            url = next_link(response.headers.get("link"), response.url)
            if url is not None and url in seen:
                raise RegistryProtocolError(f"{where}: tag list pagination points back to a page already read",
                                            registry=self.registry)
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
            return False, urljoin(response.url, response.headers["location"])
        return False, None

    async def _start_upload(self, repository: str, digest: str) -> tuple[str, int]:
        """POST an upload session: its URL and the registry's minimum chunk size (0 when none)."""
        async with self.small:
            start = await self.request(
                "POST", f"/v2/{repository}/blobs/uploads/", scopes=self.push_scope(repository), ok=(202,),
                what=f"upload {digest[:19]} to {repository}",
            )
        location = start.headers.get("location")
        if not location:
            raise RegistryProtocolError(f"{self.registry} opened an upload without a Location header",
                                        registry=self.registry)
        min_chunk = start.headers.get("oci-chunk-min-length", "")
        return urljoin(start.url, location), int(min_chunk) if min_chunk.isdigit() else 0

    async def upload_blob(self, repository: str, digest: str, size: int, body: Callable[[], AsyncIterator[bytes]],
                          *, location: str | None = None) -> None:
        """POST an upload session (unless ``location`` is one already open), then one streamed PUT
        ?digest= with a Content-Length, on the lean path.

        ``body`` opens a fresh source stream for each try; if the source bytes fail verification the
        stream raises mid-PUT and the registry never commits the blob. Retries open a new session; a
        413 (a front proxy limiting body sizes) falls back to PATCH chunks.
        """
        scopes = self.push_scope(repository)
        opened = location
        reauthed = False

        async def once() -> bool:
            nonlocal opened, reauthed
            session_url = opened or (await self._start_upload(repository, digest))[0]
            opened = None
            put_url = with_query(session_url, digest=digest)
            hdrs = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
            hdrs.update(await self.auth_headers(put_url, scopes))
            try:
                raw = await self.transport.send("PUT", put_url, hdrs, body())
            except RegistryUnreachable as exc:
                raise RegistryUnreachable(f"uploading blob {digest} to {self.registry}/{repository} failed: {exc}",
                                          registry=self.registry) from None
            if raw.status in (201, 204):
                raw.close()  # the connection goes back to the pool
                return True
            error_body = await self.transport.read_error_body(raw)
            if raw.status == 413:
                return False
            if raw.status == 401 and not reauthed:
                reauthed = True
                await self.auth.token(scopes, force=True)
                return await once()
            raise self.status_error(raw.status, raw.headers, error_body,
                                    what=f"upload of blob {digest[:19]} to {repository}")

        if not await self.retry.run(once):
            await self._upload_chunked(repository, digest, size, body)

    async def _upload_chunked(self, repository: str, digest: str, size: int,
                              body: Callable[[], AsyncIterator[bytes]], chunk_size: int = 8 << 20) -> None:
        scopes = self.push_scope(repository)
        location, min_chunk = await self._start_upload(repository, digest)
        chunk_size = max(chunk_size, min_chunk)
        offset = 0
        buffer = bytearray()

        async def send(data: bytes) -> None:
            nonlocal location, offset
            response = await self.request(
                "PATCH", location, scopes=scopes, ok=(202,),
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(data)),
                         "Content-Range": f"{offset}-{offset + len(data) - 1}"},
                body=data,
            )
            location = urljoin(response.url, response.headers.get("location", location))
            offset += len(data)

        async for chunk in body():
            buffer += chunk
            while len(buffer) >= chunk_size:
                await send(bytes(buffer[:chunk_size]))
                del buffer[:chunk_size]
        if buffer:
            await send(bytes(buffer))
        await self.request("PUT", with_query(location, digest=digest), scopes=scopes, ok=(201, 204),
                           headers={"Content-Length": "0"})

    async def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> str | None:
        """PUT a manifest by tag or digest; returns the digest the registry says it stored (if it says)."""
        for attempt in range(MANIFEST_RACE_ATTEMPTS):
            async with self.small:
                response = await self.request(
                    "PUT", f"/v2/{repository}/manifests/{reference}", scopes=self.push_scope(repository),
                    headers={"Content-Type": manifest.media_type}, body=manifest.raw,
                    ok=(200, 201, 202, 400, 404, 405), what=f"manifest {repository}:{reference}",
                )
            # We hashed these bytes ourselves and stored everything they name before this PUT, so a 400
            # DIGEST_INVALID or MANIFEST_BLOB_UNKNOWN is the registry's own race: distribution's
            # filesystem driver rewrites a manifest's link file in place, and while a concurrent push
            # rewrites it (the same child manifest under another image) it reads as empty. Asked again
            # a moment later, it answers right.
            if (response.status_code == 400 and attempt + 1 < MANIFEST_RACE_ATTEMPTS
                    and error_code(response.content) in ("DIGEST_INVALID", "MANIFEST_BLOB_UNKNOWN")):
                await asyncio.sleep(0.05 * (attempt + 1))
                continue
            break
        if response.status_code in (200, 201, 202):
            digest: str | None = response.headers.get("docker-content-digest")
            if digest and digest != manifest.digest:
                raise IntegrityError(f"{self.registry}/{repository} stored manifest {manifest.digest} as {digest}")
            if reference.startswith("sha256:"):
                self.digest_pushes_ok = True
            return digest
        if (reference.startswith("sha256:") and response.status_code in (400, 404, 405)
                and error_code(response.content) not in ("DIGEST_INVALID", "MANIFEST_BLOB_UNKNOWN")):
            raise PushRefused(
                f"{self.registry}/{repository} refused a manifest pushed by digest without a tag",
                hint="registries like the OpenShift internal registry cannot be mirror targets; use a registry "
                     "such as Quay, Harbor or the mirror registry for Red Hat OpenShift",
                registry=self.registry, status=response.status_code,
            )
        raise self.status_error(response.status_code, response.headers, response.content,
                                what=f"manifest {repository}:{reference}")

    async def delete_manifest(self, repository: str, digest: str) -> int:
        """DELETE a manifest by digest (the distribution spec's ``DELETE /v2/<name>/manifests/<digest>``,
        which also removes every tag naming it). Returns the status: 202 (deleted), 404 (already gone) or
        405 (this registry does not allow deletes); anything else raises. The token asks for the
        ``delete`` action, which distribution's token auth requires for a DELETE."""
        async with self.small:
            response = await self.request(
                "DELETE", f"/v2/{repository}/manifests/{digest}",
                scopes=frozenset({f"repository:{repository}:pull,push,delete"}), ok=(200, 202, 404, 405),
                what=f"delete of manifest {repository}@{digest[:19]}",
            )
        return response.status_code


__all__ = ["CHUNK", "MAX_INDEX_CHILDREN", "MAX_TAG_PAGES", "RegistryClient", "next_link", "parse_manifest",
           "parse_tag_list", "with_query"]
