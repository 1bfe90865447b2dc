"""The billing table (control plane): Stripe events as received, subscriptions, the maps from
Stripe's customer and connected-account ids to tenants, pending signups, subscription invoices
and the notices sent to clinic admins. Declared once here; CDK and the embedded provisioner
derive the table from this model (infra/declarations.py TABLES)."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model


class EventsByStatus(GlobalSecondaryIndex["BillingItem"]):
    """Events by their status, oldest first: what failed or was ignored, for a person to see."""

    class Meta:
        index_name = "by_status"
        projection = AllProjection()

    status_key = UnicodeAttribute(hash_key=True)  # "event-status#<received|processed|failed|ignored>"
    status_sort = UnicodeAttribute(range_key=True)  # "<received instant>#<event id>"


class BillingItem(Model):
    """One billing record. `body` is JSON without personal data; `sealed` is AES-GCM ciphertext
    under `key_owner`'s data key (the tenant's, or the platform's where no tenant is known)."""

    class Meta:
        table_name = "cairn-billing"

    pk = UnicodeAttribute(hash_key=True)  # "event#<evt>", "subscription#<tenant>", "customer#<cus>", ...
    sk = UnicodeAttribute(range_key=True)
    tenant_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)
    body = UnicodeAttribute(null=True)
    sealed = UnicodeAttribute(null=True)
    key_owner = UnicodeAttribute(null=True)
    version = NumberAttribute(null=True)
    lease_until = NumberAttribute(null=True)  # events: a delivery being handled holds it until then
    attempts = NumberAttribute(null=True)
    outcome = UnicodeAttribute(null=True)  # events: what handling did, without personal data
    error = UnicodeAttribute(null=True)  # events: the error type of the last failed attempt
    status_key = UnicodeAttribute(null=True)
    status_sort = UnicodeAttribute(null=True)
    by_status = EventsByStatus()
