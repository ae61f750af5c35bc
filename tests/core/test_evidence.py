"""One evidence module (issue 16 item 3): every kind of evidence keeps its frame's whole row."""
import pandas as pd

from rdsla.core.evidence import event_evidence, issued_evidence, keypack_evidence, registry_evidence
from rdsla.core.frames import SCHEMAS, make_frame


def _one(frame: str, **values) -> pd.Series:
    return make_frame(frame, pd.DataFrame([values])).iloc[0]


def test_evidence_carries_the_whole_row_and_its_locator():
    ev = event_evidence(_one("events", host="RDSH01", provider=None, source_name="TermService", event_id=1128,
                             legacy_event_id=1128, level=3, record_id=42, computer="RDSH01.corp.example",
                             data={"x": "1"}, source="RDSH01/System.evtx"), "grace")
    assert set(ev.detail) == set(SCHEMAS["events"]) - {"source"}
    assert ev.detail["provider"] == "TermService" and ev.detail["data"] == {"x": "1"} and ev.detail["level"] == 3
    assert ev.locator == {"record_id": 42} and ev.source == "RDSH01/System.evtx" and ev.note == "grace"
    reg = registry_evidence(_one("registry", host="RDSH01", key="HKLM\\X", value="V", data="A" * 200, source="s"))
    assert reg.locator == {"key": "HKLM\\X", "value": "V"} and reg.detail["host"] == "RDSH01"
    assert reg.detail["data"].startswith("A" * 96) and "(100 bytes)" in reg.detail["data"]
    kp = keypack_evidence(_one("keypacks", license_server="LS01", keypack_id="7", total=None, unlimited=True, source="k"))
    assert kp.detail["unlimited"] is True and kp.locator == {"keypack_id": "7", "row": 0}
    iss = issued_evidence(_one("issued", license_server="LS01", issued_to="alice", source="i"))
    assert set(iss.detail) == set(SCHEMAS["issued"]) - {"source"} and iss.locator == {"row": 0}


def test_hosts_and_rules_build_evidence_with_the_same_functions():
    from rdsla.analyzer import hosts
    from rdsla.rules import api
    assert hosts.event_evidence is api.event_evidence is event_evidence
    assert hosts.registry_evidence is registry_evidence


def test_records_are_present_of_every_value_of_to_dict_records():
    """core.evidence.records (issue 20): the same keys, values and Python types as present() of
    each value of to_dict('records'), for every dtype of the schemas with and without NA."""
    from rdsla.core.evidence import present, records
    events = make_frame("events", [
        {"host": "RDSH01", "event_id": 1128, "legacy_event_id": None, "time": "2026-12-01T10:00:00Z",
         "record_id": 7, "data": {"p1": "LS01"}, "message": None},
        {"host": None, "event_id": None, "legacy_event_id": 1128, "time": None, "record_id": None, "data": None},
    ])
    keypacks = make_frame("keypacks", [{"license_server": "LS01", "total": 5, "unlimited": None, "builtin": True},
                                       {"license_server": None, "total": None, "unlimited": False}])
    mixed = pd.DataFrame({"f": [1.5, float("nan")], "o": [["a"], float("nan")]})
    for frame in (events, keypacks, mixed, events.iloc[0:0]):
        expected = [{k: present(v) for k, v in r.items()} for r in frame.to_dict("records")]
        got = records(frame)
        assert got == expected
        assert [[type(v) for v in r.values()] for r in got] == [[type(v) for v in r.values()] for r in expected]
    assert records(events)[1]["time"] is None and records(events)[0]["record_id"] == 7


def test_rows_are_records_that_know_their_index_label():
    """core.evidence.rows (issue 20): the records of a frame, each knowing its index label as
    ``name`` like a row of iterrows (key-pack and issued evidence locate rows by it); a frame
    carrying its records in the RECORD column hands those out, the same objects each time."""
    from rdsla.core.evidence import RECORD, records, rows
    frame = make_frame("keypacks", [{"license_server": "LS01", "keypack_id": "1", "total": 5},
                                    {"license_server": None, "keypack_id": "2", "total": None}]).iloc[[1, 0]]
    got = rows(frame)
    assert [dict(r) for r in got] == records(frame) and [r.name for r in got] == [1, 0]
    assert [r.name for r in rows(frame.iloc[0:0])] == []
    assert [keypack_evidence(r).locator for r in got] == [keypack_evidence(r).locator for _, r in frame.iterrows()]
    carried = frame.assign(**{RECORD: got})
    again = rows(carried.iloc[[1]])
    assert again[0] is got[1]


def test_rows_are_read_only_and_survive_pickle_and_copy():
    """The rules' event rows are made once per analysis and shared by every rule (rules.context):
    a rule writing into one would change what every later rule and the report read."""
    import copy
    import pickle
    import pytest
    from rdsla.core.evidence import RECORD, rows
    frame = make_frame("keypacks", [{"keypack_id": "7", "total": 5}, {"keypack_id": "8", "total": 2}])
    first = rows(frame)[1]
    for change in (lambda r: r.__setitem__("total", 9), lambda r: r.update(total=9), lambda r: r.pop("total"),
                   lambda r: r.setdefault("x", 1), lambda r: r.clear(), lambda r: r.popitem(),
                   lambda r: r.__delitem__("total")):
        with pytest.raises(TypeError, match="change a copy"):
            change(first)
    assert first["total"] == 2 and first.name == 1
    shared = frame.assign(**{RECORD: rows(frame)})
    assert rows(shared)[1] is shared[RECORD].iloc[1]            # handed out, not rebuilt
    for twin in (pickle.loads(pickle.dumps(first)), copy.copy(first), copy.deepcopy(first)):
        assert twin == first and twin.name == 1 and type(twin) is type(first)
    changed = dict(first) | {"total": 9}
    assert changed["total"] == 9 and first["total"] == 2
