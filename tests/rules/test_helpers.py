"""rules.helpers.id_list (issue 20): the '1131 x3, 1128 (= 50280) x2' text counted in Python says
what the groupby it replaced said, in the same order (event id, then legacy id, a missing one last)."""
from __future__ import annotations

import pandas as pd

from rdsla.rules.helpers import id_list


def by_groupby(df: pd.DataFrame) -> str:
    parts = []
    for (eid, legacy), grp in df.groupby([df["event_id"].astype("Int64"), df["_legacy"].astype("Int64")],
                                         dropna=False):
        label = str(eid) if pd.isna(legacy) or legacy == eid else f"{eid} (= {legacy})"
        parts.append(f"{label} x{len(grp)}")
    return ", ".join(parts)


def frame(pairs):
    return pd.DataFrame({"event_id": pd.array([e for e, _ in pairs], dtype="Int64"),
                         "_legacy": pd.array([v for _, v in pairs], dtype="Int64")})


def test_id_list_counts_like_the_groupby():
    cases = [
        [(1131, 1131)] * 3 + [(50280, 1128)] * 2 + [(1128, 1128)],
        [(1128, None), (1128, 1128), (1128, None), (44, None)],
        [(50283, 1131), (1131, 1131), (50283, 1131), (7036, 7036), (1, None)],
        [(21, 21)],
    ]
    for pairs in cases:
        df = frame(pairs)
        assert id_list(df) == by_groupby(df)
        assert id_list(df.iloc[::-1]) == by_groupby(df.iloc[::-1])     # order of the rows does not matter
    assert id_list(frame([(50280, 1128), (50280, 1128), (1131, None)])) == "1131 x1, 50280 (= 1128) x2"
    assert id_list(frame([])) == ""


def test_names_in_one_records_data_are_those_event_names_finds_in_its_frame():
    """rules.helpers.names_in_data (issue 20): the names event_names finds in a one-row frame,
    without making the frame (RDSLIC-023 asks it of every 1131/1132 after a change)."""
    from rdsla.rules.helpers import event_names, names_in_data
    for data in ({"p1": "ls02.contoso.com", "p2": "RDSH01"}, {"p1": "a name with spaces", "p2": "12"},
                 {"p1": ""}, None, {}):
        assert names_in_data([data]) == event_names(pd.DataFrame({"data": [data]}))
    assert names_in_data([{"p1": "LS02"}, {"p1": "ls02"}, {"p1": "LS03"}]) == ["LS02", "LS03"]


def test_newest_rows_are_those_newest_picks_from_the_frame():
    """rules.helpers.newest_rows (issue 20): the same rows, in the same order, as newest() of the
    frame: a stable sort by time with a missing time last, then the last n."""
    from rdsla.core.evidence import rows
    from rdsla.rules.helpers import newest, newest_rows
    times = ["2026-12-02T10:00:00Z", None, "2026-12-01T10:00:00Z", "2026-12-02T10:00:00Z", "2026-11-30T10:00:00Z"]
    df = pd.DataFrame({"time": pd.to_datetime(times, utc=True), "record_id": [1, 2, 3, 4, 5]})
    for n in (1, 2, 3, 5, 9):
        assert [r["record_id"] for r in newest_rows(rows(df), n)] == newest(df, n)["record_id"].tolist()
    assert newest_rows(rows(df), 0) == []
