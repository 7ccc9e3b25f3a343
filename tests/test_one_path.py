"""One path, one set of numbers: the same plan run by ``mirror-wizard run`` and by the wizard's Mirror
step (pilot) gives the same image, blob and byte counts, and both are the engine's own.

Each front end copies into its own fresh mirror registry (TLS with the test CA, a login), so neither
finds the other's blobs there: the plans differ only in the mirror's address.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Static

from core.text import human_bytes
from tests.conftest import needs_registry
from tests.support.constants import PASSWORD, USER
from tests.test_run import run, seed_samples, write_plan
from tui.app import MirrorWizardApp
from tui.sandbox.registry import LocalRegistry, make_registry
from tui.state import WizardState

pytestmark = needs_registry


@pytest.fixture()
def two_mirrors(tmp_path: Path, pki) -> Iterator[tuple[LocalRegistry, LocalRegistry]]:  # type: ignore[no-untyped-def]
    started: list[LocalRegistry] = []
    try:
        for name in ("mirror-cli", "mirror-wizard"):
            registry = make_registry(tmp_path / name, tls=(pki.server.cert_path, pki.server.key_path),
                                     ca_file=pki.ca_file, htpasswd=(USER, PASSWORD))
            registry.start()
            started.append(registry)
        yield started[0], started[1]
    finally:
        for registry in started:
            registry.stop()


async def wizard_mirror(state: WizardState) -> tuple[str, str]:
    """Start the Mirror step as the admin would (Ctrl+R), wait for the copy; what its bars say."""
    app = MirrorWizardApp(state, auto_check=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.goto("mirror")
        await pilot.pause()
        await pilot.press("ctrl+r")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause(0.3)
        screen = app.screen
        return (str(screen.query_one("#images-text", Static).render()),
                str(screen.query_one("#bytes-text", Static).render()))


def cli_counts(stdout: str) -> dict[str, object]:
    """The numbers of ``mirror-wizard run``'s summary."""
    images = re.search(r"mirror complete: (\d+)/(\d+) images", stdout)
    blobs = re.search(r"blobs: (\d+) unique, (\d+) copied, (\d+) already present, (\d+) mounted", stdout)
    moved = re.search(r"bytes: (.+?) copied of (.+?) \((.+?) already present\)", stdout)
    assert images and blobs and moved, stdout
    return {"images": (int(images[1]), int(images[2])), "blobs": tuple(int(b) for b in blobs.groups()),
            "bytes": moved.groups()}


def test_cli_and_wizard_show_the_same_counts_for_the_same_plan(
        seeded_release, plain_registry, two_mirrors, pki, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    samples = seed_samples(tmp_path, plain_registry.host)
    auth = tmp_path / "auth.json"
    entry = {"auth": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
    auth.write_text(json.dumps({"auths": {m.host: entry for m in two_mirrors}}))
    auth.chmod(0o600)
    plans = []
    for mirror in two_mirrors:
        plans.append(write_plan(tmp_path / f"plan-{mirror.port}.yaml", auth_file=auth, pki=pki, mirror=mirror.host,
                                source_host=plain_registry.host, samples=samples, output_dir=tmp_path / "out",
                                release={"source": seeded_release.release_ref, "mode": "registry",
                                         "target": f"{mirror.host}/ocp4/openshift4"}))

    code, stdout, err = run(["run", str(plans[0])], capsys)
    assert code == 0, err
    cli = cli_counts(stdout)

    state = WizardState.from_path(str(plans[1]))
    images_text, bytes_text = asyncio.run(wizard_mirror(state))
    progress, result = state.progress, state.mirror_result
    assert progress.finished, (progress.error, list(progress.log)[-5:])
    assert result is not None  # the fold is the engine's count
    assert (progress.images_done, progress.images_failed, progress.blobs_copied, progress.blobs_skipped,
            progress.blobs_mounted, progress.bytes_moved, progress.total_bytes) == (
        result.images_done, len(result.failures), result.blobs_copied, result.blobs_skipped,
        result.blobs_mounted, result.bytes_copied, result.bytes_total)

    wizard = {"images": (progress.images_done, progress.total_images),
              "blobs": (result.blobs_total, progress.blobs_copied, progress.blobs_skipped, progress.blobs_mounted),
              "bytes": (human_bytes(progress.bytes_moved), human_bytes(result.bytes_total),
                        human_bytes(progress.bytes_present))}
    assert wizard == cli
    # Something really moved (a run where nothing did would agree trivially) ...
    assert progress.blobs_copied > 0 and progress.bytes_moved > 0
    images = len(seeded_release.component_refs) + 1 + len(samples.specs)
    assert cli["images"] == (images, images)
    # ... and the Mirror step shows those numbers: every image landed, the bytes moved.
    assert images_text.startswith(f"{images} of {images}"), images_text
    assert bytes_text.startswith(f"{human_bytes(progress.bytes_moved)}/"), bytes_text  # "moved/to move · N there"
