"""Break-glass: a clinician opens a restricted patient's record, outside their normal access,
for a limited time and with a stated reason; audited, and reported to the clinic's admins.

The reason is free text a clinician types in a hurry ("unconscious in ED, sister says...") and
may well contain PHI. So it never enters the audit trail or a log: the AuditEvent carries the
purpose of use as a code (v3 ActReason BTG, "break the glass") and the grant's id; the reason
itself is sealed with the tenant's data key in the grant (AES-GCM, bound to tenant and grant),
and only the admins' report opens it.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cairn.audit.events import AuditAction, AuditEvent, AuditOutcome
from cairn.audit.trail import BaseAuditTrail
from cairn.clock import Clock, fhir_instant, utc_now
from cairn.crypto.field_cipher import FieldAddress, FieldCipher
from cairn.crypto.keyring import BaseKeyring
from cairn.errors import AccessDenied, MalformedRequest, PatientNotFound, ResourceNotFound
from cairn.records.repository import BaseResourceRepository
from multitenant import permissions
from multitenant.context import Role, TenantContext
from multitenant.permissions import Action

GRANT_MINUTES = 60  # long enough for an emergency, short enough to need a fresh reason after
REPORT_HOURS = 72  # what the admins' report covers: a long weekend
MIN_REASON, MAX_REASON = 10, 500
PURPOSE_OF_USE = "BTG"  # v3 ActReason "break the glass"
GRANT = permissions.BREAK_GLASS_GRANT


class InvalidBreakGlass(MalformedRequest):
    """A break-glass request without a usable reason, or for a record that needs none (400)."""


@dataclass(frozen=True)
class BreakGlassGrant:
    """One clinician's time-boxed access to one restricted patient."""

    user_id: str
    role: Role
    patient_id: str
    reason: str
    opened: datetime
    expires: datetime

    @property
    def grant_id(self) -> str:
        """Stable and free of PHI: who, when, which patient."""
        return f"{self.user_id}:{fhir_instant(self.opened)}:{self.patient_id}"

    def is_open(self, now: datetime) -> bool:
        return self.opened <= now < self.expires

    def as_parameters(self, now: datetime) -> dict[str, Any]:
        """As a FHIR Parameters resource (what the API answers)."""
        return {"resourceType": "Parameters", "parameter": [
            {"name": "patient", "valueReference": {"reference": f"Patient/{self.patient_id}"}},
            {"name": "user", "valueString": self.user_id},
            {"name": "role", "valueCode": self.role.value},
            {"name": "reason", "valueString": self.reason},
            {"name": "opened", "valueInstant": fhir_instant(self.opened)},
            {"name": "expires", "valueInstant": fhir_instant(self.expires)},
            {"name": "active", "valueBoolean": self.is_open(now)},
        ]}


def reason_from(body: object) -> str:
    """The reason of a Parameters body {"parameter": [{"name": "reason", "valueString": ...}]}."""
    parameters = body.get("parameter") if isinstance(body, Mapping) else None
    if not isinstance(body, Mapping) or body.get("resourceType") != "Parameters" \
            or not isinstance(parameters, list):
        raise InvalidBreakGlass('send a Parameters resource with a "reason" parameter (valueString)')
    reasons = [p.get("valueString") for p in parameters
               if isinstance(p, Mapping) and p.get("name") == "reason"]
    reason = reasons[0].strip() if len(reasons) == 1 and isinstance(reasons[0], str) else ""
    if not MIN_REASON <= len(reason) <= MAX_REASON:
        raise InvalidBreakGlass(
            f"state why you need this record: one reason of {MIN_REASON} to {MAX_REASON} characters")
    return reason


class BaseBreakGlassLedger(abc.ABC):
    """The break-glass grants of one tenant."""

    def __init__(self, context: TenantContext) -> None:
        if not isinstance(context, TenantContext):
            raise TypeError("a break-glass ledger needs a TenantContext")
        self.context = context

    @abc.abstractmethod
    def add(self, grant: BreakGlassGrant) -> None:
        """Store a new grant."""

    @abc.abstractmethod
    def opened_since(self, since: datetime) -> list[BreakGlassGrant]:
        """The tenant's grants opened at or after `since`, newest first."""

    def open_grant(self, user_id: str, patient_id: str, now: datetime) -> BreakGlassGrant | None:
        """The user's grant on the patient that is open at `now`, if any."""
        for grant in self.opened_since(now - timedelta(minutes=GRANT_MINUTES)):
            if grant.user_id == user_id and grant.patient_id == patient_id and grant.is_open(now):
                return grant
        return None


class DynamoBreakGlassLedger(BaseBreakGlassLedger):
    """Grants in the clinical table under "<tenant>#break-glass", sorted by when they opened
    (one Query answers both the open-grant check and the report); reasons sealed per tenant."""

    def __init__(self, context: TenantContext, dynamodb: Any, table: str, keyring: BaseKeyring) -> None:
        super().__init__(context)
        self._dynamodb = dynamodb
        self._table = table
        self._keyring = keyring

    @property
    def _pk(self) -> str:
        return f"{self.context.key_prefix}break-glass"

    def _address(self, grant_id: str) -> FieldAddress:
        return FieldAddress(self.context.tenant_id, GRANT, grant_id, "reason")

    def _cipher(self) -> FieldCipher:
        return FieldCipher(self._keyring.data_key(self.context.tenant_id))

    def add(self, grant: BreakGlassGrant) -> None:
        sealed = self._cipher().encrypt(grant.reason, self._address(grant.grant_id))
        self._dynamodb.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": self._pk},
                "sk": {"S": f"{fhir_instant(grant.opened)}#{grant.user_id}#{grant.patient_id}"},
                "user_id": {"S": grant.user_id},
                "role": {"S": grant.role.value},
                "patient_id": {"S": grant.patient_id},
                "opened": {"S": grant.opened.isoformat()},
                "expires": {"S": grant.expires.isoformat()},
                "reason": {"S": sealed},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def opened_since(self, since: datetime) -> list[BreakGlassGrant]:
        items: list[dict[str, Any]] = []
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk >= :since",
            "ExpressionAttributeValues": {":pk": {"S": self._pk}, ":since": {"S": fhir_instant(since)}},
            "ScanIndexForward": False,
        }
        while True:
            page = self._dynamodb.query(**arguments)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                break
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        if not items:
            return []
        cipher = self._cipher()
        grants = []
        for item in items:
            opened = datetime.fromisoformat(item["opened"]["S"])
            user_id, patient_id = item["user_id"]["S"], item["patient_id"]["S"]
            grant_id = f"{user_id}:{fhir_instant(opened)}:{patient_id}"
            grants.append(BreakGlassGrant(
                user_id=user_id, role=Role(item["role"]["S"]), patient_id=patient_id,
                reason=cipher.decrypt(item["reason"]["S"], self._address(grant_id)),
                opened=opened, expires=datetime.fromisoformat(item["expires"]["S"]),
            ))
        return grants


class BreakGlass:
    """Opening restricted records, and the admins' report, for one verified caller."""

    def __init__(
        self, context: TenantContext, ledger: BaseBreakGlassLedger, records: BaseResourceRepository,
        audit: BaseAuditTrail, clock: Clock = utc_now,
    ) -> None:
        if ledger.context != context or records.context != context or audit.context != context:
            raise ValueError("the ledger, repository and audit trail must belong to the caller's context")
        self.context = context
        self._ledger = ledger
        self._records = records
        self._audit = audit
        self._clock = clock

    def open_record(self, patient_id: str, body: object) -> BreakGlassGrant:
        """Open restricted Patient `patient_id` for GRANT_MINUTES with the reason in `body`."""
        try:
            permissions.require(self.context, permissions.PATIENT, Action.BREAK_GLASS)
            reason = reason_from(body)
            patient = self._records.get(permissions.PATIENT, patient_id)
            if patient is None:
                raise PatientNotFound(patient_id)
            if not permissions.needs_break_glass(self.context, patient):
                raise InvalidBreakGlass(
                    f"Patient/{patient_id} is not restricted: read it without break-glass")
            now = self._clock()
            grant = BreakGlassGrant(self.context.user_id, self.context.role, patient_id, reason,
                                    now, now + timedelta(minutes=GRANT_MINUTES))
            self._ledger.add(grant)
        except Exception as error:
            self._record("break-glass", AuditOutcome.MINOR_FAILURE if _refused(error)
                         else AuditOutcome.SERIOUS_FAILURE, patient_id, type(error).__name__)
            raise
        self._record("break-glass", AuditOutcome.SUCCESS, patient_id,
                     f"purposeOfUse:{PURPOSE_OF_USE};grant:{grant.grant_id}")
        return grant

    def report(self) -> list[BreakGlassGrant]:
        """Every grant opened in the clinic in the last REPORT_HOURS, newest first (admins)."""
        try:
            permissions.require(self.context, GRANT, Action.SEARCH)
            grants = self._ledger.opened_since(self._clock() - timedelta(hours=REPORT_HOURS))
        except Exception as error:
            self._audit.record(AuditEvent(AuditAction.EXECUTE, "search-type", AuditOutcome.MINOR_FAILURE
                                          if _refused(error) else AuditOutcome.SERIOUS_FAILURE, GRANT,
                                          None, type(error).__name__))
            raise
        self._audit.record(AuditEvent(AuditAction.EXECUTE, "search-type", AuditOutcome.SUCCESS, GRANT))
        return grants

    def _record(self, subtype: str, outcome: AuditOutcome, patient_id: str, detail: str) -> None:
        self._audit.record(AuditEvent(AuditAction.EXECUTE, subtype, outcome, permissions.PATIENT,
                                      patient_id, detail))


def _refused(error: Exception) -> bool:
    return isinstance(error, AccessDenied | ResourceNotFound | MalformedRequest)
