"""Run the rule pack (placeholder; issue 7)."""
from __future__ import annotations


def run_rules(analysis):
    return []
