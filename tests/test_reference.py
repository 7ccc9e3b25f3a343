import pytest

from core.errors import ReferenceFormatError
from core.reference import parse_reference, parse_repository

D = "sha256:" + "a" * 64


@pytest.mark.parametrize("text,registry,repo,tag,digest", [
    ("quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64", "quay.io", "openshift-release-dev/ocp-release",
     "4.17.3-x86_64", None),
    (f"quay.io/openshift-release-dev/ocp-v4.0-art-dev@{D}", "quay.io", "openshift-release-dev/ocp-v4.0-art-dev", None, D),
    ("127.0.0.1:5000/ocp4/openshift4", "127.0.0.1:5000", "ocp4/openshift4", "latest", None),
    ("localhost/foo:1", "localhost", "foo", "1", None),
    ("ubuntu", "docker.io", "library/ubuntu", "latest", None),
    ("bitnami/redis:7", "docker.io", "bitnami/redis", "7", None),
    ("index.docker.io/library/busybox:1", "docker.io", "library/busybox", "1", None),
    (f"registry.redhat.io/ubi9/ubi:9.4@{D}", "registry.redhat.io", "ubi9/ubi", "9.4", D),
    ("docker://registry.example.com:8443/a/b/c:v1", "registry.example.com:8443", "a/b/c", "v1", None),
])
def test_parses(text, registry, repo, tag, digest):
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repo, tag, digest)


def test_round_trip_and_reference():
    ref = parse_reference(f"quay.io/a/b:1@{D}")
    assert str(ref) == f"quay.io/a/b:1@{D}"
    assert ref.reference == D
    assert ref.with_tag("2").reference == "2"
    assert parse_reference("ubuntu").api_host == "registry-1.docker.io"


@pytest.mark.parametrize("text,fragment", [
    ("", "empty"),
    ("quay.io/Upper/case:1", "lowercase"),
    ("quay.io/a/b:bad tag", "white space"),
    ("quay.io/a/b@sha256:123", "digest"),
    ("quay.io/a/b:-x", "tag"),
    ("quay.io/", "repository"),
    ("bad host:5000/a", "white space"),
    ("quay.io/a//b", "repository"),
])
def test_rejects_with_clear_message(text, fragment):
    with pytest.raises(ReferenceFormatError) as info:
        parse_reference(text)
    assert fragment in str(info.value)


def test_repository_rejects_tag():
    assert parse_repository("mirror.example.com:8443/ocp4/openshift4").tag is None
    with pytest.raises(ReferenceFormatError, match="without a tag"):
        parse_repository("mirror.example.com:8443/ocp4/openshift4:1")
