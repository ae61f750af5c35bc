"""Pipeline steps that combine artifacts."""
import pandas as pd

from analyzer.frames import make_frame
from analyzer.pipeline import collection_time, join_issued_to_keypacks


def test_issued_licenses_take_version_and_type_from_their_pack():
    keypacks = make_frame("keypacks", [dict(license_server="LS01", keypack_id="5", cal_version="2019", cal_type="per_device")])
    issued = make_frame("issued", [dict(license_server="LS01", keypack_id="5", issued_to="PC-1"),
                                   dict(license_server="LS02", keypack_id="5", issued_to="PC-2"),
                                   dict(license_server="LS01", keypack_id="9", cal_version="2022", cal_type="per_user")])
    out = join_issued_to_keypacks(issued, keypacks)
    assert list(out["cal_version"].fillna("-")) == ["2019", "-", "2022"]
    assert list(out["cal_type"].fillna("-")) == ["per_device", "-", "per_user"]
    assert str(out["cal_version"].dtype) == "string"


def test_collection_time_is_newest_timestamp_not_wall_clock():
    frames = {"events": make_frame("events", [dict(time="2024-11-05T10:15:00Z"), dict(time="2024-11-01T00:00:00Z")]),
              "registry": make_frame("registry", [dict(last_write="2024-11-04T00:00:00Z")])}
    when, origin = collection_time(frames, None)
    assert when == pd.Timestamp("2024-11-05T10:15:00Z") and origin == "newest event"
    frames["events"] = make_frame("events", [])
    when, origin = collection_time(frames, None)
    assert when == pd.Timestamp("2024-11-04T00:00:00Z") and origin == "newest registry write"


def test_collection_time_counts_records_that_were_not_kept():
    """A fact for the newest record of an EVTX (kept or not) beats the newest kept event."""
    from datetime import datetime, timezone
    frames = {"events": make_frame("events", [dict(time="2024-11-01T00:00:00Z")]),
              "registry": make_frame("registry", [])}
    newest = datetime(2024, 11, 5, 10, 13, tzinfo=timezone.utc)
    when, origin = collection_time(frames, None, [{"name": "collected_at", "value": newest, "origin": "evtx"}])
    assert when == pd.Timestamp(newest) and origin == "newest event"
