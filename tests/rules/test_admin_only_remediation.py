"""RDSLIC-001's fix also offers the case where the RD Session Host role was installed though only
administration was wanted (RDS_LICENSING.md 0a, [S7]): mstsc /admin, or remove RDS-RD-Server."""
from __future__ import annotations

from tests.rules.test_rules import detected, event, license_server, make_analysis, session_host


def test_001_remediation_offers_admin_only_way_out():
    a = make_analysis([session_host(servers=None), license_server()],
                      events=[event("RDSH01", 1130, manifest=True, days_ago=1)])
    (f,) = detected("RDSLIC-001", a)
    steps = " ".join(f.remediation)
    assert "mstsc /admin" in steps and "RDS-RD-Server" in steps
    # the configuration steps stay first: the admin-only case is the alternative, not the default
    assert "license server" in f.remediation[0] and "mstsc /admin" not in f.remediation[0]
