"""The claims desk: what the clinic's billing staff (and physicians coding their visits) do with
claims, for one verified caller.

  - code an encounter: its diagnoses (ICD-10-CM) and services (the clinic's fee schedule) become a
    FHIR Claim for the patient's Coverage, and its workflow starts;
  - the claims and their billing Tasks (the worklist), one claim with its history;
  - change a claim's coding, resubmit it (a replacement once the payer has it), void it;
  - the clearinghouse files (generated, outbox, processed, quarantine) and handing one in by hand;
  - reports; the clinic's claims settings.
Every call leaves one AuditEvent in the caller's trail, refusals included.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, TypeVar

from cairn.audit.audited import audited
from cairn.audit.events import AuditAction
from cairn.audit.trail import BaseAuditTrail
from cairn.billing.fee_schedule import BaseFeeSchedules
from cairn.claims.building import billed_encounter, claim_resource
from cairn.claims.clearinghouse import FOLDERS, BaseClearinghouse
from cairn.claims.coding import parse_coding
from cairn.claims.icd10 import Icd10Codes
from cairn.claims.ledger import BaseClaimsLedger
from cairn.claims.posting import PAYER_ID_SYSTEM
from cairn.claims.record import ClaimRecord, ClaimState
from cairn.claims.reports import claims_report
from cairn.claims.settings import ClaimsSettings, InvalidClaimsSettings
from cairn.claims.tasks import TASK_SYSTEM
from cairn.claims.workflow import SUBMIT, VOID
from cairn.clock import Clock, fhir_instant, utc_now
from cairn.errors import AccessDenied, CairnError, MalformedRequest, PayloadTooLarge, ResourceNotFound
from cairn.fhir.search import parse_search
from cairn.records.service import RecordService
from multitenant import permissions
from multitenant.context import Role, TenantContext
from multitenant.permissions import CLINIC_SETTINGS, Action

T = TypeVar("T")
SETTINGS_KEY = "claims"  # the clinic's claims settings, inside its settings item
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")
MAX_HANDED_IN_BYTES = 5 * 1024 * 1024
IN_FLIGHT = {ClaimState.CODED, ClaimState.SUBMITTED, ClaimState.ACCEPTED}  # no answer from the payer yet


class ClaimInFlight(CairnError):
    """The claim is not where the change can be made (on its way to the payer, or closed): 409."""


class EncounterBilled(CairnError):
    """The encounter has an active claim already: 409."""


def new_claim_number(claim_id: str) -> str:
    """The clinic-visible number of a claim: C and the first ten hex digits of its id."""
    return "C" + claim_id.replace("-", "")[:10].upper()


def _reference_id(raw: object, resource_type: str, name: str) -> str:
    text = raw if isinstance(raw, str) else ""
    resource_id = text.removeprefix(f"{resource_type}/")
    if not re.fullmatch(r"[A-Za-z0-9.-]{1,64}", resource_id):
        raise MalformedRequest(f'{name} must name the {resource_type}: "{resource_type}/<id>"')
    return resource_id


@dataclass(frozen=True)
class ClaimDeskPorts:
    """What the desk works through, for one caller."""

    records: RecordService
    audit: BaseAuditTrail
    ledger: BaseClaimsLedger
    clearinghouse: BaseClearinghouse
    fees: BaseFeeSchedules
    settings: Any  # get(tenant_id) / update(tenant_id, changes), as DynamoTenantSettings
    start: Callable[[str, str, int, str, dict[str, int]], str | None]  # ClaimWorkflow.start
    hand_in: Callable[[str, bytes], str]  # put a file in the clinic's inbox; its key
    icd10: Callable[[], Icd10Codes]
    clock: Clock = utc_now


class ClaimDesk:
    def __init__(self, context: TenantContext, ports: ClaimDeskPorts) -> None:
        self.context = context
        self._ports = ports
        self._records = ports.records
        self._ledger = ports.ledger

    # --- coding and the claim's lifecycle ---------------------------------------------------

    def code(self, raw: object) -> dict[str, Any]:
        """Code an encounter into a Claim (201) and start its workflow."""
        return self._audited(AuditAction.CREATE, "code", "Claim", None, lambda: self._code(raw))

    def _code(self, raw: object) -> dict[str, Any]:
        permissions.require(self.context, "Claim", Action.CREATE)
        if not isinstance(raw, Mapping):
            raise MalformedRequest(
                'send {"encounter": "Encounter/<id>", "diagnoses": ["E11.9"], '
                '"services": [{"code": "99213", "units": 1, "diagnoses": [1]}]}'
            )
        settings = self.claims_settings()
        missing = settings.missing()
        if missing:
            raise MalformedRequest(
                "the clinic's claims settings are incomplete: "
                + "; ".join(missing)
                + " (an admin sets them with PUT /claims/settings)"
            )
        encounter_id = _reference_id(raw.get("encounter"), "Encounter", "encounter")
        encounter = self._records.read("Encounter", encounter_id)
        patient = str((encounter.get("subject") or {}).get("reference", ""))
        if not patient.startswith("Patient/"):
            raise MalformedRequest("the encounter names no patient (Encounter.subject): it cannot be billed")
        coverage = self._coverage(raw.get("coverage"), patient)
        fees, _ = self._ports.fees.get()
        coding = parse_coding(
            {k: v for k, v in raw.items() if k not in ("encounter", "coverage")}, self._ports.icd10(), fees
        )
        billed = self._records.search(
            parse_search("Claim", {"encounter": [f"Encounter/{encounter_id}"], "status": ["active"]})
        ).resources
        if billed:
            raise EncounterBilled(
                f"Claim/{billed[0]['id']} already bills this encounter: change its coding "
                "(PUT /claims/{id}/coding) or void it first"
            )
        claim_id = str(uuid.uuid4())
        number = new_claim_number(claim_id)
        claim = claim_resource(
            encounter,
            coverage,
            coding,
            fees,
            settings.billing_organization,
            self._today(),
            claim_number=number,
        )
        claim["id"] = claim_id
        [written] = self._records.commit_owned("code", "Claim", claim_id, [(claim, None)])
        payer = (self._reference_resource(coverage.get("payor", [None])[0]) or {}) if coverage else {}
        payer_id = next(
            (
                str(i.get("value"))
                for i in payer.get("identifier") or ()
                if i.get("system") == PAYER_ID_SYSTEM
            ),
            "",
        )
        now = fhir_instant(self._ports.clock())
        record = ClaimRecord(
            claim_id=claim_id,
            claim_number=number,
            status=ClaimState.CODED,
            payer_id=payer_id,
            payer_name=str(payer.get("name", "")),
            charge_cents=round(float((written.get("total") or {}).get("value") or 0) * 100),
            created=now,
        ).with_event(now, "coded", f"{len(coding.diagnoses)} diagnoses, {len(coding.services)} services")
        self._ledger.write(record, None)
        return self._start(record, 1, SUBMIT, settings).as_view()

    def recode(self, claim_id: str, raw: object) -> dict[str, Any]:
        """Change the coding of a claim that is not on its way (then resubmit it)."""
        return self._audited(
            AuditAction.UPDATE, "coding", "Claim", claim_id, lambda: self._recode(claim_id, raw)
        )

    def _recode(self, claim_id: str, raw: object) -> dict[str, Any]:
        permissions.require(self.context, "Claim", Action.UPDATE)
        record = self._record(claim_id)
        if not record.status.resubmittable:
            raise ClaimInFlight(
                f"Claim/{claim_id} is {record.status}: its coding changes only after a failed scrub, a "
                "rejection, a denial or a stall",
            )
        if not isinstance(raw, Mapping):
            raise MalformedRequest('send {"diagnoses": [...], "services": [...]}')
        claim = self._records.read("Claim", claim_id)
        encounter = self._records.read("Encounter", billed_encounter(claim))
        coverage_ref = str(((claim.get("insurance") or [{}])[0].get("coverage") or {}).get("reference", ""))
        coverage = self._records.read("Coverage", coverage_ref.removeprefix("Coverage/"))
        fees, _ = self._ports.fees.get()
        coding = parse_coding(dict(raw), self._ports.icd10(), fees)
        settings = self.claims_settings()
        rebuilt = claim_resource(
            encounter, coverage, coding, fees, settings.billing_organization, self._today()
        )
        changed = {
            **rebuilt,
            "id": claim_id,
            "identifier": claim.get("identifier", []),
            "created": claim.get("created"),
        }
        self._records.commit_owned("coding", "Claim", claim_id, [(changed, claim)])
        total = round(float((changed.get("total") or {}).get("value") or 0) * 100)
        now = fhir_instant(self._ports.clock())
        stored = self._ledger.change(claim_id, lambda r: r.with_event(now, "recoded", "", charge_cents=total))
        return stored.as_view()

    def resubmit(self, claim_id: str) -> dict[str, Any]:
        """Send the claim again: an original if the payer never had it, else a replacement."""
        return self._audited(
            AuditAction.EXECUTE, "resubmit", "Claim", claim_id, lambda: self._resubmit(claim_id)
        )

    def _resubmit(self, claim_id: str) -> dict[str, Any]:
        permissions.require(self.context, "Claim", Action.UPDATE)
        record = self._record(claim_id)
        if not record.status.resubmittable:
            raise ClaimInFlight(
                f"Claim/{claim_id} is {record.status}: only a claim that failed its scrub, was rejected, "
                "denied or stalled is resubmitted",
            )
        return self._start(record, record.attempt + 1, SUBMIT, self.claims_settings()).as_view()

    def void(self, claim_id: str) -> dict[str, Any]:
        """Withdraw the claim: at once if the payer never had it, else by a void sent to the payer."""
        return self._audited(AuditAction.EXECUTE, "void", "Claim", claim_id, lambda: self._void(claim_id))

    def _void(self, claim_id: str) -> dict[str, Any]:
        permissions.require(self.context, "Claim", Action.UPDATE)
        record = self._record(claim_id)
        if record.status is ClaimState.VOIDED:
            return record.as_view()
        if record.status in IN_FLIGHT or record.status is ClaimState.ACKNOWLEDGED:
            raise ClaimInFlight(
                f"Claim/{claim_id} is {record.status}: wait for the payer's answer, then void it",
            )
        if record.payer_claim_number:
            return self._start(record, record.attempt + 1, VOID, self.claims_settings()).as_view()
        claim = self._records.read("Claim", claim_id)
        self._records.commit_owned("void", "Claim", claim_id, [({**claim, "status": "cancelled"}, claim)])
        now = fhir_instant(self._ports.clock())
        voided = self._ledger.change(
            claim_id,
            lambda r: r.with_event(
                now, "voided", "never sent to the payer", status=ClaimState.VOIDED, closed=now
            ),
        )
        return voided.as_view()

    # --- reading ------------------------------------------------------------------------------

    def claims(self, status: str | None = None) -> list[dict[str, Any]]:
        def read() -> list[dict[str, Any]]:
            self._staff(Action.SEARCH)
            wanted = _state(status) if status else None
            return [r.as_view() for r in self._ledger.records() if wanted is None or r.status is wanted]

        return self._audited(AuditAction.READ, "list", "Claim", None, read)

    def claim(self, claim_id: str) -> dict[str, Any]:
        def read() -> dict[str, Any]:
            self._staff(Action.READ)
            claim = self._records.read("Claim", claim_id)
            return {**self._record(claim_id).as_view(), "claim": claim}

        return self._audited(AuditAction.READ, "read", "Claim", claim_id, read)

    def worklist(self) -> list[dict[str, Any]]:
        """The open billing Tasks of claims, newest first."""

        def read() -> list[dict[str, Any]]:
            self._staff(Action.SEARCH)
            permissions.require(self.context, "Task", Action.SEARCH)
            found = self._records.search(
                parse_search(
                    "Task", {"code": [f"{TASK_SYSTEM}|"], "status": ["requested"], "_count": ["200"]}
                )
            ).resources
            tasks = [
                {
                    "task": f"Task/{task['id']}",
                    "claim": task.get("focus", {}).get("reference", ""),
                    "kind": task["code"]["coding"][0]["code"],
                    "title": task["code"].get("text", ""),
                    "priority": task.get("priority", "routine"),
                    "since": task.get("authoredOn", ""),
                    "reasons": [i.get("valueString", "") for i in task.get("input") or ()],
                }
                for task in found
            ]
            return sorted(tasks, key=lambda t: str(t["since"]), reverse=True)

        return self._audited(AuditAction.READ, "worklist", "Task", None, read)

    def report(self) -> dict[str, Any]:
        def read() -> dict[str, Any]:
            self._staff(Action.SEARCH)
            return claims_report(self._ledger.records(), self._today())

        return self._audited(AuditAction.READ, "report", "Claim", None, read)

    # --- clearinghouse files ----------------------------------------------------------------

    def files(self, folder: str) -> list[dict[str, Any]]:
        def read() -> list[dict[str, Any]]:
            self._staff(Action.SEARCH)
            self._folder(folder)
            return [
                {
                    "folder": f.folder,
                    "name": f.name,
                    "size": f.size,
                    "modified": f.modified,
                    "reasons": list(f.reasons),
                }
                for f in self._ports.clearinghouse.listing(folder)
            ]

        return self._audited(AuditAction.READ, "files", "Claim", None, read)

    def file(self, folder: str, name: str) -> bytes:
        def read() -> bytes:
            self._staff(Action.READ)
            self._folder(folder)
            if not FILE_NAME.match(name):
                raise MalformedRequest("a file name is letters, digits, '.', '_' or '-'")
            try:
                return self._ports.clearinghouse.read(folder, name)
            except KeyError:
                raise ResourceNotFound("ClearinghouseFile", name) from None

        return self._audited(AuditAction.READ, "file", "Claim", None, read)

    def hand_in(self, name: str, body: bytes) -> dict[str, Any]:
        """A 999, 277CA or 835 file handed in by hand: into the clinic's inbox, read like any other."""

        def put() -> dict[str, Any]:
            permissions.require(self.context, "Claim", Action.UPDATE)
            if not FILE_NAME.match(name):
                raise MalformedRequest(
                    "name the file with letters, digits, '.', '_' or '-' (e.g. 835-0001.txt)"
                )
            if not body:
                raise MalformedRequest("the file is empty: send the X12 file as the request body")
            if len(body) > MAX_HANDED_IN_BYTES:
                raise PayloadTooLarge(
                    f"a file handed in is at most {MAX_HANDED_IN_BYTES // (1024 * 1024)} MB"
                )
            return {"inbox": self._ports.hand_in(name, body), "name": name}

        return self._audited(AuditAction.CREATE, "hand-in", "Claim", None, put)

    # --- settings -----------------------------------------------------------------------------

    def claims_settings(self) -> ClaimsSettings:
        stored = (self._ports.settings.get(self.context.tenant_id) or {}).get(SETTINGS_KEY) or {}
        try:
            return ClaimsSettings.parse(stored)
        except InvalidClaimsSettings as invalid:
            raise MalformedRequest(
                f"the clinic's claims settings are unusable: {invalid}; an admin corrects them with PUT "
                "/claims/settings"
            ) from None

    def settings(self) -> dict[str, Any]:
        def read() -> dict[str, Any]:
            if self.context.role is Role.PATIENT:
                raise AccessDenied("claims settings are for the clinic's staff")
            if self.context.role is not Role.ADMIN:
                permissions.require(self.context, "Claim", Action.READ)
            return self.claims_settings().as_dict()

        return self._audited(AuditAction.READ, "read", CLINIC_SETTINGS, None, read)

    def change_settings(self, raw: object) -> dict[str, Any]:
        def change() -> dict[str, Any]:
            permissions.require(self.context, CLINIC_SETTINGS, Action.UPDATE)
            if not isinstance(raw, Mapping):
                raise MalformedRequest(
                    "send the claims settings as a JSON object (GET /claims/settings shows them)"
                )
            current = (self._ports.settings.get(self.context.tenant_id) or {}).get(SETTINGS_KEY) or {}
            merged = {**current, **raw}
            try:
                parsed = ClaimsSettings.parse(merged)
            except InvalidClaimsSettings as invalid:
                raise MalformedRequest(str(invalid)) from None
            self._ports.settings.update(self.context.tenant_id, {SETTINGS_KEY: parsed.as_dict()})
            return parsed.as_dict()

        return self._audited(AuditAction.UPDATE, "update", CLINIC_SETTINGS, None, change)

    # --- helpers ------------------------------------------------------------------------------

    def _today(self) -> date:
        return self._ports.clock().date()

    def _staff(self, action: Action) -> None:
        """The ledger's views are the clinic's: patients read their claims as FHIR Claims."""
        if self.context.role is Role.PATIENT:
            raise AccessDenied("patients read their own claims at /fhir/R4/Claim")
        permissions.require(self.context, "Claim", action)

    @staticmethod
    def _folder(folder: str) -> None:
        if folder not in FOLDERS:
            raise MalformedRequest(f"the clearinghouse folders are {', '.join(FOLDERS)}")

    def _record(self, claim_id: str) -> ClaimRecord:
        self._records.read("Claim", claim_id)  # not found in this clinic, or not the caller's to see
        return self._ledger.get(claim_id)

    def _coverage(self, raw: object, patient: str) -> dict[str, Any]:
        if raw is not None:
            coverage = self._records.read("Coverage", _reference_id(raw, "Coverage", "coverage"))
            if (coverage.get("beneficiary") or {}).get("reference") != patient:
                raise MalformedRequest("the coverage is not the encounter's patient's")
            return coverage
        found = self._records.search(
            parse_search("Coverage", {"beneficiary": [patient], "status": ["active"]})
        ).resources
        if not found:
            raise MalformedRequest(
                "the patient has no active Coverage: record their insurance first, or bill the patient "
                "(POST /billing/invoices)"
            )
        return found[0]

    def _reference_resource(self, reference: object) -> dict[str, Any] | None:
        text = str((reference or {}).get("reference", "")) if isinstance(reference, Mapping) else ""
        resource_type, _, resource_id = text.partition("/")
        return self._records.read(resource_type, resource_id) if resource_type and resource_id else None

    def _start(self, record: ClaimRecord, attempt: int, mode: str, settings: ClaimsSettings) -> ClaimRecord:
        """Start the claim's workflow for `attempt`; the claim as stored with the start recorded."""
        timeouts = {
            "acknowledgement": settings.acknowledgement_hours * 3600,
            "remittance": settings.remittance_days * 86400,
        }
        now = fhir_instant(self._ports.clock())
        execution = self._ports.start(self.context.tenant_id, record.claim_id, attempt, mode, timeouts)
        return self._ledger.change(
            record.claim_id,
            lambda r: (
                replace(r, execution=execution or r.execution).with_event(
                    now, "workflow started", f"attempt {attempt} ({mode})"
                )
                if execution
                else r
            ),
        )

    def _audited(
        self,
        action: AuditAction,
        subtype: str,
        entity_type: str,
        entity_id: str | None,
        operation: Callable[[], T],
    ) -> T:
        return audited(self._ports.audit, action, subtype, entity_type, entity_id, operation)


def _state(raw: str) -> ClaimState:
    try:
        return ClaimState(raw)
    except ValueError:
        raise MalformedRequest(f"status is one of {', '.join(s.value for s in ClaimState)}") from None
