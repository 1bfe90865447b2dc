"""What every benchmark needs: latency percentiles and AWS calls counted through botocore events."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CallCounter:
    """Counts AWS API calls ("Service.Operation") of the clients it is attached to."""

    calls: Counter[str] = field(default_factory=Counter)

    def attach(self, client: Any) -> None:
        """Count every call `client` makes, from now on (botocore's before-call event)."""
        client.meta.events.register("before-call.*.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.service_id}.{model.name}"] += 1

    def total(self) -> int:
        return sum(self.calls.values())


@dataclass(frozen=True)
class Figures:
    """One operation's result: name, latency percentiles in ms, AWS calls per operation."""

    name: str
    runs: int
    p50_ms: float
    p95_ms: float
    calls_per_op: float
    calls: dict[str, float]

    def row(self) -> str:
        breakdown = ", ".join(f"{name} {count:g}" for name, count in sorted(self.calls.items()))
        return (f"| {self.name} | {self.runs} | {self.p50_ms:.1f} | {self.p95_ms:.1f} "
                f"| {self.calls_per_op:g} | {breakdown} |")


def measure(name: str, runs: int, operation: Callable[[int], object], counter: CallCounter) -> Figures:
    """Run `operation(i)` for i in range(runs); percentiles of wall time and mean calls per run."""
    before = counter.calls.copy()
    samples = []
    for index in range(runs):
        started = time.perf_counter()
        operation(index)
        samples.append((time.perf_counter() - started) * 1000)
    made = counter.calls - before
    samples.sort()
    return Figures(
        name=name,
        runs=runs,
        p50_ms=statistics.median(samples),
        p95_ms=samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))],
        calls_per_op=round(sum(made.values()) / runs, 2),
        calls={op: round(count / runs, 2) for op, count in made.items()},
    )


HEADER = ("| operation | runs | p50 ms | p95 ms | AWS calls/op | calls |\n"
          "|---|---|---|---|---|---|")
