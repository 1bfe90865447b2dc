"""The claim's billing Task (one open per claim, rewritten, completed), the write guard that keeps
every generic write path off Claims and ClaimResponses (through the real RecordService), and the
workflow's start and resume against a small stand-in for the Step Functions client."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from cairn.claims.guard import WORKFLOW_TYPES, guard_claim_change
from cairn.claims.tasks import KINDS, MAX_REASONS, TASK_SYSTEM, claim_task, completed, is_open
from cairn.claims.workflow import ClaimWorkflow, execution_name
from cairn.errors import ImmutableResource
from cairn.records.service import RecordService
from cairn.runtime import WRITE_GUARDS
from tests.unit.claims.workflow_fakes import ClaimsClinic
from tests.unit.fakes import current_resources

CLAIM = {"resourceType": "Claim", "id": "claim-1", "patient": {"reference": "Patient/pat-ana"}}
AT = "2026-12-01T15:00:00.000Z"
LATER = "2026-12-02T09:00:00.000Z"


# --- the Task ------------------------------------------------------------------------------------


def test_a_new_task_lists_each_reason_for_the_billing_staff() -> None:
    task = claim_task(
        "scrub-failed", CLAIM, "C0A1B2C3D4E", ["encounter: not signed", "coverage: no member id"], AT
    )

    title = KINDS["scrub-failed"]
    assert task["resourceType"] == "Task"
    assert (task["status"], task["intent"], task["priority"]) == ("requested", "order", "routine")
    assert task["code"] == {
        "coding": [{"system": TASK_SYSTEM, "code": "scrub-failed", "display": title}],
        "text": title,
    }
    assert task["description"] == (
        f"Claim C0A1B2C3D4E: {title}. (1) encounter: not signed (2) coverage: no member id"
    )
    assert task["focus"] == {"reference": "Claim/claim-1"}
    assert task["for"] == {"reference": "Patient/pat-ana"}
    assert task["performerType"] == [{"text": "billing"}]
    assert [i["valueString"] for i in task["input"]] == ["encounter: not signed", "coverage: no member id"]
    assert task["authoredOn"] == task["lastModified"] == AT
    assert "id" not in task


@pytest.mark.parametrize(
    ("kind", "priority"),
    [
        ("denied", "urgent"),
        ("rejected-277CA", "urgent"),
        ("stalled", "urgent"),
        ("rejected-999", "routine"),
        ("overdue-835", "routine"),
        ("failed", "routine"),
    ],
)
def test_what_the_payer_refused_or_never_answered_is_urgent(kind: str, priority: str) -> None:
    assert claim_task(kind, CLAIM, "C1", ["why"], AT)["priority"] == priority


def test_rewriting_the_open_task_keeps_its_id_and_since_and_replaces_the_reasons() -> None:
    current = {
        **claim_task("overdue-999", CLAIM, "C1", ["late"], AT),
        "id": "task-1",
        "meta": {"versionId": "1"},
    }

    task = claim_task("rejected-999", CLAIM, "C1", ["CLM05-1 invalid"], LATER, current)

    assert task["id"] == "task-1"
    assert task["meta"] == {"versionId": "1"}
    assert task["authoredOn"] == AT
    assert task["lastModified"] == LATER
    assert task["code"]["coding"][0]["code"] == "rejected-999"
    assert [i["valueString"] for i in task["input"]] == ["CLM05-1 invalid"]


def test_no_reasons_list_the_title_and_too_many_are_cut_at_the_limit() -> None:
    untold = claim_task("stalled", {"id": "claim-2"}, "C2", [], AT)
    many = claim_task("denied", CLAIM, "C1", [f"reason {i}" for i in range(MAX_REASONS + 5)], AT)

    assert [i["valueString"] for i in untold["input"]] == [KINDS["stalled"]]
    assert "for" not in untold
    assert len(many["input"]) == MAX_REASONS
    assert many["input"][-1]["valueString"] == f"reason {MAX_REASONS - 1}"


def test_a_completed_task_is_no_longer_open() -> None:
    task = claim_task("failed", CLAIM, "C1", ["boom"], AT)

    done = completed(task, LATER)

    assert (done["status"], done["lastModified"]) == ("completed", LATER)
    assert task["status"] == "requested"
    assert is_open(task)
    assert not is_open(done)
    assert not is_open(None)
    assert not is_open({})
    assert all(is_open({"status": s}) for s in ("requested", "ready", "in-progress", "on-hold"))
    assert not is_open({"status": "cancelled"})


# --- the guard -----------------------------------------------------------------------------------


@pytest.fixture
def clinic() -> ClaimsClinic:
    clinic = ClaimsClinic()
    clinic.seed()
    clinic.coded(claim_id="claim-1")
    return clinic


def claim_response() -> dict[str, Any]:
    return {
        "resourceType": "ClaimResponse",
        "status": "active",
        "type": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]
        },
        "use": "claim",
        "patient": {"reference": "Patient/pat-ana"},
        "created": "2026-12-01",
        "insurer": {"reference": "Organization/org-empire"},
        "request": {"reference": "Claim/claim-1"},
        "outcome": "complete",
    }


def writes(records: RecordService) -> dict[str, Callable[[str, dict[str, Any]], Any]]:
    """Each generic write path, given a type and a stored resource of it."""
    return {
        "create": lambda t, r: records.create(t, {k: v for k, v in r.items() if k not in ("id", "meta")}),
        "update": lambda t, r: records.update(t, r["id"], {**r, "status": "cancelled"}),
        "patch": lambda t, r: records.patch(
            t, r["id"], [{"op": "replace", "path": "/status", "value": "cancelled"}]
        ),
        "delete": lambda t, r: records.delete(t, r["id"]),
    }


@pytest.mark.parametrize("path", ["create", "update", "patch", "delete"])
@pytest.mark.parametrize(
    ("resource_type", "route"),
    [
        ("Claim", "code the encounter with POST /claims"),
        ("ClaimResponse", "posted from the payer's 835 remittance"),
    ],
)
def test_every_generic_write_of_a_workflow_resource_is_refused_naming_its_route(
    clinic: ClaimsClinic, path: str, resource_type: str, route: str
) -> None:
    system = clinic.records()
    if resource_type == "ClaimResponse":
        system.commit_owned(
            "post-remittance", "Claim", "claim-1", [({**claim_response(), "id": "response-1"}, None)]
        )
    [stored] = [
        r
        for (_, kind, _), r in current_resources(clinic.store).items()
        if kind == resource_type and r is not None
    ]
    before = {key: len(versions) for key, versions in clinic.store.items()}

    with pytest.raises(ImmutableResource) as refusal:
        writes(system)[path](resource_type, stored)

    assert str(refusal.value).startswith(
        f"{resource_type} resources are written by the claims workflow only: "
    )
    assert route in str(refusal.value)
    assert {key: len(versions) for key, versions in clinic.store.items()} == before


def test_the_runtimes_guards_cover_both_workflow_types() -> None:
    assert WORKFLOW_TYPES == ("Claim", "ClaimResponse")
    assert all(WRITE_GUARDS[t] is guard_claim_change for t in WORKFLOW_TYPES)


def test_the_claims_desk_and_workflow_write_claims_through_commit_owned(clinic: ClaimsClinic) -> None:
    system = clinic.records()
    claim = system.read("Claim", "claim-1")

    [written] = system.commit_owned("void", "Claim", "claim-1", [({**claim, "status": "cancelled"}, claim)])

    assert (written["status"], written["meta"]["versionId"]) == ("cancelled", "2")


# --- starting and resuming the workflow ----------------------------------------------------------


class ExecutionAlreadyExists(Exception):
    pass


class TaskTimedOut(Exception):
    pass


class InvalidToken(Exception):
    pass


class TaskDoesNotExist(Exception):
    pass


class StepFunctions:
    """What ClaimWorkflow uses of the boto3 client: two calls and its modeled exceptions."""

    exceptions = SimpleNamespace(
        ExecutionAlreadyExists=ExecutionAlreadyExists,
        TaskTimedOut=TaskTimedOut,
        InvalidToken=InvalidToken,
        TaskDoesNotExist=TaskDoesNotExist,
    )

    def __init__(self) -> None:
        self.executions: dict[str, dict[str, Any]] = {}
        self.waiting: dict[str, Exception | None] = {}  # token -> what sending to it raises
        self.succeeded: list[tuple[str, str]] = []

    def start_execution(self, *, stateMachineArn: str, name: str, input: str) -> dict[str, str]:
        if name in self.executions:
            raise ExecutionAlreadyExists(name)
        self.executions[name] = {"arn": stateMachineArn, "input": input}
        return {"executionArn": f"{stateMachineArn}:{name}"}

    def send_task_success(self, *, taskToken: str, output: str) -> dict[str, Any]:
        failure = self.waiting.pop(taskToken, InvalidToken(taskToken))
        if failure is not None:
            raise failure
        self.succeeded.append((taskToken, output))
        return {}


ARN = "arn:aws:states:us-east-1:000000000000:stateMachine:claims"
TIMEOUTS = {"acknowledgement": 172800, "remittance": 3888000}


def test_start_runs_one_execution_per_submission_with_ids_and_codes_only() -> None:
    client = StepFunctions()
    workflow = ClaimWorkflow(client, ARN)

    assert workflow.start("acme", "claim-1", 1, "submit", TIMEOUTS) == "claim-claim-1-1"

    [(name, started)] = client.executions.items()
    assert name == execution_name("claim-1", 1)
    assert started["arn"] == ARN
    assert json.loads(started["input"]) == {
        "tenant_id": "acme",
        "claim_id": "claim-1",
        "attempt": 1,
        "mode": "submit",
        "timeouts": TIMEOUTS,
    }


def test_starting_a_submission_again_is_refused_not_run_twice() -> None:
    client = StepFunctions()
    workflow = ClaimWorkflow(client, ARN)
    workflow.start("acme", "claim-1", 1, "submit", TIMEOUTS)

    assert workflow.start("acme", "claim-1", 1, "submit", TIMEOUTS) is None
    assert workflow.start("acme", "claim-1", 2, "void", TIMEOUTS) == "claim-claim-1-2"
    assert sorted(client.executions) == ["claim-claim-1-1", "claim-claim-1-2"]


def test_resume_hands_the_answer_to_the_waiting_execution() -> None:
    client = StepFunctions()
    client.waiting["token-1"] = None

    assert ClaimWorkflow(client, ARN).resume("token-1", {"accepted": True}) is True
    assert client.succeeded == [("token-1", '{"accepted": true}')]


@pytest.mark.parametrize("gone", [TaskTimedOut, InvalidToken, TaskDoesNotExist])
def test_resuming_an_execution_that_no_longer_waits_answers_false(gone: type[Exception]) -> None:
    client = StepFunctions()
    client.waiting["token-1"] = gone("token-1")

    assert ClaimWorkflow(client, ARN).resume("token-1", {"posted": "EFT1"}) is False
    assert client.succeeded == []


def test_any_other_failure_to_resume_is_raised() -> None:
    client = StepFunctions()
    client.waiting["token-1"] = RuntimeError("throttled")

    with pytest.raises(RuntimeError, match="throttled"):
        ClaimWorkflow(client, ARN).resume("token-1", {"accepted": False})
