"""The wizard's way to registries: core.access with the logins typed in the Credentials step.

Everything here is a call into core (sessions, TLS, auth files are assembled there only); it exists
so every step reaches registries with the same credentials the Mirror step will copy with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.access import open_session, plan_auth, tls_options

if TYPE_CHECKING:
    from core.authfile import AuthFile
    from core.registry import RegistrySession
    from core.tlsconfig import TLSOptions
    from tui.state import WizardState


def wizard_auth(state: WizardState) -> AuthFile:
    """The credentials every registry call uses: the merged data when the admin added some."""
    return plan_auth(state.plan, data=state.auth_data, saved_as=state.merged_auth_path or None)


def wizard_session(state: WizardState) -> RegistrySession:
    return open_session(state.plan, auth=wizard_auth(state))


def wizard_tls(state: WizardState) -> TLSOptions:
    # Every CA file of the plan is trusted for every registry, as the headless run does; the CA step
    # checks the mirror with this same trust too.
    return tls_options(state.plan)
