"""Redaction for sharing (issue 21 item 2): every name that identifies a customer becomes a
stable pseudonym, the same in every output of one run.

A :class:`Redactor` first *learns* names from the data, then *replaces* them:

- learning reads the frames (events, registry, key packs, issued CALs, the artifact ledger),
  the host profiles, the findings and, for ``rdsla diff``, findings documents. It collects
  host names (profiles, aliases, FQDNs, the ``host``/``computer`` columns, license-server
  settings, ``CN=`` of distinguished names, event parameters the event catalog's message
  names as a client, server or computer), DNS domains (and their organisation labels:
  ``contoso`` of ``contoso.local``, which is what names the customer in ``DC=contoso``, a file
  name or ``Contoso IT``), NetBIOS domains and user names (``DOMAIN\\user``, ``user@domain``,
  event parameters named as a user), the registered owner / organisation, and by pattern over
  every string: domain SIDs (``S-1-5-21-...``), IPv4 and IPv6 addresses, CAL hardware ids
  (``0x...-0x...``), Windows product ids, and key-pack descriptions that are not Microsoft's
  pack texts.
- replacing runs one case-insensitive regular expression (a trie of every learned name, so
  the longest name wins: ``LS01.contoso.local`` is ``HOST-3.DOMAIN-1.example``, whose parts
  are replaced one by one, and ``LS-OLD`` wins over ``LS``) over each string of the output's
  data. A name matches only as a whole token: the characters before and after it are not
  letters or digits (``_`` and ``-`` and ``.`` do separate), so ``LS01`` is replaced in
  ``LS01_System.evtx`` and ``MSRD-Results-LS01`` but a user ``al`` never inside ``also``.
- names that are Microsoft's own words (any word of the event catalog's texts or the registry
  key list, and a short list: ``server``, ``admin``...) are *not* replaced, so rule text,
  event messages and registry paths stay intact; they are listed under ``not_redacted`` in the
  map. So are well-known accounts and SIDs (``SYSTEM``, ``NT AUTHORITY``, ``S-1-5-18``),
  ``WORKGROUP``, loopback and unspecified addresses.
- registry data of binary type (certificates, timebombs, SECURITY policy blobs, which can hold
  names in UTF-16) is replaced by ``[binary, N bytes, redacted]``.

Pseudonyms: ``HOST-n``, ``DOMAIN-n.example`` (a DNS domain) and ``DOMAIN-n`` (its organisation
label or NetBIOS name), ``USER-n``, ``ORG-n``, ``SID-n``, ``IP-n``, ``HWID-n``, ``PRODUCTID-n``,
``KEYPACK-n``, and ``UPLOAD-n`` for the input paths (their folder or zip name starts every
artifact path and often names the customer; :meth:`Redactor.alias`); numbered in sorted order of each learning batch, never renumbered, so every
output rendered after learning agrees. Rules run on the original data; redaction is applied to
the analysis (:meth:`Redactor.analysis`), the frames (:meth:`Redactor.frame`) or any JSON-like
value (:meth:`Redactor.deep`) that an output is rendered from, at the output boundary.
"""
from __future__ import annotations

import csv
import dataclasses
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

import pandas as pd

FORMATS = {"host": "HOST-{}", "domain": "DOMAIN-{}.example", "label": "DOMAIN-{}", "user": "USER-{}",
           "org": "ORG-{}", "sid": "SID-{}", "ip": "IP-{}", "hwid": "HWID-{}", "product_id": "PRODUCTID-{}",
           "keypack": "KEYPACK-{}", "ou": "OU-{}", "mac": "MAC-{}"}
# learning order: a domain's labels take the domain's number, a NetBIOS domain equal to such a
# label the same one
ORDER = ("domain", "label", "host", "user", "org", "sid", "ip", "hwid", "product_id", "keypack", "ou", "mac")
COUNTERS = {"domain": "domain", "label": "domain"}

WELL_KNOWN = {
    "system", "local system", "localsystem", "local service", "network service", "nt authority", "builtin",
    "nt service", "workgroup", "window manager", "font driver host", "administrator", "administrators", "guest",
    "everyone", "users", "localhost", "anonymous logon", "iusr", "defaultaccount", "wdagutilityaccount",
    "dwm-1", "umfd-0", "umfd-1", "mshome", "domain", "local",
}
GENERIC_LABELS = {
    "local", "lan", "corp", "ad", "internal", "intra", "intranet", "com", "net", "org", "edu", "gov", "mil", "int",
    "example", "test", "home", "office", "domain", "dom", "ds", "dc", "root", "forest", "private", "priv", "global",
    "group", "host", "server", "windows", "microsoft", "workgroup", "mshome", "localdomain", "info", "biz", "io",
    "cloud", "onmicrosoft", "site", "online", "world", "network", "company", "mail", "web", "www", "prod", "dev",
    "staging", "lab", "labs", "office365", "azure",
}
EXTRA_VOCABULARY = {
    "server", "servers", "admin", "administrator", "remote", "desktop", "licensing", "license", "licenses", "user",
    "users", "device", "devices", "client", "clients", "host", "hosts", "domain", "system", "software", "service",
    "services", "windows", "microsoft", "broker", "gateway", "session", "sessions", "computer", "computers", "unknown",
    "none", "null", "true", "false", "yes", "no", "running", "stopped", "error", "warning", "info", "critical",
    "report", "reports", "policy", "policies", "deployment", "registry", "event", "events", "local", "network",
    "default", "current", "temporary", "permanent", "builtin", "volume", "active", "expired", "per", "cal", "cals",
    "rds", "rdsh", "rdcb", "rdls", "ts", "tsls", "lsm", "rcm", "evtx", "html", "csv", "txt", "reg", "hive",
    "controller", "controllers", "group", "groups", "managed", "foreign", "security", "principals", "program",
    "data", "builtin", "container", "containers", "organizational", "unit", "units", "terminal",
}
BINARY_TYPES = {"REG_BINARY", "REG_NONE", "REG_RESOURCE_LIST", "REG_FULL_RESOURCE_DESCRIPTOR",
                "REG_RESOURCE_REQUIREMENTS_LIST"}

_B = r"(?<![A-Za-z0-9])"
_E = r"(?![A-Za-z0-9])"
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
PATTERNS = {
    "sid": re.compile(r"(?<![A-Za-z0-9-])S-1-5-21(?:-\d+){3,4}(?![\d-])", re.I),
    "ip": re.compile(r"(?<![\d.])" + _OCTET + r"(?:\." + _OCTET + r"){3}(?![\d.])"),
    "ip6": re.compile(r"(?<![0-9A-Za-z:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Za-z:.])"),
    "hwid": re.compile(r"(?<![0-9A-Za-z])0x[0-9A-Fa-f]{8}(?:-0x[0-9A-Fa-f]{8}){3,4}(?![0-9A-Za-z])"),
    "mac": re.compile(r"(?<![0-9A-Za-z:-])[0-9A-Fa-f]{2}([-:])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}(?![0-9A-Za-z:-])"),
    "product_id": re.compile(r"(?<![0-9A-Za-z-])(?:\d{5}-\d{5}-\d{5}-[A-Z]{2}\d{3}|\d{5}-[A-Z0-9]{3}-\d{7}-\d{5})"
                             r"(?![0-9A-Za-z])"),
}
# an IPv4-shaped number right after a version word is a version (``FileVersion 10.0.0.1``,
# ``v1.0.0.1``), not an address; ``server 10.1.2.3`` is an address (``ver`` inside a word does not count)
_VERSION_BEFORE = re.compile(r"(?:version|(?<![A-Za-z])(?:ver|build|rev|revision|v))\.?\s*[:=#]?\s*[\"']?$", re.I)
# a distinguished name (two components or more): ``CN=RDSH01,OU=RDS Hosts,DC=contoso,DC=local``
_DN_VALUE = r"(?:\\.|[^,=\\\r\n\"'<>;+()])+"
_DN_RE = re.compile(r"(?<![A-Za-z0-9])(?:CN|OU|DC)=" + _DN_VALUE + r"(?:,\s*(?:CN|OU|DC|O|L|ST|C)=" + _DN_VALUE + r")+", re.I)
MS_PACK_TEXT = re.compile(r"^(?:[A-Z]\d{2}-\d+\.\d+-[A-Z]+|(?:Built-in|Windows|RDS|Remote Desktop|Terminal|TS|Temporary|"
                          r"Per (?:User|Device)|Microsoft|Open|Select|Enterprise|Service Provider|Retail|Volume|"
                          r"License Pack|Campus|School)\b.*)$", re.I)
_DOMAIN_RE = re.compile(r"^(?=.{3,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))+$")
_NETBIOS_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")
_HOST_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")
_USER_RE = re.compile(r"^[^\\/\s\"'<>|:*?]{1,104}$")
# an event parameter the catalog's message names as a machine, a user or a domain
_PARAM_ROLE = (
    (re.compile(r"(?:client|server|computer|host|issued to|license server|remote session)\s+[\"'“]?%(\d+)", re.I), "host"),
    (re.compile(r"(?:user)(?::|\s)\s*[\"'“]?%(\d+)", re.I), "user"),
    (re.compile(r"(?:domain)\s+[\"'“]?%(\d+)", re.I), "domain"),
)


@lru_cache(maxsize=1)
def vocabulary() -> frozenset[str]:
    """Words that are Microsoft's, never a customer's: every word of the event catalog's texts
    and of the registry key list, and :data:`EXTRA_VOCABULARY`."""
    words = set(EXTRA_VOCABULARY)
    data = Path(__file__).with_name("data")
    try:
        with open(data / "event_catalog.csv", encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                for col in ("provider", "alt_providers", "channels", "meaning", "message"):
                    words.update(w.lower() for w in re.findall(r"[A-Za-z][A-Za-z0-9]+", row.get(col) or ""))
    except OSError:
        pass
    try:
        text = (data / "registry_keys.txt").read_text(encoding="utf-8")
        words.update(w.lower() for w in re.findall(r"[A-Za-z][A-Za-z0-9]+", text))
    except OSError:
        pass
    return frozenset(words)


@lru_cache(maxsize=1)
def _param_roles() -> dict[tuple[str, int], dict[int, str]]:
    """(lower provider or source name, event id) -> {parameter index: host|user|domain}."""
    from rdsla.core.catalog import load_catalog
    out: dict[tuple[str, int], dict[int, str]] = {}
    for e in load_catalog():
        roles: dict[int, str] = {}
        for pattern, role in _PARAM_ROLE:
            for m in pattern.finditer(e.message):
                roles.setdefault(int(m.group(1)), role)
        if roles:
            for name in e.names:
                out.setdefault((name.lower(), e.event_id), {}).update(roles)
    return out


def _is_missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, float) and v != v


def _strings(value: Any) -> Iterable[str]:
    """Every string inside a JSON-like value (dict keys too)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            if isinstance(k, str):
                yield k
            yield from _strings(v)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            yield from _strings(v)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _strings(getattr(value, f.name))


def _trie_pattern(words: Iterable[str]) -> str:
    """One regex alternative matching every word (lower case), the longest first."""
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = True

    def build(node: dict) -> str:
        alts = [re.escape(ch) + build(child) for ch, child in sorted((k, v) for k, v in node.items() if k)]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body
    return build(trie)


class Redactor:
    """Learns the names of one upload (or of both sides of a diff) and replaces them."""

    def __init__(self) -> None:
        self._map: dict[str, str] = {}            # lower-case original -> pseudonym
        self._originals: dict[str, str] = {}      # lower-case original -> first spelling seen
        self._category: dict[str, str] = {}
        self._counters: dict[str, int] = {}
        self._pending: dict[str, dict[str, str]] = {c: {} for c in ORDER}
        self._domain_of_label: dict[str, str] = {}   # label -> pending DNS domain it came from
        self.not_redacted: dict[str, str] = {}    # lower-case name -> why it is kept
        self._regex: Optional[re.Pattern] = None
        self._dirty = False

    # ------------------------------------------------------------------ learning

    def add(self, category: str, value: Any) -> None:
        """Learn one name of a category (host, domain, label, user, org, sid, ip, hwid, product_id,
        keypack); split forms (FQDN, ``DOMAIN\\user``, ``user@domain``) are taken apart."""
        if _is_missing(value) or not isinstance(value, str):
            return
        v = value.strip().strip("\\").strip().strip(".")
        if not v:
            return
        if category == "host":
            self._add_host(v)
        elif category == "domain":
            self._add_domain(v)
        elif category == "user":
            self._add_user(v)
        elif category == "netbios_domain":
            self._add_label(v, netbios=True)
        else:
            self._queue(category, v)

    def _queue(self, category: str, v: str, check_vocabulary: bool = False) -> None:
        key = v.lower()
        if key in self._map or key in self._pending[category] or key in self.not_redacted:
            return
        if any(key in self._pending[c] for c in ORDER):
            return
        if key in WELL_KNOWN:
            self.not_redacted[key] = "well-known name"
            return
        if check_vocabulary and key in vocabulary():
            self.not_redacted[key] = "a Microsoft word (kept so that rule and event text stay intact)"
            return
        self._pending[category][key] = v
        self._dirty = True

    def _add_host(self, v: str) -> None:
        if v.startswith("\\\\"):
            v = v.lstrip("\\")
        if "\\" in v or "/" in v or " " in v:
            return
        if "." in v:
            if PATTERNS["ip"].fullmatch(v):
                self._queue("ip", v)
                return
            if not _DOMAIN_RE.match(v):
                return
            short, domain = v.split(".", 1)
            self._add_host(short)
            self._add_domain(domain)
            return
        if not _HOST_RE.match(v) or v.isdigit() or len(v) < 2:
            return
        self._queue("host", v, check_vocabulary=True)

    def _add_domain(self, v: str) -> None:
        v = v.strip(".")
        if "." not in v:
            self._add_label(v, netbios=True)
            return
        if not _DOMAIN_RE.match(v) or PATTERNS["ip"].fullmatch(v):
            return
        key = v.lower()
        labels = key.split(".")
        if labels[-1] in ("example", "invalid", "test", "localhost"):
            return
        self._queue("domain", v)
        for label in labels[:-1]:
            if len(label) >= 3 and label not in GENERIC_LABELS and not label.isdigit():
                if label not in self._domain_of_label:
                    self._domain_of_label[label] = key
                self._add_label(label)

    def _add_label(self, v: str, netbios: bool = False) -> None:
        """An organisation label of a DNS domain, or a NetBIOS domain name (``netbios``)."""
        if not (_NETBIOS_RE if netbios else _HOST_RE).match(v) or len(v) < 2 or v.isdigit():
            return
        self._queue("label", v, check_vocabulary=True)

    def _add_user(self, v: str) -> None:
        if "\\" in v:
            domain, _, user = v.rpartition("\\")
            if domain and domain.lower() not in WELL_KNOWN:
                self._add_domain(domain)
            v = user
        elif "@" in v:
            user, _, domain = v.partition("@")
            self._add_domain(domain)
            v = user
        v = v.strip()
        if not v or len(v) < 2 or not _USER_RE.match(v) or v.isdigit() or v.endswith("$"):
            if v.endswith("$") and len(v) > 2:
                self._add_host(v[:-1])
            return
        if PATTERNS["sid"].fullmatch(v):
            self._queue("sid", v)
            return
        self._queue("user", v, check_vocabulary=True)

    def _scan(self, text: str) -> None:
        """Learn what has a shape (SIDs, addresses, ids) and the names of distinguished names."""
        if "=" in text:
            for m in _DN_RE.finditer(text):
                self._learn_dn(m.group(0))
        if not any(c.isdigit() for c in text):
            return
        for category, pattern in PATTERNS.items():
            for m in pattern.finditer(text):
                value = m.group(0)
                if category == "ip6":
                    if not self._plausible_ip6(value):
                        continue
                    category_ = "ip"
                else:
                    category_ = category
                if category_ == "ip" and (value.startswith(("127.", "0.")) or value in ("::1", "::")):
                    self.not_redacted.setdefault(value.lower(), "loopback or unspecified address")
                    continue
                if category == "ip" and _VERSION_BEFORE.search(text, max(0, m.start() - 24), m.start()):
                    continue                    # a version number (not listed: the same digits elsewhere may be an address)
                if category == "mac" and value.lower().replace("-", ":") in ("ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00"):
                    self.not_redacted.setdefault(value.lower(), "broadcast or unspecified MAC address")
                    continue
                self._queue(category_, value)

    @staticmethod
    def _plausible_ip6(value: str) -> bool:
        """``fe80::1c2b:3d``, eight groups: an address; ``10:15:00`` (a time) or ``::``: not."""
        groups = [g for g in value.split(":") if g]
        if value.count("::") > 1 or ("::" not in value and len(groups) != 8):
            return False
        return len(groups) >= 2 and any(any(c in "abcdefABCDEF" for c in g) or len(g) > 2 for g in groups)

    def scan_strings(self, value: Any) -> None:
        """Learn SIDs, IP and MAC addresses, hardware ids, product ids and distinguished names
        wherever they appear."""
        for s in _strings(value):
            if "=" in s or any(c.isdigit() for c in s):
                self._scan(s)

    def learn_frames(self, frames: Mapping[str, pd.DataFrame]) -> "Redactor":
        ev = frames.get("events")
        if ev is not None and len(ev):
            for col in ("host", "computer"):
                for v in ev[col].dropna().unique():
                    self.add("host", str(v))
            for v in ev["user_sid"].dropna().unique():
                self._scan(str(v))
            roles = _param_roles()
            cols = [ev[c].tolist() for c in ("provider", "source_name", "event_id", "data")]
            seen = set()
            for provider, source_name, event_id, data in zip(*cols):
                if not isinstance(data, Mapping) or not data or _is_missing(event_id):
                    continue
                sig = (provider, source_name, event_id, tuple(str(x) for x in data.values()))
                if sig in seen:
                    continue
                seen.add(sig)
                provider = "" if _is_missing(provider) else str(provider)
                source_name = "" if _is_missing(source_name) else str(source_name)
                role_map = roles.get((provider.lower(), int(event_id))) or \
                    roles.get((source_name.lower(), int(event_id))) or {}
                values = list(data.values())
                for index, role in role_map.items():
                    if 0 < index <= len(values) and isinstance(values[index - 1], str):
                        for item in re.split(r"[,;]\s*", values[index - 1]):
                            self.add(role, item)
                for value in values:
                    if isinstance(value, str):
                        self._learn_token(value)
            for s in set(ev["message"].dropna().unique()) | {v for d in ev["data"] if isinstance(d, Mapping)
                                                             for v in d.values() if isinstance(v, str)}:
                if "=" in s or any(c.isdigit() for c in s):
                    self._scan(s)
        reg = frames.get("registry")
        if reg is not None and len(reg):
            for v in reg["host"].dropna().unique():
                self.add("host", str(v))
            for row in reg[["key", "value", "data", "type"]].itertuples(index=False):
                self._learn_registry(row.key, row.value, row.data, row.type)
        for name in ("keypacks", "issued"):
            frame = frames.get(name)
            if frame is None or not len(frame):
                continue
            for v in frame["license_server"].dropna().unique():
                self.add("host", str(v))
            if name == "issued":
                for v in frame["issued_to"].dropna().unique():
                    self._learn_principal(str(v))
                if "hardware_id" in frame.columns:
                    for v in frame["hardware_id"].dropna().unique():
                        self._queue("hwid", str(v))
            for col in frame.columns:
                if col.lower() in ("description", "keypack_description") or "agreement" in col.lower():
                    for v in frame[col].dropna().unique():
                        if not MS_PACK_TEXT.match(str(v).strip()):
                            self._queue("keypack", str(v).strip())
            for col in frame.columns:
                if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col].dtype):
                    for v in frame[col].dropna().unique():
                        if isinstance(v, str):
                            self._scan(v)
        art = frames.get("artifacts")
        if art is not None and len(art):
            for v in art["host"].dropna().unique():
                self.add("host", str(v))
            for v in art["path"].dropna().unique():
                self._scan(str(v))
            for w in art["warnings"]:
                self.scan_strings(list(w) if w is not None and not isinstance(w, str) else w)
        return self._commit()

    def _learn_principal(self, v: str) -> None:
        """An issued-CAL owner or group member: ``DOMAIN\\user``, ``user@domain``, a computer
        account (``LS01$``) or a device name."""
        v = v.strip()
        if "\\" in v or "@" in v:
            self._add_user(v)
        else:
            self._add_host(v[:-1] if v.endswith("$") else v)

    def _learn_token(self, value: str) -> None:
        """Any event parameter: an FQDN under a known domain, ``DOMAIN\\user``, ``user@dom.ain``."""
        v = value.strip()
        if not v or " " in v or len(v) > 260:
            return
        if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]{0,14}\\[^\\\s]+", v):
            self._add_user(v)
        elif re.fullmatch(r"[^@\s]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", v):
            self._add_user(v)
        elif _DOMAIN_RE.match(v) and not PATTERNS["ip"].fullmatch(v):
            domain = v.split(".", 1)[1].lower()
            if domain in self._map or domain in self._pending["domain"]:
                self._add_host(v)

    REGISTRY_HOSTS = {"computername", "hostname", "nv hostname", "activecomputername"}
    REGISTRY_DOMAINS = {"domain", "nv domain", "dhcpdomain", "searchlist", "machinedomain", "poldnddn",
                        "dnsdomainname"}
    REGISTRY_SERVERS = {"licenseservers", "specifiedlicenseservers"}
    REGISTRY_ORGS = {"registeredowner", "registeredorganization"}
    REGISTRY_PRODUCT = {"productid"}

    def _learn_registry(self, key: Any, value: Any, data: Any, type_: Any) -> None:
        name = "" if _is_missing(value) else str(value).lower()
        items = data if isinstance(data, (list, tuple)) else [data]
        items = [x for x in items if isinstance(x, str) and x.strip()]
        if not items:
            return
        if name in self.REGISTRY_HOSTS:
            for x in items:
                self.add("host", x)
        elif name in self.REGISTRY_DOMAINS:
            for x in items:
                for d in re.split(r"[,;\s]+", x):
                    self.add("domain", d)
        elif name in self.REGISTRY_SERVERS or (isinstance(key, str) and "licenseservers" in key.lower()):
            from rdsla.core.hostnames import split_server_list
            for x in split_server_list(items):
                self.add("host", x)
        elif name in self.REGISTRY_ORGS:
            for x in items:
                if x.strip().lower() not in ("windows user", "user", "administrator", "microsoft", ""):
                    self._queue("org", x.strip())
        elif name in self.REGISTRY_PRODUCT:
            for x in items:
                self._queue("product_id", x.strip())
        elif name in ("distinguished-name", "distinguishedname"):
            for x in items:
                self._learn_dn(x)
        for x in items:
            if "=" in x or any(c.isdigit() for c in x):
                self._scan(x)

    def _learn_dn(self, dn: str) -> None:
        """``CN=`` a machine (one word) or a person or group (words), ``OU=`` an organisational
        unit the customer named (``Contoso RDS Hosts``; Microsoft's own containers such as
        ``Domain Controllers`` are kept), ``DC=`` labels the DNS domain."""
        dcs = []
        for part in re.split(r"(?<!\\),", dn):
            attr, _, value = part.partition("=")
            attr, value = attr.strip().upper(), value.strip().strip("\"'").strip()
            if not value:
                continue
            if attr == "DC":
                label = re.match(r"[A-Za-z0-9-]+", value)
                if label:
                    dcs.append(label.group(0))
            elif attr == "CN" and not re.search(r"\s", value):
                self.add("host", value)
            elif attr in ("CN", "OU"):
                self._add_words("user" if attr == "CN" else "ou", value)
        if len(dcs) >= 2:
            self.add("domain", ".".join(dcs))

    def _add_words(self, category: str, v: str) -> None:
        """A name of several words (an OU, a person's or group's CN): kept when every word is a
        Microsoft word or a well-known name, else replaced whole."""
        words = [w.lower() for w in re.findall(r"[A-Za-z0-9]+", v)]
        if not words or v.lower() in WELL_KNOWN or all(w in vocabulary() or w in WELL_KNOWN for w in words):
            self.not_redacted.setdefault(v.lower(), "Microsoft's own container or group name")
            return
        self._queue(category, v)

    def learn_hosts(self, hosts: Iterable[Any]) -> "Redactor":
        """Host profiles (``HostProfile`` objects or findings.json ``hosts[]`` dicts)."""
        for h in hosts:
            get = h.get if isinstance(h, Mapping) else (lambda k, _h=h: getattr(_h, k, None))
            self.add("host", get("name"))
            for a in get("aliases") or []:
                self.add("host", a)
            self.add("host", get("fqdn"))
            domain = get("domain")
            value = domain.get("value") if isinstance(domain, Mapping) else getattr(domain, "value", None)
            if isinstance(value, str):
                self.add("domain", value)
            for cand in get("license_server_candidates") or []:
                v = cand.get("value") if isinstance(cand, Mapping) else getattr(cand, "value", None)
                from rdsla.core.hostnames import split_server_list
                for s in split_server_list(v):
                    self.add("host", s)
        return self._commit()

    DETAIL_HOSTS = {"members", "member", "computer", "computers", "server", "servers", "license_server",
                    "license_servers", "licenseserver", "host", "hosts", "issued_to", "machine", "computer_name"}
    DETAIL_USERS = {"user", "users", "account", "issued_to_user", "owner"}
    DETAIL_DOMAINS = {"domain", "domains", "dns_domain", "netbios_domain", "forest"}

    def learn_details(self, value: Any) -> "Redactor":
        """Names in evidence details anywhere inside ``value`` (profiles, findings): parser facts
        that are no frame row (group members of TSLSMembership.txt, servers of rds-lic-svr-chk)."""
        def walk(v: Any, depth: int = 0) -> None:
            if depth > 12:
                return
            if isinstance(v, Mapping):
                for k, x in v.items():
                    key = str(k).lower()
                    items = x if isinstance(x, (list, tuple, set)) else [x]
                    for item in items:
                        if not isinstance(item, str):
                            continue
                        if key in self.DETAIL_HOSTS:
                            self._learn_principal(item)
                        elif key in self.DETAIL_USERS:
                            self._add_user(item)
                        elif key in self.DETAIL_DOMAINS:
                            self.add("domain", item)
                    walk(x, depth + 1)
            elif isinstance(v, (list, tuple, set, frozenset)):
                for x in v:
                    walk(x, depth + 1)
            elif dataclasses.is_dataclass(v) and not isinstance(v, type):
                for f in dataclasses.fields(v):
                    walk(getattr(v, f.name), depth + 1)
        walk(value)
        return self._commit()

    def learn_findings(self, findings: Iterable[Any]) -> "Redactor":
        for f in findings:
            get = f.get if isinstance(f, Mapping) else (lambda k, _f=f: getattr(_f, k, None))
            self.add("host", get("host"))
            for h in get("related_hosts") or []:
                self.add("host", h)
        return self._commit()

    def learn_analysis(self, analysis: Any) -> "Redactor":
        """Everything one analysis holds: frames, profiles, findings, inputs (one batch: the
        numbering is that of :meth:`learn_frames` on the same frames, plus any extra name)."""
        self.learn_frames(analysis.frames)
        self.learn_hosts(analysis.hosts)
        self.learn_findings(analysis.findings)
        self.learn_findings(analysis.root_causes)
        self.learn_details(analysis.hosts)
        self.learn_details(analysis.findings)
        self.scan_strings(list(analysis.inputs) + list(analysis.messages))
        self.scan_strings(analysis.hosts)
        self.scan_strings(analysis.findings)
        return self._commit()

    def learn_reading(self, frames: Mapping[str, pd.DataFrame], host_aliases: Mapping[str, Iterable[str]]) -> "Redactor":
        """What ``rdsla.read`` gives: the frames and the host names with their spellings."""
        self.learn_frames(frames)
        for name, aliases in host_aliases.items():
            self.add("host", name)
            for a in aliases:
                self.add("host", a)
        return self._commit()

    def learn_document(self, doc: Mapping) -> "Redactor":
        """A findings.json document (a side of ``rdsla diff``): its hosts, findings, evidence
        rows (rebuilt into small frames) and every string by pattern."""
        self.learn_hosts(doc.get("hosts") or [])
        self.learn_findings(doc.get("findings") or [])
        self.learn_findings(doc.get("root_causes") or [])
        rows: dict[str, list[dict]] = {}

        def collect(value: Any) -> None:
            if isinstance(value, Mapping):
                if value.get("frame") in ("events", "registry", "keypacks", "issued") and isinstance(value.get("detail"), Mapping):
                    rows.setdefault(value["frame"], []).append(dict(value["detail"]))
                for v in value.values():
                    collect(v)
            elif isinstance(value, list):
                for v in value:
                    collect(v)
        collect(doc)
        frames = {}
        from rdsla.core.frames import make_frame
        for name, items in rows.items():
            try:
                frames[name] = make_frame(name, items)
            except (ValueError, TypeError):
                continue
        if doc.get("artifacts"):
            try:
                frames["artifacts"] = make_frame("artifacts", doc["artifacts"])
            except (ValueError, TypeError):
                pass
        self.learn_frames(frames)
        for r in doc.get("cal_pool") or []:
            self.add("host", r.get("license_server"))
        for r in doc.get("event_counts") or []:
            self.add("host", r.get("host"))
        self.learn_details(doc.get("hosts") or [])
        self.learn_details(doc.get("findings") or [])
        self.scan_strings(doc)
        return self._commit()

    COMMON_FOLDER_WORDS = {"upload", "uploads", "bundle", "bundles", "case", "cases", "data", "logs", "files",
                           "customer", "collect", "results", "output", "input", "export", "exports", "sample",
                           "samples", "test", "tests", "tmp", "temp", "new", "old", "before", "after", "home"}

    def alias(self, original: str, pseudonym: str) -> "Redactor":
        """Replace one input path (as typed, absolute, resolved) and its last component, which
        starts every artifact path (``upload.zip!/...``, ``MSRD-Results-LS01/...``), by a fixed
        name. A last component that is a common word (``upload``, ``logs``) or a Microsoft word
        is left alone, so that no rule text is rewritten."""
        import os
        forms = {original, os.path.abspath(original), os.path.realpath(original)}
        base = os.path.basename(original.rstrip("/\\"))
        stem = base.rsplit(".", 1)[0] if "." in base else base
        if len(base) >= 3 and stem.lower() not in self.COMMON_FOLDER_WORDS and base.lower() not in vocabulary():
            forms.add(base)
        for form in forms:
            if form and form.lower() not in self._map:
                self._assign(form.lower(), pseudonym, "input", form)
        self._regex = None
        return self

    def alias_inputs(self, paths: Iterable[str], prefix: str = "UPLOAD") -> "Redactor":
        """:meth:`alias` for the inputs of one run: ``UPLOAD-1``, ``UPLOAD-2``..."""
        for i, p in enumerate(paths, 1):
            self.alias(str(p), f"{prefix}-{i}")
        return self

    def _commit(self) -> "Redactor":
        if not any(self._pending.values()):
            return self
        for category in ORDER:
            pending = self._pending[category]
            for key in sorted(pending, key=lambda k: (k.count(".") if category == "domain" else 0, k)):
                if key in self._map:
                    continue
                if category == "label" and key in self._domain_of_label and self._domain_of_label[key] in self._map:
                    number = self._map[self._domain_of_label[key]].split("-", 1)[1].split(".", 1)[0]
                else:
                    counter = COUNTERS.get(category, category)
                    self._counters[counter] = self._counters.get(counter, 0) + 1
                    number = str(self._counters[counter])
                    if category == "domain":                # its labels share the number
                        for label, domain in list(self._domain_of_label.items()):
                            if domain == key and label not in self._map and label in self._pending["label"]:
                                self._assign(label, FORMATS["label"].format(number), "label",
                                             self._pending["label"][label])
                self._assign(key, FORMATS[category].format(number), category, pending[key])
                if category == "mac":               # one address in both spellings, one pseudonym
                    for other in {key.replace("-", ":"), key.replace(":", "-")} - {key}:
                        if other not in self._map:
                            self._assign(other, self._map[key], category, other)
            pending.clear()
        self._regex = None
        self._dirty = False
        return self

    @classmethod
    def from_mapping(cls, mapping: Mapping) -> "Redactor":
        """A Redactor that replaces the names of a map :meth:`mapping` wrote (the batch parent
        redacts a failed row's error with the map its worker sent); new names learned on top
        are numbered after the map's."""
        r = cls()
        for category, names in (mapping.get("names") or {}).items():
            for original, pseudonym in (names or {}).items():
                r._assign(original.lower(), pseudonym, category, original)
                number = re.search(r"-(\d+)", pseudonym)
                counter = COUNTERS.get(category, category)
                if number and category in FORMATS:
                    r._counters[counter] = max(r._counters.get(counter, 0), int(number.group(1)))
        r.not_redacted.update(mapping.get("not_redacted") or {})
        return r

    def _assign(self, key: str, pseudonym: str, category: str, original: str) -> None:
        self._map[key] = pseudonym
        self._originals[key] = original
        self._category[key] = category

    # ------------------------------------------------------------------ replacing

    def _pattern(self) -> Optional[re.Pattern]:
        if self._dirty:
            self._commit()
        if self._regex is None and self._map:
            self._regex = re.compile(_B + "(?:" + _trie_pattern(self._map) + ")" + _E, re.I)
        return self._regex

    def text(self, s: str) -> str:
        """``s`` with every learned name replaced (new SIDs / addresses / ids found on the way
        are learned first, so nothing of that shape passes)."""
        if not s:
            return s
        if "=" in s or any(c.isdigit() for c in s):
            self._scan(s)                 # queues what it finds; _pattern() commits it
        pattern = self._pattern()
        if pattern is None:
            return s
        return pattern.sub(lambda m: self._map.get(m.group(0).lower(), m.group(0)), s)

    def deep(self, value: Any) -> Any:
        """A copy of a JSON-like value or dataclass (findings, profiles, evidence) with every string
        redacted, dict keys too; binary registry data becomes a placeholder."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            out = {(self.text(k) if isinstance(k, str) else k): self.deep(v) for k, v in value.items()}
            if str(value.get("type", "")).upper() in BINARY_TYPES and "data" in value:
                out["data"] = _binary_placeholder(value.get("data"))
            return out
        if isinstance(value, list):
            return [self.deep(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.deep(v) for v in value)
        if isinstance(value, (set, frozenset)):
            return type(value)(self.deep(v) for v in value)
        if isinstance(value, pd.DataFrame):
            return self.frame(value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes = {f.name: self.deep(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
            return dataclasses.replace(value, **changes)
        return value

    def frame(self, frame: pd.DataFrame, name: str = "") -> pd.DataFrame:
        """A copy of a frame with every text cell redacted (each distinct value once); binary
        registry data becomes a placeholder."""
        out = frame.copy()
        for col in out.columns:
            series = out[col]
            if pd.api.types.is_string_dtype(series.dtype) and series.dtype != object:
                uniques = series.dropna().unique()
                mapping = {u: self.text(u) for u in uniques}
                out[col] = series.map(mapping, na_action="ignore").astype(series.dtype)
            elif series.dtype == object:
                cache: dict[str, Any] = {}

                def one(v, _cache=cache):
                    if isinstance(v, str):
                        if v not in _cache:
                            _cache[v] = self.text(v)
                        return _cache[v]
                    return self.deep(v)
                out[col] = series.map(one)
        if "type" in out.columns and "data" in out.columns:
            binary = out["type"].astype("string").str.upper().isin(list(BINARY_TYPES)).fillna(False).to_numpy(dtype=bool)
            if binary.any():
                out.loc[binary, "data"] = out.loc[binary, "data"].map(_binary_placeholder)
        return out

    def frames(self, frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        return {name: self.frame(f, name) for name, f in frames.items()}

    def analysis(self, analysis: Any) -> Any:
        """A redacted copy of an ``Analysis`` (learning from it first): what every report,
        findings.json, Markdown and terminal output of ``--redact`` is rendered from."""
        self.learn_analysis(analysis)
        changes = {}
        for f in dataclasses.fields(analysis):
            if not f.init:
                continue
            v = getattr(analysis, f.name)
            changes[f.name] = self.frames(v) if f.name == "frames" else v if f.name in ("as_of",) else self.deep(v)
        return dataclasses.replace(analysis, **changes)

    # ------------------------------------------------------------------ the map

    def mapping(self) -> dict:
        """``{"schema", "names": {category: {original: pseudonym}}, "not_redacted": {name: why}}``:
        what ``--redact-map FILE`` writes (never into a report)."""
        self._commit()
        names: dict[str, dict[str, str]] = {}
        def order(kv):
            number = re.search(r"\d+", kv[1])
            return self._category[kv[0]], int(number.group(0)) if number else 0, kv[1]
        for key, pseudonym in sorted(self._map.items(), key=order):
            names.setdefault(self._category[key], {})[self._originals[key]] = pseudonym
        return {"schema": "rdsla.redact-map/1", "names": names, "not_redacted": dict(sorted(self.not_redacted.items()))}

    def originals(self) -> list[str]:
        """Every original name learned (first spelling)."""
        self._commit()
        return list(self._originals.values())

    def __len__(self) -> int:
        self._commit()
        return len(self._map)


def _binary_placeholder(data: Any) -> Any:
    if _is_missing(data):
        return data
    if isinstance(data, (bytes, bytearray)):
        n = len(data)
    elif isinstance(data, str):
        n = len(re.sub(r"[^0-9A-Fa-f]", "", data)) // 2
    else:
        return "[binary, redacted]"
    return f"[binary, {n} bytes, redacted]"
