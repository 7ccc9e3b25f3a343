"""The removable-media bundle: everything the disconnected side needs, and the proof it arrived intact.

A to-dir run writes an OCI layout into DIR; :func:`write_bundle` then adds, around that layout:

    bin/openshift-install, bin/oc   extracted from the release, stamped like ``oc adm release extract``
    wheelhouse/                     mirror-wizard and every dependency as wheels, for an offline pip
    plan.yaml                       the far side's plan: from-dir, paths relative to DIR
    cluster/                        the cluster YAML Done writes, and the far side's runbook
    samples/, config/               the image stream files and the mirror CA the plan names
    signatures/                     release signatures (filled by a callback: core.signatures)
    bundle.json                     what the bundle holds: images, every blob they need, its base
    README.txt                      the far side's steps, starting with the one-line offline install
    SIZES, SHA256SUMS               written last: a bundle without SHA256SUMS is unfinished

``media verify`` (:func:`verify_bundle`) checks all of it: every listed file present with its hash,
nothing unlisted that matters, every blob of the layout against its digest, every image's manifest
graph complete. The medium is hostile: every path read from it must stay inside DIR, every file read
whole is bounded, and no symbolic link is followed.

Volumes (:func:`split_volumes`) cut a bundle into numbered directories none larger than a medium;
copying them back into one directory in any order (or :func:`join_volumes`) gives the bundle again,
and verify names any volume that did not arrive. An incremental bundle (``since``) leaves out the
layers a previous bundle already carried; before uploading, the far side checks its registry holds
them (:func:`check_base_in_registry`).
"""

from __future__ import annotations

from .check import (  # noqa: F401 - the package's one namespace
    check_bundle_before_upload,
    missing_volumes,
    verify_bundle,
)
from .files import (  # noqa: F401 - the package's one namespace
    VolumeList,
    hash_file,
    read_bounded,
    read_volume_list,
    safe_relpath,
)
from .images import (  # noqa: F401 - the package's one namespace
    ImageGraph,
    layout_images,
)
from .model import (  # noqa: F401 - the package's one namespace
    BIN_DIR,
    BUNDLE_FILE,
    BUNDLE_KIND,
    BUNDLE_VERSION,
    CHUNK,
    CLUSTER_DIR,
    CONFIG_DIR,
    FAR_OUTPUT_DIR,
    HASH_THREADS,
    MAX_FILES,
    MAX_JSON_BYTES,
    MAX_LIST_BYTES,
    MAX_MANIFEST_BYTES,
    MAX_MISSING_SHOWN,
    MAX_VOLUMES,
    META_FILES,
    OS_JUNK,
    PACKAGE,
    PART_SUFFIX,
    PIP_TIMEOUT,
    PLACEHOLDER_TARGET,
    PLAN_FILE,
    README_FILE,
    RELEASE_KEYS_DIR,
    SAMPLES_DIR,
    SIGNATURES_DIR,
    SIZES_FILE,
    SUMS_FILE,
    SUMS_SIG_FILE,
    VOLUME_MARKER,
    VOLUMES_FILE,
    WHEELHOUSE,
    BundleOptions,
    BundleResult,
    Message,
    Problem,
    Severity,
    SignatureWriter,
    VerifyReport,
    parse_size,
)
from .record import (  # noqa: F401 - the package's one namespace
    is_bundle_plan,
    omitted_blobs,
    read_bundle_manifest,
)
from .sums import (  # noqa: F401 - the package's one namespace
    begin_bundle,
    parse_sizes,
    parse_sums,
    write_sums,
)
from .upload import (  # noqa: F401 - the package's one namespace
    check_base_in_registry,
    load_release_for_upload,
    releases_in_bundle,
)
from .volumes import (  # noqa: F401 - the package's one namespace
    join_volumes,
    split_volumes,
)
from .wheelhouse import (  # noqa: F401 - the package's one namespace
    build_wheelhouse,
    cache_dir,
)

__all__ = [
    "BIN_DIR",
    "BUNDLE_FILE",
    "BUNDLE_KIND",
    "BUNDLE_VERSION",
    "BundleOptions",
    "BundleResult",
    "CHUNK",
    "CLUSTER_DIR",
    "CONFIG_DIR",
    "FAR_OUTPUT_DIR",
    "HASH_THREADS",
    "ImageGraph",
    "MAX_FILES",
    "MAX_JSON_BYTES",
    "MAX_LIST_BYTES",
    "MAX_MANIFEST_BYTES",
    "MAX_MISSING_SHOWN",
    "MAX_VOLUMES",
    "META_FILES",
    "Message",
    "OS_JUNK",
    "PACKAGE",
    "PART_SUFFIX",
    "PIP_TIMEOUT",
    "PLACEHOLDER_TARGET",
    "PLAN_FILE",
    "Problem",
    "README_FILE",
    "RELEASE_KEYS_DIR",
    "SAMPLES_DIR",
    "SIGNATURES_DIR",
    "SIZES_FILE",
    "SUMS_FILE",
    "SUMS_SIG_FILE",
    "Severity",
    "SignatureWriter",
    "VOLUMES_FILE",
    "VOLUME_MARKER",
    "VerifyReport",
    "VolumeList",
    "WHEELHOUSE",
    "begin_bundle",
    "build_wheelhouse",
    "cache_dir",
    "check_base_in_registry",
    "check_bundle_before_upload",
    "hash_file",
    "join_volumes",
    "layout_images",
    "load_release_for_upload",
    "missing_volumes",
    "is_bundle_plan",
    "omitted_blobs",
    "parse_size",
    "parse_sizes",
    "parse_sums",
    "read_bounded",
    "read_bundle_manifest",
    "read_volume_list",
    "releases_in_bundle",
    "safe_relpath",
    "split_volumes",
    "verify_bundle",
    "write_sums",
]
