"""The claims ledger in memory (the unit tests' ledger, the same contract as DynamoDB's): versions
and optimistic retries under a concurrent writer, the look-ups the inbound files need, the
interchange counter's wrap, each clinic's own partition; and ClaimRecord's JSON round trip."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cairn.claims.ledger import (
    ATTEMPTS,
    MAX_INTERCHANGE,
    ClaimChanged,
    InMemoryClaimsLedger,
    ledger_pk,
)
from cairn.claims.model import Adjustment, ClaimPayment, LinePayment
from cairn.claims.record import ClaimEvent, ClaimRecord, ClaimState, Posted, decode, encode
from cairn.errors import ResourceNotFound


def claim(
    claim_id: str = "claim-1", created: str = "2026-12-01T15:00:00.000Z", **changes: Any
) -> ClaimRecord:
    return replace(
        ClaimRecord(
            claim_id=claim_id,
            claim_number="C" + claim_id.upper().replace("-", "")[:10],
            status=ClaimState.CODED,
            payer_id="EMP01",
            payer_name="Empire Health",
            charge_cents=135_00,
            created=created,
        ),
        **changes,
    )


@pytest.fixture
def store() -> dict[Any, Any]:
    return {}


@pytest.fixture
def ledger(store: dict[Any, Any]) -> InMemoryClaimsLedger:
    return InMemoryClaimsLedger("acme", store)


# --- versions ------------------------------------------------------------------------------------


def test_a_new_claim_is_stored_at_version_1_and_read_back_equal(ledger: InMemoryClaimsLedger) -> None:
    record = claim()

    assert ledger.write(record, None) == 1
    assert ledger.read("claim-1") == (record, 1)
    assert ledger.get("claim-1") == record


def test_a_missing_claim_reads_as_none_and_get_says_not_found(ledger: InMemoryClaimsLedger) -> None:
    assert ledger.read("nope") is None
    with pytest.raises(ResourceNotFound):
        ledger.get("nope")


def test_writing_a_new_claim_over_an_existing_one_is_refused(ledger: InMemoryClaimsLedger) -> None:
    ledger.write(claim(), None)

    with pytest.raises(ClaimChanged):
        ledger.write(claim(charge_cents=1), None)
    assert ledger.get("claim-1").charge_cents == 135_00


def test_a_write_from_a_stale_version_is_refused_and_the_newer_one_kept(
    ledger: InMemoryClaimsLedger,
) -> None:
    ledger.write(claim(), None)
    ledger.write(claim(attempt=2), 1)

    with pytest.raises(ClaimChanged):
        ledger.write(claim(attempt=3), 1)
    assert ledger.read("claim-1") == (claim(attempt=2), 2)


def test_writing_an_existing_version_to_a_claim_that_does_not_exist_is_refused(
    ledger: InMemoryClaimsLedger,
) -> None:
    with pytest.raises(ClaimChanged):
        ledger.write(claim(), 3)
    assert ledger.read("claim-1") is None


# --- change: read, apply, write, again on a race ------------------------------------------------


def test_change_applies_the_function_and_stores_the_next_version(ledger: InMemoryClaimsLedger) -> None:
    ledger.write(claim(), None)

    stored = ledger.change("claim-1", lambda r: replace(r, status=ClaimState.SUBMITTED))

    assert stored.status is ClaimState.SUBMITTED
    assert ledger.read("claim-1") == (stored, 2)


def test_a_change_that_changes_nothing_writes_nothing(ledger: InMemoryClaimsLedger) -> None:
    ledger.write(claim(), None)

    assert ledger.change("claim-1", lambda r: r) == claim()
    assert ledger.read("claim-1") == (claim(), 1)


def test_change_of_a_missing_claim_says_not_found(ledger: InMemoryClaimsLedger) -> None:
    with pytest.raises(ResourceNotFound):
        ledger.change("nope", lambda r: replace(r, attempt=2))


def test_a_concurrent_writer_between_read_and_write_makes_change_reapply_on_a_fresh_read(
    store: dict[Any, Any], ledger: InMemoryClaimsLedger
) -> None:
    ledger.write(claim(), None)
    other = InMemoryClaimsLedger("acme", store)  # another invocation on the same table
    seen: list[tuple[str, ...]] = []

    def add_remark(record: ClaimRecord) -> ClaimRecord:
        seen.append(record.remarks)
        if len(seen) == 1:  # the other writer gets in after this read, before this write
            other.change("claim-1", lambda r: replace(r, remarks=(*r.remarks, "theirs")))
        return replace(record, remarks=(*record.remarks, "mine"))

    stored = ledger.change("claim-1", add_remark)

    assert seen == [(), ("theirs",)]
    assert stored.remarks == ("theirs", "mine")
    assert ledger.read("claim-1") == (stored, 3)


def test_change_gives_up_with_claim_changed_after_its_attempts(
    store: dict[Any, Any], ledger: InMemoryClaimsLedger
) -> None:
    ledger.write(claim(), None)
    other = InMemoryClaimsLedger("acme", store)
    calls = 0

    def always_raced(record: ClaimRecord) -> ClaimRecord:
        nonlocal calls
        calls += 1
        other.change("claim-1", lambda r: replace(r, overdue=r.overdue + 1))
        return replace(record, remarks=("mine",))

    with pytest.raises(ClaimChanged, match="kept changing while it was being updated: try again"):
        ledger.change("claim-1", always_raced)
    assert calls == ATTEMPTS
    stored = ledger.get("claim-1")
    assert stored.overdue == ATTEMPTS
    assert stored.remarks == ()


# --- look-ups ------------------------------------------------------------------------------------


def test_a_submission_writes_its_control_number_and_interchange_look_ups(
    ledger: InMemoryClaimsLedger,
) -> None:
    ledger.write(claim(), None)
    assert ledger.claim_for_control_number("C1-1") is None
    assert ledger.claims_for_interchange("7") == ()

    ledger.change(
        "claim-1", lambda r: replace(r, status=ClaimState.SUBMITTED), control_number="C1-1", interchange="7"
    )

    assert ledger.claim_for_control_number("C1-1") == "claim-1"
    assert ledger.claims_for_interchange("7") == ("claim-1",)


def test_an_interchange_lists_every_claim_it_carried_once(ledger: InMemoryClaimsLedger) -> None:
    for claim_id in ("claim-1", "claim-2"):
        ledger.write(claim(claim_id), None)
    ledger.change("claim-1", lambda r: replace(r, attempt=2), interchange="7")
    ledger.change("claim-2", lambda r: replace(r, attempt=2), interchange="7")
    ledger.change("claim-1", lambda r: replace(r, attempt=3), interchange="7")  # written again

    assert ledger.claims_for_interchange("7") == ("claim-2", "claim-1")


def test_a_change_that_changes_nothing_writes_no_look_ups(ledger: InMemoryClaimsLedger) -> None:
    ledger.write(claim(), None)

    ledger.change("claim-1", lambda r: r, control_number="C1-1", interchange="7")

    assert ledger.claim_for_control_number("C1-1") is None
    assert ledger.claims_for_interchange("7") == ()


def test_records_are_the_clinics_claims_oldest_first(ledger: InMemoryClaimsLedger) -> None:
    ledger.write(claim("claim-b", created="2026-12-02T00:00:00.000Z"), None)
    ledger.write(claim("claim-c", created="2026-12-01T00:00:00.000Z"), None)
    ledger.write(claim("claim-a", created="2026-12-02T00:00:00.000Z"), None)

    assert [r.claim_id for r in ledger.records()] == ["claim-c", "claim-a", "claim-b"]


def test_another_clinic_sees_none_of_the_claims_or_look_ups(store: dict[Any, Any]) -> None:
    acme = InMemoryClaimsLedger("acme", store)
    birch = InMemoryClaimsLedger("birch", store)
    acme.write(claim(), None)
    acme.change("claim-1", lambda r: replace(r, attempt=2), control_number="C1-1", interchange="7")

    assert birch.read("claim-1") is None
    assert birch.records() == []
    assert birch.claim_for_control_number("C1-1") is None
    assert birch.claims_for_interchange("7") == ()
    with pytest.raises(ClaimChanged):  # its own partition: a version 1 there does not exist
        birch.write(claim(attempt=9), 1)
    assert acme.get("claim-1").attempt == 2


# --- the interchange counter ---------------------------------------------------------------------


def test_interchange_numbers_count_from_1_per_clinic(store: dict[Any, Any]) -> None:
    acme = InMemoryClaimsLedger("acme", store)
    birch = InMemoryClaimsLedger("birch", store)

    assert [acme.next_interchange() for _ in range(3)] == [1, 2, 3]
    assert birch.next_interchange() == 1


def test_the_interchange_number_wraps_after_nine_digits(
    store: dict[Any, Any], ledger: InMemoryClaimsLedger
) -> None:
    store[(ledger_pk("acme"), "counter")] = ("", MAX_INTERCHANGE - 2)

    assert [ledger.next_interchange() for _ in range(4)] == [MAX_INTERCHANGE - 1, MAX_INTERCHANGE, 1, 2]


# --- the record's JSON ---------------------------------------------------------------------------

codes = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=12)
texts = st.text(max_size=20)
cents = st.integers(min_value=-(10**9), max_value=10**9)
adjustments = st.builds(
    Adjustment, st.sampled_from(["CO", "PR", "OA", "PI", "CR"]), codes, cents, st.integers(0, 99)
)
line_payments = st.builds(
    LinePayment,
    codes,
    cents,
    cents,
    modifiers=st.lists(codes, max_size=4).map(tuple),
    units=st.integers(1, 99),
    service_date=st.none() | st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    adjustments=st.lists(adjustments, max_size=3).map(tuple),
    remarks=st.lists(codes, max_size=3).map(tuple),
    line_control_number=texts,
)
payments = st.builds(
    ClaimPayment,
    codes,
    st.sampled_from(["1", "2", "4", "22"]),
    cents,
    cents,
    cents,
    payer_claim_number=texts,
    adjustments=st.lists(adjustments, max_size=3).map(tuple),
    remarks=st.lists(codes, max_size=3).map(tuple),
    lines=st.lists(line_payments, max_size=3).map(tuple),
)
postings = st.builds(Posted, codes, codes, texts, payments)
answers = st.dictionaries(st.sampled_from(["999", "277CA", "835"]), texts, max_size=3)
records = st.builds(
    ClaimRecord,
    codes,
    codes,
    st.sampled_from(list(ClaimState)),
    codes,
    texts,
    cents,
    texts,
    attempt=st.integers(1, 50),
    control_number=texts,
    interchange=texts,
    frequency=st.sampled_from(["1", "7", "8"]),
    paid_cents=cents,
    adjustments=st.lists(adjustments, max_size=3).map(tuple),
    remarks=st.lists(texts, max_size=3).map(tuple),
    problems=st.lists(texts, max_size=3).map(tuple),
    waiting=answers,
    received=answers,
    remittances=st.lists(postings, max_size=2).map(tuple),
    pending=st.lists(postings, max_size=2).map(tuple),
    events=st.lists(st.builds(ClaimEvent, texts, texts, texts), max_size=3).map(tuple),
    overdue=st.integers(0, 3),
)


@given(records)
def test_decode_reads_back_what_encode_wrote(record: ClaimRecord) -> None:
    assert decode(encode(record)) == record


@given(records)
def test_a_record_survives_the_in_memory_ledgers_json(record: ClaimRecord) -> None:
    ledger = InMemoryClaimsLedger("acme", {})
    ledger.write(record, None)

    assert ledger.get(record.claim_id) == record


def test_the_staff_view_shows_dollars_and_what_is_awaited_but_no_task_token() -> None:
    record = claim(
        charge_cents=135_00, paid_cents=86_40, patient_responsibility_cents=21_60, waiting={"835": "tok-1"}
    )

    view = record.as_view()

    assert (view["charge"], view["paid"], view["patient_responsibility"]) == (135.0, 86.4, 21.6)
    assert view["waiting_for"] == ["835"]
    assert "waiting" not in view
    assert "tok-1" not in str(view)
