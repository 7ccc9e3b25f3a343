"""Step 6, Review: the whole plan on one page, the YAML it will produce, and where to save it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Button, Input, Static

from core.ca import ca_manifests
from core.errors import MirrorError
from core.mirror_config import MirrorInstructions, release_mirror_instructions
from core.plan import ReleaseMode, SamplesSource
from core.reference import parse_reference
from core.text import human_bytes
from core.text import shell_quote as q
from core.usecases.samples import load_local_streams
from core.yamlout import dump_yaml
from tui.screens.base import StepScreen
from tui.screens.done import oc_login_note
from tui.screens.mirror import last_run_fix
from tui.screens.release_day3 import graph_image_note
from tui.state import error_text
from tui.widgets.facts import Facts
from tui.widgets.field import Field
from tui.widgets.readable import ReadableText


class ReviewScreen(StepScreen):
    STEP = "review"
    NEXT_LABEL = "Start mirror ▶"

    def compose_body(self) -> ComposeResult:
        yield Static("Review", classes="step-title")
        yield Static("Everything the mirror will do, before it does it. Save the plan to repeat the run "
                     "later without the wizard.", classes="lead")
        yield Facts(id="summary", key_width=17)
        # Said before the copy: the cluster steps after it are not the mirror's login but the cluster's.
        yield Static("After the mirror, Done's " + oc_login_note(self.state.release.mode), classes="hint",
                     id="oc-note")
        yield Static("Plan file", classes="field-label")
        with Horizontal(classes="row"):
            yield Field(id="plan-path", placeholder="mirror-plan.yaml", compact=True)
            yield Button("Save plan", id="save", compact=True)
        yield Static("The plan as saved", classes="section")
        yield ReadableText(id="plan-yaml", classes="yaml")  # Tab reaches both previews at 80x24
        yield Static("What the cluster will get", classes="section")
        yield ReadableText(id="outputs-yaml", classes="yaml")

    def prefill(self) -> None:
        self.query_one("#plan-path", Input).value = str(self.state.save_path())

    def mirror_tick(self) -> None:
        super().mirror_tick()
        # The Mirror line follows a running copy, and shows its end once.
        phase = (self.wizard.mirror_running, self.state.progress.finished, self.state.mirror_out_of_date(),
                 self.state.mirror_stale)
        if self.wizard.mirror_running or phase != getattr(self, "_phase", phase):
            self.show()
        self._phase = phase

    def step_shown(self) -> None:
        samples = self.state.samples
        # files or the config map (the cluster and a release are read on the Image streams step)
        from_files = samples.path and samples.source in (SamplesSource.FILES, SamplesSource.CONFIGMAP)
        if not self.state.streams and from_files and not self.state.streams_error:
            self.load_streams()
        self._said = ""
        self.query_one("#oc-note", Static).update("After the mirror, Done's " + oc_login_note(self.state.release.mode))
        self.show()

    @work(exclusive=True, group="review-streams", exit_on_error=False)
    async def load_streams(self) -> None:
        """The Image streams step was skipped over: read the streams the plan names, for the summary (the
        files in a thread; the state is set here, on the app's loop)."""
        try:
            self.state.streams = await asyncio.to_thread(load_local_streams, self.state.samples)
        except (MirrorError, OSError) as exc:
            self.state.streams_error = error_text(exc)
        self.show()

    def show(self) -> None:
        self.query_one("#summary", Facts).set_rows(self.summary())
        self.query_one("#next", Button).label = self.next_label()
        self.say_next()
        self.query_one("#plan-yaml", Static).update(Content(dump_yaml(self.state.plan_for_saving().to_dict()).rstrip()))
        self.query_one("#outputs-yaml", Static).update(self.outputs_preview())

    def say_next(self) -> None:
        """The status line says what Enter does, while it holds: the hint only while the button starts a
        copy (never beside a running or a complete one), the fix when Resume cannot help."""
        fix = last_run_fix(self.state, self.wizard.mirror_error_code)
        if fix:
            text = f"the mirror has not completed: {fix}"
        elif self.next_label() != "Mirror ▶":
            # A copy is a big action: only an explicit press starts it. Ctrl+N (Next everywhere, pressed a
            # few times too often) opens the Mirror step with Start focused, one Enter from the copy.
            text = "Enter here starts the copy; Ctrl+N only opens the Mirror step"
        else:
            text = ""
        said = getattr(self, "_said", "")
        if text != said:
            if text or str(self.query_one("#status", Static).render()) == said:  # keep what else was said
                self.set_status(text, "error" if fix else "info")
            self._said = text

    def next_label(self) -> str:
        """What the button will really do: go to a running or complete copy (never start a second
        one), resume a stopped one, or start the first."""
        progress = self.state.progress
        if self.wizard.mirror_running or self.state.mirror_complete():
            return "Mirror ▶"
        if last_run_fix(self.state, self.wizard.mirror_error_code):
            return "Mirror ▶"  # the same copy would fail the same way: say the fix (say_next), start nothing
        if progress.started_at is not None and not self.state.mirror_out_of_date():
            return "Resume mirror ▶"
        return self.NEXT_LABEL

    def outputs_preview(self) -> Content:
        """The documents the Done step will write, as far as they can be known before the copy."""
        state = self.state
        parts: list[str] = []
        info = state.release_info
        if info is not None and state.release.mode != ReleaseMode.TO_DIR:
            try:
                instructions = release_mirror_instructions(info, state.release_target(),
                                                           state.release.to_release_image)
                # An update path: one set of instructions covering every release of it (as the run writes).
                sources = [s for one in state.current_path()[:-1]
                           for s in release_mirror_instructions(one, state.release_target(), None).sources]
                if sources:
                    instructions = MirrorInstructions(sources + instructions.sources, name=instructions.name,
                                                      release_image=instructions.release_image,
                                                      version=instructions.version)
                parts.append("# install-config.yaml\n" + instructions.install_config_yaml().rstrip())
                parts.append(f"# running cluster ({instructions.cluster_kind})\n"
                             + dump_yaml(instructions.cluster_set()).rstrip())
            except Exception as exc:  # preview only: the Mirror step reports real errors
                parts.append(f"# mirror instructions unavailable: {error_text(exc)}")
        elif state.release.source:
            parts.append("# mirror instructions: shown once the Release step has read the payload")
        try:
            samples = state.samples_plan()
        except Exception as exc:
            parts.append(f"# samples: {error_text(exc)}")
        else:
            if samples is not None:
                parts.append("# samples operator\n" + samples.config_yaml().rstrip())
        if state.plan.mirror.ca_file and state.ca_certs and state.mirror_host:
            try:
                parts.append("# CA\n" + ca_manifests(state.mirror_host,
                                                      Path(state.plan.mirror.ca_file).expanduser().read_text()).yaml().rstrip())
            except Exception as exc:
                parts.append(f"# CA: {error_text(exc)}")
        return Content("\n---\n".join(parts) if parts else "nothing yet")

    def summary(self) -> list[tuple[str, str | Content]]:
        state = self.state
        plan = state.plan
        release = state.release
        lines: list[tuple[str, str | Content]] = [
            ("Mirror registry", plan.mirror.registry or "— not set (Credentials step)"),
            # The far side's file is the mirror's login (the images come from the medium), not a pull secret.
            ("Mirror login" if plan.release is not None and plan.release.mode == ReleaseMode.FROM_DIR
             else "Pull secret", plan.auth_file or "— not set (Credentials step)"),
        ]
        info = state.release_info
        if release.is_path:
            # An update path: every release of it is mirrored (in one copy), each listed.
            path = state.current_path()
            versions = [i.version for i in path] or [release.from_version or "", "…", release.version or ""]
            lines.append(("Releases", f"update {release.from_version} → {release.version} ({release.channel}, "
                                      + ("every version on some path" if release.all_versions else "shortest path")
                                      + f"): {', '.join(versions)}"))
            lines.append(("  to", state.release_target() if release.mode != ReleaseMode.TO_DIR else str(release.directory)))
            sizes = state.path_sizes if path else None
            if (sizes is not None and sizes.present_bytes is not None and state.mirror_note() is None
                    and release.mode != ReleaseMode.TO_DIR):
                # As for one release: what the mirror holds already is not moved again.
                lines.append(("  bytes", f"{human_bytes(sizes.missing_bytes)} to move of "
                                         f"{human_bytes(sizes.unique_bytes)} in one copy, "
                                         f"{human_bytes(sizes.saved_bytes)} saved by sharing"))
            elif sizes is not None:
                lines.append(("  bytes", f"{human_bytes(sizes.unique_bytes)} in one copy, "
                                         f"{human_bytes(sizes.saved_bytes)} saved by sharing"))
        elif release.source or release.mode == ReleaseMode.FROM_DIR:
            what = f"{state.release_version()} {release.architecture}"
            if info is not None:
                what += f", {len(info.components)} components"
            lines.append(("Release", what))
            lines.append(("  mode", {ReleaseMode.REGISTRY: "straight to the mirror registry",
                                     ReleaseMode.TO_DIR: "to removable media (the folder below)",
                                     ReleaseMode.FROM_DIR: f"from removable media at {release.directory}"}.get(release.mode,
                                                                                                    release.mode)))
            lines.append(("  to", state.release_target() if release.mode != ReleaseMode.TO_DIR else str(release.directory)))
            size = state.release_size
            if size is not None and state.mirror_note() is None:  # measured before any mirror ran
                present = size.present_bytes
                moved = size.total_bytes - (present or 0)
                lines.append(("  bytes", f"{human_bytes(moved)} to move of {human_bytes(size.total_bytes)}"))
            elif size is not None:
                lines.append(("  bytes", f"{human_bytes(size.total_bytes)} in all"))
        else:
            lines.append(("Release", "— none (Release step)"))
        lines += self.update_service_facts()
        try:
            samples = state.samples_plan()
        except Exception as exc:  # shown, not raised: the admin fixes it in the Image streams step
            samples = None
            lines.append(("Image streams", f"✗ {error_text(exc)}"))
        if samples is not None:
            measured = [state.stream_sizes.get(name) for name in samples.included]
            known = [n for n in measured if n is not None]
            total = f", {human_bytes(sum(known))}" if measured and len(known) == len(measured) else ""
            lines.append(("Image streams", f"{len(samples.included)} mirrored ({samples.images} images{total}), "
                                           f"{len(samples.skipped)} skipped"))
        elif state.streams_error:
            lines.append(("Image streams", f"✗ {state.streams_error}"))
        elif state.samples.path:
            lines.append(("Image streams", f"from {state.samples.path} (reading …)"))
        ca = plan.mirror.ca_file
        check = state.ca_check
        ca_text = ca or "— none: system trust only"
        found = state.system_trust
        if not ca and found is not None and found[0] == state.mirror_host:
            ca_text += ("  ✓ the mirror's certificate verifies with the system trust" if found[1]
                        else f"  ✗ {found[2]}")
        elif not ca and state.mirror_host:
            ca_text += "  (not checked against the mirror: CA step)"
        if ca and state.ca_verified():
            ca_text += "  ✓ verified"
        elif ca:
            why = "; ".join(check.problems) if check is not None and check.problems else "not checked"
            chose = " — you chose to go on" if state.ca_unverified_accepted == ca else ""
            ca_text += f"  ✗ not verified ({why}){chose}; it will not be written or applied"
        lines.append(("CA", ca_text))
        lines.append(("Output folder", plan.output_dir))
        # A failure Resume cannot help names its fix, as the status line does (never "Resume" beside it).
        note = state.mirror_note(last_run_fix(state, self.wizard.mirror_error_code))
        if note is not None:  # first: a copy running or done changes what this page means
            lines.insert(0, ("Mirror", note))
        return lines

    def update_service_facts(self) -> list[tuple[str, str | Content]]:
        """Issue 24's two extras of an update path, when the plan keeps them: the release images' own
        repository and the graph-data image (both chosen on the Release step), each with what it is for."""
        release = self.state.release
        if not release.chosen:
            return []
        lines: list[tuple[str, str | Content]] = []
        if release.to_release_image:
            try:
                repository = parse_reference(release.to_release_image, default_tag=None).name
            except MirrorError:
                repository = release.to_release_image  # the Release step says what is wrong with it
            lines.append(("  release images", f"{repository}, apart from the components: the update "
                                               "service's graph builder reads it (and runs out of memory on "
                                               "a repository shared with them)"))
        if release.graph_image:
            # Said per mode as the Release step says it (one function): pushed, onto the medium, or uploaded.
            lines.append(("Graph-data image", f"{graph_image_note(release.mode, release.graph_image)} — the "
                                              "update service's channels and blocked edges, for update "
                                              "recommendations inside the cluster"))
        return lines

    @on(Input.Changed, "#plan-path")
    def path_changed(self, event: Input.Changed) -> None:
        self.state.plan_path = Path(event.value) if event.value.strip() else None
        self.refresh_help()

    @on(Button.Pressed, "#save")
    def save(self) -> None:
        self.wizard.action_save_plan()

    async def can_leave(self) -> bool:
        problems = []
        if not self.state.plan.mirror.registry:
            problems.append("no mirror registry (Credentials step)")
        release = self.state.release
        samples = self.state.samples
        if not release.chosen and not samples.chosen:
            problems.append("nothing to mirror: choose a release or image streams")
        if problems:
            self.set_status("; ".join(problems), "error")
            return False
        return True

    async def next_pressed(self) -> None:
        # "Start mirror" / "Resume mirror" start the copy on arrival; "Mirror" (running or complete)
        # and Ctrl+N only move on.
        if await self.can_leave() and self.next_label() != "Mirror ▶":
            self.wizard.start_on_arrival = True
        await self.action_next()
        if self.wizard.current_mode == "review":
            self.wizard.start_on_arrival = False

    def help_prose(self) -> str:
        return ("The plan is every choice you made, in one YAML file without any password (those stay in "
                "the auth file and the keyring). Run it again headless with the command below; a rerun copies "
                "only what the mirror is missing.")

    def help_commands(self) -> list[str]:
        path = str(self.state.save_path())
        return [f"mirror-wizard run {q(path)} --dry-run", f"mirror-wizard run {q(path)}"]
