"""The clearinghouse's answers to an 837P before payment: the 999 (is the file's syntax right?)
and the 277CA (did the payer take each claim into adjudication?)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cairn.claims.model import (
    ClaimAcknowledgement,
    ClaimStatus,
    FunctionalAcknowledgement,
    TransactionAcknowledgement,
)
from cairn.claims.x12.envelope import TransactionSet, read_interchange
from cairn.claims.x12.errors import MalformedX12
from cairn.claims.x12.segments import Segment

# IK304: why a segment is in error.
SEGMENT_ERRORS = {
    "1": "unrecognized segment ID",
    "2": "unexpected segment",
    "3": "required segment missing",
    "4": "loop occurs over maximum times",
    "5": "segment exceeds maximum use",
    "6": "segment not in defined transaction set",
    "7": "segment not in proper sequence",
    "8": "segment has data element errors",
    "I4": "implementation 'not used' segment present",
    "I6": "implementation dependent segment missing",
    "I7": "implementation loop occurs under minimum times",
    "I8": "implementation segment below minimum use",
    "I9": "implementation dependent 'not used' segment present",
}
# IK403: why a data element is in error.
ELEMENT_ERRORS = {
    "1": "required data element missing",
    "2": "conditional required data element missing",
    "3": "too many data elements",
    "4": "data element too short",
    "5": "data element too long",
    "6": "invalid character in data element",
    "7": "invalid code value",
    "8": "invalid date",
    "9": "invalid time",
    "10": "exclusion condition violated",
    "12": "too many repetitions",
    "13": "too many components",
    "I6": "code value not used in implementation",
    "I9": "implementation dependent data element missing",
    "I10": "implementation 'not used' data element present",
    "I11": "implementation too few repetitions",
    "I12": "implementation pattern match failure",
    "I13": "implementation dependent 'not used' data element present",
}
# IK502 to IK506: why a transaction set is in error.
TRANSACTION_ERRORS = {
    "1": "transaction set not supported",
    "2": "transaction set trailer missing",
    "3": "transaction set control number in header and trailer do not match",
    "4": "number of included segments does not match actual count",
    "5": "one or more segments in error",
    "6": "missing or invalid transaction set identifier",
    "7": "missing or invalid transaction set control number",
    "23": "transaction set control number not unique within the functional group",
    "I5": "implementation: one or more segments in error",
    "I6": "implementation convention not supported",
}
# STC01-1, code list 507: the claim status category of a 277CA.
ACCEPTED_CATEGORIES = frozenset({"A0", "A1", "A2", "A5"})
CATEGORIES = {
    "A0": "forwarded to another entity",
    "A1": "received",
    "A2": "accepted into adjudication",
    "A3": "returned as unprocessable",
    "A4": "not found",
    "A5": "split claim",
    "A6": "rejected for missing information",
    "A7": "rejected for invalid information",
    "A8": "rejected for relational field in error",
}


def _only(transactions: Sequence[TransactionSet], what: str) -> TransactionSet:
    if not transactions:
        raise MalformedX12(f"the file holds no {what} transaction set")
    if len(transactions) > 1:
        raise MalformedX12(
            f"the file holds {len(transactions)} {what} transaction sets: Cairn reads one per file "
            "(ask the clearinghouse to send one acknowledgement per file)"
        )
    return transactions[0]


def _meaning(table: dict[str, str], code: str) -> str:
    return table.get(code, "code not known to Cairn")


def read_999(text: str) -> FunctionalAcknowledgement:
    """The verdict of a 999 on the 837 functional group it names (AK102)."""
    interchange = read_interchange(text)
    transaction = _only(
        [t for g in interchange.groups if g.code == "FA" for t in g.transactions if t.code == "999"], "999"
    )
    ak1: Segment | None = None
    ak9: Segment | None = None
    verdicts: list[TransactionAcknowledgement] = []
    ak2: Segment | None = None
    errors: list[str] = []
    segment_in_error = ""
    for segment in transaction.segments:
        if segment.id == "AK1":
            ak1 = segment
        elif segment.id == "AK2":
            if ak2 is not None:
                raise MalformedX12(
                    f"the AK2 at segment {ak2.position} has no IK5 (the transaction set's verdict)"
                )
            ak2, errors = segment, []
        elif segment.id == "IK3" and ak2 is not None:
            segment_in_error = segment.element(1)
            loop = f" in loop {segment.element(3)}" if segment.element(3) else ""
            code = segment.element(4)
            errors.append(
                f"{segment_in_error} at position {segment.element(2)}{loop}: "
                f"{_meaning(SEGMENT_ERRORS, code)} (IK304 {code})"
            )
        elif segment.id == "IK4" and ak2 is not None:
            position = segment.components(1)
            reference = (
                f"{segment_in_error}{int(position[0]):02d}" if position and position[0].isdigit() else "?"
            )
            if len(position) > 1 and position[1]:
                reference += f"-{position[1]}"
            code = segment.element(3)
            number = f" (data element {segment.element(2)})" if segment.element(2) else ""
            # IK404 copies the bad value, which may be a member id or a name: it is not kept.
            errors.append(f"{reference}{number}: {_meaning(ELEMENT_ERRORS, code)} (IK403 {code})")
        elif segment.id == "IK5":
            if ak2 is None:
                raise MalformedX12(f"the IK5 at segment {segment.position} has no AK2 before it")
            if not segment.element(1):
                raise MalformedX12(f"IK501 (the transaction set's verdict) is missing in {segment.where}")
            errors += [
                f"transaction set: {_meaning(TRANSACTION_ERRORS, code)} (IK50{n} {code})"
                for n, code in ((n, segment.element(n)) for n in range(2, 7))
                if code
            ]
            verdicts.append(
                TransactionAcknowledgement(ak2.element(2), segment.element(1) in ("A", "E"), tuple(errors))
            )
            ak2 = None
        elif segment.id == "AK9":
            ak9 = segment
    if ak1 is None or not ak1.element(2):
        raise MalformedX12("the 999 has no AK1 naming the functional group it answers (AK102)")
    if ak2 is not None:
        raise MalformedX12(f"the AK2 at segment {ak2.position} has no IK5 (the transaction set's verdict)")
    if ak9 is None or not ak9.element(1):
        raise MalformedX12("the 999 has no AK9 (the functional group's verdict)")
    code = ak9.element(1)
    return FunctionalAcknowledgement(ak1.element(2), code in ("A", "E"), tuple(verdicts), code)


@dataclass
class _StatusDraft:
    trn: Segment
    stc: Segment | None = None
    payer_claim_number: str = ""
    in_service_line: bool = False

    def finish(self) -> ClaimStatus:
        if self.stc is None:
            raise MalformedX12(
                f"the claim whose TRN is at segment {self.trn.position} has no STC (its status)"
            )
        status = self.stc.components(1)
        category, code = (*status, "", "")[:2]
        if not category:
            raise MalformedX12(f"STC01 (the claim's status category) is missing in {self.stc.where}")
        message = self.stc.element(12) or f"{_meaning(CATEGORIES, category)} (status {code})"
        return ClaimStatus(
            control_number=self.trn.element(2),
            accepted=category in ACCEPTED_CATEGORIES,
            category=category,
            status_code=code,
            message=message,
            payer_claim_number=self.payer_claim_number,
        )


def read_277ca(text: str) -> ClaimAcknowledgement:
    """Each claim's status in a 277CA: the patient-level loop 2200D's TRN*2 (the claim's CLM01),
    its first STC and its REF*1K (the payer's claim number)."""
    interchange = read_interchange(text)
    transactions = [
        t for g in interchange.groups if g.code == "HN" for t in g.transactions if t.code == "277"
    ]
    if not transactions:
        raise MalformedX12("the file holds no 277 transaction set (GS01 HN, ST01 277)")
    claims: list[ClaimStatus] = []
    for transaction in transactions:
        level = ""
        draft: _StatusDraft | None = None
        for segment in transaction.segments:
            if segment.id in ("HL", "SE"):
                if draft is not None:
                    claims.append(draft.finish())
                    draft = None
                level = segment.element(3)
            elif level != "PT":
                continue
            elif segment.id == "TRN" and segment.element(1) == "2":
                if draft is not None:
                    claims.append(draft.finish())
                if not segment.element(2):
                    raise MalformedX12(f"TRN02 (the claim's control number) is missing in {segment.where}")
                draft = _StatusDraft(segment)
            elif draft is None:
                continue
            elif segment.id == "SVC":
                draft.in_service_line = True
            elif segment.id == "STC" and draft.stc is None and not draft.in_service_line:
                draft.stc = segment
            elif segment.id == "REF" and segment.element(1) == "1K" and not draft.in_service_line:
                draft.payer_claim_number = segment.element(2)
    return ClaimAcknowledgement(tuple(claims))
