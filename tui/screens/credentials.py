"""Step 2, Credentials: the pull secret, the mirror registry's login, and a live login test."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Button, Checkbox, Input, Static

from core.access import auth_from_data, saved_login
from core.credentials import (
    LoginResult,
    LoginState,
    add_registry_credential,
    keyring_status,
    load_pull_secret,
    recall_password,
    remember_password,
    save_login,
)
from core.errors import MirrorError
from core.plan import ReleaseMode, SamplesSource
from core.reference import is_registry_host
from core.text import plural
from core.text import shell_quote as q
from core.usecases.logins import plan_registries, probe, test_logins, test_plan_logins
from core.usecases.samples import load_local_streams
from tui.access import wizard_auth, wizard_tls
from tui.screens.base import StepScreen
from tui.screens.confirm import ConfirmScreen
from tui.state import Check, error_text
from tui.widgets.checks import CheckList
from tui.widgets.field import Field
from tui.widgets.note import Note
from tui.widgets.tickbox import TickBox
from tui.wording import for_wizard

LOGIN_MARKS = {"ok": "ok", "wrong-credentials": "fail", "unreachable": "fail", "tls-untrusted": "fail",
               "denied": "fail", "error": "fail", "untested": "info", "testing": "wait", "skipped": "info",
               "unused": "info"}


def merged_name(pull_secret: str) -> str:
    """Where the pull secret plus the mirror login goes: beside the original, which stays as downloaded.
    A file that is already such a copy (a plan reopened) keeps its name: never ``…-mirror-mirror.json``."""
    path = Path(pull_secret or "pull-secret.json")
    if path.stem.endswith("-mirror"):
        return str(path)
    return str(path.with_name(f"{path.stem}-mirror{path.suffix or '.json'}"))


FAR_SIDE_LOGIN = "~/mirror-login.json"

INTERNAL_REGISTRY_HINTS = ("image-registry.openshift-image-registry.svc", "default-route-openshift-image-registry.")


def internal_registry(host: str) -> bool:
    """Is this the cluster's integrated image registry (its service or its default route)?"""
    name = host.lower()
    return any(name.startswith(hint) for hint in INTERNAL_REGISTRY_HINTS)


def load_secret(path: str) -> dict[str, Any]:
    """The pull secret as a dict, with the engine's one-line errors."""
    return load_pull_secret(path)


# The far side reads nothing from Red Hat: the images come from the medium; the login is the mirror's alone.
FAR_SIDE_LEAD = ("The images come from the removable media: this machine needs only your mirror registry's "
                 "login, to push them there (no pull secret from console.redhat.com).")


class CredentialsScreen(StepScreen):
    STEP = "credentials"

    def compose_body(self) -> ComposeResult:
        yield Static("Credentials", classes="step-title")
        yield Static("Your pull secret lets this machine read Red Hat's registries; your mirror registry's "
                     "login is added to it so the same file can push.", classes="lead", id="lead")
        yield Static("Pull secret file (from console.redhat.com)", id="secret-label", classes="field-label")
        with Horizontal(classes="row"):
            yield Field(id="secret", placeholder="~/pull-secret.json", compact=True)
            yield Button("Load", id="load-secret", compact=True)
        yield Note(id="secret-error", classes="inline-error")
        yield Note(id="secret-info", classes="hint")
        yield Static("Mirror registry (HOST:PORT)", classes="field-label")
        yield Field(id="mirror", placeholder="mirror.example.com:8443", compact=True)
        yield Note(id="mirror-error", classes="inline-error")
        with Horizontal(classes="row"):
            yield Field(id="user", placeholder="user name", compact=True)
            yield Field(id="password", placeholder="password", password=True, compact=True)
        yield Note(id="password-error", classes="inline-error")
        yield TickBox("Remember the password in the keyring", id="remember", compact=True)
        yield Note(id="keyring-note", classes="hint")  # why the keyring cannot (a tick box's label never wraps)
        yield Static("Save the pull secret with the mirror login as", id="merged-label", classes="field-label")
        yield Field(id="merged", placeholder="pull-secret-mirror.json", compact=True)
        with Horizontal(classes="row buttons"):
            yield Button("Add login and test", id="add", variant="primary", compact=True)
            yield Button("Test the plan's registries", id="test-all", compact=True)
        yield Static("Logins", classes="section")
        yield CheckList(id="logins", name_width=30)

    # -- prefill -------------------------------------------------------------------------------------

    def prefill(self) -> None:
        state = self.state
        self.query_one("#secret", Input).value = state.plan.auth_file or ""
        self.query_one("#mirror", Input).value = state.plan.mirror.registry
        self.query_one("#user", Input).value = state.mirror_user
        self.query_one("#password", Input).value = state.mirror_password
        # The far side's login file goes to the admin's home, never onto the medium (a secret would travel
        # back with it, and the bundle's check lists it as a stray file).
        far_side = self.far_side()
        default = FAR_SIDE_LOGIN if far_side and not state.plan.auth_file else merged_name(state.plan.auth_file or "")
        self.query_one("#merged", Input).value = state.merged_auth_path or default
        if far_side:
            # What this field holds here is the mirror's login file, not a pull secret from the console; the
            # file the login is saved to is shown and loaded when it exists (saving merges into it).
            self.query_one("#secret-label", Static).update("Mirror login file (loaded when it exists)")
            self.query_one("#merged-label", Static).update("Save the mirror login as")  # no pull secret here
            self.query_one("#lead", Static).update(FAR_SIDE_LEAD)
            target = state.merged_auth_path or default
            if not state.plan.auth_file and Path(target).expanduser().is_file():
                self.query_one("#secret", Input).value = target
        self.query_one("#remember", Checkbox).value = state.remember_password
        sandbox_password = state.plan_path.parent / "mirror-password.txt" if state.plan_path else None
        if sandbox_password is not None and sandbox_password.exists() and not state.mirror_password:
            self.query_one("#password-error", Static).update(
                Content.styled(f"Practice sandbox: user admin, password in {sandbox_password}", "$accent"))
        if state.plan.auth_file or far_side:
            self.load_secret_file()
        self.show_logins()
        if self.wizard.auto_check:
            self.probe_keyring()

    @work(group="keyring", exit_on_error=False)
    async def probe_keyring(self) -> None:
        """The keyring's answer (slow on some desktops: asked in a thread), shown on the app's loop."""
        status = await asyncio.to_thread(keyring_status)
        backend = status.backend.rsplit(".", 1)[-1]
        box = self.query_one("#remember", Checkbox)
        box.label = (f"Remember the password in the keyring ({backend})" if status.usable
                     else "Remember the password in the keyring (not usable here)")
        # A usable keyring's message is a note of its own ("note: … unencrypted in …"); a refusal says whose.
        self.query_one("#keyring-note", Static).update(status.message if status.usable else f"keyring: {status.message}")
        box.disabled = not status.usable
        if not status.usable:
            box.value = False

    def first_focus(self) -> str:
        state = self.state
        if state.auth_data is None:
            return "#secret"
        if not state.plan.mirror.registry:
            return "#mirror"
        if any(r.registry == state.plan.mirror.registry and r.ok for r in state.logins):
            return "#next"
        if not self.query_one("#user", Input).value:
            return "#user"
        return "#password"

    # -- pull secret ---------------------------------------------------------------------------------

    @on(Input.Submitted, "#secret")
    @on(Button.Pressed, "#load-secret")
    def load_secret_file(self) -> None:
        path = self.query_one("#secret", Input).value.strip()
        error = self.query_one("#secret-error", Static)
        info = self.query_one("#secret-info", Static)
        previous = self.state.auth_data
        self.state.auth_data = None
        if not path and self.far_side():
            # The disconnected side reads the medium, not Red Hat's registries: the login file it needs holds
            # the mirror's login alone, started empty here.
            self.state.auth_data = previous if previous is not None else {"auths": {}}
            error.update("")
            info.update("The upload needs no pull secret: only your mirror's login, typed below (it is saved "
                        "on its own). install-config.yaml's pullSecret still needs this login added to the "
                        "pull secret you carried.")
            return
        if not path:
            error.update("Give the path of your pull secret (download it from console.redhat.com).")
            info.update("")
            return
        try:
            data = load_secret(str(Path(path).expanduser()))
        except (MirrorError, OSError) as exc:
            self.state.auth_error = error_text(exc)
            error.update("✗ " + self.state.auth_error)
            info.update("")
            self.query_one("#secret", Input).add_class("-invalid")
            return
        self.query_one("#secret", Input).remove_class("-invalid")
        self.state.auth_error = ""
        changed = data != previous
        self.state.plan.auth_file = path
        self.state.auth_data = data
        error.update("")
        hosts = list(data.get("auths", {}))
        info.update(f"✓ {plural(len(hosts), 'registry', 'registries')}: {', '.join(hosts)}")
        merged = self.query_one("#merged", Input)
        if (not merged.value or merged.value == merged_name("")) and not merged.has_focus:
            merged.value = merged_name(path)
        self.note_existing_login()
        if changed:  # earlier results stand for the same file (coming back to this step)
            self.state.logins = []
        self.show_logins()
        self.refresh_help()

    def far_side(self) -> bool:
        """A plan uploading from removable media: its images come from the medium, not Red Hat's registries."""
        release = self.state.plan.release
        return release is not None and release.mode == ReleaseMode.FROM_DIR

    def note_existing_login(self) -> None:
        """A pull secret that already holds the mirror's login needs no password typed again."""
        data = self.state.auth_data or {}
        host = self.query_one("#mirror", Input).value.strip()
        entry = data.get("auths", {}).get(host) if host else None
        if isinstance(entry, dict) and entry.get("auth"):
            try:
                user = saved_login(entry["auth"], host).username
            except MirrorError:
                return
            field = self.query_one("#user", Input)
            if not field.value and not field.has_focus:  # never under the admin's fingers
                field.value = user
            self.query_one("#password-error", Static).update("")
            self.set_status(f"the pull secret already has a login for {host} (user {user})", "ok")

    # -- live inputs ---------------------------------------------------------------------------------

    @on(Input.Changed, "#mirror")
    def mirror_changed(self, event: Input.Changed) -> None:
        host = event.value.strip()
        error = self.query_one("#mirror-error", Static)
        previous = self.state.plan.mirror.registry
        if host and not is_registry_host(host):
            error.update("✗ expected HOST or HOST:PORT, e.g. mirror.example.com:8443 (no https://, no path)")
            event.input.add_class("-invalid")
        elif host and internal_registry(host):
            error.update("✗ this is the cluster's own image registry: it cannot be the mirror (it refuses pushes "
                         "by digest, without a tag). Use a registry outside the cluster that every node reaches.")
            event.input.add_class("-invalid")
            self.state.plan.mirror.registry = host
        else:
            error.update("")
            event.input.remove_class("-invalid")
            self.state.plan.mirror.registry = host
        if host != previous:
            # What was said about the old host (a rejected password, a failed login) is not about this one.
            self.query_one("#password-error", Static).update("")
            saved = set((self.state.auth_data or {}).get("auths", {}))
            before = len(self.state.logins)
            self.state.logins = [r for r in self.state.logins
                                 if not (r.registry == previous and not r.ok and previous not in saved)]
            if len(self.state.logins) != before:
                self.show_logins()
                self.set_status("")
        self.refresh_help()

    @on(Input.Changed, "#user")
    def user_changed(self, event: Input.Changed) -> None:
        self.state.mirror_user = event.value.strip()
        self.refresh_help()

    @on(Input.Changed, "#password")
    def password_changed(self, event: Input.Changed) -> None:
        self.state.mirror_password = event.value
        self.query_one("#password-error", Static).update("")

    @on(Input.Changed, "#merged")
    def merged_changed(self, event: Input.Changed) -> None:
        self.state.merged_auth_path = event.value.strip()
        self.refresh_help()

    @on(Checkbox.Changed, "#remember")
    def remember_changed(self, event: Checkbox.Changed) -> None:
        self.state.remember_password = event.value

    @on(Input.Submitted, "#mirror")
    @on(Input.Submitted, "#user")
    def focus_next_field(self) -> None:
        self.focus_next()

    @on(Input.Submitted, "#password")
    @on(Input.Submitted, "#merged")
    def submit_login(self) -> None:
        self.add_and_test()

    # -- add and test ------------------------------------------------------------------------------

    def typed_login(self) -> tuple[str, str, str] | None:
        """(host, user, password) typed but not yet in the auth data, else None."""
        host = self.query_one("#mirror", Input).value.strip()
        user = self.query_one("#user", Input).value.strip()
        password = self.query_one("#password", Input).value
        if not password or not host or not is_registry_host(host):
            return None
        entry = (self.state.auth_data or {}).get("auths", {}).get(host)
        if isinstance(entry, dict) and entry.get("auth"):
            try:
                saved = saved_login(entry["auth"], host)
            except MirrorError:
                return host, user, password
            if saved.username == user and saved.password == password:
                return None
        return host, user, password

    @on(Button.Pressed, "#add")
    def add_and_test(self) -> None:
        host = self.query_one("#mirror", Input).value.strip()
        user = self.query_one("#user", Input).value.strip()
        password = self.query_one("#password", Input).value
        if self.state.auth_data is None:
            self.load_secret_file()
            if self.state.auth_data is None:
                self.set_status("load the pull secret first", "error")
                return
        if not host or not is_registry_host(host):
            self.query_one("#mirror-error", Static).update("✗ give the mirror registry as HOST:PORT")
            self.query_one("#mirror", Input).focus()
            return
        has_login = isinstance(self.state.auth_data.get("auths", {}).get(host), dict)
        if not password and has_login:
            self.test_logins([host])
            return
        if not user:
            self.query_one("#password-error", Static).update("✗ type the mirror registry's user name and password")
            self.query_one("#user", Input).focus()
            return
        self.add_login(host, user, password, self.query_one("#merged", Input).value.strip(),
                       self.query_one("#remember", Checkbox).value)

    @work(exclusive=True, group="logins", exit_on_error=False)
    async def add_login(self, host: str, user: str, password: str, merged: str, remember: bool,
                        then_next: bool = False) -> None:
        if await self._add_login(host, user, password, merged, remember) and then_next:
            await self.wizard.next_step()

    async def _add_login(self, host: str, user: str, password: str, merged: str, remember: bool) -> bool:
        """Test the new login first; only a working one is written to disk and to the keyring."""
        if not password:  # perhaps remembered from an earlier run
            recalled: str | None = await asyncio.to_thread(recall_password, host, user)
            password = recalled or ""
            if not password:
                self.query_one("#password-error", Static).update(
                    "✗ type the password (none is remembered in the keyring for this user)")
                self.query_one("#password", Input).focus()
                return False
            self.notify(f"using the password remembered for {user}@{host}")
        try:
            data = add_registry_credential(self.state.auth_data or {"auths": {}}, host, user, password)
        except MirrorError as exc:
            self.query_one("#password-error", Static).update("✗ " + error_text(exc))
            return False
        results = await self._test([host], data, typed_user=user)
        if not all(r.ok for r in results):
            self.set_status("login failed: nothing was saved", "error")
            return False
        target = Path(merged or merged_name(self.state.plan.auth_file or "")).expanduser()
        try:  # merged into the file already there: its other logins stay (core.credentials.save_login)
            saved = await asyncio.to_thread(save_login, target, data, host)
        except (MirrorError, OSError) as exc:
            self.query_one("#password-error", Static).update("✗ " + error_text(exc))
            return False
        data = saved.data
        self.state.auth_data = data
        self.state.plan.auth_file = str(target)
        self.state.merged_auth_path = str(target)
        with self.prevent(Input.Changed):
            self.query_one("#secret", Input).value = str(target)
        kept = f"; kept {plural(len(saved.kept), 'other login', 'other logins')} it had" if saved.kept else ""
        self.query_one("#secret-info", Static).update(
            f"✓ {plural(len(data['auths']), 'registry', 'registries')} (with {host}) saved to {target}{kept}")
        if remember:
            status = await asyncio.to_thread(remember_password, host, user, password)
            if not status.usable:
                self.notify(f"password not remembered: {status.message}", severity="warning")
        self.set_status(f"login to {host} works; saved to {target.name}", "ok")
        self.refresh_help()
        return True

    @on(Button.Pressed, "#test-all")
    def test_all(self) -> None:
        if self.state.auth_data is None:
            self.load_secret_file()
        if self.state.auth_data is not None:
            self.test_used()

    @work(exclusive=True, group="logins", exit_on_error=False)
    async def test_logins(self, registries: list[str] | None) -> None:
        await self._test(registries)

    @work(exclusive=True, group="logins", exit_on_error=False)
    async def test_used(self) -> None:
        """The registries this plan really talks to, as the copy will reach them (through the plan's
        mirror set when it has one); the pull secret's other entries are listed, not dialled
        (core.usecases.logins)."""
        state = self.state
        if not state.streams and state.samples.paths and state.samples.source == SamplesSource.FILES:
            try:  # the image streams name their registries; the Image streams step reports errors
                state.streams = await asyncio.to_thread(load_local_streams, state.samples)
            except (MirrorError, OSError):
                pass
        uses = plan_registries(state.plan, state.streams)
        self.set_status(f"testing {plural(len(uses), 'registry', 'registries')} the plan uses …")
        state.logins = [_pending(u.key) for u in uses]
        self.show_logins()
        auth = auth_from_data(state.auth_data or {"auths": {}})
        try:
            tested = await test_plan_logins(state.plan, auth, uses, wizard_tls(state))
        except MirrorError as exc:  # a mirror set file that cannot be read
            state.logins = []
            self.show_logins()
            self.set_status(error_text(exc), "error")
            return
        results = await self.in_wizard_words(tested.results)
        state.logins = results + tested.unused
        self.show_logins()
        bad = [r for r in results if not r.ok]
        self.set_status(f"{len(bad)} of {len(results)} failed — see the list" if bad
                        else f"all {plural(len(results), 'registry', 'registries')} of the plan answer",
                        "error" if bad else "ok")

    async def in_wizard_words(self, results: list[LoginResult], typed_user: str | None = None) -> list[LoginResult]:
        """The engine's messages as the wizard says them: "retype the password" for a login typed here,
        "does not resolve" for a name DNS does not know, no command-line flags."""
        mirror = self.state.plan.mirror.registry
        if typed_user is None and self.state.mirror_password and self.state.mirror_user:
            typed_user = self.state.mirror_user  # typed in this session, not read from the pull secret
        out: list[LoginResult] = []
        for result in results:
            reach = None
            if result.state == LoginState.UNREACHABLE and result.reach is None:
                reach = await asyncio.to_thread(probe, result.registry)
            out.append(for_wizard(result, typed_user=typed_user if result.registry == mirror else None,
                                  reach=reach))
        return out

    async def _test(self, registries: list[str] | None, data: dict[str, Any] | None = None,
                    typed_user: str | None = None) -> list[LoginResult]:
        data = data or self.state.auth_data or {"auths": {}}
        hosts = registries or list(data.get("auths", {}))
        self.set_status(f"testing {plural(len(hosts), 'login', 'logins')} …")
        self.state.logins = [_pending(h) for h in hosts] + [r for r in self.state.logins
                                                           if r.registry not in hosts]
        self.show_logins()
        tested = await test_logins(auth_from_data(data), hosts, wizard_tls(self.state))
        results = await self.in_wizard_words(tested, typed_user)
        others = [r for r in self.state.logins if r.registry not in hosts]
        self.state.logins = list(results) + [r for r in others if r.state != LoginState.TESTING]
        self.show_logins()
        mirror = self.state.plan.mirror.registry
        for result in results:
            if result.registry == mirror and not result.ok:
                field = {"wrong-credentials": "#password-error", "denied": "#password-error"}.get(
                    result.state, "#mirror-error")
                self.query_one(field, Static).update(f"✗ {result.message}")
        bad = [r for r in results if not r.ok]
        if bad:
            self.set_status(f"{plural(len(bad), 'login', 'logins')} failed — see the list", "error")
        else:
            self.set_status("logins work", "ok")
        return list(results)

    def show_logins(self) -> None:
        checks = []
        for result in self.state.logins:
            state = result.state
            checks.append(Check(result.registry, LOGIN_MARKS.get(state, "fail"), result.message))
        self.query_one("#logins", CheckList).set_checks(
            checks, empty="Not tested yet: “Add login and test” tries the mirror; “Test the plan's registries” "
                          "tries every registry the plan reads from or writes to.")

    # -- leaving -------------------------------------------------------------------------------------

    async def can_leave(self) -> bool:
        if self.state.auth_data is None:
            self.load_secret_file()
            if self.state.auth_data is None:
                self.set_status("fix the pull secret first", "error")
                self.query_one("#secret", Input).focus()
                return False
        host = self.query_one("#mirror", Input).value.strip()
        if not host or not is_registry_host(host):
            self.query_one("#mirror-error", Static).update("✗ give the mirror registry as HOST:PORT")
            self.query_one("#mirror", Input).focus()
            self.set_status("the mirror registry is needed", "error")
            return False
        if internal_registry(host):
            self.query_one("#mirror", Input).focus()
            self.set_status("the cluster's own image registry cannot be the mirror", "error")
            return False
        typed = self.typed_login()
        if typed is not None:
            # Typed but never added: dropped silently, the mirror would fail later with 401. Add and
            # test it now; the worker goes on to the next step once the login works.
            host, user, password = typed
            if not user:
                self.query_one("#password-error", Static).update(
                    "✗ type the user name for this password (or clear the password)")
                self.query_one("#user", Input).focus()
                self.set_status("the mirror login is incomplete", "error")
                return False
            self.set_status(f"adding and testing the login to {host} before going on …")
            self.add_login(host, user, password, self.query_one("#merged", Input).value.strip(),
                           self.query_one("#remember", Checkbox).value, then_next=True)
            return False
        if wizard_auth(self.state).lookup(host) is None and self.state.no_mirror_login_accepted != host:
            self._confirm_no_login(host)
            return False
        return True

    def _confirm_no_login(self, host: str) -> None:
        """A mirror without a login in the file fails every push with 401: go on only when told to."""

        def answer(yes: bool | None) -> None:
            if yes:
                self.state.no_mirror_login_accepted = host
                self.call_later(self.wizard.next_step)
            else:
                self.query_one("#user", Input).focus()

        self.app.push_screen(ConfirmScreen(
            f"Go on without a login for {host}?",
            f"The pull secret has no entry for {host}, so pushes to it will be refused unless it takes "
            "anonymous pushes. Type the user name and password and press Next to add them.",
            yes="Go on without a login", no="Add a login"), answer)

    # -- help ----------------------------------------------------------------------------------------

    def help_prose(self) -> str:
        return ("A pull secret is a JSON file of logins: for each registry a value named [b]auth[/b], "
                "which is base64 of [i]user:password[/i]. The mirror registry's entry is added to a copy of the one you "
                "downloaded, and that copy is what every later step uses. The password is never written "
                "to the plan; tick the box to keep it in your keyring.\n\n"
                "[b]The mirror registry[/b] must be reachable from every node of the cluster, all the time: "
                "installs, updates and moving workloads pull from it, so run it at least as highly available as "
                "the cluster. It cannot be the cluster's own image registry, which refuses pushes without a tag.")

    def help_commands(self) -> list[str]:
        host = self.query_one("#mirror", Input).value.strip() or "<mirror_registry>"
        user = self.query_one("#user", Input).value.strip() or "<user_name>"
        merged = self.query_one("#merged", Input).value.strip() or "pull-secret-mirror.json"
        secret = self.query_one("#secret", Input).value.strip() or "pull-secret.json"
        if secret == merged:  # the login is added: the file in use is the merged copy itself
            return [f"# {merged} holds your pull secret plus the login for {host}",
                    f"jq '.auths | keys' {q(merged)}",
                    f"podman login --authfile {q(merged)} {host}"]
        return [
            f"echo -n '{user}:<password>' | base64 -w0",
            f"# add to a copy of {secret}:\n"
            f'#  "auths": {{ "{host}": {{ "auth": "<that base64>", "email": "you@example.com" }} }}',
            f"cp {q(secret)} {q(merged)}\n"
            f"oc registry login --registry={host} --auth-basic={user}:<password> --to={q(merged)}",
            f"podman login --authfile {q(merged)} {host}",
        ]


def _pending(registry: str) -> LoginResult:
    """A login being tested (shown as … until its result arrives)."""
    return LoginResult(registry, LoginState.TESTING, "testing …")
