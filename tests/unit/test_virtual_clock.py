"""The embedded runtime's virtual clock (devkit/clock.py): durations, forward only, the hook in
cairn.clock while it is installed, the local front's /_dev/clock, and `cairn clock`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cairn import clock as cairn_clock
from devkit import clock
from devkit.api_front import CLOCK_PATH, ApiFront
from devkit.cli import main
from devkit.clock import ClockError, VirtualClock, parse_duration
from devkit.deployment import Deployment
from devkit.gateway import IncomingRequest

REAL = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


@pytest.fixture
def installed() -> Iterator[VirtualClock]:
    """A clock over a fixed real time, installed for the test and taken out after it."""
    installation = clock.install(VirtualClock(real=lambda: REAL))
    yield installation.clock
    installation.uninstall()


def request(method: str, body: object = None) -> IncomingRequest:
    raw = b"" if body is None else json.dumps(body).encode()
    return IncomingRequest(
        method=method, path=CLOCK_PATH, query="", headers=[], body=raw, source_ip="127.0.0.1"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("47h", timedelta(hours=47)),
        ("2d", timedelta(days=2)),
        ("90m", timedelta(minutes=90)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("45s", timedelta(seconds=45)),
        ("1d2h3m4s", timedelta(1, 7384)),
    ],
)
def test_durations_are_written_in_days_hours_minutes_and_seconds(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "47", "h", "-2h", "2 days", "1.5h", "30m1h"])
def test_anything_else_is_refused_with_examples(text: str) -> None:
    with pytest.raises(ClockError, match=r"write e\.g\. 47h"):
        parse_duration(text)


def test_the_clock_moves_forward_only() -> None:
    ticking = VirtualClock(real=lambda: REAL)

    assert ticking.advance(timedelta(hours=47)) == REAL + timedelta(hours=47)
    assert ticking.advance_to(REAL + timedelta(hours=1)) == REAL + timedelta(hours=47)  # passed already
    assert ticking.advance_to(REAL + timedelta(days=3)) == REAL + timedelta(days=3)
    with pytest.raises(ClockError, match="forward only"):
        ticking.advance(timedelta(hours=-1))
    with pytest.raises(ClockError, match="with its zone"):
        ticking.advance_to(datetime(2026, 12, 8, 14, 0))  # a wall time, no zone


def test_cairn_follows_the_installed_clock_and_real_time_again_once_it_is_removed() -> None:
    installation = clock.install(VirtualClock())
    try:
        installation.clock.advance(timedelta(days=2))
        assert cairn_clock.utc_now() - datetime.now(UTC) > timedelta(days=1, hours=23)
        assert clock.current() is installation.clock
    finally:
        installation.uninstall()

    assert abs(cairn_clock.utc_now() - datetime.now(UTC)) < timedelta(minutes=1)
    with pytest.raises(ClockError, match="embedded runtime"):
        clock.current()


def test_the_front_shows_and_advances_the_clock(installed: VirtualClock) -> None:
    front = ApiFront(port=0)

    shown = front.respond(request("GET"))
    moved = front.respond(request("POST", {"advance": "47h"}))
    moved_to = front.respond(request("POST", {"to": "2026-12-08T14:00:00Z"}))

    assert (shown.status, json.loads(shown.body)) == (
        200,
        {"now": "2026-12-03T15:00:00Z", "offsetSeconds": 0},
    )
    assert json.loads(moved.body)["now"] == "2026-12-05T14:00:00Z"
    assert json.loads(moved_to.body) == {"now": "2026-12-08T14:00:00Z", "offsetSeconds": 5 * 86400 - 3600}


@pytest.mark.parametrize(
    "body", [{"advance": "soon"}, {"to": "tomorrow"}, {}, {"advance": "1h", "to": "x"}, [1]]
)
def test_the_front_says_what_to_send_for_a_change_it_cannot_make(
    installed: VirtualClock, body: object
) -> None:
    answer = ApiFront(port=0).respond(request("POST", body))

    assert answer.status == 400
    assert json.loads(answer.body)["error"] == "invalid"
    assert installed.offset == timedelta()


def test_without_an_embedded_emulator_there_is_no_clock_to_move() -> None:
    answer = ApiFront(port=0).respond(request("POST", {"advance": "1h"}))

    assert answer.status == 409
    assert "embedded runtime" in json.loads(answer.body)["message"]


def test_cairn_clock_talks_to_the_running_front(
    installed: VirtualClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    front = ApiFront(port=0)
    front.start()
    try:
        Deployment(
            stage="dev",
            region="us-east-1",
            account_id="123456789012",
            endpoint_url="",
            embedded=True,
            api_url=front.url,
        ).write(tmp_path)

        assert main(["clock", "advance", "2d", "--state-dir", str(tmp_path)]) == 0
        assert main(["clock", "--state-dir", str(tmp_path)]) == 0
        assert main(["clock", "advance", "later", "--state-dir", str(tmp_path)]) == 1
    finally:
        front.stop()

    out, err = capsys.readouterr()
    assert out.splitlines() == ["2026-12-05T15:00:00Z  (real time + 2 days, 0:00:00)"] * 2
    assert "write e.g. 47h" in err
