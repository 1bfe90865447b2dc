"""FHIR R4 at Cairn's edge: validation, PHI field declarations, search parameters, outcomes."""
