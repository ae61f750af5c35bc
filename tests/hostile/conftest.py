"""Helpers for the hostile-bundle corpus: every bundle is built by the tests in tmp_path."""
from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import zipfile
from pathlib import Path


from rdsla.analyzer.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "parsers" / "fixtures" / "licensing"
ZIP_TIME = (2024, 11, 5, 10, 15, 0)


def reg_text(host: str = "RDSH01", servers: str = "LS01") -> bytes:
    """A small ``reg export`` (UTF-16LE with BOM, as regedit writes it)."""
    text = ("Windows Registry Editor Version 5.00\r\n\r\n"
            "[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\"Current\"=dword:00000001\r\n\r\n"
            "[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\r\n"
            f"\"ComputerName\"=\"{host}\"\r\n\r\n"
            "[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\Terminal Server\\RCM\\Licensing Core]\r\n"
            "\"LicensingMode\"=dword:00000004\r\n\r\n"
            "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows NT\\Terminal Services]\r\n"
            f"\"LicenseServers\"=\"{servers}\"\r\n\"LicensingMode\"=dword:00000004\r\n\r\n")
    return b"\xff\xfe" + text.encode("utf-16-le")


def keypacks_csv() -> bytes:
    return (FIXTURES / "keypacks_export.csv").read_bytes()


def make_zip(path: Path, members: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, ZIP_TIME), data, method)
    return path


def zip_bytes(members: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, ZIP_TIME), data, method)
    return buf.getvalue()


def add_symlink_member(path: Path, name: str, target: str) -> None:
    with zipfile.ZipFile(path, "a") as zf:
        info = zipfile.ZipInfo(name, ZIP_TIME)
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        info.create_system = 3
        zf.writestr(info, target)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def inventory(capsys, *argv: str) -> dict[str, dict]:
    """``rdsla inventory --json`` -> {path: artifact row}; asserts exit 0 and each path once."""
    code, out, err = run(capsys, "inventory", *argv, "--json", "--jobs", "1")
    assert code == 0, err
    doc = json.loads(out)
    rows = {}
    for row in doc["artifacts"]:
        assert row["path"] not in rows, f"{row['path']} listed twice"
        rows[row["path"]] = row
    return rows


def analyze_ok(capsys, tmp_path: Path, *paths: str, extra=()) -> tuple[int, str, str]:
    """``rdsla analyze`` with every output; the run must finish (exit 0 or 1) and write them."""
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, "analyze", *paths, "--format", "json,md", "--out-dir", str(out_dir),
                         "--quiet", "--jobs", "1", *extra)
    assert code in (0, 1), f"exit {code}: {err}"
    findings = json.loads((out_dir / "findings.json").read_text(encoding="utf-8"))
    assert findings
    return code, out, err


def one(rows: dict[str, dict], suffix: str) -> dict:
    hits = [r for p, r in rows.items() if p.endswith(suffix)]
    assert len(hits) == 1, f"{suffix!r}: {len(hits)} rows among {sorted(rows)[:20]}"
    return hits[0]


def warned(row: dict, *words: str) -> bool:
    text = " ".join(row["warnings"]).lower()
    return all(w.lower() in text for w in words)


def tree_digest(*roots: Path) -> dict[str, tuple]:
    """path -> (sha256, mode, size, mtime_ns) of every file, symlink and special file below roots."""
    out = {}
    for root in roots:
        root = Path(root)
        items = [root] if not root.is_dir() or root.is_symlink() else [root, *root.rglob("*")]
        for p in items:
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                h = hashlib.sha256(p.read_bytes()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                h = "link:" + os.readlink(p)
            else:
                h = "special"
            out[str(p)] = (h, st.st_mode, st.st_size, st.st_mtime_ns)
    return out
