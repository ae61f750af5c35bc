"""Text exports as Windows tools write them: one decoder for .reg, reg query and licensing text.

regedit and Out-File write UTF-16LE with a BOM, wmic redirected to a file UTF-16LE without
one, Export-Csv UTF-8 with or without a BOM, older tools the ANSI code page (cp1252 here).
:func:`decode_text` reads a whole export; :func:`decode_head` tells text from binary in the
first bytes, for the text formats' sniffs. Also here: the JSON document, a text format that is
recognized only so that notes mentioning licensing fields are not taken for a report.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Optional

from rdsla.parsers.formats import HEAD_BYTES, STRONG, Format, Sniff


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


@lru_cache(maxsize=2)       # every text format's sniff asks for the same head in turn
def decode_head(head: bytes) -> Optional[str]:
    """The first bytes of a file as text (the encodings of :func:`decode_text`), or None when
    they look binary: NUL bytes that are not UTF-16, or more than 8 control characters in
    what would be cp1252. A multi-byte UTF-8 character cut by the end of the head is dropped."""
    if head.startswith(b"\xff\xfe"):
        return head[2:len(head) - (len(head) % 2)].decode("utf-16-le", "replace")
    if head.startswith(b"\xfe\xff"):
        return head[2:len(head) - (len(head) % 2)].decode("utf-16-be", "replace")
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    sample = head[:4096]
    if len(sample) >= 4 and sample[1::2].count(0) > len(sample) // 4 and sample[0::2].count(0) < len(sample) // 8:
        return head[:len(head) - (len(head) % 2)].decode("utf-16-le", "replace")
    if b"\x00" in sample:
        return None
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 4:          # cut inside a multi-byte character
            return head[:exc.start].decode("utf-8", "replace")
        text = head.decode("cp1252", "replace")
        controls = sum(1 for ch in text[:4096] if ord(ch) < 9 or 13 < ord(ch) < 32)
        return None if controls > 8 else text


def sniff_json(head: bytes) -> Optional[Sniff]:
    """A whole JSON document (decided only when the head is the whole file): not an artifact,
    however many licensing field names its text mentions."""
    text = decode_head(head)
    if text is None or len(head) >= HEAD_BYTES:
        return None
    text = text.lstrip("\ufeff \t\r\n")
    if text[:1] not in ("{", "["):
        return None
    import json
    try:
        json.loads(text)
    except (ValueError, RecursionError):     # RecursionError: "[[[[..." nested past the C scanner's depth
        return None
    return Sniff("unknown", STRONG, "JSON document")


JSON_DOCUMENT = Format(kinds=("unknown",), sniff=sniff_json, parse=None)
