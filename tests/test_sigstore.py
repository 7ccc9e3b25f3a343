"""Sigstore (cosign) signature tags carried along with a release: registry → registry, to a directory, and
from that directory to a registry; skopeo is the referee of what lands."""

from __future__ import annotations

import asyncio
import json

import pytest

from core.copier import CopyOptions, copy_images
from core.errors import InputError
from core.manifest import OCI_MANIFEST, Manifest
from core.registry import RegistrySession
from core.release import (
    from_dir_tasks,
    load_release,
    load_release_from_dir,
    release_tasks,
    to_dir_tasks,
)
from core.sigstore import cosign_tag, signature_tasks, sigstore_expected
from core.tlsconfig import TLSOptions
from tests.support import skopeo
from tests.support.day2_release import build_day2_release, push_layout
from tests.support.repos import unique_repo
from tui.sandbox.content import COMPONENT_REPO, RELEASE_REPO, LayoutBuilder, new_builder

PLAIN = {"tls_verify": False}


def cosign_signature(builder: LayoutBuilder, digest: str, reference: str) -> Manifest:
    """An image shaped as cosign writes one: a simple-signing payload layer with its signature annotation."""
    payload = json.dumps({"critical": {"identity": {"docker-reference": reference},
                                       "image": {"docker-manifest-digest": digest},
                                       "type": "cosign container image signature"}, "optional": None}).encode()
    layer = builder.blob(payload)
    config = builder.blob(json.dumps({"architecture": "", "config": {}, "created": "0001-01-01T00:00:00Z",
                                      "history": [{"created": "0001-01-01T00:00:00Z"}], "os": "",
                                      "rootfs": {"diff_ids": [layer["digest"]], "type": "layers"}}).encode())
    raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
                      "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", **layer,
                                  "annotations": {"dev.cosignproject.cosign/signature": "MEUCIQ" + "A" * 90}}]}).encode()
    manifest = Manifest.parse(raw, OCI_MANIFEST, where="test")
    builder.layout.put_manifest_blob(manifest)
    return manifest


def _session() -> RegistrySession:
    return RegistrySession(tls=TLSOptions(insecure=True))


@pytest.fixture(scope="module")
def signed_source(plain_registry, tmp_path_factory):
    """A 4.21 release whose release image and etcd component have .sig tags at the source."""
    host = plain_registry.host
    prefix = unique_repo("cosign") + "/"
    layout = tmp_path_factory.mktemp("cosign-src")

    async def build():
        builder = new_builder(layout)
        built = await build_day2_release(builder, source_host=host, version="4.21.3", prefix=prefix)
        sigs = {}
        for repo, digest in ((RELEASE_REPO, built.digest), (COMPONENT_REPO, built.component_digests["etcd"])):
            name = f"{repo}:{cosign_tag(digest)}"
            await builder.name(name, cosign_signature(builder, digest, f"quay.io/{repo}"))
            sigs[digest] = name
        await push_layout(layout, [*built.components.values(), built.release_name, *sigs.values()], host, prefix)
        return built, sigs

    built, sigs = asyncio.run(build())
    return host, prefix, built, sigs


def test_cosign_tag_scheme():
    assert cosign_tag("sha256:" + "ab" * 32) == "sha256-" + "ab" * 32 + ".sig"
    with pytest.raises(InputError):
        cosign_tag("sha256:xyz")
    assert sigstore_expected("4.21.0") and sigstore_expected("4.22.0-rc.1") and sigstore_expected("5.0.1")
    assert not sigstore_expected("4.20.9") and not sigstore_expected("garbage")


def test_signatures_follow_a_registry_mirror(signed_source, plain_registry):
    host, prefix, built, sigs = signed_source
    target = f"{host}/{unique_repo('cosign-dst')}"

    async def run():
        session = _session()
        async with session:
            info = await load_release(session, f"{host}/{prefix}{built.release_name}")
            tasks = release_tasks(info, target)
            found = await signature_tasks(session, tasks)
            result = await copy_images(tasks + found.tasks, session, CopyOptions())
        return info, found, result

    info, found, result = asyncio.run(run())
    assert result.ok, result.failures
    assert found.checked == len(built.components) + 1
    assert set(found.found) == set(sigs)  # the release and etcd, nothing else
    assert found.note(info.version, info.digest) is None
    for digest in sigs:
        tag = cosign_tag(digest)
        source = f"{host}/{prefix}{sigs[digest]}"
        assert skopeo.digest(f"{target}:{tag}", **PLAIN) == skopeo.digest(source, **PLAIN)


def test_signatures_go_to_a_directory_and_from_it(signed_source, plain_registry, tmp_path):
    host, prefix, built, sigs = signed_source
    media = tmp_path / "media"
    target = f"{host}/{unique_repo('cosign-fromdir')}"

    async def run():
        session = _session()
        async with session:
            info = await load_release(session, f"{host}/{prefix}{built.release_name}")
            tasks = to_dir_tasks(info, media)
            found = await signature_tasks(session, tasks)
            first = await copy_images(tasks + found.tasks, session, CopyOptions())
            from_media = await load_release_from_dir(session, media)
            upload = from_dir_tasks(from_media, media, target)
            found_again = await signature_tasks(session, upload)
            second = await copy_images(upload + found_again.tasks, session, CopyOptions())
        return found, first, found_again, second

    found, first, found_again, second = asyncio.run(run())
    assert first.ok and second.ok, (first.failures, second.failures)
    assert set(found.found) == set(found_again.found) == set(sigs)
    for digest, name in sigs.items():
        tag = cosign_tag(digest)
        expected = skopeo.digest(f"{host}/{prefix}{name}", **PLAIN)
        assert skopeo.digest(f"oci:{media}:openshift/release:{tag}") == expected
        assert skopeo.digest(f"{target}:{tag}", **PLAIN) == expected


def test_a_421_release_without_signature_is_said_so(plain_registry, tmp_path):
    host = plain_registry.host
    prefix = unique_repo("nocosign") + "/"

    async def run():
        builder = new_builder(tmp_path / "src")
        built = await build_day2_release(builder, source_host=host, version="4.21.4", prefix=prefix)
        await push_layout(tmp_path / "src", [*built.components.values(), built.release_name], host, prefix)
        session = _session()
        async with session:
            info = await load_release(session, f"{host}/{prefix}{built.release_name}")
            return info, await signature_tasks(session, release_tasks(info, f"{host}/{unique_repo('x')}"))

    info, found = asyncio.run(run())
    assert found.tasks == [] and found.found == {} and not found.problems
    note = found.note(info.version, info.digest)
    assert note is not None and "4.21.4 has no Sigstore signature" in note and cosign_tag(info.digest) in note
    assert found.note("4.20.1", info.digest) is None


def _release_plan(host: str, prefix: str, built, target: str):
    from core.plan import MirrorRegistry, Plan, RegistryTrust, ReleaseChoice

    return Plan(mirror=MirrorRegistry(registry=host), registries=[RegistryTrust(host, insecure=True)],
                release=ReleaseChoice(source=f"{host}/{prefix}{built.release_name}", target=target,
                                      allow_unsigned=True))


def _prepare_with(signed_source, monkeypatch, check, probe):
    """prepare_releases for the signed 4.21 release, with stand-ins for the GPG check and the probes."""
    import core.run as run_module
    from core.run import prepare_releases

    host, prefix, built, _sigs = signed_source
    monkeypatch.setattr(run_module, "check_signatures", check)
    monkeypatch.setattr(run_module, "signature_tasks", probe)  # core.sigstore's, as core.run imported it
    plan = _release_plan(host, prefix, built, f"{host}/{unique_repo('side')}")

    async def run():
        async with _session() as session:
            return await prepare_releases(plan, session)

    return asyncio.run(run())


def test_gpg_check_and_sigstore_probes_run_side_by_side(signed_source, monkeypatch):
    """Far from the source every probe is a round trip: the GPG check does not wait for them, nor they
    for it. Each stand-in below waits for the other to have started; run one after the other, the first
    would wait out its 10 s and fail the test."""
    import core.run as run_module
    import core.sigstore as sigstore_module

    _host, _prefix, built, sigs = signed_source
    started = {"gpg": asyncio.Event(), "sigstore": asyncio.Event()}
    real_check, real_probe = run_module.check_signatures, sigstore_module.signature_tasks

    async def check(*args, **kwargs):
        started["gpg"].set()
        await asyncio.wait_for(started["sigstore"].wait(), 10)
        return await real_check(*args, **kwargs)

    async def probe(*args, **kwargs):
        started["sigstore"].set()
        await asyncio.wait_for(started["gpg"].wait(), 10)
        return await real_probe(*args, **kwargs)

    prepared = _prepare_with(signed_source, monkeypatch, check, probe)
    assert prepared.sigstore is not None and set(prepared.sigstore.found) == set(sigs)
    assert len(prepared.release_tasks) == len(built.components) + 1 + len(sigs)


def test_a_failing_gpg_check_stops_the_probes_and_is_raised_as_itself(signed_source, monkeypatch):
    from core.errors import SignatureError

    probes_cancelled = []

    async def check(*args, **kwargs):
        await asyncio.sleep(0.05)
        raise SignatureError("release 4.21.3: no signature verifies")

    async def probe(*args, **kwargs):
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            probes_cancelled.append(True)
            raise

    with pytest.raises(SignatureError, match="no signature verifies"):
        _prepare_with(signed_source, monkeypatch, check, probe)
    assert probes_cancelled == [True]
