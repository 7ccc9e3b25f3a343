"""The fake ``oc`` program (see tests/support/fake_oc/__init__.py). Python standard library only."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

RECORDINGS = Path(__file__).parent / "recordings"

# canonical resource (the name real oc uses in its messages) -> what oc accepts for it
ALIASES: dict[str, tuple[str, ...]] = {
    "imagestreams": ("is", "imagestream", "imagestreams", "imagestreams.image.openshift.io"),
    "configmaps": ("cm", "configmap", "configmaps"),
    "nodes": ("no", "node", "nodes"),
    "images.config.openshift.io": ("image.config.openshift.io", "images.config.openshift.io", "image.config",
                                   "images.config"),
    "configs.samples.operator.openshift.io": ("configs.samples.operator.openshift.io",
                                              "config.samples.operator.openshift.io", "configs.samples"),
    "machineconfigpools.machineconfiguration.openshift.io": (
        "mcp", "machineconfigpool", "machineconfigpools", "machineconfigpools.machineconfiguration.openshift.io"),
    "imagedigestmirrorsets.config.openshift.io": ("idms", "imagedigestmirrorset", "imagedigestmirrorsets",
                                                  "imagedigestmirrorsets.config.openshift.io"),
    "imagecontentsourcepolicies.operator.openshift.io": (
        "icsp", "imagecontentsourcepolicy", "imagecontentsourcepolicies",
        "imagecontentsourcepolicies.operator.openshift.io"),
    "imagetagmirrorsets.config.openshift.io": ("itms", "imagetagmirrorset", "imagetagmirrorsets",
                                               "imagetagmirrorsets.config.openshift.io"),
    "clusterversions.config.openshift.io": ("clusterversion", "clusterversions", "clusterversions.config.openshift.io"),
    "clusteroperators.config.openshift.io": ("co", "clusteroperator", "clusteroperators",
                                             "clusteroperators.config.openshift.io"),
    "updateservices.updateservice.operator.openshift.io": (
        "updateservice", "updateservices", "updateservices.updateservice.operator.openshift.io"),
}
NAMESPACED = {"imagestreams", "configmaps", "updateservices.updateservice.operator.openshift.io"}
WRITE_VERBS = {"apply", "create", "patch", "delete", "edit", "replace", "set", "label", "annotate", "scale",
               "import-image", "tag", "adm", "debug", "rsh", "exec", "login", "logout"}


def fail(message: str, code: int = 1) -> None:
    sys.stderr.write(message + "\n")
    sys.exit(code)


def scenario_dirs() -> list[Path]:
    """The scenario's folder, then the folders it builds on (a ``base`` file names its parent)."""
    name = os.environ.get("FAKE_OC_SCENARIO", "healthy")
    out: list[Path] = []
    while name:
        folder = RECORDINGS / name
        if not folder.is_dir() or folder in out:
            fail(f"fake oc: no recordings for scenario {name!r}", 3)
        out.append(folder)
        base = folder / "base"
        name = base.read_text().strip() if base.exists() else ""
    return out


def substitute(value: Any, variables: dict[str, Any]) -> Any:
    """Fill ``__PLACEHOLDER__``s: inside strings (keys too); a string that is exactly a placeholder whose
    value is not a string (a list, say) becomes that value."""
    if isinstance(value, str):
        if value in variables and not isinstance(variables[value], str):
            return variables[value]
        for key, replacement in sorted(variables.items(), key=lambda kv: -len(kv[0])):  # longest first
            if isinstance(replacement, str):
                value = value.replace(key, replacement)
        return value
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    if isinstance(value, dict):
        return {substitute(k, variables): substitute(v, variables) for k, v in value.items()}
    return value


def load(file_name: str) -> Any | None:
    variables = json.loads(os.environ.get("FAKE_OC_VARS") or "{}")
    for folder in scenario_dirs():
        path = folder / file_name
        if path.exists():
            return substitute(json.loads(path.read_text()), variables)
    return None


def cluster() -> dict[str, Any]:
    data = load("cluster.json")
    return data if isinstance(data, dict) else {}


def log_call(argv: list[str]) -> None:
    folder = os.environ.get("FAKE_OC_LOG")
    if folder:
        with open(Path(folder) / "calls.log", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(argv) + "\n")


def require_login() -> dict[str, Any]:
    info = cluster()
    if not info.get("logged_in", True):
        fail("error: You must be logged in to the server (Unauthorized)")
    return info


def canonical(kind: str) -> str | None:
    kind = kind.lower()
    for name, aliases in ALIASES.items():
        if kind in aliases:
            return name
    return None


def as_list(items: list[Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def get(args: list[str]) -> None:
    info = require_login()
    namespace = "default"
    output = None
    positional: list[str] = []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg in ("-n", "--namespace"):
            namespace = rest.pop(0) if rest else fail("error: flag needs an argument: 'n' in -n")
        elif arg.startswith("--namespace="):
            namespace = arg.split("=", 1)[1]
        elif arg in ("-o", "--output"):
            output = rest.pop(0) if rest else fail("error: flag needs an argument: 'o' in -o")
        elif arg.startswith(("-o=", "--output=")):
            output = arg.split("=", 1)[1]
        elif arg.startswith("-"):
            fail(f"error: unknown flag: {arg}\nSee 'oc get --help' for usage.")
        else:
            positional.append(arg)
    if not positional:
        fail("error: Required resource not specified.")
    kind, name = positional[0], positional[1] if len(positional) > 1 else None
    if "/" in kind:
        kind, name = kind.split("/", 1)
    resource = canonical(kind)
    if resource is None or resource.split(".", 1)[0] in info.get("unknown_types", []):
        fail(f'error: the server doesn\'t have a resource type "{kind}"')
    if output != "json":
        fail("fake oc: only -o json answers are recorded", 3)
    file_name = f"{resource}@{namespace}.json" if resource in NAMESPACED else f"{resource}.json"
    recorded = load(file_name)
    items = recorded.get("items", []) if isinstance(recorded, dict) else []
    if name is None:
        print(json.dumps(as_list(items), indent=4))
        return
    for item in items:
        if item.get("metadata", {}).get("name") == name:
            print(json.dumps(item, indent=4))
            return
    fail(f'Error from server (NotFound): {resource} "{name}" not found')


APPLY_VERBS = {"apply", "replace", "patch"}  # what Apply runs; answered only with FAKE_OC_WRITES set


def write(verb: str, args: list[str]) -> None:
    """Record a change (arguments and the document on stdin) in FAKE_OC_LOG/writes.log, one JSON line
    each, and answer as oc does; the recordings themselves never change."""
    require_login()
    stdin = sys.stdin.read() if args[:2] == ["-f", "-"] else ""
    folder = os.environ.get("FAKE_OC_LOG")
    if folder:
        with open(Path(folder) / "writes.log", "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"args": [verb, *args], "stdin": stdin}) + "\n")
    if stdin:
        import yaml  # the tests' environment has it; real oc reads YAML too

        doc = yaml.safe_load(stdin) or {}
        what = f"{str(doc.get('kind', 'object')).lower()}/{(doc.get('metadata') or {}).get('name', '')}"
    else:
        what = args[0] if args else "object"
    print(f"{what} {'patched' if verb == 'patch' else 'replaced' if verb == 'replace' else 'configured'}")


def main(argv: list[str]) -> None:
    log_call(argv)
    if os.environ.get("FAKE_OC_DELAY"):
        time.sleep(float(os.environ["FAKE_OC_DELAY"]))
    if not argv:
        fail("OpenShift Client\n\nUsage:\n  oc [flags] [options]", 0)
    verb, args = argv[0], argv[1:]
    if verb in APPLY_VERBS and os.environ.get("FAKE_OC_WRITES"):
        write(verb, args)
        return
    if verb in WRITE_VERBS:
        fail(f"fake oc: {verb} would change the cluster; this stand-in answers read-only commands only", 3)
    if verb == "auth" and args[:1] == ["can-i"]:  # may the user change cluster configuration
        info = require_login()
        print(info.get("can_i", "yes"))
        return
    if verb == "whoami":
        info = require_login()
        print(info.get("server", "") if "--show-server" in args else info.get("user", ""))
        return
    if verb == "version":
        info = cluster()
        data = dict(info.get("version") or {})
        if not info.get("logged_in", True):
            data.pop("serverVersion", None)
            data.pop("openshiftVersion", None)
        if args[:2] == ["-o", "json"] or "--output=json" in args:
            print(json.dumps(data, indent=2))
            return
        print(f"Client Version: {data.get('releaseClientVersion', '')}")
        return
    if verb == "get":
        get(args)
        return
    fail(f'error: unknown command "{verb}" for "oc"\n\nDid you mean this?\n\tget')


if __name__ == "__main__":
    main(sys.argv[1:])
