"""The static checks, run by the test command so CI enforces them: ruff (lint, import order, modern
syntax), mypy (strict on the modules listed in pyproject.toml's strict override: all of core/ and all of
tui/), import-linter (core never imports textual or tui; the CLI never imports textual; screens and CLI
commands never import the registry client, copier or transport; orchestrate → run → runbook), no
import cycle in core/ or tui/, and imports at module level (issue 23): one inside a function says why on
its line or the line above (``# lazy: <the measured start-up cost, or the import cycle it avoids>``).

Each runs as its own process from the project root; on failure the test shows the tool's output.
"""

from __future__ import annotations

import ast
import io
import shutil
import subprocess
import sys
import tokenize
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


def unmarked_function_imports(root: Path) -> list[str]:
    """``file:line: statement`` for every import inside a function in core/ and tui/ with no ``# lazy:``
    comment (and a reason after it) on its lines or on the line above."""
    found: set[tuple[str, int, str]] = set()  # a set: a nested function's import is walked once per enclosing one
    for path in sorted([*root.glob("core/**/*.py"), *root.glob("tui/**/*.py")]):
        source = path.read_text()
        comments: dict[int, str] = {}
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                comments[token.start[0]] = token.string
        lines = source.splitlines()
        for function in ast.walk(ast.parse(source)):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if not isinstance(node, (ast.Import, ast.ImportFrom)):
                    continue
                last = node.end_lineno or node.lineno
                above = node.lineno - 1
                marked = [comments[n] for n in range(node.lineno, last + 1) if n in comments]
                if above in comments and lines[above - 1].strip().startswith("#"):  # a comment-only line
                    marked.append(comments[above])
                if not any(c.split("# lazy:", 1)[-1].strip() for c in marked if "# lazy:" in c):
                    found.add((str(path.relative_to(root)), node.lineno, lines[node.lineno - 1].strip()))
    return [f"{name}:{line}: {text}" for name, line, text in sorted(found)]


def test_imports_at_module_level() -> None:
    # Issue 23: "imports at module level unless a measured start-up cost says otherwise (write why)".
    unmarked = unmarked_function_imports(ROOT)
    assert not unmarked, ("imports inside functions without a '# lazy: <why>' comment (move them to the top, "
                          "or name the measured cost or the import cycle):\n" + "\n".join(unmarked))
