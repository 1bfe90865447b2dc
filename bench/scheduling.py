"""Benchmark: the appointment book through the real services (SchedulingServices over the
ClinicalRuntime) against moto in-process, each operation beside its floor.

    .venv/bin/python -m bench.scheduling [--runs 50] [--booked 120] [--threads 8] [--rounds 20]

1. free slots of one practitioner over 30 days, with `--booked` visits already in the book
   (floor: the three reads it cannot avoid — the Schedule, its working week, one Query of the
   practitioner's holds over the range — plus laying the grid, cairn.scheduling.slots, on
   what they answered);
2. one booking (floor: one TransactWriteItems of the same items: the Appointment's version,
   current and index items, the Slot's, and a hold per 5 minutes);
3. contention: `--threads` bookers race for the same slot, `--rounds` times (a new slot each
   round): successes, conflicts and latency of each attempt.

The reminder workflow's StartExecution is made for real (a state machine in moto that does not
run), so AWS calls per booking include it. Moto answers in microseconds: the figures are Cairn's
own time and the calls it makes, next to the least any implementation must make.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from moto import mock_aws

from bench.clinical_store import clinical_store
from bench.measure import HEADER, CallCounter, Figures, measure
from cairn.records import keys
from cairn.reminders.workflow import ReminderWorkflow, StepFunctionsAppointmentReminders
from cairn.scheduling import time_holds
from cairn.scheduling.book import SlotTaken
from cairn.scheduling.services import SchedulingServices
from cairn.scheduling.slots import free_slots
from cairn.scheduling.visit_types import VISIT_TYPE_SYSTEM
from cairn.scheduling.working_week import parse_working_week
from devkit import dynamodb_queries, dynamodb_transactions
from multitenant.context import TenantContext
from multitenant.provisioning import DynamoTenantSettings

TENANT = "bench-clinic"
CLINICAL_TABLE, AUDIT_TABLE = "bench-clinical", "bench-audit"
CLINIC = TenantContext.system(TENANT, "bench")
ZONE = "America/New_York"
BOOKING_ITEMS = 20  # what a 20-minute booking writes: Appointment 10, Slot 6, holds 4 (counted once)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
WORKING_WEEK = {
    "hours": [{"day": d, "start": "08:00", "end": "18:00"} for d in WEEKDAYS],
    "breaks": [{"day": d, "start": "12:00", "end": "13:00"} for d in WEEKDAYS],
}


class Book:
    """Moto with the tables, a data key and a reminders state machine; one clinic's schedule."""

    def __init__(self) -> None:
        self.counter = CallCounter()
        self.clients, runtime = clinical_store(self.counter, CLINICAL_TABLE, AUDIT_TABLE)
        machine = self.clients.stepfunctions().create_state_machine(
            name="reminders",
            roleArn="arn:aws:iam::123456789012:role/bench",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        )
        workflow = ReminderWorkflow(self.clients.stepfunctions(), machine["stateMachineArn"])
        self.services = SchedulingServices(runtime, StepFunctionsAppointmentReminders(workflow))
        DynamoTenantSettings(self.clients.dynamodb(), CLINICAL_TABLE).update(TENANT, {"time_zone": ZONE})
        records = runtime.records(CLINIC)
        self.practitioner = records.create(
            "Practitioner", {"resourceType": "Practitioner", "name": [{"family": "Bench"}]}
        ).resource["id"]
        self.schedule = records.create(
            "Schedule",
            {"resourceType": "Schedule", "actor": [{"reference": f"Practitioner/{self.practitioner}"}]},
        ).resource["id"]
        self.services.set_working_week(CLINIC, self.schedule, WORKING_WEEK)
        self.patient = records.create(
            "Patient", {"resourceType": "Patient", "name": [{"family": "Contender"}]}
        ).resource["id"]
        self.dynamodb = self.clients.dynamodb()

    def slots(self, start: datetime, days: int, visit: str = "follow-up") -> list[dict[str, Any]]:
        return self.services.book(CLINIC).free_slots(
            self.schedule, start, start + timedelta(days=days), visit
        )

    def book(self, slot: dict[str, Any]) -> dict[str, Any]:
        return self.services.book(CLINIC).book(
            {
                "resourceType": "Appointment",
                "slot": [{"reference": f"Slot/{slot['id']}"}],
                "appointmentType": {"coding": [{"system": VISIT_TYPE_SYSTEM, "code": "follow-up"}]},
                "participant": [{"actor": {"reference": f"Patient/{self.patient}"}, "status": "accepted"}],
            }
        )

    def floor_search(self, start: datetime, days: int) -> int:
        """The reads a free-slot search cannot avoid, and the grid laid on their answers."""
        self.dynamodb.get_item(
            TableName=CLINICAL_TABLE,
            Key={
                "pk": {"S": keys.resource_pk(TENANT, "Schedule", self.schedule)},
                "sk": {"S": keys.CURRENT_SK},
            },
        )
        item = self.dynamodb.get_item(
            TableName=CLINICAL_TABLE,
            Key={"pk": {"S": keys.working_week_pk(TENANT, self.schedule)}, "sk": {"S": "current"}},
        )["Item"]
        end = start + timedelta(days=days)
        lower, upper = time_holds.window(start, end)
        held = self.dynamodb.query(
            TableName=CLINICAL_TABLE,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :lower AND :upper",
            ExpressionAttributeValues={
                ":pk": {"S": keys.hold_pk(TENANT, time_holds.scope(self.practitioner))},
                ":lower": {"S": lower},
                ":upper": {"S": upper},
            },
        )["Items"]
        week = parse_working_week(json.loads(item["body"]["S"]), ZONE)
        busy = time_holds.busy({h["sk"]["S"]: h["resource_id"]["S"] for h in held})
        return len(free_slots(week, 20, start, end, busy, now=start))

    def floor_booking(self, index: int, items: int) -> None:
        """One TransactWriteItems of `items` conditional puts, as a booking writes."""
        self.dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": CLINICAL_TABLE,
                        "ConditionExpression": "attribute_not_exists(pk)",
                        "Item": {
                            "pk": {"S": f"{TENANT}#floor#{index}"},
                            "sk": {"S": f"item-{n}"},
                            "body": {"S": "x" * 200},
                        },
                    }
                }
                for n in range(items)
            ]
        )


def contention(book: Book, first: datetime, threads: int, rounds: int) -> dict[str, float]:
    """`threads` bookers race for one slot per round; each attempt's latency, and who won."""
    slots = book.slots(first, 14)
    wins = conflicts = 0
    latencies: list[float] = []
    lock = threading.Lock()
    for slot in slots[:rounds]:
        gate = threading.Barrier(threads)

        def attempt(target: dict[str, Any] = slot, barrier: threading.Barrier = gate) -> None:
            nonlocal wins, conflicts
            barrier.wait()
            started = time.perf_counter()
            try:
                book.book(target)
                outcome = "won"
            except SlotTaken:
                outcome = "lost"
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                wins += outcome == "won"
                conflicts += outcome == "lost"

        workers = [threading.Thread(target=attempt) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    latencies.sort()
    return {
        "rounds": min(rounds, len(slots)),
        "successes": wins,
        "conflicts": conflicts,
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[round(0.95 * (len(latencies) - 1))],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="operations per measurement")
    parser.add_argument("--booked", type=int, default=120, help="visits in the book before the search")
    parser.add_argument("--threads", type=int, default=8, help="bookers racing for each slot")
    parser.add_argument("--rounds", type=int, default=20, help="slots raced for")
    args = parser.parse_args(argv)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }.items():
        os.environ.setdefault(name, value)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    rows: list[str] = [HEADER]
    # cairn dev's own fixes for moto: transactions that copy whole tables, queries that sort them.
    with dynamodb_transactions.installed(), dynamodb_queries.installed(), mock_aws():
        book = Book()
        monday = datetime.now(UTC).replace(hour=5, minute=0, second=0, microsecond=0)
        monday += timedelta(days=7 - monday.weekday())
        for slot in book.slots(monday, 30)[:: max(1, 600 // max(1, args.booked))][: args.booked]:
            book.book(slot)
        found = len(book.slots(monday, 30))
        print(f"{args.booked} visits booked; a 30-day search finds {found} free 20-minute slots", flush=True)
        results: list[Figures] = [
            measure("free slots, 30 days", args.runs, lambda _: book.slots(monday, 30), book.counter),
            measure(
                "  floor: GetItem x2 + Query + grid",
                args.runs,
                lambda _: book.floor_search(monday, 30),
                book.counter,
            ),
        ]
        later = book.slots(monday + timedelta(days=35), 30)
        results.append(
            measure("book a slot", min(args.runs, len(later)), lambda i: book.book(later[i]), book.counter)
        )
        results.append(
            measure(
                "  floor: TransactWriteItems (20 puts)",
                args.runs,
                lambda i: book.floor_booking(i, BOOKING_ITEMS),
                book.counter,
            )
        )
        raced = contention(book, monday + timedelta(days=70), max(2, args.threads), max(1, args.rounds))
    rows += [figure.row() for figure in results]
    print()
    print("\n".join(rows))
    print()
    print(
        f"contention: {args.threads} bookers x {raced['rounds']:g} slots: {raced['successes']:g} successes, "
        f"{raced['conflicts']:g} conflicts (409); attempt latency p50 {raced['p50_ms']:.1f} ms, "
        f"p95 {raced['p95_ms']:.1f} ms"
    )


if __name__ == "__main__":
    main()
