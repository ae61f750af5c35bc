"""Pipeline steps that combine artifacts."""
import pandas as pd

from rdsla.core.frames import make_frame
from rdsla.analyzer.pipeline import collection_time, join_issued_to_keypacks


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


def test_a_decoder_that_never_returns_is_killed_and_the_rest_is_read(tmp_path, monkeypatch):
    """--artifact-timeout for native decoders: the worker is killed, the file is a failed row
    naming the limit, and every other file of the bundle is still parsed."""
    import time

    monkeypatch.setenv("RDSLA_START_METHOD", "fork")   # the patched parser reaches the workers by fork

    import rdsla.parsers.evtx as evtx
    from rdsla.core.limits import Limits
    from rdsla.analyzer.pipeline import ingest
    from rdsla.parsers.base import ParseOptions
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "stuck.evtx").write_bytes(b"ElfFile\x00" + b"\x00" * 4088)
    (tmp_path / "b" / "RDSH01_TS.reg").write_bytes(b"\xff\xfe" + (
        "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n"
        "\"Current\"=dword:00000001\r\n").encode("utf-16-le"))

    def spin(source, options):
        import signal
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})   # like a native loop: no handler runs
        while True:
            time.sleep(0.05)
    monkeypatch.setattr(evtx, "parse", spin)     # inherited by the forked workers
    started = time.monotonic()
    ingested = ingest([str(tmp_path / "b")], ParseOptions(limits=Limits(artifact_seconds=2)), jobs=1)
    assert time.monotonic() - started < 30
    rows = {r["path"]: r for r in ingested.frames["artifacts"].to_dict("records")}
    assert rows["b/stuck.evtx"]["status"] == "failed" and "--artifact-timeout" in rows["b/stuck.evtx"]["warnings"][0]
    assert rows["b/RDSH01_TS.reg"]["status"] == "ok"


def test_integer_columns_take_out_of_range_values_as_na():
    """Fuzz find: a damaged EVTX record id above 2**63 (uint64) crashed frame building."""
    import numpy as np
    frame = make_frame("events", pd.DataFrame({"record_id": np.array([2 ** 64 - 1, 7], dtype="uint64"),
                                               "event_id": [1.5, 1128.0], "level": ["x", "4"]}))
    assert frame["record_id"].isna().tolist() == [True, False] and frame["record_id"].iloc[1] == 7
    assert frame["event_id"].isna().tolist() == [True, False] and frame["level"].tolist()[1] == 4
    assert str(frame["record_id"].dtype) == "Int64"
