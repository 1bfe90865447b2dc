"""The 835: what a payer paid, adjusted and left to the patient, claim by claim and line by line.

Read: BPR (the payment), TRN (its trace number), 1000A N1*PR (the payer: its id from REF*2U,
else N104, else none), 1000B N1*PE (the payee's NPI when N103 is XX), and each CLP with its CAS
adjustments, MOA/MIA remarks and SVC lines (DTM*472 or *150 date, CAS, LQ*HE remarks, REF*6R).
Money is whole cents through Decimal. Provider-level adjustments (PLB) are not read: BPR02 is
the payment after them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from cairn.claims.model import Adjustment, ClaimPayment, LinePayment, Payer, Remittance
from cairn.claims.x12.envelope import TransactionSet, read_interchange
from cairn.claims.x12.errors import MalformedX12
from cairn.claims.x12.segments import Segment
from cairn.claims.x12.values import cents, quantity, read_d8


def read_835(text: str) -> Remittance:
    """The one remittance in an 835 file; read_remittances reads a file of several."""
    remittances = read_remittances(text)
    if len(remittances) != 1:
        raise MalformedX12(
            f"the file holds {len(remittances)} remittances (835 transaction sets), "
            "read it with read_remittances"
        )
    return remittances[0]


def read_remittances(text: str) -> tuple[Remittance, ...]:
    """Every remittance (835 transaction set) in the file, in order."""
    interchange = read_interchange(text)
    transactions = [
        t for g in interchange.groups if g.code == "HP" for t in g.transactions if t.code == "835"
    ]
    if not transactions:
        raise MalformedX12("the file holds no 835 transaction set (GS01 HP, ST01 835)")
    return tuple(_remittance(transaction) for transaction in transactions)


def _first(transaction: TransactionSet, segment_id: str, qualifier: str, what: str) -> Segment:
    for segment in transaction.segments:
        if segment.id == segment_id and segment.element(1) == qualifier:
            return segment
    raise MalformedX12(
        f"the 835 (ST02 {transaction.control_number}) has no {segment_id}*{qualifier} ({what})"
    )


def _adjustments(cas: Segment) -> list[Adjustment]:
    group = cas.element(1)
    if not group:
        raise MalformedX12(f"CAS01 (the adjustment group) is missing in {cas.where}")
    found = []
    for start in range(2, 20, 3):
        reason = cas.element(start)
        if not reason:
            continue
        found.append(
            Adjustment(
                group=group,
                reason=reason,
                amount_cents=cents(cas, start + 1, "adjustment amount"),
                quantity=quantity(cas, start + 2, "adjustment quantity", 0),
            )
        )
    if not found:
        raise MalformedX12(f"CAS02 (the adjustment reason) is missing in {cas.where}")
    return found


@dataclass
class _LineDraft:
    svc: Segment
    service_date: date | None = None
    adjustments: list[Adjustment] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    line_control_number: str = ""

    def finish(self) -> LinePayment:
        procedure = self.svc.components(1)
        if len(procedure) < 2 or not procedure[1]:
            raise MalformedX12(
                f"SVC01 in {self.svc.where} has no procedure code after its qualifier "
                f"(components must be separated by ISA16 '{self.svc.component_separator}')"
            )
        return LinePayment(
            code=procedure[1],
            charge_cents=cents(self.svc, 2, "line charge"),
            paid_cents=cents(self.svc, 3, "line payment"),
            modifiers=tuple(m for m in procedure[2:6] if m),
            units=quantity(self.svc, 5, "units paid", 1),
            service_date=self.service_date,
            adjustments=tuple(self.adjustments),
            remarks=tuple(self.remarks),
            line_control_number=self.line_control_number,
        )


@dataclass
class _ClaimDraft:
    clp: Segment
    adjustments: list[Adjustment] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    lines: list[LinePayment] = field(default_factory=list)

    def finish(self) -> ClaimPayment:
        clp = self.clp
        for number, what in ((1, "the claim's control number"), (2, "the claim's status")):
            if not clp.element(number):
                raise MalformedX12(f"CLP0{number} ({what}) is missing in {clp.where}")
        return ClaimPayment(
            control_number=clp.element(1),
            status=clp.element(2),
            charge_cents=cents(clp, 3, "the claim's charge"),
            paid_cents=cents(clp, 4, "the claim's payment"),
            patient_responsibility_cents=cents(clp, 5, "the patient's responsibility", required=False),
            payer_claim_number=clp.element(7),
            adjustments=tuple(self.adjustments),
            remarks=tuple(self.remarks),
            lines=tuple(self.lines),
        )


def _remittance(transaction: TransactionSet) -> Remittance:
    bpr = next((s for s in transaction.segments if s.id == "BPR"), None)
    if bpr is None:
        raise MalformedX12(f"the 835 (ST02 {transaction.control_number}) has no BPR (the payment)")
    trn = _first(transaction, "TRN", "1", "the payment's trace number")
    if not trn.element(2):
        raise MalformedX12(f"TRN02 (the check or EFT trace number) is missing in {trn.where}")
    payer_n1 = _first(transaction, "N1", "PR", "loop 1000A, the payer")
    payee_n1 = _first(transaction, "N1", "PE", "loop 1000B, the payee")
    payer_id = next(
        (
            s.element(2)
            for s in transaction.segments
            if payer_n1.position < s.position < payee_n1.position and s.id == "REF" and s.element(1) == "2U"
        ),
        payer_n1.element(4),
    )
    claims: list[ClaimPayment] = []
    claim: _ClaimDraft | None = None
    line: _LineDraft | None = None

    def close_line() -> None:
        nonlocal line
        if line is not None and claim is not None:
            claim.lines.append(line.finish())
        line = None

    for segment in transaction.segments:
        if segment.position <= payee_n1.position:
            continue
        if segment.id in ("CLP", "LX", "PLB", "SE"):
            close_line()
            if claim is not None:
                claims.append(claim.finish())
                claim = None
            if segment.id == "CLP":
                claim = _ClaimDraft(segment)
        elif claim is None:
            if segment.id in ("CAS", "SVC", "MOA", "MIA"):
                raise MalformedX12(f"{segment.where} is outside a claim (no CLP before it)")
        elif segment.id == "SVC":
            close_line()
            line = _LineDraft(segment)
        elif segment.id == "CAS":
            (line.adjustments if line is not None else claim.adjustments).extend(_adjustments(segment))
        elif segment.id == "MOA" and line is None:
            claim.remarks += [segment.element(n) for n in range(3, 8) if segment.element(n)]
        elif segment.id == "MIA" and line is None:
            claim.remarks += [segment.element(n) for n in (5, 20, 21, 22, 23) if segment.element(n)]
        elif line is not None:
            if segment.id == "DTM" and segment.element(1) == "472":
                line.service_date = read_d8(segment, 2, "service date")
            elif segment.id == "DTM" and segment.element(1) == "150" and line.service_date is None:
                line.service_date = read_d8(segment, 2, "service period start")
            elif segment.id == "LQ" and segment.element(1) == "HE" and segment.element(2):
                line.remarks.append(segment.element(2))
            elif segment.id == "REF" and segment.element(1) == "6R":
                line.line_control_number = segment.element(2)
    return Remittance(
        payer=Payer(payer_n1.element(2), payer_id),
        payee_npi=payee_n1.element(4) if payee_n1.element(3) == "XX" else "",
        payment_cents=cents(bpr, 2, "the total payment"),
        payment_method=bpr.element(4),
        payment_date=read_d8(bpr, 16, "the payment's date") if bpr.element(16) else None,
        trace_number=trn.element(2),
        claims=tuple(claims),
    )
