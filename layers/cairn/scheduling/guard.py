"""The rule that keeps the appointment book honest: only the book writes a visit that holds a
practitioner's time, because only it takes and frees the holds that stop double-booking.

Every other write path (PUT, PATCH, DELETE, transaction and batch Bundles, imports) may record
visits that hold no time — a request (proposed), or history (fulfilled, cancelled, noshow,
entered-in-error) — and may edit what does not move time (a comment, the reason), but may not
create, move, reassign, cancel or delete a visit that holds time. The record service runs this
guard before each of those writes; the appointment book's own commits do not ask it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cairn.errors import ImmutableResource

HOLDING_STATUSES = frozenset({"pending", "booked", "arrived", "checked-in", "waitlist"})
# What the book decides: when, for how long, in which slot, with whom, and in what state.
BOOKED_ELEMENTS = ("status", "start", "end", "minutesDuration", "slot", "participant")
OPERATIONS = "$cancel, $reschedule, $check-in, $no-show or $complete"


def holds_time(appointment: Mapping[str, Any]) -> bool:
    """Whether an Appointment holds time on a schedule (booked, arrived, ...) or names a Slot."""
    return appointment.get("status") in HOLDING_STATUSES or bool(appointment.get("slot"))


def guard_appointment_change(
    current: Mapping[str, Any], proposed: Mapping[str, Any] | None, *, signing: bool = False,  # noqa: ARG001
) -> None:
    """Refuse a generic write that would create, change the booking of, or delete a visit that
    holds time (`signing` is the notes' flag; no Appointment write sets it)."""
    if not current:
        if proposed is not None and holds_time(proposed):
            raise ImmutableResource(
                "a visit that holds time is booked with POST /fhir/R4/Appointment referencing a free "
                "Slot (find them with GET /fhir/R4/Slot?schedule=<id>&status=free); other write "
                "paths may record requests (proposed) and past visits only")
        return
    if not holds_time(current) and (proposed is None or not holds_time(proposed)):
        return
    if proposed is None:
        raise ImmutableResource(
            f"Appointment/{current.get('id')} holds time: cancel it with Appointment/[id]/$cancel, "
            "which frees its slot, instead of deleting it")
    changed = [name for name in BOOKED_ELEMENTS if current.get(name) != proposed.get(name)]
    if changed:
        raise ImmutableResource(
            f"{', '.join(changed)} of Appointment/{current.get('id')} change only through the "
            f"appointment book ({OPERATIONS}), which keeps its slot and reminders right")


__all__ = ["HOLDING_STATUSES", "guard_appointment_change", "holds_time"]
