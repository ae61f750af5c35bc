"""parsers.evtx on files written by the forge's EVTX writer: known content, both backends."""
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from rdsla.parsers.base import ParseOptions, Source
from rdsla.parsers.evtx import parse

writer = pytest.importorskip("rdsla.sample_data.forge.evtx_writer")

RCM = "Microsoft-Windows-TerminalServices-RemoteConnectionManager"
T0 = datetime(2025, 3, 1, 8, 0, 0, 123456, tzinfo=timezone.utc)


def records(noise: int = 100):
    rec = writer.EventRecord
    out = [
        rec(RCM, 50280, T0, f"{RCM}/Admin", "RDSH01.corp.example", level=3,
            provider_guid="{c76baa63-ae81-421c-b425-340b4b24157f}", data={}),
        rec(RCM, 1128, T0 + timedelta(seconds=1), "System", "RDSH01.corp.example",
            event_source_name="TermService", qualifiers=49152, level=3, data=[]),
        rec(RCM, 50283, T0 + timedelta(seconds=2), f"{RCM}/Admin", "RDSH01.corp.example",
            level=3, data={"param1": "LS01"}),
        rec("Service Control Manager", 7036, T0 + timedelta(seconds=3), "System",
            "LS01.corp.example", qualifiers=16384, event_source_name="Service Control Manager",
            data={"param1": "Remote Desktop Licensing", "param2": "stopped"},
            binary="TermServLicensing/1".encode("utf-16-le") + b"\0\0"),
    ]
    for i in range(noise):
        out.append(rec("Service Control Manager", 7036, T0 + timedelta(minutes=i + 1), "System",
                       "RDSH01.corp.example", qualifiers=16384,
                       event_source_name="Service Control Manager",
                       data={"param1": "Windows Update", "param2": "running"}))
    return out


def parse_file(path, **kw):
    src = Source(display=path.name, chain=(str(path),), size=path.stat().st_size, kind="evtx")
    return parse(src, ParseOptions(**kw))


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    path = tmp_path_factory.mktemp("forge") / "System.evtx"
    writer.write_evtx(path, records())
    return path


def test_catalog_events_are_kept_with_legacy_ids_and_messages(clean):
    res = parse_file(clean)
    ev = res.frames["events"]
    assert res.records_read == 104 and res.status == "ok"
    assert list(ev["event_id"]) == [50280, 1128, 50283, 7036]
    assert list(ev["legacy_event_id"]) == [1128, 1128, 1131, 7036]
    assert ev["time"].iloc[0] == pd.Timestamp(T0)
    assert ev["message"].iloc[2].startswith(
        "The Remote Desktop Session Host server could not contact the Remote Desktop license server LS01.")
    assert res.computers == {"RDSH01.corp.example": 103, "LS01.corp.example": 1}
    noise = [s for s in res.event_stats if not s["relevant"]]
    assert noise == [{"channel": "System", "provider": "Service Control Manager",
                      "event_id": 7036, "count": 100, "relevant": False}]


@pytest.mark.parametrize("all_events", [False, True])
def test_backends_agree_on_forge_files(clean, all_events):
    a = parse_file(clean, evtx_backend="rust", all_events=all_events)
    b = parse_file(clean, evtx_backend="python", all_events=all_events)
    pd.testing.assert_frame_equal(a.frames["events"], b.frames["events"])
    assert a.event_stats == b.event_stats


def dirty_file(tmp_path):
    dirty = tmp_path / "dirty.evtx"
    info = writer.write_evtx(dirty, records(600), dirty=True, stale_chunks=1)
    assert info["chunks"] > 2
    return dirty


@pytest.mark.slow
def test_python_backend_reads_past_a_stale_forge_header(tmp_path):
    assert parse_file(dirty_file(tmp_path), evtx_backend="python").records_read == 604


@pytest.mark.slow
def test_dirty_header_and_truncated_last_chunk(tmp_path):
    assert parse_file(dirty_file(tmp_path)).records_read == 604
    cut = tmp_path / "cut.evtx"
    writer.write_evtx(cut, records(600), truncate_last_chunk=True)
    res = parse_file(cut)
    assert res.status == "partial" and res.records_lost >= 1
    assert any("truncated" in w for w in res.warnings)
    assert res.records_read + res.records_lost >= 604 - 1


def test_mixed_channels_and_computers_are_counted_per_record(tmp_path):
    """A saved custom view mixes logs: counts stay exact when channel and computer change
    inside a batch, back and forth (the Rust path checks them against the first record's)."""
    rec = writer.EventRecord
    out = []
    for i in range(700):
        host = "A.corp.example" if i % 7 else "B.corp.example"
        channel = "System" if i < 300 or i % 3 else "Application"
        out.append(rec("Service Control Manager", 7036 if i % 2 else 7040, T0 + timedelta(seconds=i),
                       channel, host, qualifiers=16384, event_source_name="Service Control Manager",
                       data={"param1": "Windows Update", "param2": "running"}))
    path = tmp_path / "Mixed.evtx"
    writer.write_evtx(path, out)
    want_hosts = {"A.corp.example": sum(1 for i in range(700) if i % 7),
                  "B.corp.example": sum(1 for i in range(700) if not i % 7)}
    for backend in ("rust", "python"):
        for all_events in (False, True):
            res = parse_file(path, evtx_backend=backend, all_events=all_events)
            assert res.computers == want_hosts, (backend, all_events)
            stats = {(s["channel"], s["event_id"]): s["count"] for s in res.event_stats}
            assert stats == {
                ("System", 7036): sum(1 for i in range(700) if i % 2 and (i < 300 or i % 3)),
                ("System", 7040): sum(1 for i in range(700) if not i % 2 and (i < 300 or i % 3)),
                ("Application", 7036): sum(1 for i in range(700) if i % 2 and not (i < 300 or i % 3)),
                ("Application", 7040): sum(1 for i in range(700) if not i % 2 and not (i < 300 or i % 3)),
            }, (backend, all_events)
            if all_events:
                ev = res.frames["events"]
                assert list(ev["computer"]) == ["A.corp.example" if i % 7 else "B.corp.example" for i in range(700)]
                assert list(ev["channel"]) == ["System" if i < 300 or i % 3 else "Application" for i in range(700)]


def test_rows_do_not_depend_on_the_memo_size(tmp_path, monkeypatch):
    """--all-events memoizes the text from Channel on; emptying the memo often (a log of
    unique payloads) must not change a row."""
    rec = writer.EventRecord
    out = [rec("Service Control Manager", 7036, T0 + timedelta(seconds=i), "System", "A.corp.example",
               qualifiers=16384, event_source_name="Service Control Manager",
               data={"param1": f"Service {i % 37}", "param2": "running" if i % 2 else "stopped"})
           for i in range(400)]
    path = tmp_path / "Unique.evtx"
    writer.write_evtx(path, out)
    whole = parse_file(path, all_events=True).frames["events"]
    import rdsla.parsers.evtx_rust as rust
    monkeypatch.setattr(rust, "TAIL_MEMO", 5)
    small = parse_file(path, all_events=True).frames["events"]
    pd.testing.assert_frame_equal(whole, small)
    assert whole["data"].iloc[39] == {"param1": "Service 2", "param2": "running"}


def test_a_damaged_template_table_costs_nothing_and_logs_nothing(tmp_path, capsys, caplog):
    # python-evtx logged "Unexpected token encountered" to stderr, naming no file, though every
    # record still decodes from the template it carries
    path = tmp_path / "System.evtx"
    writer.write_evtx(path, records(3))
    data = bytearray(path.read_bytes())
    data[0x1000 + 0x180:0x1000 + 0x184] = (0x300).to_bytes(4, "little")   # a bucket pointing at no template
    path.write_bytes(bytes(data))
    res = parse_file(path, evtx_backend="python")
    assert (res.status, res.records_read) == ("ok", 7)
    assert "Unexpected token" not in capsys.readouterr().err + caplog.text
