"""What goes wrong with X12: a file Cairn cannot read, or a value Cairn cannot write."""

from __future__ import annotations

from cairn.errors import CairnError


class MalformedX12(CairnError):
    """A file is not the X12 Cairn expected, or breaks the envelope's rules.

    `reason` names segments, elements and positions, never the values in them: a value may be a
    member id or a name.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class X12ValueRefused(CairnError):
    """A value cannot be written into an X12 element (it holds a delimiter, or a character X12's
    character set lacks). `reason` names the element, never the value."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
