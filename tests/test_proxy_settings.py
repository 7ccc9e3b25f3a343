"""Which proxy a request goes through (core.http.proxy), and how Preflight shows it (core.routes, the CLI)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.errors import InputError, PlanError
from core.http.proxy import ProxySettings, bypasses, parse_proxy
from core.plan import Plan, ReleaseChoice, load_plan
from core.routes import plan_servers, routes

ENV = {"HTTPS_PROXY": "http://alice:Zq9%40pw@proxy.corp:3128", "NO_PROXY": ".corp,10.0.0.0/8,mirror.lab:8443"}


def test_https_and_http_proxies_come_from_the_environment_in_either_case() -> None:
    upper = ProxySettings.from_env({"HTTPS_PROXY": "http://p1:3128", "HTTP_PROXY": "p2:8080"})
    assert upper.https is not None and upper.https.display == "p1:3128"
    assert upper.http is not None and upper.http.display == "p2:8080"  # no scheme: http, as Go and curl
    lower = ProxySettings.from_env({"https_proxy": "http://low:1", "HTTPS_PROXY": "http://up:2"})
    assert lower.https is not None and lower.https.display == "low:1"  # lower case wins, as curl
    fallback = ProxySettings.from_env({"ALL_PROXY": "http://all:3"})
    assert fallback.https == fallback.http and fallback.https is not None and fallback.https.display == "all:3"
    assert ProxySettings.from_env({}).for_url("https", "quay.io", 443) is None


def test_the_proxy_login_is_decoded_for_the_proxy_and_never_shown() -> None:
    settings = ProxySettings.from_env(ENV)
    proxy = settings.for_url("https", "quay.io", 443)
    assert proxy is not None and proxy.username == "alice" and proxy.password == "Zq9@pw"
    assert proxy.authorization() == "Basic YWxpY2U6WnE5QHB3"
    assert "Zq9" not in proxy.display and "Zq9" not in repr(proxy) and "alice" not in repr(proxy)


@pytest.mark.parametrize(("host", "port", "direct"), [
    ("quay.io", 443, False),
    ("mirror.corp", 8443, True),            # .corp: a subdomain
    ("corp", 443, False),                   # .corp matches subdomains only
    ("10.20.30.40", 5000, True),            # CIDR
    ("11.0.0.1", 5000, False),
    ("mirror.lab", 8443, True),             # host:port, that port
    ("mirror.lab", 443, False),             # ... only that port
    ("127.0.0.1", 5000, True),              # loopback: never proxied, as Go
    ("localhost", 5000, True),
    ("::1", 5000, True),
])
def test_no_proxy_forms(host: str, port: int, direct: bool) -> None:
    assert (ProxySettings.from_env(ENV).for_url("https", host, port) is None) is direct


def test_no_proxy_names_ips_and_star() -> None:
    assert bypasses(("example.com",), "a.example.com", 443)       # a name matches its subdomains
    assert bypasses(("example.com",), "example.com", 443)
    assert not bypasses(("example.com",), "badexample.com", 443)  # ... at a label boundary only
    assert bypasses(("192.168.1.5",), "192.168.1.5", 443)
    assert not bypasses(("192.168.1.5",), "192.168.1.50", 443)
    assert bypasses(("[fd00::1]:5000",), "fd00::1", 5000)
    assert bypasses(("fd00::/8",), "fd00::1", 443)
    assert bypasses(("*",), "quay.io", 443)
    assert bypasses(("*.example.com",), "a.example.com", 443)


def test_flags_override_the_environment() -> None:
    assert ProxySettings.from_env(ENV, proxy="").https is None  # --proxy '': none at all
    forced = ProxySettings.from_env(ENV, proxy="http://other:8080")
    assert forced.https is not None and forced.https.display == "other:8080" and forced.http == forced.https
    everything = ProxySettings.from_env(ENV, no_proxy="*")
    assert everything.for_url("https", "quay.io", 443) is None
    nothing = ProxySettings.from_env(ENV, no_proxy="")
    assert nothing.for_url("https", "mirror.corp", 8443) is not None


@pytest.mark.parametrize("url", ["https://proxy:3128", "socks5://proxy:1080", "http://", "http://proxy:notaport"])
def test_a_proxy_url_we_cannot_use_is_one_line(url: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_proxy(url, source="HTTPS_PROXY")
    assert "HTTPS_PROXY" in str(caught.value) and "\n" not in str(caught.value)


def test_a_plan_names_its_proxy_and_a_bad_one_is_refused(tmp_path) -> None:
    good = tmp_path / "plan.yaml"
    good.write_text("mirror: {registry: mirror.corp:8443}\noptions: {proxy: 'http://proxy.corp:3128', no_proxy: .corp}\n")
    plan = load_plan(str(good))
    assert plan.options.proxy == "http://proxy.corp:3128" and plan.options.no_proxy == ".corp"
    bad = tmp_path / "bad.yaml"
    bad.write_text("mirror: {registry: mirror.corp:8443}\noptions: {proxy: 'ftp://proxy.corp'}\n")
    with pytest.raises(PlanError, match="options.proxy"):
        load_plan(str(bad))


def test_routes_name_each_server_of_a_plan_and_how_it_is_reached() -> None:
    plan = Plan()
    plan.mirror.registry = "mirror.corp:8443"
    plan.release = ReleaseChoice(source="quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64",
                                 target="mirror.corp:8443/ocp4/openshift4")
    found = {r.origin: r for r in routes(plan_servers(plan), ProxySettings.from_env(ENV))}
    assert found["https://mirror.corp:8443"].proxied is False and found["https://mirror.corp:8443"].role == "mirror"
    assert found["https://quay.io"].proxied and "proxy.corp:3128" in found["https://quay.io"].how


def test_the_preflight_command_shows_the_proxy_without_its_password() -> None:
    env = {"PATH": "/usr/bin:/bin", **ENV}
    done = subprocess.run([sys.executable, "-m", "tui.cli", "preflight", "quay.io", "mirror.corp:8443"],
                          capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert "https://quay.io" in done.stdout and "through the proxy proxy.corp:3128" in done.stdout
    assert "mirror.corp:8443" in done.stdout and "directly" in done.stdout
    assert "Zq9" not in done.stdout + done.stderr


async def test_preflight_shows_the_proxy_for_each_registry(tmp_path, monkeypatch) -> None:
    """The wizard's Preflight names the proxy quay.io goes through and the mirror reached directly."""

    from tests.test_tui_app import make_app
    from tui.widgets.checks import CheckList

    monkeypatch.setenv("HTTPS_PROXY", "http://alice:Zq9%40pw@proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "mirror.example.com")
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.click("#recheck")  # "Check again"
        await app.workers.wait_for_complete()
        await pilot.pause()
        checks = {check.name: check for check in app.state.checks}
        network = checks["network"]
        assert network.state == "ok"
        assert "quay.io through the proxy proxy.corp:3128" in network.detail
        assert "mirror.example.com:8443 directly" in network.detail
        shown = " ".join(str(w.render()) for w in app.screen.query_one(CheckList).query("*"))
        assert "proxy.corp:3128" in shown and "Zq9" not in shown
    monkeypatch.delenv("NO_PROXY")
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.click("#recheck")
        await app.workers.wait_for_complete()
        await pilot.pause()
        network = {check.name: check for check in app.state.checks}["network"]
        assert network.state == "warn" and "NO_PROXY" in (network.fix or "")
