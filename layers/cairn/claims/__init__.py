"""Insurance claims: coding an encounter, the FHIR Claim, scrubbing, the X12 837P out and the
999, 277CA and 835 back, orchestrated by stepfunctions/claims.asl.json (docs/claims.md)."""
