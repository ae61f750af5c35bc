"""``reg query KEY /s`` output saved as text (what collectors and customers paste).

Layout: a key line (``HKEY_LOCAL_MACHINE\\...``), then one line per value, indented by four
spaces, ``name    TYPE    data`` separated by four spaces. ``(Default)`` is the unnamed value
(``(value not set)`` data means it does not exist); REG_DWORD/QWORD print as ``0x..``,
REG_MULTI_SZ joins items with a literal ``\\0``, binary prints as upper-case hex. The output
carries no key times: ``last_write`` stays NA.
Reference: https://learn.microsoft.com/windows-server/administration/windows-commands/reg-query
"""
from __future__ import annotations

import re
from typing import Optional

from rdsla.parsers.base import ParseResult
from rdsla.parsers.registry import type_name

FORM = "reg query"
_KEY = re.compile(r"^(HKEY_[A-Z_]+|HK(?:LM|CU|U|CR|CC))(\\.*)?$")
_VALUE = re.compile(r"^ {2,}(.*?) {4}(REG_[A-Z_]+|0x[0-9a-fA-F]+)(?: {4}(.*))?$")


def read_reg_query(text: str, result: ParseResult) -> list[tuple[str, Optional[str], Optional[str], object]]:
    out: list[tuple[str, Optional[str], Optional[str], object]] = []
    key: Optional[str] = None
    has_values = False
    for n, raw in enumerate(text.lstrip("\ufeff").splitlines(), 1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        if _KEY.match(line.strip()) and not line.startswith(" "):
            if key is not None and not has_values:
                out.append((key, None, None, None))
            key, has_values = line.strip(), False
            continue
        m = _VALUE.match(line)
        if m is None or key is None:
            continue       # "End of search: N match(es) found.", errors, prompts
        name, type_, data = m.group(1), m.group(2), m.group(3) or ""
        if type_.startswith("0x"):
            type_ = type_name(int(type_, 16))
        if name == "(Default)":
            if data == "(value not set)":
                continue
            name = ""
        try:
            out.append((key, name, type_, _data(type_, data)))
            has_values = True
        except ValueError:
            result.warn(f"line {n}: {type_} data not readable: {data[:60]!r}", lost=1)
    if key is not None and not has_values:
        out.append((key, None, None, None))
    return out


def _data(type_: str, text: str) -> object:
    if type_ in ("REG_DWORD", "REG_QWORD", "REG_DWORD_BIG_ENDIAN"):
        return int(text.strip(), 16)
    if type_ == "REG_MULTI_SZ":
        return [s for s in text.split("\\0") if s]
    if type_ in ("REG_SZ", "REG_EXPAND_SZ", "REG_LINK"):
        return text
    return bytes.fromhex(text.strip()).hex()
