"""A bounded, time-limited in-memory cache of plaintext data keys.

Unwrapping a data key costs a KMS call; caching it for a few minutes keeps reads cheap while
bounding how long a plaintext key lives in memory and how many tenants' keys one process holds.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_TTL_SECONDS = 300.0
DEFAULT_MAX_ENTRIES = 256


@dataclass(frozen=True)
class DataKeyCacheKey:
    """Everything that changes which key is the right answer: a key cached for one table or KMS
    key must never be served for another, nor one tenant's key for another tenant."""

    table: str
    kms_key_id: str
    tenant_id: str


class DataKeyCache:
    """LRU with a TTL; `clock` is injectable so tests can expire entries without sleeping."""

    def __init__(
        self,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[DataKeyCacheKey, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: DataKeyCacheKey) -> bytes | None:
        """The cached plaintext key, or None if absent or expired."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, value = entry
            if self._clock() >= expires:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: DataKeyCacheKey, value: bytes) -> None:
        """Cache `value`, evicting the least recently used entries beyond the size bound."""
        with self._lock:
            self._entries[key] = (self._clock() + self._ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
