"""No silent ambiguity: one destination tag has one source; a path a layer holds twice is what a
container sees (the last entry); the CA ConfigMap carries the certificates and nothing else."""

from __future__ import annotations

import asyncio
import gzip
import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from core.ca import ca_manifests
from core.copier import CopyTask
from core.endpoints import parse_location
from core.errors import MappingError, ReleaseError
from core.extract import extract_file
from core.mapping import check_unique_destinations, pairs_to_tasks, parse_mapping_text

pytestmark = pytest.mark.timeout(60)


# -- one source per destination tag --------------------------------------------------------------


def test_two_sources_for_one_destination_tag_is_an_error_naming_both_lines() -> None:
    text = ("quay.io/a/one:1=mirror.example.com/apps/x:v1\n"
            "# a comment\n"
            "quay.io/a/two:1=mirror.example.com/apps/x:v1\n")
    with pytest.raises(MappingError, match="line 1 and .*line 3 both write mirror.example.com/apps/x:v1"):
        parse_mapping_text(text)


def test_a_bare_destination_inherits_the_tag_and_collides_too() -> None:
    with pytest.raises(MappingError, match="both write"):
        parse_mapping_text("quay.io/a/one:v1=mirror.example.com/x\nquay.io/b/two:v1=mirror.example.com/x\n")


def test_the_same_pair_twice_and_different_tags_are_fine() -> None:
    tasks = parse_mapping_text("quay.io/a/one:1=m.example.com/x:v1\nquay.io/a/one:1=m.example.com/x:v1\n"
                               "quay.io/a/two:1=m.example.com/x:v2\nquay.io/a/two:1=M.example.com/y:v1\n")
    assert len(tasks) == 4


def test_positional_pairs_and_directory_names_are_checked(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="arguments? 1 and argument 3"):
        pairs_to_tasks(["quay.io/a/one:1", f"oci:{tmp_path}:img", "quay.io/a/two:1", f"oci:{tmp_path}/./:img"])


def test_extra_tags_collide_with_plain_tags() -> None:
    one = CopyTask(parse_location("quay.io/a/one:1"), parse_location("m.example.com/x:v1"), extra_tags=("latest",))
    two = CopyTask(parse_location("quay.io/a/two:1"), parse_location("m.example.com/x:latest"))
    with pytest.raises(MappingError, match="entries 1 and 2 both write m.example.com/x:latest"):
        check_unique_destinations([one, two])


def test_the_mirror_command_refuses_before_copying_anything(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.txt"
    mapping.write_text("127.0.0.1:1/a/two:1=127.0.0.1:2/x:v1\n")
    result = subprocess.run([sys.executable, "-m", "tui.cli", "image", "mirror", "-f", str(mapping),
                             "127.0.0.1:1/a/one:1", "127.0.0.1:2/x:v1"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stderr
    assert "both write 127.0.0.1:2/x:v1" in result.stderr and "Traceback" not in result.stderr


# -- release extract: the last entry --------------------------------------------------------------


def layer(*members: tuple[str, bytes | str]) -> bytes:
    """A gzip tar; a str body is a symlink target."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, body in members:
            info = tarfile.TarInfo(name)
            if isinstance(body, str):
                info.type, info.linkname = tarfile.SYMTYPE, body
                tar.addfile(info)
            else:
                info.size = len(body)
                tar.addfile(info, io.BytesIO(body))
    return gzip.compress(buffer.getvalue())


def extract(data: bytes, tmp: Path) -> int | None:
    async def chunks():
        for start in range(0, len(data), 1000):
            yield data[start:start + 1000]

    return asyncio.run(extract_file(chunks(), "usr/bin/oc", tmp, where="test layer"))


def test_a_path_held_twice_gives_the_last_entry(tmp_path: Path) -> None:
    tmp = tmp_path / ".oc.partial"
    size = extract(layer(("usr/bin/oc", b"the first, longer, shadowed binary"), ("usr/bin/kubectl", b"k"),
                         ("./usr/bin/oc", b"the last one")), tmp)
    assert size == len(b"the last one") and tmp.read_bytes() == b"the last one"
    assert tmp.stat().st_mode & 0o777 == 0o755


def test_a_file_then_a_link_is_the_link(tmp_path: Path) -> None:
    tmp = tmp_path / ".oc.partial"
    with pytest.raises(ReleaseError, match="link to openshift-client"):
        extract(layer(("usr/bin/oc", b"binary"), ("usr/bin/oc", "openshift-client")), tmp)
    assert not tmp.exists()


def test_a_link_then_a_file_is_the_file(tmp_path: Path) -> None:
    tmp = tmp_path / ".oc.partial"
    assert extract(layer(("usr/bin/oc", "elsewhere"), ("usr/bin/oc", b"binary")), tmp) == 6


def test_a_layer_without_the_path_creates_nothing(tmp_path: Path) -> None:
    tmp = tmp_path / ".oc.partial"
    assert extract(layer(("usr/bin/kubectl", b"k")), tmp) is None
    assert not tmp.exists()


def test_a_planted_file_at_the_temporary_name_is_not_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    tmp = tmp_path / ".oc.partial"
    tmp.symlink_to(victim)
    with pytest.raises(Exception, match="cannot write"):
        extract(layer(("usr/bin/oc", b"binary")), tmp)
    assert victim.read_bytes() == b"precious"


# -- ca manifests: the certificates only ---------------------------------------------------------


def test_the_configmap_holds_only_the_parsed_certificates(pki) -> None:
    pem = pki.ca_file.read_text()
    noisy = ("Bag Attributes\n    friendlyName: our CA\nsubject=/CN=x\n" + pem
             + "\n# internal: https://wiki.example.com/ca-password-is-hunter2\n")
    manifests = ca_manifests("mirror.example.com:8443", noisy, ca_path="ca.crt")
    [value] = manifests.configmap["data"].values()
    assert value == pem
    assert "hunter2" not in manifests.yaml() and "Bag Attributes" not in manifests.yaml()
    assert any("besides" in note for note in manifests.notes)


def test_a_clean_file_gives_no_note(pki) -> None:
    manifests = ca_manifests("mirror.example.com:8443", pki.ca_file.read_text(), ca_path="ca.crt")
    assert not any("besides" in note for note in manifests.notes)


def test_a_whiteout_in_an_upper_layer_hides_the_file_below(tmp_path: Path) -> None:
    tmp = tmp_path / ".oc.partial"
    with pytest.raises(ReleaseError, match="deletes /usr/bin/oc"):
        extract(layer(("usr/bin/.wh.oc", b"")), tmp)
    with pytest.raises(ReleaseError, match="deletes /usr/bin/oc"):
        extract(layer(("usr/.wh..wh..opq", b"")), tmp)
    with pytest.raises(ReleaseError, match="deletes /usr/bin/oc"):
        extract(layer(("usr/.wh.bin", b"")), tmp)
    assert extract(layer(("usr/bin/.wh.kubectl", b""), ("usr/.wh.lib", b"")), tmp) is None
    assert extract(layer(("usr/bin/.wh..wh..opq", b""), ("usr/bin/oc", b"new")), tmp) == 3  # opaque, then refilled
