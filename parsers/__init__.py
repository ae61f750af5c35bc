"""Parsers: one module per format family. Each exposes ``parse(source, options) -> ParseResult``."""
from __future__ import annotations

import importlib
from typing import Callable

# kind (analyzer.sniff) -> "module:function"
PARSERS: dict[str, str] = {
    "evtx": "parsers.evtx:parse",
    "hive": "parsers.registry:parse",
    "reg_export": "parsers.registry:parse",
    "reg_query": "parsers.registry:parse",
    "licensing_csv": "parsers.licensing:parse",
    "licensing_html": "parsers.licensing:parse",
    "licensing_text": "parsers.licensing:parse",
}


def parser_for(kind: str) -> Callable:
    module, func = PARSERS[kind].split(":")
    return getattr(importlib.import_module(module), func)
