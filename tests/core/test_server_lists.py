"""License-server settings are parsed in one place (core.hostnames), for hosts, rules and verdict."""
from rdsla.core.hostnames import license_server_names, split_server_list


def test_every_form_of_a_license_server_setting():
    assert split_server_list("LS01.corp.example, LS02;LS03  ls04") == ["LS01.corp.example", "LS02", "LS03", "ls04"]
    assert split_server_list(["LS01", "", None, " LS02 "]) == ["LS01", "LS02"]
    assert split_server_list(None) == [] and split_server_list("") == []
    assert license_server_names("ls01.corp.example,LS01;LS02") == ["LS01", "LS02"]


def test_rules_and_verdict_read_the_same_names():
    from rdsla.rules.api import servers_of
    value = "LS-OLD.corp.example; ls01"
    assert servers_of(value) == license_server_names(value) == ["LS-OLD", "LS01"]
