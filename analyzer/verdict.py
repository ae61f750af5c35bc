"""Rank findings into root causes (placeholder; issue 7)."""
from __future__ import annotations


def rank(analysis):
    return []
