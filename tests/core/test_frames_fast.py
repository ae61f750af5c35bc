"""core.frames.make_frame's direct column builders give exactly what its careful path gives
(pandas' inference of the rows, then coercion): values, dtypes, and in object columns the
kind of gap (None, NaN, NA), for plain and hostile values alike (uint64 past 2**63, FILETIME
years 1601/9999, fractions, naive and non-UTC times, mixed types, keys some rows lack)."""
import math
import random
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from rdsla.core import frames
from rdsla.core.frames import SCHEMAS, _make_frame_careful, make_frame

UTC = timezone.utc
# the careful path warns on numbers in a time column (pandas will read them as epochs one day);
# both paths are compared on them here, so the warning is expected
pytestmark = pytest.mark.filterwarnings("ignore:Parsing integer or float values with a format in to_datetime")
ABSENT = object()
VALUES = [
    None, ABSENT, "", "abc", "Zeichen \u00e9", "12", 0, 1, -7, 2 ** 40, 2 ** 53, 2 ** 53 + 1, 2 ** 63 - 1, 2 ** 63,
    2 ** 64 - 1, -(2 ** 63) - 1, True, False, 1.0, 1.5, float("nan"), ["a", "b"], [], {"k": "v"},
    datetime(2024, 11, 5, 10, 13, 33, 123456, tzinfo=UTC), datetime(2024, 11, 5, 10, 13, 33),
    datetime(1601, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
    datetime(1677, 9, 21, 0, 12, 43, 145225, tzinfo=UTC), datetime(1677, 9, 21, 0, 12, 43, 145224, tzinfo=UTC),
    datetime(2262, 4, 11, 23, 47, 16, 854775, tzinfo=UTC), datetime(2262, 4, 11, 23, 47, 16, 854776, tzinfo=UTC),
    datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=2))), pd.Timestamp("2024-01-01T00:00:00.000000001Z"),
    "2024-01-01T00:00:00Z", "not a date", b"\x00\x01",
]
# values a column of each dtype typically holds, so that plain columns are drawn often too
TYPICAL = {
    "string": [None, ABSENT, "", "abc", "HKLM\\SYSTEM", "Zeichen \u00e9"],
    "Int64": [None, ABSENT, 0, 1, 4105, 2 ** 40, -(2 ** 53), 2 ** 53],
    "boolean": [None, ABSENT, True, False],
    frames.UTC_TIME: [None, ABSENT, datetime(2024, 11, 5, 10, 13, 33, 123456, tzinfo=UTC),
                      datetime(1601, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC)],
    "object": [None, ABSENT, "abc", "", 4, 2 ** 40, True, ["a"], [], {"k": "v"}],
}


def _rows(rng: random.Random, name: str) -> list[dict]:
    n = rng.randint(1, 5)
    rows = [{} for _ in range(n)]
    for col, dtype in SCHEMAS[name].items():
        if rng.random() < 0.15:
            continue                        # a column no row has
        pool = TYPICAL[dtype] if rng.random() < 0.7 else VALUES
        for row in rows:
            value = rng.choice(pool)
            if value is not ABSENT:
                row[col] = value
    return rows


def _gap(value) -> str:
    if value is None:
        return "None"
    if value is pd.NA:
        return "NA"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return type(value).__name__


def assert_same(rows: list[dict], name: str) -> None:
    try:
        careful = _make_frame_careful(name, rows)
    except (TypeError, ValueError) as exc:     # e.g. text in a boolean column: refused alike
        with pytest.raises(type(exc)):
            make_frame(name, rows)
        return
    fast = make_frame(name, rows)
    pd.testing.assert_frame_equal(fast, careful, check_exact=True)
    for col, dtype in SCHEMAS[name].items():
        if dtype == "object":
            assert [_gap(v) for v in fast[col]] == [_gap(v) for v in careful[col]], (col, rows)


@pytest.mark.parametrize("name", ["registry", "keypacks", "issued", "artifacts", "events"])
def test_make_frame_equals_the_careful_path_on_random_rows(name):
    rng = random.Random(20 + len(name))
    for _ in range(150):
        assert_same(_rows(rng, name), name)


@pytest.mark.parametrize("column,values", [
    ("data", ["a", None]), ("data", ["a", ABSENT]), ("data", [1, None]), ("data", [None, None]),
    ("data", [None, ABSENT]), ("data", [["x"], None, ABSENT]), ("data", ["a", 1, None, ABSENT]),
    ("data", [2 ** 63, "a"]), ("data", [2 ** 64 - 1]), ("data", [True, 1]), ("data", [1.5, "a"]),
    ("last_write", [datetime(1601, 1, 1, tzinfo=UTC), None]),
    ("last_write", [datetime(9999, 12, 31, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)]),
    ("last_write", [datetime(2024, 1, 1), None]), ("last_write", ["2024-01-01T00:00:00Z", None]),
    ("value", ["a", 5, None]), ("value", [1.0, None]), ("type", [None, ABSENT]),
])
def test_make_frame_equals_the_careful_path_on_hostile_columns(column, values):
    rows = [{"hive": "SYSTEM"} | ({} if v is ABSENT else {column: v}) for v in values]
    assert_same(rows, "registry")


@pytest.mark.parametrize("values", [
    [2 ** 53 + 1, None], [2 ** 63, 1], [2 ** 64 - 1, None], [1.5, 2], [True, 1], ["7", None], [float("nan"), 3],
    [np.int64(5), None], [-(2 ** 63), 0],
])
def test_make_frame_integers_past_the_fast_range_take_the_careful_path(values):
    rows = [{"total": v} for v in values]
    assert_same(rows, "keypacks")


def test_make_frame_without_pyarrow_equals_the_careful_path(monkeypatch):
    monkeypatch.setattr(frames, "_pyarrow", lambda: None)
    rng = random.Random(7)
    for _ in range(60):
        assert_same(_rows(rng, "registry"), "registry")


def test_make_frame_of_rows_without_keys_is_the_empty_schema():
    for rows in ([], [{}], [{}, {}]):
        empty = make_frame("registry", rows)
        assert len(empty) == 0 and empty.dtypes.equals(make_frame("registry", []).dtypes)
    assert make_frame("registry", iter([{"hive": "SYSTEM"}]))["hive"].tolist() == ["SYSTEM"]


def _times_through_pandas(texts):
    when = pd.to_datetime(pd.Series(texts, dtype="object"), utc=True, errors="coerce", format="ISO8601")
    return frames._coerce(when, frames.UTC_TIME)


@pytest.mark.parametrize("texts", [
    ["2024-11-05T10:13:33.123456Z", None, "2024-11-05T10:13:33Z", "2024-02-29T23:59:59.999999999Z"],
    ["2024-11-05T10:13:33.1234567Z", "1970-01-01T00:00:00.000001Z", "1969-12-31T23:59:59.5Z"],
    ["1601-01-01T00:00:00.000000Z", "2024-01-01T00:00:00Z"],          # FILETIME 0: NaT
    ["9999-12-31T23:59:59.999999Z"], ["2023-02-29T00:00:00Z"], ["2024-13-01T00:00:00Z"],
    ["2024-01-01T00:00:60Z"], ["2024-01-01 00:00:00"], ["2024-01-01T00:00:00+02:00"], [""], ["garbage"],
    ["2024-01-01T00:00:00.1234567891Z"], [None, None], [],
    ["1677-09-21T00:12:43.145224193Z", "2262-04-11T23:47:16.854775807Z", "1678-01-01T00:00:00Z"],
    ["\uff12\uff10\uff12\uff14-11-05T10:13:33Z"], ["2024-11-05T10:13:\u0663\u0663Z"],   # non-ASCII digits: NaT
])
def test_utc_times_equal_pandas_iso8601_parse(texts):
    pd.testing.assert_series_equal(frames.utc_times(texts), _times_through_pandas(texts), check_exact=True)


def test_utc_times_of_many_texts_equal_pandas_also_past_the_direct_reading():
    rng = random.Random(3)
    texts = [f"{rng.randint(1990, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
             f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999999):06d}Z"
             for _ in range(6000)] + [None, "1601-01-01T00:00:00Z"]
    for part in (texts[:300], texts):
        pd.testing.assert_series_equal(frames.utc_times(part), _times_through_pandas(part), check_exact=True)


def test_make_frame_of_many_rows_equals_the_direct_build_of_its_parts():
    rng = random.Random(11)
    rows = [_rows(rng, "registry")[0] for _ in range(frames._DIRECT_ROWS + 500)]
    plain = [r for r in rows if all(type(v) in (str, type(None)) for v in r.values())]
    many = plain * (frames._DIRECT_ROWS // max(len(plain), 1) + 1)
    assert len(many) > frames._DIRECT_ROWS
    head = make_frame("registry", many[:frames._DIRECT_ROWS])          # built column by column
    pd.testing.assert_frame_equal(make_frame("registry", many).iloc[:frames._DIRECT_ROWS], head, check_exact=True)


def test_empty_frames_are_fresh_copies_equal_to_a_built_empty_frame():
    for name, schema in SCHEMAS.items():
        built = pd.DataFrame({col: pd.Series([], dtype=dtype) for col, dtype in schema.items()})
        first = frames.empty_frame(name)
        pd.testing.assert_frame_equal(first, built, check_exact=True)
        first["host"] = pd.Series([], dtype="object") if "host" in first else None    # a caller's change stays its own
        pd.testing.assert_frame_equal(frames.empty_frame(name), built, check_exact=True)
    cols = {c: [] for c in SCHEMAS["events"]}
    pd.testing.assert_frame_equal(frames.frame_from_columns("events", cols), frames.empty_frame("events"), check_exact=True)


def test_a_column_no_row_has_is_all_missing_in_any_dtype(monkeypatch):
    """CONTRIBUTING's "Add a column" may bring a dtype the fast path does not build (float64):
    a frame whose rows lack that column still gets it, all missing, in its dtype."""
    schema = dict(frames.SCHEMAS["keypacks"], ratio="Float64", score="float64")
    monkeypatch.setitem(frames.SCHEMAS, "keypacks", schema)
    built = make_frame("keypacks", [{"keypack_id": "7", "total": 5}])
    assert str(built["ratio"].dtype) == "Float64" and str(built["score"].dtype) == "float64"
    assert built["ratio"].isna().all() and built["score"].isna().all()
