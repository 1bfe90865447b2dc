"""DocumentReference content end to end over HTTP: presigned URLs served by moto's threaded
server, a documents bucket encrypted by default with SSE-KMS."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from moto.server import ThreadedMotoServer

from cairn.aws import AwsClients, AwsSettings
from cairn.documents import DocumentContent
from cairn.errors import MalformedRequest
from multitenant.context import Role, TenantContext

BUCKET = "test-documents"
NOON = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
ACME = TenantContext("acme", "dr-who", Role.PHYSICIAN)
GLOBEX = TenantContext("globex", "dr-no", Role.PHYSICIAN)
SCAN = b"%PDF-1.7 referral letter"
ID_RULE = "the DocumentReference id must be 1-64 letters, digits, '-' or '.', and not only dots"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing"}.items():
        monkeypatch.setenv(name, value)
    clients = AwsClients(AwsSettings(region="us-east-1", endpoint_url=s3_server))
    key_id = clients.kms().create_key(Description="documents at rest (test)")["KeyMetadata"]["KeyId"]
    client = clients.s3()
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_id}}]})
    yield client
    listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    for found in listed:
        client.delete_object(Bucket=BUCKET, Key=found["Key"])
    client.delete_bucket(Bucket=BUCKET)


def content(s3: Any, context: TenantContext = ACME) -> DocumentContent:
    return DocumentContent(context, s3, BUCKET, clock=lambda: NOON)


def put(documents: DocumentContent, document_id: str, index: int, body: bytes) -> requests.Response:
    upload = documents.upload(document_id, index, "application/pdf")
    return requests.put(upload["url"], data=body, headers=upload["headers"], timeout=10)


def test_a_scan_uploaded_through_its_presigned_put_downloads_through_its_presigned_get(s3: Any) -> None:
    documents = content(s3)
    assert not documents.exists("doc-1", 0)

    uploaded = put(documents, "doc-1", 0, SCAN)
    downloaded = requests.get(documents.download_url("doc-1", 0), timeout=10)

    assert uploaded.status_code == 200
    assert documents.exists("doc-1", 0)
    assert not documents.exists("doc-1", 1)
    assert downloaded.status_code == 200
    assert downloaded.content == SCAN
    stored = s3.head_object(Bucket=BUCKET, Key="tenants/acme/documents/doc-1/0")
    assert stored["ServerSideEncryption"] == "aws:kms"
    assert stored["ContentType"] == "application/pdf"


def test_an_upload_says_how_to_send_the_bytes_and_until_when(s3: Any) -> None:
    upload = content(s3).upload("doc-1", 2, "image/jpeg")

    assert upload["method"] == "PUT"
    assert upload["headers"] == {"Content-Type": "image/jpeg"}
    assert upload["expiresAt"] == "2026-11-22T12:05:00.000Z"
    assert "/tenants/acme/documents/doc-1/2?" in upload["url"]
    assert "content-type" in upload["url"].lower()  # signed: the client must send it


def test_another_clinics_document_is_unreachable_under_the_same_id(s3: Any) -> None:
    assert put(content(s3, GLOBEX), "doc-1", 0, SCAN).status_code == 200
    acme = content(s3)

    fetched = requests.get(acme.download_url("doc-1", 0), timeout=10)

    assert not acme.exists("doc-1", 0)
    assert fetched.status_code == 404
    assert SCAN not in fetched.content
    assert acme.object_key("doc-1", 0) == "tenants/acme/documents/doc-1/0"


def test_the_attachment_url_is_relative_to_the_fhir_base_and_stable(s3: Any) -> None:
    assert content(s3).attachment_url("doc-1", 3) == "DocumentReference/doc-1/$content?index=3"


@pytest.mark.parametrize("document_id", ["", "a/b", "..", ".", "x" * 65, "ré", "../globex/documents/doc-1"])
def test_malformed_document_ids_are_refused_without_echoing_them(s3: Any, document_id: str) -> None:
    documents = content(s3)
    for attempt in (lambda: documents.upload(document_id, 0, "application/pdf"),
                    lambda: documents.download_url(document_id, 0),
                    lambda: documents.exists(document_id, 0),
                    lambda: documents.attachment_url(document_id, 0)):
        with pytest.raises(MalformedRequest) as refused:
            attempt()
        assert str(refused.value) == ID_RULE  # the same words whatever was sent


@pytest.mark.parametrize("index", [-1, 100, True, "0", 1.0])
def test_indexes_outside_0_to_99_are_refused(s3: Any, index: Any) -> None:
    with pytest.raises(MalformedRequest, match="index must be a whole number from 0 to 99"):
        content(s3).download_url("doc-1", index)


@pytest.mark.parametrize("content_type", ["", "pdf", "application/pdf; charset=x", "text/ html", "a/b/c"])
def test_malformed_content_types_are_refused(s3: Any, content_type: str) -> None:
    with pytest.raises(MalformedRequest, match="contentType must be a MIME type"):
        content(s3).upload("doc-1", 0, content_type)


def test_urls_may_not_outlive_the_credentials_that_sign_them(s3: Any) -> None:
    with pytest.raises(ValueError, match="expires_seconds must be between 1 and 3600"):
        DocumentContent(ACME, s3, BUCKET, expires_seconds=7200)
