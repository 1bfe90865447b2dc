"""A free Slot's id says what it is: `<schedule id>.<UTC start YYYYMMDDHHMM>.<minutes>`.

Free slots are computed from a schedule's working week and its booked time, not stored, so their
ids must carry everything a booking needs to find them again. A booked slot is stored under the
same id (status busy), so the id of one stretch of one schedule is the same before and after.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cairn.errors import InvalidResource
from cairn.fhir.outcome import issue

SLOT_ID = re.compile(r"^(?P<schedule>[A-Za-z0-9\-.]{1,47})\.(?P<start>\d{12})\.(?P<minutes>\d{1,3})$")
START_FORMAT = "%Y%m%d%H%M"
MAX_SCHEDULE_ID = 47  # FHIR ids are at most 64 characters: 47 + "." + 12 + "." + 3


@dataclass(frozen=True)
class SlotId:
    schedule_id: str
    start: datetime
    minutes: int

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes)

    def __str__(self) -> str:
        return f"{self.schedule_id}.{self.start.astimezone(UTC):{START_FORMAT}}.{self.minutes}"

    @classmethod
    def parse(cls, reference: object, element: str) -> SlotId:
        """The slot a reference ("Slot/<id>") or bare id names; InvalidResource at `element`."""
        text = reference.removeprefix("Slot/") if isinstance(reference, str) else ""
        found = SLOT_ID.match(text)
        if found is None:
            raise InvalidResource(
                [
                    issue(
                        "invalid",
                        "reference a free Slot by the id a free-slot search answered "
                        "(GET /fhir/R4/Slot?schedule=<id>&status=free)",
                        element,
                    )
                ]
            )
        try:
            start = datetime.strptime(found["start"], START_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            raise InvalidResource([issue("invalid", "the Slot id names no real time", element)]) from None
        return cls(found["schedule"], start, int(found["minutes"]))


def require_short_schedule_id(schedule_id: str) -> None:
    """Refuse to offer slots of a schedule whose id leaves no room in a slot id."""
    if len(schedule_id) > MAX_SCHEDULE_ID:
        raise InvalidResource(
            [
                issue(
                    "not-supported",
                    f"schedules offering slots need ids of at most {MAX_SCHEDULE_ID} characters; "
                    "create the Schedule with POST so Cairn assigns one",
                    "Slot.schedule",
                )
            ]
        )


__all__ = ["SlotId", "require_short_schedule_id"]
