"""Day 3 against the demo sandbox, as an admin runs it: its three signed releases mirrored 4.17.1 → 4.17.3,
the graph-data image built on the sandbox's stand-in for the default base (read through its mirror set),
then pruned to 4.17.3. skopeo copies every 4.17.3 image whole afterwards, and verify's release check passes."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from core.plan import MirrorRegistry, Plan, ReleaseChoice, validate_plan
from core.verify import Status, verify
from tests.conftest import needs_registry
from tests.support import skopeo
from tui.cli import main

FIXTURE = Path("/work/shared/fixtures/graph-data")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    from tui.sandbox.demo import create_sandbox

    sb = create_sandbox(tmp_path_factory.mktemp("day3-sandbox"), layer_size=32 * 1024)
    try:
        yield sb
    finally:
        sb.stop()


@needs_registry
def test_update_path_graph_image_and_prune_on_the_sandbox(sandbox, tmp_path: Path, capsys,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # release mirror writes its signature ConfigMaps in the working folder
    auth = tmp_path / "auth.json"
    token = base64.b64encode(f"admin:{sandbox.mirror_password}".encode()).decode()
    auth.write_text(json.dumps({"auths": {sandbox.mirror.host: {"auth": token}}}))
    access = ["-a", str(auth), "--ca-file", str(sandbox.ca_file)]
    repo = sandbox.mirror_repository
    assert main(["release", "mirror", "--channel", "stable-4.17", "--from-version", "4.17.1", "--to-version", "4.17.3",
                 "--graph-file", str(sandbox.graph_file), "--to", repo, "--idms-file", str(sandbox.idms_file),
                 "--signatures-dir", str(sandbox.signatures_dir), "--release-key", str(sandbox.release_key_file),
                 *access]) == 0
    capsys.readouterr()

    # The graph image with the default base: the sandbox holds a stand-in behind registry.access.redhat.com.
    tarball = tmp_path / "graph-data.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(FIXTURE, arcname=".")
    out = tmp_path / "update-service"
    assert main(["release", "graph-image", "--graph-data", str(tarball), "--to", sandbox.mirror.host,
                 "--idms-file", str(sandbox.idms_file), "-o", str(out), "--releases", repo, *access]) == 0
    assert "registry.access.redhat.com/ubi9/ubi:latest" in capsys.readouterr().out
    cert_dir = tmp_path / "certs"
    cert_dir.mkdir()
    (cert_dir / "ca.crt").write_bytes(sandbox.ca_file.read_bytes())
    opts = {"authfile": auth, "cert_dir": cert_dir}
    image = f"{sandbox.mirror.host}/openshift/graph-image:latest"
    digest = skopeo.digest(image, **opts)
    service = yaml.safe_load((out / "updateservice.yaml").read_text())
    assert service["spec"]["graphDataImage"] == f"{sandbox.mirror.host}/openshift/graph-image@{digest}"
    manifest = json.loads(skopeo.raw_manifest(image, **opts))
    layer = tmp_path / "layer"
    skopeo.copy(image, f"dir:{layer}", src_opts=skopeo.options(auth, cert_dir))
    blob = (layer / manifest["layers"][-1]["digest"].split(":")[1]).read_bytes()
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        names = tar.getnames()
    assert "var/lib/cincinnati-graph-data/channels/stable-4.17.yaml" in names

    # Prune to 4.17.3: generating deletes nothing, applying removes the older releases.
    before = set(json.loads(skopeo.run("list-tags", *skopeo.options(auth, cert_dir), f"docker://{repo}").stdout)["Tags"])
    prune_file = tmp_path / "PRUNE.yaml"
    assert main(["release", "prune", "--to", repo, "--keep-version", "4.17.3", "-o", str(prune_file), *access]) == 0
    after_generate = set(json.loads(skopeo.run("list-tags", *skopeo.options(auth, cert_dir),
                                               f"docker://{repo}").stdout)["Tags"])
    assert after_generate == before
    assert main(["release", "prune", "--apply", str(prune_file), *access]) == 0
    printed = capsys.readouterr().out
    assert "registry garbage-collect" in printed
    tags = set(json.loads(skopeo.run("list-tags", *skopeo.options(auth, cert_dir), f"docker://{repo}").stdout)["Tags"])
    assert "4.17.1-x86_64" not in tags and "4.17.2-x86_64" not in tags and "4.17.3-x86_64" in tags
    for tag in sorted(t for t in tags if t.startswith("4.17.3-x86_64")):
        skopeo.copy(f"{repo}:{tag}", f"oci:{tmp_path / 'kept'}:{tag}", src_opts=skopeo.options(auth, cert_dir))
    # verify's release check (every component of 4.17.3 in the mirror) passes after the prune.
    plan = Plan(auth_file=str(auth), mirror=MirrorRegistry(registry=sandbox.mirror.host, ca_file=str(sandbox.ca_file)),
                idms_file=str(sandbox.idms_file),
                release=ReleaseChoice(source=sandbox.release_source, target=repo, keys=[str(sandbox.release_key_file)]))
    validate_plan(plan)
    checks = {c.name: c for c in asyncio.run(verify(plan)).checks}
    assert checks["release-images"].status is Status.PASS, checks["release-images"].line()
