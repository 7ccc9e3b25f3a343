"""Helpers every pilot test shares: wait for the wizard to settle, read what a widget shows."""

from __future__ import annotations

from typing import Any


async def settle(pilot: Any, rounds: int = 1) -> None:
    """Let the app process what is queued, wait for its workers, and process what they posted; ``rounds``
    times (a worker's message can start another worker: a step read on arrival, then measured)."""
    for _ in range(rounds):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def settle_twice(pilot: Any) -> None:
    await settle(pilot, 2)


async def settle_thrice(pilot: Any) -> None:
    await settle(pilot, 3)


def rendered(app: Any, selector: str) -> str:
    """What the widget ``selector`` on the current screen renders, as text."""
    return str(app.screen.query_one(selector).render())


__all__ = ["rendered", "settle", "settle_thrice", "settle_twice"]
