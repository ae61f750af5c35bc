"""RD Licensing exports as collectors and customers produce them (RDS_LICENSING.md 3.1-3.6):
MSRD-Collect's ConvertTo-Html tables, Export-Csv, wmic method output, rds-lic-svr-chk text.

Everything written here is made up by the forge; formats follow PowerShell's own writers.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

# ProductVersionID and pack codes (RDS_LICENSING.md 3.1; 2008 R2 packs report 2 in the field, 0a)
CAL_VERSION_ID = {"2008R2": 2, "2012": 4, "2016": 5, "2019": 6, "2022": 7, "2025": 8}
PRODUCT_VERSION = {"2008R2": "Windows Server 2008 or Windows Server 2008 R2", "2012": "Windows Server 2012",
                   "2016": "Windows Server 2016", "2019": "Windows Server 2019", "2022": "Windows Server 2022",
                   "2025": "Windows Server 2025"}
PACK_VERSION_CODE = {"2008R2": "6.00", "2012": "6.02", "2016": "10.00", "2019": "10.01", "2022": "10.02", "2025": "10.03"}
UNLIMITED = 4294967295


@dataclass
class KeyPack:
    keypack_id: int
    cal_version: Optional[str]        # None = built-in pack
    cal_type: str                      # per_user | per_device
    total: int
    issued: int
    keypack_type: int = 2              # 2 volume, 4 temporary, 6 built-in
    expires: str = "20380119031407.000000-000"

    @property
    def available(self) -> int:
        return UNLIMITED if self.total == UNLIMITED else self.total - self.issued


@dataclass
class IssuedLicense:
    license_id: int
    keypack_id: int
    user: str
    computer: str
    issued: datetime
    expires: datetime
    status: int                        # 1 temporary, 2 active


def builtin_pack(keypack_id: int = 2) -> KeyPack:
    return KeyPack(keypack_id, None, "per_device", UNLIMITED, 0, keypack_type=6, expires="20351231230000.000000-000")


def _wmi_time(when: datetime) -> str:
    return when.strftime("%Y%m%d%H%M%S") + ".000000-000"


def _html_table(title: str, columns: list[str], rows: list[list]) -> str:
    """What ``ConvertTo-Html`` writes (PowerShell 5.1), CRLF line ends."""
    out = ['<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN"  "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">',
           '<html xmlns="http://www.w3.org/1999/xhtml">', "<head>", f"<title>{html.escape(title)}</title>", "</head><body>",
           "<table>", "<colgroup>" + "<col/>" * len(columns) + "</colgroup>",
           "<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in columns) + "</tr>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>")
    out += ["</table>", "</body></html>", ""]
    return "\r\n".join(out)


def keypacks_html(server: str, packs: list[KeyPack]) -> bytes:
    columns = ["PSComputerName", "ProductVersion", "Description", "TypeAndModel", "TotalLicenses", "AvailableLicenses",
               "IssuedLicenses", "KeyPackId", "KeyPackType", "ProductVersionId", "AccessRights", "ExpirationDate"]
    rows = []
    for p in packs:
        if p.cal_version is None:
            rows.append([server, "Windows 2000 Server", "A02-5.00-EX", "Built-in TS Per Device CAL", UNLIMITED, UNLIMITED,
                         0, p.keypack_id, p.keypack_type, 0, 7, p.expires])
            continue
        code = ("C50-" if p.cal_type == "per_user" else "A02-") + PACK_VERSION_CODE[p.cal_version] + "-S"
        model = "RDS Per User CAL" if p.cal_type == "per_user" else "RDS Per Device CAL"
        rows.append([server, PRODUCT_VERSION[p.cal_version], code, model, p.total, p.available, p.issued, p.keypack_id,
                     p.keypack_type, CAL_VERSION_ID[p.cal_version], 7, p.expires])
    return _html_table("Win32_TSLicenseKeyPack", columns, rows).encode("utf-8")


def issued_html(server: str, licenses: list[IssuedLicense]) -> bytes:
    columns = ["PSComputerName", "LicenseId", "sIssuedToUser", "sIssuedToComputer", "IssueDate", "ExpirationDate",
               "LicenseStatus", "KeyPackId", "sHardwareId"]
    rows = [[server, lic.license_id, lic.user, lic.computer, _wmi_time(lic.issued), _wmi_time(lic.expires), lic.status,
             lic.keypack_id, f"0x{lic.license_id * 7919:08x}-0x5f3a2c1d-0x0a0b0c0d-0x{lic.keypack_id:08x}"]
            for lic in licenses]
    return _html_table("Win32_TSIssuedLicense", columns, rows).encode("utf-8")


def license_server_csv(server: str, build: int) -> bytes:
    """``Get-CimInstance Win32_TSLicenseServer | Export-Csv -NoTypeInformation`` (UTF-8 with BOM)."""
    header = '"PSComputerName","Name","ProductId","Version","VersionNumber","ServerRole","DatabasePath"'
    row = f'"{server}","{server}","00490-92005-99454-AT{build % 1000:03d}","10.0.{build}","{build}","1","C:\\Windows\\system32\\lserver\\"'
    return ("\ufeff" + header + "\r\n" + row + "\r\n").encode("utf-8")


MSRD_RULE = "======================================"


def msrd_command_output(when: datetime, command: str, output: list[str]) -> bytes:
    """A file MSRD-Collect's msrdRunCommands writes (MSRDC-FwFunctions.psm1): a header naming
    the time and the command, then the command's output lines, each appended with
    ``Out-File -Append`` (Windows PowerShell 5.1: UTF-16LE with BOM, CRLF after each write;
    the header's own trailing newline stays a bare LF)."""
    stamp = when.strftime("%Y/%m/%d %H:%M:%S.") + f"{when.microsecond // 1000:03d}"
    writes = [MSRD_RULE, f"{stamp} : {command}", MSRD_RULE + "\n", *output, "\n"]
    return b"\xff\xfe" + "".join(w + "\r\n" for w in writes).encode("utf-16-le")


TSLS_GROUP = "Terminal Server License Servers"
TSLS_COMMENT = ("Members of this group can update user accounts in Active Directory with information about license "
                "issuance, for the purpose of tracking and reporting TS Per User CAL usage")


def tsls_membership(domain: str, members: list[str], when: Optional[datetime] = None) -> bytes:
    """``net localgroup "Terminal Server License Servers" /domain`` as MSRD-Collect saves it in
    ``<HOST>_TSLSMembership.txt`` (msrdGetLocalGroupMembership, on session hosts and license
    servers of a domain): machine accounts of the domain are listed as ``NAME$``."""
    lines = [f"The request will be processed at a domain controller for domain {domain}.", "",
             f"Alias name     {TSLS_GROUP}", f"Comment        {TSLS_COMMENT}", "", "Members", "",
             "-" * 79, *[f"{m}$" for m in members], "The command completed successfully.", ""]
    if when is None:
        return ("\r\n".join(lines)).encode("utf-8")
    return msrd_command_output(when, f"net localgroup '{TSLS_GROUP}' /domain", lines)


GRACE_COMMAND = ("cmd /c 'wmic /namespace:\\\\root\\CIMV2\\TerminalServices PATH Win32_TerminalServiceSetting "
                 'WHERE (__CLASS !="") CALL GetGracePeriodDays\'')


def grace_period_txt(host: str, days_left: int, when: Optional[datetime] = None) -> bytes:
    """wmic's output of ``Win32_TerminalServiceSetting.GetGracePeriodDays()`` (MSRD-Collect
    ``<HOST>_rdsh_GracePeriod.txt``, with msrdRunCommands' header when ``when`` is given).
    ``DaysLeft`` is 0 on a host whose license server is configured (RDS_LICENSING.md 0a)."""
    output = [f"Executing (\\\\{host}\\ROOT\\CIMV2\\TerminalServices:Win32_TerminalServiceSetting=@)->GetGracePeriodDays()",
              "Method execution successful.", "Out Parameters:", "instance of __PARAMETERS", "{",
              f"\tDaysLeft = {days_left};", "\tReturnValue = 0;", "};", ""]
    if when is not None:
        return msrd_command_output(when, GRACE_COMMAND, output)
    return b"\xff\xfe" + "\r\n".join(output + [""]).encode("utf-16-le")


def lic_svr_chk(host: str, activated: Optional[bool], servers: list[str], grace_days: Optional[int],
                has_cert: bool, connectivity_ok: bool) -> bytes:
    """Output lines of the support script rds-lic-svr-chk (RDS_LICENSING.md section 6)."""
    lines = []
    if activated is not None:
        lines.append(f"checking license server: '{host}'")
        lines.append(f"activation status: {0 if activated else 1} (0 = activated, 1 = not activated)")
    for s in servers:
        lines += [f"LicenseServer:{s}", "HowDiscovered:Manual", f"IsLSAvailable:{connectivity_ok}",
                  f"IssuingCals:{connectivity_ok}"]
    if grace_days is not None:
        lines.append(f"server {host} Grace period days left? {grace_days}")
    lines.append(f"ever connected to license server (has x509 cert)? {has_cert}")
    lines.append(f"license connectivity status: {connectivity_ok}")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")
