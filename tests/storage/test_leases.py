"""LeaseRepository, and inbox claims that last as long as the claimer holds a lease.

Expiry is set directly (a negative lifetime is a lease that already ran out) instead of
waiting for a clock.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from roost.core.clock import utcnow
from roost.core.records import Conversation, User
from roost.storage import ConversationRepository, Database
from roost.storage.inbox import DELIVERING, QUEUED, InboxRepository
from roost.storage.leases import LeaseRepository


@pytest.fixture
def leases(db: Database) -> LeaseRepository:
    return LeaseRepository(db)


@pytest.fixture
def inbox(db: Database) -> InboxRepository:
    return InboxRepository(db)


@pytest.fixture
async def convo(conversations: ConversationRepository, alice: User) -> Conversation:
    return await conversations.create(alice.id, "s1", title="t")


async def test_a_lease_has_one_holder_until_it_expires(leases: LeaseRepository) -> None:
    assert await leases.acquire("conversation:1", "a#1", 30)
    assert await leases.holder("conversation:1") == "a#1"
    assert not await leases.acquire("conversation:1", "b#1", 30)  # a's is live
    assert await leases.acquire("conversation:1", "a#1", 30)  # the holder may take it again
    assert await leases.acquire("conversation:2", "b#1", 30)  # names are independent
    await leases.release("conversation:1", "b#1")  # not b's to release: nothing happens
    assert await leases.holder("conversation:1") == "a#1"
    await leases.release("conversation:1", "a#1")
    assert await leases.holder("conversation:1") is None
    assert await leases.acquire("conversation:1", "b#1", 30)


async def test_an_expired_lease_is_taken_over(leases: LeaseRepository) -> None:
    assert await leases.acquire("agent:7", "dead#1", -1)  # ran out a second ago
    assert await leases.holder("agent:7") is None
    assert await leases.acquire("agent:7", "alive#1", 30)
    assert await leases.holder("agent:7") == "alive#1"
    # The late holder neither renews nor releases what it lost.
    assert await leases.renew("dead#1", ["agent:7"], 30) == 0
    await leases.release("agent:7", "dead#1")
    assert await leases.holder("agent:7") == "alive#1"


async def test_renew_extends_only_the_holders_named_leases(leases: LeaseRepository) -> None:
    await leases.acquire("x", "a#1", -1)
    await leases.acquire("y", "a#1", -1)
    assert await leases.renew("a#1", ["x", "z"], 30) == 1
    assert await leases.holder("x") == "a#1"
    assert await leases.holder("y") is None
    assert await leases.renew("a#1", [], 30) == 0


async def test_expire_at_and_sweep(leases: LeaseRepository) -> None:
    await leases.acquire("slot", "a#1", 30)
    await leases.expire_at("slot", "a#1", utcnow() - timedelta(days=2))
    assert await leases.holder("slot") is None
    await leases.acquire("fresh", "a#1", -1)
    assert await leases.sweep(timedelta(days=1)) == 1  # only the long-expired one
    assert await leases.acquire("fresh", "b#1", 30)


async def test_forget_expires_an_earlier_run_of_the_same_replica(leases: LeaseRepository) -> None:
    await leases.acquire("one", "host:8000#old", 30)
    await leases.acquire("two", "host:8000#new", 30)
    await leases.acquire("three", "host:80001#other", 30)  # a prefix, not the same replica
    await leases.acquire("four", "host_8000#other", 30)  # LIKE wildcards are escaped
    assert await leases.forget("host:8000#", keep="host:8000#new") == 1
    assert await leases.holder("one") is None
    assert await leases.holder("two") == "host:8000#new"
    assert await leases.holder("three") == "host:80001#other"
    assert await leases.holder("four") == "host_8000#other"
    # Expired, not deleted: what the dead run held is found (and taken over) later.
    assert await leases.expired("o", limit=10) == ["one"]


async def test_expired_lists_unreleased_leases_under_a_prefix(leases: LeaseRepository) -> None:
    await leases.acquire("agent:1", "dead#1", -1)
    await leases.acquire("agent:2", "live#1", 30)
    await leases.acquire("agent:3", "gone#1", -1)
    await leases.release("agent:3", "gone#1")  # released: its work ended
    await leases.acquire("agent_4", "dead#1", -1)  # LIKE wildcards are escaped
    await leases.acquire("conversation:1", "dead#1", -1)
    assert await leases.expired("agent:", limit=10) == ["agent:1"]
    assert await leases.expired("agent:", limit=0) == []


async def test_held_for_user_sees_other_holders_of_the_users_conversations(
    leases: LeaseRepository, convo: Conversation, conversations: ConversationRepository, bob: User
) -> None:
    other = await conversations.create(bob.id, "s2", title="t")
    assert not await leases.held_for_user("conversation:", convo.user_id, other_than="me#1")
    await leases.acquire(f"conversation:{other.id}", "b#1", 30)  # another user's
    await leases.acquire(f"conversation:{convo.id}", "me#1", 30)  # this process's own
    assert not await leases.held_for_user("conversation:", convo.user_id, other_than="me#1")
    await leases.release(f"conversation:{convo.id}", "me#1")
    await leases.acquire(f"conversation:{convo.id}", "b#1", -1)  # expired
    assert not await leases.held_for_user("conversation:", convo.user_id, other_than="me#1")
    await leases.acquire(f"conversation:{convo.id}", "b#1", 30)
    assert await leases.held_for_user("conversation:", convo.user_id, other_than="me#1")


async def test_racing_holders_get_the_lease_once(leases: LeaseRepository) -> None:
    results = await asyncio.gather(*(leases.acquire("race", f"r#{n}", 30) for n in range(10)))
    assert sum(results) == 1


# --- inbox claims across replicas ---------------------------------------------------------


async def test_a_claim_lasts_while_the_claimer_holds_a_lease(
    inbox: InboxRepository, leases: LeaseRepository, convo: Conversation
) -> None:
    item = await inbox.add(convo.user_id, convo.id, "s1", "hello", max_open=10)
    await leases.acquire("replica:a#1", "a#1", 30)
    await leases.acquire("replica:b#1", "b#1", 30)
    assert await inbox.claim(item.id, "a#1")
    head = await inbox.head(convo.id)
    assert head is not None
    assert (head.state, head.claimed_by) == (DELIVERING, "a#1")
    assert not await inbox.claim(item.id, "b#1")  # a is alive
    assert await inbox.requeue(holder="b#1") == 0  # a's delivery is not b's to start over
    # a dies: its presence lease runs out, and its delivery may be taken over.
    await leases.expire_at("replica:a#1", "a#1", utcnow() - timedelta(seconds=1))
    assert await inbox.claim(item.id, "b#1")
    head = await inbox.head(convo.id)
    assert head is not None
    assert (head.state, head.claimed_by) == (DELIVERING, "b#1")


async def test_requeue_with_a_holder_spares_live_deliveries(
    inbox: InboxRepository,
    leases: LeaseRepository,
    conversations: ConversationRepository,
    convo: Conversation,
    alice: User,
) -> None:
    other = await conversations.create(alice.id, "s2", title="t")
    third = await conversations.create(alice.id, "s3", title="t")
    mine_busy = await inbox.add(alice.id, convo.id, "s1", "a", max_open=10)
    mine_idle = await inbox.add(alice.id, other.id, "s2", "b", max_open=10)
    theirs = await inbox.add(alice.id, third.id, "s3", "c", max_open=10)
    await leases.acquire("replica:me#1", "me#1", 30)
    await leases.acquire("replica:them#1", "them#1", 30)
    assert await inbox.claim(mine_busy.id, "me#1")
    assert await inbox.claim(mine_idle.id, "me#1")
    assert await inbox.claim(theirs.id, "them#1")
    # Mine outside the running sessions start over; a live replica's are left alone.
    assert await inbox.requeue(exclude=[convo.id], holder="me#1") == 1
    states = {i.id: i.state for i in await inbox.list(alice.id, states=(QUEUED, DELIVERING))}
    assert states == {mine_busy.id: DELIVERING, mine_idle.id: QUEUED, theirs.id: DELIVERING}
    await leases.release("replica:them#1", "them#1")  # gone
    assert await inbox.requeue(exclude=[convo.id], holder="me#1") == 1
    head = await inbox.head(third.id)
    assert head is not None
    assert (head.state, head.claimed_by) == (QUEUED, None)


async def test_racing_claims_deliver_a_message_once(
    inbox: InboxRepository, leases: LeaseRepository, convo: Conversation
) -> None:
    items = [
        await inbox.add(convo.user_id, convo.id, "s1", f"m{n}", max_open=100) for n in range(5)
    ]
    holders = [f"r{n}#1" for n in range(6)]
    for holder in holders:
        await leases.acquire(f"replica:{holder}", holder, 30)
    for item in items:
        won = await asyncio.gather(*(inbox.claim(item.id, h) for h in holders))
        assert sum(won) == 1
