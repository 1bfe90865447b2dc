"""The reminders' integration tests run in the embedded runtime of tests/integration/conftest.py,
whose emulator installs the virtual clock (devkit.clock)."""

from __future__ import annotations

import pytest

from devkit import clock as virtual_clock
from devkit.clock import VirtualClock


@pytest.fixture(scope="module")
def clock(endpoint: str) -> VirtualClock:
    """The embedded runtime's clock: tests advance it instead of waiting real hours."""
    return virtual_clock.current()
