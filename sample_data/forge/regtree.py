"""The in-memory registry tree the forge builds before writing a hive, a .reg file or `reg query`
text, so all three renderings come from one source of truth.

Names compare the way the Windows configuration manager compares them: case-insensitively, by
upper-casing each UTF-16 code unit (RtlUpcaseUnicodeChar) and comparing code units, shorter
first on a common prefix (msuhanov, "Windows registry file format specification", subkeys lists
are "sorted by an uppercase name"; ReactOS cmlib/cmindex.c CmpDoCompareKeyName).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import datetime, timezone

REG_NONE, REG_SZ, REG_EXPAND_SZ, REG_BINARY, REG_DWORD, REG_MULTI_SZ, REG_QWORD = 0, 1, 2, 3, 4, 7, 11

TYPE_NAMES = {
    REG_NONE: "REG_NONE", REG_SZ: "REG_SZ", REG_EXPAND_SZ: "REG_EXPAND_SZ", REG_BINARY: "REG_BINARY",
    REG_DWORD: "REG_DWORD", 5: "REG_DWORD_BIG_ENDIAN", 6: "REG_LINK", REG_MULTI_SZ: "REG_MULTI_SZ",
    8: "REG_RESOURCE_LIST", 9: "REG_FULL_RESOURCE_DESCRIPTOR", 10: "REG_RESOURCE_REQUIREMENTS_LIST",
    REG_QWORD: "REG_QWORD",
}

_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)


def filetime(dt: datetime) -> int:
    """100-ns ticks since 1601-01-01 UTC, computed in integers (no float rounding)."""
    if dt.tzinfo is None:
        raise ValueError(f"naive datetime {dt!r}: registry times must be tz-aware UTC")
    delta = dt - _FILETIME_EPOCH
    return (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def upcase(name: str) -> str:
    """Upper-case one character at a time, keeping the length (Windows never turns 'ß' into 'SS')."""
    if name.isascii():
        return name.upper()
    out = []
    for ch in name:
        up = ch.upper()
        out.append(up if len(up) == 1 else ch)
    return "".join(out)


def sort_key(name: str) -> bytes:
    """Windows subkey order: upper-cased UTF-16 code units, compared as big-endian bytes."""
    return upcase(name).encode("utf-16-be")


def value_bytes(value_type: int, data) -> bytes:
    """The raw bytes Windows stores for `data` of `value_type` (strings NUL-terminated UTF-16LE)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if value_type in (REG_SZ, REG_EXPAND_SZ, 6):
        return str(data).encode("utf-16-le") + b"\0\0"
    if value_type == REG_MULTI_SZ:
        if isinstance(data, str):
            data = [data]
        return "".join(s + "\0" for s in data).encode("utf-16-le") + b"\0\0"
    if value_type == REG_DWORD:
        return struct.pack("<I", int(data) & 0xFFFFFFFF)
    if value_type == 5:
        return struct.pack(">I", int(data) & 0xFFFFFFFF)
    if value_type == REG_QWORD:
        return struct.pack("<Q", int(data) & 0xFFFFFFFFFFFFFFFF)
    raise TypeError(f"type {value_type} needs bytes data, got {type(data).__name__}")


@dataclass
class RegValue:
    name: str  # "" = the key's (Default) value
    type: int
    data: str | int | list[str] | bytes

    def raw(self) -> bytes:
        return value_bytes(self.type, self.data)


@dataclass
class RegKey:
    name: str
    last_write: datetime  # tz-aware UTC
    values: list[RegValue] = field(default_factory=list)
    subkeys: list["RegKey"] = field(default_factory=list)
    class_name: str | None = None
    _index: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def child(self, name: str) -> "RegKey | None":
        """The direct subkey called `name` (case-insensitive), or None.

        A name -> position index keeps building keys with thousands of subkeys linear; it is
        checked on every hit and rebuilt when `subkeys` was changed behind its back."""
        wanted = upcase(name)
        i = self._index.get(wanted)
        if i is not None and i < len(self.subkeys) and upcase(self.subkeys[i].name) == wanted:
            return self.subkeys[i]
        if i is None and len(self._index) == len(self.subkeys):
            return None
        self._index = {upcase(k.name): n for n, k in enumerate(self.subkeys)}
        i = self._index.get(wanted)
        return None if i is None else self.subkeys[i]

    def key(self, path: str, last_write: datetime | None = None) -> "RegKey":
        """Get or create "A\\B\\C" below this key; new keys take `last_write` or this key's time."""
        node = self
        for part in (p for p in path.split("\\") if p):
            found = node.child(part)
            if found is None:
                found = RegKey(part, last_write or self.last_write)
                node._index[upcase(part)] = len(node.subkeys)
                node.subkeys.append(found)
            node = found
        return node

    def set(self, name: str, type: int, data) -> "RegKey":
        """Add or replace the value `name` (case-insensitive, keeps its position); returns self."""
        new = RegValue(name, type, data)
        wanted = upcase(name)
        for i, old in enumerate(self.values):
            if upcase(old.name) == wanted:
                self.values[i] = new
                return self
        self.values.append(new)
        return self

    def get(self, name: str) -> RegValue | None:
        wanted = upcase(name)
        return next((v for v in self.values if upcase(v.name) == wanted), None)

    def sorted_subkeys(self) -> list["RegKey"]:
        """Subkeys in the order Windows enumerates them; duplicate names are an error."""
        subs = sorted(self.subkeys, key=lambda k: sort_key(k.name))
        for a, b in zip(subs, subs[1:]):
            if sort_key(a.name) == sort_key(b.name):
                raise ValueError(f"duplicate subkey {b.name!r} under {self.name!r}")
        return subs

    def walk(self, path: str = ""):
        """Yield (path, key) depth-first in enumeration order; the root's path is `path`."""
        stack = [(path, self)]
        while stack:
            p, k = stack.pop()
            yield p, k
            for sub in reversed(k.sorted_subkeys()):
                stack.append((f"{p}\\{sub.name}" if p else sub.name, sub))
