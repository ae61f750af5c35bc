"""Row collection shared by both EVTX backends: relevance, counts, and the `events` frame.

Both backends hand over the same normalized fields per record (strings and ints, ``data`` as
an ordered dict of name -> str), so the frame does not depend on the decoder (issue 4, item 1).
Counting every record per (channel, provider, event_id, relevant) is what lets the report say
"System.evtx: 60,189 records, 41 relevant" (issue 4, item 3).
"""
from __future__ import annotations

from collections import Counter
from itertools import compress
from typing import Optional

import pandas as pd

from rdsla.core.frames import frame_from_columns, utc_times
from rdsla.core.catalog import CatalogEntry, Selection, legacy_event_id

COLUMNS = ("channel", "provider", "source_name", "event_id", "qualifiers", "legacy_event_id",
           "level", "time", "record_id", "computer", "user_sid", "data", "message")




def text_of(value) -> str:
    """One canonical string for a decoded value (JSON form); XML form in evtx_python."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return ", ".join(text_of(v) for v in value)
    if isinstance(value, dict):
        if "#text" in value:
            return text_of(value["#text"])
        return ", ".join(text_of(v) for k, v in value.items() if k != "#attributes")
    return str(value)


class RowSink:
    """Collects kept records column-wise and counts every record."""

    def __init__(self, all_events: bool, events: Optional[frozenset[str]] = None):
        self.all_events = all_events
        self.selection = Selection(events)      # the declared catalog entries: what is kept
        self.cols: dict[str, list] = {c: [] for c in COLUMNS if c != "message"}
        self.entries: list[Optional[CatalogEntry]] = []
        self.stats: Counter = Counter()
        self.computers: Counter = Counter()
        self.records_read = 0
        self.newest: Optional[str] = None     # newest record time (ISO text) of every record read
        self.oldest: Optional[str] = None     # oldest likewise: the log's span (core.coverage)
        self._candidates: dict[tuple, bool] = {}    # (provider, source_name, event_id) -> is_candidate

    def saw_time(self, iso_time: Optional[str]) -> None:
        """Keep the newest time over every record, kept or not: "now" for the bundle. Compared
        to the second as text ("2024-11-05T10:13:33"): readers write fractions of varying
        length ("45Z" sorts after "45.87Z")."""
        if iso_time:
            second = iso_time[:19]
            if self.newest is None or second > self.newest:
                self.newest = second
            if self.oldest is None or second < self.oldest:
                self.oldest = second

    def count(self, channel, provider, event_id, relevant: bool, n: int = 1) -> None:
        self.stats[(channel, provider, event_id, relevant)] += n

    def counted_relevant(self, channel, provider, event_id) -> None:
        """A record counted as not relevant turned out relevant: move it."""
        self.count(channel, provider, event_id, False, -1)
        self.count(channel, provider, event_id, True)

    def offer(self, channel, provider, source_name, event_id, qualifiers, level, time,
              record_id, computer, user_sid, data: dict, counted: bool = False) -> None:
        """A fully decoded record: decide relevance, count it, keep it when relevant.

        ``counted``: the caller has counted it already as read, not relevant, and its computer.
        """
        key = (provider, source_name, event_id)
        candidate = self._candidates.get(key)
        if candidate is None:
            candidate = self._candidates[key] = self.selection.is_candidate(provider, source_name, event_id)
        entry = self.selection.lookup(provider, event_id, data, source_name) if candidate else None
        if counted:
            if entry is not None:
                self.counted_relevant(channel, provider, event_id)
        else:
            self.records_read += 1
            self.saw_time(time)
            self.count(channel, provider, event_id, entry is not None)
            if computer:
                self.computers[computer] += 1
        if entry is None and not self.all_events:
            return
        c = self.cols
        c["channel"].append(channel)
        c["provider"].append(provider)
        c["source_name"].append(source_name)
        c["event_id"].append(event_id)
        c["qualifiers"].append(qualifiers)
        c["legacy_event_id"].append(legacy_event_id(provider, event_id, source_name)
                                    if event_id is not None else None)
        c["level"].append(level)
        c["time"].append(time)
        c["record_id"].append(record_id)
        c["computer"].append(computer)
        c["user_sid"].append(user_sid)
        c["data"].append(data)
        self.entries.append(entry)

    def extend(self, columns: dict[str, list], entries: list) -> None:
        """Kept records column-wise (already counted, relevance decided by the caller)."""
        for name, values in columns.items():
            self.cols[name].extend(values)
        self.entries.extend(entries)

    def frame(self, messages: Optional[dict] = None) -> pd.DataFrame:
        """The `events` frame; ``messages`` maps record_id -> (event_id, text) from an MTA."""
        cols = dict(self.cols)
        rendered = [None] * len(self.entries)          # a message for rows with a catalog entry,
        for i in range(len(rendered)) if messages else compress(range(len(rendered)), self.entries):
            rendered[i] = render_message(self.entries[i], cols["record_id"][i], cols["event_id"][i],
                                         cols["data"][i], messages)       # or all rows with an MTA
        cols["message"] = rendered
        cols["time"] = utc_times(cols["time"])
        frame = frame_from_columns("events", cols)
        if _in_order(frame):       # the usual log: records already in time order, nothing to move
            return frame
        return frame.sort_values(["time", "record_id"], kind="stable", ignore_index=True)

    def event_stats(self) -> list[dict]:
        return [{"channel": ch, "provider": p, "event_id": e, "count": n, "relevant": r}
                for (ch, p, e, r), n in sorted(self.stats.items(), key=_stat_order) if n > 0]


def _in_order(frame: pd.DataFrame) -> bool:
    """Whether a stable sort by (time, record_id) would leave every row where it is: no gaps
    (a sort moves NaT and NA last) and each row at or after the one before it."""
    import numpy as np
    if len(frame) < 2:
        return True
    time, record = frame["time"], frame["record_id"]
    if time.hasnans or record.hasnans:
        return False
    t = time.array.asi8
    r = record.to_numpy(dtype="int64")
    return bool(np.all((t[1:] > t[:-1]) | ((t[1:] == t[:-1]) & (r[1:] >= r[:-1]))))


def _stat_order(item):
    """Most frequent first; damaged records may carry any JSON type in these fields."""
    (ch, p, e, r), n = item
    return (-n, str(ch or ""), str(p or ""), e if isinstance(e, int) else -1, str(e), r)


def render_message(entry, record_id, event_id, data, messages) -> Optional[str]:
    """Event Viewer's own text when an MTA gave one, else the catalog template."""
    if messages:
        hit = messages.get(record_id)
        if hit is not None and (hit[0] is None or hit[0] == event_id):
            return hit[1]
    if entry is None:
        return None
    values = [v for k, v in (data or {}).items() if k != "Binary"]
    return entry.render(values)
