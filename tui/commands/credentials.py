"""``mirror-wizard credentials add|check``: the pull secret plus the mirror's login, and a live login test."""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from core.access import Access, access_auth, auth_from_data, tls_options
from core.credentials import (
    add_login_to_file,
    add_registry_credential,
    check_logins,
    load_pull_secret,
    other_spellings,
    remember_password,
)
from core.errors import InputError
from core.text import plural, shell_quote

from .common import add_proxy_options, run_async

ADD_EPILOG = """\
equivalent commands:
  echo -n 'USER:PASSWORD' | base64 -w0      # then add it as auths."HOST:PORT".auth in the JSON
  podman login --authfile OUT --username USER HOST:PORT

examples:
  mirror-wizard credentials add --pull-secret pull-secret.json --registry mirror.example.com:8443 \\
      --username admin --password-stdin --ca-file mirror-ca.crt -o pull-secret-mirror.json < password.txt
  mirror-wizard credentials add --pull-secret pull-secret.json --registry mirror.example.com:8443 \\
      --username admin --remember -o pull-secret-mirror.json        # asks for the password
"""

CHECK_EPILOG = """\
equivalent command (one registry at a time; it reuses the stored login):
  podman login --authfile FILE HOST:PORT

entries that are not image registries (cloud.openshift.com: telemetry) are skipped unless named.

exit status: 0 when every login works, 1 when any fails, 2 for a bad auth file.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    creds = subparsers.add_parser("credentials", help="add the mirror registry's login to the pull secret; test logins")
    sub = creds.add_subparsers(dest="credentials_command", metavar="COMMAND", required=True)

    add = sub.add_parser(
        "add", help="write the pull secret plus the mirror registry's login to a new file",
        description="Check the pull secret, add an entry for the mirror registry (auth = base64 of "
                    "user:password), log in with it, and only when that works write the result with mode "
                    "0600. The password is read from "
                    "standard input (--password-stdin) or asked for; it is never taken as an argument.",
        epilog=ADD_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add.add_argument("--pull-secret", required=True, metavar="FILE", help="the pull secret from console.redhat.com")
    add.add_argument("--registry", required=True, metavar="HOST[:PORT]", help="the mirror registry")
    add.add_argument("--username", "-u", required=True, metavar="USER", help="user name on the mirror registry")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.add_argument("--email", metavar="EMAIL", help="e-mail recorded with the entry (optional)")
    add.add_argument("--remember", action="store_true",
                     help="also keep the password in the system keyring (service 'mirror-wizard')")
    add.add_argument("-o", "--output", required=True, metavar="OUT",
                     help="file to write (may be the pull secret itself; replaced atomically)")
    add.add_argument("--ca-file", metavar="PEM", action="append", default=[],
                     help="trust this CA for the login test (repeatable; adds to the system trust)")
    add.add_argument("--insecure", action="store_true",
                     help="test the login over plain HTTP or unverified TLS (testing only)")
    add.add_argument("--no-test", action="store_true",
                     help="save without logging in first (a registry not reachable from here)")
    add.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                     help="give up on the login test after this long (default 30)")
    add_proxy_options(add)
    add.set_defaults(func=run_add)

    check = sub.add_parser(
        "check", help="log in to every registry of an auth file and report which logins work",
        description="Log in to each registry in the auth file (or only those named) and report: ok, "
                    "wrong credentials, unreachable, TLS not trusted.",
        epilog=CHECK_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("-a", "--registry-config", "--authfile", dest="registry_config", metavar="FILE",
                       help="auth file / pull secret; default: REGISTRY_AUTH_FILE, "
                            "$XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json")
    check.add_argument("registries", nargs="*", metavar="REGISTRY", help="only these registries (default: all)")
    check.add_argument("--ca-file", metavar="PEM", action="append", default=[],
                       help="trust this CA too (repeatable; adds to the system trust)")
    check.add_argument("--insecure", action="store_true", help="allow plain HTTP and unverified TLS (testing only)")
    add_proxy_options(check)
    check.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                       help="give up on a registry after this long (default 30)")
    check.add_argument("--json", action="store_true", help="print the results as JSON")
    check.set_defaults(func=run_check)


def read_password(args: argparse.Namespace) -> str:
    """From stdin when asked, else a hidden prompt on a terminal; never from the command line."""
    if args.password_stdin:
        password = sys.stdin.read()
        # Like docker/podman login --password-stdin: one trailing newline is not part of the password.
        password = password.removesuffix("\n").removesuffix("\r")
        if not password:
            raise InputError("--password-stdin read an empty password")
        return password
    if sys.stdin.isatty():
        try:
            password = getpass.getpass(f"Password for {args.username}@{args.registry}: ")
        except EOFError:
            password = ""
        if not password:
            raise InputError("no password typed")
        return password
    raise InputError("no password: pipe it in with --password-stdin, or run in a terminal to be asked for it")


def run_add(args: argparse.Namespace) -> int:
    data = load_pull_secret(args.pull_secret)  # validate before asking for a password
    password = read_password(args)
    if not args.no_test:
        # A login the registry refuses is never saved: the mirror would fail later with 401 on every push.
        tls = tls_options(Access(ca_files=tuple(args.ca_file), insecure=args.insecure, proxy=args.proxy,
                                 no_proxy=args.no_proxy))
        trial = auth_from_data(add_registry_credential(data, args.registry, args.username, password, email=args.email))
        result = run_async(lambda _cancel: check_logins(trial, [args.registry], tls, timeout=args.timeout))[0]
        if not result.ok:
            print(f"mirror-wizard: the login test failed, nothing was written: {result.message}", file=sys.stderr)
            print("  (fix the password, --ca-file or the registry; or --no-test to save it untested)", file=sys.stderr)
            return 1
        print(f"login to {args.registry} works ({result.message})")
    # under a lock, reading the pull secret again: concurrent adds to one file keep every entry
    added = add_login_to_file(args.pull_secret, args.output, args.registry, args.username, password,
                              email=args.email)
    target, merged, replaced = added.path, added.data, added.replaced
    count = len(merged["auths"])
    print(f"{'replaced' if replaced else 'added'} the login of {args.username} for {args.registry}; "
          f"wrote {target} ({plural(count, 'registry', 'registries')}, mode 0600)")
    if added.kept:
        print(f"kept {plural(len(added.kept), 'other login', 'other logins')} {target} had: {', '.join(added.kept)}")
    for key in other_spellings(merged, args.registry):
        print(f"note: {target} also has an entry {key!r} for the same registry; tools may pick either "
              "login — remove it if it is an old one", file=sys.stderr)
    if args.remember:
        status = remember_password(args.registry, args.username, password)
        if status.usable:
            print(f"password remembered in the keyring ({status.backend})")
            if status.message:
                print(status.message)
        else:
            print(f"password not remembered: {status.message}", file=sys.stderr)
    print(f"equivalent command: podman login --authfile {shell_quote(str(target))} "
          f"--username {shell_quote(args.username)} {args.registry}")
    print(f"next: mirror-wizard credentials check -a {shell_quote(str(target))} {args.registry}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    access = Access(auth_file=args.registry_config, ca_files=tuple(args.ca_file), insecure=args.insecure,
                    proxy=args.proxy, no_proxy=args.no_proxy)
    auth = access_auth(access)
    if not auth.registries() and not args.registries:
        where = auth.path or "the default locations"
        raise InputError(f"no registries to check: {where} has no logins",
                         hint="give the auth file with -a")
    tls = tls_options(access)
    registries = list(args.registries) or None
    results = run_async(lambda _cancel: check_logins(auth, registries, tls, timeout=args.timeout))
    if args.json:
        print(json.dumps([{"registry": r.registry, "state": r.state, "ok": r.ok, "message": r.message}
                          for r in results], indent=2))
    else:
        width = max((len(r.registry) for r in results), default=10)
        for result in results:
            # a skipped entry's message says "skipped: ..." itself
            print(f"{'-' if result.skipped else result.label:<17} {result.registry:<{width}}  {result.message}")
        tried = [r for r in results if not r.skipped]
        failed = [r for r in tried if not r.ok]
        skipped = len(results) - len(tried)
        print(f"{len(tried) - len(failed)} of {len(tried)} logins work"
              + (f" ({skipped} skipped: not a registry)" if skipped else ""))
        authfile = shell_quote(str(auth.path)) if auth.path else "FILE"
        first = failed[0].registry if failed else (tried[0].registry if tried else "HOST")
        print(f"equivalent command: podman login --authfile {authfile} {first}")
    # Skipped entries (never tried: not registries) do not count; an explicitly named one is tried.
    return 0 if all(r.ok or r.skipped for r in results) else 1
