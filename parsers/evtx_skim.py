"""Skimming: what an EVTX log holds, without decoding its records, when its channel holds no
declared event (issue 20 item 1; DESIGN.md "Decisions of December 2026", "Speed").

A support upload is mostly logs no rule reads (Security and its archives, Application,
PowerShell): decoding their records costs more than everything else rdsla does. A log is
skimmed when the channel of its records is one that no declared catalog entry lists
(``core/data/event_catalog.csv``, column ``channels``; classic RCM events are in System, so
System is never skimmed). What the ledger, the host attribution and "now" need is still exact:

- records: every 64 KiB block is looked at (not the header's stale chunk count), and each
  chunk's records are walked by their headers (signature, size, record number, written time:
  libyal libevtx, "Windows XML Event Log (EVTX) format", "Event record"); the count equals the
  chunk header's ``last - first + 1`` record numbers, which is checked;
- time span: the written time in each record's header, which is the ``timestamp`` the Rust
  decoder gives for a record (so the newest and oldest equal a full decode's);
- computers: a record's ``Computer`` is static text of the binary-XML template it instantiates
  (Windows writes it into the template, not as a substitution), so each record is counted under
  its template's GUID, and one record of every GUID is decoded (the first chunk and the first
  chunk holding each further GUID) to learn its channel and computer;
- a chunk whose header or data checksum is wrong, a block that is neither a chunk nor empty,
  a last chunk cut short, records that do not chain, a template whose computer is not in its
  text, a GUID seen with two channels or computers, an empty or unknown channel: the log is
  decoded record by record as before (:func:`skim` returns None), so damage is counted as today.

Cost: one CRC-32 pass and a few vectorized passes (numpy) over the file, plus decoding a few
chunks; a 6.4 MB Security log takes about a tenth of its full decode.
"""
from __future__ import annotations

import io
import struct
import zlib
from collections import Counter
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Optional

from rdsla.parsers.evtx_rows import RowSink
from rdsla.parsers.evtx_sniff import CHUNK_MAGIC, CHUNK_SIZE, FILE_MAGIC, HEADER_SIZE

CHUNK_HEADER = 0x200            # chunk header, string and template tables; records start here
RECORD_MAGIC = 0x00002A2A       # "**\0\0"
RECORD_HEAD = 24                # signature, size, record number, written time
FRAGMENT = 0x0001010F           # binary-XML fragment header: token 0x0f, version 1.1, flags 0
TEMPLATE_INSTANCE = 0x0C
MIN_RECORD = 48                 # header, fragment, template instance (to its offset), size copy
_EPOCH = datetime(1601, 1, 1)
_CHUNK_FIELDS = struct.Struct("<QQQQIIII")   # at +8: first/last number, first/last id, header
#                                              size, last record offset, free space offset, data CRC


@lru_cache(maxsize=16)
def relevant_channels(events: Optional[frozenset]) -> frozenset[str]:
    """Lower-case channels listed by the declared catalog entries (``events`` None: every entry)."""
    from rdsla.core.catalog import load_catalog
    return frozenset(c.lower() for e in load_catalog() if events is None or e.key in events
                     for c in e.channels)


class SkimSink(RowSink):
    """A RowSink filled from the skim: counts, computers and span, no rows; its event_stats are
    one row per channel, marked ``skimmed``."""

    def event_stats(self) -> list[dict]:
        return [dict(row, skimmed=True) for row in super().event_stats()]

    def frame(self, messages=None):
        """No rows: the ParseResult of a skimmed log holds no events frame."""
        return None


class Skim:
    """What :func:`skim` found: the sink for :mod:`parsers.evtx` and the ledger's note."""

    def __init__(self, sink: SkimSink, channel: str, note: str):
        self.sink, self.channel, self.note = sink, channel, note


def skim(source, options, data=None, force: bool = False) -> Optional[Skim]:
    """The counts of a log whose channel holds no declared event, or None: decode it.

    ``data``: the file's bytes when the caller has read them (a zip member), else the file is
    mapped. The first chunk is decoded first: a log whose first records are in a channel that
    holds declared events (or in none) costs only that. ``force`` skims whatever the channel
    (tests compare a skim with a full decode on every real log)."""
    mapped = data is None
    if mapped:
        data = _load(source)
        if data is None:
            return None
    try:
        first = _first_chunk(data)
        if first is None:
            return None
        head = _decode_chunks(data, [first], options)
        if not head:
            return None
        relevant = relevant_channels(options.events)
        if not force and any(not channel or channel.lower() in relevant for _, channel, _ in head):
            return None
        layout = _layout(data)
        if layout is None or layout.chunk_offsets[0] != first:
            return None
        return _summarize(data, layout, options, head, relevant, force)
    finally:
        if mapped and hasattr(data, "close"):
            data.close()


def _first_chunk(data) -> Optional[int]:
    """Offset of the first chunk holding records (its signature and a free space offset past
    the chunk header); None when there is none."""
    size = len(data)
    for off in range(HEADER_SIZE, size - CHUNK_SIZE + 1, CHUNK_SIZE):
        if bytes(data[off:off + 8]) == CHUNK_MAGIC:
            free = struct.unpack_from("<I", data, off + 48)[0]
            if CHUNK_HEADER < free <= CHUNK_SIZE:
                return off
    return None


def _load(source):
    """The file's bytes: an mmap of a local file (no copy), else the bytes."""
    import mmap
    try:
        if source.local_path:
            with open(source.local_path, "rb") as fh:
                return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        return source.read_bytes()
    except (OSError, ValueError):
        return None


class _Layout:
    """Every record of every chunk, as numpy arrays in file order."""

    def __init__(self, chunk_offsets, pos, cidx, ids, times, tpos, frees):
        self.chunk_offsets = chunk_offsets   # file offset of each chunk with records
        self.pos, self.cidx = pos, cidx      # record file offsets; their chunk's index
        self.ids, self.times, self.tpos = ids, times, tpos   # record numbers, FILETIMEs, template
        self.frees = frees                   # free space offset of each chunk


def _layout(data) -> Optional[_Layout]:
    """Check every block and chunk, walk every record; None at the first sign of damage."""
    import numpy as np

    size = len(data)
    if size < HEADER_SIZE + CHUNK_SIZE:
        return None
    view = memoryview(data)
    tail = HEADER_SIZE + (size - HEADER_SIZE) // CHUNK_SIZE * CHUNK_SIZE
    if tail < size and bytes(view[tail:tail + 8]) == CHUNK_MAGIC:
        return None                              # a last chunk cut short: parsers.evtx reads it
    u8 = np.frombuffer(data, dtype=np.uint8, count=tail)
    offsets, firsts, lasts, frees, counts = [], [], [], [], []
    for off in range(HEADER_SIZE, tail, CHUNK_SIZE):
        if bytes(view[off:off + 8]) != CHUNK_MAGIC:
            if u8[off:off + CHUNK_SIZE].any():
                return None                      # neither a chunk nor an unused block
            continue
        first_num, last_num, first_id, last_id, _hsize, _last_rec, free, data_crc = \
            _CHUNK_FIELDS.unpack_from(data, off + 8)
        header_crc = struct.unpack_from("<I", data, off + 124)[0]
        if zlib.crc32(view[off + 128:off + CHUNK_HEADER], zlib.crc32(view[off:off + 120])) != header_crc:
            return None
        if not CHUNK_HEADER <= free <= CHUNK_SIZE:
            return None
        if free == CHUNK_HEADER:
            continue                             # a chunk with no record yet
        if zlib.crc32(view[off + CHUNK_HEADER:off + free]) != data_crc:
            return None
        if last_num < first_num or last_id - first_id != last_num - first_num:
            return None
        offsets.append(off)
        firsts.append(first_id)
        lasts.append(last_id)
        frees.append(free)
        counts.append(last_num - first_num + 1)
    if not offsets:
        return None
    offs = np.array(offsets, dtype=np.int64)
    frees_a = np.array(frees, dtype=np.int64)
    walked = _walk_vectorized(data, tail, offs, frees_a)
    if walked is None:
        return None
    pos, cidx = walked
    if not len(pos):
        return None
    # every chunk holds exactly the records its header numbers, consecutively
    if not np.array_equal(np.bincount(cidx, minlength=len(offsets)), np.array(counts, dtype=np.int64)):
        return None
    u64 = np.frombuffer(data, dtype="<u8", count=tail // 8)
    ids = _gather(u8, u64, pos + 8, 8).astype(np.int64)
    times = _gather(u8, u64, pos + 16, 8)
    same = cidx[1:] == cidx[:-1]
    starts = np.concatenate(([True], ~same))
    ends = np.concatenate((~same, [True]))
    if not (np.all(ids[1:][same] - ids[:-1][same] == 1)
            and np.array_equal(ids[starts], np.array(firsts, dtype=np.int64)[cidx[starts]])
            and np.array_equal(ids[ends], np.array(lasts, dtype=np.int64)[cidx[ends]])):
        return None
    # each record instantiates a template defined in its chunk
    u32 = np.frombuffer(data, dtype="<u4", count=tail // 4)
    if not (np.all(_gather(u8, u32, pos + RECORD_HEAD, 4) == FRAGMENT)
            and np.all(u8[pos + RECORD_HEAD + 4] == TEMPLATE_INSTANCE)):
        return None
    u16 = np.frombuffer(data, dtype="<u2", count=tail // 2)
    toff = (_gather(u8, u16, pos + 34, 2).astype(np.int64)            # the template's chunk offset
            | (_gather(u8, u16, pos + 36, 2).astype(np.int64) << 16))
    if not (np.all(toff >= CHUNK_HEADER) and np.all(toff + 24 <= frees_a[cidx])):
        return None
    return _Layout(offsets, pos, cidx, ids, times, offs[cidx] + toff, frees_a)


def _gather(u8, view, offsets, width: int):
    """The little-endian unsigned ints of ``width`` bytes at ``offsets``: from the aligned
    ``view`` where every offset is aligned (Windows' records are), else byte by byte."""
    import numpy as np

    if not np.any(offsets % width):
        return view[offsets // width]
    raw = np.ascontiguousarray(u8[offsets[:, None] + np.arange(width)])
    return raw.view(f"<u{width}").reshape(-1)


def _walk_vectorized(data, tail: int, offs, frees):
    """Record offsets and chunk indexes: the 8-aligned record signatures (Windows writes records
    in multiples of 8 bytes) whose size is repeated at the record's end, kept where they chain
    exactly from each chunk's first record to its free space. A chunk where they do not (an
    unaligned writer) is walked record by record (:func:`_walk_python`). None: a record that
    does not chain."""
    import numpy as np

    u32 = np.frombuffer(data, dtype="<u4", count=tail // 4)
    cand = np.flatnonzero(u32[:tail // 8 * 2].reshape(-1, 2)[:, 0] == RECORD_MAGIC).astype(np.int64) * 8
    cand = cand[cand >= HEADER_SIZE]
    chunk_of = np.full((tail - HEADER_SIZE) // CHUNK_SIZE, -1, dtype=np.int64)
    chunk_of[(offs - HEADER_SIZE) // CHUNK_SIZE] = np.arange(len(offs))
    cidx = chunk_of[(cand - HEADER_SIZE) // CHUNK_SIZE]
    keep = cidx >= 0
    cand, cidx = cand[keep], cidx[keep]
    lo, hi = offs[cidx] + CHUNK_HEADER, offs[cidx] + frees[cidx]
    sizes = u32[np.minimum(cand // 4 + 1, len(u32) - 1)].astype(np.int64)
    nxt = cand + sizes
    keep = (cand >= lo) & (sizes >= MIN_RECORD) & (sizes % 8 == 0) & (nxt <= hi)
    keep[keep] = u32[(nxt[keep] - 4) // 4] == sizes[keep]       # the size copy ending a record
    cand, cidx, lo, hi, nxt = cand[keep], cidx[keep], lo[keep], hi[keep], nxt[keep]
    # links: each record ends where the next one of its chunk starts, the last at free space
    same = np.concatenate((cidx[1:] == cidx[:-1], [False]))
    follower = np.concatenate((cand[1:], [-1]))
    link_ok = np.where(same, nxt == follower, nxt == hi)
    first = np.concatenate(([True], cidx[1:] != cidx[:-1]))
    bad = np.zeros(len(offs), dtype=bool)
    bad[cidx[~link_ok]] = True
    bad[cidx[first & (cand != lo)]] = True
    present = np.zeros(len(offs), dtype=bool)
    present[cidx] = True
    bad |= ~present
    if not bad.any():
        return cand, cidx
    good = ~bad[cidx]
    pos, idx = [cand[good]], [cidx[good]]
    for i in np.flatnonzero(bad).tolist():
        walked = _walk_python(data, [int(offs[i])], [int(frees[i])])
        if walked is None:
            return None
        pos.append(walked[0])
        idx.append(np.full(len(walked[0]), i, dtype=np.int64))
    pos_a, idx_a = np.concatenate(pos), np.concatenate(idx)
    order = np.argsort(pos_a, kind="stable")
    return pos_a[order], idx_a[order]


def _walk_python(data, offsets: list, frees: list):
    """The same walk record by record (any alignment); None at a record that does not chain."""
    import numpy as np

    pos, cidx = [], []
    unpack = struct.unpack_from
    for i, (off, free) in enumerate(zip(offsets, frees)):
        p, end = off + CHUNK_HEADER, off + free
        while p < end:
            magic, size = unpack("<II", data, p)
            if magic != RECORD_MAGIC or size < MIN_RECORD or p + size > end or \
                    unpack("<I", data, p + size - 4)[0] != size:
                return None
            pos.append(p)
            cidx.append(i)
            p += size
    return np.array(pos, dtype=np.int64), np.array(cidx, dtype=np.int64)


def _summarize(data, layout: _Layout, options, head: list, relevant: frozenset,
               force: bool) -> Optional[Skim]:
    import numpy as np

    view = memoryview(data)
    # templates: the GUID of each distinct definition (a few per chunk), then of each record
    tpos, rec_t = np.unique(layout.tpos, return_inverse=True)
    ids: dict[bytes, int] = {}
    def_guid = np.array([ids.setdefault(bytes(view[t + 4:t + 20]), len(ids)) for t in tpos.tolist()],
                        dtype=np.int64)
    rec_guid = def_guid[rec_t.reshape(-1)]
    per_guid = np.bincount(rec_guid, minlength=len(ids))
    _, first_rec = np.unique(rec_guid, return_index=True)      # each GUID's first record

    def definition(g: int) -> tuple[int, bytes]:
        start = int(layout.tpos[first_rec[g]])
        length = struct.unpack_from("<I", data, start + 20)[0]
        return start, bytes(view[start + 24:start + 24 + length])

    def record(g: int) -> bytes:
        start = int(layout.pos[first_rec[g]])
        return bytes(view[start:start + struct.unpack_from("<I", data, start + 4)[0]])

    def chunk_of(g: int) -> int:
        return layout.chunk_offsets[int(layout.cidx[first_rec[g]])]

    # what the decoded records say of their GUIDs (the first chunk, decoded by skim()); each
    # other GUID's computer is its template's own text, its channel one already seen (in its
    # first record); a chunk is decoded only for what that cannot settle
    known: dict[int, tuple] = {}
    if not _learn(known, head, layout, rec_guid, [0]):
        return None
    for g, (_, computer) in known.items():        # the template text agrees with the decoder
        start, text = definition(g)
        if _template_computer(data, chunk_of(g), start, text) not in (None, computer):
            return None
    pending = [g for g in range(len(ids)) if g not in known]
    while pending:
        for g in list(pending):
            start, text = definition(g)
            guess = _guess(known, text, record(g), _template_computer(data, chunk_of(g), start, text))
            if guess is not None:
                known[g] = guess
                pending.remove(g)
        if pending:                      # a channel or computer not seen yet: decode its chunk
            chunk = int(layout.cidx[first_rec[pending[0]]])
            decoded = _decode_chunks(data, [layout.chunk_offsets[chunk]], options)
            if decoded is None or not _learn(known, decoded, layout, rec_guid, [chunk]):
                return None
            pending = [g for g in pending if g not in known]
    if len(known) != len(ids):
        return None
    channels = Counter()
    computers = Counter()
    for g, (channel, computer) in known.items():
        if channel.lower() in relevant and not force:
            return None
        if not _static_text(definition(g)[1], computer):
            return None                          # the computer is not the template's own text
        channels[channel] += int(per_guid[g])
        computers[computer] += int(per_guid[g])
    sink = SkimSink(False, options.events)
    sink.records_read = len(layout.pos)
    sink.computers = Counter(dict(computers.most_common()))
    for when in (int(layout.times.min()), int(layout.times.max())):
        text = _filetime_second(when)
        if text is None:
            return None
        sink.saw_time(text)
    for channel, n in channels.items():
        sink.count(channel, None, None, False, n)
    channel = channels.most_common(1)[0][0]
    note = (f"{sink.records_read:,} records, not decoded: channel {channel} holds no licensing event "
            f"(counts, computers and time span from the record headers)")
    return Skim(sink, channel, note)


def _learn(known: dict, decoded: list, layout: _Layout, rec_guid, chunks: list[int]) -> bool:
    """Record each decoded record's (channel, computer) under its GUID; False when the decoder
    read another number of records than the chunks hold, or a GUID has two answers."""
    import numpy as np

    inside = np.isin(layout.cidx, chunks)
    if len(decoded) != int(inside.sum()):
        return False
    guid_of_id = dict(zip(layout.ids[inside].tolist(), rec_guid[inside].tolist()))
    for record_id, channel, computer in decoded:
        g = guid_of_id.get(record_id)
        if g is None or not channel or not computer:
            return False
        if known.setdefault(g, (channel, computer)) != (channel, computer):
            return False
    return True


def _guess(known: dict, definition: bytes, record: bytes, computer: Optional[str]) -> Optional[tuple]:
    """(channel, computer) of a template not decoded yet, when the names already seen settle it:
    its computer is the template's ``Computer`` text (``computer``), else exactly one known
    computer is a whole value of its definition; exactly one known channel is in its definition
    or first record (a substitution value). Else None."""
    if computer is None:
        hits = [c for c in {c for _, c in known.values()} if _static_text(definition, c)]
        if len(hits) != 1:
            return None
        computer = hits[0]
    channels = {ch for ch, _ in known.values()}
    chans = [ch for ch in channels if _static_text(definition, ch) or ch.encode("utf-16-le") in record]
    if len(chans) != 1:
        return None
    return chans[0], computer


_COMPUTER_NAME = b"\x08\x00" + "Computer".encode("utf-16-le") + b"\x00\x00"    # its NameString, from the count


def _template_computer(data, chunk: int, start: int, definition: bytes) -> Optional[str]:
    """The static text of the ``<Computer>`` element of a template definition (at file offset
    ``start`` in the chunk at ``chunk``), or None when it is not plain text (a substitution,
    attributes, another layout). Binary XML (libyal, python-evtx): an open start element is the
    token 0x01, 2 bytes, its size (4), the chunk offset of its NameString (4), then the NameString
    itself when it is defined there (next offset 4, hash 2, character count 2, UTF-16, NUL); then
    0x02 (close start element) and a value: token 0x05/0x45, type 0x01, count 2, UTF-16."""
    base = start + 24 - chunk                    # chunk offset of definition[0]
    ends = []
    at = definition.find(_COMPUTER_NAME)
    while at >= 0:                               # defined inline, right after its element token
        name = at - 6
        if name >= 11 and definition[name - 11] == 0x01 and \
                struct.unpack_from("<I", definition, name - 4)[0] == base + name:
            ends.append(name + 8 + 18)
        at = definition.find(_COMPUTER_NAME, at + 1)
    if not ends:                                 # defined earlier in the chunk, referenced here
        found = data.find(_COMPUTER_NAME, chunk, chunk + CHUNK_SIZE)
        while found >= 0:
            needle = struct.pack("<I", found - chunk - 6)
            at = definition.find(needle, 7)
            while at >= 0:
                if definition[at - 7] == 0x01:
                    ends.append(at + 4)
                at = definition.find(needle, at + 1)
            found = data.find(_COMPUTER_NAME, found + 1, chunk + CHUNK_SIZE)
    texts = set()
    for end in ends:
        if definition[end:end + 1] == b"\x02" and definition[end + 1:end + 2] in (b"\x05", b"\x45") and \
                definition[end + 2:end + 3] == b"\x01":
            count = struct.unpack_from("<H", definition, end + 3)[0]
            texts.add(definition[end + 5:end + 5 + 2 * count].decode("utf-16-le", "replace"))
        else:
            return None
    return texts.pop() if len(texts) == 1 else None


def _static_text(definition: bytes, text: str) -> bool:
    """Whether ``text`` is a whole value of the template (binary-XML value token 0x05/0x45,
    string type 0x01, character count, UTF-16LE: libyal "Value text")."""
    needle = b"\x01" + struct.pack("<H", len(text)) + text.encode("utf-16-le")
    at = definition.find(needle, 1)
    while at >= 0:
        if definition[at - 1] in (0x05, 0x45):
            return True
        at = definition.find(needle, at + 1)
    return False


def _filetime_second(ticks: int) -> Optional[str]:
    """A FILETIME as ISO text to the second (what RowSink.saw_time compares)."""
    try:
        when = _EPOCH + timedelta(microseconds=ticks // 10)
    except OverflowError:
        return None
    if when.year < 1970:
        return None
    return when.strftime("%Y-%m-%dT%H:%M:%S")


def _decode_chunks(data, offsets: list[int], options) -> Optional[list[tuple]]:
    """(record id, channel, computer) of every record of these chunks; None on any error."""
    if options.evtx_backend != "python":
        try:
            return _decode_rust(data, offsets)
        except ImportError:
            pass
    return _decode_python(data, offsets)


def _file_header(chunks: int) -> bytes:
    """A clean file header for ``chunks`` chunks (the decoders read the chunks that follow)."""
    head = bytearray(HEADER_SIZE)
    struct.pack_into("<8sQQQIHHHH", head, 0, FILE_MAGIC, 0, chunks - 1, 1, 128, 1, 3,
                     HEADER_SIZE, chunks)
    struct.pack_into("<I", head, 124, zlib.crc32(bytes(head[:120])))
    return bytes(head)


def _decode_rust(data, offsets: list[int]) -> Optional[list[tuple]]:
    import json

    import evtx
    view = memoryview(data)
    buf = _file_header(len(offsets)) + b"".join(view[o:o + CHUNK_SIZE] for o in offsets)
    out = []
    memo: dict[str, tuple] = {}
    try:
        for rec in evtx.PyEvtxParser(io.BytesIO(buf), number_of_threads=1).records_json():
            text = rec["data"]
            # System ends '"Channel":...,"Computer":...,"Security"': decode that part only,
            # once per distinct text (the whole record when the layout differs)
            start = text.find('"Channel":')
            end = text.find(',"Security"', start) if start >= 0 else -1
            part = text[start:end] if end >= 0 else None
            hit = memo.get(part) if part is not None else None
            if hit is None:
                if part is not None:
                    obj = json.loads("{" + part + "}")
                else:
                    obj = json.loads(text)["Event"]["System"]
                hit = (obj.get("Channel"), obj.get("Computer"))
                if part is not None:
                    memo[part] = hit
            out.append((rec["event_record_id"], *hit))
    except Exception:      # noqa: BLE001 - the Rust binding raises per damaged record
        return None
    return out


class _Collect:
    """Stands in for a RowSink under python-evtx: keeps (record id, channel, computer)."""

    def __init__(self):
        self.rows: list[tuple] = []

    def offer(self, channel, provider, source_name, event_id, qualifiers, level, time,
              record_id, computer, user_sid, data, counted=False) -> None:
        self.rows.append((record_id, channel, computer))


def _decode_python(data, offsets: list[int]) -> Optional[list[tuple]]:
    from rdsla.parsers.evtx_python import PythonDecoder
    collect = _Collect()
    decoder = PythonDecoder(collect)
    try:
        for number, off in enumerate(offsets):
            decoder._chunk(data, off, number)
    except Exception:      # noqa: BLE001
        return None
    return None if decoder.errors else collect.rows
