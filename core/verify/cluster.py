"""Cluster-side checks, through the admin's ``oc`` (read-only): trust, mirror sets, the samples
operator's Config and conditions, the imports in ``openshift``, the machine config pools, and the
node-side command that confirms pulls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ..ca import ca_manifests, configmap_key, parse_ca_pem
from ..errors import CertificateError, ErrorCode, MirrorError, ToolError
from ..mirror_sets import crio_pull_specs
from ..oc import Oc, ResourceMissing
from ..registry import RegistrySession
from ..runbook import crio_pull_command
from ..samples import CONFIG_RESOURCE, MANAGED_LABEL
from ..text import plural, shell_quote
from ..userfiles import read_user_file
from .expected import Expected
from .lifecycle import (
    check_admin_ack,
    check_import_mode,
    check_registry_allowed,
    check_tag_mirror_sets,
    check_update_service,
    check_update_service_ca,
    check_upstream,
    samples_bootstrap_note,
)
from .model import Check, Side, Status, as_mapping, cut_items, guarded, tool_failure


def _covered_by(source: str, wanted_mirror: str, cluster_sets: list[tuple[str, str]]) -> bool:
    """Does the cluster send pulls from ``source`` to ``wanted_mirror`` (longest prefix, as CRI-O)?"""
    digest = "@sha256:" + "0" * 64
    return any(spec.rsplit("@", 1)[0] == wanted_mirror for spec in crio_pull_specs(source + digest, cluster_sets))


# -- cluster side -------------------------------------------------------------------------------------


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    status = obj.get("status")
    items = status.get("conditions") if isinstance(status, dict) else None
    out: dict[str, dict[str, Any]] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("type"), str):
            out[item["type"]] = item
    return out


def _text(value: Any, limit: int = 500) -> str:
    """A string from the cluster, on one line and bounded (it is printed to the admin)."""
    text = " ".join(str(value or "").split())
    return text if len(text) <= limit else text[:limit] + "…"


async def check_trust(expected: Expected, oc: Oc) -> Check:
    title = "cluster trusts the mirror's CA"
    name = "cluster-trust"
    plan = expected.plan
    if not plan.mirror.ca_file:
        return Check(name, title, Side.CLUSTER, Status.SKIP, "the plan names no CA file for the mirror")

    pem = read_user_file(plan.mirror.ca_file, "CA file", CertificateError, text=True, inside="the PEM file")
    manifests = ca_manifests(plan.mirror.registry, pem, ca_path=plan.mirror.ca_file)
    create, patch = manifests.commands
    key = configmap_key(plan.mirror.registry)
    image = await oc.get("image.config.openshift.io", "cluster")
    spec = as_mapping(image.get("spec"))
    trusted = spec.get("additionalTrustedCA")
    cm_name = trusted.get("name") if isinstance(trusted, dict) else None
    if not isinstance(cm_name, str) or not cm_name:
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     "image.config.openshift.io/cluster has no spec.additionalTrustedCA", fix=f"{create} && {patch}")
    try:
        configmap = await oc.get("configmap", cm_name, namespace="openshift-config")
    except ResourceMissing:
        try:  # the ConfigMap the cluster already names, so only the missing part is made
            create = ca_manifests(plan.mirror.registry, pem, name=cm_name, ca_path=plan.mirror.ca_file).commands[0]
        except MirrorError:
            pass
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     f"additionalTrustedCA names ConfigMap {_text(cm_name, 253)}, which does not exist in "
                     "openshift-config", fix=create)
    data = as_mapping(configmap.get("data"))
    set_data = (f"oc set data configmap/{shell_quote(cm_name)} -n openshift-config "
                f"--from-file={key}={shell_quote(plan.mirror.ca_file)}")
    if key not in data:
        keys = ", ".join(sorted(map(str, data))) or "no keys"
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     f"ConfigMap {cm_name} has {keys} but not {key} (host..port, the key the cluster looks up)",
                     fix=set_data)
    try:
        on_cluster = {c.fingerprint_sha256 for c in parse_ca_pem(str(data[key]), f"ConfigMap {cm_name} key {key}")}
    except CertificateError as exc:
        return Check(name, title, Side.CLUSTER, Status.FAIL, str(exc), fix=set_data)
    ours = {c.fingerprint_sha256 for c in parse_ca_pem(pem, plan.mirror.ca_file)}
    if not ours <= on_cluster:
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     f"ConfigMap {cm_name} key {key} holds another certificate than {plan.mirror.ca_file}", fix=set_data)
    return Check(name, title, Side.CLUSTER, Status.PASS,
                 f"additionalTrustedCA → ConfigMap {cm_name}, key {key} holds the plan's CA")


async def check_mirror_sets(expected: Expected, oc: Oc, version: str | None) -> Check:
    title = "cluster mirror sets cover the release"
    name = "cluster-mirror-sets"
    if expected.plan.release is None:
        return Check(name, title, Side.CLUSTER, Status.SKIP, "the plan mirrors no release")
    if expected.instructions is None:
        return Check(name, title, Side.CLUSTER, Status.FAIL if expected.release_error else Status.SKIP,
                     expected.release_error or "the plan names no release.target")
    pairs: list[tuple[str, str]] = []
    kinds: list[str] = []
    for kind, key in (("imagedigestmirrorsets", "imageDigestMirrors"),
                      ("imagecontentsourcepolicies", "repositoryDigestMirrors")):
        items = await oc.items(kind)
        if items:
            kinds.append(f"{len(items)} {kind}")
        for item in items:
            spec = as_mapping(item.get("spec"))
            for entry in spec.get(key) or []:
                if not isinstance(entry, dict) or not isinstance(entry.get("source"), str):
                    continue
                for mirror in entry.get("mirrors") or []:
                    if isinstance(mirror, str):
                        pairs.append((entry["source"], mirror))
    uncovered = []
    for source, mirrors in expected.release_sources():
        if not any(_covered_by(source, m, pairs) for m in mirrors):
            uncovered.append(f"{source} → {', '.join(mirrors)}")
    old = _older_than(version, (4, 13))
    out = Path(expected.plan.output_dir)
    fix = f"oc apply -f {shell_quote(str(out / ('imageContentSourcePolicy.yaml' if old else 'imageDigestMirrorSet.yaml')))}"
    if uncovered:
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     f"{plural(len(uncovered), 'release source')} not sent to the mirror by any "
                     f"{'ImageContentSourcePolicy' if old else 'ImageDigestMirrorSet or ImageContentSourcePolicy'}",
                     fix=fix, items=cut_items(uncovered))
    return Check(name, title, Side.CLUSTER, Status.PASS,
                 f"every release source is mirrored ({', '.join(kinds)})")


def _older_than(version: str | None, bound: tuple[int, int]) -> bool:
    if not version:
        return False
    parts = version.split(".")
    try:
        return (int(parts[0]), int(parts[1])) < bound
    except (IndexError, ValueError):
        return False


async def check_samples_config(expected: Expected, oc: Oc) -> tuple[Check, dict[str, Any] | None]:
    title = "samples operator Config"
    name = "samples-config"
    if expected.plan.samples is None:
        return Check(name, title, Side.CLUSTER, Status.SKIP, "the plan mirrors no image streams"), None
    if expected.samples is None:
        return Check(name, title, Side.CLUSTER, Status.FAIL, expected.samples_error or "no streams"), None
    fix = expected.samples.commands[1]
    try:
        config = await oc.get(CONFIG_RESOURCE)
    except ResourceMissing:
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     f"{CONFIG_RESOURCE} does not exist (the openshift-samples capability is disabled?)",
                     fix="oc get clusterversion version -o jsonpath='{.status.capabilities.enabledCapabilities}'"), None
    spec = as_mapping(config.get("spec"))
    problems: list[str] = []
    state = spec.get("managementState")
    if state != "Managed":
        problem = f"managementState is {_text(state) or 'unset'}, not Managed (no samples are installed)"
        why = await samples_bootstrap_note(oc) if state == "Removed" else None
        problems.append(f"{problem}; {why}" if why else problem)
    registry = spec.get("samplesRegistry")
    if registry != expected.samples.mirror:
        problems.append(f"samplesRegistry is {_text(registry) or 'unset'}, not {expected.samples.mirror}")
    skipped = spec.get("skippedImagestreams")
    skipped_set = {s for s in skipped if isinstance(s, str)} if isinstance(skipped, list) else set()
    wanted = set(expected.samples.skipped)
    if wanted - skipped_set:
        problems.append("not skipped although not mirrored: " + ", ".join(sorted(wanted - skipped_set)))
    mirrored = skipped_set & set(expected.samples.included)
    if mirrored:
        problems.append("skipped although mirrored: " + ", ".join(sorted(mirrored)))
    if problems:
        return Check(name, title, Side.CLUSTER, Status.FAIL, problems[0] if len(problems) == 1 else
                     f"{len(problems)} settings differ from the plan", fix=fix,
                     items=problems if len(problems) > 1 else []), config
    return Check(name, title, Side.CLUSTER, Status.PASS,
                 f"Managed, samplesRegistry {registry}, {plural(len(skipped_set), 'skipped stream')} as planned"), config


def check_samples_status(expected: Expected, config: dict[str, Any] | None) -> Check:
    title = "samples operator status"
    name = "samples-status"
    if config is None:
        return Check(name, title, Side.CLUSTER, Status.SKIP, "no samples operator Config to read")
    conditions = _conditions(config)
    problems: list[str] = []
    healthy = {"ConfigurationValid": "True", "SamplesExist": "True", "ImportImageErrorsExist": "False",
               "ImageChangesInProgress": "False", "RemovePending": "False"}
    for kind, good in healthy.items():
        condition = conditions.get(kind)
        status = condition.get("status") if condition else None
        if condition is None and kind in ("ImportImageErrorsExist", "ImageChangesInProgress", "RemovePending"):
            continue  # absent means not raised
        if status != good:
            message = _text((condition or {}).get("message")) or _text((condition or {}).get("reason"))
            problems.append(f"{kind} is {status or 'missing'}" + (f": {message}" if message else ""))
    status_block = as_mapping(config.get("status"))
    if status_block.get("managementState") not in (None, "Managed"):
        problems.append(f"status.managementState is {_text(status_block.get('managementState'))}")
    if problems:
        return Check(name, title, Side.CLUSTER, Status.FAIL, problems[0] if len(problems) == 1 else
                     f"{len(problems)} conditions are not healthy",
                     fix="oc get configs.samples.operator.openshift.io/cluster -o yaml  # read status.conditions; "
                         "run verify again once imports settle",
                     items=problems if len(problems) > 1 else [])
    version = _text(status_block.get("version"))
    return Check(name, title, Side.CLUSTER, Status.PASS,
                 f"samples installed{' at ' + version if version else ''}, no import errors, nothing in progress")


def import_failure_cause(reason: str, message: str, mirror: str) -> str:
    """The likely cause of a failed import, from the image importer's reason and message."""
    text = message.lower()
    if mirror and mirror.lower() not in text and ("/" in text):
        return "imports from elsewhere than the mirror: samplesRegistry is not applied to this stream yet"
    if "x509" in text or "certificate" in text:
        return "CA: the cluster does not trust the mirror's certificate (registry-config, additionalTrustedCA)"
    if reason.lower() == "unauthorized" or "may not have access" in text or "credentials" in text \
            or "incorrect username" in text or "unauthorized" in text:
        return "auth: add the mirror's login to the global pull secret (openshift-config/pull-secret)"
    if reason.lower() == "notfound" or "not found" in text or "manifest unknown" in text:
        if "name unknown" in text or "repository" in text:
            return "missing image: the repository is not on the mirror; mirror it or skip the stream"
        return "missing tag: this tag is not on the mirror; mirror it or skip the stream"
    if "no such host" in text or "connection refused" in text or "i/o timeout" in text or "timeout" in text:
        return "network: the cluster cannot reach the mirror (DNS, firewall, proxy)"
    if "http response to https client" in text or "http only" in text:
        return "the mirror serves plain HTTP; serve it over TLS"
    return "see the message"


async def check_imports(expected: Expected, oc: Oc, config: dict[str, Any] | None) -> Check:
    title = "image stream imports in openshift"
    name = "samples-imports"
    if expected.plan.samples is None:
        return Check(name, title, Side.CLUSTER, Status.SKIP, "the plan mirrors no image streams")
    skipped: set[str] = set(expected.samples.skipped) if expected.samples else set()
    spec = (config or {}).get("spec")
    if isinstance(spec, dict) and isinstance(spec.get("skippedImagestreams"), list):
        skipped = {s for s in spec["skippedImagestreams"] if isinstance(s, str)}
    streams = await oc.items("imagestreams", namespace="openshift")
    failures: list[str] = []
    checked = 0
    seen: set[str] = set()
    for stream in streams:
        metadata = as_mapping(stream.get("metadata"))
        stream_name = metadata.get("name")
        labels = as_mapping(metadata.get("labels"))
        if not isinstance(stream_name, str) or MANAGED_LABEL not in labels or stream_name in skipped:
            continue
        checked += 1
        seen.add(stream_name)
        status = as_mapping(stream.get("status"))
        for tag in status.get("tags") or []:
            if not isinstance(tag, dict):
                continue
            for condition in tag.get("conditions") or []:
                if isinstance(condition, dict) and condition.get("type") == "ImportSuccess" \
                        and condition.get("status") == "False":
                    message = _text(condition.get("message"), 300)
                    cause = import_failure_cause(str(condition.get("reason") or ""), message,
                                                 expected.samples_registry)
                    failures.append(f"{stream_name}:{_text(tag.get('tag'), 128)}: {message} — likely cause: {cause}")
    missing = sorted(set(expected.samples.included) - seen) if expected.samples else []
    if failures:
        names = sorted({f.split(":", 1)[0] for f in failures})
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     f"{plural(len(failures), 'tag')} of {plural(len(names), 'stream')} failed to import",
                     fix=" && ".join(f"oc import-image {shell_quote(n)} --all -n openshift" for n in names[:5])
                         + "  # once the cause is fixed (the operator also retries every 15 minutes)",
                     items=cut_items(failures))
    if missing:
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     f"{len(missing)} mirrored stream(s) do not exist in openshift yet: {', '.join(missing[:10])}",
                     fix="oc get configs.samples.operator.openshift.io/cluster -o yaml  # is it Managed? then wait "
                         "and run verify again")
    return Check(name, title, Side.CLUSTER, Status.PASS, f"all {checked} managed, not skipped streams imported")


async def check_pools(oc: Oc) -> Check:
    title = "machine config pools"
    name = "machine-config-pools"
    pools = await oc.items("machineconfigpools")
    if not pools:
        return Check(name, title, Side.CLUSTER, Status.SKIP, "no machine config pools visible")
    problems: list[str] = []
    for pool in pools:
        pool_name = _text((pool.get("metadata") or {}).get("name") if isinstance(pool.get("metadata"), dict) else "?")
        conditions = _conditions(pool)
        status = as_mapping(pool.get("status"))
        total, updated = status.get("machineCount"), status.get("updatedMachineCount")
        counts = f"{updated}/{total} updated" if isinstance(total, int) and isinstance(updated, int) else "counts unknown"
        if (conditions.get("Degraded") or {}).get("status") == "True":
            message = _text((conditions["Degraded"]).get("message"), 300)
            problems.append(f"{pool_name}: Degraded ({counts}){': ' + message if message else ''}")
        elif (conditions.get("Updating") or {}).get("status") == "True" or \
                (conditions.get("Updated") or {}).get("status") != "True" or \
                (isinstance(total, int) and updated != total):
            message = _text((conditions.get("Updating") or {}).get("message"), 300)
            problems.append(f"{pool_name}: still rolling out ({counts}){': ' + message if message else ''}")
    if problems:
        return Check(name, title, Side.CLUSTER, Status.FAIL,
                     f"{len(problems)} of {len(pools)} pools have not finished rolling out",
                     fix="oc get machineconfigpools -w  # wait until UPDATED is True everywhere, then run verify again",
                     items=problems)
    return Check(name, title, Side.CLUSTER, Status.PASS, f"all {len(pools)} pools updated")


async def node_command(expected: Expected, oc: Oc) -> Check:
    """Not a check this program performs: the command that shows, on a node, where CRI-O really pulled from
    (``crictl images`` shows the source names even for mirrored images; CRI-O logs the location it used)."""
    node = "<node>"
    try:
        nodes = await oc.items("nodes")
    except ToolError:
        nodes = []
    names = [n.get("metadata", {}).get("name") for n in nodes if isinstance(n.get("metadata"), dict)]
    workers = [n.get("metadata", {}).get("name") for n in nodes if isinstance(n.get("metadata"), dict)
               and "node-role.kubernetes.io/worker" in (n["metadata"].get("labels") or {})]
    chosen = next((n for n in workers + names if isinstance(n, str) and n), None)
    if chosen:
        node = chosen
    host = expected.mirror
    command = crio_pull_command(node, host)
    return Check("node-pull-source", "pulls come from the mirror (on a node)", Side.CLUSTER, Status.SKIP,
                 f"run by hand: CRI-O logs \"Trying to access\" with the location it pulled from; expect {host}",
                 fix=command)


async def cluster_checks(expected: Expected, oc: Oc | None = None,
                         session: RegistrySession | None = None) -> AsyncIterator[Check]:
    """``session``: the mirror's, still open (the import mode check reads the samples manifests)."""
    oc = oc or Oc()
    title = "cluster access"
    if oc.path() is None:
        yield Check("cluster-access", title, Side.CLUSTER, Status.SKIP,
                    "cluster not checked: oc is not on PATH",
                    fix="install the OpenShift CLI (oc), log in, and run verify again with --cluster",
                    code=ErrorCode.OC_MISSING)
        return
    try:
        user, server = await oc.whoami()
    except ToolError as exc:
        yield Check("cluster-access", title, Side.CLUSTER, Status.SKIP, f"cluster not checked: {exc}",
                    fix="oc login <API server URL>  # then run verify again with --cluster")
        return
    version = await oc.version()
    yield Check("cluster-access", title, Side.CLUSTER, Status.PASS,
                f"logged in as {_text(user, 100)}" + (f" to {_text(server, 200)}" if server else "")
                + (f", OpenShift {_text(version, 40)}" if version else ""))
    yield await guarded("cluster-trust", "cluster trusts the mirror's CA", lambda: check_trust(expected, oc))
    yield await guarded("cluster-mirror-sets", "cluster mirror sets cover the release",
                       lambda: check_mirror_sets(expected, oc, version))
    config: dict[str, Any] | None = None
    try:
        check, config = await check_samples_config(expected, oc)
    except ToolError as exc:
        check = tool_failure("samples-config", "samples operator Config", exc)
    yield check
    yield check_samples_status(expected, config)
    yield await guarded("samples-imports", "image stream imports in openshift",
                       lambda: check_imports(expected, oc, config))
    yield await guarded("samples-registry-allowed", "image.config allows samplesRegistry",
                        lambda: check_registry_allowed(expected, oc))
    yield await guarded("samples-import-mode", "samples mirror fits imageStreamImportMode",
                        lambda: check_import_mode(expected, oc, session))
    yield await guarded("tag-mirror-sets", "ImageTagMirrorSet for pulls by tag",
                        lambda: check_tag_mirror_sets(expected, oc))
    yield await guarded("admin-ack-sigstore", "4.20 → 4.21 admin-ack (Sigstore through mirrors)",
                        lambda: check_admin_ack(expected, oc, version))
    yield await guarded("update-service-ca", "CA ConfigMap key updateservice-registry",
                        lambda: check_update_service_ca(expected, oc))
    uri: str | None = None
    try:
        check, uri = await check_update_service(expected, oc)
    except MirrorError as exc:
        check = tool_failure("update-service", "UpdateService status", exc)
    yield check
    yield await guarded("cluster-upstream", "clusterversion spec.upstream", lambda: check_upstream(expected, oc, uri))
    yield await guarded("machine-config-pools", "machine config pools", lambda: check_pools(oc))
    yield await node_command(expected, oc)
