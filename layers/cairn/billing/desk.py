"""The billing desk: a clinic's billing as one verified caller uses it (the billing API).

Fee schedule (admins set it, billing staff read it), invoices charged from an encounter, their
view and PDF, paying one through Stripe Checkout on the clinic's connected account (the patient
themself or the front desk), refunds, the clinic's connected account, and the billing notices.
Invoices and encounters are read and written through the caller's record service (permission
table, patient compartment, audit); everything else leaves its own AuditEvent with its outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, TypeVar

from cairn.audit.audited import audited
from cairn.audit.events import AuditAction
from cairn.audit.trail import BaseAuditTrail
from cairn.billing.accounts import BaseBillingAccounts, Notice
from cairn.billing.fee_schedule import BaseFeeSchedules, FeeSchedule
from cairn.billing.gateway import CheckoutSession, StripeGateway
from cairn.billing.invoices import (
    ENCOUNTER_SYSTEM,
    InvoiceView,
    build_invoice,
    parse_charges,
    view,
)
from cairn.billing.pdf import Line, render
from cairn.clock import Clock, utc_now
from cairn.errors import CairnError, MalformedRequest
from cairn.fhir.search import parse_search
from cairn.records.service import RecordService
from multitenant import permissions
from multitenant.context import Role, TenantContext
from multitenant.permissions import CLINIC_SETTINGS, FEE_SCHEDULE, Action

T = TypeVar("T")
STATUSES = ("due", "overdue", "paid", "cancelled")
MAX_LISTED = 100


class NoConnectedAccount(CairnError):
    """The clinic has not connected a Stripe account, so patients cannot pay online yet."""


class NothingDue(CairnError):
    """The invoice is paid (or cancelled): there is nothing to pay or refund."""


def _reference_id(value: object, resource_type: str) -> str:
    text = str(value or "")
    if not text.startswith(f"{resource_type}/") or len(text) == len(resource_type) + 1:
        raise MalformedRequest(f'name the {resource_type.lower()} as "{resource_type}/<id>"')
    return text.removeprefix(f"{resource_type}/")


class BillingDesk:
    """One caller's billing (the clinic comes from the caller's verified context only)."""

    def __init__(
        self,
        context: TenantContext,
        records: RecordService,
        fee_schedules: BaseFeeSchedules,
        audit: BaseAuditTrail,
        accounts: BaseBillingAccounts,
        gateway: Callable[[], StripeGateway],
        clinic_name: str,
        return_url: str,
        clock: Clock = utc_now,
        admin_email: str | None = None,
    ) -> None:
        self.context = context
        self._records = records
        self._fees = fee_schedules
        self._audit = audit
        self._accounts = accounts
        self._gateway = gateway
        self._clinic_name = clinic_name
        self._return_url = return_url
        self._clock = clock
        self._admin_email = admin_email  # the clinic's first admin: the connected account's contact

    def _audited(
        self,
        action: AuditAction,
        subtype: str,
        entity_type: str,
        entity_id: str | None,
        operation: Callable[[], T],
    ) -> T:
        """Run `operation` and leave one AuditEvent with its outcome (error types, never values)."""
        return audited(self._audit, action, subtype, entity_type, entity_id, operation)

    def _today(self) -> date:
        return self._clock().date()

    # --- the fee schedule ----------------------------------------------------------------------
    def fee_schedule(self) -> FeeSchedule:
        def read() -> FeeSchedule:
            permissions.require(self.context, FEE_SCHEDULE, Action.READ)
            return self._fees.get()[0]

        return self._audited(AuditAction.READ, "read", FEE_SCHEDULE, None, read)

    def set_fee_schedule(self, raw: object) -> FeeSchedule:
        def save() -> FeeSchedule:
            permissions.require(self.context, FEE_SCHEDULE, Action.UPDATE)
            schedule = FeeSchedule.parse(raw)
            _, read = self._fees.get()
            self._fees.save(schedule, read)
            return schedule

        return self._audited(AuditAction.UPDATE, "update", FEE_SCHEDULE, None, save)

    # --- invoices ---------------------------------------------------------------------------------
    def bill_encounter(self, raw: Mapping[str, Any]) -> tuple[InvoiceView, bool]:
        """Charge `raw["charges"]` of `raw["encounter"]`: (the invoice, whether this call made it).
        One invoice per encounter: billing it again answers the one it has."""
        encounter_id = _reference_id(raw.get("encounter"), "Encounter")
        charges = parse_charges(raw.get("charges"))
        # The record service authorizes (and audits) the encounter's read and the invoice's create.
        encounter = self._records.read("Encounter", encounter_id)
        schedule, _ = self._fees.get()
        invoice = build_invoice(encounter, schedule, charges, self._today())
        written = self._records.create(
            "Invoice", invoice, if_none_exist=f"identifier={ENCOUNTER_SYSTEM}|{encounter_id}"
        )
        return view(written.resource, self._today()), written.created

    def invoices(self, status: str | None = None, patient: str | None = None) -> list[InvoiceView]:
        """The caller's invoices (a patient's own; staff: the clinic's, or one patient's), newest first."""
        if status is not None and status not in STATUSES:
            raise MalformedRequest(f"status is one of {', '.join(STATUSES)}")
        params: dict[str, list[str]] = {"_count": [str(MAX_LISTED)]}
        if patient:
            params["subject"] = [
                f"Patient/{_reference_id(patient if '/' in patient else f'Patient/{patient}', 'Patient')}"
            ]
        found = self._records.search(parse_search("Invoice", params)).resources
        views = [view(invoice, self._today()) for invoice in found]
        return [v for v in views if status is None or v.status == status]

    def invoice(self, invoice_id: str) -> InvoiceView:
        return view(self._records.read("Invoice", invoice_id), self._today())

    def invoice_pdf(self, invoice_id: str) -> bytes:
        """The invoice as a printable PDF (reading it is audited as a read)."""
        shown = self.invoice(invoice_id)
        return render(invoice_lines(shown, self._clinic_name), f"{self._clinic_name} invoice {shown.number}")

    def checkout(self, invoice_id: str) -> CheckoutSession:
        """A Stripe Checkout session for what is due, on the clinic's connected account."""
        shown = self.invoice(invoice_id)

        def open_session() -> CheckoutSession:
            account = self._accounts.account_of(self.context.tenant_id)
            if account is None:
                raise NoConnectedAccount(
                    "this clinic takes no online payments yet: its admin connects a Stripe "
                    "account with POST /billing/connect"
                )
            if shown.amount_due_cents <= 0:
                raise NothingDue(f"invoice {shown.number} is {shown.status}: nothing is due")
            return self._gateway().invoice_checkout(
                account=account,
                tenant_id=self.context.tenant_id,
                invoice_id=invoice_id,
                amount_cents=shown.amount_due_cents,
                description=f"{self._clinic_name} invoice {shown.number}",
                attempt=len(shown.payments) + len(shown.refunds) + 1,
                success_url=f"{self._return_url}/invoices/{invoice_id}?paid=1",
                cancel_url=f"{self._return_url}/invoices/{invoice_id}",
            )

        return self._audited(AuditAction.EXECUTE, "checkout", "Invoice", invoice_id, open_session)

    def refund(self, invoice_id: str, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Refund all or part of one payment ({"payment": "pi_...", "amount": dollars?}); the refund
        is posted on the invoice when Stripe reports it (charge.refunded). Refusals are audited too."""
        return self._audited(
            AuditAction.EXECUTE, "refund", "Invoice", invoice_id, lambda: self._refund(invoice_id, raw)
        )

    def _refund(self, invoice_id: str, raw: Mapping[str, Any]) -> dict[str, Any]:
        permissions.require(self.context, "Invoice", Action.UPDATE)
        shown = self.invoice(invoice_id)
        payment = next((p for p in shown.payments if p.stripe_id == raw.get("payment")), None)
        if payment is None:
            paid = ", ".join(p.stripe_id for p in shown.payments) or "none"
            raise MalformedRequest(f"payment must be one of this invoice's payments ({paid})")
        left = payment.amount_cents - sum(
            r.amount_cents for r in shown.refunds if r.payment == payment.stripe_id
        )
        amount = raw.get("amount")
        if amount is None:
            wanted = left
        elif isinstance(amount, int | float) and not isinstance(amount, bool):
            wanted = round(float(amount) * 100)
        else:
            wanted = -1
        if left <= 0:
            raise NothingDue(f"payment {payment.stripe_id} is refunded in full already")
        if not 0 < wanted <= left:
            raise MalformedRequest(f"amount must be more than 0 and at most {left / 100:.2f}")
        account = self._accounts.account_of(self.context.tenant_id)
        if account is None:
            raise NoConnectedAccount("this clinic has no connected Stripe account to refund from")
        made = self._gateway().refund(
            account=account,
            payment_intent=payment.stripe_id,
            amount_cents=wanted,
            reference=f"{invoice_id}-{payment.stripe_id}-{wanted}-{len(shown.refunds)}",
        )
        return {"refund": made.refund_id, "status": made.status, "amount": made.amount_cents / 100}

    # --- the clinic's Stripe side ----------------------------------------------------------------
    def connect(self) -> dict[str, str]:
        """The clinic's connected account for patient payments (made once), and where its admin
        finishes onboarding with Stripe."""

        def connect() -> dict[str, str]:
            permissions.require(self.context, CLINIC_SETTINGS, Action.UPDATE)
            gateway = self._gateway()
            account = self._accounts.account_of(self.context.tenant_id)
            if account is None:
                account = gateway.connected_account(tenant_id=self.context.tenant_id, email=self._admin_email)
                self._accounts.link("account", account, self.context.tenant_id)
            link = gateway.account_onboarding_link(
                account,
                refresh_url=f"{self._return_url}/connect",
                return_url=f"{self._return_url}/connect/done",
            )
            return {"account": account, "onboarding_url": link}

        return self._audited(AuditAction.UPDATE, "connect", CLINIC_SETTINGS, None, connect)

    def notices(self) -> list[Notice]:
        """What billing told the clinic's admins (payment failed, suspended, ...), newest first."""

        def read() -> list[Notice]:
            permissions.require(self.context, CLINIC_SETTINGS, Action.READ)
            return self._accounts.notices(self.context.tenant_id)

        return self._audited(AuditAction.READ, "billing-notices", CLINIC_SETTINGS, None, read)

    @property
    def is_patient(self) -> bool:
        return self.context.role is Role.PATIENT


def invoice_lines(shown: InvoiceView, clinic_name: str) -> list[Line]:
    """The invoice's printed lines: clinic, number, status, visit, charges, payments, what is due."""
    lines = [
        Line(clinic_name, bold=True, size=16),
        Line(""),
        Line(f"Invoice {shown.number}", bold=True, size=13),
        Line(f"Status: {shown.status.upper()}"),
        Line(f"Visit date: {shown.date}"),
        Line(f"Visit type: {shown.visit_type or '-'}"),
        Line(f"Physician: {shown.physician or '-'}"),
        Line(f"Patient: {shown.patient}"),
        Line(f"Due date: {shown.due_date}"),
        Line(""),
        Line("Charges", bold=True),
    ]
    lines += [
        Line(f"  {line['code']}  {line['display']}  x{line['quantity']}  ${line['amount']:,.2f}")
        for line in shown.lines
    ]
    lines.append(Line(f"Total: ${shown.total_cents / 100:,.2f}", bold=True))
    if shown.payments or shown.refunds:
        lines += [Line(""), Line("Payments and refunds", bold=True)]
        lines += [
            Line(f"  Paid ${p.amount_cents / 100:,.2f} on {p.at[:10]} (receipt {p.receipt})")
            for p in shown.payments
        ]
        lines += [
            Line(f"  Refunded ${r.amount_cents / 100:,.2f} on {r.at[:10]} (receipt {r.receipt})")
            for r in shown.refunds
        ]
    lines += [Line(""), Line(f"Amount due: ${shown.amount_due_cents / 100:,.2f}", bold=True, size=12)]
    return lines
