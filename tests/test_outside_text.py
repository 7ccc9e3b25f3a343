"""Text from outside is shown, not obeyed (issue 25): escape sequences and control characters from oc,
cluster objects, registries and files reach neither the terminal nor the wizard raw."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.errors import MirrorError, ToolError
from core.oc import Oc
from core.runbook import crio_pull_command
from core.text import shown
from core.verify import Check, Side, Status
from tui.cli import main

TITLE = "\x1b]0;owned\x07"       # sets the terminal's title
CLEAR = "\x1b[2J"                # clears the screen
CSI_C1 = "\x9b2J"                # the one-byte CSI some terminals obey
BIDI = "\u202e"                  # right-to-left override: text that reads otherwise than it is


def _raw(text: str) -> bool:
    return any(c in text for c in ("\x1b", "\x07", "\x9b", "\u202e"))


def test_shown_escapes_what_a_terminal_obeys_and_keeps_the_rest() -> None:
    assert shown(f"alice{TITLE}") == "alice\\x1b]0;owned\\x07"
    assert shown(f"a{CSI_C1}{BIDI}b") == "a\\x9b2J\\u202eb"
    assert shown("Größe: 4 GiB → ok\n\tnext") == "Größe: 4 GiB → ok\n\tnext"
    assert shown("one\ntwo\r", one_line=True) == "one\\x0atwo\\x0d"


def _oc(folder: Path, script: str) -> Oc:
    path = folder / "oc"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return Oc(str(path), timeout=30)


def test_oc_answers_and_complaints_are_escaped(tmp_path: Path) -> None:
    oc = _oc(tmp_path, f"printf 'alice{TITLE}\\n'\n".replace("\x1b", "\\033").replace("\x07", "\\007"))
    user, server = asyncio.run(oc.whoami())
    assert user == "alice\\x1b]0;owned\\x07" and not _raw(server)
    oc = _oc(tmp_path, "printf 'error: node \\033[2J gone\\n' >&2\nexit 1\n")
    with pytest.raises(ToolError) as caught:
        asyncio.run(oc.get("nodes"))
    assert not _raw(str(caught.value)) and "\\x1b[2J" in str(caught.value)


def test_cluster_text_in_checks_errors_and_suggested_commands_is_escaped() -> None:
    command = crio_pull_command(f"worker-0{CLEAR}", "mirror.example.com:8443")
    assert not _raw(command) and "worker-0\\x1b[2J" in command
    check = Check("x", "x", Side.CLUSTER, Status.FAIL, f"node {CLEAR}", fix=f"oc get {TITLE}", items=[f"a{BIDI}\nb"])
    assert not _raw(check.line()) and not any(_raw(i) or "\n" in i for i in check.items)
    error = MirrorError(f"registry said {CLEAR}", hint=f"{TITLE}")
    assert not _raw(str(error)) and "\\x1b[2J" in str(error)


def test_the_cli_prints_a_hostile_file_name_escaped(tmp_path: Path, capsys) -> None:
    code = main(["run", str(tmp_path / f"plan{TITLE}.yaml")])
    err = capsys.readouterr().err
    assert code == 2 and "does not exist" in err and not _raw(err), err
