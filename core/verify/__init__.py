"""Prove that a plan's mirror and the cluster are ready, instead of hoping: ``mirror-wizard verify``.

Mirror side (always; HEAD and GET only, pull scope only):

* every release image the cluster pulls is on the mirror **by digest**, found the way CRI-O finds it
  (the longest matching source prefix of the plan's mirror sets rewritten to its mirror), and the
  release's tag on the mirror names the release digest;
* every image stream tag the plan keeps is on ``samplesRegistry`` **by tag** after the samples operator's
  own host rewrite, with the source's digest when the source can be reached;
* the streams left out are exactly the ones in ``skippedImagestreams``;
* the mirror's certificate verifies with the plan's CA, with a SAN for the host the cluster uses;
* (core.verify.keep) every image pulled by digest is kept by a tag, the Sigstore ``.sig`` tags of a 4.21+
  release image and 4.22+ components are there, and the update service's graph-data image.

Cluster side (``cluster=True``, through the admin's ``oc``, read-only): trust (image.config +
registry-config ConfigMap), mirror sets (IDMS / ICSP), the samples operator's Config and conditions,
the imports in ``openshift``, machine config pool roll-out, and the node-side command to confirm pulls;
(core.verify.lifecycle) image.config's registry lists and import mode, an ImageTagMirrorSet where needed,
the 4.20 → 4.21 admin-ack, and the OpenShift Update Service.

:func:`run_checks` is an async generator yielding each :class:`Check` as it completes (mirror side
first), so a screen can show them one by one; :func:`verify` collects them into a :class:`Report`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

from ..authfile import AuthFile
from ..errors import Cancelled
from ..oc import Oc
from ..plan import Plan
from .cluster import cluster_checks, import_failure_cause
from .expected import Expected, expected_from_plan, load_samples, open_session
from .mirror import crio_rewrite, mirror_checks
from .model import Check, Report, Side, Status


async def run_checks(plan: Plan, *, cluster: bool = False, oc: Oc | None = None,
                     plan_file: str = "PLAN", auth: AuthFile | None = None) -> AsyncIterator[Check]:
    """Every check, each yielded as soon as it is known: the mirror side first, then (``cluster``) the
    cluster side through ``oc``. Nothing is written anywhere. ``auth``: see :func:`open_session`."""
    async with open_session(plan, auth=auth) as session:
        expected = await expected_from_plan(plan, session, plan_file)
        async for check in mirror_checks(expected, session):
            yield check
        if cluster:  # the session stays open: the import mode check reads the samples manifests
            async for check in cluster_checks(expected, oc, session):
                yield check


async def verify(plan: Plan, *, cluster: bool = False, oc: Oc | None = None, plan_file: str = "PLAN",
                 on_check: Callable[[Check], None] | None = None, cancel: asyncio.Event | None = None) -> Report:
    """Every check into one Report; ``on_check`` sees each as it completes; ``cancel`` stops between checks."""
    report = Report()
    async for check in run_checks(plan, cluster=cluster, oc=oc, plan_file=plan_file):
        report.checks.append(check)
        if on_check is not None:
            on_check(check)
        if cancel is not None and cancel.is_set():
            raise Cancelled("verify cancelled; nothing was changed")
    return report


def report_json(report: Report) -> str:
    return json.dumps(report.as_dict(), indent=2, ensure_ascii=False)


__all__ = [
    "Check",
    "Expected",
    "Report",
    "Side",
    "Status",
    "cluster_checks",
    "crio_rewrite",
    "expected_from_plan",
    "import_failure_cause",
    "load_samples",
    "mirror_checks",
    "open_session",
    "report_json",
    "run_checks",
    "verify",
]
