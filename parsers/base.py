"""What every parser receives and returns.

A parser is a function ``parse(source: Source, options: ParseOptions) -> ParseResult``. It
only produces data (rows for frames, counts, warnings, facts); formatting happens later
(plaso's rule). Failures are data too: a parser never raises for bad input, it returns
``status="failed"`` or ``"partial"`` with warnings naming the position.
"""
from __future__ import annotations

import io
import os
import threading
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Optional

import pandas as pd

from rdsla.core.limits import Limits


class SourceTooLarge(Exception):
    """A member grew past its size limit while being read (zip bomb or lying header)."""


@dataclass(frozen=True)
class Source:
    """One file of a bundle, wherever it lives, and how to read it again in any process.

    ``chain`` is the way in: ``(fs_path,)`` for a file on disk, ``(zip_path, member)`` for a
    zip member, ``(zip_path, inner_zip_member, member)`` for a member of a zip inside a zip.
    ``display`` is the path shown to the engineer (``upload.zip!/LS01/System.evtx``).
    """

    display: str
    chain: tuple[str, ...]
    size: int
    kind: str = "unknown"
    host_hint: Optional[str] = None
    hint_origin: Optional[str] = None        # "file name" | "folder name"
    companions: tuple["Source", ...] = ()    # LocaleMetaData/*.MTA beside an .evtx, .LOG1/.LOG2 beside a hive
    max_bytes: int = 1 << 30

    @property
    def name(self) -> str:
        return self.chain[-1].replace("\\", "/").rsplit("/", 1)[-1]

    @property
    def local_path(self) -> Optional[str]:
        """The real file path when the source is a plain file on disk (no zip)."""
        return self.chain[0] if len(self.chain) == 1 else None

    def read_bytes(self, limit: Optional[int] = None) -> bytes:
        """The whole content, never more than ``limit`` (default ``max_bytes``) bytes."""
        limit = self.max_bytes if limit is None else limit
        if len(self.chain) == 1:
            with open(self.chain[0], "rb") as fh:
                data = _read_blocks(fh, limit + 1)
        else:
            data = _read_member(self.chain, limit)
        if len(data) > limit:
            raise SourceTooLarge(f"{self.display}: larger than the limit of {limit:,} bytes")
        return data

    def read_head(self, size: int = 65536) -> bytes:
        if len(self.chain) == 1:
            with open(self.chain[0], "rb") as fh:
                return fh.read(size)
        return _read_member(self.chain, size, truncate=True)

    def open(self) -> io.BufferedIOBase:
        """A binary file object (a real file on disk, else an in-memory copy)."""
        if len(self.chain) == 1:
            return open(self.chain[0], "rb")
        return io.BytesIO(self.read_bytes())


def _read_blocks(fh, at_most: int) -> bytes:
    """Read up to ``at_most`` bytes in 256 KiB blocks: ``read(n)`` would reserve n bytes up front,
    2 GiB for every 5-byte file at the default limit."""
    out = bytearray()
    while len(out) < at_most:
        block = fh.read(min(1 << 18, at_most - len(out)))
        if not block:
            break
        out += block
    return bytes(out)


def open_zip(file) -> tuple[zipfile.ZipFile, set[str]]:
    """Open a zip (path or binary file). A member name flagged UTF-8 that is not valid UTF-8
    makes ``zipfile`` refuse the whole archive; such names are re-read as cp437 in an
    in-memory copy and returned, so only those members are refused, not the bundle."""
    try:
        return zipfile.ZipFile(file), set()
    except UnicodeDecodeError:
        pass
    if isinstance(file, (str, bytes)) or hasattr(file, "__fspath__"):
        with open(file, "rb") as fh:
            data = bytearray(fh.read())
    else:
        file.seek(0)
        data = bytearray(file.read())
    bad = _clear_bad_utf8_flags(data)
    return zipfile.ZipFile(io.BytesIO(bytes(data))), bad


def _clear_bad_utf8_flags(data: bytearray) -> set[str]:
    import struct
    end = data.rfind(b"PK\x05\x06")
    if end < 0 or end + 22 > len(data):
        raise zipfile.BadZipFile("no end of central directory")
    count, _, offset = struct.unpack_from("<HII", data, end + 10)
    bad, pos = set(), offset
    for _ in range(count):
        if data[pos:pos + 4] != b"PK\x01\x02":
            break
        flags = struct.unpack_from("<H", data, pos + 8)[0]
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, pos + 28)
        raw = bytes(data[pos + 46:pos + 46 + name_len])
        if flags & 0x800:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                struct.pack_into("<H", data, pos + 8, flags & ~0x800)
                bad.add(raw.decode("cp437"))
        pos += 46 + name_len + extra_len + comment_len
    return bad


_kept = threading.local()


@contextmanager
def zips_kept_open() -> Iterator[None]:
    """Within this block each zip that sources are read from is opened once per thread and
    process, and closed at its end: a bundle's ~20 member reads (head, then content) would
    each read the archive's central directory again. A forked worker opens its own."""
    if getattr(_kept, "zips", None) is not None and _kept.pid == os.getpid():
        yield               # nested: the outer block closes them
        return
    _kept.zips, _kept.pid = {}, os.getpid()
    try:
        yield
    finally:
        zips, _kept.zips = _kept.zips, None
        for zf in zips.values():
            zf.close()


def _outer_zip(path: str) -> tuple[zipfile.ZipFile, bool]:
    """The zip at ``path`` and whether the caller closes it (False: kept open by zips_kept_open)."""
    zips = getattr(_kept, "zips", None)
    if zips is None or _kept.pid != os.getpid():
        return open_zip(path)[0], True
    st = os.stat(path)
    key = (path, st.st_mtime_ns, st.st_size, st.st_ino)      # a file replaced meanwhile is opened anew
    zf = zips.get(key)
    if zf is None:
        zf = zips[key] = open_zip(path)[0]
    return zf, False


def _read_member(chain: tuple[str, ...], limit: int, truncate: bool = False) -> bytes:
    outer, owned = _outer_zip(chain[0])
    try:
        if len(chain) == 2:
            return _read_capped(outer, chain[1], limit, truncate)
        inner_bytes = _read_capped(outer, chain[1], 1 << 31, False)
    finally:
        if owned:
            outer.close()
    inner, _ = open_zip(io.BytesIO(inner_bytes))
    with inner:
        return _read_capped(inner, chain[2], limit, truncate)


def _read_capped(zf: zipfile.ZipFile, member: str, limit: int, truncate: bool) -> bytes:
    """Read a member by streaming, stopping one byte past ``limit`` (never trusts headers)."""
    with zf.open(member) as fh:
        out = _read_blocks(fh, limit + 1)
    if truncate:
        return bytes(out[:limit])
    return bytes(out)


@dataclass
class ParseOptions:
    all_events: bool = False
    evtx_backend: str = "rust"          # rust | python
    full_registry: bool = False
    limits: Limits = field(default_factory=Limits)
    # event catalog keys to keep: the pipeline passes what rules and host profiles declared
    # (rdsla.core.needs); None keeps every catalog entry (parsers called on their own)
    events: Optional[frozenset[str]] = None
    # registry key patterns to read (core.registry_keys syntax), likewise declared; None: the whole list
    registry: Optional[frozenset[str]] = None
    # skim an EVTX log whose channel holds no declared event (counts from its record headers,
    # parsers.evtx_skim) instead of decoding every record; all_events decodes everything anyway
    skim: bool = True


@dataclass
class ParseResult:
    """What one parser made of one artifact.

    ``frames`` maps frame name -> rows (a DataFrame of that schema, see analyzer.frames);
    ``computers`` lists machine names seen in the content with how many records name each
    (the host of the artifact is the most frequent); ``facts`` are single values that are not
    rows of a frame, each ``{"host", "name", "value", "source", "detail"}``;
    ``event_stats`` counts records per (channel, provider, event_id, relevant).
    """

    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    status: str = "ok"                  # ok | partial | failed
    records_read: int = 0
    records_lost: int = 0
    warnings: list[str] = field(default_factory=list)
    computers: dict[str, int] = field(default_factory=dict)
    facts: list[dict] = field(default_factory=list)
    event_stats: list[dict] = field(default_factory=list)

    def warn(self, message: str, lost: int = 0) -> None:
        self.warnings.append(message)
        self.records_lost += lost
        if self.status == "ok":
            self.status = "partial"

    @classmethod
    def failed(cls, message: str) -> "ParseResult":
        return cls(status="failed", warnings=[message])
