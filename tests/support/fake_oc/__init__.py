"""A stand-in for ``oc``: answers ``whoami``, ``version -o json`` and ``get … -o json`` from recordings.

There is no cluster in the test suite, so ``oc`` is the one thing faked: ``oc.py`` is put first on PATH
(see :func:`install`) and answers from ``recordings/<scenario>/``, JSON shaped like real ``oc get … -o
json`` output (Lists of objects with full metadata; ``items: null`` on failed imports, as the API
serialises them). Placeholders such as ``__MIRROR__`` are filled from ``FAKE_OC_VARS`` so the same
recordings fit whichever mirror a test started. Unknown resource types, missing objects and a missing
login fail with the messages and exit status real ``oc`` gives.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).parent
RECORDINGS = HERE / "recordings"
SCENARIOS = ("healthy", "broken", "wrong-key", "removed", "logged-out")


def install(bin_dir: Path, *, scenario: str, variables: dict[str, object], log_dir: Path | None = None) -> dict[str, str]:
    """Write ``bin_dir/oc`` and return the environment that puts it first on PATH with ``scenario``."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown fake oc scenario {scenario!r}")
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "oc"
    script.write_text(f"#!/bin/sh\nexec {sys.executable} {HERE / 'oc.py'} \"$@\"\n")
    script.chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "FAKE_OC_SCENARIO": scenario,
           "FAKE_OC_VARS": json.dumps(variables)}
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        env["FAKE_OC_LOG"] = str(log_dir)
    return env
