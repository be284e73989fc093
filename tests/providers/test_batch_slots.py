"""Slot assignment: prefix affinity, the 50% rule, least-recently-used eviction."""

from __future__ import annotations

from roost.providers.batch.slots import SlotTable, common_prefix


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([1, 2], [1, 2, 3]) == 2


def test_a_conversations_next_turn_goes_to_the_slot_holding_its_history() -> None:
    table = SlotTable(3)
    first, _ = table.assign([1, 2, 3, 4])  # type: ignore[misc]
    first.cached = [1, 2, 3, 4, 5, 6]  # its prompt and reply
    table.release(first)
    other, _ = table.assign([9, 9])  # type: ignore[misc]
    other.cached = [9, 9, 8]
    table.release(other)
    slot, reused = table.assign([1, 2, 3, 4, 5, 6, 7, 8])  # type: ignore[misc]
    assert slot is first
    assert reused == 6


def test_at_least_the_last_prompt_token_is_evaluated_again() -> None:
    table = SlotTable(1)
    slot, _ = table.assign([1, 2, 3])  # type: ignore[misc]
    slot.cached = [1, 2, 3]
    table.release(slot)
    assert table.assign([1, 2, 3]) == (slot, 2)


def test_a_shared_system_prompt_alone_does_not_take_another_conversations_slot() -> None:
    table = SlotTable(2)
    a, _ = table.assign([1, 2, 3])  # type: ignore[misc]
    a.cached = [1, 2, 3, 10, 11, 12, 13, 14]  # conversation A: system prompt 1 2 3, then more
    table.release(a)
    slot, reused = table.assign([1, 2, 3, 20, 21])  # type: ignore[misc]
    assert slot is not a  # the empty slot, not A's history
    assert reused == 0


def test_the_least_recently_used_free_slot_is_evicted() -> None:
    table = SlotTable(2)
    a, _ = table.assign([1])  # type: ignore[misc]
    a.cached = [1, 1]
    b, _ = table.assign([2])  # type: ignore[misc]
    b.cached = [2, 2]
    table.release(b)
    table.release(a)
    slot, _ = table.assign([3, 3])  # type: ignore[misc]
    assert slot is a  # assigned before b


def test_busy_slots_are_not_assigned() -> None:
    table = SlotTable(2)
    assert table.assign([1]) is not None
    assert table.assign([1]) is not None
    assert table.busy == 2
    assert table.assign([1]) is None


def test_the_same_prompt_again_reuses_the_slot_that_answered_it() -> None:
    table = SlotTable(2)
    slot, _ = table.assign([1, 2, 3])  # type: ignore[misc]
    slot.cached = [1, 2, 3, 7, 7, 7, 7, 7, 7]  # a long answer to a short prompt
    table.release(slot)
    assert table.assign([1, 2, 3]) == (slot, 2)  # regenerate: the prompt is all there


def test_a_new_conversation_opening_like_the_last_one_does_not_evict_it() -> None:
    table = SlotTable(2)
    old, _ = table.assign([1])  # type: ignore[misc]
    old.cached = [5, 6, 1, 1, 1, 1, 1, 1]
    table.release(old)
    last, _ = table.assign([2])  # type: ignore[misc]
    last.cached = [5, 6, 7, 8, 9, 9, 9, 9]  # the conversation just served
    table.release(last)
    # A new conversation sharing its first words: the least recently used slot goes.
    assert table.assign([5, 6, 7, 0, 0, 0]) == (old, 2)
