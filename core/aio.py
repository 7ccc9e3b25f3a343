"""asyncio helpers the standard library lacks in the shape we need."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any


async def gather_or_cancel(*awaitables: Awaitable[Any]) -> list[Any]:
    """Run side by side; all results in order. The first failure cancels the others, waits for them
    and is raised as itself, never wrapped: asyncio.gather would leave the others running, and a
    TaskGroup would turn a one-line MirrorError into an ExceptionGroup the front ends do not expect."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
