"""RD Licensing reports: every form gives the same keypacks/issued rows; facts; damaged input."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from rdsla.analyzer.cli import main
from rdsla.parsers import recognize as sniff
from rdsla.parsers.licensing import parse_bytes

FIX = Path(__file__).parent / "fixtures" / "licensing"
UTC = timezone.utc


def utc(*a):
    return pd.Timestamp(datetime(*a, tzinfo=UTC))


def rows(result, frame):
    df = result.frames[frame]
    return [{k: (None if pd.isna(v) else v) for k, v in rec.items()} for rec in df.to_dict("records")]


KEYPACK_FILES = ["keypacks_export.csv", "keypacks_de_semicolon.csv", "keypacks_utf16.csv", "keypacks_ft.txt",
                 "keypacks_fl.txt", "keypacks_wmic.txt", "LS01_rdls_LicenseKeyPacks.html"]
ISSUED_FILES = ["issued_export.csv", "issued_gb_semicolon_utf16.csv", "issued_ft.txt", "issued_fl.txt",
                "issued_wmic.txt", "LS01_rdls_IssuedLicenses.html"]

EXPECTED_KEYPACKS = [
    dict(license_server="LS01", keypack_id="2", cal_version=None, cal_type="per_device", total=None, issued=0,
         available=None, unlimited=True, builtin=True, temporary=False, expires=utc(2035, 12, 31, 23), status="builtin"),
    dict(license_server="LS01", keypack_id="3", cal_version="2019", cal_type="per_user", total=50, issued=12,
         available=38, unlimited=False, builtin=False, temporary=False, expires=utc(2038, 1, 19, 3, 14, 7), status="volume"),
    dict(license_server="LS01", keypack_id="5", cal_version="2012", cal_type="per_device", total=None, issued=3,
         available=None, unlimited=True, builtin=False, temporary=True, expires=utc(2024, 3, 1, 12), status="temporary"),
    dict(license_server="LS01", keypack_id="7", cal_version="2022", cal_type="per_user", total=25, issued=25,
         available=0, unlimited=False, builtin=False, temporary=False, expires=utc(2038, 1, 19, 3, 14, 7), status="retail"),
]
EXPECTED_ISSUED = [
    dict(license_server="LS01", keypack_id="5", cal_version=None, cal_type=None, issued_to="PC-0042", issued_on=utc(2024, 1, 10, 8, 30),
         expires_on=utc(2024, 2, 25, 8, 30), status="temporary",
         hardware_id="0x4d2c1a00-11aa22bb-33cc44dd-55ee66ff"),
    dict(license_server="LS01", keypack_id="5", cal_version=None, cal_type=None, issued_to="PC-0043", issued_on=utc(2023, 12, 1, 9),
         expires_on=utc(2024, 3, 1, 9), status="active",
         hardware_id="0x4d2c1a01-11aa22bb-33cc44dd-55ee66ff"),         # +060 WMI offset -> 09:00 UTC
    dict(license_server="LS01", keypack_id="5", cal_version=None, cal_type=None, issued_to="PC-0044", issued_on=utc(2023, 11, 15, 7),
         expires_on=utc(2024, 1, 15, 7), status="revoked",
         hardware_id="0x4d2c1a02-11aa22bb-33cc44dd-55ee66ff"),
]


def parse_file(name, hint=None):
    return parse_bytes((FIX / name).read_bytes(), host_hint=hint)


@pytest.mark.parametrize("name", KEYPACK_FILES)
def test_keypacks_same_rows_in_every_form(name):
    result = parse_file(name)
    assert result.status == "ok", result.warnings
    got = [{k: v for k, v in r.items() if k != "source"} for r in rows(result, "keypacks")]
    assert got == EXPECTED_KEYPACKS
    assert result.records_read == 4
    assert result.computers == {"LS01": 4}


@pytest.mark.parametrize("name", ISSUED_FILES)
def test_issued_same_rows_in_every_form(name):
    result = parse_file(name)
    assert result.status == "ok", result.warnings
    got = [{k: v for k, v in r.items() if k != "source"} for r in rows(result, "issued")]
    assert got == EXPECTED_ISSUED
    assert "keypacks" not in result.frames


EXPECTED_KINDS = {
    **{n: ("licensing_csv" if n.endswith(".csv") else "licensing_html" if n.endswith(".html") else "licensing_text")
       for n in KEYPACK_FILES + ISSUED_FILES},
    "cal_usage_report.csv": "licensing_csv", "rds-lic-svr-chk.txt": "licensing_text",
    "RDSH01_rdsh_GracePeriod.txt": "licensing_text", "RDSH02_rdsh_GracePeriod.txt": "licensing_text",
    "LS01_TSLSMembership.txt": "licensing_text", "LS02_TSLSMembership.txt": "licensing_text",
    "LS01_licenseserver_fl.txt": "licensing_text", "LS01_licensereport_fl.txt": "licensing_text",
}


def test_every_fixture_is_sniffed_as_its_kind_and_has_a_test():
    assert sorted(p.name for p in FIX.iterdir()) == sorted(EXPECTED_KINDS)
    for name, kind in EXPECTED_KINDS.items():
        assert sniff((FIX / name).read_bytes()[:65536]).kind == kind, name


# --- RDS_LICENSING.md section 6, verbatim -------------------------------------------------

CHECKMK = """<<<rds_licenses:sep(44)>>>
KeyPackId,Description,KeyPackType,ProductType,ProductVersion,ProductVersionID,TotalLicenses,IssuedLicenses,AvailableLicenses,ExpirationDate
13,A02-6.00-S,4,0,Windows Server 2008 oder Windows Server 2008 R2,2,-1,100,-1,20380119031407.000000-000
2,A02-5.00-EX,6,3,Windows 2000 Server,0,-1,0,-1,20351231230000.000000-000
4,C50-6.02-S,2,1,Windows Server 2012,4,300,0,300,20380101000000.000000-000
3,C50-10.01-S,5,1,Windows Server 2019,6,2000,1,1999,20380101093636.000000-000
"""

TABLE = """#AccessRights  AvailableLicenses  Description  ExpirationDate             IssuedLicenses  KeyPackId  KeyPackType  ProductType  ProductVersion                                 ProductVersionID  TotalLicenses  TypeAndModel
#7             4294967295         A02-5.00-EX  20351231230000.000000-000  0               2          6            3            Windows 2000 Server                            0                 4294967295     Built-in TS Per Device CAL
#7             9                  C50-6.02-S   20380101010000.000000-000  11              4          2            1            Windows Server 2012                            4                 20             RDS Per User CAL
#7             0                  C50-6.02-S   20380119031407.000000-000  0               10         7            1            Windows Server 2012                            4                 0              RDS Per User CAL
"""


def _pick(r, *cols):
    return tuple(r[c] for c in cols)


COLS = ("keypack_id", "cal_version", "cal_type", "total", "issued", "available", "unlimited", "builtin", "temporary",
        "status")


def test_section6_checkmk_csv():
    result = parse_bytes(CHECKMK.encode())
    assert result.status == "ok"
    got = [_pick(r, *COLS) for r in rows(result, "keypacks")]
    assert got == [
        ("13", "2008R2", "per_device", None, 100, None, True, False, True, "temporary"),      # -1: unlimited
        ("2", None, "per_device", None, 0, None, True, True, False, "builtin"),
        ("4", "2012", "per_user", 300, 0, 300, False, False, False, "volume"),
        ("3", "2019", "per_user", 2000, 1, 1999, False, False, False, "open"),
    ]
    assert rows(result, "keypacks")[0]["expires"] == utc(2038, 1, 19, 3, 14, 7)
    assert rows(result, "keypacks")[0]["license_server"] is None          # the pipeline fills it


def test_section6_checkmk_newer_locale_dates():
    text = CHECKMK.replace("20380101000000.000000-000", "01/01/2031 00:00:00")
    result = parse_bytes(text.encode())
    assert rows(result, "keypacks")[2]["expires"] == utc(2031, 1, 1)


def test_section6_table_with_hash_prefix():
    result = parse_bytes(TABLE.encode())
    assert result.status == "ok"
    got = [_pick(r, *COLS) for r in rows(result, "keypacks")]
    assert got == [
        ("2", None, "per_device", None, 0, None, True, True, False, "builtin"),          # 4294967295: unlimited
        ("4", "2012", "per_user", 20, 11, 9, False, False, False, "volume"),   # AvailableLicenses as exported
        ("10", "2012", "per_user", 0, 0, 0, False, False, False, "type_7"),   # a real 0, not unlimited
    ]
    assert rows(result, "keypacks")[1]["expires"] == utc(2038, 1, 1, 1)


def test_cal_version_from_localized_string_and_description_code():
    text = ("KeyPackId;Description;ProductVersion;TotalLicenses;IssuedLicenses;AvailableLicenses\n"
            "1;A02-6.00-S;Windows Server 2008 oder Windows Server 2008 R2;10;0;10\n"
            "2;C50-10.01-S;;20;1;19\n"
            "3;A02-5.00-EX;;-1;0;-1\n")
    got = [_pick(r, "cal_version", "cal_type", "builtin", "total") for r in rows(parse_bytes(text.encode()), "keypacks")]
    assert got == [("2008R2", "per_device", False, 10), ("2019", "per_user", False, 20), (None, "per_device", True, None)]


def test_counts_missing_available_is_derived_missing_total_is_unknown():
    """AvailableLicenses absent: total - issued (never below 0); no count at all: unknown (NA),
    never unlimited (bug 3)."""
    text = ("KeyPackId,Description,KeyPackType,ProductType,ProductVersion,ProductVersionID,TotalLicenses,"
            "IssuedLicenses,ExpirationDate\n"
            "3,C50-10.01-S,2,1,Windows Server 2019,6,50,50,20380119031407.000000-000\n"
            "4,C50-10.01-S,2,1,Windows Server 2019,6,20,25,20380119031407.000000-000\n"
            "5,C50-10.01-S,2,1,Windows Server 2019,6,30,,20380119031407.000000-000\n"
            "6,C50-10.01-S,2,1,Windows Server 2019,6,,4,20380119031407.000000-000\n"
            "2,A02-5.00-EX,6,3,Windows 2000 Server,0,4294967295,0,20351231230000.000000-000\n")
    result = parse_bytes(text.encode())
    assert result.status == "ok", result.warnings
    got = [_pick(r, "keypack_id", "total", "issued", "available", "unlimited") for r in rows(result, "keypacks")]
    assert got == [("3", 50, 50, 0, False), ("4", 20, 25, 0, False), ("5", 30, None, None, False),
                   ("6", None, 4, None, None), ("2", None, 0, None, True)]
    assert result.frames["keypacks"]["unlimited"].dtype == "boolean"


# --- facts ------------------------------------------------------------------------------------

def facts_of(result):
    return {(f["host"], f["name"]): f for f in result.facts}


def test_rds_lic_svr_chk_facts():
    result = parse_file("rds-lic-svr-chk.txt")
    assert result.status == "ok" and result.computers == {"RDSH01": 1}
    f = facts_of(result)
    assert f[("LS01.contoso.local", "activation_status")]["value"] == "not_activated"
    assert f[("LS01.contoso.local", "activation_status")]["locator"] == {"line": 57}
    assert f[("LS01.contoso.local", "in_tsls_group")]["value"] is False
    assert f[("LS01.contoso.local", "ls_service_state")]["value"] == "running"
    assert f[("LS01", "ls_version")]["value"] == "2016"
    assert f[("RDSH01", "license_servers")]["value"] == ["LS01.contoso.local", "LS02.contoso.local"]
    assert f[("RDSH01", "licensing_mode")]["value"] == 4
    assert f[("RDSH01", "has_x509_certificate")]["value"] is True
    assert f[("RDSH01", "grace_days_left")]["value"] == 0
    assert f[("RDSH01", "connectivity_status")]["value"] == "NOT_VALID"
    assert f[(None, "ls_available")]["value"] == {"server": "LS01.contoso.local", "available": False,
                                                  "issuing_cals": False}
    kp = rows(result, "keypacks")
    assert [(r["license_server"], r["keypack_id"], r["builtin"]) for r in kp] == [("LS01.contoso.local", "2", True)]


def test_license_server_facts():
    f = facts_of(parse_file("LS01_licenseserver_fl.txt"))
    assert f[("LS01", "ls_version")]["value"] == "2019"
    assert f[("LS01", "ls_os_build")]["value"] == 17763
    assert f[("LS01", "activation_status")]["value"] == "activated"
    assert f[("LS01", "in_tsls_group")]["value"] is True
    assert set(f[("LS01", "activation_status")]) >= {"host", "name", "value", "origin", "locator", "detail"}


def test_grace_period_files():
    wmic = parse_file("RDSH01_rdsh_GracePeriod.txt")
    assert wmic.computers == {"RDSH01": 1}
    assert [(x["name"], x["value"]) for x in wmic.facts if x["name"] == "grace_days_left"] == [("grace_days_left", 37)]
    ps = facts_of(parse_file("RDSH02_rdsh_GracePeriod.txt"))
    assert ps[("RDSH02", "grace_days_left")]["value"] == 0


def test_tsls_membership():
    net = facts_of(parse_file("LS01_TSLSMembership.txt", hint="LS01"))
    assert net[("LS01", "tsls_group_members")]["value"] == ["CONTOSO\\LS01$", "CONTOSO\\LS03$"]
    assert net[("LS01", "in_tsls_group")]["value"] is True
    ad = facts_of(parse_file("LS02_TSLSMembership.txt", hint="LS02"))
    assert ad[("LS02", "tsls_group_members")]["value"] == ["LS01$", "LS03$"]
    assert ad[("LS02", "in_tsls_group")]["value"] is False


def test_license_report_wmi_and_cal_usage_csv():
    result = parse_file("LS01_licensereport_fl.txt")
    f = facts_of(result)
    assert f[("LS01", "collected_at")]["value"] == datetime(2024, 3, 1, 10, 15, tzinfo=UTC)
    assert f[("LS01", "report_summary")]["value"] == {"cal_type": "per_user", "cal_version": "2019", "installed": 50,
                                                      "issued": 12, "availability": "Available"}
    assert [_pick(r, "cal_version", "cal_type", "issued_to") for r in rows(result, "issued")] == [
        ("2019", "per_user", "CONTOSO\\dave")]
    usage = parse_file("cal_usage_report.csv")
    summaries = [x["value"] for x in usage.facts if x["name"] == "report_summary"]
    assert [(s["cal_type"], s["cal_version"], s["installed"], s["issued"]) for s in summaries] == [
        ("per_user", "2019", 50, 12), ("per_user", "2022", 25, 25), ("per_device", "2012", 0, 3)]
    assert usage.facts[0]["locator"] == {"line": 2}


def test_cal_usage_csv_with_preamble_any_column_order():
    text = ("Report Created On,03/14/2024 09:30:00\nScope,Domain\nLicense Server,LS01\n\n"
            "Expires On,Extra,User Name,CAL Version\n"
            "04/15/2024 10:00:00,x,CONTOSO\\erin,Windows Server 2019\n")
    result = parse_bytes(text.encode("utf-16-le"))
    f = facts_of(result)
    assert f[(None, "collected_at")]["value"] == datetime(2024, 3, 14, 9, 30, tzinfo=UTC)
    assert result.computers == {"LS01": 1}
    assert [_pick(r, "issued_to", "cal_type", "cal_version", "expires_on") for r in rows(result, "issued")] == [
        ("CONTOSO\\erin", "per_user", "2019", utc(2024, 4, 15, 10))]


# --- dates --------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,day_first,expected", [
    ("20380119031407.000000-000", False, datetime(2038, 1, 19, 3, 14, 7, tzinfo=UTC)),
    ("20240101120000.000000+060", False, datetime(2024, 1, 1, 11, tzinfo=UTC)),
    ("20240101120000.000000-300", False, datetime(2024, 1, 1, 17, tzinfo=UTC)),
    ("01/01/2031 00:00:00", False, datetime(2031, 1, 1, tzinfo=UTC)),
    ("2/3/2031 1:05:00 PM", False, datetime(2031, 2, 3, 13, 5, tzinfo=UTC)),
    ("2/3/2031 12:05:00 AM", False, datetime(2031, 2, 3, 0, 5, tzinfo=UTC)),
    ("02/03/2031 00:00:00", True, datetime(2031, 3, 2, tzinfo=UTC)),
    ("19.01.2038 03:14:07", False, datetime(2038, 1, 19, 3, 14, 7, tzinfo=UTC)),
    ("2038-01-19T03:14:07+01:00", False, datetime(2038, 1, 19, 2, 14, 7, tzinfo=UTC)),
])
def test_dates_to_utc(text, day_first, expected):
    from rdsla.parsers.licensing_normalize import to_utc
    assert to_utc(text, day_first) == expected


def test_day_first_chosen_from_the_file():
    text = ("LicenseId,sIssuedToComputer,IssueDate,ExpirationDate,LicenseStatus\n"
            "1,PC1,02/03/2024 00:00:00,25/03/2024 00:00:00,2\n")
    r = rows(parse_bytes(text.encode()), "issued")[0]
    assert (r["issued_on"], r["expires_on"]) == (utc(2024, 3, 2), utc(2024, 3, 25))


# --- damaged input: warnings with line numbers, never a crash ----------------------------------------

def test_ragged_csv_row_and_bad_number_are_line_warnings():
    lines = (FIX / "keypacks_export.csv").read_text().splitlines()
    lines[3] = lines[3] + ',"surplus"'                    # line 4: one field too many
    lines[4] = lines[4].replace('"3"', '"three"', 1)      # line 5: IssuedLicenses not a number
    result = parse_bytes("\n".join(lines).encode())
    assert result.status == "partial"
    assert any(w.startswith("line 4: ragged CSV row") for w in result.warnings)
    assert any(w.startswith("line 5: bad number in issuedlicenses") for w in result.warnings)
    assert result.records_lost == 1
    assert [r["keypack_id"] for r in rows(result, "keypacks")] == ["2", "5", "7"]
    assert rows(result, "keypacks")[1]["issued"] is None


def test_misaligned_table_row_and_ragged_html_row():
    lines = (FIX / "keypacks_ft.txt").read_text().splitlines()
    lines[4] = "X" * 40 + lines[4][40:]                  # a value run across a column boundary
    result = parse_bytes("\n".join(lines).encode())
    assert any(w.startswith("line 5: table row does not line up") for w in result.warnings)
    assert len(result.frames["keypacks"]) == 3
    html = (FIX / "LS01_rdls_IssuedLicenses.html").read_text().replace("<td>PC-0043</td>", "", 1)
    result = parse_bytes(html.encode())
    assert any(w.startswith("line 10: ragged HTML row") for w in result.warnings)
    assert len(result.frames["issued"]) == 2


@pytest.mark.parametrize("data", [
    b"", b"\xff\xfe", b"KeyPackId,TotalLicenses\n\"unterminated,5\n", b"<html><table><tr><th>KeyPackId</th>",
    b"KeyPackId : 1\nTotalLicenses : lots\n", "\u0000\u00ff".encode("utf-16"), b"#\n#\n", b"----- -----\n",
])
def test_garbage_never_raises(data):
    result = parse_bytes(data)
    assert result.status in ("ok", "partial", "failed")


# --- command line ------------------------------------------------------------------------------------

def test_cli_export_keypacks(capsys):
    assert main(["export", str(FIX / "keypacks_wmic.txt"), "--frame", "keypacks", "--format", "csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("license_server,keypack_id,cal_version,cal_type,total,issued,available,unlimited")
    assert out[2].startswith("LS01,3,2019,per_user,50,12,38,False,False,False,2038-01-19T03:14:07")
    assert out[1].startswith("LS01,2,,per_device,,0,,True,True,False,")          # built-in: unlimited
