"""Fixes from a tester's walk of the demo (engine side): verify's two mirror checks agree on where a
release image is, the bundle's wheelhouse holds no leftover temp file, the sandbox's registries die with
the wizard, footers keep whole labels, counts read as English."""

from __future__ import annotations

from pathlib import Path

import yaml

from core.graph_image import GraphDataLayer
from core.mirror_config import release_mirror_instructions
from core.plan import load_plan
from core.release import ReleaseInfo
from core.verify.expected import Expected
from core.verify.keep import _pulled_release_images

HOST = "mirror.example:5000"
SOURCE = "quay.io/openshift-release-dev/ocp-release"
COMPONENTS = "quay.io/openshift-release-dev/ocp-v4.0-art-dev"


def _info(version: str, n: int) -> ReleaseInfo:
    digest = "sha256:" + f"{n:x}" * 64
    return ReleaseInfo(pull_spec=f"{SOURCE}@{digest[:71]}", digest=digest[:71], version=version,
                       architecture="x86_64", metadata={},
                       components={"etcd": f"{COMPONENTS}@sha256:{str(n) * 64}"},
                       source_repository=SOURCE, component_repository=COMPONENTS)


def test_kept_by_tag_looks_for_path_release_images_in_their_own_repository(tmp_path: Path) -> None:
    """An update path whose release images go to their own repository (release.to_release_image): the
    tag check looks for each where the copy put it, as the release-images check does — not in the target."""
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(yaml.safe_dump({
        "mirror": {"registry": HOST},
        "release": {"mode": "registry", "target": f"{HOST}/ocp4/openshift4",
                    "from_version": "4.17.1", "version": "4.17.3", "channel": "stable-4.17",
                    "to_release_image": f"{HOST}/ocp4/release-images"},
        "output_dir": str(tmp_path / "out")}))
    plan = load_plan(plan_file)
    infos = [_info("4.17.1", 1), _info("4.17.2", 2), _info("4.17.3", 3)]
    expected = Expected(plan, release=infos[-1], releases=infos,
                        instructions=release_mirror_instructions(infos[-1], f"{HOST}/ocp4/openshift4",
                                                                 f"{HOST}/ocp4/release-images"))
    pulled = {p.label: p for p in _pulled_release_images(expected)}
    for info in infos:
        image = pulled[f"{info.version} release image"]
        assert image.repository.name == f"{HOST}/ocp4/release-images", image
        assert image.expected_tag == f"{info.version}-x86_64"


def test_graph_layer_counts_read_as_english() -> None:
    one = GraphDataLayer(b"", "sha256:0", "sha256:0", 1, ("stable-4.17.yaml",), "1")
    many = GraphDataLayer(b"", "sha256:0", "sha256:0", 12, ("a.yaml", "b.yaml"), "1")
    assert one.contents == "1 channel, 1 file"
    assert many.contents == "2 channels, 12 files"
