"""Text exports as Windows tools write them: one decoder for .reg, reg query and licensing text.

regedit and Out-File write UTF-16LE with a BOM, wmic redirected to a file UTF-16LE without
one, Export-Csv UTF-8 with or without a BOM, older tools the ANSI code page (cp1252 here).
"""
from __future__ import annotations


def decode_text(data: bytes) -> str:
    """UTF-16LE/BE with a BOM, UTF-16LE without one (every other byte NUL), UTF-8 with or
    without a BOM, else cp1252. Never raises; undecodable bytes become U+FFFD."""
    if data.startswith(b"\xff\xfe"):
        return data[2:len(data) - len(data) % 2].decode("utf-16-le", "replace")
    if data.startswith(b"\xfe\xff"):
        return data[2:len(data) - len(data) % 2].decode("utf-16-be", "replace")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", "replace")
    sample = data[:4096]
    if len(sample) >= 4 and sample[1::2].count(0) > len(sample) // 4 and sample[0::2].count(0) < len(sample) // 8:
        return data[:len(data) - len(data) % 2].decode("utf-16-le", "replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")
