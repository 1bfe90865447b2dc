"""Scheduling wired for one caller over AWS: the appointment book, the clinic's scheduling
settings and its schedules' working weeks, from the ClinicalRuntime (its clients and record
service), so scheduling uses the same seam as the rest of the chart."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cairn.audit.audited import audited
from cairn.audit.events import AuditAction
from cairn.clock import Clock, utc_now
from cairn.errors import AccessDenied, InvalidResource, MalformedRequest
from cairn.fhir.outcome import issue
from cairn.runtime import ClinicalRuntime
from cairn.scheduling.availability import InvalidAvailability
from cairn.scheduling.book import AppointmentBook
from cairn.scheduling.clinic import SCHEDULING_SETTINGS, ClinicSchedule, InvalidClinicSchedule
from cairn.scheduling.ports import BaseAppointmentReminders
from cairn.scheduling.working_week import parse_working_week, working_week_document
from cairn.scheduling.working_weeks import DynamoWorkingWeeks
from cairn.short_lived_cache import ShortLivedCache
from multitenant import permissions
from multitenant.context import Role, TenantContext
from multitenant.onboarding import DEFAULT_SETTINGS
from multitenant.permissions import Action
from multitenant.provisioning import DynamoTenantSettings
from multitenant.standing import TenantStanding

T = TypeVar("T")


@dataclass(frozen=True)
class SchedulingServices:
    clinical: ClinicalRuntime
    reminders: BaseAppointmentReminders
    now: Clock = utc_now
    cache: ShortLivedCache = field(default_factory=ShortLivedCache)

    def clinic(self, context: TenantContext) -> ClinicSchedule:
        """The clinic's scheduling settings (the onboarding defaults where unset), cached a minute."""

        def load() -> ClinicSchedule:
            try:
                return ClinicSchedule.parse(self._settings(context))
            except InvalidClinicSchedule as invalid:
                raise InvalidResource(
                    [
                        issue(
                            "business-rule",
                            f"the clinic's scheduling settings are unusable: "
                            f"{invalid}; an admin corrects them with PUT /scheduling/settings",
                        )
                    ]
                ) from None

        return self.cache.get(("clinic-schedule", context.tenant_id), load)

    def book(self, context: TenantContext, standing: TenantStanding | None = None) -> AppointmentBook:
        """The appointment book of the verified caller `context`."""
        return AppointmentBook(
            self.clinical.records(context, standing),
            self._weeks(context),
            lambda: self.clinic(context),
            self.reminders,
            self.now,
        )

    def settings(self, context: TenantContext) -> dict[str, Any]:
        """The clinic's scheduling settings, as stored or defaulted; staff read them."""

        def read() -> dict[str, Any]:
            permissions.require(context, "Schedule", Action.READ)
            return _settings_document(self.clinic(context))

        return self._audited(context, AuditAction.READ, "read", permissions.CLINIC_SETTINGS, None, read)

    def change_settings(self, context: TenantContext, changes: object) -> dict[str, Any]:
        """Save scheduling settings (admins): every problem named at once, nothing saved then."""
        return self._audited(
            context,
            AuditAction.UPDATE,
            "update",
            permissions.CLINIC_SETTINGS,
            None,
            lambda: self._change_settings(context, changes),
        )

    def _change_settings(self, context: TenantContext, changes: object) -> dict[str, Any]:
        permissions.require(context, permissions.CLINIC_SETTINGS, Action.UPDATE)
        if not isinstance(changes, dict) or not changes:
            raise MalformedRequest(
                f"send a JSON object of settings to change: {', '.join(SCHEDULING_SETTINGS)}"
            )
        unknown = sorted(set(changes) - set(SCHEDULING_SETTINGS))
        if unknown:
            raise MalformedRequest(
                f"{', '.join(unknown[:5])} are not scheduling settings; use {', '.join(SCHEDULING_SETTINGS)}"
            )
        try:
            ClinicSchedule.parse({**self._settings(context), **changes})
        except InvalidClinicSchedule as invalid:
            raise MalformedRequest(str(invalid)) from None
        stored = DynamoTenantSettings(
            self.clinical.clients_for(context).dynamodb(), self.clinical.settings.clinical_table
        )
        saved = stored.update(context.tenant_id, changes)
        self.cache.forget(("clinic-schedule", context.tenant_id))
        return _settings_document(ClinicSchedule.parse(saved))

    def working_week(self, context: TenantContext, schedule_id: str) -> dict[str, Any]:
        """A schedule's working week; staff read it, and patients need not."""

        def read() -> dict[str, Any]:
            if context.role is Role.PATIENT:
                raise AccessDenied("working weeks are for the clinic's staff; patients search the free slots")
            self.book(context).schedule(schedule_id)  # another clinic's is not found
            document = self._weeks(context).get(schedule_id)
            return document or {"hours": [], "breaks": [], "timeOff": []}

        return self._audited(context, AuditAction.READ, "working-week", "Schedule", schedule_id, read)

    def set_working_week(self, context: TenantContext, schedule_id: str, document: object) -> dict[str, Any]:
        """Replace a schedule's hours, breaks and time off (who may update Schedules)."""
        return self._audited(
            context,
            AuditAction.UPDATE,
            "working-week",
            "Schedule",
            schedule_id,
            lambda: self._set_working_week(context, schedule_id, document),
        )

    def _set_working_week(self, context: TenantContext, schedule_id: str, document: object) -> dict[str, Any]:
        permissions.require(context, "Schedule", Action.UPDATE)
        self.book(context).schedule(schedule_id)
        try:
            week = parse_working_week(document, self.clinic(context).zone)
        except InvalidAvailability as invalid:
            raise MalformedRequest(str(invalid)) from None
        stored = working_week_document(week)
        self._weeks(context).put(schedule_id, stored)
        return stored

    def _audited(
        self,
        context: TenantContext,
        action: AuditAction,
        subtype: str,
        entity_type: str,
        entity_id: str | None,
        operation: Callable[[], T],
    ) -> T:
        """Run `operation` and leave one AuditEvent with its outcome (reason codes, never values)."""
        return audited(self.clinical.audit_trail(context), action, subtype, entity_type, entity_id, operation)

    def _settings(self, context: TenantContext) -> dict[str, Any]:
        stored = DynamoTenantSettings(
            self.clinical.clients_for(context).dynamodb(), self.clinical.settings.clinical_table
        )
        return {**DEFAULT_SETTINGS, **(stored.get(context.tenant_id) or {})}

    def _weeks(self, context: TenantContext) -> DynamoWorkingWeeks:
        return DynamoWorkingWeeks(
            context, self.clinical.clients_for(context).dynamodb(), self.clinical.settings.clinical_table
        )


def _settings_document(clinic: ClinicSchedule) -> dict[str, Any]:
    rules, policy = clinic.self_booking, clinic.reminders
    return {
        "time_zone": clinic.zone,
        "visit_types": [
            {
                "code": t.code,
                "display": t.display,
                "minutes": t.minutes,
                "patientBookable": t.patient_bookable,
                "telehealth": t.telehealth,
            }
            for t in clinic.visit_types
        ],
        "self_booking_lead_minutes": rules.lead_minutes,
        "self_booking_horizon_days": rules.horizon_days,
        "self_booking_visit_types": sorted(rules.visit_types),
        "reminder_offsets_hours": list(policy.offsets_hours),
        "reminder_quiet_hours": str(policy.quiet_hours),
        "reminder_minimum_notice_minutes": int(policy.minimum_notice.total_seconds() // 60),
    }


__all__ = ["SchedulingServices"]
