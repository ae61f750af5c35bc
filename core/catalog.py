"""The event catalog: which events the rules use, and how to name, match and render them.

Knowledge lives in ``core/data/event_catalog.csv`` (one row per provider + event id, from
../shared/domain/RDS_LICENSING.md section 1); this module only loads and matches it.

Matching follows section 1.1: the session-host service logs under Provider Name
``Microsoft-Windows-TerminalServices-RemoteConnectionManager`` or classic source name
``TermService`` (the Rust decoder reports the first, libevtx the second), and from Server 2019
on as manifest events numbered 0xC000 + the legacy id (50280 -> 1128). Rows sharing a ``key``
are the same event in both forms. Service Control Manager rows carry a ``data_match``
(``field[,field]~regex``) because only events about the RD services count.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Optional

CATALOG_PATH = Path(__file__).with_name("data") / "event_catalog.csv"

RCM_PROVIDER = "Microsoft-Windows-TerminalServices-RemoteConnectionManager"
RCM_NAMES = frozenset({RCM_PROVIDER.lower(), "termservice"})
LS_NAMES = frozenset({"microsoft-windows-terminalservices-licensing", "termservlicensing"})
SCM_NAMES = frozenset({"service control manager"})
# the system clock: Kernel-General 1 (the clock was set) and the Windows Time service (W32Time)
CLOCK_NAMES = frozenset({"microsoft-windows-kernel-general", "microsoft-windows-time-service", "w32time"})
MANIFEST_BASE = 0xC000  # 49152: manifest ids of termsrv.dll = 0xC000 + legacy id


@dataclass(frozen=True)
class CatalogEntry:
    key: str
    provider: str
    alt_providers: tuple[str, ...]
    event_id: int
    legacy_event_id: int
    channels: tuple[str, ...]
    level: Optional[int]
    side: str                      # session_host | license_server | any
    data_match: str                # "" or "field[,field]~regex"
    meaning: str
    message: str                   # template with %1..%n
    _match_fields: tuple[str, ...] = field(default=(), repr=False, compare=False)
    _match_re: Optional[re.Pattern] = field(default=None, repr=False, compare=False)

    @property
    def names(self) -> tuple[str, ...]:
        """Every provider / source name this entry answers to."""
        return (self.provider, *self.alt_providers)

    def matches_data(self, data: Optional[Mapping[str, str]]) -> bool:
        """True when the entry has no data condition or one of its fields matches it.

        ``Binary`` fields are hex (the events frame's form); SCM writes the service key name
        there as UTF-16LE (``TermService/4``), which is matched after decoding.
        """
        if self._match_re is None:
            return True
        if not data:
            return False
        for name in self._match_fields:
            value = data.get(name)
            if value is None:
                continue
            if name == "Binary":
                value = _utf16_hex(value)
            if self._match_re.search(value.strip()):
                return True
        return False

    def render(self, values: list[str]) -> str:
        """The message template with %1..%n replaced by the event's values in order."""
        return render_template(self.message, values)


_PLACEHOLDER = re.compile(r"%(\d+)")


def render_template(template: str, values: list[str]) -> str:
    def sub(m: re.Match) -> str:
        i = int(m.group(1)) - 1
        return values[i] if 0 <= i < len(values) else m.group(0)
    return _PLACEHOLDER.sub(sub, template)


def _utf16_hex(value: str) -> str:
    try:
        return bytes.fromhex(value).decode("utf-16-le", "replace").rstrip("\x00")
    except ValueError:
        return value


def _int_or_none(text: str) -> Optional[int]:
    text = (text or "").strip()
    return int(text) if text else None


def _entry(row: Mapping[str, str]) -> CatalogEntry:
    fields: tuple[str, ...] = ()
    pattern = None
    if row["data_match"].strip():
        left, _, regex = row["data_match"].partition("~")
        fields = tuple(f.strip() for f in left.split(",") if f.strip())
        pattern = re.compile(regex, re.IGNORECASE)
    return CatalogEntry(
        key=row["key"].strip(),
        provider=row["provider"].strip(),
        alt_providers=tuple(p.strip() for p in row["alt_providers"].split("|") if p.strip()),
        event_id=int(row["event_id"]),
        legacy_event_id=int(row["legacy_event_id"] or row["event_id"]),
        channels=tuple(c.strip() for c in row["channels"].split("|") if c.strip()),
        level=_int_or_none(row["level"]),
        side=row["side"].strip() or "any",
        data_match=row["data_match"].strip(),
        meaning=row["meaning"].strip(),
        message=row["message"].strip(),
        _match_fields=fields,
        _match_re=pattern,
    )


@lru_cache(maxsize=1)
def _load() -> tuple[CatalogEntry, ...]:
    with open(CATALOG_PATH, newline="", encoding="utf-8") as fh:
        return tuple(_entry(row) for row in csv.DictReader(fh))


def load_catalog() -> list[CatalogEntry]:
    """Every catalog row, in file order."""
    return list(_load())


@lru_cache(maxsize=1)
def _index() -> dict[tuple[str, int], tuple[CatalogEntry, ...]]:
    index: dict[tuple[str, int], list[CatalogEntry]] = {}
    for entry in _load():
        for name in entry.names:
            index.setdefault((name.lower(), entry.event_id), []).append(entry)
    return {k: tuple(v) for k, v in index.items()}


def candidates(provider_or_source_name: str, event_id: int) -> tuple[CatalogEntry, ...]:
    """All entries for a provider (or classic source name) and event id, data not checked."""
    return _index().get(((provider_or_source_name or "").lower(), int(event_id)), ())


def lookup(provider_or_source_name: Optional[str], event_id: int,
           data: Optional[Mapping[str, str]] = None,
           source_name: Optional[str] = None) -> Optional[CatalogEntry]:
    """The catalog entry of an event, or None when the rules do not use it.

    Both names of a record may be given (Provider Name first, EventSourceName as
    ``source_name``). With ``data`` the entries' data conditions are checked (SCM events about
    other services give None); without it the first candidate is returned unchecked.
    """
    for name in (provider_or_source_name, source_name):
        if not name:
            continue
        for entry in candidates(name, event_id):
            if data is None or entry.matches_data(data):
                return entry
    return None


@lru_cache(maxsize=1)
def relevant_keys() -> frozenset[tuple[str, int]]:
    """(lower-case provider or source name, event id) of every entry: the parser's cheap test.

    A record passing it may still fail its entry's data condition (checked after decoding).
    """
    return frozenset(_index())


class Selection:
    """The catalog entries one analysis keeps: the keys that rules and the host-profile builder
    declared (``rdsla.core.needs``), or every entry when ``keys`` is None.

    Parsers ask it two things: the cheap test on (provider or source name, id) before decoding
    a record's data, and the entry of a decoded record (data conditions checked). An entry
    nobody declared is not kept, so what the parsers keep is never a list kept by hand.
    """

    __slots__ = ("keys", "_index", "_pairs")

    def __init__(self, keys: Optional[frozenset[str]] = None):
        self.keys = None if keys is None else frozenset(keys)
        self._index = _selected_index(self.keys)
        self._pairs = frozenset(self._index)

    def is_candidate(self, provider: Optional[str], source_name: Optional[str], event_id) -> bool:
        if event_id is None:
            return False
        return ((provider or "").lower(), event_id) in self._pairs or \
            ((source_name or "").lower(), event_id) in self._pairs

    def lookup(self, provider: Optional[str], event_id: int, data: Optional[Mapping[str, str]] = None,
               source_name: Optional[str] = None) -> Optional[CatalogEntry]:
        """Like :func:`lookup`, among the selected entries only."""
        for name in (provider, source_name):
            if not name:
                continue
            for entry in self._index.get((name.lower(), int(event_id)), ()):
                if data is None or entry.matches_data(data):
                    return entry
        return None


@lru_cache(maxsize=8)
def _selected_index(keys: Optional[frozenset[str]]) -> dict[tuple[str, int], tuple[CatalogEntry, ...]]:
    if keys is None:
        return _index()
    unknown = keys - {e.key for e in _load()}
    if unknown:
        raise ValueError(f"not in the event catalog: {sorted(unknown)}")
    out = {}
    for pair, entries in _index().items():
        chosen = tuple(e for e in entries if e.key in keys)
        if chosen:
            out[pair] = chosen
    return out


FAMILIES = (("clock", CLOCK_NAMES), ("scm", SCM_NAMES), ("rcm", RCM_NAMES), ("ls", LS_NAMES))


def family_of(*names) -> str:
    """The source family an event's provider or classic source name says (either may name it;
    clock before scm before rcm before ls where several would): rcm (session-host service), ls
    (license server), scm (Service Control Manager), clock (Kernel-General's clock changes, the
    Windows Time service) or other."""
    known_names = {v.lower() for v in names if isinstance(v, str)}
    for name, members in FAMILIES:
        if not known_names.isdisjoint(members):
            return name
    return "other"


def family(entry: CatalogEntry) -> str:
    """The source family of a catalog entry (its provider's)."""
    return family_of(entry.provider)


def keys_for(family_name: str, legacy_ids) -> frozenset[str]:
    """Catalog keys of a source family's events with these legacy ids (1128 also names 50280)."""
    index = _keys_by_family_and_id()
    return frozenset().union(*(index.get((family_name, i), ()) for i in set(legacy_ids)))


@lru_cache(maxsize=1)           # asked ~80 times per analysis, by the rules, host profiles and the report
def _keys_by_family_and_id() -> dict[tuple, frozenset[str]]:
    index: dict[tuple, set[str]] = {}
    for e in _load():
        index.setdefault((family(e), e.legacy_event_id), set()).add(e.key)
    return {k: frozenset(v) for k, v in index.items()}


def legacy_event_id(provider_or_source_name: Optional[str], event_id: int,
                    source_name: Optional[str] = None) -> int:
    """50280 -> 1128 for the session-host service (section 1.1); ``event_id`` otherwise."""
    if event_id is not None and event_id >= MANIFEST_BASE:
        for name in (provider_or_source_name, source_name):
            if name and name.lower() in RCM_NAMES:
                return event_id - MANIFEST_BASE
    return event_id


def keys() -> frozenset[str]:
    """Every stable key the rules may use."""
    return frozenset(e.key for e in _load())
