"""--redact (issue 21 item 2): no original name in any output of any sample bundle.

For every committed sample bundle the test runs, with ``--redact``, every command that writes
something: ``analyze`` (HTML, findings.json, Markdown, terminal), ``export`` of each frame as
CSV, JSON Lines and Parquet, ``hosts`` (JSON and text) and ``inventory`` (JSON and text); then
``batch`` over three bundles and ``diff`` of a sample pair. The names searched for are
collected independently of the Redactor: from the forge's scenario (machines, domains, the
servers their settings name, issued CALs, event parameters, the registered owner, product ids)
and from the unredacted outputs (host names, aliases, FQDNs, domains, hosts of findings; SIDs,
IP addresses, hardware and product ids by pattern). A name is found when it occurs as a whole
token, case-insensitively (the characters around it are not letters or digits): that is what
the Redactor promises, and it keeps ``al`` from matching ``also``.

Each bundle is read once per form (``cli._read`` returns the same Reading to every command; the
events export's reading decodes every log, as the CLI's does).
"""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

import rdsla
from rdsla.analyzer import cli
from rdsla.analyzer.cli import main
from rdsla.core.redact import Redactor

REPO = Path(__file__).resolve().parents[2]
BUNDLES = REPO / "sample_data" / "bundles"
PAIRS = REPO / "sample_data" / "pairs"
FRAMES = ("events", "registry", "keypacks", "issued", "artifacts")
PATTERNS = [re.compile(p, re.I) for p in (
    r"S-1-5-21(?:-\d+){3,4}", r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])", r"0x[0-9a-f]{8}(?:-0x[0-9a-f]{8}){3,4}",
    r"\d{5}-\d{5}-\d{5}-[A-Z]{2}\d{3}", r"(?<![0-9a-f:-])[0-9a-f]{2}([-:])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}(?![0-9a-f:-])")]
KEEP = {"127.0.0.1", "0.0.0.0", "ff-ff-ff-ff-ff-ff", "ff:ff:ff:ff:ff:ff", "00-00-00-00-00-00", "00:00:00:00:00:00"}
OU = re.compile(r"(?<![A-Za-z0-9])OU=((?:\\.|[^,=\\\r\n\"'<>;+()])+)", re.I)


def _scenarios():
    from rdsla.sample_data.forge.scenarios import SCENARIOS
    out = []
    for factory in SCENARIOS:
        s = factory()
        out.append(pytest.param(s, id=s.name))
    return out


def _path(s) -> Path:
    return BUNDLES / f"{s.name}.zip" if s.zipped else BUNDLES / s.name


def _split(name: str) -> set[str]:
    """The tokens a name is searched as: FQDNs and DOMAIN\\user in parts, and whole."""
    out = set()
    name = name.strip()
    if not name:
        return out
    if "\\" in name:
        domain, _, user = name.rpartition("\\")
        return _split(domain) | _split(user)
    if name.endswith("$"):
        name = name[:-1]
    out.add(name)
    if "." in name and not re.fullmatch(r"[\d.]+", name):
        labels = name.split(".")
        out.add(labels[0])
        if len(labels) > 2:                    # host.domain.tld: the domain too (not a bare TLD)
            out.add(".".join(labels[1:]))
    return out


def scenario_names(s) -> set[str]:
    """What the forge put into the bundle that names the customer."""
    names: set[str] = set()
    for m in s.machines:
        names |= _split(m.name)
        if m.domain:
            names |= _split(m.domain)
            names.add(m.fqdn)
            names.add("Contoso IT")                    # RegisteredOwner of a domain member
            names |= {label for label in m.domain.split(".")[:-1] if len(label) >= 3}
        for server in (m.policy_servers or []) + (m.deployment_servers or []):
            names |= _split(server)
        for ev in m.events:
            data = ev.data.values() if isinstance(ev.data, dict) else (ev.data or [])
            for value in data:
                value = str(value)
                if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]*[A-Za-z0-9]|[A-Za-z0-9.-]+\\[A-Za-z0-9._-]+", value) \
                        and re.search(r"[A-Za-z]", value) and not re.fullmatch(r"-?\d+", value) \
                        and value.lower() not in {"running", "stopped"} \
                        and not re.fullmatch(r"0x[0-9a-fA-F]+", value):      # an error code (HRESULT), no name
                    names |= _split(value)
    for state in s.license_servers.values():
        for lic in state.issued:
            names |= _split(lic.user) | _split(lic.computer)
            names.add(f"0x{lic.license_id * 7919:08x}-0x5f3a2c1d-0x0a0b0c0d-0x{lic.keypack_id:08x}")
        for member in state.tsls_members or []:
            names |= _split(member)
    return {n for n in names if len(n) >= 2}


def output_names(texts: list[str], hosts_doc: dict, findings_doc: dict) -> set[str]:
    names: set[str] = set()
    for h in hosts_doc["hosts"]:
        names |= _split(h["name"])
        for a in h.get("aliases") or []:
            names |= _split(a)
        if h.get("fqdn"):
            names |= _split(h["fqdn"])
        if h.get("domain") and isinstance(h["domain"].get("value"), str):
            names |= _split(h["domain"]["value"])
    for f in findings_doc["findings"]:
        if f.get("host"):
            names |= _split(f["host"])
        for r in f.get("related_hosts") or []:
            names |= _split(r)
    from rdsla.core.redact import WELL_KNOWN, vocabulary
    for text in texts:
        for p in PATTERNS:
            names |= {m.group(0) for m in p.finditer(text) if m.group(0).lower() not in KEEP}
        for m in OU.finditer(text):     # an OU the customer named (not Microsoft's: Domain Controllers)
            ou = m.group(1).strip()
            if not all(w in vocabulary() or w in WELL_KNOWN for w in re.findall(r"[a-z0-9]+", ou.lower())):
                names.add(ou)
    return names


def found(name: str, text: str) -> bool:
    return re.search(r"(?<![A-Za-z0-9])" + re.escape(name) + r"(?![A-Za-z0-9])", text, re.I) is not None


def finder(names: set[str]):
    """``text -> the names in it`` (whole tokens, any case): one pass of one expression."""
    from rdsla.core.redact import _trie_pattern
    pattern = re.compile(r"(?<![A-Za-z0-9])(?:" + _trie_pattern({n.lower() for n in names}) + r")(?![A-Za-z0-9])", re.I)
    return lambda text: {m.group(0).lower() for m in pattern.finditer(text)}


def _run(capsys, argv: list[str]) -> str:
    code = main(argv)
    out = capsys.readouterr()
    assert code in (0, 1), (argv, out.err)
    return out.out + out.err


def _once(analyze):
    done: dict = {}

    def cached(*args, **kwargs):
        key = (args, tuple(sorted(kwargs.items())))
        if key not in done:
            done[key] = analyze(*args, **kwargs)
        return done[key]
    return cached


def _parquet_text(path: Path) -> str:
    import pandas as pd
    return pd.read_parquet(path).to_csv(index=False)


@pytest.mark.parametrize("scenario", _scenarios())
def test_no_original_name_in_any_redacted_output(scenario, tmp_path, monkeypatch, capsys):
    bundle = str(_path(scenario))
    readings = {True: rdsla.read(bundle, jobs=0), False: rdsla.read(bundle, jobs=0, skim=False)}
    for reading in readings.values():            # the rules run once per reading (redaction copies)
        monkeypatch.setattr(reading, "analyze", _once(reading.analyze))
    monkeypatch.setattr(cli, "_read", lambda args, skim=True, **kw: readings[skim])
    plain = tmp_path / "plain"
    red = tmp_path / "red"
    plain.mkdir()
    red.mkdir()

    # unredacted: what the names are
    _run(capsys, ["analyze", bundle, "--json", str(plain / "f.json"), "--quiet"])
    hosts_doc = json.loads(_run(capsys, ["hosts", bundle, "--json"]))
    findings_doc = json.loads((plain / "f.json").read_text())
    plain_texts = [(plain / "f.json").read_text()]
    for frame in FRAMES:
        plain_texts.append(_run(capsys, ["export", bundle, "--frame", frame, "--format", "jsonl"]))
    names = scenario_names(scenario) | output_names(plain_texts, hosts_doc, findings_doc)
    find = finder(names)
    present = set().union(*(find(t) for t in plain_texts))
    assert present, "the unredacted outputs name nobody: the test would prove nothing"

    # redacted: every output
    texts: dict[str, str] = {}
    texts["terminal:analyze"] = _run(capsys, [
        "analyze", bundle, "--redact", "--redact-map", str(tmp_path / "map.json"), "-o", str(red / "report.html"),
        "--json", str(red / "findings.json"), "--md", str(red / "summary.md")])
    for f in ("report.html", "findings.json", "summary.md"):
        texts[f] = (red / f).read_text(encoding="utf-8")
    for frame in FRAMES:
        for fmt in ("csv", "jsonl", "parquet"):
            target = red / f"{frame}.{fmt}"
            texts[f"terminal:export {frame} {fmt}"] = _run(capsys, [
                "export", bundle, "--frame", frame, "--format", fmt, "-o", str(target), "--redact"])
            texts[target.name] = _parquet_text(target) if fmt == "parquet" else target.read_text(encoding="utf-8")
    texts["hosts --json"] = _run(capsys, ["hosts", bundle, "--json", "--redact"])
    texts["hosts"] = _run(capsys, ["hosts", bundle, "--redact"])
    texts["inventory --json"] = _run(capsys, ["inventory", bundle, "--json", "--redact"])
    texts["inventory"] = _run(capsys, ["inventory", bundle, "--redact"])

    leaks = sorted({(n, where) for where, t in texts.items() for n in find(t)})
    assert not leaks, leaks[:20]

    # the map names every original that was present, and is nowhere but in its own file
    mapping = json.loads((tmp_path / "map.json").read_text())
    mapped = {k.lower() for cat in mapping["names"].values() for k in cat}
    assert mapping["schema"] == "rdsla.redact-map/1"
    assert not any("map.json" in p.name for p in red.iterdir())

    # rules give the same findings redacted or not; hosts map through the pseudonyms
    redacted = json.loads(texts["findings.json"])
    pseudonym = {k.lower(): v for cat in mapping["names"].values() for k, v in cat.items()}
    assert [(f["rule_id"], f["state"], f["severity"], f["kind"]) for f in redacted["findings"]] == \
        [(f["rule_id"], f["state"], f["severity"], f["kind"]) for f in findings_doc["findings"]]
    for a, b in zip(findings_doc["findings"], redacted["findings"]):
        if a["host"]:
            assert b["host"] == pseudonym.get(a["host"].lower(), a["host"]), (a["host"], b["host"])
    assert [rc["rule_id"] for rc in redacted["root_causes"]] == [rc["rule_id"] for rc in findings_doc["root_causes"]]
    assert mapped, "nothing was redacted"


def test_pseudonyms_are_the_same_across_commands(tmp_path, capsys):
    """export and analyze of one upload give every name of the frames the same pseudonym."""
    bundle = str(BUNDLES / "gpo-overrides-deployment.zip")
    _run(capsys, ["analyze", bundle, "--redact-map", str(tmp_path / "a.json"), "--quiet", "--jobs", "0"])
    _run(capsys, ["export", bundle, "--frame", "events", "--redact-map", str(tmp_path / "e.json"),
                  "-o", str(tmp_path / "ev.csv"), "--jobs", "0"])
    a = json.loads((tmp_path / "a.json").read_text())["names"]
    e = json.loads((tmp_path / "e.json").read_text())["names"]
    for category, names in e.items():          # the events export decodes every log: it may know more
        for original, pseudonym in names.items():
            if original in a.get(category, {}):
                assert a[category][original] == pseudonym, (category, original)
    assert a["host"] == {"CB01": "HOST-1", "LS-OLD": "HOST-2", "LS01": "HOST-3", "RDSH01": "HOST-4"}
    assert a["domain"] == {"contoso.local": "DOMAIN-1.example"} and a["label"] == {"contoso": "DOMAIN-1"}
    ev = (tmp_path / "ev.csv").read_text()
    assert "HOST-4.DOMAIN-1.example" in ev and "TermService" in ev or "RemoteConnectionManager" in ev


def test_redactor_tokens_paths_and_microsoft_text():
    r = Redactor()
    r.add("host", "LS01.contoso.local")
    r.add("host", "LSX")
    r.add("host", "LSX-OLD")
    r.add("user", "CONTOSO\\al")
    r.add("host", "Server")                     # a Microsoft word: kept, and said so
    r.add("host", "PC-0042")
    r.scan_strings(["S-1-5-21-1004336348-1177238915-682003330-1106 at 10.1.2.3 and fe80::1c2b:3d4e, 10:15:00"])
    t = r.text                                  # hosts in sorted order: LS01, LSX, LSX-OLD, PC-0042
    assert t("ls01.CONTOSO.local") == "HOST-1.DOMAIN-1.example"
    assert t("MSRD-Results-LS01/LS01_RegistryKeys/LS01_SYSTEM.hiv") == \
        "MSRD-Results-HOST-1/HOST-1_RegistryKeys/HOST-1_SYSTEM.hiv"
    assert t("LSX-OLD and LSX") == "HOST-3 and HOST-2"                  # longest name first
    assert t("also al, contoso\\al") == "also USER-1, DOMAIN-1\\USER-1"   # whole tokens only
    assert t("DC=contoso,DC=local") == "DC=DOMAIN-1,DC=local"
    assert t("The Remote Desktop license server LS01 on Server") == \
        "The Remote Desktop license server HOST-1 on Server"
    assert t("S-1-5-21-1004336348-1177238915-682003330-1106") == "SID-1"
    assert t("S-1-5-18 10.1.2.3 127.0.0.1 fe80::1c2b:3d4e 10:15:00") == "S-1-5-18 IP-1 127.0.0.1 IP-2 10:15:00"
    assert t("client 'PC-0042'") == "client 'HOST-4'"
    assert "server" in r.mapping()["not_redacted"]
    # binary registry data never passes
    out = r.deep({"type": "REG_BINARY", "data": "00ff" * 20, "value": "X509 Certificate"})
    assert out["data"] == "[binary, 40 bytes, redacted]" and out["value"] == "X509 Certificate"


def test_redact_map_is_refused_inside_an_input_folder(tmp_path, capsys):
    bundle = BUNDLES / "cals-exhausted"
    assert main(["hosts", str(bundle), "--redact-map", str(bundle / "map.json"), "--jobs", "0"]) == 2
    assert not (bundle / "map.json").exists()
    assert "refusing to write inside the input folder" in capsys.readouterr().err


def test_batch_and_diff_redacted(tmp_path, capsys):
    import shutil
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(BUNDLES / "gpo-overrides-deployment.zip", inputs / "contoso-gpo.zip")
    shutil.copy(BUNDLES / "ls-not-in-tsls-group.zip", inputs)
    shutil.copytree(BUNDLES / "cals-exhausted", inputs / "cals-exhausted")
    out = tmp_path / "out"
    code = main(["batch", str(inputs), "-o", str(out), "--redact", "--redact-map", str(tmp_path / "bmap.json"),
                 "--jobs", "2", "--quiet"])
    assert code == 1
    maps = json.loads((tmp_path / "bmap.json").read_text())["bundles"]
    assert len(maps) == 3 and {m["input"].rsplit("/", 1)[-1] for m in maps.values()} == {
        "contoso-gpo.zip", "ls-not-in-tsls-group.zip", "cals-exhausted"}
    names = set()
    for m in maps.values():
        for category in m["names"].values():
            for original in category:
                names |= _split(original)
    names |= {"contoso-gpo", "ls-not-in-tsls-group", "cals-exhausted", "alice", "LS-OLD", "PC-0000"}
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) >= 3 + 3 * 3
    find = finder(names)
    leaks = sorted({(n, str(p.relative_to(out))) for p in files
                    for n in find(p.read_text(encoding="utf-8", errors="replace"))})
    assert not leaks, leaks[:20]
    # --resume finds the pseudonymous bundles again
    assert main(["batch", str(inputs), "-o", str(out), "--redact", "--resume", "--quiet"]) == 1
    assert sum(1 for _ in open(out / "summary.csv")) == 4

    # diff: one mapping for both sides
    pair = PAIRS / "fix-moved-problem"
    text = _run(capsys, ["diff", str(pair / "before"), str(pair / "after"), "-o", str(tmp_path / "d.html"),
                         "--json", str(tmp_path / "d.json"), "--md", str(tmp_path / "d.md"), "--redact",
                         "--redact-map", str(tmp_path / "dmap.json"), "--jobs", "0"])
    dmap = json.loads((tmp_path / "dmap.json").read_text())["names"]
    assert {"LS01", "LS02", "RDSH01"} <= set(dmap["host"])
    doc = json.loads((tmp_path / "d.json").read_text())
    assert {(c["rule_id"], c["host"]) for c in doc["causes"]["new"]} >= {("RDSLIC-005", dmap["host"]["LS02"])}
    assert {(c["rule_id"], c["host"]) for c in doc["causes"]["resolved"]} == {("RDSLIC-004", dmap["host"]["RDSH01"])}
    names = {n for cat in dmap.values() for original in cat for n in _split(original)} | {"PC-0042", "user000"}
    for where, t in [("terminal", text)] + [(f, (tmp_path / f).read_text()) for f in ("d.html", "d.json", "d.md")]:
        leaks = [n for n in names if found(n, t)]
        assert not leaks, (where, leaks)


def test_redactor_mac_addresses_ous_and_versions():
    """MAC addresses (both spellings, one pseudonym), organisational units of distinguished names
    (Microsoft's own containers kept), and a version number is not an address."""
    r = Redactor()
    t = r.text
    assert t("address conflict for IP address 10.1.2.3 with the system having network hardware address "
             "00-15-5D-01-02-03") == "address conflict for IP address IP-1 with the system having network " \
                                     "hardware address MAC-1"
    assert t("00:15:5d:01:02:03, FF-FF-FF-FF-FF-FF") == "MAC-1, FF-FF-FF-FF-FF-FF"
    assert t("CN=RDSH01,OU=Contoso Finance Hosts,OU=Domain Controllers,DC=contoso,DC=local") == \
        "CN=HOST-1,OU=OU-1,OU=Domain Controllers,DC=DOMAIN-1,DC=local"
    assert t("moved to Contoso Finance Hosts") == "moved to OU-1"
    assert t("CN=Alice Smith,OU=Users,DC=contoso,DC=local") == "CN=USER-1,OU=Users,DC=DOMAIN-1,DC=local"
    # OS and file versions stay, whether or not they are IPv4-shaped; an address does not
    assert t("termsrv.dll version: 10.0.20348.2340 on 10.0.0.7") == "termsrv.dll version: 10.0.20348.2340 on IP-2"
    assert t("FileVersion 4.0.0.0, v1.0.0.1, build 2.1.3.4; server 10.0.0.8") == \
        "FileVersion 4.0.0.0, v1.0.0.1, build 2.1.3.4; server IP-3"
    names = r.mapping()["names"]
    assert names["mac"]["00-15-5D-01-02-03"] == names["mac"]["00:15:5d:01:02:03"] == "MAC-1"
    assert set(names["ou"]) == {"Contoso Finance Hosts"} and set(names["ip"]) == {"10.1.2.3", "10.0.0.7", "10.0.0.8"}
    # a map read back replaces the same names and numbers new ones after them
    again = Redactor.from_mapping(r.mapping())
    assert again.text("RDSH01 in Contoso Finance Hosts at 10.1.2.3 and 10.9.9.9") == "HOST-1 in OU-1 at IP-1 and IP-4"


def _extra_artifacts(folder: Path) -> dict[str, str]:
    """Artifacts a collector brings beside the licensing ones, written as Windows writes them:
    a regedit export of the Group Policy state (the machine's distinguished name, in a customer
    OU), System's Tcpip 4199 (an address conflict: IP and MAC address) and Application Error 1000
    (a faulting module's file version). Returns what each holds that must or must not pass."""
    from datetime import datetime, timezone
    from rdsla.sample_data.forge.evtx_writer import EventRecord, write_evtx
    host = folder / "MSRD-Results-RDSH01"
    dn = "CN=RDSH01,OU=Northwind Finance Hosts,OU=Servers,DC=contoso,DC=local"
    reg = ("Windows Registry Editor Version 5.00\r\n\r\n"
           "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Group Policy\\State\\Machine]\r\n"
           f'"Distinguished-Name"="{dn}"\r\n\r\n')
    (host / "RDSH01_RegistryKeys" / "RDSH01_reg_GroupPolicyState.reg").write_bytes(b"\xff\xfe" + reg.encode("utf-16-le"))
    when = datetime(2024, 11, 20, 9, 0, tzinfo=timezone.utc)
    write_evtx(host / "RDSH01_EventLogs" / "RDSH01_Application.evtx", [
        EventRecord(provider="Application Error", event_source_name="Application Error", event_id=1000, qualifiers=0,
                    time=when, channel="Application", computer="RDSH01.contoso.local", level=2,
                    data=["svchost.exe_TermService", "10.0.20348.2340", "a1b2c3d4", "termsrv.dll", "10.0.20348.2340",
                          "e5f6a7b8", "c0000005", "000000000004f2a1", "0x4d8", "01db3b2a", r"C:\Windows\System32\svchost.exe",
                          r"C:\Windows\System32\termsrv.dll", "2f0c4a9e-1b7d-4e3a-9c51-8d2e6f7a0b13", "", ""])])
    write_evtx(host / "RDSH01_EventLogs" / "RDSH01_System-Tcpip.evtx", [
        EventRecord(provider="Tcpip", event_source_name="Tcpip", event_id=4199, qualifiers=49152, time=when,
                    channel="System", computer="RDSH01.contoso.local", level=2,
                    data=["10.20.30.44", "00-15-5D-0A-1B-2C"])])
    return {"secret": ["Northwind Finance Hosts", "10.20.30.44", "00-15-5D-0A-1B-2C"], "kept": ["10.0.20348.2340"]}


def test_ous_mac_addresses_and_versions_in_every_output(tmp_path, capsys):
    """A bundle with a customer OU, an address conflict (IP and MAC) and a file version: with
    --all-events every output holds them unredacted; redacted, none but the version."""
    import shutil
    bundle = tmp_path / "bundle"
    shutil.copytree(BUNDLES / "cals-exhausted", bundle)
    (bundle / "expected.json").unlink()
    extra = _extra_artifacts(bundle)
    common = [str(bundle), "--all-events", "--jobs", "0"]
    plain = [_run(capsys, ["export", *common, "--frame", f, "--format", "jsonl"]) for f in ("events", "registry")]
    for value in extra["secret"] + extra["kept"]:
        assert any(found(value, t) for t in plain), value          # the test would see a leak
    red = tmp_path / "red"
    red.mkdir()
    texts = {"terminal": _run(capsys, ["analyze", *common, "--redact", "-o", str(red / "r.html"),
                                       "--json", str(red / "f.json"), "--md", str(red / "s.md")])}
    for f in ("r.html", "f.json", "s.md"):
        texts[f] = (red / f).read_text(encoding="utf-8")
    for frame in ("events", "registry"):
        texts[frame] = _run(capsys, ["export", *common, "--frame", frame, "--format", "jsonl", "--redact"])
    leaks = [(v, where) for v in extra["secret"] for where, t in texts.items() if found(v, t)]
    assert not leaks, leaks
    for value in extra["kept"]:
        assert found(value, texts["events"]), value                 # a version is no address
    assert found("MAC-1", texts["events"]) and found("OU-1", texts["registry"])


def _failing_worker(task):
    """run_task whose analysis fails the way a damaged disk fails it: an OSError naming a file
    inside the bundle (a module-level function: the pool's workers import it)."""
    import os
    from rdsla.analyzer import batch_task, pipeline
    real = pipeline.analyze

    def unreadable(paths, *args, **kwargs):
        raise OSError(5, "Input/output error", os.path.join(paths[0], "MSRD-Results-RDSH01", "RDSH01_System.evtx"))
    pipeline.analyze = unreadable
    try:
        return batch_task.run_task(task)
    finally:
        pipeline.analyze = real


def test_batch_messages_and_failed_rows_redacted(tmp_path, monkeypatch):
    """batch --redact: the input messages (a loose file, a symbolic link, an input that does not
    exist), a bundle nothing in which is recognized, and an exception naming a file in the
    bundle say no path or name of the customer's."""
    import io
    import shutil
    from rdsla.analyzer.batch import run_batch
    from rdsla.core.errors import UsageError
    monkeypatch.setenv("RDSLA_START_METHOD", "fork")
    site = tmp_path / "contoso-site"
    site.mkdir()
    shutil.copy(BUNDLES / "gpo-overrides-deployment.zip", site / "contoso-rdsh.zip")
    (site / "contoso-broken.zip").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)
    (site / "contoso-notes.txt").write_text("call Alice at Contoso\n")
    (site / "contoso-link").symlink_to(tmp_path)
    missing = str(tmp_path / "contoso-missing.zip")
    secret = ["contoso-site", "contoso-rdsh", "contoso-broken", "contoso-notes", "contoso-link", "contoso-missing",
              "contoso", "RDSH01", str(tmp_path)]

    def leaks(text: str) -> list[str]:
        return [s for s in secret if found(s, text)]

    for worker, name in ((None, "ok"), (_failing_worker, "failing")):
        out, stream = tmp_path / f"out-{name}", io.StringIO()
        kwargs = {"worker": worker} if worker else {}
        result = run_batch([str(site), missing], str(out), jobs=1, redact=True, stream=stream, **kwargs)
        assert result.exit_code == 3
        summary = (out / "summary.csv").read_text()
        failed = [line for line in summary.splitlines() if ",failed," in line]
        assert len(failed) == (3 if worker else 2), summary
        texts = {"terminal": stream.getvalue(), "messages": "\n".join(result.messages)}
        texts.update({str(p.relative_to(out)): p.read_text(errors="replace") for p in out.rglob("*") if p.is_file()})
        assert len(result.messages) == 3 and all(m.startswith(("path-", "bundle-")) for m in result.messages)
        found_leaks = {where: leaks(t) for where, t in texts.items() if leaks(t)}
        assert not found_leaks, found_leaks
        if worker:                      # the exception is told, its path is not
            assert "OSError: [Errno 5] Input/output error: 'bundle-" in summary and "/[path]'" in summary
        # without --redact the same messages name the paths (so the checks above can fail)
        plain = run_batch([str(site), missing], str(tmp_path / f"plain-{name}"), jobs=1, stream=io.StringIO(), **kwargs)
        assert all(leaks(m) for m in plain.messages)
        assert leaks((tmp_path / f"plain-{name}" / "summary.csv").read_text())
    # a usage error names the input folder by its pseudonym
    with pytest.raises(UsageError) as caught:
        run_batch([str(site)], str(site / "out"), redact=True, stream=io.StringIO())
    assert not leaks(str(caught.value).replace(str(site / "out"), "OUT")) and "path-" in str(caught.value)


def test_inputs_that_cannot_be_opened_are_named_by_pseudonym(tmp_path, capsys):
    """analyze/hosts/export with --redact: 'not one PATH could be opened' names UPLOAD-n, not the path."""
    missing = str(tmp_path / "CONTOSO-RDSH01-upload.zip")
    for command in (["analyze", missing, "-o", str(tmp_path / "r.html")], ["hosts", missing],
                    ["export", missing, "--frame", "events", "-o", str(tmp_path / "e.csv")]):
        assert main([*command, "--redact"]) == 2
        err = capsys.readouterr().err
        assert "CONTOSO" not in err and "UPLOAD-1: cannot open" in err, (command, err)
    assert main(["hosts", missing]) == 2
    assert "CONTOSO-RDSH01-upload.zip" in capsys.readouterr().err          # unredacted it names the file
