"""A per-process cache of configuration answers that may be a minute old."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

T = TypeVar("T")
CONFIGURATION_TTL_SECONDS = 60.0  # a clinic's change of a lab, a policy or a setting applies within a minute


class ShortLivedCache:
    """What each request or workflow step would otherwise look up again (a clinic's lab, its
    release policy, its scheduling settings), kept per process for a minute: each lab message
    runs six steps, and without it every step spent four AWS calls on the same answers
    (bench/labs.py). The key names the clinic, so one clinic's answer never serves another.
    Never holds PHI."""

    def __init__(self, ttl_seconds: float = CONFIGURATION_TTL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[tuple[str, ...], tuple[float, Any]] = {}

    def get(self, key: tuple[str, ...], load: Callable[[], T]) -> T:
        now = self._clock()
        found = self._entries.get(key)
        if found is not None and found[0] > now:
            return cast(T, found[1])
        value = load()  # an error (an unknown lab) is not cached
        self._entries[key] = (now + self._ttl, value)
        return value

    def forget(self, key: tuple[str, ...]) -> None:
        """Drop one answer, so the next `get` loads it again (after a change this process made)."""
        self._entries.pop(key, None)


__all__ = ["ShortLivedCache"]
