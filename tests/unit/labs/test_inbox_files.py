"""Inbox keys: tenants/<clinic>/<lab>/<file name>, and nothing else names a clinic's file."""

from __future__ import annotations

import pytest

from cairn.errors import MalformedRequest
from cairn.labs.inbox_files import InboxLocation, UnknownClinic, inbox_key, inbox_location


def test_an_inbox_key_names_its_clinic_lab_and_file_and_reads_back() -> None:
    key = inbox_key("acme", "acme-lab", "results-0001.hl7")

    assert key == "tenants/acme/acme-lab/results-0001.hl7"
    assert inbox_location(key) == InboxLocation("acme", "acme-lab", "results-0001.hl7")


@pytest.mark.parametrize("key", [
    "acme/acme-lab/file.hl7",  # no tenants/ prefix
    "tenants/acme/file.hl7",  # no lab
    "tenants/acme/acme-lab/",  # no file name
    "tenants/acme/acme-lab/sub/file.hl7",  # deeper than a file of a lab
    "tenants/Acme/acme-lab/file.hl7",  # not a clinic id
    "tenants/acme/Acme_Lab/file.hl7",  # not a lab name
    "tenants/../acme-lab/file.hl7",
    "outbox/acme/acme-lab/file.hl7",
])
def test_any_other_key_is_refused_with_the_layout_to_use(key: str) -> None:
    with pytest.raises(MalformedRequest, match="tenants/<clinic>/<lab>/<file name>"):
        inbox_location(key)


def test_an_unknown_clinic_says_the_file_stays() -> None:
    assert "stays in the inbox" in str(UnknownClinic("ghost"))
