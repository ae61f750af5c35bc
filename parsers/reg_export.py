"""``.reg`` exports (regedit / ``reg export`` / hivexregedit): REGEDIT4 and version 5.00.

Why by hand: the format is small but has traps the rules depend on: ``hex(N):`` carries any
type N (hivex writes REG_SZ as ``hex(1)`` and REG_BINARY as ``hex(3)``), REGEDIT4 strings in
``hex(2)``/``hex(7)`` are ANSI while 5.00 ones are UTF-16LE, long hex lists continue over lines
ending in ``\\``, and ``[-key]`` / ``"v"=-`` delete rather than set (ignored, with a warning).
Text exports carry no key times: ``last_write`` stays NA.
Reference: https://support.microsoft.com/help/310516 (".reg file syntax").
"""
from __future__ import annotations

import re
from typing import Optional

from rdsla.parsers.base import ParseResult
from rdsla.parsers.registry import decode_typed, type_name

FORM = "reg export"
_HEX = re.compile(r"^hex(?:\(([0-9a-fA-F]+)\))?:(.*)$", re.S)


def read_reg_text(text: str, result: ParseResult) -> list[tuple[str, Optional[str], Optional[str], object]]:
    """(key, value, type, data) in file order; a key without values gives (key, None, None, None)."""
    lines = text.lstrip("\ufeff").splitlines()
    utf16 = True
    out: list[tuple[str, Optional[str], Optional[str], object]] = []
    key: Optional[str] = None
    key_has_values = False
    deleted = 0
    i = 0

    def close_key() -> None:
        if key is not None and not key_has_values:
            out.append((key, None, None, None))

    while i < len(lines):
        line = lines[i].strip()
        i += 1
        # join continuation lines: a hex list ending in a backslash goes on
        while line.endswith("\\") and _is_hex_line(line) and i < len(lines):
            line = line[:-1].rstrip() + lines[i].strip()
            i += 1
        if not line or line.startswith(";"):
            continue
        if line == "REGEDIT4":
            utf16 = False
            continue
        if line.startswith("Windows Registry Editor Version"):
            utf16 = True
            continue
        if line.startswith("[") and line.endswith("]"):
            close_key()
            name = line[1:-1]
            if name.startswith("-"):
                deleted += 1
                result.warn(f"line {i}: key deletion [{name}] ignored (rdsla reads, never applies, a .reg file)")
                key, key_has_values = None, True
                continue
            key, key_has_values = name, False
            continue
        if key is None:
            continue
        parsed = _value_line(line, utf16)
        if parsed is None:
            result.warn(f"line {i}: not a value line: {line[:80]!r}", lost=1)
            continue
        name, type_, data = parsed
        if type_ is None:
            result.warn(f"line {i}: value deletion {name!r}=- ignored")
            continue
        out.append((key, name, type_, data))
        key_has_values = True
    close_key()
    return out


def _is_hex_line(line: str) -> bool:
    head = line.split("=", 1)
    return len(head) == 2 and head[1].lstrip().lower().startswith("hex") or bool(re.match(r"^[0-9a-fA-F]{2}(,|\\)", line))


def _value_line(line: str, utf16: bool) -> Optional[tuple[str, Optional[str], object]]:
    """``"name"=data`` / ``@=data`` -> (name, type, data); type None for a deletion."""
    if line.startswith("@"):
        name, rest = "", line[1:].lstrip()
    elif line.startswith('"'):
        name, end = _quoted(line, 0)
        if end is None:
            return None
        rest = line[end:].lstrip()
    else:
        return None
    if not rest.startswith("="):
        return None
    rest = rest[1:].strip()
    if rest == "-":
        return name, None, None
    if rest.startswith('"'):
        text, end = _quoted(rest, 0)
        return (name, "REG_SZ", text) if end is not None else None
    low = rest.lower()
    if low.startswith("dword:"):
        try:
            return name, "REG_DWORD", int(rest[6:].strip() or "0", 16)
        except ValueError:
            return None
    m = _HEX.match(rest)
    if m:
        number = int(m.group(1), 16) if m.group(1) else 3
        hexes = re.sub(r"[\s\\,]", "", m.group(2))
        try:
            raw = bytes.fromhex(hexes)
        except ValueError:
            return None
        return name, type_name(number), decode_typed(number, raw, utf16)
    return None


def _quoted(s: str, start: int) -> tuple[str, Optional[int]]:
    """The string in quotes at ``start`` (``\\"`` and ``\\\\`` escapes) and the index after it."""
    out = []
    i = start + 1
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            out.append(s[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(out), i + 1
        out.append(c)
        i += 1
    return "".join(out), None
