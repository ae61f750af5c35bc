"""Limits that keep a hostile bundle from exhausting the machine. Every one is a CLI flag;
exceeding one is a ledger entry, never a crash (README "Limits")."""
from __future__ import annotations

from dataclasses import dataclass

MiB = 1 << 20
GiB = 1 << 30


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 2 * GiB            # one artifact (file on disk or zip member, uncompressed)
    max_total_bytes: int = 8 * GiB           # all zip members of one input, uncompressed
    max_members: int = 20_000                # members of one zip
    max_ratio: int = 1_000                   # uncompressed/compressed size of a member ...
    ratio_floor_bytes: int = 16 * MiB        # ... checked once the member is larger than this
    max_files: int = 100_000                 # files walked in one folder input
    max_depth: int = 32                      # folder depth walked
    artifact_seconds: int = 600              # time one artifact may take to parse
