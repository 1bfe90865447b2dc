"""The data stack: keys, tables, buckets and their backups. Everything here is retained."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from infra.components.backups import DataProtection
from infra.components.buckets import ACCESS_LOG_BUCKET, Buckets
from infra.components.keys import STORAGE_ENCRYPTION_KEY, TABLE_ENCRYPTION_KEY, EncryptionKeys
from infra.components.tables import Tables
from infra.stage import StageConfig


class DataStack(Stack):
    """Where PHI rests: deployed first, changed rarely, never deleted with the stack."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.encryption = EncryptionKeys(self, "Keys", stage=stage)
        self.tables = Tables(self, "Tables", stage=stage, key=self.encryption.key(TABLE_ENCRYPTION_KEY))
        self.buckets = Buckets(self, "Buckets", stage=stage, key=self.encryption.key(STORAGE_ENCRYPTION_KEY))
        DataProtection(
            self,
            "Backups",
            stage=stage,
            key=self.encryption.key(STORAGE_ENCRYPTION_KEY),
            tables=list(self.tables.tables.values()),
            buckets=[b for name, b in self.buckets.buckets.items() if name != ACCESS_LOG_BUCKET],
        )
