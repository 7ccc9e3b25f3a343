"""Garbage in, the project's own clear errors out: no traceback, no hang (hypothesis).

Every loader an admin feeds by hand is here. A loader may accept the input or raise an InputError
(or a subclass); anything else — KeyError, TypeError, RecursionError, a hang — is a bug. Each example
has a 2 s deadline, so a hang fails at once rather than at the suite's timeout.
"""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.authfile import load_auth_file, parse_auth_data
from core.ca import load_ca_bundle, parse_ca_pem
from core.errors import InputError, MirrorError
from core.mapping import parse_mapping_text
from core.plan import load_plan, plan_from_dict
from core.reference import parse_reference

FUZZ = settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
reference_like = st.from_regex(r"[a-zA-Z0-9.:/@_\-]{0,60}", fullmatch=True) | st.text(max_size=80)


def only_clear_errors(call, *args, allowed: type[Exception] = InputError, **kwargs) -> None:
    try:
        call(*args, **kwargs)
    except allowed as exc:
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
@given(st.lists(st.one_of(reference_like, st.tuples(reference_like, reference_like).map("=".join)),
                max_size=5).map("\n".join))
def test_mapping_file(text: str) -> None:
    only_clear_errors(parse_mapping_text, text)


plan_shaped = st.fixed_dictionaries({}, optional={
    "mirror": st.one_of(json_values,
                        st.fixed_dictionaries({"registry": reference_like}, optional={"insecure": json_values})),
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
                 st.dictionaries(st.sampled_from(["kind", "metadata", "spec", "items", "data"]), json_values,
                                 max_size=4).map(json.dumps)))
def test_image_stream_loader(text: str) -> None:
    load_imagestreams = _optional("core.samples", "load_imagestreams")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "streams.json"
        path.write_text(text)
        only_clear_errors(load_imagestreams, [path])


# -- the CA loader -------------------------------------------------------------------------------------

def _real_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization

    from tui.sandbox.pki import make_ca

    with tempfile.TemporaryDirectory() as folder:
        _, cert, _ = make_ca(Path(folder), "fuzz CA")
    return cert.public_bytes(serialization.Encoding.PEM)


REAL_PEM = _real_pem()
BEGIN, END = b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----"
_body = REAL_PEM.split(BEGIN)[1].split(END)[0]


def _mutate(data: bytes, position: int, byte: int) -> bytes:
    position %= max(1, len(data))
    return data[:position] + bytes([byte]) + data[position + 1:]


pem_like = st.one_of(
    st.binary(max_size=400),
    st.binary(max_size=300).map(lambda b: BEGIN + b + END),                         # any bytes between the lines
    st.binary(max_size=300).map(lambda b: BEGIN + b"\n" + base64.encodebytes(b) + END),  # base64, not DER
    st.tuples(st.integers(0, len(REAL_PEM)), st.integers(0, 255)).map(lambda t: _mutate(REAL_PEM, *t)),
    st.integers(0, len(REAL_PEM)).map(lambda n: REAL_PEM[:n]),                      # truncated
    st.lists(st.sampled_from([REAL_PEM, BEGIN, END, b"\n", _body[:40], b"-----BEGIN PRIVATE KEY-----\n"]),
             max_size=6).map(b"".join),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


@FUZZ
@given(pem_like)
def test_ca_pem_parser(data: bytes) -> None:
    only_clear_errors(parse_ca_pem, data, "ca.crt", allowed=MirrorError)
    only_clear_errors(parse_ca_pem, data.decode("latin-1"), "ca.crt", allowed=MirrorError)


@settings(FUZZ, max_examples=60)
@given(pem_like)
def test_ca_file_on_disk(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ca.crt"
        path.write_bytes(data)
        only_clear_errors(load_ca_bundle, path, allowed=MirrorError)


def test_a_real_ca_still_loads() -> None:
    """The strategies above are not all garbage: the unmutated PEM parses, twice in a bundle too."""
    assert len(parse_ca_pem(REAL_PEM, "ca.crt")) == 1
    assert len(parse_ca_pem(REAL_PEM + REAL_PEM, "ca.crt")) == 2


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_every_single_damaged_byte_of_a_ca_is_a_clear_error() -> None:
    """Deterministic, byte by byte over the DER. A damaged extension or name used to escape as a bare
    ValueError, KeyError, InvalidVersion or DuplicateExtension (cryptography parses them lazily)."""
    from core.errors import CertificateError

    der = base64.b64decode(b"".join(_body.split()))
    for position, mask in ((p, m) for m in (0x01, 0x5A, 0xFF) for p in range(len(der))):
        damaged = der[:position] + bytes([der[position] ^ mask]) + der[position + 1:]
        pem = BEGIN + b"\n" + base64.encodebytes(damaged) + END + b"\n"
        try:
            parse_ca_pem(pem, "ca.crt")
        except CertificateError as exc:
            assert "\n" not in str(exc)
