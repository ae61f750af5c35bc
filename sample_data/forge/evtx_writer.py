"""Writes .evtx files the way the Windows event log service does, for sample bundles and tests.

Layout (libyal libevtx format documentation; checked against real Server 2012 R2 / Windows 10
logs in ../shared/realdata/evtx): a 4096-byte "ElfFile" header, then 64 KiB "ElfChnk" chunks
(512-byte header with CRC32s, 64-bucket name table, 32-bucket template table), then records
("**", size, id, FILETIME, binary XML, size copy; 8-byte aligned) that never cross a chunk.

Every record is a TemplateInstance, with the substitution numbering and value types real logs
use (Windows 10 RCM/Admin and System): Level 0, Opcode 1, Task 2, EventID 3, Qualifiers 4,
Keywords 5, TimeCreated 6, ActivityID 7, ProcessID 8, ThreadID 9, EventRecordID 10,
Version 11, UserID 12, RelatedActivityID 13, Provider Name 14, Provider Guid 15, Channel 16,
EventData/UserData 17 (a nested binary-XML template instance). Manifest providers substitute
Provider Name/Guid and Channel; classic sources (EventSourceName, Qualifiers) carry them as
literals in the template, as Windows does. Computer is a literal in both.

Reader quirks avoided on purpose (DESIGN.md): every record has EventData or UserData (an empty
`<EventData>` at least), no empty nested value, no record ends exactly at its chunk's end.
"""
from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Iterable

from rdsla.sample_data.forge import binxml as bx
from rdsla.sample_data.forge.binxml import Attr, Element, NameTable, Sub, Text

EVENT_NS = "http://schemas.microsoft.com/win/2004/08/events/event"
FILE_HEADER_SIZE = 4096
CHUNK_SIZE = 65536
CHUNK_HEADER_SIZE = 512
RECORD_HEADER_SIZE = 24
DATA_SUB = 17
_U32, _U64 = struct.Struct("<I"), struct.Struct("<Q")
_DESCRIPTOR = struct.Struct("<HBx")
_RECORD_HEADER = struct.Struct("<4sIQQ")


@dataclass
class EventRecord:
    """One event as a provider logs it; the writer assigns EventRecordID 1..n in order."""
    provider: str                       # Provider Name
    event_id: int
    time: datetime                      # tz-aware UTC
    channel: str
    computer: str
    level: int = 4
    provider_guid: str | None = None    # "{c76baa63-ae81-421c-b425-340b4b24157f}"
    event_source_name: str | None = None  # classic sources, e.g. "TermService"
    qualifiers: int | None = None       # classic EventID Qualifiers
    version: int = 0
    task: int = 0
    opcode: int = 0
    keywords: int = 0x8000000000000000
    process_id: int = 0
    thread_id: int = 0
    activity_id: str | None = None
    user_sid: str | None = None         # "S-1-5-20"
    data: dict[str, str] | list[str] | None = None   # EventData: named (dict) or unnamed (list)
    user_data: tuple[str, str, dict[str, str]] | None = None  # (element name, xmlns, fields)
    binary: bytes | None = None

    @property
    def classic(self) -> bool:
        """Classic (pre-manifest) sources log Qualifiers and/or an EventSourceName."""
        return self.qualifiers is not None or self.event_source_name is not None


# --- template skeletons (built once per distinct shape, encoded once per chunk) ------------

def _system_element(literals: tuple | None, computer: str) -> Element:
    if literals is not None:                      # classic: provider and channel are literals
        provider, guid, source, channel_name = literals
        provider_attrs = [Attr("Name", Text(provider))]
        if guid:
            provider_attrs.append(Attr("Guid", Text(guid)))
        if source:
            provider_attrs.append(Attr("EventSourceName", Text(source)))
        channel = Element("Channel", children=(Text(channel_name),))
    else:
        provider_attrs = [Attr("Name", Sub(14, bx.STRING)), Attr("Guid", Sub(15, bx.GUID))]
        channel = Element("Channel", children=(Sub(16, bx.STRING),), dependency=16)
    return Element("System", children=(
        Element("Provider", tuple(provider_attrs), empty=True),
        Element("EventID", (Attr("Qualifiers", Sub(4, bx.UINT16)),), (Sub(3, bx.UINT16),), dependency=3),
        Element("Version", children=(Sub(11, bx.UINT8),), dependency=11),
        Element("Level", children=(Sub(0, bx.UINT8),), dependency=0),
        Element("Task", children=(Sub(2, bx.UINT16),), dependency=2),
        Element("Opcode", children=(Sub(1, bx.UINT8),), dependency=1),
        Element("Keywords", children=(Sub(5, bx.HEXINT64),), dependency=5),
        Element("TimeCreated", (Attr("SystemTime", Sub(6, bx.FILETIME)),), empty=True),
        Element("EventRecordID", children=(Sub(10, bx.UINT64),), dependency=10),
        Element("Correlation", (Attr("ActivityID", Sub(7, bx.GUID)),
                                Attr("RelatedActivityID", Sub(13, bx.GUID))), empty=True),
        Element("Execution", (Attr("ProcessID", Sub(8, bx.UINT32)),
                              Attr("ThreadID", Sub(9, bx.UINT32))), empty=True),
        channel,
        Element("Computer", children=(Text(computer),)),
        Element("Security", (Attr("UserID", Sub(12, bx.SID)),), empty=True),
    ))


def _outer_key(record: EventRecord) -> tuple:
    literals = ((record.provider, record.provider_guid, record.event_source_name, record.channel)
                if record.classic else None)
    return ("event", literals, record.computer, record.user_data is not None)


@lru_cache(maxsize=4096)
def _outer_skeleton(key: tuple) -> Element:
    _, literals, computer, has_user_data = key
    data = Sub(DATA_SUB, bx.BINXML)
    if has_user_data:
        tail = Element("UserData", children=(data,), dependency=DATA_SUB)
        dependency = bx.NO_DEPENDENCY
    else:
        tail, dependency = data, DATA_SUB   # the nested value holds <EventData> itself
    return Element("Event", (Attr("xmlns", Text(EVENT_NS)),),
                   (_system_element(literals, computer), tail), dependency=dependency)


def _data_key(record: EventRecord) -> tuple:
    if record.user_data is not None:
        name, xmlns, fields = record.user_data
        return ("userdata", name, xmlns or "", tuple(fields))
    if isinstance(record.data, dict):
        shape = ("named", tuple(record.data))
    else:
        shape = ("unnamed", len(record.data or ()))
    return ("eventdata", shape, record.binary is not None)


@lru_cache(maxsize=4096)
def _data_skeleton(key: tuple) -> Element:
    if key[0] == "userdata":
        _, name, xmlns, fields = key
        attrs = (Attr("xmlns", Text(xmlns)),) if xmlns else ()
        children = tuple(Element(field, children=(Sub(i, bx.STRING, optional=False),))
                         for i, field in enumerate(fields))
        return Element(name, attrs, children)
    _, (kind, shape), has_binary = key
    if kind == "named":
        children = [Element("Data", (Attr("Name", Text(field)),), (Sub(i, bx.STRING, optional=False),))
                    for i, field in enumerate(shape)]
    else:
        children = [Element("Data", children=(Sub(i, bx.STRING, optional=False),)) for i in range(shape)]
    if has_binary:
        children.append(Element("Binary", children=(Sub(len(children), bx.BINARY),)))  # optional, as Windows
    return Element("EventData", children=tuple(children))


# --- chunk assembly -------------------------------------------------------------------------

class _Chunk:
    """One 64 KiB chunk being filled; records are encoded against its name/template tables."""

    def __init__(self):
        self.buf = bytearray(CHUNK_SIZE)
        self.pos = CHUNK_HEADER_SIZE
        self.names = NameTable()
        self.templates: dict[tuple, tuple[int, int]] = {}        # key -> (template id, offset)
        self.pending_templates: dict[tuple, tuple[int, int]] = {}
        self.name_tails: dict[int, int] = {}
        self.template_tails: dict[int, int] = {}
        self.first_id = self.last_id = 0
        self.last_offset = 0

    def template(self, key):
        return self.templates.get(key) or self.pending_templates.get(key)

    def rollback(self) -> None:
        self.names.pending.clear()
        self.pending_templates.clear()

    def commit(self, record_bytes: bytes, record_id: int) -> None:
        start = self.pos
        self.buf[start:start + len(record_bytes)] = record_bytes
        for name, offset in self.names.pending.items():
            self._link(self.name_tails, 0x80, bx.name_hash(name) % 64, offset)
        for template_id, offset in self.pending_templates.values():
            self._link(self.template_tails, 0x180, template_id % 32, offset)
        self.names.committed.update(self.names.pending)
        self.templates.update(self.pending_templates)
        self.rollback()
        self.first_id = self.first_id or record_id
        self.last_id = record_id
        self.last_offset = start
        self.pos = start + len(record_bytes)

    def _link(self, tails: dict, table: int, bucket: int, offset: int) -> None:
        """Append a name node / template to its bucket's chain (head in the header table)."""
        tail = tails.get(bucket)
        where = table + 4 * bucket if tail is None else tail
        self.buf[where:where + 4] = _U32.pack(offset)
        tails[bucket] = offset

    def finish(self) -> bytes:
        buf = self.buf
        struct.pack_into("<8sQQQQIII", buf, 0, b"ElfChnk\x00", self.first_id, self.last_id,
                         self.first_id, self.last_id, 128, self.last_offset, self.pos)
        struct.pack_into("<I", buf, 0x34, binascii.crc32(buf[CHUNK_HEADER_SIZE:self.pos]))
        struct.pack_into("<I", buf, 0x78, 1)
        struct.pack_into("<I", buf, 0x7C, binascii.crc32(buf[:0x78] + buf[0x80:CHUNK_HEADER_SIZE]))
        return bytes(buf)


def _instance(chunk: _Chunk, key, skeleton, descriptors: bytes, values: bytes, base: int,
              nested=None) -> bytes:
    """A fragment with one TemplateInstance: reference (or define) the template, then values.

    `descriptors`/`values` are the pre-encoded leading substitutions; `nested(offset)` encodes
    one more value (binary XML) once its chunk offset is known.
    """
    out = bytearray(bx.FRAGMENT_HEADER)
    known = chunk.template(key)
    if known is None:
        guid = bx.template_guid(key)
        template_id = _U32.unpack_from(guid)[0]
        offset = base + len(out) + 10
        body = bx.encode_template_body(skeleton(), offset + 24, chunk.names)
        chunk.pending_templates[key] = (template_id, offset)
        out += bytes([bx.TEMPLATE_INSTANCE, 1]) + _U32.pack(template_id) + _U32.pack(offset)
        out += _U32.pack(0) + guid + _U32.pack(len(body)) + body
    else:
        out += bytes([bx.TEMPLATE_INSTANCE, 1]) + _U32.pack(known[0]) + _U32.pack(known[1])
    count = len(descriptors) // 4 + (1 if nested else 0)
    out += _U32.pack(count) + descriptors
    if nested:
        last = len(out)
        out += b"\0\0\0\0" + values
        payload = nested(base + len(out))
        _DESCRIPTOR.pack_into(out, last, len(payload), bx.BINXML)
        out += payload
    else:
        out += values
    out.append(bx.EOF)
    return bytes(out)


def _text_value(text: str, nul: bool) -> bytes:
    """Strings as Windows stores them: manifest values NUL-terminated, an empty one as one NUL."""
    return bx.utf16(text + "\x00" if nul or not text else text)


def _data_values(record: EventRecord) -> tuple[bytes, bytes]:
    """Descriptors and values of the nested EventData/UserData instance."""
    nul = not record.classic
    if record.user_data is not None:
        texts = record.user_data[2].values()
    elif isinstance(record.data, dict):
        texts = record.data.values()
    else:
        texts = record.data or ()
    payloads = [_text_value(str(t), nul) for t in texts]
    if any(len(p) > 0xFFFF for p in payloads) or len(record.binary or b"") > 0xFFFF:
        raise ValueError("a substitution value is limited to 65,535 bytes")
    descriptors = b"".join(_DESCRIPTOR.pack(len(p), bx.STRING) for p in payloads)
    if record.user_data is None and record.binary is not None:
        payloads.append(bytes(record.binary))
        descriptors += _DESCRIPTOR.pack(len(record.binary), bx.BINARY if record.binary else bx.NULL)
    return descriptors, b"".join(payloads)




@lru_cache(maxsize=8192)
def _system_parts(level, opcode, task, event_id, qualifiers, keywords, activity_id, version,
                  user_sid, manifest, provider, provider_guid, channel) -> tuple[bytes, bytes, bytes, bytes]:
    """Pre-encoded System values of one event shape: (descriptors, head, activity, tail).

    Per record only TimeCreated, ProcessID, ThreadID and EventRecordID change; the rest is
    joined from these cached parts.
    """
    def opt(value_type, value):
        return (value_type, bx.encode_value(value_type, value)) if value is not None else (bx.NULL, b"")
    head = [(bx.UINT8, bytes([level])), (bx.UINT8, bytes([opcode])),
            (bx.UINT16, task.to_bytes(2, "little")), (bx.UINT16, event_id.to_bytes(2, "little")),
            opt(bx.UINT16, qualifiers), (bx.HEXINT64, _U64.pack(keywords))]
    activity = opt(bx.GUID, activity_id)
    middle = [(bx.FILETIME, b"\0" * 8), activity, (bx.UINT32, b"\0" * 4), (bx.UINT32, b"\0" * 4),
              (bx.UINT64, b"\0" * 8)]
    tail = [(bx.UINT8, bytes([version])), opt(bx.SID, user_sid), (bx.NULL, b""),
            opt(bx.STRING, provider if manifest else None),
            opt(bx.GUID, provider_guid if manifest else None),
            opt(bx.STRING, channel if manifest else None)]
    descriptors = b"".join(_DESCRIPTOR.pack(len(payload), value_type)
                           for value_type, payload in head + middle + tail)
    return (descriptors, b"".join(p for _, p in head), activity[1], b"".join(p for _, p in tail))


def _system_values(record: EventRecord, record_id: int) -> tuple[bytes, bytes]:
    """Descriptors and values of substitutions 0-16 (the nested EventData/UserData is 17)."""
    descriptors, head, activity, tail = _system_parts(
        record.level, record.opcode, record.task, record.event_id, record.qualifiers,
        record.keywords, record.activity_id, record.version, record.user_sid, not record.classic,
        record.provider, record.provider_guid, record.channel)
    values = (head + _U64.pack(bx.filetime(record.time)) + activity
              + struct.pack("<IIQ", record.process_id, record.thread_id, record_id) + tail)
    return descriptors, values


def _encode_record(record: EventRecord, record_id: int, chunk: _Chunk) -> bytes:
    if record.data is not None and record.user_data is not None:
        raise ValueError("an event has EventData or UserData, not both")
    base = chunk.pos + RECORD_HEADER_SIZE
    outer_key = _outer_key(record)
    data_key = _data_key(record)

    def nested(offset: int) -> bytes:
        return _instance(chunk, data_key, lambda: _data_skeleton(data_key), *_data_values(record), offset)

    body = _instance(chunk, outer_key, lambda: _outer_skeleton(outer_key),
                     *_system_values(record, record_id), base, nested)
    size = RECORD_HEADER_SIZE + len(body) + 4
    padding = -size % 8
    size += padding
    return (_RECORD_HEADER.pack(b"**\x00\x00", size, record_id, bx.filetime(record.time))
            + body + bytes(padding) + _U32.pack(size))


def _chunks(records: Iterable[EventRecord]) -> Iterable[_Chunk]:
    chunk = _Chunk()
    for record_id, record in enumerate(records, start=1):
        encoded = _encode_record(record, record_id, chunk)
        # Strictly less: libevtx drops a record that ends exactly at its chunk's end.
        if chunk.pos + len(encoded) >= CHUNK_SIZE:
            chunk.rollback()
            if chunk.first_id == 0:
                raise ValueError(f"record {record_id} does not fit in one chunk")
            yield chunk
            chunk = _Chunk()
            encoded = _encode_record(record, record_id, chunk)
            if chunk.pos + len(encoded) >= CHUNK_SIZE:
                raise ValueError(f"record {record_id} does not fit in one chunk")
        chunk.commit(encoded, record_id)
    if chunk.first_id:
        yield chunk


def _file_header(chunk_count: int, next_record_id: int, dirty: bool) -> bytes:
    head = struct.pack("<8sQQQIHHHH", b"ElfFile\x00", 0, max(chunk_count - 1, 0), next_record_id,
                       128, 1, 3, FILE_HEADER_SIZE, chunk_count)
    head += bytes(120 - len(head)) + _U32.pack(1 if dirty else 0)
    head += _U32.pack(binascii.crc32(head[:120]))
    return head + bytes(FILE_HEADER_SIZE - len(head))


def write_evtx(target: str | Path | BinaryIO, records: Iterable[EventRecord], *, dirty: bool = False,
               truncate_last_chunk: bool = False, stale_chunks: int | None = None) -> dict:
    """Write records (ids 1..n in order) to a path or binary file object; same input, same bytes.

    dirty: set the dirty flag and leave the header stale, as a log copied while in use: it
      claims only `stale_chunks` chunks (default half of them, at least one) and the next
      record id after them, so readers that trust the header miss the later chunks.
    truncate_last_chunk: cut the file inside the last chunk, mid-record, as an interrupted copy.
    Returns {"records": n, "chunks": k, "bytes": size written}.
    """
    chunks = []
    last_ids = []
    for chunk in _chunks(records):
        chunks.append(chunk.finish())
        last_ids.append(chunk.last_id)
    count = len(chunks)
    total = last_ids[-1] if last_ids else 0
    if dirty and count:
        stale = max(1, count // 2) if stale_chunks is None else max(1, min(stale_chunks, count))
        header = _file_header(stale, last_ids[stale - 1] + 1, True)
    else:
        header = _file_header(count, total + 1, False)
    body = b"".join(chunks)
    if truncate_last_chunk and count:
        free = struct.unpack_from("<I", chunks[-1], 0x30)[0]
        cut = CHUNK_HEADER_SIZE + (free - CHUNK_HEADER_SIZE) // 2 + 3
        body = body[:(count - 1) * CHUNK_SIZE + cut]
    data = header + body
    if hasattr(target, "write"):
        target.write(data)
    else:
        Path(target).write_bytes(data)
    return {"records": total, "chunks": count, "bytes": len(data)}
