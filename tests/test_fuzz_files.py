"""Hostile files, fuzzed (hypothesis): layouts' index.json and manifests, auth files and pull secrets,
the removable-media release record, image-stream files, and tar layers for release extract. Each parser
may accept its input or raise one of the project's errors with a one-line message; a traceback
(TypeError, KeyError, RecursionError ...) or a hang is a bug. Deep nesting gets its own strategy:
``json`` raises RecursionError, not ValueError, for it."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import json
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.authfile import parse_auth_data
from core.credentials import parse_pull_secret_text
from core.errors import MirrorError
from core.extract import extract_file
from core.layout import OCILayout
from core.manifest import Manifest
from core.release import releases_in_dir
from core.samples import load_configmap, load_imagestreams, load_streams

FUZZ = settings(max_examples=60, deadline=3000, suppress_health_check=[HealthCheck.too_slow])
HEX = "a" * 64

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
digests = st.one_of(st.just("sha256:" + HEX), st.just("sha256:" + "../" * 20 + "evil"), st.text(max_size=80),
                    st.from_regex(r"sha(256|512):[a-fA-F0-9./]{0,130}", fullmatch=True), json_values)


@st.composite
def deep_json(draw: st.DrawFn) -> str:
    """Nesting deeper than Python's recursion allows, in a place a parser looks at."""
    depth = draw(st.sampled_from([1200, 30000]))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    inner = opener * depth + "1" + closer * depth
    return draw(st.sampled_from([inner, '{"auths": ' + inner + "}", '{"manifests": ' + inner + "}",
                                 '{"releases": [' + inner + "]}", '{"kind": "List", "items": ' + inner + "}"]))


descriptor = st.fixed_dictionaries({}, optional={"digest": digests, "size": json_values | st.integers(),
                                                 "mediaType": json_values, "annotations": json_values,
                                                 "urls": json_values, "platform": json_values})
index_entry = st.one_of(json_values, descriptor, st.fixed_dictionaries({
    "digest": digests, "annotations": st.one_of(json_values, st.fixed_dictionaries({
        "org.opencontainers.image.ref.name": json_values | st.just("img")}))}))
index_doc = st.one_of(json_values, st.fixed_dictionaries({"manifests": st.one_of(json_values, st.lists(index_entry,
                                                                                                      max_size=4))}))
manifest_doc = st.fixed_dictionaries({}, optional={
    "schemaVersion": st.one_of(st.just(2), json_values), "mediaType": st.one_of(st.sampled_from([
        "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json"]), json_values),
    "config": st.one_of(descriptor, json_values), "layers": st.one_of(st.lists(descriptor, max_size=3), json_values),
    "manifests": st.one_of(st.lists(descriptor, max_size=3), json_values)})


def only_clear_errors(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except MirrorError as exc:
        text = str(exc)
        assert text and "\n" not in text.strip() and "Traceback" not in text
        assert len(text) < 2000, "an error message should not carry the whole input"
        return None


def as_text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# -- OCI layouts ------------------------------------------------------------------------------------


def with_layout(index_text: str, extra: dict[str, bytes] | None = None):
    folder = tempfile.TemporaryDirectory()
    root = Path(folder.name)
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (root / "blobs" / "sha256").mkdir(parents=True)
    for digest, data in (extra or {}).items():
        (root / "blobs" / "sha256" / digest[7:]).write_bytes(data)
    (root / "index.json").write_text(index_text)
    return folder, OCILayout(root)


@FUZZ
@given(st.one_of(index_doc.map(as_text), deep_json(), st.text(max_size=100)))
def test_layout_index(index_text: str) -> None:
    folder, layout = with_layout(index_text)
    with folder:
        entries = only_clear_errors(layout.entries)
        for entry in entries or []:
            only_clear_errors(layout.image_complete, entry.digest)
            only_clear_errors(layout.get_manifest, entry.digest)


@FUZZ
@given(st.one_of(manifest_doc.map(as_text), deep_json(), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_manifest_read_from_a_layout(text: str) -> None:
    raw = text.encode("utf-8", "surrogatepass")
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    index = {"manifests": [{"digest": digest, "size": len(raw),
                            "annotations": {"org.opencontainers.image.ref.name": "img"}}]}
    folder, layout = with_layout(json.dumps(index), {digest: raw})
    with folder:
        manifest = only_clear_errors(layout.get_manifest, digest)
        if manifest is not None:
            for part in (manifest.children, manifest.layers, manifest.config, manifest.blobs):
                only_clear_errors(part)
        only_clear_errors(layout.image_complete, digest)


@FUZZ
@given(st.one_of(manifest_doc.map(as_text), deep_json()))
def test_manifest_as_a_registry_serves_it(text: str) -> None:
    manifest = only_clear_errors(Manifest.parse, text.encode(), "application/vnd.oci.image.manifest.v1+json",
                                 where="registry.example.com/x:y")
    if manifest is not None:
        for part in (manifest.children, manifest.layers, manifest.config, manifest.blobs):
            only_clear_errors(part)


# -- auth files and pull secrets --------------------------------------------------------------------


auth_doc = st.one_of(json_values, st.fixed_dictionaries({"auths": st.one_of(json_values, st.dictionaries(
    st.text(max_size=20), st.one_of(json_values, st.fixed_dictionaries({}, optional={
        "auth": json_values | st.binary(max_size=20).map(lambda b: __import__("base64").b64encode(b).decode()),
        "username": json_values, "password": json_values, "identitytoken": json_values})), max_size=3))}))


@FUZZ
@given(st.one_of(auth_doc.map(as_text), deep_json()))
def test_auth_files_and_pull_secrets(text: str) -> None:
    auth = only_clear_errors(parse_auth_data, text, source="auth.json")
    if auth is not None:
        for registry in auth.registries():
            only_clear_errors(auth.lookup, str(registry).split("/")[0])
    only_clear_errors(parse_pull_secret_text, text, "pull-secret.json")


# -- the removable-media record ---------------------------------------------------------------------


record_entry = st.one_of(json_values, st.fixed_dictionaries({}, optional={
    "name": json_values, "version": json_values, "architecture": json_values, "digest": digests,
    "layout_names": json_values, "source_repository": json_values}))


@FUZZ
@given(st.one_of(st.fixed_dictionaries({"releases": st.lists(record_entry, max_size=3)}).map(as_text),
                 json_values.map(as_text), deep_json()))
def test_release_record(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "mirror-wizard-release.json").write_text(text)
        records = only_clear_errors(releases_in_dir, Path(folder))
        for record in records or []:  # what callers rely on once a record is accepted
            assert isinstance(record.get("name"), str) and isinstance(record.get("digest"), str)
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in record.get("layout_names", {}).items())


# -- image-stream files -----------------------------------------------------------------------------


stream_doc = st.one_of(json_values, st.fixed_dictionaries({
    "kind": st.sampled_from(["ImageStream", "List", "ConfigMap"]) | json_values,
    "metadata": json_values, "spec": json_values, "items": json_values, "data": json_values}))


@FUZZ
@given(st.one_of(stream_doc.map(as_text), deep_json(), st.text(max_size=200)),
       st.sampled_from([".json", ".yaml"]))
def test_image_stream_files(text: str, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"streams{suffix}"
        path.write_text(text)
        for loader in (load_imagestreams, load_streams):
            only_clear_errors(loader, [path] if loader is load_imagestreams else path)
        only_clear_errors(load_configmap, path)


def test_deep_yaml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "streams.yaml"
    path.write_text("a: " + "[" * 20000 + "]" * 20000 + "\n")
    only_clear_errors(load_streams, path)


# -- tar layers for release extract -----------------------------------------------------------------


def tar_bytes(members: list[tuple[str, bytes]], compress: bool) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, body in members:
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return gzip.compress(buffer.getvalue()) if compress else buffer.getvalue()


@FUZZ
@example(b"\x1f\x8b\x08")  # a gzip header cut short: CPython's tarfile raised TypeError
@given(st.one_of(st.binary(max_size=400),
                 st.tuples(st.lists(st.tuples(st.sampled_from(["usr/bin/oc", "./usr/bin/oc", "x"]),
                                              st.binary(max_size=50)), max_size=4), st.booleans(),
                           st.integers(0, 600)).map(lambda t: tar_bytes(t[0], t[1])[:t[2] or None])))
def test_tar_layers(data: bytes) -> None:
    async def chunks():
        yield data

    with tempfile.TemporaryDirectory() as folder:
        only_clear_errors(lambda: asyncio.run(extract_file(chunks(), "usr/bin/oc", Path(folder) / ".oc.t.partial",
                                                           where="layer")))


@pytest.mark.parametrize("depth", [5000, 200000])
def test_deeply_nested_pull_secret_is_one_line(depth: int) -> None:
    only_clear_errors(parse_pull_secret_text, "[" * depth + "]" * depth, "pull-secret.json")
    only_clear_errors(parse_auth_data, '{"auths":' + "[" * depth + "]" * depth + "}", source="auth.json")
