"""RD Licensing reports -> ``keypacks`` and ``issued`` frames and license-server facts.

One entry point for every form the license server's side arrives in (RDS_LICENSING.md 3, 6):
Export-Csv / Checkmk CSV, ConvertTo-Html (MSRD-Collect ``<HOST>_rdls_LicenseKeyPacks.html``,
``<HOST>_rdls_IssuedLicenses.html``), Format-Table / Format-List / wmic text, the CAL usage
report CSV, ``rds-lic-svr-chk.txt`` [S27], ``<HOST>_rdsh_GracePeriod.txt`` and
``<HOST>_TSLSMembership.txt`` [S28]. The form is chosen by content, never by file name;
reading is in :mod:`parsers.licensing_tables`, meaning in :mod:`parsers.licensing_normalize`.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Optional

from rdsla.core import facts as F
from rdsla.core.frames import make_frame
from rdsla.parsers.base import ParseOptions, ParseResult, Source, SourceTooLarge
from rdsla.parsers.licensing_normalize import Normalizer, codes, is_known, slash_day_first, to_int
from rdsla.parsers.licensing_tables import Tables, decode, lines_of, pick_delimiter, read_csv, read_html, read_text

_DATE_FIELDS = {"expirationdate", "issuedate", "generationdatetime", "expireson", "issuedon"}


def detect(text: str) -> str:
    """html | csv | text, from the content."""
    low = text[:65536].lower()
    if "<table" in low and ("<html" in low or "<!doctype" in low or low.lstrip().startswith("<table")):
        return "html"
    for line in lines_of(text)[:50]:
        s = line.strip()
        if not s or s.startswith("#TYPE") or s.startswith("<<<"):
            continue
        if re.search(r"\S {2,}\S", s) and "," not in s and ";" not in s:
            return "text"
        d = pick_delimiter(s)
        return "csv" if d in s else "text"
    return "text"


def parse(source: Source, options: Optional[ParseOptions] = None) -> ParseResult:
    try:
        data = source.read_bytes()
    except (OSError, SourceTooLarge) as exc:
        return ParseResult.failed(f"{source.display}: {exc}")
    return parse_bytes(data, host_hint=source.host_hint)


def parse_bytes(data: bytes, host_hint: Optional[str] = None) -> ParseResult:
    """Parse the content of one report (tests call this directly)."""
    result = ParseResult()
    text = decode(data)
    form = detect(text)
    tables: Tables = {"html": read_html, "csv": read_csv, "text": read_text}[form](text, is_known)
    if form == "csv" and not any(r.form == "csv" for r in tables.rows) and not tables.warnings:
        tables = read_text(text, is_known)                       # commas, but no CSV header
    dates = [v for r in tables.rows for k, v in r.fields.items() if re.sub(r"[^a-z]", "", k.lower()) in _DATE_FIELDS]
    norm = Normalizer(day_first=slash_day_first(dates))
    result.warnings.extend(tables.warnings)
    result.records_lost += tables.lost
    read = 0
    member_rows = []
    for row in tables.rows:
        keys = {re.sub(r"[^a-z]", "", k.lower()) for k in row.fields}
        if "samaccountname" in keys or ("name" in keys and "objectclass" in keys):
            member_rows.append(row)
            continue
        if norm.add(row):
            read += 1
    read += _text_lines(tables, norm, text)
    read += _membership(text, tables, member_rows, norm, host_hint)

    for line, message in norm.warnings:
        result.warnings.append(f"line {line}: {message}")
    if result.warnings:
        result.status = "partial"
    if norm.keypacks:
        result.frames["keypacks"] = make_frame("keypacks", norm.keypacks)
    if norm.issued:
        result.frames["issued"] = make_frame("issued", norm.issued)
    result.facts = norm.facts
    result.computers = dict(norm.computers)
    result.records_read = read
    if result.computers:
        name = Counter(result.computers).most_common(1)[0][0]
        result.facts.append({"host": name, "name": F.COMPUTER_NAME, "value": name, "origin": "report",
                             "locator": {}, "detail": {"computers": dict(result.computers)}})
    if not read and not tables.lost:
        result.warn(f"no RD Licensing rows or lines recognized in this {form} content")
    return result


# --------------------------------------------------------------------------- rds-lic-svr-chk [S27]

_CHK = [
    ("os", re.compile(r"^OS (\S+)$")),
    ("checking", re.compile(r"^checking license server: '([^']*)'", re.I)),
    ("activation", re.compile(r"^activation status: (\d+)", re.I)),
    ("tsls", re.compile(r"^is ls in ts ls group in AD: (\w+)", re.I)),
    ("service", re.compile(r"^License Server Service status: (\w*)", re.I)),
    ("connectivity", re.compile(r"^license connectivity status: (\w+)", re.I)),
    ("wmi_servers", re.compile(r"^wmi lic servers: (.*?)\s*license mode: (\S*)", re.I)),
    ("mode", re.compile(r"^server (\S+) current license mode: (.+)$", re.I)),
    ("x509", re.compile(r"^(?:server (\S+) )?ever connected to license server \(has x509 cert\)\? (\w+)", re.I)),
    ("grace", re.compile(r"^(?:server (\S+) )?Grace period days left\? (\S+)", re.I)),
    ("status_name", re.compile(r"^TsToLsConnectivityStatus\s+(LS_\S+)")),
    ("executing", re.compile(r"^Executing \(\\\\([^\\]+)\\", re.I)),
    ("product", re.compile(r"^(?:Microsoft )?Windows Server.*?(\d{4})( R2)?", re.I)),
]


def _text_lines(tables: Tables, norm: Normalizer, text: str) -> int:
    """Facts from the free lines of rds-lic-svr-chk.txt and wmic ``CALL`` output."""
    script_host: Optional[str] = None
    current_ls: Optional[str] = None
    last_os: Optional[str] = None
    mode_line = None
    saw_wmi_mode = False
    used = 0
    for no, line in tables.free:
        for name, rx in _CHK:
            m = rx.match(line)
            if m:
                break
        else:
            if not set(line) <= {"-"}:
                last_os = None
            continue
        loc, detail = {"line": no}, line
        used += 1
        if name == "os":
            script_host = script_host or m.group(1)
            last_os = m.group(1)
        elif name == "product":
            if last_os and last_os == current_ls:
                year = m.group(1) + ("R2" if m.group(2) else "")
                norm.fact(F.LS_VERSION, year, "report", loc, detail, current_ls)
            else:
                used -= 1
        elif name == "checking":
            current_ls = m.group(1).strip() or None
        elif name == "activation":
            value = codes()["activation_status"].get(m.group(1), "unknown")
            norm.fact(F.ACTIVATION_STATUS, value, "report", loc, detail, current_ls)
        elif name == "tsls":
            value = {"true": True, "false": False}.get(m.group(1).lower())
            if value is not None:
                norm.fact(F.IN_TSLS_GROUP, value, "report", loc, detail, current_ls)
        elif name == "service":
            state = m.group(1).lower()
            if state:
                norm.fact(F.LS_SERVICE_STATE, state, "report", loc, detail, current_ls)
        elif name == "connectivity":
            value = {"true": "VALID", "false": "NOT_VALID"}.get(m.group(1).lower())
            if value:
                norm.fact(F.CONNECTIVITY_STATUS, value, "report", loc, {"line": line, "server": current_ls},
                          script_host)
        elif name == "status_name":
            from rdsla.parsers.licensing_normalize import connectivity_name
            norm.fact(F.CONNECTIVITY_STATUS, connectivity_name(m.group(1)), "report", loc,
                      {"line": line, "server": current_ls}, script_host)
        elif name == "wmi_servers":
            servers = m.group(1).split()
            if servers:
                norm.fact(F.LICENSE_SERVERS, servers, "wmi_export", loc, detail, script_host)
            if m.group(2).isdigit():
                saw_wmi_mode = True
                norm.fact(F.LICENSING_MODE, int(m.group(2)), "wmi_export", loc, detail, script_host)
        elif name == "mode":
            mode_line = (no, line, m.group(1), m.group(2))
        elif name == "x509":
            value = {"true": True, "false": False}.get(m.group(2).lower())
            if value is not None:
                norm.fact(F.HAS_X509_CERTIFICATE, value, "report", loc, detail, m.group(1) or script_host)
        elif name == "grace":
            try:
                days = to_int(m.group(2))
            except ValueError:
                days = None                                      # NOT_SET: no grace period data
            if days is not None:
                norm.fact(F.GRACE_DAYS_LEFT, days, "report", loc, detail, m.group(1) or script_host)
        elif name == "executing":
            host = m.group(1)
            if host not in (".", "localhost"):
                norm.computers[host] = norm.computers.get(host, 0) + 1
    if mode_line and not saw_wmi_mode:
        no, line, host, text_mode = mode_line
        names = codes()["licensing_mode_names"]
        key = text_mode.split("(")[0].strip().rstrip(".").lower()
        if key in names:
            norm.fact(F.LICENSING_MODE, names[key], "report", {"line": no}, line, host)
    if script_host:
        norm.computers.clear()                                   # rows name the license servers it asked
        norm.computers[script_host] = 1
    return used


# --------------------------------------------------------------------------- TSLSMembership [S28]

_GROUP = "terminal server license servers"
_ACCOUNT = re.compile(r"^(?:[\w.-]+\\)?[\w.$ -]{1,64}$")
_NOT_MEMBERS = re.compile(r"^(alias name|comment|members|mitglieder|membres|the command|der befehl|la commande|"
                          r"group name|name|members of)\b", re.I)


def _membership(text: str, tables: Tables, member_rows: list, norm: Normalizer, host_hint: Optional[str]) -> int:
    """Members of the Terminal Server License Servers group: ``net localgroup`` text,
    Get-ADGroupMember tables or lists, or one account per line."""
    if _GROUP not in text.lower():
        return 0
    members: list[tuple[int, str]] = []
    for row in member_rows:
        f = {re.sub(r"[^a-z]", "", k.lower()): v for k, v in row.fields.items()}
        name = f.get("samaccountname") or f.get("name")
        if name:
            members.append((row.line, name.strip()))
    if not members:
        started = False
        for no, line in tables.free:
            low = line.lower()
            if set(line) <= {"-"}:
                started = True
                continue
            if _GROUP in low or _NOT_MEMBERS.match(line) or ":" in line:
                continue
            if low.startswith("the command") or low.startswith("der befehl"):
                break
            if _ACCOUNT.match(line) and (started or "\\" in line or line.endswith("$")):
                members.append((no, line))
    names = [m for _, m in members]
    domain = re.search(r"for domain ([\w.-]+?)\.?\s*$", text, re.I | re.M)   # net localgroup ... /domain
    host = host_hint
    if not host and norm.computers:
        host = Counter(norm.computers).most_common(1)[0][0]
    detail = {"members": names, **({"domain": domain.group(1).lower()} if domain else {})}
    locator = {"line": members[0][0]} if members else {"line": 1}
    norm.fact(F.TSLS_GROUP_MEMBERS, names, "report", locator, detail, host)
    if host:
        short = host.split(".")[0].lower()
        inside = [(no, n) for no, n in members if _account_short(n) == short]
        norm.fact(F.IN_TSLS_GROUP, bool(inside), "report", {"line": inside[0][0]} if inside else locator,
                  detail, host)
    return max(1, len(members))


def _account_short(name: str) -> str:
    """``CONTOSO\\LS01$`` / ``LS01$`` / ``CN=LS01,OU=...`` / ``ls01.contoso.local`` -> ``ls01``."""
    n = name.strip()
    if n.upper().startswith("CN="):
        n = n[3:].split(",")[0]
    n = n.split("\\")[-1].rstrip("$")
    return n.split(".")[0].lower()
