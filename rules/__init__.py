"""The rule API and the RDS licensing rule pack."""
