"""Benchmark: lab results (HL7 v2 ORU^R01) through the whole lab-ingestion workflow in the embedded
runtime `cairn dev` uses, side by side with parsing alone as the floor, and AWS calls per message.

    .venv/bin/python -m bench.labs [--messages 1000] [--patients 50] [--api [100]]

1. floor A: python-hl7's `hl7.parse` alone over the N generated messages;
2. floor B: Cairn's codec alone over the same messages as one batch file (`framing.normalize`,
   `framing.split_batch`, `results.read_results`): the parsing the workflow cannot avoid;
3. the lab inbox: ONE batch file of N messages put under tenants/<clinic>/<lab>/ in the lab-inbox
   bucket; moto's S3 notification runs the lab-inbox function, which starts one execution of the
   real stepfunctions/lab_ingestion.asl.json; that execution stores every message, then maps over
   them with the real lab-ingestion handler. Timed from the put until the execution stopped;
4. with --api, the lab API: POST /labs/{lab}/hl7 of a smaller batch (100 by default), invoked as
   API Gateway invokes the lab-api function; the request (store, accept ACKs) is timed on its own,
   and again until the execution it started stopped.

1,000 messages take ten minutes or more here (0.5 to 1.3 s a message across runs on one machine,
slower as the tables grow): `--messages 200` gives the figure in about three minutes.

The clinic releases after review; `--patients` patients are enrolled, and a ServiceRequest with a
placer number is created for each ordered message. Of every 20 messages: 1 names a patient the
clinic does not have (held for reconciliation), 1 is critical (a stat review task), 2 are
unsolicited (matched by the lab's identifier), and the critical one, 4 abnormal and 12 normal
answer an order.

AWS calls are counted by wrapping botocore's `ClientCreator.create_client` for the run: every
client the process builds gets bench.measure's CallCounter (botocore before-call/after-call
events), chosen by who builds it, and the functions' clients a clock of seconds per operation.
The Lambda handlers run in-process (devkit.lambda_executor), so a client built while a function
runs is the function's own: its calls are the workflow's. moto's Step Functions executor builds a
fresh boto3 client for every Task and calls Lambda Invoke back through the emulator's HTTP port:
those invokes are the workflow's too, shown apart as "StepFunctions task Lambda.Invoke". The
benchmark's own clients (the put, API Gateway's invoke, polling for the end) are not counted. The
S3 notification's invoke of the lab-inbox function is made inside moto without botocore (one per
file, not counted).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.client
import hl7  # type: ignore[import-untyped,unused-ignore]

from bench.measure import CallCounter
from cairn.aws import AwsClients, AwsSettings
from cairn.config import DataSettings
from cairn.labs.directory import lab_organization
from cairn.labs.framing import normalize, split_batch
from cairn.labs.inbox_files import inbox_key
from cairn.labs.ledger import DynamoLabLedger
from cairn.labs.model import PLACER_ORDER_SYSTEM, PatientIdentifier, PatientIdentity
from cairn.labs.results import read_results
from cairn.records.service import RecordService
from cairn.runtime import ClinicalRuntime
from devkit import emulator
from devkit.deployment import Deployment
from devkit.lab_messages import PANELS, Outcome, batch_file, panel_results, result_message
from devkit.provision import ProvisionTarget, provision
from multitenant.context import Role, TenantContext
from multitenant.provisioning import DynamoTenantSettings

TENANT = "bench-labs"
LAB = "bench-lab"
HL7_MEDIA_TYPE = "x-application/hl7-v2+er7"
COLLECTED = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
FAMILIES = ("Okafor", "Lindqvist", "Moreau", "Tanaka", "Haddad", "Silva", "Novak", "Byrne", "Kowalski",
            "Reyes")
GIVEN = ("Ana", "Ben", "Chidi", "Dana", "Emil", "Farah", "Goran", "Hana", "Ivo", "Jun")
PANEL_ORDER = ("cbc", "bmp", "lipid", "hba1c", "potassium")
FLOOR_REPEATS = 3  # the floors take the best of three passes: they are short and noisy
WORKFLOW_TIMEOUT_SECONDS = 3_600
POLL_SECONDS = 0.1
SFN_TASK = "StepFunctions task "  # prefix of the executor's Lambda invokes in the breakdown

HEADER = ("| run | messages | seconds | messages/s | AWS calls/message | calls per message |\n"
          "|---|---|---|---|---|---|")


# -- AWS calls, counted by who made them -------------------------------------------------------
@dataclass
class OperationClock:
    """Seconds in each AWS operation ("Service.Operation"); CallCounter keeps only the total."""

    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    _started: threading.local = field(default_factory=threading.local)

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call.*.*", self._before)
        client.meta.events.register("after-call.*.*", self._after)

    def _before(self, **_: Any) -> None:
        self._started.at = time.perf_counter()

    def _after(self, model: Any, **_: Any) -> None:
        operation = f"{model.service_model.service_id}.{model.name}"
        self.seconds[operation] += time.perf_counter() - self._started.at


@dataclass(frozen=True)
class Mark:
    """The calls made so far and the seconds the functions spent in them, at a moment."""

    at: float
    calls: Counter[str]
    functions_seconds: dict[str, float]


@dataclass
class CallCensus:
    """The functions' clients and the Step Functions executor's, counted apart."""

    functions: CallCounter = field(default_factory=CallCounter)
    functions_clock: OperationClock = field(default_factory=OperationClock)
    executor: CallCounter = field(default_factory=CallCounter)

    def mark(self) -> Mark:
        calls = self.functions.calls + Counter({SFN_TASK + op: n for op, n in self.executor.calls.items()})
        return Mark(time.perf_counter(), calls, dict(self.functions_clock.seconds))

    def adopt(self, client: Any) -> None:
        """Attach `client` to the counter of whoever is building it (read off the call stack)."""
        modules = _calling_modules()
        if "devkit.lambda_executor" in modules:
            self.functions.attach(client)
            self.functions_clock.attach(client)
        elif any(name.startswith("moto.stepfunctions") for name in modules):
            self.executor.attach(client)

    @contextmanager
    def watching(self) -> Iterator[CallCensus]:
        """Every botocore client built inside the block is adopted; the seam is restored after."""
        original = botocore.client.ClientCreator.create_client

        def create_client(creator: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(creator, *args, **kwargs)
            self.adopt(client)
            return client

        botocore.client.ClientCreator.create_client = create_client
        try:
            yield self
        finally:
            botocore.client.ClientCreator.create_client = original


def _calling_modules() -> set[str]:
    frame, names = sys._getframe(2), set()
    while frame is not None:
        names.add(str(frame.f_globals.get("__name__", "")))
        frame = frame.f_back  # type: ignore[assignment]
    return names


# -- one row of the table ----------------------------------------------------------------------
@dataclass(frozen=True)
class Throughput:
    """Messages through one path in a wall time, and the AWS calls made on the way."""

    name: str
    messages: int
    seconds: float
    calls: Counter[str] = field(default_factory=Counter)
    functions_seconds: dict[str, float] = field(default_factory=dict)  # by operation, summed

    @classmethod
    def between(cls, name: str, messages: int, start: Mark, end: Mark) -> Throughput:
        spent = {op: s - start.functions_seconds.get(op, 0.0) for op, s in end.functions_seconds.items()}
        return cls(name, messages, end.at - start.at, end.calls - start.calls,
                   {op: s for op, s in spent.items() if s > 0})

    def row(self) -> str:
        per_message = {op: n / self.messages for op, n in self.calls.items()}
        breakdown = ", ".join(f"{op} {n:.2f}" for op, n in sorted(per_message.items(), key=lambda i: -i[1]))
        total = sum(per_message.values())
        return (f"| {self.name} | {self.messages} | {self.seconds:.2f} | {self.messages / self.seconds:,.1f} "
                f"| {total:.1f} | {breakdown or '-'} |")

    def where_the_time_went(self) -> str:
        """The functions' AWS calls never overlap (one invocation at a time), so their seconds add up
        to a share of the wall time; the rest is the handlers' own code and the executor."""
        waited = sum(self.functions_seconds.values())
        slowest = sorted(self.functions_seconds.items(), key=lambda i: -i[1])[:4]
        each = ", ".join(f"{op} {s:.0f} s ({s / self.calls[op] * 1000:.0f} ms a call)" for op, s in slowest)
        return (f"{self.name}: the functions waited {waited:.0f} s of the {self.seconds:.0f} s on their AWS "
                f"calls; most on {each}")


# -- the messages a lab sends --------------------------------------------------------------------
@dataclass(frozen=True)
class LabResult:
    """One generated ORU^R01 and the order (placer number) the clinic must hold for it, if any."""

    text: str
    patient: int | None  # index into the enrolled patients; None for a patient the clinic lacks
    placer: str | None
    panel: str


def identity(number: int) -> PatientIdentity:
    """A synthetic patient, as the clinic enrols them and the lab names them in PID."""
    return PatientIdentity(
        identifiers=(PatientIdentifier(f"BENCH-{number:05d}", "ACME", "MR"),),
        family=FAMILIES[number % len(FAMILIES)] + (f"-{FAMILIES[number // len(FAMILIES) % len(FAMILIES)]}"
                                                   if number >= len(FAMILIES) else ""),
        given=(GIVEN[number % len(GIVEN)],),
        birth_date=f"{1940 + number % 60}-{1 + number % 12:02d}-{1 + number % 28:02d}",
        sex=("female", "male")[number % 2])


def lab_results(count: int, patients: int, prefix: str) -> list[LabResult]:
    """`count` results for `patients` patients: of every 20, 1 for an unknown patient, 1 critical,
    2 unsolicited, 4 abnormal, 12 normal (critical, abnormal and normal answer an order)."""
    results = []
    for n in range(count):
        kind = n % 20
        panel = PANEL_ORDER[n % len(PANEL_ORDER)]
        outcome = Outcome.CRITICAL if kind == 1 else Outcome.ABNORMAL if 4 <= kind < 8 else Outcome.NORMAL
        patient = None if kind == 0 else n % patients
        placer = None if kind in (0, 2, 3) else f"{prefix}-ORD-{n:05d}"
        who = identity(patient if patient is not None else 90_000 + n)
        tests = panel_results(PANELS[panel], seed=n, outcome=outcome)
        text = result_message(patient=who, control_id=f"{prefix}-{n:05d}", placer=placer,
                              filler=f"{prefix}-F{n:05d}", tests=tests, panel=PANELS[panel],
                              collected=COLLECTED - timedelta(minutes=n))
        results.append(LabResult(text, patient, placer, panel))
    return results


# -- the floors ----------------------------------------------------------------------------------
def best_of(name: str, messages: int, run: Callable[[], object]) -> Throughput:
    seconds = []
    for _ in range(FLOOR_REPEATS):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return Throughput(name, messages, min(seconds))


def floors(results: Sequence[LabResult]) -> list[Throughput]:
    texts = [r.text for r in results]
    batch = batch_file(texts).encode()

    def python_hl7() -> None:
        for text in texts:
            hl7.parse(text)

    def cairn_codec() -> None:
        for message in split_batch(normalize(batch)):
            read_results(message)

    return [best_of("floor A: python-hl7 `hl7.parse` alone", len(texts), python_hl7),
            best_of("floor B: Cairn's codec alone (normalize, split_batch, read_results)", len(texts),
                    cairn_codec)]


# -- the clinic in the embedded runtime -----------------------------------------------------------
@dataclass
class Clinic:
    """The benchmark's clinic: settings, its lab, patients, a practitioner and orders."""

    clients: AwsClients
    deployment: Deployment
    patient_ids: list[str] = field(default_factory=list)
    requester: str = ""

    @property
    def records(self) -> RecordService:
        settings = DataSettings.from_environ(self.deployment.function_environments["lab-ingestion"])
        return ClinicalRuntime(settings, self.clients).records(TenantContext.system(TENANT, "bench-seed"))

    def set_up(self, patients: int) -> None:
        """Settings as onboarding writes them (release after review), the lab, the patients."""
        DynamoTenantSettings(self.clients.dynamodb(), self.deployment.tables["clinical"]).put_defaults(
            TENANT, {"time_zone": "UTC", "lab_results_release": "after_review"})
        records = self.records
        records.create("Organization", lab_organization(LAB, "Bench Reference Lab"))
        requester = records.create("Practitioner", {
            "resourceType": "Practitioner", "name": [{"family": "Radon", "given": ["Nicholas"]}],
            "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}]})
        self.requester = f"Practitioner/{requester.resource['id']}"
        for number in range(patients):
            who = identity(number)
            self.patient_ids.append(str(records.create("Patient", {
                "resourceType": "Patient", "name": [{"family": who.family, "given": list(who.given)}],
                "birthDate": who.birth_date, "gender": who.sex,
                "identifier": [{"system": "https://cairn.example/mrn", "value": who.identifiers[0].value}],
            }).resource["id"]))

    def place_orders(self, results: Sequence[LabResult]) -> None:
        """The ServiceRequest each ordered result answers, with the placer number it carries."""
        records = self.records
        for result in results:
            if result.placer is None or result.patient is None:
                continue
            records.create("ServiceRequest", {
                "resourceType": "ServiceRequest", "status": "active", "intent": "order",
                "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "108252007",
                                          "display": "Laboratory procedure"}]}],
                "code": {"coding": [{"system": "http://loinc.org", "code": PANELS[result.panel].loinc}]},
                "subject": {"reference": f"Patient/{self.patient_ids[result.patient]}"},
                "requester": {"reference": self.requester}, "authoredOn": "2026-11-19T09:00:00Z",
                "identifier": [{"system": PLACER_ORDER_SYSTEM, "value": result.placer}]})

    # -- delivery -----------------------------------------------------------------------------
    def drop_file(self, name: str, results: Sequence[LabResult]) -> None:
        """The batch file put in the lab inbox, as the lab's SFTP drop would put it."""
        body = batch_file([r.text for r in results], control_id=name).encode()
        self.clients.s3().put_object(Bucket=self.deployment.buckets["lab-inbox"],
                                     Key=inbox_key(TENANT, LAB, f"{name}.hl7"), Body=body)

    def post(self, name: str, results: Sequence[LabResult]) -> int:
        """POST /labs/{lab}/hl7 through the lab-api function, as API Gateway invokes it."""
        body = batch_file([r.text for r in results], control_id=name).encode()
        lab_system = TenantContext(TENANT, "lab-system", Role.LAB_INTERFACE)
        resource, path = "/labs/{lab}/hl7", f"/labs/{LAB}/hl7"
        event = {
            "resource": resource, "path": path, "httpMethod": "POST",
            "headers": {"Content-Type": HL7_MEDIA_TYPE, "Host": emulator.LOOPBACK}, "multiValueHeaders": None,
            "queryStringParameters": None, "multiValueQueryStringParameters": None,
            "pathParameters": {"lab": LAB}, "stageVariables": None,
            "requestContext": {"resourcePath": resource, "httpMethod": "POST", "requestId": name,
                               "stage": "local", "path": f"/local{path}", "domainName": emulator.LOOPBACK,
                               "authorizer": {**lab_system.as_claims(), "principalId": lab_system.user_id}},
            "body": base64.b64encode(body).decode(), "isBase64Encoded": True,
        }
        response = self.clients.lambda_().invoke(FunctionName=self.deployment.functions["lab-api"],
                                                 Payload=json.dumps(event).encode())
        payload = json.loads(response["Payload"].read())
        if "FunctionError" in response:
            raise RuntimeError(f"the lab-api function failed: {payload.get('errorType')}")
        return int(payload["statusCode"])

    def wait_for_new_executions(self, known: set[str],
                                timeout: float = WORKFLOW_TIMEOUT_SECONDS) -> dict[str, str]:
        """The executions not in `known` and their statuses, once at least one exists and none runs."""
        sfn, arn = self.clients.stepfunctions(), self.deployment.state_machines["lab-ingestion"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fresh = [e for e in sfn.list_executions(stateMachineArn=arn, maxResults=1000)["executions"]
                     if e["executionArn"] not in known]
            if fresh and all(e["status"] != "RUNNING" for e in fresh):
                known.update(e["executionArn"] for e in fresh)
                return {str(e["executionArn"]): str(e["status"]) for e in fresh}
            time.sleep(POLL_SECONDS)
        raise TimeoutError(f"the lab-ingestion workflow was still running after {timeout:.0f} s")

    def task_failures(self, executions: Iterable[str]) -> Counter[str]:
        """Failed Task attempts by state, error and cause (each retried, or caught into quarantine):
        retries add calls and seconds, so the figure is read together with them. The messages are
        synthetic, and a cause names an exception, not a message's content."""
        pages = self.clients.stepfunctions().get_paginator("get_execution_history")
        failed: Counter[str] = Counter()
        for arn in executions:
            events: dict[int, dict[str, Any]] = {}
            for page in pages.paginate(executionArn=arn):
                events.update((event["id"], event) for event in page["events"])
            for event in events.values():
                if event["type"] == "TaskFailed":
                    details = event["taskFailedEventDetails"]
                    failed[f"{_state_of(event, events)}: {details.get('error')} "
                           f"({str(details.get('cause', ''))[:120]})"] += 1
        return failed

    def delivered(self, executions: dict[str, str], results: Sequence[LabResult]) -> str:
        """What the run left: the executions' statuses, the messages' statuses, the failed attempts."""
        return (f"execution(s) {sorted(executions.values())}; messages {dict(self.outcomes(results))}; "
                f"failed task attempts {dict(self.task_failures(executions)) or 'none'}")

    def outcomes(self, results: Sequence[LabResult]) -> Counter[str]:
        """How many of `results` the ledger holds in each status (a sanity check on the run)."""
        ledger = DynamoLabLedger(TenantContext.system(TENANT, "bench"), self.clients.dynamodb(),
                                 self.deployment.tables["clinical"])
        found: Counter[str] = Counter()
        for result in results:
            control = result.text.split("\r", 1)[0].split("|")[9]
            entry = ledger.get(LAB, control)
            found[entry.status.value if entry else "missing"] += 1
        return found


def _state_of(event: dict[str, Any], events: dict[int, dict[str, Any]]) -> str:
    """The state a history event belongs to: the TaskStateEntered its previous events lead back to."""
    for _ in range(5):
        entered = event.get("stateEnteredEventDetails")
        if entered:
            return str(entered["name"])
        event = events.get(event.get("previousEventId", 0), {})
    return "unknown state"


# -- the run -------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((emulator.LOOPBACK, 0))
        return int(probe.getsockname()[1])


def workflow_figures(census: CallCensus, messages: int, patients: int, api_messages: int,
                     cache_dir: Path) -> Iterator[Throughput | str]:
    os.environ.pop("AWS_ENDPOINT_URL", None)
    emulator.use_local_credentials()
    running = emulator.start_embedded(free_port(), cache_dir)
    try:
        clients = AwsClients(AwsSettings(region=emulator.REGION, endpoint_url=running.endpoint_url))
        started = time.perf_counter()
        clinic = Clinic(clients, provision(clients, ProvisionTarget(endpoint_url=running.endpoint_url,
                                                                    embedded=True)))
        clinic.set_up(patients)
        inbox_batch = lab_results(messages, patients, "INBOX")
        api_batch = lab_results(api_messages, patients, "API")
        clinic.place_orders([*inbox_batch, *api_batch])
        orders = sum(r.placer is not None and r.patient is not None for r in (*inbox_batch, *api_batch))
        yield f"provisioned, {patients} patients and {orders} orders in {time.perf_counter() - started:.0f} s"
        known: set[str] = set()
        start = census.mark()
        clinic.drop_file("INBOX-BATCH", inbox_batch)
        executions = clinic.wait_for_new_executions(known)
        inbox = Throughput.between("lab inbox: S3 put of one batch file until its execution stopped",
                                   messages, start, census.mark())
        yield inbox
        yield inbox.where_the_time_went()
        yield f"lab inbox: {clinic.delivered(executions, inbox_batch)}"
        if api_messages:
            yield from api_figures(clinic, census, api_batch, known)
    finally:
        running.stop()


def api_figures(clinic: Clinic, census: CallCensus, batch: Sequence[LabResult],
                known: set[str]) -> Iterator[Throughput | str]:
    start = census.mark()
    status = clinic.post("API-BATCH", batch)
    accepted = census.mark()
    executions = clinic.wait_for_new_executions(known)
    stopped = census.mark()
    yield Throughput.between("lab API: POST /labs/{lab}/hl7, the request (store, accept ACKs)", len(batch),
                             start, accepted)
    whole = Throughput.between("lab API: POST until its execution stopped", len(batch), start, stopped)
    yield whole
    yield whole.where_the_time_went()
    yield f"lab API: HTTP {status}; {clinic.delivered(executions, batch)}"


NOTE = """
What bounds the workflow figure: the embedded runtime runs one Lambda invocation at a time in this
process (devkit.lambda_executor: a function's environment is process-wide), so the Map's
MaxConcurrency of 10 overlaps nothing and the figure is the sum of every step of every message.
Each step is a Lambda Invoke from moto's Step Functions executor over HTTP (a new boto3 client per
Task), and inside it each of the function's AWS calls is another HTTP round trip to moto (signing,
routing, moto's own work): the line above each table says how much of the wall time those calls
took. In AWS the Map runs 10 messages at once in parallel containers; the calls per message carry over,
the seconds do not."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000, help="messages in the inbox batch file")
    parser.add_argument("--patients", type=int, default=50, help="patients of the clinic the results are for")
    parser.add_argument("--api", type=int, nargs="?", const=100, default=0, metavar="MESSAGES",
                        help="also POST a batch of MESSAGES (100 if not given) through the lab API")
    args = parser.parse_args(argv)
    messages, patients = max(20, args.messages), max(1, args.patients)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # no metric lines amid the table
    rows = [HEADER]
    rows += [floor.row() for floor in floors(lab_results(messages, patients, "FLOOR"))]
    census, out = CallCensus(), sys.stdout
    # The functions' own output (Powertools flushes its buffered metric lines) is dropped.
    with (census.watching(), tempfile.TemporaryDirectory(prefix="cairn-bench-labs-") as cache_dir,
          open(os.devnull, "w") as devnull, redirect_stdout(devnull)):
        for result in workflow_figures(census, messages, patients, max(0, args.api), Path(cache_dir)):
            line = result if isinstance(result, str) else result.row()
            print(line, file=out, flush=True)
            if isinstance(result, Throughput):
                rows.append(line)
    print()
    print("\n".join(rows))
    print(NOTE)


if __name__ == "__main__":
    main()
