"""pipeline._assemble: the frames of every artifact in one schema frame each, with the
artifact's name as ``source``, canonical machine names as ``host`` / ``license_server``, set
once per frame (issue 20) with the same result per row as per artifact."""
from datetime import datetime, timezone

import pandas as pd

from rdsla.analyzer.bundle import Intake
from rdsla.analyzer.pipeline import _assemble, join_issued_to_keypacks
from rdsla.core.frames import SCHEMAS, frame_from_columns, make_frame
from rdsla.parsers.base import ParseResult, Source

T = "2024-11-05T10:13:33.000001Z"


def _source(display, host_hint=None, origin=None):
    return Source(display=display, chain=(display,), size=1, kind="x", host_hint=host_hint, hint_origin=origin)


def _events(computers):
    return frame_from_columns("events", {"event_id": list(range(len(computers))), "computer": computers,
                                         "time": [T] * len(computers), "record_id": list(range(len(computers)))})


def test_assemble_sets_source_host_and_license_server_per_row():
    sources = [_source("b/System.evtx"), _source("b/RDSH02_System.evtx", "RDSH02", "file name"),
               _source("b/SYSTEM"), _source("b/LS01_rdls_LicenseKeyPacks.html"), _source("b/empty.evtx")]
    results = [ParseResult(frames={"events": _events(["rdsh01.contoso.local", None, "RDSH01"])},
                           computers={"rdsh01.contoso.local": 2}),
               ParseResult(frames={"events": _events([None, "-"])}),
               ParseResult(frames={"registry": make_frame("registry", [{"hive": "SYSTEM", "key": "HKLM\\SYSTEM\\X"}])},
                           computers={"RDSH01": 1}),
               ParseResult(frames={
                   "keypacks": make_frame("keypacks", [{"license_server": "ls01.contoso.local", "keypack_id": "5",
                                                        "cal_version": "2019", "cal_type": "per_user", "total": 10},
                                                       {"keypack_id": "6", "total": 5}]),
                   # a frame not in its schema's dtypes (an outside parser): conformed through make_frame
                   "issued": pd.DataFrame({"keypack_id": ["5", "6"], "issued_to": ["PC-1", "PC-2"],
                                           "license_server": [None, "LS01"]})},
                   computers={"LS01": 1}),
               ParseResult(frames={"events": _events([])})]
    out = _assemble(Intake(sources=sources), results)
    ev, reg, kp, iss = (out.frames[n] for n in ("events", "registry", "keypacks", "issued"))
    for name in ("events", "registry", "keypacks", "issued", "artifacts"):
        frame = out.frames[name]
        assert list(frame.columns) == list(SCHEMAS[name]), name
        assert [str(d) for d in frame.dtypes] == list(SCHEMAS[name].values()), name
        assert isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0
    assert ev["source"].tolist() == ["b/System.evtx"] * 3 + ["b/RDSH02_System.evtx"] * 2
    assert ev["host"].tolist() == ["RDSH01", "RDSH01", "RDSH01", "RDSH02", "RDSH02"]
    assert ev["event_id"].tolist() == [0, 1, 2, 0, 1]
    assert reg["host"].tolist() == ["RDSH01"] and reg["source"].tolist() == ["b/SYSTEM"]
    assert kp["license_server"].tolist() == ["LS01", "LS01"] and kp["total"].tolist() == [10, 5]
    assert iss["license_server"].tolist() == ["LS01", "LS01"]
    assert iss["cal_version"].fillna("-").tolist() == ["2019", "-"]      # joined from its pack across files
    assert out.frames["artifacts"]["path"].tolist() == [s.display for s in sources]
    assert "LS01" in out.hosts and "RDSH02" in out.hosts


def test_join_keeps_issued_licenses_that_name_their_cal():
    keypacks = make_frame("keypacks", [dict(license_server="LS01", keypack_id="5", cal_version="2019", cal_type="x")])
    issued = make_frame("issued", [dict(license_server="LS01", keypack_id="5", cal_version="2022", cal_type="per_user",
                                        issued_on=datetime(2024, 1, 1, tzinfo=timezone.utc))])
    out = join_issued_to_keypacks(issued, keypacks)
    pd.testing.assert_frame_equal(out, issued, check_exact=True)


def test_join_takes_the_first_pack_of_a_server_and_id_also_without_a_server():
    keypacks = make_frame("keypacks", [dict(keypack_id="5", cal_version="2016", cal_type="per_device"),
                                       dict(keypack_id="5", cal_version="2019", cal_type="per_user"),
                                       dict(license_server="LS01", cal_version="2022", cal_type="per_user"),
                                       dict(license_server="LS01", keypack_id="7", cal_type="per_user")])
    issued = make_frame("issued", [dict(keypack_id="5"), dict(license_server="LS01", keypack_id="7"),
                                   dict(license_server="LS01"), dict(license_server="LS01", keypack_id="5")])
    out = join_issued_to_keypacks(issued, keypacks)
    assert out["cal_version"].fillna("-").tolist() == ["2016", "-", "-", "-"]
    assert out["cal_type"].fillna("-").tolist() == ["per_device", "per_user", "-", "-"]
    assert [str(d) for d in out.dtypes] == list(SCHEMAS["issued"].values())
    assert issued["cal_type"].isna().all()                  # the input frame is not changed
