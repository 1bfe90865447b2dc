"""What functions log during a test: every record of their Powertools loggers (named after their
services), with all its attributes (message, extras, appended keys), for the no-PHI tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        return "\n".join(f"{r.getMessage()} {r.__dict__}" for r in self.records)


@contextmanager
def logged_by(*services: str) -> Iterator[Records]:
    """The records the loggers of `services` emit inside the block."""
    kept = Records()
    loggers = [logging.getLogger(name) for name in services]
    for logger in loggers:
        logger.addHandler(kept)
    try:
        yield kept
    finally:
        for logger in loggers:
            logger.removeHandler(kept)
