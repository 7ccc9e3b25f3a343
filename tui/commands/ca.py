"""``mirror-wizard ca check|manifests``: is the mirror's CA right, and how the cluster comes to trust it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from core.ca import (
    bundle_problems,
    ca_manifests,
    check_registry_ca,
    fetch_chain,
    holds_private_key,
    load_ca_bundle,
    private_key_problem,
    split_host_port,
)
from core.credentials import resolve_link
from core.errors import CertificateError, InputError
from core.fsio import atomic_write
from core.text import shell_quote
from core.userfiles import read_user_file
from core.yamlout import dump_yaml

from .common import run_async

if TYPE_CHECKING:
    from core.ca import CertificateInfo

CHECK_EPILOG = """\
equivalent commands:
  openssl x509 -in CA_FILE -noout -subject -issuer -fingerprint -sha256 -dates
  openssl s_client -connect HOST:PORT -CAfile CA_FILE -verify_return_error </dev/null
  openssl s_client -connect HOST:PORT -showcerts </dev/null      # what --fetch shows

exit status: 0 when the registry is trusted with this CA, 1 when a check fails, 2 for an unreadable CA file.
"""

MANIFESTS_EPILOG = """\
equivalent oc commands:
  oc create configmap registry-config --from-file=HOST..PORT=ca.crt -n openshift-config
  oc patch image.config.openshift.io/cluster --type=merge \\
      --patch '{"spec":{"additionalTrustedCA":{"name":"registry-config"}}}'
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ca = subparsers.add_parser("ca", help="check the mirror registry's CA and make the cluster trust it")
    sub = ca.add_subparsers(dest="ca_command", metavar="COMMAND", required=True)

    check = sub.add_parser(
        "check", help="read a CA file and prove the registry's certificate verifies with it",
        description="Show every certificate of the CA file (subject, issuer, SHA-256, validity), then "
                    "connect to the registry: its certificate must name the host in a Subject Alternative "
                    "Name and its chain must verify with this CA alone.",
        epilog=CHECK_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("--registry", required=True, metavar="HOST[:PORT]", help="the mirror registry")
    check.add_argument("--ca-file", metavar="PEM", help="the CA that signed the registry's certificate")
    check.add_argument("--fetch", action="store_true",
                       help="also show the chain the registry presents (works without --ca-file)")
    check.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                       help="connection timeout (default 10)")
    check.set_defaults(func=run_check)

    manifests = sub.add_parser(
        "manifests", help="print the ConfigMap and the image config patch that make the cluster trust the CA",
        description="Print the ConfigMap for openshift-config (data key HOST..PORT) holding the CA, the merge "
                    "patch for image.config.openshift.io/cluster that names it, and the oc commands.",
        epilog=MANIFESTS_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    manifests.add_argument("--registry", required=True, metavar="HOST[:PORT]", help="the mirror registry")
    manifests.add_argument("--ca-file", required=True, metavar="PEM", help="the CA file to put in the ConfigMap")
    manifests.add_argument("--name", default="registry-config", help="ConfigMap name (default registry-config)")
    manifests.add_argument("-o", "--output", metavar="FILE", help="also write the ConfigMap YAML here")
    manifests.set_defaults(func=run_manifests)


def print_cert(cert: CertificateInfo, indent: str = "  ") -> None:
    for label, value in cert.details():
        print(f"{indent}{label + ':':<9} {value}")


def print_chain(registry: str, chain: list[CertificateInfo]) -> None:
    print(f"{registry} presents {len(chain)} certificate(s), leaf first (NOT verified — compare the "
          "fingerprints with your registry's):")
    for number, cert in enumerate(chain, start=1):
        print(f" [{number}]")
        print_cert(cert, indent="    ")


def run_check(args: argparse.Namespace) -> int:
    # core.ca (and cryptography's x509) only for the ca commands: every other command starts without it.
    host, port = split_host_port(args.registry)  # a bad HOST:PORT is an input error before any connection
    if not args.ca_file and not args.fetch:
        raise InputError("give --ca-file PEM to check the registry with it, or --fetch to see what it presents")
    target = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    if args.fetch:
        chain = run_async(lambda _c: fetch_chain(args.registry, timeout=args.timeout))
        print_chain(args.registry, chain)
        if not args.ca_file:
            print(f"equivalent command: openssl s_client -connect {target} -showcerts </dev/null")
            return 0
        print()
    ca_file = Path(args.ca_file).expanduser()
    certs = load_ca_bundle(ca_file)  # not PEM / missing: CertificateError, exit 2
    print(f"CA file {ca_file}: {len(certs)} certificate(s)")
    for number, cert in enumerate(certs, start=1):
        print(f" [{number}]")
        print_cert(cert, indent="    ")
    if bundle_problems(certs, str(ca_file)):
        print("the CA file is not fit to be trusted; fix it first:", file=sys.stderr)
    if holds_private_key(read_user_file(ca_file, "CA file", CertificateError)):
        print(f"warning: {private_key_problem(str(ca_file))}", file=sys.stderr)

    check = run_async(lambda _c: check_registry_ca(args.registry, ca_file, timeout=args.timeout))
    print()
    print(f"registry {args.registry}:")
    if check.server_chain:
        leaf = check.server_chain[0]
        print(f"  serving certificate: {leaf.subject}")
        print(f"  SAN:     {', '.join(leaf.san) if leaf.san else '(none)'}")
        print(f"  SHA-256: {leaf.fingerprint_sha256}")
    if check.not_checked:
        # Nothing was read from the registry: say so rather than report the SAN missing.
        print(f"  ---- the Subject Alternative Name could not be checked: {check.not_checked}")
        print(f"  ---- the chain could not be verified with {ca_file}: {check.not_checked}")
    else:
        print(f"  {'ok  ' if check.san_ok else 'FAIL'} the certificate names {host} in a Subject Alternative Name")
        print(f"  {'ok  ' if check.verified else 'FAIL'} its chain verifies with {ca_file}")
    for problem in check.problems:
        print(f"  problem: {problem}")
    if check.ok:
        print("trusted: the cluster can use this CA for the mirror")
    elif check.not_checked:
        print(f"NOT checked: {check.not_checked}; fix the problems above and run the check again")
    else:
        print("NOT trusted: fix the problems above")
    print(f"equivalent command: openssl s_client -connect {target} -CAfile {shell_quote(str(ca_file))} "
          "-verify_return_error </dev/null")
    if check.ok:
        print(f"next: mirror-wizard ca manifests --registry {args.registry} --ca-file {shell_quote(str(ca_file))}")
    return 0 if check.ok else 1


def run_manifests(args: argparse.Namespace) -> int:
    ca_file = Path(args.ca_file).expanduser()
    certs = load_ca_bundle(ca_file)
    problems = bundle_problems(certs, str(ca_file))
    if problems:
        # The cluster would be told to trust a certificate that cannot work: refuse.
        raise CertificateError(problems[0])
    pem = read_user_file(ca_file, "CA file", CertificateError, text=True, inside="the PEM file (often ca.crt)")
    if holds_private_key(pem):
        # The printed `oc create configmap --from-file` would upload the key for every pod to read: refuse.
        raise CertificateError(private_key_problem(str(ca_file)))
    manifests = ca_manifests(args.registry, pem, args.name, ca_path=str(ca_file))
    # Everything but the ConfigMap is a comment, so the output can go straight to `oc apply -f -`.
    print(manifests.yaml(), end="")
    if args.output:
        target = write_text(Path(args.output).expanduser(), dump_yaml(manifests.configmap))
        print(f"# wrote the ConfigMap to {target}")
    print("# equivalent oc commands:")
    for command in manifests.commands:
        print(f"#   {command}")
    for note in manifests.notes:
        print(f"# {note}")
    return 0


def write_text(path: Path, text: str) -> Path:
    """Atomic (core.fsio), like the auth file; a symlink is written through so the link stays. A CA
    is public: 0644."""
    target = resolve_link(path)
    if not target.parent.is_dir():
        raise InputError(f"cannot write {path}: directory {target.parent} does not exist")
    atomic_write(target, text, make_parents=False, hint="choose a file you can write")
    return path
