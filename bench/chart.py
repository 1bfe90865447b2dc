"""Benchmark: the clinical record through the real RecordService (ClinicalRuntime.records),
against moto in-process, each operation side by side with its floor: the raw DynamoDB calls
the operation cannot avoid, made with boto3 against the same moto in the same run.

    .venv/bin/python -m bench.chart [--runs 200] [--patients 200] [--observations 2000]

1. read of an Observation (floor: one GetItem of its current item);
2. Patient search by name among `--patients` patients (floor: one Query of the name's index
   partition, one BatchGetItem of what it found);
3. one patient's Observations by code and date range, over a history of `--observations`
   (floor: one Query of the code's index partition, bounded by the dates, one page long, and
   one BatchGetItem of that page);
4. Patient/$everything of a Synthea patient (floor: BatchGetItem of every resource it answers,
   100 keys a call, plus one Query);
5. import of the Synthea bundles (../shared/fixtures/synthea), in resources per second (floor:
   BatchWriteItem of one item per stored resource, 25 a call).

Moto answers in microseconds, so AWS latency is not the point: the figures show Cairn's own time
per operation (service, validation, field encryption, blind indexes, the audit write) and how
many AWS calls it makes, next to the least any implementation must make. 4 and 5 are skipped,
with a message, when the Synthea bundles are absent.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from moto import mock_aws

from bench.clinical_store import clinical_store
from bench.measure import HEADER, CallCounter, Figures, measure
from cairn.crypto.blind_index import BlindIndex
from cairn.errors import TransactionTooLarge
from cairn.fhir.search import parse_search
from cairn.imports import import_bundle, tenant_prefix
from cairn.records import keys
from cairn.records.repository import BaseResourceRepository, Change
from cairn.records.service import RecordService
from devkit import dynamodb_transactions
from devkit.demo_data import demo_patient_bundle
from infra.declarations import PROJECT_ROOT
from multitenant.context import Role, TenantContext

TENANT = "bench-clinic"
CLINICAL_TABLE, AUDIT_TABLE = "bench-clinical", "bench-audit"
SYNTHEA_DIR = PROJECT_ROOT.parent / "shared" / "fixtures" / "synthea"
PHYSICIAN = TenantContext(TENANT, "bench-physician", Role.PHYSICIAN)
# Ten vital-sign and lab codes, one Observation a day in turn: ~36 a year per code.
LOINC = ("8867-4", "8480-6", "8462-4", "8310-5", "9279-1", "29463-7", "8302-2", "2339-0", "4548-4", "2093-3")
HISTORY_START = date(1995, 1, 1)
SEARCHED_CODE = LOINC[3]
STORE_BATCH = 8  # Observations per seeding transaction; halved when their writes exceed one


class Chart:
    """Moto with the clinical and audit tables and a data key; the runtime the functions use."""

    def __init__(self) -> None:
        self.counter = CallCounter()
        self.clients, self.runtime = clinical_store(self.counter, CLINICAL_TABLE, AUDIT_TABLE)
        self.dynamodb = self.clients.dynamodb()
        self.blind_index = BlindIndex(self.runtime.keyring.data_key(TENANT))

    def physician(self) -> RecordService:
        return self.runtime.records(PHYSICIAN)

    def current_keys(self, references: list[tuple[str, str]]) -> list[dict[str, Any]]:
        return [{"pk": {"S": keys.resource_pk(TENANT, resource_type, resource_id)},
                 "sk": {"S": keys.CURRENT_SK}} for resource_type, resource_id in references]

    def batch_get(self, item_keys: list[dict[str, Any]]) -> None:
        for start in range(0, len(item_keys), 100):
            batch = item_keys[start:start + 100]
            self.dynamodb.batch_get_item(RequestItems={CLINICAL_TABLE: {"Keys": batch}})

    def index_page(self, pk: str, between: tuple[str, str] | None, limit: int) -> list[dict[str, Any]]:
        """One page of an index partition, as the keys of the resources' current items."""
        condition, values = "pk = :pk", {":pk": {"S": pk}}
        if between is not None:
            condition += " AND sk BETWEEN :low AND :high"
            values |= {":low": {"S": between[0]}, ":high": {"S": between[1]}}
        found = self.dynamodb.query(TableName=CLINICAL_TABLE, KeyConditionExpression=condition,
                                    ExpressionAttributeValues=values, Limit=limit)["Items"]
        resource_type = pk.split("#")[2]
        return self.current_keys([(resource_type, keys.entry_resource_id(item["sk"]["S"])) for item in found])


def observation(patient_id: str, day: int) -> dict[str, Any]:
    code = LOINC[day % len(LOINC)]
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": f"{HISTORY_START + timedelta(days=day)}T09:00:00Z",
        "valueQuantity": {"value": 60 + day % 40, "unit": "1", "system": "http://unitsofmeasure.org",
                          "code": "1"},
    }


def store_history(records: RecordService, patient_id: str, count: int) -> float:
    """Store `count` Observations of one patient through a repository's commit, in batches
    (the service builds and validates each Change); answers the seconds it took."""
    started = time.perf_counter()
    repository = records.records
    changes = [records.prepare_create("Observation", observation(patient_id, day)) for day in range(count)]
    for start in range(0, len(changes), STORE_BATCH):
        _commit(repository, changes[start:start + STORE_BATCH])
    return time.perf_counter() - started


def _commit(repository: BaseResourceRepository, changes: list[Change]) -> None:
    try:
        repository.commit(changes)
    except TransactionTooLarge:
        if len(changes) == 1:
            raise
        half = len(changes) // 2
        _commit(repository, changes[:half])
        _commit(repository, changes[half:])


def synthea_bundles() -> list[Path]:
    return sorted(SYNTHEA_DIR.glob("*.json")) if SYNTHEA_DIR.is_dir() else []


def figures(chart: Chart, runs: int, patients: int, observations: int) -> Iterator[Figures | str]:
    records, counter = chart.physician(), chart.counter
    created = [records.create("Patient", demo_patient_bundle(seed)["entry"][0]["resource"]).resource
               for seed in range(patients)]
    subject = created[0]["id"]
    seconds = store_history(records, subject, observations)
    yield f"seeded {patients} Patients and {observations} Observations of one patient in {seconds:.0f} s"
    history = [o["id"] for o in records.search(parse_search(
        "Observation", {"patient": [subject], "_count": ["100"]})).resources]

    yield measure("Observation read", runs, lambda i: records.read("Observation", history[i % len(history)]),
                  counter)
    current = [chart.current_keys([("Observation", history[i % len(history)])])[0] for i in range(runs)]
    yield measure("floor: GetItem", runs,
                  lambda i: chart.dynamodb.get_item(TableName=CLINICAL_TABLE, Key=current[i]), counter)

    names = [parse_search("Patient", {"name": [p["name"][0]["family"]]}) for p in created]
    yield measure(f"Patient search by name (among {patients})", runs,
                  lambda i: records.search(names[i % patients]), counter)
    name_pks = [keys.index_pk(TENANT, "Patient", "name", chart.blind_index.token("name", name))
                for name in (q.criteria[0].values[0] for q in names)]
    yield measure("floor: Query + BatchGetItem", runs,
                  lambda i: chart.batch_get(chart.index_page(name_pks[i % patients], None, 20)), counter)

    year = (HISTORY_START + timedelta(days=observations // 2)).year  # in the middle of the history
    by_code = parse_search("Observation", {
        "patient": [subject], "code": [f"http://loinc.org|{SEARCHED_CODE}"],
        "date": [f"ge{year}-01-01", f"le{year}-12-31"]})
    page = records.search(by_code).resources
    yield (f"the code and date search answers {len(page)} Observations a page "
           f"(page size {by_code.count}) of {observations}")
    yield measure(f"Observations by patient, code, date range (of {observations})", runs,
                  lambda _: records.search(by_code), counter)
    code_pk = keys.index_pk(TENANT, "Observation", "code",
                            chart.blind_index.token("code", by_code.criteria[1].values[0]))
    dates = (f"{year}-01-01", f"{year}-12-31~")
    yield measure("floor: Query (one page) + BatchGetItem", runs,
                  lambda _: chart.batch_get(chart.index_page(code_pk, dates, by_code.count)), counter)

    bundles = synthea_bundles()
    if not bundles:
        yield f"Synthea bundles not found in {SYNTHEA_DIR}: $everything and import skipped"
        return
    yield from synthea_figures(chart, bundles, runs)


def synthea_figures(chart: Chart, bundles: list[Path], runs: int) -> Iterator[Figures | str]:
    counter = chart.counter
    importer = chart.runtime.records(TenantContext.system(TENANT, "bench-import"))
    loaded = [(path, json.loads(path.read_bytes())) for path in bundles]
    before, aws_before = counter.calls.copy(), counter.seconds_in_aws
    started = time.perf_counter()
    created: list[dict[str, str]] = []
    for path, bundle in loaded:
        bundle_key = f"{tenant_prefix(TENANT)}synthea/{path.name}"
        created += import_bundle(importer, bundle, bundle_key).created
    stored = len(created)
    elapsed = time.perf_counter() - started
    made = counter.calls - before
    aws_s = counter.seconds_in_aws - aws_before
    yield (f"import: {stored} resources from {len(loaded)} Synthea bundles in {elapsed:.1f} s = "
           f"{stored / elapsed:.0f} resources/s; "
           f"own time {(elapsed - aws_s) / stored * 1000:.1f} ms a resource; "
           f"AWS calls per resource: "
           f"{', '.join(f'{op} {n / stored:.2f}' for op, n in sorted(made.items()))}")
    yield Figures("Synthea import (per resource)", stored, elapsed / stored * 1000, elapsed / stored * 1000,
                  (elapsed - aws_s) / stored * 1000, round(sum(made.values()) / stored, 2),
                  {op: round(n / stored, 2) for op, n in made.items()})
    item = {"body": {"S": "x" * 1400}}
    yield _floor_writes(chart, stored, item)

    subject = next(entry["id"] for entry in created if entry["type"] == "Patient")
    physician = chart.physician()
    everything = physician.everything(subject)
    yield f"$everything of a Synthea patient answers {len(everything)} resources"
    yield measure(f"Patient/$everything ({len(everything)} resources)", max(1, runs // 10),
                  lambda _: physician.everything(subject), counter)
    compartment = chart.current_keys([(str(r["resourceType"]), str(r["id"])) for r in everything])
    patient_pk = keys.resource_pk(TENANT, "Patient", subject)

    def floor(_: int) -> None:
        chart.dynamodb.query(TableName=CLINICAL_TABLE, KeyConditionExpression="pk = :pk",
                             ExpressionAttributeValues={":pk": {"S": patient_pk}}, Limit=1)
        chart.batch_get(compartment)

    yield measure("floor: Query + BatchGetItem (100 keys a call)", max(1, runs // 10), floor, counter)


def _floor_writes(chart: Chart, count: int, item: dict[str, Any]) -> Figures:
    """One BatchWriteItem per 25 resources: the least any import writes (no versions, no index)."""
    def put(n: int) -> dict[str, Any]:
        key = {"pk": {"S": f"{TENANT}#FloorImport#{n}"}, "sk": {"S": "current"}}
        return {"PutRequest": {"Item": {**key, **item}}}

    batches = [[put(n) for n in range(start, min(count, start + 25))] for start in range(0, count, 25)]
    whole = measure("floor: BatchWriteItem, 25 items a call (whole import)", 1,
                    lambda _: [chart.dynamodb.batch_write_item(RequestItems={CLINICAL_TABLE: batch})
                               for batch in batches], chart.counter)
    return Figures("floor: BatchWriteItem, 25 a call (per resource)", count, whole.p50_ms / count,
                   whole.p50_ms / count, whole.own_ms / count, round(whole.calls_per_op / count, 2),
                   {op: round(n / count, 2) for op, n in whole.calls.items()})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="operations per measurement")
    parser.add_argument("--patients", type=int, default=200, help="Patients the name search runs among")
    parser.add_argument("--observations", type=int, default=2_000,
                        help="the searched patient's history; 10,000 is the aim, but moto's Query reads "
                             "the whole table, so the run then takes far longer than 5 minutes")
    args = parser.parse_args(argv)
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_REGION": "us-east-1",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
                        "POWERTOOLS_LOG_LEVEL": "WARNING"}.items():
        os.environ.setdefault(name, value)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    rows = [HEADER]
    # cairn dev's own fix for moto's transactions, which copy whole tables to roll back.
    with dynamodb_transactions.installed(), mock_aws():
        for result in figures(Chart(), max(1, args.runs), max(1, args.patients), max(20, args.observations)):
            if isinstance(result, str):
                print(result, flush=True)
            else:
                rows.append(result.row())
    print()
    print("\n".join(rows))


if __name__ == "__main__":
    main()
