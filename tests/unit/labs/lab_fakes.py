"""In-memory stand-ins for the labs' AWS-backed pieces, subclassing their abstract bases so they
cannot drift from the contracts: the ledger (with the same re-claim rule as DynamoDB's), raw
messages, the outbox, and a Step Functions client that records the executions started."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from cairn.labs.intake import Intake
from cairn.labs.ledger import BaseLabLedger, LabMessage, MessageAlreadyReceived, MessageStatus
from cairn.labs.model import PatientIdentity
from cairn.labs.outbox import BaseLabOutbox, OutboxKind
from cairn.labs.raw_messages import BaseRawMessages
from devkit.lab_messages import PANELS, panel_results, result_message
from multitenant.context import TenantContext

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


class FakeLabLedger(BaseLabLedger):
    def __init__(self, context: TenantContext) -> None:
        super().__init__(context)
        self.items: dict[tuple[str, str], LabMessage] = {}

    def claim(self, entry: LabMessage) -> None:
        existing = self.items.get((entry.lab_id, entry.control_key))
        if existing is not None and existing.status is not MessageStatus.RECEIVING:
            raise MessageAlreadyReceived(existing)
        self.items[(entry.lab_id, entry.control_key)] = entry

    def get(self, lab_id: str, key: str) -> LabMessage | None:
        return self.items.get((lab_id, key))

    def put(self, entry: LabMessage) -> None:
        self.items[(entry.lab_id, entry.control_key)] = entry

    def entries(self, lab_id: str, status: MessageStatus | None = None, limit: int = 100) -> list[LabMessage]:
        found = [e for (lab, _), e in sorted(self.items.items()) if lab == lab_id
                 and (status is None or e.status is status)]
        return found[:limit]


class FakeRawMessages(BaseRawMessages):
    def __init__(self, context: TenantContext) -> None:
        super().__init__(context)
        self.stored: dict[tuple[str, str], str] = {}

    def store(self, lab_id: str, message_id: str, text: str) -> str:
        self.stored[(lab_id, message_id)] = text
        return f"tenants/{self.context.tenant_id}/labs/{lab_id}/messages/{message_id}.hl7.enc"

    def load(self, lab_id: str, message_id: str) -> str:
        return self.stored[(lab_id, message_id)]


class FakeLabOutbox(BaseLabOutbox):
    def __init__(self, context: TenantContext) -> None:
        super().__init__(context)
        self.delivered: dict[tuple[str, OutboxKind, str], str] = {}

    def deliver(self, lab_id: str, kind: OutboxKind, name: str, message: str) -> str:
        self.delivered[(lab_id, kind, name)] = message
        return f"{lab_id}/{kind.value}/{name}"

    def collect(self, lab_id: str, kind: OutboxKind, name: str) -> str:
        return self.delivered[(lab_id, kind, name)]


class ExecutionAlreadyExists(Exception):
    pass


@dataclass
class FakeStepFunctions:
    """What LabWorkflow calls: start_execution, refusing a name used before, as Step Functions does."""

    started: dict[str, dict[str, Any]] = field(default_factory=dict)

    class exceptions:
        ExecutionAlreadyExists = ExecutionAlreadyExists

    def start_execution(self, *, stateMachineArn: str, name: str, input: str) -> dict[str, str]:
        if name in self.started:
            raise ExecutionAlreadyExists(name)
        self.started[name] = json.loads(input)
        return {"executionArn": f"{stateMachineArn}:{name}"}


def intake_for(context: TenantContext, lab_id: str = "acme-lab") -> Intake:
    return Intake(lab_id=lab_id, ledger=FakeLabLedger(context), raw=FakeRawMessages(context),
                  outbox=FakeLabOutbox(context), now=lambda: NOW)


def processed(entry: LabMessage) -> LabMessage:
    return replace(entry, status=MessageStatus.PROCESSED, ack_code="AA")


def potassium_result(patient: PatientIdentity, control: str, seed: int = 1) -> str:
    """A generated ORU^R01 with one potassium result, control id `control`."""
    return result_message(patient=patient, control_id=control, placer=None, filler=f"F-{control}",
                          tests=panel_results(PANELS["potassium"], seed=seed), collected=NOW)


def segments(message: str, name: str) -> list[list[str]]:
    """The fields of every `name` segment of `message` (ACKs: MSA, ERR)."""
    return [s.split("|") for s in message.split("\r") if s.startswith(name + "|")]
