"""Property-based: no key built for tenant A is, or falls under a key prefix of, tenant B.

Every key builder (clinical items, versions, search index entries, the type index, the keyring,
audit events and their day index, S3 object prefixes) is exercised over arbitrary valid tenant
ids and arbitrary resource ids, including ids that carry the "#" and "/" separators themselves.
The leading-key pattern of B's session policy (multitenant/credentials.py) must match none of A's
partition keys, and every one of A's own.
"""

from __future__ import annotations

import fnmatch
from datetime import UTC, datetime
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cairn.audit.events import AuditAction, AuditEvent, AuditOutcome
from cairn.audit.trail import DynamoAuditTrail
from cairn.crypto.keyring import keyring_pk
from cairn.imports import tenant_prefix
from cairn.records import keys
from multitenant.context import TENANT_ID_PATTERN, Role, TenantContext
from multitenant.credentials import DOCUMENTS_PREFIX, leading_key_pattern

tenant_ids = st.from_regex(TENANT_ID_PATTERN, fullmatch=True)
# Resource ids and search tokens as an attacker might choose them: separators included.
ids = st.text(alphabet=st.sampled_from("ab-9#/*?:.x"), min_size=0, max_size=20) | st.text(max_size=12)
resource_types = st.sampled_from(["Patient", "Observation", "idx", "keyring", "Patient#x"])


class CapturingDynamo:
    """Records the items an audit trail puts."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def put_item(self, **request: Any) -> None:
        self.items.append(request["Item"])


def _audit_keys(tenant: str, entity_type: str, entity_id: str | None) -> list[str]:
    dynamo = CapturingDynamo()
    trail = DynamoAuditTrail(TenantContext(tenant, "u1", Role.PHYSICIAN), dynamo, "audit",
                             clock=lambda: datetime(2026, 11, 22, tzinfo=UTC))
    trail.record(AuditEvent(AuditAction.READ, "read", AuditOutcome.SUCCESS, entity_type, entity_id))
    (item,) = dynamo.items
    return [item["pk"]["S"], item["day_key"]["S"]]


def _partition_keys(tenant: str, resource_type: str, resource_id: str, token: str) -> list[str]:
    return [
        keys.resource_pk(tenant, resource_type, resource_id),
        keys.index_pk(tenant, resource_type, resource_id, token),
        keys.type_key(tenant, resource_type),
        keyring_pk(tenant),
        *_audit_keys(tenant, resource_type, resource_id or None),
    ]


def _s3_prefixes(tenant: str) -> list[str]:
    return [tenant_prefix(tenant), DOCUMENTS_PREFIX.format(tenant=tenant)]


@settings(max_examples=300, deadline=None)
@given(tenant_a=tenant_ids, tenant_b=tenant_ids, resource_type=resource_types, resource_id=ids, token=ids)
def test_no_partition_key_of_one_tenant_falls_under_another(
    tenant_a: str, tenant_b: str, resource_type: str, resource_id: str, token: str
) -> None:
    assume(tenant_a != tenant_b)
    built_for_a = _partition_keys(tenant_a, resource_type, resource_id, token)
    b_prefix = TenantContext(tenant_b, "u", Role.ADMIN).key_prefix

    for key in built_for_a:
        assert not key.startswith(b_prefix)
        assert not fnmatch.fnmatchcase(key, leading_key_pattern(tenant_b))
        assert fnmatch.fnmatchcase(key, leading_key_pattern(tenant_a))
    assert not set(built_for_a) & set(_partition_keys(tenant_b, resource_type, resource_id, token))


@settings(max_examples=300, deadline=None)
@given(tenant_a=tenant_ids, tenant_b=tenant_ids, object_name=ids)
def test_no_object_key_of_one_tenant_falls_under_another_prefix(
    tenant_a: str, tenant_b: str, object_name: str
) -> None:
    assume(tenant_a != tenant_b)

    for prefix_a in _s3_prefixes(tenant_a):
        key = prefix_a + object_name
        for prefix_b in _s3_prefixes(tenant_b):
            assert not key.startswith(prefix_b)
            assert not fnmatch.fnmatchcase(key, prefix_b + "*")


@given(tenant=tenant_ids, resource_type=resource_types, resource_id=ids, token=ids)
def test_every_partition_key_starts_with_its_own_tenant_prefix(
    tenant: str, resource_type: str, resource_id: str, token: str
) -> None:
    prefix = TenantContext(tenant, "u", Role.ADMIN).key_prefix

    for key in _partition_keys(tenant, resource_type, resource_id, token):
        assert key.startswith(prefix)
