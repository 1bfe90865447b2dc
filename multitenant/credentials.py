"""Tenant-scoped AWS credentials: defence in depth beneath the tenant-prefixed keys.

Every key Cairn builds starts with the caller's tenant id; these credentials make IAM say the
same. The data layer assumes the "tenant data access" role (whose own policy is the most any
tenant may do) with an inline session policy that narrows it to one tenant: DynamoDB items whose
partition key starts with "<tenant>#" (dynamodb:LeadingKeys), S3 objects under
"tenants/<tenant>/", and the data KMS key only with the tenant in the encryption context. The
effective permissions are the intersection, so a bug that builds another tenant's key is
refused by AWS, not only by Cairn's code.

Credentials are cached per tenant until shortly before they expire; the cache key holds every
argument that changes the answer (role, tenant, session policy version and the scope).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cairn.aws import AwsClients, AwsCredentials
from cairn.clock import Clock, utc_now
from cairn.config import DataSettings
from cairn.crypto.keyring import TENANT_CONTEXT_KEY

# Bump whenever session_policy() changes, so no cached session outlives the policy it was made with.
SESSION_POLICY_VERSION = "2026-11-22.2"
# AWS caps an inline session policy at 2,048 characters of plaintext JSON.
SESSION_POLICY_MAX_CHARS = 2048
SESSION_DURATION_SECONDS = 3600
# Credentials are replaced this long before they expire, so no request starts with a dying session.
REFRESH_MARGIN = timedelta(minutes=5)
DOCUMENTS_PREFIX = "tenants/{tenant}/"

# What the clinical table is used for: reads, searches, versioned writes (TransactWriteItems is
# authorized per item as PutItem/UpdateItem/ConditionCheckItem). No Scan: a Scan names no
# partition key, and ForAllValues over an empty set of leading keys would let it through.
_CLINICAL_ACTIONS = (
    "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem",
    "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
)
_DATA_KEY_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey")
# What DynamoDB and S3 ask of the at-rest keys on the caller's behalf.
_AT_REST_KEY_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")


class TenantCredentialsError(RuntimeError):
    """Tenant-scoped credentials could not be built (e.g. the session policy is too large)."""


@dataclass(frozen=True)
class TenantDataScope:
    """The data resources a tenant's session may touch, by name (from the function's settings)."""

    clinical_table: str
    audit_table: str
    data_key_id: str
    documents_bucket: str | None = None

    @classmethod
    def from_settings(cls, settings: DataSettings) -> TenantDataScope:
        return cls(settings.clinical_table, settings.audit_table, settings.data_key_id,
                   settings.documents_bucket)


def leading_key_pattern(tenant_id: str) -> str:
    """The dynamodb:LeadingKeys pattern of a tenant: its id and the separator, then anything.

    Tenant ids are [a-z0-9-] (TenantContext), so they carry no wildcard of their own, and the
    "#" keeps tenant "ab" from matching "abc#...".
    """
    return f"{tenant_id}#*"


def _table_arns(table: str) -> list[str]:
    # Region and account are left open: the role's own policy names the exact tables, and the
    # session policy only narrows it.
    return [f"arn:aws:dynamodb:*:*:table/{table}", f"arn:aws:dynamodb:*:*:table/{table}/index/*"]


def session_policy(tenant_id: str, scope: TenantDataScope) -> dict[str, Any]:
    """The inline session policy that narrows the tenant data access role to `tenant_id`."""
    leading_keys = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [leading_key_pattern(tenant_id)]}}
    data_key = scope.data_key_id if scope.data_key_id.startswith("arn:") else "*"
    statements: list[dict[str, Any]] = [
        {"Sid": "ClinicalItemsOfTheTenant", "Effect": "Allow", "Action": list(_CLINICAL_ACTIONS),
         "Resource": _table_arns(scope.clinical_table), "Condition": leading_keys},
        # The audit trail is append-only: puts of the tenant's own events, and queries of them
        # (AuditEvent reads: the by_day index's key also starts with the tenant); no update.
        {"Sid": "AuditEventsOfTheTenant", "Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:Query"],
         "Resource": _table_arns(scope.audit_table), "Condition": leading_keys},
        {"Sid": "DataKeyOfTheTenant", "Effect": "Allow", "Action": list(_DATA_KEY_ACTIONS),
         "Resource": data_key,
         "Condition": {"StringEquals": {f"kms:EncryptionContext:{TENANT_CONTEXT_KEY}": tenant_id}}},
        {"Sid": "AtRestKeysThroughTheServices", "Effect": "Allow", "Action": list(_AT_REST_KEY_ACTIONS),
         "Resource": "*",
         "Condition": {"StringLike": {"kms:ViaService": ["dynamodb.*.amazonaws.com", "s3.*.amazonaws.com"]}}},
    ]
    if scope.documents_bucket:
        prefix = DOCUMENTS_PREFIX.format(tenant=tenant_id)
        statements += [
            {"Sid": "DocumentsOfTheTenant", "Effect": "Allow",
             "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
             "Resource": f"arn:aws:s3:::{scope.documents_bucket}/{prefix}*"},
            {"Sid": "ListTheTenantsDocuments", "Effect": "Allow", "Action": ["s3:ListBucket"],
             "Resource": f"arn:aws:s3:::{scope.documents_bucket}",
             "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}}},
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def session_policy_json(tenant_id: str, scope: TenantDataScope) -> str:
    """The session policy as AssumeRole takes it: compact JSON, checked against AWS's size cap."""
    text = json.dumps(session_policy(tenant_id, scope), separators=(",", ":"))
    if len(text) > SESSION_POLICY_MAX_CHARS:
        raise TenantCredentialsError(
            f"the session policy is {len(text)} characters, over AWS's {SESSION_POLICY_MAX_CHARS}: "
            "shorten the table or bucket names"
        )
    return text


@dataclass(frozen=True)
class TenantCredentialsKey:
    """Everything that changes which credentials a tenant gets."""

    role_arn: str
    tenant_id: str
    policy_version: str
    scope: TenantDataScope


AssumeHook = Callable[[TenantCredentialsKey], None]


class TenantCredentials:
    """STS sessions of the tenant data access role, one per tenant, cached until shortly before
    they expire. Built once per process; thread-safe."""

    def __init__(
        self,
        sts: Any,
        role_arn: str,
        scope: TenantDataScope,
        clock: Clock = utc_now,
        refresh_margin: timedelta = REFRESH_MARGIN,
        duration_seconds: int = SESSION_DURATION_SECONDS,
    ) -> None:
        self._sts = sts
        self._role_arn = role_arn
        self._scope = scope
        self._clock = clock
        self._refresh_margin = refresh_margin
        self._duration_seconds = duration_seconds
        self._sessions: dict[TenantCredentialsKey, AwsCredentials] = {}
        self._lock = threading.Lock()

    def key(self, tenant_id: str) -> TenantCredentialsKey:
        return TenantCredentialsKey(self._role_arn, tenant_id, SESSION_POLICY_VERSION, self._scope)

    def for_tenant(self, tenant_id: str) -> AwsCredentials:
        """The tenant's current credentials, assuming the role only when none are fresh."""
        key = self.key(tenant_id)
        with self._lock:
            cached = self._sessions.get(key)
            if cached is not None and self._clock() < cached.expiration - self._refresh_margin:
                return cached
            fresh = self._assume(tenant_id)
            self._sessions[key] = fresh
            return fresh

    def _assume(self, tenant_id: str) -> AwsCredentials:
        response = self._sts.assume_role(
            RoleArn=self._role_arn,
            RoleSessionName=tenant_id,  # [a-z0-9-]{2,63}: valid, and CloudTrail shows the tenant
            Policy=session_policy_json(tenant_id, self._scope),
            DurationSeconds=self._duration_seconds,
        )
        issued = response["Credentials"]
        expiration: datetime = issued["Expiration"]
        return AwsCredentials(
            access_key_id=issued["AccessKeyId"],
            secret_access_key=issued["SecretAccessKey"],
            session_token=issued["SessionToken"],
            expiration=expiration,
        )


class TenantClients:
    """Per-tenant AwsClients signing with the tenant's scoped credentials.

    A tenant's clients are rebuilt only when its credentials are replaced (about once an hour),
    so warm requests reuse their connections."""

    def __init__(self, base: AwsClients, credentials: TenantCredentials) -> None:
        self._base = base
        self._credentials = credentials
        self._clients: dict[TenantCredentialsKey, AwsClients] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_role(cls, base: AwsClients, role_arn: str, scope: TenantDataScope,
                 clock: Clock = utc_now) -> TenantClients:
        """Assume `role_arn` through `base`'s STS client, narrowed to each tenant within `scope`."""
        return cls(base, TenantCredentials(base.sts(), role_arn, scope, clock))

    def for_tenant(self, tenant_id: str) -> AwsClients:
        """The tenant's clients, on credentials that are fresh."""
        current = self._credentials.for_tenant(tenant_id)
        key = self._credentials.key(tenant_id)
        with self._lock:
            existing = self._clients.get(key)
            if existing is None or existing.credentials != current:
                existing = self._base.with_credentials(current)
                self._clients[key] = existing
            return existing
