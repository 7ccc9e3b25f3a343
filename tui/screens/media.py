"""The ending of a removable-media (to-dir) run: nothing reached the mirror registry yet.

What the Done step says instead of "N images in the mirror": the medium is a complete bundle, and the far
side's steps are the bundle's own (its README.txt, its plan.yaml): carry the folder, install mirror-wizard
from its wheelhouse/, check the medium, then open the wizard on the bundle's plan or run it. One far-side
plan, the bundle's (issue 26: the wizard used to write a second one, <plan>-from-dir.yaml, that said
something else and, for an update path, uploaded one release). The cluster is configured only after that
upload (Apply waits for it).
"""

from __future__ import annotations

from pathlib import Path

from core.bundle import PLAN_FILE, README_FILE
from core.bundle_write import far_side_of, far_side_steps
from core.errors import MirrorError
from core.text import shell_quote
from tui.access import wizard_auth
from tui.state import WizardState


def bundle_plan_path(state: WizardState) -> Path:
    """The far side's plan: the one the bundle wrote (release from-dir at ".", paths inside the medium)."""
    return Path(state.release.directory or ".") / PLAN_FILE


def has_mirror_login(state: WizardState) -> bool:
    """Whether the pull secret the far side gets holds a login for the mirror registry. After "Go on
    without a login" it does not, and the upload there would stop with "requires a login": the ending
    must say so rather than promise a login that is not in the file."""
    try:
        return bool(state.mirror_host) and wizard_auth(state).lookup(state.mirror_host) is not None
    except MirrorError:  # unreadable now: claim nothing
        return False


def secret_text(state: WizardState) -> str:
    """Why the pull secret travels: the far side's upload needs only the mirror's login (its wizard asks
    for nothing else), but install-config.yaml's ``pullSecret`` is the pull secret with that login in it
    (the procedure: the pull secret "modified to include authentication to your mirror repository")."""
    host = state.mirror_host or "the mirror"
    why = "for install-config.yaml's pullSecret (the upload itself needs only the mirror's login)"
    if has_mirror_login(state):
        return f"the pull secret, with the login for {host}, {why}; keep it private"
    return f"the pull secret: no login for {host} in it yet, which the cluster will need, {why}; keep it private"


def to_carry(state: WizardState) -> list[tuple[str, str]]:
    """(what, path) for everything the far side needs; the paths are this machine's. The medium holds
    the plan, the CA and the image stream files itself; the pull secret travels apart (it is private
    and the bundle never holds it)."""
    items = [("the whole bundle folder (images, plan.yaml, wheelhouse/, bin/, cluster/, README.txt)",
              str(state.release.directory or "?"))]
    if state.plan.auth_file:
        items.append((secret_text(state) + "; apart from the medium", state.plan.auth_file))
    return items


def login_lines(state: WizardState) -> list[str]:
    """What the far side does about a pull secret without the mirror's login (nothing when it has one)."""
    if has_mirror_login(state):
        return []
    host = state.mirror_host or "<mirror>"
    secret = shell_quote(Path(state.plan.auth_file or "pull-secret.json").name)
    return [
        f"   The pull secret has no login for {host}: the wizard there asks for it on the Credentials step; "
        "before `run`, add it:",
        f"     mirror-wizard credentials add --pull-secret {secret} --registry {host} -u <user> -o {secret}",
        "",
    ]


def media_ending(state: WizardState, images: int | None) -> str:
    """The text of the Done step's "Removable media" tab: what to carry, then the far side's steps as the
    bundle's README.txt says them (core.bundle_write.far_side_steps: one text, so the two never disagree).
    One paragraph a line (the tab wraps them to its width), each command a line of its own."""
    directory = state.release.directory or "?"
    count = f" ({images} images)" if images is not None else ""
    host = state.mirror_host or "(not set)"
    lines = [
        f"The images are on the removable media, in {directory}{count}: a complete bundle; its {README_FILE} "
        "says the steps below.",
        # A to-dir run writes the medium only: it never looked at what the registry holds, so it claims nothing
        # about it (it may hold these releases already). The upload on the far side fills it.
        f"This run wrote to the medium only; the mirror registry {host} is filled from it on the far side. "
        "Apply is offered there, from the wizard opened on the bundle's plan, once the upload ran.",
        "",
        "Carry to the disconnected side:",
    ]
    lines += [f"   • {what}: {path}" for what, path in to_carry(state)]
    lines += ["", *login_lines(state)]
    lines += [f"On the mirror host there, with the medium mounted (e.g. /media/usb or /mnt/media; or copied to a "
              f"local disk), in that folder — as its {README_FILE} says:", ""]
    lines += far_side_steps(far_side_of(Path(directory)))  # every step README.txt has, and no other
    return "\n".join(lines).rstrip() + "\n"
