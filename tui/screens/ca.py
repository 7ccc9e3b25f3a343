"""Step 5, CA: the certificate authority that signed the mirror's certificate, checked against the
registry, and the ConfigMap + patch that make the cluster trust it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Button, Input, Static

from core.access import MachineTrust, machine_trust
from core.ca import CACheck, CAManifests, CertificateInfo, ca_manifests, check_registry_ca, load_ca_bundle
from core.ca import configmap_key as ca_configmap_key
from core.errors import MirrorError
from core.text import shell_quote as q
from core.tlsconfig import TLSOptions
from tui.access import wizard_tls
from tui.screens.base import StepScreen
from tui.screens.confirm import ConfirmScreen
from tui.state import Check, error_text
from tui.widgets.checks import CheckList
from tui.widgets.field import Field
from tui.widgets.note import Note
from tui.widgets.readable import ReadableText


def configmap_key(registry: str) -> str:
    return ca_configmap_key(registry)


def cert_checks(certs: list[CertificateInfo], check: CACheck | None,
                trust: MachineTrust | None = None) -> list[Check]:
    """CheckList lines for the parsed CA file and, when run, the check against the registry."""
    lines: list[Check] = []
    for cert in certs:
        state = "fail" if cert.expired else ("ok" if cert.is_ca else "warn")
        fix = "" if cert.is_ca else "This is not a CA certificate: give the CA that signed the registry's certificate"
        if cert.expired:
            fix = f"Expired on {cert.not_after:%Y-%m-%d}: renew it"
        lines.append(Check("CA file", state, cert.summary(), fix))
    if check is not None:
        chain = check.server_chain[0] if check.server_chain else None
        if chain is not None:
            lines.append(Check("registry certificate", "ok" if not chain.expired else "fail", chain.summary()))
        if check.not_checked:
            # Nothing was learnt about the certificate: say so rather than report it as wrong.
            fix = "Check HOST:PORT, that the registry runs and the firewall, then Check again"
            lines.append(Check("SAN", "warn", f"not checked: {check.not_checked}", fix))
            lines.append(Check("verification", "warn", f"not checked: {check.not_checked}"))
        else:
            lines += _registry_checks(check)
        for problem in check.problems:
            lines.append(Check("problem", "fail", problem))
    if trust is not None:
        lines.append(Check("this machine", "ok" if trust.trusted else "fail", trust.message))
    return lines


def _registry_checks(check: CACheck) -> list[Check]:
    """SAN and chain verification, for a registry that answered over TLS."""
    lines: list[Check] = []
    lines.append(Check("SAN", "ok" if check.san_ok else "fail",
                       f"the certificate names {check.registry.rsplit(':', 1)[0]}" if check.san_ok
                       else "the registry's certificate has no Subject Alternative Name for this host",
                       "" if check.san_ok else "Reissue it with subjectAltName=DNS:<host> (or IP:<address>); "
                                                "clients ignore the CN"))
    lines.append(Check("verification", "ok" if check.verified else "fail",
                       "the registry's chain verifies with this CA" if check.verified
                       else "the registry's certificate does not verify with this CA"))
    return lines


class CAScreen(StepScreen):
    STEP = "ca"

    def compose_body(self) -> ComposeResult:
        yield Static("CA", classes="step-title")
        yield Static("The cluster pulls from your mirror over TLS, so it must trust the CA that signed the "
                     "mirror's certificate — and that certificate must name the host in a SAN.", classes="lead")
        yield Static(id="registry-line")
        yield Static("CA certificate file (PEM)", classes="field-label")
        with Horizontal(classes="row"):
            yield Field(id="ca-file", placeholder="/etc/pki/ca-trust/source/anchors/mirror-ca.crt", compact=True)
            yield Button("Check", id="check", variant="primary", compact=True)
        yield Note(id="ca-error", classes="inline-error")
        yield CheckList(id="ca-checks", name_width=22)
        yield Static("ConfigMap and patch for the cluster", classes="section")
        # The procedure: image-stream imports read image.config's additionalTrustedCA, not the nodes' trust.
        yield Static("Image-stream imports (the samples) trust only this ConfigMap, named in additionalTrustedCA, "
                     "never the CA the nodes trust: apply it even if the nodes already trust the mirror.",
                     classes="hint", id="imports-trust")
        yield ReadableText(id="manifests", classes="yaml")  # Tab reaches it at 80x24; arrows scroll

    def prefill(self) -> None:
        self.query_one("#ca-file", Input).value = self.state.plan.mirror.ca_file or ""
        self.step_shown()
        if self.state.plan.mirror.ca_file and self.wizard.auto_check and self.state.ca_check is None:
            self.check_ca()

    def step_shown(self) -> None:
        host = self.state.mirror_host
        self.query_one("#registry-line", Static).update(
            Content.assemble(("Mirror registry  ", "bold"), host or ("not set (Credentials step)", "$warning")))
        self.show()

    def first_focus(self) -> str:
        if not self.state.plan.mirror.ca_file:
            return "#ca-file"
        return "#next" if self.state.ca_check is not None and self.state.ca_check.ok else "#check"

    @on(Input.Changed, "#ca-file")
    def ca_changed(self, event: Input.Changed) -> None:
        value = event.value.strip()
        if value != (self.state.plan.mirror.ca_file or ""):
            self.state.ca_check = None
            self.state.ca_certs = []
            self.state.mirror_trust = None
            self.state.ca_error = ""
            self.set_status("")
        self.state.plan.mirror.ca_file = value or None
        self.query_one("#ca-error", Static).update("")
        event.input.remove_class("-invalid")
        self.show()

    @on(Input.Submitted, "#ca-file")
    @on(Button.Pressed, "#check")
    def check_pressed(self) -> None:
        if not self.state.plan.mirror.ca_file and self.state.mirror_host:
            self.check_system_trust()  # no CA file: does the system trust alone accept the mirror?
            return
        self.check_ca()

    @work(exclusive=True, group="ca", exit_on_error=False)
    async def check_ca(self, then_next: bool = False) -> None:
        await self._check_ca()
        if then_next and self.state.ca_verified():
            await self.wizard.next_step()

    async def _check_ca(self) -> None:
        path = self.state.plan.mirror.ca_file
        error = self.query_one("#ca-error", Static)
        if not path:
            error.update("✗ give the CA file (PEM), or go on to rely on the system trust")
            return
        self.state.ca_check, self.state.mirror_trust = None, None
        error.update("")
        self.query_one("#ca-file", Input).remove_class("-invalid")
        try:
            self.state.ca_certs = await asyncio.to_thread(load_ca_bundle, Path(path).expanduser())
        except (MirrorError, OSError) as exc:
            self.fail_file(error_text(exc))
            return
        self.state.ca_error = ""
        self.show()
        host = self.state.mirror_host
        if not host:
            self.set_status("CA file read; set the mirror registry to check it against", "warn")
            return
        self.set_status(f"connecting to {host} …")
        try:
            check = await check_registry_ca(host, Path(path).expanduser())
        except MirrorError as exc:  # the file became unreadable, or holds nothing OpenSSL loads
            self.fail_file(error_text(exc))
            return
        self.state.ca_check = check
        self.state.mirror_trust = await asyncio.to_thread(machine_trust, host, wizard_tls(self.state))
        if check.ok:
            self.set_status("the registry is trusted with this CA", "ok")
        else:
            first = check.problems[0] if check.problems else "not trusted"
            error.update("✗ " + first)
            self.set_status("not verified: " + (check.not_checked or "the registry is not trusted with this CA"),
                            "error")
        self.show()

    # -- no CA file: a decision, checked against the system trust -----------------------------------

    def leave_without_ca(self) -> bool:
        """No CA file is only right when the mirror's certificate verifies with the system trust alone
        (a public CA): otherwise every node and every image import would refuse the mirror."""
        state = self.state
        host = state.mirror_host
        if not host:
            return True
        found = state.system_trust
        if found is None or found[0] != host:
            self.set_status(f"no CA file: checking that {host} is trusted by the system trust alone …")
            self.check_system_trust(then_next=True)
            return False
        _, trusted, why = found
        if trusted:
            return True
        if trusted is None and state.ca_unverified_accepted == f"system:{host}":
            return True
        if trusted is None:  # the mirror did not answer: asked whether to go on unchecked
            self.confirm_without_check(host, why)
            return False
        self.set_status(f"{host} is not trusted without a CA file ({why}): give the CA that signed its "
                        "certificate", "error")
        error = self.query_one("#ca-error", Static)
        error.update(f"✗ the mirror's certificate does not verify with the system trust: {why}. The cluster "
                     "would refuse it too — give the CA file (PEM) that signed it.")
        self.query_one("#ca-file", Input).focus()
        return False

    @work(exclusive=True, group="ca", exit_on_error=False)
    async def check_system_trust(self, then_next: bool = False) -> None:
        host = self.state.mirror_host
        insecure = tuple(self.state.plan.insecure_hosts())
        found = await asyncio.to_thread(machine_trust, host, TLSOptions(insecure_hosts=insecure), 5)
        if found is None:
            self.state.system_trust = (host, None, f"not checked: {host} did not answer")
        else:
            trusted = found.trusted
            why = "its certificate verifies with the system trust alone" if trusted else found.reason
            self.state.system_trust = (host, trusted, why)
        if self.state.system_trust[1]:
            self.set_status(f"no CA file needed: {host}'s certificate verifies with the system trust", "ok")
        else:
            self.set_status("")
        self.show()
        if then_next and self.state.plan.mirror.ca_file is None and self.leave_without_ca():
            await self.wizard.next_step()

    def confirm_without_check(self, host: str, why: str) -> None:
        def answer(yes: bool | None) -> None:
            if yes:
                self.state.ca_unverified_accepted = f"system:{host}"
                self.call_later(self.wizard.next_step)
            else:
                self.query_one("#ca-file", Input).focus()

        self.app.push_screen(ConfirmScreen(
            "Go on without a CA file?",
            f"{host} could not be reached ({why.removeprefix('not checked: ')}), so nobody knows whether the "
            "system trust accepts its certificate. If a private CA signed it, the cluster will refuse every "
            "image from it: give the CA file instead.",
            yes="Go on without a CA", no="Give a CA file"), answer)

    def fail_file(self, message: str) -> None:
        """The CA file cannot be used: say why, forget any earlier result (it was for another file)."""
        self.state.ca_error = message
        self.query_one("#ca-error", Static).update("✗ " + message)
        self.query_one("#ca-file", Input).add_class("-invalid")
        self.state.ca_certs, self.state.ca_check, self.state.mirror_trust = [], None, None
        self.set_status("the CA file cannot be used", "error")
        self.show()

    def manifests(self) -> CAManifests | None:
        path = self.state.plan.mirror.ca_file
        if not path or not self.state.ca_certs or not self.state.mirror_host:
            return None

        return ca_manifests(self.state.mirror_host, Path(path).expanduser().read_text())

    def show(self) -> None:
        checks = cert_checks(self.state.ca_certs, self.state.ca_check, self.state.mirror_trust)
        found = self.state.system_trust
        if not self.state.plan.mirror.ca_file and found is not None and found[0] == self.state.mirror_host:
            mark = "ok" if found[1] else ("warn" if found[1] is None else "fail")
            checks.append(Check("system trust", mark, found[2],
                                "" if found[1] else "Give the CA file that signed the registry's certificate"))
        self.query_one("#ca-checks", CheckList).set_checks(
            checks, empty="Not checked yet: press Check (reads the file, then connects to the registry). "
                          "With no CA file, Next checks that the system trust accepts the mirror.")
        preview = self.query_one("#manifests", Static)
        try:
            manifests = self.manifests()
        except (MirrorError, OSError, ImportError) as exc:
            preview.update(Content.styled(f"✗ {error_text(exc)}", "$error"))
        else:
            if manifests is None:
                preview.update(Content.styled("Shown once the CA file is read.", "$text-muted"))
            else:
                preview.update(Content(manifests.yaml().rstrip()))
        self.refresh_help()

    async def can_leave(self) -> bool:
        state = self.state
        path = state.plan.mirror.ca_file
        if state.ca_error:
            self.set_status("fix the CA file, or clear it to rely on the system trust", "error")
            return False
        if not path:
            return self.leave_without_ca()
        if state.ca_verified():
            return True
        check = state.ca_check
        if check is not None and check.not_checked is None and check.registry == state.mirror_host:
            # The registry answered and this CA does not make it trusted: the cluster would fail to pull.
            self.set_status("this CA does not verify the registry: fix it, or clear the field to rely on "
                            "the system trust", "error")
            self.query_one("#ca-file", Input).focus()
            return False
        if state.ca_unverified_accepted == path:
            return True
        if check is None and state.mirror_host:
            # Never checked (this file, this host): check now, and go on by itself once it verifies.
            self.set_status(f"checking the CA against {state.mirror_host} before going on …")
            self.check_ca(then_next=True)
            return False
        reason = check.not_checked if check is not None and check.not_checked else "it has not been checked"

        def answer(yes: bool | None) -> None:
            if yes:
                state.ca_unverified_accepted = path
                self.call_later(self.wizard.next_step)

        self.app.push_screen(ConfirmScreen(
            "Go on with a CA that is not verified?",
            f"{path} could not be checked against {state.mirror_host or 'the mirror'} ({reason}). The plan keeps "
            "it, but the Done step will not write or apply it until it is verified here.",
            yes="Go on unverified", no="Stay and check"), answer)
        return False

    def help_prose(self) -> str:
        return ("Clients check that the mirror's certificate is signed by a CA they trust [i]and[/i] that it "
                "lists the registry's host name in its Subject Alternative Name (the old CN field is ignored). "
                "The cluster learns extra CAs from a ConfigMap in openshift-config, one key per registry "
                "(host..port — two dots instead of the colon), named in image.config.openshift.io/cluster.")

    def help_commands(self) -> list[str]:
        host = self.state.mirror_host or "<mirror_host:port>"
        ca = self.state.plan.mirror.ca_file or "<ca.crt>"
        commands = [
            f"openssl x509 -in {q(ca)} -noout -subject -enddate",
            f"openssl s_client -connect {host} -CAfile {q(ca)} -verify_return_error </dev/null \\\n"
            "    | openssl x509 -noout -ext subjectAltName",
        ]
        try:
            manifests = self.manifests()
        except Exception:
            manifests = None
        if manifests is not None:
            commands += manifests.commands
        else:
            commands += [f"oc create configmap registry-config --from-file={configmap_key(host)}={q(ca)} "
                         "-n openshift-config",
                         "oc patch image.config.openshift.io/cluster --type=merge \\\n"
                         "    --patch '{\"spec\":{\"additionalTrustedCA\":{\"name\":\"registry-config\"}}}'"]
        return commands
