"""Typed runtime settings, validated once at cold start from the function's environment.

The environment variable names here are the contract between the CDK app (which sets them on
each function), the embedded runtime (which sets the same names), and the code that reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cairn.errors import ConfigurationError

CLINICAL_TABLE = "CAIRN_CLINICAL_TABLE"
AUDIT_TABLE = "CAIRN_AUDIT_TABLE"
TENANT_TABLE = "CAIRN_TENANT_TABLE"
DATA_KEY_ID = "CAIRN_DATA_KEY_ID"
DOCUMENTS_BUCKET = "CAIRN_DOCUMENTS_BUCKET"
USER_POOL_ID = "CAIRN_USER_POOL_ID"
USER_POOL_CLIENT_IDS = "CAIRN_USER_POOL_CLIENT_IDS"
JWT_ISSUER = "CAIRN_JWT_ISSUER"
JWKS_URL = "CAIRN_JWKS_URL"
STAGE = "CAIRN_STAGE"
BUNDLE_IMPORT_STATE_MACHINE_ARN = "CAIRN_BUNDLE_IMPORT_STATE_MACHINE_ARN"
TENANT_ONBOARDING_STATE_MACHINE_ARN = "CAIRN_TENANT_ONBOARDING_STATE_MACHINE_ARN"
# The role tenant-scoped credentials are assumed from (multitenant/credentials.py); where it is
# unset, the data layer uses the process's own credentials.
TENANT_DATA_ROLE_ARN = "CAIRN_TENANT_DATA_ROLE_ARN"


def require(environ: Mapping[str, str], name: str) -> str:
    """The value of `name`, or a ConfigurationError that names the missing variable."""
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set")
    return value


@dataclass(frozen=True)
class DataSettings:
    """Where clinical data lives: tables, the data key and the documents bucket; and the role
    that tenant-scoped credentials come from (None: the process's own credentials)."""

    clinical_table: str
    audit_table: str
    data_key_id: str
    tenant_data_role_arn: str | None = None
    documents_bucket: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> DataSettings:
        return cls(
            clinical_table=require(environ, CLINICAL_TABLE),
            audit_table=require(environ, AUDIT_TABLE),
            data_key_id=require(environ, DATA_KEY_ID),
            tenant_data_role_arn=environ.get(TENANT_DATA_ROLE_ARN, "").strip() or None,
            documents_bucket=environ.get(DOCUMENTS_BUCKET, "").strip() or None,
        )


@dataclass(frozen=True)
class IdentitySettings:
    """Who may sign tokens Cairn accepts: the user pool's issuer, its keys and app clients."""

    issuer: str
    jwks_url: str
    audiences: tuple[str, ...]

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> IdentitySettings:
        audiences = tuple(
            a.strip() for a in require(environ, USER_POOL_CLIENT_IDS).split(",") if a.strip()
        )
        return cls(
            issuer=require(environ, JWT_ISSUER),
            jwks_url=require(environ, JWKS_URL),
            audiences=audiences,
        )


@dataclass(frozen=True)
class DocumentSettings:
    """Where binary documents and bundle imports live: one bucket, prefixed per tenant."""

    documents_bucket: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> DocumentSettings:
        return cls(documents_bucket=require(environ, DOCUMENTS_BUCKET))


# The bulk-export workflow, started by the FHIR API's $export kickoff (cairn.bulk_export).
BULK_EXPORT_STATE_MACHINE_ARN = "CAIRN_BULK_EXPORT_STATE_MACHINE_ARN"

# Labs (cairn.labs): the bucket labs drop HL7 v2 files into, and the ingestion workflow.
LAB_INBOX_BUCKET = "CAIRN_LAB_INBOX_BUCKET"
LAB_INGESTION_STATE_MACHINE_ARN = "CAIRN_LAB_INGESTION_STATE_MACHINE_ARN"

# Claims (cairn.claims): the bucket the clearinghouse drops 999, 277CA and 835 files into, and
# the claims workflow (stepfunctions/claims.asl.json), which the clearinghouse inbox resumes.
CLEARINGHOUSE_INBOX_BUCKET = "CAIRN_CLEARINGHOUSE_INBOX_BUCKET"
CLAIMS_STATE_MACHINE_ARN = "CAIRN_CLAIMS_STATE_MACHINE_ARN"

# Reminders (cairn.reminders, cairn.messaging): the workflow the appointment book and the
# reminders API start; how messages leave ("outbox": the documents bucket, "aws": SES and SNS);
# the SES identity emails are sent from (required with "aws").
REMINDERS_STATE_MACHINE_ARN = "CAIRN_REMINDERS_STATE_MACHINE_ARN"
MESSAGE_DELIVERY = "CAIRN_MESSAGE_DELIVERY"
MESSAGE_SENDER = "CAIRN_MESSAGE_SENDER"

# Billing (cairn.billing): the control plane's billing table, the dunning workflow, and Stripe.
# Stripe's API key and webhook signing secret come from the Secrets Manager secret named by
# STRIPE_SECRET_ID in AWS; the embedded runtime sets STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET
# directly (local defaults documented by `cairn dev`), and STRIPE_API_BASE points the stripe
# library at the local fake Stripe (devkit/stripe_fake.py).
BILLING_TABLE = "CAIRN_BILLING_TABLE"
DUNNING_STATE_MACHINE_ARN = "CAIRN_DUNNING_STATE_MACHINE_ARN"
STRIPE_SECRET_ID = "CAIRN_STRIPE_SECRET_ID"  # noqa: S105 (variable names, not secrets)
STRIPE_API_KEY = "STRIPE_API_KEY"
STRIPE_WEBHOOK_SECRET = "STRIPE_WEBHOOK_SECRET"  # noqa: S105
STRIPE_API_BASE = "CAIRN_STRIPE_API_BASE"
# Where Stripe Checkout sends the browser back to (success and cancel pages of the console).
BILLING_RETURN_URL = "CAIRN_BILLING_RETURN_URL"
# The dunning timings, e.g. "reminder=7d,grace=14d,suspended=30d,retention=90d" (cairn.billing.dunning).
DUNNING_TIMINGS = "CAIRN_DUNNING_TIMINGS"
