"""One session per command run: a client per registry host, and a cache of small verified blobs."""

from __future__ import annotations

from typing import Self

from ..adaptive import transfer_bounds
from ..authfile import AuthFile
from ..http import HttpClient
from ..mirror_sets import resolve_through_mirrors
from ..reference import DOCKER_HUB, DOCKER_HUB_API, ImageReference
from ..tlsconfig import TLSOptions
from .client import RegistryClient
from .settings import Access
from .transport import SMALL_LANE, STALL_TIMEOUT, RetryPolicy


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
    """Clients for every registry a run touches, sharing one auth file and TLS options.

    The session holds the run's settings, the :class:`Access` it was built from (``access``): the stall
    timeout (seconds without a byte in or out before an exchange is given up, then retried; the CLI's
    ``--stall-timeout``), the admin's hard limit on parallel transfers per registry (None: the adaptive
    one, core.adaptive.transfer_bounds), the retry policy and the mirror sets. Front ends build it with
    :meth:`from_access` (core.access.open_session); the keyword form here is for a session made of
    parts (tests, a bundle read from disk), and describes those parts as its ``access``.
    """

    def __init__(self, auth: AuthFile | None = None, tls: TLSOptions | None = None, *,
                 max_per_registry: int | None = None, retry: RetryPolicy | None = None,
                 source_mirrors: list[tuple[str, str]] | None = None,
                 stall_timeout: float = STALL_TIMEOUT, access: Access | None = None) -> None:
        self.auth = auth or AuthFile(path=None, data={"auths": {}})
        self.tls = tls or TLSOptions()
        if access is None:
            access = Access(auth_file=str(self.auth.path) if self.auth.path else None, ca_files=self.tls.ca_files,
                            insecure_hosts=self.tls.insecure_hosts, insecure=self.tls.insecure,
                            auth_hosts=self.tls.auth_hosts, max_per_registry=max_per_registry,
                            stall_timeout=stall_timeout, retry=retry)
        self.access = access
        # (source prefix, mirror prefix): where to really read images named under the source
        # (an ImageDigestMirrorSet given with --idms-file, or the sandbox standing in for quay.io).
        self.source_mirrors = list(source_mirrors or [])
        self._clients: dict[str, RegistryClient] = {}
        self.blob_cache = BlobCache()
        self._http: HttpClient | None = None

    @classmethod
    def from_access(cls, access: Access, *, auth: AuthFile | None = None) -> RegistrySession:
        """The session of a run, built once from its settings: the TLS setup, the mirror sets, the
        bounds and the retry policy all come from ``access``; ``auth`` is the credentials resolved for
        it (core.access.access_auth), or logins typed in the wizard."""
        return cls(auth, access.tls(), source_mirrors=access.mirror_sets(), access=access)

    @property
    def max_per_registry(self) -> int | None:
        return self.access.max_per_registry

    @property
    def stall_timeout(self) -> float:
        return self.access.stall_timeout

    @property
    def retry(self) -> RetryPolicy | None:
        return self.access.retry

    @property
    def http(self) -> HttpClient:
        """One HTTP client for the run (made with the first client: a session that only resolves names
        reads no proxy settings): every registry, token service and CDN origin keeps its own pool of
        connections in it, with room for every transfer, the small lane and a few reads outside both."""
        if self._http is None:
            self._http = HttpClient(self.tls, stall_timeout=self.stall_timeout,
                                    max_idle=transfer_bounds(self.max_per_registry)[1] + SMALL_LANE + 2)
        return self._http

    def resolve_source(self, ref: ImageReference) -> ImageReference:
        """Where to read ``ref`` from: through the mirror whose source is the longest prefix of its name at a
        path boundary (as CRI-O picks), else itself."""
        return resolve_through_mirrors(ref, self.source_mirrors)

    def client(self, registry: str) -> RegistryClient:
        client = self._clients.get(registry)
        if client is None:
            client = RegistryClient(
                registry,
                credential=self.auth.lookup(registry),
                tls=self.tls,
                max_transfers=transfer_bounds(self.max_per_registry)[1],
                retry=self.retry,
                api_host=DOCKER_HUB_API if registry == DOCKER_HUB else registry,
                stall_timeout=self.stall_timeout,
                http=self.http,
            )
            self._clients[registry] = client
        return client

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
        if self._http is not None:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


__all__ = ["BlobCache", "RegistrySession"]
