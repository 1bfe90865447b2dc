"""Benchmark: appointment reminders planned and sent through the whole reminders workflow in the
embedded runtime `cairn dev` uses, on its virtual clock, beside the floor of raw AWS calls, with
AWS calls per reminder.

    .venv/bin/python -m bench.reminders [--visits 100]

1. floor: per reminder, the raw calls no implementation can avoid, made directly against the
   same emulator: read the appointment and the patient (GetItem x2), claim the reminder
   (a conditional PutItem), deliver it (PutObject to the outbox), record it sent (PutItem);
2. plan: `--visits` visits of one clinic, booked for the same afternoon four days ahead, each
   with its 48 h and 2 h reminders: the real StepFunctionsAppointmentReminders starts one
   execution of stepfunctions/reminders.asl.json per visit, and each runs its Plan step (the
   real reminders function) until it waits;
3. send: the virtual clock is advanced to the 48 h reminders' time, then to the 2 h reminders',
   and each execution re-checks, sends to the outbox and records its Communications until it
   ends. No real hour is waited.

AWS calls are counted as bench/labs.py counts them (bench.labs.CallCensus): the functions'
clients and moto's Step Functions executor's (its Lambda invokes), plus the StartExecution calls
of the booking; the benchmark's own polling is not counted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.labs import HEADER, POLL_SECONDS, CallCensus, Throughput, free_port
from bench.measure import CallCounter
from cairn.aws import AwsClients, AwsSettings
from cairn.config import DataSettings
from cairn.records.service import RecordService
from cairn.reminders.workflow import (
    ReminderWorkflow,
    StepFunctionsAppointmentReminders,
    appointment_execution,
)
from cairn.runtime import ClinicalRuntime
from devkit import clock, emulator
from devkit.deployment import Deployment
from devkit.provision import ProvisionTarget, provision
from multitenant.context import TenantContext
from multitenant.onboarding import DEFAULT_SETTINGS
from multitenant.provisioning import DynamoTenantSettings

TENANT = "bench-reminders"
ZONE = ZoneInfo("America/New_York")
TIMEOUT_SECONDS = 1_800
FLOOR_CALLS = 5  # GetItem x2, PutItem (claim), PutObject, PutItem (sent)


def instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Clinic:
    """The benchmark's clinic in the embedded runtime: settings, patients, a practitioner, visits."""

    def __init__(self, clients: AwsClients, deployment: Deployment) -> None:
        self.clients = clients
        self.deployment = deployment
        settings = DataSettings.from_environ(deployment.function_environments["reminders"])
        self.records: RecordService = ClinicalRuntime(settings, clients).records(
            TenantContext.system(TENANT, "bench-seed")
        )
        self.workflow = ReminderWorkflow(clients.stepfunctions(), deployment.state_machines["reminders"])
        DynamoTenantSettings(clients.dynamodb(), deployment.tables["clinical"]).put_defaults(
            TENANT, {**DEFAULT_SETTINGS, "time_zone": "America/New_York"}
        )
        self.practitioner = self.records.create(
            "Practitioner", {"resourceType": "Practitioner", "name": [{"family": "Osei", "given": ["Kwame"]}]}
        ).resource["id"]

    def visits(self, count: int, start: datetime) -> list[dict[str, Any]]:
        """`count` patients, each with a visit at `start`, written as the appointment book writes them."""
        booked = []
        for number in range(count):
            patient = self.records.create(
                "Patient",
                {
                    "resourceType": "Patient",
                    "name": [{"family": f"Bench{number:04d}", "given": ["Ada"]}],
                    "telecom": [{"system": "email", "value": f"patient{number}@example.com", "rank": 1}],
                },
            ).resource["id"]
            appointment_id = str(uuid.uuid4())
            appointment = {
                "resourceType": "Appointment",
                "id": appointment_id,
                "status": "booked",
                "start": instant(start),
                "end": instant(start + timedelta(minutes=20)),
                "minutesDuration": 20,
                "participant": [
                    {"actor": {"reference": f"Patient/{patient}"}, "status": "accepted"},
                    {"actor": {"reference": f"Practitioner/{self.practitioner}"}, "status": "accepted"},
                ],
            }
            booked += self.records.commit_scheduled("book", appointment_id, [(appointment, None)], [])
        return booked

    def execution(self, appointment: dict[str, Any]) -> str:
        return self.workflow.execution_arn(appointment_execution(TENANT, appointment)[0])

    def exits(self, execution_arn: str, state: str) -> int:
        pages = self.clients.stepfunctions().get_paginator("get_execution_history")
        return sum(
            1
            for page in pages.paginate(executionArn=execution_arn)
            for event in page["events"]
            if event["type"].endswith("StateExited")
            and (event.get("stateExitedEventDetails") or {}).get("name") == state
        )

    def outbox_count(self) -> int:
        pages = (
            self.clients.s3()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=self.deployment.buckets["documents"], Prefix=f"tenants/{TENANT}/outbox/")
        )
        return sum(len(page.get("Contents", [])) for page in pages)

    def statuses(self) -> Counter[str]:
        listed = self.clients.stepfunctions().list_executions(
            stateMachineArn=self.deployment.state_machines["reminders"], maxResults=1000
        )["executions"]
        return Counter(str(e["status"]) for e in listed)


def until(done: Any, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"still waiting for {what}")
        time.sleep(POLL_SECONDS)


def floor(clinic: Clinic, reminders: int) -> Throughput:
    """The raw calls a reminder cannot do without, against the same emulator, timed together."""
    counter = CallCounter()
    clients = AwsClients(clinic.clients.settings, on_client=counter.attach)
    dynamodb, s3 = clients.dynamodb(), clients.s3()
    table, bucket = clinic.deployment.tables["clinical"], clinic.deployment.buckets["documents"]
    started = time.perf_counter()
    for number in range(reminders):
        for read in ("Appointment", "Patient"):
            dynamodb.get_item(
                TableName=table, Key={"pk": {"S": f"{TENANT}#floor#{read}#{number}"}, "sk": {"S": "current"}}
            )
        key = {"pk": {"S": f"{TENANT}#floor#Communication#{number}"}, "sk": {"S": "current"}}
        dynamodb.put_item(
            TableName=table,
            Item={**key, "status": {"S": "preparation"}},
            ConditionExpression="attribute_not_exists(pk)",
        )
        s3.put_object(Bucket=bucket, Key=f"tenants/{TENANT}/floor/{number}.json", Body=b'{"text": "..."}')
        dynamodb.put_item(TableName=table, Item={**key, "status": {"S": "completed"}})
    return Throughput(
        "floor: GetItem x2, conditional PutItem, PutObject, PutItem per reminder",
        reminders,
        time.perf_counter() - started,
        counter.calls,
    )


def figures(census: CallCensus, visits: int, cache_dir: Path) -> Iterator[Throughput | str]:
    os.environ.pop("AWS_ENDPOINT_URL", None)
    emulator.use_local_credentials()
    running = emulator.start_embedded(free_port(), cache_dir)
    try:
        clients = AwsClients(AwsSettings(region=emulator.REGION, endpoint_url=running.endpoint_url))
        started = time.perf_counter()
        clinic = Clinic(
            clients, provision(clients, ProvisionTarget(endpoint_url=running.endpoint_url, embedded=True))
        )
        virtual = clock.current()
        local_day = (virtual.now() + timedelta(days=4)).astimezone(ZONE).date()
        start = datetime.combine(local_day, datetime.min.time(), ZONE).replace(hour=14).astimezone(UTC)
        booked = clinic.visits(visits, start)
        yield f"provisioned, {visits} patients with a visit each in {time.perf_counter() - started:.0f} s"
        reminders = 2 * visits
        yield floor(clinic, reminders)

        starts = CallCounter()
        booking = StepFunctionsAppointmentReminders(
            ReminderWorkflow(
                AwsClients(clients.settings, on_client=starts.attach).stepfunctions(),
                clinic.deployment.state_machines["reminders"],
            )
        )
        executions = [clinic.execution(appointment) for appointment in booked]
        begin = census.mark()
        for appointment in booked:
            booking.booked(TenantContext.system(TENANT, "bench-book"), appointment)
        until(lambda: all(clinic.exits(arn, "Plan") for arn in executions), "every plan")
        planned = census.mark()
        virtual.advance_to(start - timedelta(hours=48))
        until(lambda: clinic.outbox_count() >= visits, "the 48 h reminders")
        virtual.advance_to(start - timedelta(hours=2))
        until(lambda: clinic.statuses().get("RUNNING", 0) == 0, "every execution's end")
        end = census.mark()

        plan = Throughput.between(
            "plan: StartExecution and the Plan step, per reminder planned", reminders, begin, planned
        )
        send = Throughput.between(
            "send: wait, re-check, send to the outbox, record, finish, per reminder", reminders, planned, end
        )
        whole = Throughput.between("whole: planned and sent through the workflow", reminders, begin, end)
        yield Throughput(
            plan.name, plan.messages, plan.seconds, plan.calls + starts.calls, plan.functions_seconds
        )
        yield send
        yield Throughput(
            whole.name, whole.messages, whole.seconds, whole.calls + starts.calls, whole.functions_seconds
        )
        yield whole.where_the_time_went()
        yield (
            f"executions {dict(clinic.statuses())}; messages in the outbox {clinic.outbox_count()} "
            f"of {reminders}"
        )
    finally:
        running.stop()


NOTE = """
Units are reminders (two per visit). What bounds the workflow figures: the embedded runtime runs
one Lambda invocation at a time in this process (devkit.lambda_executor), every Task is a Lambda
Invoke from moto's Step Functions executor over HTTP, and each of the function's AWS calls is an
HTTP round trip to moto. The calls per reminder carry over to AWS; the seconds do not (there each
execution runs on its own, and a Wait costs nothing while it waits)."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=100, help="visits booked (two reminders each)")
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # no metric lines amid the table
    rows = [HEADER.replace("message", "reminder")]
    census, out = CallCensus(), sys.stdout
    with (
        census.watching(),
        tempfile.TemporaryDirectory(prefix="cairn-bench-reminders-") as cache_dir,
        open(os.devnull, "w") as devnull,
        redirect_stdout(devnull),
    ):
        for result in figures(census, max(1, args.visits), Path(cache_dir)):
            line = result if isinstance(result, str) else result.row()
            print(line, file=out, flush=True)
            if isinstance(result, Throughput):
                rows.append(line)
    print()
    print("\n".join(rows))
    print(NOTE)


if __name__ == "__main__":
    main()
