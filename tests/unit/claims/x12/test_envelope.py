"""Reading and writing X12 segments and envelopes: delimiters from the ISA, the envelope's counts
and control numbers, and values X12 cannot carry, each refused with a reason that names places,
never values."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cairn.claims.x12.claim_837p import read_837p, write_837p
from cairn.claims.x12.envelope import read_interchange
from cairn.claims.x12.errors import MalformedX12, X12ValueRefused
from cairn.claims.x12.segments import clean, format_segment, split_segments
from cairn.claims.x12.values import dollars
from tests.unit.claims.x12.claims_factory import SUBSCRIBER, as_written, interchange, self_claim, shapes


def written() -> str:
    return write_837p(interchange(), [self_claim()]).text


def lines_of(text: str) -> list[str]:
    return text.splitlines()


def with_line(text: str, startswith: str, replacement: str) -> str:
    return "\n".join(replacement if line.startswith(startswith) else line for line in lines_of(text)) + "\n"


def reason(text: str) -> str:
    with pytest.raises(MalformedX12) as raised:
        read_interchange(text)
    return raised.value.reason


def test_the_delimiters_come_from_the_isa_and_line_breaks_after_terminators_are_tolerated() -> None:
    text = write_837p(interchange(), shapes()).text
    translated = text.translate(str.maketrans({"*": "|", ":": ">", "^": "!"})).replace("~\n", "'\r\n")

    delimiters, segments = split_segments(translated)

    assert (delimiters.element, delimiters.component, delimiters.repetition, delimiters.segment) == (
        "|",
        ">",
        "!",
        "'",
    )
    assert [s.id for s in segments[:3]] == ["ISA", "GS", "ST"]
    assert read_837p(translated) == read_837p(text) == tuple(as_written(c) for c in shapes())


def test_an_interchange_on_one_line_reads_like_one_with_line_breaks() -> None:
    text = written()

    assert read_interchange(text.replace("\n", "")) == read_interchange(text)


def test_the_envelope_is_read_with_its_control_numbers() -> None:
    received = read_interchange(written())

    assert (received.control_number, received.sender_id, received.receiver_id) == (
        "000000042",
        "CAIRNCLINIC01",
        "CLEARHOUSE",
    )
    assert [(g.code, g.control_number, g.version) for g in received.groups] == [("HC", "42", "005010X222A1")]
    assert [(t.code, t.control_number, len(t.segments)) for t in received.groups[0].transactions] == [
        ("837", "0001", 27)
    ]


def test_a_file_that_is_not_x12_is_refused() -> None:
    assert reason("MSH|^~\\&|LAB|CLINIC|||20261120||ORU^R01|1|P|2.5\r") == (
        "not an X12 interchange: the file does not start with an ISA segment"
    )


def test_an_isa_whose_fixed_width_ids_are_not_padded_is_refused() -> None:
    text = written().replace("CAIRNCLINIC01  *", "CAIRNCLINIC01*", 1)

    assert reason(text) == (
        "the ISA segment is 104 characters, X12 fixes it at 106 (ISA01 to ISA16 are fixed width: "
        "pad ISA02, ISA04, ISA06 and ISA08 with spaces)"
    )


def test_a_file_cut_inside_a_segment_is_refused_as_cut_short() -> None:
    text = written()
    cut = text[: text.index("CLM*") + 10]

    assert reason(cut) == (
        "the file ends inside a segment after segment 20 (no segment terminator '~'): "
        "it may have been cut short in transfer"
    )


def test_a_file_cut_between_segments_is_refused_for_its_missing_trailers() -> None:
    text = "\n".join(lines_of(written())[:-2]) + "\n"

    assert (
        reason(text)
        == "the functional group GS06 42 has no GE: the file ends at segment 29 (it may have been cut short)"
    )
    assert reason("\n".join(lines_of(written())[:-4]) + "\n") == (
        "the transaction set ST02 0001 has no SE: the file ends at segment 27 (it may have been cut short)"
    )


def test_a_wrong_segment_count_is_refused_with_both_counts() -> None:
    text = with_line(written(), "SE*", "SE*28*0001~")

    assert reason(text) == "SE01 says 28 segments, the transaction set has 27 (ST02 0001)"


@pytest.mark.parametrize(
    ("startswith", "replacement", "expected"),
    [
        ("SE*", "SE*27*0002~", "SE02 0002 does not match ST02 0001 (segment 29)"),
        ("GE*", "GE*1*43~", "GE02 43 does not match GS06 42 (segment 30)"),
        ("IEA*", "IEA*1*000000043~", "IEA02 000000043 does not match ISA13 000000042 (segment 31)"),
        ("GE*", "GE*2*42~", "GE01 says 2 transaction sets, the functional group has 1 (GS06 42)"),
        (
            "IEA*",
            "IEA*2*000000042~",
            "IEA01 says 2 functional groups, the interchange has 1 (ISA13 000000042)",
        ),
        ("SE*", "SE*X*0001~", "SE01 at segment 29 is not a number (ST02 0001)"),
    ],
)
def test_trailers_that_do_not_match_their_headers_are_refused(
    startswith: str, replacement: str, expected: str
) -> None:
    assert reason(with_line(written(), startswith, replacement)) == expected


def test_a_segment_outside_a_transaction_set_is_refused() -> None:
    text = with_line(written(), "GE*", "REF*EI*1~\nGE*1*42~")

    assert reason(text) == "segment 30 (REF) is outside a transaction set (not between an ST and its SE)"


def test_values_are_upper_cased_trimmed_and_folded_to_ascii() -> None:
    assert clean("  José   García\n", "NM103") == "JOSE GARCIA"
    assert format_segment("SV1", [("HC", "99213", "", ""), "125", "", ""]) == "SV1*HC:99213*125~"


@pytest.mark.parametrize("value", ["O*BRIEN", "A:B", "X~Y", "CARET^"])
def test_a_value_holding_a_delimiter_is_refused_naming_the_element_not_the_value(value: str) -> None:
    with pytest.raises(X12ValueRefused) as raised:
        format_segment("NM1", ["IL", "1", value])

    assert raised.value.reason == (
        "NM103 holds an X12 delimiter ('*' ':' '^' '~'); remove it from the record and submit again"
    )
    assert value not in raised.value.reason


def test_a_claim_with_a_delimiter_in_a_name_is_not_written() -> None:
    claim = replace(
        self_claim(),
        coverage=replace(self_claim().coverage, subscriber=replace(SUBSCRIBER, last_name="DOE*SMITH")),
    )

    with pytest.raises(X12ValueRefused, match=r"^NM103 holds an X12 delimiter") as raised:
        write_837p(interchange(), [claim])
    assert "SMITH" not in raised.value.reason


def test_a_character_outside_ascii_is_refused() -> None:
    with pytest.raises(X12ValueRefused) as raised:
        clean("李", "NM103")

    assert raised.value.reason == "NM103 holds a character X12 cannot carry (outside ASCII)"


@pytest.mark.parametrize(
    ("cents", "written_as"),
    [(12500, "125"), (12550, "125.5"), (12505, "125.05"), (5, "0.05"), (0, "0"), (-250, "-2.5")],
)
def test_amounts_are_dollars_without_trailing_zeros(cents: int, written_as: str) -> None:
    assert dollars(cents) == written_as
