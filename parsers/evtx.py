"""Placeholder until the evtx parser lands."""
from parsers.base import ParseResult


def parse(source, options):
    return ParseResult(status="skipped", warnings=["evtx parser not built yet"])
