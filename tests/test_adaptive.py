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


def test_fast_start_grows_by_half_the_limit_and_goes_back_to_the_last_limit_that_paid() -> None:
    """A far source's copy may take seconds: growing one connection per sample would fill the link only
    at the end. Fast start adds half the limit while throughput follows; the first step that does not
    pay is undone whole (back to the limit before it), and growth goes on one at a time."""
    c = ConcurrencyController(maximum=16, initial=6, fast_start=True, cooldown=2)
    link = 80e6

    def rate() -> float:
        return min(c.limit * 10e6, link)  # 10 MB/s per connection, 80 MB/s for the link

    limits = []
    for _ in range(7):
        c.sample(rate())
        limits.append(c.limit)
    # 6 → 9 (+3) → 13 (+4); at 13 the link gives 80 MB/s, no better than 9's 80: back to 9, rest 2,
    # then one at a time (10 pays nothing over 9 either, and is taken back).
    assert limits[:3] == [9, 13, 9]
    assert [d for d, _ in c.history][:3] == [Decision.GROW, Decision.GROW, Decision.REVERT]
    assert c.fast_start is False
    assert max(limits[3:]) <= 10, "after the first step that did not pay, growth is one at a time"


def test_fast_start_never_passes_the_maximum() -> None:
    c = ConcurrencyController(maximum=8, initial=6, fast_start=True)
    c.sample(60e6)
    assert c.limit == 8
    c.sample(80e6)
    assert c.limit == 8 and c.history[-1] == (Decision.HOLD, 8)


def test_without_an_explicit_limit_transfers_start_at_6_and_may_grow_to_16() -> None:
    from core import adaptive

    assert adaptive.transfer_bounds(None) == (6, 16)
    assert adaptive.transfer_bounds(3) == (3, 3)

    class Client:
        pass

    destination, source = Client(), Client()
    limiter = adaptive.transfer_limiter(destination, source, start=6, maximum=16)
    assert limiter.limit == 6 and limiter.controller.maximum == 16 and limiter.controller.fast_start
    for _ in range(5):
        limiter.controller.sample(limiter.limit * 10e6)  # every connection pays: up to the ceiling
    assert limiter.limit == 16
    fixed = adaptive.transfer_limiter(Client(), source, start=4, maximum=4)
    assert not fixed.controller.fast_start and fixed.controller.maximum == 4


def test_one_limiter_per_registry_pair_and_either_end_pushing_back_halves_it() -> None:
    """Both ends of a transfer see the same bytes: one controller decides for the pair (one per end
    would each take the other's growth for its own). A 429/5xx from either registry halves it; a
    pair without that registry is untouched; a directory end (None) makes a pair of its own."""
    from core import adaptive

    class Client:
        pass

    mirror, quay, redhat = Client(), Client(), Client()
    pair = adaptive.transfer_limiter(mirror, quay, start=8, maximum=16)
    assert adaptive.transfer_limiter(mirror, quay, start=8, maximum=16) is pair
    other = adaptive.transfer_limiter(mirror, redhat, start=8, maximum=16)
    to_dir = adaptive.transfer_limiter(None, quay, start=8, maximum=16)
    from_dir = adaptive.transfer_limiter(quay, None, start=8, maximum=16)
    assert len({id(pair), id(other), id(to_dir), id(from_dir)}) == 4
    adaptive.note_throttled(quay)  # the source pushed back
    assert (pair.limit, other.limit, to_dir.limit, from_dir.limit) == (4, 8, 4, 4)
    adaptive.note_throttled(redhat)
    assert other.limit == 4 and pair.limit == 4, "one decrease per rest: the pair already backed off"
    adaptive.note_throttled(None)  # no client: nothing to do
    with pytest.raises(ValueError):
        adaptive.transfer_limiter(None, None, start=1, maximum=1)


def test_a_blob_already_under_way_takes_its_next_connection_ahead_of_the_blobs_waiting() -> None:
    """Largest blobs start first; another ranged part of one of them goes before the small blobs
    still queued (acquire(first=True)), so the biggest blob does not end the copy on one connection."""
    limiter = AdaptiveLimiter(ConcurrencyController(maximum=1, initial=1))
    order: list[str] = []

    async def holder(name: str, first: bool = False) -> None:
        await limiter.acquire(first=first)
        order.append(name)
        await asyncio.sleep(0)
        limiter.release()

    async def run() -> None:
        await limiter.acquire()
        waiting = [asyncio.create_task(holder(f"small{n}")) for n in range(3)]
        await asyncio.sleep(0)
        part = asyncio.create_task(holder("part", first=True))
        await asyncio.sleep(0)
        limiter.release()
        await asyncio.gather(*waiting, part)

    asyncio.run(run())
    assert order == ["part", "small0", "small1", "small2"]


def test_small_blobs_run_beside_the_adaptive_limit_up_to_the_maximum() -> None:
    """A config or a small layer costs round trips, not bandwidth: it neither waits behind the big
    blobs for a bandwidth slot nor takes one from them, and together they stay within the maximum."""
    limiter = AdaptiveLimiter(ConcurrencyController(maximum=4, initial=2), idle_on_release=True)
    granted: list[str] = []

    async def holder(name: str, small: bool, gate: asyncio.Event) -> None:
        await limiter.acquire(small=small)
        granted.append(name)
        await gate.wait()
        limiter.release(small=small)

    async def run() -> None:
        gates = {name: asyncio.Event() for name in ("big1", "big2", "big3", "s1", "s2", "s3")}
        tasks = [asyncio.create_task(holder(name, name.startswith("s"), gates[name]))
                 for name in ("big1", "big2", "big3", "s1", "s2", "s3")]
        await asyncio.sleep(0)
        # big3 waits for a bandwidth slot (limit 2); s1 and s2 go beside it; s3 would pass the maximum.
        assert granted == ["big1", "big2", "s1", "s2"]
        assert (limiter.in_use, limiter.beside, limiter.bulk_in_use) == (4, 2, 2)
        gates["s1"].set()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert granted[-1] == "s3", "a small slot freed goes to the small blob, not past the limit to big3"
        gates["big1"].set()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert granted[-1] == "big3"
        for gate in gates.values():
            gate.set()
        await asyncio.gather(*tasks)

    asyncio.run(run())
    assert limiter.in_use == 0 and limiter.beside == 0 and limiter.peak == 4


def test_with_an_explicit_limit_small_blobs_share_it() -> None:
    """--max-per-registry 2: the limit is the maximum, so a small blob waits like any other."""
    limiter = AdaptiveLimiter(ConcurrencyController(maximum=2, initial=2), idle_on_release=True)

    async def run() -> bool:
        await limiter.acquire()
        await limiter.acquire(small=True)
        small = asyncio.create_task(limiter.acquire(small=True))
        await asyncio.sleep(0)
        waited = not small.done()
        limiter.release(small=True)
        await small
        return waited

    assert asyncio.run(run()) is True
    assert limiter.peak == 2
