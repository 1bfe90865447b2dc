"""Patient payments reported by Stripe on a clinic's connected account, posted onto the invoice.

Events of a connected account are placed by their account alone (the account -> clinic map that
`BillingDesk.connect` made), never by metadata, which a connected account could write; the
invoice id in the payment's metadata is then only looked up inside that clinic. A payment is
reported twice (checkout.session.completed and payment_intent.succeeded) and posted once, by its
PaymentIntent id; a refund once by its refund id. The posting is a conditional update of the
Invoice (If-Match), so two deliveries racing cannot both post.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cairn.billing.accounts import BaseBillingAccounts
from cairn.billing.gateway import INVOICE_METADATA_KEY
from cairn.billing.invoices import with_payment, with_refund
from cairn.billing.webhooks import StripeEvent
from cairn.clock import Clock, fhir_instant, utc_now
from cairn.errors import ResourceNotFound
from cairn.records.service import RecordService

ACTOR = "billing-payments"


class PatientPayments:
    """Posts connected-account payments and refunds through a clinic's record service (system)."""

    def __init__(
        self,
        accounts: BaseBillingAccounts,
        records_for: Callable[[str], RecordService],
        clock: Clock = utc_now,
    ) -> None:
        self._accounts = accounts
        self._records_for = records_for
        self._clock = clock

    def _place(self, event: StripeEvent, obj: Mapping[str, Any]) -> tuple[str, str] | str:
        """(tenant, invoice id), or the outcome saying why the event cannot be placed."""
        tenant = self._accounts.tenant_for("account", event.account or "")
        if tenant is None:
            return f"account {event.account} belongs to no clinic: kept, not posted"
        invoice_id = (obj.get("metadata") or {}).get(INVOICE_METADATA_KEY)
        if not isinstance(invoice_id, str) or not invoice_id:
            return f"{tenant}: the payment names no Cairn invoice: kept, not posted"
        return tenant, invoice_id

    def _post(
        self,
        tenant: str,
        invoice_id: str,
        change: Callable[[dict[str, Any]], dict[str, Any] | None],
        what: str,
    ) -> str:
        records = self._records_for(tenant)
        try:
            invoice = records.read("Invoice", invoice_id)
        except ResourceNotFound:
            return f"{tenant}: invoice {invoice_id} is not the clinic's: kept, not posted"
        changed = change(invoice)
        if changed is None:
            return f"{tenant}: {what} already posted on invoice {invoice_id}"
        records.update("Invoice", invoice_id, changed, if_match=f'W/"{invoice["meta"]["versionId"]}"')
        return f"{tenant}: {what} posted on invoice {invoice_id} ({changed['status']})"

    def _paid(self, event: StripeEvent, intent: str, amount: int, obj: Mapping[str, Any]) -> str:
        placed = self._place(event, obj)
        if isinstance(placed, str):
            return placed
        at = fhir_instant(self._clock())
        return self._post(
            *placed, lambda invoice: with_payment(invoice, intent, amount, at), f"payment {intent}"
        )

    def checkout_completed(self, event: StripeEvent) -> str:
        """checkout.session.completed (payment mode) on a connected account."""
        session = event.object
        if session.get("mode") != "payment" or session.get("payment_status") != "paid":
            return f"session {event.object_id} is not a completed payment: nothing posted"
        intent = str(session.get("payment_intent") or "")
        metadata = {"metadata": session.get("metadata") or {}}
        return self._paid(event, intent, int(session.get("amount_total") or 0), metadata)

    def payment_succeeded(self, event: StripeEvent) -> str:
        """payment_intent.succeeded on a connected account."""
        intent = event.object
        return self._paid(event, event.object_id, int(intent.get("amount_received") or 0), intent)

    def refunded(self, event: StripeEvent) -> str:
        """charge.refunded: each of the charge's refunds posted once."""
        charge = event.object
        placed = self._place(event, charge)
        if isinstance(placed, str):
            return placed
        at = fhir_instant(self._clock())
        intent = str(charge.get("payment_intent") or "")
        outcomes = [
            self._post(
                *placed,
                _refund_posting(str(refund.get("id")), intent, int(refund.get("amount") or 0), at),
                f"refund {refund.get('id')}",
            )
            for refund in (charge.get("refunds") or {}).get("data") or ()
        ]
        return "; ".join(outcomes) or f"charge {event.object_id} lists no refund"


def _refund_posting(
    refund_id: str, intent: str, amount: int, at: str
) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    def change(invoice: dict[str, Any]) -> dict[str, Any] | None:
        return with_refund(invoice, refund_id, intent, amount, at)

    return change
