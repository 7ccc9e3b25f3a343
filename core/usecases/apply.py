"""Apply a plan's documents to the cluster ``oc`` is logged in to: one implementation for the wizard's
Apply (Done step) and ``mirror-wizard apply PLAN``.

Before anything runs, :func:`propose` asks the cluster who and where it is (``oc whoami``), its version
(an ImageDigestMirrorSet from 4.13, an ImageContentSourcePolicy before), whether the user may change
cluster configuration, the CA ConfigMap it has already (``registry-config``, or whichever one
image.config's ``additionalTrustedCA`` names: merged, its other registries' keys kept) and which release
signature ConfigMaps it holds (replacing one is its own question). The answer is an :class:`Proposal`:
every object in the order it is applied, what each changes, and the questions to ask. Front ends ask
them in their own way (a modal, a terminal prompt) and call :func:`apply`.

``oc`` runs through core.usecases.oc_runner.OcProgram: bounded time and output (core.oc's limits),
stdin for the documents, never a shell.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from ..access import open_session
from ..ca import check_registry_ca
from ..errors import ErrorCode, ToolError
from ..oc import OcAnswer
from ..plan import Plan, ReleaseMode
from ..registry import RegistrySession
from ..run import Prepared, prepare
from ..runbook import ADMIN_ACKS, SIGSTORE_GATE
from ..text import shell_quote
from ..verify.lifecycle import registry_allowed_problems
from ..yamlout import dump_yaml
from .oc_runner import OcProgram, OcRunner

CONFIG_NAMESPACE = "openshift-config"
SIGNATURES_NAMESPACE = "openshift-config-managed"  # where the cluster-version operator reads signatures
WRITE_TIMEOUT = 120.0  # apply, patch, replace: the API server may take its time
IMAGE_CONFIG = "image.config.openshift.io/cluster"
SAMPLES_CONFIG = "configs.samples.operator.openshift.io/cluster"


# -- the documents ------------------------------------------------------------------------------------

async def prepare_documents(plan: Plan, session: RegistrySession | None = None) -> Prepared:
    """What the cluster gets for ``plan`` (mirror sets, CA, signatures, samples Config), as the wizard's
    Done step computes them: the plan prepared reading only (a release is read from its registry, a
    removable medium is never touched). ``session``: the caller's (the wizard's, with typed logins),
    else one opened the plan's way."""
    if session is not None:
        return await prepare(plan, session, read_only=True)
    async with open_session(plan) as opened:
        return await prepare(plan, opened, read_only=True)


async def ca_not_verified(plan: Plan) -> str | None:
    """Why the plan's CA must not go to the cluster: it does not verify the mirror's certificate (with a SAN
    for its host), or the mirror could not be asked. None when it verified, or the plan names no CA. A CA
    that did not verify is never applied (the wizard's CA step asks the same question)."""
    if not plan.mirror.ca_file or not plan.mirror.registry:
        return None

    check = await check_registry_ca(plan.mirror.registry, plan.mirror.ca_file)
    if check.ok:
        return None
    return check.not_checked or "; ".join(check.problems) or "the mirror's certificate does not verify with it"


def without_ca(prepared: Prepared) -> Prepared:
    """The documents without the CA (one that did not verify: never written or applied)."""
    return dataclasses.replace(prepared, ca=None)


def _json(answer: OcAnswer | None) -> dict[str, Any] | None:
    if answer is None or answer.code != 0:
        return None
    try:
        data = json.loads(answer.stdout or "null")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


# -- what the cluster has -----------------------------------------------------------------------------

@dataclass
class ClusterFacts:
    """What ``oc`` says about the cluster it is logged in to; ``refusal`` set when it cannot be used."""

    server: str = ""
    user: str = ""
    version: tuple[int, int] | None = None
    admin: bool | None = None          # may this user change cluster configuration (None: unknown)
    refusal: ErrorCode | None = None   # OC_NO_ANSWER or CLUSTER_NOT_LOGGED_IN
    configmaps: dict[str, dict[str, str]] = field(default_factory=dict)  # existing CA ConfigMaps' data
    trusted_ca_name: str = ""          # image.config's spec.additionalTrustedCA.name, "" when unset
    signatures: set[str] = field(default_factory=set)  # release signature ConfigMaps (sha256-<hex>) it has
    image_spec: dict[str, Any] = field(default_factory=dict)  # image.config's spec (allowed/blocked registries)
    # A 4.20 cluster's openshift-config/admin-acks data (None: not read, or the cluster is not at 4.20)
    admin_acks: dict[str, str] | None = None


def parse_version(data: dict[str, Any] | None) -> tuple[int, int] | None:
    """(major, minor) of OpenShift from ``oc version -o json``."""
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


def _last_line(answer: OcAnswer) -> str:
    lines = answer.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def read_cluster(run: OcRunner, ca_names: list[str], signature_names: list[str] | None = None) -> ClusterFacts:
    """Who and where oc is logged in, the cluster's version and rights, what CA configuration it has, and
    which of the release signature ConfigMaps it holds already. Reads only."""
    facts = ClusterFacts()
    server = run(["whoami", "--show-server"])
    user = run(["whoami"])
    if server is None or user is None:
        facts.refusal = ErrorCode.OC_NO_ANSWER
        return facts
    if user.code != 0 or server.code != 0:
        facts.refusal = ErrorCode.CLUSTER_NOT_LOGGED_IN
        return facts
    facts.server, facts.user = _last_line(server), _last_line(user)
    facts.version = parse_version(_json(run(["version", "-o", "json"])))
    can = run(["auth", "can-i", "patch", "images.config.openshift.io"])
    if can is not None and can.stdout.strip() in ("yes", "no"):
        facts.admin = can.stdout.strip() == "yes"
    image = _json(run(["get", IMAGE_CONFIG, "-o", "json"]))
    if image:
        spec = image.get("spec")
        facts.image_spec = spec if isinstance(spec, dict) else {}
        name = (facts.image_spec.get("additionalTrustedCA") or {}).get("name")
        facts.trusted_ca_name = str(name) if isinstance(name, str) else ""
    if facts.version == (4, 20):  # the gate ack-4.20-sigstore-in-4.21 is a 4.20 cluster's
        acks = _json(run(["get", "configmap", ADMIN_ACKS[0], "-n", ADMIN_ACKS[1], "-o", "json"]))
        if acks is not None:
            data = acks.get("data") or {}
            facts.admin_acks = {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    for name in dict.fromkeys([*ca_names, facts.trusted_ca_name]):
        if not name:
            continue
        found = _json(run(["get", "configmap", name, "-n", CONFIG_NAMESPACE, "-o", "json"]))
        if found is not None:
            data = found.get("data") or {}
            facts.configmaps[name] = {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    for name in signature_names or []:
        if _json(run(["get", "configmap", name, "-n", SIGNATURES_NAMESPACE, "-o", "json"])) is not None:
            facts.signatures.add(name)
    return facts


def refusal(facts: ClusterFacts) -> ErrorCode | None:
    """Why nothing may be applied to this cluster (None: it may): no answer, no login, no version (IDMS
    or ICSP cannot be chosen), or a user who may not change cluster configuration."""
    if facts.refusal is not None:
        return facts.refusal
    if facts.version is None:
        return ErrorCode.CLUSTER_VERSION_UNKNOWN
    if facts.admin is False:
        return ErrorCode.CLUSTER_NOT_ADMIN
    return None


# -- the changes --------------------------------------------------------------------------------------

@dataclass
class OcStep:
    """One ``oc`` call: its arguments, the YAML/JSON fed on stdin, and what it changes on the cluster."""

    args: list[str]
    stdin: str | None = None
    what: str = ""      # "ImageDigestMirrorSet/release-0"
    effect: str = ""    # "every node is updated (rolling reboot)"

    def shown(self) -> str:
        return " ".join(shell_quote(a) if " " in a or "{" in a else a for a in ["oc", *self.args])

    def as_dict(self) -> dict[str, Any]:
        return {"what": self.what, "effect": self.effect, "command": self.shown(), "args": list(self.args),
                "object": self.stdin}


def signature_names(prepared: Prepared) -> list[str]:
    return [str(c["metadata"]["name"]) for c in prepared.signature_configmaps()]


def ca_names(prepared: Prepared) -> list[str]:
    return [str(prepared.ca.configmap["metadata"]["name"])] if prepared.ca is not None else []


def existing_signatures(prepared: Prepared, facts: ClusterFacts) -> list[str]:
    """The plan's signature ConfigMaps the cluster has already: replacing one needs its own yes."""
    return [name for name in signature_names(prepared) if name in facts.signatures]


def left_as_is(names: list[str]) -> list[str]:
    """Result lines for the signature ConfigMaps not replaced (the admin said no, or was not asked)."""
    return [f"· ConfigMap/{name} -n {SIGNATURES_NAMESPACE}: left as is — the cluster has it already and you "
            "chose not to replace it" for name in names]


def plan_apply(prepared: Prepared, facts: ClusterFacts, *, replace_signatures: bool = False) -> list[OcStep]:
    """The ``oc`` calls for this cluster, in order: IDMS or ICSP by its version, the CA merged into what it
    has (and image.config pointed at it), each release's signature ConfigMap — one the cluster has already
    only with ``replace_signatures`` (its own question: the cluster-version operator trusts what it
    holds) —, a 4.20 cluster's admin-ack for 4.21, the image.config patch that lets the samples operator
    use the mirror (when its allowed registries refuse it) and the samples operator's Config last (after
    the mirror and CA it pulls with)."""
    steps: list[OcStep] = []
    icsp = facts.version is not None and facts.version < (4, 13)
    instructions = prepared.instructions
    if instructions is not None:
        doc = instructions.icsp() if icsp else instructions.idms()
        kind = doc.get("kind", "ImageDigestMirrorSet")
        name = (doc.get("metadata") or {}).get("name", "")
        steps.append(OcStep(["apply", "-f", "-"], dump_yaml(doc), f"{kind}/{name}",
                            "new mirror rules for every node: the Machine Config Operator updates (and reboots) "
                            "every node, one pool at a time"))
    ca = prepared.ca
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
            steps.append(OcStep(["patch", IMAGE_CONFIG, "--type=merge",
                                 "--patch", json.dumps(patch, separators=(",", ":"))],
                                what="Image.config.openshift.io/cluster",
                                effect=f"additionalTrustedCA → {name}: the cluster image configuration rolls out "
                                       "to every node"))
    for signatures in prepared.signature_configmaps():
        name = str(signatures["metadata"]["name"])
        what = f"ConfigMap/{name} -n {SIGNATURES_NAMESPACE}"
        if name not in facts.signatures:
            steps.append(OcStep(["apply", "-f", "-"], dump_yaml(signatures), what,
                                "created: the release signatures the cluster checks before it updates to that release"))
        elif replace_signatures:
            steps.append(OcStep(["replace", "-f", "-"], dump_yaml(signatures), what,
                                "exists: replaced with the signatures verified by this mirror (you confirmed it)"))
    ack = admin_ack_step(prepared, facts)
    if ack is not None:
        steps.append(ack)
    samples = prepared.samples
    if samples is not None:
        allowed = registry_allowed_step(prepared, facts)
        if allowed is not None:  # before the Config: the operator refuses a samplesRegistry image.config refuses
            steps.append(allowed)
        spec = samples.config_patch.get("spec", {})
        steps.append(OcStep(["patch", SAMPLES_CONFIG, "--type=merge",
                             "--patch", json.dumps(samples.config_patch, separators=(",", ":"))],
                            what="Config.samples.operator.openshift.io/cluster",
                            effect=f"samplesRegistry → {spec.get('samplesRegistry')}, "
                                   f"{len(spec.get('skippedImagestreams') or [])} streams skipped; the operator "
                                   "re-imports the image streams"))
    return steps


def registry_allowed_step(prepared: Prepared, facts: ClusterFacts) -> OcStep | None:
    """The image.config JSON patch that lets the samples operator use the mirror as its samplesRegistry, when
    the cluster's allowed/blocked registries refuse it (verify's samples-registry-allowed check, same rules)."""
    samples = prepared.samples
    registry = str((samples.config_patch.get("spec") or {}).get("samplesRegistry") or "") if samples else ""
    if not registry or not facts.image_spec:
        return None
    found = registry_allowed_problems(facts.image_spec, registry)
    if not found:
        return None
    patch = json.dumps([op for _, op in found], separators=(",", ":"))
    return OcStep(["patch", IMAGE_CONFIG, "--type=json", "--patch", patch], what="Image.config.openshift.io/cluster",
                  effect=f"lets the samples operator use {registry}: " + "; ".join(problem for problem, _ in found)
                  + " (the cluster image configuration rolls out to every node)")


def admin_ack_step(prepared: Prepared, facts: ClusterFacts) -> OcStep | None:
    """A 4.20 cluster whose plan goes to 4.21 or later: the admin-ack ``ack-4.20-sigstore-in-4.21`` (from 4.21
    the cluster checks the release's Sigstore signature through its mirrors; the mirror run copied the
    ``.sig`` tags), when openshift-config/admin-acks does not hold it yet (verify's admin-ack-sigstore)."""
    release = prepared.plan.release
    versions = [r.version for r in prepared.releases] or ([release.version] if release and release.version else [])
    crosses = [v for v in versions if (_minor(v) or (0, 0)) >= (4, 21)]
    if facts.version != (4, 20) or not crosses or facts.admin_acks is None:
        return None
    if facts.admin_acks.get(SIGSTORE_GATE) == "true":
        return None
    patch = json.dumps({"data": {SIGSTORE_GATE: "true"}}, separators=(",", ":"))
    return OcStep(["patch", "configmap", ADMIN_ACKS[0], "-n", ADMIN_ACKS[1], "--type=merge", "--patch", patch],
                  what=f"ConfigMap/{ADMIN_ACKS[0]} -n {ADMIN_ACKS[1]}",
                  effect=f"acknowledges {SIGSTORE_GATE}: this 4.20 cluster may then update to {', '.join(crosses)} "
                         "(from 4.21 it checks the release's Sigstore signature through the mirror, which holds "
                         "the .sig tags; verify's Sigstore signatures line checks them)")


def _minor(version: str) -> tuple[int, int] | None:
    parts = version.split(".")
    return (int(parts[0]), int(parts[1])) if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit() else None


def change_count(prepared: Prepared) -> int:
    """How many changes the cluster gets, before asking it (a cluster with none of them yet)."""
    return len(plan_apply(prepared, ClusterFacts()))


# -- the questions ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Question:
    """A yes/no question before a change: a short line, the whole story, and the two answers' labels."""

    question: str
    body: str
    yes: str
    no: str


def describe(facts: ClusterFacts, steps: list[OcStep], existing: list[str] | None = None, *,
             stdin_note: str = " < (shown in its tab)") -> str:
    """The cluster, the user and every change, numbered as they run; ``stdin_note`` says where the front
    end shows the document a step sends (the wizard: in its tab)."""
    version = f"OpenShift {facts.version[0]}.{facts.version[1]}" if facts.version else "version unknown"
    admin = {True: "may change cluster configuration", False: "may NOT change cluster configuration "
             "(cluster-admin is needed)", None: "rights unknown"}[facts.admin]
    lines = [f"Cluster  {facts.server}", f"User     {facts.user} — {admin}", f"Version  {version}", ""]
    for number, step in enumerate(steps, 1):
        lines.append(f"{number}. {step.what}")
        lines.append(f"   {step.effect}")
        lines.append(f"   $ {step.shown()}" + (stdin_note if step.stdin else ""))
    for name in existing or []:
        lines.append(f"·  ConfigMap/{name} -n {SIGNATURES_NAMESPACE}")
        lines.append("   exists on the cluster: you are asked separately whether to replace it")
    return "\n".join(lines)


def replace_question(names: list[str]) -> Question:
    """The separate question before replacing signature ConfigMaps the cluster has."""
    listed = ", ".join(names)
    question = (f"Replace the release signature ConfigMap {listed} in {SIGNATURES_NAMESPACE}?" if len(names) == 1
                else f"Replace {len(names)} release signature ConfigMaps in {SIGNATURES_NAMESPACE}?")
    body = (f"The cluster already has {listed} ({SIGNATURES_NAMESPACE}). The cluster-version operator trusts "
            "the signatures it holds when it checks an update to that release.\n\n"
            "Replace: oc replace swaps its content for the signatures this mirror verified.\n"
            "Leave as is: it is not touched; everything else is still applied.")
    return Question(question, body, yes="Replace", no="Leave as is")


@dataclass
class Proposal:
    """What applying would do to this cluster, and the questions to ask first."""

    prepared: Prepared
    facts: ClusterFacts
    steps: list[OcStep]          # without replacing signature ConfigMaps the cluster has
    existing: list[str]          # signature ConfigMaps the cluster has: replacing them is asked apart

    @property
    def refusal(self) -> ErrorCode | None:
        return refusal(self.facts)

    def question(self) -> Question:
        return Question(f"Apply {len(self.steps)} changes to this cluster?",
                        describe(self.facts, self.steps, self.existing)
                        + "\n\nNodes take the new mirror and CA settings one pool at a time; watch with oc get mcp.",
                        yes="Apply", no="Not now")

    def replace_question(self) -> Question | None:
        """The second question, only when the cluster has signature ConfigMaps of this plan."""
        return replace_question(self.existing) if self.existing else None

    def steps_for(self, *, replace_signatures: bool) -> list[OcStep]:
        return plan_apply(self.prepared, self.facts, replace_signatures=replace_signatures)

    def kept_for(self, *, replace_signatures: bool) -> list[str]:
        return [] if replace_signatures else list(self.existing)


def propose(prepared: Prepared, run: OcRunner) -> Proposal:
    """Ask the cluster (reads only) and lay out the changes; nothing is changed."""
    facts = read_cluster(run, ca_names(prepared), signature_names(prepared))
    return Proposal(prepared, facts, plan_apply(prepared, facts), existing_signatures(prepared, facts))


# -- applying -----------------------------------------------------------------------------------------

@dataclass
class Outcome:
    ok: bool
    lines: list[str]   # one per step tried (✓ / ✗ and oc's last line), then the steps not run, the kept

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "results": list(self.lines)}


def apply(run: OcRunner, steps: list[OcStep], kept: list[str] | None = None) -> Outcome:
    """Run each step in turn, stopping at the first failure."""
    lines: list[str] = []
    for step in steps:
        done = run(step.args, stdin=step.stdin, timeout=WRITE_TIMEOUT)
        if done is None:
            lines.append(f"✗ {step.what}: oc did not finish")
            break
        output = (done.stdout if done.code == 0 else done.stderr or done.stdout).strip().splitlines()
        mark = "✓" if done.code == 0 else "✗"
        lines.append(f"{mark} {step.what}" + (f": {output[-1]}" if output else ""))
        if done.code != 0:
            break
    ok = len(lines) == len(steps) and all(line.startswith("✓") for line in lines)
    if not ok and len(lines) < len(steps):
        lines += [f"· {step.what}: not run" for step in steps[len(lines):]]
    return Outcome(ok, lines + left_as_is(kept or []))


def plan_refusal(plan: Plan) -> ErrorCode | None:
    """A plan whose images are not in the mirror yet cannot be applied (to-dir: they are on the medium)."""
    if plan.release is not None and plan.release.mode == ReleaseMode.TO_DIR:
        return ErrorCode.APPLY_BEFORE_UPLOAD
    return None


def require_oc(run: OcRunner) -> None:
    """ToolError(OC_MISSING) when the runner's oc is not on PATH."""
    if isinstance(run, OcProgram) and run.path() is None:
        raise ToolError(f"cannot find {run.binary!r} on PATH", code=ErrorCode.OC_MISSING)


__all__ = ["ClusterFacts", "OcProgram", "OcRunner", "OcStep", "Outcome", "Proposal", "Question", "admin_ack_step",
           "apply", "registry_allowed_step",
           "ca_not_verified", "change_count", "describe", "existing_signatures", "left_as_is", "parse_version", "plan_apply",
           "plan_refusal", "prepare_documents", "propose", "read_cluster", "refusal", "replace_question",
           "require_oc", "without_ca"]
