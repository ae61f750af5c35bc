"""Binary XML encoder for EVTX chunks: tokens, typed substitution values, chunk name table.

Windows writes every record as a TemplateInstance: the template (an XML skeleton with numbered
substitution slots) is defined once per chunk, inside the first record that uses it, and later
records in the chunk point back to it by offset. Element and attribute names are "name nodes"
shared through the chunk's 64-bucket string table: the first use writes the node inline, later
uses point to it. Offsets are chunk-relative, so encoding needs the absolute position.

References: libyal libevtx "Windows XML Event Log (EVTX) format" (binary XML tokens, value
types, template definition); layouts checked against real Server 2012 R2 / Windows 10 logs
(RemoteConnectionManager/Admin, RdpCoreTS, System) with python-evtx.
"""
from __future__ import annotations

import hashlib
import struct
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

# Tokens (libevtx "Binary XML tokens").
EOF = 0x00
OPEN_START = 0x01          # | 0x40 when an attribute list follows
CLOSE_START = 0x02
CLOSE_EMPTY = 0x03
END_ELEMENT = 0x04
VALUE = 0x05
ATTRIBUTE = 0x06           # | 0x40 when another attribute follows
TEMPLATE_INSTANCE = 0x0C
NORMAL_SUB = 0x0D
OPTIONAL_SUB = 0x0E
FRAGMENT_HEADER = b"\x0f\x01\x01\x00"
NO_DEPENDENCY = 0xFFFF

# Value types (libevtx "Value types").
NULL = 0x00
STRING = 0x01
UINT8 = 0x04
UINT16 = 0x06
UINT32 = 0x08
UINT64 = 0x0A
BINARY = 0x0E
GUID = 0x0F
FILETIME = 0x11
SID = 0x13
HEXINT64 = 0x15
BINXML = 0x21

_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)
_U8, _U16, _U32, _U64 = struct.Struct("<B"), struct.Struct("<H"), struct.Struct("<I"), struct.Struct("<Q")


def utf16(text: str) -> bytes:
    return text.encode("utf-16-le")


def filetime(moment: datetime) -> int:
    """100 ns ticks since 1601-01-01 UTC, computed in integers (no float rounding)."""
    if moment.tzinfo is None:
        raise ValueError("EVTX times must be tz-aware (UTC)")
    delta = moment - _FILETIME_EPOCH
    return ((delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds) * 10


def guid_bytes(text: str) -> bytes:
    """'{c76baa63-...}' -> the 16-byte little-endian GUID layout Windows stores."""
    return uuid.UUID(text.strip("{}")).bytes_le


def sid_bytes(text: str) -> bytes:
    """'S-1-5-20' -> revision, sub-authority count, 48-bit big-endian authority, LE sub-authorities."""
    parts = text.split("-")
    if len(parts) < 3 or parts[0].upper() != "S":
        raise ValueError(f"not a SID: {text!r}")
    subs = [int(p) for p in parts[3:]]
    return (bytes([int(parts[1]), len(subs)]) + int(parts[2]).to_bytes(6, "big")
            + b"".join(_U32.pack(s) for s in subs))


def name_hash(name: str) -> int:
    """The 16-bit hash stored in a name node (Windows: h = h * 65599 + char, low 16 bits)."""
    value = 0
    for char in name:
        value = (value * 65599 + ord(char)) & 0xFFFFFFFF
    return value & 0xFFFF


def encode_value(value_type: int, value) -> bytes:
    """One substitution value in its on-disk form (None -> empty Null value)."""
    if value is None or value_type == NULL:
        return b""
    if value_type == STRING:
        return utf16(value)
    if value_type == UINT8:
        return _U8.pack(value)
    if value_type == UINT16:
        return _U16.pack(value)
    if value_type == UINT32:
        return _U32.pack(value)
    if value_type in (UINT64, HEXINT64):
        return _U64.pack(value)
    if value_type == FILETIME:
        return _U64.pack(filetime(value))
    if value_type == GUID:
        return guid_bytes(value)
    if value_type == SID:
        return sid_bytes(value)
    if value_type in (BINARY, BINXML):
        return bytes(value)
    raise ValueError(f"unsupported value type 0x{value_type:02x}")


# --- template skeletons -------------------------------------------------------------------

@dataclass(frozen=True)
class Sub:
    """A substitution slot: `<token> id type` (optional subs vanish when Null)."""
    index: int
    value_type: int
    optional: bool = True


@dataclass(frozen=True)
class Text:
    """A literal UTF-16 text value inside the template."""
    text: str


@dataclass(frozen=True)
class Attr:
    name: str
    value: Sub | Text


@dataclass(frozen=True)
class Element:
    name: str
    attrs: tuple[Attr, ...] = ()
    children: tuple = ()            # Element | Sub | Text
    dependency: int = NO_DEPENDENCY
    empty: bool = False             # close with CLOSE_EMPTY (no content)


@dataclass
class NameTable:
    """A chunk's name nodes: committed offsets plus the ones a record adds (kept until commit)."""
    committed: dict[str, int] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)

    def lookup(self, name: str) -> int | None:
        found = self.committed.get(name)
        return found if found is not None else self.pending.get(name)


class Emitter:
    """Appends binary XML to a buffer whose first byte sits at chunk offset `base`."""

    def __init__(self, base: int, names: NameTable):
        self.buf = bytearray()
        self.base = base
        self.names = names

    @property
    def offset(self) -> int:
        return self.base + len(self.buf)

    def name_ref(self, name: str) -> None:
        """Write a name offset, inlining the name node right after it on first use in the chunk."""
        known = self.names.lookup(name)
        if known is not None:
            self.buf += _U32.pack(known)
            return
        node_offset = self.offset + 4
        self.buf += _U32.pack(node_offset)
        self.names.pending[name] = node_offset
        self.buf += _U32.pack(0) + _U16.pack(name_hash(name)) + _U16.pack(len(name))
        self.buf += utf16(name) + b"\x00\x00"

    def content(self, node) -> None:
        if isinstance(node, Element):
            self.element(node)
        elif isinstance(node, Sub):
            self.sub(node)
        else:
            self.text(node)

    def text(self, node: Text) -> None:
        self.buf += bytes([VALUE, STRING]) + _U16.pack(len(node.text)) + utf16(node.text)

    def sub(self, node: Sub) -> None:
        token = OPTIONAL_SUB if node.optional else NORMAL_SUB
        self.buf += bytes([token]) + _U16.pack(node.index) + bytes([node.value_type])

    def element(self, node: Element) -> None:
        buf = self.buf
        buf.append(OPEN_START | (0x40 if node.attrs else 0))
        buf += _U16.pack(node.dependency)
        size_at = len(buf)
        buf += b"\x00\x00\x00\x00"
        self.name_ref(node.name)
        if node.attrs:
            attrs_at = len(buf)
            buf += b"\x00\x00\x00\x00"
            for i, attr in enumerate(node.attrs):
                more = i + 1 < len(node.attrs)
                buf.append(ATTRIBUTE | (0x40 if more else 0))
                self.name_ref(attr.name)
                self.content(attr.value)
            buf[attrs_at:attrs_at + 4] = _U32.pack(len(buf) - attrs_at - 4)
        if node.empty:
            buf.append(CLOSE_EMPTY)
        else:
            buf.append(CLOSE_START)
            for child in node.children:
                self.content(child)
            buf.append(END_ELEMENT)
        buf[size_at:size_at + 4] = _U32.pack(len(buf) - size_at - 4)


def template_guid(key) -> bytes:
    """A stable 16-byte template GUID; Windows stores its first 4 bytes as the template id."""
    return hashlib.md5(repr(key).encode("utf-8")).digest()


def encode_template_body(root: Element, base: int, names: NameTable) -> bytes:
    """Template data: fragment header, the skeleton, EOF. `base` is where the data starts."""
    emitter = Emitter(base + len(FRAGMENT_HEADER), names)
    emitter.element(root)
    emitter.buf.append(EOF)
    return FRAGMENT_HEADER + bytes(emitter.buf)
