"""The host profile's installation date (SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion
InstallDate, seconds since 1970 UTC), which RDSLIC-024 compares with the GracePeriod key."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from rdsla.analyzer.hosts import build_profiles
from rdsla.core.frames import make_frame
from tests.analyzer.test_hosts import NOW, RDSH, _registry, _write

CV = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion"


@pytest.mark.parametrize("form", ["hive", "reg", "query"])
def test_install_date_from_every_registry_form(tmp_path, form):
    reg = _registry(_write(tmp_path, RDSH, form), "RDSH01")
    (p,) = build_profiles({"registry": make_frame("registry", reg)}, [], {}, NOW)
    assert p.os_install_date.value == RDSH.installed
    assert p.os_install_date.origin == "registry"
    assert p.os_install_date.evidence[0].locator == {"key": CV, "value": "InstallDate"}
    assert p.to_dict()["os_install_date"]["value"] == RDSH.installed.isoformat()      # hosts --json


@pytest.mark.parametrize("data, expected", [(1_700_000_000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)),
                                            ("1700000000", datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)),
                                            (0, None), ("garbage", None)])
def test_install_date_values(data, expected):
    rows = [{"host": "H1", "hive": "SOFTWARE", "key": CV, "key_ccs": CV, "value": "InstallDate", "type": "REG_DWORD",
             "data": data, "source": "SOFTWARE"}]
    (p,) = build_profiles({"registry": make_frame("registry", rows)}, [], {}, NOW)
    assert (p.os_install_date.value if p.os_install_date else None) == expected


def test_no_software_hive_no_install_date():
    key = r"HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server"
    rows = [{"host": "H1", "hive": "SYSTEM", "key": key, "key_ccs": key, "value": "TSAppCompat", "type": "REG_DWORD",
             "data": 1, "source": "SYSTEM"}]
    (p,) = build_profiles({"registry": make_frame("registry", rows)}, [], {}, NOW)
    assert p.os_install_date is None
