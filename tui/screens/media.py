"""The ending of a removable-media (to-dir) run: nothing reached the mirror registry yet.

What the Done step says instead of "N images in the mirror": where the images are, what to carry to
the disconnected side, and the exact next step there — the wizard opened on a from-dir plan, or the
headless command. The cluster is configured only after that upload (Apply waits for it).
"""

from __future__ import annotations

import copy
from pathlib import Path

from core.errors import MirrorError
from core.plan import Plan, ReleaseMode, save_plan, validate_plan
from core.text import shell_quote
from tui.access import wizard_auth
from tui.state import WizardState


def far_side_plan_path(state: WizardState, folder: str | Path) -> Path:
    return Path(folder).expanduser() / f"{state.save_path().stem}-from-dir.yaml"


def far_side_plan(state: WizardState) -> Plan:
    """The same plan for the other side: read the medium (from-dir) and upload to the mirror registry."""
    plan = copy.deepcopy(state.plan_for_saving())
    if plan.release is not None:
        plan.release.mode = ReleaseMode.FROM_DIR
        plan.release.target = plan.release.target or state.release_target()
    return plan


def write_far_side_plan(state: WizardState, folder: str | Path) -> Path:
    plan = far_side_plan(state)
    validate_plan(plan)
    return save_plan(plan, far_side_plan_path(state, folder))


def has_mirror_login(state: WizardState) -> bool:
    """Whether the pull secret the far side gets holds a login for the mirror registry. After "Go on
    without a login" it does not, and the upload there would stop with "requires a login": the ending
    must say so rather than promise a login that is not in the file."""
    try:
        return bool(state.mirror_host) and wizard_auth(state).lookup(state.mirror_host) is not None
    except MirrorError:  # unreadable now: claim nothing
        return False


def secret_text(state: WizardState) -> str:
    host = state.mirror_host or "the mirror"
    if has_mirror_login(state):
        return f"the pull secret, with the login for {host} (keep it private)"
    return f"the pull secret: no login for {host} in it yet (keep it private)"


def to_carry(state: WizardState, folder: str | Path) -> list[tuple[str, str]]:
    """(what, path) for everything the far side needs; the paths are this machine's."""
    release = state.release
    items = [("the removable media folder (release and image stream images)", str(release.directory or "?")),
             ("the plan for the far side", str(far_side_plan_path(state, folder)))]
    if state.plan.auth_file:
        items.append((secret_text(state), state.plan.auth_file))
    if state.plan.mirror.ca_file:
        items.append(("the mirror's CA certificate", state.plan.mirror.ca_file))
    if state.samples.path and state.samples.source != "cluster":
        items.append(("the image stream files", ", ".join(state.samples.paths)))
    return items


def login_lines(state: WizardState) -> list[str]:
    """What the far side does about a pull secret without the mirror's login (nothing when it has one)."""
    if has_mirror_login(state):
        return []
    host = state.mirror_host or "<mirror>"
    secret = shell_quote(state.plan.auth_file or "pull-secret.json")
    return [
        f"   The pull secret has no login for {host}: the wizard there asks for it on the Credentials",
        "   step; before `run`, add it:",
        f"     mirror-wizard credentials add --pull-secret {secret} --registry {host} -u <user> \\",
        f"         -o {secret}",
        "",
    ]


def media_ending(state: WizardState, folder: str | Path, images: int | None) -> str:
    """The text of the Done step's "Removable media" tab."""
    plan_file = far_side_plan_path(state, folder)
    directory = state.release.directory or "?"
    count = f" ({images} images)" if images is not None else ""
    lines = [
        f"The images are on the removable media, in {directory}{count}.",
        (f"Nothing is in the mirror registry {state.mirror_host or '(not set)'} yet, so the cluster cannot "
         "be configured from here: Apply is offered once the registry holds the images."),
        "",
        "1. Write files (Ctrl+O) — it writes the plan for the far side next to the cluster documents.",
        "",
        "2. Carry to the disconnected side:",
    ]
    lines += [f"   • {what}: {path}" for what, path in to_carry(state, folder)]
    lines += [
        "",
        "3. On a machine there that reaches the mirror registry, open the wizard on that plan (the Release",
        "   step shows it in from-dir mode: read from the media, push to the mirror):",
        f"     mirror-wizard --plan {shell_quote(str(plan_file))}",
        "   or run it without the wizard:",
        f"     mirror-wizard run {shell_quote(str(plan_file))}",
        "",
        *login_lines(state),
        "   If the media is mounted at another path there, change the folder in the Release step (or",
        "   release.directory in the plan); the same goes for the pull secret and CA paths.",
        "",
        "4. Then, from that wizard's Done step, write or apply the mirror set, the CA and the samples",
        "   operator's settings for the cluster.",
    ]
    return "\n".join(lines)
