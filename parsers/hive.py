"""Binary registry hives (regf) through regipy: the targeted keys, or every key on request.

Why targeted: regipy re-reads the stream for every value, so a full walk of an 11 MB SYSTEM
hive takes minutes while the ~30 keys RDS licensing needs take a fraction of a second
(DESIGN.md, "Performance"). A dirty hive (primary and secondary sequence numbers differ) has
unflushed changes in ``.LOG1/.LOG2``; they are replayed into a temporary copy with
``regipy.recovery.apply_transaction_logs`` (never into the input). A damaged hive yields the
keys that could be read, with a warning per key that could not.
Format: https://github.com/msuhanov/regf/blob/master/Windows%20registry%20file%20format%20specification.md
"""
from __future__ import annotations

import fnmatch
import logging
import os
import re
import struct
import tempfile
from datetime import datetime, timedelta, timezone
from typing import Iterator, Optional

from rdsla.parsers.base import ParseOptions, ParseResult, Source
from rdsla.parsers.registry import (_DECODED, Entry, decode_typed, hive_from_name, hive_from_top_keys, key_patterns,
                              to_result, type_name)
from rdsla.parsers.registry_sniff import REGF_MAGIC

_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)
MAX_DEPTH = 512
MAX_KEYS = 5_000_000
BINS = 4096            # offsets in cells count from the first hive bin, after the base block
BIG_DATA = 16344       # larger values are split into "db" segments (hive version >= 1.4)
logging.getLogger("regipy").setLevel(logging.ERROR)   # it logs every odd value at WARNING


def filetime(value: int) -> Optional[datetime]:
    """FILETIME (100 ns since 1601) -> UTC datetime; None when 0 or out of range."""
    if not value or value < 0:
        return None
    try:
        return _EPOCH + timedelta(microseconds=value // 10)
    except OverflowError:
        return None


def header_info(head: bytes) -> dict:
    """The base block fields that matter here (regf spec, "Base block")."""
    if len(head) < 112 or not head.startswith(REGF_MAGIC):
        return {}
    return {
        "primary_seq": int.from_bytes(head[4:8], "little"),
        "secondary_seq": int.from_bytes(head[8:12], "little"),
        "last_written": filetime(int.from_bytes(head[12:20], "little")),
        "file_name": head[48:112].decode("utf-16-le", "replace").split("\x00", 1)[0],
    }


def parse_hive(source: Source, options: ParseOptions) -> ParseResult:
    from regipy.registry import RegistryHive

    result = ParseResult()
    try:
        head = source.read_head(4096)
    except OSError as exc:
        return ParseResult.failed(f"{source.display}: unreadable: {exc}")
    info = header_info(head)
    if not info:
        return ParseResult.failed(f"{source.display}: no regf base block")
    dirty = info["primary_seq"] != info["secondary_seq"]
    hive = None
    if not dirty:           # no transaction logs to replay: no temporary copy needed
        hive = _clean_hive(source, RegistryHive)
    if hive is None:
        with tempfile.TemporaryDirectory(prefix="rdsla-hive-") as tmp:
            path = source.local_path
            if path is None:
                path = os.path.join(tmp, "hive")
                with open(path, "wb") as fh:
                    fh.write(source.read_bytes())
            if dirty:
                path = _replay(path, source, tmp, info, result)
            try:
                hive = RegistryHive(path)
            except Exception as exc:  # noqa: BLE001 - regipy raises many kinds on damaged input
                return ParseResult.failed(f"{source.display}: hive not readable ({type(exc).__name__}: {exc})")
    reader = _Reader(hive, result, source.display)
    name = hive_from_name(info["file_name"]) or hive_from_top_keys(reader.children(hive.root, "").keys())
    if name is None:
        result.warn(f"hive type not recognized (base block file name {info['file_name']!r}); read as SOFTWARE")
        name = "SOFTWARE"
    current = None
    if name == "SYSTEM":
        current = reader.current_control_set()
    entries = list(reader.walk_all(name) if options.full_registry else reader.targeted(name, current, options))
    return to_result(entries, result, current, covers=[(name, "")])    # a hive holds all of itself


def _clean_hive(source: Source, hive_class):
    """A hive without logs to replay, opened without a temporary file where that is possible:
    a file on disk as it is; a zip member through an anonymous in-memory file (Linux memfd;
    regipy reads its path with ``open`` into memory at once). None: take the temporary copy,
    which also reports what makes a damaged hive unreadable."""
    if source.local_path is not None:
        try:
            return hive_class(source.local_path)
        except MemoryError:
            raise
        except Exception:  # noqa: BLE001
            return None
    if not hasattr(os, "memfd_create") or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        data = source.read_bytes()
        fd = os.memfd_create("rdsla-hive")
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - the temporary copy reads (and reports) it again
        return None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        return hive_class(f"/proc/self/fd/{fd}")      # opened anew (from its start) and read whole
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001
        return None
    finally:
        os.close(fd)


def _replay(path: str, source: Source, tmp: str, info: dict, result: ParseResult) -> str:
    """Apply the transaction logs to a copy; the input is never written."""
    logs = {}
    for comp in source.companions:
        m = re.search(r"\.log([12]?)$", comp.name, re.I)
        if m:
            logs[m.group(1) or "1"] = comp
    if not logs:
        result.warn(f"dirty hive (sequence numbers {info['primary_seq']} != {info['secondary_seq']}) and no "
                    ".LOG1/.LOG2 beside it: changes not flushed to the hive are missing")
        return path
    from regipy.recovery import apply_transaction_logs

    copy = os.path.join(tmp, "hive.copy")
    with open(path, "rb") as src, open(copy, "wb") as dst:
        dst.write(src.read())
    log_paths = {}
    for n, comp in logs.items():
        log_paths[n] = os.path.join(tmp, f"hive.LOG{n}")
        with open(log_paths[n], "wb") as fh:
            fh.write(comp.read_bytes())
    primary = log_paths.get("1") or log_paths.get("2")
    secondary = log_paths.get("2") if "1" in log_paths else None
    restored = os.path.join(tmp, "hive.restored")
    try:
        _, pages = apply_transaction_logs(copy, primary, secondary_log_path=secondary, restored_hive_path=restored)
    except Exception as exc:  # noqa: BLE001 - corrupt logs: read the hive as it is
        result.warn(f"dirty hive: replaying {', '.join(c.name for c in logs.values())} failed "
                    f"({type(exc).__name__}: {exc}); read without them")
        return path
    result.warnings.append(f"dirty hive: replayed {pages} page(s) from {', '.join(sorted(c.name for c in logs.values()))} "
                           "into a temporary copy (the input is unchanged)")
    return restored


class _Reader:
    """Key lookups with each key's children listed once (Services has hundreds)."""

    def __init__(self, hive, result: ParseResult, display: str = "hive") -> None:
        self.hive = hive
        self.result = result
        self.display = display
        self._children: dict[str, dict[str, object]] = {}
        self.cache = True
        self.buf = hive._stream.getbuffer()      # regipy keeps the whole hive in one BytesIO

    def children(self, nk, path: str) -> dict[str, object]:
        cached = self._children.get(path.lower())
        if cached is not None:
            return cached
        found: dict[str, object] = {}
        if nk.subkey_count:
            try:
                for sub in nk.iter_subkeys():
                    if hasattr(sub, "name"):
                        found.setdefault(sub.name.lower(), sub)
            except Exception as exc:  # noqa: BLE001
                self.result.warn(f"{self.display}: key {path or '(root)'}: subkeys partly unreadable: "
                                 f"{type(exc).__name__}: {exc}", lost=1)
        if self.cache:
            self._children[path.lower()] = found
        return found

    def entries(self, hive: str, nk, path: str) -> list[Entry]:
        when = filetime(nk.header.last_modified)
        out = []
        if nk.values_count:
            try:
                for name, number, raw in self.values(nk):
                    data = decode_typed(number, raw) if number in _DECODED else raw.hex()
                    out.append(Entry(hive, path, name, type_name(number), data, when))
            except (ValueError, struct.error, IndexError) as exc:
                self.result.warn(f"{self.display}: key {hive}\\{path}: values partly unreadable: {exc}", lost=1)
        if not out:
            out.append(Entry(hive, path, None, None, None, when))
        return out

    def values(self, nk) -> Iterator[tuple[str, int, bytes]]:
        """(name, type, raw data) of a key's values, read from the hive buffer directly.

        Why not regipy's ``iter_values``: its ``read_value`` reads ``data_size`` bytes even when
        bit 31 marks the data as stored inline, i.e. the rest of the file for every DWORD
        (1.6 s for 19 values of a 46 MB hive). regf spec: "Key value", "Big data"."""
        buf = self.buf
        end = len(buf)
        at = BINS + 4 + nk.header.values_list_offset
        count = nk.values_count
        if at + 4 * count > end:
            raise ValueError(f"value list at {at:#x} runs past the end of the hive")
        for (vk_off,) in struct.iter_unpack("<I", bytes(buf[at:at + 4 * count])):
            vk = BINS + 4 + vk_off
            if vk + 20 > end or bytes(buf[vk:vk + 2]) != b"vk":
                raise ValueError(f"no value record at {vk:#x}")
            name_size, size, data_off, number, flags = struct.unpack_from("<HIIIH", buf, vk + 2)
            raw_name = bytes(buf[vk + 20:vk + 20 + name_size])
            name = raw_name.decode("latin-1") if flags & 1 else raw_name.decode("utf-16-le", "replace")
            if number > 0xFFFF0000:          # DEVPROP types keep their base type in the low word
                number &= 0xFFFF
            if size & 0x80000000:
                raw = struct.pack("<I", data_off)[: min(size & 0x7FFFFFFF, 4)]
            else:
                raw = self._data(data_off, size)
            yield name, number, raw

    def _data(self, data_off: int, size: int) -> bytes:
        buf, start = self.buf, BINS + 4 + data_off
        if start >= len(buf):
            raise ValueError(f"value data at {start:#x} is outside the hive")
        if size > BIG_DATA and bytes(buf[start:start + 2]) == b"db":
            count, list_off = struct.unpack_from("<HI", buf, start + 2)
            seg_list = BINS + 4 + list_off
            out = bytearray()
            for i in range(count):
                (seg,) = struct.unpack_from("<I", buf, seg_list + 4 * i)
                seg_at = BINS + 4 + seg
                out += buf[seg_at:seg_at + min(BIG_DATA, size - len(out))]
                if len(out) >= size:
                    break
            return bytes(out[:size])
        return bytes(buf[start:start + min(size, len(buf) - start)])

    def current_control_set(self) -> Optional[int]:
        select = self.children(self.hive.root, "").get("select")
        if select is not None:
            for e in self.entries("SYSTEM", select, "Select"):
                if (e.value or "").lower() == "current" and isinstance(e.data, int):
                    return e.data
        sets = sorted(k for k in self.children(self.hive.root, "") if re.match(r"controlset\d{3}$", k))
        if sets:
            self.result.warn(f"SYSTEM\\Select\\Current unreadable; {sets[0]} taken as the current control set")
            return int(sets[0][-3:])
        return None

    def targeted(self, hive: str, current: Optional[int], options: Optional[ParseOptions] = None) -> Iterator[Entry]:
        seen: set[str] = set()
        for p_hive, pattern in key_patterns(options):
            if p_hive != hive:
                continue
            parts = [f"ControlSet{current:03d}" if p.lower() == "currentcontrolset" and current is not None else p
                     for p in pattern]
            for nk, path in self._expand(self.hive.root, "", parts):
                if path.lower() not in seen:
                    seen.add(path.lower())
                    yield from self.entries(hive, nk, path)

    def _expand(self, nk, path: str, parts: list[str]) -> Iterator[tuple[object, str]]:
        if not parts:
            yield nk, path
            return
        head, rest = parts[0], parts[1:]
        if head == "**":
            yield from self._subtree(nk, path, include_self=False)
            return
        kids = self.children(nk, path)
        if any(c in head for c in "*?["):
            matches = [(n, k) for n, k in sorted(kids.items()) if fnmatch.fnmatchcase(n, head.lower())]
        else:
            matches = [(head.lower(), kids[head.lower()])] if head.lower() in kids else []
        for _, kid in matches:
            yield from self._expand(kid, f"{path}\\{kid.name}" if path else kid.name, rest)

    def _subtree(self, nk, path: str, include_self: bool) -> Iterator[tuple[object, str]]:
        stack = [(nk, path, 0, include_self)]
        count = 0
        walked: set[int] = set()     # subkey lists already expanded: a list is walked once
        while stack:
            node, p, depth, emit = stack.pop()
            if emit:
                count += 1
                if count > MAX_KEYS:
                    self.result.warn(f"more than {MAX_KEYS:,} keys: walk stopped")
                    return
                yield node, p
            if depth >= MAX_DEPTH:
                self.result.warn(f"{p}: deeper than {MAX_DEPTH} levels (a loop in a damaged hive?): not followed")
                continue
            if node.subkey_count:
                # A damaged hive can give a key its own (or an ancestor's) subkey list: without
                # this, the walk goes MAX_DEPTH levels down the loop with ever longer paths
                # (fuzz input tests/fuzz/corpus/hive/8b7f166fedae.bin: 32 KB -> 208 MB).
                lst = node.header.subkeys_list_offset
                if lst in walked:
                    self.result.warn(f"{self.display}: key {p}: its subkey list at offset {BINS + 4 + lst:#x} "
                                     f"was already read (a loop in a damaged hive): not followed again", lost=1)
                    continue
                walked.add(lst)
            for _, kid in sorted(self.children(node, p).items(), reverse=True):
                stack.append((kid, f"{p}\\{kid.name}" if p else kid.name, depth + 1, True))

    def walk_all(self, hive: str) -> Iterator[Entry]:
        """--full-registry: every key and value (slow: minutes for a large hive)."""
        self.cache = False   # each key is visited once: keep memory flat
        for nk, path in self._subtree(self.hive.root, "", include_self=True):
            yield from self.entries(hive, nk, path)
