"""F1's commands pasted exactly as the panel shows them (its two-column indent and all, only the "$ " prompt
left out) make the same command as the one Ctrl+Y copies: bash parses the same words from both. The walk at
80x24 found the update graph's URL cut inside, its rest indented: pasted, bash read two arguments. And the
graph query itself, run with bash against a real HTTP server, asks for the channel's graph."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.help_commands import every_command
from tests.support.json_server import json_server
from tests.test_tui_snapshots import workdir  # noqa: F401  (the fixture)
from tests.test_tui_walkfix_release import PLAN_SHAPES
from tui.app import MirrorWizardApp

WIDTHS = (36, 50, 70, 78)
# Every shape of test_every_help_command_of_every_step_passes_bash_n, and an update path read from the update
# service (no graph file): the Release step's curl of the graph, which the walk found cut inside its URL.
SHAPES = [*((kind, mode, "graph.json") for kind, mode in PLAN_SHAPES), ("update", "registry", "")]

# External commands are not found (PATH names an empty folder): bash's hook prints the words each one got
# instead, one "[word]" each, a line a command in one write (a pipeline's run side by side), on fd 3. Builtins
# (echo) run as they are; the variables the script set (OCP_RELEASE=…) are printed after it.
STAND_IN = ('command_not_found_handle() { local line; printf -v line "[%s]" "$@"; printf "%s\\n" "$line" >&3; }\n'
            'exec 3>>"$WORDS"\n'
            'declare -A __seen; for __name in $(compgen -v); do __seen[$__name]=1; done\n')
SET_VARIABLES = ('\nfor __name in $(compgen -v); do\n'
                 '  [[ -n ${__seen[$__name]} || $__name == __* ]] || declare -p "$__name" >&3\ndone\n')


def words_bash_runs(script: str, folder: Path) -> tuple[list[str], str]:
    """(every external command's words, in any order: a pipeline's run side by side; what bash said) when
    bash runs ``script`` in ``folder`` with nothing on PATH."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty").mkdir(exist_ok=True)
    log = folder / "words"
    log.write_text("")
    done = subprocess.run(["/bin/bash", "-c", STAND_IN + script + SET_VARIABLES], cwd=folder, capture_output=True, text=True,
                          env={"PATH": str(folder / "empty"), "WORDS": str(log), "HOME": str(folder)},
                          timeout=30, check=False)
    return sorted(log.read_text().splitlines()), done.stdout + done.stderr


def as_shown(command: str, width: int) -> str:
    """The panel's lines for ``command`` at ``width`` (render_commands, as HelpPanel shows them), without
    the "$ " prompt: what a copy of the screen holds."""
    from tui.widgets.help import render_commands

    lines = render_commands([command], width).plain.splitlines()
    prompt = next(number for number, line in enumerate(lines) if line.startswith("$ "))
    return "\n".join(line.removeprefix("$ ") if number == prompt else line for number, line in enumerate(lines))


@pytest.mark.parametrize("kind, mode, graph_file", SHAPES)
async def test_every_help_command_pasted_as_shown_is_the_command_copied(kind: str, mode: str, graph_file: str,
                                                                       workdir: Path) -> None:  # noqa: F811
    broken: list[str] = []
    checked = 0
    for step, commands in (await every_command(kind, mode, graph_file)).items():
        for number, command in enumerate(commands):
            if command.lstrip().startswith("#"):
                continue
            folder = workdir / "paste" / f"{step}-{number}"
            copied, said = words_bash_runs(command, folder / "copied")
            assert copied, f"{step}: the stand-in saw no command in {command!r}: {said}"
            for width in WIDTHS:
                shown = as_shown(command, width)
                pasted, said = words_bash_runs(shown, folder / f"shown-{width}")
                checked += 1
                if pasted != copied:
                    broken.append(f"{step} ({kind}, {mode}) at {width} columns:\n{shown}\nbash read {pasted}"
                                  f"\nnot {copied}\n{said}")
    assert checked >= 40
    assert not broken, "\n\n".join(broken)


def test_a_word_cut_inside_continues_at_the_first_column() -> None:
    """The rest of a word longer than the panel starts at column 0 (not under the prompt), and a cut between
    words keeps the two-column indent."""
    from tui.widgets.help import render_commands

    url = "https://example.com/" + "a" * 60
    lines = render_commands([f"curl -s {url} > out.json"], 40).plain.splitlines()
    assert lines[0].startswith("$ curl") and lines[0].endswith(" \\"), lines
    cut = [n for n, line in enumerate(lines) if line.endswith("\\") and not line.endswith(" \\")]
    assert cut, lines
    for n in cut:
        assert not lines[n + 1][:1].isspace(), lines
    assert all(line.startswith("  ") for n, line in enumerate(lines[1:], 1) if n - 1 not in cut), lines


# -- the graph query: the same request as fetch_graph's, to a real server ---------------------------------------

@pytest.fixture
def graph_server() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """An update service on 127.0.0.1 recording each request's path and Accept header."""
    with json_server(b'{"nodes": [], "edges": []}') as (port, requests):
        yield f"http://127.0.0.1:{port}/api/upgrades_info/v1/graph", requests


def test_the_graph_query_asks_the_server_for_the_channels_graph(graph_server: tuple[str, list[tuple[str, str]]],
                                                                tmp_path: Path) -> None:
    from core.graph import graph_query_command, load_graph_file

    url, requests = graph_server
    command = graph_query_command("stable-4.17", "x86_64", url)
    assert max(len(word) for word in command.split()) < 60, command  # no word a panel has to cut inside
    subprocess.run(["/bin/bash", "-c", command], cwd=tmp_path, check=True, timeout=60)
    assert requests == [("/api/upgrades_info/v1/graph?channel=stable-4.17&arch=amd64", "application/json")]
    assert load_graph_file(tmp_path / "graph.json") == []  # saved where --graph-file reads it


async def test_the_release_steps_graph_query_pasted_from_80_columns_asks_the_server(
        graph_server: tuple[str, list[tuple[str, str]]], workdir: Path) -> None:  # noqa: F811
    """The Release step's F1 at 80x24, its lines pasted as shown into bash with the real curl: the server
    gets the channel's graph request."""
    import os

    from tests.test_tui_snapshots import fixed_state, with_release
    from tui.widgets.help import HelpPanel

    url, requests = graph_server
    state = fixed_state()
    with_release(state)
    state.release.source, state.release.from_version, state.release.version = "", "4.17.1", "4.17.3"
    # A URL longer than the panel (a proxy path in front of the service): cut inside, and still one word.
    prefix = "/update-service-behind-a-long-proxy-path"
    state.release.graph_url = url.replace("/api/", prefix + "/api/")
    state.update_mode = True
    app = MirrorWizardApp(state, start="release", auto_check=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f1")
        await pilot.pause()
        lines = app.screen.query_one("#help-commands").render().plain.splitlines()  # type: ignore[union-attr]
        assert app.screen.query_one(HelpPanel).commands_text.count("curl ") == 1
    start = next(n for n, line in enumerate(lines) if line.startswith("$ curl "))
    end = next(n for n in range(start, len(lines)) if not lines[n].rstrip().endswith("\\"))
    assert end > start, lines[start]  # cut over several lines at 80 columns
    script = "\n".join([lines[start].removeprefix("$ "), *lines[start + 1:end + 1]])
    subprocess.run(["/bin/bash", "-c", script], cwd=workdir, check=True, timeout=60,
                   env={**os.environ, "PATH": "/usr/bin:/bin"})
    assert requests == [(f"{prefix}/api/upgrades_info/v1/graph?channel=stable-4.17&arch=amd64", "application/json")]
