"""Structure-aware mutators shared by the CI harnesses (hypothesis drives ``rng`` through
``st.randoms``) and the long run (``benchmarks/fuzz_long.py``, a seeded ``random.Random``).

Each mutator takes bytes and a ``random.Random`` and returns new bytes. Binary formats get
field-level mutations at the offsets their specifications name (EVTX: libyal's "Windows XML
Event Log (EVTX)" format; regf: msuhanov's specification), optionally with checksums fixed up
afterwards so that the mutation reaches the code behind the checksum checks.
"""
from __future__ import annotations

import random
import struct
import zlib
from functools import reduce
from operator import xor
from typing import Callable

INTERESTING_32 = (0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x1000, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF,
                  0x80000000, 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFF8, 4096, 65536, 0x200)
INTERESTING_16 = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0xFFFE, 2, 4, 8, 16)
INTERESTING_8 = (0, 1, 0x7F, 0x80, 0xFF, 0x0F, 0x0C, 0x0E, 0x21, 0x15, 0x08)


def _set_int(buf: bytearray, ofs: int, width: int, rng: random.Random) -> None:
    if ofs < 0 or ofs + width > len(buf):
        return
    old = int.from_bytes(buf[ofs:ofs + width], "little")
    pool = {1: INTERESTING_8, 2: INTERESTING_16, 4: INTERESTING_32, 8: INTERESTING_32}[width]
    r = rng.random()
    if r < 0.45:
        new = rng.choice(pool)
    elif r < 0.75:
        new = old + rng.choice((-1, 1)) * rng.choice((1, 2, 4, 8, 16, 128, 4096, 65536))
    elif r < 0.9:
        new = old ^ (1 << rng.randrange(width * 8))
    else:
        new = rng.getrandbits(width * 8)
    buf[ofs:ofs + width] = (new % (1 << (width * 8))).to_bytes(width, "little")


# --- generic byte mutations ---------------------------------------------------------------------

def flip_bits(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    if not buf:
        return bytes([rng.randrange(256)])
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(buf))
        buf[i] ^= 1 << rng.randrange(8)
    return bytes(buf)


def set_bytes(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    if not buf:
        return data
    for _ in range(rng.randint(1, 4)):
        _set_int(buf, rng.randrange(len(buf)), rng.choice((1, 2, 4)), rng)
    return bytes(buf)


def truncate(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    return data[:rng.randrange(len(data))]


def splice_block(data: bytes, rng: random.Random) -> bytes:
    """Duplicate, delete or overwrite a block (copies of structures at the wrong place)."""
    if len(data) < 2:
        return data + data
    a = rng.randrange(len(data))
    n = rng.randint(1, min(4096, len(data) - a))
    block = data[a:a + n]
    b = rng.randrange(len(data))
    op = rng.randrange(3)
    if op == 0:
        return data[:b] + block + data[b:]
    if op == 1:
        return data[:a] + data[a + n:]
    return data[:b] + block + data[b + len(block):]


def insert_junk(data: bytes, rng: random.Random) -> bytes:
    b = rng.randrange(len(data) + 1)
    junk = rng.choice((b"\x00" * rng.randint(1, 64), b"\xff" * rng.randint(1, 64),
                       bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64)))))
    return data[:b] + junk + data[b:]


GENERIC: tuple[Callable[[bytes, random.Random], bytes], ...] = (flip_bits, set_bytes, truncate, splice_block, insert_junk)


# --- EVTX -------------------------------------------------------------------------------------

EVTX_FILE_FIELDS = ((0x08, 8), (0x10, 8), (0x18, 8), (0x20, 4), (0x24, 2), (0x26, 2), (0x28, 2), (0x2A, 2),
                    (0x78, 4), (0x7C, 4))
CHUNK_FIELDS = ((0x00, 8), (0x08, 8), (0x10, 8), (0x18, 8), (0x20, 8), (0x28, 4), (0x2C, 4), (0x30, 4),
                (0x34, 4), (0x78, 4), (0x7C, 4))
RECORD_MAGIC = b"\x2a\x2a\x00\x00"


def evtx_chunks(data: bytes) -> list[int]:
    return [o for o in range(4096, len(data) - 512 + 1, 65536) if data[o:o + 8] == b"ElfChnk\x00"]


def evtx_records(data: bytes, chunk: int) -> list[int]:
    out, i = [], chunk + 512
    end = min(len(data), chunk + 65536)
    while True:
        i = data.find(RECORD_MAGIC, i, end)
        if i < 0:
            return out
        out.append(i)
        i += 4


def evtx_fix_checksums(data: bytes) -> bytes:
    """File header CRC32 (first 120 bytes, at 0x7C), each chunk's header CRC32 (bytes 0-120 and
    128-512, at 0x7C) and event-records CRC32 (512 to the free-space offset, at 0x34)."""
    buf = bytearray(data)
    if len(buf) >= 128:
        struct.pack_into("<I", buf, 0x7C, zlib.crc32(bytes(buf[:120])))
    for c in evtx_chunks(bytes(buf)):
        free = struct.unpack_from("<I", buf, c + 0x30)[0]
        if 512 <= free <= 65536 and c + free <= len(buf):
            struct.pack_into("<I", buf, c + 0x34, zlib.crc32(bytes(buf[c + 512:c + free])))
        struct.pack_into("<I", buf, c + 0x7C, zlib.crc32(bytes(buf[c:c + 120]) + bytes(buf[c + 128:c + 512])))
    return bytes(buf)


def evtx_file_header(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    ofs, width = rng.choice(EVTX_FILE_FIELDS)
    _set_int(buf, ofs, width, rng)
    return bytes(buf)


def evtx_chunk_header(data: bytes, rng: random.Random) -> bytes:
    chunks = evtx_chunks(data)
    if not chunks:
        return flip_bits(data, rng)
    buf = bytearray(data)
    c = rng.choice(chunks)
    if rng.random() < 0.3:   # the string (64) and template (32) offset tables
        _set_int(buf, c + 0x80 + 4 * rng.randrange(96), 4, rng)
    else:
        ofs, width = rng.choice(CHUNK_FIELDS)
        _set_int(buf, c + ofs, width, rng)
    return bytes(buf)


def evtx_record_header(data: bytes, rng: random.Random) -> bytes:
    chunks = evtx_chunks(data)
    recs = [r for c in chunks for r in evtx_records(data, c)]
    if not recs:
        return flip_bits(data, rng)
    buf = bytearray(data)
    r = rng.choice(recs)
    field = rng.choice(((4, 4), (8, 8), (16, 8), (24, 1), (25, 1), (26, 1), (28, 1), (29, 1)))
    _set_int(buf, r + field[0], field[1], rng)
    if rng.random() < 0.3:      # the trailing size copy
        size = struct.unpack_from("<I", buf, r + 4)[0]
        if 28 <= size and r + size <= len(buf):
            _set_int(buf, r + size - 4, 4, rng)
    return bytes(buf)


def _template_instance(data: bytes, rec: int):
    """(offset of the template-definition offset field, chunk, def offset) of a record whose
    BinXML starts with a fragment header and a TemplateInstance token, else None."""
    p = rec + 24
    if data[p:p + 4] != b"\x0f\x01\x01\x00" or data[p + 4:p + 5] not in (b"\x0c", b"\x4c"):
        return None
    return p + 10


def evtx_template(data: bytes, rng: random.Random) -> bytes:
    """Template offsets, ids, definition sizes and the substitution array (count, sizes, types)."""
    chunks = evtx_chunks(data)
    cands = []
    for c in chunks:
        for r in evtx_records(data, c):
            t = _template_instance(data, r)
            if t is not None:
                cands.append((c, r, t))
    if not cands:
        return evtx_record_header(data, rng)
    buf = bytearray(data)
    c, r, t = rng.choice(cands)
    def_ofs = struct.unpack_from("<I", buf, t)[0]
    after = t + 4
    values = after
    if c + def_ofs == after and after + 24 <= len(buf):          # definition inline: skip it
        size = struct.unpack_from("<I", buf, after + 20)[0]
        values = after + 24 + size
    what = rng.randrange(6)
    if what == 0:
        _set_int(buf, t, 4, rng)                                  # template definition offset
    elif what == 1:
        _set_int(buf, t - 4, 4, rng)                              # template id
    elif what == 2 and c + def_ofs + 24 <= len(buf):
        _set_int(buf, c + def_ofs + rng.choice((0, 20)), 4, rng)  # next-template offset / data size
    elif what == 3 and c + def_ofs + 24 <= len(buf):
        size = struct.unpack_from("<I", buf, c + def_ofs + 20)[0]
        if size:
            i = c + def_ofs + 24 + rng.randrange(min(size, 65536))
            _set_int(buf, i, rng.choice((1, 2)), rng)             # a token inside the template body
    elif values + 4 <= len(buf):
        count = struct.unpack_from("<I", buf, values)[0]
        if what == 4 or count == 0 or count > 1000:
            _set_int(buf, values, 4, rng)                         # substitution count
        else:
            e = values + 4 + 4 * rng.randrange(count)
            if rng.random() < 0.6:
                _set_int(buf, e, 2, rng)                          # value size
            else:
                buf[e + 2] = rng.choice((0, 1, 2, 4, 6, 8, 0x0A, 0x0F, 0x11, 0x13, 0x14, 0x15, 0x21, 0x81, 0x8A, 0xFF))
    return bytes(buf)


EVTX = (evtx_file_header, evtx_chunk_header, evtx_chunk_header, evtx_record_header, evtx_record_header,
        evtx_template, evtx_template, evtx_template)


def mutate_evtx(data: bytes, rng: random.Random) -> bytes:
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(EVTX + GENERIC) if rng.random() < 0.85 else rng.choice(GENERIC)
        data = _structural(op, data, rng)
    if rng.random() < 0.6:
        data = _structural(lambda d, _rng: evtx_fix_checksums(d), data, rng)
    return data


def _structural(op, data: bytes, rng: random.Random) -> bytes:
    """Apply a structure-aware mutation; after an earlier cut or shift the structure it walks
    may end early, and then the input goes on unchanged (the mutator must never stop a run)."""
    try:
        return op(data, rng)
    except (struct.error, IndexError, ValueError):
        return data


# --- regf hives -------------------------------------------------------------------------------

NK_FIELDS = ((0x02, 2), (0x10, 4), (0x14, 4), (0x18, 4), (0x1C, 4), (0x20, 4), (0x24, 4), (0x28, 4), (0x2C, 4),
             (0x30, 4), (0x34, 4), (0x48, 2), (0x4A, 2))
VK_FIELDS = ((0x02, 2), (0x04, 4), (0x08, 4), (0x0C, 4), (0x10, 2))
BASE_FIELDS = ((0x04, 4), (0x08, 4), (0x14, 4), (0x18, 4), (0x1C, 4), (0x20, 4), (0x24, 4), (0x28, 4), (0x2C, 4))


def hive_cells(data: bytes) -> list[tuple[int, int, bytes]]:
    """(file offset of the cell size, cell size, 2-byte signature) of every cell, by a linear
    scan of the hive bins."""
    out = []
    pos = 4096
    while pos + 32 <= len(data) and data[pos:pos + 4] == b"hbin":
        size = struct.unpack_from("<I", data, pos + 8)[0]
        if size < 32 or size % 4096:
            break
        c = pos + 32
        end = min(pos + size, len(data))
        while c + 8 <= end:
            csize = struct.unpack_from("<i", data, c)[0]
            if csize == 0:
                break
            out.append((c, csize, data[c + 4:c + 6]))
            c += abs(csize)
        pos += size
    return out


def hive_fix_checksum(data: bytes) -> bytes:
    if len(data) < 512:
        return data
    buf = bytearray(data)
    checksum = reduce(xor, struct.unpack_from("<127I", buf, 0), 0)
    checksum = {0: 1, 0xFFFFFFFF: 0xFFFFFFFE}.get(checksum, checksum)
    struct.pack_into("<I", buf, 508, checksum)
    return bytes(buf)


def hive_base_block(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    ofs, width = rng.choice(BASE_FIELDS)
    _set_int(buf, ofs, width, rng)
    return bytes(buf)


def hive_bin_header(data: bytes, rng: random.Random) -> bytes:
    bins = [p for p in range(4096, len(data) - 32, 4096) if data[p:p + 4] == b"hbin"]
    if not bins:
        return flip_bits(data, rng)
    buf = bytearray(data)
    _set_int(buf, rng.choice(bins) + rng.choice((0, 4, 8)), 4, rng)
    return bytes(buf)


def hive_cell(data: bytes, rng: random.Random) -> bytes:
    cells = hive_cells(data)
    if not cells:
        return flip_bits(data, rng)
    buf = bytearray(data)
    c, size, sig = rng.choice(cells)
    payload = c + 4
    if rng.random() < 0.15:
        _set_int(buf, c, 4, rng)                                   # the cell size itself
    elif sig == b"nk":
        ofs, width = rng.choice(NK_FIELDS)
        _set_int(buf, payload + ofs, width, rng)
    elif sig == b"vk":
        ofs, width = rng.choice(VK_FIELDS)
        _set_int(buf, payload + ofs, width, rng)
    elif sig in (b"lf", b"lh", b"li", b"ri", b"db"):
        count = struct.unpack_from("<H", buf, payload + 2)[0]
        if rng.random() < 0.4 or count == 0:
            _set_int(buf, payload + 2, 2, rng)                     # element count
        else:
            step = 8 if sig in (b"lf", b"lh") else 4
            _set_int(buf, payload + 4 + step * rng.randrange(min(count, 1000)), 4, rng)   # an offset
    elif sig == b"sk":
        _set_int(buf, payload + rng.choice((4, 8, 12, 16)), 4, rng)
    else:                                                          # value lists, data cells
        n = max(0, abs(size) - 4)
        if n >= 4:
            _set_int(buf, payload + 4 * rng.randrange(n // 4), 4, rng)
    return bytes(buf)


HIVE = (hive_base_block, hive_bin_header, hive_cell, hive_cell, hive_cell, hive_cell)


def mutate_hive(data: bytes, rng: random.Random) -> bytes:
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(HIVE) if rng.random() < 0.8 else rng.choice(GENERIC)
        data = _structural(op, data, rng)
    if rng.random() < 0.7:
        data = _structural(lambda d, _rng: hive_fix_checksum(d), data, rng)
    return data


# --- text formats -----------------------------------------------------------------------------

HOSTILE_LINES = (
    "[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\Terminal Server]",
    "[-HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001]", "[HKEY_LOCAL_MACHINE\\", "[]", "[", "]",
    "\"LicensingMode\"=dword:", "\"LicensingMode\"=dword:ffffffffff", "\"x\"=hex(7):", "\"x\"=hex(b):00,01",
    "\"x\"=hex(ffffffff):00", "\"x\"=hex(-1):00", "\"x\"=hex:zz,00", "\"x\"=hex:00,\\", "  00,11,\\", "\\",
    "@=\"\\\"", "\"unterminated=\"v", "\"a\"=-", "\"a\"=", "=", "\"\"=\"\"", "@=hex(2):41,00,00,00",
    "HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\TermService\\Parameters",
    "    SpecifiedLicenseServers    REG_MULTI_SZ    LS01\\0\\0\\0LS02",
    "    LicensingMode    REG_DWORD    0xZZ", "    LicensingMode    REG_DWORD    0x" + "f" * 40,
    "    X    REG_QWORD    -1", "    X    REG_BINARY    ABC", "    X    REG_NONE", "    (Default)    REG_SZ",
    "    X    REG_UNKNOWN_TYPE    1", "    X    REG_SZ    " + "A" * 5000, "HKLM\\", "HKEY_USERS\\S-1-5-18",
    "KeyPackId,TotalLicenses,IssuedLicenses,AvailableLicenses,ProductVersionID,TypeAndModel",
    "\"1\",\"-1\",\"4294967295\",\"\",\"99\",\"\"", "\"unterminated,1,2", ";;;;", "\t\t\t",
    "<table><tr><th>KeyPackId</th><th>TotalLicenses</th></tr>", "<tr><td>1<td>2</tr>", "</table>",
    "<td colspan=99999999>", "<!--", "<script>", "]]>", "<![CDATA[", "&#xFFFFFFFF;", "&#0;",
    "KeyPackId : 1", "TotalLicenses : 99999999999999999999999999", "ExpirationDate : 99991231235959.000000+000",
    "IssueDate : 00000000000000.000000-999", "GenerationDateTime : 2024-13-45T99:99:99",
    "sIssuedToUser :", "LicenseStatus : 255", "#TYPE Microsoft.Management.Infrastructure.CimInstance#x",
    "\x00\x01\x02", "\ud7ff\ufffe\uffff", "\U0001F600" * 10, "=" * 300, "\"" * 301, "," * 5000,
)


def _split_lines(text: str) -> list[str]:
    return text.splitlines(keepends=True) or [""]


def mutate_lines(text: str, rng: random.Random, extra: tuple[str, ...] = HOSTILE_LINES) -> str:
    lines = _split_lines(text)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(9)
        i = rng.randrange(len(lines))
        if op == 0 and len(lines) > 1:
            del lines[i]
        elif op == 1:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif op == 2:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == 3:
            lines.insert(i, rng.choice(extra) + rng.choice(("\r\n", "\n", "\r", "")))
        elif op == 4:                       # cut a line
            s = lines[i]
            lines[i] = s[:rng.randrange(len(s) + 1)]
        elif op == 5:                       # mutate a cell of a delimited / spaced line
            s = lines[i]
            sep = rng.choice((",", ";", "\t", "    ", ":", "=", "<"))
            cells = s.split(sep)
            k = rng.randrange(len(cells))
            cells[k] = rng.choice(("", "-1", "0", "4294967296", "1e309", "NaN", "\"", "\\", "9" * 40,
                                   "2024-02-30", "99/99/9999 99:99:99", "20241105101500.000000+060",
                                   "<b>x</b>", "&amp", "\x00", cells[k] * rng.randint(2, 50)))
            lines[i] = sep.join(cells)
        elif op == 6:                       # very long line
            lines.insert(i, rng.choice(extra) * rng.randint(50, 400) + "\r\n")
        elif op == 7:                       # line-ending soup
            lines[i] = lines[i].rstrip("\r\n") + rng.choice(("\r", "\n", "\r\r\n", "\u2028", "\x0b", "\x0c", ""))
        else:                               # many lines of one kind
            lines[i:i] = [rng.choice(extra) + "\r\n"] * rng.randint(2, 300)
    return "".join(lines)


def _decode_any(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xff\xfe"):
        return data[2:len(data) - len(data) % 2].decode("utf-16-le", "replace"), "utf-16"
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", "replace"), "utf-8-sig"
    if len(data) > 4 and data[1:200:2].count(0) > 40:
        return data[:len(data) - len(data) % 2].decode("utf-16-le", "replace"), "utf-16-le"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace"), "cp1252"


def _encode(text: str, enc: str) -> bytes:
    if enc == "utf-16":
        return b"\xff\xfe" + text.encode("utf-16-le", "surrogatepass")
    return text.encode(enc, "surrogatepass" if enc.startswith("utf") else "replace")


def mutate_text(data: bytes, rng: random.Random, extra: tuple[str, ...] = HOSTILE_LINES) -> bytes:
    """Line mutations in the seed's encoding, sometimes re-encoded, sometimes byte-level damage."""
    text, enc = _decode_any(data)
    if rng.random() < 0.85:
        text = mutate_lines(text, rng, extra)
    if rng.random() < 0.15:
        enc = rng.choice(("utf-16", "utf-8", "utf-8-sig", "cp1252", "utf-16-le", "utf-16-be"))
    out = _encode(text, enc)
    if rng.random() < 0.2:
        out = rng.choice(GENERIC)(out, rng)
    return out


# --- zip containers ---------------------------------------------------------------------------

def zip_records(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    for sig in (b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06", b"PK\x06\x06", b"PK\x06\x07"):
        i = data.find(sig)
        while i >= 0:
            out.append((i, sig))
            i = data.find(sig, i + 1)
    return out


LOCAL_FIELDS = ((4, 2), (6, 2), (8, 2), (14, 4), (18, 4), (22, 4), (26, 2), (28, 2))
CENTRAL_FIELDS = ((6, 2), (8, 2), (10, 2), (16, 4), (20, 4), (24, 4), (28, 2), (30, 2), (32, 2), (38, 4), (42, 4))
END_FIELDS = ((4, 2), (6, 2), (8, 2), (10, 2), (12, 4), (16, 4), (20, 2))


def zip_field(data: bytes, rng: random.Random) -> bytes:
    recs = zip_records(data)
    if not recs:
        return flip_bits(data, rng)
    buf = bytearray(data)
    at, sig = rng.choice(recs)
    fields = {b"PK\x03\x04": LOCAL_FIELDS, b"PK\x01\x02": CENTRAL_FIELDS, b"PK\x05\x06": END_FIELDS}.get(sig, ((4, 4),))
    ofs, width = rng.choice(fields)
    _set_int(buf, at + ofs, width, rng)
    return bytes(buf)


def zip_name(data: bytes, rng: random.Random) -> bytes:
    """Overwrite a member name (local or central) with a hostile one of the same length."""
    recs = [(a, s) for a, s in zip_records(data) if s in (b"PK\x03\x04", b"PK\x01\x02")]
    if not recs:
        return data
    buf = bytearray(data)
    at, sig = rng.choice(recs)
    name_at, nlen_at = (at + 30, at + 26) if sig == b"PK\x03\x04" else (at + 46, at + 28)
    if nlen_at + 2 > len(buf):
        return data
    n = struct.unpack_from("<H", buf, nlen_at)[0]
    hostile = rng.choice((b"../../etc/passwd", b"/abs/x", b"C:\\x", b"\\\\srv\\share\\x", b"a/../../b", b"\x00x",
                          b"\xff\xfe\x80", b"con", b"aux.txt", b"a" * 300, b"dir/"))
    name = (hostile * (n // max(len(hostile), 1) + 1))[:n]
    buf[name_at:name_at + n] = name
    return bytes(buf)


ZIP = (zip_field, zip_field, zip_field, zip_name)


def mutate_zip(data: bytes, rng: random.Random) -> bytes:
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(ZIP) if rng.random() < 0.8 else rng.choice(GENERIC)
        data = _structural(op, data, rng)
    return data
