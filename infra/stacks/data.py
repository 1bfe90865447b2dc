"""The data stack: keys, tables, buckets and their backups. Everything here is retained.

Buckets that invoke a function are built in the API stack (infra/components/notifying_buckets.py)
but backed up here with the others."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra import names
from infra.components.backups import DataProtection
from infra.components.buckets import Buckets
from infra.components.keys import STORAGE_ENCRYPTION_KEY, EncryptionKeys
from infra.components.secrets import Secrets
from infra.components.tables import Tables
from infra.declarations import access_log_bucket
from infra.stage import StageConfig


class DataStack(Stack):
    """Where PHI rests: deployed first, changed rarely, never deleted with the stack."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.encryption = EncryptionKeys(self, "Keys", stage=stage)
        self.tables = Tables(self, "Tables", stage=stage, keys=self.encryption.keys)
        self.buckets = Buckets(self, "Buckets", stage=stage, keys=self.encryption.keys)
        self.secrets = Secrets(self, "Secrets", stage=stage, keys=self.encryption.keys)
        DataProtection(
            self,
            "Backups",
            stage=stage,
            key=self.encryption.key(STORAGE_ENCRYPTION_KEY),
            tables=list(self.tables.tables.values()),
            buckets=[b for name, b in self.buckets.buckets.items() if name != access_log_bucket().key]
            + list(self.buckets.elsewhere.values()),
        )
        # What `cairn seed --stage` and `cairn token --stage` (devkit/discovery.py) read back.
        for key, table in self.tables.tables.items():
            CfnOutput(self, names.table_output(key), value=table.table_name)
        # A bucket built in another stack is output by that stack (discovery reads every stack's).
        for key, bucket in self.buckets.buckets.items():
            CfnOutput(self, names.bucket_output(key), value=bucket.bucket_name)
        for key, kms_key in self.encryption.keys.items():
            CfnOutput(self, names.key_output(key), value=kms_key.key_arn)
