"""Write a RegKey tree as a Windows registry hive file (regf 1.5), as the configuration manager
lays it out, so that every reader a customer's hive meets also reads ours.

Layout facts from libyal's "Windows NT Registry File (REGF) format" and msuhanov's "Windows
registry file format specification":
- a 4096-byte base block ("regf", equal primary/secondary sequence numbers = clean, FILETIME,
  version 1.5, root cell offset, hive bins data size, file name, XOR checksum of its first 508
  bytes), then hive bins ("hbin", 4096-aligned) tiling the file with cells;
- a cell is a signed 32-bit size (negative = allocated, 8-byte aligned) and its payload; every
  offset stored in a cell is relative to the first hbin;
- nk (key), vk (value, data of <= 4 bytes inline in the offset field with bit 31 of the size set),
  value lists, lh leaves (hash = h*37 + upper-cased code unit), an ri root above leaves of at
  most 507 entries (ReactOS cmindex.c, CmpMaxFastIndexPerHblock), one shared sk cell (a
  one-element doubly-linked list, reference count = keys using it), db big data for values over
  16,344 bytes (segments of 16,344 bytes, a segment list, and the db header).
The whole file is built in one bytearray (cells appended, offsets patched in place) and written
once: a SOFTWARE-sized hive of hundreds of thousands of keys stays well under a minute.
"""
from __future__ import annotations

import struct
from datetime import datetime
from functools import reduce
from operator import xor

from .reg_text import render_reg_export, render_reg_query  # noqa: F401  (re-exported for callers)
from .regtree import (  # noqa: F401  (re-exported: the forge's one registry import)
    REG_BINARY, REG_DWORD, REG_EXPAND_SZ, REG_MULTI_SZ, REG_NONE, REG_QWORD, REG_SZ,
    RegKey, RegValue, filetime, upcase, value_bytes,
)

BASE_BLOCK_SIZE = 4096
HBIN_PAGE = 4096
HBIN_HEADER_SIZE = 32
BIG_DATA_SEGMENT = 16344  # largest value stored in one cell; bigger ones go to db segments
LEAF_MAX = 507  # lh entries fitting one 4 KiB bin: (4096 - 32 - 4 - 4) / 8
NIL = 0xFFFFFFFF

KEY_HIVE_ENTRY, KEY_NO_DELETE, KEY_COMP_NAME = 0x0004, 0x0008, 0x0020
VALUE_COMP_NAME = 0x0001

_NK = struct.Struct("<2sHQIIIIIIIIIIIIIIIHH")  # 76 bytes, name follows
_VK = struct.Struct("<2sHIIIHH")  # 20 bytes, name follows
_HBIN = struct.Struct("<4sIIIIQI")  # 32 bytes


def _name_bytes(name: str) -> tuple[bytes, bool]:
    """(stored name, compressed?): ASCII names are stored one byte per character (the
    KEY_COMP_NAME / VALUE_COMP_NAME flag); any other name as UTF-16LE, which every reader
    decodes the same way (regipy decodes compressed names as ASCII only)."""
    if name.isascii():
        return name.encode("ascii"), True
    return name.encode("utf-16-le"), False


def name_hash(name: str) -> int:
    """lh hash: h = h * 37 + code unit, over the upper-cased UTF-16 code units, modulo 2**32."""
    raw = upcase(name).encode("utf-16-le")
    units = struct.unpack(f"<{len(raw) // 2}H", raw)
    h = 0
    for u in units:
        h = (h * 37 + u) & 0xFFFFFFFF
    return h


def _security_descriptor() -> bytes:
    """A self-relative SECURITY_DESCRIPTOR: owner Administrators, group SYSTEM, a DACL giving
    full control to SYSTEM and Administrators and read to Users (inherited by subkeys), the
    usual ACL of a machine hive's keys."""
    def sid(*sub: int) -> bytes:  # S-1-5-...
        return struct.pack("<BB6s", 1, len(sub), b"\0\0\0\0\0\x05") + struct.pack(f"<{len(sub)}I", *sub)

    system, admins, users = sid(18), sid(32, 544), sid(32, 545)
    aces = b""
    for mask, who in ((0x000F003F, system), (0x000F003F, admins), (0x00020019, users)):
        aces += struct.pack("<BBHI", 0, 0x02, 8 + len(who), mask) + who  # ACCESS_ALLOWED, CONTAINER_INHERIT
    dacl = struct.pack("<BBHHH", 2, 0, 8 + len(aces), 3, 0) + aces
    owner_at = 20 + len(dacl)
    group_at = owner_at + len(admins)
    header = struct.pack("<BBHIIII", 1, 0, 0x8004, owner_at, group_at, 0, 20)  # SELF_RELATIVE|DACL_PRESENT
    return header + dacl + admins + system


class _Cells:
    """Cells appended into hive bins; a cell never crosses a bin, a bin's tail is a free cell."""

    def __init__(self, first_bin_time: int):
        self.buf = bytearray()
        self.bin_end = 0
        self.first_bin_time = first_bin_time

    def alloc(self, payload: bytes) -> int:
        size = (len(payload) + 4 + 7) & ~7
        if len(self.buf) + size > self.bin_end:
            self._open_bin(size)
        offset = len(self.buf)
        self.buf += struct.pack("<i", -size)
        self.buf += payload
        self.buf += bytes(size - 4 - len(payload))
        return offset

    def patch(self, cell: int, field_at: int, fmt: str, *values) -> None:
        struct.pack_into(fmt, self.buf, cell + 4 + field_at, *values)

    def _open_bin(self, cell_size: int) -> None:
        self._close_bin()
        start = len(self.buf)
        size = -(-(cell_size + HBIN_HEADER_SIZE) // HBIN_PAGE) * HBIN_PAGE
        stamp = self.first_bin_time if start == 0 else 0  # only the first bin's time is used
        self.buf += _HBIN.pack(b"hbin", start, size, 0, 0, stamp, 0)
        self.bin_end = start + size

    def _close_bin(self) -> None:
        rest = self.bin_end - len(self.buf)
        if rest > 0:
            self.buf += struct.pack("<i", rest) + bytes(rest - 4)

    def finish(self) -> bytearray:
        self._close_bin()
        return self.buf


class _HiveBuilder:
    def __init__(self, cells: _Cells):
        self.cells = cells
        self.keys = 0
        self.values = 0
        self.sk = NIL

    def key(self, key: RegKey, parent: int, root: bool = False) -> int:
        name, compressed = _name_bytes(key.name)
        if not root and (not key.name or "\\" in key.name or len(key.name) > 255):
            raise ValueError(f"invalid key name {key.name!r}")
        subkeys = key.sorted_subkeys()
        names = [upcase(v.name) for v in key.values]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate value names under {key.name!r}")
        raws = [v.raw() for v in key.values]
        class_raw = key.class_name.encode("utf-16-le") if key.class_name else b""
        flags = (KEY_COMP_NAME if compressed else 0) | (KEY_HIVE_ENTRY | KEY_NO_DELETE if root else 0)
        nk = self.cells.alloc(_NK.pack(
            b"nk", flags, filetime(key.last_write), 0, 0 if root else parent,
            len(subkeys), 0, NIL, NIL, len(key.values), NIL, self.sk, NIL,
            max((len(s.name.encode("utf-16-le")) for s in subkeys), default=0),
            max((len((s.class_name or "").encode("utf-16-le")) for s in subkeys), default=0),
            max((len(v.name.encode("utf-16-le")) for v in key.values), default=0),
            max((len(r) for r in raws), default=0),
            0, len(name), len(class_raw)) + name)
        self.keys += 1
        if root:
            self.sk = self._security_cell()
            self.cells.patch(nk, 44, "<I", self.sk)
        if class_raw:
            self.cells.patch(nk, 48, "<I", self.cells.alloc(class_raw))
        if key.values:
            offsets = [self._value(v, raw) for v, raw in zip(key.values, raws)]
            self.cells.patch(nk, 40, "<I", self.cells.alloc(struct.pack(f"<{len(offsets)}I", *offsets)))
        if subkeys:
            entries = [(self.key(s, nk), name_hash(s.name)) for s in subkeys]
            self.cells.patch(nk, 28, "<I", self._index(entries))
        return nk

    def _value(self, value: RegValue, raw: bytes) -> int:
        name, compressed = _name_bytes(value.name)
        if len(raw) <= 4:  # stored in the data-offset field itself
            size, data = len(raw) | 0x80000000, int.from_bytes(raw.ljust(4, b"\0"), "little")
        elif len(raw) <= BIG_DATA_SEGMENT:
            size, data = len(raw), self.cells.alloc(raw)
        else:
            size, data = len(raw), self._big_data(raw)
        self.values += 1
        flags = VALUE_COMP_NAME if compressed and name else 0
        return self.cells.alloc(_VK.pack(b"vk", len(name), size, data, value.type, flags, 0) + name)

    def _big_data(self, raw: bytes) -> int:
        segments = [self.cells.alloc(raw[i:i + BIG_DATA_SEGMENT])
                    for i in range(0, len(raw), BIG_DATA_SEGMENT)]
        seg_list = self.cells.alloc(struct.pack(f"<{len(segments)}I", *segments))
        return self.cells.alloc(struct.pack("<2sHI", b"db", len(segments), seg_list))

    def _leaf(self, entries: list[tuple[int, int]]) -> int:
        body = b"".join(struct.pack("<II", off, h) for off, h in entries)
        return self.cells.alloc(struct.pack("<2sH", b"lh", len(entries)) + body)

    def _index(self, entries: list[tuple[int, int]]) -> int:
        if len(entries) <= LEAF_MAX:
            return self._leaf(entries)
        n_leaves = -(-len(entries) // LEAF_MAX)
        per_leaf = -(-len(entries) // n_leaves)
        leaves = [self._leaf(entries[i:i + per_leaf]) for i in range(0, len(entries), per_leaf)]
        return self.cells.alloc(struct.pack(f"<2sH{len(leaves)}I", b"ri", len(leaves), *leaves))

    def _security_cell(self) -> int:
        sd = _security_descriptor()
        sk = self.cells.alloc(struct.pack("<2sHIIII", b"sk", 0, 0, 0, 0, len(sd)) + sd)
        self.cells.patch(sk, 4, "<II", sk, sk)  # flink = blink = itself: a list of one
        return sk


def _base_block(root_cell: int, bins_size: int, stamp: int, file_name: str, dirty: bool) -> bytes:
    block = bytearray(BASE_BLOCK_SIZE)
    primary, secondary = (2, 1) if dirty else (1, 1)
    struct.pack_into("<4sIIQIIIIIII", block, 0, b"regf", primary, secondary, stamp,
                     1, 5, 0, 1, root_cell, bins_size, 1)
    name = file_name[-31:].encode("utf-16-le")
    block[48:48 + len(name)] = name
    checksum = reduce(xor, struct.unpack_from("<127I", block, 0), 0)
    checksum = {0: 1, NIL: NIL - 1}.get(checksum, checksum)
    struct.pack_into("<I", block, 508, checksum)
    return bytes(block)


def _build(root: RegKey, file_name: str, timestamp: datetime, dirty: bool) -> tuple[bytes, bytearray, dict]:
    stamp = filetime(timestamp)
    cells = _Cells(stamp)
    builder = _HiveBuilder(cells)
    root_cell = builder.key(root, 0, root=True)
    cells.patch(builder.sk, 12, "<I", builder.keys)  # reference count: every key shares it
    bins = cells.finish()
    base = _base_block(root_cell, len(bins), stamp, file_name, dirty)
    return base, bins, {"bytes": len(base) + len(bins), "keys": builder.keys, "values": builder.values}


def build_hive(root: RegKey, *, file_name: str = "SYSTEM", timestamp: datetime,
               dirty: bool = False) -> tuple[bytes, dict]:
    """The hive's bytes and {"bytes", "keys", "values"}. `dirty` leaves the sequence numbers
    unequal, as after a crash before the log was applied (for recovery tests)."""
    base, bins, stats = _build(root, file_name, timestamp, dirty)
    return base + bins, stats


def write_hive(target, root: RegKey, *, file_name: str = "SYSTEM", timestamp: datetime,
               dirty: bool = False) -> dict:
    """Write the hive to `target` (a path or a binary file); returns {"bytes", "keys", "values"}."""
    base, bins, stats = _build(root, file_name, timestamp, dirty)
    if hasattr(target, "write"):
        target.write(base)
        target.write(bins)
    else:
        with open(target, "wb") as f:
            f.write(base)
            f.write(bins)
    return stats


def system_skeleton(last_write: datetime, *, current: int = 1, control_sets: tuple[int, ...] = (1, 2),
                    root_name: str = "ROOT") -> RegKey:
    """A SYSTEM hive root with `Select` (Current, Default, Failed, LastKnownGood) and empty
    ControlSet00N keys; callers fill ControlSet00<current>."""
    root = RegKey(root_name, last_write)
    for n in control_sets:
        root.key(f"ControlSet{n:03d}")
    select = root.key("Select")
    others = [n for n in control_sets if n != current]
    select.set("Current", REG_DWORD, current).set("Default", REG_DWORD, current)
    select.set("Failed", REG_DWORD, 0).set("LastKnownGood", REG_DWORD, others[0] if others else current)
    return root
