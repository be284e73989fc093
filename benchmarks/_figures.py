"""The protocol between a benchmark module and `benchmarks/run`.

A benchmark module in benchmarks/ (any `*.py` whose name does not start with `_`) plugs
into the runner by defining

    def figures(size: Size) -> list[Figure]

which runs the benchmark at that size ("small": a quick check, seconds to a minute or
two; "full": the size the issue's target was set for) and returns what it measured. It
may print details as it goes; the runner keeps them in a log. `python -m
benchmarks.<name>` keeps working on its own, with its own flags.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

Size = Literal["small", "full"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}


@dataclass(frozen=True)
class Figure:
    """One measured number, and what it is compared with.

    `baseline` is the same thing measured without roost in the same run (None when the
    figure has none); `ratio` defaults to value ÷ baseline. `target` is what the issue
    asked for, written as "<subject> <op> <number>" with subject `value` or `ratio`,
    e.g. "ratio >= 0.9" or "value <= 2"; empty when none was set.
    """

    name: str
    value: float
    unit: str = ""
    baseline: float | None = None
    ratio: float | None = None
    target: str = ""

    def __post_init__(self) -> None:
        if self.ratio is None and self.baseline:
            object.__setattr__(self, "ratio", self.value / self.baseline)
        if self.target:
            subject, op, number = self.target.split()
            if subject not in ("value", "ratio") or op not in _OPS:
                raise ValueError(f"bad target {self.target!r}")
            float(number)

    @property
    def met(self) -> bool | None:
        """Whether the target holds; None without a target (or a ratio to test)."""
        if not self.target:
            return None
        subject, op, number = self.target.split()
        measured = self.value if subject == "value" else self.ratio
        if measured is None:
            return None
        return _OPS[op](measured, float(number))

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "met": self.met}


def pct(values: list[float], q: float) -> float:
    """The q-quantile of `values` (nearest rank), e.g. pct(latencies, 0.99)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
