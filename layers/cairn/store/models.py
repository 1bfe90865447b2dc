"""PynamoDB models: the key schema and indexes of every Cairn table, declared once.

The CDK app derives the tables from these models, the embedded runtime creates them from
these models, and the repositories serialize items through them. Calls to DynamoDB go through
the injected client from `cairn.aws` (never PynamoDB's own connection), so that per-tenant
credentials and call counting work for every request.

Every partition key of tenant data starts with "<tenant id>#".
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model


class ResourcesByType(GlobalSecondaryIndex["ClinicalItem"]):
    """Current versions of one resource type in one tenant, newest change last."""

    class Meta:
        index_name = "by_type"
        projection = KeysOnlyProjection()

    type_key = UnicodeAttribute(hash_key=True)  # "<tenant>#<ResourceType>"
    type_sort = UnicodeAttribute(range_key=True)  # "<lastUpdated>#<id>"


class VersionsByType(GlobalSecondaryIndex["ClinicalItem"]):
    """Every version of one resource type in one tenant, by time of change (type history)."""

    class Meta:
        index_name = "history_by_type"
        projection = KeysOnlyProjection()

    history_key = UnicodeAttribute(hash_key=True)  # "<tenant>#<ResourceType>"
    history_sort = UnicodeAttribute(range_key=True)  # "<lastUpdated>#<id>#<version>"


class ClinicalItem(Model):
    """One item of the clinical table.

    Item kinds, by sort key:
      - "current": the latest version of a resource (pk "<tenant>#<Type>#<id>")
      - "v<000000001>": every version ever written (history, vread)
      - "<order>#<id>" under "<tenant>#idx#..." or "<tenant>#date#...": search index entries
        (cairn.records.keys)
      - "data-key#<n>" under pk "<tenant>#keyring": the tenant's wrapped data keys
    """

    class Meta:
        table_name = "cairn-clinical"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    resource_type = UnicodeAttribute(null=True)
    resource_id = UnicodeAttribute(null=True)
    version_id = NumberAttribute(null=True)
    last_updated = UnicodeAttribute(null=True)
    deleted = BooleanAttribute(null=True)
    body = UnicodeAttribute(null=True)  # the resource without its PHI fields, as JSON
    phi = MapAttribute[str, str](null=True)  # PHI field name -> AES-GCM ciphertext (base64)
    wrapped_key = UnicodeAttribute(null=True)  # keyring items: KMS-wrapped data key (base64)
    type_key = UnicodeAttribute(null=True)
    type_sort = UnicodeAttribute(null=True)
    history_key = UnicodeAttribute(null=True)
    history_sort = UnicodeAttribute(null=True)
    by_type = ResourcesByType()
    history_by_type = VersionsByType()


class AuditByDay(GlobalSecondaryIndex["AuditItem"]):
    """A tenant's audit events for one UTC day, in order."""

    class Meta:
        index_name = "by_day"
        projection = AllProjection()

    day_key = UnicodeAttribute(hash_key=True)  # "<tenant>#<YYYY-MM-DD>"
    sk = UnicodeAttribute(range_key=True)


class AuditItem(Model):
    """One AuditEvent: append-only, never PHI (ids and parameter names, not values)."""

    class Meta:
        table_name = "cairn-audit"

    pk = UnicodeAttribute(hash_key=True)  # "<tenant>#<entity>", e.g. "acme#Patient/123"
    sk = UnicodeAttribute(range_key=True)  # "<recorded ISO time>#<event id>"
    day_key = UnicodeAttribute()
    event_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    recorded = UnicodeAttribute()
    action = UnicodeAttribute()  # FHIR AuditEvent.action: C R U D E
    subtype = UnicodeAttribute()  # create, read, vread, search-type, ...
    outcome = UnicodeAttribute()  # FHIR AuditEvent.outcome: 0 4 8 12
    agent_user = UnicodeAttribute()
    agent_role = UnicodeAttribute()
    entity_type = UnicodeAttribute()
    entity_id = UnicodeAttribute(null=True)
    detail = UnicodeAttribute(null=True)  # e.g. search parameter names, denial reason code
    by_day = AuditByDay()


class TenantItem(Model):
    """The tenant registry (control plane): one item per clinic."""

    class Meta:
        table_name = "cairn-tenants"

    tenant_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    status = UnicodeAttribute()  # multitenant.lifecycle.TenantStatus
    tier = UnicodeAttribute()  # multitenant.tiers.Tier
    created = UnicodeAttribute()
    # Added with the tenancy control plane (null for items written before it).
    updated = UnicodeAttribute(null=True)
    admin_email = UnicodeAttribute(null=True)  # the first admin's invitation address (not PHI)
    onboarding_request_id = UnicodeAttribute(null=True)  # makes re-running onboarding idempotent
    version = NumberAttribute(null=True)  # optimistic concurrency on status changes
    status_reason = UnicodeAttribute(null=True)  # why the last transition happened
    seats = NumberAttribute(null=True)  # provider seats the subscription pays for (billing); null: the tier's


TABLE_MODELS: tuple[type[Model], ...] = (ClinicalItem, AuditItem, TenantItem)
