"""The X12 005010X222A1 837P: ClaimSubmissions written as one interchange, and read back.

Batching: one functional group per interchange, one transaction set (ST) per billing provider
(claims with the same billing Provider value, in the order given), split after 5,000 claims as
the TR3 recommends. Each transaction set has one 2000A billing provider HL and, per claim, its own
2000B subscriber HL (and a 2000C patient HL when the patient is not the subscriber), so one
claim's 2300 loop never shares a subscriber loop with another's. A 999 rejects a whole transaction
set: with this batching, one provider's bad claim cannot hold up another provider's.

What the 837P does not carry, read_837p cannot give back: the FHIR Claim id (claim_id is ""),
and, where the patient is a dependent, the subscriber's address, birth date and sex (the TR3
sends them only when the patient is the subscriber: read back as no address, date.min and "U").
SBR04 (the plan name) is sent only where there is no group number (SBR03), as the TR3 says. A
line's place of service is sent only where it differs from the claim's. Text is upper case.
Each line's REF*6R (line item control number) is its LX number, which an 835 SVC echoes back.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from cairn.claims.model import (
    ORIGINAL,
    REPLACEMENT,
    SELF,
    VOID,
    Address,
    ClaimSubmission,
    Coverage,
    Interchange,
    Payer,
    Person,
    Provider,
    ServiceLine,
)
from cairn.claims.x12.envelope import (
    BodySegment,
    Envelope,
    TransactionSet,
    read_interchange,
    write_interchange,
)
from cairn.claims.x12.errors import MalformedX12, X12ValueRefused
from cairn.claims.x12.segments import Element, Segment
from cairn.claims.x12.values import cents, d8, dollars, quantity, read_d8

VERSION = "005010X222A1"
MAX_CLAIMS_PER_TRANSACTION = 5000
MAX_DIAGNOSES = 12
MAX_LINES = 50
UNKNOWN_BIRTH_DATE = date.min  # a dependent's subscriber: the 837P does not carry the birth date


@dataclass(frozen=True)
class Outbound837:
    """An 837P interchange ready to send, and which claims each of its transaction sets carries."""

    text: str
    group_control_number: str  # GS06, which the 999's AK102 answers
    transactions: Mapping[str, tuple[str, ...]]  # ST02 -> the CLM01s it carries


def write_837p(interchange: Interchange, claims: Sequence[ClaimSubmission]) -> Outbound837:
    """The 837P interchange for `claims`; X12ValueRefused names the claim (CLM01) and element of a
    value X12 cannot carry or a required piece that is missing."""
    if not claims:
        raise X12ValueRefused("an 837P needs at least one claim")
    by_provider: dict[Provider, list[ClaimSubmission]] = {}
    for claim in claims:
        by_provider.setdefault(claim.billing, []).append(claim)
    batches = [
        group[start : start + MAX_CLAIMS_PER_TRANSACTION]
        for group in by_provider.values()
        for start in range(0, len(group), MAX_CLAIMS_PER_TRANSACTION)
    ]
    bodies = [
        ("837", _transaction_body(interchange, f"{interchange.control_number}{index:04d}", batch))
        for index, batch in enumerate(batches, start=1)
    ]
    submitter = interchange.submitter
    written = write_interchange(
        Envelope(
            sender_id=submitter.sender_id,
            receiver_id=submitter.receiver_id,
            control_number=interchange.control_number,
            created=interchange.created,
            production=submitter.production,
            functional_code="HC",
            version=VERSION,
        ),
        bodies,
    )
    return Outbound837(
        text=written.text,
        group_control_number=str(interchange.control_number),
        transactions={
            number: tuple(claim.control_number for claim in batch)
            for number, batch in zip(written.transaction_control_numbers, batches, strict=True)
        },
    )


def _address(address: Address | None) -> list[BodySegment]:
    if address is None:
        return []
    postal = address.postal_code.replace("-", "").replace(" ", "")
    return [("N3", [address.line1, address.line2]), ("N4", [address.city, address.state, postal])]


def _person(qualifier: str, person: Person, member_id: str = "") -> list[BodySegment]:
    nm1: list[Element] = [qualifier, "1", person.last_name, person.first_name]
    if member_id:
        nm1 += ["", "", "", "MI", member_id]
    return [("NM1", nm1), *_address(person.address), ("DMG", ["D8", d8(person.birth_date), person.sex])]


def _transaction_body(
    interchange: Interchange, reference: str, claims: Sequence[ClaimSubmission]
) -> list[BodySegment]:
    submitter, created, billing = interchange.submitter, interchange.created, claims[0].billing
    body: list[BodySegment] = [
        ("BHT", ["0019", "00", reference, created.strftime("%Y%m%d"), created.strftime("%H%M"), "CH"]),
        ("NM1", ["41", "2", submitter.name, "", "", "", "", "46", submitter.sender_id]),
        (
            "PER",
            ["IC", submitter.contact_name, "TE", "".join(c for c in submitter.contact_phone if c.isdigit())],
        ),
        ("NM1", ["40", "2", submitter.receiver_name, "", "", "", "", "46", submitter.receiver_id]),
        ("HL", ["1", "", "20", "1"]),
    ]
    if billing.taxonomy:
        body.append(("PRV", ["BI", "PXC", billing.taxonomy]))
    body.append(("NM1", ["85", *_padded_name(billing), "XX", billing.npi]))
    if billing.address is None or not billing.tax_id:
        raise X12ValueRefused(
            f"claim {claims[0].control_number}: the billing provider needs an address (2010AA N3/N4) "
            "and a tax id (2010AA REF*EI)"
        )
    body += _address(billing.address)
    body.append(("REF", ["EI", billing.tax_id]))
    hl = 1
    for claim in claims:
        dependent = claim.patient is not None
        if dependent and claim.coverage.relationship == SELF:
            raise X12ValueRefused(
                f"claim {claim.control_number}: a patient apart from the subscriber cannot have "
                "relationship 18 (self)"
            )
        hl += 1
        subscriber_hl = hl
        coverage = claim.coverage
        body.append(("HL", [str(hl), "1", "22", "1" if dependent else "0"]))
        body.append(
            (
                "SBR",
                [
                    "P",
                    "" if dependent else SELF,
                    coverage.group_number,
                    "" if coverage.group_number else coverage.plan_name,
                    "",
                    "",
                    "",
                    "",
                    claim.payer.filing_indicator,
                ],
            )
        )
        subscriber = coverage.subscriber
        if dependent:
            body.append(
                (
                    "NM1",
                    [
                        "IL",
                        "1",
                        subscriber.last_name,
                        subscriber.first_name,
                        "",
                        "",
                        "",
                        "MI",
                        coverage.member_id,
                    ],
                )
            )
        else:
            body += _person("IL", subscriber, coverage.member_id)
        body.append(("NM1", ["PR", "2", claim.payer.name, "", "", "", "", "PI", claim.payer.payer_id]))
        if claim.patient is not None:
            hl += 1
            body.append(("HL", [str(hl), str(subscriber_hl), "23", "0"]))
            body.append(("PAT", [coverage.relationship]))
            body += _person("QC", claim.patient)
        body += _claim(claim)
    return body


def _padded_name(provider: Provider) -> list[str]:
    """NM102 to NM107, padded so that NM108 and NM109 land in place."""
    return (
        ["1", provider.name, provider.first_name, "", "", ""]
        if provider.is_person
        else ["2", provider.name, "", "", "", ""]
    )


def _claim(claim: ClaimSubmission) -> list[BodySegment]:
    number = claim.control_number
    if not 1 <= len(claim.diagnoses) <= MAX_DIAGNOSES:
        raise X12ValueRefused(f"claim {number}: an 837P carries 1 to {MAX_DIAGNOSES} diagnoses (HI)")
    if not 1 <= len(claim.lines) <= MAX_LINES:
        raise X12ValueRefused(f"claim {number}: an 837P carries 1 to {MAX_LINES} service lines (LX)")
    if claim.frequency not in (ORIGINAL, REPLACEMENT, VOID):
        raise X12ValueRefused(f"claim {number}: CLM05-3 must be 1 (original), 7 (replacement) or 8 (void)")
    body: list[BodySegment] = [
        (
            "CLM",
            [
                number,
                dollars(claim.total_charge_cents),
                "",
                "",
                (claim.place_of_service, "B", claim.frequency),
                "Y",
                "A",
                "Y",
                "Y",
            ],
        )
    ]
    if claim.onset is not None:
        body.append(("DTP", ["431", "D8", d8(claim.onset)]))
    if claim.frequency in (REPLACEMENT, VOID):
        if not claim.payer_claim_number:
            raise X12ValueRefused(
                f"claim {number}: a replacement or void must name the payer's claim number (2300 REF*F8)"
            )
        body.append(("REF", ["F8", claim.payer_claim_number]))
    body.append(
        (
            "HI",
            [
                ("ABK" if index == 0 else "ABF", code.replace(".", ""))
                for index, code in enumerate(claim.diagnoses)
            ],
        )
    )
    if claim.rendering is not None:
        rendering = claim.rendering
        body.append(("NM1", ["82", *_padded_name(rendering), "XX", rendering.npi]))
        if rendering.taxonomy:
            body.append(("PRV", ["PE", "PXC", rendering.taxonomy]))
    for line in claim.lines:
        if not 1 <= len(line.diagnosis_pointers) <= 4 or not all(
            1 <= pointer <= len(claim.diagnoses) for pointer in line.diagnosis_pointers
        ):
            raise X12ValueRefused(
                f"claim {number}, line {line.sequence}: SV107 needs 1 to 4 pointers to the claim's diagnoses"
            )
        if len(line.modifiers) > 4:
            raise X12ValueRefused(f"claim {number}, line {line.sequence}: SV101 carries up to 4 modifiers")
        place = line.place_of_service if line.place_of_service != claim.place_of_service else ""
        body.append(("LX", [str(line.sequence)]))
        body.append(
            (
                "SV1",
                [
                    ("HC", line.code, *line.modifiers),
                    dollars(line.charge_cents),
                    "UN",
                    str(line.units),
                    place,
                    "",
                    tuple(str(pointer) for pointer in line.diagnosis_pointers),
                ],
            )
        )
        body.append(("DTP", ["472", "D8", d8(line.service_date)]))
        body.append(("REF", ["6R", str(line.sequence)]))
    return body


# --- Reading ----------------------------------------------------------------------------------


def read_837p(text: str) -> tuple[ClaimSubmission, ...]:
    """Every claim in an 837P interchange, in file order (see the module docstring for what the
    837P does not carry)."""
    interchange = read_interchange(text)
    claims: list[ClaimSubmission] = []
    for group in interchange.groups:
        if group.code != "HC" or not group.version.startswith("005010X222"):
            raise MalformedX12(
                f"the functional group GS06 {group.control_number} is not an 837P (GS01 {group.code}, "
                f"GS08 {group.version}; expected HC and 005010X222A1)"
            )
        for transaction in group.transactions:
            claims += _read_transaction(transaction)
    return tuple(claims)


def _blocks(segments: Sequence[Segment]) -> list[list[Segment]]:
    """The transaction's segments cut at each HL (the part before the first HL dropped)."""
    blocks: list[list[Segment]] = []
    for segment in segments:
        if segment.id == "HL":
            blocks.append([segment])
        elif blocks and segment.id != "SE":
            blocks[-1].append(segment)
    return blocks


def _read_address(segments: Sequence[Segment], index: int) -> Address | None:
    """The N3/N4 pair right after segments[index] (an NM1), if there is one."""
    n3 = next((s for s in segments[index + 1 : index + 3] if s.id == "N3"), None)
    n4 = next((s for s in segments[index + 1 : index + 4] if s.id == "N4"), None)
    if n3 is None or n4 is None:
        return None
    return Address(n3.element(1), n4.element(1), n4.element(2), n4.element(3), n3.element(2))


def _read_provider(segments: Sequence[Segment], index: int, taxonomy: str = "", tax_id: str = "") -> Provider:
    nm1 = segments[index]
    person = nm1.element(2) == "1"
    return Provider(
        name=nm1.element(3),
        npi=nm1.element(9),
        address=_read_address(segments, index),
        first_name=nm1.element(4) if person else "",
        tax_id=tax_id,
        taxonomy=taxonomy,
    )


def _read_person(segments: Sequence[Segment], index: int) -> Person:
    nm1 = segments[index]
    dmg = next((s for s in segments[index + 1 : index + 4] if s.id == "DMG"), None)
    return Person(
        last_name=nm1.element(3),
        first_name=nm1.element(4),
        birth_date=read_d8(dmg, 2, "birth date") if dmg is not None else UNKNOWN_BIRTH_DATE,
        sex=dmg.element(3) if dmg is not None else "U",
        address=_read_address(segments, index),
    )


def _find(block: Sequence[Segment], segment_id: str, qualifier: str = "") -> int:
    for index, segment in enumerate(block):
        if segment.id == segment_id and (not qualifier or segment.element(1) == qualifier):
            return index
    loop = f"{segment_id}*{qualifier}" if qualifier else segment_id
    raise MalformedX12(f"the HL at segment {block[0].position} has no {loop}")


@dataclass
class _Context:
    billing: Provider | None = None
    payer: Payer | None = None
    coverage: Coverage | None = None
    patient: Person | None = None


def _read_transaction(transaction: TransactionSet) -> list[ClaimSubmission]:
    claims: list[ClaimSubmission] = []
    context = _Context()
    for block in _blocks(transaction.segments):
        level = block[0].element(3)
        first_claim = next((i for i, s in enumerate(block) if s.id == "CLM"), len(block))
        header = block[:first_claim]
        if level == "20":
            index = _find(header, "NM1", "85")
            prv = next((s for s in header[:index] if s.id == "PRV" and s.element(1) == "BI"), None)
            ref = next((s for s in header if s.id == "REF" and s.element(1) in ("EI", "SY")), None)
            context = _Context(
                billing=_read_provider(
                    header, index, prv.element(3) if prv else "", ref.element(2) if ref else ""
                )
            )
        elif level == "22":
            sbr = header[_find(header, "SBR")]
            subscriber_at = _find(header, "NM1", "IL")
            payer = header[_find(header, "NM1", "PR")]
            context.payer = Payer(payer.element(3), payer.element(9), sbr.element(9) or "CI")
            context.coverage = Coverage(
                member_id=header[subscriber_at].element(9),
                subscriber=_read_person(header, subscriber_at),
                relationship=sbr.element(2) or SELF,
                group_number=sbr.element(3),
                plan_name=sbr.element(4),
            )
            context.patient = None
        elif level == "23":
            if context.coverage is None:
                raise MalformedX12(
                    f"the patient HL at segment {block[0].position} has no subscriber HL above it"
                )
            pat = header[_find(header, "PAT")]
            context.coverage = Coverage(
                member_id=context.coverage.member_id,
                subscriber=context.coverage.subscriber,
                relationship=pat.element(1),
                group_number=context.coverage.group_number,
                plan_name=context.coverage.plan_name,
            )
            context.patient = _read_person(header, _find(header, "NM1", "QC"))
        starts = [i for i, s in enumerate(block) if s.id == "CLM"] + [len(block)]
        for start, end in itertools.pairwise(starts):
            claims.append(_read_claim(block[start:end], context))
    return claims


def _read_claim(part: Sequence[Segment], context: _Context) -> ClaimSubmission:
    clm = part[0]
    if context.billing is None or context.payer is None or context.coverage is None:
        raise MalformedX12(f"the claim at {clm.where} is not under a billing provider and subscriber HL")
    place, _, frequency = (*clm.components(5), "", "", "")[:3]
    onset: date | None = None
    payer_claim_number = ""
    diagnoses: list[str] = []
    rendering: Provider | None = None
    lines: list[ServiceLine] = []
    line: _LineDraft | None = None
    for index, segment in enumerate(part):
        if segment.id == "LX":
            line = _LineDraft(quantity(segment, 1, "line number", 0))
        elif line is not None:
            if segment.id == "SV1":
                line.sv1 = segment
            elif segment.id == "DTP" and segment.element(1) == "472":
                lines.append(line.finish(segment))
                line = None
        elif segment.id == "DTP" and segment.element(1) == "431":
            onset = read_d8(segment, 3, "onset date")
        elif segment.id == "REF" and segment.element(1) == "F8":
            payer_claim_number = segment.element(2)
        elif segment.id == "HI" and not diagnoses:
            diagnoses = [segment.components(n)[1] for n in range(1, 13) if len(segment.components(n)) > 1]
        elif segment.id == "NM1" and segment.element(1) == "82":
            following = part[index + 1] if index + 1 < len(part) else None
            taxonomy = following.element(3) if following and following.id == "PRV" else ""
            rendering = _read_provider(part, index, taxonomy)
    if line is not None:
        raise MalformedX12(
            f"the service line LX {line.sequence} of the claim at {clm.where} has no DTP*472 date"
        )
    claim = ClaimSubmission(
        control_number=clm.element(1),
        claim_id="",
        billing=context.billing,
        payer=context.payer,
        coverage=context.coverage,
        diagnoses=tuple(diagnoses),
        lines=tuple(lines),
        patient=context.patient,
        rendering=rendering,
        place_of_service=place,
        frequency=frequency or ORIGINAL,
        payer_claim_number=payer_claim_number,
        onset=onset,
    )
    if cents(clm, 2, "total charge") != claim.total_charge_cents:
        raise MalformedX12(f"CLM02 in {clm.where} is not the sum of its service lines' SV102 charges")
    return claim


@dataclass
class _LineDraft:
    """A service line being read: its LX number and SV1, until its DTP*472 completes it."""

    sequence: int
    sv1: Segment | None = None

    def finish(self, dtp: Segment) -> ServiceLine:
        sv1 = self.sv1
        if sv1 is None:
            raise MalformedX12(f"the service line LX {self.sequence} ending at {dtp.where} has no SV1")
        procedure = sv1.components(1)
        if len(procedure) < 2 or not procedure[1]:
            raise MalformedX12(f"SV101 in {sv1.where} has no procedure code after its qualifier")
        # D8 is one date; RD8 a range CCYYMMDD-CCYYMMDD, of which the first day is the service date.
        day = dtp.element(3).split("-")[0]
        return ServiceLine(
            sequence=self.sequence,
            code=procedure[1],
            charge_cents=cents(sv1, 2, "line charge"),
            service_date=read_d8(Segment(dtp.id, ("", "", day), dtp.position), 3, "service date"),
            diagnosis_pointers=tuple(int(p) for p in sv1.components(7) if p.isdigit()),
            units=quantity(sv1, 4, "units", 1),
            modifiers=tuple(procedure[2:6]),
            place_of_service=sv1.element(5),
        )
