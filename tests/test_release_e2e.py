"""``mirror-wizard release list|info|mirror|extract`` end to end, against real registries.

The release is the sandbox's faithful small payload (tui/sandbox/content.py) seeded into
``plain_registry``; skopeo is the independent referee for what lands in registries and directories.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from core.errors import LocalStorageError
from core.manifest import INDEX_TYPES
from core.media import check_media_space
from core.registry import RegistrySession
from core.release import load_release, release_sources
from core.tlsconfig import TLSOptions
from tests.support import skopeo
from tests.support.repos import unique_repo
from tui.cli import main

PLAIN = {"tls_verify": False}
GRAPH_DIR = Path("/work/shared/fixtures/release/cincinnati-graph")
STABLE_48 = GRAPH_DIR / "134475077ed4eeaedf3c339f12915b9cdaf7d194_stable-4.8_amd64_v1.json"


def _digest_of(spec: str) -> str:
    return spec.rsplit("@", 1)[1]


def _expected_bytes(seeded) -> tuple[int, int]:
    """(unique blobs, their bytes) of release + components, computed by skopeo from the source."""
    blobs: dict[str, int] = {}

    def add(ref: str) -> None:
        raw = json.loads(skopeo.raw_manifest(ref, tls_verify=False))
        if "manifests" in raw:
            repo = ref.split("@")[0]
            for child in raw["manifests"]:
                add(f"{repo}@{child['digest']}")
            return
        for d in [raw["config"], *raw["layers"]]:
            blobs[d["digest"]] = d["size"]

    add(seeded.release_ref)
    for spec in seeded.component_refs.values():
        add(spec)
    return len(blobs), sum(blobs.values())


def _run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


# -- list ---------------------------------------------------------------------------------------


@dataclass
class GraphServer:
    body: bytes
    requests: list[dict] = field(default_factory=list)
    status: int = 200

    def start(self) -> str:
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                server_self.requests.append({"path": parts.path, "query": parse_qs(parts.query),
                                             "accept": self.headers.get("Accept")})
                body = server_self.body if server_self.status == 200 else b'{"kind":"invalid_params","value":"bad channel"}'
                self.send_response(server_self.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/upgrades_info/v1/graph"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def graph_server() -> Iterator[tuple[GraphServer, str]]:
    server = GraphServer(STABLE_48.read_bytes())
    url = server.start()
    yield server, url
    server.stop()


def test_list_reads_the_real_graph_newest_first(graph_server, capsys) -> None:
    server, url = graph_server
    code, out, err = _run(["release", "list", "--channel", "stable-4.8", "--graph-url", url], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("4.8.54  quay.io/openshift-release-dev/ocp-release@sha256:")
    versions = [line.split()[0] for line in lines if line and not line.startswith(" ") and "releases in" not in line]
    assert versions[:3] == ["4.8.54", "4.8.53", "4.8.52"] and "4.8.9" in versions and versions[-1].startswith("4.7.")
    assert versions.index("4.8.10") < versions.index("4.8.9")  # numeric, not text order
    assert "101 releases in stable-4.8 (x86_64)" in out
    assert "4.8.53" in lines[lines.index(next(x for x in lines if x.startswith("4.8.54"))) + 2]
    assert "conditional updates from (4): 4.7.3, 4.7.2, 4.7.1, 4.7.0" in out
    request = server.requests[-1]
    assert request["query"] == {"channel": ["stable-4.8"], "arch": ["amd64"]}
    assert request["accept"] == "application/json"


def test_list_json_and_arch_mapping(graph_server, capsys) -> None:
    server, url = graph_server
    code, out, _ = _run(["release", "list", "--channel", "stable-4.8", "--arch", "aarch64", "--graph-url", url,
                         "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    graph = json.loads(STABLE_48.read_text())
    assert len(data) == len(graph["nodes"])
    by_version = {r["version"]: r for r in data}
    # Edges are [from, to] node indexes: every edge shows up as an "upgrades from" on its target.
    for src, dst in graph["edges"]:
        assert graph["nodes"][src]["version"] in by_version[graph["nodes"][dst]["version"]]["upgrades_from"]
    assert sum(len(r["upgrades_from"]) for r in data) == len(graph["edges"])
    assert server.requests[-1]["query"]["arch"] == ["arm64"]


def test_list_errors_are_one_line(graph_server, capsys) -> None:
    server, url = graph_server
    server.status = 400
    code, _, err = _run(["release", "list", "--channel", "stable-9.9", "--graph-url", url], capsys)
    assert code == 2 and err.startswith("error:") and "400" in err and "Traceback" not in err
    code, _, err = _run(["release", "list", "--channel", "stable 4.8", "--graph-url", url], capsys)
    assert code == 2 and "stable-4.17" in err
    code, _, err = _run(["release", "list", "--channel", "stable-4.8", "--graph-url", "http://127.0.0.1:1/graph"], capsys)
    assert code == 1 and err.startswith("error:") and "Traceback" not in err


def test_list_from_registry(seeded_release, capsys) -> None:
    repo = f"{seeded_release.host}/openshift-release-dev/ocp-release"
    code, out, err = _run(["release", "list", "--insecure", "--from-registry", repo], capsys)
    assert code == 0, err
    assert f"{repo}:4.17.3-x86_64" in out


# -- info ---------------------------------------------------------------------------------------

def test_info_shows_version_metadata_components_and_bytes(seeded_release, capsys) -> None:
    code, out, err = _run(["release", "info", "--insecure", seeded_release.release_ref], capsys)
    assert code == 0, err
    assert "version:      4.17.3" in out and "architecture: x86_64" in out
    assert "https://access.redhat.com/errata/RHSA-2026:4173" in out
    assert "4.17.0, 4.17.1, 4.17.2" in out
    for name, spec in seeded_release.component_refs.items():
        assert f"  {name}" in out and spec in out
    blobs, total = _expected_bytes(seeded_release)
    assert f"{len(seeded_release.component_refs) + 1} images, {blobs} unique blobs" in out
    assert f"({total} bytes)" in out
    code, out, _ = _run(["release", "info", "--insecure", "--json", seeded_release.release_ref], capsys)
    data = json.loads(out)
    assert data["size"]["bytes"] == total and data["size"]["present_bytes"] is None
    assert data["components"] == seeded_release.component_refs
    assert data["digest"] == skopeo.digest(seeded_release.release_ref, **PLAIN)


def test_info_through_an_idms_file(seeded_release, tmp_path: Path, capsys) -> None:
    """The release named by its public name, read from where an ImageDigestMirrorSet points."""
    idms = tmp_path / "idms.yaml"
    idms.write_text(
        "apiVersion: config.openshift.io/v1\nkind: ImageDigestMirrorSet\nmetadata:\n  name: upstream\n"
        "spec:\n  imageDigestMirrors:\n  - mirrors:\n"
        f"    - {seeded_release.host}/openshift-release-dev\n    source: quay.io/openshift-release-dev\n")
    code, out, err = _run(["release", "info", "--insecure", "--idms-file", str(idms), "--json",
                           "quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["version"] == "4.17.3" and data["source_repository"] == "quay.io/openshift-release-dev/ocp-release"


# -- mirror -------------------------------------------------------------------------------------

def _set_name(entries: str) -> str:
    """The mirror set's name: after its content (core.mirror_config.MirrorInstructions.set_name)."""
    from core.mirror_config import MirrorInstructions

    pairs = [(e["source"], m) for e in yaml.safe_load(entries) for m in e["mirrors"]]
    return MirrorInstructions(pairs).set_name


def _expected_instructions(source_host: str, mirror: str, release_mirror: str | None = None) -> dict[str, str]:
    release_mirror = release_mirror or mirror
    entries = (f"- mirrors:\n  - {release_mirror}\n  source: {source_host}/openshift-release-dev/ocp-release\n"
               f"- mirrors:\n  - {mirror}\n  source: {source_host}/openshift-release-dev/ocp-v4.0-art-dev\n")
    indented = entries.replace("\n", "\n  ").replace("- mirrors", "  - mirrors", 1).rstrip(" ")
    return {
        "ics": "imageContentSources:\n" + entries,
        "ids": "imageDigestSources:\n" + entries,
        "icsp": ("apiVersion: operator.openshift.io/v1alpha1\nkind: ImageContentSourcePolicy\nmetadata:\n"
                 f"  name: {_set_name(entries)}\nspec:\n  repositoryDigestMirrors:\n" + indented),
        "idms": ("apiVersion: config.openshift.io/v1\nkind: ImageDigestMirrorSet\nmetadata:\n"
                 f"  name: {_set_name(entries)}\nspec:\n  imageDigestMirrors:\n" + indented),
    }


def _check_mirrored(seeded, mirror: str, release_at: str) -> None:
    for name, spec in seeded.component_refs.items():
        tag = f"{mirror}:4.17.3-x86_64-{name}"
        assert skopeo.digest(tag, **PLAIN) == _digest_of(spec), name
        # still pullable by its original digest, in the mirror repository
        assert skopeo.digest(f"{mirror}@{_digest_of(spec)}", **PLAIN) == _digest_of(spec)
    pod = json.loads(skopeo.raw_manifest(f"{mirror}:4.17.3-x86_64-pod", **PLAIN))
    assert pod["mediaType"] in INDEX_TYPES and len(pod["manifests"]) == 2
    assert skopeo.digest(release_at, **PLAIN) == skopeo.digest(seeded.release_ref, **PLAIN)


def test_mirror_to_registry_prints_exact_instructions_and_rerun_moves_nothing(
        seeded_release, plain_registry, tmp_path: Path, capsys) -> None:
    mirror = f"{plain_registry.host}/{unique_repo('rel')}"
    manifests = tmp_path / "manifests"
    code, out, err = _run(["release", "mirror", "--insecure", "--from", seeded_release.release_ref, "--to", mirror,
                           "--manifests-dir", str(manifests)], capsys)
    assert code == 0, err
    _check_mirrored(seeded_release, mirror, f"{mirror}:4.17.3-x86_64")
    expected = _expected_instructions(seeded_release.host, mirror)
    assert f"Update image:  {mirror}:4.17.3-x86_64\nMirror prefix: {mirror}\n" in out
    # 4.17.3: imageDigestSources and the IDMS only (the installer refuses both blocks; no ICSP past 4.12)
    for key in ("ids", "idms"):
        assert expected[key] in out, key
    assert "imageContentSources" not in out and "ImageContentSourcePolicy" not in out
    assert sorted(p.name for p in manifests.iterdir()) == ["imageDigestMirrorSet.yaml",
                                                          "install-config-imageDigestSources.yaml"]
    assert (manifests / "install-config-imageDigestSources.yaml").read_text() == expected["ids"]
    assert (manifests / "imageDigestMirrorSet.yaml").read_text() == expected["idms"]

    code, out, _ = _run(["release", "mirror", "--insecure", "--json", "--from", seeded_release.release_ref,
                         "--to", mirror], capsys)
    again = json.loads(out)
    assert code == 0 and again["ok"]
    assert again["bytes"]["copied"] == 0 and again["blobs"]["copied"] == 0
    assert again["images"]["done"] == len(seeded_release.component_refs) + 1
    # --json carries the same blocks, in the shape install-config and the mirror sets use
    assert {"imageDigestSources": again["instructions"]["imageDigestSources"]} == yaml.safe_load(expected["ids"])
    assert again["instructions"]["idms"] == yaml.safe_load(expected["idms"])

    code, out, _ = _run(["release", "info", "--insecure", "--json", "--to", mirror, seeded_release.release_ref], capsys)
    size = json.loads(out)["size"]
    assert size["present_bytes"] == size["bytes"] > 0


def test_mirror_by_digest_with_a_separate_release_repository(seeded_release, plain_registry, capsys) -> None:
    digest = skopeo.digest(seeded_release.release_ref, **PLAIN)
    by_digest = seeded_release.release_ref.rsplit(":", 1)[0] + "@" + digest
    mirror = f"{plain_registry.host}/{unique_repo('rel-digest')}"
    release_repo = f"{plain_registry.host}/{unique_repo('rel-only')}"
    code, out, err = _run(["release", "mirror", "--insecure", "--from", by_digest, "--to", mirror,
                           "--to-release-image", f"{release_repo}:4.17.3"], capsys)
    assert code == 0, err
    _check_mirrored(seeded_release, mirror, f"{release_repo}:4.17.3")
    expected = _expected_instructions(seeded_release.host, mirror, release_mirror=release_repo)
    assert expected["idms"] in out and expected["ids"] in out
    with pytest.raises(subprocess.CalledProcessError):
        skopeo.inspect(f"{mirror}:4.17.3-x86_64", **PLAIN)  # the release went only where it was told


def test_dry_run_copies_nothing_and_lists_every_image(seeded_release, plain_registry, capsys) -> None:
    mirror = f"{plain_registry.host}/{unique_repo('rel-dry')}"
    code, out, err = _run(["release", "mirror", "--insecure", "--dry-run", "--from", seeded_release.release_ref,
                           "--to", mirror], capsys)
    assert code == 0, err
    copy_lines = [line for line in out.splitlines() if line.startswith("copy ")]
    assert len(copy_lines) == len(seeded_release.component_refs) + 1
    assert any(f"{mirror}:4.17.3-x86_64-installer" in line and "KiB" in line for line in copy_lines)
    assert _expected_instructions(seeded_release.host, mirror)["idms"] in out
    with pytest.raises(subprocess.CalledProcessError):
        skopeo.inspect(f"{mirror}:4.17.3-x86_64-cli", **PLAIN)
    with pytest.raises(subprocess.CalledProcessError):
        skopeo.inspect(f"{mirror}:4.17.3-x86_64", **PLAIN)


def test_mirror_to_tls_registry_with_login(seeded_release, tls_registry, auth_file, pki, capsys) -> None:
    mirror = f"{tls_registry.host}/{unique_repo('rel-tls')}"
    code, _, err = _run(["release", "mirror", "-a", str(auth_file), "--ca-file", str(pki.ca_file),
                           "--max-per-registry", "3", "--from", seeded_release.release_ref, "--to", mirror], capsys)
    # The source is plain HTTP: without --insecure it must be refused with a clear one-line error.
    assert code == 1 and err.startswith("error:") and seeded_release.host in err and "Traceback" not in err
    code, _, err = _run(["release", "mirror", "-a", str(auth_file), "--ca-file", str(pki.ca_file), "--insecure",
                           "--from", seeded_release.release_ref, "--to", mirror], capsys)
    assert code == 0, err
    cli = f"{mirror}:4.17.3-x86_64-cli"
    assert skopeo.digest(cli, authfile=auth_file, cert_dir=pki.dir) == _digest_of(seeded_release.component_refs["cli"])


def test_to_dir_then_from_dir_gives_the_same_tags_digests_and_instructions(
        seeded_release, plain_registry, tmp_path: Path, capsys) -> None:
    media = tmp_path / "media"
    code, out, err = _run(["release", "mirror", "--insecure", "--from", seeded_release.release_ref,
                           "--to-dir", str(media)], capsys)
    assert code == 0, err
    assert "space:" in err and "free" in err
    assert (media / "oci-layout").is_file() and (media / "index.json").is_file()
    release_digest = skopeo.digest(seeded_release.release_ref, **PLAIN)
    assert skopeo.digest(f"oci:{media}:openshift/release:4.17.3-x86_64") == release_digest
    for name, spec in seeded_release.component_refs.items():
        assert skopeo.digest(f"oci:{media}:openshift/release:4.17.3-x86_64-{name}") == _digest_of(spec)
    inspected = skopeo.inspect(f"oci:{media}:openshift/release:4.17.3-x86_64-installer")
    assert inspected["Architecture"] == "amd64" and len(inspected["Layers"]) == 3
    assert f"skopeo inspect oci:{media}:openshift/release:4.17.3-x86_64" in out
    # no partial files left behind
    assert not [p for p in (media / "blobs" / "sha256").iterdir() if p.name.startswith(".")]

    code, out, _ = _run(["release", "mirror", "--insecure", "--json", "--from", seeded_release.release_ref,
                         "--to-dir", str(media)], capsys)
    rerun = json.loads(out)
    assert code == 0 and rerun["bytes"]["copied"] == 0 and rerun["blobs"]["copied"] == 0

    mirror = f"{plain_registry.host}/{unique_repo('rel-fromdir')}"
    code, out, err = _run(["release", "mirror", "--insecure", "--from-dir", str(media), "--to", mirror], capsys)
    assert code == 0, err
    _check_mirrored(seeded_release, mirror, f"{mirror}:4.17.3-x86_64")
    expected = _expected_instructions(seeded_release.host, mirror)
    for key in ("ids", "idms"):
        assert expected[key] in out, key
    assert "imageContentSources" not in out

    code, out, _ = _run(["release", "mirror", "--insecure", "--json", "--from-dir", str(media), "--to", mirror], capsys)
    assert code == 0 and json.loads(out)["bytes"]["copied"] == 0


def test_from_dir_refuses_an_incomplete_directory(seeded_release, plain_registry, tmp_path: Path, capsys) -> None:
    media = tmp_path / "media"
    assert main(["release", "mirror", "--insecure", "--from", seeded_release.release_ref, "--to-dir", str(media)]) == 0
    capsys.readouterr()
    blobs = media / "blobs" / "sha256"
    etcd = _digest_of(seeded_release.component_refs["etcd"])
    (blobs / etcd.split(":")[1]).unlink()  # a whole image gone
    console = json.loads(skopeo.raw_manifest(f"oci:{media}:openshift/release:4.17.3-x86_64-console"))
    own_layer = console["layers"][-1]
    (blobs / own_layer["digest"].split(":")[1]).write_bytes(b"half")  # a layer cut short
    code, _, err = _run(["release", "mirror", "--insecure", "--from-dir", str(media), "--to",
                         f"{plain_registry.host}/{unique_repo('rel-incomplete')}"], capsys)
    assert code == 2 and "etcd" in err and "console" in err and "--to-dir" in err and "Traceback" not in err
    # a rerun of --to-dir repairs it, moving only what is missing
    code, out, _ = _run(["release", "mirror", "--insecure", "--json", "--from", seeded_release.release_ref,
                         "--to-dir", str(media)], capsys)
    data = json.loads(out)
    assert code == 0 and data["blobs"]["copied"] == 1 and data["bytes"]["copied"] == own_layer["size"]
    assert (blobs / etcd.split(":")[1]).is_file()
    assert (blobs / own_layer["digest"].split(":")[1]).stat().st_size == own_layer["size"]
    mirror = f"{plain_registry.host}/{unique_repo('rel-repaired')}"
    assert main(["release", "mirror", "--insecure", "--from-dir", str(media), "--to", mirror]) == 0
    assert skopeo.digest(f"{mirror}:4.17.3-x86_64-console", **PLAIN) == _digest_of(seeded_release.component_refs["console"])


def test_to_dir_rerun_rewrites_a_blob_damaged_on_the_media(seeded_release, tmp_path: Path, capsys) -> None:
    media = tmp_path / "media"
    assert main(["release", "mirror", "--insecure", "--from", seeded_release.release_ref, "--to-dir", str(media)]) == 0
    capsys.readouterr()
    console = json.loads(skopeo.raw_manifest(f"oci:{media}:openshift/release:4.17.3-x86_64-console"))
    layer = console["layers"][-1]
    path = media / "blobs" / "sha256" / layer["digest"].split(":")[1]
    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF  # same size, wrong bytes: what a bad USB stick does
    path.write_bytes(bytes(damaged))
    code, out, err = _run(["release", "mirror", "--insecure", "--json", "--from", seeded_release.release_ref,
                           "--to-dir", str(media)], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["blobs"]["copied"] == 1 and data["bytes"]["copied"] == layer["size"]
    assert "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest() == layer["digest"]


def test_to_dir_dry_run_writes_nothing(seeded_release, tmp_path: Path, capsys) -> None:
    media = tmp_path / "dry-media"
    code, _, err = _run(["release", "mirror", "--insecure", "--dry-run", "--from", seeded_release.release_ref,
                           "--to-dir", str(media)], capsys)
    assert code == 0, err
    assert not media.exists()  # not even the empty layout: a dry run writes nothing


def test_short_of_space_fails_before_copying(seeded_release, tmp_path: Path) -> None:
    media = tmp_path / "small"

    async def go() -> None:
        async with RegistrySession(tls=TLSOptions(insecure=True)) as session:
            info = await load_release(session, seeded_release.release_ref)
            space = await check_media_space(session, media, release_sources(info))
            needed, free = space.needed, space.free
            _, total = _expected_bytes(seeded_release)
            assert needed >= total and free > 0
            with pytest.raises(LocalStorageError, match="free"):
                # free + 1 GiB: the disk may gain some space between the two readings (other jobs)
                await check_media_space(session, media, release_sources(info), reserve=free + (1 << 30))

    asyncio.run(go())
    assert not media.exists()


# -- extract ------------------------------------------------------------------------------------

@pytest.mark.parametrize("command,expected", [("openshift-install", "openshift-install 4.17.3"),
                                              ("oc", "Client Version: 4.17.3")])
def test_extract_writes_an_executable_that_runs(seeded_release, tmp_path: Path, capsys, command, expected) -> None:
    code, _, err = _run(["release", "extract", "--insecure", "--command", command, "--to", str(tmp_path),
                           seeded_release.release_ref], capsys)
    assert code == 0, err
    binary = tmp_path / command
    assert binary.is_file() and os.access(binary, os.X_OK) and (binary.stat().st_mode & 0o777) == 0o755
    output = subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout
    assert expected in output
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    if command == "openshift-install":  # pinned to exactly this release, by digest, as oc does
        repository = seeded_release.release_ref.rsplit(":", 1)[0]
        assert f"release image {repository}@{seeded_release.release_digest}" in output


def test_extract_from_a_mirror_directory(seeded_release, tmp_path: Path, capsys) -> None:
    media = tmp_path / "media"
    assert main(["release", "mirror", "--insecure", "--from", seeded_release.release_ref, "--to-dir", str(media)]) == 0
    capsys.readouterr()
    out_dir = tmp_path / "bin"
    code, _, err = _run(["release", "extract", "--command", "openshift-install", "--to", str(out_dir),
                         f"oci:{media}"], capsys)
    assert code == 0, err
    result = subprocess.run([str(out_dir / "openshift-install")], capture_output=True, text=True, check=True)
    assert "openshift-install 4.17.3" in result.stdout
    # No registry to name from a directory: the original repository, which the cluster's IDMS redirects.
    assert f"@{seeded_release.release_digest}" in result.stdout
    assert "not pinned" not in result.stdout


def test_not_a_release_is_a_clear_error(seeded_release, capsys) -> None:
    code, _, err = _run(["release", "info", "--insecure", seeded_release.component_refs["etcd"]], capsys)
    assert code == 2 and "not an OpenShift release image" in err and "Traceback" not in err
    code, _, err = _run(["release", "mirror", "--insecure", "--from", seeded_release.release_ref], capsys)
    assert code == 2 and "--to" in err


def test_extract_from_the_mirror_when_the_original_is_out_of_reach(seeded_release, plain_registry, tmp_path: Path,
                                                                    capsys) -> None:
    mirror = f"{plain_registry.host}/{unique_repo('rel-extract')}"
    assert main(["release", "mirror", "--insecure", "--from", seeded_release.release_ref, "--to", mirror]) == 0
    capsys.readouterr()
    # Every read of the original component repository is sent somewhere that does not answer.
    idms = tmp_path / "idms.yaml"
    idms.write_text("kind: ImageDigestMirrorSet\napiVersion: config.openshift.io/v1\nmetadata:\n  name: away\n"
                    "spec:\n  imageDigestMirrors:\n"
                    f"  - source: {seeded_release.host}/openshift-release-dev/ocp-v4.0-art-dev\n"
                    "    mirrors: [127.0.0.1:9/nowhere]\n")
    code, out, err = _run(["release", "extract", "--insecure", "--idms-file", str(idms), "--command", "oc",
                           "--to", str(tmp_path / "bin"), f"{mirror}:4.17.3-x86_64"], capsys)
    assert code == 0, err
    assert "executable" in out
    result = subprocess.run([str(tmp_path / "bin" / "oc")], capture_output=True, text=True, check=True)
    assert "Client Version: 4.17.3" in result.stdout
