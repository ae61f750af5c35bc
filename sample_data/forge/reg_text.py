"""The two text forms a customer sends instead of hive files, rendered from the same RegKey tree:
`regedit /e` (a .reg file) and `reg query <key> /s` console output.

The byte-level rules follow regedit and reg.exe as Wine re-implements them to match Windows
(programs/regedit/regproc.c export_*; programs/reg/query.c):
- .reg: UTF-16LE with BOM, "Windows Registry Editor Version 5.00", CRLF; each key as
  "\\r\\n[full path]\\r\\n" then its values, and one final CRLF; `"name"=` or `@=`, strings
  quoted with \\ and " escaped, `dword:%08x`, every other type as `hex:` (REG_BINARY) or
  `hex(N):` bytes, a line broken with `\\` + CRLF + two spaces once it reaches 77 columns
  before the next byte (so lines are at most 80 wide).
- reg query /s: a leading blank line; each key's path, its values as four-space separated
  "name type data" lines, then a blank line (the queried key itself only if it has values);
  "(Default)" for the unnamed value, DWORD/QWORD as 0x%x, binary as upper-case hex, MULTI_SZ
  joined with a literal \\0.
"""
from __future__ import annotations

from .regtree import (
    REG_BINARY, REG_DWORD, REG_EXPAND_SZ, REG_MULTI_SZ, REG_QWORD, REG_SZ, TYPE_NAMES, RegKey,
    RegValue,
)

REG_HEADER = "Windows Registry Editor Version 5.00\r\n"
HEX_WRAP_COLUMN = 77  # regedit's MAX_HEX_CHARS


def _text(raw: bytes) -> str:
    """A string value as reg.exe/regedit show it: UTF-16LE up to the first NUL."""
    return raw[: len(raw) - len(raw) % 2].decode("utf-16-le", errors="replace").split("\0", 1)[0]


def _escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def _hex_data(line_len: int, tag: str, raw: bytes) -> str:
    """`tag` then comma-separated bytes, wrapped the way regedit wraps them."""
    out = [tag]
    line_len += len(tag)
    last = len(raw) - 1
    for i, b in enumerate(raw):
        out.append(f"{b:02x}")
        if i == last:
            break
        out.append(",")
        line_len += 3
        if line_len >= HEX_WRAP_COLUMN:
            out.append("\\\r\n  ")
            line_len = 2
    return "".join(out)


def export_value_line(value: RegValue) -> str:
    """One value as regedit writes it (without the line end)."""
    head = f'"{_escape(value.name)}"=' if value.name else "@="
    raw = value.raw()
    if value.type == REG_SZ:
        return head + f'"{_escape(_text(raw))}"'
    if value.type == REG_DWORD and len(raw) == 4:
        return head + f"dword:{int.from_bytes(raw, 'little'):08x}"
    tag = "hex:" if value.type == REG_BINARY else f"hex({value.type:x}):"
    return head + _hex_data(len(head), tag, raw)


def render_reg_export(root: RegKey, mount: str) -> bytes:
    """`regedit /e file.reg <mount>` of this tree, mounted at e.g. HKEY_LOCAL_MACHINE\\SYSTEM."""
    parts = [REG_HEADER]
    for path, key in root.walk(mount):
        parts.append(f"\r\n[{path}]\r\n")
        parts.extend(export_value_line(v) + "\r\n" for v in key.values)
    parts.append("\r\n")
    return b"\xff\xfe" + "".join(parts).encode("utf-16-le")


def query_data(value: RegValue) -> str:
    """The data column of `reg query` for one value."""
    raw = value.raw()
    if value.type in (REG_SZ, REG_EXPAND_SZ):
        return _text(raw)
    if value.type == REG_MULTI_SZ:
        if len(raw) <= 4:
            return ""
        return raw[:-4].decode("utf-16-le", errors="replace").replace("\0", "\\0")
    if value.type in (REG_DWORD, REG_QWORD) and len(raw) in (4, 8):
        return f"0x{int.from_bytes(raw, 'little'):x}"
    if value.type == 5 and len(raw) == 4:
        return f"0x{int.from_bytes(raw, 'big'):x}"
    return raw.hex().upper()


def query_value_line(value: RegValue) -> str:
    type_name = TYPE_NAMES.get(value.type, f"0x{value.type:x}")
    return f"    {value.name or '(Default)'}    {type_name}    {query_data(value)}"


def render_reg_query(root: RegKey, mount: str) -> str:
    """What `reg query <mount> /s` prints for this tree (CRLF line ends)."""
    lines = [""]
    for path, key in root.walk(mount):
        if key.values or key is not root:
            lines.append(path)
            lines.extend(query_value_line(v) for v in key.values)
            lines.append("")
    return "\r\n".join(lines) + "\r\n"

