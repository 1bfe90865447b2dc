"""The audit trail: an AuditEvent for every PHI access, append-only, never PHI itself."""
