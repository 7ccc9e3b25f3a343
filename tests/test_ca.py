"""CA trust for the mirror: real certificates made here, served by docker-registry, checked over real TLS."""

from __future__ import annotations

import datetime as dt
import ipaddress
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.ca import (
    bundle_problems,
    ca_manifests,
    check_registry_ca,
    configmap_key,
    fetch_chain,
    load_ca_bundle,
    parse_ca_pem,
    san_covers,
)
from core.errors import CertificateError, InputError, RegistryUnreachable
from tests.support.unverified_registry import UnverifiedStartRegistry
from tui.cli import main
from tui.sandbox.pki import make_ca
from tui.sandbox.registry import LocalRegistry, free_port

NOW = dt.datetime.now(dt.UTC)


# -- certificates made for these tests --------------------------------------------------------------


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        key_path = path.with_suffix(".key")
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        key_path.chmod(0o600)
    return path


def issue(ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, *, cn: str, sans: tuple[str, ...] | None,
          not_before: dt.datetime, not_after: dt.datetime, is_ca: bool = False,
          self_key: ec.EllipticCurvePrivateKey | None = None) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A certificate signed by ``ca_key`` (or self-signed when ``ca_cert`` is None); ``sans=None`` means no SAN."""
    key = self_key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(ca_cert.subject if ca_cert is not None else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True))
    if sans is not None:
        names: list[x509.GeneralName] = []
        for name in sans:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                names.append(x509.DNSName(name))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca_key if ca_cert is not None else key, hashes.SHA256()), key


@dataclass
class Certs:
    other_ca: Path          # a valid CA that did not sign anything the registries serve
    expired_ca: Path        # a CA whose validity ended yesterday
    leaf_only: Path         # the registry's own (non-CA) certificate given as the "CA file"
    bundle: Path            # other CA + the right CA in one file
    no_san: tuple[Path, Path]
    expired_server: tuple[Path, Path]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory, pki) -> Certs:
    folder = tmp_path_factory.mktemp("ca-certs")
    make_ca(folder / "other", "some other CA")
    other = folder / "other" / "ca.crt"
    expired_cert, _ = issue(None, None, cn="expired CA", sans=None, is_ca=True,  # type: ignore[arg-type]
                                      not_before=NOW - dt.timedelta(days=400), not_after=NOW - dt.timedelta(days=1))
    no_san, no_san_key = issue(pki.ca_cert, pki.ca_key, cn="127.0.0.1", sans=None,
                               not_before=NOW - dt.timedelta(minutes=5), not_after=NOW + dt.timedelta(days=5))
    old, old_key = issue(pki.ca_cert, pki.ca_key, cn="127.0.0.1", sans=("127.0.0.1", "localhost"),
                         not_before=NOW - dt.timedelta(days=30), not_after=NOW - dt.timedelta(days=2))
    bundle = folder / "bundle.crt"
    bundle.write_bytes(other.read_bytes() + pki.ca_file.read_bytes())
    return Certs(
        other_ca=other,
        expired_ca=_write(folder / "expired-ca.crt", expired_cert),
        leaf_only=pki.server.cert_path,
        bundle=bundle,
        no_san=(_write(folder / "no-san" / "server.crt", no_san, no_san_key), folder / "no-san" / "server.key"),
        expired_server=(_write(folder / "expired" / "server.crt", old, old_key), folder / "expired" / "server.key"),
    )


def _serve(root: Path, pair: tuple[Path, Path]) -> Iterator[LocalRegistry]:
    registry = UnverifiedStartRegistry(root=root, port=free_port(), cert=pair[0], key=pair[1])
    registry.start()
    try:
        yield registry
    finally:
        registry.stop()


@pytest.fixture(scope="module")
def no_san_registry(tmp_path_factory: pytest.TempPathFactory, certs: Certs) -> Iterator[LocalRegistry]:
    yield from _serve(tmp_path_factory.mktemp("no-san-registry"), certs.no_san)


@pytest.fixture(scope="module")
def expired_registry(tmp_path_factory: pytest.TempPathFactory, certs: Certs) -> Iterator[LocalRegistry]:
    yield from _serve(tmp_path_factory.mktemp("expired-registry"), certs.expired_server)


def closed_port() -> str:
    return f"127.0.0.1:{free_port()}"  # just freed; nothing listens there


def openssl_fingerprint(path: Path) -> str:
    out = subprocess.run(["openssl", "x509", "-in", str(path), "-noout", "-fingerprint", "-sha256"],
                         capture_output=True, text=True, check=True).stdout
    return out.strip().split("=", 1)[1]


# -- reading CA files -------------------------------------------------------------------------------


def test_one_ca_parsed_like_openssl_shows_it(pki) -> None:
    [info] = load_ca_bundle(pki.ca_file)
    assert info.subject == "CN=mirror-wizard test CA" == info.issuer
    assert info.is_ca and info.self_signed and not info.expired
    assert info.fingerprint_sha256 == openssl_fingerprint(pki.ca_file)
    assert info.not_after == pki.ca_cert.not_valid_after_utc
    assert "CN=mirror-wizard test CA" in info.summary() and info.fingerprint_sha256[:23] in info.summary()


def test_bundle_of_several_certificates(certs: Certs, pki) -> None:
    infos = load_ca_bundle(certs.bundle)
    assert [i.subject for i in infos] == ["CN=some other CA", "CN=mirror-wizard test CA"]
    assert infos[1].fingerprint_sha256 == openssl_fingerprint(pki.ca_file)
    assert bundle_problems(infos, "bundle.crt") == []


def test_server_certificate_details(pki) -> None:
    [leaf] = load_ca_bundle(pki.server.cert_path)
    assert not leaf.is_ca and not leaf.self_signed
    assert set(leaf.san) == {"127.0.0.1", "localhost"}
    assert leaf.issuer == "CN=mirror-wizard test CA"


def test_expired_and_non_ca_certificates_are_reported(certs: Certs) -> None:
    [expired] = load_ca_bundle(certs.expired_ca)
    assert expired.expired and expired.is_ca and "EXPIRED" in expired.summary()
    [problem] = bundle_problems([expired], "expired-ca.crt")
    assert "expired on" in problem and "expired-ca.crt" in problem
    [leaf] = load_ca_bundle(certs.leaf_only)
    [problem] = bundle_problems([leaf], "server.crt")
    assert "not a CA certificate" in problem


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is empty"),
        (b"hello, this is not a certificate\n", "not a PEM certificate file"),
        (b"-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n", "private key, not a certificate"),
        (b"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n", "certificate request"),
        (b"-----BEGIN CERTIFICATE-----\nnot base64 at all!!\n-----END CERTIFICATE-----\n", "certificate 1 of 1"),
    ],
)
def test_unreadable_ca_files_name_the_problem(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "ca.crt"
    path.write_bytes(content)
    with pytest.raises(CertificateError) as caught:
        load_ca_bundle(path)
    assert expected in str(caught.value) and str(path) in str(caught.value)


def test_der_file_gets_the_conversion_command(tmp_path: Path, pki) -> None:
    der = tmp_path / "ca.der"
    der.write_bytes(pki.ca_cert.public_bytes(serialization.Encoding.DER))
    with pytest.raises(CertificateError, match="DER .*openssl x509 -inform der"):
        load_ca_bundle(der)


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(CertificateError, match="does not exist"):
        load_ca_bundle(tmp_path / "nope.crt")
    with pytest.raises(CertificateError, match="is a directory"):
        load_ca_bundle(tmp_path)


def test_pem_text_with_surrounding_noise(pki) -> None:
    text = "subject=CN = something\n" + pki.ca_file.read_text() + "trailing words\n"
    [info] = parse_ca_pem(text, "pasted")
    assert info.subject == "CN=mirror-wizard test CA"


@pytest.mark.parametrize(
    ("san", "host", "covered"),
    [
        (["mirror.example.com"], "mirror.example.com", True),
        (["Mirror.Example.COM"], "mirror.example.com", True),
        (["*.example.com"], "mirror.example.com", True),
        (["*.example.com"], "a.mirror.example.com", False),
        (["*.example.com"], "example.com", False),
        (["other.example.com"], "mirror.example.com", False),
        (["127.0.0.1"], "127.0.0.1", True),
        (["localhost"], "127.0.0.1", False),
        (["::1"], "::1", True),
        ([], "mirror.example.com", False),
    ],
)
def test_san_matching(san: list[str], host: str, covered: bool) -> None:
    assert san_covers(san, host) is covered


# -- manifests --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("registry", "key"), [("mirror.example.com:8443", "mirror.example.com..8443"),
                                               ("mirror.example.com", "mirror.example.com"),
                                               ("127.0.0.1:5000", "127.0.0.1..5000")])
def test_configmap_key(registry: str, key: str) -> None:
    assert configmap_key(registry) == key


def test_configmap_key_rejects_non_hosts() -> None:
    with pytest.raises(InputError):
        configmap_key("https://mirror.example.com:8443/v2")


def test_manifests_configmap_patch_and_commands(pki) -> None:
    pem = pki.ca_file.read_text()
    manifests = ca_manifests("mirror.example.com:8443", pem, ca_path="ca.crt")
    assert manifests.configmap == {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "registry-config", "namespace": "openshift-config"},
        "data": {"mirror.example.com..8443": pem},
    }
    assert manifests.patch == {"spec": {"additionalTrustedCA": {"name": "registry-config"}}}
    assert manifests.commands == [
        "oc create configmap registry-config --from-file=mirror.example.com..8443=ca.crt -n openshift-config",
        ("oc patch image.config.openshift.io/cluster --patch "
         "'{\"spec\":{\"additionalTrustedCA\":{\"name\":\"registry-config\"}}}' --type=merge"),
    ]
    loaded = yaml.safe_load(manifests.yaml())  # the patch rides along as comments: still one object
    assert loaded == manifests.configmap
    assert '{"spec":{"additionalTrustedCA":{"name":"registry-config"}}}' in manifests.yaml()


def test_manifests_with_another_name_and_bad_input(pki) -> None:
    manifests = ca_manifests("mirror.example.com", pki.ca_file.read_text(), "mirror-ca")
    assert manifests.patch["spec"]["additionalTrustedCA"]["name"] == "mirror-ca"
    assert list(manifests.configmap["data"]) == ["mirror.example.com"]
    with pytest.raises(InputError, match="ConfigMap name"):
        ca_manifests("mirror.example.com", pki.ca_file.read_text(), "Registry_Config")
    with pytest.raises(CertificateError):
        ca_manifests("mirror.example.com", "not a pem", "registry-config")


# -- against real registries ------------------------------------------------------------------------


async def test_registry_trusted_with_its_ca(tls_registry, pki) -> None:
    check = await check_registry_ca(tls_registry.host, pki.ca_file)
    assert check.ok, check.problems
    assert check.verified and check.san_ok and check.problems == []
    leaf = check.server_chain[0]
    [expected] = load_ca_bundle(pki.server.cert_path)
    assert leaf.fingerprint_sha256 == expected.fingerprint_sha256
    assert "127.0.0.1" in leaf.san


async def test_registry_by_dns_name_in_the_san(tls_registry, pki) -> None:
    check = await check_registry_ca(f"localhost:{tls_registry.port}", pki.ca_file)
    assert check.ok, check.problems


async def test_bundle_holding_the_right_ca_works(tls_registry, certs: Certs) -> None:
    check = await check_registry_ca(tls_registry.host, certs.bundle)
    assert check.ok, check.problems


async def test_wrong_ca_does_not_verify(tls_registry, certs: Certs) -> None:
    check = await check_registry_ca(tls_registry.host, certs.other_ca)
    assert not check.ok and not check.verified
    assert check.san_ok  # the SAN is fine; only the trust is wrong, and the problem says which
    assert any("does not verify" in p for p in check.problems)


async def test_certificate_without_san_is_caught(no_san_registry, pki) -> None:
    check = await check_registry_ca(no_san_registry.host, pki.ca_file)
    assert not check.ok and not check.san_ok
    assert check.verified  # the chain is fine: the missing SAN is the whole story
    assert any("no Subject Alternative Name" in p and "subjectAltName=IP:127.0.0.1" in p for p in check.problems)
    assert check.server_chain[0].san == []


async def test_expired_serving_certificate(expired_registry, pki) -> None:
    check = await check_registry_ca(expired_registry.host, pki.ca_file)
    assert not check.ok and not check.verified and check.san_ok
    assert any("expired on" in p for p in check.problems)
    assert any("does not verify" in p and "expired" in p for p in check.problems)


async def test_expired_and_non_ca_files_fail_the_check(tls_registry, certs: Certs) -> None:
    expired = await check_registry_ca(tls_registry.host, certs.expired_ca)
    assert not expired.ok and any("expired on" in p for p in expired.problems)
    leaf = await check_registry_ca(tls_registry.host, certs.leaf_only)
    assert not leaf.ok and any("not a CA certificate" in p for p in leaf.problems)


async def test_unreachable_and_plain_http_are_problems_not_exceptions(plain_registry, pki) -> None:
    down = await check_registry_ca(closed_port(), pki.ca_file, timeout=5)
    assert not down.ok and down.server_chain == []
    assert any("cannot connect" in p for p in down.problems)
    # nothing was read: the SAN is "not checked", never reported missing
    assert down.not_checked == "the registry is unreachable"
    assert not any("Subject Alternative Name" in p and "no " in p for p in down.problems)
    assert any("the SAN and the chain were not checked: check HOST:PORT, that the registry is running" in p
               for p in down.problems)
    plain = await check_registry_ca(plain_registry.host, pki.ca_file, timeout=5)
    assert not plain.ok and any("TLS handshake" in p and "HTTPS" in p for p in plain.problems)
    assert plain.not_checked == "no TLS connection to the registry"


async def test_bad_ca_file_raises(tls_registry, tmp_path: Path) -> None:
    path = tmp_path / "ca.crt"
    path.write_text("nope")
    with pytest.raises(CertificateError):
        await check_registry_ca(tls_registry.host, path)


async def test_fetch_chain_shows_what_is_served(tls_registry, no_san_registry, pki, certs: Certs) -> None:
    [leaf] = await fetch_chain(tls_registry.host)
    assert leaf.fingerprint_sha256 == openssl_fingerprint(pki.server.cert_path)
    [odd] = await fetch_chain(no_san_registry.host)
    assert odd.fingerprint_sha256 == openssl_fingerprint(certs.no_san[0])
    with pytest.raises(RegistryUnreachable):
        await fetch_chain(closed_port(), timeout=5)


# -- the commands -----------------------------------------------------------------------------------


def test_cli_check_ok(tls_registry, pki, capsys) -> None:
    assert main(["ca", "check", "--registry", tls_registry.host, "--ca-file", str(pki.ca_file)]) == 0
    out = capsys.readouterr().out
    assert "CN=mirror-wizard test CA" in out and openssl_fingerprint(pki.ca_file) in out
    assert "ok   the certificate names 127.0.0.1" in out and "ok   its chain verifies" in out
    assert "openssl s_client -connect" in out


def test_cli_check_no_san_exits_1(no_san_registry, pki, capsys) -> None:
    assert main(["ca", "check", "--registry", no_san_registry.host, "--ca-file", str(pki.ca_file)]) == 1
    out = capsys.readouterr().out
    assert "FAIL the certificate names" in out and "no Subject Alternative Name" in out
    assert "NOT trusted" in out


def test_cli_check_expired_ca_exits_1(tls_registry, certs: Certs, capsys) -> None:
    assert main(["ca", "check", "--registry", tls_registry.host, "--ca-file", str(certs.expired_ca)]) == 1
    captured = capsys.readouterr()
    assert "(EXPIRED)" in captured.out and "expired on" in captured.out
    assert "not fit to be trusted" in captured.err


def test_cli_check_not_pem_exits_2(tls_registry, tmp_path: Path, capsys) -> None:
    path = tmp_path / "ca.crt"
    path.write_text("certainly not PEM\n")
    assert main(["ca", "check", "--registry", tls_registry.host, "--ca-file", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not a PEM certificate" in err and "Traceback" not in err


def test_cli_fetch_without_ca_file(no_san_registry, certs: Certs, capsys) -> None:
    assert main(["ca", "check", "--registry", no_san_registry.host, "--fetch"]) == 0
    out = capsys.readouterr().out
    assert openssl_fingerprint(certs.no_san[0]) in out and "NOT verified" in out
    assert "-showcerts" in out


def test_cli_check_needs_ca_file_or_fetch_and_a_host(capsys) -> None:
    assert main(["ca", "check", "--registry", "mirror.example.com:8443"]) == 2
    assert "--ca-file" in capsys.readouterr().err
    assert main(["ca", "check", "--registry", "https://mirror.example.com", "--fetch"]) == 2
    assert "HOST or HOST:PORT" in capsys.readouterr().err


def test_cli_check_unreachable_says_not_checked_not_missing(pki, capsys) -> None:
    down = closed_port()
    assert main(["ca", "check", "--registry", down, "--ca-file", str(pki.ca_file), "--timeout", "5"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" not in out and "SAN" not in out.replace("the SAN and the chain were not checked", "")
    assert "---- the Subject Alternative Name could not be checked: the registry is unreachable" in out
    assert "---- the chain could not be verified with" in out
    assert f"problem: cannot connect to {down}" in out and "check HOST:PORT, that the registry is running" in out
    assert "NOT checked: the registry is unreachable" in out and "NOT trusted" not in out


def test_cli_fetch_unreachable_exits_1(capsys) -> None:
    assert main(["ca", "check", "--registry", closed_port(), "--fetch", "--timeout", "5"]) == 1
    assert "cannot connect" in capsys.readouterr().err


def test_cli_manifests_output_applies_as_yaml(pki, tmp_path: Path, capsys) -> None:
    out_file = tmp_path / "registry-config.yaml"
    assert main(["ca", "manifests", "--registry", "mirror.example.com:8443", "--ca-file", str(pki.ca_file),
                 "-o", str(out_file)]) == 0
    out = capsys.readouterr().out
    [document] = list(yaml.safe_load_all(out))  # everything else is comments: `| oc apply -f -` works
    assert document["data"]["mirror.example.com..8443"] == pki.ca_file.read_text()
    assert document["metadata"] == {"name": "registry-config", "namespace": "openshift-config"}
    assert (f"oc create configmap registry-config --from-file=mirror.example.com..8443={pki.ca_file} "
            "-n openshift-config") in out
    assert ("oc patch image.config.openshift.io/cluster --patch "
            "'{\"spec\":{\"additionalTrustedCA\":{\"name\":\"registry-config\"}}}' --type=merge") in out
    assert yaml.safe_load(out_file.read_text()) == document


def test_cli_manifests_output_through_a_symlink(pki, tmp_path: Path, capsys) -> None:
    real = tmp_path / "manifests" / "registry-config.yaml"
    real.parent.mkdir()
    link = tmp_path / "registry-config.yaml"
    link.symlink_to(real)  # dangling until written
    assert main(["ca", "manifests", "--registry", "mirror.example.com:8443", "--ca-file", str(pki.ca_file),
                 "-o", str(link)]) == 0
    capsys.readouterr()
    assert link.is_symlink() and yaml.safe_load(real.read_text())["kind"] == "ConfigMap"
    assert sorted(p.name for p in real.parent.iterdir()) == ["registry-config.yaml"]


def _ca_with_its_key(pki, tmp_path: Path) -> Path:
    """A ca.pem as some tools write it: the CA certificate and the CA's private key in one file."""
    key_pem = pki.ca_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
    path = tmp_path / "ca.pem"
    path.write_bytes(pki.ca_file.read_bytes() + key_pem)
    return path


def test_manifests_never_carry_a_private_key(pki, tmp_path: Path) -> None:
    path = _ca_with_its_key(pki, tmp_path)
    manifests = ca_manifests("mirror.example.com:8443", path.read_text(), ca_path=str(path))
    data = manifests.configmap["data"]["mirror.example.com..8443"]
    assert "PRIVATE KEY" not in data and "PRIVATE KEY" not in manifests.yaml()
    assert data == pki.ca_file.read_text()
    assert any("holds a private key" in note for note in manifests.notes)


def test_cli_manifests_refuses_a_file_with_a_private_key(pki, tmp_path: Path, capsys) -> None:
    path = _ca_with_its_key(pki, tmp_path)
    assert main(["ca", "manifests", "--registry", "mirror.example.com:8443", "--ca-file", str(path)]) == 2
    captured = capsys.readouterr()
    assert "PRIVATE KEY" not in captured.out + captured.err.replace("PRIVATE KEY-----", "")
    assert "holds a private key next to the certificate" in captured.err and "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1


def test_cli_check_warns_about_a_private_key(tls_registry, pki, tmp_path: Path, capsys) -> None:
    path = _ca_with_its_key(pki, tmp_path)
    assert main(["ca", "check", "--registry", tls_registry.host, "--ca-file", str(path)]) == 0
    captured = capsys.readouterr()
    assert "warning: " in captured.err and "holds a private key" in captured.err
    assert "BEGIN PRIVATE KEY" not in captured.out + captured.err


def test_cli_manifests_non_utf8_comments_are_a_clear_error(pki, tmp_path: Path, capsys) -> None:
    path = tmp_path / "ca.crt"
    path.write_bytes(b"# Soci\xe9t\xe9 CA (latin-1)\n" + pki.ca_file.read_bytes())
    assert main(["ca", "manifests", "--registry", "mirror.example.com:8443", "--ca-file", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "UTF-8" in err and "Traceback" not in err


def test_cli_manifests_refuses_an_expired_ca(certs: Certs, capsys) -> None:
    assert main(["ca", "manifests", "--registry", "mirror.example.com:8443", "--ca-file", str(certs.expired_ca)]) == 2
    assert "expired on" in capsys.readouterr().err


def _ca_with_serial_bytes(content: bytes) -> bytes:
    """A CA certificate (PEM) whose serial number's DER content is ``content`` (same length as 0x5A):
    cryptography refuses to build one that is not positive, so a positive one is edited after signing
    (its signature no longer matches, which parsing does not check)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "odd serial CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(0x5A).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    der = cert.public_bytes(serialization.Encoding.DER)
    marker = b"\xa0\x03\x02\x01\x02\x02\x01\x5a"  # [0] version v3, then INTEGER serial 0x5A
    assert der.count(marker) == 1
    der = der.replace(marker, marker[:-1] + content)
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize("content, negative", [(b"\x9a", True), (b"\x00", False)])
def test_a_ca_with_a_serial_that_is_not_positive(content: bytes, negative: bool) -> None:
    """No warning of cryptography's reaches the admin's screen; a negative serial (Go's x509, which
    the cluster runs, refuses it) is one of the CA file's problems, in our words; zero is accepted."""
    import warnings

    from core.ca import bundle_problems, parse_ca_pem

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        pem = _ca_with_serial_bytes(content)
        seen.clear()  # building the test certificate warns too
        certs = parse_ca_pem(pem, "ca.crt")
    assert not seen, [str(w.message) for w in seen]
    assert certs[0].negative_serial is negative
    problems = bundle_problems(certs, "ca.crt")
    assert any("negative serial number" in p for p in problems) is negative, problems
