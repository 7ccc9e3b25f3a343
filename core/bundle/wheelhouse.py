"""The wheelhouse: mirror-wizard and every dependency as wheels (pip on the connected side, cached), for an
offline install."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import InputError, LocalStorageError
from ..fsio import user_folder
from .files import copy_nofollow
from .model import PIP_TIMEOUT, BundleOptions, Message

# -- writing a bundle ---------------------------------------------------------------------------------

def _project_root() -> Path | None:
    """The source tree this mirror-wizard runs from, when it runs from one (a checkout, not a wheel)."""
    root = Path(__file__).resolve().parents[2]  # core/bundle/wheelhouse.py → the project
    pyproject = root / "pyproject.toml"
    try:
        text = pyproject.read_text(encoding="utf-8")
    except OSError:
        return None
    return root if re.search(r'^name\s*=\s*"mirror-wizard"', text, re.MULTILINE) else None


def _source_files(root: Path) -> list[Path]:
    files = [root / "pyproject.toml"] + ([root / "README.md"] if (root / "README.md").exists() else [])
    for package in ("core", "tui"):
        for path in sorted((root / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and not path.name.endswith((".pyc", ".pyo")):
                files.append(path)
    return files


def cache_dir() -> Path:
    """Where reusable downloads live: $MIRROR_WIZARD_CACHE, else $XDG_CACHE_HOME/mirror-wizard."""
    return user_folder("MIRROR_WIZARD_CACHE", "XDG_CACHE_HOME", ".cache")


def _requirements(root: Path) -> list[str]:
    with open(root / "pyproject.toml", "rb") as handle:
        data = tomllib.load(handle)
    deps = data.get("project", {}).get("dependencies", [])
    return [str(d) for d in deps]


def _pip(args: list[str], what: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise LocalStorageError(f"{what}: pip took longer than {PIP_TIMEOUT}s") from None
    except OSError as exc:
        raise LocalStorageError(f"{what}: cannot run pip: {exc.strerror or exc}") from None
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).splitlines()
                 if line.strip() and "is ignored: it is neither a file nor a directory" not in line]
        detail = lines[-1].strip() if lines else f"exit code {done.returncode}"
        raise LocalStorageError(f"{what}: pip failed: {detail}")


def _target_flags(options: BundleOptions) -> list[str]:
    flags = ["--only-binary=:all:"]  # the far host may have no compiler: wheels only
    if options.wheel_python:
        flags += ["--python-version", options.wheel_python, "--implementation", "cp"]
    for platform_tag in options.wheel_platforms:
        flags += ["--platform", platform_tag]
    return flags


def build_wheelhouse(target: Path, options: BundleOptions, on_message: Message | None = None) -> list[str]:
    """mirror-wizard and every dependency as wheels into ``target``; returns the wheel file names.

    pip does the work on the connected side (build the project's wheel from this source tree,
    download the dependencies' wheels for the far host's Python). The result is cached by the hash of
    the source and the target, so a second bundle needs no index at all.
    """
    say = on_message or (lambda text: None)
    if options.wheelhouse is not None:
        source_dir = Path(options.wheelhouse)
        wheels = sorted(p for p in source_dir.glob("*.whl") if p.is_file() and not p.is_symlink())
        if not any(p.name.startswith("mirror_wizard-") for p in wheels):
            raise InputError(f"--wheelhouse {source_dir} holds no mirror_wizard-*.whl; give the wheelhouse "
                             "directory of a bundle, or leave the option out to build one with pip")
        return _fill(target, wheels)
    root = _project_root()
    if root is None:
        raise LocalStorageError("this mirror-wizard is installed without its source tree, so it cannot build its "
                                "own wheel; give --wheelhouse DIR (the wheelhouse of the bundle it came from)")
    hasher = hashlib.sha256()
    for path in _source_files(root):
        hasher.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    hasher.update(json.dumps([options.wheel_python, list(options.wheel_platforms), sys.version_info[:2],
                              sys.platform, platform.machine()]).encode())
    cached = cache_dir() / "wheelhouse" / hasher.hexdigest()[:32]
    if (cached / ".complete").is_file():
        say(f"wheelhouse: reusing {cached}")
        return _fill(target, sorted(cached.glob("*.whl")))
    say("wheelhouse: building mirror-wizard's wheel and downloading its dependencies with pip")
    staging_parent = cached.parent
    staging_parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=staging_parent, prefix=".build-") as work:
        work_dir = Path(work)
        source = work_dir / "src"
        wheels_dir = work_dir / "wheels"
        wheels_dir.mkdir()
        for path in _source_files(root):  # a copy: pip's build leaves build/ and *.egg-info beside the source
            copy = source / path.relative_to(root)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, copy)
        requirements = _requirements(root)
        flags = _target_flags(options)
        with ThreadPoolExecutor(max_workers=2) as pool:
            build = pool.submit(_pip, ["wheel", "--no-deps", "--quiet", "-w", str(wheels_dir), str(source)],
                                "building mirror-wizard's wheel")
            download = pool.submit(_pip, ["download", "--quiet", "-d", str(wheels_dir), *flags, *requirements],
                                   "downloading mirror-wizard's dependencies") if requirements else None
            build.result()
            if download is not None:
                download.result()
        if not requirements:  # no tomllib: let pip read the requirements from the wheel it built
            own = next(wheels_dir.glob("mirror_wizard-*.whl"))
            _pip(["download", "--quiet", "-d", str(wheels_dir), *flags, str(own)],
                 "downloading mirror-wizard's dependencies")
        (wheels_dir / ".complete").write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + "\n")
        try:
            os.replace(wheels_dir, cached)
        except OSError:
            if not (cached / ".complete").is_file():  # not another run finishing first: a real failure
                raise
    return _fill(target, sorted(cached.glob("*.whl")))


def link_or_copy(source: Path, target: Path) -> None:
    """``target`` becomes ``source`` (a hard link, else a copy), never leaving a temporary name behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        if os.path.samefile(source, target):  # a rerun: already this very file, nothing to do
            return
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        os.link(source, tmp)  # a link's name is exclusive (EEXIST), like O_EXCL
    except OSError:  # another file system, or one without hard links (FAT, exFAT)
        copy_nofollow([source], target)
        return
    try:
        # rename(2) onto another link of the same file "does nothing and returns success", leaving tmp
        # behind (the rerun's leftovers): so the temporary name is removed whatever happened.
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _fill(target: Path, wheels: list[Path]) -> list[str]:
    """``target`` holds exactly these wheels afterwards (a stale wheel would be installed too)."""
    try:
        target.mkdir(parents=True, exist_ok=True)
        keep = {w.name for w in wheels}
        for existing in target.iterdir():
            if existing.name not in keep:
                if existing.is_dir() and not existing.is_symlink():
                    shutil.rmtree(existing)
                else:
                    existing.unlink()
        for wheel in wheels:  # always replaced: a rebuilt mirror_wizard-0.1.0 wheel keeps its name
            link_or_copy(wheel, target / wheel.name)
    except OSError as exc:
        raise LocalStorageError(f"cannot fill {target}: {exc.strerror or exc}") from None
    return sorted(keep)


