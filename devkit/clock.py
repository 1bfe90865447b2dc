"""A virtual clock for the embedded runtime: real time plus an offset that only moves forward.

Reminders wait hours or days (stepfunctions/reminders.asl.json); on a laptop and in tests nobody
waits that long. `install()` makes one clock the time of everything in this process:
- `cairn.clock.utc_now`, which every service and function reads (its devkit-only hook);
- the Wait states of moto's Step Functions: moto 5.2.5 waits `timestamp - datetime.now()`
  seconds on the execution's state event (wait_function.py, timestamp.py). The patch instead
  polls, briefly, until the virtual now reaches the state's target, so advancing the clock
  ends every wait whose time has come; StopExecution still interrupts a wait at once (it sets
  the same event and the execution is no longer running). Seconds and SecondsPath waits count
  from the virtual now too.

`advance` moves the clock forward; it never goes back, so a reminder sent at a virtual time is
never "due again". `cairn clock` (devkit/cli.py) drives it through the local API front's
dev-only /_dev/clock endpoint; tests use the installed clock directly (`current()`).
tests/integration/test_emulator_capabilities.py fails loudly if a moto upgrade moves the seam.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

from cairn import clock as cairn_clock

POLL_SECONDS = 0.05  # how soon a wait notices the clock was advanced
DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
MAX_ADVANCE = timedelta(days=400)  # a standard workflow lives at most a year


class ClockError(ValueError):
    """A clock change that cannot be made; the message says what to give instead."""


def parse_duration(text: str) -> timedelta:
    """ "47h", "2d", "90m", "1h30m", "45s" as a timedelta; ClockError otherwise."""
    form = DURATION.match(text.strip())
    if form is None or not any(form.groups()):
        raise ClockError(f"{text!r} is not a duration: write e.g. 47h, 2d, 90m or 1h30m")
    days, hours, minutes, seconds = (int(part or 0) for part in form.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


class VirtualClock:
    """Real UTC time plus an offset; thread-safe, forward only."""

    def __init__(self, real: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._real = real
        self._offset = timedelta()
        self._lock = threading.Lock()

    @property
    def offset(self) -> timedelta:
        with self._lock:
            return self._offset

    def now(self) -> datetime:
        """The virtual now, in UTC."""
        return self._real() + self.offset

    def advance(self, by: timedelta) -> datetime:
        """Move forward by `by` (at most MAX_ADVANCE at once); answers the new now."""
        if by < timedelta() or by > MAX_ADVANCE:
            raise ClockError(f"the clock moves forward only, by at most {MAX_ADVANCE.days} days at a time")
        with self._lock:
            self._offset += by
        return self.now()

    def advance_to(self, instant: datetime) -> datetime:
        """Move forward to `instant` (an aware time); a time already passed leaves the clock be."""
        if instant.tzinfo is None:
            raise ClockError("give the time with its zone, e.g. 2026-12-08T14:00:00Z")
        return self.advance(max(timedelta(), instant - self.now()))

    def as_dict(self) -> dict[str, Any]:
        """What GET /_dev/clock and `cairn clock` show."""
        now, offset = self.now(), self.offset
        return {
            "now": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "offsetSeconds": int(offset.total_seconds()),
        }


def _target(wait: WaitFunction, env: Any, clock: VirtualClock) -> datetime:
    """When the Wait state `wait` ends, on the virtual clock."""
    if isinstance(wait, Timestamp):  # TimestampPath too: the timestamp names its own instant
        wait.string.eval(env=env)
        text = env.stack.pop()
        at = wait._from_timestamp_string(timestamp=text)
        if at is None:
            raise FailureEventException(wait._create_failure_event(env, text))
        return at.replace(tzinfo=UTC)  # moto parses the UTC "Z" form into a naive time
    return clock.now() + timedelta(seconds=wait._get_wait_seconds(env=env))


def _patched_eval_body(clock: VirtualClock) -> Callable[[WaitFunction, Any], None]:
    def eval_body(self: WaitFunction, env: Any) -> None:
        target = _target(self, env, clock)
        # program_state_event is set when the execution stops, fails or is stopped.
        while env.is_running() and clock.now() < target:
            env.program_state_event.wait(POLL_SECONDS)

    return eval_body


@dataclass
class Installation:
    """The clock in place: the clock itself, and how to take it out again."""

    clock: VirtualClock
    original: Callable[..., Any]

    def uninstall(self) -> None:
        """Real time again, for moto's waits and for cairn.clock.utc_now."""
        global _installed
        WaitFunction._eval_body = self.original  # type: ignore[method-assign]
        cairn_clock.follow_virtual_clock(None)
        _installed = None


_installed: Installation | None = None


def install(clock: VirtualClock | None = None) -> Installation:
    """Make `clock` (a new one by default) the time of moto's Wait states and of utc_now.

    Raises RuntimeError if moto no longer has the methods this patch relies on."""
    global _installed
    if _installed is not None:
        return _installed
    original = WaitFunction.__dict__.get("_eval_body")
    needed = ("_from_timestamp_string", "_create_failure_event")
    if original is None or not all(hasattr(Timestamp, name) for name in needed):
        raise RuntimeError("moto's Wait state functions changed; devkit/clock.py needs updating")
    chosen = clock or VirtualClock()
    WaitFunction._eval_body = _patched_eval_body(chosen)  # type: ignore[method-assign]
    cairn_clock.follow_virtual_clock(lambda: chosen.offset)
    _installed = Installation(chosen, original)
    return _installed


def current() -> VirtualClock:
    """The installed clock; ClockError when the embedded runtime is not running here."""
    if _installed is None:
        raise ClockError(
            "the virtual clock runs only in the embedded runtime (cairn dev without "
            "AWS_ENDPOINT_URL): there is no clock to show or advance"
        )
    return _installed.clock
