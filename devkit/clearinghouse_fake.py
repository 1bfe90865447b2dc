"""A local fake of the clearinghouse and payer, for `cairn dev` and the tests: the 999, 277CA and
835 files a real one would send back for an 837P, computed from the 837P alone.

Deterministic: the same 837P always gets the same answers. Each answer comes from the 837's
receiver and goes to its sender, carries the 837's interchange control number (ISA13) and its
creation time, and:
- answer_999 acknowledges the 837's functional group (AK1) and each transaction set (AK2/IK5):
  all accepted, or with accept=False all rejected with one fixed element error (CLM05-1, invalid
  code) on each transaction set's first claim;
- answer_277ca gives each claim a loop 2200D: accepted into adjudication (A2:20) with a payer
  claim number REF*1K of the 837's ISA13 and the claim's position (0000000420001 for the first
  claim of interchange 42), or, for the CLM01s in `rejected`, A7:21 with the reason as STC12;
- answer_835 pays each claim (all of one payer and one billing provider): per line, allowed 80%
  of the charge (to the cent, half up), CO-45 the other 20%, PR-2 coinsurance 20% of the
  allowed, paid the rest; the CLP
  sums its lines and BPR02 the CLPs; each SVC echoes the 837's REF*6R (the line's LX number). The
  CLM01s in `denied` get CLP02 4, CO-<CARC> of each line's whole charge and nothing paid. The
  trace number is EFT plus the ISA13; the payment is dated 14 days after the 837 was made.
The 999 and 835 it writes validate clean with pyx12's 005010X231A1 and X221A1 maps, the 277CA
with its X214 map.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from types import MappingProxyType

from cairn.claims.model import ClaimSubmission
from cairn.claims.x12.claim_837p import read_837p
from cairn.claims.x12.envelope import (
    BodySegment,
    Envelope,
    ReceivedInterchange,
    read_interchange,
    write_interchange,
)
from cairn.claims.x12.values import d8, dollars

NAME = "CAIRN FAKE CLEARINGHOUSE"
PAYER_TAX_ID = "1512345678"  # TRN03 / BPR10: "1" and the payer's EIN
NOTHING: Mapping[str, str] = MappingProxyType({})


def _inbound(outbound_837_text: str) -> tuple[ReceivedInterchange, tuple[ClaimSubmission, ...]]:
    return read_interchange(outbound_837_text), read_837p(outbound_837_text)


def _created(interchange: ReceivedInterchange) -> datetime:
    return datetime.strptime(interchange.created, "%y%m%d%H%M")


def _envelope(
    interchange: ReceivedInterchange, functional_code: str, version: str, st03: bool = True
) -> Envelope:
    return Envelope(
        sender_id=interchange.receiver_id,
        receiver_id=interchange.sender_id,
        control_number=int(interchange.control_number),
        created=_created(interchange),
        production=interchange.production,
        functional_code=functional_code,
        version=version,
        with_st03=st03,
    )


def answer_999(outbound_837_text: str, accept: bool = True) -> str:
    """The 999 for an 837P: every transaction set accepted, or (accept=False) every one rejected."""
    interchange = read_interchange(outbound_837_text)
    group = interchange.groups[0]
    body: list[BodySegment] = [("AK1", ["HC", group.control_number, group.version])]
    for transaction in group.transactions:
        body.append(("AK2", ["837", transaction.control_number, group.version]))
        if accept:
            body.append(("IK5", ["A"]))
            continue
        clm = next(i for i, s in enumerate(transaction.segments, start=1) if s.id == "CLM")
        body += [
            ("IK3", ["CLM", str(clm), "2300", "8"]),
            ("IK4", [("5", "1"), "1331", "7"]),
            ("IK5", ["R", "5"]),
        ]
    count = str(len(group.transactions))
    body.append(("AK9", ["A" if accept else "R", count, count, count if accept else "0"]))
    return write_interchange(_envelope(interchange, "FA", "005010X231A1"), [("999", body)]).text


def answer_277ca(outbound_837_text: str, rejected: Mapping[str, str] = NOTHING) -> str:
    """The 277CA for an 837P: each claim accepted (A2:20, REF*1K) unless its CLM01 is in `rejected`
    (CLM01 -> the reason, as STC12, with A7:21)."""
    interchange, claims = _inbound(outbound_837_text)
    created = _created(interchange)
    day = d8(created.date())
    accepted = [claim for claim in claims if claim.control_number not in rejected]
    refused = [claim for claim in claims if claim.control_number in rejected]
    body: list[BodySegment] = [
        ("BHT", ["0085", "08", f"{interchange.control_number}277", day, created.strftime("%H%M"), "TH"]),
        ("HL", ["1", "", "20", "1"]),
        ("NM1", ["PR", "2", NAME, "", "", "", "", "46", interchange.receiver_id]),
        ("TRN", ["1", f"{interchange.control_number}277"]),
        ("DTP", ["050", "D8", day]),
        ("DTP", ["009", "D8", day]),
        ("HL", ["2", "1", "21", "1"]),
        ("NM1", ["41", "2", "SUBMITTER", "", "", "", "", "46", interchange.sender_id]),
        ("TRN", ["2", interchange.groups[0].control_number]),
        ("STC", [("A1", "19"), day, "WQ", dollars(sum(c.total_charge_cents for c in claims))]),
        ("QTY", ["90", str(len(accepted))]),
        ("QTY", ["AA", str(len(refused))]),
        ("AMT", ["YU", dollars(sum(c.total_charge_cents for c in accepted))]),
        ("AMT", ["YY", dollars(sum(c.total_charge_cents for c in refused))]),
    ]
    hl = 2
    providers: dict[str, list[tuple[int, ClaimSubmission]]] = {}
    for index, claim in enumerate(claims, start=1):
        providers.setdefault(claim.billing.npi, []).append((index, claim))
    for npi, numbered in providers.items():
        hl += 1
        provider_hl = hl
        body += [
            ("HL", [str(hl), "2", "19", "1"]),
            ("NM1", ["85", "2", numbered[0][1].billing.name, "", "", "", "", "XX", npi]),
            ("TRN", ["1", "0"]),  # loop 2200C: the TR3 has no trace of its own here, and says 0
            (
                "STC",
                [("A1", "19"), "", "WQ", dollars(sum(claim.total_charge_cents for _, claim in numbered))],
            ),
        ]
        for index, claim in numbered:
            hl += 1
            patient = claim.patient or claim.coverage.subscriber
            body += [
                ("HL", [str(hl), str(provider_hl), "PT"]),
                (
                    "NM1",
                    [
                        "QC",
                        "1",
                        patient.last_name,
                        patient.first_name,
                        "",
                        "",
                        "",
                        "MI",
                        claim.coverage.member_id,
                    ],
                ),
                ("TRN", ["2", claim.control_number]),
            ]
            charge = dollars(claim.total_charge_cents)
            if claim.control_number in rejected:
                body.append(
                    (
                        "STC",
                        [
                            ("A7", "21"),
                            day,
                            "U",
                            charge,
                            "",
                            "",
                            "",
                            "",
                            "",
                            "",
                            "",
                            rejected[claim.control_number],
                        ],
                    )
                )
            else:
                body += [
                    ("STC", [("A2", "20", "PR"), day, "WQ", charge]),
                    ("REF", ["1K", payer_claim_number(interchange, index)]),
                ]
            dates = sorted(line.service_date for line in claim.lines)
            body.append(("DTP", ["472", "RD8", f"{d8(dates[0])}-{d8(dates[-1])}"]))
    return write_interchange(_envelope(interchange, "HN", "005010X214"), [("277", body)]).text


def payer_claim_number(interchange: ReceivedInterchange, index: int) -> str:
    """The fake payer's claim number for the index-th (1-based) claim of an interchange."""
    return f"{interchange.control_number}{index:04d}"


def _percent(cents: int, percent: int) -> int:
    """`percent`% of an amount in cents, half a cent rounded up."""
    return (cents * percent + 50) // 100


def answer_835(
    outbound_837_text: str,
    denied: Mapping[str, str] = NOTHING,
    payment_date: date | None = None,
) -> str:
    """The 835 for the claims of an 837P (all of one payer): paid as the module says, or denied
    (CLM01 -> CARC) with nothing paid."""
    interchange, claims = _inbound(outbound_837_text)
    paid_on = payment_date or (_created(interchange).date() + timedelta(days=14))
    payer = claims[0].payer
    if any(claim.payer.payer_id != payer.payer_id or claim.billing != claims[0].billing for claim in claims):
        raise ValueError("the fake pays one payer's claims of one billing provider per 835: split the 837P")
    details: list[BodySegment] = [("LX", ["1"])]
    total = 0
    for index, claim in enumerate(claims, start=1):
        carc = denied.get(claim.control_number)
        lines, claim_paid, coinsurance = _lines(claim, carc)
        total += claim_paid
        patient = claim.patient or claim.coverage.subscriber
        details.append(
            (
                "CLP",
                [
                    claim.control_number,
                    "4" if carc else "1",
                    dollars(claim.total_charge_cents),
                    dollars(claim_paid),
                    dollars(coinsurance) if coinsurance else "",
                    "12",
                    payer_claim_number(interchange, index),
                    claim.place_of_service,
                    claim.frequency,
                ],
            )
        )
        details.append(
            (
                "NM1",
                [
                    "QC",
                    "1",
                    patient.last_name,
                    patient.first_name,
                    "",
                    "",
                    "",
                    "MI",
                    claim.coverage.member_id,
                ],
            )
        )
        details += lines
    header: list[BodySegment] = [
        (
            "BPR",
            [
                "I",
                dollars(total),
                "C",
                "ACH",
                "CCP",
                "01",
                "011000015",
                "DA",
                "0000009999",
                PAYER_TAX_ID,
                "",
                "01",
                "021000021",
                "DA",
                "0000001234",
                d8(paid_on),
            ]
            if total
            else ["H", "0", "C", "NON", "", "", "", "", "", "", "", "", "", "", "", d8(paid_on)],
        ),
        ("TRN", ["1", f"EFT{interchange.control_number}", PAYER_TAX_ID]),
        ("DTM", ["405", d8(paid_on)]),
        ("N1", ["PR", payer.name]),
        ("N3", ["1 PAYER PLAZA"]),
        ("N4", ["HARTFORD", "CT", "06101"]),
        ("REF", ["2U", payer.payer_id]),
        ("PER", ["BL", "PROVIDER SERVICES", "TE", "8005550100"]),
        ("N1", ["PE", claims[0].billing.name, "XX", claims[0].billing.npi]),
        ("REF", ["TJ", claims[0].billing.tax_id or "000000000"]),
    ]
    envelope = _envelope(interchange, "HP", "005010X221A1", st03=False)
    return write_interchange(envelope, [("835", header + details)]).text


def _lines(claim: ClaimSubmission, carc: str | None) -> tuple[Sequence[BodySegment], int, int]:
    """The SVC loops of a claim, what they pay in all and the coinsurance they leave the patient."""
    segments: list[BodySegment] = []
    paid_total = coinsurance_total = 0
    for line in claim.lines:
        charge = line.charge_cents
        if carc:
            paid, adjustments = 0, [("CAS", ["CO", carc, dollars(charge)])]
            allowed = 0
        else:
            allowed = _percent(charge, 80)
            coinsurance = _percent(allowed, 20)
            paid = allowed - coinsurance
            coinsurance_total += coinsurance
            adjustments = [
                ("CAS", ["CO", "45", dollars(charge - allowed)]),
                ("CAS", ["PR", "2", dollars(coinsurance)]),
            ]
        paid_total += paid
        segments.append(
            ("SVC", [("HC", line.code, *line.modifiers), dollars(charge), dollars(paid), "", str(line.units)])
        )
        segments.append(("DTM", ["472", d8(line.service_date)]))
        segments += adjustments
        segments.append(("REF", ["6R", str(line.sequence)]))
        if not carc:
            segments.append(("AMT", ["B6", dollars(allowed)]))
    return segments, paid_total, coinsurance_total
