from rdsla.core.hostnames import HostResolver, canonical, hint_from_file_name, hint_from_folders


def test_canonical_merges_fqdn_and_netbios():
    assert canonical("ls01.contoso.local") == canonical("LS01") == "LS01"
    assert canonical("") is None and canonical(None) is None


def test_collector_file_names():
    assert hint_from_file_name("LS01_rdls_LicenseKeyPacks.html") == "LS01"
    assert hint_from_file_name("RDSH02_241105-101500_System.evtx") == "RDSH02"
    assert hint_from_file_name("System.evtx") is None
    assert hint_from_file_name("Microsoft-Windows-TerminalServices-RemoteConnectionManager%4Admin.evtx") is None
    assert hint_from_file_name("SW-MS-TermServLicensing.reg") is None


def test_folder_names():
    assert hint_from_folders(["upload", "MSRD-Results-RDSH01", "EventLogs"]) == "RDSH01"
    assert hint_from_folders(["upload", "LS01_RDS"]) == "LS01"
    assert hint_from_folders(["upload", "logs"]) is None


def test_resolver_keeps_aliases():
    r = HostResolver()
    r.add("LS01.contoso.local")
    r.add("ls01")
    assert r.hosts() == ["LS01"]
    assert "LS01.contoso.local" in r.aliases["LS01"]
