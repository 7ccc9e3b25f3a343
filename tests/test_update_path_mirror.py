"""An update path mirrored end to end: three synthetic releases sharing most layers, a graph file in the
Cincinnati format linking them (the direct hop conditional), one copy into the suite's TLS+auth registry,
each release's signatures verified and written. skopeo checks every tag; events show each blob once."""

from __future__ import annotations

import asyncio
import base64
import json
from collections import Counter
from pathlib import Path

import pytest

from core.authfile import load_auth_file
from core.copier import CopyOptions, copy_images
from core.events import BlobDone, BlobStarted
from core.graph import load_graph_file, update_path
from core.registry import RegistrySession
from core.release_path import load_path_releases, measure_path, path_tasks
from core.signatures import (
    read_verification_config,
    verify_release,
    write_signature_file,
)
from core.tlsconfig import TLSOptions
from tests.support import skopeo
from tests.support.day2_release import build_day2_release, push_layout
from tests.support.gpg import make_key, needs_gpg
from tests.support.repos import unique_repo
from tests.support.signature_store import SignatureStore
from tui.sandbox.content import RELEASE_REPO, make_layer, new_builder

VERSIONS = ["4.21.1", "4.21.2", "4.21.3"]


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    made = make_key(tmp_path_factory.mktemp("gpg-path"), "Path Release <path@example.test>")
    yield made
    made.close()


@pytest.fixture(scope="module")
def store():
    running = SignatureStore().start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def path_source(plain_registry, tmp_path_factory, key, store):
    host = plain_registry.host
    prefix = unique_repo("path") + "/"
    layout = tmp_path_factory.mktemp("path-src")

    async def build():
        builder = new_builder(layout)
        built = []
        for version in VERSIONS:
            one = await build_day2_release(builder, source_host=host, version=version, prefix=prefix,
                                           keyrings={"path": key.public_armored}, stores=[store.url])
            built.append(one)
        await push_layout(layout, [n for b in built for n in [*b.components.values(), b.release_name]], host, prefix)
        return built

    built = asyncio.run(build())
    for one in built:
        store.add(one.digest, [key.sign_release(one.digest, f"quay.io/{RELEASE_REPO}:{one.version}-x86_64")])
    graph = {"version": 1, "nodes": [
        {"version": b.version, "payload": f"{host}/{prefix}{RELEASE_REPO}@{b.digest}", "metadata": {}} for b in built
    ] + [{"version": "4.21.0", "payload": f"{host}/{prefix}{RELEASE_REPO}@sha256:{'0' * 64}", "metadata": {}}],
        "edges": [[3, 0], [0, 1], [1, 2]],
        "conditionalEdges": [{"edges": [{"from": "4.21.1", "to": "4.21.3"}],
                              "risks": [{"name": "TestRisk", "url": "https://example.test", "message": "m",
                                         "matchingRules": [{"type": "Always"}]}]}]}
    graph_file = tmp_path_factory.mktemp("graph") / "candidate-4.21.json"
    graph_file.write_text(json.dumps(graph))
    return host, prefix, built, graph_file


@needs_gpg
def test_update_path_one_copy_shared_blobs_once_signatures_for_each(path_source, store, tls_registry, auth_file, pki,
                                                                    plain_registry, tmp_path):
    _, _, built, graph_file = path_source
    releases = load_graph_file(graph_file)
    path = update_path(releases, "4.21.1", "4.21.3", channel="candidate-4.21")
    assert [r.version for r in path] == VERSIONS  # the direct hop is conditional: never used
    target = f"{tls_registry.host}/{unique_repo('path-dst')}"
    tls = TLSOptions(ca_files=(str(pki.ca_file),), insecure_hosts=(plain_registry.host,))
    events: list = []

    async def run():
        session = RegistrySession(load_auth_file(str(auth_file)), tls)
        async with session:
            infos = await load_path_releases(session, path)
            sizes = await measure_path(session, infos)
            result = await copy_images(path_tasks(infos, target), session, CopyOptions(), on_event=events.append)
            configs = [await read_verification_config(session, info) for info in infos]
        reports = [await verify_release(info.digest, config, identities={f"quay.io/{RELEASE_REPO}"})
                   for info, config in zip(infos, configs, strict=True)]
        return infos, sizes, result, reports

    _, sizes, result, reports = asyncio.run(run())
    assert result.ok, result.failures
    # sizes: computed from what the builder wrote, not by the code under test
    union: dict[str, int] = {}
    for one in built:
        union.update(one.blobs)
    assert sizes.unique_bytes == sum(union.values()) and result.bytes_copied == sizes.unique_bytes
    alone = [sum(b.blobs.values()) for b in built]
    assert [r.total_bytes for r in sizes.releases] == alone
    assert sizes.releases[0].new_bytes == alone[0] and all(r.new_bytes < r.total_bytes for r in sizes.releases[1:])
    assert sizes.saved_bytes == sum(alone) - sum(union.values()) > 0
    # each blob crossed once, the shared base layer included
    started = Counter(e.digest for e in events if isinstance(e, BlobStarted))
    done = Counter(e.digest for e in events if isinstance(e, BlobDone))
    base = make_layer(1, 16 * 1024).digest
    assert started[base] == 1 and done[base] == 1 and max(started.values()) == 1
    # every tag, as oc tags it, holds the right image
    opts = {"authfile": auth_file, "cert_dir": pki.dir}
    for one in built:
        assert skopeo.digest(f"{target}:{one.version}-x86_64", **opts) == one.digest
        for name, digest in one.component_digests.items():
            assert skopeo.digest(f"{target}:{one.version}-x86_64-{name}", **opts) == digest
    # signatures for each release, written as oc writes them, byte for byte what the store served
    out = tmp_path / "config"
    for one, report in zip(built, reports, strict=True):
        assert report.ok
        written = json.loads(write_signature_file(out, one.digest, report.signatures).read_bytes())
        served = [store.files[f"/sha256={one.digest.split(':')[1]}/signature-1"]]
        assert [base64.b64decode(v) for v in written["binaryData"].values()] == served
    assert len(list(Path(out).iterdir())) == 3
