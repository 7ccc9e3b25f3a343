"""Test logins: the registries a plan reads from and writes to, each tried the way the copy will reach
it (a source behind the plan's mirror set is read through that mirror), and a quick direct look first
so a name that does not resolve or a port that refuses is reported at once instead of after the
engine's retries.

``mirror-wizard credentials check`` tries an auth file's registries with core.credentials.check_logins;
the wizard's Credentials step tries a plan's with :func:`test_plan_logins`. Both answer with
core.credentials.LoginResult; front ends word the messages.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import Literal

from ..access import RegistryUse, check_read_access, open_session, registries_in_use
from ..authfile import AuthFile
from ..credentials import LoginResult, LoginState, check_logins
from ..errors import MirrorError
from ..http import ProxySettings
from ..plan import Plan
from ..samples import SampleStream
from ..tlsconfig import TLSOptions

# "proxied": not looked at, the copy reaches the host through a proxy (a direct look would find a name that
# resolves only there "unresolvable")
Reach = Literal["unresolvable", "refused", "timeout", "other", "open", "proxied"]
PROBE_TIMEOUT = 2.0


def _host_port(host: str) -> tuple[str, int]:
    """(name, port) from HOST, HOST:PORT or [IPv6]:PORT (443 when no port is given)."""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif host.count(":") == 1:
        name, port_text = host.rsplit(":", 1)
    else:
        name, port_text = host, ""
    return name, int(port_text) if port_text.isdigit() else 443


def probe(host: str, timeout: float = PROBE_TIMEOUT) -> Reach:
    """Why HOST[:PORT] cannot be reached, found out directly (blocking: call it from a thread). The
    engine's HTTP client folds these into one "connection failed"; the admin fixes each differently."""
    name, port = _host_port(host)
    try:
        if ProxySettings.from_env().for_url("https", name.lower(), port) is not None:
            return "proxied"
    except MirrorError:
        pass  # a proxy URL we cannot use: the login's own error says so
    try:
        socket.getaddrinfo(name, port)
    except (socket.gaierror, UnicodeError):
        return "unresolvable"
    except OSError:
        return "other"
    try:
        socket.create_connection((name, port), timeout=timeout).close()
    except ConnectionRefusedError:
        return "refused"
    except TimeoutError:
        return "timeout"
    except OSError:
        return "other"
    return "open"


async def fast_failures(hosts: list[str]) -> dict[str, LoginResult]:
    """Hosts whose name does not resolve or whose port refuses connections, one direct look each (all at
    once, milliseconds): their result is "unreachable" with ``HOST: unresolvable|refused``."""
    reaches = await asyncio.gather(*(asyncio.to_thread(probe, host) for host in hosts))
    return {host: LoginResult(host, LoginState.UNREACHABLE, f"{host}: {reach}", host=host, reach=reach)
            for host, reach in zip(hosts, reaches, strict=True) if reach in ("unresolvable", "refused")}


async def test_logins(auth: AuthFile, registries: list[str], tls: TLSOptions) -> list[LoginResult]:
    """Each registry's login, in the order given: the quick look first, then a real login for the rest."""
    failed = await fast_failures(registries)
    reached = [h for h in registries if h not in failed]
    tried = dict(zip(reached, await check_logins(auth, reached, tls), strict=True))
    return [failed.get(h) or tried[h] for h in registries]


@dataclass
class PlanLogins:
    """One result per registry the plan uses (in :func:`plan_registries` order), and the auth file's other
    entries, listed as unused (not dialled)."""

    results: list[LoginResult]
    unused: list[LoginResult]


def plan_registries(plan: Plan, streams: list[SampleStream]) -> list[RegistryUse]:
    """The registries the plan reads from or writes to, and where the copy really connects for each."""
    return registries_in_use(plan, streams)


async def test_plan_logins(plan: Plan, auth: AuthFile, uses: list[RegistryUse], tls: TLSOptions) -> PlanLogins:
    """Every registry of ``uses`` tried as the copy will reach it: directly with the auth file's login, or,
    for a source behind the plan's mirror set, by reading through the mirror with the session's."""
    failed = await fast_failures(list(dict.fromkeys(u.host for u in uses)))
    direct = [u.key for u in uses if not u.redirected and u.host not in failed]
    async with open_session(plan, auth=auth) as session:
        found = dict(zip(direct, await check_logins(auth, direct, tls), strict=True))
        for use in uses:
            if use.host in failed:
                quick = failed[use.host]
                found[use.key] = LoginResult(use.key, LoginState.UNREACHABLE, quick.message, host=use.host,
                                             reach=quick.reach)
            elif use.redirected:
                found[use.key] = await check_read_access(session, use)
    used = {u.key for u in uses}
    unused = [LoginResult(key, LoginState.UNUSED, "not used by this plan") for key in auth.registries()
              if key not in used]
    return PlanLogins([found[u.key] for u in uses], unused)


__all__ = ["PlanLogins", "Reach", "fast_failures", "plan_registries", "probe", "test_logins", "test_plan_logins"]
