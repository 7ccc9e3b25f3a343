"""Registry answers are hostile input too (issue 15): the parsers of manifests, token answers, tag lists,
challenges and Link headers accept an answer or raise a one-line RegistryError; anything else (KeyError,
TypeError, RecursionError, a multi-line message) is a bug. Hypothesis, with a deadline against hangs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.errors import RegistryError
from core.manifest import DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST
from core.registry import (
    next_link,
    parse_challenge,
    parse_manifest,
    parse_tag_list,
    parse_token_answer,
)

FUZZ = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=25,
)
MEDIA_TYPES = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST, "application/vnd.docker.distribution.manifest.v1+json"]
digest_like = (st.sampled_from(["sha256:" + "a" * 64, "sha256:" + "b" * 64, "sha256:short", "md5:00", ""])
               | st.text(max_size=8))
descriptor = st.fixed_dictionaries(
    {}, optional={"mediaType": st.sampled_from(MEDIA_TYPES) | json_values, "digest": digest_like | json_values,
                  "size": st.integers(min_value=-5, max_value=1 << 40) | json_values,
                  "platform": st.fixed_dictionaries({}, optional={"os": json_values, "architecture": json_values,
                                                                   "variant": json_values}) | json_values,
                  "annotations": st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2) | json_values,
                  "urls": st.lists(st.text(max_size=5), max_size=2) | json_values})
manifest_like = st.fixed_dictionaries(
    {}, optional={"schemaVersion": st.sampled_from([1, 2]) | json_values,
                  "mediaType": st.sampled_from(MEDIA_TYPES) | json_values,
                  "config": descriptor | json_values, "layers": st.lists(descriptor, max_size=3) | json_values,
                  "manifests": st.lists(descriptor, max_size=3) | json_values})


def one_line_or_ok(call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    try:
        call(*args, **kwargs)
    except RegistryError as exc:
        assert str(exc) and "\n" not in str(exc), repr(str(exc))


def as_bytes(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


@FUZZ
@given(manifest_like | json_values, st.sampled_from([None, *MEDIA_TYPES, "text/html"]))
def test_manifest_parser(value: Any, content_type: str | None) -> None:
    one_line_or_ok(parse_manifest, as_bytes(value), content_type, where="fuzz/repo:tag")


@FUZZ
@given(st.binary(max_size=200) | st.builds(lambda n: b"[" * n + b"]" * n, st.integers(0, 20000))
       | st.builds(lambda n: b'{"a":' * n + b"1" + b"}" * n, st.integers(0, 20000)))
def test_manifest_parser_raw_bytes(raw: bytes) -> None:
    one_line_or_ok(parse_manifest, raw, OCI_MANIFEST, where="fuzz/repo:tag")


@FUZZ
@given(st.fixed_dictionaries({}, optional={"token": st.text(max_size=30) | json_values,
                                           "access_token": st.text(max_size=30) | json_values,
                                           "expires_in": st.integers() | st.floats() | json_values}) | json_values)
def test_token_answer_parser(value: Any) -> None:
    try:
        token, lifetime = parse_token_answer(as_bytes(value), registry="fuzz.example")
    except RegistryError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(token, str) and token.isprintable() and " " not in token
    assert 10 <= lifetime <= 24 * 3600


@FUZZ
@given(st.binary(max_size=200))
def test_token_answer_parser_raw_bytes(raw: bytes) -> None:
    one_line_or_ok(parse_token_answer, raw, registry="fuzz.example")


@FUZZ
@given(st.fixed_dictionaries({}, optional={"name": json_values, "tags": st.lists(st.text(max_size=12), max_size=5)
                                           | json_values}) | json_values)
def test_tag_list_parser(value: Any) -> None:
    try:
        tags = parse_tag_list(as_bytes(value), where="fuzz.example/repo")
    except RegistryError as exc:
        assert "\n" not in str(exc)
        return
    assert all(isinstance(t, str) and "/" not in t and not t.startswith((".", "-")) for t in tags)


link_like = st.builds(lambda target, rel: f"<{target}>; rel={rel}", st.text(max_size=30)
                      | st.sampled_from(["http://[::1", "https://h:99999/x", "//[", "?last=a"]),
                      st.sampled_from(['"next"', "next", '"prev"']))


@FUZZ
@given(st.text(max_size=120), st.text(max_size=60) | link_like)
@example("Bearer", '<http://[::1>; rel="next"')
def test_challenge_and_link_parsers(header: str, link: str) -> None:
    challenge = parse_challenge(header)
    assert isinstance(challenge.scheme, str) and all(isinstance(v, str) for v in challenge.params.values())
    try:
        target = next_link(link, "https://fuzz.example/v2/repo/tags/list?n=10")
    except RegistryError as exc:
        assert "\n" not in str(exc)
        return
    assert target is None or isinstance(target, str)
