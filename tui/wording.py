"""Engine errors worded for someone using the wizard, not the command line.

The engine's hints name CLI flags (``--ca-file``, ``--insecure``) and the auth file, which is right in a
terminal and wrong on a screen where the admin just typed a password. An error carries a stable code
(core.errors.ErrorCode), and so does a login result that came from one: the wizard gives its own advice
for that code (:func:`wizard_text`, :func:`login_message`), the engine's facts in the wizard's words. Never
by the words of a message: rewording the engine changes nothing here.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from core.errors import ErrorCode, MirrorError

if TYPE_CHECKING:  # a type only: the words need no registry client
    from core.credentials import LoginResult


# The wizard's advice for an engine error, by code: said instead of the engine's (CLI) hint.
WIZARD_HINTS: dict[ErrorCode, str] = {
    ErrorCode.TLS_UNTRUSTED: "give its CA file in the CA step, or put it in /etc/containers/certs.d/HOST:PORT/ca.crt",
    ErrorCode.TLS_HANDSHAKE_FAILED: "does the registry speak HTTPS at this port?",
    ErrorCode.LOGIN_MISSING: "add its user name and password in the Credentials step",
    ErrorCode.LOGIN_REFUSED: "the login saved in the pull secret is refused: type the user name and password again",
    ErrorCode.RELEASE_KEY_UNTRUSTED: ("if that fingerprint is the one you were given, add the key's public file in "
                                      "the Release step, Release keys"),
}


def wizard_text(exc: MirrorError) -> str:
    """One engine error as the wizard says it: its message, and the wizard's advice for its code in place
    of the engine's hint (which names CLI flags)."""
    hint = WIZARD_HINTS.get(exc.code)
    if hint is not None:
        return f"{exc.message} ({hint})"
    return str(exc)


def login_message(result: LoginResult, *, typed_user: str | None, reach: str | None) -> str:
    """One login result's message, as the wizard says it.

    ``typed_user``: the login was typed in the wizard just now (a refusal means: retype it);
    ``reach``: what core.usecases.logins.probe found for an unreachable registry (None: not probed)."""
    state, registry, message = result.state, result.registry, result.message
    if state == "wrong-credentials" and typed_user is not None:  # LoginState's values: no registry import
        return (f"{registry} refused the password for {typed_user!r}: retype the password "
                "(and check the user name)")
    if state == "unreachable":
        registry = result.host or registry  # the host really dialled (a mirror set may send it elsewhere)
        reach = result.reach or reach
        name = registry[1:].split("]", 1)[0] if registry.startswith("[") else (
            registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry)
        if reach == "unresolvable":
            return f"the name {name} does not resolve: check its spelling, or this machine's DNS"
        if reach == "refused":
            return (f"nothing answers at {registry} (connection refused): check the port, and that the registry "
                    "is running")
    hint = WIZARD_HINTS.get(result.code) if result.code is not None else None
    if hint is not None and result.reason is not None:
        return f"{result.reason} ({hint})"
    return message


def for_wizard(result: LoginResult, *, typed_user: str | None, reach: str | None) -> LoginResult:
    """The result with its message rephrased."""
    text = login_message(result, typed_user=typed_user, reach=reach)
    if text == result.message:
        return result
    return dataclasses.replace(result, message=text)
