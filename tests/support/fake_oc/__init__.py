"""A stand-in for ``oc``: answers ``whoami``, ``version -o json`` and ``get … -o json`` from recordings.

There is no cluster in the test suite, so ``oc`` is the one thing faked: ``oc.py`` is put first on PATH
(see :func:`install`) and answers from ``recordings/<scenario>/``, JSON shaped like real ``oc get … -o
json`` output (Lists of objects with full metadata; ``items: null`` on failed imports, as the API
serialises them). Placeholders such as ``__MIRROR__`` are filled from ``FAKE_OC_VARS`` so the same
recordings fit whichever mirror a test started. Unknown resource types, missing objects and a missing
login fail with the messages and exit status real ``oc`` gives.

``apply``, ``replace`` and ``patch`` are refused (exit 3) unless ``writes=True``: then each is recorded in
``writes.log`` of the log folder (its arguments and the document on stdin, one JSON line each; read them
with :func:`writes`) and answered as oc does, so Apply can be tested without a cluster.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).parent
RECORDINGS = HERE / "recordings"
SCENARIOS = ("healthy", "broken", "wrong-key", "removed", "logged-out", "old-icsp", "signed",
             # issue 24: the 4.20 admin-ack, image.config's registry lists and import mode, a samples operator
             # bootstrapped Removed, the OpenShift Update Service
             "ack-missing", "ack-given", "allowed-no-port", "allowed-port", "blocked", "preserve",
             "removed-bootstrap", "update-service", "update-service-unready", "upstream-unset", "itms", "multi",
             "ack-not-raised")


def install(bin_dir: Path, *, scenario: str, variables: dict[str, object], log_dir: Path | None = None,
            writes: bool = False) -> dict[str, str]:
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
    if writes:
        env["FAKE_OC_WRITES"] = "1"
    return env


def writes(log_dir: Path) -> list[tuple[list[str], str]]:
    """(arguments, stdin) of every change the fake oc was asked for, in order."""
    path = log_dir / "writes.log"
    if not path.exists():
        return []
    calls = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [(call["args"], call["stdin"]) for call in calls]


def variables_for(*, mirror: str, ca_file: Path, mirror_repo: str, release_source: str, components_source: str,
                  samples: dict[str, str], graph_image: str = "", releases: str = "") -> dict[str, object]:
    """The placeholders of the recordings for one mirror: ``samples`` maps ruby / perl to the pull spec the
    operator uses on the mirror (``host/ns/name:tag``); ``graph_image`` / ``releases`` fill the recorded
    UpdateService's spec."""
    from core.ca import configmap_key

    pem = Path(ca_file).read_text()
    variables: dict[str, object] = {
        "__SAMPLES_REGISTRY__": mirror, "__MIRROR_KEY__": configmap_key(mirror),
        "__MIRROR_HOST__": mirror.rsplit(":", 1)[0], "__CA_PEM__": pem, "__CLUSTER_CA_PEM__": pem,
        "__MIRROR_REPO__": mirror_repo, "__SOURCE_RELEASE__": release_source,
        "__SOURCE_COMPONENTS__": components_source, "__GRAPH_IMAGE__": graph_image, "__RELEASES__": releases,
    }
    for stream, spec in samples.items():
        key = stream.upper()
        variables[f"__{key}_TAG__"] = spec.rsplit(":", 1)[1]
        variables[f"__{key}_MIRROR_SPEC__"] = spec
        variables[f"__{key}_MIRROR_REF__"] = spec.rsplit(":", 1)[0] + "@sha256:" + "5a" * 32
    return variables
