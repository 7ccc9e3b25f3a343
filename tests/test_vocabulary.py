"""One word per thing: login states, architectures and digests each have one spelling, in one module."""

from __future__ import annotations

import pytest

from core.credentials import LoginResult, LoginState, login_state_of
from core.errors import (
    AccessDenied,
    AuthenticationFailed,
    IntegrityError,
    MirrorError,
    RegistryUnreachable,
    ReleaseError,
    TLSVerifyError,
)
from core.manifest import go_arch, openshift_arch
from core.signatures import check_digest

DIGEST = "sha256:" + "ab" * 32


def test_access_offers_the_credentials_login_state() -> None:
    import core.access

    assert core.access.LoginState is LoginState
    assert core.access.login_state_of is login_state_of


@pytest.mark.parametrize("error,state", [
    (AuthenticationFailed("r.io: wrong"), LoginState.WRONG_CREDENTIALS),
    (AccessDenied("r.io: denied"), LoginState.DENIED),
    (TLSVerifyError("r.io: untrusted"), LoginState.TLS_UNTRUSTED),
    (RegistryUnreachable("r.io: down"), LoginState.UNREACHABLE),
    (IntegrityError("r.io: odd"), LoginState.ERROR),
])
def test_an_engine_error_means_one_login_state(error: MirrorError, state: LoginState) -> None:
    assert login_state_of(error) is state


def test_a_login_result_holds_a_state_of_the_vocabulary() -> None:
    given_as_text = LoginResult("r.io", "unused", "not used by this plan")  # type: ignore[arg-type]
    assert given_as_text.state is LoginState.UNUSED
    assert LoginResult("r.io", LoginState.OK, "fine").ok
    assert LoginResult("r.io", LoginState.SKIPPED, "telemetry").skipped
    assert LoginResult("r.io", LoginState.TLS_UNTRUSTED, "x").label == "TLS not trusted"
    assert LoginResult("r.io", LoginState.UNREACHABLE, "x").label == "unreachable"
    with pytest.raises(ValueError):
        LoginResult("r.io", "fine", "a word outside the vocabulary")  # type: ignore[arg-type]


@pytest.mark.parametrize("rpm,go", [("x86_64", "amd64"), ("aarch64", "arm64"), ("ppc64le", "ppc64le"),
                                    ("s390x", "s390x")])
def test_architectures_convert_both_ways(rpm: str, go: str) -> None:
    assert go_arch(rpm) == go and go_arch(go) == go
    assert openshift_arch(go) == rpm and openshift_arch(rpm) == rpm


def test_a_release_digest_is_checked_whole() -> None:
    assert check_digest(DIGEST) == DIGEST
    for bad in (DIGEST + "\n", DIGEST.upper(), DIGEST[:-1], "sha512:" + "ab" * 64, ""):
        with pytest.raises(ReleaseError):
            check_digest(bad)
