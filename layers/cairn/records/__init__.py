"""Clinical records: FHIR resources of one tenant, stored encrypted and findable by blind index."""
