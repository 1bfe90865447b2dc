"""PHI never enters a log line: every function's logs, over the paths that see PHI — creates,
invalid resources, reads, searches by name and birth date, denials and bundle imports."""

from __future__ import annotations

import io
import json
import logging
import random
from collections.abc import Iterator
from typing import Any

import pytest

from devkit.demo_data import demo_patient, demo_patient_bundle
from functions.bundle_import import handler as bundle_import
from functions.fhir_api import app as api
from tests.integration.clinical.support import caller
from tests.integration.clinical.test_fhir_api import call, create, read

LOGGERS = (api.logger, bundle_import.logger)


@pytest.fixture(autouse=True)
def fresh_runtime(cloud) -> Iterator[None]:
    api.runtime.cache_clear()
    bundle_import.runtime.cache_clear()
    yield
    api.runtime.cache_clear()
    bundle_import.runtime.cache_clear()


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Everything the functions' Powertools loggers write, formatted as in Lambda."""
    stream = io.StringIO()
    handlers = []
    for logger in LOGGERS:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logger.registered_formatter)
        logger.addHandler(handler)
        handlers.append((logger, handler))
    yield stream
    for logger, handler in handlers:
        logger.removeHandler(handler)


def phi_of(patient: dict[str, Any]) -> list[str]:
    """The identifying values of a patient, as they would appear in a leaked log line."""
    values = [patient["birthDate"], *(i["value"] for i in patient["identifier"]),
              *(t["value"] for t in patient["telecom"])]
    for name in patient["name"]:
        values += [name["family"], *name["given"]]
    for address in patient["address"]:
        values += [*address["line"], address["postalCode"]]
    return values


def test_no_phi_in_any_log_line_of_the_api_and_the_import(cloud, lambda_context, log_lines, capfd):
    patient = demo_patient(random.Random(7))
    physician, outsider = caller(), caller(tenant="globex")

    status, _, created = create(physician, patient)
    assert status == 201
    invalid = {**patient, "birthDate": f"{patient['birthDate']}-99"}
    assert create(physician, invalid)[0] == 422
    assert read(physician, created["id"])[0] == 200
    assert read(outsider, created["id"])[0] == 404
    search = {"name": [patient["name"][0]["family"]], "birthdate": [patient["birthDate"]]}
    assert call("GET", "/fhir/R4/Patient", physician, query=search)[0] == 200
    ranged = {"birthdate": [f"ge{patient['birthDate']}"]}  # prefixes are refused, with the value
    assert call("GET", "/fhir/R4/Patient", physician, query=ranged)[0] == 400
    assert call("POST", "/fhir/R4/Patient", physician, body=json.dumps(patient)[:-5])[0] == 400

    bundle = demo_patient_bundle(11)
    imported = bundle["entry"][0]["resource"]
    bundle["entry"].append({"fullUrl": "urn:uuid:broken", "request": {"method": "POST", "url": "Patient"},
                            "resource": {**imported, "gender": imported["name"][0]["family"]}})
    cloud.put_document("tenants/acme/imports/visit.json", bundle)
    summary = bundle_import.handler({"tenant_id": "acme", "bundle_key": "tenants/acme/imports/visit.json"},
                                    lambda_context)
    assert len(summary["created"]) == 1
    assert len(summary["rejected"]) == 1

    captured = capfd.readouterr()
    logs = log_lines.getvalue() + captured.out + captured.err
    assert "request refused" in logs  # the capture works: the 422 and 404 were logged
    leaked = [value for value in phi_of(patient) + phi_of(imported) if value in logs]
    assert leaked == []
