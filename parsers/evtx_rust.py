"""EVTX decoding with the Rust `evtx` package, relevance decided on the raw JSON text.

DESIGN.md "Performance": decide relevance by a cheap check on each record's raw text before
any JSON decoding. Records are taken in batches of 128 and every step is a C-level ``map``
over the batch (per-record Python costs more than the decoding). Every record's JSON starts
with the same System header; the text before ``"TimeCreated"`` (provider, EventID,
qualifiers, level...) repeats across a file (60,189 records of the real System.evtx have 78
distinct heads), so it is cut out, counted, and decoded once per distinct head. Only records
whose head the catalog names are decoded further, column-wise; the text from "Channel" on
(channel, computer, SID, EventData) is memoized per distinct text too (346 distinct EventData
texts in that file).

The Rust decoder raises one RuntimeError per damaged record or chunk and then goes on; each
run of errors is counted as lost records from the gap in record numbers around it.
"""
from __future__ import annotations

import gc
import json
import re
from collections import Counter
from itertools import compress, islice, repeat
from operator import add, attrgetter, getitem, is_, itemgetter
from typing import Optional

from rdsla.parsers.evtx_rows import RowSink, text_of
from rdsla.core.catalog import Selection, legacy_event_id

BATCH = 128          # small enough that a batch's records stay in CPU cache (4,096 cost ~40%)
TIME_KEY = ',"TimeCreated":'
TIME_PREFIX = ',"TimeCreated":{"#attributes":{"SystemTime":"'
CHANNEL_KEY = '"Channel":'
SECURITY_KEY = ',"Security"'
TAIL_MEMO = 20_000
_UNSEEN = object()
_get_data = itemgetter("data")
_get_id = itemgetter("event_record_id")
_get_timestamp = itemgetter("timestamp")
_fields = attrgetter("fields")
_candidate = attrgetter("candidate")


class Head:
    """What the System header before TimeCreated says (decoded once per distinct text)."""
    __slots__ = ("provider", "source_name", "event_id", "qualifiers", "level", "candidate",
                 "legacy_event_id", "fields")

    def __init__(self, text: str, selection: Selection):
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
        self.legacy_event_id = legacy_event_id(self.provider, self.event_id, self.source_name) \
            if self.event_id is not None else None
        self.candidate = selection.is_candidate(self.provider, self.source_name, self.event_id)
        self.fields = (self.provider, self.source_name, self.event_id, self.qualifiers,
                       self.legacy_event_id, self.level)      # row columns, in _rows' order


def _picker(indexes: list):
    """A function taking the items at ``indexes`` (in order) of a sequence, as a tuple."""
    if len(indexes) == 1:
        only = indexes[0]
        return lambda seq: (seq[only],)
    return itemgetter(*indexes)


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
        self.channel_key: Optional[str] = None   # '"Channel":"System","Computer":"HOST","Security"'
        self.channel_value: tuple = (None, None)
        self.channels: dict[str, tuple] = {}     # "Channel"..."Computer" text -> (channel, computer)
        self.mids: dict[str, tuple] = {}         # System tail -> (channel, computer, user SID)
        self.tails: dict[str, tuple] = {}        # text from "Channel" on -> (mids value, data)
        self.entries: dict[tuple, object] = {}   # (head, tail) of a candidate -> entry or None
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
        heads = list(map(getitem, datas, map(slice, repeat(0), cuts)))
        per_head = Counter(heads)
        known, wanted = self.heads, self.wanted
        for text in per_head.keys() - known.keys():
            known[text] = head = self._head(text)
            wanted[text] = head is None or head.candidate
        sink = self.sink
        sink.records_read += len(batch)
        stamps = list(map(_get_timestamp, batch))
        sink.saw_time(max(stamps).removesuffix(" UTC"))
        sink.saw_time(min(stamps).removesuffix(" UTC"))       # the log's first record too (its span)
        self._count(datas, cuts, heads, per_head)
        n = len(batch)
        if sink.all_events:
            keep = list(range(n))
        elif any(map(wanted.__getitem__, per_head)):      # most batches hold no candidate
            keep = list(compress(range(n), map(wanted.__getitem__, heads)))
        else:
            return
        if keep:
            if len(keep) < n:
                pick = _picker(keep)
                batch, datas, cuts, heads = pick(batch), pick(datas), pick(cuts), pick(heads)
            self._rows(batch, datas, cuts, heads)

    def _count(self, datas: list, cuts: list, heads: list, per_head: Counter) -> None:
        """Every record counted per (channel, provider, event id) as not relevant (_rows moves
        the relevant ones) and per computer.

        The usual batch has one channel and computer: each record is checked with one ``find``
        from its TimeCreated for the text its System part would hold ('"Channel":"System",
        "Computer":"HOST","Security"', learned from an earlier record). Only an EventData
        holding that very JSON text (those three keys in that order) could pass a record whose
        own System part differs. Other batches cut channel and computer out of each record.
        """
        if self.channel_key is None:
            self._learn_channel(datas[0], cuts[0])
        key = self.channel_key
        if key is not None and -1 not in map(str.find, datas, repeat(key), cuts):
            channel, computer = self.channel_value
            counts = [(text, channel, computer, n) for text, n in per_head.items()]
        else:
            chans = list(map(str.find, datas, repeat(CHANNEL_KEY), cuts))
            secs = map(str.find, datas, repeat(SECURITY_KEY), chans)
            mid_texts = map(getitem, datas, map(slice, chans, secs))
            counts = [(text, *self._channel_computer(mid), n)
                      for (text, mid), n in Counter(zip(heads, mid_texts)).items()]
            self._learn_channel(datas[-1], cuts[-1])      # the file may go on with another
        sink, known = self.sink, self.heads
        for text, channel, computer, n in counts:
            head = known[text]
            sink.count(channel, head.provider if head else None,
                       head.event_id if head else None, False, n)
            if computer:
                sink.computers[computer] += n

    def _learn_channel(self, s: str, cut: int) -> None:
        ch = s.find(CHANNEL_KEY, max(cut, 0))
        sec = s.find(SECURITY_KEY, ch) if ch >= 0 else -1
        if sec < 0:
            return
        self.channel_key = s[ch:sec] + SECURITY_KEY
        self.channel_value = self._channel_computer(s[ch:sec])

    def _head(self, text: str) -> Optional[Head]:
        if not text:
            return None
        try:
            return Head(text, self.sink.selection)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None          # odd layout: such records go the slow way

    def _channel_computer(self, key: str):
        hit = self.channels.get(key)
        if hit is None:
            try:
                obj = json.loads("{" + key + "}")
                hit = (obj.get("Channel"), obj.get("Computer"))
            except (ValueError, AttributeError):
                hit = (None, None)
            self.channels[key] = hit
        return hit

    # -- kept records ----------------------------------------------------------------------
    def _rows(self, batch, datas, cuts, heads) -> None:
        """Rows for kept records, column-wise: each field is one map over the batch, and the
        parts that repeat (System tail, EventData) are decoded once per distinct text."""
        infos = list(map(self.heads.__getitem__, heads))
        starts = list(map(add, cuts, repeat(len(TIME_PREFIX))))
        ends = list(map(str.find, datas, repeat('"'), starts))
        chans = list(map(str.find, datas, repeat(CHANNEL_KEY), ends))
        if None in infos or -1 in chans or \
                not all(map(str.startswith, datas, repeat(TIME_PREFIX), cuts)):
            for rec, s in zip(batch, datas):      # odd layout somewhere: one by one
                self._slow_row(rec, s)
            return
        times = list(map(getitem, datas, map(slice, starts, ends)))
        # everything from Channel on (channel, computer, SID, EventData) repeats: one lookup
        tails = list(map(getitem, datas, map(slice, chans, repeat(None))))
        decoded = list(map(self.tails.get, tails))
        if None in decoded:
            bad = []
            for i in compress(range(len(decoded)), map(is_, decoded, repeat(None))):
                decoded[i] = self._tail(tails[i])
                if decoded[i] is None:
                    bad.append(i)
            if bad:
                for i in bad:
                    self._slow_row(batch[i], datas[i])
                keep = [i for i in range(len(batch)) if decoded[i] is not None]
                if not keep:
                    return
                pick = _picker(keep)
                batch, infos, times, decoded, heads, tails = (pick(batch), pick(infos), pick(times),
                                                              pick(decoded), pick(heads), pick(tails))
        entries = [None] * len(infos)
        relevant = []
        memo, sink = self.entries, self.sink
        for i in compress(range(len(infos)), map(_candidate, infos)):
            # a catalog entry with a data condition (SCM 7036 names the service) is decided
            # once per distinct head and tail: a busy server logs thousands of those
            key = (heads[i], tails[i])
            entry = memo.get(key, _UNSEEN)
            if entry is _UNSEEN:
                h = infos[i]
                entry = memo[key] = sink.selection.lookup(h.provider, h.event_id, decoded[i][1], h.source_name)
            if entry is not None:
                entries[i] = entry
                relevant.append(i)
                sink.counted_relevant(decoded[i][0][0], infos[i].provider, infos[i].event_id)
        if not sink.all_events:
            if not relevant:
                return
            if len(relevant) < len(entries):
                pick = _picker(relevant)
                batch, infos, times, decoded, entries = (pick(batch), pick(infos), pick(times),
                                                         pick(decoded), pick(entries))
        mids = map(itemgetter(0), decoded)
        data = list(map(dict, map(itemgetter(1), decoded)))      # each row owns its dict
        provider, source_name, event_id, qualifiers, legacy, level = zip(*map(_fields, infos))
        channel, computer, user_sid = zip(*mids)
        sink.extend({"channel": channel, "provider": provider, "source_name": source_name,
                     "event_id": event_id, "qualifiers": qualifiers, "legacy_event_id": legacy,
                     "level": level, "time": times, "record_id": list(map(_get_id, batch)),
                     "computer": computer, "user_sid": user_sid, "data": data}, entries)

    def _tail(self, text: str) -> Optional[tuple]:
        """(System tail fields, EventData) of the text from "Channel" on, memoized (the memo
        is emptied past TAIL_MEMO entries: a log of unique payloads gains nothing from it)."""
        split = _system_end(text, 0)
        mid = self.mids.get(text[:split]) or self._mid(text[:split])
        payload = text[split + 2:-2] if split < len(text) - 3 else ""
        data = self.datas.get(payload)
        if data is None:
            data = self._payload(payload)
        if mid is None or data is None:
            return None
        if len(self.tails) >= TAIL_MEMO:
            self.tails.clear()
            self.datas.clear()
            self.entries.clear()
        self.tails[text] = hit = (mid, data)
        return hit

    def _mid(self, text: str) -> Optional[tuple]:
        """(channel, computer, user SID) of a System tail, memoized; None if undecodable."""
        try:
            obj = json.loads("{" + text + "}")
        except ValueError:
            return None
        sec = obj.get("Security")
        sid = ((sec or {}).get("#attributes") or {}).get("UserID") if isinstance(sec, dict) else None
        mid = (obj.get("Channel"), obj.get("Computer"), sid)
        self.mids[text] = mid
        return mid

    def _payload(self, text: str) -> Optional[dict]:
        """EventData/UserData text -> flat dict, memoized; None if undecodable."""
        try:
            data = flatten_payload(json.loads("{" + text + "}")) if text else {}
        except ValueError:
            return None
        self.datas[text] = data
        return data

    def _slow_row(self, rec: dict, s: str) -> None:
        """Whole-record decoding for a layout the text cuts do not fit."""
        try:
            doc = json.loads(s)
        except ValueError as exc:
            self.errors.append((f"record {_get_id(rec)}: undecodable JSON ({exc})", 0))
            return
        event = doc.get("Event") if isinstance(doc, dict) else None
        if not isinstance(event, dict):
            event = {}
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
        self.sink.offer(system.get("Channel"), attrs.get("Name"), attrs.get("EventSourceName"),
                        _int(eid), qualifiers, _int(system.get("Level")), time, _get_id(rec),
                        system.get("Computer"), sid, flatten_payload(payload), counted=True)


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
