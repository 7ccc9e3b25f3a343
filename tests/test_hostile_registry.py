"""Issue 15, the network side, against a registry that misbehaves on purpose (tests/support/hostile_registry.py):
credentials never go in clear or to a stranger; nothing hangs; answers are size-bounded; malformed HTTP and
wrong JSON types are one-line registry errors, retried where a retry can help."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.authfile import parse_auth_data
from core.copier import CopyOptions, CopyTask, copy_images
from core.endpoints import LayoutLocation, RegistryLocation
from core.errors import (
    AnswerTooLarge,
    AuthenticationFailed,
    BrokenHTTP,
    CopyFailed,
    RegistryError,
    RegistryProtocolError,
    RegistryStalled,
    RegistryUnreachable,
)
from core.reference import parse_reference
from core.registry import RegistryClient, RegistrySession, RetryPolicy
from core.tlsconfig import TLSOptions
from tests.support.constants import PASSWORD, USER
from tests.support.hostile_registry import (
    OCI_INDEX,
    Answer,
    HostileRegistry,
    Seen,
    TinyImage,
    tiny_image,
)

QUICK = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05)
ROOT = Path(__file__).resolve().parent.parent


def _auth_for(*hosts: str):  # type: ignore[no-untyped-def]
    entry = {"auth": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
    return parse_auth_data(json.dumps({"auths": {h: entry for h in hosts}}))


def _run(coro, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    """A hang fails the test (the ceiling), it never stalls the suite."""
    async def bounded():  # type: ignore[no-untyped-def]
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


@pytest.fixture()
def hostile() -> Iterator[HostileRegistry]:
    with HostileRegistry() as server:
        server.add_image(tiny_image())
        yield server


@pytest.fixture()
def hostile_tls(pki) -> Iterator[HostileRegistry]:  # type: ignore[no-untyped-def]
    with HostileRegistry(tls=(pki.server.cert_path, pki.server.key_path)) as server:
        server.add_image(tiny_image())
        yield server


def _plain_session(server: HostileRegistry, **kwargs) -> RegistrySession:  # type: ignore[no-untyped-def]
    kwargs.setdefault("retry", QUICK)
    return RegistrySession(tls=TLSOptions(insecure_hosts=(server.host,)), **kwargs)


def _authorizations(server: HostileRegistry) -> list[str]:
    return [s.headers.get("authorization", "") for s in server.seen]


def _leaked(server: HostileRegistry) -> bool:
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return any(basic in a for a in _authorizations(server)) or any(USER in s.path for s in server.seen)


async def _get_manifest(session: RegistrySession, host: str, repo: str = "hostile/app", ref: str = "v1"):  # type: ignore[no-untyped-def]
    async with session:
        return await session.client(host).get_manifest(repo, ref)


# -- 2. credentials never travel in clear text or to a stranger ------------------------------------

def _token_answer(_seen: Seen) -> Answer:
    return Answer(200, {"Content-Type": "application/json"}, b'{"token": "granted-token", "expires_in": 300}')


def test_plain_http_realm_of_an_https_registry_never_gets_the_password(hostile_tls, pki) -> None:  # type: ignore[no-untyped-def]
    with HostileRegistry() as realm:  # plain http
        realm.on("GET", "^/token", Answer(401, {}, b'{"errors":[{"code":"UNAUTHORIZED"}]}'))
        hostile_tls.challenge = f'Bearer realm="http://{realm.host}/token",service="hostile"'
        session = RegistrySession(_auth_for(hostile_tls.host), TLSOptions(ca_files=(str(pki.ca_file),)), retry=QUICK)
        with pytest.raises(AuthenticationFailed) as info:
            _run(_get_manifest(session, hostile_tls.host))
    assert realm.requests("^/token"), "the client never asked the realm: the test proves nothing"
    assert not _leaked(realm)
    assert "plain http" in str(info.value) and "\n" not in str(info.value)


def test_realm_on_another_host_gets_the_password_only_when_allowed(hostile_tls, pki) -> None:  # type: ignore[no-untyped-def]
    with HostileRegistry(tls=(pki.server.cert_path, pki.server.key_path)) as realm:
        realm.on("GET", "^/token", lambda seen: _token_answer(seen) if "authorization" in seen.headers
                 else Answer(401, {}, b"{}"))
        # Same address, another name: "localhost" is a stranger to a registry called 127.0.0.1.
        hostile_tls.challenge = f'Bearer realm="https://localhost:{realm.port}/token",service="hostile"'
        refused = RegistrySession(_auth_for(hostile_tls.host), TLSOptions(ca_files=(str(pki.ca_file),)), retry=QUICK)
        with pytest.raises(AuthenticationFailed, match="another host"):
            _run(_get_manifest(refused, hostile_tls.host))
        assert realm.requests("^/token") and not _leaked(realm)

        allowed = RegistrySession(_auth_for(hostile_tls.host),
                                  TLSOptions(ca_files=(str(pki.ca_file),), auth_hosts=("localhost",)), retry=QUICK)
        manifest = _run(_get_manifest(allowed, hostile_tls.host))
    assert manifest.digest == hostile_tls.images["hostile/app"].digest
    assert _leaked(realm), "an allowed realm host must get the login"
    assert hostile_tls.requests("/manifests/")[-1].headers["authorization"] == "Bearer granted-token"


def test_same_host_realm_on_another_port_gets_the_password(hostile_tls, pki) -> None:  # type: ignore[no-untyped-def]
    """How the suite's token issuer (and many registries) are set up: the rule must not break them."""
    with HostileRegistry(tls=(pki.server.cert_path, pki.server.key_path)) as realm:
        realm.on("GET", "^/token", _token_answer)
        hostile_tls.challenge = f'Bearer realm="https://127.0.0.1:{realm.port}/token",service="hostile"'
        session = RegistrySession(_auth_for(hostile_tls.host), TLSOptions(ca_files=(str(pki.ca_file),)), retry=QUICK)
        _run(_get_manifest(session, hostile_tls.host))
    assert _leaked(realm)


def test_a_realm_changed_by_a_later_401_gets_no_password(hostile_tls, pki) -> None:  # type: ignore[no-untyped-def]
    with HostileRegistry(tls=(pki.server.cert_path, pki.server.key_path)) as stranger:
        stranger.on("GET", "^/token", Answer(401, {}, b"{}"))
        # The ping names the registry's own realm (honest); the manifest's 401 then names a stranger.
        hostile_tls.challenge = f'Bearer realm="https://{hostile_tls.host}/token",service="hostile"'
        hostile_tls.on("GET", "^/token", _token_answer)
        hostile_tls.on("GET", "/manifests/", Answer(
            401, {"WWW-Authenticate": f'Bearer realm="https://localhost:{stranger.port}/token",service="x",'
                                      f'scope="repository:hostile/app:pull"'}, b"{}"))
        session = RegistrySession(_auth_for(hostile_tls.host), TLSOptions(ca_files=(str(pki.ca_file),)), retry=QUICK)
        with pytest.raises(AuthenticationFailed):
            _run(_get_manifest(session, hostile_tls.host))
    assert _leaked(hostile_tls), "the registry's own realm gets the login"
    assert stranger.requests("^/token"), "the changed realm was never asked: the test proves nothing"
    assert not _leaked(stranger)


# -- 3. nothing hangs ---------------------------------------------------------------------------------

def test_a_stalled_manifest_is_retried_then_fails_naming_the_registry(hostile) -> None:  # type: ignore[no-untyped-def]
    image = hostile.images["hostile/app"]
    hostile.on("GET", "/manifests/", Answer(200, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
                                            image.manifest, mode="stall", stall_after=10))
    with pytest.raises(RegistryStalled) as info:
        _run(_get_manifest(_plain_session(hostile, stall_timeout=0.5), hostile.host))
    assert hostile.host in str(info.value) and "\n" not in str(info.value)
    assert len(hostile.requests("/manifests/")) == QUICK.attempts


def _layout_copy(server: HostileRegistry, tmp_path: Path, **session_options):  # type: ignore[no-untyped-def]
    task = CopyTask(RegistryLocation(parse_reference(f"{server.host}/hostile/app:v1")),
                    LayoutLocation(tmp_path / "layout", "hostile/app:v1"))

    async def go():  # type: ignore[no-untyped-def]
        async with _plain_session(server, **session_options) as session:
            return await copy_images([task], session, CopyOptions())
    return _run(go())


def test_a_blob_stalling_once_resumes_on_the_fast_path(hostile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    image = hostile.images["hostile/app"]
    stalls = []

    def blob(seen: Seen) -> Answer:
        if "range" not in seen.headers and not stalls:
            stalls.append(seen)
            return Answer(200, {}, image.layer, mode="stall", stall_after=len(image.layer) // 2)
        start = int(seen.headers["range"].split("=")[1].rstrip("-")) if "range" in seen.headers else 0
        return Answer(206 if start else 200, {"Content-Range": f"bytes {start}-{len(image.layer) - 1}/{len(image.layer)}"},
                      image.layer[start:])

    hostile.on("GET", f"/blobs/{image.layer_digest}", blob)
    result = _layout_copy(hostile, tmp_path, stall_timeout=0.5)
    assert result.ok and stalls
    ranges = [s.headers.get("range") for s in hostile.requests(f"/blobs/{image.layer_digest}")]
    assert ranges[0] is None and ranges[1] and ranges[1] != "bytes=0-", ranges


def test_a_blob_that_keeps_stalling_fails_one_line_naming_image_and_registry(hostile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    image = hostile.images["hostile/app"]

    def blob(seen: Seen) -> Answer:  # honours Range, and stalls a little further every time
        start = int(seen.headers["range"].split("=")[1].rstrip("-")) if "range" in seen.headers else 0
        return Answer(206 if start else 200, {"Content-Range": f"bytes {start}-{len(image.layer) - 1}/{len(image.layer)}"},
                      image.layer[start:], mode="stall", stall_after=1000)

    hostile.on("GET", f"/blobs/{image.layer_digest}", blob)
    with pytest.raises(CopyFailed) as info:
        _layout_copy(hostile, tmp_path, stall_timeout=0.5)
    text = str(info.value)
    assert f"{hostile.host}/hostile/app:v1" in text and "sent nothing" in text and "\n" not in text
    assert isinstance(info.value.cause, RegistryStalled)
    assert len(hostile.requests(f"/blobs/{image.layer_digest}")) == QUICK.attempts


def test_tag_pagination_stops_on_a_cycle_and_after_max_pages(hostile) -> None:  # type: ignore[no-untyped-def]
    hostile.on("GET", "/tags/list", Answer(200, {"Link": '</v2/hostile/app/tags/list?n=2&last=v1>; rel="next"'},
                                           b'{"tags": ["v1"]}'))

    async def tags(**kw):  # type: ignore[no-untyped-def]
        async with _plain_session(hostile) as session:
            return await session.client(hostile.host).list_tags("hostile/app", page_size=2, **kw)

    with pytest.raises(RegistryProtocolError, match="already read"):
        _run(tags())
    assert len(hostile.requests("/tags/list")) == 2

    counter = iter(range(10**6))
    hostile.on("GET", "/tags/list", lambda _s: Answer(
        200, {"Link": f'</v2/hostile/app/tags/list?n=2&last=t{next(counter)}>; rel="next"'}, b'{"tags": ["v1"]}'))
    before = len(hostile.requests("/tags/list"))
    with pytest.raises(RegistryProtocolError, match="past 5 pages"):
        _run(tags(max_pages=5))
    assert len(hostile.requests("/tags/list")) - before == 5


def test_a_link_or_location_on_another_origin_gets_no_credentials(hostile) -> None:  # type: ignore[no-untyped-def]
    hostile.challenge = 'Basic realm="hostile"'
    with HostileRegistry() as stranger:
        stranger.on("GET", "/tags/list", Answer(200, {}, b'{"tags": ["v2"]}'))
        hostile.on("GET", "/tags/list", lambda seen: Answer(
            200, {"Link": f'<http://{stranger.host}/v2/hostile/app/tags/list?last=v1>; rel="next"'}, b'{"tags": ["v1"]}')
            if "authorization" in seen.headers else Answer(401, {"WWW-Authenticate": 'Basic realm="hostile"'}, b"{}"))

        async def go() -> list[str]:
            session = RegistrySession(_auth_for(hostile.host), TLSOptions(insecure_hosts=(hostile.host,)), retry=QUICK)
            async with session:
                return await session.client(hostile.host).list_tags("hostile/app")

        tags = _run(go())
    assert tags == ["v1", "v2"] and stranger.requests("/tags/list")
    assert _leaked(hostile), "the registry itself gets the login"
    assert not _leaked(stranger) and not any(s.headers.get("authorization") for s in stranger.seen)


def _cli(args: list[str], tmp_path: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, REGISTRY_AUTH_FILE=str(tmp_path / "none.json"), PYTHONUNBUFFERED="1")
    (tmp_path / "none.json").write_text('{"auths": {}}')
    return subprocess.Popen([sys.executable, "-m", "tui.cli", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_one_signal_stops_a_command_stalled_on_a_silent_registry(hostile, tmp_path: Path, signum: int) -> None:  # type: ignore[no-untyped-def]
    image = hostile.images["hostile/app"]
    hostile.on("GET", "/manifests/", Answer(200, {}, image.manifest, mode="stall", stall_after=0))
    proc = _cli(["image", "mirror", "--insecure", f"{hostile.host}/hostile/app:v1",
                 f"oci:{tmp_path / 'out'}:hostile/app:v1"], tmp_path)
    try:
        deadline = time.monotonic() + 30
        while not hostile.requests("/manifests/") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert hostile.requests("/manifests/"), "the command never reached the registry"
        time.sleep(0.3)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=20)  # the default stall timeout is 60 s: this proves the signal did it
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and ("cancelled" in err or "interrupted" in err), err


def test_stall_timeout_flag_is_checked(tmp_path: Path) -> None:
    proc = _cli(["image", "mirror", "--stall-timeout", "0", "a/b:c", "d/e:f"], tmp_path)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "--stall-timeout" in err and "between 1 and 3600" in err, err


# -- 4. bounded memory --------------------------------------------------------------------------------

def test_a_manifest_declared_too_large_is_refused_without_reading(hostile) -> None:  # type: ignore[no-untyped-def]
    # Headers promise 5 MiB, then nothing comes: reading would stall; refusing must not wait.
    hostile.on("GET", "/manifests/", Answer(200, {}, b"", mode="stall", declared=5 << 20))
    with pytest.raises(AnswerTooLarge, match="MiB"):
        _run(_get_manifest(_plain_session(hostile), hostile.host), timeout=30)


@pytest.mark.parametrize("path", ["/manifests/", "/tags/list"])
def test_an_endless_chunked_answer_is_refused(hostile, path: str) -> None:  # type: ignore[no-untyped-def]
    hostile.on("GET", path, Answer(200, {"Content-Type": "application/json"}, b"[" * 65536, mode="endless"))

    async def go():  # type: ignore[no-untyped-def]
        async with _plain_session(hostile) as session:
            client = session.client(hostile.host)
            if "tags" in path:
                return await client.list_tags("hostile/app")
            return await client.get_manifest("hostile/app", "v1")

    with pytest.raises(AnswerTooLarge):
        _run(go())


def test_an_endless_token_answer_is_refused(hostile) -> None:  # type: ignore[no-untyped-def]
    hostile.challenge = f'Bearer realm="http://{hostile.host}/token",service="hostile"'
    hostile.on("GET", "^/token", Answer(200, {}, b'{"token":"' + b"a" * 65536, mode="endless"))
    with pytest.raises(AnswerTooLarge, match="token"):
        _run(_get_manifest(_plain_session(hostile), hostile.host))


def test_an_endless_error_body_still_ends_in_the_error(hostile) -> None:  # type: ignore[no-untyped-def]
    hostile.on("GET", "/manifests/", Answer(400, {}, b"x" * 65536, mode="endless"))
    with pytest.raises(RegistryProtocolError) as info:
        _run(_get_manifest(_plain_session(hostile), hostile.host))
    assert info.value.status == 400


def test_an_index_with_absurdly_many_children_is_refused(hostile) -> None:  # type: ignore[no-untyped-def]
    child = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "a" * 64, "size": 10,
             "platform": {"os": "linux", "architecture": "amd64"}}
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child] * 5000}).encode()
    hostile.on("GET", "/manifests/", Answer(200, {"Content-Type": OCI_INDEX}, index))
    with pytest.raises(RegistryProtocolError, match="5000 manifests"):
        _run(_get_manifest(_plain_session(hostile), hostile.host))


# -- 5. malformed HTTP and wrong JSON types ------------------------------------------------------------

BAD_CHUNK = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
GIANT_HEADER = b"HTTP/1.1 200 OK\r\nX-Junk: " + b"j" * (200 * 1024) + b"\r\nContent-Length: 2\r\n\r\n{}"


@pytest.mark.parametrize("raw", [BAD_CHUNK, GIANT_HEADER], ids=["bad-chunk-size", "giant-header"])
def test_malformed_http_on_a_manifest_is_retried_then_reported(hostile, raw: bytes) -> None:  # type: ignore[no-untyped-def]
    hostile.on("GET", "/manifests/", Answer(mode="raw", body=raw))
    with pytest.raises(BrokenHTTP) as info:
        _run(_get_manifest(_plain_session(hostile), hostile.host))
    assert "malformed" in str(info.value) and "\n" not in str(info.value)
    assert len(hostile.requests("/manifests/")) == QUICK.attempts


@pytest.mark.parametrize("raw", [BAD_CHUNK, GIANT_HEADER, b"SPDY/9 what\r\n\r\n"],
                         ids=["bad-chunk-size", "giant-header", "not-http"])
def test_malformed_http_on_the_fast_blob_path_is_retried_then_reported(hostile, raw: bytes) -> None:  # type: ignore[no-untyped-def]
    image = hostile.images["hostile/app"]
    hostile.on("GET", "/blobs/", Answer(mode="raw", body=raw))

    async def go() -> bytes:
        async with _plain_session(hostile) as session:
            return await session.client(hostile.host).read_blob("hostile/app", image.layer_digest)

    with pytest.raises(RegistryUnreachable) as info:
        _run(go())
    assert hostile.host in str(info.value) and "\n" not in str(info.value)
    assert len(hostile.requests("/blobs/")) >= QUICK.attempts


@pytest.mark.parametrize("body", [
    b'{"schemaVersion": 2, "mediaType": {"a": 1}}',
    b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "layers": 7}',
    b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": ["x"]}',
    b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": {"a": 1}}',
    b"[" * 100000 + b"]" * 100000,
], ids=["media-type-object", "layers-number", "config-list", "manifests-object", "deep-nesting"])
def test_wrong_json_types_in_a_manifest_are_one_line_errors(hostile, body: bytes) -> None:  # type: ignore[no-untyped-def]
    hostile.on("GET", "/manifests/", Answer(200, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}, body))
    with pytest.raises(RegistryError) as info:
        _run(_get_manifest(_plain_session(hostile), hostile.host))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("body", [b'{"tags": "v1"}', b'{"tags": [1, 2]}', b'["v1"]', b'{"tags": ["../../etc"]}'])
def test_wrong_tag_lists_are_protocol_errors(hostile, body: bytes) -> None:  # type: ignore[no-untyped-def]
    hostile.on("GET", "/tags/list", Answer(200, {"Content-Type": "application/json"}, body))

    async def go() -> list[str]:
        async with _plain_session(hostile) as session:
            return await session.client(hostile.host).list_tags("hostile/app")

    with pytest.raises(RegistryProtocolError):
        _run(go())


@pytest.mark.parametrize("body", [b'{"token": 5}', b'{"token": ["x"]}', b'{"token": "ok", "expires_in": "soon"}',
                                  b'{"token": "line\\r\\nX-Injected: 1"}', b"[]", b"not json"])
def test_wrong_token_answers_are_protocol_errors(hostile, body: bytes) -> None:  # type: ignore[no-untyped-def]
    hostile.challenge = f'Bearer realm="http://{hostile.host}/token",service="hostile"'
    hostile.on("GET", "^/token", Answer(200, {"Content-Type": "application/json"}, body))
    with pytest.raises(RegistryProtocolError, match="token service"):
        _run(_get_manifest(_plain_session(hostile), hostile.host))
    assert not any("x-injected" in s.headers for s in hostile.seen)


def test_the_client_type_is_reexported() -> None:
    assert RegistryClient.__module__ == "core.registry.client"
    assert TinyImage
