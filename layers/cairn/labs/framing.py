"""HL7 v2 on the wire: bytes to clean text, batches to messages, the MSH header, and a typed,
never-failing view of parsed segments.

python-hl7 splits messages into fields; Cairn reads leaves through its own `unescape` because
python-hl7's logs the field text (PHI) when it meets an escape sequence it does not know.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import hl7  # type: ignore[import-untyped,unused-ignore]

from cairn.labs.model import MalformedMessage, MessageHeader
from cairn.labs.timestamps import read_hl7_time

SUPPORTED_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1")
ENVELOPE_SEGMENTS = frozenset({"FHS", "BHS", "BTS", "FTS"})
MLLP_FRAMING = str.maketrans("", "", "\x0b\x1c")
SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}")
STANDARD_SEPARATORS = "|^~\\&"
_TEXT_FORMATTING = {".br": "\n", ".sp": "\n", ".ce": "\n", ".fi": "", ".nf": "", ".sk": " ", "H": "", "N": ""}


def normalize(raw: bytes | str) -> str:
    """Text as labs really send it (MLLP-framed, BOM, LF or CRLF, 8-bit) as CR-separated segments
    with no empty lines or trailing whitespace."""
    text = _decode(raw) if isinstance(raw, bytes) else raw
    text = text.removeprefix("\ufeff").translate(MLLP_FRAMING)
    lines = text.replace("\r\n", "\r").replace("\n", "\r").split("\r")
    return "\r".join(line.rstrip() for line in lines if line.strip())


def split_batch(text: str) -> list[str]:
    """One message per MSH, batch and file envelopes (FHS/BHS/BTS/FTS) dropped. Segments before
    the first MSH become a message of their own, which fails header reading: nothing is lost."""
    messages: list[list[str]] = []
    for segment in normalize(text).split("\r"):
        kind = segment[:3]
        if kind in ENVELOPE_SEGMENTS or not segment:
            continue
        if kind == "MSH" or not messages:
            messages.append([segment])
        else:
            messages[-1].append(segment)
    return ["\r".join(segments) for segments in messages]


def read_header(message: str) -> MessageHeader:
    """MSH read and checked: separators, message type, control id, a supported version.

    Applications and facilities (HD) keep all their components in standard encoding
    ("NAME^1.2.3^ISO"), so an ACK can address the sender exactly as it named itself."""
    first = message.split("\r", 1)[0]
    if not first.startswith("MSH"):
        raise MalformedMessage("the message does not start with an MSH segment", "100", reject=True)
    _check_separators(first)
    msh = segments(first)[0]
    code, event = msh.get(9), msh.get(9, 2)
    if not code:
        raise MalformedMessage("MSH-9 message type is missing", "101", reject=True)
    control_id = msh.get(10)
    if not control_id:
        raise MalformedMessage("MSH-10 message control id is missing", "101", reject=True)
    version = msh.get(12)
    if not version:
        raise MalformedMessage("MSH-12 version id is missing", "101", reject=True)
    if version not in SUPPORTED_VERSIONS:
        raise MalformedMessage(
            f"HL7 version {version[:10]} is not supported; send {', '.join(SUPPORTED_VERSIONS)}", "203",
            reject=True,
        )
    sent = read_hl7_time(msh.get(7))
    return MessageHeader(
        control_id=control_id,
        message_type=f"{code}^{event}" if event else code,
        version=version,
        sending_application=msh.first(3).encoded(),
        sending_facility=msh.first(4).encoded(),
        receiving_application=msh.first(5).encoded(),
        receiving_facility=msh.first(6).encoded(),
        sent_at=sent.value if sent else None,
        processing_id=msh.get(11) or "P",
    )


def parse(message: str) -> Any:
    """The message as python-hl7's `hl7.Message`; MalformedMessage where python-hl7 fails."""
    try:
        return hl7.parse(message)
    except (hl7.HL7Exception, IndexError, ValueError, TypeError) as error:
        raise MalformedMessage(
            f"the message cannot be split into segments and fields ({type(error).__name__})", "100"
        ) from error


@dataclass(frozen=True)
class Repeat:
    """One repetition of a field: components, each a tuple of subcomponents, unescaped."""

    components: tuple[tuple[str, ...], ...]

    def get(self, component: int = 1, subcomponent: int = 1) -> str:
        """A component (or subcomponent) by its 1-based HL7 position; "" when absent."""
        if component > len(self.components):
            return ""
        subcomponents = self.components[component - 1]
        return subcomponents[subcomponent - 1] if subcomponent <= len(subcomponents) else ""

    @property
    def is_empty(self) -> bool:
        return not any(part for component in self.components for part in component)

    def text(self) -> str:
        """The non-empty components (first subcomponents) joined by spaces, for free-text use."""
        return " ".join(c[0] for c in self.components if c and c[0])

    def encoded(self) -> str:
        """The repetition written back in standard encoding characters, trailing empties trimmed."""
        return "^".join(
            "&".join(escape(part) for part in component).rstrip("&") for component in self.components
        ).rstrip("^")


EMPTY = Repeat(())


@dataclass(frozen=True)
class Segment:
    """One segment. `fields[n - 1]` holds field n (for MSH, field 1 is the field separator)."""

    name: str
    fields: tuple[tuple[Repeat, ...], ...]

    def repeats(self, number: int) -> tuple[Repeat, ...]:
        """The non-empty repetitions of a field."""
        if number < 1 or number > len(self.fields):
            return ()
        return tuple(r for r in self.fields[number - 1] if not r.is_empty)

    def first(self, number: int) -> Repeat:
        found = self.repeats(number)
        return found[0] if found else EMPTY

    def get(self, number: int, component: int = 1, subcomponent: int = 1) -> str:
        """A component of the field's first repetition, stripped; "" when absent."""
        return self.first(number).get(component, subcomponent).strip()

    @property
    def field_count(self) -> int:
        """The position of the last field the sender wrote, empty or not."""
        return len(self.fields)


def segments(message: str) -> tuple[Segment, ...]:
    """Every segment of one message, in order, through python-hl7's split."""
    parsed = parse(message)
    # python-hl7 keeps CR, field, repetition, component, subcomponent; Cairn reads MSH-1 + MSH-2.
    found = str(parsed.separators)
    declared = found[1] + found[3] + found[2] + str(parsed.esc) + found[4]
    return tuple(_segment(raw, declared) for raw in parsed)


def is_segment_id(name: str) -> bool:
    return SEGMENT_ID.fullmatch(name) is not None


def segment(name: str, fields: Mapping[int, str]) -> str:
    """A segment written with each (already escaped) field at its HL7 position; MSH-1 is the
    field separator itself, so an MSH's first entry is MSH-2."""
    first = 2 if name == "MSH" else 1
    return "|".join((name, *(fields.get(number, "") for number in range(first, max(fields) + 1)))).rstrip("|")


def escape(text: str) -> str:
    """Free text made safe inside a field: delimiters as \\F\\ \\S\\ \\T\\ \\R\\ \\E\\, line breaks
    as spaces (segments end at CR), other control characters dropped."""
    escaped = (
        text.replace("\\", "\\E\\").replace("|", "\\F\\").replace("^", "\\S\\")
        .replace("&", "\\T\\").replace("~", "\\R\\")
    )
    escaped = re.sub(r"\r\n|\r|\n", " ", escaped)
    return "".join(c for c in escaped if c >= " " or c == "\t")


def unescape(text: str, separators: str = STANDARD_SEPARATORS) -> str:
    """HL7 escape sequences read back: delimiters (`separators` as MSH-1 and MSH-2 declare them),
    formatting (\\.br\\) as line breaks, hexadecimal (\\Xhh\\) as characters; other sequences
    are dropped."""
    escape_char = separators[3]
    if escape_char not in text:
        return text
    delimiters = dict(zip("FSRET", separators, strict=True))
    pieces = text.split(escape_char)
    out = [pieces[0]]
    # Pieces alternate text, sequence, text...; an escape character left open is kept as text.
    for index in range(1, len(pieces), 2):
        if index + 1 >= len(pieces):
            out.append(escape_char + pieces[index])
            break
        out.append(_sequence(pieces[index], delimiters))
        out.append(pieces[index + 1])
    return "".join(out)


def _sequence(sequence: str, delimiters: dict[str, str]) -> str:
    if sequence in delimiters:
        return delimiters[sequence]
    if sequence in _TEXT_FORMATTING:
        return _TEXT_FORMATTING[sequence]
    if sequence[:3] in (".sp", ".sk") and sequence[3:].lstrip("+").isdigit():
        return _TEXT_FORMATTING[sequence[:3]] * min(int(sequence[3:].lstrip("+")), 10)
    if sequence.startswith("X") and re.fullmatch(r"X(?:[0-9A-Fa-f]{2})+", sequence):
        return bytes.fromhex(sequence[1:]).decode("latin-1")
    return ""


def _segment(raw: Any, separators: str) -> Segment:
    name = str(raw[0][0]) if len(raw) and len(raw[0]) else ""
    is_header = name in ("MSH", "BHS", "FHS")
    fields = tuple(
        _field(field, separators, literal=is_header and number <= 2)
        for number, field in enumerate(raw[1:], start=1)
    )
    return Segment(name, fields)


def _field(field: Any, separators: str, *, literal: bool) -> tuple[Repeat, ...]:
    if literal:
        return (Repeat(((str(field[0]),),)),)
    return tuple(_repeat(rep, separators) for rep in (field if _is_nested(field) else [field]))


def _repeat(rep: Any, separators: str) -> Repeat:
    # python-hl7 stores a part without separators as a bare string one level up.
    parts = rep if _is_nested(rep) else [rep]
    return Repeat(tuple(
        tuple(unescape(str(sub), separators) for sub in (part if isinstance(part, list) else [part]))
        for part in parts
    ))


def _is_nested(container: Any) -> bool:
    return len(container) > 0 and isinstance(container[0], list)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:
            return raw.decode("latin-1")


def _check_separators(msh: str) -> None:
    separator = msh[3:4]
    end = msh.find(separator, 4) if separator else -1
    encoding = msh[4:end] if end != -1 else msh[4:]
    declared = separator + encoding
    if (
        len(encoding) != 4
        or len(set(declared)) != 5
        or any(c.isalnum() or c.isspace() for c in declared)
    ):
        raise MalformedMessage(
            "wrong separators: MSH-1 must be the field separator and MSH-2 the four distinct encoding "
            "characters (component, repetition, escape, subcomponent), e.g. MSH|^~\\&|",
            "102", reject=True,
        )
