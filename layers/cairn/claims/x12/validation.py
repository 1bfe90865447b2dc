"""An 837P checked against the 005010X222A1 implementation guide with pyx12, in memory.

pyx12's own entry point (pyx12.x12n_document) parses the guide's XML maps again for every
document, about 0.15 s each. This module walks the document with the same pyx12 pieces
(X12Reader, walk_tree, err_handler, the segment checks) but builds the control map and the 837P
map once per process and reuses them: pyx12 keeps no per-document state in a map (the walker
counts loops in its own counter). Errors are collected from pyx12's error tree by a visitor,
with no temporary files, as X12Problems. A pyx12 message quotes the offending value, which may
be a member id or a name: the value is cut out of the message.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import pyx12.error_handler
import pyx12.error_visitor
import pyx12.errors
import pyx12.map_if
import pyx12.map_index
import pyx12.params
import pyx12.x12file
from pyx12.map_if._segment import apply_segment_errors
from pyx12.map_walker import apply_walk_errors, walk_tree

from cairn.claims.x12.claim_837p import VERSION
from cairn.claims.x12.errors import MalformedX12
from cairn.claims.x12.segments import split_segments

CONTROL_MAP = "x12.control.00501.xml"
WITHHELD = "value withheld"

# pyx12 logs every error it finds, with the offending value: never let that reach a log line.
logging.getLogger("pyx12").setLevel(logging.CRITICAL + 1)


@dataclass(frozen=True)
class X12Problem:
    """One problem pyx12 found: where it is and what it is, without the value."""

    segment: str  # segment id, e.g. NM1; ISA, GS or ST for envelope problems
    position: int  # the segment's 1-based position in the file
    element: str  # reference designator, e.g. NM109 or CLM05-3; "" for a segment-level problem
    code: str  # pyx12's error code (the 999's IK304/IK403 codes, or its own for the envelope)
    message: str


@cache
def _params() -> pyx12.params.ParamsBase:
    return pyx12.params.params()


@cache
def _map(map_file: str) -> Any:
    """A pyx12 map, parsed once per process."""
    return pyx12.map_if.load_map_file(map_file, _params())


@cache
def _map_index() -> Any:
    return pyx12.map_index.map_index()


def warm() -> None:
    """Build the maps now (at cold start) rather than on the first validation."""
    _map(CONTROL_MAP)
    _map(_map_index().get_filename("00501", VERSION, "HC"))


def _redact(message: str, value: object) -> str:
    """The message with the value pyx12 quotes in it (in parentheses or quotes) cut out."""
    text = str(value).strip() if value is not None else ""
    if not text:
        return message
    for opening, closing in (("(", ")"), ("'", "'"), ('"', '"')):
        message = message.replace(f"{opening}{text}{closing}", f"{opening}{WITHHELD}{closing}")
    return (
        re.sub(rf"(?<![A-Za-z0-9]){re.escape(text)}(?![A-Za-z0-9])", WITHHELD, message)
        if len(text) > 3
        else message
    )


class _Collector(pyx12.error_visitor.error_visitor):  # type: ignore[misc]
    """Gathers pyx12's error tree into X12Problems."""

    def __init__(self) -> None:
        self.problems: list[X12Problem] = []

    def _node(self, segment_id: str, node: Any) -> None:
        """An envelope node: its own problems at its trailer once the trailer was read, its
        elements' problems at its header."""
        trailer, closed_at = {
            "ISA": ("IEA", "cur_line_iea"),
            "GS": ("GE", "cur_line_ge"),
            "ST": ("SE", "cur_line_se"),
        }[segment_id]
        at_trailer = getattr(node, closed_at, None)
        for code, message in node.errors:
            where = trailer if at_trailer else segment_id
            self.problems.append(X12Problem(where, node.get_cur_line() or 0, "", str(code), message))
        header_line = getattr(node, f"cur_line_{segment_id.lower()}", 0) or 0
        for element in getattr(node, "elements", []):
            self._element(segment_id, header_line, element)

    def _element(self, segment_id: str, position: int, element: Any) -> None:
        reference = f"{segment_id}{element.ele_pos:02d}"
        if element.subele_pos is not None:
            reference += f"-{element.subele_pos}"
        for code, message, value in element.errors:
            self.problems.append(
                X12Problem(segment_id, position, reference, str(code), _redact(message, value))
            )

    def visit_root_pre(self, errh: Any) -> None:
        pass

    def visit_root_post(self, errh: Any) -> None:
        pass

    def visit_isa_pre(self, err_isa: Any) -> None:
        self._node("ISA", err_isa)

    def visit_isa_post(self, err_isa: Any) -> None:
        pass

    def visit_gs_pre(self, err_gs: Any) -> None:
        self._node("GS", err_gs)

    def visit_gs_post(self, err_gs: Any) -> None:
        pass

    def visit_st_pre(self, err_st: Any) -> None:
        self._node("ST", err_st)

    def visit_st_post(self, err_st: Any) -> None:
        pass

    def visit_seg(self, err_seg: Any) -> None:
        for code, message, value in err_seg.errors:
            self.problems.append(
                X12Problem(err_seg.seg_id, err_seg.get_cur_line(), "", str(code), _redact(message, value))
            )

    def visit_ele(self, err_ele: Any) -> None:
        segment = err_ele.parent
        self._element(segment.seg_id, segment.get_cur_line(), err_ele)


def validate_837p(text: str) -> tuple[X12Problem, ...]:
    """Every problem pyx12 finds in an 837P against 005010X222A1; () when it is valid.

    Raises MalformedX12 for a file pyx12 cannot start on (not X12, a cut-short ISA) or whose
    functional group is not an 837P of that version.
    """
    split_segments(text)  # a file pyx12 cannot even open gets Cairn's reason, not pyx12's
    try:
        reader = pyx12.x12file.X12Reader(io.StringIO(text.lstrip("\ufeff\r\n\t ")))
    except pyx12.errors.X12Error:
        raise MalformedX12("pyx12 cannot read the interchange header: the ISA is not X12 005010") from None
    errh = pyx12.error_handler.err_handler()
    control = _map(CONTROL_MAP)
    transaction_map: Any = None
    node = control.getnodebypath("/ISA_LOOP/ISA")
    walker = walk_tree()
    for segment in reader:
        previous = node
        segment_id = segment.get_seg_id()
        if segment_id == "ISA":
            node = control.getnodebypath("/ISA_LOOP/ISA")
            walker.forceWalkCounterToLoopStart("/ISA_LOOP", "/ISA_LOOP/ISA")
        elif segment_id == "GS":
            node = control.getnodebypath("/ISA_LOOP/GS_LOOP/GS")
            walker.forceWalkCounterToLoopStart("/ISA_LOOP/GS_LOOP", "/ISA_LOOP/GS_LOOP/GS")
        else:
            node, _, _, walk_errors = walker.walk_errors(
                node, segment, reader.get_seg_count(), reader.get_cur_line(), reader.get_ls_id()
            )
            apply_walk_errors(errh, walk_errors)
        if node is None:
            node = previous
            continue
        if segment_id == "ISA":
            errh.add_isa_loop(segment, reader)
            errh.handle_errors(reader.pop_errors())
        elif segment_id == "IEA":
            errh.handle_errors(reader.pop_errors())
            errh.close_isa_loop(node, segment, reader)
        elif segment_id == "GS":
            if segment.get_value("GS01") != "HC" or segment.get_value("GS08") != VERSION:
                raise MalformedX12(
                    f"the functional group at segment {reader.get_cur_line()} is not an 837P {VERSION} "
                    "(GS01 must be HC and GS08 005010X222A1)"
                )
            if transaction_map is None:
                transaction_map = _map(_map_index().get_filename("00501", VERSION, "HC"))
            reader.check_837_lx = True
            node = transaction_map.getnodebypath("/ISA_LOOP/GS_LOOP/GS")
            errh.add_gs_loop(segment, reader)
            errh.handle_errors(reader.pop_errors())
        elif segment_id == "GE":
            errh.handle_errors(reader.pop_errors())
            errh.close_gs_loop(node, segment, reader)
        elif segment_id == "ST":
            errh.add_st_loop(segment, reader)
            errh.handle_errors(reader.pop_errors())
        elif segment_id == "SE":
            errh.handle_errors(reader.pop_errors())
            errh.close_st_loop(node, segment, reader)
        else:
            errh.add_seg(node, segment, reader.get_seg_count(), reader.get_cur_line(), reader.get_ls_id())
            errh.handle_errors(reader.pop_errors())
        apply_segment_errors(node, segment, errh)
    reader.cleanup()  # trailers a cut-short file never reached
    errh.handle_errors(reader.pop_errors())
    reader.close()
    collector = _Collector()
    errh.accept(collector)
    return tuple(collector.problems)
