"""The real internet a mirror host lives in (issue 22): a corporate proxy (Debian's Squid, with proxy
authentication) and a source whose every blob GET redirects to a CDN on another host (signed, expiring
URLs; a token service on a third host). The CLI runs as a child process with the environment such a host
has (HTTPS_PROXY=http://user:pass@proxy, NO_PROXY=...); skopeo through the same proxy is the referee.

The test names (src/cdn/auth/mirror.example.test) resolve only through Squid, so a client that ignores
the proxy fails on name resolution; Squid's access log then says which tunnels were opened.

The first tests prove the harness itself with curl and skopeo (they pass whatever our client does); the
rest need the client of issue 22 (proxies, --proxy/--no-proxy, CDN redirects on a kept-alive pool).
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.cdn_front import AUTH_HOST, CDN_HOST, MIRROR_HOST, SRC_HOST, StoredImage
from tests.support.constants import PASSWORD, USER
from tests.support.json_server import json_server
from tests.support.realnet import CLI, ROOT, Realnet, clean_environment, needs_squid
from tests.support.repos import unique_repo
from tests.support.squid import PROXY_PASSWORD, PROXY_USER
from tui.sandbox.pki import make_server_cert
from tui.sandbox.registry import free_port, make_registry

pytestmark = needs_squid

MiB = 1 << 20
GRAPH_DIR = Path("/work/shared/fixtures/release/cincinnati-graph")
# Copies run with this many connections per registry at most; the CDN bound below allows for it.
PARALLEL = 4
WRONG_PROXY_PASSWORD = "Wrong-proxy-pw-4242"


# -- helpers -----------------------------------------------------------------------------------------

def curl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["curl", "-sS", "--max-time", "20", *args], capture_output=True, text=True, check=False,
                          env=env or clean_environment(), timeout=30)


def fresh_image(realnet: Realnet, sizes: list[int], prefix: str = "realnet") -> StoredImage:
    """An image of random layers under a new repository: no blob of it is in the mirror yet, so every
    blob must really be read (nothing mounted or skipped)."""
    return realnet.source.random_image(unique_repo(prefix), "v1", sizes)


def image_mirror(realnet: Realnet, src: str, dst: str, *extra: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return realnet.cli("image", "mirror", *realnet.registry_args(), "--max-per-registry", str(PARALLEL), *extra, src, dst,
                       env=env)


def release_info(realnet: Realnet, *extra: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A read-only command that only touches the source (cheap probe of the proxy choice)."""
    return realnet.cli("release", "info", *realnet.registry_args(), *extra, realnet.release_ref, env=env)


def no_secrets(result: subprocess.CompletedProcess[str]) -> None:
    text = result.stdout + result.stderr
    for secret in (PROXY_PASSWORD, WRONG_PROXY_PASSWORD, PASSWORD):
        assert secret not in text, "a password reached the output"


def one_proxy_line(result: subprocess.CompletedProcess[str], proxy: str) -> str:
    """The failure is one clear line that names the proxy (host:port and the word), with no traceback."""
    assert result.returncode != 0
    no_secrets(result)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    naming = [line for line in lines if proxy in line]
    assert len(naming) == 1 and "proxy" in naming[0].lower(), result.stderr
    assert len(lines) <= 2, result.stderr  # the error, and at most a one-line summary
    return naming[0]


@contextmanager
def cdn_knobs(realnet: Realnet, **knobs: object) -> Iterator[None]:
    cdn = realnet.source.cdn

    def apply() -> None:
        for name, value in knobs.items():
            setattr(cdn, name, value)

    realnet.source.call(apply)
    try:
        yield
    finally:
        realnet.source.call(cdn.reset_knobs)


# -- the harness itself (curl and skopeo; pass with any client) -----------------------------------------

def test_harness_names_resolve_only_through_the_proxy(realnet: Realnet) -> None:
    """The premise of every test below: going around the proxy fails on the name, the proxy checks its
    password and refuses one CONNECT port, and the registry behind it asks for a token on another host."""
    url = f"https://{realnet.source.host}/v2/"
    direct = curl("-o", "/dev/null", "--cacert", str(realnet.ca_file), url)
    assert direct.returncode == 6, direct.stderr  # could not resolve host
    through = curl("-i", "--cacert", str(realnet.ca_file), "-x", realnet.squid.url(), url)
    assert through.returncode == 0, through.stderr
    assert " 401 " in through.stdout.splitlines()[2 if "Connection established" in through.stdout else 0]
    assert f'realm="https://{realnet.source.auth_host}/token"' in through.stdout
    wrong = curl("-o", "/dev/null", "-w", "%{http_connect}", "--cacert", str(realnet.ca_file),
                 "-x", realnet.squid.url(PROXY_USER, WRONG_PROXY_PASSWORD), url)
    assert wrong.stdout == "407"
    refused = curl("-o", "/dev/null", "-w", "%{http_connect}", "-x", realnet.squid.url(),
                   f"https://{MIRROR_HOST}:{realnet.squid.refused_port}/v2/")
    assert refused.stdout == "403"


def test_harness_the_cdn_behaves_like_object_storage(realnet: Realnet) -> None:
    """400 for any Authorization, 403 AccessDenied once expired, 206 for a range, 403 for a bad signature."""
    image = fresh_image(realnet, [64 * 1024])
    digest = next(iter(image.layers))
    cdn = realnet.source.cdn
    common = ["--cacert", str(realnet.ca_file), "-x", realnet.squid.url(), "-o", "/dev/null", "-w", "%{http_code}"]
    url = realnet.source.call(lambda: cdn.signed_url(digest))
    assert curl(*common, "-H", "Authorization: Bearer abc", url).stdout == "400"
    assert curl(*common, url).stdout == "200"
    assert curl(*common, "-r", "100-199", url).stdout == "206"
    assert curl(*common, url.replace("Signature=", "Signature=x")).stdout == "403"
    realnet.source.call(cdn.expire_now)
    expired = curl("--cacert", str(realnet.ca_file), "-x", realnet.squid.url(), url)
    assert "<Code>AccessDenied</Code>" in expired.stdout and "expired" in expired.stdout
    for status in (401, 403):
        with cdn_knobs(realnet, refuse=status):
            fresh = realnet.source.call(lambda: cdn.signed_url(digest))
            assert curl(*common, fresh).stdout == str(status)


def test_harness_the_cdn_cuts_a_stream_and_its_url_expires(realnet: Realnet, tmp_path: Path) -> None:
    """The mechanism of the expiry case: once 1 MiB of the blob went out, every URL issued so far expires
    and the stream is cut; resuming on the same URL is 403 expired; a fresh URL serves the rest (206)."""
    image = fresh_image(realnet, [8 * MiB])
    digest = next(iter(image.layers))
    cdn = realnet.source.cdn
    before = realnet.counts()[1]
    url = realnet.source.call(lambda: cdn.signed_url(digest))
    part = tmp_path / "part"
    common = ["--cacert", str(realnet.ca_file), "-x", realnet.squid.url()]
    with cdn_knobs(realnet, expire_after=(digest, 1 * MiB)):
        cut = curl(*common, "-o", str(part), url)
    assert cut.returncode != 0 and 0 < part.stat().st_size < 8 * MiB
    assert realnet.counts()[1].since(before).cut == 1
    resumed = curl(*common, "-w", "%{http_code}", "-o", "/dev/null", "-C", str(part.stat().st_size), url)
    assert resumed.stdout == "403"
    fresh = realnet.source.call(lambda: cdn.signed_url(digest))
    rest = curl(*common, "-w", "%{http_code}", "-C", str(part.stat().st_size), "-o", str(tmp_path / "rest"), fresh)
    assert rest.stdout == "206"
    data = part.read_bytes() + (tmp_path / "rest").read_bytes()
    assert "sha256:" + hashlib.sha256(data).hexdigest() == digest


def test_harness_skopeo_copies_through_proxy_and_cdn(realnet: Realnet, tmp_path: Path) -> None:
    """skopeo (the referee) reads the source through Squid: one registry GET and one CDN GET per blob,
    never an Authorization at the CDN, tunnels to the source, the CDN and the token service."""
    image = fresh_image(realnet, [4096, 300 * 1024, 2 * MiB])
    mark = realnet.squid.mark()
    front0, cdn0 = realnet.counts()
    out = realnet.skopeo("copy", "--src-authfile", str(realnet.auth_file), "--src-cert-dir", str(realnet.cert_dir),
                         f"docker://{image.ref}", f"dir:{tmp_path / 'copy'}")
    assert out.returncode == 0, out.stderr
    front1, cdn1 = realnet.counts()
    front, cdn = front1.since(front0), cdn1.since(cdn0)
    assert dict(front.blob_gets) == dict.fromkeys(image.blobs, 1)
    assert dict(cdn.gets) == dict.fromkeys(image.blobs, 1)
    assert cdn.with_authorization == 0
    hosts = {target.rpartition(":")[0] for target in realnet.squid.connects(mark)}
    assert {SRC_HOST, CDN_HOST, AUTH_HOST} <= hosts


# -- our client behind the proxy ------------------------------------------------------------------------

def test_everything_through_the_proxy_with_cdn_redirects(realnet: Realnet) -> None:
    """(a) source via the proxy with every blob from the CDN, mirror by name via the proxy too.

    Per blob exactly 1 registry GET (answered 307) and 1 CDN GET; the CDN never sees Authorization; the
    CDN connections are kept alive: at most max(1, blobs // 20) + PARALLEL new TLS connections (the
    client may open up to --max-per-registry connections at once, each then reused for further blobs)."""
    image = fresh_image(realnet, [8 * 1024 + 97 * i for i in range(24)] + [1 * MiB])
    blobs = len(image.blobs)
    repo = unique_repo("realnet-all")
    dst = f"{realnet.mirror_name}/{repo}:v1"
    mark = realnet.squid.mark()
    front0, cdn0 = realnet.counts()
    result = image_mirror(realnet, image.ref, dst, env=realnet.proxy_env())
    assert result.returncode == 0, result.stderr
    no_secrets(result)
    front1, cdn1 = realnet.counts()
    front, cdn = front1.since(front0), cdn1.since(cdn0)
    assert dict(front.blob_gets) == dict.fromkeys(image.blobs, 1), "one registry GET per blob"
    assert dict(front.redirects) == dict.fromkeys(image.blobs, 1)
    assert dict(cdn.gets) == dict.fromkeys(image.blobs, 1), "one CDN GET per blob"
    assert cdn.with_authorization == 0, "the registry's Authorization reached the CDN"
    assert cdn.bytes_sent == sum(image.blobs.values())
    bound = max(1, blobs // 20) + PARALLEL
    assert 1 <= cdn.connections <= bound, f"{cdn.connections} TLS connections to the CDN for {blobs} blobs"
    tunnels = {target.rpartition(":")[0] for target in realnet.squid.connects(mark)}
    assert {SRC_HOST, CDN_HOST, AUTH_HOST, MIRROR_HOST} <= tunnels
    assert realnet.skopeo_digest(dst) == realnet.skopeo_digest(image.ref) == image.digest


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY"])
def test_the_proxy_comes_from_the_environment(realnet: Realnet, variable: str) -> None:
    """Upper or lower case, or ALL_PROXY alone: the source is read through Squid (else: no name)."""
    mark = realnet.squid.mark()
    result = release_info(realnet, env=clean_environment(**{variable: realnet.squid.url()}))
    assert result.returncode == 0, result.stderr
    no_secrets(result)
    assert any(t.startswith(f"{SRC_HOST}:") for t in realnet.squid.connects(mark))


# NO_PROXY forms that match the source, and forms that do not ({src}: the source's host:port).
NO_PROXY_MATCHING = ["src.example.test", "example.test", ".example.test", "{src}", "*",
                     "other.example.test, SRC.EXAMPLE.TEST"]
NO_PROXY_NOT_MATCHING = ["other.example.test,10.0.0.0/8,127.0.0.1,::1", "c.example.test", "src.example.test:1",
                         ".src.example.test"]


def test_no_proxy_decides_which_hosts_go_direct(realnet: Realnet) -> None:
    """A host NO_PROXY matches (a name and its subdomains, a .domain, host:port, '*') is reached directly:
    here its name does not resolve and Squid sees no tunnel to it. A host it does not match goes through
    Squid and works (its name resolves nowhere else). Each batch runs in parallel: a direct attempt costs
    the client's retries on a name that never resolves."""

    def batch(forms: list[str]) -> list[tuple[str, subprocess.CompletedProcess[str]]]:
        children = []
        for form in forms:
            value = form.format(src=realnet.source.host)
            env = realnet.proxy_env(NO_PROXY=value, no_proxy=value)
            argv = [*CLI, "release", "info", *realnet.registry_args(), realnet.release_ref]
            children.append((value, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                                     env=env, cwd=ROOT)))
        out = []
        for value, child in children:
            stdout, stderr = child.communicate(timeout=120)
            out.append((value, subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)))
        return out

    mark = realnet.squid.mark()
    for value, result in batch(NO_PROXY_MATCHING):
        no_secrets(result)
        assert "Traceback" not in result.stderr
        assert result.returncode != 0, f"NO_PROXY={value!r} should send the source around the proxy"
    assert not [t for t in realnet.squid.connects(mark, status=None) if t.startswith(f"{SRC_HOST}:")]
    for value, result in batch(NO_PROXY_NOT_MATCHING):
        no_secrets(result)
        assert result.returncode == 0, f"NO_PROXY={value!r}: {result.stderr}"


def test_mirror_in_no_proxy_is_reached_directly(realnet: Realnet) -> None:
    """(b) NO_PROXY names the mirror (127.0.0.1): Squid shows tunnels to the source and the CDN, none to it."""
    image = fresh_image(realnet, [4096, 64 * 1024])
    repo = unique_repo("realnet-direct")
    dst = f"{realnet.mirror_ip}/{repo}:v1"
    mark = realnet.squid.mark()
    result = image_mirror(realnet, image.ref, dst, env=realnet.proxy_env(NO_PROXY=f"127.0.0.1,{MIRROR_HOST}"))
    assert result.returncode == 0, result.stderr
    tunnels = realnet.squid.connects(mark, status=None)
    assert any(t.startswith(f"{SRC_HOST}:") for t in tunnels) and any(t.startswith(f"{CDN_HOST}:") for t in tunnels)
    assert not [t for t in tunnels if t.endswith(f":{realnet.mirror.port}")], tunnels
    assert realnet.mirror_has(repo)
    assert realnet.skopeo_digest(f"{realnet.mirror_name}/{repo}:v1") == image.digest


def test_proxy_flag_overrides_the_environment(realnet: Realnet) -> None:
    """--proxy wins over HTTPS_PROXY (here a dead proxy) and --no-proxy over NO_PROXY."""
    dead = f"http://127.0.0.1:{free_port()}"
    mark = realnet.squid.mark()
    result = release_info(realnet, "--proxy", realnet.squid.url(), env=clean_environment(HTTPS_PROXY=dead))
    assert result.returncode == 0, result.stderr
    no_secrets(result)
    assert any(t.startswith(f"{SRC_HOST}:") for t in realnet.squid.connects(mark))
    # NO_PROXY would send the source around the proxy; --no-proxy replaces it.
    result = release_info(realnet, "--no-proxy", "127.0.0.1", env=realnet.proxy_env(NO_PROXY=".example.test"))
    assert result.returncode == 0, result.stderr
    # '*': no proxy at all, so the source's name does not resolve.
    mark = realnet.squid.mark()
    result = release_info(realnet, "--no-proxy", "*", env=realnet.proxy_env())
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert not realnet.squid.connects(mark, status=None)


def test_wrong_proxy_password_is_one_line_and_writes_nothing(realnet: Realnet) -> None:
    """(c) Squid answers 407: one line naming the proxy, neither password printed, nothing in the mirror."""
    image = fresh_image(realnet, [4096])
    repo = unique_repo("realnet-407")
    mark = realnet.squid.mark()
    env = clean_environment(HTTPS_PROXY=realnet.squid.url(PROXY_USER, WRONG_PROXY_PASSWORD))
    result = image_mirror(realnet, image.ref, f"{realnet.mirror_name}/{repo}:v1", env=env)
    one_proxy_line(result, realnet.squid.address)
    assert [e.status for e in realnet.squid.entries(mark) if e.method == "CONNECT"][:1] == [407]
    assert not realnet.mirror_has(repo) and realnet.mirror_blob_uploads(repo) == 0


def test_refused_connect_names_the_proxy(realnet: Realnet, pki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """(d) The proxy refuses CONNECT to the mirror's port (403) while the mirror itself is up."""
    port = realnet.squid.refused_port
    assert port is not None
    (tmp_path / "private").mkdir()
    cert = make_server_cert(tmp_path, pki.ca_cert, pki.ca_key, hosts=(MIRROR_HOST, "127.0.0.1"), name="blocked")
    blocked = make_registry(tmp_path / "registry", tls=(cert.cert_path, cert.key_path), ca_file=pki.ca_file,
                            htpasswd=(USER, PASSWORD), port=port)
    blocked.start()
    try:
        up = curl("-o", "/dev/null", "-w", "%{http_code}", "--cacert", str(pki.ca_file), f"https://127.0.0.1:{port}/v2/")
        assert up.stdout == "401"  # the registry answers when reached directly
        image = fresh_image(realnet, [4096])
        repo = unique_repo("realnet-403")
        auth = tmp_path / "auth.json"
        auth.write_text(realnet.auth_file.read_text().replace(f"127.0.0.1:{realnet.mirror.port}",
                                                              f"{MIRROR_HOST}:{port}"))
        args = ["-a", str(auth), "--ca-file", str(realnet.ca_file), "--auth-host", realnet.source.auth_host]
        mark = realnet.squid.mark()
        result = realnet.cli("image", "mirror", *args, image.ref, f"{MIRROR_HOST}:{port}/{repo}:v1",
                             env=realnet.proxy_env())
        one_proxy_line(result, realnet.squid.address)
        assert any(e.status == 403 and e.url == f"{MIRROR_HOST}:{port}" for e in realnet.squid.entries(mark))
        tags = blocked.root / "data" / "docker" / "registry" / "v2" / "repositories" / repo
        assert not tags.exists()
    finally:
        blocked.stop()


def test_cdn_url_expiring_mid_copy_is_asked_again(realnet: Realnet) -> None:
    """(e) While the big blob streams, every CDN URL issued so far expires and the streams are cut (an
    edge dropping connections): a resume on the old URL gets 403 AccessDenied, so the client must ask the
    registry for a fresh redirect. The copy completes with the right digests."""
    big = 24 * MiB
    image = fresh_image(realnet, [4096, big], prefix="realnet-expiry")
    big_digest = next(d for d, s in image.layers.items() if s == big)
    repo = unique_repo("realnet-expiry")
    dst = f"{realnet.mirror_name}/{repo}:v1"
    front0, cdn0 = realnet.counts()
    with cdn_knobs(realnet, expire_after=(big_digest, 6 * MiB)):
        result = image_mirror(realnet, image.ref, dst, env=realnet.proxy_env())
    assert result.returncode == 0, result.stderr
    front1, cdn1 = realnet.counts()
    front, cdn = front1.since(front0), cdn1.since(cdn0)
    assert cdn.cut >= 1, "the expiry never hit a stream: the test proved nothing"
    assert front.redirects[big_digest] >= 2, "the client did not ask the registry for a fresh URL"
    assert cdn.with_authorization == 0
    assert realnet.skopeo_digest(dst) == image.digest


@pytest.mark.parametrize("status", [401, 403])
def test_cdn_refusing_is_not_called_a_wrong_registry_password(realnet: Realnet, status: int) -> None:
    """(f) The CDN answers 401/403 to the redirected GET: the error names the CDN, and does not tell the
    user their registry login failed (it did not: the registry accepted the token and redirected)."""
    image = fresh_image(realnet, [4096, 8192])
    repo = unique_repo("realnet-cdn-refuses")
    with cdn_knobs(realnet, refuse=status):
        result = image_mirror(realnet, image.ref, f"{realnet.mirror_name}/{repo}:v1", env=realnet.proxy_env())
    assert result.returncode != 0
    no_secrets(result)
    assert "Traceback" not in result.stderr
    assert CDN_HOST in result.stderr, result.stderr
    # What the tool says when a registry turns its login down (core.registry.auth: RegistryAuth.failed).
    assert not re.search(r"user name or password|requires a login|wants a login|auth file|credentials add",
                         result.stderr, re.I), result.stderr
    assert not realnet.mirror_has(repo)


def test_the_update_graph_over_plain_http_goes_through_http_proxy(realnet: Realnet) -> None:
    """HTTP_PROXY carries plain-http requests (here the update graph) as an absolute-URI request to the proxy,
    with the proxy login; the graph's name resolves only through Squid."""
    body = next(GRAPH_DIR.glob("*_stable-4.8_amd64_v1.json")).read_bytes()

    with json_server(body) as (port, _requests):
        url = f"http://graph.example.test:{port}/api/upgrades_info/v1/graph"
        mark = realnet.squid.mark()
        result = realnet.cli("release", "list", "--channel", "stable-4.8", "--graph-url", url,
                             env=clean_environment(HTTP_PROXY=realnet.squid.url(), NO_PROXY="127.0.0.1"))
        assert result.returncode == 0, result.stderr
        no_secrets(result)
        assert result.stdout.startswith("4.8.54")
        sent = [e for e in realnet.squid.plain_requests(mark) if e.url.startswith(url)]
        assert sent and sent[0].status == 200 and sent[0].user == PROXY_USER


def test_release_mirror_through_the_proxy(realnet: Realnet) -> None:
    """``release mirror`` of a small payload whose components come from the CDN, all through Squid."""
    repo = unique_repo("realnet-release")
    to = f"{realnet.mirror_name}/{repo}"
    front0, cdn0 = realnet.counts()
    result = realnet.cli("release", "mirror", *realnet.registry_args(), "--from", realnet.release_ref, "--to", to,
                         env=realnet.proxy_env())
    assert result.returncode == 0, result.stderr
    no_secrets(result)
    front1, cdn1 = realnet.counts()
    front, cdn = front1.since(front0), cdn1.since(cdn0)
    assert cdn.with_authorization == 0
    assert cdn.gets and set(cdn.gets) == set(front.redirects), "every blob read came from the CDN"
    tag = realnet.release_ref.rpartition(":")[2]
    assert realnet.skopeo_digest(f"{to}:{tag}") == realnet.skopeo_digest(realnet.release_ref)
