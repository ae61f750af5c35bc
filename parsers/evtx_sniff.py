"""What an EVTX file looks like from its first bytes: signatures, layout, and its format entry.

A file header of 4096 bytes starting ``ElfFile\\0``, then chunks of 64 KiB each starting
``ElfChnk\\0`` (libyal libevtx, "Windows XML Event Log (EVTX) format", sections "File header"
and "Chunk"; the forge's writer and ../shared/realdata/evtx agree).
The decoders read the records from the chunks, so a file whose header was wiped (zeroed or
overwritten) but whose first chunk is intact is still an EVTX: :mod:`parsers.evtx` reads it
(issue 16, bug 2). Apart from :mod:`parsers.evtx` so that recognizing a file imports no decoder.
"""
from __future__ import annotations

from typing import Optional

from rdsla.parsers.formats import CERTAIN, STRONG, Format, Sniff

FILE_MAGIC = b"ElfFile\x00"
CHUNK_MAGIC = b"ElfChnk\x00"
HEADER_SIZE = 0x1000            # the file header; the first chunk starts here
CHUNK_SIZE = 0x10000
HEAD_NEEDED = HEADER_SIZE + len(CHUNK_MAGIC)   # bytes :func:`sniff` needs to see a first chunk


def sniff(head: bytes) -> Optional[Sniff]:
    """The file signature, else (header wiped) the first chunk's signature at offset 4096."""
    if head.startswith(FILE_MAGIC):
        return Sniff("evtx", CERTAIN, "ElfFile signature")
    if head[HEADER_SIZE:HEAD_NEEDED] == CHUNK_MAGIC:
        return Sniff("evtx", STRONG, f"no ElfFile header, but an ElfChnk chunk at offset {HEADER_SIZE}")
    return None


FORMAT = Format(kinds=("evtx",), sniff=sniff, parse="rdsla.parsers.evtx:parse")
