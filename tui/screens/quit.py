"""Quitting is never one stray key away: what would be lost, asked about before the wizard closes.

The wizard asks before it quits when a copy is running, when the plan differs from the file it was
loaded from or saved to, or when a finished mirror's cluster documents were neither written nor applied.
Nothing here imports the App: it reads the state and a few facts the App passes in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import MirrorError
from core.plan import load_plan
from core.text import plural
from tui.state import WizardState


@dataclass
class QuitFacts:
    """What the App knows beyond the state: is a copy running, what plan was there at the start,
    did Apply succeed."""

    mirror_running: bool = False
    initial_key: str = ""
    applied: bool = False
    notes: list[str] = field(default_factory=list)


def saved_plan_key(path: Path) -> str | None:
    """The plan file on disk in the form plan_key() compares, or None when there is none to read."""
    try:
        if not path.is_file():
            return None
        data = load_plan(path).to_dict()
    except (MirrorError, OSError, ValueError):
        return None
    data.pop("output_dir", None)
    return json.dumps(data, sort_keys=True, default=str)


def plan_unsaved(state: WizardState, initial_key: str) -> bool:
    """The plan as edited differs from the file it would be saved to (and from where the wizard began:
    an admin who typed nothing has nothing to lose)."""
    key = state.plan_key()
    if key == initial_key and state.plan_path is None:
        return False
    return saved_plan_key(state.save_path()) != key


def quit_reasons(state: WizardState, facts: QuitFacts) -> list[str]:
    """Each thing quitting now would lose or leave half done, in the admin's words ([] = quit at once)."""
    reasons: list[str] = []
    if facts.mirror_running:
        images = state.progress.images_left
        left = f" ({plural(images, 'image')} still to copy)" if images else ""
        reasons.append(f"A mirror is running{left}. It stops; everything copied so far is kept and "
                       "running the plan again copies only what is missing.")
    if plan_unsaved(state, facts.initial_key):
        reasons.append(f"The plan has changes that are not saved in {state.save_path()} (Ctrl+S saves it).")
    progress = state.progress
    if progress.finished and not facts.mirror_running and not state.written and not facts.applied:
        if state.release.mode == "to-dir":
            # The run wrote the whole bundle (its plan.yaml, cluster/ and README.txt among it, core.bundle_write):
            # nothing is left to write here; the cluster is configured on the far side, from the medium.
            pass
        else:
            # "in this session": a reopened plan's output folder may hold an earlier session's files.
            reasons.append("The mirror is complete, but the cluster is not configured: nothing was written or "
                           "applied for it in this session (Done step: Write files or Apply with oc).")
    return reasons
