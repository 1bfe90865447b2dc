"""DocumentReference content (scans, PDFs) in S3, moved by the client through presigned URLs.

Documents are too large for the FHIR API's 128 KiB bodies, so the API hands out short-lived
presigned URLs and the bytes go straight between the client and S3. Each attachment lives at
"tenants/<tenant>/documents/<DocumentReference id>/<n>" (n: its index in content[]), encrypted
by the bucket's default SSE-KMS. Object keys are built only from the caller's TenantContext and
a validated id and index, so no request can name another tenant's object.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from cairn.clock import Clock, fhir_instant, utc_now
from cairn.errors import MalformedRequest
from multitenant.context import TenantContext

DEFAULT_EXPIRES_SECONDS = 300
# A presigned URL works only while the credentials that signed it do: tenant-scoped STS sessions
# last an hour (multitenant/credentials.py), so longer URLs would fail early anyway.
MAX_EXPIRES_SECONDS = 3600
MAX_CONTENT_INDEX = 99
# Presigned downloads are PHI: no browser or proxy may keep a copy.
NO_STORE = "private, no-store"

_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_MIME_NAME = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"  # RFC 6838 type and subtype names
_CONTENT_TYPE = re.compile(f"{_MIME_NAME}/{_MIME_NAME}")
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


def document_prefix(tenant_id: str) -> str:
    """Where a tenant's document content lives in the documents bucket."""
    return f"tenants/{tenant_id}/documents/"


class DocumentContent:
    """The attachments of one tenant's DocumentReferences: presigned uploads and downloads."""

    def __init__(
        self,
        context: TenantContext,
        s3: Any,
        bucket: str,
        expires_seconds: int = DEFAULT_EXPIRES_SECONDS,
        clock: Clock = utc_now,
    ) -> None:
        if not isinstance(context, TenantContext):
            raise TypeError("document content needs a TenantContext")
        if not 1 <= expires_seconds <= MAX_EXPIRES_SECONDS:
            raise ValueError(f"expires_seconds must be between 1 and {MAX_EXPIRES_SECONDS}")
        self.context = context
        self._s3 = s3
        self._bucket = bucket
        self._expires_seconds = expires_seconds
        self._clock = clock

    def object_key(self, document_id: str, index: int) -> str:
        """The S3 key of content[index] of DocumentReference/document_id in the caller's tenant."""
        _require_document_id(document_id)
        _require_index(index)
        return f"{document_prefix(self.context.tenant_id)}{document_id}/{index}"

    def upload(self, document_id: str, index: int, content_type: str) -> dict[str, Any]:
        """A presigned PUT of content[index]: the client sends the bytes to `url` with exactly
        `headers` (Content-Type is signed) before `expiresAt`."""
        if not isinstance(content_type, str) or not _CONTENT_TYPE.fullmatch(content_type):
            raise MalformedRequest(
                "contentType must be a MIME type such as application/pdf or image/jpeg, without parameters")
        key = self.object_key(document_id, index)
        expires_at = fhir_instant(self._clock() + timedelta(seconds=self._expires_seconds))
        url = self._s3.generate_presigned_url(
            "put_object",
            Params={"Bucket": self._bucket, "Key": key, "ContentType": content_type},
            ExpiresIn=self._expires_seconds,
        )
        return {"url": url, "method": "PUT", "headers": {"Content-Type": content_type},
                "expiresAt": expires_at}

    def download_url(self, document_id: str, index: int) -> str:
        """A presigned GET of content[index]; it does not check that the object exists (see
        `exists`), so the API can answer 404 before handing out a URL."""
        return str(self._s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self._bucket, "Key": self.object_key(document_id, index),
                    "ResponseCacheControl": NO_STORE},
            ExpiresIn=self._expires_seconds,
        ))

    def exists(self, document_id: str, index: int) -> bool:
        """Whether content[index] has been uploaded (a HEAD of its object)."""
        try:
            self._s3.head_object(Bucket=self._bucket, Key=self.object_key(document_id, index))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return False
            raise
        return True

    def attachment_url(self, document_id: str, index: int) -> str:
        """What Cairn stores in DocumentReference.content[index].attachment.url: a URL relative
        to the FHIR base (like a resource reference), so it survives a change of domain or
        stage and never expires. GET on it answers with a fresh presigned URL."""
        _require_document_id(document_id)
        _require_index(index)
        return f"DocumentReference/{document_id}/$content?index={index}"


def _require_document_id(document_id: object) -> None:
    # Dot-only ids are valid FHIR ids but "." and ".." are path segments an HTTP client may
    # collapse, moving the URL off the object it was signed for.
    if not isinstance(document_id, str) or not _FHIR_ID.fullmatch(document_id) or not document_id.strip("."):
        raise MalformedRequest(
            "the DocumentReference id must be 1-64 letters, digits, '-' or '.', and not only dots")


def _require_index(index: object) -> None:
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= MAX_CONTENT_INDEX:
        raise MalformedRequest(f"index must be a whole number from 0 to {MAX_CONTENT_INDEX} (the position "
                               "of the attachment in DocumentReference.content)")
