"""Every job has one home (issue 23): the copies that drifted apart now call one implementation.

Each test here failed before its fix: the samples mapping file the wizard names vs the one the run
writes, the auth file a plan's run and the wizard log in with, the mirror-set matcher, and the release
image's tag for an untagged ``to_release_image``.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.plan import plan_from_dict
from core.run import Prepared, write_outputs
from core.samples import SampleStream, SampleTag, plan_samples
from tui.state import WizardState

MIRROR = "mirror.example.com:8443"


def _streams() -> list[SampleStream]:
    return [SampleStream("ruby", [SampleTag("3.3", "registry.redhat.io/ubi9/ruby-33:latest")], "ruby.json")]


# -- the samples mapping file ---------------------------------------------------------------------------

def _mapping_files(commands: list[str]) -> set[str]:
    """The files named after ``-f`` or ``--mapping-out`` in these commands."""
    names: set[str] = set()
    for command in commands:
        words = command.replace("\\\n", " ").split()
        for flag, value in zip(words, words[1:], strict=False):
            if flag in ("-f", "--mapping-out"):
                names.add(value)
    return names


def test_the_samples_mapping_the_commands_name_is_the_file_the_run_writes(tmp_path: Path) -> None:
    plan = plan_from_dict({"mirror": {"registry": MIRROR}, "samples": {"paths": ["ruby.json"]},
                           "output_dir": str(tmp_path)})
    samples = plan_samples(_streams(), MIRROR)
    written = {p.name for p in write_outputs(Prepared(plan=plan, samples=samples))}
    named = _mapping_files(samples.commands)
    assert named and named <= written, (named, written)


def test_the_samples_step_names_the_mapping_file_the_run_writes(tmp_path: Path) -> None:
    from tui.screens.samples import SamplesScreen

    plan = plan_from_dict({"mirror": {"registry": MIRROR}, "samples": {"paths": ["ruby.json"]},
                           "output_dir": str(tmp_path)})
    state = WizardState(plan=plan, plan_path=tmp_path / "plan.yaml")
    state.streams = _streams()
    samples = state.samples_plan()
    assert samples is not None
    written = {p.name for p in write_outputs(Prepared(plan=plan, samples=samples))}
    # The step's help, read without mounting it: it only needs the state.
    screen = SimpleNamespace(state=state, release_spec=lambda: "quay.io/x/release:1")
    commands = SamplesScreen.help_commands(screen)  # type: ignore[arg-type]
    named = _mapping_files(commands)
    assert named and named <= written, (named, written)


# -- one auth-file resolution ---------------------------------------------------------------------------

def test_a_plan_without_an_auth_file_logs_in_the_same_way_in_the_run_and_the_wizard(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.access import open_session
    from core.authfile import encode_auth
    from tui.access import wizard_auth, wizard_session

    found = tmp_path / "auth.json"
    found.write_text(json.dumps({"auths": {"quay.io": {"auth": encode_auth("admin", "secret")}}}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(found))  # the first default location podman and oc read
    plan = plan_from_dict({"mirror": {"registry": MIRROR}})
    assert plan.auth_file is None
    state = WizardState(plan=plan, plan_path=tmp_path / "plan.yaml")
    headless = open_session(plan).auth   # what `mirror-wizard run plan.yaml` logs in with
    wizard = wizard_auth(state)          # what the wizard logs in with, no login typed
    assert headless.registries() == wizard.registries() == ["quay.io"]
    assert wizard_session(state).auth.lookup("quay.io") == headless.lookup("quay.io")
