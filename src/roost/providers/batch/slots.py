"""Which KV-cache sequence (slot) a new request decodes in.

Each slot remembers the tokens its sequence holds. A request goes to the free slot that holds its
past (the conversation's previous turn, a MemGPT agent's previous step), so only what is
new is evaluated; else to an empty slot; else to the least recently used slot (whatever
prefix it happens to share is still reused). Preferring the slot that shares the most
would let a new conversation that opens like the last one evict it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@dataclass
class Slot:
    seq: int  # the llama.cpp sequence id
    cached: list[int] = field(default_factory=list)  # tokens whose K/V the sequence holds
    busy: bool = False
    used: int = 0  # a tick of the last assignment, for least-recently-used eviction


class SlotTable:
    def __init__(self, n: int) -> None:
        self.slots = [Slot(seq) for seq in range(n)]
        self._tick = count(1)

    @property
    def busy(self) -> int:
        return sum(slot.busy for slot in self.slots)

    def assign(self, prompt: list[int]) -> tuple[Slot, int] | None:
        """A free slot for this prompt and how many of its tokens the slot already holds
        (at most all but the last: the last is evaluated again for its logits); None when
        every slot is busy."""
        free = [slot for slot in self.slots if not slot.busy]
        if not free:
            return None
        shared = {slot.seq: common_prefix(slot.cached, prompt) for slot in free}

        def own(slot: Slot) -> bool:
            """The slot holds this prompt's past: mostly a prefix of it (llama.cpp's server
            uses the same 50% rule), or all of it (the same question asked again). The
            system prompt alone, shared by every conversation, does not make another
            conversation's slot ours."""
            n = shared[slot.seq]
            return n > 0 and (n * 2 >= len(slot.cached) or n >= len(prompt) - 1)

        if mine := [s for s in free if own(s)]:
            slot = max(mine, key=lambda s: (shared[s.seq], s.used))
        elif empty := [s for s in free if not s.cached]:
            slot = empty[0]  # evicts nothing
        else:  # every slot holds another conversation: evict the least recently used
            slot = min(free, key=lambda s: s.used)
        slot.busy = True
        slot.used = next(self._tick)
        return slot, min(shared[slot.seq], len(prompt) - 1)

    def release(self, slot: Slot) -> None:
        slot.busy = False
