"""analyzer.frames: the column-wise builder gives exactly what make_frame gives."""
import pandas as pd

from rdsla.core.frames import frame_from_columns, make_frame


def test_frame_from_columns_equals_make_frame_also_on_values_pyarrow_refuses():
    cols = {"channel": ["System", None, "A\u00e9"], "provider": ["x", "y", 5],
            "event_id": [1, None, 2 ** 40], "time": ["2024-01-01T00:00:00.123456Z", None, "bad"],
            "record_id": [1, 2 ** 64 - 1, None], "data": [{"a": "b"}, {}, [1, 2]],
            "level": [True, 2, None], "qualifiers": ["1", 2, None]}
    fast = frame_from_columns("events", cols)
    pd.testing.assert_frame_equal(fast, make_frame("events", pd.DataFrame(cols)))
    assert fast["record_id"].isna().tolist() == [False, True, True]     # uint64 past 2**63: NA
    assert fast["provider"].tolist() == ["x", "y", "5"]


def test_frame_from_columns_of_nothing_is_the_empty_schema():
    empty = frame_from_columns("events", {})
    assert len(empty) == 0 and list(empty.columns) == list(make_frame("events", []).columns)
    assert empty.dtypes.equals(make_frame("events", []).dtypes)
