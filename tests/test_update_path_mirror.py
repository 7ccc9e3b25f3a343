"""An update path mirrored end to end: three synthetic releases sharing most layers, a graph file in the
Cincinnati format linking them (the direct hop conditional), one copy into the suite's TLS+auth registry,
each release's signatures verified and written. skopeo checks every tag; events show each blob once."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from core.authfile import load_auth_file
from core.copier import CopyOptions, copy_images
from core.events import BlobDone, BlobStarted
from core.graph import load_graph_file, update_path
from core.plan import MirrorRegistry, Plan, RegistryTrust, ReleaseChoice, load_plan, validate_plan
from core.registry import RegistrySession
from core.release_keys import pinned_keys
from core.release_path import load_path_releases, measure_path, path_tasks
from core.signatures import (
    read_verification_config,
    verify_release,
    write_signature_file,
)
from core.sigstore import cosign_tag
from core.tlsconfig import TLSOptions
from core.verify import Status, verify
from tests.support import skopeo
from tests.support.day2_release import build_day2_release, push_layout
from tests.support.gpg import make_key, needs_gpg
from tests.support.repos import unique_repo
from tests.support.signature_store import SignatureStore
from tests.test_sigstore import cosign_signature
from tui.cli import main
from tui.sandbox.content import COMPONENT_REPO, RELEASE_REPO, make_layer, new_builder

VERSIONS = ["4.21.1", "4.21.2", "4.21.3"]


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    made = make_key(tmp_path_factory.mktemp("gpg-path"), "Path Release <path@example.test>")
    yield made
    made.close()


@pytest.fixture(scope="module")
def key_file(key, tmp_path_factory) -> str:
    """The test release key is not Red Hat's: trusted only when named (--release-key, release.keys)."""
    path = tmp_path_factory.mktemp("pinned") / "path-release-key.asc"
    path.write_text(key.public_armored)
    return str(path)


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
        # cosign .sig tags at the source for the last release and its etcd component (4.21: Sigstore era)
        last = built[-1]
        sigs = []
        for repo, digest in ((RELEASE_REPO, last.digest), (COMPONENT_REPO, last.component_digests["etcd"])):
            sigs.append(f"{repo}:{cosign_tag(digest)}")
            await builder.name(sigs[-1], cosign_signature(builder, digest, f"quay.io/{repo}"))
        await push_layout(layout, [n for b in built for n in [*b.components.values(), b.release_name]] + sigs,
                          host, prefix)
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
                                                                    plain_registry, tmp_path, key_file):
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
        reports = [await verify_release(info.digest, config, identities={f"quay.io/{RELEASE_REPO}"},
                                        pinned=pinned_keys([key_file]))
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


def _cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def _served(store: SignatureStore, digest: str) -> list[bytes]:
    return [store.files[f"/sha256={digest.split(':')[1]}/signature-1"]]


def _configmap_signatures(path: Path) -> list[bytes]:
    return [base64.b64decode(v) for v in json.loads(path.read_bytes())["binaryData"].values()]


@needs_gpg
def test_cli_update_path_list_mirror_to_dir_and_from_dir(path_source, store, tls_registry, auth_file, pki, tmp_path,
                                                         capsys, key_file):
    """The CLI end to end: the path with each hop's bytes, one copy of three releases with their
    signatures verified and written, the .sig tags carried; then to removable media and back offline."""
    _, _, built, graph_file = path_source
    common = ["--insecure", "-a", str(auth_file), "--ca-file", str(pki.ca_file), "--release-key", key_file]
    path_flags = ["--channel", "candidate-4.21", "--graph-file", str(graph_file),
                  "--from-version", "4.21.1", "--to-version", "4.21.3"]
    code, out, err = _cli(["release", "list", *path_flags, "--insecure", "--json"], capsys)
    assert code == 0, err
    listed = json.loads(out)
    union: dict[str, int] = {}
    for one in built:
        union.update(one.blobs)
    assert [r["version"] for r in listed["path"]] == VERSIONS
    assert [r["bytes"] for r in listed["path"]] == [sum(b.blobs.values()) for b in built]
    assert listed["unique_bytes"] == sum(union.values())
    code, out, err = _cli(["release", "list", *path_flags, "--insecure"], capsys)
    assert code == 0 and "hop 2" in out and "saved by sharing" in out, err

    # straight to the registry
    target = f"{tls_registry.host}/{unique_repo('path-cli')}"
    sig_dir = tmp_path / "sigs"
    code, out, err = _cli(["release", "mirror", *common, *path_flags, "--to", target,
                           "--release-image-signature-to-dir", str(sig_dir)], capsys)
    assert code == 0, out + err
    assert "saved by sharing" in out and "sigstore: 2 signature(s)" in out
    assert out.count("is signed by") == 3
    opts = {"authfile": auth_file, "cert_dir": pki.dir}
    for one in built:
        assert skopeo.digest(f"{target}:{one.version}-x86_64", **opts) == one.digest
        written = sig_dir / f"signature-sha256-{one.digest.split(':')[1][:16]}.json"
        assert _configmap_signatures(written) == _served(store, one.digest)  # byte for byte
    last = built[-1]
    assert skopeo.digest(f"{target}:{cosign_tag(last.digest)}", **opts)
    assert skopeo.digest(f"{target}:{cosign_tag(last.component_digests['etcd'])}", **opts)
    # one set of instructions covering them all
    assert out.count("source: ") >= 2 and "imageDigestSources" in out
    # verify: each release's ConfigMap file names its digest and verifies offline; a missing one fails
    plan = Plan(auth_file=str(auth_file), mirror=MirrorRegistry(registry=tls_registry.host, ca_file=str(pki.ca_file)),
                registries=[RegistryTrust(path_source[0], insecure=True)],
                release=ReleaseChoice(target=target, channel="candidate-4.21", from_version="4.21.1",
                                      version="4.21.3", graph_file=str(graph_file), signatures_to_dir=str(sig_dir),
                                      keys=[key_file]))
    validate_plan(plan)
    checks = {c.name: c for c in asyncio.run(verify(plan)).checks}
    assert checks["release-signatures"].status is Status.PASS, checks["release-signatures"].line()
    assert checks["release-images"].status is Status.PASS, checks["release-images"].line()
    # every release of the path is checked, not only the last (the cluster pulls each as it updates)
    assert all(v in checks["release-images"].detail for v in ("4.21.1", "4.21.2", "4.21.3")), checks["release-images"].line()
    # Pinned: the plan keeps the releases the path resolved to (by digest); a later run reads exactly
    # those, with no graph at all, and refuses pins that no longer match the path's ends.
    from core.errors import PlanError
    from core.plan import plan_from_dict

    pinned = Plan(**{**plan.__dict__})
    pinned.release = ReleaseChoice(**{**plan.release.__dict__, "graph_file": str(tmp_path / "no-such-graph.json"),
                                      "releases": [f"{path_source[0]}/{path_source[1]}{RELEASE_REPO}@{b.digest}"
                                                   for b in built]})
    validate_plan(pinned)
    assert plan_from_dict(pinned.to_dict()).release.releases == pinned.release.releases  # saved and read back
    checks = {c.name: c for c in asyncio.run(verify(pinned)).checks}
    assert checks["release-images"].status is Status.PASS, checks["release-images"].line()
    assert all(v in checks["release-images"].detail for v in ("4.21.1", "4.21.2", "4.21.3"))
    stale = Plan(**{**pinned.__dict__})
    stale.release = ReleaseChoice(**{**pinned.release.__dict__, "releases": pinned.release.releases[1:]})
    checks = {c.name: c for c in asyncio.run(verify(stale)).checks}
    assert checks["release-images"].failed and "4.21.2 to 4.21.3" in checks["release-images"].detail
    tagged = Plan(**{**pinned.__dict__})
    tagged.release = ReleaseChoice(**{**pinned.release.__dict__, "releases": ["quay.io/x/y:4.21.1"]})
    with pytest.raises(PlanError, match="pin each release by digest"):
        validate_plan(tagged)
    moved = sig_dir / f"signature-sha256-{built[1].digest.split(':')[1][:16]}.json"
    moved.rename(tmp_path / "elsewhere.json")
    (sig_dir / moved.name).write_bytes((sig_dir / f"signature-sha256-{built[0].digest.split(':')[1][:16]}.json")
                                       .read_bytes())  # another release's ConfigMap under this name
    check = {c.name: c for c in asyncio.run(verify(plan)).checks}["release-signatures"]
    assert check.status is Status.FAIL and "4.21.2" in check.items[0], check.line()
    (tmp_path / "elsewhere.json").replace(moved)

    # to removable media: the signatures travel in DIR/config, and the mirror's CA (--ca-file) with them
    media = tmp_path / "media"
    code, out, err = _cli(["release", "mirror", *common, *path_flags, "--to-dir", str(media)], capsys)
    assert code == 0, out + err
    assert sorted(p.name for p in (media / "config").iterdir() if p.is_file()) == sorted(
        [f"signature-sha256-{b.digest.split(':')[1][:16]}.json" for b in built] + ["mirror-ca.pem"])
    # from the media, offline: no store is asked, the signatures verify from DIR/config
    asked = len(store.requests)
    target2 = f"{tls_registry.host}/{unique_repo('path-cli-up')}"
    out_dir = tmp_path / "up"
    code, out, err = _cli(["release", "mirror", *common, "--from-dir", str(media), "--from-version", "4.21.1",
                           "--to-version", "4.21.3", "--to", target2, "--manifests-dir", str(out_dir)], capsys)
    assert code == 0, out + err
    assert len(store.requests) == asked
    assert out.count("is signed by") == 3 and "sigstore: 2 signature(s)" in out
    for one in built:
        assert skopeo.digest(f"{target2}:{one.version}-x86_64", **opts) == one.digest
        written = out_dir / f"signature-sha256-{one.digest.split(':')[1][:16]}.json"
        assert _configmap_signatures(written) == _served(store, one.digest)
    assert skopeo.digest(f"{target2}:{cosign_tag(last.digest)}", **opts)
    # The bundle's own plan carries the whole path pinned by digest (it named the first release only), and
    # the upload command its README prints (no versions named) uploads every release on the medium.
    far = load_plan(str(media / "plan.yaml"))
    assert far.release is not None and far.release.mode == "from-dir"
    assert (far.release.from_version, far.release.version) == ("4.21.1", "4.21.3") and not far.release.source
    assert [pin.rpartition("@")[2] for pin in far.release.releases] == [b.digest for b in built]
    # The release key the connected side trusted travels inside the bundle, but the bundle's plan does not
    # name it (trusting it is the far-side admin's answer); the upload commands README.txt prints name it.
    assert far.release.keys == []
    assert (media / "config/release-keys/00-path-release-key.asc").read_bytes() == Path(key_file).read_bytes()
    readme = (media / "README.txt").read_text()
    assert readme.count("--release-key config/release-keys/00-path-release-key.asc") == 2  # release mirror, run
    target3 = f"{tls_registry.host}/{unique_repo('path-cli-plain')}"
    code, out, err = _cli(["release", "mirror", *common, "--from-dir", str(media), "--to", target3,
                           "--manifests-dir", str(tmp_path / "up3")], capsys)
    assert code == 0, out + err
    for one in built:
        assert skopeo.digest(f"{target3}:{one.version}-x86_64", **opts) == one.digest


@needs_gpg
def test_cli_refuses_a_release_signed_by_another_key_unless_allowed(path_source, tls_registry, auth_file, pki,
                                                                    tmp_path, capsys, tmp_path_factory, key_file):
    host, prefix, built, _ = path_source
    one = built[0]
    other = make_key(tmp_path_factory.mktemp("gpg-other"), "Not The Release Key <other@example.test>")
    try:
        bad = other.sign_release(one.digest, f"quay.io/{RELEASE_REPO}:{one.version}-x86_64")
    finally:
        other.close()
    sig_dir = tmp_path / "bad" / f"sha256={one.digest.split(':')[1]}"
    sig_dir.mkdir(parents=True)
    (sig_dir / "signature-1").write_bytes(bad)
    target = f"{tls_registry.host}/{unique_repo('path-bad')}"
    args = ["release", "mirror", "--insecure", "-a", str(auth_file), "--ca-file", str(pki.ca_file),
            "--from", f"{host}/{prefix}{RELEASE_REPO}@{one.digest}", "--to", target,
            "--signatures-dir", str(tmp_path / "bad"), "--release-image-signature-to-dir", str(tmp_path / "w")]
    # the payload's own key is not trusted unless named: refused, the key's fingerprint named
    code, out, err = _cli(args, capsys)
    assert code != 0 and "does not trust: verifier-public-key-path " in (out + err) and "--release-key" in (out + err)
    assert "Traceback" not in err
    args += ["--release-key", key_file]
    code, out, err = _cli(args, capsys)
    assert code != 0 and "no valid signature" in (out + err) and "--allow-unsigned" in (out + err)
    assert "Traceback" not in err
    with pytest.raises(subprocess.CalledProcessError):
        skopeo.digest(f"{target}:{one.version}-x86_64", authfile=auth_file, cert_dir=pki.dir)
    code, out, err = _cli([*args, "--allow-unsigned"], capsys)
    assert code == 0, out + err
    assert f"WARNING: release {one.digest} is NOT verified" in out
    assert not (tmp_path / "w").exists()  # nothing verified: no ConfigMap to write
    assert skopeo.digest(f"{target}:{one.version}-x86_64", authfile=auth_file, cert_dir=pki.dir) == one.digest


def test_a_far_side_plan_refuses_a_medium_without_the_releases_it_pins(tmp_path) -> None:
    """The bundle's plan pins its path by digest: a medium holding other releases is one line of error."""
    from core.errors import InputError
    from core.run import _check_pins

    one, two, other = ("sha256:" + c * 64 for c in "abc")
    records = [{"version": "4.21.1", "digest": one}, {"version": "4.21.2", "digest": two}]
    _check_pins([f"quay.io/x/y@{one}", f"quay.io/x/y@{two}"], records, tmp_path)  # the same: fine
    _check_pins([], records, tmp_path)  # nothing pinned (an older plan): the range decides
    with pytest.raises(InputError, match="does not hold the releases the plan pins") as caught:
        _check_pins([f"quay.io/x/y@{one}", f"quay.io/x/y@{other}"], records, tmp_path)
    assert "sha256:cccccccccccc" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("flag", ["--release-image-signature-to-dir", "--manifests-dir"])
def test_to_dir_refuses_flags_that_would_leave_files_outside_the_bundle(flag: str, tmp_path, capsys) -> None:
    """Signatures outside the bundle never travel (the far side's upload then fails), and --manifests-dir was
    silently ignored: both are one line before anything is read."""
    code, out, err = _cli(["release", "mirror", "--from", "quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64",
                           "--to-dir", str(tmp_path / "m"), flag, str(tmp_path / "x")], capsys)
    assert code == 2 and flag in err and "leave it out" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m").exists() and not (tmp_path / "x").exists()
