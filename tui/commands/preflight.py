"""``mirror-wizard preflight [PLAN] [HOST...]``: how this machine will reach each server (proxy or not)."""

from __future__ import annotations

import argparse
import json

from core.access import Access
from core.plan import Plan, load_plan
from core.routes import plan_servers, routes

from .common import add_proxy_options

EPILOG = """\
Reads HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY (upper or lower case) as oc, skopeo and podman do;
--proxy, --no-proxy and the plan's options.proxy / options.no_proxy override them. Nothing is sent.

  mirror-wizard preflight plan.yaml
  HTTPS_PROXY=http://proxy.corp:3128 NO_PROXY=.corp mirror-wizard preflight quay.io mirror.corp:8443
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("preflight", help="show how each server of a plan is reached (proxy or direct)",
                                   description="Show, for every server a plan (or the hosts named) needs, whether "
                                               "it is reached directly or through which proxy.",
                                   epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", metavar="PLAN|HOST",
                        help="a plan file (.yaml/.yml), or hosts (HOST[:PORT] or URLs)")
    add_proxy_options(parser)
    parser.add_argument("--json", action="store_true", help="print the routes as JSON")
    parser.set_defaults(func=preflight_command)


def preflight_command(args: argparse.Namespace) -> int:
    plan: Plan | None = None
    servers: list[tuple[str, str]] = []
    for target in args.targets:
        if target.endswith((".yaml", ".yml")):
            plan = load_plan(target)
            servers.extend(plan_servers(plan))
        else:
            servers.append(("named", target))
    base = Access.of_plan(plan) if plan is not None else Access()
    proxy = args.proxy if args.proxy is not None else base.proxy
    no_proxy = args.no_proxy if args.no_proxy is not None else base.no_proxy
    proxies = Access(proxy=proxy, no_proxy=no_proxy).proxies()
    found = routes(servers, proxies)
    if args.json:
        print(json.dumps([{"role": r.role, "origin": r.origin, "proxied": r.proxied, "how": r.how} for r in found],
                         indent=2))
        return 0
    print(f"https proxy: {proxies.https.display if proxies.https else 'none'}; "
          f"http proxy: {proxies.http.display if proxies.http else 'none'}; "
          f"NO_PROXY: {','.join(proxies.no_proxy) or 'empty'}")
    width = max((len(r.origin) for r in found), default=0)
    for route in found:
        print(f"  {route.origin:<{width}}  {route.how}  ({route.role})")
    mirror = next((r for r in found if r.role == "mirror" and r.proxied), None)
    if mirror is not None:
        print(f"note: the mirror {mirror.origin} goes through the proxy; add it to NO_PROXY if this machine "
              "reaches it directly")
    return 0
