"""OCI layouts prepared by someone else (a disk carried in, a folder in a shared place): the copy never
reads or writes outside the source and destination folders, never follows a link planted in a layout,
and a malformed layout is one line of error, never a traceback. Copies run through the real CLI."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import NotFound, ReleaseError
from core.layout import OCILayout
from core.reference import is_valid_digest, validate_digest

pytestmark = pytest.mark.timeout(120)
CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
# Passes a check of prefix and length only (71 characters), and walks out of blobs/sha256.
ESCAPING = "sha256:" + "../" * 20 + "evil"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def put_blob(root: Path, data: bytes) -> str:
    digest = digest_of(data)
    folder = root / "blobs" / "sha256"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / digest[7:]).write_bytes(data)
    return digest


def manifest_bytes(layers: list[tuple[str, int]], config: tuple[str, int] | None = None) -> bytes:
    cfg = config or (digest_of(CONFIG), len(CONFIG))
    return json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg[0], "size": cfg[1]},
        "layers": [{"mediaType": LAYER, "digest": d, "size": s} for d, s in layers],
    }).encode()


def make_layout(root: Path, layers: list[tuple[str, int]], *, name: str = "img", blobs: list[bytes] = ()) -> str:
    """A layout with one image named ``name`` whose manifest lists ``layers`` as given (hostile or not)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    put_blob(root, CONFIG)
    for blob in blobs:
        put_blob(root, blob)
    raw = manifest_bytes(layers)
    digest = put_blob(root, raw)
    index = {"schemaVersion": 2, "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest, "size": len(raw),
                                                "annotations": {"org.opencontainers.image.ref.name": name}}]}
    (root / "index.json").write_text(json.dumps(index))
    return digest


def mirror(src: str, dst: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tui.cli", "image", "mirror", src, dst, *extra],
                          capture_output=True, text=True, timeout=90, check=False)


def one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode in (1, 2), (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert "cancelled by the user" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert lines, result.stderr
    for word in words:
        assert word in lines[-1], lines[-1]
    return lines[-1]


def tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# -- the digest grammar --------------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    ESCAPING, "sha256:" + "A" * 64, "sha256:" + "a" * 63, "sha256:" + "a" * 65, "md5:" + "a" * 32,
    "sha256:/" + "a" * 63, "sha512:" + "a" * 64, "sha256:" + "a" * 64 + "\n", " sha256:" + "a" * 64, 7, None,
])
def test_digests_outside_the_oci_grammar_are_refused(value: object) -> None:
    assert not is_valid_digest(value)
    with pytest.raises(ReleaseError, match="not a valid digest"):
        validate_digest(value, where="here", error=ReleaseError)


def test_registered_algorithms_are_accepted() -> None:
    assert validate_digest("sha256:" + "0" * 64) and validate_digest("sha512:" + "f" * 128)


def test_layout_never_builds_a_path_from_an_invalid_digest(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path / "l")
    layout.ensure()
    for call in (layout.blob_path, layout.has_blob, layout.read_blob_bytes, layout.remove_blob):
        with pytest.raises(ReleaseError):
            call(ESCAPING)


# -- 1. nothing read or written outside ---------------------------------------------------------


def test_a_manifest_naming_an_escaping_digest_writes_nothing_outside(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_layout(src, [(ESCAPING, 4)])
    before = tree(tmp_path)
    result = mirror(f"oci:{src}:img", f"oci:{dst}:img")
    one_line_error(result, "not a valid digest")
    created = {p for p in tree(tmp_path) - before if not p.startswith("dst")}
    assert not created, f"the copy created files outside its folders: {created}"
    assert not (tmp_path / "evil").exists()


def test_a_blob_that_is_a_link_out_of_the_layout_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_bytes(b"what the attacker wants to carry away\n")
    digest = digest_of(secret.read_bytes())
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_layout(src, [(digest, secret.stat().st_size)])
    (src / "blobs" / "sha256" / digest[7:]).symlink_to(secret)
    result = mirror(f"oci:{src}:img", f"oci:{dst}:img")
    one_line_error(result, "symbolic link")
    assert not (dst / "blobs" / "sha256" / digest[7:]).exists(), "the outside file was copied"


def test_a_blobs_folder_that_is_a_link_is_not_written_through(tmp_path: Path) -> None:
    layer = os.urandom(3000)
    src, dst, outside = tmp_path / "src", tmp_path / "dst", tmp_path / "outside"
    make_layout(src, [(digest_of(layer), len(layer))], blobs=[layer])
    outside.mkdir()
    dst.mkdir()
    (dst / "blobs").symlink_to(outside)
    result = mirror(f"oci:{src}:img", f"oci:{dst}:img")
    one_line_error(result, "symbolic link")
    assert not list(outside.rglob("*")), "blobs were written through the planted link"


def test_an_index_json_that_is_a_link_is_refused(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_layout(src, [])
    real = tmp_path / "elsewhere.json"
    (src / "index.json").rename(real)
    (src / "index.json").symlink_to(real)
    one_line_error(mirror(f"oci:{src}:img", f"oci:{dst}:img"), "symbolic link")


def test_a_planted_link_at_a_blob_name_in_the_destination_is_replaced_not_followed(tmp_path: Path) -> None:
    layer = os.urandom(2000)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"keep me")
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_layout(src, [(digest_of(layer), len(layer))], blobs=[layer])
    (dst / "blobs" / "sha256").mkdir(parents=True)
    (dst / "blobs" / "sha256" / digest_of(layer)[7:]).symlink_to(victim)
    result = mirror(f"oci:{src}:img", f"oci:{dst}:img")
    assert result.returncode == 0, result.stderr
    assert victim.read_bytes() == b"keep me"
    blob = dst / "blobs" / "sha256" / digest_of(layer)[7:]
    assert not blob.is_symlink() and blob.read_bytes() == layer


# -- 5. malformed layouts: one line -------------------------------------------------------------


@pytest.mark.parametrize("index", [
    '{"schemaVersion": 2, "manifests": [5]}',
    '{"schemaVersion": 2, "manifests": [{"digest": 7, "annotations": {"org.opencontainers.image.ref.name": "img"}}]}',
    ('{"schemaVersion": 2, "manifests": [{"digest": "sha256:../../../../etc/passwd", '
     '"annotations": {"org.opencontainers.image.ref.name": "img"}}]}'),
    '{"schemaVersion": 2, "manifests": [{"digest": "sha256:' + "a" * 64 + '", "annotations": ["x"]}]}',
    '{"schemaVersion": 2, "manifests": [{"digest": "sha256:' + "a" * 64 + '", "size": "big"}]}',
    '{"manifests": {"a": 1}}',
    "[" * 100000 + "]" * 100000,
    '{"manifests": ' + "[" * 5000 + "]" * 5000 + "}",
    "\xff\xfe garbage",
], ids=["number-entry", "number-digest", "escaping-digest", "list-annotations", "text-size", "object-manifests",
        "deep-list", "deep-manifests", "not-utf8"])
def test_a_malformed_index_json_is_one_line(tmp_path: Path, index: str) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_layout(src, [])
    (src / "index.json").write_bytes(index.encode("utf-8", "surrogateescape"))
    one_line_error(mirror(f"oci:{src}:img", f"oci:{dst}:img"))


@pytest.mark.parametrize("manifest", [
    b'{"schemaVersion": 2, "mediaType": "' + OCI_MANIFEST.encode() + b'", "layers": 5}',
    b'{"schemaVersion": 2, "mediaType": "' + OCI_MANIFEST.encode() + b'", "layers": [{"digest": "sha256:'
    + b"a" * 64 + b'", "size": 1, "urls": 3}]}',
    b'{"schemaVersion": 2, "mediaType": "' + OCI_MANIFEST.encode() + b'", "layers": [{"digest": "sha256:'
    + b"a" * 64 + b'", "size": 1, "annotations": [1, 2]}]}',
    b'{"schemaVersion": 2, "mediaType": 5}',
    b'{"schemaVersion": 2, "config": ' + b"[" * 50000 + b"]" * 50000 + b"}",
], ids=["number-layers", "number-urls", "list-annotations", "number-mediatype", "deep-config"])
def test_a_malformed_manifest_in_a_layout_is_one_line(tmp_path: Path, manifest: bytes) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_layout(src, [])
    digest = put_blob(src, manifest)
    index = json.loads((src / "index.json").read_text())
    index["manifests"][0].update(digest=digest, size=len(manifest))
    (src / "index.json").write_text(json.dumps(index))
    one_line_error(mirror(f"oci:{src}:img", f"oci:{dst}:img"))


def test_an_oversized_manifest_blob_is_refused_unread(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path / "l")
    layout.ensure()
    big = b"{" + b" " * (5 << 20) + b"}"
    digest = put_blob(layout.root, big)
    with pytest.raises(ReleaseError, match="larger than"):
        layout.get_manifest(digest)


# -- 8. what an interrupted run leaves -----------------------------------------------------------


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_partials_of_a_dead_run_are_removed_by_the_next_one(tmp_path: Path) -> None:
    layer = os.urandom(5000)
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_layout(src, [(digest_of(layer), len(layer))], blobs=[layer])
    folder = dst / "blobs" / "sha256"
    folder.mkdir(parents=True)
    hexpart = digest_of(layer)[7:]
    stale = folder / f".{hexpart}.{dead_pid()}.0123456789ab.partial"
    stale.write_bytes(layer[:100])
    live = folder / f".{'b' * 64}.{os.getpid()}.0123456789ab.partial"  # a live writer's: left alone
    live.write_bytes(b"x")
    old_tmp = dst / ".index.json.abcdef012345.tmp"
    old_tmp.write_text("{")
    os.utime(old_tmp, (1, 1))
    result = mirror(f"oci:{src}:img", f"oci:{dst}:img")
    assert result.returncode == 0, result.stderr
    assert not stale.exists() and not old_tmp.exists()
    assert live.exists()


def test_a_missing_layout_source_is_one_line(tmp_path: Path) -> None:
    one_line_error(mirror(f"oci:{tmp_path / 'nothing'}:img", f"oci:{tmp_path / 'dst'}:img"))


def test_missing_blob_folders_read_as_absent(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path / "l")
    assert not layout.has_blob("sha256:" + "a" * 64)
    with pytest.raises(NotFound):
        layout.read_blob_bytes("sha256:" + "a" * 64)
