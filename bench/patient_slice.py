"""Benchmark: Patient create, read and search through the FHIR API handler, against the
embedded stack, side by side with their floor: the raw DynamoDB calls alone, in the same run.

    .venv/bin/python -m bench.patient_slice [--runs 200]

The handler is the deployed Chalice app called with API Gateway proxy events (as the API
front and API Gateway call it), so the figures include validation, field encryption, blind
indexes and the audit write. AWS calls are counted with botocore's before-call events.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.measure import HEADER, CallCounter, Figures, measure
from cairn.aws import AwsClients, AwsSettings
from devkit import emulator
from devkit.demo_data import demo_patient_bundle
from devkit.gateway import ApiIdentity, IncomingRequest, proxy_event
from devkit.lambda_executor import LambdaContext
from devkit.provision import ProvisionTarget, provision
from devkit.routes import RouteTable, load_chalice_app
from infra.declarations import APIS

TENANT = "bench-clinic"
INDEX_ENTRIES = 5  # a generated Patient's blind tokens: family, given, birthdate, identifier (2 forms)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class FhirApiCaller:
    """Calls the FHIR API handler the way API Gateway does, as a physician of TENANT."""

    def __init__(self, handler: Any, routes: RouteTable, identity: ApiIdentity) -> None:
        self._handler = handler
        self._routes = routes
        self._identity = identity
        self._authorizer = {"tenant_id": TENANT, "role": "physician", "sub": "bench-physician",
                            "patient_id": "", "principalId": "bench-physician"}

    def __call__(self, method: str, path: str, query: str = "", body: dict[str, Any] | None = None) -> Any:
        match = self._routes.match(path)
        if match is None:
            raise LookupError(f"no route for {path}")
        payload = json.dumps(body).encode() if body is not None else b""
        request = IncomingRequest(method, path, query, [("Content-Type", "application/fhir+json")],
                                  payload, "127.0.0.1")
        event = proxy_event(request, match, self._identity, self._authorizer, ())
        deadline_ms = int(time.time() * 1000) + 29_000
        context = LambdaContext("cairn-bench-fhir-api", "$LATEST", "arn:aws:lambda:bench", 512,
                                str(uuid.uuid4()), "/aws/lambda/bench", "bench", deadline_ms)
        response = self._handler(event, context)
        if response["statusCode"] >= 400:
            raise RuntimeError(f"{method} {path} answered {response['statusCode']}: {response['body'][:300]}")
        return json.loads(response["body"])


def run(runs: int) -> list[Figures]:
    emulator.use_local_credentials()
    with tempfile.TemporaryDirectory() as state:
        emu = emulator.start_embedded(free_port(), Path(state))
        try:
            clients = AwsClients(AwsSettings.from_environ(os.environ))
            deployment = provision(clients, ProvisionTarget(emu.endpoint_url, embedded=True))
            environment = deployment.function_environments["fhir-api"]
            os.environ.update(environment)
            os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # the figures, not a log line per request
            api = APIS[0]
            chalice_app = load_chalice_app(api, environment)
            routes = RouteTable.from_apps({api: chalice_app})
            from functions.fhir_api import app as fhir_api  # imported with the function's environment

            runtime = fhir_api.runtime()
            counter = CallCounter()
            for service in ("dynamodb", "kms"):
                counter.attach(runtime.clients.client(service))
            identity = ApiIdentity(deployment.region, deployment.account_id, "bench", "dev")
            return _figures(FhirApiCaller(fhir_api.app, routes, identity), clients, deployment.tables,
                            counter, runs)
        finally:
            emu.stop()


def _figures(call: FhirApiCaller, clients: AwsClients, tables: dict[str, str],
             counter: CallCounter, runs: int) -> list[Figures]:
    patients = [demo_patient_bundle(seed)["entry"][0]["resource"] for seed in range(runs)]
    call("POST", "/fhir/R4/Patient", body=patients[0])  # cold start: settings, data key, clients
    created: list[dict[str, Any]] = []
    results = [measure("Patient create (handler)", runs,
                       lambda i: created.append(call("POST", "/fhir/R4/Patient", body=patients[i])), counter)]
    results.append(measure("Patient read (handler)", runs,
                           lambda i: call("GET", f"/fhir/R4/Patient/{created[i]['id']}"), counter))
    results.append(measure(
        "Patient search name+birthdate (handler)", runs,
        lambda i: call("GET", "/fhir/R4/Patient",
                       f"name={created[i]['name'][0]['family']}&birthdate={created[i]['birthDate']}"),
        counter))
    results += _floor(clients, tables["clinical"], runs, counter)
    return results


def _floor(clients: AwsClients, table: str, runs: int, counter: CallCounter) -> list[Figures]:
    """The calls no Patient API can avoid: one item written, one item read, one index query
    plus the batch read of what it found. Items are the size of a stored encrypted Patient."""
    dynamodb = clients.dynamodb()
    kms = clients.kms()
    counter.attach(dynamodb)
    counter.attach(kms)
    blob = "x" * 1400  # about the size of a stored Patient's body + sealed PHI fields
    ids = [str(uuid.uuid4()) for _ in range(runs)]

    def put(i: int) -> None:
        dynamodb.put_item(TableName=table, Item={"pk": {"S": f"{TENANT}#Floor#{ids[i]}"},
                                                 "sk": {"S": "current"}, "body": {"S": blob}},
                          ConditionExpression="attribute_not_exists(pk)")

    def get(i: int) -> None:
        dynamodb.get_item(TableName=table, Key={"pk": {"S": f"{TENANT}#Floor#{ids[i]}"},
                                                "sk": {"S": "current"}})

    def transact(i: int) -> None:
        # What a create must write at least: version, current, and its search index entries.
        items = [{"pk": {"S": f"{TENANT}#FloorTx#{ids[i]}"}, "sk": {"S": sk}, "body": {"S": blob}}
                 for sk in ("v000000001", "current")]
        items += [{"pk": {"S": f"{TENANT}#FloorIdx#{token}#{ids[i]}"}, "sk": {"S": ids[i]}}
                  for token in range(INDEX_ENTRIES)]
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}
            for item in items])

    def index_query(i: int) -> None:
        keys = []
        for token in range(2):  # two criteria, as in the name+birthdate search
            index_pk = {"S": f"{TENANT}#FloorIdx#{token}#{ids[i]}"}
            found = dynamodb.query(TableName=table, KeyConditionExpression="pk = :pk",
                                   ExpressionAttributeValues={":pk": index_pk})
            keys = [{"pk": {"S": f"{TENANT}#Floor#{item['sk']['S']}"}, "sk": {"S": "current"}}
                    for item in found["Items"]]
        dynamodb.batch_get_item(RequestItems={table: {"Keys": keys}})

    key_id = os.environ["CAIRN_DATA_KEY_ID"]
    wrapped = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256",
                                    EncryptionContext={"tenant_id": TENANT})["CiphertextBlob"]
    return [
        measure("floor: PutItem (conditional)", runs, put, counter),
        measure("floor: GetItem", runs, get, counter),
        measure(f"floor: TransactWriteItems ({INDEX_ENTRIES + 2} puts)", runs, transact, counter),
        measure("floor: 2 Query + BatchGetItem", runs, index_query, counter),
        measure("floor: KMS Decrypt (a cold data key)", min(runs, 50),
                lambda _: kms.decrypt(CiphertextBlob=wrapped, EncryptionContext={"tenant_id": TENANT}),
                counter),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="operations per measurement (bounded)")
    args = parser.parse_args(argv)
    runs = max(1, min(args.runs, 2000))
    print(HEADER)
    for figures in run(runs):
        print(figures.row())


if __name__ == "__main__":
    main()
