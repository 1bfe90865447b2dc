"""The workflows stack: the declared state machines."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra import names
from infra.components.catalog import DataCatalog
from infra.components.keys import STORAGE_ENCRYPTION_KEY
from infra.components.workflows import StateMachines
from infra.stage import StageConfig


class WorkflowsStack(Stack):
    """Long-running work. Deployed after the API stack, whose functions it invokes by name."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        keys: Mapping[str, kms.IKey],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        catalog = DataCatalog(self, "Data", stage=stage, keys=keys)
        self.state_machines = StateMachines(
            self, "StateMachines", stage=stage, catalog=catalog, log_key=keys[STORAGE_ENCRYPTION_KEY]
        )
        for name, machine in self.state_machines.machines.items():
            CfnOutput(self, names.state_machine_output(name), value=machine.state_machine_arn)
