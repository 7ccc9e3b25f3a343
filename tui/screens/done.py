"""Step 8, Done: what the cluster needs now — mirror sets, the CA ConfigMap, the samples Config — written
to a folder with the runbook, and applied with `oc` when it is here and the admin says so."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, Input, Static, TabbedContent, TabPane, TextArea

from core.errors import MirrorError
from core.yamlout import dump_yaml
from tui.screens.base import StepScreen
from tui.screens.confirm import ConfirmScreen
from tui.state import error_text, q
from tui.widgets.note import Note


@dataclass
class OcStep:
    """One `oc` call: its arguments and the YAML/JSON fed on stdin (shown to the admin before it runs)."""

    args: list[str]
    stdin: str | None = None

    def shown(self) -> str:
        return " ".join(q(a) if " " in a or "{" in a else a for a in ["oc", *self.args])


def documents(prepared) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """(tab id, title, text) for everything the cluster gets."""
    out: list[tuple[str, str, str]] = []
    instructions = getattr(prepared, "instructions", None)
    if instructions is not None:
        out.append(("install", "install-config",
                    "# add to install-config.yaml (new clusters)\n" + instructions.image_content_sources_yaml()
                    + "\n# the same for installers that read imageDigestSources\n"
                    + instructions.image_digest_sources_yaml()))
        out.append(("idms", "IDMS", "# running clusters, 4.13 and later\n" + dump_yaml(instructions.idms())))
        out.append(("icsp", "ICSP", "# running clusters before 4.13\n" + dump_yaml(instructions.icsp())))
    ca = getattr(prepared, "ca", None)
    if ca is not None:
        out.append(("ca", "CA", ca.yaml() + "\n# then\n" + "\n".join(ca.commands)))
    samples = getattr(prepared, "samples", None)
    if samples is not None:
        text = samples.config_yaml() + "\n# then\n" + "\n".join(c for c in samples.commands if c.startswith("oc patch"))
        out.append(("samples", "Samples", text))
    return out


def apply_steps(prepared, *, icsp: bool = False) -> list[OcStep]:  # type: ignore[no-untyped-def]
    """What `oc` runs; ``icsp`` for clusters before 4.13, which know no ImageDigestMirrorSet."""
    steps: list[OcStep] = []
    instructions = getattr(prepared, "instructions", None)
    if instructions is not None:
        steps.append(OcStep(["apply", "-f", "-"], dump_yaml(instructions.icsp() if icsp else instructions.idms())))
    ca = getattr(prepared, "ca", None)
    if ca is not None:
        steps.append(OcStep(["apply", "-f", "-"], dump_yaml(ca.configmap)))
        steps.append(OcStep(["patch", "image.config.openshift.io/cluster", "--type=merge",
                             "--patch", json.dumps(ca.patch, separators=(",", ":"))]))
    samples = getattr(prepared, "samples", None)
    if samples is not None:
        steps.append(OcStep(["patch", "configs.samples.operator.openshift.io/cluster", "--type=merge",
                             "--patch", json.dumps(samples.config_patch, separators=(",", ":"))]))
    return steps


def cluster_version(oc: str) -> tuple[int, int] | None:
    """(major, minor) of the OpenShift cluster oc is logged in to; None when oc cannot tell."""
    try:
        done = subprocess.run([oc, "version", "-o", "json"], capture_output=True, text=True, timeout=30, check=False)
        data = json.loads(done.stdout or "{}")
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    text = str(data.get("openshiftVersion") or "")
    parts = text.split(".")
    if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
        return int(parts[0]), int(parts[1])
    server = data.get("serverVersion")
    if isinstance(server, dict):  # Kubernetes 1.26 shipped with OpenShift 4.13
        minor = str(server.get("minor", "")).rstrip("+")
        if str(server.get("major")) == "1" and minor.isdigit():
            return 4, int(minor) - 13
    return None


class DoneScreen(StepScreen):
    STEP = "done"
    BODY_SCROLLS = False
    NEXT_LABEL = "Quit"
    BINDINGS = [Binding("ctrl+o", "write", "Write files")]

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="title-row"):
            yield Static("Done", classes="step-title")
            yield Note(id="done-summary", classes="hint")
        with TabbedContent(id="docs"), TabPane("Runbook", id="tab-runbook"):
            yield TextArea(id="doc-runbook", read_only=True, soft_wrap=True)
        with Horizontal(classes="row"):
            yield Input(id="out-dir", placeholder="output folder", compact=True)
            yield Button("Write files", id="write", variant="primary", compact=True)
            yield Button("Apply with oc", id="apply", compact=True)
        yield Note(id="written", classes="hint")

    def prefill(self) -> None:
        self.query_one("#out-dir", Input).value = self.state.plan.output_dir
        self._tabs: set[str] = set()
        self.step_shown()

    def step_shown(self) -> None:
        self.query_one("#apply", Button).disabled = shutil.which("oc") is None
        problem = self.blocked()
        if problem:
            self.set_status(problem, "error")
        if self.state.current_prepared() is None:
            if self.wizard.auto_check and not self.state.mirror_out_of_date():
                self.prepare()
            return
        self.show_documents()
        if not problem:
            self.set_status("")

    def blocked(self) -> str:
        """Why nothing may be written or applied now ("" when it may): documents must match the plan."""
        state = self.state
        if state.mirror_out_of_date():
            return "the plan changed after the mirror: go back to the Mirror step and Resume first"
        if state.prepared is not None and state.current_prepared() is None and not self.wizard.auto_check:
            return "the plan changed since these were computed: go back to the Mirror step"
        if state.current_prepared() is None:
            return "nothing to write yet"
        return ""

    def for_cluster(self):  # type: ignore[no-untyped-def]
        """The prepared documents as they may go to the cluster: never a CA that did not verify."""
        prepared = self.state.current_prepared()
        if prepared is not None and prepared.ca is not None and self.state.ca_unverified():
            prepared = dataclasses.replace(prepared, ca=None)
        return prepared

    def first_focus(self) -> str:
        return "#write"

    @work(exclusive=True, group="prepare", exit_on_error=False)
    async def prepare(self) -> None:
        from core.run import prepare

        self.set_status("computing the manifests …")
        key = self.state.plan_key()
        try:
            async with self.state.session() as session:
                prepared = await prepare(self.state.plan_for_saving(), session, read_only=True)
        except MirrorError as exc:
            self.set_status(error_text(exc), "error")
            return
        self.state.prepared, self.state.prepared_key = prepared, key
        self.set_status("")
        self.show_documents()

    def show_documents(self) -> None:
        from core.runbook import render_runbook

        prepared = self.for_cluster()
        if prepared is None:
            return
        tabs = self.query_one("#docs", TabbedContent)
        for key in list(self._tabs - {key for key, _, _ in documents(prepared)}):
            tabs.remove_pane(f"tab-{key}")
            self._tabs.discard(key)
        for key, title, text in documents(prepared):
            pane_id = f"tab-{key}"
            if key not in self._tabs:
                tabs.add_pane(TabPane(title, TextArea(text, id=f"doc-{key}", read_only=True), id=pane_id),
                              before="tab-runbook")
                self._tabs.add(key)
            else:
                self.query_one(f"#doc-{key}", TextArea).text = text
        runbook = render_runbook(prepared.plan, prepared.runbook_parts())
        self.query_one("#doc-runbook", TextArea).text = runbook
        if self._tabs:
            first = next(key for key, _, _ in documents(prepared))
            tabs.active = f"tab-{first}"
        result = self.state.mirror_result
        if result is not None:
            self.query_one("#done-summary", Static).update(
                f"{result.images_done} images in the mirror · {len(apply_steps(prepared))} changes for the cluster")
        if self.state.ca_unverified():
            self.query_one("#written", Static).update(
                f"! the CA is left out: it was not verified against {self.state.mirror_host} (CA step)")
        self.refresh_help()

    # -- write -----------------------------------------------------------------------------------------

    @on(Input.Changed, "#out-dir")
    def out_changed(self, event: Input.Changed) -> None:
        if event.value.strip():
            self.state.plan.output_dir = event.value.strip()
        self.refresh_help()

    @on(Input.Submitted, "#out-dir")
    @on(Button.Pressed, "#write")
    def action_write(self) -> None:
        problem = self.blocked()
        if problem:
            self.set_status(problem, "error")
            return
        self.write_files(self.for_cluster(), self.state.plan.output_dir)

    @work(thread=True, exclusive=True, group="write", exit_on_error=False)
    def write_files(self, prepared, folder: str) -> None:  # type: ignore[no-untyped-def]
        from core.plan import save_plan
        from core.run import write_outputs

        try:
            written = write_outputs(prepared, Path(folder).expanduser())
            plan_path = self.state.save_path()
            save_plan(self.state.plan_for_saving(), plan_path)
        except (MirrorError, OSError) as exc:
            self.app.call_from_thread(self.set_status, f"not written: {error_text(exc)}", "error")
            return
        self.state.written = written + [plan_path]
        names = ", ".join(p.name for p in written)
        self.app.call_from_thread(self.query_one("#written", Static).update,
                                  f"✓ wrote {names} in {Path(folder).expanduser()}; plan saved to {plan_path}")
        self.app.call_from_thread(self.set_status, f"{len(written)} files written", "ok")
        self.app.call_from_thread(self.refresh_help)

    # -- apply -----------------------------------------------------------------------------------------

    @on(Button.Pressed, "#apply")
    def apply_pressed(self) -> None:
        oc = shutil.which("oc")
        if oc is None:
            self.set_status("oc is not on PATH: apply the written files from a machine that has it", "warn")
            return
        problem = self.blocked()
        if problem:
            self.set_status(problem, "error")
            return
        self.ask_cluster(oc)

    @work(thread=True, exclusive=True, group="apply", exit_on_error=False)
    def ask_cluster(self, oc: str) -> None:
        """Which cluster version oc talks to decides between IDMS (4.13+) and ICSP (before)."""
        self.app.call_from_thread(self.set_status, "asking the cluster its version (oc version) …")
        version = cluster_version(oc)
        self.app.call_from_thread(self.confirm_apply, oc, version)

    def confirm_apply(self, oc: str, version: tuple[int, int] | None) -> None:
        if version is None:
            self.set_status("oc cannot read the cluster's version: log in first (oc login), then Apply", "error")
            return
        icsp = version < (4, 13)
        steps = apply_steps(self.for_cluster(), icsp=icsp)
        kind = "ImageContentSourcePolicy (before 4.13)" if icsp else "ImageDigestMirrorSet (4.13 and later)"
        shown = "\n".join(s.shown() for s in steps)
        self.set_status("")

        def answer(yes: bool | None) -> None:
            if yes:
                self.apply(oc, steps)

        self.app.push_screen(ConfirmScreen(
            f"Apply these to the OpenShift {version[0]}.{version[1]} cluster oc is logged in to?",
            f"The mirror set as an {kind}.\n{shown}\n\nNodes roll out the new mirror and CA settings "
            "(machine config), one at a time.", yes="Apply", no="Not now"), answer)

    @work(thread=True, exclusive=True, group="apply-run", exit_on_error=False)
    def apply(self, oc: str, steps: list[OcStep]) -> None:
        lines = []
        for step in steps:
            try:
                done = subprocess.run([oc, *step.args], input=step.stdin, capture_output=True, text=True, timeout=120,
                                      check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                lines.append(f"✗ {step.shown()}: {exc.__class__.__name__}")
                break
            output = (done.stdout or done.stderr).strip().splitlines()
            mark = "✓" if done.returncode == 0 else "✗"
            lines.append(f"{mark} {step.shown()}" + (f": {output[-1]}" if output else ""))
            if done.returncode != 0:
                break
        ok = all(line.startswith("✓") for line in lines) and len(lines) == len(steps)
        self.app.call_from_thread(self.query_one("#written", Static).update, "\n".join(lines))
        self.app.call_from_thread(self.set_status, "applied" if ok else "oc failed — see above", "ok" if ok else "error")

    async def action_next(self) -> None:
        # Ctrl+N on the last step: there is no next step, and quitting is never one stray key away.
        self.set_status("this is the last step — the Quit button or Ctrl+Q leaves the wizard", "info")

    async def next_pressed(self) -> None:
        await self.wizard.action_quit()  # asks first when something is unsaved, running or not applied

    def help_prose(self) -> str:
        return ("A new cluster gets the mirror through [b]imageContentSources[/b] in install-config.yaml "
                "(plus the CA in additionalTrustBundle). A running cluster gets an ImageDigestMirrorSet (or an "
                "ImageContentSourcePolicy before 4.13), the CA ConfigMap with the image config patch, and the "
                "samples operator's Config. The runbook repeats every step with its commands.")

    def help_commands(self) -> list[str]:
        out = Path(self.state.plan.output_dir or "<output>").expanduser()
        prepared = self.for_cluster()
        commands: list[str] = ["oc version   # the server's version picks IDMS (4.13+) or ICSP"]
        if prepared is None or getattr(prepared, "instructions", None) is not None:
            from core.mirror_config import ICSP_FILE, IDMS_FILE

            commands.append(f"oc apply -f {q(str(out / IDMS_FILE))}   # 4.13 and later\n"
                            f"# before 4.13: oc apply -f {q(str(out / ICSP_FILE))}")
        if prepared is not None and getattr(prepared, "ca", None) is not None:
            commands.append(f"oc apply -f {q(str(out / 'registry-config.yaml'))}   # the CA ConfigMap")
            commands += [c for c in prepared.ca.commands if c.startswith("oc patch")]
        if prepared is not None and getattr(prepared, "samples", None) is not None:
            commands += [c for c in prepared.samples.commands if c.startswith("oc patch")]
        commands.append("oc get mcp   # wait until every pool shows UPDATED=True")
        return commands
