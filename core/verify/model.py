"""What verify reports: each :class:`Check` (name, side, status, detail, what to fix) and the :class:`Report`
that collects them; the helpers every check shares."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from ..errors import ErrorCode, MirrorError
from ..oc import NotLoggedIn
from ..text import shown

PARALLEL_HEADS = 16
MAX_ITEMS = 200  # a list longer than this is cut (with a count): a report, not a dump


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"  # not checked (no such part in the plan, oc missing, or a manual step)

    @property
    def symbol(self) -> str:
        return {"pass": "✓", "fail": "✗", "skip": "–"}[self.value]


class Side(StrEnum):
    MIRROR = "mirror"
    CLUSTER = "cluster"


# The programs a fix may start with: such a fix is a command to copy; anything else is advice in words.
FIX_COMMANDS = ("oc ", "mirror-wizard ", "skopeo ", "podman ")


@dataclass
class Check:
    """One verdict. ``detail`` is the reason in one line, ``fix`` the exact command(s) to run, ``items``
    one line per failing thing (a missing image, a failed import) when there are several."""

    name: str
    title: str
    side: Side
    status: Status
    detail: str
    fix: str | None = None
    items: list[str] = field(default_factory=list)
    # Why a check could not run, for a front end to decide on (never on the detail's words): e.g.
    # ErrorCode.OC_MISSING when the cluster was not checked because oc is not on PATH.
    code: ErrorCode | None = None

    def __post_init__(self) -> None:
        # detail and items quote cluster objects, registries and files: shown, never obeyed by a terminal
        self.detail = shown(self.detail, one_line=True)
        self.fix = shown(self.fix) if self.fix is not None else None
        self.items = [shown(item, one_line=True) for item in self.items]

    @property
    def failed(self) -> bool:
        return self.status is Status.FAIL

    @property
    def fix_command(self) -> str | None:
        """The fix as a command to copy (its trailing ``# comment`` for a shell user left off), None when
        the fix is advice in words. The checks write their fixes, so the split is theirs to make."""
        if not self.fix or not self.fix.startswith(FIX_COMMANDS):
            return None
        return self.fix.partition("  #")[0].strip()

    @property
    def fix_advice(self) -> str | None:
        """The fix when it is advice in words (not a command), else None."""
        return self.fix if self.fix and not self.fix.startswith(FIX_COMMANDS) else None

    def line(self) -> str:
        text = f"{self.status.symbol} {self.title}: {self.detail}"
        if self.fix:
            text += f" — fix: {self.fix}"
        return text

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["side"] = self.side.value
        data["status"] = self.status.value
        if self.code is None:
            del data["code"]  # the JSON report names a code only where there is one
        else:
            data["code"] = self.code.value
        return data


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every check that was performed passed (– lines do not count)."""
        return not any(c.failed for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [c.as_dict() for c in self.checks]}



def cut_items(items: list[str]) -> list[str]:
    if len(items) <= MAX_ITEMS:
        return items
    return items[:MAX_ITEMS] + [f"… and {len(items) - MAX_ITEMS} more"]



def as_mapping(value: object) -> dict[str, Any]:
    """A JSON object from the cluster, or an empty one when the field is missing or of another type."""
    return value if isinstance(value, dict) else {}


def tool_failure(name: str, title: str, exc: MirrorError) -> Check:
    if isinstance(exc, NotLoggedIn):
        return Check(name, title, Side.CLUSTER, Status.FAIL, str(exc), fix="oc login <API server URL>")
    return Check(name, title, Side.CLUSTER, Status.FAIL, str(exc))


async def guarded(name: str, title: str, step: Callable[[], Awaitable[Check]]) -> Check:
    """A cluster check that cannot finish (oc failing, an unreadable file) is a ✗ line with the reason."""
    try:
        return await step()
    except MirrorError as exc:
        return tool_failure(name, title, exc)
