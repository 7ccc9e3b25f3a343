"""Step 1, Preflight: is this machine ready? oc, the pull secret, the keyring, free disk."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Button, Static

from core.access import Access, find_auth_file
from core.credentials import keyring_status
from core.errors import MirrorError
from core.plan import ReleaseMode
from core.routes import plan_servers, routes
from core.text import human_bytes, plural
from core.text import shell_quote as q
from core.usecases.machine import oc_client, oc_source
from tui.screens.base import StepScreen
from tui.state import Check, WizardState, error_text
from tui.widgets.checks import CheckList

PULL_SECRET_URL = "https://console.redhat.com/openshift/install/pull-secret"
# A full release is about 15 GiB of layers; the samples images add several more.
DISK_WANTED = 20 * 1024**3


def check_oc(release: str | None = None, medium: str | None = None, version: str | None = None) -> Check:
    """oc on PATH, and no older than the release being mirrored (core.usecases.machine asks it)."""
    client = oc_client()
    where = oc_source(medium, version)
    if client.path is None:
        return Check("oc (OpenShift CLI)", "warn", "not on PATH",
                     f"Only needed to apply the results to a cluster from here. Get it from {where}")
    if not client.ran:
        return Check("oc (OpenShift CLI)", "warn", f"{client.path} does not run (or did not answer)",
                     "Reinstall it from " + where)
    wanted = client.older_than(release)
    if wanted is not None:
        return Check("oc (OpenShift CLI)", "warn", f"{client.version} at {client.path} is older than the release "
                     f"({wanted[0]}.{wanted[1]})",
                     f"Get oc {wanted[0]}.{wanted[1]} or newer from {where} before applying")
    return Check("oc (OpenShift CLI)", "ok", f"{client.version} at {client.path}")


def check_auth_file(state: WizardState) -> Check:
    return auth_file_check(state)[0]


def auth_file_check(state: WizardState) -> tuple[Check, str | None]:
    """The pull secret line, and the file found when the plan names none (for the caller to put in the
    plan: this runs in a worker thread, which reads the state and never changes it)."""

    try:
        path, auth = find_auth_file(state.plan)
    except MirrorError as exc:  # AuthFileError and friends: already one line
        return Check("pull secret", "fail", error_text(exc), "Fix or replace the file in the Credentials step"), None
    if path is None or auth is None:
        if state.release.mode == ReleaseMode.FROM_DIR:  # the far side: no internet, the file was carried
            return Check("pull secret", "fail", "none found",
                         "Pick the pull secret you carried beside the medium in the Credentials step (the "
                         "mirror's login is added there if it lacks one)"), None
        return Check("pull secret", "fail", "none found",
                     f"Download it from {PULL_SECRET_URL} and pick it in the Credentials step"), None
    found = None if state.plan.auth_file else str(path)
    return Check("pull secret", "ok", f"{plural(len(auth.registries()), 'registry', 'registries')} in {path}"), found


def check_keyring() -> Check:
    status = keyring_status()
    usable, backend, message = status.usable, status.backend, status.message
    if usable and message:  # usable, with a caveat (a plaintext file keyring): shown, not swallowed
        return Check("keyring", "warn", f"{backend}: {message}",
                     "Anyone who can read that file can read the password; leave “Remember” unticked if "
                     "that is not acceptable")
    if usable:
        return Check("keyring", "ok", f"{backend}: the mirror password can be remembered")
    return Check("keyring", "warn", message or "no usable backend",
                 "Passwords cannot be remembered; type the mirror password when asked (it is never saved in the plan)")


def check_disk(state: WizardState) -> Check:
    release = state.release
    folder = Path(release.directory if release.uses_media and release.directory else state.plan.output_dir or ".")
    probe = folder.expanduser().resolve()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError as exc:
        return Check("free disk", "warn", f"cannot measure {probe}: {exc.strerror}")
    needed = (state.release_size.total_bytes if state.release_size is not None else 0) or DISK_WANTED
    where = f"{human_bytes(free)} free in {probe}"
    if release.mode == ReleaseMode.REGISTRY:
        return Check("free disk", "ok", where + " (mirroring straight to a registry needs little)")
    if free < needed:
        return Check("free disk", "fail" if free < needed / 2 else "warn", where,
                     f"A directory mirror needs about {human_bytes(needed)}; pick a bigger disk in the Release step")
    return Check("free disk", "ok", where)


def check_network(state: WizardState) -> Check:
    """How each server of the plan is reached: directly or through which proxy (HTTPS_PROXY / NO_PROXY,
    or the plan's options.proxy)."""
    try:
        proxies = Access.of_plan(state.plan).proxies()
    except MirrorError as exc:
        return Check("network", "fail", error_text(exc), "Fix HTTPS_PROXY / NO_PROXY (or the plan's options.proxy)")
    found = routes(plan_servers(state.plan), proxies)
    if not found:
        return Check("network", "ok", "no proxy set: every server is reached directly" if proxies.https is None
                     else f"proxy {proxies.https.display} for https")
    detail = "; ".join(f"{r.origin.removeprefix('https://')} {r.how}" for r in found)
    mirror = next((r for r in found if r.role == "mirror"), None)
    if mirror is not None and mirror.proxied:
        return Check("network", "warn", detail,
                     "The mirror is usually inside your network: add it to NO_PROXY if this machine reaches it "
                     "directly")
    return Check("network", "ok", detail)


def release_wanted(state: WizardState) -> str | None:
    release = state.release
    return ((state.release_info.version if state.release_info is not None else None) or release.version or release.channel
            or (release.source if release.source and ":" in release.source else None))


@dataclass(frozen=True)
class MachineChecks:
    """What a look at this machine found: the lines to show, and the pull secret found when the plan
    named none (the handler puts it in the plan)."""

    checks: list[Check]
    auth_file: str | None = None


def run_checks(state: WizardState) -> MachineChecks:
    """Every preflight check; reads the state, changes nothing (it runs in a worker thread)."""
    release = state.release
    medium = release.directory if release.mode == ReleaseMode.FROM_DIR else None
    auth_check, auth_file = auth_file_check(state)
    return MachineChecks([check_oc(release_wanted(state), medium, release.version), auth_check, check_keyring(),
                          check_disk(state), check_network(state)], auth_file)


class PreflightScreen(StepScreen):
    STEP = "preflight"

    def compose_body(self) -> ComposeResult:
        yield Static("Preflight", classes="step-title")
        yield Static("Before anything moves, a look at this machine: the tools, your pull secret, "
                     "where passwords can be kept, the disk, and the way out (a proxy?).", classes="lead")
        yield CheckList(id="checks")
        yield Button("Check again", id="recheck", compact=True)

    def prefill(self) -> None:
        if self.state.checks:
            self.show_checks()
        elif self.wizard.auto_check:
            self.run_checks()
        else:
            self.query_one(CheckList).set_checks([], empty="Not checked yet: press “Check again”.")

    def step_shown(self) -> None:
        """The pull secret line names the file in use now (the Credentials step may have changed it)."""
        checks = self.state.checks
        auth = self.state.plan.auth_file
        for index, check in enumerate(checks):
            if check.name == "pull secret" and auth and auth not in check.detail:
                checks[index], found = auth_file_check(self.state)
                self.use_auth_file(found)
                self.show_checks()
                break

    @on(Button.Pressed, "#recheck")
    def recheck(self) -> None:
        self.run_checks()

    class Checked(Message):
        """The worker's answer (posted from its thread; the handler applies it to the state)."""

        def __init__(self, found: MachineChecks) -> None:
            super().__init__()
            self.found = found

    def run_checks(self) -> None:
        self.set_status("checking …")
        self.check_machine()

    @work(thread=True, exclusive=True, group="preflight", exit_on_error=False)
    def check_machine(self) -> None:
        self.post_message(self.Checked(run_checks(self.state)))

    @on(Checked)
    def _checked(self, event: Checked) -> None:
        self.state.checks = event.found.checks
        self.use_auth_file(event.found.auth_file)
        self.show_checks()

    def use_auth_file(self, found: str | None) -> None:
        """The pull secret the checks found becomes the plan's, unless the plan names one by now."""
        if found and not self.state.plan.auth_file:
            self.state.plan.auth_file = found

    def show_checks(self) -> None:
        checks = self.state.checks
        self.query_one(CheckList).set_checks(checks)
        failed = [c for c in checks if c.state == "fail"]
        warned = [c for c in checks if c.state == "warn"]
        if failed:
            self.set_status(f"{len(failed)} to fix — you can go on and fix it in the next steps", "warn")
        elif warned:
            self.set_status("ready, with notes", "ok")
        else:
            self.set_status("all set", "ok")
        self.refresh_help()

    def help_prose(self) -> str:
        return ("Mirroring needs the OpenShift CLI only to apply the results to a cluster; the copying itself "
                "is done by this wizard. Your pull secret (from console.redhat.com) lets this machine read "
                "Red Hat's registries. A keyring keeps your mirror password between runs. A mirror to "
                "removable media needs room for the whole release. Behind a company proxy, set HTTPS_PROXY "
                "(and NO_PROXY for your mirror) before starting: every request follows them.")

    def help_commands(self) -> list[str]:
        auth = self.state.plan.auth_file or "<pull-secret.json>"
        release = self.state.release
        folder = release.directory if release.uses_media and release.directory else self.state.plan.output_dir
        return ["oc version --client", "env | grep -i _proxy", f"jq '.auths | keys' {q(auth)}", f"df -h {q(folder or '.')}"]
