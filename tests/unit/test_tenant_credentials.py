"""Tenant-scoped credentials: the session policy narrows the role to one tenant, and sessions are
cached per tenant until shortly before they expire (moto enforces no IAM condition, so the
policy documents themselves are what is tested here)."""

from __future__ import annotations

import fnmatch
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cairn.aws import AwsClients, AwsSettings
from multitenant.credentials import (
    REFRESH_MARGIN,
    SESSION_POLICY_MAX_CHARS,
    TenantClients,
    TenantCredentials,
    TenantCredentialsError,
    TenantDataScope,
    session_policy,
    session_policy_json,
)

ROLE = "arn:aws:iam::123456789012:role/cairn-dev-tenant-data"
SCOPE = TenantDataScope("cairn-dev-clinical", "cairn-dev-audit",
                        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                        "cairn-dev-documents-123456789012")
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


class FakeSts:
    """AssumeRole that issues numbered sessions valid for an hour from the fake clock."""

    def __init__(self, clock: Clock) -> None:
        self.calls: list[dict[str, Any]] = []
        self._clock = clock

    def assume_role(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        n = len(self.calls)
        expiration = self._clock.now + timedelta(seconds=request["DurationSeconds"])
        return {"Credentials": {"AccessKeyId": f"ASIA{n}", "SecretAccessKey": f"secret{n}",
                                "SessionToken": f"token{n}", "Expiration": expiration}}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def _statement(policy: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in policy["Statement"] if s["Sid"] == sid)


def _string_like(pattern: str, value: str) -> bool:
    """IAM StringLike: * and ? wildcards, case-sensitive."""
    return fnmatch.fnmatchcase(value, pattern)


def test_dynamodb_statements_allow_only_leading_keys_of_the_tenant() -> None:
    policy = session_policy("demo-clinic", SCOPE)

    for sid in ("ClinicalItemsOfTheTenant", "AuditEventsOfTheTenant"):
        condition = _statement(policy, sid)["Condition"]
        assert condition == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["demo-clinic#*"]}}
    (pattern,) = _statement(policy, "ClinicalItemsOfTheTenant")["Condition"]["ForAllValues:StringLike"][
        "dynamodb:LeadingKeys"]
    assert _string_like(pattern, "demo-clinic#Patient#p1")
    assert _string_like(pattern, "demo-clinic#keyring")
    assert not _string_like(pattern, "demo-clinic-2#Patient#p1")
    assert not _string_like(pattern, "demo#Patient#p1")


def test_the_audit_trail_may_only_be_appended_to_and_queried() -> None:
    audit = _statement(session_policy("demo-clinic", SCOPE), "AuditEventsOfTheTenant")

    # Queries serve AuditEvent reads; nothing may update or delete an event.
    assert audit["Action"] == ["dynamodb:PutItem", "dynamodb:Query"]
    assert audit["Resource"] == ["arn:aws:dynamodb:*:*:table/cairn-dev-audit",
                                 "arn:aws:dynamodb:*:*:table/cairn-dev-audit/index/*"]


def test_no_statement_allows_a_scan_which_names_no_partition_key() -> None:
    actions = [a for s in session_policy("demo-clinic", SCOPE)["Statement"] for a in s["Action"]]

    assert "dynamodb:Scan" not in actions
    assert not [a for a in actions if a.endswith("*")]


def test_data_key_needs_the_tenant_in_the_encryption_context() -> None:
    key = _statement(session_policy("demo-clinic", SCOPE), "DataKeyOfTheTenant")

    assert key["Resource"] == SCOPE.data_key_id
    assert key["Condition"] == {"StringEquals": {"kms:EncryptionContext:tenant_id": "demo-clinic"}}


def test_documents_only_under_the_tenant_prefix() -> None:
    policy = session_policy("demo-clinic", SCOPE)

    objects = _statement(policy, "DocumentsOfTheTenant")["Resource"]
    assert objects == "arn:aws:s3:::cairn-dev-documents-123456789012/tenants/demo-clinic/*"
    assert not _string_like(objects, "arn:aws:s3:::cairn-dev-documents-123456789012/tenants/demo-clinic-2/a")
    listing = _statement(policy, "ListTheTenantsDocuments")["Condition"]
    assert listing == {"StringLike": {"s3:prefix": ["tenants/demo-clinic/*"]}}


def test_without_a_documents_bucket_no_s3_statement_is_issued() -> None:
    scope = TenantDataScope("c", "a", "alias/cairn-data")

    policy = session_policy("demo-clinic", scope)

    assert not [s for s in policy["Statement"] if any(a.startswith("s3:") for a in s["Action"])]
    assert _statement(policy, "DataKeyOfTheTenant")["Resource"] == "*"  # an alias: the role names the key


def test_the_longest_tenant_id_fits_aws_session_policy_size() -> None:
    text = session_policy_json("t" * 63, SCOPE)

    assert len(text) <= SESSION_POLICY_MAX_CHARS
    assert json.loads(text) == session_policy("t" * 63, SCOPE)


def test_an_oversized_policy_is_refused_with_what_to_fix() -> None:
    scope = TenantDataScope("c" * 900, "a" * 900, "k")

    with pytest.raises(TenantCredentialsError, match="shorten the table or bucket names"):
        session_policy_json("demo-clinic", scope)


def test_credentials_are_assumed_once_per_tenant_and_reused_while_fresh() -> None:
    clock = Clock()
    sts = FakeSts(clock)
    credentials = TenantCredentials(sts, ROLE, SCOPE, clock)

    first = credentials.for_tenant("demo-clinic")
    again = credentials.for_tenant("demo-clinic")
    other = credentials.for_tenant("second-clinic")

    assert first is again
    assert other != first
    assert [(c["RoleArn"], c["RoleSessionName"]) for c in sts.calls] == [
        (ROLE, "demo-clinic"), (ROLE, "second-clinic")]
    assert json.loads(sts.calls[1]["Policy"]) == session_policy("second-clinic", SCOPE)


def test_credentials_are_replaced_shortly_before_they_expire() -> None:
    clock = Clock()
    sts = FakeSts(clock)
    credentials = TenantCredentials(sts, ROLE, SCOPE, clock)
    first = credentials.for_tenant("demo-clinic")

    clock.now = first.expiration - REFRESH_MARGIN - timedelta(seconds=1)
    assert credentials.for_tenant("demo-clinic") is first
    clock.now = first.expiration - REFRESH_MARGIN
    replaced = credentials.for_tenant("demo-clinic")

    assert replaced.access_key_id != first.access_key_id
    assert len(sts.calls) == 2


def test_the_cache_key_holds_role_tenant_policy_version_and_scope() -> None:
    clock = Clock()
    one = TenantCredentials(FakeSts(clock), ROLE, SCOPE, clock)
    other_role = TenantCredentials(FakeSts(clock), ROLE + "-2", SCOPE, clock)
    other_scope = TenantDataScope("other-clinical", SCOPE.audit_table, SCOPE.data_key_id)

    keys = {one.key("demo-clinic"), one.key("second-clinic"), other_role.key("demo-clinic"),
            TenantCredentials(FakeSts(clock), ROLE, other_scope, clock).key("demo-clinic")}

    assert len(keys) == 4
    assert one.key("demo-clinic").policy_version


def test_tenant_clients_sign_with_the_tenants_session_and_follow_its_renewal() -> None:
    clock = Clock()
    credentials = TenantCredentials(FakeSts(clock), ROLE, SCOPE, clock)
    tenant_clients = TenantClients(AwsClients(AwsSettings()), credentials)

    demo = tenant_clients.for_tenant("demo-clinic")
    assert tenant_clients.for_tenant("demo-clinic") is demo
    assert tenant_clients.for_tenant("second-clinic") is not demo
    assert demo.dynamodb()._request_signer._credentials.access_key == "ASIA1"

    clock.now = NOW + timedelta(hours=1)
    renewed = tenant_clients.for_tenant("demo-clinic")
    assert renewed is not demo
    assert renewed.credentials is not None
    assert renewed.dynamodb()._request_signer._credentials.access_key == renewed.credentials.access_key_id
