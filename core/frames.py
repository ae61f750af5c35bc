"""Frame schemas: the contract between parsers, host profiles, rules and reports.

Every frame is defined once here (column name -> pandas dtype). Parsers build their rows as
plain dicts and call :func:`make_frame`; consumers may rely on every column existing with the
declared dtype, also when the frame is empty. Times are tz-aware UTC.

Reference: ../shared/DESIGN.md, section "Frames".
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Mapping

if TYPE_CHECKING:
    import pandas as pd

UTC_TIME = "datetime64[ns, UTC]"

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


def empty_frame(name: str) -> pd.DataFrame:
    """A typed, empty frame with every column of the schema."""
    import pandas as pd
    schema = SCHEMAS[name]
    return pd.DataFrame({col: pd.Series([], dtype=dtype) for col, dtype in schema.items()})


def make_frame(name: str, rows: Iterable[Mapping] | pd.DataFrame) -> pd.DataFrame:
    """Build a frame of schema ``name`` from row dicts (missing columns become NA)."""
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


def frame_from_columns(name: str, columns: Mapping[str, "list | pd.Series"]) -> pd.DataFrame:
    """Like :func:`make_frame`, from column lists of equal length (missing columns become NA).

    Large frames (60,000 events) are built column by column through pyarrow where it is
    installed, which converts a list of str/int/None in C; without pyarrow, or for a column it
    refuses (mixed types, a uint64 past 2**63), make_frame's coercion gives the same result.
    """
    import pandas as pd
    schema = SCHEMAS[name]
    length = len(next(iter(columns.values()))) if columns else 0
    out = {}
    for col, dtype in schema.items():
        values = columns.get(col)
        if values is None:
            values = [None] * length
        out[col] = _fast_column(values, dtype)
    return pd.DataFrame(out, index=range(length))


def _pyarrow():
    """pyarrow when installed (the ``parquet`` extra), else None: it only makes large frames
    faster to build, so a plain install takes make_frame's coercion instead."""
    try:
        import pyarrow
    except ImportError:
        return None
    return pyarrow


def _fast_column(values, dtype: str) -> pd.Series:
    import numpy as np
    import pandas as pd
    pa = _pyarrow()
    if isinstance(values, pd.Series) or pa is None:
        return _coerce(values if isinstance(values, pd.Series) else pd.Series(values, dtype="object"), dtype)
    try:
        if dtype == "string":
            return pd.Series(pd.arrays.ArrowStringArray(pa.array(values, type=pa.string())))
        if dtype == "Int64":
            array = pa.array(values, type=pa.int64())
            numbers = np.asarray(array.fill_null(0).to_numpy(zero_copy_only=False), dtype="int64")
            mask = np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            return pd.Series(pd.arrays.IntegerArray(numbers, mask))
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
            when = pd.to_datetime(series, utc=True, errors="coerce", format="mixed")
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
    return out[list(SCHEMAS[name])]
