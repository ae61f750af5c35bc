"""EVTX decoding with the Rust `evtx` package, relevance decided on the raw JSON text.

DESIGN.md "Performance": decide relevance by a cheap check on each record's raw text before
any JSON decoding. Every record's JSON starts with the same System header; the text before
``"TimeCreated"`` (provider, EventID, qualifiers, level...) repeats across a file (60,189
records of the real System.evtx have 78 distinct heads), so it is cut out with C-level
``map`` calls, counted, and decoded once per distinct head. Only records whose head the
catalog names are decoded further; the other parts (channel/computer/SID, EventData) are
memoized per distinct text too (346 distinct EventData texts in that file).

The Rust decoder raises one RuntimeError per damaged record or chunk and then goes on; each
run of errors is counted as lost records from the gap in record numbers around it.
"""
from __future__ import annotations

import gc
import json
import re
from collections import Counter
from itertools import compress, islice, repeat
from operator import getitem, itemgetter
from typing import Optional

from parsers.evtx_rows import RowSink, is_candidate, text_of
from rules.catalog import candidates, raw_prefilter

BATCH = 4096
TIME_KEY = ',"TimeCreated":'
CHANNEL_KEY = '"Channel":'
SECURITY_KEY = ',"Security"'
SYSTEM_TIME = '"SystemTime":"'
_get_data = itemgetter("data")
_get_id = itemgetter("event_record_id")
_get_timestamp = itemgetter("timestamp")


class Head:
    """What the System header before TimeCreated says (decoded once per distinct text)."""
    __slots__ = ("provider", "source_name", "event_id", "qualifiers", "level", "candidate",
                 "needs_data")

    def __init__(self, text: str):
        system = json.loads(text + "}}}")["Event"]["System"]
        attrs = ((system.get("Provider") or {}).get("#attributes") or {})
        self.provider = attrs.get("Name")
        self.source_name = attrs.get("EventSourceName")
        eid = system.get("EventID")
        self.qualifiers = None
        if isinstance(eid, dict):
            self.qualifiers = _int((eid.get("#attributes") or {}).get("Qualifiers"))
            eid = eid.get("#text")
        self.event_id = _int(eid)
        self.level = _int(system.get("Level"))
        self.candidate = is_candidate(self.provider, self.source_name, self.event_id)
        entries = [e for name in (self.provider, self.source_name) if name and self.candidate
                   for e in candidates(name, self.event_id)]
        self.needs_data = bool(entries) and all(e.data_match for e in entries)


def _int(value) -> Optional[int]:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


class RustDecoder:
    """Feeds one file's records into a RowSink; ``errors`` lists (message, lost)."""

    def __init__(self, sink: RowSink):
        self.sink = sink
        self.heads: dict[str, Optional[Head]] = {}
        self.wanted: dict[str, bool] = {}   # head text -> decode further (candidate or odd)
        self.mids: dict[str, tuple] = {}
        self.datas: dict[str, dict] = {}
        self.errors: list[tuple[str, int]] = []
        self._pending: list[str] = []      # error messages since the last good record
        self._last_id: Optional[int] = None

    # -- iteration with recovery ---------------------------------------------------------
    def run(self, parser) -> None:
        # the batches hold thousands of fresh dicts: cyclic GC passes over them would cost
        # more than the decoding itself (none of them can form a cycle)
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            self._run(parser)
        finally:
            if was_enabled:
                gc.enable()

    def _run(self, parser) -> None:
        it = parser.records_json()
        while True:
            batch: list = []
            failed = None
            try:
                batch.extend(islice(it, BATCH))
            except StopIteration:
                pass
            except Exception as exc:  # the Rust binding raises RuntimeError per damage
                failed = exc
            if batch:
                self._close_errors(_get_id(batch[0]))
                self._batch(batch)
                self._last_id = _get_id(batch[-1])
            if failed is not None:
                self._pending.append(str(failed))
                if len(self._pending) > 100_000:
                    break
                continue
            if len(batch) < BATCH:
                break
        self._close_errors(None)

    def _close_errors(self, next_id: Optional[int]) -> None:
        if not self._pending:
            return
        gap = None
        if next_id is not None and self._last_id is not None:
            gap = next_id - self._last_id - 1
        n_err = len(self._pending)
        lost = gap if gap is not None and n_err <= gap <= 650 * n_err else n_err
        where = f"after record {self._last_id}" if self._last_id is not None else "at the start"
        detail = "; ".join(dict.fromkeys(self._pending))[:600]
        self.errors.append((f"{n_err} decoding error(s) {where}, about {lost} record(s) lost: "
                            f"{detail}", lost))
        self._pending = []

    # -- one batch -------------------------------------------------------------------------
    def _batch(self, batch: list) -> None:
        """Cut, count and select with C-level map calls; decode only what is kept."""
        datas = list(map(_get_data, batch))
        cuts = list(map(str.find, datas, repeat(TIME_KEY)))
        head_texts = list(map(getitem, datas, map(slice, repeat(0), cuts)))
        chans = list(map(str.find, datas, repeat(CHANNEL_KEY), cuts))
        secs = map(str.find, datas, repeat(SECURITY_KEY), chans)
        mid_texts = list(map(getitem, datas, map(slice, chans, secs)))
        heads = self.heads
        for text in set(head_texts).difference(heads):
            heads[text] = head = self._head(text)
            self.wanted[text] = head is None or head.candidate
        sink = self.sink
        sink.records_read += len(batch)
        sink.saw_time(max(map(_get_timestamp, batch)).removesuffix(" UTC"))
        # every record counted as not relevant; offer() moves the relevant ones
        for (text, mid), n in Counter(zip(head_texts, mid_texts)).items():
            head = heads[text]
            channel, computer = self._channel_computer(mid)
            sink.count(channel, head.provider if head else None,
                       head.event_id if head else None, False, n)
            if computer:
                sink.computers[computer] += n
        if sink.all_events:
            keep = range(len(batch))
        else:
            keep = compress(range(len(batch)), map(self.wanted.__getitem__, head_texts))
        search = raw_prefilter().search
        for i in keep:
            head = heads[head_texts[i]]
            if head is not None and head.needs_data and not sink.all_events \
                    and search(datas[i]) is None:
                continue
            self._row(batch[i], datas[i], cuts[i], head)

    def _head(self, text: str) -> Optional[Head]:
        try:
            return Head(text)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None          # odd layout: such records go the slow way

    def _channel_computer(self, key: str):
        hit = self.mids.get(key)
        if hit is None:
            try:
                obj = json.loads("{" + key + "}")
                hit = (obj.get("Channel"), obj.get("Computer"))
            except (ValueError, AttributeError):
                hit = (None, None)
            self.mids[key] = hit
        return hit

    # -- a kept record ---------------------------------------------------------------------
    def _row(self, rec: dict, s: str, cut: int, head: Optional[Head]) -> None:
        if head is None or cut < 0:
            return self._slow_row(rec, s)
        ch = s.find(CHANNEL_KEY, cut)
        split = _system_end(s, ch)
        mid = self.mids.get(s[ch:split])
        if mid is None or len(mid) < 3:
            try:
                obj = json.loads("{" + s[ch:split] + "}")
            except ValueError:
                return self._slow_row(rec, s)
            sec = obj.get("Security")
            sid = ((sec or {}).get("#attributes") or {}).get("UserID") if isinstance(sec, dict) else None
            mid = (obj.get("Channel"), obj.get("Computer"), sid)
            self.mids[s[ch:split]] = mid
        data_text = s[split + 2:-2] if split < len(s) - 3 else ""
        data = self.datas.get(data_text)
        if data is None:
            try:
                data = flatten_payload(json.loads("{" + data_text + "}")) if data_text else {}
            except ValueError:
                return self._slow_row(rec, s)
            self.datas[data_text] = data
        t = s.find(SYSTEM_TIME, cut, ch)
        time = s[t + len(SYSTEM_TIME):s.find('"', t + len(SYSTEM_TIME))] if t >= 0 else None
        self._offer(head.provider, head.source_name, head.event_id, head.qualifiers,
                    head.level, time, rec, mid, dict(data))

    def _offer(self, provider, source_name, event_id, qualifiers, level, time, rec, mid, data):
        # _batch has counted the record (read, stats, computer) already
        self.sink.offer(mid[0], provider, source_name, event_id, qualifiers, level, time,
                        _get_id(rec), mid[1], mid[2], data, counted=True)

    def _slow_row(self, rec: dict, s: str) -> None:
        """Whole-record decoding for a layout the text cuts do not fit."""
        try:
            event = json.loads(s).get("Event") or {}
        except ValueError as exc:
            self.errors.append((f"record {_get_id(rec)}: undecodable JSON ({exc})", 0))
            return
        system = event.get("System") or {}
        attrs = ((system.get("Provider") or {}).get("#attributes") or {})
        eid = system.get("EventID")
        qualifiers = None
        if isinstance(eid, dict):
            qualifiers = _int((eid.get("#attributes") or {}).get("Qualifiers"))
            eid = eid.get("#text")
        time = ((system.get("TimeCreated") or {}).get("#attributes") or {}).get("SystemTime")
        sec = system.get("Security")
        sid = ((sec.get("#attributes") or {}).get("UserID")) if isinstance(sec, dict) else None
        payload = {k: v for k, v in event.items() if k in ("EventData", "UserData")}
        self._offer(attrs.get("Name"), attrs.get("EventSourceName"), _int(eid), qualifiers,
                    _int(system.get("Level")), time, rec,
                    (system.get("Channel"), system.get("Computer"), sid),
                    flatten_payload(payload))


_DATA_START = re.compile(r'\},"(?:EventData|UserData)":')


def _system_end(s: str, start: int) -> int:
    """Index of the ``}`` closing System (the payload follows it), or len(s) - 2."""
    m = _DATA_START.search(s, start)
    return m.start() if m else len(s) - 2


def flatten_payload(payload: dict) -> dict:
    """EventData / UserData (JSON form) -> ordered dict name -> str (issue 4, item 2).

    Named Data become their names, unnamed ones Data1..n, Binary stays hex; UserData is
    flattened from its first child element.
    """
    out: dict[str, str] = {}
    event_data = payload.get("EventData")
    if isinstance(event_data, dict):
        unnamed: list = []
        for name, value in event_data.items():
            if name == "#attributes":
                continue
            if name == "Data":
                items = value.get("#text") if isinstance(value, dict) and "#text" in value else value
                if isinstance(items, list):
                    unnamed.extend(items)
                elif isinstance(value, dict) and "#text" not in value:
                    out.update((k, text_of(v)) for k, v in value.items() if k != "#attributes")
                else:
                    unnamed.append(items)
            elif name == "Binary":
                if value not in (None, ""):
                    out["Binary"] = text_of(value)
            else:
                out[name] = text_of(value)
        for i, value in enumerate(unnamed, 1):
            out[f"Data{i}"] = text_of(value)
        if "Binary" in out:          # keep Binary last, like the XML order
            out["Binary"] = out.pop("Binary")
    user_data = payload.get("UserData")
    if isinstance(user_data, dict):
        for name, child in user_data.items():
            if name == "#attributes":
                continue
            if isinstance(child, dict):
                out.update((k, text_of(v)) for k, v in child.items() if k != "#attributes")
            else:
                out[name] = text_of(child)
            break
    return out
