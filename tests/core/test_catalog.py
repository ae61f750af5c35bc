"""The event catalog (core/data/event_catalog.csv) against RDS_LICENSING.md section 1."""
from rdsla.core import catalog
from rdsla.core.catalog import legacy_event_id, lookup, load_catalog, relevant_keys

RCM = "Microsoft-Windows-TerminalServices-RemoteConnectionManager"
LS = "Microsoft-Windows-TerminalServices-Licensing"


def test_every_row_is_complete():
    entries = load_catalog()
    assert len(entries) >= 60
    for e in entries:
        assert e.key and e.key == e.key.lower() and " " not in e.key
        assert e.provider and e.message and e.meaning and e.channels
        assert e.side in {"session_host", "license_server", "any"}


def test_section_1_2_and_1_3_ids_are_all_there():
    rcm = {e.event_id for e in load_catalog() if e.provider == RCM}
    assert {1003, 1004, 1011, 1028, 1043, 1061, 1068, 1069, 1128, 1129, 1130, 1131, 1132,
            1133, 1136, 50180, 50195, 50213, 50214, 50215, 50216, 50280, 50281, 50282, 50283,
            50284, 50285, 20497} <= rcm
    ls = {e.event_id for e in load_catalog() if e.provider == LS}
    assert {0, 3, 4, 9, 12, 14, 16, 17, 18, 19, 20, 21, 22, 44, 70, 71, 72, 73, 74, 76,
            4105, 4106, 4107, 4108, 4140, 4141, 4144, 8196} <= ls


def test_manifest_and_legacy_forms_share_the_key():
    assert lookup(RCM, 50280).key == lookup("TermService", 1128).key == "grace_period_expired"
    assert lookup(RCM, 50282).legacy_event_id == 1130
    assert lookup(RCM, 50282).key == "no_license_server_specified"
    for e in load_catalog():
        if e.provider == RCM and e.event_id >= 0xC000:
            assert e.legacy_event_id == e.event_id - 0xC000


def test_legacy_id_rule_only_for_the_session_host_service():
    assert legacy_event_id(RCM, 50280) == 1128
    assert legacy_event_id("termservice", 50283) == 1131
    assert legacy_event_id(None, 50283, source_name="TermService") == 1131
    assert legacy_event_id(RCM, 20497) == 20497
    assert legacy_event_id("Some-Other-Provider", 50280) == 50280


def test_license_server_names_match_both_providers():
    assert lookup(LS, 18).key == "ls_not_activated"
    assert lookup("TermServLicensing", 18).key == "ls_not_activated"
    assert lookup("termservlicensing", 4141).side == "license_server"
    assert lookup(LS, 9999) is None
    assert lookup("Unknown", 18) is None


def test_scm_events_need_the_service_name():
    scm = "Service Control Manager"
    assert lookup(scm, 7036, {"param1": "Remote Desktop Licensing", "param2": "stopped"}).key \
        == "ls_service_state"
    assert lookup(scm, 7036, {"param1": "Remote Desktop Services", "param2": "running"}).key \
        == "rdsh_service_state"
    # a look-alike name must not match (the port redirector is another service)
    assert lookup(scm, 7036, {"param1": "Remote Desktop Services UserMode Port Redirector"}) is None
    assert lookup(scm, 7036, {"param1": "Windows Update", "param2": "running"}) is None
    # localized display name: the service key name in Binary (UTF-16LE hex) decides
    binary = "TermServLicensing/1".encode("utf-16-le").hex().upper() + "0000"
    assert lookup(scm, 7036, {"param1": "Remotedesktoplizenzierung", "Binary": binary}).key \
        == "ls_service_state"
    assert lookup(scm, 7040, {"param1": "x", "param4": "TermService"}).key \
        == "rdsh_service_start_type_changed"


def test_render_fills_placeholders_and_keeps_missing_ones():
    e = lookup(RCM, 1129)
    text = e.render(["4/1/2025 10:00:00 AM"])
    assert "about to expire on 4/1/2025 10:00:00 AM and" in text
    assert catalog.render_template("%1 and %2", ["a"]) == "a and %2"


def test_relevant_keys_are_lower_case_name_id_pairs():
    keys = relevant_keys()
    assert (RCM.lower(), 50280) in keys and ("termservice", 1128) in keys
    assert ("service control manager", 7036) in keys
    assert ("service control manager", 7001) not in keys
