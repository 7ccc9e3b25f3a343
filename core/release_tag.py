"""One rule for a release image's tag: ``<version>-<arch>`` (``4.17.3-x86_64``), as Red Hat tags
``ocp-release`` and ``oc adm release mirror`` tags the mirror, and where in the mirror the release image
lands (``--to-release-image``, default ``<target>:<version>-<arch>``).

Every place that names the mirrored release image — the copy's tasks, the mirror instructions, the
runbook, verify, the wizard — asks here, so an untagged ``to_release_image`` means the same image
everywhere: that repository, tagged ``<version>-<arch>``.
"""

from __future__ import annotations

from .errors import InputError
from .reference import parse_reference


def release_tag(version: str, architecture: str) -> str:
    """``<version>-<arch>``: the release image's tag in Red Hat's repository and in a mirror."""
    return f"{version}-{architecture}"


def release_image_in_mirror(target: str, version: str, architecture: str, to_release_image: str | None = None) -> str:
    """Where the release image lands in the mirror: ``to_release_image`` as given when it has a tag, that
    repository tagged ``<version>-<arch>`` when it has none, else ``<target>:<version>-<arch>``. A digest
    cannot be a destination (the copy gives the image its tag)."""
    tag = release_tag(version, architecture)
    if not to_release_image:
        return f"{target}:{tag}"
    ref = parse_reference(to_release_image, default_tag=None)
    if ref.digest:
        raise InputError(f"--to-release-image {to_release_image}: give a tag, not a digest")
    return to_release_image if ref.tag is not None else f"{ref.name}:{tag}"


__all__ = ["release_image_in_mirror", "release_tag"]
