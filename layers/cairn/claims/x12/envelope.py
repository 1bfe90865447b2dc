"""The X12 envelope: ISA/IEA around GS/GE functional groups around ST/SE transaction sets.

read_interchange checks what a receiver checks before reading a transaction: the ISA's fixed
layout, that every ST/GS/ISA is closed by its SE/GE/IEA, that each trailer's count is right
(SE01 segments, GE01 transaction sets, IEA01 functional groups) and that each trailer repeats its
header's control number. write_interchange builds a correct envelope around bodies it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cairn.claims.x12.errors import MalformedX12, X12ValueRefused
from cairn.claims.x12.segments import (
    DEFAULT_DELIMITERS,
    Element,
    Segment,
    clean,
    format_segment,
    split_segments,
)

# A body segment to write: its id and its elements.
BodySegment = tuple[str, Sequence[Element]]


@dataclass(frozen=True)
class TransactionSet:
    code: str  # ST01: 837, 999, 277, 835
    control_number: str  # ST02
    segments: tuple[Segment, ...]  # ST to SE, both included


@dataclass(frozen=True)
class FunctionalGroup:
    code: str  # GS01: HC, FA, HN, HP
    control_number: str  # GS06
    version: str  # GS08, e.g. 005010X222A1
    transactions: tuple[TransactionSet, ...]


@dataclass(frozen=True)
class ReceivedInterchange:
    control_number: str  # ISA13
    sender_id: str  # ISA06, trimmed
    receiver_id: str  # ISA08, trimmed
    production: bool  # ISA15 P
    created: str  # ISA09 + ISA10, YYMMDDHHMM as sent
    groups: tuple[FunctionalGroup, ...]


def _count(segment: Segment, number: int, of: str) -> int:
    value = segment.element(number).strip()
    if not value.isdigit():
        raise MalformedX12(f"{segment.id}{number:02d} at segment {segment.position} is not a number ({of})")
    return int(value)


def read_interchange(text: str) -> ReceivedInterchange:
    """The interchange in `text`, its envelope checked; raises MalformedX12 naming what is wrong."""
    _, segments = split_segments(text)
    isa = segments[0]
    isa13 = isa.element(13)
    groups: list[FunctionalGroup] = []
    gs: Segment | None = None
    group_transactions: list[TransactionSet] = []
    st: Segment | None = None
    body: list[Segment] = []
    closed_by: Segment | None = None
    for segment in segments[1:]:
        if closed_by is not None:
            raise MalformedX12(
                f"{segment.where} follows the IEA at segment {closed_by.position}: "
                "a file must hold one interchange"
            )
        if st is not None:
            body.append(segment)
            if segment.id in ("ST", "GS", "GE", "IEA", "ISA"):
                raise MalformedX12(
                    f"{segment.where} comes before the SE that should close the transaction set "
                    f"ST02 {st.element(2)} (segment {st.position})"
                )
            if segment.id == "SE":
                said = _count(segment, 1, f"ST02 {st.element(2)}")
                if said != len(body):
                    raise MalformedX12(
                        f"SE01 says {said} segments, the transaction set has {len(body)} "
                        f"(ST02 {st.element(2)})"
                    )
                if segment.element(2) != st.element(2):
                    raise MalformedX12(
                        f"SE02 {segment.element(2)} does not match ST02 {st.element(2)} "
                        f"(segment {segment.position})"
                    )
                group_transactions.append(TransactionSet(st.element(1), st.element(2), tuple(body)))
                st, body = None, []
            continue
        if segment.id == "ST":
            if gs is None:
                raise MalformedX12(f"{segment.where} is outside a functional group (no GS before it)")
            st, body = segment, [segment]
        elif segment.id == "GS":
            if gs is not None:
                raise MalformedX12(
                    f"{segment.where} opens a functional group before the one at segment {gs.position} "
                    "is closed by a GE"
                )
            gs, group_transactions = segment, []
        elif segment.id == "GE":
            if gs is None:
                raise MalformedX12(f"{segment.where} closes a functional group that was never opened (no GS)")
            said = _count(segment, 1, f"GS06 {gs.element(6)}")
            if said != len(group_transactions):
                raise MalformedX12(
                    f"GE01 says {said} transaction sets, the functional group has {len(group_transactions)} "
                    f"(GS06 {gs.element(6)})"
                )
            if segment.element(2) != gs.element(6):
                raise MalformedX12(
                    f"GE02 {segment.element(2)} does not match GS06 {gs.element(6)} "
                    f"(segment {segment.position})"
                )
            groups.append(
                FunctionalGroup(gs.element(1), gs.element(6), gs.element(8), tuple(group_transactions))
            )
            gs = None
        elif segment.id == "IEA":
            if gs is not None:
                raise MalformedX12(
                    f"{segment.where} closes the interchange while the functional group GS06 {gs.element(6)} "
                    "has no GE"
                )
            said = _count(segment, 1, f"ISA13 {isa13}")
            if said != len(groups):
                raise MalformedX12(
                    f"IEA01 says {said} functional groups, the interchange has {len(groups)} (ISA13 {isa13})"
                )
            if segment.element(2) != isa13:
                raise MalformedX12(
                    f"IEA02 {segment.element(2)} does not match ISA13 {isa13} (segment {segment.position})"
                )
            closed_by = segment
        elif segment.id == "ISA":
            raise MalformedX12(f"{segment.where} opens a second interchange: a file must hold one")
        else:
            raise MalformedX12(f"{segment.where} is outside a transaction set (not between an ST and its SE)")
    last = segments[-1].position
    if st is not None:
        raise MalformedX12(
            f"the transaction set ST02 {st.element(2)} has no SE: the file ends at segment {last} "
            "(it may have been cut short)"
        )
    if gs is not None:
        raise MalformedX12(
            f"the functional group GS06 {gs.element(6)} has no GE: the file ends at segment {last} "
            "(it may have been cut short)"
        )
    if closed_by is None:
        raise MalformedX12(
            f"the interchange has no IEA: the file ends at segment {last} (it may have been cut short)"
        )
    return ReceivedInterchange(
        control_number=isa13,
        sender_id=isa.element(6).strip(),
        receiver_id=isa.element(8).strip(),
        production=isa.element(15) == "P",
        created=isa.element(9) + isa.element(10),
        groups=tuple(groups),
    )


@dataclass(frozen=True)
class Envelope:
    """What an outbound interchange's ISA and GS say."""

    sender_id: str  # ISA06 / GS02, up to 15 characters
    receiver_id: str  # ISA08 / GS03
    control_number: int  # ISA13 (nine digits) and GS06
    created: datetime
    production: bool  # ISA15 P, else T
    functional_code: str  # GS01: HC claims, FA acknowledgements, HN claim status, HP payments
    version: str  # GS08, e.g. 005010X222A1
    with_st03: bool = True  # ST03 repeats GS08 (required by the 837P, 999 and 277CA; not used by the 835)


@dataclass(frozen=True)
class WrittenInterchange:
    text: str
    transaction_control_numbers: tuple[str, ...]  # ST02 of each transaction set, in order


def _isa_id(value: str, reference: str) -> str:
    cleaned = clean(value, reference)
    if not cleaned or len(cleaned) > 15:
        raise X12ValueRefused(f"{reference} must be 1 to 15 characters")
    return cleaned.ljust(15)


def write_interchange(
    envelope: Envelope, transactions: Sequence[tuple[str, Sequence[BodySegment]]]
) -> WrittenInterchange:
    """One interchange of one functional group; each transaction is (ST01, its body segments,
    between ST and SE). ST02s are 0001, 0002, ... Segments end with '~' and a line break."""
    if not 1 <= envelope.control_number <= 999_999_999:
        raise X12ValueRefused("ISA13 must be a control number from 1 to 999999999")
    created = envelope.created
    isa = "*".join(
        [
            "ISA",
            "00",
            " " * 10,
            "00",
            " " * 10,
            "ZZ",
            _isa_id(envelope.sender_id, "ISA06"),
            "ZZ",
            _isa_id(envelope.receiver_id, "ISA08"),
            created.strftime("%y%m%d"),
            created.strftime("%H%M"),
            DEFAULT_DELIMITERS.repetition,
            "00501",
            f"{envelope.control_number:09d}",
            "0",
            "P" if envelope.production else "T",
            DEFAULT_DELIMITERS.component,
        ]
    )
    lines = [isa + DEFAULT_DELIMITERS.segment]
    group = str(envelope.control_number)
    lines.append(
        format_segment(
            "GS",
            [
                envelope.functional_code,
                envelope.sender_id,
                envelope.receiver_id,
                created.strftime("%Y%m%d"),
                created.strftime("%H%M"),
                group,
                "X",
                envelope.version,
            ],
        )
    )
    numbers = []
    for index, (code, body) in enumerate(transactions, start=1):
        number = f"{index:04d}"
        numbers.append(number)
        lines.append(
            format_segment("ST", [code, number, envelope.version] if envelope.with_st03 else [code, number])
        )
        lines.extend(format_segment(segment_id, elements) for segment_id, elements in body)
        lines.append(format_segment("SE", [str(len(body) + 2), number]))
    lines.append(format_segment("GE", [str(len(numbers)), group]))
    lines.append(format_segment("IEA", ["1", f"{envelope.control_number:09d}"]))
    return WrittenInterchange("\n".join(lines) + "\n", tuple(numbers))
