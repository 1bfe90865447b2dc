"""Where a lab drops files for a clinic: the lab-inbox bucket, key
tenants/<tenant id>/<lab>/<file name>. The key alone says whose file it is: a file dropped
under one clinic's prefix is that clinic's, matched only against that clinic's patients."""

from __future__ import annotations

from dataclasses import dataclass

from cairn.errors import CairnError, MalformedRequest
from cairn.labs.directory import LAB_ID_PATTERN
from multitenant.context import TENANT_ID_PATTERN

INBOX_PREFIX = "tenants/"


class UnknownClinic(CairnError):
    """A file under a tenant prefix no clinic has: it stays in the inbox for the operators."""

    def __init__(self, tenant_id: str) -> None:
        super().__init__(f"no clinic {tenant_id!r}: the file stays in the inbox")


@dataclass(frozen=True)
class InboxLocation:
    tenant_id: str
    lab_id: str
    name: str


def inbox_key(tenant_id: str, lab_id: str, name: str) -> str:
    return f"{INBOX_PREFIX}{tenant_id}/{lab_id}/{name}"


def inbox_location(key: str) -> InboxLocation:
    """The clinic, lab and file name of an inbox key; MalformedRequest for any other key."""
    parts = key.split("/")
    if (len(parts) != 4 or parts[0] + "/" != INBOX_PREFIX or not TENANT_ID_PATTERN.match(parts[1])
            or not LAB_ID_PATTERN.match(parts[2]) or not parts[3]):
        raise MalformedRequest("inbox files go under tenants/<clinic>/<lab>/<file name>")
    return InboxLocation(parts[1], parts[2], parts[3])
