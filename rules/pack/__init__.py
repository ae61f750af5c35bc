"""The RDS licensing rule pack (one module per area; each registers its rules)."""
