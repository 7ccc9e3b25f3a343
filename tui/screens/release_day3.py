"""The Release step's day-3 offers for an update path: updates inside the cluster, and pruning.

* **Updates inside the cluster**: an OpenShift Update Service in the disconnected cluster gives it update
  recommendations. Ticked, the plan names the graph-data image (``release.graph_image``, oc-mirror's
  ``HOST/openshift/graph-image:latest``) and where its graph data comes from (``release.graph_data``);
  the Mirror step's run builds and pushes it (core.graph_image, the one function ``release graph-image``
  uses) and Done shows the UpdateService. The release images can go to their own repository
  (``release.to_release_image``): the update service's graph builder runs out of memory when they share a
  repository with the components.
* **Remove the releases before A**: core.prune plans it against the mirror (nothing deleted), the list is
  shown, and only after an explicit confirm the same core function as ``release prune --apply`` deletes.

The release screen yields :class:`UpdatePathExtras` in update mode; everything else lives here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Checkbox, Input, Static

from core.errors import MirrorError
from core.graph_image import GRAPH_DATA_URL, GRAPH_LAYOUT_NAME, default_graph_image, releases_repository
from core.plan import ReleaseMode
from core.prune import ApplyResult, PrunePlan, apply_prune, plan_prune_before, summary_lines
from core.reference import parse_repository
from core.text import human_bytes, plural
from tui.access import wizard_session
from tui.screens.apply import ApplyScreen
from tui.state import error_text
from tui.widgets.field import Field
from tui.widgets.note import Note

if TYPE_CHECKING:
    from tui.screens.base import StepScreen
    from tui.state import WizardState

OSUS_WHY = "An OpenShift Update Service inside the disconnected cluster gives it update recommendations"
# What happens to its graph-data image, said per mode (core.graph_image: built into the registry, built into
# the medium's layout, uploaded from the medium by the far side's run).
GRAPH_IMAGE_HOW = {
    ReleaseMode.REGISTRY: "the graph-data image is built and pushed with the mirror",
    ReleaseMode.TO_DIR: "the graph-data image is built onto the removable media with the copy; the far side "
                        "uploads it",
    ReleaseMode.FROM_DIR: "the graph-data image is uploaded from the removable media with the release (built on "
                          "the connected side)",
}


def graph_image_note(mode: ReleaseMode, graph_image: str) -> str:
    """Where the graph-data image goes in this mode, under its own name."""
    if mode == ReleaseMode.TO_DIR:
        return (f"written onto the medium as {GRAPH_LAYOUT_NAME}; the far side's upload pushes it as "
                f"{graph_image}, and its Done shows the UpdateService")
    if mode == ReleaseMode.FROM_DIR:
        return f"uploaded from the medium ({GRAPH_LAYOUT_NAME}) as {graph_image}; Done shows its UpdateService"
    return f"pushed as {graph_image}; Done shows its UpdateService"
OWN_REPO_WHY = ("The update service's graph builder runs out of memory when release images share a repository "
                "with the components")
PRUNE_WHY = "Nothing is deleted until you confirm the list"
# To removable media this machine never reaches the mirror registry: pruning is the far side's job.
PRUNE_FAR_SIDE = ("Removing old releases from the mirror is done on the far side, where the registry is "
                  "(its Release step offers it)")


def release_images_repository(target: str) -> str:
    """Where the release images go on their own: ``release-images`` beside the target (oc-mirror keeps them
    in ``openshift/release-images``), tagged VERSION-ARCH there (core.release_tag)."""
    repo = parse_repository(target)
    parent = repo.repository.rpartition("/")[0]
    return f"{repo.registry}/{parent + '/' if parent else ''}release-images"


class UpdatePathExtras(Vertical):
    """The two offers, shown by the Release step in update mode."""

    DEFAULT_CSS = """
    UpdatePathExtras { height: auto; }
    UpdatePathExtras #osus-details { height: auto; }
    UpdatePathExtras Checkbox { width: auto; }
    UpdatePathExtras #prune-list { height: auto; }
    """

    class Planned(Message):
        """core.prune answered: what pruning each repository would delete (``error``: why it could not plan)."""

        def __init__(self, plans: list[PrunePlan], error: str = "") -> None:
            super().__init__()
            self.plans, self.error = plans, error

    class Pruned(Message):
        """The confirmed prune ran: what was deleted and how the registry reclaims the space (``error``: where
        it stopped)."""

        def __init__(self, results: list[ApplyResult], error: str = "") -> None:
            super().__init__()
            self.results, self.error = results, error

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.prune_plans: list[PrunePlan] = []
        self._prune_first = ""
        self.pruned_where: list[str] = []
        self._shown_for: tuple[str | None, str] | None = None
        self._mode_shown: ReleaseMode | None = None

    @property
    def step(self) -> StepScreen:
        return cast("StepScreen", self.screen)

    @property
    def state(self) -> WizardState:
        return self.step.state

    def compose(self) -> ComposeResult:
        yield Static("Keeping the mirror healthy (day 3)", classes="section")
        yield Checkbox("Updates inside the cluster", id="osus", compact=True)
        yield Static(OSUS_WHY, classes="hint", id="osus-why")
        with Vertical(id="osus-details"):
            yield Static("Graph data: the update service's tarball (offline hosts), or empty to download it",
                         classes="field-label")
            yield Field(id="graph-data", placeholder=f"graph-data.tar.gz (empty: {GRAPH_DATA_URL})", compact=True)
            yield Note(id="graph-data-error", classes="inline-error")
            yield Note(id="graph-image-note", classes="hint")
            yield Checkbox("Release images in their own repository", id="own-repo", compact=True)
            yield Static(OWN_REPO_WHY, classes="hint")
        with Horizontal(classes="row"):
            yield Button("Remove the releases before A…", id="prune-plan", compact=True)
            yield Button("Delete these", id="prune-apply", variant="warning", compact=True)
        yield Static(PRUNE_WHY, classes="hint", id="prune-why")
        yield Note(id="prune-list")

    def on_mount(self) -> None:
        release = self.state.release
        with self.prevent(Checkbox.Changed, Input.Changed):
            self.query_one("#osus", Checkbox).value = bool(release.graph_image)
            self.query_one("#graph-data", Input).value = release.graph_data or ""
            self.query_one("#own-repo", Checkbox).value = bool(release.to_release_image)
        self.query_one("#prune-apply", Button).display = False
        self.show()
        # The Release step changes the from version and the mirror without telling this box: follow them,
        # so the button never names a stale A and a list made for another A is never offered for deletion.
        self.set_interval(0.5, self.follow_plan)

    def follow_plan(self) -> None:
        key = (self.state.release.from_version, self.state.release_target())
        mode = self.state.release.mode
        if key == self._shown_for and mode == self._mode_shown:
            return
        if key != self._shown_for and self._shown_for is not None:
            self.prune_plans = []
            self.query_one("#prune-apply", Button).display = False
            self.query_one("#prune-list", Note).update("")
        self._shown_for = key
        self.show()

    def show(self) -> None:
        """The details follow the choice; the prune button names the from version it keeps."""
        release = self.state.release
        self.query_one("#osus-details").display = bool(release.graph_image)
        self._mode_shown = release.mode
        self.query_one("#osus-why", Static).update(f"{OSUS_WHY} ({GRAPH_IMAGE_HOW[release.mode]})")
        note = graph_image_note(release.mode, release.graph_image) if release.graph_image else ""
        self.query_one("#graph-image-note", Note).update(note)
        first = release.from_version
        button = self.query_one("#prune-plan", Button)
        button.label = f"Remove the releases before {first}…" if first else "Remove the releases before A…"
        button.refresh(layout=True)  # the label's width changed
        here = release.mode != ReleaseMode.TO_DIR
        button.display = here
        if not here:
            self.prune_plans = []
            self.query_one("#prune-apply", Button).display = False
            self.query_one("#prune-list", Note).update("")
        self.query_one("#prune-why", Static).update(PRUNE_WHY if here else PRUNE_FAR_SIDE)

    # -- updates inside the cluster ----------------------------------------------------------------------

    @on(Checkbox.Changed, "#osus")
    def osus_changed(self, event: Checkbox.Changed) -> None:
        release = self.state.release
        host = self.state.mirror_host
        if event.value and host:
            release.graph_image = default_graph_image(host)
            release.graph_data = self.query_one("#graph-data", Input).value.strip() or release.graph_data
            # Ticked with it by default: on a shared repository the update service runs out of memory (the
            # admin may untick it).
            own = self.query_one("#own-repo", Checkbox)
            if not own.value:
                own.value = True  # own_repo_changed sets release.to_release_image
        else:
            release.graph_image = None
            release.to_release_image = None
            with self.prevent(Checkbox.Changed):
                self.query_one("#own-repo", Checkbox).value = False
        if event.value and not host:
            self.step.set_status("name the mirror registry first (Credentials step)", "error")
            with self.prevent(Checkbox.Changed):
                event.checkbox.value = False
        self.show()
        self.step.refresh_help()

    @on(Input.Changed, "#graph-data")
    def graph_data_changed(self, event: Input.Changed) -> None:
        value = event.value.strip()
        self.state.release.graph_data = value or None
        # Said as it is typed: the run reads it before the first blob moves, and stops there without it.
        missing = bool(value) and not value.startswith(("https://", "http://")) and not Path(value).expanduser().is_file()
        self.query_one("#graph-data-error", Note).update(
            f"✗ no file {value}: give the graph-data tarball (or empty to download it)" if missing else "")

    @on(Checkbox.Changed, "#own-repo")
    def own_repo_changed(self, event: Checkbox.Changed) -> None:
        release = self.state.release
        target = release.target or self.state.release_target()
        release.to_release_image = release_images_repository(target) if event.value and target else None
        self.step.refresh_help()

    # -- pruning -------------------------------------------------------------------------------------------

    def prune_targets(self) -> list[str]:
        """The repositories the path's releases live in: the target, and the release images' own one."""
        release = self.state.release
        targets = [self.state.release_target()]
        if release.to_release_image:
            targets.append(releases_repository(self.state.plan))
        return list(dict.fromkeys(t for t in targets if t))

    @on(Button.Pressed, "#prune-plan")
    def prune_pressed(self) -> None:
        release = self.state.release
        if release.mode == ReleaseMode.TO_DIR:  # (hidden then; a stray key press never reaches the far registry)
            return
        if not release.from_version:
            self.step.set_status("choose the from version first: the releases before it are removed", "error")
            return
        self.show()
        self.query_one("#prune-apply", Button).display = False
        self.prune_plans = []
        targets = self.prune_targets()
        self.query_one("#prune-list", Note).update(f"reading {', '.join(targets)} … (nothing is deleted)")
        # Said on the status line too: the list is below the fold at 80x24, and a press must always answer.
        self.step.set_status(f"reading {', '.join(targets)} for releases older than {release.from_version} …")
        self._prune_first = release.from_version
        self.plan_prune(targets, release.from_version)

    @work(exclusive=True, group="prune", exit_on_error=False)
    async def plan_prune(self, targets: list[str], first: str) -> None:
        plans: list[PrunePlan] = []
        try:
            async with wizard_session(self.state) as session:
                for target in targets:
                    plans.append(await plan_prune_before(session, target, first))
        except MirrorError as exc:
            self.post_message(self.Planned([], error_text(exc)))
            return
        self.post_message(self.Planned(plans))

    @on(Planned)
    def _planned(self, event: Planned) -> None:
        listing = self.query_one("#prune-list", Note)
        # Every answer is one status line (the list may be below the fold), and the list is scrolled to.
        if event.error:
            listing.update(f"! {event.error}")
            self.step.set_status(f"nothing to remove: {event.error}", "warn")
            self.call_after_refresh(listing.scroll_visible, animate=False)  # once its new lines are laid out
            return
        self.prune_plans = event.plans
        lines = [line for plan in event.plans for line in summary_lines(plan)]
        count = sum(len(plan.delete) for plan in event.plans)
        where = ", ".join(plan.where for plan in event.plans)
        if not count:
            listing.update("\n".join([*lines, "nothing to delete: the mirror holds only what the path needs"]))
            self.step.set_status(f"nothing older than {self._prune_first} in {where}: nothing to delete", "ok")
            self.call_after_refresh(listing.scroll_visible, animate=False)  # once its new lines are laid out
            return
        listing.update("\n".join([*lines, "nothing deleted yet: Delete shows the list again and asks"]))
        releases = ", ".join(dict.fromkeys(r for plan in event.plans for r in plan.delete_releases))
        self.step.set_status(f"older than {self._prune_first}: {releases or 'no release'} "
                             f"({plural(count, 'manifest')}), nothing deleted yet", "warn")
        button = self.query_one("#prune-apply", Button)
        button.label = f"Delete {count} manifests…"
        button.display = True
        self.call_after_refresh(self._show_list)

    def _show_list(self) -> None:
        """The button the list belongs to, focused, and the list below it scrolled into view."""
        self.query_one("#prune-apply", Button).focus(scroll_visible=False)
        self.query_one("#prune-list", Note).scroll_visible(animate=False)

    @on(Button.Pressed, "#prune-apply")
    def prune_apply_pressed(self) -> None:
        plans = [plan for plan in self.prune_plans if plan.delete]
        if not plans:
            return
        count = sum(len(plan.delete) for plan in plans)
        releases = ", ".join(dict.fromkeys(r for plan in plans for r in plan.delete_releases)) or "none"
        where = ", ".join(plan.where for plan in plans)
        body = "\n".join([*(line for plan in plans for line in summary_lines(plan)), "",
                          f"Deleted by digest: {count} manifests and their tags (releases {releases}).",
                          "Each is checked against the mirror again first: one that changed since is kept."])

        def answer(yes: bool | None) -> None:
            if yes:
                self.query_one("#prune-apply", Button).display = False
                self.query_one("#prune-list", Note).update(f"deleting from {where} …")
                self.pruned_where = [plan.where for plan in plans]
                self.apply_prune(plans)
                self.query_one("#prune-plan", Button).focus()
            else:
                self.step.set_status("nothing deleted", "info")
                self.query_one("#prune-apply", Button).focus()  # where the admin was

        self.app.push_screen(ApplyScreen(f"Delete {count} manifests from {where}?", body,
                                         yes="Delete", no="Keep them"), answer)

    @work(exclusive=True, group="prune", exit_on_error=False)
    async def apply_prune(self, plans: list[PrunePlan]) -> None:
        results: list[ApplyResult] = []
        try:
            async with wizard_session(self.state) as session:
                for plan in plans:
                    results.append(await apply_prune(session, plan))
        except MirrorError as exc:
            self.post_message(self.Pruned(results, error_text(exc)))
            return
        self.post_message(self.Pruned(results))

    @on(Pruned)
    def _pruned(self, event: Pruned) -> None:
        listing = self.query_one("#prune-list", Note)
        self.prune_plans = []
        deleted = sum(len(r.deleted) for r in event.results)
        lines = []
        for where, result in zip(self.pruned_where, event.results, strict=False):
            lines.append(f"✓ {where}: deleted {plural(len(result.deleted), 'manifest')}"
                         + (f" ({len(result.gone)} were already gone)" if result.gone else "")
                         + (f"; {len(result.changed)} kept: the mirror changed since the list" if result.changed else ""))
        freed = sum(r.free_bytes for r in event.results)
        reclaim = next((r.reclaim for r in event.results if r.reclaim), "at the registry's next garbage collection")
        if event.results:
            lines.append(f"up to {human_bytes(freed)} can now be freed: {reclaim}")
        if event.error:
            lines.append(f"! not pruned: {event.error}")
            self.step.set_status("pruning stopped — see below", "error")
        else:
            self.step.set_status(f"pruned: {deleted} manifests deleted", "ok")
        if deleted:
            self.state.mark_mirror_changed()  # the last run's "all in the mirror" is no longer true
        listing.update("\n".join(lines))
