"""Placeholder until the registry parser lands."""
from parsers.base import ParseResult


def parse(source, options):
    return ParseResult(status="skipped", warnings=["registry parser not built yet"])
