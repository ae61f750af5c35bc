"""Frame schemas: the contract between parsers, host profiles, rules and reports.

Every frame is defined once here (column name -> pandas dtype). Parsers build their rows as
plain dicts and call :func:`make_frame`; consumers may rely on every column existing with the
declared dtype, also when the frame is empty. Times are tz-aware UTC.

Reference: ../shared/DESIGN.md, section "Frames".
"""
from __future__ import annotations

from functools import lru_cache
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Iterable, Mapping

if TYPE_CHECKING:
    import pandas as pd

UTC_TIME = "datetime64[ns, UTC]"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
# pandas.Timestamp.min/max to the microsecond: the times a nanosecond column holds
_NS_FIRST = datetime(1677, 9, 21, 0, 12, 43, 145225, tzinfo=timezone.utc)
_NS_LAST = datetime(2262, 4, 11, 23, 47, 16, 854775, tzinfo=timezone.utc)
_NAT = -2 ** 63

SCHEMAS: dict[str, dict[str, str]] = {
    "events": {
        "host": "string",
        "channel": "string",
        "provider": "string",
        "source_name": "string",
        "event_id": "Int64",
        "qualifiers": "Int64",
        "legacy_event_id": "Int64",
        "level": "Int64",
        "time": UTC_TIME,
        "record_id": "Int64",
        "computer": "string",
        "user_sid": "string",
        "data": "object",  # dict name -> str
        "message": "string",
        "source": "string",
    },
    "registry": {
        "host": "string",
        "hive": "string",
        "key": "string",
        "key_ccs": "string",
        "value": "string",
        "type": "string",
        "data": "object",  # str | int | list[str] | hex str for binary
        "last_write": UTC_TIME,
        "source": "string",
    },
    "keypacks": {
        "license_server": "string",
        "keypack_id": "string",
        "cal_version": "string",
        "cal_type": "string",
        "total": "Int64",
        "issued": "Int64",
        "available": "Int64",       # total - issued where the export lacks AvailableLicenses
        "unlimited": "boolean",     # True: sentinel, total/available null; False: counted; NA: unknown
                                    # (read counts through core.cal_counts; RDS_LICENSING.md 3.1)
        "builtin": "boolean",
        "temporary": "boolean",
        "expires": UTC_TIME,
        "status": "string",
        "source": "string",
    },
    "issued": {
        "license_server": "string",
        "keypack_id": "string",
        "cal_version": "string",
        "cal_type": "string",
        "issued_to": "string",
        "issued_on": UTC_TIME,
        "expires_on": UTC_TIME,
        "status": "string",
        "hardware_id": "string",    # sHardwareId: one device's id; many per name = a leaking client (RDSLIC-021)
        "source": "string",
    },
    "artifacts": {
        "path": "string",
        "kind": "string",
        "host": "string",
        "status": "string",
        "records_read": "Int64",
        "records_lost": "Int64",
        "warnings": "object",  # list[str]
        "size": "Int64",
    },
}

FRAME_NAMES = tuple(SCHEMAS)


_EMPTY: dict = {}


def empty_frame(name: str) -> pd.DataFrame:
    """A typed, empty frame with every column of the schema (a copy of one built once: a log
    without a kept record asks for one)."""
    import pandas as pd
    empty = _EMPTY.get(name)
    if empty is None:
        schema = SCHEMAS[name]
        empty = _EMPTY[name] = pd.DataFrame({col: pd.Series([], dtype=dtype) for col, dtype in schema.items()})
    return empty.copy()


def make_frame(name: str, rows: Iterable[Mapping] | pd.DataFrame) -> pd.DataFrame:
    """Build a frame of schema ``name`` from row dicts (missing columns become NA).

    Up to a few thousand rows (a bundle's registry values, key packs, its ledger), each column
    of plain values (str, int, bool, UTC datetime, None) is built straight into its array; any
    other column (floats, naive or non-UTC times, uint64 past 2**63, ints a float column would
    round, mixed scalars), and more rows, take the careful coercion of the frame pandas infers
    from the rows: both give the same values and dtypes (tests/core/test_frames_fast.py)."""
    import pandas as pd
    if isinstance(rows, pd.DataFrame):
        return _make_frame_careful(name, rows)
    rows = rows if isinstance(rows, list) else list(rows)
    if len(rows) > _DIRECT_ROWS:        # pandas' inference in C is as fast on many rows
        return _make_frame_careful(name, rows)
    schema = SCHEMAS[name]
    present: set = set()
    for row in rows:
        present.update(row)
    if not present:
        return empty_frame(name)
    n = len(rows)
    raw = None
    arrays = {}
    for col, dtype in schema.items():
        if col not in present:
            arrays[col] = _missing_array(dtype, n)
            continue
        array = _plain_array([row.get(col, _ABSENT) for row in rows], dtype)
        if array is None:       # not plain: the column pandas infers from the rows, coerced
            if raw is None:
                raw = pd.DataFrame(rows)
            array = _coerce(raw[col], dtype)
        arrays[col] = array
    return pd.DataFrame(arrays, copy=False)


def _make_frame_careful(name: str, rows: Iterable[Mapping] | pd.DataFrame) -> pd.DataFrame:
    """make_frame through pandas' inference of the rows and :func:`_coerce` of every column."""
    import pandas as pd
    schema = SCHEMAS[name]
    raw = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if raw.empty and not len(raw.columns):
        return empty_frame(name)
    out = {}
    for col, dtype in schema.items():
        if col in raw.columns:
            out[col] = _coerce(raw[col], dtype)
        else:
            out[col] = pd.Series([pd.NA] * len(raw), dtype=dtype if dtype != UTC_TIME else "object")
            out[col] = _coerce(out[col], dtype)
    return pd.DataFrame(out, index=range(len(raw)))


class _Absent:
    """A key a row lacks (pandas reads it as NaN, an explicit None as None)."""

    def __repr__(self) -> str:
        return "<absent>"


_ABSENT = _Absent()
_DIRECT_ROWS = 2000           # make_frame builds up to this many rows column by column
_SAFE_INT = 2 ** 53          # exact through the float64 column pandas makes of ints with gaps
_MISSING = (None, _ABSENT)


def _plain_array(values: list, dtype: str):
    """The array make_frame's careful path gives for these values, or None when they are not
    plain enough to know it without pandas' inference (then that path runs)."""
    import numpy as np
    import pandas as pd
    kinds = {type(v) for v in values}
    missing = kinds & {type(None), _Absent}
    kinds -= missing
    if dtype == "string":
        if kinds <= {str}:
            return _string_array([None if v is _ABSENT else v for v in values] if _Absent in missing else values)
        return None
    if dtype == "Int64":
        if kinds <= {int} and all(v in _MISSING or -_SAFE_INT <= v <= _SAFE_INT for v in values):
            mask = np.fromiter((v in _MISSING for v in values), dtype=bool, count=len(values))
            data = np.fromiter((0 if v in _MISSING else v for v in values), dtype="int64", count=len(values))
            return pd.arrays.IntegerArray(data, mask)
        return None
    if dtype == "boolean":
        if kinds <= {bool}:
            mask = np.fromiter((v in _MISSING for v in values), dtype=bool, count=len(values))
            data = np.fromiter((v is True for v in values), dtype=bool, count=len(values))
            return pd.arrays.BooleanArray(data, mask)
        return None
    if dtype == UTC_TIME:
        if kinds <= {datetime} and all(v in _MISSING or v.tzinfo is timezone.utc for v in values):
            return _utc_array([None if v in _MISSING or not _NS_FIRST <= v <= _NS_LAST else
                               (v - _EPOCH) // _MICROSECOND * 1000 for v in values])
        return None
    if dtype == "object":
        return _object_array(values, kinds, missing)
    return None


def _object_array(values: list, kinds: set, missing: set):
    """An object column as pandas infers it from row dicts and ``astype(object)`` keeps it:
    mixed or container values stay as they are (a lacking key NaN, None None); strings with
    gaps are a string column (every gap NaN); only None stays None, None with lacking keys NaN."""
    import numpy as np
    if not missing:
        if kinds <= {str, int, bool, list, dict} and _ints_fit(values):
            return _objects(values)
        return None
    if not kinds:
        return _objects([None] * len(values) if missing == {type(None)} else [np.nan] * len(values))
    if kinds == {str}:
        return _objects([np.nan if v in _MISSING else v for v in values])
    if kinds <= {str, int, bool, list, dict} and (kinds & {list, dict} or (str in kinds and len(kinds) > 1)) \
            and _ints_fit(values):
        return _objects([np.nan if v is _ABSENT else v for v in values])
    return None


def _ints_fit(values: list) -> bool:
    return all(type(v) is not int or -2 ** 63 <= v < 2 ** 63 for v in values)


def _objects(values: list):
    """An object column as it is (a Series: a frame would read a bare array of str as strings)."""
    import numpy as np
    import pandas as pd
    return pd.Series(np.fromiter(values, dtype=object, count=len(values)), dtype=object, copy=False)


def _string_array(values: list):
    """str/None values as the schema's string array (pyarrow-backed where pandas' "string"
    dtype is, i.e. when pyarrow is installed)."""
    import pandas as pd
    pa = _pyarrow()
    if pa is not None and pd.StringDtype().storage == "pyarrow":
        return pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string()))
    return pd.array(values, dtype="string")


def _utc_array(nanoseconds: list):
    """Nanoseconds since 1970 (None: NaT) as a ``datetime64[ns, UTC]`` array."""
    import numpy as np
    import pandas as pd
    ns = np.fromiter((_NAT if v is None else v for v in nanoseconds), dtype="int64", count=len(nanoseconds))
    return pd.array(ns.view("M8[ns]"), dtype=UTC_TIME)


def _missing_array(dtype: str, n: int):
    """A column no row has: all NA in its dtype (pd.NA objects in an object column)."""
    import pandas as pd
    if dtype == "object":
        return _objects([pd.NA] * n)
    if dtype == UTC_TIME:
        return _utc_array([None] * n)
    array = _plain_array([None] * n, dtype)
    return array if array is not None else pd.array([None] * n, dtype=dtype)   # a dtype added later


def frame_from_columns(name: str, columns: Mapping[str, "list | pd.Series"]) -> pd.DataFrame:
    """Like :func:`make_frame`, from column lists of equal length (missing columns become NA).

    Large frames (60,000 events) are built column by column through pyarrow where it is
    installed, which converts a list of str/int/None in C; without pyarrow, or for a column it
    refuses (mixed types, a uint64 past 2**63), make_frame's coercion gives the same result.
    A Series already in the column's dtype is taken as it is (its coercion changes nothing).
    """
    import pandas as pd
    schema = SCHEMAS[name]
    length = len(next(iter(columns.values()))) if columns else 0
    if not length:
        return empty_frame(name)
    out = {}
    for col, dtype in schema.items():
        values = columns.get(col)
        if values is None:
            values = [None] * length
        out[col] = _fast_column(values, dtype)
    return pd.DataFrame(out, index=range(length), copy=False)


def string_array(values: list):
    """A list of str/None as an array of the schema's "string" dtype (other values: str())."""
    import pandas as pd
    if all(type(v) is str or v is None for v in values):
        return _string_array(values)
    return pd.array(values, dtype="string")


_ISO_UTC = None


def utc_times(texts: list) -> pd.Series:
    """ISO 8601 UTC text (``2024-11-05T10:13:33.123456Z``, what both EVTX decoders write) as a
    ``datetime64[ns, UTC]`` Series: what ``pd.to_datetime(..., utc=True, errors="coerce",
    format="ISO8601")`` gives. A few hundred texts are read here (pandas' parser costs more to
    start than to run); many, or any other text, through pandas."""
    import pandas as pd
    if len(texts) <= 5000:
        nanoseconds = _iso_nanoseconds(texts)
        if nanoseconds is not None:
            return pd.Series(_utc_array(nanoseconds), copy=False)
    when = pd.to_datetime(pd.Series(texts, dtype="object"), utc=True, errors="coerce", format="ISO8601")
    try:
        return when.astype(UTC_TIME)
    except (ValueError, OverflowError):
        return _coerce(when, UTC_TIME)


def _iso_nanoseconds(texts: list):
    """Nanoseconds since 1970 of each ``YYYY-MM-DDTHH:MM:SS[.fraction]Z`` (None stays None),
    or None when any text has another form or lies outside what nanoseconds hold."""
    import re
    global _ISO_UTC
    if _ISO_UTC is None:
        _ISO_UTC = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z",
                             re.ASCII)   # ASCII digits only, as pandas reads them
    out = []
    second = timedelta(seconds=1)
    for text in texts:
        if text is None:
            out.append(None)
            continue
        m = _ISO_UTC.fullmatch(text) if type(text) is str else None
        if m is None:
            return None
        y, mo, d, h, mi, s, fraction = m.groups()
        if not 1678 <= int(y) <= 2261:
            return None
        try:
            when = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=timezone.utc)
        except ValueError:
            return None
        out.append((when - _EPOCH) // second * 1_000_000_000 + (int(fraction.ljust(9, "0")) if fraction else 0))
    return out


@lru_cache(maxsize=1)       # a failed import is not remembered: it searched sys.path on each of ~140 calls
def _pyarrow():
    """pyarrow when installed (the ``parquet`` extra), else None: it only makes large frames
    faster to build, so a plain install takes make_frame's coercion instead."""
    try:
        import pyarrow
    except ImportError:
        return None
    return pyarrow


def _fast_column(values, dtype: str):
    """One column as an array (object columns as a Series: a frame reads a bare array of str
    as strings); the frame is built from these without copying."""
    import numpy as np
    import pandas as pd
    if isinstance(values, pd.Series):
        if str(values.dtype) == dtype:
            return values.reset_index(drop=True) if dtype == "object" else values.array
        if dtype == UTC_TIME and str(values.dtype).endswith(", UTC]"):
            try:    # another unit: the same instants in nanoseconds (all in range: the coercion's range check passes)
                return values.array.astype(UTC_TIME)
            except (ValueError, OverflowError):
                pass
        return _coerce(values, dtype)
    pa = _pyarrow()
    if pa is None or (dtype == "Int64" and len(values) <= 5000):      # pyarrow's calls cost more on few
        plain = _plain_array(values, dtype) if dtype in ("string", "Int64") else None
        if plain is not None:
            return plain
        if pa is None:
            return _coerce(pd.Series(values, dtype="object"), dtype)
    try:
        if dtype == "string":
            return pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string()))
        if dtype == "Int64":
            array = pa.array(values, type=pa.int64())
            numbers = np.asarray(array.fill_null(0).to_numpy(zero_copy_only=False), dtype="int64")
            mask = np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            return pd.arrays.IntegerArray(numbers, mask)
    except (pa.ArrowException, OverflowError, TypeError, ValueError):
        pass
    if dtype == "object":
        return pd.Series(values, dtype="object")
    return _coerce(pd.Series(values, dtype="object"), dtype)


def _coerce(series: pd.Series, dtype: str) -> pd.Series:
    import pandas as pd
    series = series.reset_index(drop=True)
    if dtype == UTC_TIME:
        try:        # the common case, ISO 8601 throughout, takes pandas' fast C parser
            when = pd.to_datetime(series, utc=True, format="ISO8601")
        except (ValueError, TypeError, OverflowError):
            # a column of bools (damaged input) would come back tz-naive and crash the range check below
            when = pd.to_datetime(series.astype(object) if series.dtype == bool else series, utc=True,
                                  errors="coerce", format="mixed")
        # FILETIME 1601 or 9999-12-31 fit pandas' coarser units but not nanoseconds: NA, not a crash
        lo, hi = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
        return when.where((when >= lo) & (when <= hi)).astype(UTC_TIME)
    if dtype == "object":
        return series.astype("object")
    if dtype == "Int64":
        number = pd.to_numeric(series, errors="coerce")
        if number.dtype.kind in "ib":
            return number.astype("Int64")
        if number.dtype.kind == "f":
            return number.where((number % 1 == 0) & (number.abs() < 2 ** 63)).astype("Int64")
        # uint64 past 2**63 (a damaged record id), fractions, 40-digit numbers: NA, not a crash
        return pd.array([_int64(v) for v in number.astype(object)], dtype="Int64")
    if dtype == "boolean":
        return series.astype("boolean")
    return series.astype(dtype)


def _int64(value):
    import pandas as pd
    if value is None or pd.isna(value):
        return pd.NA
    try:
        if float(value).is_integer() and -(2 ** 63) <= int(value) < 2 ** 63:
            return int(value)
    except (TypeError, ValueError, OverflowError):
        pass
    return pd.NA


def concat_frames(name: str, frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate frames of one schema, keeping dtypes; empty input gives an empty frame."""
    import pandas as pd
    parts = [f for f in frames if f is not None and len(f)]
    if not parts:
        return empty_frame(name)
    out = pd.concat(parts, ignore_index=True)
    columns = list(SCHEMAS[name])
    return out if list(out.columns) == columns else out[columns]
