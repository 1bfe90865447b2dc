"""X12 segments: the delimiters an ISA declares, splitting a file into segments, and writing one.

Reading takes every delimiter from the ISA, which is fixed at 106 characters: the element
separator is its 4th character, the repetition separator ISA11, the component separator ISA16
and the segment terminator the character after ISA16. Line breaks after a terminator are
tolerated. Writing upper-cases and trims each value and refuses one holding a delimiter: X12 has
no escape, so such a value would silently shift every element after it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from cairn.claims.x12.errors import MalformedX12, X12ValueRefused

ISA_LENGTH = 106  # the ISA segment with its terminator

# An element is a simple value or a composite's components (written joined by the component separator).
Element = str | Sequence[str]


@dataclass(frozen=True)
class Delimiters:
    element: str = "*"
    component: str = ":"
    repetition: str = "^"
    segment: str = "~"

    @property
    def all(self) -> str:
        return self.element + self.component + self.repetition + self.segment


DEFAULT_DELIMITERS = Delimiters()


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment as read: its id, its elements (elements[0] is XX01) and its 1-based position in
    the file, which is how a reason points a person at it."""

    id: str
    elements: tuple[str, ...]
    position: int
    component_separator: str = ":"

    def element(self, number: int) -> str:
        """The element XXnn (1-based); "" where the segment stops before it."""
        return self.elements[number - 1] if number <= len(self.elements) else ""

    def components(self, number: int) -> tuple[str, ...]:
        """The components of composite element XXnn; () where it is empty."""
        value = self.element(number)
        return tuple(value.split(self.component_separator)) if value else ()

    @property
    def where(self) -> str:
        return f"segment {self.position} ({self.id})"


def delimiters_of(text: str) -> Delimiters:
    """The delimiters the interchange's ISA declares."""
    if not text.startswith("ISA"):
        raise MalformedX12("not an X12 interchange: the file does not start with an ISA segment")
    if len(text) < ISA_LENGTH:
        raise MalformedX12(
            f"the ISA segment is cut short: X12 fixes it at {ISA_LENGTH} characters, "
            f"the file has {len(text)} in all"
        )
    element = text[3]
    if element.isalnum() or element.isspace():
        raise MalformedX12("the ISA's element separator (its 4th character) is a letter, digit or space")
    # ISA16 follows the 16th element separator; in a well-formed ISA that separator is at index 103.
    index = -1
    for _ in range(16):
        index = text.find(element, index + 1)
        if index < 0:
            raise MalformedX12("the ISA segment has fewer than 16 elements")
    if index != ISA_LENGTH - 3:
        raise MalformedX12(
            f"the ISA segment is {index + 3} characters, X12 fixes it at {ISA_LENGTH} "
            "(ISA01 to ISA16 are fixed width: pad ISA02, ISA04, ISA06 and ISA08 with spaces)"
        )
    component, terminator = text[index + 1], text[index + 2]
    repetition = text[82]  # ISA11; in 00401 it is the standards identifier "U", not a separator
    delimiters = Delimiters(element, component, repetition if not repetition.isalnum() else "", terminator)
    chosen = [c for c in (element, component, repetition, terminator) if c and not c.isalnum()]
    if len(set(chosen)) != len(chosen) or terminator.isalnum() or component.isalnum():
        raise MalformedX12(
            "the ISA's delimiters are not distinct characters (element separator, ISA11, ISA16 and the "
            "segment terminator must differ)"
        )
    return delimiters


def split_segments(text: str) -> tuple[Delimiters, tuple[Segment, ...]]:
    """Every segment of an interchange, with the delimiters its ISA declares."""
    text = text.lstrip("\ufeff\r\n\t ")
    delimiters = delimiters_of(text)
    pieces = text.split(delimiters.segment)
    tail = pieces.pop().strip()
    segments = []
    for position, piece in enumerate(pieces, start=1):
        raw = piece.lstrip("\r\n")
        if not raw.strip():
            raise MalformedX12(f"segment {position} is empty (two segment terminators in a row)")
        parts = raw.rstrip("\r\n").split(delimiters.element)
        segments.append(Segment(parts[0], tuple(parts[1:]), position, delimiters.component))
    if tail:
        raise MalformedX12(
            f"the file ends inside a segment after segment {len(segments)} (no segment terminator "
            f"'{delimiters.segment}'): it may have been cut short in transfer"
        )
    return delimiters, tuple(segments)


_WHITESPACE = re.compile(r"\s+")


def clean(value: str, reference: str, delimiters: Delimiters = DEFAULT_DELIMITERS) -> str:
    """A value as X12 expects it: accents folded to ASCII, upper case, trimmed, inner whitespace
    single spaces. Raises X12ValueRefused (naming `reference`, e.g. NM103) for a delimiter or a
    character outside ASCII."""
    kept = "".join(c for c in unicodedata.normalize("NFKD", value) if not unicodedata.combining(c))
    if not kept.isascii():
        raise X12ValueRefused(f"{reference} holds a character X12 cannot carry (outside ASCII)")
    if any(c in delimiters.all for c in kept):
        raise X12ValueRefused(
            f"{reference} holds an X12 delimiter ({' '.join(repr(c) for c in delimiters.all)}); "
            "remove it from the record and submit again"
        )
    if not all(c.isprintable() or c.isspace() for c in kept):
        raise X12ValueRefused(f"{reference} holds a control character")
    return _WHITESPACE.sub(" ", kept).strip().upper()


def format_segment(
    segment_id: str, elements: Sequence[Element], delimiters: Delimiters = DEFAULT_DELIMITERS
) -> str:
    """One segment with its terminator; trailing empty elements and components are dropped."""
    written: list[str] = []
    for number, element in enumerate(elements, start=1):
        reference = f"{segment_id}{number:02d}"
        if isinstance(element, str):
            written.append(clean(element, reference, delimiters))
        else:
            components = [clean(c, f"{reference}-{i}", delimiters) for i, c in enumerate(element, start=1)]
            while components and not components[-1]:
                components.pop()
            written.append(delimiters.component.join(components))
    while written and not written[-1]:
        written.pop()
    return delimiters.element.join([segment_id, *written]) + delimiters.segment
