"""What every benchmark needs: latency percentiles, and AWS calls counted and timed through
botocore events, so a figure can be split into time in AWS and time in Cairn's own code."""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CallCounter:
    """Counts and times AWS API calls ("Service.Operation") of the clients it is attached to."""

    calls: Counter[str] = field(default_factory=Counter)
    seconds_in_aws: float = 0.0
    _started: threading.local = field(default_factory=threading.local)

    def attach(self, client: Any) -> None:
        """Count every call `client` makes from now on (botocore's before-call/after-call events)."""
        client.meta.events.register("before-call.*.*", self._before)
        client.meta.events.register("after-call.*.*", self._after)

    def _before(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.service_id}.{model.name}"] += 1
        self._started.at = time.perf_counter()

    def _after(self, **_: Any) -> None:
        self.seconds_in_aws += time.perf_counter() - self._started.at


@dataclass(frozen=True)
class Figures:
    """One operation's result: latency percentiles, mean time outside AWS calls, calls per op."""

    name: str
    runs: int
    p50_ms: float
    p95_ms: float
    own_ms: float  # mean wall time per operation not spent waiting on AWS calls
    calls_per_op: float
    calls: dict[str, float]

    def row(self) -> str:
        breakdown = ", ".join(f"{name} {count:g}" for name, count in sorted(self.calls.items()))
        return (f"| {self.name} | {self.runs} | {self.p50_ms:.1f} | {self.p95_ms:.1f} | {self.own_ms:.1f} "
                f"| {self.calls_per_op:g} | {breakdown} |")


def measure(name: str, runs: int, operation: Callable[[int], object], counter: CallCounter) -> Figures:
    """Run `operation(i)` for i in range(runs); percentiles of wall time and mean calls per run."""
    before, aws_before = counter.calls.copy(), counter.seconds_in_aws
    samples = []
    for index in range(runs):
        started = time.perf_counter()
        operation(index)
        samples.append((time.perf_counter() - started) * 1000)
    made = counter.calls - before
    aws_ms = (counter.seconds_in_aws - aws_before) * 1000
    samples.sort()
    return Figures(
        name=name,
        runs=runs,
        p50_ms=statistics.median(samples),
        p95_ms=samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))],
        own_ms=max(0.0, (sum(samples) - aws_ms) / runs),
        calls_per_op=round(sum(made.values()) / runs, 2),
        calls={op: round(count / runs, 2) for op, count in made.items()},
    )


HEADER = ("| operation | runs | p50 ms | p95 ms | own ms (mean, outside AWS calls) | AWS calls/op | calls |\n"
          "|---|---|---|---|---|---|---|")
