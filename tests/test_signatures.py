"""Release signatures: real Red Hat data, keys made by GnuPG, a store over HTTP on loopback, and a
synthetic release in the suite's real registry whose payload carries its own release-verification ConfigMap."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest

from core.errors import ReleaseError, SignatureError
from core.manifest import sha256_digest
from core.registry import RegistrySession
from core.release import ReleaseInfo, load_release
from core.release_keys import RED_HAT_FINGERPRINTS, pinned_keys, shipped_keys
from core.signatures import (
    MAX_ANNOTATED_FILES,
    MAX_SIGNATURE_BYTES,
    MAX_VERIFICATION_BYTES,
    check_release_signatures,
    configmap_bytes,
    configmap_yaml,
    expected_identities,
    fetch_from_store,
    load_keyring,
    parse_verification_config,
    read_signatures_dir,
    read_verification_config,
    signature_configmap,
    signature_file_name,
    verify_release,
    verify_signature,
    write_signature_file,
)
from core.tlsconfig import TLSOptions
from tests.support.day2_release import (
    build_day2_release,
    push_layout,
    verification_configmap,
)
from tests.support.gpg import atomic_payload, make_key, needs_gpg
from tests.support.repos import unique_repo
from tests.support.signature_store import SignatureStore
from tui.sandbox.content import Layer, new_builder

DATA = Path(__file__).parent / "support" / "data" / "signatures"
RH_DIGEST = "sha256:e3f12513a4b22a2d7c0e7c9207f52128113758d9d68c7d06b11a0ac7672966f7"
CI_DIGEST = "sha256:edd9824f0404f1a139688017e7001370e2f3fbc088b94da84506653b473fe140"
DIGEST = "sha256:" + "ab" * 32
RELEASE_REPO = "quay.io/openshift-release-dev/ocp-release"


def _sig(digest: str) -> bytes:
    return (DATA / "store" / f"sha256={digest.split(':')[1]}" / "signature-1").read_bytes()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    made = {"release": make_key(tmp_path_factory.mktemp("gpg-release"), "Test Release <release@example.test>"),
            "other": make_key(tmp_path_factory.mktemp("gpg-other"), "Intruder <other@example.test>", "ed25519"),
            "beta": make_key(tmp_path_factory.mktemp("gpg-beta"), "Test Beta <beta@example.test>", "ed25519")}
    yield made
    for key in made.values():
        key.close()


@pytest.fixture(scope="module")
def pinned(keys, tmp_path_factory):
    """The test keys, trusted as an admin trusts a key: a file named with --release-key."""
    folder = tmp_path_factory.mktemp("pinned")
    files = []
    for name in ("release", "beta"):  # "other" stays untrusted: the intruder
        (folder / f"{name}.asc").write_text(keys[name].public_armored)
        files.append(str(folder / f"{name}.asc"))
    return pinned_keys(files)


@pytest.fixture()
def store():
    running = SignatureStore().start()
    yield running
    running.stop()


def _config(keys, names=("release",), stores=()):
    cm = verification_configmap({n: keys[n].public_armored for n in names}, list(stores))
    config = parse_verification_config(cm, "test payload")
    assert config is not None
    return config


# -- real data -----------------------------------------------------------------------------------------

def test_real_red_hat_signature_verifies_with_the_key_the_payload_ships():
    keyring = {"verifier-public-key-redhat": load_keyring((DATA / "redhat-release-key.asc").read_bytes(), "key")}
    [verified] = verify_signature(_sig(RH_DIGEST), RH_DIGEST, keyring)
    assert verified.fingerprint == "567E347AD0044ADE55BA8A5F199E2F91FD431D51"
    assert verified.identity == "registry.access.redhat.com/rhel7:7.6"
    assert verified.data == _sig(RH_DIGEST)


def test_real_signature_refused_for_another_digest_and_by_another_key():
    redhat = {"k": load_keyring((DATA / "redhat-release-key.asc").read_bytes(), "key")}
    with pytest.raises(SignatureError, match="is for sha256:e3f1.*not sha256:abab"):
        verify_signature(_sig(RH_DIGEST), DIGEST, redhat)
    expired_ci = {"ci": load_keyring((DATA / "openshift-ci-expired-key.asc").read_bytes(), "key")}
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature(_sig(RH_DIGEST), RH_DIGEST, expired_ci)
    # the openshift-ci key expired: its (genuine) signature no longer counts, as in the cluster
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature(_sig(CI_DIGEST), CI_DIGEST, expired_ci)


def test_identity_must_name_an_expected_repository():
    redhat = {"k": load_keyring((DATA / "redhat-release-key.asc").read_bytes(), "key")}
    verify_signature(_sig(RH_DIGEST), RH_DIGEST, redhat, identities={"registry.access.redhat.com/rhel7"})
    with pytest.raises(SignatureError, match="names registry.access.redhat.com/rhel7, not quay.io"):
        verify_signature(_sig(RH_DIGEST), RH_DIGEST, redhat, identities={RELEASE_REPO})


def test_garbage_keys_and_configs_are_clear_errors():
    with pytest.raises(ReleaseError, match="not an OpenPGP public key|holds no OpenPGP"):
        load_keyring(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnope\n", "verifier-public-key-x")
    cm = verification_configmap({}, ["https://example.test/sigs"])
    with pytest.raises(ReleaseError, match="names no verifier-public-key"):
        parse_verification_config(cm, "payload")
    cm = verification_configmap({"x": (DATA / "redhat-release-key.asc").read_text()}, ["file:///etc/sigs"])
    with pytest.raises(ReleaseError, match="not an http\\(s\\) URL.*--signatures-dir"):
        parse_verification_config(cm, "payload")
    unannotated = {"kind": "ConfigMap", "metadata": {"name": "release-verification"}, "data": {}}
    assert parse_verification_config(unannotated, "payload") is None
    assert parse_verification_config(b"kind: [unclosed", "payload") is None


# -- generated keys (GnuPG signs, Sequoia verifies) ----------------------------------------------------

@needs_gpg
def test_signed_message_checks(keys):
    rings = _config(keys, ("release",)).certificates()
    good = keys["release"].sign_release(DIGEST, f"{RELEASE_REPO}:4.21.1-x86_64")
    [ok] = verify_signature(good, DIGEST, rings)
    assert ok.keyring == "verifier-public-key-release" and ok.identity.endswith("4.21.1-x86_64")
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature(keys["other"].sign_release(DIGEST, RELEASE_REPO), DIGEST, rings)
    with pytest.raises(SignatureError, match="not an 'atomic container signature'"):
        verify_signature(keys["release"].sign(atomic_payload(DIGEST, RELEASE_REPO, kind="cosign")), DIGEST, rings)
    with pytest.raises(SignatureError, match="unknown field 'critical.extra'"):
        verify_signature(keys["release"].sign(atomic_payload(DIGEST, RELEASE_REPO, extra_critical={"extra": 1})),
                         DIGEST, rings)
    with pytest.raises(SignatureError, match="names no identity"):
        verify_signature(keys["release"].sign(atomic_payload(DIGEST, "")), DIGEST, rings)
    with pytest.raises(SignatureError, match="not valid JSON"):
        verify_signature(keys["release"].sign(b"hello"), DIGEST, rings)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature(good[:-20], DIGEST, rings)
    with pytest.raises(SignatureError, match="more than a signature"):
        verify_signature(b"x" * (MAX_SIGNATURE_BYTES + 1), DIGEST, rings)


@needs_gpg
async def test_store_over_http_first_good_signature_wins_and_search_stops_at_404(keys, pinned, store):
    refused = keys["other"].sign_release(DIGEST, RELEASE_REPO)
    good = keys["release"].sign_release(DIGEST, f"{RELEASE_REPO}:4.21.1-x86_64")
    store.add(DIGEST, [refused, good])
    report = await verify_release(DIGEST, _config(keys, ("release",), [store.url]), pinned=pinned)
    assert report.ok and report.signatures == [good]
    assert [v.origin for v in report.verified] == [f"{store.url}/sha256={'ab' * 32}/signature-2"]
    assert any("signature-1 does not verify" in p for p in report.problems)
    # with the other key's signature alone, 1 is read, 2 is a 404: signature-3 is never asked for
    store.files.pop(f"/sha256={'ab' * 32}/signature-2")
    store.files[f"/sha256={'ab' * 32}/signature-3"] = good
    store.requests.clear()
    with pytest.raises(SignatureError, match="does not verify"):
        await verify_release(DIGEST, _config(keys, ("release",), [store.url]), pinned=pinned)
    assert [r.rsplit("/", 1)[1] for r in store.requests] == ["signature-1", "signature-2"]


@needs_gpg
async def test_store_misbehaving_is_bounded(keys, store):
    good = keys["release"].sign_release(DIGEST, RELEASE_REPO)
    hexpart = "ab" * 32
    store.files[f"/sha256={hexpart}/signature-1"] = b"\0" * (MAX_SIGNATURE_BYTES + 10)
    store.overrides[f"/sha256={hexpart}/signature-2"] = 500
    store.files[f"/sha256={hexpart}/signature-3"] = good
    fetched = await fetch_from_store(store.url, DIGEST)
    assert [d for _, d in fetched.signatures] == [good]
    assert any("more than" in p for p in fetched.problems) and any("answered 500" in p for p in fetched.problems)
    # a store answering every index is read at most ten times
    store.overrides.clear()
    for n in range(1, 15):
        store.files[f"/sha256={hexpart}/signature-{n}"] = good
    store.requests.clear()
    fetched = await fetch_from_store(store.url, DIGEST)
    assert len(store.requests) == 10 and len(fetched.signatures) == 10


async def test_store_dripping_bytes_is_cut_at_the_deadline(store):
    hexpart = "ab" * 32
    store.files[f"/sha256={hexpart}/signature-1"] = b"x" * 100
    store.drip[f"/sha256={hexpart}/signature-1"] = 0.2  # each byte well within the timeout; all of them: 4 s
    fetched = await fetch_from_store(store.url, DIGEST, timeout=1)
    assert fetched.signatures == [] and any("timed out after 1s" in p for p in fetched.problems)


def test_expected_identities():
    info = ReleaseInfo("x", DIGEST, "4.21.1", "x86_64", {}, {}, "mirror.example.test/ocp/release", "")
    assert expected_identities(info) == {RELEASE_REPO, "mirror.example.test/ocp/release"}


@needs_gpg
async def test_every_keyring_must_sign(keys, pinned, store):
    config = _config(keys, ("release", "beta"), [store.url])
    only_release = keys["release"].sign_release(DIGEST, RELEASE_REPO)
    store.add(DIGEST, [only_release])
    with pytest.raises(SignatureError, match="no valid signature from verifier-public-key-beta") as caught:
        await verify_release(DIGEST, config, pinned=pinned)
    assert "--allow-unsigned" in str(caught.value)
    beta = keys["beta"].sign_release(DIGEST, RELEASE_REPO)
    store.add(DIGEST, [only_release, beta])
    report = await verify_release(DIGEST, config, pinned=pinned)
    assert report.ok and report.signatures == [only_release, beta]


@needs_gpg
async def test_refused_unless_allow_unsigned(keys, pinned, store):
    config = _config(keys, ("release",), [store.url])
    store.add(DIGEST, [keys["other"].sign_release(DIGEST, RELEASE_REPO)])
    with pytest.raises(SignatureError, match="no valid signature from verifier-public-key-release"):
        await verify_release(DIGEST, config, pinned=pinned)
    report = await verify_release(DIGEST, config, allow_unsigned=True, pinned=pinned)
    assert not report.ok and report.signatures == [] and "NOT verified" in report.summary()
    with pytest.raises(SignatureError, match="carries no release-verification ConfigMap"):
        await verify_release(DIGEST, None)
    unreachable = _config(keys, ("release",), ["http://127.0.0.1:9/sigs"])
    with pytest.raises(SignatureError, match="127.0.0.1:9"):
        await verify_release(DIGEST, unreachable, timeout=5, pinned=pinned)


@needs_gpg
async def test_extra_store_is_asked_first_and_directory_replaces_the_payload_stores(keys, pinned, store, tmp_path):
    good = keys["release"].sign_release(DIGEST, RELEASE_REPO)
    store.add(DIGEST, [good])
    config = _config(keys, ("release",), ["http://127.0.0.1:9/unreachable"])
    report = await verify_release(DIGEST, config, stores=[store.url], pinned=pinned)
    assert report.ok and not report.problems  # the unreachable payload store was never needed
    # a directory in the store's own layout; the payload's (unreachable) store is not contacted
    sig_dir = tmp_path / "sigs" / f"sha256={'ab' * 32}"
    sig_dir.mkdir(parents=True)
    (sig_dir / "signature-1").write_bytes(good)
    report = await verify_release(DIGEST, config, signatures_dir=tmp_path / "sigs", pinned=pinned)
    assert report.ok and report.verified[0].origin.endswith("signature-1") and not report.problems


# -- pinned keys: the payload says which keys must sign, we say which keys are trusted -----------------

def test_red_hat_release_keys_are_shipped_and_pinned():
    shipped = shipped_keys()
    assert set(shipped.keys) == RED_HAT_FINGERPRINTS
    # the real Red Hat signature verifies with the shipped key, whatever key the payload carries
    config = parse_verification_config(verification_configmap(
        {"redhat": (DATA / "redhat-release-key.asc").read_text()}, []), "payload")
    assert config is not None
    keyrings, unpinned = config.pinned(shipped)
    assert unpinned == []
    [verified] = verify_signature(_sig(RH_DIGEST), RH_DIGEST, keyrings)
    assert verified.fingerprint == "567E347AD0044ADE55BA8A5F199E2F91FD431D51"


@needs_gpg
async def test_payload_naming_its_own_key_is_refused_with_the_fingerprint(keys, store, tmp_path):
    """A registry that lies ships its own key and a signature made with it: that must not verify."""
    good = keys["release"].sign_release(DIGEST, RELEASE_REPO)
    store.add(DIGEST, [good])
    config = _config(keys, ("release",), [store.url])
    [cert] = load_keyring(keys["release"].public_armored, "key")
    fingerprint = str(cert.fingerprint).upper()
    with pytest.raises(SignatureError, match=f"does not trust: verifier-public-key-release {fingerprint}") as caught:
        await verify_release(DIGEST, config)  # only Red Hat's keys are trusted by default
    assert "--release-key" in str(caught.value) and store.requests == []  # refused before anything is fetched
    # --allow-unsigned mirrors it, loudly, and nothing verified is claimed
    report = await verify_release(DIGEST, config, allow_unsigned=True)
    assert not report.ok and report.signatures == [] and fingerprint in report.summary()
    assert "NOT verified" in report.summary()
    # named with --release-key it is trusted
    (tmp_path / "k.asc").write_text(keys["release"].public_armored)
    assert (await verify_release(DIGEST, config, pinned=pinned_keys([str(tmp_path / "k.asc")]))).ok


@needs_gpg
async def test_signature_is_checked_with_our_copy_of_the_key(keys, pinned, store):
    """One pinned key in a keyring with an intruder's key: refused (the keyring is not ours)."""
    store.add(DIGEST, [keys["other"].sign_release(DIGEST, RELEASE_REPO)])
    cm = verification_configmap({"release": keys["release"].public_armored + keys["other"].public_armored},
                                [store.url])
    config = parse_verification_config(cm, "payload")
    with pytest.raises(SignatureError, match="does not trust: verifier-public-key-release [0-9A-F]{40}"):
        await verify_release(DIGEST, config, pinned=pinned)


def test_release_key_files_are_checked(tmp_path):
    with pytest.raises(ReleaseError, match="release key .*absent.asc does not exist"):
        pinned_keys([str(tmp_path / "absent.asc")])
    (tmp_path / "junk.asc").write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnope\n")
    with pytest.raises(ReleaseError, match="junk.asc .*--release-key.* not an OpenPGP public key|holds no"):
        pinned_keys([str(tmp_path / "junk.asc")])


# -- the ConfigMap the cluster reads --------------------------------------------------------------------

def test_configmap_matches_oc_bytes():
    cm = signature_configmap(RH_DIGEST, [_sig(RH_DIGEST), b"second"])
    name = "sha256-e3f12513a4b22a2d7c0e7c9207f52128113758d9d68c7d06b11a0ac7672966f7"
    expected = ('{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"' + name + '","namespace":'
                '"openshift-config-managed","creationTimestamp":null,"labels":{"release.openshift.io/'
                'verification-signatures":""}},"binaryData":{"' + name + '-1":"'
                + base64.b64encode(_sig(RH_DIGEST)).decode() + '","' + name + '-2":"c2Vjb25k"}}\n')
    assert configmap_bytes(cm).decode() == expected
    assert signature_file_name(RH_DIGEST) == "signature-sha256-e3f12513a4b22a2d.json"


def test_configmap_keys_sort_as_go_maps_do():
    cm = signature_configmap(DIGEST, [bytes([i]) for i in range(10)])
    keys = list(json.loads(configmap_bytes(cm))["binaryData"])
    assert keys[:3] == [f"sha256-{'ab' * 32}-1", f"sha256-{'ab' * 32}-10", f"sha256-{'ab' * 32}-2"]


@needs_gpg
async def test_written_file_holds_the_store_bytes_and_reads_back(keys, pinned, store, tmp_path):
    good = keys["release"].sign_release(DIGEST, RELEASE_REPO)
    store.add(DIGEST, [good])
    report = await verify_release(DIGEST, _config(keys, ("release",), [store.url]), pinned=pinned)
    path = write_signature_file(tmp_path / "config", DIGEST, report.signatures)
    assert path.name == f"signature-sha256-{'ab' * 8}.json"
    written = json.loads(path.read_bytes())
    assert written["metadata"]["labels"] == {"release.openshift.io/verification-signatures": ""}
    assert written["metadata"]["namespace"] == "openshift-config-managed"
    served = store.files[f"/sha256={'ab' * 32}/signature-1"]
    assert base64.b64decode(written["binaryData"][f"sha256-{'ab' * 32}-1"]) == served  # byte for byte
    # the medium carries it: from-dir reads oc's file back and verifies it offline
    fetched = read_signatures_dir(tmp_path / "config", DIGEST)
    assert [d for _, d in fetched.signatures] == [served]
    config = _config(keys, ("release",), ["http://127.0.0.1:9/unreachable"])
    again = await verify_release(DIGEST, config, signatures_dir=tmp_path / "config", pinned=pinned)
    assert again.ok and again.signatures == [served]
    with pytest.raises(SignatureError, match="no verified signature"):
        write_signature_file(tmp_path, DIGEST, [])


def test_signatures_dir_refuses_bad_content(tmp_path):
    with pytest.raises(ReleaseError, match="does not exist"):
        read_signatures_dir(tmp_path / "absent", DIGEST)
    (tmp_path / signature_file_name(DIGEST)).write_text('{"kind":"ConfigMap","metadata":{"name":"other"}}')
    with pytest.raises(ReleaseError, match="is not the signature ConfigMap"):
        read_signatures_dir(tmp_path, DIGEST)
    (tmp_path / signature_file_name(DIGEST)).write_text(json.dumps(
        {"kind": "ConfigMap", "metadata": {"name": f"sha256-{'ab' * 32}"}, "binaryData": {f"sha256-{'ab' * 32}-1": "!!"}}))
    with pytest.raises(ReleaseError, match="not base64"):
        read_signatures_dir(tmp_path, DIGEST)
    with pytest.raises(ReleaseError, match="is not sha256"):
        read_signatures_dir(tmp_path, "sha256:short")


# -- a release in a real registry carrying its own verification config ----------------------------------

@needs_gpg
def test_release_payload_config_found_and_release_verified(keys, pinned, store, plain_registry, tmp_path):
    host = plain_registry.host
    prefix = unique_repo("sig") + "/"

    async def scenario():
        builder = new_builder(tmp_path / "layout")
        built = await build_day2_release(
            builder, source_host=host, version="4.21.1", prefix=prefix,
            keyrings={"release": keys["release"].public_armored}, stores=[store.url],
            extra_manifests={"release-manifests/0000_95_decoy_configmap.yaml": (
                b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: decoy\n  annotations:\n"
                b"    release.openshift.io/verification-config-map: ''\ndata: {}\n")})
        await push_layout(tmp_path / "layout", [*built.components.values(), built.release_name], host, prefix)
        session = RegistrySession(tls=TLSOptions(insecure=True))
        async with session:
            info = await load_release(session, f"{host}/{prefix}{built.release_name}")
            config = await read_verification_config(session, info)
            # the same from the OCI layout a to-dir run leaves
            layout_info = await load_release(session, f"oci:{tmp_path / 'layout'}:{built.release_name}")
            layout_config = await read_verification_config(session, layout_info)
        return built, info, config, layout_config

    built, info, config, layout_config = asyncio.run(scenario())
    assert info.digest == built.digest
    # the first annotated ConfigMap by file name (0000_90 before the 0000_95 decoy), as the CVO picks
    assert config is not None and config.where.endswith("0000_90_cluster-update-keys_configmap.yaml")
    assert config.stores == (store.url,) and list(config.keyrings) == ["verifier-public-key-release"]
    assert layout_config is not None
    assert (layout_config.keyrings, layout_config.stores) == (config.keyrings, config.stores)
    good = keys["release"].sign_release(built.digest, "quay.io/openshift-release-dev/ocp-release:4.21.1-x86_64")
    store.add(built.digest, [keys["other"].sign_release(built.digest, RELEASE_REPO), good])
    report = asyncio.run(verify_release(built.digest, config, identities={RELEASE_REPO}, pinned=pinned))
    assert report.ok and report.signatures == [good]
    path = write_signature_file(tmp_path / "out", built.digest, report.signatures)
    data = json.loads(path.read_bytes())
    assert list(data["binaryData"].values()) == [base64.b64encode(good).decode()]

    # the one-call step a mirror run uses: to-dir writes the file, from-dir verifies it offline
    async def step():
        session = RegistrySession(tls=TLSOptions(insecure=True))
        async with session:
            info = await load_release(session, f"{host}/{prefix}{built.release_name}")
            first = await check_release_signatures(session, info, write_to=tmp_path / "media" / "config",
                                                   pinned=pinned)
            asked = len(store.requests)
            layout_info = await load_release(session, f"oci:{tmp_path / 'layout'}:{built.release_name}")
            again = await check_release_signatures(session, layout_info, signatures_dir=tmp_path / "media" / "config",
                                                   pinned=pinned)
            return first, again, asked

    (first, written), (again, rewritten), asked = asyncio.run(step())
    assert first.ok and written is not None and written.read_bytes() == path.read_bytes()
    assert again.ok and rewritten is None and len(store.requests) == asked  # nothing fetched from the store
    text = configmap_yaml(first.configmap())
    assert "creationTimestamp" not in text and "release.openshift.io/verification-signatures: ''" in text


@needs_gpg
def test_verification_config_read_from_the_manifests_layer_only(keys, plain_registry, tmp_path):
    """The layers under the one holding image-references are the operator's own image: never read.

    (A benchmark release whose base layer is not a tar failed every mirror when they were.)"""
    host = plain_registry.host
    prefix = unique_repo("sigbase") + "/"
    noise = bytes(range(256)) * 64
    not_a_tar = Layer(blob=noise, digest=sha256_digest(noise), diff_id=sha256_digest(noise))

    async def scenario():
        builder = new_builder(tmp_path / "layout")
        built = await build_day2_release(builder, source_host=host, version="4.21.2", prefix=prefix,
                                         keyrings={"release": keys["release"].public_armored},
                                         release_base=not_a_tar)
        await push_layout(tmp_path / "layout", [*built.components.values(), built.release_name], host, prefix)
        session = RegistrySession(tls=TLSOptions(insecure=True))
        async with session:
            info = await load_release(session, f"{host}/{prefix}{built.release_name}")
            return await read_verification_config(session, info)

    config = asyncio.run(scenario())
    assert config is not None and list(config.keyrings) == ["verifier-public-key-release"]


def _layout_config(tmp_path, keys, extra: dict[str, bytes]):
    async def scenario():
        builder = new_builder(tmp_path / "layout")
        built = await build_day2_release(builder, source_host="quay.io", version="4.21.5", prefix="",
                                         keyrings={"release": keys["release"].public_armored}, extra_manifests=extra)
        session = RegistrySession(tls=TLSOptions())
        async with session:
            info = await load_release(session, f"oci:{tmp_path / 'layout'}:{built.release_name}")
            return await read_verification_config(session, info)

    return asyncio.run(scenario())


ANNOTATED = (b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: decoy\n  annotations:\n"
             b"    release.openshift.io/verification-config-map: ''\ndata: {}\n")


@needs_gpg
def test_manifest_scan_reads_only_small_files_and_refuses_a_flood_of_annotated_ones(keys, tmp_path):
    """1500 compressible annotated files once took 1.64 GB before any signature check: each is now read
    only when it could be the ConfigMap, one candidate is kept, and a flood is refused."""
    # a huge annotated file named first: never read (too large to be the ConfigMap), the real one found
    huge = {"release-manifests/0000_00_a_configmap.yaml": ANNOTATED + b"#" * (MAX_VERIFICATION_BYTES + 1)}
    config = _layout_config(tmp_path / "one", keys, huge)
    assert config is not None and list(config.keyrings) == ["verifier-public-key-release"]
    # decoys before the real one by name: the first (as the operator picks) is the one that counts
    decoys = {f"release-manifests/0000_00_decoy_{n:04d}.yaml": ANNOTATED for n in range(MAX_ANNOTATED_FILES + 4)}
    with pytest.raises(ReleaseError, match="decoy_0000.yaml: the verification ConfigMap names no verifier"):
        _layout_config(tmp_path / "two", keys, decoys)
    # in a tar holding them in reverse, each could be the one: parsed up to a bound, then refused
    import io
    import tarfile

    from core.signatures import _manifest_visitor, _ManifestScan
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name in sorted(decoys, reverse=True):
            member = tarfile.TarInfo(name)
            member.size = len(ANNOTATED)
            tar.addfile(member, io.BytesIO(ANNOTATED))
    raw.seek(0)
    visit = _manifest_visitor(_ManifestScan("payload"), set(), set())
    with pytest.raises(ReleaseError, match=f"more than {MAX_ANNOTATED_FILES} files in release-manifests/ carry"):
        with tarfile.open(fileobj=raw, mode="r") as tar:
            for member in tar:
                visit(tar, member)
    # a broken annotated file after the real one by name is never the operator's choice: no error
    broken = {"release-manifests/0000_95_broken.yaml": ANNOTATED.replace(b"data: {}", b"data: [")}
    assert _layout_config(tmp_path / "three", keys, broken) is not None


def test_release_without_verification_config(seeded_release):
    async def scenario():
        session = RegistrySession(tls=TLSOptions(insecure=True))
        async with session:
            info = await load_release(session, seeded_release.release_ref)
            return await read_verification_config(session, info)

    assert asyncio.run(scenario()) is None


def test_a_payload_claiming_the_official_repository_without_its_configmap_is_refused(monkeypatch):
    """Stripping the verification ConfigMap must not turn a refusal into a warning for a payload that
    claims to be Red Hat's: every official payload carries one."""
    import core.run as run_module
    from core.plan import MirrorRegistry, Plan, ReleaseChoice

    async def no_config(session, info):
        return None

    monkeypatch.setattr(run_module, "read_verification_config", no_config)  # core.signatures', as core.run imported it
    official = ReleaseInfo("quay.io/x", DIGEST, "4.21.1", "x86_64", {}, {}, RELEASE_REPO, "")
    custom = ReleaseInfo("registry.example.test/x", DIGEST, "4.21.1", "x86_64", {}, {}, "registry.example.test/r", "")
    plan = Plan(mirror=MirrorRegistry(registry="m.example.test"), release=ReleaseChoice(source="quay.io/x"))
    with pytest.raises(SignatureError, match="claims to come from quay.io/openshift-release-dev/ocp-release but"):
        asyncio.run(run_module.check_signatures(plan, None, [official]))
    reports, warnings = asyncio.run(run_module.check_signatures(plan, None, [custom]))
    assert reports == [] and "carries no release-verification ConfigMap" in warnings[0]
    plan.release.allow_unsigned = True
    assert asyncio.run(run_module.check_signatures(plan, None, [official]))[1]  # mirrored, with the warning
