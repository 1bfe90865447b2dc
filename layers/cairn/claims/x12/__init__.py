"""X12 005010 for claims: the 837P Cairn sends (claim_837p), its validation with pyx12
(validation), and the 999, 277CA and 835 files that come back (acknowledgements, remittance,
file_kinds). Segments and envelopes are read and written by segments and envelope; every file
that cannot be read raises errors.MalformedX12 with a reason a person at the clinic can act on."""
