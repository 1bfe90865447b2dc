"""What Cairn's cloud is made of, declared once.

The CDK stacks (infra/stacks) and the embedded runtime (devkit/provision.py) both build Cairn
from these declarations, so AWS, LocalStack and `cairn dev` cannot drift apart. This module is
plain data: no CDK, no boto3, no AWS calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from pynamodb.models import Model

from cairn import config
from cairn.billing.models import BillingItem
from cairn.store.models import AuditItem, ClinicalItem, TenantItem

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Access(StrEnum):
    """What a function may do with a resource; CDK turns these into least-privilege grants."""

    READ = "read"
    READ_WRITE = "read_write"
    APPEND = "append"  # put new items only: the audit trail
    READ_APPEND = "read_append"  # query and put new items, never change one: reading the audit trail
    ENCRYPT_DECRYPT = "encrypt_decrypt"
    START = "start"  # state machines: start executions
    START_STOP = "start_stop"  # state machines: start executions and stop them (reminders withdrawn)
    ADMINISTER_USERS = "administer_users"  # user pools: create, change, disable users and groups
    MANAGE_USAGE_KEYS = "manage_usage_keys"  # USAGE_KEYS: tenants' API keys in the tier usage plans
    SEND = "send"  # MESSAGING: email through SES and SMS through SNS, where the stage delivers through AWS
    RESUME = "resume"  # state machines: answer the task tokens its waiting states handed out


@dataclass(frozen=True)
class TableDeclaration:
    key: str
    model: type[Model]
    env: str
    description: str
    encryption_key: str = "tables"  # the KEYS entry that encrypts it at rest


@dataclass(frozen=True)
class KeyDeclaration:
    """A customer-managed KMS key. `tenant_context` keys are only ever used with the caller's
    tenant in the encryption context ("tenant_id"), and their grants require it."""

    key: str
    alias: str
    env: str | None
    description: str
    tenant_context: bool = False


@dataclass(frozen=True)
class BucketDeclaration:
    """A bucket. `encryption_key` names its KEYS entry (SSE-KMS with a bucket key); None means
    SSE-S3, which only the access-log bucket uses (S3 delivers access logs to SSE-S3 only)."""

    key: str
    env: str | None
    description: str
    encryption_key: str | None = "storage"
    versioned: bool = True
    receives_access_logs: bool = False
    # A function invoked for every object created under `notify_prefix` (S3 event notification).
    notifies: str | None = None
    notify_prefix: str = "tenants/"


@dataclass(frozen=True)
class SessionLimits:
    """How long a sign-in lasts (HIPAA 164.312(a)(2)(iii) automatic logoff), for CDK and the
    embedded provisioner alike. ID and access tokens are short so that a token issued before a
    sign-out or a disabled account stops working within minutes; the refresh token bounds the
    whole session (a working day), after which the user signs in again with MFA."""

    id_token_minutes: int = 15
    access_token_minutes: int = 15
    refresh_token_hours: int = 10
    auth_session_minutes: int = 3  # to answer the MFA challenge after the password
    revocable: bool = True  # sign-out revokes refresh tokens (and the tokens they issued)


@dataclass(frozen=True)
class UserPoolDeclaration:
    key: str
    name: str
    custom_attributes: tuple[str, ...]
    mfa_required: bool
    client_name: str
    sessions: SessionLimits = SessionLimits()


@dataclass(frozen=True)
class FunctionDeclaration:
    """A Lambda function: its code folder under functions/, handler, and what it touches.

    `uses` maps a table/key/bucket/state machine key to the access it needs.
    """

    name: str
    source: str  # folder under functions/
    handler: str  # module.attribute inside that folder
    description: str
    uses: dict[str, Access] = field(default_factory=dict)
    identity: bool = False  # gets the user pool's issuer, JWKS URL and client ids
    memory_mb: int = 512
    timeout_seconds: int = 29


@dataclass(frozen=True)
class ApiDeclaration:
    """A Chalice application served behind API Gateway by `function`.

    Routes come from the Chalice app itself (`app_module`), so the API and the app agree.
    `public_paths` are route paths served without the authorizer (every method on them); each
    needs a reviewed reason in infra/components/rest_api.py PUBLIC_PATH_REASONS.
    `tier_usage_plans`: callers are clinics, throttled by their tier's usage plan through the API
    key their authorizer names (usageIdentifierKey); False for APIs whose callers are not tenants.
    """

    function: str
    app_module: str
    authorizer: str | None  # name of the authorizer function; None for public routes
    public_paths: tuple[str, ...] = ()
    tier_usage_plans: bool = True


@dataclass(frozen=True)
class TenantDataAccessDeclaration:
    """The role tenant-scoped credentials are assumed from (multitenant/credentials.py).

    `uses` is the most any one tenant's session may do (the role's own policy); each session is
    narrowed to one tenant by its session policy. `assumed_by` names the functions trusted to
    assume it; they receive its ARN in `env`.
    """

    name: str
    env: str
    description: str
    uses: dict[str, Access]
    assumed_by: tuple[str, ...]


@dataclass(frozen=True)
class StateMachineDeclaration:
    """A state machine from stepfunctions/<definition>; ${Placeholders} are filled from
    `substitutions`: a placeholder maps to "function:<name>" (its ARN), "bucket:<key>"
    (its name), or "table:<key>" (its name)."""

    name: str
    definition: str
    description: str
    env: str
    substitutions: dict[str, str]
    invokes: tuple[str, ...] = ()  # functions the machine calls
    uses: dict[str, Access] = field(default_factory=dict)


# The `uses` key of the tenants' API Gateway API keys and their membership in the tier usage
# plans of the tenant-facing APIs (ApiDeclaration.tier_usage_plans), with Access.MANAGE_USAGE_KEYS.
USAGE_KEYS = "usage-keys"
# The `uses` key of message delivery to patients (cairn.messaging): Access.SEND grants SES and SNS
# where the stage's message_delivery is "aws" (nothing where it is the outbox, which is the
# documents bucket); Access.READ only tells a function how messages are delivered.
MESSAGING = "messaging"


@dataclass(frozen=True)
class SecretDeclaration:
    """A Secrets Manager secret (JSON with `fields`), encrypted with its KEYS entry; operators put
    its values after the first deploy. Functions that use it (Access.READ) get its name in `env`."""

    key: str
    env: str
    description: str
    fields: tuple[str, ...]
    encryption_key: str = "storage"


# Stripe (cairn.billing): functions using it read the secret, and get where the stripe library
# sends requests, where Checkout returns to, and the dunning timings (cairn.config).
STRIPE = "stripe"
SECRETS: tuple[SecretDeclaration, ...] = (
    SecretDeclaration(STRIPE, config.STRIPE_SECRET_ID,
                      "Stripe: the account's secret API key and the webhook endpoint's signing secret",
                      fields=("api_key", "webhook_secret")),
)

TABLES: tuple[TableDeclaration, ...] = (
    TableDeclaration("clinical", ClinicalItem, config.CLINICAL_TABLE,
                     "clinical records as encrypted FHIR resources, their history and search index"),
    TableDeclaration("audit", AuditItem, config.AUDIT_TABLE,
                     "append-only audit trail of every PHI access"),
    TableDeclaration("tenants", TenantItem, config.TENANT_TABLE,
                     "tenant registry: one item per clinic"),
    TableDeclaration("billing", BillingItem, config.BILLING_TABLE,
                     "billing (control plane): Stripe events as received (sealed), subscriptions, signups, "
                     "notices to clinic admins"),
)

KEYS: tuple[KeyDeclaration, ...] = (
    KeyDeclaration("data", "alias/cairn-data", config.DATA_KEY_ID,
                   "wraps per-tenant data keys for field-level PHI encryption", tenant_context=True),
    KeyDeclaration("tables", "alias/cairn-tables", None, "encrypts the DynamoDB tables at rest"),
    KeyDeclaration("storage", "alias/cairn-storage", None,
                   "encrypts the documents bucket, the logs and the backups"),
)

BUCKETS: tuple[BucketDeclaration, ...] = (
    BucketDeclaration("documents", config.DOCUMENTS_BUCKET,
                      "binary documents and imports under tenants/<tenant id>/"),
    BucketDeclaration("lab-inbox", config.LAB_INBOX_BUCKET,
                      "HL7 v2 files labs drop for a clinic under tenants/<tenant id>/<lab>/; each object "
                      "starts the lab-ingestion workflow, which moves it into the clinic's encrypted store",
                      notifies="lab-inbox"),
    BucketDeclaration("clearinghouse-inbox", config.CLEARINGHOUSE_INBOX_BUCKET,
                      "X12 999, 277CA and 835 files the clearinghouse drops for a clinic under "
                      "tenants/<tenant id>/; each object is matched to its claims, resumes their workflows "
                      "and is moved to the clinic's processed or quarantine folder",
                      notifies="clearinghouse-inbox"),
    BucketDeclaration("audit", None, "server access logs of the other buckets",
                      encryption_key=None, receives_access_logs=True),
)

USER_POOLS: tuple[UserPoolDeclaration, ...] = (
    UserPoolDeclaration("clinic", "cairn-users", ("tenant_id", "role", "patient_id"),
                        mfa_required=True, client_name="cairn-api"),
)

FUNCTIONS: tuple[FunctionDeclaration, ...] = (
    FunctionDeclaration(
        name="authorizer", source="authorizer", handler="handler.handler",
        description="verifies Cognito tokens and passes tenant, role, user and tenant standing to the API",
        # The tenant's status and tier (cached briefly per process); refusals go to the audit trail.
        uses={"tenants": Access.READ, "audit": Access.APPEND},
        identity=True, memory_mb=256, timeout_seconds=10,
    ),
    FunctionDeclaration(
        name="fhir-api", source="fhir_api", handler="app.app",
        description="the FHIR R4 clinical API (Chalice)",
        # audit: serves AuditEvent reads; documents: presigns DocumentReference content.
        uses={"clinical": Access.READ_WRITE, "audit": Access.READ_APPEND, "data": Access.ENCRYPT_DECRYPT,
              "documents": Access.READ_WRITE, "bulk-export": Access.START,
              "reminders": Access.START_STOP},  # the appointment book starts and withdraws reminders
    ),
    FunctionDeclaration(
        name="bundle-import", source="bundle_import", handler="handler.handler",
        description="imports the resources of a FHIR Bundle stored in S3 into one tenant",
        uses={"clinical": Access.READ_WRITE, "audit": Access.APPEND,
              "data": Access.ENCRYPT_DECRYPT, "documents": Access.READ},
        timeout_seconds=300, memory_mb=1024,
    ),
    FunctionDeclaration(
        name="user-admin", source="user_admin", handler="app.app",
        description="clinic user administration (invite, list, change role, disable) and sign-out (Chalice)",
        uses={"clinic": Access.ADMINISTER_USERS, "audit": Access.APPEND},
        memory_mb=256,
    ),
    FunctionDeclaration(
        name="tenant-onboarding", source="tenant_onboarding", handler="handler.handler",
        description="the steps of tenant onboarding and their compensation (control plane)",
        uses={"tenants": Access.READ_WRITE, "clinical": Access.READ_WRITE, "audit": Access.APPEND,
              "data": Access.ENCRYPT_DECRYPT, "clinic": Access.ADMINISTER_USERS,
              USAGE_KEYS: Access.MANAGE_USAGE_KEYS},  # the tenant's API key in its tier's plans
        timeout_seconds=60,
    ),
    FunctionDeclaration(
        name="operator-authorizer", source="operator_authorizer", handler="handler.handler",
        description="verifies Cognito tokens for the operator API: admits the operators group only",
        identity=True, memory_mb=256, timeout_seconds=10,
    ),
    FunctionDeclaration(
        name="operator-api", source="operator_api", handler="app.app",
        description="the operator API (Chalice): onboard, list, show, suspend and reactivate tenants",
        uses={"tenants": Access.READ_WRITE, "audit": Access.APPEND, "tenant-onboarding": Access.START},
        memory_mb=256,
    ),
    FunctionDeclaration(
        name="bulk-export", source="bulk_export", handler="handler.handler",
        description="the steps of the FHIR bulk export: find patients, write ndjson per type, "
                    "publish or fail the job",
        uses={"clinical": Access.READ_WRITE, "audit": Access.APPEND,
              "data": Access.ENCRYPT_DECRYPT, "documents": Access.READ_WRITE},
        timeout_seconds=900, memory_mb=1024,  # one type of a whole clinic per invocation
    ),
    FunctionDeclaration(
        name="lab-api", source="lab_api", handler="app.app",
        description="the labs API (Chalice): HL7 v2 results in, orders out, the results inbox, "
                    "review and sign, trends",
        # documents: raw messages (encrypted) and the labs' outboxes under tenants/<id>/labs/.
        uses={"clinical": Access.READ_WRITE, "audit": Access.APPEND, "data": Access.ENCRYPT_DECRYPT,
              "documents": Access.READ_WRITE, "lab-ingestion": Access.START},
    ),
    FunctionDeclaration(
        name="lab-inbox", source="lab_inbox", handler="handler.handler",
        description="starts the lab-ingestion workflow for each HL7 v2 file dropped in the lab inbox",
        uses={"lab-ingestion": Access.START},
        memory_mb=256, timeout_seconds=30,
    ),
    FunctionDeclaration(
        name="lab-ingestion", source="lab_ingestion", handler="handler.handler",
        description="the steps of lab result ingestion: store raw, parse, match, map and store, "
                    "flag, release, acknowledge, quarantine",
        uses={"clinical": Access.READ_WRITE, "audit": Access.APPEND, "data": Access.ENCRYPT_DECRYPT,
              "documents": Access.READ_WRITE, "lab-inbox": Access.READ_WRITE},
        timeout_seconds=120, memory_mb=1024,
    ),
    FunctionDeclaration(
        name="reminders", source="reminders", handler="handler.handler",
        description="the steps of the reminder workflow: plan, re-check and send, record what was not "
                    "sent, finish",
        # documents: the local outbox (puts only); tenants: the clinic's name in the message.
        uses={"clinical": Access.READ_WRITE, "audit": Access.APPEND, "data": Access.ENCRYPT_DECRYPT,
              "documents": Access.APPEND, "tenants": Access.READ, MESSAGING: Access.SEND},
        timeout_seconds=60,
    ),
    FunctionDeclaration(
        name="reminders-api", source="reminders_api", handler="app.app",
        description="the reminders API (Chalice): set, list and cancel reminders, a patient's channels and "
                    "opt-outs, the local outbox",
        # documents: reads the local outbox; messaging: only to know whether there is one.
        uses={"clinical": Access.READ_WRITE, "audit": Access.APPEND, "data": Access.ENCRYPT_DECRYPT,
              "documents": Access.READ, "reminders": Access.START_STOP, MESSAGING: Access.READ},
    ),
    FunctionDeclaration(
        name="stripe-webhook", source="stripe_webhook", handler="app.app",
        description="the Stripe webhook endpoint (Chalice): verifies, records (sealed) and acts on "
                    "subscription, invoice and patient payment events",
        # tenants: status, tier and seats; clinical: data keys that seal events, patients' invoices;
        # tenant-onboarding: a paid signup; dunning: started on a failed payment, stopped when paid.
        uses={"billing": Access.READ_WRITE, "tenants": Access.READ_WRITE, "clinical": Access.READ_WRITE,
              "audit": Access.APPEND, "data": Access.ENCRYPT_DECRYPT, STRIPE: Access.READ,
              "tenant-onboarding": Access.START, "dunning": Access.START_STOP},
        memory_mb=512, timeout_seconds=29,
    ),
    FunctionDeclaration(
        name="billing-api", source="billing_api", handler="app.app",
        description="the billing API (Chalice): signup through Stripe Checkout, fee schedules, patient "
                    "invoices (view, PDF, pay, refund), the clinic's connected account and billing notices",
        # tenants: the clinic's name on its invoices; billing: signups, connected accounts, notices.
        uses={"clinical": Access.READ_WRITE, "audit": Access.APPEND, "data": Access.ENCRYPT_DECRYPT,
              "billing": Access.READ_WRITE, "tenants": Access.READ, STRIPE: Access.READ},
    ),
    FunctionDeclaration(
        name="billing-dunning", source="billing_dunning", handler="handler.handler",
        description="the steps of dunning: past due, reminder, suspension, cancellation with the export "
                    "offered, crypto-shredding once the retention period ends unpaid",
        # clinical: deletes the tenant's wrapped data key (crypto-shredding); stripe: cancels subscriptions.
        uses={"billing": Access.READ_WRITE, "tenants": Access.READ_WRITE, "clinical": Access.READ_WRITE,
              "audit": Access.APPEND, STRIPE: Access.READ},
        memory_mb=256, timeout_seconds=30,
    ),
    FunctionDeclaration(
        name="claims-api", source="claims_api", handler="app.app",
        description="the claims API (Chalice): code an encounter into a claim, the claims worklist, resubmit "
                    "and void, the clearinghouse files, reports, the clinic's claims settings",
        # documents: the clinic's clearinghouse folders (read); the inbox: a file handed in by hand.
        uses={"clinical": Access.READ_WRITE, "audit": Access.APPEND, "data": Access.ENCRYPT_DECRYPT,
              "documents": Access.READ, "clearinghouse-inbox": Access.APPEND, "claims": Access.START},
    ),
    FunctionDeclaration(
        name="claims", source="claims", handler="handler.handler",
        description="the steps of the claims workflow: build, scrub, generate and validate the 837P, submit, "
                    "wait for the 999, 277CA and 835, post, and the billing Tasks of what went wrong",
        # documents: the clinic's clearinghouse outbox; claims: an answer that came before its wait.
        uses={"clinical": Access.READ_WRITE, "audit": Access.APPEND, "data": Access.ENCRYPT_DECRYPT,
              "documents": Access.READ_WRITE, "claims": Access.RESUME},
        timeout_seconds=60, memory_mb=1024,  # pyx12 validation of the generated file
    ),
    FunctionDeclaration(
        name="clearinghouse-inbox", source="clearinghouse_inbox", handler="handler.handler",
        description="reads each 999, 277CA and 835 file dropped in the clearinghouse inbox, matches it "
                    "to its claims, resumes their workflows, files it processed or quarantined with reasons",
        # clinical: the claims ledger only (no FHIR record is read or written here).
        uses={"clinical": Access.READ_WRITE, "audit": Access.APPEND, "documents": Access.READ_WRITE,
              "clearinghouse-inbox": Access.READ_WRITE, "claims": Access.RESUME},
        memory_mb=512, timeout_seconds=120,
    ),
)

APIS: tuple[ApiDeclaration, ...] = (
    ApiDeclaration(function="fhir-api", app_module="functions.fhir_api.app", authorizer="authorizer",
                   public_paths=("/fhir/R4/metadata",)),  # FHIR capability discovery needs no token
    ApiDeclaration(function="lab-api", app_module="functions.lab_api.app", authorizer="authorizer"),
    ApiDeclaration(function="reminders-api", app_module="functions.reminders_api.app",
                   authorizer="authorizer"),
    ApiDeclaration(function="user-admin", app_module="functions.user_admin.app", authorizer="authorizer"),
    ApiDeclaration(function="claims-api", app_module="functions.claims_api.app", authorizer="authorizer"),
    # Signup is public: the clinic has no account yet (infra/components/rest_api.py says why).
    ApiDeclaration(function="billing-api", app_module="functions.billing_api.app", authorizer="authorizer",
                   public_paths=("/billing/signup",)),
    # Stripe signs every delivery (docs/billing.md): no authorizer, no tenant, no usage plan.
    ApiDeclaration(function="stripe-webhook", app_module="functions.stripe_webhook.app", authorizer=None,
                   public_paths=("/webhooks/stripe",), tier_usage_plans=False),
    # Platform operators only (docs/tenancy.md): its own authorizer admits the operators group.
    ApiDeclaration(function="operator-api", app_module="functions.operator_api.app",
                   authorizer="operator-authorizer", tier_usage_plans=False),  # operators have no tier
)

STATE_MACHINES: tuple[StateMachineDeclaration, ...] = (
    StateMachineDeclaration(
        name="bundle-import", definition="bundle_import.asl.json",
        description="imports a FHIR Bundle from S3; failures land in the tenant's failed-imports prefix",
        env=config.BUNDLE_IMPORT_STATE_MACHINE_ARN,
        substitutions={"BundleImportFunctionArn": "function:bundle-import",
                       "DocumentsBucket": "bucket:documents"},
        invokes=("bundle-import",),
        uses={"documents": Access.READ_WRITE},
    ),
    StateMachineDeclaration(
        name="tenant-onboarding", definition="tenant_onboarding.asl.json",
        description="onboards a clinic: registry, data key, identity group, first admin, settings, "
                    "API key; "
                    "compensates on failure",
        env=config.TENANT_ONBOARDING_STATE_MACHINE_ARN,
        substitutions={"TenantOnboardingFunctionArn": "function:tenant-onboarding"},
        invokes=("tenant-onboarding",),
    ),
    StateMachineDeclaration(
        name="bulk-export", definition="bulk_export.asl.json",
        description="FHIR Bulk Data $export: ndjson per type under the tenant's exports/ prefix; "
                    "every failure marks the job as errored",
        env=config.BULK_EXPORT_STATE_MACHINE_ARN,
        substitutions={"BulkExportFunctionArn": "function:bulk-export"},
        invokes=("bulk-export",),
    ),
    StateMachineDeclaration(
        name="lab-ingestion", definition="lab_ingestion.asl.json",
        description="HL7 v2 results in: store raw, parse, match patient and order, store Observations "
                    "and DiagnosticReport, flag for review, release per the clinic's policy, ACK; "
                    "a message that fails is quarantined with an AE/AR ACK",
        env=config.LAB_INGESTION_STATE_MACHINE_ARN,
        substitutions={"LabIngestionFunctionArn": "function:lab-ingestion"},
        invokes=("lab-ingestion",),
    ),
    StateMachineDeclaration(
        name="reminders", definition="reminders.asl.json",
        description="reminders of an appointment or of a reminder request: plan, wait until each is due, "
                    "re-check, send through the patient's channel and record a Communication; what cannot "
                    "be sent is recorded with a Task for the clinic",
        env=config.REMINDERS_STATE_MACHINE_ARN,
        substitutions={"RemindersFunctionArn": "function:reminders"},
        invokes=("reminders",),
    ),
    StateMachineDeclaration(
        name="claims", definition="claims.asl.json",
        description="a claim from a coded, signed encounter to its remittance: build, scrub (failures on a "
                    "billing Task), X12 837P validated and submitted, wait for the 999, 277CA and 835 "
                    "(timeouts on a Task), post payments and the patient's share; rejections and denials "
                    "on a Task",
        env=config.CLAIMS_STATE_MACHINE_ARN,
        substitutions={"ClaimsFunctionArn": "function:claims"},
        invokes=("claims",),
    ),
    StateMachineDeclaration(
        name="dunning", definition="dunning.asl.json",
        description="dunning and offboarding: past due with notices, suspended read-only, cancelled with the "
                    "export offered, and the data key crypto-shredded once the retention period ends unpaid",
        env=config.DUNNING_STATE_MACHINE_ARN,
        substitutions={"BillingDunningFunctionArn": "function:billing-dunning"},
        invokes=("billing-dunning",),
    ),
)


TENANT_DATA_ACCESS = TenantDataAccessDeclaration(
    name="tenant-data",
    env=config.TENANT_DATA_ROLE_ARN,
    description="tenant data access: assumed per tenant with a session policy narrowing it to that tenant",
    uses={"clinical": Access.READ_WRITE, "audit": Access.READ_APPEND, "data": Access.ENCRYPT_DECRYPT,
          "documents": Access.READ_WRITE},
    assumed_by=("fhir-api", "bundle-import"),
)


def function(name: str) -> FunctionDeclaration:
    """The declaration of the function called `name`."""
    for declared in FUNCTIONS:
        if declared.name == name:
            return declared
    raise KeyError(f"no function named {name!r} is declared")


def access_log_bucket() -> BucketDeclaration:
    """The bucket the others deliver their server access logs to."""
    (receiver,) = [bucket for bucket in BUCKETS if bucket.receives_access_logs]
    return receiver


def environment_names(declared: FunctionDeclaration) -> tuple[str, ...]:
    """The CAIRN_* variables `declared` receives, derived from what it uses."""
    names: list[str] = [config.STAGE]
    for table in TABLES:
        if table.key in declared.uses:
            names.append(table.env)
    for key in KEYS:
        if key.key in declared.uses and key.env:
            names.append(key.env)
    for bucket in BUCKETS:
        if bucket.key in declared.uses and bucket.env:
            names.append(bucket.env)
    for machine in STATE_MACHINES:
        if machine.name in declared.uses:
            names.append(machine.env)
    if MESSAGING in declared.uses:
        names += [config.MESSAGE_DELIVERY, config.MESSAGE_SENDER]
    for secret in SECRETS:
        if secret.key in declared.uses:
            names.append(secret.env)
    if STRIPE in declared.uses:
        names += [config.STRIPE_API_BASE, config.BILLING_RETURN_URL, config.DUNNING_TIMINGS]
    if declared.name in TENANT_DATA_ACCESS.assumed_by:
        names.append(TENANT_DATA_ACCESS.env)
    if declared.identity:
        names += [config.USER_POOL_ID, config.USER_POOL_CLIENT_IDS, config.JWT_ISSUER, config.JWKS_URL]
    elif any(pool.key in declared.uses for pool in USER_POOLS):
        names.append(config.USER_POOL_ID)
    return tuple(names)
