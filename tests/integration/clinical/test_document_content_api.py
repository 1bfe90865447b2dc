"""DocumentReference content through the FHIR API's Lambda handler: $upload hands out a presigned
PUT, $content answers 302 to a presigned GET of bytes that were uploaded, 404 for content that
was not, and neither works across tenants or outside a patient user's own record; both audited.

The bytes are put with the S3 client at the key cairn.documents gives: in-process moto cannot
serve a presigned URL (tests/integration/clinical/test_document_content.py does, over HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from cairn.documents import DocumentContent
from functions.fhir_api import app as api
from multitenant.context import Role, TenantContext
from tests.integration.clinical.support import DOCUMENTS_BUCKET, Cloud, caller
from tests.integration.clinical.test_chart_api import new_patient, send

DOCUMENTS = "/fhir/R4/DocumentReference"
PDF = "application/pdf"
REFERRAL = b"%PDF-1.7 referral letter"


@pytest.fixture(autouse=True)
def fresh_runtime(cloud: Cloud) -> Iterator[None]:
    """Each test is a new process: the cached runtime must see this test's moto."""
    api.runtime.cache_clear()
    yield
    api.runtime.cache_clear()


def a_document(patient_id: str) -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": "57133-1", "display": "Referral note"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "content": [{"attachment": {"contentType": PDF, "title": "Referral letter"}}],
    }


def new_document(patient_id: str, who: TenantContext | None = None) -> str:
    status, _, created = send("POST", DOCUMENTS, who or caller(), a_document(patient_id))
    assert status == 201, created
    return str(created["id"])


def upload(document_id: str, who: TenantContext | None = None) -> tuple[int, dict[str, Any]]:
    """POST $upload for content[0] as a PDF: the status and the Parameters (or outcome)."""
    status, _, body = send("POST", f"{DOCUMENTS}/{document_id}/$upload", who or caller(),
                           query={"index": ["0"], "contentType": [PDF]})
    return status, body


def uploaded(cloud: Cloud, document_id: str, who: TenantContext | None = None) -> None:
    """The bytes of content[0] where a client's PUT to the presigned URL would leave them."""
    key = DocumentContent(who or caller(), cloud.clients.s3(), DOCUMENTS_BUCKET).object_key(document_id, 0)
    cloud.put_document(key, REFERRAL)


def content(
    document_id: str, who: TenantContext | None = None, index: str = "0"
) -> tuple[int, dict[str, str]]:
    """GET $content of content[index]: the status and headers (Location on a 302)."""
    status, headers, _ = send("GET", f"{DOCUMENTS}/{document_id}/$content", who or caller(),
                              query={"index": [index]})
    return status, headers


def parameters(body: dict[str, Any]) -> dict[str, list[Any]]:
    assert body["resourceType"] == "Parameters", body
    found: dict[str, list[Any]] = {}
    for parameter in body["parameter"]:
        value = next(v for k, v in parameter.items() if k.startswith("value"))
        found.setdefault(parameter["name"], []).append(value)
    return found


def test_upload_answers_a_presigned_put_of_the_documents_content_in_the_callers_tenant() -> None:
    document_id = new_document(new_patient())

    status, body = upload(document_id)

    assert status == 200
    given = parameters(body)
    assert given["method"] == ["PUT"]
    assert given["header"] == [f"Content-Type: {PDF}"]
    url = urlsplit(given["url"][0])
    assert unquote(url.path).endswith(f"tenants/acme/documents/{document_id}/0")
    assert "Signature" in url.query
    assert given["expires"]


def test_content_redirects_to_the_uploaded_bytes_and_is_not_cached(cloud: Cloud) -> None:
    document_id = new_document(new_patient())
    assert upload(document_id)[0] == 200
    uploaded(cloud, document_id)

    status, headers = content(document_id)

    assert status == 302
    location = urlsplit(headers["Location"])
    assert unquote(location.path).endswith(f"tenants/acme/documents/{document_id}/0")
    assert "Signature" in location.query
    assert headers["Cache-Control"] == "no-store"


def test_content_not_uploaded_or_of_a_missing_index_is_404(cloud: Cloud) -> None:
    document_id = new_document(new_patient())

    assert content(document_id)[0] == 404
    uploaded(cloud, document_id)
    assert content(document_id, index="1")[0] == 404
    assert content(document_id, index="first")[0] == 400


def test_another_tenant_can_neither_upload_nor_download_a_document(cloud: Cloud) -> None:
    document_id = new_document(new_patient())
    uploaded(cloud, document_id)
    globex = caller(Role.PHYSICIAN, tenant="globex")

    assert upload(document_id, globex)[0] == 404
    assert content(document_id, globex)[0] == 404
    assert content(document_id, caller(Role.ADMIN, tenant="globex"))[0] == 403  # admins read no documents


def test_a_nurse_may_upload_and_billing_may_not() -> None:
    document_id = new_document(new_patient())

    assert upload(document_id, caller(Role.NURSE))[0] == 200
    status, outcome = upload(document_id, caller(Role.BILLING))
    assert (status, outcome["issue"][0]["code"]) == (403, "forbidden")


def test_a_patient_user_reads_only_their_own_document(cloud: Cloud) -> None:
    own_id, other_id = new_patient(seed=4), new_patient(seed=5)
    own, other = new_document(own_id), new_document(other_id)
    uploaded(cloud, own)
    uploaded(cloud, other)
    portal = caller(Role.PATIENT, patient_id=own_id)

    assert content(own, portal)[0] == 302
    assert content(other, portal)[0] == 404


def test_uploads_and_downloads_are_audited_with_their_outcome(cloud: Cloud) -> None:
    document_id = new_document(new_patient())
    upload(document_id)
    uploaded(cloud, document_id)
    content(document_id)
    content(document_id, index="3")

    events = [(e["subtype"], e["outcome"], e["entity_id"], e["detail"])
              for e in cloud.audit_events("acme") if e["subtype"] in ("upload", "download")]

    assert events == [
        ("upload", "0", document_id, "content=0"),
        ("download", "0", document_id, "content=0"),
        ("download", "4", document_id, "content=3:not-found"),
    ]
