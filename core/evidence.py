"""Evidence: what a finding or a profile fact rests on, built the same way everywhere.

One function per kind of row (an event, a registry value, a key pack, an issued CAL, a line of
a licensing export, a profile fact). Each keeps its frame's *whole* row in ``detail`` (every
schema column of ``core.frames`` but ``source``, which is the Evidence's own field) and the
row's identity in ``locator``, so the report shows the exact event, value or report row without
going back to the frames. The host-profile builder, the rules and the report all use these.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Mapping, Optional

if TYPE_CHECKING:
    import pandas as pd

from rdsla.core.frames import SCHEMAS
from rdsla.core.model import Evidence, Fact

REGISTRY_DATA_SHOWN = 96       # characters of a long value (a certificate blob) kept for display


def present(value: Any) -> Any:
    """``value``, or None for every form of missing (None, NA, NaT, NaN)."""
    kind = type(value)
    if kind is str or kind is dict or kind is int or kind is bool:     # never missing: the usual values
        return value
    import numpy as np
    import pandas as pd
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):       # lists, dicts
        pass
    if isinstance(value, np.generic):     # numpy scalars from the frames: plain Python values
        return value.item()
    return value


def records(frame: pd.DataFrame) -> list[dict]:
    """Each row of ``frame`` as a dict of plain values, None for every missing one: the same
    values as ``present`` of each value of ``to_dict("records")``, built column by column
    (3x faster: only object columns are looked at value by value)."""
    import numpy as np
    import pandas as pd
    if not len(frame):
        return []
    columns = []
    for name in frame.columns:
        column = frame[name]
        array, dtype = column.array, column.dtype     # the column's array: no Series made per step
        if dtype == object:
            values = [present(v) for v in np.asarray(array).tolist()]
        elif isinstance(dtype, pd.StringDtype):       # Arrow strings: None for a missing one, 2-3x faster
            values = array.to_numpy(dtype=object, na_value=None).tolist()
        else:
            numeric = isinstance(dtype, np.dtype) and dtype.kind in "biuf"
            values = np.asarray(array).tolist() if numeric else array.tolist()   # plain Python numbers
            missing = array.isna()
            if missing.any():
                values = [None if m else v for v, m in zip(values, missing.tolist())]
        columns.append(values)
    names = list(frame.columns)
    return [dict(zip(names, row)) for row in zip(*columns)]


class Row(dict):
    """One row of :func:`rows`: a dict of plain values that, like a row of ``iterrows``, knows
    its index label as ``name`` (evidence locates key packs and issued CALs by it).

    Read-only: the rows of the rules' event selections are made once per analysis and handed to
    every rule, evidence builder and fix (rules.context), so a change would reach all of them.
    Copy one to change it (``dict(row)``)."""

    __slots__ = ("name",)

    def _read_only(self, *args, **kwargs):
        raise TypeError("a Row is shared by every reader of the analysis: change a copy (dict(row))")

    __setitem__ = __delitem__ = __ior__ = update = pop = popitem = setdefault = clear = _read_only

    def __reduce__(self):          # pickle and copy rebuild it without __setitem__
        return _make_row, (dict(self), getattr(self, "name", None))


def _make_row(values: dict, name) -> Row:
    row = Row(values)
    row.name = name
    return row


RECORD = "_record"      # a column holding each row's Row, made once (the rules' event selections)


def rows(frame: pd.DataFrame) -> list[Row]:
    """The rows of ``frame`` as :class:`Row` dicts (plain values, None for every missing one),
    in frame order: what the evidence builders and the checks read of a row, without the
    per-row pandas Series of ``iterrows`` (a row of a mixed-dtype frame costs ~0.2 ms there).
    A frame whose column :data:`RECORD` holds them already (rules.context makes them once per
    selection of events, whose values nobody changes) hands those out; the column is never part
    of a record."""
    if RECORD in frame.columns:
        found = frame[RECORD].tolist()
        if all(isinstance(r, Row) for r in found):
            return found
        frame = frame.drop(columns=[RECORD])         # rows joined from elsewhere: make them all
    return [_make_row(values, label) for label, values in zip(frame.index.tolist(), records(frame))]


def _row(row: Mapping, frame: str) -> dict:
    return {c: present(row.get(c)) for c in SCHEMAS[frame] if c != "source"}


def _row_number(row: Mapping) -> Optional[int]:
    number = getattr(row, "name", None)           # a DataFrame row (Series) knows its index
    if number is None and isinstance(row, Mapping):
        number = row.get("_row")
    try:
        return int(number) if number is not None else None
    except (TypeError, ValueError):
        return None


def event_evidence(row: Mapping, note: str = "") -> Evidence:
    """One event: located by its record id in its log; ``provider`` falls back to the classic
    source name (libevtx names TermService where the Rust decoder names the provider)."""
    detail = _row(row, "events")
    detail["provider"] = detail["provider"] or detail["source_name"]
    if detail["record_id"] is not None:
        detail["record_id"] = int(detail["record_id"])
    for name in ("event_id", "legacy_event_id", "level"):
        if detail[name] is not None:
            detail[name] = int(detail[name])
    return Evidence(frame="events", source=str(present(row.get("source")) or ""),
                    locator={"record_id": detail["record_id"]}, detail=detail, note=note)


def registry_evidence(row: Mapping, note: str = "") -> Evidence:
    """One registry value: located by key and value name; a long value is cut for display."""
    detail = _row(row, "registry")
    data = detail.get("data")
    if isinstance(data, str) and len(data) > REGISTRY_DATA_SHOWN:
        detail["data"] = data[:REGISTRY_DATA_SHOWN] + f"... ({len(data) // 2} bytes)"
    return Evidence(frame="registry", source=str(present(row.get("source")) or ""),
                    locator={"key": detail.get("key"), "value": detail.get("value")}, detail=detail, note=note)


def keypack_evidence(row: Mapping, note: str = "") -> Evidence:
    """One installed key pack (``unlimited`` keeps a null total readable: core.cal_counts)."""
    detail = _row(row, "keypacks")
    return Evidence(frame="keypacks", source=str(present(row.get("source")) or ""),
                    locator={"keypack_id": detail.get("keypack_id"), "row": _row_number(row)}, detail=detail, note=note)


def issued_evidence(row: Mapping, note: str = "") -> Evidence:
    """One issued CAL."""
    return Evidence(frame="issued", source=str(present(row.get("source")) or ""),
                    locator={"row": _row_number(row)}, detail=_row(row, "issued"), note=note)


def export_evidence(fact: Mapping, note: str = "") -> Evidence:
    """A value a licensing export stated (a parser fact: ``{"name", "value", "source",
    "detail", "locator"}``); a text export's line stays a line."""
    detail = fact.get("detail") or {"name": fact.get("name"), "value": fact.get("value")}
    if not isinstance(detail, dict):
        detail = {"line": str(detail)}
    return Evidence(frame="artifacts", source=fact.get("source") or "", locator=dict(fact.get("locator") or {}),
                    detail=dict(detail), note=note)


def fact_evidence(fact: Optional[Fact], note: str = "", **extra) -> list[Evidence]:
    """The evidence of a profile fact, annotated with where the value came from (and whether it won)."""
    if fact is None:
        return []
    out = [replace(ev, detail={**ev.detail, "value_origin": fact.origin, **extra}, note=note or ev.note)
           for ev in fact.evidence]
    if not out:  # a fact without a row (e.g. derived): cite it anyway
        out.append(Evidence(frame="facts", source="", locator={"origin": fact.origin},
                            detail={"value": fact.value, "value_origin": fact.origin, **extra}, note=note))
    return out
