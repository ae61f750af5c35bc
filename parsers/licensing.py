"""Placeholder until the licensing parser lands."""
from parsers.base import ParseResult


def parse(source, options):
    return ParseResult(status="skipped", warnings=["licensing parser not built yet"])
