"""DynamoDB transactions in the embedded emulator at a cost that does not grow with the table.

moto 5.2.5's `transact_write_items` backs up every table a transaction names with a
`copy.deepcopy` of the whole table, once per item of the transaction, so that it can roll back.
A clinical write is one transaction of 3 to 40 items (the versions and the search index entries),
so each write copied the whole clinical table dozens of times: importing five Synthea patients
into `cairn dev` slowed from 20 s for the first bundle to over a minute for the second, and would
only get worse. This patch keeps the same semantics (all or nothing, the same cancellation
reasons, the same exceptions) with an undo log of just the items the transaction touches.

It replaces one method, checked on install; `uninstall` puts moto's back.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend

MAX_ITEMS = 100
OPERATIONS = frozenset({"ConditionCheck", "Put", "Delete", "Update"})


def _key_of(backend: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return dict(op["Key"])
    table = backend.get_table(op["TableName"])
    attrs = op["Item"]
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto's transact_write_items, rolling back with an undo log of the touched items."""
    if len(transact_items) > MAX_ITEMS:
        raise TooManyTransactionsException()
    undo: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []  # table, key, item before
    seen: set[tuple[str, str]] = set()
    errors: list[tuple[str | None, str | None, dict[str, Any] | None]] = []

    def roll_back() -> None:
        for table_name, key, before in reversed(undo):
            self.delete_item(table_name, key)
            if before is not None:
                self.put_item(table_name, before)

    for item in transact_items:
        if len(item) > 1:
            raise TransactWriteSingleOpException
        original_item: dict[str, Any] | None = None
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in OPERATIONS:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            key = _key_of(self, op_type, op)
            unique = (str(table_name), str(dict(sorted(key.items()))))
            if unique in seen:
                raise MultipleTransactionsException()
            seen.add(unique)
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            condition = op.get("ConditionExpression")
            current = self.get_item(table_name, key)
            if condition is not None and not get_filter_expression(condition, names, values).expr(current):
                if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                    original_item = current.to_json()["Attributes"]
                raise ConditionalCheckFailed(item=original_item)
            if op_type != "ConditionCheck":
                before = copy.deepcopy(current.to_json()["Attributes"]) if current is not None else None
                undo.append((table_name, key, before))
            if op_type == "Put":
                self.put_item(table_name, op["Item"], condition_expression=condition,
                              expression_attribute_names=names, expression_attribute_values=values)
            elif op_type == "Delete":
                self.delete_item(table_name, key, condition_expression=condition,
                                 expression_attribute_names=names, expression_attribute_values=values)
            elif op_type == "Update":
                self.update_item(table_name, key, update_expression=op["UpdateExpression"],
                                 condition_expression=condition, expression_attribute_names=names,
                                 expression_attribute_values=values)
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            roll_back()
            raise
        except ConditionalCheckFailed as error:
            errors.append(("ConditionalCheckFailed", str(error.message), original_item))
        except Exception as error:
            errors.append((type(error).__name__, str(error), original_item))
    if any(code is not None for code, _, _ in errors):
        roll_back()
        raise TransactionCanceledException(errors)


@dataclass
class Installation:
    original: Callable[..., Any]

    def uninstall(self) -> None:
        DynamoDBBackend.transact_write_items = self.original  # type: ignore[method-assign]


def install() -> Installation:
    """Patch moto in this process; RuntimeError if the method it replaces changed shape."""
    original = DynamoDBBackend.__dict__.get("transact_write_items")
    if original is transact_write_items:  # already installed in this process
        return Installation(original)
    if original is None or "original_table_state" not in original.__code__.co_varnames:
        raise RuntimeError("moto's DynamoDBBackend.transact_write_items changed; "
                           "devkit/dynamodb_transactions.py needs updating")
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    return Installation(original)


@contextmanager
def installed() -> Iterator[None]:
    """The patch for the duration of a block (tests, benchmarks)."""
    installation = install()
    try:
        yield
    finally:
        installation.uninstall()
