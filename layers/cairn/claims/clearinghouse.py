"""Where claims leave and answers arrive: the clearinghouse seam.

Outbound, each validated 837P is kept in the clinic's generated/ folder (`stage`), then
`submit` hands it to the clinic's clearinghouse. Here that is the clinic's S3 outbox (documents
bucket, tenants/<tenant>/clearinghouse/outbox/<file>), which the clearinghouse's SFTP or API
connector picks up from; a direct SFTP or HTTPS submission implements the same `submit`
(docs/claims.md says what it needs).

Inbound, the clearinghouse drops 999, 277CA and 835 files into the clearinghouse-inbox bucket at
tenants/<tenant>/<file>: the key alone says whose file it is. Each file is moved, once read, to
the clinic's processed/ folder, or to quarantine/ with a reasons document beside it, so nothing
that arrives is lost and nothing is read twice.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cairn.errors import MalformedRequest
from multitenant.context import TENANT_ID_PATTERN

X12_MEDIA_TYPE = "application/edi-x12"
INBOX_PREFIX = "tenants/"
FOLDERS = ("generated", "outbox", "processed", "quarantine")


def clinic_key(tenant_id: str, folder: str, name: str) -> str:
    """Where the clinic's copy of a file lives in the documents bucket."""
    return f"tenants/{tenant_id}/clearinghouse/{folder}/{name}"


@dataclass(frozen=True)
class InboxFile:
    tenant_id: str
    name: str
    key: str


def inbox_file(key: str) -> InboxFile:
    """The clinic and name of an inbox key; MalformedRequest for any other key."""
    parts = key.split("/")
    if (
        len(parts) != 3
        or parts[0] + "/" != INBOX_PREFIX
        or not TENANT_ID_PATTERN.match(parts[1])
        or not parts[2]
    ):
        raise MalformedRequest("clearinghouse files go under tenants/<clinic>/<file name>")
    return InboxFile(parts[1], parts[2], key)


@dataclass(frozen=True)
class StoredFile:
    folder: str
    name: str
    size: int
    modified: str
    reasons: tuple[str, ...] = ()


class BaseClearinghouse(abc.ABC):
    """One clinic's files with its clearinghouse."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id

    @abc.abstractmethod
    def stage(self, name: str, text: str) -> str:
        """Keep the validated 837P `text` as `name` in the clinic's generated/ folder; its key."""

    @abc.abstractmethod
    def submit(self, name: str) -> str:
        """Hand the staged file `name` to the clearinghouse; where it went. Submitting the same
        name again replaces it (a retried step sends the same file)."""

    @abc.abstractmethod
    def read_inbox(self, key: str) -> bytes:
        """The bytes of a file in the inbox; KeyError when it is gone (already handled)."""

    @abc.abstractmethod
    def file_away(
        self, key: str, folder: str, reasons: Sequence[str] = (), *, body: bytes | None = None
    ) -> str:
        """Move an inbox file to the clinic's `folder` (processed or quarantine), with a
        reasons document beside a quarantined one; its new key. `body`: its bytes, when the
        caller has read them already."""

    @abc.abstractmethod
    def listing(self, folder: str) -> list[StoredFile]:
        """The clinic's files in `folder`, newest first."""

    @abc.abstractmethod
    def read(self, folder: str, name: str) -> bytes:
        """A file of the clinic's folder; KeyError if there is none."""


class S3Clearinghouse(BaseClearinghouse):
    """The clinic's S3 outbox and folders (documents bucket) and the shared inbox bucket."""

    def __init__(self, tenant_id: str, s3: Any, documents_bucket: str, inbox_bucket: str) -> None:
        super().__init__(tenant_id)
        self._s3 = s3
        self._documents = documents_bucket
        self._inbox = inbox_bucket

    def stage(self, name: str, text: str) -> str:
        key = clinic_key(self.tenant_id, "generated", name)
        self._s3.put_object(Bucket=self._documents, Key=key, Body=text.encode(), ContentType=X12_MEDIA_TYPE)
        return key

    def submit(self, name: str) -> str:
        key = clinic_key(self.tenant_id, "outbox", name)
        self._s3.copy_object(
            Bucket=self._documents,
            Key=key,
            CopySource={"Bucket": self._documents, "Key": clinic_key(self.tenant_id, "generated", name)},
            ContentType=X12_MEDIA_TYPE,
            MetadataDirective="REPLACE",
        )
        return key

    def read_inbox(self, key: str) -> bytes:
        self._own(key)
        try:
            body: bytes = self._s3.get_object(Bucket=self._inbox, Key=key)["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            raise KeyError(key) from None
        return body

    def file_away(
        self, key: str, folder: str, reasons: Sequence[str] = (), *, body: bytes | None = None
    ) -> str:
        located = self._own(key)
        target = clinic_key(self.tenant_id, folder, located.name)
        body = self.read_inbox(key) if body is None else body
        if reasons:  # first: whoever sees the file sees why it is there
            self._s3.put_object(
                Bucket=self._documents,
                Key=target + ".reasons.json",
                Body=json.dumps({"file": located.name, "reasons": list(reasons)}, indent=2).encode(),
                ContentType="application/json",
            )
        self._s3.put_object(Bucket=self._documents, Key=target, Body=body, ContentType=X12_MEDIA_TYPE)
        self._s3.delete_object(Bucket=self._inbox, Key=key)
        return target

    def listing(self, folder: str) -> list[StoredFile]:
        prefix = clinic_key(self.tenant_id, folder, "")
        objects: list[dict[str, Any]] = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._documents, Prefix=prefix):
            objects += page.get("Contents", [])
        names = {str(o["Key"])[len(prefix) :] for o in objects}
        files = []
        for item in objects:
            name = str(item["Key"])[len(prefix) :]
            if name.endswith(".reasons.json"):
                continue
            reasons: tuple[str, ...] = ()
            if f"{name}.reasons.json" in names:
                raw = self.read(folder, f"{name}.reasons.json")
                reasons = tuple(json.loads(raw).get("reasons", ()))
            files.append(
                StoredFile(folder, name, int(item["Size"]), item["LastModified"].isoformat(), reasons)
            )
        return sorted(files, key=lambda f: (f.modified, f.name), reverse=True)

    def read(self, folder: str, name: str) -> bytes:
        try:
            body: bytes = self._s3.get_object(
                Bucket=self._documents, Key=clinic_key(self.tenant_id, folder, name)
            )["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            raise KeyError(name) from None
        return body

    def _own(self, key: str) -> InboxFile:
        located = inbox_file(key)
        if located.tenant_id != self.tenant_id:
            raise MalformedRequest("that inbox file belongs to another clinic")
        return located
