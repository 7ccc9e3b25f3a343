"""Apply with `oc`, explicit about what and where.

Before anything runs the admin sees the cluster (`oc whoami --show-server`, the user, its version,
whether that user may change cluster configuration), every object by kind and name, and what each one
changes on the cluster. A CA ConfigMap the cluster already has — `registry-config`, or whichever one
image.config's additionalTrustedCA names — is merged: the other registries' keys stay. Every result is
shown afterwards in a scrolling view that fits 80x24.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from core.text import shell_quote
from core.yamlout import dump_yaml

CONFIG_NAMESPACE = "openshift-config"
SIGNATURES_NAMESPACE = "openshift-config-managed"  # where the cluster-version operator reads signatures
OC_TIMEOUT = 30


@dataclass
class OcStep:
    """One `oc` call: its arguments, the YAML/JSON fed on stdin, and what it changes on the cluster."""

    args: list[str]
    stdin: str | None = None
    what: str = ""      # "ImageDigestMirrorSet/release-0"
    effect: str = ""    # "every node is updated (rolling reboot)"

    def shown(self) -> str:
        return " ".join(shell_quote(a) if " " in a or "{" in a else a for a in ["oc", *self.args])


@dataclass
class ClusterFacts:
    """What `oc` says about the cluster it is logged in to; an empty server means it could not tell."""

    server: str = ""
    user: str = ""
    version: tuple[int, int] | None = None
    admin: bool | None = None          # may this user change cluster configuration (None: unknown)
    problem: str = ""                  # why oc cannot be used now (not logged in, …)
    configmaps: dict[str, dict[str, str]] = field(default_factory=dict)  # existing CA ConfigMaps' data
    trusted_ca_name: str = ""          # image.config's spec.additionalTrustedCA.name, "" when unset
    signatures: set[str] = field(default_factory=set)  # release signature ConfigMaps (sha256-<hex>) it has


def _oc(oc: str, *args: str) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run([oc, *args], capture_output=True, text=True, timeout=OC_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None


def _json(done: subprocess.CompletedProcess[str] | None) -> dict[str, Any] | None:
    if done is None or done.returncode != 0:
        return None
    try:
        data = json.loads(done.stdout or "null")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def parse_version(data: dict[str, Any] | None) -> tuple[int, int] | None:
    """(major, minor) of OpenShift from `oc version -o json`."""
    if not data:
        return None
    parts = str(data.get("openshiftVersion") or "").split(".")
    if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
        return int(parts[0]), int(parts[1])
    server = data.get("serverVersion")
    if isinstance(server, dict):  # Kubernetes 1.26 shipped with OpenShift 4.13
        minor = str(server.get("minor", "")).rstrip("+")
        if str(server.get("major")) == "1" and minor.isdigit():
            return 4, int(minor) - 13
    return None


def read_cluster(oc: str, ca_names: list[str], signature_names: list[str] | None = None) -> ClusterFacts:
    """Ask the cluster oc is logged in to who and where it is, what CA configuration it has, and which of
    the release signature ConfigMaps it holds already."""
    facts = ClusterFacts()
    server = _oc(oc, "whoami", "--show-server")
    user = _oc(oc, "whoami")
    if server is None or user is None:
        facts.problem = "oc did not answer"
        return facts
    if user.returncode != 0 or server.returncode != 0:
        facts.problem = "oc is not logged in to a cluster: run oc login first, then Apply"
        return facts
    facts.server = server.stdout.strip().splitlines()[-1] if server.stdout.strip() else ""
    facts.user = user.stdout.strip().splitlines()[-1] if user.stdout.strip() else ""
    facts.version = parse_version(_json(_oc(oc, "version", "-o", "json")))
    can = _oc(oc, "auth", "can-i", "patch", "images.config.openshift.io")
    if can is not None and can.stdout.strip() in ("yes", "no"):
        facts.admin = can.stdout.strip() == "yes"
    image = _json(_oc(oc, "get", "image.config.openshift.io/cluster", "-o", "json"))
    if image:
        name = ((image.get("spec") or {}).get("additionalTrustedCA") or {}).get("name")
        facts.trusted_ca_name = str(name) if isinstance(name, str) else ""
    for name in dict.fromkeys([*ca_names, facts.trusted_ca_name]):
        if not name:
            continue
        found = _json(_oc(oc, "get", "configmap", name, "-n", CONFIG_NAMESPACE, "-o", "json"))
        if found is not None:
            data = found.get("data") or {}
            facts.configmaps[name] = {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    for name in signature_names or []:
        if _json(_oc(oc, "get", "configmap", name, "-n", SIGNATURES_NAMESPACE, "-o", "json")) is not None:
            facts.signatures.add(name)
    return facts


def signature_configmaps(prepared: Any) -> list[dict[str, Any]]:
    found = getattr(prepared, "signature_configmaps", None)
    return found() if callable(found) else []


def existing_signatures(prepared: Any, facts: ClusterFacts) -> list[str]:
    """The plan's signature ConfigMaps the cluster has already: replacing one needs its own yes."""
    names = [c["metadata"]["name"] for c in signature_configmaps(prepared)]
    return [name for name in names if name in facts.signatures]


def left_as_is(names: list[str]) -> list[str]:
    """Result lines for the signature ConfigMaps not replaced (the admin said no, or was not asked)."""
    return [f"· ConfigMap/{name} -n {SIGNATURES_NAMESPACE}: left as is — the cluster has it already and you "
            "chose not to replace it" for name in names]


def plan_apply(prepared: Any, facts: ClusterFacts, *, replace_signatures: bool = False) -> list[OcStep]:
    """The `oc` calls for this cluster: IDMS or ICSP by its version, the CA merged into what it has, each
    release's signature ConfigMap — one the cluster has already only with ``replace_signatures`` (its own
    question: the cluster-version operator trusts what it holds)."""
    steps: list[OcStep] = []
    icsp = facts.version is not None and facts.version < (4, 13)
    instructions = getattr(prepared, "instructions", None)
    if instructions is not None:
        doc = instructions.icsp() if icsp else instructions.idms()
        kind = doc.get("kind", "ImageDigestMirrorSet")
        name = (doc.get("metadata") or {}).get("name", "")
        steps.append(OcStep(["apply", "-f", "-"], dump_yaml(doc), f"{kind}/{name}",
                            "new mirror rules for every node: the Machine Config Operator updates (and reboots) "
                            "every node, one pool at a time"))
    ca = getattr(prepared, "ca", None)
    if ca is not None:
        ours = dict(ca.configmap.get("data") or {})
        # The cluster names one ConfigMap for every registry's CA: ours goes into that one when it is set.
        name = facts.trusted_ca_name or ca.configmap["metadata"]["name"]
        existing = facts.configmaps.get(name)
        merged = {**(existing or {}), **ours}
        kept = sorted(set(existing or {}) - set(ours))
        configmap = {"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": name, "namespace": CONFIG_NAMESPACE}, "data": merged}
        if existing is None:
            effect = "created with the mirror's CA"
        elif kept:
            effect = f"exists: the mirror's CA is added, its other keys are kept ({', '.join(kept)})"
        else:
            effect = "exists: the mirror's CA is updated"
        steps.append(OcStep(["apply", "-f", "-"], dump_yaml(configmap), f"ConfigMap/{name} -n {CONFIG_NAMESPACE}",
                            effect))
        if facts.trusted_ca_name != name:
            patch = {"spec": {"additionalTrustedCA": {"name": name}}}
            steps.append(OcStep(["patch", "image.config.openshift.io/cluster", "--type=merge",
                                 "--patch", json.dumps(patch, separators=(",", ":"))],
                                what="Image.config.openshift.io/cluster",
                                effect=f"additionalTrustedCA → {name}: the cluster image configuration rolls out "
                                       "to every node"))
    for configmap in signature_configmaps(prepared):
        name = configmap["metadata"]["name"]
        what = f"ConfigMap/{name} -n {SIGNATURES_NAMESPACE}"
        if name not in facts.signatures:
            steps.append(OcStep(["apply", "-f", "-"], dump_yaml(configmap), what,
                                "created: the release signatures the cluster checks before it updates to that release"))
        elif replace_signatures:
            steps.append(OcStep(["replace", "-f", "-"], dump_yaml(configmap), what,
                                "exists: replaced with the signatures verified by this mirror (you confirmed it)"))
    samples = getattr(prepared, "samples", None)
    if samples is not None:
        spec = samples.config_patch.get("spec", {})
        steps.append(OcStep(["patch", "configs.samples.operator.openshift.io/cluster", "--type=merge",
                             "--patch", json.dumps(samples.config_patch, separators=(",", ":"))],
                            what="Config.samples.operator.openshift.io/cluster",
                            effect=f"samplesRegistry → {spec.get('samplesRegistry')}, "
                                   f"{len(spec.get('skippedImagestreams') or [])} streams skipped; the operator "
                                   "re-imports the image streams"))
    return steps


def replace_question(names: list[str]) -> tuple[str, str]:
    """The separate question before replacing signature ConfigMaps the cluster has: (question, body)."""
    listed = ", ".join(names)
    question = (f"Replace the release signature ConfigMap {listed} in {SIGNATURES_NAMESPACE}?" if len(names) == 1
                else f"Replace {len(names)} release signature ConfigMaps in {SIGNATURES_NAMESPACE}?")
    body = (f"The cluster already has {listed} ({SIGNATURES_NAMESPACE}). The cluster-version operator trusts "
            "the signatures it holds when it checks an update to that release.\n\n"
            "Replace: oc replace swaps its content for the signatures this mirror verified.\n"
            "Leave as is: it is not touched; everything else is still applied.")
    return question, body


def describe(facts: ClusterFacts, steps: list[OcStep], existing: list[str] | None = None) -> str:
    version = f"OpenShift {facts.version[0]}.{facts.version[1]}" if facts.version else "version unknown"
    admin = {True: "may change cluster configuration", False: "may NOT change cluster configuration "
             "(cluster-admin is needed)", None: "rights unknown"}[facts.admin]
    lines = [f"Cluster  {facts.server}", f"User     {facts.user} — {admin}", f"Version  {version}", ""]
    for number, step in enumerate(steps, 1):
        lines.append(f"{number}. {step.what}")
        lines.append(f"   {step.effect}")
        lines.append(f"   $ {step.shown()}" + (" < (shown in its tab)" if step.stdin else ""))
    for name in existing or []:
        lines.append(f"·  ConfigMap/{name} -n {SIGNATURES_NAMESPACE}")
        lines.append("   exists on the cluster: you are asked separately whether to replace it")
    return "\n".join(lines)


def run_steps(oc: str, steps: list[OcStep]) -> tuple[bool, list[str]]:
    """Run each step in turn, stopping at the first failure; (all ok, one result per step tried)."""
    lines: list[str] = []
    for step in steps:
        try:
            done = subprocess.run([oc, *step.args], input=step.stdin, capture_output=True, text=True,
                                  timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            lines.append(f"✗ {step.what}: oc did not finish ({exc.__class__.__name__})")
            break
        output = (done.stdout if done.returncode == 0 else done.stderr or done.stdout).strip().splitlines()
        mark = "✓" if done.returncode == 0 else "✗"
        lines.append(f"{mark} {step.what}" + (f": {output[-1]}" if output else ""))
        if done.returncode != 0:
            break
    ok = len(lines) == len(steps) and all(line.startswith("✓") for line in lines)
    if not ok and len(lines) < len(steps):
        lines += [f"· {step.what}: not run" for step in steps[len(lines):]]
    return ok, lines


class ApplyScreen(ModalScreen[bool]):
    """The question before Apply, or the results after it: scrolls, so it fits 80x24."""

    DEFAULT_CSS = """
    ApplyScreen { align: center middle; }
    ApplyScreen > Vertical {
        width: 100; max-width: 98%; height: auto; max-height: 95%;
        border: thick $warning 60%; background: $panel; padding: 0 1;
    }
    ApplyScreen .question { text-style: bold; margin-bottom: 1; }
    ApplyScreen VerticalScroll { height: auto; max-height: 1fr; }
    ApplyScreen #apply-body { text-wrap: wrap; }
    ApplyScreen Horizontal { height: auto; align-horizontal: right; margin-top: 1; }
    ApplyScreen Button { margin-left: 2; }
    """
    BINDINGS = [Binding("escape", "no", "Close"), Binding("y", "yes", "Yes", show=False)]

    def __init__(self, question: str, body: str, *, yes: str | None = "Apply", no: str = "Not now") -> None:
        super().__init__()
        self.question, self.body, self.yes_label, self.no_label = question, body, yes, no

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content(self.question), classes="question")
            with VerticalScroll(id="apply-scroll"):
                yield Static(Content(self.body), id="apply-body")
            with Horizontal():
                yield Button(self.no_label, id="no", compact=True)
                if self.yes_label:
                    yield Button(self.yes_label, id="yes", variant="warning", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed, "#yes")
    def action_yes(self) -> None:
        if self.yes_label:
            self.dismiss(True)

    @on(Button.Pressed, "#no")
    def action_no(self) -> None:
        self.dismiss(False)
