"""Pure engine pieces: challenges, Retry-After, manifests, mapping files, the OCI layout store."""

import asyncio
import json
import subprocess
import sys

import pytest

from core.copier import Copier, CopyOptions
from core.endpoints import LayoutLocation, RegistryLocation
from core.errors import InputError, IntegrityError, MappingError, RegistryProtocolError, UnsupportedManifest
from core.layout import OCILayout
from core.manifest import DOCKER_LIST, OCI_MANIFEST, Manifest, sha256_digest
from core.mapping import pairs_to_tasks, parse_mapping_text
from core.registry import parse_challenge, retry_after_seconds


def test_core_never_imports_textual():
    code = "import sys, core.copier, core.registry, core.layout, core.mapping; " \
           "import importlib, pkgutil, core\n" \
           "for m in pkgutil.iter_modules(core.__path__):\n" \
           "    importlib.import_module('core.' + m.name)\n" \
           "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'tui')]\n" \
           "print(','.join(bad))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    # rich arrives with httpx; core itself must not use it.
    from pathlib import Path
    for source in Path(__file__).resolve().parents[1].joinpath("core").rglob("*.py"):
        text = source.read_text()
        assert "import rich" not in text and "from rich" not in text, source


def test_parse_bearer_challenge():
    c = parse_challenge('Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull"')
    assert c.scheme == "bearer"
    assert c.params == {"realm": "https://auth.example.com/token", "service": "registry.example.com",
                        "scope": "repository:a/b:pull"}
    assert parse_challenge('Basic realm="Registry Realm"').scheme == "basic"


def test_retry_after():
    assert retry_after_seconds("3", 1.0) == 3.0
    assert retry_after_seconds(None, 1.5) == 1.5
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", 2.0) == 0.0  # in the past
    assert retry_after_seconds("garbage", 2.0) == 2.0


def test_manifest_schema1_rejected_clearly():
    with pytest.raises(UnsupportedManifest, match="schema 1"):
        Manifest.parse(b'{"schemaVersion": 1, "name": "x"}', None, where="r/x:1")


def test_manifest_digest_is_of_raw_bytes():
    raw = b'{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"x","digest":"sha256:%s","size":2},"layers":[]}' % (
        OCI_MANIFEST.encode(), b"0" * 64)
    m = Manifest.parse(raw, None, where="w")
    assert m.digest == sha256_digest(raw) and not m.is_index and m.config().size == 2


def test_mapping_file_parsing():
    tasks = parse_mapping_text("""
# comment
quay.io/a/b:1=mirror.example.com:8443/a/b:1
quay.io/a/c@sha256:%s=mirror.example.com:8443/a/c:v2
""" % ("b" * 64))
    assert len(tasks) == 2
    assert isinstance(tasks[1].source, RegistryLocation) and tasks[1].source.ref.digest
    with pytest.raises(MappingError, match="line 1"):
        parse_mapping_text("just-one-thing")
    with pytest.raises(MappingError, match="same image"):
        parse_mapping_text("quay.io/a/b:1=quay.io/a/b:1")
    with pytest.raises(MappingError, match="no destination"):
        pairs_to_tasks(["quay.io/a/b:1"])
    t = pairs_to_tasks(["quay.io/a/b:1", "oci:/tmp/x:a/b:1"])
    assert isinstance(t[0].destination, LayoutLocation) and t[0].destination.name == "a/b:1"


def test_bad_filter_regex_is_input_error():
    with pytest.raises(InputError, match="regular expression"):
        Copier(session=None, options=CopyOptions(filter_by_os="linux/(amd64"))  # type: ignore[arg-type]


async def _write(layout: OCILayout, data: bytes, digest: str) -> None:
    async def chunks():
        yield data[:3]
        yield data[3:]
    await layout.write_blob(digest, len(data), chunks())


def test_layout_blob_is_atomic_and_verified(tmp_path):
    layout = OCILayout(tmp_path / "lay")
    layout.ensure()
    data = b"hello layout"
    good = sha256_digest(data)
    asyncio.run(_write(layout, data, good))
    assert layout.has_blob(good, len(data))
    wrong = sha256_digest(b"other")
    with pytest.raises(IntegrityError):
        asyncio.run(_write(layout, data, wrong))
    assert not layout.has_blob(wrong)
    # No partial files left behind.
    assert [p.name for p in (tmp_path / "lay/blobs/sha256").iterdir()] == [good.split(":")[1]]
    assert json.loads((tmp_path / "lay/oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}


def test_layout_index_names(tmp_path):
    layout = OCILayout(tmp_path / "lay")
    layout.ensure()
    raw = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": []}).encode()
    m = Manifest.parse(raw, None, where="x")
    layout.put_manifest_blob(m)
    asyncio.run(layout.tag("openshift/release:4.17.3-x86_64", m))
    asyncio.run(layout.tag("openshift/release:4.17.3-x86_64", m))
    assert [e.name for e in layout.entries()] == ["openshift/release:4.17.3-x86_64"]
    assert layout.get_manifest(m.digest).digest == m.digest


def test_manifest_descriptors_are_parsed_once_and_handed_out_as_copies():
    layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + "1" * 64, "size": 5}
    foreign = {**layer, "digest": "sha256:" + "2" * 64, "urls": ["https://example.com/l"]}
    raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                      "config": {"mediaType": "x", "digest": "sha256:" + "0" * 64, "size": 2},
                      "layers": [layer, foreign]}).encode()
    m, twin = Manifest.parse(raw, None, where="w"), Manifest.parse(raw, None, where="w")
    first = m.blobs()
    assert [d.digest[-1] for d in first] == ["0", "1"]  # config first; the foreign layer is not copied
    first.append(first[0])
    m.layers().clear()
    assert [d.digest[-1] for d in m.blobs()] == ["0", "1"] and len(m.layers()) == 2
    assert m.config() is m.config()  # parsed once
    assert m == twin and hash(m) == hash(twin)  # the memo is not part of the value
    # A bad descriptor is an error every time it is asked for, never a cached empty answer.
    bad = Manifest.parse(raw.replace(b'"size": 5', b'"size": -1'), None, where="w")
    for _ in range(2):
        with pytest.raises(RegistryProtocolError, match="no valid size"):
            bad.layers()


def test_the_retry_policy_comes_from_the_environment_once_per_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """MIRROR_WIZARD_RETRY_TIMES / _DELAY (skopeo's --retry-times/--retry-delay) set every run's policy,
    read when its settings are built; nonsense keeps the default, values are held to their bounds."""
    from core.registry import RetryPolicy
    from core.registry.settings import Access

    default = RetryPolicy.from_env({})
    assert (default.attempts, default.base_delay, default.max_delay) == (5, 0.5, 20.0)
    tuned = RetryPolicy.from_env({"MIRROR_WIZARD_RETRY_TIMES": "9", "MIRROR_WIZARD_RETRY_DELAY": "2"})
    assert (tuned.attempts, tuned.base_delay, tuned.max_delay) == (9, 2.0, 60.0)
    wild = RetryPolicy.from_env({"MIRROR_WIZARD_RETRY_TIMES": "500", "MIRROR_WIZARD_RETRY_DELAY": "soon"})
    assert (wild.attempts, wild.base_delay) == (20, 0.5)
    assert RetryPolicy.from_env({"MIRROR_WIZARD_RETRY_TIMES": "0"}).attempts == 1

    monkeypatch.setenv("MIRROR_WIZARD_RETRY_TIMES", "3")
    monkeypatch.setenv("MIRROR_WIZARD_RETRY_DELAY", "0.25")
    access = Access()
    assert access.retry is not None and (access.retry.attempts, access.retry.base_delay) == (3, 0.25)
    given = RetryPolicy(attempts=7)
    assert Access(retry=given).retry is given  # a caller's own policy wins over the environment
    monkeypatch.setenv("MIRROR_WIZARD_RETRY_TIMES", "8")
    assert access.retry.attempts == 3  # read once, when the run's settings were built
