"""The engine: CLI, bundle intake, frame schemas, host profiles, verdict, batch."""
