"""The adaptive concurrency controller's decisions (core/adaptive.py): pure logic, samples given by
hand, no clocks. The limiter's slots are checked with a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from core.adaptive import AdaptiveLimiter, ConcurrencyController, Decision, transfer_limiter
from core.errors import RegistryUnreachable
from core.registry import RegistryClient, RetryPolicy
from core.tlsconfig import TLSOptions


def test_grows_while_each_connection_adds_throughput_and_stops_at_the_maximum() -> None:
    c = ConcurrencyController(maximum=5, initial=2)
    # 10 MB/s per connection, link wide open: every added connection pays.
    for _ in range(6):
        c.sample(c.limit * 10e6)
    assert c.limit == 5
    assert [d for d, _ in c.history][:3] == [Decision.GROW] * 3
    assert c.history[-1] == (Decision.HOLD, 5)


def test_a_connection_that_adds_nothing_is_taken_back_and_growth_rests() -> None:
    c = ConcurrencyController(maximum=16, initial=2, cooldown=3)
    link = 80e6  # the link saturates at 8 connections of 10 MB/s

    def rate() -> float:
        return min(c.limit * 10e6, link)

    for _ in range(12):
        c.sample(rate())
    decisions = [d for d, _ in c.history]
    assert Decision.REVERT in decisions
    assert c.limit in (8, 9)  # at the knee, never far above it
    first_revert = decisions.index(Decision.REVERT)
    assert c.history[first_revert][1] == 8
    assert decisions[first_revert + 1:first_revert + 4] == [Decision.HOLD] * 3  # resting
    assert max(limit for _, limit in c.history) <= 9


def test_throttling_halves_once_per_rest_and_never_goes_below_the_minimum() -> None:
    c = ConcurrencyController(maximum=8, minimum=2, initial=8, cooldown=1)
    assert c.throttled() == 4
    assert c.throttled() == 4  # the other requests in flight saying the same: no second halving
    c.sample(1e6)  # the rest is over
    assert c.throttled() == 2
    c.sample(1e6)
    assert c.throttled() == 2
    assert c.history[-1][0] == Decision.BACK_OFF


def test_after_a_throttle_growth_resumes_only_after_the_cooldown() -> None:
    c = ConcurrencyController(maximum=8, initial=4, cooldown=2)
    c.throttled()
    assert c.limit == 2
    c.sample(20e6)
    c.sample(20e6)
    assert c.limit == 2  # resting
    c.sample(20e6)
    assert c.limit == 3


def test_a_slow_consumer_takes_one_connection_away_not_one_per_connection() -> None:
    c = ConcurrencyController(maximum=8, initial=6)
    assert c.consumer_slow() == 5
    assert c.history[-1][0] == Decision.EASE
    for _ in range(5):  # every connection finds the window full at once
        c.consumer_slow()
    assert c.limit == 5


def test_unsaturated_intervals_teach_nothing() -> None:
    c = ConcurrencyController(maximum=8, initial=3)
    for _ in range(5):
        c.sample(1e6, saturated=False)
    assert c.limit == 3
    assert {d for d, _ in c.history} == {Decision.HOLD}


def test_the_maximum_is_an_upper_bound_even_for_the_initial_value() -> None:
    c = ConcurrencyController(maximum=3, initial=10)
    assert c.limit == 3
    for _ in range(5):
        c.sample(1e9)
    assert c.limit == 3
    with pytest.raises(ValueError):
        ConcurrencyController(maximum=0)


def test_the_limiter_admits_only_limit_holders_and_samples_per_interval() -> None:
    now = [0.0]
    controller = ConcurrencyController(maximum=4, initial=2)
    limiter = AdaptiveLimiter(controller, interval=1.0, clock=lambda: now[0])

    async def run() -> list[int]:
        await limiter.acquire()
        await limiter.acquire()
        third = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0)
        assert not third.done(), "a third holder waits at limit 2"
        now[0] = 1.0
        limiter.moved(20_000_000)  # an interval closes: first sample, grow to 3
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert third.done(), "the new slot let the waiter in"
        limiter.throttled()  # 3 -> 1: holders keep their slots, new ones wait
        fourth = asyncio.create_task(limiter.acquire())
        for _ in range(3):
            limiter.release()
        await asyncio.sleep(0)
        assert fourth.done() and limiter.in_use == 1
        limiter.release()
        return [limit for _, limit in controller.history]

    assert asyncio.run(run()) == [3, 1]
    assert limiter.peak == 3


def test_an_explicit_limit_is_where_transfers_start_and_halve_when_throttled() -> None:
    from core import adaptive

    class Client:  # any object stands for a registry client
        pass

    client = Client()
    start, maximum = adaptive.transfer_bounds(6)
    assert (start, maximum) == (6, 6), "--max-per-registry given: a hard limit, and the start"
    limiter = adaptive.transfer_limiter(client, None, start=start, maximum=maximum)
    assert limiter.limit == 6 and adaptive.transfer_limiter(client, None, start=6, maximum=6) is limiter
    adaptive.note_throttled(client)
    assert limiter.limit == 3
    adaptive.note_throttled(Client())  # a client without a limiter: nothing to do, no error
    assert limiter.limit == 3


def test_slots_are_granted_first_come_first_served() -> None:
    limiter = AdaptiveLimiter(ConcurrencyController(maximum=1, initial=1))
    order: list[int] = []

    async def holder(n: int) -> None:
        async with limiter:
            order.append(n)
            await asyncio.sleep(0)

    async def run() -> None:
        await asyncio.gather(*(holder(n) for n in range(6)))

    asyncio.run(run())
    assert order == list(range(6))
    assert limiter.peak == 1 and limiter.in_use == 0


def test_the_one_retry_policy_tells_the_registrys_transfer_limit_about_push_back() -> None:
    """429/5xx seen by the client's retry policy (any call: manifests, tokens, blobs) halve that
    registry's adaptive transfer limit; a timeout or a reset says nothing about load and does not."""
    async def run() -> list[Decision]:
        shared = RetryPolicy(attempts=5, base_delay=0.0, max_delay=0.0)
        client = RegistryClient("mirror.example:5000", credential=None, tls=TLSOptions(), retry=shared)
        other = RegistryClient("quay.example", credential=None, tls=TLSOptions(), retry=shared)
        try:
            limiter = transfer_limiter(client, None, start=6, maximum=6)
            untouched = transfer_limiter(other, None, start=6, maximum=6)
            await client.retry.backoff(0, RegistryUnreachable("reset"))
            await client.retry.backoff(0, RegistryUnreachable("timeout", status=408))
            assert limiter.limit == 6
            await client.retry.backoff(0, RegistryUnreachable("slow down", status=429))
            assert limiter.limit == 3 and untouched.limit == 6, "only the registry that pushed back"
            assert shared.on_throttled is None, "the session's policy is not bound to one client"
            return [d for d, _ in limiter.controller.history]
        finally:
            await client.aclose()
            await other.aclose()

    assert asyncio.run(run()) == [Decision.BACK_OFF]
