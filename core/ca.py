"""The mirror registry's CA: read it, prove the registry's certificate verifies with it, and make the
ConfigMap + image.config patch that makes the cluster trust it (procedure section 3.4).

Clients only match the host name against the Subject Alternative Name (the CN is ignored), so a
serving certificate without a SAN for the host fails on the cluster even when the chain is fine.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import ipaddress
import json
import os
import re
import ssl
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import utils as crypto_utils
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .errors import CertificateError, InputError, RegistryUnreachable, TLSVerifyError
from .http.client import map_error
from .http.connection import Connector, RawHTTPError, tls_probe
from .http.proxy import ProxySettings
from .reference import is_registry_host
from .text import shell_quote
from .userfiles import read_user_file
from .yamlout import dump_yaml

PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"
_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----\s*(.*?)\s*-----END CERTIFICATE-----", re.DOTALL)
# What cryptography raises for a damaged certificate: ValueError mostly, but also InvalidVersion and,
# for an unknown string type inside a name, KeyError; a repeated extension, DuplicateExtension (names and
# extensions are parsed lazily, when read).
_UNREADABLE = (ValueError, KeyError, x509.InvalidVersion, x509.DuplicateExtension, x509.UnsupportedGeneralNameType)
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
CONFIG_NAMESPACE = "openshift-config"
UNREACHABLE_ADVICE = ("the SAN and the chain were not checked: check HOST:PORT, that the registry is running and that "
                      "no firewall blocks this machine, then run the check again (--fetch shows what it serves)")


# -- certificates -----------------------------------------------------------------------------------


@dataclass
class CertificateInfo:
    subject: str
    issuer: str
    fingerprint_sha256: str  # "AB:CD:…", as openssl x509 -fingerprint -sha256 prints it
    not_before: dt.datetime
    not_after: dt.datetime
    is_ca: bool
    san: list[str]
    self_signed: bool
    pem: str = field(default="", repr=False, compare=False)
    negative_serial: bool = False  # RFC 5280 forbids it; Go's x509 (the cluster's) refuses it since Go 1.23

    @property
    def expired(self) -> bool:
        return dt.datetime.now(dt.UTC) > self.not_after

    @property
    def not_yet_valid(self) -> bool:
        return dt.datetime.now(dt.UTC) < self.not_before

    def summary(self) -> str:
        kind = "CA" if self.is_ca else "not a CA"
        if self.self_signed:
            kind += ", self-signed"
        state = " — EXPIRED" if self.expired else (" — NOT YET VALID" if self.not_yet_valid else "")
        return (f"{self.subject} ({kind}), valid {self.not_before:%Y-%m-%d} to {self.not_after:%Y-%m-%d}{state}, "
                f"SHA-256 {self.fingerprint_sha256[:23]}…")

    def details(self) -> list[tuple[str, str]]:
        """Label/value lines for a full listing."""
        rows = [("subject", self.subject), ("issuer", self.issuer), ("SHA-256", self.fingerprint_sha256),
                ("valid", f"{self.not_before:%Y-%m-%d %H:%M} to {self.not_after:%Y-%m-%d %H:%M} UTC"
                          + (" (EXPIRED)" if self.expired else " (NOT YET VALID)" if self.not_yet_valid else "")),
                ("CA", "yes" if self.is_ca else "no")]
        if self.san:
            rows.append(("SAN", ", ".join(self.san)))
        return rows


def fingerprint(der: bytes) -> str:
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def load_certificate(data: bytes, *, der: bool = False) -> x509.Certificate:
    """One certificate, PEM or DER. cryptography warns (on stderr, in the middle of our output) about a
    serial number that is not positive, when loading or when the serial is read (:func:`_serial`):
    bundle_problems reports a negative one in our words instead."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", crypto_utils.CryptographyDeprecationWarning)
        return x509.load_der_x509_certificate(data) if der else x509.load_pem_x509_certificate(data)


def certificate_info(cert: x509.Certificate) -> CertificateInfo:
    try:
        is_ca = bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        is_ca = False  # v1 certificates and leaf certificates without the extension
    san: list[str] = []
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        san = [*names.get_values_for_type(x509.DNSName),
               *(str(ip) for ip in names.get_values_for_type(x509.IPAddress))]
    except x509.ExtensionNotFound:
        pass
    self_signed = cert.subject == cert.issuer
    if self_signed:
        try:
            cert.verify_directly_issued_by(cert)
        except Exception:  # same name, different key: not really self-signed
            self_signed = False
    der = cert.public_bytes(serialization.Encoding.DER)
    return CertificateInfo(
        subject=cert.subject.rfc4514_string() or "(empty subject)",
        issuer=cert.issuer.rfc4514_string() or "(empty issuer)",
        fingerprint_sha256=fingerprint(der),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        is_ca=is_ca,
        san=san,
        self_signed=self_signed,
        pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        negative_serial=_serial(cert) < 0,
    )


def _serial(cert: x509.Certificate) -> int:
    with warnings.catch_warnings():  # read lazily: cryptography warns here, not when loading
        warnings.simplefilter("ignore", crypto_utils.CryptographyDeprecationWarning)
        return cert.serial_number


def parse_ca_pem(data: bytes | str, where: str) -> list[CertificateInfo]:
    """Every certificate of a PEM bundle. Expired or non-CA certificates are returned (``CACheck`` and the
    commands report them); only unreadable content raises."""
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    blocks = _PEM_BLOCK.findall(data)
    if not blocks:
        raise CertificateError(_not_pem_reason(data, where))
    infos: list[CertificateInfo] = []
    for number, body in enumerate(blocks, start=1):
        pem = PEM_BEGIN + b"\n" + body + b"\n-----END CERTIFICATE-----\n"
        try:
            # Extensions are parsed lazily: damaged ones raise only when certificate_info reads them.
            infos.append(certificate_info(load_certificate(pem)))
        except _UNREADABLE:
            raise CertificateError(f"certificate {number} of {len(blocks)} in {where} is damaged (not valid "
                                   "base64/DER between its BEGIN and END lines)",
                                   hint="copy the CA file again, whole") from None
    return infos


def _not_pem_reason(data: bytes, where: str) -> str:
    if not data.strip():
        return f"{where} is empty; give the PEM file of the CA that signed the registry's certificate"
    if data[:1] == b"\x30":  # an ASN.1 SEQUENCE: a DER certificate
        try:
            load_certificate(data, der=True)
        except _UNREADABLE:
            pass
        else:
            return (f"{where} is a DER (binary) certificate, not PEM; convert it with: "
                    f"openssl x509 -inform der -in {shell_quote(where)} -out ca.crt")
    if b"PRIVATE KEY-----" in data:
        return f"{where} holds a private key, not a certificate; give the CA certificate (ca.crt) instead"
    if b"-----BEGIN CERTIFICATE REQUEST-----" in data:
        return f"{where} is a certificate request (CSR), not a certificate"
    if b"-----BEGIN" in data:
        kind = data.split(b"-----BEGIN", 1)[1].split(b"-----", 1)[0].strip().decode("ascii", "replace")[:40]
        return f"{where} holds a PEM {kind!r} block but no certificate; expected -----BEGIN CERTIFICATE-----"
    return f"{where} is not a PEM certificate file (no -----BEGIN CERTIFICATE----- line)"


def holds_private_key(data: bytes | str) -> bool:
    """A CA file sometimes carries the CA's key too (ca.pem from some tools): it must never reach the cluster."""
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    return b"PRIVATE KEY-----" in data


def private_key_problem(where: str) -> str:
    return (f"{where} holds a private key next to the certificate; the cluster must only get the certificate: "
            "copy just the -----BEGIN CERTIFICATE----- blocks into a new file and give that one")


def load_ca_bundle(path: str | os.PathLike[str]) -> list[CertificateInfo]:
    p = Path(path).expanduser()
    data = read_user_file(p, "CA file", CertificateError, inside="the PEM file (often ca.crt)")
    return parse_ca_pem(data, str(p))


def bundle_problems(certs: list[CertificateInfo], where: str) -> list[str]:
    """What makes a CA file unfit as the cluster's trust for the mirror."""
    problems: list[str] = []
    for number, cert in enumerate(certs, start=1):
        label = f"{where}: certificate {number} ({cert.subject})" if len(certs) > 1 else f"{where} ({cert.subject})"
        if cert.expired:
            problems.append(f"{label} expired on {cert.not_after:%Y-%m-%d}; renew the CA and re-sign the "
                            "registry's certificate")
        elif cert.not_yet_valid:
            problems.append(f"{label} is not valid before {cert.not_before:%Y-%m-%d %H:%M} UTC; check this "
                            "machine's clock")
        if not cert.is_ca:
            problems.append(f"{label} is not a CA certificate (no basicConstraints CA:TRUE); give the CA that "
                            "signed the registry's certificate, not the registry's own certificate")
        if cert.negative_serial:
            problems.append(f"{label} has a negative serial number, which RFC 5280 forbids and the cluster's "
                            "Go programs refuse to load (Go 1.23 and later); issue the CA again")
    return problems


# -- talking TLS to the registry --------------------------------------------------------------------


def split_host_port(registry: str) -> tuple[str, int]:
    if not is_registry_host(registry):
        raise InputError(f"registry {registry!r} is not HOST or HOST:PORT",
                         hint="e.g. mirror.example.com:8443 — no https://, no path")
    if registry.startswith("["):
        host, _, rest = registry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else 443
    host, sep, port = registry.rpartition(":")
    if sep and port.isdigit():
        return host, int(port)
    return registry, 443


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def san_covers(san: list[str], host: str) -> bool:
    """RFC 6125 matching as Go and OpenSSL do it: IPs exactly, DNS names case-insensitively with one
    leftmost ``*`` label."""
    if _is_ip(host):
        wanted = ipaddress.ip_address(host)
        return any(_is_ip(name) and ipaddress.ip_address(name) == wanted for name in san)
    host = host.lower().rstrip(".")
    for name in san:
        name = name.lower().rstrip(".")
        if name == host:
            return True
        if name.startswith("*.") and "." in host:
            first, rest = host.split(".", 1)
            if first and rest == name[2:]:
                return True
    return False


def _sni(host: str) -> str | None:
    return None if _is_ip(host) else host


def _connector(timeout: float, proxies: ProxySettings | None) -> Connector:
    return Connector(proxies=proxies if proxies is not None else ProxySettings.from_env(),
                     connect_timeout=timeout, stall_timeout=timeout)


async def _handshake(host: str, port: int, ctx: ssl.SSLContext, timeout: float,
                     proxies: ProxySettings | None) -> list[bytes]:
    """The chain ``host:port`` presents, reached as the copy reaches it (a proxy when one applies)."""
    try:
        async with asyncio.timeout(timeout):
            return await tls_probe(_connector(timeout, proxies), host, port, ctx)
    except TimeoutError:
        raise RegistryUnreachable(f"{host}:{port} did not answer within {timeout:g}s", registry=f"{host}:{port}") from None
    except RawHTTPError as exc:
        raise map_error(exc, f"https://{host}:{port}", registry=f"{host}:{port}", stall=timeout) from None


async def _fetch_chain(host: str, port: int, timeout: float, proxies: ProxySettings | None) -> list[bytes]:
    # Unverified on purpose: this only SHOWS what the server presents; nothing is sent over it.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        return await _handshake(host, port, ctx, timeout, proxies)
    except (ssl.SSLError, ConnectionError) as exc:
        raise TLSVerifyError(f"TLS handshake with {host}:{port} failed ({_reason(exc)}); does it serve HTTPS on "
                             "this port?", registry=f"{host}:{port}") from None


async def _verify(host: str, port: int, ca_file: Path, timeout: float, proxies: ProxySettings | None) -> str | None:
    """None when the chain verifies with ``ca_file`` as the only trust, else why not."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False  # the SAN is checked separately, to say which of the two is wrong
    ctx.load_verify_locations(cafile=os.fspath(ca_file))
    # Like Go (CRI-O, the cluster): any certificate in the trust file is an anchor, even an intermediate.
    ctx.verify_flags |= getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0)
    try:
        await _handshake(host, port, ctx, timeout, proxies)
        return None
    except ssl.SSLCertVerificationError as exc:
        return exc.verify_message or "certificate verify failed"
    except (ssl.SSLError, ConnectionError) as exc:
        return f"TLS handshake failed ({_reason(exc)})"


def _reason(exc: BaseException) -> str:
    return getattr(exc, "reason", None) or getattr(exc, "strerror", None) or type(exc).__name__


def _infos(chain: list[bytes]) -> list[CertificateInfo]:
    infos = []
    for der in chain:
        try:
            infos.append(certificate_info(load_certificate(der, der=True)))
        except _UNREADABLE:
            continue  # a certificate we cannot parse is still reported by the verification
    return infos


async def fetch_chain(registry: str, timeout: float = 10, *,
                      proxies: ProxySettings | None = None) -> list[CertificateInfo]:
    """The certificates the registry presents, leaf first (RegistryUnreachable / TLSVerifyError when it
    cannot be reached or does not speak TLS); through the proxy that applies (the environment's when
    ``proxies`` is None)."""
    host, port = split_host_port(registry)
    return _infos(await _fetch_chain(host, port, timeout, proxies))


@dataclass
class CACheck:
    registry: str
    ca_certs: list[CertificateInfo]
    server_chain: list[CertificateInfo]
    san_ok: bool
    verified: bool
    problems: list[str]
    # Why the registry's certificate could not be examined (unreachable, no TLS); None once it was.
    # san_ok/verified False then mean "not checked", not "missing" or "does not verify".
    not_checked: str | None = None

    @property
    def ok(self) -> bool:
        return self.san_ok and self.verified and not self.problems and self.not_checked is None


async def check_registry_ca(registry: str, ca_file: str | os.PathLike[str], timeout: float = 10, *,
                            proxies: ProxySettings | None = None) -> CACheck:
    """Read the CA file (CertificateError when unreadable), then connect: does the serving certificate
    name the host in a SAN, and does its chain verify with this CA alone? Registry problems land in
    ``problems``, never as exceptions."""
    path = Path(ca_file).expanduser()
    certs = load_ca_bundle(path)
    host, port = split_host_port(registry)
    problems = bundle_problems(certs, str(path))
    check = CACheck(registry, certs, [], san_ok=False, verified=False, problems=problems)
    try:
        check.server_chain = _infos(await _fetch_chain(host, port, timeout, proxies))
    except RegistryUnreachable as exc:
        check.not_checked = "the registry is unreachable"
        problems.append(f"{exc}; {UNREACHABLE_ADVICE}")
        return check
    except TLSVerifyError as exc:
        check.not_checked = "no TLS connection to the registry"
        problems.append(str(exc))
        return check
    leaf = check.server_chain[0] if check.server_chain else None
    if leaf is None:
        problems.append(f"{registry} presented no certificate")
        return check
    if not leaf.san:
        problems.append(f"the registry's certificate ({leaf.subject}) has no Subject Alternative Name; clients "
                        f"ignore the CN, so reissue it with subjectAltName={'IP' if _is_ip(host) else 'DNS'}:{host}")
    elif not san_covers(leaf.san, host):
        problems.append(f"the registry's certificate names {', '.join(leaf.san)} but not {host}; reissue it with "
                        f"{host} in subjectAltName, or use a name it lists")
    else:
        check.san_ok = True
    if leaf.expired:
        problems.append(f"the registry's certificate expired on {leaf.not_after:%Y-%m-%d}; renew it")
    try:
        failure = await _verify(host, port, path, timeout, proxies)
    except RegistryUnreachable as exc:  # it answered a moment ago: a flapping network or registry
        check.not_checked = "the registry became unreachable"
        problems.append(f"{exc}; {UNREACHABLE_ADVICE}")
        return check
    except ssl.SSLError:
        raise CertificateError(f"CA file {path} holds no certificate OpenSSL can load") from None
    if failure is None:
        check.verified = True
    else:
        problems.append(f"the registry's certificate does not verify with {path}: {failure}; is this the CA "
                        "that signed it?")
    return check


# -- manifests for the cluster ------------------------------------------------------------------------


def configmap_key(registry: str) -> str:
    """The ConfigMap data key the cluster looks up: ``host..port`` (ConfigMap keys cannot hold ':'),
    just ``host`` when the registry is named without a port."""
    host, port = split_host_port(registry)
    if ":" in host:
        raise InputError(f"{registry}: an IPv6 address cannot be a ConfigMap key; give the registry a DNS name")
    explicit_port = registry.strip().rpartition("]")[2].count(":") == 1
    return f"{host}..{port}" if explicit_port else host


@dataclass
class CAManifests:
    configmap: dict[str, Any]
    patch: dict[str, Any]
    commands: list[str]
    notes: list[str] = field(default_factory=list)

    def patch_json(self) -> str:
        return json.dumps(self.patch, separators=(",", ":"))

    def yaml(self) -> str:
        """The ConfigMap (ready for ``oc apply -f``), then the patch as comments: a merge patch is no object."""
        return (dump_yaml(self.configmap)
                + "# then point image.config.openshift.io/cluster at it (merge patch):\n"
                + f"#   {self.patch_json()}\n")


def _normalised(pem: str) -> str:
    return "\n".join(line.strip() for line in pem.strip().splitlines() if line.strip())


def ca_manifests(registry: str, ca_pem: str, name: str = "registry-config", *, ca_path: str = "ca.crt") -> CAManifests:
    """The ConfigMap in openshift-config holding the CA under the registry's key, the merge patch for the
    cluster image config, and the ``oc`` commands that do the same."""
    if not _DNS1123.match(name or "") or len(name) > 253:
        raise InputError(f"ConfigMap name {name!r} is not valid: lower-case letters, digits, '-' and '.'")
    key = configmap_key(registry)
    certs = parse_ca_pem(ca_pem, ca_path)  # a clear error now rather than a ConfigMap the cluster cannot use
    notes: list[str] = []
    # Only the certificates, as parsed and written again in PEM, go into the ConfigMap (readable
    # cluster-wide): never a private key, comments, or whatever else a file passed around picked up.
    text = "".join(cert.pem for cert in certs)
    if holds_private_key(ca_pem):
        notes.append(private_key_problem(ca_path) + "; the ConfigMap above holds the certificates only")
    elif _normalised(ca_pem) != _normalised(text):
        notes.append(f"{ca_path} holds text besides its {len(certs)} certificate(s); the ConfigMap above holds "
                     "the certificates only — give oc create configmap a file with only them as well")
    configmap = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": name, "namespace": CONFIG_NAMESPACE},
                 "data": {key: text}}
    patch = {"spec": {"additionalTrustedCA": {"name": name}}}
    patch_text = json.dumps(patch, separators=(",", ":"))
    commands = [
        f"oc create configmap {name} --from-file={key}={shell_quote(ca_path)} -n {CONFIG_NAMESPACE}",
        f"oc patch image.config.openshift.io/cluster --patch '{patch_text}' --type=merge",
    ]
    notes.append(f"one ConfigMap holds the CAs of every registry; when {name} exists already, add this key to it "
                 f"instead: oc set data configmap/{name} -n {CONFIG_NAMESPACE} --from-file={key}={shell_quote(ca_path)}")
    return CAManifests(configmap, patch, commands, notes)


__all__ = [
    "CACheck",
    "CAManifests",
    "CertificateInfo",
    "ca_manifests",
    "check_registry_ca",
    "configmap_key",
    "fetch_chain",
    "holds_private_key",
    "load_ca_bundle",
    "parse_ca_pem",
    "san_covers",
]
