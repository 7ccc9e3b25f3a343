"""Cluster-side checks for a mirror that lasts (issue 24), through the admin's ``oc``, read-only.

* ``samples-registry-allowed``: the samples operator refuses a ``samplesRegistry`` that ``image.config``
  does not allow. cluster-samples-operator pkg/stub/handler.go ``imageConfigBlocksImageStreamCreation``
  (called from pkg/stub/config.go with ``cfg.Spec.SamplesRegistry``, which then marks ConfigurationValid
  False): a non-empty ``spec.allowedRegistriesForImport`` must hold a ``domainName`` that the registry name
  ends with (``strings.HasSuffix``: ``host`` does not match ``host:8443``, so the port must be there, as
  openshift/api config/v1 types_image.go RegistryLocation says for non-standard ports); a non-empty
  ``spec.registrySources.allowedRegistries`` must list it exactly (TrimSpace equality); and
  ``blockedRegistries`` must not list it.
* ``samples-import-mode``: openshift/api config/v1 types_image.go ``imageStreamImportMode`` (spec, and the
  reconciled status): ``PreserveOriginal`` imports the whole manifest list, ``Legacy`` one platform; empty
  means the payload type decides (multi → PreserveOriginal). Under PreserveOriginal the samples mirror must
  hold the index, not one platform.
* ``admin-ack-sigstore``: a 4.20 cluster with mirrors gets the admin gate ``ack-4.20-sigstore-in-4.21``
  in openshift-config-managed/admin-gates (machine-config-operator, branch release-4.20,
  pkg/controller/container-runtime-config/admin_ack.go ``syncAdminAckConfigMap``: added when the cluster
  has mirror configuration, removed when not); the update to 4.21 waits until
  ``openshift-config/admin-acks`` holds it with value ``"true"`` (cluster-version-operator
  pkg/risk/adminack, its test ``Test_checkAdminGate`` "valid gate acknowledged").
* ``update-service-ca`` / ``update-service`` / ``cluster-upstream``: cincinnati-operator
  controllers/names.go ``NameCertConfigMapKey = "updateservice-registry"`` in the ConfigMap image.config's
  ``additionalTrustedCA`` names (controllers/updateservice_controller.go ``findTrustedCAConfig``); its
  api/v1 ``UpdateService`` status conditions ``ReconcileCompleted`` and ``RegistryCACertFound`` and
  ``status.policyEngineURI``; the cluster asks ``clusterversion`` ``spec.upstream`` (openshift/api config/v1
  ClusterVersionSpec.upstream) = that URI + ``/api/upgrades_info/v1/graph``.
* ``samples bootstrapped Removed``: the operator sets Removed at install when registry.redhat.io cannot be
  reached (pkg/stub/handler.go ``tbrInaccessible``) and reports reason ``TermsBasedRegistryUnreacahable``
  (sic, pkg/operatorstatus/operatorstatus.go ``TBR``) on ClusterOperator ``openshift-samples``.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from ..ca import parse_ca_pem
from ..errors import CertificateError, MirrorError, ReferenceFormatError
from ..graph_image import CA_KEY, GRAPH_PATH, UPDATE_SERVICE_NAMESPACE
from ..mirror_sets import crio_pull_specs
from ..oc import Oc, ResourceMissing
from ..reference import parse_reference
from ..registry import RegistrySession
from ..runbook import ADMIN_ACKS, SIGSTORE_GATE, admin_ack_command
from ..sigstore import SIGSTORE_FROM
from ..text import shell_quote
from ..userfiles import read_user_file
from .expected import Expected, stream_destinations
from .model import PARALLEL_HEADS, Check, Side, Status, as_mapping, cut_items

ADMIN_GATES = ("admin-gates", "openshift-config-managed")
SAMPLES_OPERATOR = "openshift-samples"
TBR_REASON = "TermsBasedRegistryUnreacahable"  # spelled as the operator spells it
IMAGE_CONFIG = "image.config.openshift.io/cluster"


def _minor(version: str | None) -> tuple[int, int] | None:
    numbers = re.match(r"^(\d+)\.(\d+)", version or "")
    return (int(numbers[1]), int(numbers[2])) if numbers else None


def _plan_versions(expected: Expected) -> list[str]:
    versions = [info.version for info in expected.releases]
    if not versions and expected.release is not None:
        versions = [expected.release.version]
    release = expected.plan.release
    if not versions and release is not None and release.version:
        versions = [release.version]
    return versions


async def _configmap_data(oc: Oc, name: str, namespace: str) -> dict[str, Any] | None:
    try:
        return as_mapping((await oc.get("configmap", name, namespace=namespace)).get("data"))
    except ResourceMissing:
        return None


async def check_admin_ack(expected: Expected, oc: Oc, version: str | None) -> Check:
    name, title = "admin-ack-sigstore", "4.20 → 4.21 admin-ack (Sigstore through mirrors)"
    minor = _minor(version)
    if minor != (4, 20):
        return Check(name, title, Side.CLUSTER, Status.SKIP,
                     f"the cluster runs {version or 'an unknown version'}: the gate {SIGSTORE_GATE} is a 4.20 cluster's")
    targets = [v for v in _plan_versions(expected) if (_minor(v) or (0, 0)) >= SIGSTORE_FROM]
    gates = await _configmap_data(oc, *ADMIN_GATES)
    acks = await _configmap_data(oc, *ADMIN_ACKS) or {}
    raised = gates is not None and SIGSTORE_GATE in gates
    if acks.get(SIGSTORE_GATE) == "true":
        return Check(name, title, Side.CLUSTER, Status.PASS,
                     f"{SIGSTORE_GATE} is acknowledged in {ADMIN_ACKS[1]}/{ADMIN_ACKS[0]}")
    if not targets:
        return Check(name, title, Side.CLUSTER, Status.SKIP,
                     f"the plan's releases stay below 4.21; before updating to 4.21 acknowledge {SIGSTORE_GATE}",
                     fix=admin_ack_command())
    if not raised:  # the machine-config-operator raises it only on a cluster with mirror sets
        return Check(name, title, Side.CLUSTER, Status.SKIP,
                     f"{ADMIN_GATES[1]}/{ADMIN_GATES[0]} holds no {SIGSTORE_GATE} yet: it is raised once the cluster has "
                     "mirror sets, then the update to 4.21 waits for it (acknowledging ahead does no harm)",
                     fix=admin_ack_command())
    return Check(name, title, Side.CLUSTER, Status.FAIL,
                 f"updating this 4.20 cluster to {', '.join(targets)} waits for the admin-ack {SIGSTORE_GATE} (the "
                 "cluster raised it): 4.21 checks the release's Sigstore signature through the mirrors",
                 fix=admin_ack_command() + "  # once the Sigstore signatures line passes: the mirror holds the .sig")


def _registry_name(value: Any) -> str:
    return str(value).strip() if isinstance(value, str) else ""


def registry_allowed_problems(spec: dict[str, Any], registry: str) -> list[tuple[str, dict[str, Any]]]:
    """What in image.config's ``spec`` makes the samples operator refuse ``registry`` as its samplesRegistry,
    each with the JSON-patch operation that fixes it: verify's check and Apply's proposal (core.usecases.apply)
    read the same rules (cluster-samples-operator: allowedRegistriesForImport by suffix, with the port;
    registrySources.allowedRegistries exactly; not in blockedRegistries)."""
    host = registry.rsplit(":", 1)[0] if ":" in registry else registry
    found: list[tuple[str, dict[str, Any]]] = []
    for_import = spec.get("allowedRegistriesForImport")
    if isinstance(for_import, list) and for_import:
        domains = [_registry_name(as_mapping(item).get("domainName")) for item in for_import]
        if not any(d and registry.endswith(d) for d in domains):  # the operator's strings.HasSuffix
            without_port = host != registry and any(d and host.endswith(d) for d in domains)
            found.append((f"spec.allowedRegistriesForImport has no domainName matching {registry}"
                          + (" (it names the host without the port :" + registry.rsplit(":", 1)[1] + ")"
                             if without_port else ""),
                          {"op": "add", "path": "/spec/allowedRegistriesForImport/-", "value": {"domainName": registry}}))
    sources = as_mapping(spec.get("registrySources"))
    allowed = sources.get("allowedRegistries")
    if isinstance(allowed, list) and allowed:
        names = [_registry_name(a) for a in allowed]
        if registry not in names:
            near = " (it lists the host without the port)" if host in names and host != registry else ""
            found.append((f"spec.registrySources.allowedRegistries does not list {registry} exactly{near}",
                          {"op": "add", "path": "/spec/registrySources/allowedRegistries/-", "value": registry}))
    blocked = sources.get("blockedRegistries")
    if isinstance(blocked, list):
        names = [_registry_name(b) for b in blocked]
        if registry in names:
            found.append((f"spec.registrySources.blockedRegistries lists {registry}",
                          {"op": "remove", "path": f"/spec/registrySources/blockedRegistries/{names.index(registry)}"}))
    return found


async def check_registry_allowed(expected: Expected, oc: Oc) -> Check:
    name, title = "samples-registry-allowed", "image.config allows samplesRegistry"
    if expected.plan.samples is None:
        return Check(name, title, Side.CLUSTER, Status.SKIP, "the plan mirrors no image streams")
    registry = expected.samples_registry
    spec = as_mapping((await oc.get("image.config.openshift.io", "cluster")).get("spec"))
    found = registry_allowed_problems(spec, registry)
    problems = [problem for problem, _ in found]
    fixes = [f"oc patch {IMAGE_CONFIG} --type=json --patch '{json.dumps([op], separators=(',', ':'))}'"
             for _, op in found]
    if problems:
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     problems[0] + "; the samples operator refuses the samplesRegistry (ConfigurationValid False)"
                     if len(problems) == 1 else f"{len(problems)} image.config settings refuse {registry}",
                     fix=" && ".join(fixes), items=problems if len(problems) > 1 else [])
    for_import = spec.get("allowedRegistriesForImport")
    sources = as_mapping(spec.get("registrySources"))
    allowed, blocked = sources.get("allowedRegistries"), sources.get("blockedRegistries")
    how = []
    if isinstance(for_import, list) and for_import:
        how.append("allowedRegistriesForImport matches it")
    if isinstance(allowed, list) and allowed:
        how.append("allowedRegistries lists it")
    return Check(name, title, Side.CLUSTER, Status.PASS,
                 f"{registry}: " + (", ".join(how) if how else "image.config restricts no registries")
                 + ("" if not blocked else ", not blocked"))


async def check_import_mode(expected: Expected, oc: Oc, session: RegistrySession | None) -> Check:
    name, title = "samples-import-mode", "samples mirror fits imageStreamImportMode"
    if expected.plan.samples is None or expected.samples is None:
        return Check(name, title, Side.CLUSTER, Status.SKIP,
                     "the plan mirrors no image streams" if expected.plan.samples is None else
                     (expected.samples_error or "no image streams"))
    image = await oc.get("image.config.openshift.io", "cluster")
    spec_mode = as_mapping(image.get("spec")).get("imageStreamImportMode")
    status_mode = as_mapping(image.get("status")).get("imageStreamImportMode")
    mode = status_mode or spec_mode or ""
    if not mode:  # empty: the payload type decides (config/v1 ClusterVersion status.desired.architecture "Multi")
        try:
            desired = as_mapping(as_mapping((await oc.get("clusterversion", "version")).get("status")).get("desired"))
        except MirrorError:
            desired = {}
        if desired.get("architecture") == "Multi":
            mode = "PreserveOriginal"
    if mode != "PreserveOriginal":
        return Check(name, title, Side.CLUSTER, Status.PASS,
                     f"imageStreamImportMode is {mode or 'unset (Legacy: a single-architecture payload)'}: imports "
                     "take one platform, which the mirror holds either way")
    if session is None:
        return Check(name, title, Side.CLUSTER, Status.SKIP, "PreserveOriginal: the mirror was not read")
    destinations = stream_destinations(expected, expected.samples)
    pairs = sorted({(stream, src, dst) for stream, items in destinations.items() for src, dst in items})
    limit = asyncio.Semaphore(PARALLEL_HEADS)

    async def kind(spec: str, *, source: bool) -> bool | None:
        try:
            ref = parse_reference(spec)
            if source:
                ref = session.resolve_source(ref)
            async with limit:
                manifest = await session.client(ref.registry).get_manifest(ref.repository, ref.reference,
                                                                            push_scope=False)
            return manifest.is_index
        except (MirrorError, ReferenceFormatError):
            return None

    async def one(stream: str, src: str, dst: str) -> str | None:
        on_mirror = await kind(dst, source=False)
        if on_mirror is None:
            return None  # missing: the samples images line says so
        if on_mirror:
            return None
        at_source = await kind(src, source=True)
        if at_source is False:
            return None  # a single-platform image at its source too
        was = "is a manifest list" if at_source else "could not be read"
        return f"{stream}: {dst} holds one platform, not the index ({src} {was})"

    problems = [p for p in await asyncio.gather(*(one(*pair) for pair in pairs)) if p]
    if problems:
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     f"imageStreamImportMode is PreserveOriginal, but {len(problems)} samples image(s) on "
                     f"{expected.samples_registry} are one platform: their imports fail or lose platforms",
                     fix="mirror-wizard run " + shell_quote(expected.plan_file)
                         + "  # copies the samples whole (every platform), without a platform filter",
                     items=cut_items(problems))
    return Check(name, title, Side.CLUSTER, Status.PASS,
                 f"imageStreamImportMode is PreserveOriginal and the {len(pairs)} samples images on the mirror keep "
                 "their manifest lists")


async def samples_bootstrap_note(oc: Oc) -> str | None:
    """Why the samples operator is Removed, when it says so itself: it bootstrapped Removed at install
    because registry.redhat.io could not be reached (a disconnected install)."""
    try:
        operator = await oc.get("clusteroperators.config.openshift.io", SAMPLES_OPERATOR)
    except MirrorError:
        return None
    items = as_mapping(operator.get("status")).get("conditions")
    reasons = {as_mapping(c).get("reason") for c in items} if isinstance(items, list) else set()
    if TBR_REASON in reasons:
        return ("it bootstrapped as Removed at install: registry.redhat.io was unreachable (a disconnected "
                "install); the patch sets Managed with samplesRegistry on the mirror")
    return None


async def check_tag_mirror_sets(expected: Expected, oc: Oc) -> Check:
    """An ImageTagMirrorSet (openshift/api config/v1 types_image_tag_mirror_set.go, spec.imageTagMirrors
    ``{source, mirrors}``) alongside the IDMS for every source the plan's images are pulled from by tag."""

    name, title = "tag-mirror-sets", "ImageTagMirrorSet for pulls by tag"
    if not expected.tag_pulls:
        return Check(name, title, Side.CLUSTER, Status.SKIP,
                     "nothing the plan mirrors is pulled by tag through a mirror set (release images by digest, "
                     "samples through samplesRegistry): no ImageTagMirrorSet needed")
    pairs: list[tuple[str, str]] = []
    items = await oc.items("imagetagmirrorsets")
    for item in items:
        for entry in as_mapping(item.get("spec")).get("imageTagMirrors") or []:
            if isinstance(entry, dict) and isinstance(entry.get("source"), str):
                pairs += [(entry["source"], m) for m in entry.get("mirrors") or [] if isinstance(m, str)]
    missing = []
    for source, mirror in expected.tag_pulls:
        found = crio_pull_specs(f"{source}:latest", pairs)
        if not any(spec.rsplit(":", 1)[0] == mirror for spec in found):
            missing.append(f"{source} → {mirror}")
    if missing:
        document = {"apiVersion": "config.openshift.io/v1", "kind": "ImageTagMirrorSet",
                    "metadata": {"name": "mirror-wizard-tags"},
                    "spec": {"imageTagMirrors": [{"mirrors": [m], "source": s} for s, m in expected.tag_pulls]}}
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     f"{len(missing)} source(s) pulled by tag are not sent to the mirror by any ImageTagMirrorSet "
                     f"({len(items)} on the cluster)",
                     fix=f"echo '{json.dumps(document, separators=(',', ':'))}' | oc apply -f -", items=cut_items(missing))
    return Check(name, title, Side.CLUSTER, Status.PASS,
                 f"every source pulled by tag is mirrored ({len(items)} imagetagmirrorsets)")


# -- the OpenShift Update Service ---------------------------------------------------------------


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    items = as_mapping(obj.get("status")).get("conditions")
    return {c["type"]: c for c in items if isinstance(c, dict) and isinstance(c.get("type"), str)} \
        if isinstance(items, list) else {}


def _no_update_service(expected: Expected) -> str | None:
    release = expected.plan.release
    if release is None or not release.graph_image:
        return "the plan keeps no update service (release.graph_image)"
    return None


async def check_update_service_ca(expected: Expected, oc: Oc) -> Check:
    name, title = "update-service-ca", f"CA ConfigMap key {CA_KEY}"
    reason = _no_update_service(expected)
    if reason:
        return Check(name, title, Side.CLUSTER, Status.SKIP, reason)
    spec = as_mapping((await oc.get("image.config.openshift.io", "cluster")).get("spec"))
    cm_name = as_mapping(spec.get("additionalTrustedCA")).get("name")
    ca_file = expected.plan.mirror.ca_file
    set_data = (f"oc set data configmap/{shell_quote(str(cm_name or 'registry-config'))} -n openshift-config "
                f"--from-file={CA_KEY}={shell_quote(ca_file or 'CA.pem')}")
    if not isinstance(cm_name, str) or not cm_name:
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     "image.config has no spec.additionalTrustedCA: the update service operator finds no registry CA",
                     fix="see the cluster trusts the mirror's CA line, then " + set_data)
    data = await _configmap_data(oc, cm_name, "openshift-config")
    if data is None or CA_KEY not in data:
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     f"ConfigMap {cm_name} has no key {CA_KEY}: the update service cannot read the release "
                     "repository on the mirror", fix=set_data)
    if ca_file:
        try:
            ours = {c.fingerprint_sha256 for c in parse_ca_pem(
                read_user_file(ca_file, "CA file", CertificateError, text=True, inside="the PEM file"), ca_file)}
            there = {c.fingerprint_sha256 for c in parse_ca_pem(str(data[CA_KEY]), f"{cm_name} key {CA_KEY}")}
        except CertificateError as exc:
            return Check(name, title, Side.CLUSTER, Status.FAIL, str(exc), fix=set_data)
        if not ours <= there:
            return Check(name, title, Side.CLUSTER, Status.FAIL,
                         f"ConfigMap {cm_name} key {CA_KEY} holds another certificate than {ca_file}", fix=set_data)
    return Check(name, title, Side.CLUSTER, Status.PASS, f"ConfigMap {cm_name} has {CA_KEY}"
                 + (" with the plan's CA" if ca_file else ""))


async def _update_services(oc: Oc) -> list[dict[str, Any]]:
    return await oc.items("updateservices.updateservice.operator.openshift.io", namespace=UPDATE_SERVICE_NAMESPACE)


def _same_image(spec: str, expected: Expected) -> bool:
    release = expected.plan.release
    try:
        ref = parse_reference(spec, default_tag=None)
        ours = parse_reference(release.graph_image or "") if release else None
    except ReferenceFormatError:
        return False
    if ours is None or ref.name != ours.name:
        return False
    if ref.digest:
        return expected.graph_image_digest is None or ref.digest == expected.graph_image_digest
    return ref.tag == ours.tag


async def check_update_service(expected: Expected, oc: Oc) -> tuple[Check, str | None]:
    name, title = "update-service", "UpdateService status"
    reason = _no_update_service(expected)
    if reason:
        return Check(name, title, Side.CLUSTER, Status.SKIP, reason), None
    try:
        services = await _update_services(oc)
    except MirrorError as exc:
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     f"{exc} (is the OpenShift Update Service operator installed?)",
                     fix="install 'OpenShift Update Service' from OperatorHub (mirrored with the operator catalog)"), None
    # written by mirror-wizard release graph-image -o DIR, which the plan does not record
    apply = "oc apply -f DIR/updateservice.yaml  # DIR: where mirror-wizard release graph-image -o wrote it"
    if not services:
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     f"no UpdateService in {UPDATE_SERVICE_NAMESPACE}", fix=apply), None
    releases = expected.instructions.release_image if expected.instructions else None
    releases_repo = releases.rsplit(":", 1)[0] if releases and "@" not in releases else None
    ours = [s for s in services if _same_image(str(as_mapping(s.get("spec")).get("graphDataImage") or ""), expected)]
    if not ours:
        images = ", ".join(str(as_mapping(s.get("spec")).get("graphDataImage")) for s in services)
        graph = expected.plan.release.graph_image if expected.plan.release else ""
        pinned = f" @ {expected.graph_image_digest}" if expected.graph_image_digest else ""
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     f"no UpdateService uses the plan's graph image {graph}{pinned} (they use {images})",
                     fix=apply), None
    service = ours[0]
    service_name = as_mapping(service.get("metadata")).get("name")
    problems: list[str] = []
    spec = as_mapping(service.get("spec"))
    if releases_repo and spec.get("releases") != releases_repo:
        problems.append(f"spec.releases is {spec.get('releases')}, not the mirrored release repository {releases_repo}")
    conditions = _conditions(service)
    for kind in ("ReconcileCompleted", "RegistryCACertFound"):
        condition = conditions.get(kind)
        if condition is None and kind == "RegistryCACertFound":
            continue
        found = condition or {}
        if found.get("status") != "True":
            message = " ".join(str(found.get("message") or found.get("reason") or "").split())[:300]
            problems.append(f"{kind} is {found.get('status', 'missing')}" + (f": {message}" if message else ""))
    uri = as_mapping(service.get("status")).get("policyEngineURI")
    if not isinstance(uri, str) or not uri:
        problems.append("status.policyEngineURI is empty (the route is not admitted yet)")
        uri = None
    if problems:
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     f"UpdateService {service_name}: " + (problems[0] if len(problems) == 1 else
                                                          f"{len(problems)} problems"),
                     fix=f"oc -n {UPDATE_SERVICE_NAMESPACE} get updateservice {service_name} -o yaml  # read "
                         "status.conditions; run verify again once it reconciles",
                     items=problems if len(problems) > 1 else []), uri
    return Check(name, title, Side.CLUSTER, Status.PASS,
                 f"UpdateService {service_name} reconciled, serving {uri}"), uri


async def check_upstream(expected: Expected, oc: Oc, uri: str | None) -> Check:
    name, title = "cluster-upstream", "clusterversion spec.upstream"
    reason = _no_update_service(expected)
    if reason:
        return Check(name, title, Side.CLUSTER, Status.SKIP, reason)
    version = await oc.get("clusterversion", "version")
    upstream = as_mapping(version.get("spec")).get("upstream")
    if uri is None:
        return Check(name, title, Side.CLUSTER, Status.SKIP,
                     f"spec.upstream is {upstream or 'unset'}; the UpdateService serves no URI yet to compare")
    wanted = uri.rstrip("/") + GRAPH_PATH
    patch = json.dumps({"spec": {"upstream": wanted}}, separators=(",", ":"))
    if upstream != wanted:
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     f"spec.upstream is {upstream or 'unset'}, not the update service's {wanted}",
                     fix=f"oc patch clusterversion/version --type=merge --patch '{patch}'")
    return Check(name, title, Side.CLUSTER, Status.PASS, f"the cluster asks {wanted} for updates")


__all__ = [
    "SIGSTORE_GATE",
    "admin_ack_command",
    "check_admin_ack",
    "check_import_mode",
    "check_registry_allowed",
    "check_tag_mirror_sets",
    "check_update_service",
    "check_update_service_ca",
    "check_upstream",
    "samples_bootstrap_note",
]
