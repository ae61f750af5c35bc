"""The forge's EVTX writer: valid files that three independent readers decode identically.

Readers: python-evtx (pure Python), the Rust `evtx` package (records_json) and libevtx's
`evtxexport -f xml` (Debian libevtx-utils; skipped when the binary is absent).
"""
from __future__ import annotations

import base64
import io
import json
import re
import shutil
import struct
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import Evtx.Evtx as PyEvtx
import evtx as rust_evtx
import pytest
from lxml import etree

from rdsla.sample_data.forge.evtx_writer import CHUNK_SIZE, FILE_HEADER_SIZE, EventRecord, write_evtx

T0 = datetime(2024, 3, 1, 8, 0, 0, 123456, tzinfo=timezone.utc)
RCM = "Microsoft-Windows-TerminalServices-RemoteConnectionManager"
RCM_GUID = "{c76baa63-ae81-421c-b425-340b4b24157f}"
RDPCORE = "Microsoft-Windows-RemoteDesktopServices-RdpCoreTS"
SCM_GUID = "{555908d1-a6d7-4695-8e1e-26931d2012f4}"


def sample_records() -> list[EventRecord]:
    """Classic and manifest events, named/unnamed Data, UserData, Binary, non-ASCII BMP text,
    empty values, and a few big events so that the file spans several chunks."""
    records = []
    for i in range(180):
        at = T0 + timedelta(seconds=37 * i, microseconds=i)
        host = ("RDSH01.contoso.com", "LS01.contoso.com")[i % 2]
        kind = i % 6
        if kind == 0:
            records.append(EventRecord(
                RCM, 1128 + i % 6, at, RCM + "/Admin", host, level=3, provider_guid=RCM_GUID,
                keywords=0x4000000000000000, process_id=1956, thread_id=2000 + i, user_sid="S-1-5-20",
                activity_id="{806fffc1-cb80-4916-a4be-0cf542d0b557}",
                user_data=("EventXML", "Event_NS", {"Param1": f"Müller-{i}", "Param2": ""})))
        elif kind == 1:
            records.append(EventRecord(
                RCM, 1056, at, "System", host, event_source_name="TermService",
                provider_guid="{C76BAA63-AE81-421C-B425-340B4B24157F}", qualifiers=49152,
                keywords=0x0080000000000000, data=[f"<string>{host}</string>", "東京"],
                binary=bytes(range(i % 20))))
        elif kind == 2:
            records.append(EventRecord(
                "Service Control Manager", 7036, at, "System", host, provider_guid=SCM_GUID,
                event_source_name="Service Control Manager", qualifiers=16384, process_id=680,
                thread_id=1332, data={"param1": "Remote Desktop Services", "param2": "running"},
                binary="TermService".encode("utf-16-le")))
        elif kind == 3:
            records.append(EventRecord(
                RDPCORE, 131, at, RDPCORE + "/Operational", host, task=4, opcode=14, version=1,
                provider_guid="{1139c61b-b549-4251-8ed3-27250a1edec8}", keywords=0x4000000000000000,
                user_sid="S-1-5-21-3623811015-3361044348-30300820-1013",
                data={"ConnType": "TCP", "ClientIP": f"10.0.{i}.7:5{i:04d}", "Note": "x" * (1500 * (i % 4))}))
        elif kind == 4:
            records.append(EventRecord("EventLog", 6005 + i % 2, at, "System", host, qualifiers=32768,
                                       keywords=0x0080000000000000))
        else:
            records.append(EventRecord(
                "Microsoft-Windows-TerminalServices-Licensing", 4105, at, "System", host, level=2,
                event_source_name="TermServLicensing", qualifiers=0, keywords=0x0080000000000000,
                data={"Domain": "CONTOSO", "User": "Zoë Ångström", "Empty": ""}))
    return records


def canonical(records: list[EventRecord]) -> list[dict]:
    out = []
    for record_id, r in enumerate(records, start=1):
        if r.user_data is not None:
            data = dict(r.user_data[2])
        else:
            data = (dict(r.data) if isinstance(r.data, dict) else list(r.data)) if r.data else None
        out.append({
            "record_id": record_id, "event_id": r.event_id, "qualifiers": r.qualifiers,
            "provider": r.provider, "source_name": r.event_source_name, "channel": r.channel,
            "computer": r.computer, "time": r.time, "level": r.level, "keywords": r.keywords,
            "data": data, "binary": r.binary or b""})
    return out


def _time(text: str) -> datetime:
    m = re.match(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d+))?", text)
    micro = int((m.group(3) or "0")[:6].ljust(6, "0"))
    return datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}").replace(microsecond=micro, tzinfo=timezone.utc)


def _same(got: list[dict], want: list[dict], time_slack: timedelta) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert abs(g.pop("time") - w["time"]) <= time_slack, w["record_id"]
        assert g == {k: v for k, v in w.items() if k != "time"}


def from_xml(text: str, decode_binary) -> dict:
    """Normalize one rendered <Event> (python-evtx or libevtx) to the canonical form."""
    root = etree.fromstring(text.encode("utf-8"))

    def local(el):
        return etree.QName(el).localname

    def child(el, name):
        return next(c for c in el if local(c) == name)

    system = child(root, "System")
    provider, event_id = child(system, "Provider"), child(system, "EventID")
    data, binary = None, b""
    for part in root:
        if local(part) == "EventData":
            items = [c for c in part if local(c) == "Data"]
            if any("Name" in c.attrib for c in items):
                data = {c.get("Name"): c.text or "" for c in items}
            elif items:
                data = [c.text or "" for c in items]
            binaries = [c for c in part if local(c) == "Binary"]
            binary = decode_binary(binaries[0].text or "") if binaries else b""
        elif local(part) == "UserData":
            data = {local(c): c.text or "" for c in part[0]}
    return {
        "record_id": int(child(system, "EventRecordID").text),
        "event_id": int(event_id.text),
        "qualifiers": int(event_id.get("Qualifiers")) if event_id.get("Qualifiers") else None,
        "provider": provider.get("Name"), "source_name": provider.get("EventSourceName"),
        "channel": child(system, "Channel").text, "computer": child(system, "Computer").text,
        "time": _time(child(system, "TimeCreated").get("SystemTime")),
        "level": int(child(system, "Level").text), "keywords": int(child(system, "Keywords").text, 16),
        "data": data, "binary": binary}


def from_rust_json(text: str) -> dict:
    event = json.loads(text)["Event"]
    system = event["System"]
    provider = system["Provider"]["#attributes"]
    event_id = system["EventID"]
    qualifiers = None
    if isinstance(event_id, dict):
        qualifiers, event_id = event_id["#attributes"]["Qualifiers"], event_id["#text"]
    data, binary = None, b""
    if event.get("UserData"):
        fields = next(iter(event["UserData"].values()))
        data = {k: "" if v is None else str(v) for k, v in fields.items() if k != "#attributes"}
    elif event.get("EventData"):
        fields = dict(event["EventData"])
        binary = bytes.fromhex(fields.pop("Binary", None) or "")
        if set(fields) == {"Data"} and isinstance(fields["Data"], dict):
            texts = fields["Data"].get("#text")
            texts = texts if isinstance(texts, list) else [texts]
            data = ["" if t is None else str(t) for t in texts]
        elif fields:
            data = {k: "" if v is None else str(v) for k, v in fields.items()}
    return {
        "record_id": system["EventRecordID"], "event_id": event_id, "qualifiers": qualifiers,
        "provider": provider["Name"], "source_name": provider.get("EventSourceName"),
        "channel": system["Channel"], "computer": system["Computer"],
        "time": _time(system["TimeCreated"]["#attributes"]["SystemTime"]), "level": system["Level"],
        "keywords": int(system["Keywords"], 16), "data": data, "binary": binary}


@pytest.fixture(scope="module")
def records() -> list[EventRecord]:
    return sample_records()


@pytest.fixture(scope="module")
def written(tmp_path_factory, records) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("evtx") / "System.evtx"
    return path, write_evtx(path, records)


def test_layout_headers_and_checksums(written):
    path, summary = written
    raw = path.read_bytes()
    assert summary["chunks"] >= 3 and summary["records"] == 180 and summary["bytes"] == len(raw)
    assert len(raw) == FILE_HEADER_SIZE + summary["chunks"] * CHUNK_SIZE
    first, last, next_id, _, minor, major, block, count = struct.unpack_from("<QQQIHHHH", raw, 8)
    assert (first, last, next_id, minor, major, block, count) == (0, summary["chunks"] - 1, 181, 1, 3, 4096, summary["chunks"])
    with PyEvtx.Evtx(str(path)) as log:
        header = log.get_file_header()
        assert header.verify() and not header.is_dirty()
        expected_id = 1
        for chunk in log.chunks():
            assert chunk.verify()                   # header and record-data CRC32
            # every name node is reachable through the 64-bucket string table
            names = {node.string() for node in chunk.strings().values()}
            assert {"Event", "System", "Provider", "EventID", "TimeCreated", "Computer",
                    "Security", "UserID", "EventData", "Data", "Name"} <= names
            assert chunk.log_first_record_number() == expected_id
            for record in chunk.records():
                assert record.record_num() == expected_id and record.size() % 8 == 0
                end = record.offset() - chunk.offset() + record.size()
                assert end < CHUNK_SIZE             # never split, never flush with the chunk end
                expected_id += 1
            assert chunk.log_last_record_number() == expected_id - 1
    assert expected_id == 181


def test_templates_defined_once_per_chunk_and_referenced(written):
    path, summary = written
    total_templates = 0
    with PyEvtx.Evtx(str(path)) as log:
        for chunk in log.chunks():
            records = list(chunk.records())
            defined, referenced = 0, set()
            for record in records:
                raw = record.data()
                assert raw[24:30] == b"\x0f\x01\x01\x00\x0c\x01"   # fragment + TemplateInstance
                offset = struct.unpack_from("<I", raw, 34)[0]
                referenced.add(offset)
                defined += offset == record.offset() - chunk.offset() + 38   # defined inline here
            assert defined == len(referenced)       # each System template written once per chunk
            # python-evtx finds every template (System and nested) through the 32-entry table
            assert referenced <= set(chunk.templates())
            assert len(chunk.templates()) > len(referenced)   # + nested EventData/UserData ones
            total_templates += len(chunk.templates())
    assert total_templates < summary["records"] / 2


def test_substitution_value_types(written):
    path, _ = written
    with PyEvtx.Evtx(str(path)) as log:
        manifest, classic = list(log.records())[:2]
        types = [type(s).__name__ for s in manifest.root().substitutions()]
        assert types == [
            "UnsignedByteTypeNode", "UnsignedByteTypeNode", "UnsignedWordTypeNode",
            "UnsignedWordTypeNode", "NullTypeNode", "Hex64TypeNode", "FiletimeTypeNode",
            "GuidTypeNode", "UnsignedDwordTypeNode", "UnsignedDwordTypeNode",
            "UnsignedQwordTypeNode", "UnsignedByteTypeNode", "SIDTypeNode", "NullTypeNode",
            "WstringTypeNode", "GuidTypeNode", "WstringTypeNode", "BXmlTypeNode"]
        classic_types = [type(s).__name__ for s in classic.root().substitutions()]
        assert classic_types[4] == "UnsignedWordTypeNode"          # Qualifiers
        assert classic_types[14:17] == ["NullTypeNode"] * 3         # literals in the template
        assert 'EventSourceName="TermService"' in classic.xml()


def test_manifest_layout_matches_real_rcm_admin_log(real_evtx, written):
    """Our manifest UserData event has the substitution layout of the real RCM/Admin log."""
    real = [p for p in real_evtx if p.name.startswith("Win10") and "RemoteConnectionManager%4Admin" in p.name]
    if not real:
        pytest.skip("real Win10 RCM/Admin log absent")
    with PyEvtx.Evtx(str(real[0])) as log:
        real_types = [type(s).__name__ for s in next(log.records()).root().substitutions()]
    with PyEvtx.Evtx(str(written[0])) as log:
        ours = [type(s).__name__ for s in next(log.records()).root().substitutions()]
    assert ours == real_types


def test_python_evtx_reads_the_same(written, records):
    path, _ = written
    with PyEvtx.Evtx(str(path)) as log:
        got = [from_xml(r.xml(), base64.b64decode) for r in log.records()]
    # python-evtx converts FILETIME through a float (53-bit mantissa, ~0.2 us steps in 2024,
    # then truncates): up to two microseconds off. The other readers are exact.
    _same(got, canonical(records), timedelta(microseconds=2))


def test_rust_evtx_reads_the_same(written, records):
    path, _ = written
    got = [from_rust_json(r["data"]) for r in rust_evtx.PyEvtxParser(str(path)).records_json()]
    _same(got, canonical(records), timedelta(0))


def test_libevtx_reads_the_same(written, records):
    tool = shutil.which("evtxexport")
    if tool is None:
        pytest.skip("evtxexport (libevtx-utils) is not installed")
    done = subprocess.run([tool, "-f", "xml", str(written[0])], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    events = re.findall(r"<Event .*?</Event>", done.stdout.decode("utf-8"), flags=re.S)
    got = [from_xml(e, bytes.fromhex) for e in events]
    _same(got, canonical(records), timedelta(0))


def test_deterministic_bytes_for_paths_and_file_objects(written, records):
    buffer = io.BytesIO()
    summary = write_evtx(buffer, iter(records))
    assert buffer.getvalue() == written[0].read_bytes() and summary == written[1]


def test_dirty_file_keeps_a_stale_header_that_hides_later_chunks(tmp_path, records):
    path = tmp_path / "dirty.evtx"
    summary = write_evtx(path, records, dirty=True, stale_chunks=1)
    with PyEvtx.Evtx(str(path)) as log:
        header = log.get_file_header()
        assert header.verify() and header.is_dirty() and header.chunk_count() == 1
        first_chunk = next(log.chunks())
        assert header.next_record_number() == first_chunk.log_last_record_number() + 1
        default = sum(1 for _ in log.records())
        everything = [r.record_num() for c in header.chunks(include_inactive=True) for r in c.records()]
    assert default < summary["records"]
    assert everything == list(range(1, summary["records"] + 1))
    rust_ids = [r["event_record_id"] for r in rust_evtx.PyEvtxParser(str(path)).records_json()]
    assert rust_ids == everything


def test_truncated_last_chunk_keeps_every_complete_chunk_readable(tmp_path, records):
    path = tmp_path / "truncated.evtx"
    summary = write_evtx(path, records, truncate_last_chunk=True)
    full = FILE_HEADER_SIZE + summary["chunks"] * CHUNK_SIZE
    assert FILE_HEADER_SIZE + (summary["chunks"] - 1) * CHUNK_SIZE < summary["bytes"] < full
    with PyEvtx.Evtx(str(path)) as log:
        complete = [r.record_num() for c in log.chunks() for r in c.records()]  # whole chunks only
    assert complete and complete == list(range(1, len(complete) + 1)) and len(complete) < 180
    rust_ids = []
    parser = iter(rust_evtx.PyEvtxParser(str(path)).records_json())
    while True:
        try:
            rust_ids.append(next(parser)["event_record_id"])
        except StopIteration:
            break
        except Exception:       # the Rust decoder raises per damaged record and can go on
            continue
    assert rust_ids[:len(complete)] == complete
    assert rust_ids == list(range(1, len(rust_ids) + 1))


def test_rejects_events_that_cannot_be_written():
    big = EventRecord("X", 1, T0, "System", "H", data=["y" * 40000])
    with pytest.raises(ValueError):
        write_evtx(io.BytesIO(), [big])
    both = EventRecord("X", 1, T0, "System", "H", data=["a"], user_data=("E", "", {"a": "b"}))
    with pytest.raises(ValueError):
        write_evtx(io.BytesIO(), [both])
    with pytest.raises(ValueError):
        write_evtx(io.BytesIO(), [EventRecord("X", 1, T0.replace(tzinfo=None), "System", "H")])
