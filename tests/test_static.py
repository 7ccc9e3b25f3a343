"""The static checks, run by the test command so CI enforces them: ruff (lint, import order, modern
syntax), mypy (strict on the modules listed in pyproject.toml's strict override: all of core/ and all of
tui/), import-linter (core never imports textual or tui; the CLI never imports textual; screens and CLI
commands never import the registry client, copier or transport; orchestrate → run → runbook), and no
import cycle in core/ or tui/.

Each runs as its own process from the project root; on failure the test shows the tool's output.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(command: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)


def _show(done: subprocess.CompletedProcess[str]) -> str:
    return f"$ {' '.join(map(str, done.args))}\n{done.stdout}\n{done.stderr}"


def _strict_modules() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    overrides = config["tool"]["mypy"]["overrides"]
    modules = [m for o in overrides if o.get("strict") for m in o["module"]]
    assert modules, "pyproject.toml lists no module for mypy strict"
    return modules


def test_ruff() -> None:
    done = _run([sys.executable, "-m", "ruff", "check", "--no-cache", "."])
    assert done.returncode == 0, _show(done)


def _mypy_targets(patterns: list[str]) -> list[str]:
    """mypy arguments for module patterns: ``pkg.*`` is the whole package, anything else one module."""
    packages = {p.removesuffix(".*") for p in patterns if p.endswith(".*")}
    args: list[str] = []
    for package in sorted(packages):
        args += ["-p", package]
    for module in patterns:
        if not module.endswith(".*") and not any(module == p or module.startswith(p + ".") for p in packages):
            args += ["-m", module]
    return args


def test_mypy_strict_modules() -> None:
    # The strict modules (all of core/) are checked; errors in modules outside that they import are not
    # reported here (--follow-imports=silent).
    patterns = _strict_modules()
    for required in ("core.*", "tui.*"):
        assert required in patterns, f"mypy strict must cover {required} (pyproject.toml's strict override)"
    done = _run([sys.executable, "-m", "mypy", "--follow-imports=silent", *_mypy_targets(patterns)])
    assert done.returncode == 0, _show(done)


def test_import_contracts() -> None:
    linter = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if linter is None:
        pytest.fail("lint-imports (import-linter) is not installed: pip install -e '.[test]'")
    done = _run([linter, "--no-cache"])
    assert done.returncode == 0, _show(done)
    assert "broken" in done.stdout and ", 0 broken" in done.stdout, _show(done)


def test_no_import_cycles() -> None:
    # Every import that runs (top level or inside a function) counts; only TYPE_CHECKING imports are left
    # out (the Textual app and its screens name each other's types so).
    import grimp  # import-linter's graph library, installed with it

    graph = grimp.build_graph("core", "tui", exclude_type_checking_imports=True, cache_dir=None)
    cycles = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer) if imported in graph.modules else None
            if back:
                cycles.append(" -> ".join((importer, *back)))
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
