"""The clinical store in moto for a benchmark: the clinical and audit tables from the PynamoDB
models, a data key, and the ClinicalRuntime the functions build on them, with every AWS call
counted."""

from __future__ import annotations

from bench.measure import CallCounter
from cairn.aws import AwsClients, AwsSettings
from cairn.config import DataSettings
from cairn.runtime import ClinicalRuntime
from cairn.store.models import AuditItem, ClinicalItem
from cairn.store.schema import table_shape


def clinical_store(
    counter: CallCounter, clinical_table: str, audit_table: str
) -> tuple[AwsClients, ClinicalRuntime]:
    """Counted clients and the runtime over freshly created tables (inside mock_aws)."""
    clients = AwsClients(AwsSettings(), on_client=counter.attach)
    for model, name in ((ClinicalItem, clinical_table), (AuditItem, audit_table)):
        clients.dynamodb().create_table(**table_shape(model).create_table_request(name))
    key_id = clients.kms().create_key(Description="bench data key")["KeyMetadata"]["KeyId"]
    return clients, ClinicalRuntime(DataSettings(clinical_table, audit_table, key_id), clients)
