"""The rule for where a registry's password may go (core.registry.auth.realm_refusal), case by case."""

from __future__ import annotations

import pytest

from core.registry import realm_refusal
from core.tlsconfig import TLSOptions

PLAIN = TLSOptions()


@pytest.mark.parametrize("realm, api_host, tls", [
    ("https://127.0.0.1:5001/token", "127.0.0.1:5000", PLAIN),              # the test issuer: same host, other port
    ("https://quay.io/v2/auth", "quay.io", PLAIN),
    ("https://sso.redhat.com/auth/realms/rhcc/protocol/redhat-docker-v2/auth", "registry.redhat.io", PLAIN),
    ("https://auth.docker.io/token", "registry-1.docker.io", PLAIN),
    ("https://login.example.com/token", "registry.example.com", TLSOptions(auth_hosts=("login.example.com",))),
    ("https://login.example.com:8443/token", "registry.example.com", TLSOptions(auth_hosts=("login.example.com:8443",))),
    ("http://registry.example.com/token", "registry.example.com", TLSOptions(insecure_hosts=("registry.example.com",))),
])
def test_allowed(realm: str, api_host: str, tls: TLSOptions) -> None:
    assert realm_refusal(realm, api_host=api_host, registry_scheme="https", tls=tls) is None


@pytest.mark.parametrize("realm, api_host, tls, reason", [
    ("http://127.0.0.1:5001/token", "127.0.0.1:5000", PLAIN, "plain http"),
    ("https://evil.example/token", "registry.example.com", PLAIN, "another host"),
    ("https://sso.redhat.com.evil.example/auth", "registry.redhat.io", PLAIN, "another host"),
    ("https://example.com/token", "registry.example.com", PLAIN, "another host"),  # a parent domain is not the host
    ("https://login.example.com:9999/token", "registry.example.com", TLSOptions(auth_hosts=("login.example.com:8443",)),
     "another host"),
    ("ftp://registry.example.com/token", "registry.example.com", PLAIN, "not an http"),
    ("https://user:pw@evil.example/token", "registry.example.com", PLAIN, "evil.example"),
    # --insecure for another registry says nothing about this one
    ("http://registry.example.com/token", "registry.example.com", TLSOptions(insecure_hosts=("other:5000",)), "plain http"),
])
def test_refused(realm: str, api_host: str, tls: TLSOptions, reason: str) -> None:
    refusal = realm_refusal(realm, api_host=api_host, registry_scheme="https", tls=tls)
    assert refusal is not None and reason in refusal


def test_a_plain_http_registry_may_use_a_plain_http_realm_on_its_host() -> None:
    assert realm_refusal("http://127.0.0.1:5001/token", api_host="127.0.0.1:5000", registry_scheme="http",
                         tls=TLSOptions(insecure_hosts=("127.0.0.1:5000",))) is None


@pytest.mark.parametrize("url, sent", [
    ("https://127.0.0.1:5000/v2/a/blobs/uploads/x?digest=sha256:1", True),
    ("https://127.0.0.1:5000/", True),
    ("HTTPS://127.0.0.1:5000/v2/", True),                      # the same origin spelled otherwise
    ("https://127.0.0.1:50001/v2/a/manifests/1", False),       # a longer port behind the same prefix
    ("https://127.0.0.1:5000@evil.example/v2/", False),        # the base as a user name
    ("http://127.0.0.1:5000/v2/", False),                      # another scheme
    ("https://127.0.0.1:5000.evil.example/v2/", False),
])
def test_the_login_goes_only_to_the_registry_origin(url: str, sent: bool) -> None:
    """The quick prefix test for URLs built from the base never lets a look-alike URL through."""
    import asyncio
    import base64
    import json

    from core.authfile import parse_auth_data
    from core.registry import RegistrySession
    from core.registry.auth import parse_challenge

    host = "127.0.0.1:5000"
    auth = parse_auth_data(json.dumps({"auths": {host: {"auth": base64.b64encode(b"u:p").decode()}}}))

    async def go() -> dict[str, str]:
        async with RegistrySession(auth, TLSOptions()) as session:
            client = session.client(host)
            client._base = f"https://{host}"
            client.auth.challenge = parse_challenge('Basic realm="r"')
            return await client.auth_headers(url, frozenset())

    headers = asyncio.run(go())
    assert ("Authorization" in headers) is sent, headers
