"""Skimming logs whose channel holds no declared event (issue 20 item 1, parsers.evtx_skim).

A skimmed log must say what a full decode says of it: records read and lost, status, the
computers (so the host the ledger names), the newest and oldest record (so "now" and the
log's span), and nothing kept. Damage of any kind means a full decode, counted as before.
"""
from __future__ import annotations

import shutil
import struct
from dataclasses import replace
from pathlib import Path

import pytest

from rdsla.analyzer import pipeline
from rdsla.parsers import evtx as evtx_parser
from rdsla.parsers.base import ParseOptions, Source
from rdsla.parsers.evtx import parse
from rdsla.parsers.evtx_skim import relevant_channels, skim

REAL_LOGS = [
    "Srv2012R2_StolenSzechuan_RemoteDesktopServices-RdpCoreTS%4Operational.evtx",
    "Srv2012R2_StolenSzechuan_Security.evtx",
    "Srv2012R2_StolenSzechuan_System.evtx",
    "Srv2012R2_StolenSzechuan_TerminalServices-LocalSessionManager%4Operational.evtx",
    "Srv2012R2_StolenSzechuan_TerminalServices-RDPClient%4Operational.evtx",
    "Srv2012R2_StolenSzechuan_TerminalServices-RemoteConnectionManager%4Admin.evtx",
    "Srv2012R2_StolenSzechuan_TerminalServices-RemoteConnectionManager%4Operational.evtx",
    "Srv2022_APTSimulatorVM_System.evtx",
    "Srv2022_APTSimulatorVM_TerminalServices-LocalSessionManager%4Operational.evtx",
    "Win10_Belkasoft_System.evtx",
    "Win10_Belkasoft_TerminalServices-LocalSessionManager%4Operational.evtx",
    "Win10_Belkasoft_TerminalServices-RemoteConnectionManager%4Admin.evtx",
    "Win10_Belkasoft_TerminalServices-RemoteConnectionManager%4Operational.evtx",
    "hayabusa_ID302_RDS_Gateway_Logon_Logoff.evtx",
    "omerbenamram_2-vss_0-RemoteDesktopServices-RdpCoreTS%4Operational.evtx",
    "omerbenamram_2-vss_0-TerminalServices-RemoteConnectionManager%4Operational.evtx",
    "omerbenamram_sample-with-zero-data-size-event_System.evtx",
    "omerbenamram_sample_with_a_bad_chunk_magic.evtx",
    "plaso_System.evtx",
    "python-evtx_system.evtx",
    "velociraptor_RDPAuth_LocalSessionManager.evtx",
    "velociraptor_RDPAuth_RemoteConnectionManager.evtx",
    "velociraptor_RDPAuth_System.evtx",
]
SECURITY = "Srv2012R2_StolenSzechuan_Security.evtx"
NOTE = "not decoded: channel"


def src(path: Path) -> Source:
    return Source(display=path.name, chain=(str(path),), size=path.stat().st_size, kind="evtx")


def declared() -> ParseOptions:
    needs = pipeline.declared_needs()
    return ParseOptions(events=needs.events, registry=needs.registry)


def real(realdata: Path, name: str) -> Path:
    path = realdata / "evtx" / name
    if not path.is_file():
        pytest.skip(f"{name} is not in ../shared/realdata")
    return path


def skimmed(result) -> bool:
    return any(NOTE in w for w in result.warnings)


# -- the skim equals a full decode ---------------------------------------------------------------

@pytest.mark.parametrize("name", REAL_LOGS)
def test_a_forced_skim_counts_what_a_full_decode_reads(realdata, name):
    """Whatever its channel, a clean log skimmed has the full decode's record count, computers
    (with their counts: the artifact's host is the most frequent) and newest and oldest record
    to the second; a damaged log is not skimmed."""
    path = real(realdata, name)
    options = ParseOptions()
    result = skim(src(path), options, force=True)
    sink, errors = evtx_parser._run_rust(src(path), options)
    if result is None:
        assert errors, f"{name}: a clean log was not skimmed"
        return
    assert not errors
    got = result.sink
    assert got.records_read == sink.records_read
    assert dict(got.computers) == dict(sink.computers)
    assert got.newest == sink.newest
    assert getattr(got, "oldest", None) == getattr(sink, "oldest", None)


def test_only_logs_whose_channel_holds_no_declared_event_are_skimmed(realdata):
    """System (classic RCM events), RCM, LSM and licensing logs are decoded; Security, RdpCoreTS,
    the RDP client's and the Gateway's logs are skimmed; every parse result equals the one
    without skimming apart from the note and the absent (empty) events frame."""
    options = declared()
    relevant = relevant_channels(options.events)
    assert "system" in relevant and "security" not in relevant
    seen = set()
    for name in REAL_LOGS:
        path = realdata / "evtx" / name
        if not path.is_file():
            continue
        a = parse(src(path), options)
        b = parse(src(path), replace(options, skim=False))
        if skimmed(a):
            seen.add(name)
            assert not len(b.frames["events"])
            assert "events" not in a.frames
            assert [w for w in a.warnings if NOTE not in w] == b.warnings
            assert a.event_stats == [dict(r, skimmed=True) for r in
                                     [{"channel": ch, "provider": None, "event_id": None, "count": n, "relevant": False}
                                      for ch, n in _channels(b.event_stats).items()]]
        else:
            assert a.warnings == b.warnings and a.event_stats == b.event_stats
            assert a.frames["events"].equals(b.frames["events"])
        assert (a.status, a.records_read, a.records_lost, a.computers) == \
            (b.status, b.records_read, b.records_lost, b.computers)
        assert a.facts == b.facts                 # newest record ("now") and the log's span
    assert {SECURITY, "hayabusa_ID302_RDS_Gateway_Logon_Logoff.evtx",
            "Srv2012R2_StolenSzechuan_RemoteDesktopServices-RdpCoreTS%4Operational.evtx"} <= seen
    assert not any("System" in n or "RemoteConnectionManager" in n for n in seen)


def _channels(stats: list[dict]) -> dict:
    out: dict = {}
    for row in stats:
        out[row["channel"]] = out.get(row["channel"], 0) + row["count"]
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def test_hosts_now_and_findings_are_the_same_with_and_without_skimming(realdata):
    """Through the pipeline on every real log: the ledger (host, status, records read and lost),
    the machines and their aliases, the collection time and the findings are unchanged."""
    runs = {}
    for skim_on in (True, False):
        ingested = pipeline.ingest([str(realdata / "evtx")], replace(ParseOptions(), skim=skim_on), jobs=0)
        analysis = pipeline.reason(ingested, [str(realdata / "evtx")])
        art = ingested.frames["artifacts"]
        ledger = sorted((r["path"], r["host"], r["status"], int(r["records_read"]), int(r["records_lost"]))
                        for r in art.to_dict("records"))
        runs[skim_on] = (ledger, ingested.hosts, analysis.as_of, analysis.as_of_origin,
                         [f.to_dict() for f in analysis.findings], [c.to_dict() for c in analysis.root_causes],
                         [h.to_dict(analysis.as_of) for h in analysis.hosts])
        if skim_on:
            notes = [w for ws in art["warnings"] for w in ws if NOTE in w]
            assert any(SECURITY in w and "8,574 records, not decoded: channel Security holds no licensing event" in w
                       for w in notes)
    assert runs[True] == runs[False]


# -- what is never skimmed --------------------------------------------------------------------------

def test_all_events_and_skim_off_decode_every_record(realdata):
    path = real(realdata, SECURITY)
    for options in (replace(declared(), all_events=True), replace(declared(), skim=False)):
        res = parse(src(path), options)
        assert not skimmed(res) and res.records_read == 8574
    assert len(parse(src(path), replace(declared(), all_events=True)).frames["events"]) == 8574


def _copy(realdata: Path, tmp_path: Path, name: str = SECURITY) -> Path:
    target = tmp_path / "Security.evtx"
    shutil.copyfile(real(realdata, name), target)
    target.chmod(0o644)
    return target


def _same_as_full_decode(path: Path) -> None:
    options = declared()
    a = parse(src(path), options)
    b = parse(src(path), replace(options, skim=False))
    assert not skimmed(a)
    assert (a.status, a.records_read, a.records_lost, a.computers, a.warnings, a.facts) == \
        (b.status, b.records_read, b.records_lost, b.computers, b.warnings, b.facts)


def test_a_flipped_byte_inside_a_record_means_a_full_decode(realdata, tmp_path):
    """The chunk's data checksum no longer matches: damage is counted as before."""
    path = _copy(realdata, tmp_path)
    data = bytearray(path.read_bytes())
    data[0x1000 + 40 * 0x10000 + 0x3000] ^= 0xFF
    path.write_bytes(bytes(data))
    assert skim(src(path), declared()) is None
    _same_as_full_decode(path)


def test_a_last_chunk_cut_short_means_a_full_decode(realdata, tmp_path):
    path = _copy(realdata, tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:0x1000 + 10 * 0x10000 + 0x8000])
    assert skim(src(path), declared()) is None
    _same_as_full_decode(path)


def test_a_block_that_is_neither_a_chunk_nor_empty_means_a_full_decode(realdata, tmp_path):
    path = _copy(realdata, tmp_path)
    data = bytearray(path.read_bytes())
    data[0x1000 + 20 * 0x10000:0x1000 + 20 * 0x10000 + 8] = b"XXXXXXXX"        # a chunk's signature wiped
    path.write_bytes(bytes(data))
    assert skim(src(path), declared()) is None
    _same_as_full_decode(path)


def test_an_unused_block_and_a_stale_header_count_are_skimmed_exactly(realdata, tmp_path):
    """The real Security log's header counts 65 chunks of 88 (dirty); a zeroed 64 KiB block
    after the last chunk is an unused block: the skim still counts every record."""
    path = _copy(realdata, tmp_path)
    head = path.read_bytes()
    assert struct.unpack_from("<H", head, 42)[0] < 88          # the stale chunk count
    with open(path, "ab") as fh:
        fh.write(bytes(0x10000))
    res = parse(src(path), declared())
    assert skimmed(res) and res.records_read == 8574


def test_a_log_with_a_declared_channel_costs_only_its_first_chunk(realdata, monkeypatch):
    """System is rejected after decoding its first chunk, before any walk of the file."""
    from rdsla.parsers import evtx_skim
    calls = []
    monkeypatch.setattr(evtx_skim, "_layout", lambda data: calls.append(1))
    assert skim(src(real(realdata, "Srv2012R2_StolenSzechuan_System.evtx")), declared()) is None
    assert not calls


def test_a_zip_member_is_skimmed_from_the_bytes_read_once(realdata, tmp_path):
    import zipfile
    z = tmp_path / "upload.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(real(realdata, SECURITY), "LS01/Security.evtx")
    source = Source(display="upload.zip!/LS01/Security.evtx", chain=(str(z), "LS01/Security.evtx"),
                    size=real(realdata, SECURITY).stat().st_size, kind="evtx")
    res = parse(source, declared())
    assert skimmed(res) and res.records_read == 8574
    assert res.computers == parse(src(real(realdata, SECURITY)), replace(declared(), skim=False)).computers


def test_the_api_and_the_events_export_can_decode_everything(realdata, tmp_path, monkeypatch):
    import rdsla
    from rdsla.analyzer import cli
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copyfile(real(realdata, SECURITY), folder / "Security.evtx")
    notes = lambda reading: [w for ws in reading.artifacts["warnings"] for w in ws if NOTE in w]  # noqa: E731
    assert notes(rdsla.read(folder, jobs=0)) and not notes(rdsla.read(folder, jobs=0, skim=False))
    seen = []
    real_read = cli.api.read
    monkeypatch.setattr(cli.api, "read", lambda paths, **kw: seen.append(kw.get("skim", True)) or real_read(paths, **kw))
    assert cli.main(["export", str(folder), "--frame", "events", "--format", "jsonl", "--jobs", "0",
                     "-o", str(tmp_path / "events.jsonl")]) == 0
    assert cli.main(["export", str(folder), "--frame", "artifacts", "--format", "jsonl", "--jobs", "0",
                     "-o", str(tmp_path / "artifacts.jsonl")]) == 0
    assert seen == [False, True]


def _fix_checksums(data: bytearray, off: int) -> None:
    import zlib
    free = struct.unpack_from("<I", data, off + 48)[0]
    struct.pack_into("<I", data, off + 52, zlib.crc32(data[off + 0x200:off + free]))
    struct.pack_into("<I", data, off + 124, zlib.crc32(data[off + 128:off + 0x200], zlib.crc32(data[off:off + 120])))


def test_records_off_the_8_byte_grid_are_walked_one_by_one(realdata):
    """Windows writes records in multiples of 8 bytes, which the vectorized walk relies on; a
    chunk whose first record is 4 bytes longer is walked record by record, to the same count."""
    import numpy as np

    from rdsla.parsers import evtx_skim
    data = bytearray(real(realdata, SECURITY).read_bytes())
    off = 0x1000 + 5 * 0x10000
    first = off + 0x200
    size = struct.unpack_from("<I", data, first + 4)[0]
    free, last = struct.unpack_from("<I", data, off + 48)[0], struct.unpack_from("<I", data, off + 44)[0]
    assert free + 4 <= 0x10000
    record = data[first:first + size - 4] + bytes(4) + struct.pack("<I", size + 4)
    struct.pack_into("<I", record, 4, size + 4)
    data[first:off + free + 4] = record + data[first + size:off + free]
    struct.pack_into("<I", data, off + 44, last + 4)
    struct.pack_into("<I", data, off + 48, free + 4)
    _fix_checksums(data, off)
    walked = []
    real_walk = evtx_skim._walk_python
    layout = None
    try:
        evtx_skim._walk_python = lambda *a: walked.append(a[1]) or real_walk(*a)
        layout = evtx_skim._layout(bytes(data))
    finally:
        evtx_skim._walk_python = real_walk
    assert walked == [[off]]
    assert layout is not None and len(layout.pos) == 8574
    mine = layout.pos[layout.cidx == 5]
    assert mine[0] == first and np.all(mine[1:] % 8 == 4)


def test_every_template_s_computer_text_is_what_the_decoder_prints(realdata):
    """The computer of a template not decoded is read from its definition's <Computer> text:
    on every definition of every real log it equals the Rust decoder's Computer field."""
    import json

    import evtx

    from rdsla.parsers import evtx_skim
    checked = 0
    for name in REAL_LOGS:
        path = realdata / "evtx" / name
        if not path.is_file():
            continue
        data = path.read_bytes()
        where = {}
        for off in range(0x1000, len(data) - 0x10000 + 1, 0x10000):
            if data[off:off + 8] != b"ElfChnk\x00":
                continue
            free, p = struct.unpack_from("<I", data, off + 48)[0], off + 0x200
            while p < off + free:
                magic, size, rid = struct.unpack_from("<IIQ", data, p)
                if magic != 0x2A2A or size < 48:
                    break
                where[rid] = (off, off + struct.unpack_from("<I", data, p + 34)[0])
                p += size
        seen = set()
        records = evtx.PyEvtxParser(str(path)).records_json()
        while True:
            try:
                rec = next(records)
            except StopIteration:
                break
            except RuntimeError:
                continue
            chunk, start = where.get(rec["event_record_id"], (None, None))
            if start is None or start in seen:
                continue
            seen.add(start)
            length = struct.unpack_from("<I", data, start + 20)[0]
            got = evtx_skim._template_computer(data, chunk, start, data[start + 24:start + 24 + length])
            assert got == json.loads(rec["data"])["Event"]["System"]["Computer"], (name, start)
            checked += 1
    assert checked > 500             # 880 definitions in the 23 real logs
