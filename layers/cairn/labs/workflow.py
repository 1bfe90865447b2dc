"""Starting the lab-ingestion workflow (stepfunctions/lab_ingestion.asl.json), and which
received messages it is started for."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cairn.labs.intake import Received
from cairn.labs.ledger import MessageStatus


def workflow_items(received: Sequence[Received]) -> list[dict[str, Any]]:
    """The messages the workflow must process: new ones, and resent ones whose first copy was
    stored but never acknowledged (a workflow that did not start must not strand them)."""
    return [{"control_key": item.entry.control_key, "patient": None} for item in received
            if item.needs_processing or (item.duplicate and item.entry.status is MessageStatus.RECEIVED
                                         and not item.entry.ack_code)]


def execution_name(prefix: str, tenant_id: str, lab_id: str, keys: Sequence[str]) -> str:
    """The same messages name the same execution: a repeated start is refused, not run twice."""
    digest = hashlib.sha256("\n".join([tenant_id, lab_id, *keys]).encode()).hexdigest()[:48]
    return f"{prefix}-{digest}"


@dataclass(frozen=True)
class LabWorkflow:
    """Starts the lab-ingestion state machine."""

    stepfunctions: Any
    state_machine_arn: str

    def start(self, name: str, workflow_input: Mapping[str, Any]) -> str | None:
        """The execution's ARN, or None when an execution of that name exists already."""
        try:
            started = self.stepfunctions.start_execution(stateMachineArn=self.state_machine_arn, name=name,
                                                         input=json.dumps(workflow_input))
        except self.stepfunctions.exceptions.ExecutionAlreadyExists:
            return None
        return str(started["executionArn"])
