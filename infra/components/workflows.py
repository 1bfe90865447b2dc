"""Step Functions state machines from STATE_MACHINES and their ASL files in stepfunctions/."""

from __future__ import annotations

import re

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.components.catalog import DataCatalog
from infra.components.logs import encrypted_log_group
from infra.declarations import PROJECT_ROOT, STATE_MACHINES, StateMachineDeclaration
from infra.nag import acknowledge
from infra.stage import StageConfig

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def function_arn(scope: Construct, stage: StageConfig, name: str) -> str:
    """The ARN of declared function `name`, built from its stage name."""
    return Stack.of(scope).format_arn(
        service="lambda",
        resource="function",
        resource_name=stage.resource_name(name),
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


class StateMachines(Construct):
    """One standard state machine per declaration: the ASL file with its placeholders filled,
    X-Ray tracing, ALL-level logging to a KMS-encrypted group, and grants for what it touches."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        catalog: DataCatalog,
        log_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.machines: dict[str, sfn.StateMachine] = {}
        for declared in STATE_MACHINES:
            self.machines[declared.name] = self._machine(declared, stage, catalog, log_key)

    def _machine(
        self, declared: StateMachineDeclaration, stage: StageConfig, catalog: DataCatalog, log_key: kms.IKey
    ) -> sfn.StateMachine:
        scope = Construct(self, declared.name)
        definition = (PROJECT_ROOT / "stepfunctions" / declared.definition).read_text(encoding="utf-8")
        substitutions = {
            placeholder: self._value(scope, stage, catalog, reference)
            for placeholder, reference in declared.substitutions.items()
        }
        unfilled = sorted(set(PLACEHOLDER.findall(definition)) - set(substitutions))
        if unfilled:
            raise ValueError(
                f"{declared.definition} has placeholders no substitution fills: {', '.join(unfilled)}"
            )
        machine = sfn.StateMachine(
            scope,
            "StateMachine",
            state_machine_name=stage.resource_name(declared.name),
            state_machine_type=sfn.StateMachineType.STANDARD,
            # Inline rather than from_file's S3 asset: the definition stays readable in the template
            # and in `cdk diff`, and emulators that ignore DefinitionS3Location deploy it as is.
            definition_body=sfn.DefinitionBody.from_string(definition),
            definition_substitutions=substitutions,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=encrypted_log_group(
                    scope,
                    "Logs",
                    stage=stage,
                    key=log_key,
                    name=f"/aws/vendedlogs/states/{stage.resource_name(declared.name)}",
                ),
                level=sfn.LogLevel.ALL,
                # Execution input and output can carry PHI; logs keep ids and state transitions.
                include_execution_data=False,
            ),
        )
        for name in declared.invokes:
            lambda_.Function.from_function_attributes(
                scope,
                f"Invoked{name.title().replace('-', '')}",
                function_arn=function_arn(scope, stage, name),
                same_environment=True,
            ).grant_invoke(machine)
        catalog.grant(machine, declared.uses)
        acknowledge(
            machine.role,
            "HIPAA.Security-IAMNoInlinePolicy",
            "A single-purpose role per state machine with its policy attached inline: AWS recommends inline "
            "policies for a strict one-to-one policy-to-identity relationship; it is deleted with the role.",
        )
        return machine

    @staticmethod
    def _value(scope: Construct, stage: StageConfig, catalog: DataCatalog, reference: str) -> str:
        kind, _, key = reference.partition(":")
        if kind == "function":
            return function_arn(scope, stage, key)
        if kind == "bucket":
            return catalog.buckets[key].bucket_name
        if kind == "table":
            return catalog.tables[key].table_name
        raise ValueError(f"substitution {reference!r} is not function:, bucket: or table:")
