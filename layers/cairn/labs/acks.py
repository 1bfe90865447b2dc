"""HL7 v2 acknowledgments (ACK) Cairn sends back to a lab: MSH addressed to the sender, MSA, and
for an error or rejection an ERR segment with the HL7 table 0357 code and the reason.
"""

from __future__ import annotations

from datetime import datetime

from cairn.labs.framing import STANDARD_SEPARATORS, escape
from cairn.labs.model import CAIRN_APPLICATION, AckCode, MalformedMessage, MessageHeader
from cairn.labs.timestamps import hl7_time

DEFAULT_VERSION = "2.5.1"
ERROR_CODES = {  # HL7 table 0357
    "0": "Message accepted", "100": "Segment sequence error", "101": "Required field missing",
    "102": "Data type error", "103": "Table value not found", "200": "Unsupported message type",
    "201": "Unsupported event code", "202": "Unsupported processing id", "203": "Unsupported version id",
    "204": "Unknown key identifier", "205": "Duplicate key identifier", "206": "Application record locked",
    "207": "Application internal error",
}
ERROR_ACKS = frozenset({AckCode.APPLICATION_ERROR, AckCode.APPLICATION_REJECT, AckCode.COMMIT_ERROR,
                        AckCode.COMMIT_REJECT})
MSA_TEXT_LENGTH = 80  # MSA-3 is an ST of at most 80 characters
ERR_TEXT_LENGTH = 250


def acknowledgement(
    original: MessageHeader | None, code: AckCode, *, control_id: str, now: datetime, text: str = "",
    error: MalformedMessage | None = None, raw_control_id: str | None = None,
) -> str:
    """The ACK answering `original` (None when its header could not be read; `raw_control_id`
    then names the message in MSA-2). Segments are separated by CR, with no trailing CR."""
    version = original.version if original else DEFAULT_VERSION
    _, _, event = original.message_type.partition("^") if original else ("", "", "")
    msh = [
        "MSH", STANDARD_SEPARATORS[1:], CAIRN_APPLICATION,
        original.receiving_facility if original else "",
        original.sending_application if original else "",
        original.sending_facility if original else "",
        hl7_time(now), "", f"ACK^{escape(event)}^ACK" if event else "ACK^^ACK", escape(control_id),
        original.processing_id if original else "P", version,
    ]
    reason = error.reason if error else text
    acknowledged = original.control_id if original else raw_control_id or ""
    msa = ["MSA", code.value, escape(acknowledged), escape((text or reason)[:MSA_TEXT_LENGTH])]
    segments = ["|".join(msh), "|".join(msa).rstrip("|")]
    if code in ERROR_ACKS:
        segments.append(_err(error.hl7_error if error else "207", reason, version))
    return "\r".join(segments)


def _err(hl7_error: str, reason: str, version: str) -> str:
    """ERR in the v2.5 layout (ERR-3 code, ERR-4 severity, ERR-8 user message); before v2.5 the
    code also goes in ERR-1, the only field those versions define."""
    error_code = f"{hl7_error}^{ERROR_CODES.get(hl7_error, '')}^HL70357"
    legacy = f"^^^{error_code.replace('^', '&')}" if version in ("2.3", "2.3.1", "2.4") else ""
    fields = ["ERR", legacy, "", error_code, "E", "", "", "", escape(reason[:ERR_TEXT_LENGTH])]
    return "|".join(fields)
