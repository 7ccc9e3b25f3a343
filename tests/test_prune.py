"""release prune: three releases mirrored 4.17.1 → 4.17.3 into a real docker-registry (deletes enabled),
pruned down to 4.17.3. Generating deletes nothing; applying removes the older releases and only what
nothing kept uses (a component shared with 4.17.3, a cosign signature of a kept image and a manifest a tag
we did not write names all stay); every 4.17.3 image still copies whole with skopeo."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from core.copier import CopyOptions, CopyTask, copy_images
from core.endpoints import RegistryLocation
from core.errors import InputError
from core.prune import Kind, classify, load_prune_file
from core.reference import parse_reference
from core.registry import RegistrySession
from core.release import load_release, release_tasks
from core.sigstore import cosign_tag
from core.tlsconfig import TLSOptions
from tests.conftest import needs_registry
from tests.support import skopeo
from tests.support.day2_release import build_day2_release, push_layout
from tests.support.repos import unique_repo
from tests.test_sigstore import cosign_signature
from tui.cli import main
from tui.sandbox.content import COMPONENT_REPO, new_builder
from tui.sandbox.registry import make_registry

VERSIONS = ["4.17.1", "4.17.2", "4.17.3"]
FOREIGN_TAG = "admin-pinned"
LOOKALIKE_TAG = "4.17.1-x86_64-mytool"


def test_tags_we_wrote_are_told_apart_from_others() -> None:
    assert classify("4.17.3-x86_64").kind is Kind.RELEASE
    component = classify("4.17.3-x86_64-cluster-version-operator")
    assert component.kind is Kind.COMPONENT and component.release == "4.17.3-x86_64"
    pre = classify("4.18.0-rc.1-aarch64-etcd")
    assert pre.kind is Kind.COMPONENT and pre.release == "4.18.0-rc.1-aarch64"
    assert classify(f"sha256-{'a' * 64}.sig").signed == f"sha256:{'a' * 64}"
    for foreign in ("latest", "v4.17", "4.17.3", "4.17.3-x86_64.att", f"sha256-{'a' * 64}.att"):
        assert classify(foreign).kind is None


def _sig_image(builder, digest: str, name: str):
    return cosign_signature(builder, digest, f"quay.io/{name}")


@pytest.fixture
def mirrored(plain_registry, tmp_path):
    """Three releases at a source, mirrored (tags VERSION-ARCH and VERSION-ARCH-COMPONENT) into one repository,
    plus cosign signatures and a tag we did not write."""
    host = plain_registry.host
    prefix = unique_repo("prune-src") + "/"
    target = f"{host}/{unique_repo('prune')}/openshift4"
    layout = tmp_path / "src"

    async def build():
        builder = new_builder(layout)
        built = [await build_day2_release(builder, source_host=host, version=v, prefix=prefix) for v in VERSIONS]
        await push_layout(layout, [n for b in built for n in [*b.components.values(), b.release_name]], host, prefix)
        session = RegistrySession(tls=TLSOptions(insecure=True))
        async with session:
            tasks: list[CopyTask] = []
            for one in built:
                info = await load_release(session, f"{host}/{prefix}{one.release_name}")
                tasks += release_tasks(info, target)
            result = await copy_images(tasks, session, CopyOptions())
            assert result.ok, result.failures
            # Signatures in the mirror, as mirroring copies them: the kept (shared) etcd and the old release.
            ref = parse_reference(target, default_tag=None)
            etcd = built[-1].component_digests["etcd"]
            old = built[0].digest
            sigs = {cosign_tag(etcd): _sig_image(builder, etcd, COMPONENT_REPO),
                    cosign_tag(old): _sig_image(builder, old, "openshift-release-dev/ocp-release")}
            for tag, manifest in sigs.items():
                await builder.name(f"sigs:{tag}", manifest)
            from core.endpoints import LayoutLocation

            sig_tasks = [CopyTask(LayoutLocation(layout, f"sigs:{tag}"), RegistryLocation(ref.with_tag(tag)))
                         for tag in sigs]
            # A tag an admin wrote on an old release's component: what it names must stay.
            foreign = built[0].component_digests["cluster-version-operator"]
            sig_tasks.append(CopyTask(RegistryLocation(parse_reference(f"{target}@{foreign}")),
                                      RegistryLocation(ref.with_tag(FOREIGN_TAG))))
            # A tag shaped like ours that image-references does not back (another image under that name).
            mine = built[1].component_digests["cluster-samples-operator"]
            sig_tasks.append(CopyTask(RegistryLocation(parse_reference(f"{target}@{mine}")),
                                      RegistryLocation(ref.with_tag(LOOKALIKE_TAG))))
            result = await copy_images(sig_tasks, session, CopyOptions())
            assert result.ok, result.failures
        return built

    built = asyncio.run(build())
    return host, target, built


def _tags(target: str) -> set[str]:
    out = skopeo.run("list-tags", "--tls-verify=false", f"docker://{target}")
    return set(yaml.safe_load(out.stdout)["Tags"])


@needs_registry
def test_prune_lists_then_deletes_only_what_no_kept_release_uses(mirrored, tmp_path, capsys) -> None:
    host, target, built = mirrored
    old, middle, kept = built
    before = _tags(target)
    prune_file = tmp_path / "PRUNE.yaml"
    assert main(["release", "prune", "--to", target, "--keep-version", "4.17.3", "-o", str(prune_file),
                 "--insecure"]) == 0
    out = capsys.readouterr().out
    assert "releases to remove: 4.17.1-x86_64, 4.17.2-x86_64" in out and "nothing was deleted" in out
    assert _tags(target) == before  # generating deletes nothing
    plan = yaml.safe_load(prune_file.read_text())
    assert plan["delete_releases"] == ["4.17.1-x86_64", "4.17.2-x86_64"]
    assert plan["keep_versions"] == ["4.17.3"]
    assert plan["free_bytes"] > 0
    deleting = {e["digest"] for e in plan["delete"]}
    # The old releases and what only they use go ...
    assert {old.digest, middle.digest, middle.component_digests["cluster-version-operator"],
            old.component_digests["cluster-samples-operator"]} <= deleting
    # A look-alike tag (VERSION-ARCH-NAME, but not in 4.17.1's image-references) is not ours: what it names stays.
    assert middle.component_digests["cluster-samples-operator"] not in deleting
    assert LOOKALIKE_TAG in plan["kept"]["tags_not_ours"]
    signature = skopeo.digest(f"{target}:{cosign_tag(old.digest)}", tls_verify=False)
    assert signature in deleting  # the old release's signature goes with it
    # ... never what 4.17.3 uses (the shared components), its signatures, or what a foreign tag names.
    kept_digests = {kept.digest, *kept.component_digests.values()}
    assert not deleting & kept_digests
    assert skopeo.digest(f"{target}:{cosign_tag(kept.component_digests['etcd'])}", tls_verify=False) not in deleting
    assert old.component_digests["cluster-version-operator"] not in deleting
    assert FOREIGN_TAG in plan["kept"]["tags_not_ours"]
    assert "4.17.1-x86_64-etcd" in plan["kept"]["tags_of_removed_releases_naming_kept_manifests"]

    assert main(["release", "prune", "--apply", str(prune_file), "--insecure"]) == 0
    out = capsys.readouterr().out
    assert f"deleted {len(plan['delete'])} manifests" in out and "registry garbage-collect" in out
    after = _tags(target)
    for gone in ("4.17.1-x86_64", "4.17.2-x86_64", "4.17.2-x86_64-cluster-version-operator",
                 cosign_tag(old.digest)):
        assert gone not in after
    assert {"4.17.3-x86_64", FOREIGN_TAG, LOOKALIKE_TAG, cosign_tag(kept.component_digests["etcd"])} <= after
    # Every kept image still copies whole (skopeo reads every blob), and so does what the foreign tag names.
    for tag in sorted(t for t in after if t.startswith("4.17.3-x86_64")) + [FOREIGN_TAG, LOOKALIKE_TAG]:
        skopeo.copy(f"{target}:{tag}", f"oci:{tmp_path / 'check'}:{tag}", src_opts=["--tls-verify=false"])
    # A second apply finds them gone and deletes nothing else.
    assert main(["release", "prune", "--apply", str(prune_file), "--insecure"]) == 0
    assert f"deleted 0 manifests from {target} ({len(plan['delete'])} were already gone)" in capsys.readouterr().out


@needs_registry
def test_apply_keeps_what_changed_since_the_file_was_written(mirrored, tmp_path, capsys) -> None:
    host, target, built = mirrored
    prune_file = tmp_path / "PRUNE.yaml"
    assert main(["release", "prune", "--to", target, "--keep-version", "4.17.3", "-o", str(prune_file),
                 "--insecure"]) == 0
    # Someone tags an old release for themselves after the review.
    skopeo.copy(f"{target}:4.17.2-x86_64", f"{target}:keep-this-one", all_images=True,
                src_opts=["--tls-verify=false"], dst_opts=["--tls-verify=false"])
    capsys.readouterr()
    assert main(["release", "prune", "--apply", str(prune_file), "--insecure"]) == 0
    out = capsys.readouterr().out
    assert f"kept {built[1].digest[:19]}" in out
    assert "keep-this-one" in _tags(target)
    skopeo.copy(f"{target}:keep-this-one", f"oci:{tmp_path / 'still'}:x", src_opts=["--tls-verify=false"])


@needs_registry
def test_a_registry_that_refuses_deletes_is_one_line(mirrored, tmp_path, capsys) -> None:
    _, target, _ = mirrored
    prune_file = tmp_path / "PRUNE.yaml"
    assert main(["release", "prune", "--to", target, "--keep-version", "4.17.3", "-o", str(prune_file),
                 "--insecure"]) == 0
    # The same content behind a registry configured without deletes.
    with make_registry(tmp_path / "nodelete", allow_delete=False) as refusing:
        repo = target.split("/", 1)[1]
        skopeo.run("sync", "--all", "--src", "docker", "--dest", "docker", "--src-tls-verify=false",
                   "--dest-tls-verify=false", "--preserve-digests", target, f"{refusing.host}/{repo.rsplit('/', 1)[0]}",
                   timeout=300)
        data = yaml.safe_load(prune_file.read_text())
        data["registry"] = refusing.host
        moved = tmp_path / "PRUNE-refusing.yaml"
        moved.write_text(yaml.safe_dump(data))
        capsys.readouterr()
        assert main(["release", "prune", "--apply", str(moved), "--insecure"]) == 1
        err = capsys.readouterr().err
        assert "does not allow deletes (405): nothing was deleted" in err and err.count("\n") <= 2


@pytest.mark.parametrize(("content", "message"), [
    ("kind: Something\nversion: 1\n", "not a prune file"),
    ("{{{{ not yaml", "not valid YAML"),
    ("kind: MirrorWizardPrune\nversion: 1\nregistry: 'a b'\nrepository: r\nkeep_versions: [4.17.3]\ndelete: []\n",
     "white space"),
    ("kind: MirrorWizardPrune\nversion: 1\nregistry: h:5000\nrepository: r\nkeep_versions: [latest]\ndelete: []\n",
     "is not a release version"),
    ("kind: MirrorWizardPrune\nversion: 1\nregistry: h:5000\nrepository: r\nkeep_versions: [4.17.3]\n"
     "delete: [{digest: 'sha256:1234', kind: release}]\n", "digest is not sha256"),
    ("kind: MirrorWizardPrune\nversion: 1\nregistry: h:5000\nrepository: r\nkeep_versions: [4.17.3]\n"
     f"delete: [{{digest: 'sha256:{'a' * 64}', kind: everything}}]\n", "kind must be one of"),
    ("kind: MirrorWizardPrune\nversion: 1\nregistry: h:5000\nrepository: r\nkeep_versions: [4.17.3]\n"
     f"delete: [{{digest: 'sha256:{'a' * 64}', kind: release, tags: ['../../x']}}]\n", "tags must be a list"),
    ("kind: MirrorWizardPrune\nversion: 1\ndirectory: 'oci:/x:y'\nkeep_versions: [4.17.3]\ndelete: []\n",
     "directory must be the path"),
    ("kind: MirrorWizardPrune\nversion: 1\ndirectory: /media/usb\nkeep_versions: [4.17.3]\n"
     f"delete: [{{digest: 'sha256:{'a' * 64}', kind: release, tags: ['4.17.1-x86_64']}}]\n", "repository:tag"),
])
def test_a_hostile_prune_file_is_one_line(tmp_path: Path, content: str, message: str, capsys) -> None:
    path = tmp_path / "PRUNE.yaml"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        load_prune_file(path)
    assert main(["release", "prune", "--apply", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_prune_needs_what_to_keep(capsys) -> None:
    assert main(["release", "prune", "--to", "h:5000/r"]) == 2
    assert "--keep-version" in capsys.readouterr().err
    assert main(["release", "prune", "--apply", "x.yaml", "--keep-version", "4.17.3"]) == 2
    assert "--apply takes everything from the reviewed file" in capsys.readouterr().err


@needs_registry
def test_prune_a_mirror_directory(mirrored, tmp_path, capsys) -> None:
    """--dir: the same plan for a removable-media folder; applying removes the names, the blobs nothing kept
    needs, and the old releases from the directory's release record."""
    from core.layout import OCILayout
    from core.release import load_release_from_dir, releases_in_dir, to_dir_tasks

    _, target, built = mirrored
    directory = tmp_path / "medium"

    async def write() -> None:
        session = RegistrySession(tls=TLSOptions(insecure=True))
        async with session:
            tasks: list[CopyTask] = []
            for version in VERSIONS:
                tasks += to_dir_tasks(await load_release(session, f"{target}:{version}-x86_64"), directory)
            result = await copy_images(tasks, session, CopyOptions())
            assert result.ok, result.failures

    asyncio.run(write())
    layout = OCILayout(directory)
    names_before = {e.name for e in layout.entries()}
    blobs_before = set((directory / "blobs" / "sha256").iterdir())
    prune_file = tmp_path / "PRUNE-dir.yaml"
    assert main(["release", "prune", "--dir", str(directory), "--keep-version", "4.17.3", "-o", str(prune_file)]) == 0
    assert {e.name for e in layout.entries()} == names_before and set((directory / "blobs" / "sha256").iterdir()) == \
        blobs_before  # generating removes nothing
    plan = load_prune_file(prune_file)
    assert plan.directory and plan.delete_releases == ["4.17.1-x86_64", "4.17.2-x86_64"]
    assert main(["release", "prune", "--apply", str(prune_file)]) == 0
    assert f"removed {len(plan.delete)} manifests" in capsys.readouterr().out
    names = {e.name for e in layout.entries()}
    assert "openshift/release:4.17.1-x86_64" not in names and "openshift/release:4.17.3-x86_64" in names
    assert len(set((directory / "blobs" / "sha256").iterdir())) < len(blobs_before)
    assert [r["version"] for r in releases_in_dir(directory)] == ["4.17.3"]
    # 4.17.3 is still whole there: from-dir reads it (checking every component), skopeo copies each image.
    async def read() -> None:
        async with RegistrySession(tls=TLSOptions(insecure=True)) as session:
            info = await load_release_from_dir(session, directory, "4.17.3")
            assert info.version == "4.17.3"

    asyncio.run(read())
    for name in sorted(n for n in names if "4.17.3" in n):
        skopeo.copy(f"oci:{directory}:{name}", f"oci:{tmp_path / 'copy'}:{name.split(':')[1]}")


@needs_registry
def test_an_unwritable_output_is_one_line(mirrored, capsys) -> None:
    _, target, _ = mirrored
    assert main(["release", "prune", "--to", target, "--keep-version", "4.17.3", "-o", "/proc/no/PRUNE.yaml",
                 "--insecure"]) == 1
    err = capsys.readouterr().err
    assert "cannot write /proc/no/PRUNE.yaml" in err and err.count("\n") == 1 and "Traceback" not in err
    assert main(["release", "prune", "--to", target, "--keep-version", "4.16.9", "--insecure"]) == 2
    assert "holds no release 4.16.9 (it has: 4.17.1-x86_64, 4.17.2-x86_64, 4.17.3-x86_64)" in capsys.readouterr().err
