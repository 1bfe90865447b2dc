"""Field-level PHI encryption: per-tenant data keys (envelope encryption), AES-GCM, blind indexes."""
