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
    r"\d{5}-\d{5}-\d{5}-[A-Z]{2}\d{3}")]
KEEP = {"127.0.0.1", "0.0.0.0"}


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
    for text in texts:
        for p in PATTERNS:
            names |= {m.group(0) for m in p.finditer(text) if m.group(0) not in KEEP}
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
