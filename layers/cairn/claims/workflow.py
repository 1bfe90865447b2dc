"""Starting the claims workflow (stepfunctions/claims.asl.json) and resuming it where it waits
for the clearinghouse or the payer (task tokens). The workflow's input and the answers carry
ids, numbers and codes only, never PHI."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# What a submission waits for, in order: the 999 (syntax), the 277CA (the payer took it), the 835.
ACKNOWLEDGEMENT = "999"
CLAIM_ACKNOWLEDGEMENT = "277CA"
REMITTANCE = "835"
ANSWERS = (ACKNOWLEDGEMENT, CLAIM_ACKNOWLEDGEMENT, REMITTANCE)
SUBMIT = "submit"  # an original or replacement claim
VOID = "void"  # a void (frequency 8) of a claim the payer has


def execution_name(claim_id: str, attempt: int) -> str:
    """One execution per submission of a claim: a repeated start is refused, not run twice."""
    return f"claim-{claim_id}-{attempt}"


@dataclass(frozen=True)
class ClaimWorkflow:
    """The claims state machine: start a submission, resume a wait."""

    stepfunctions: Any
    state_machine_arn: str

    def start(
        self, tenant_id: str, claim_id: str, attempt: int, mode: str, timeouts: dict[str, int]
    ) -> str | None:
        """Start the submission `attempt` of the claim; its execution name, or None when that
        submission's execution exists already. `timeouts`: seconds to wait for the answers
        ("acknowledgement" for the 999 and the 277CA, "remittance" for the 835)."""
        name = execution_name(claim_id, attempt)
        workflow_input = {
            "tenant_id": tenant_id,
            "claim_id": claim_id,
            "attempt": attempt,
            "mode": mode,
            "timeouts": timeouts,
        }
        try:
            self.stepfunctions.start_execution(
                stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(workflow_input)
            )
        except self.stepfunctions.exceptions.ExecutionAlreadyExists:
            return None
        return name

    def resume(self, token: str, answer: dict[str, Any]) -> bool:
        """Hand `answer` to the execution waiting on `token`; False when it no longer waits
        (timed out, stopped, or already resumed)."""
        try:
            self.stepfunctions.send_task_success(taskToken=token, output=json.dumps(answer))
        except (
            self.stepfunctions.exceptions.TaskTimedOut,
            self.stepfunctions.exceptions.InvalidToken,
            self.stepfunctions.exceptions.TaskDoesNotExist,
        ):
            return False
        return True
