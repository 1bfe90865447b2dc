"""What the appointment book needs from the rest of Cairn, as abstract bases: the reminder
workflow it starts when a visit is booked and stops when the visit no longer stands."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

from multitenant.context import TenantContext


class BaseAppointmentReminders(abc.ABC):
    """Starts and withdraws the reminders of one clinic's appointments.

    The appointment book calls `booked` after a booking or a reschedule has committed, and
    `withdrawn` after a cancellation, a no-show, a check-in or a reschedule away from the old
    time. Both are idempotent. The reminder workflow re-checks the appointment before each send
    anyway, so a failed `withdrawn` can never make a cancelled visit send a reminder.
    """

    @abc.abstractmethod
    def booked(self, context: TenantContext, appointment: Mapping[str, Any]) -> None:
        """Plan the reminders of `appointment` (status booked, start and end in UTC)."""

    @abc.abstractmethod
    def withdrawn(self, context: TenantContext, appointment: Mapping[str, Any]) -> None:
        """Stop the pending reminders planned for `appointment` as it was (its old start)."""


__all__ = ["BaseAppointmentReminders"]
