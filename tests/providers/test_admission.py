"""Fair admission to a model's slots: order, the per-user share, bounded waits."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from roost.core.errors import RateLimited, Unavailable
from roost.providers.runner.admission import Admission


def admission(slots: int = 2, per_user: int = 2, queued: int = 10, wait: float = 5.0) -> Admission:
    return Admission("m", slots, per_user=per_user, max_queued=queued, max_wait=wait)


async def hold(gate: Admission, who: str, release: asyncio.Event, log: list[str]) -> None:
    async with gate.slot(who):
        log.append(who)
        await release.wait()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_requests_beyond_the_slots_wait_in_order() -> None:
    gate, done = admission(slots=2), asyncio.Event()
    log: list[str] = []
    tasks = [asyncio.create_task(hold(gate, f"u{i}", done, log)) for i in range(5)]
    await settle()
    assert log == ["u0", "u1"]
    assert (gate.busy, gate.queued) == (2, 3)
    done.set()
    await asyncio.gather(*tasks)
    assert log == ["u0", "u1", "u2", "u3", "u4"]
    assert (gate.busy, gate.queued) == (0, 0)


async def test_one_user_cannot_hold_every_slot_while_others_wait() -> None:
    gate = admission(slots=2, per_user=1)
    log: list[str] = []
    a_done, b_done = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(hold(gate, "alice", a_done, log))
    await settle()
    second = asyncio.create_task(hold(gate, "alice", a_done, log))  # over her share: waits
    await settle()
    bob = asyncio.create_task(hold(gate, "bob", b_done, log))  # behind her, but goes ahead
    await settle()
    assert log == ["alice", "bob"]
    assert gate.queued == 1
    a_done.set()
    b_done.set()
    await asyncio.gather(first, second, bob)
    assert log == ["alice", "bob", "alice"]


async def test_a_full_queue_is_refused_at_once() -> None:
    gate, done = admission(slots=1, queued=1), asyncio.Event()
    log: list[str] = []
    running = asyncio.create_task(hold(gate, "a", done, log))
    waiting = asyncio.create_task(hold(gate, "b", done, log))
    await settle()
    with pytest.raises(RateLimited) as refused:
        async with gate.slot("c"):
            pass
    assert refused.value.retry_after
    done.set()
    await asyncio.gather(running, waiting)


async def test_a_wait_past_the_bound_is_unavailable_and_leaves_the_queue() -> None:
    gate, done = admission(slots=1, wait=0.1), asyncio.Event()
    log: list[str] = []
    running = asyncio.create_task(hold(gate, "a", done, log))
    await settle()
    with pytest.raises(Unavailable, match="slot_wait_seconds"):
        async with gate.slot("b"):
            pass
    assert gate.queued == 0
    done.set()
    await running
    async with gate.slot("b"):  # and the slot is free again
        assert gate.busy == 1


async def test_a_waiter_that_goes_away_gives_its_place_up() -> None:
    gate, done = admission(slots=1), asyncio.Event()
    log: list[str] = []
    running = asyncio.create_task(hold(gate, "a", done, log))
    gone = asyncio.create_task(hold(gate, "b", done, log))
    after = asyncio.create_task(hold(gate, "c", done, log))
    await settle()
    gone.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await gone
    assert gate.queued == 1
    done.set()
    await asyncio.gather(running, after)
    assert log == ["a", "c"]
    assert gate.busy == 0
