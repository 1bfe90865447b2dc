"""DynamoDB queries in the embedded emulator at the cost of the partition, not of the table.

moto 5.2.5 answers a Query on a table's own key by sorting every item of the table
(`Table.all_items`) and keeping those of the partition: each Query costs O(n log n) in the
table's size. With the demo clinics' Synthea charts in the table, one Query took ~260 ms, and a
lab result's workflow (a handful of Queries per step) ~2.5 s. This patch lets a base-table Query
see only its own partition (moto keeps items in a dict per partition key); everything else about
the Query (conditions, sorting, paging, filters, projections) is moto's own code. Index (GSI)
queries are unchanged.

`Table.all_items` is consulted through a thread-local hint that the Query wrapper sets, so
concurrent requests of the threaded server never see each other's partition. It replaces two
methods, checked on install; `uninstall` puts moto's back.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from moto.dynamodb.models.table import Table

_partition = threading.local()


def _partition_items(table: Table, hash_key: Any) -> list[Any]:
    stored = table.items.get(hash_key)  # .get: never create the partition (items is a defaultdict)
    if stored is None:
        return []
    items = list(stored.values()) if table.range_key_attr else [stored]
    return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)


def _patched(original_query: Callable[..., Any], original_all_items: Callable[..., Any]) -> tuple[
        Callable[..., Any], Callable[..., Any]]:
    signature = inspect.signature(original_query)

    def all_items(self: Table) -> list[Any]:
        hint = getattr(_partition, "hint", None)
        if hint is not None and hint[0] is self:
            return _partition_items(self, hint[1])
        return list(original_all_items(self))

    def query(self: Table, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        hash_key, index_name = bound.arguments.get("hash_key"), bound.arguments.get("index_name")
        if index_name is not None or hash_key is None:
            return original_query(self, *args, **kwargs)
        previous = getattr(_partition, "hint", None)
        _partition.hint = (self, hash_key)
        try:
            return original_query(self, *args, **kwargs)
        finally:
            _partition.hint = previous

    return query, all_items


@dataclass
class Installation:
    query: Callable[..., Any]
    all_items: Callable[..., Any]

    def uninstall(self) -> None:
        Table.query = self.query  # type: ignore[method-assign]
        Table.all_items = self.all_items  # type: ignore[method-assign]


def install() -> Installation:
    """Patch moto in this process; RuntimeError if the methods it wraps changed shape."""
    query, all_items = Table.__dict__.get("query"), Table.__dict__.get("all_items")
    if getattr(query, "_cairn_partition_query", False):  # already installed in this process
        return Installation(query, all_items)  # type: ignore[arg-type]
    if query is None or all_items is None or not {"hash_key", "index_name"} <= set(
            inspect.signature(query).parameters):
        raise RuntimeError("moto's Table.query changed; devkit/dynamodb_queries.py needs updating")
    patched_query, patched_all_items = _patched(query, all_items)
    patched_query._cairn_partition_query = True  # type: ignore[attr-defined]
    Table.query = patched_query  # type: ignore[method-assign]
    Table.all_items = patched_all_items  # type: ignore[method-assign]
    return Installation(query, all_items)


@contextmanager
def installed() -> Iterator[None]:
    """The patch for the duration of a block (tests, benchmarks)."""
    installation = install()
    try:
        yield
    finally:
        installation.uninstall()
