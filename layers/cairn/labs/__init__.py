"""Labs: orders out and results in through HL7 v2 (docs/labs.md)."""
