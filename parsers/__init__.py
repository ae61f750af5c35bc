"""Parsers: one module per format family. Each exposes ``parse(source, options) -> ParseResult``."""
from __future__ import annotations

import importlib
from typing import Callable

# kind (analyzer.sniff) -> "module:function"
PARSERS: dict[str, str] = {
    "evtx": "rdsla.parsers.evtx:parse",
    "hive": "rdsla.parsers.registry:parse",
    "reg_export": "rdsla.parsers.registry:parse",
    "reg_query": "rdsla.parsers.registry:parse",
    "licensing_csv": "rdsla.parsers.licensing:parse",
    "licensing_html": "rdsla.parsers.licensing:parse",
    "licensing_text": "rdsla.parsers.licensing:parse",
}


def parser_for(kind: str) -> Callable:
    module, func = PARSERS[kind].split(":")
    return getattr(importlib.import_module(module), func)
