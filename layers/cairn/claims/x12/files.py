"""What kind of file the clearinghouse sent: a 999, a 277CA or an 835, and nothing else."""

from __future__ import annotations

from cairn.claims.x12.envelope import read_interchange
from cairn.claims.x12.errors import MalformedX12

ACKNOWLEDGEMENT = "999"
CLAIM_ACKNOWLEDGEMENT = "277CA"
REMITTANCE = "835"


def file_kind(text: str) -> str:
    """ "999", "277CA" or "835", after the envelope's checks; MalformedX12 for anything else (a file
    that is not X12, an 837 put among the answers, a 997, a 277 that is not a claim acknowledgement)."""
    interchange = read_interchange(text)
    kinds = {
        (group.code, transaction.code, group.version)
        for group in interchange.groups
        for transaction in group.transactions
    }
    if not kinds:
        raise MalformedX12("the interchange holds no transaction set (no ST)")
    if len({(code, transaction) for code, transaction, _ in kinds}) > 1:
        found = ", ".join(sorted({transaction for _, transaction, _ in kinds}))
        raise MalformedX12(f"the interchange mixes transaction sets ({found}): Cairn reads one kind per file")
    code, transaction, version = min(kinds)
    if (code, transaction) == ("FA", "999"):
        return ACKNOWLEDGEMENT
    if (code, transaction) == ("HN", "277"):
        if "X214" not in version:
            raise MalformedX12(
                f"this 277 is not a claim acknowledgement (GS08 {version}; a 277CA is 005010X214): "
                "ask the clearinghouse for 277CA files"
            )
        return CLAIM_ACKNOWLEDGEMENT
    if (code, transaction) == ("HP", "835"):
        return REMITTANCE
    if transaction == "837":
        raise MalformedX12(
            "this is an 837 claim file (ST01 837), which Cairn sends, not an answer from the clearinghouse: "
            "it does not belong in the inbox"
        )
    if transaction == "997":
        raise MalformedX12(
            "this is a 997 acknowledgement (X12 4010): Cairn reads 999 acknowledgements of 5010 files"
        )
    raise MalformedX12(
        f"Cairn does not read this transaction set (GS01 {code}, ST01 {transaction}): "
        "the inbox takes 999, 277CA and 835 files"
    )
