"""Failed authentications, throttled per client address on every bind.

Each try at a credential takes a token from its address's bucket before the check, and a
success gives it back: a valid credential costs nothing, failures cost one each, and
guesses sent all at once cannot overrun the bucket while their checks are in flight. A
bucket holds `per_minute` tokens and refills at `per_minute` a minute.

With the bucket empty, the credential is not checked at all (the answer would tell a
guess from the password), except a key of the shape roost issues (`is_issued_key`): 32
random bytes cannot be guessed, so looking one up tells an attacker nothing, and a valid
key sent from the address of a flood of guesses (on loopback: any local process) is
still served. The table is in this process's memory, bounded, least recently used first.
"""

from __future__ import annotations

import time

MAX_ENTRIES = 10_000


class FailureThrottle:
    def __init__(self, per_minute: int, max_entries: int = MAX_ENTRIES) -> None:
        self.per_minute = per_minute
        self._rate = per_minute / 60.0  # tokens a second
        self._max_entries = max_entries
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, stamp)

    def _tokens(self, address: str, now: float) -> float:
        kept = self._buckets.pop(address, None)  # re-inserted by the caller: LRU order
        if kept is None:
            while len(self._buckets) >= self._max_entries:
                del self._buckets[next(iter(self._buckets))]
            return float(self.per_minute)
        tokens, stamp = kept
        return min(float(self.per_minute), tokens + (now - stamp) * self._rate)

    def take(self, address: str) -> float:
        """0.0 when a try may go ahead (a token is taken), else the seconds until one may."""
        now = time.monotonic()
        tokens = self._tokens(address, now)
        if tokens >= 1.0:
            self._buckets[address] = (tokens - 1.0, now)
            return 0.0
        self._buckets[address] = (tokens, now)
        return (1.0 - tokens) / self._rate

    def give_back(self, address: str) -> None:
        """The try succeeded (or never reached a verdict): it was not a failure."""
        now = time.monotonic()
        self._buckets[address] = (min(float(self.per_minute), self._tokens(address, now) + 1), now)
