"""``mirror-wizard apply PLAN``: a plan's documents applied to the cluster ``oc`` is logged in to.

The same objects, order, merges and questions as the wizard's Apply (Done step): both call
core.usecases.apply. This module parses the flags, asks on the terminal and words the answers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

from core.errors import ErrorCode, InputError, ToolError
from core.plan import load_plan
from core.usecases import apply as applying
from core.usecases.apply import ClusterFacts, OcProgram, OcStep, Outcome, Proposal, Question

EPILOG = """\
Applies what the wizard's Apply does, in the same order: the ImageDigestMirrorSet (an
ImageContentSourcePolicy before 4.13), the CA ConfigMap merged into what the cluster has (its other keys
kept) with image.config pointed at it, each release's signature ConfigMap, and the samples operator's
Config. oc's own login (its kubeconfig) is used.

  mirror-wizard apply plan.yaml --dry-run   # every object, and the cluster and user it would change
  mirror-wizard apply plan.yaml             # asks first, on the terminal
  mirror-wizard apply plan.yaml --yes       # no question (signature ConfigMaps the cluster has stay)
"""

# Exit codes: 0 applied (or shown, --dry-run), 1 oc failed or the admin said no, 2 refused before asking.
REFUSED = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("apply", help="apply a plan's documents to the cluster oc is logged in to",
                                   description="Apply the mirror sets, the CA, the release signatures and the "
                                               "samples Config of a plan to a cluster with oc, as the wizard's "
                                               "Apply does.",
                                   epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("plan", metavar="PLAN", help="the plan file the wizard saved")
    parser.add_argument("--dry-run", action="store_true",
                        help="show every object and the cluster and user it would change; change nothing")
    parser.add_argument("--yes", action="store_true", help="apply without asking (needed without a terminal)")
    parser.add_argument("--replace-signatures", action="store_true",
                        help="with --yes: also replace release signature ConfigMaps the cluster has already "
                             "(otherwise they are left as is)")
    parser.add_argument("--json", action="store_true", help="print a machine-readable account")
    parser.add_argument("--oc", metavar="PATH", default="oc", help="the oc program (default: oc on PATH)")
    parser.set_defaults(func=apply_command)


def refusal_text(code: ErrorCode, facts: ClusterFacts) -> str:
    """Why nothing is applied, in the command line's words."""
    words = {
        ErrorCode.OC_NO_ANSWER: "oc did not answer (oc whoami): check oc and the connection to the cluster",
        ErrorCode.CLUSTER_NOT_LOGGED_IN: "oc is not logged in to a cluster: run oc login, then this command again",
        ErrorCode.CLUSTER_VERSION_UNKNOWN: "oc cannot read the cluster's version (it decides between an "
                                           "ImageDigestMirrorSet and an ImageContentSourcePolicy): log in "
                                           "with oc login, then run this command again",
        ErrorCode.CLUSTER_NOT_ADMIN: f"{facts.user} may not change the cluster's configuration: oc login as a "
                                     "cluster-admin, then run this command again",
        ErrorCode.APPLY_BEFORE_UPLOAD: "this plan mirrors to removable media: its images are not in the registry "
                                       "yet; upload them on the far side (mirror-wizard run of the far side's "
                                       "plan) and apply there",
    }
    return words.get(code, f"nothing applied ({code})")


def _facts(facts: ClusterFacts) -> dict[str, Any]:
    return {"cluster": facts.server, "user": facts.user,
            "version": f"{facts.version[0]}.{facts.version[1]}" if facts.version else None, "admin": facts.admin}


def _show_steps(proposal: Proposal, steps: list[OcStep], out: TextIO) -> None:
    """The cluster and user, then each object a change sends, as YAML documents (``---`` between them)."""
    print(applying.describe(proposal.facts, steps, proposal.existing, stdin_note=" < (its YAML below)"), file=out)
    for number, step in enumerate(steps, 1):
        if step.stdin:
            print(f"---\n# {number}. {step.what}", file=out)
            out.write(step.stdin if step.stdin.endswith("\n") else step.stdin + "\n")


def ask(question: Question, *, story: bool = True, prompt: Callable[[str], str] | None = None,
        out: TextIO | None = None) -> bool:
    """The question on the terminal: its story (unless shown already), then a y/N line (anything but yes
    means no)."""
    out = out or sys.stderr
    if story:
        print(f"\n{question.body}\n", file=out)
    out.flush()
    try:
        answer = (prompt or input)(f"{question.question} [y/N] ({question.yes} / {question.no}) ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def apply_command(args: argparse.Namespace) -> int:
    plan = load_plan(args.plan)
    code = applying.plan_refusal(plan)
    if code is not None:
        raise InputError(refusal_text(code, ClusterFacts()), code=code)
    if not (args.yes or args.dry_run) and not sys.stdin.isatty():
        # Refused before anything is asked of a registry or the cluster: there is nobody to say yes.
        print("error: apply changes the cluster and asks first, but there is no terminal to ask on: give --yes "
              "(or --dry-run to see the changes)", file=sys.stderr)
        return REFUSED
    if args.replace_signatures and not args.yes:
        raise InputError("--replace-signatures goes with --yes (without it, you are asked)")
    run = OcProgram(args.oc)
    applying.require_oc(run)
    prepared = asyncio.run(applying.prepare_documents(plan))
    if prepared.ca is not None:
        # As in the wizard: a CA that does not verify the mirror's certificate is never applied.
        why = asyncio.run(applying.ca_not_verified(plan))
        if why is not None:
            prepared = applying.without_ca(prepared)
            print(f"note: the CA is left out: it was not verified against {plan.mirror.registry} ({why}); "
                  "check it with mirror-wizard ca check", file=sys.stderr)
    proposal = applying.propose(prepared, run)
    code = proposal.refusal
    if code is not None:
        raise ToolError(refusal_text(code, proposal.facts), code=code)
    report = sys.stderr if args.json else sys.stdout
    if args.dry_run:
        if args.json:
            print(json.dumps({**_facts(proposal.facts), "dry_run": True,
                              "steps": [s.as_dict() for s in proposal.steps],
                              "existing_signatures": proposal.existing}, indent=2))
        else:
            _show_steps(proposal, proposal.steps, report)
            print(f"...\ndry run: {len(proposal.steps)} changes for {proposal.facts.server} as {proposal.facts.user}; "
                  "nothing applied", file=report)
        return 0
    replace = args.replace_signatures
    if not args.yes:
        _show_steps(proposal, proposal.steps, sys.stderr)
        if not ask(proposal.question(), story=False):  # the changes were just shown, with their documents
            print("nothing applied", file=sys.stderr)
            return 1
        second = proposal.replace_question()
        replace = second is not None and ask(second)
    steps = proposal.steps_for(replace_signatures=replace)
    outcome: Outcome = applying.apply(run, steps, proposal.kept_for(replace_signatures=replace))
    if args.json:
        print(json.dumps({**_facts(proposal.facts), "dry_run": False, "steps": [s.as_dict() for s in steps],
                          **outcome.as_dict()}, indent=2))
    else:
        for line in outcome.lines:
            print(line)
        print("applied: nodes take the new mirror and CA settings one pool at a time; watch with oc get mcp"
              if outcome.ok else "oc failed: nothing after the failed step was applied", file=report)
    return 0 if outcome.ok else 1


__all__ = ["apply_command", "ask", "refusal_text", "register"]
