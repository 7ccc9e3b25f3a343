"""Reaching registries, for every front end: the TLS setup, the credentials and the mirror sets a
plan (or a command's flags) names, assembled in one place into a registry session; and the questions
the wizard asks before copying (does this machine trust the mirror, can the copy read a source the way
it will read it), answered with the engine's own error tree.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .authfile import AuthFile, Credential, decode_auth, find_default_auth_file, load_auth, load_auth_file
from .ca import split_host_port
from .credentials import LoginResult, login_state_of
from .credentials import LoginState as LoginState  # re-exported: the login vocabulary lives in credentials
from .errors import (
    MirrorError,
)
from .http import ProxySettings
from .http.connection import Connector, RawHTTPError, tls_probe
from .mirror_sets import resolve_through_mirrors
from .plan import Plan, SamplesSource
from .reference import parse_reference
from .registry import STALL_TIMEOUT, RegistrySession
from .registry import Access as Access  # re-exported: built here from a plan or flags, held by the session
from .tlsconfig import TLSOptions, build_ssl_context

if TYPE_CHECKING:
    from .samples import SampleStream


DEFAULT_STALL_TIMEOUT = STALL_TIMEOUT  # --stall-timeout's default, for the front ends' help


def _access(what: Access | Plan) -> Access:
    return what if isinstance(what, Access) else Access.of_plan(what)


def tls_options(what: Access | Plan) -> TLSOptions:
    """The TLS setup every connection of a run uses (:meth:`Access.tls`)."""
    return _access(what).tls()


def source_mirrors(what: Access | Plan) -> list[tuple[str, str]]:
    """(source, mirror) pairs of the ImageDigestMirrorSet / ImageContentSourcePolicy file named, if any."""
    return _access(what).mirror_sets()


def auth_from_data(data: dict[str, Any], path: str | Path | None = None) -> AuthFile:
    """Credentials held in memory (the wizard's merged logins) as the auth file a session reads;
    ``path`` is where they will be saved, for messages."""
    return AuthFile(path=Path(path) if path else None, data=data)


def open_session(what: Access | Plan, *, auth: AuthFile | None = None) -> RegistrySession:
    """A registry session for a plan or an access description (use it with ``async with``); it holds
    the :class:`Access` it was built from (``session.access``). ``auth`` replaces the auth file named
    there (credentials typed in the wizard, not saved yet)."""
    access = _access(what)
    return RegistrySession.from_access(access, auth=auth if auth is not None else access_auth(access))


def access_auth(what: Access | Plan) -> AuthFile:
    """The one auth-file resolution of every front end: the file named, else the first of the default
    locations ($REGISTRY_AUTH_FILE, containers' auth.json, ~/.docker/config.json, as podman and oc
    look, and as ``-a`` defaults on the command line), else none at all. A plan's headless run and the
    wizard resolve a plan's credentials here, so they log in the same way."""
    return load_auth(_access(what).auth_file)


def plan_auth(plan: Plan, *, data: dict[str, Any] | None = None, saved_as: str | None = None) -> AuthFile:
    """The credentials a plan's run uses: ``data`` (logins typed in the wizard, merged with the pull
    secret, saved later as ``saved_as``) when given, else :func:`access_auth` — the resolution the
    headless run uses too."""
    if data is not None:
        return auth_from_data(data, saved_as or plan.auth_file or "pull-secret.json")
    return access_auth(plan)


def saved_login(value: str, host: str) -> Credential:
    """The user and password in an auth file entry's ``auth`` value (base64 ``user:password``)."""
    return decode_auth(value, where=host)


def find_auth_file(plan: Plan) -> tuple[str | None, AuthFile | None]:
    """(path, its contents) of the plan's auth file, or of the first default location holding one;
    (None, None) when there is none. Raises the engine's one-line error for a damaged file."""
    path = plan.auth_file or (str(find_default_auth_file() or "") or None)
    if not path:
        return None, None
    return path, load_auth_file(path)


# -- what the wizard checks before copying ------------------------------------------------------------

class MachineTrust(NamedTuple):
    """Does this machine's copy trust a registry: yes or no, the sentence that says so, and the reason
    alone (for a front end that words the sentence itself)."""

    trusted: bool
    message: str
    reason: str


def machine_trust(registry: str, tls: TLSOptions, timeout: float = 10) -> MachineTrust | None:
    """Does this machine's copy trust the registry? The same TLS context the copy builds (system trust,
    every CA file of the plan, certs.d), host name checked. None when the registry cannot be reached."""

    try:
        host, port = split_host_port(registry)
        ctx = build_ssl_context(registry, tls)
    except MirrorError as exc:
        return MachineTrust(False, str(exc), str(exc))
    if tls.is_insecure(registry):
        why = "the plan marks this registry insecure: certificates are not checked at all"
        return MachineTrust(False, why, why)
    connector = Connector(proxies=tls.proxies if tls.proxies is not None else ProxySettings.from_env(),
                          connect_timeout=timeout, stall_timeout=timeout)

    async def probe() -> MachineTrust | None:
        try:
            async with asyncio.timeout(timeout):
                await tls_probe(connector, host, port, ctx)
        except ssl.SSLCertVerificationError as exc:
            reason = exc.verify_message or "certificate verify failed"
            return MachineTrust(False, f"the copy does not trust it: {reason}", reason)
        except ssl.SSLError as exc:
            why = f"TLS handshake failed ({exc.__class__.__name__})"
            return MachineTrust(False, why, why)
        except (RawHTTPError, OSError, TimeoutError):
            return None
        return MachineTrust(True, "the copy trusts it (system trust + the plan's CA files)", "")

    # called from a worker thread (the wizard's): a loop of its own for the one handshake
    return asyncio.run(probe())


@dataclass
class RegistryUse:
    """A registry the plan reads from or writes to, and where the copy really connects for it."""

    key: str                 # the name the plan and the pull secret use (quay.io)
    role: str                # "mirror", "release source", "image streams source"
    host: str                # where the copy connects (a mirror set may send quay.io elsewhere)
    repository: str | None = None
    via: str = ""            # "host/path" when a mirror set redirects the reads

    @property
    def redirected(self) -> bool:
        return bool(self.via)


PATH_RELEASE_REPOSITORY = "quay.io/openshift-release-dev/ocp-release"
RELEASE_SAMPLES_REGISTRIES = ("registry.redhat.io", "registry.access.redhat.com")


def registries_in_use(plan: Plan, streams: list[SampleStream]) -> list[RegistryUse]:
    """The mirror, the release source and the image streams' sources, each resolved through the plan's
    mirror set (idms_file) as the copy will resolve them. Errors in the inputs leave a source out: the
    step that owns it reports them."""
    try:
        mirrors = source_mirrors(plan)
    except MirrorError:
        mirrors = []
    uses: list[RegistryUse] = []
    seen: set[str] = set()

    def add(spec: str, role: str) -> None:
        try:
            ref = parse_reference(spec)
        except MirrorError:
            return
        if ref.registry in seen:
            return
        seen.add(ref.registry)
        target = resolve_through_mirrors(ref, mirrors)  # as the copy's session resolves it
        via = f"{target.registry}/{target.repository}" if target.registry != ref.registry else ""
        uses.append(RegistryUse(ref.registry, role, target.registry, target.repository, via))

    mirror = plan.mirror.registry
    if mirror:
        seen.add(mirror)
        uses.append(RegistryUse(mirror, "mirror", mirror))
    release, samples = plan.release, plan.samples
    if release is not None and release.source and release.reads_source:
        add(release.source, "release source")
    elif release is not None and release.is_path and release.reads_source:
        # The update graph names every release of a path by its payload in Red Hat's repository.
        add(f"{PATH_RELEASE_REPOSITORY}:latest", "release source (update path)")
    # From removable media the image streams' images come off the medium, not from their registries.
    wanted = samples is not None and samples.chosen and not (release is not None and not release.reads_source)
    if samples is not None and wanted:
        chosen = set(samples.include) if samples.include else None
        for stream in streams:
            if (chosen is not None and stream.name not in chosen) or stream.name in samples.skip:
                continue
            for spec in stream.pull_specs:
                add(spec, "image streams source")
        if not streams and samples.source == SamplesSource.RELEASE:
            # Not read yet (the Release step reads them): the samples operator's streams pull from these.
            for host in RELEASE_SAMPLES_REGISTRIES:
                add(f"{host}/samples:latest", "image streams source (the release's samples)")
    return uses


async def check_read_access(session: RegistrySession, use: RegistryUse) -> LoginResult:
    """The login result for reading ``use`` the way the copy will: its real host, the session's
    credentials for that host (anonymous when it has none)."""
    client = session.client(use.host)
    try:
        await client.check_login(use.repository)
    except MirrorError as exc:
        return LoginResult(use.key, login_state_of(exc), str(exc), code=exc.code, reason=exc.message)
    credential = getattr(client, "credential", None)
    who = f"as {credential.username}" if credential else "anonymously"
    return LoginResult(use.key, LoginState.OK, f"read through the mirror set from {use.via} ({who})")
