"""Garbage in, the project's own clear errors out: no traceback, no hang (hypothesis).

Every loader an admin feeds by hand is here. A loader may accept the input or raise an InputError
(or a subclass); anything else — KeyError, TypeError, RecursionError, a hang — is a bug.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.authfile import load_auth_file, parse_auth_data
from core.errors import InputError
from core.mapping import parse_mapping_text
from core.plan import load_plan, plan_from_dict
from core.reference import parse_reference

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
reference_like = st.from_regex(r"[a-zA-Z0-9.:/@_\-]{0,60}", fullmatch=True) | st.text(max_size=80)


def only_clear_errors(call, *args, **kwargs) -> None:
    try:
        call(*args, **kwargs)
    except InputError as exc:
        text = str(exc)
        assert text and "\n" not in text.strip() and "Traceback" not in text


@FUZZ
@given(reference_like)
def test_reference_parser(text: str) -> None:
    only_clear_errors(parse_reference, text)


@FUZZ
@given(st.one_of(st.text(max_size=200), json_values.map(json.dumps),
                 st.dictionaries(st.text(max_size=20), json_values, max_size=3).map(lambda d: json.dumps({"auths": d}))))
def test_auth_file_and_pull_secret(text: str) -> None:
    only_clear_errors(parse_auth_data, text)


@FUZZ
@given(st.binary(max_size=300))
def test_auth_file_on_disk_with_any_bytes(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "auth.json"
        path.write_bytes(data)
        only_clear_errors(load_auth_file, path)


@FUZZ
@given(st.lists(st.one_of(reference_like, st.tuples(reference_like, reference_like).map("=".join)), max_size=5).map("\n".join))
def test_mapping_file(text: str) -> None:
    only_clear_errors(parse_mapping_text, text)


plan_shaped = st.fixed_dictionaries({}, optional={
    "mirror": st.one_of(json_values, st.fixed_dictionaries({"registry": reference_like}, optional={"insecure": json_values})),
    "release": json_values, "samples": json_values, "options": json_values, "registries": json_values,
    "auth_file": json_values, "output_dir": json_values, "version": json_values,
})


@FUZZ
@given(st.one_of(json_values, plan_shaped))
def test_plan_loader(data: object) -> None:
    only_clear_errors(plan_from_dict, data)


@FUZZ
@given(st.one_of(st.text(max_size=300), json_values.map(yaml.safe_dump)))
def test_plan_file(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "plan.yaml"
        path.write_text(text)
        only_clear_errors(load_plan, path)


def _optional(module: str, name: str):
    imported = pytest.importorskip(module)
    return getattr(imported, name)


@FUZZ
@given(st.one_of(json_values.map(json.dumps), st.text(max_size=300),
                 st.dictionaries(st.sampled_from(["kind", "metadata", "spec", "items", "data"]), json_values, max_size=4).map(json.dumps)))
def test_image_stream_loader(text: str) -> None:
    load_imagestreams = _optional("core.samples", "load_imagestreams")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "streams.json"
        path.write_text(text)
        only_clear_errors(load_imagestreams, [path])
