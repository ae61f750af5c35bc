"""Bundle intake: find the artifacts of an upload by content, safely.

Input is a folder (walked recursively, symlinks never followed), a zip (zips inside it opened
one level deep, in memory), or several loose paths. Every file ends up either as a
:class:`~parsers.base.Source` to parse or as a ledger entry saying why it was not read. Zip
members are never extracted to disk; hostile member names, bombs and symlinks are refused
member by member and the rest of the bundle goes on (DESIGN.md, "Trust boundary").
"""
from __future__ import annotations

import io
import os
import posixpath
import re
import stat
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

from rdsla.core.hostnames import hint_from_file_name, hint_from_folders
from rdsla.core.limits import Limits
from rdsla.parsers import recognize
from rdsla.parsers.base import Source, open_zip
from rdsla.parsers.formats import HEAD_BYTES, Sniff

_DRIVE = re.compile(r"^[A-Za-z]:")
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")     # a local file header; an empty archive's end record


@dataclass
class LedgerEntry:
    """One row of the ``artifacts`` frame for a file that is not parsed (or not yet)."""

    path: str
    kind: str = "unknown"
    host: Optional[str] = None
    status: str = "skipped"              # ok | partial | failed | skipped
    records_read: int = 0
    records_lost: int = 0
    warnings: list[str] = field(default_factory=list)
    size: Optional[int] = None

    def to_row(self) -> dict:
        return {"path": self.path, "kind": self.kind, "host": self.host, "status": self.status,
                "records_read": self.records_read, "records_lost": self.records_lost,
                "warnings": list(self.warnings), "size": self.size}


@dataclass
class Intake:
    sources: list[Source] = field(default_factory=list)
    ledger: list[LedgerEntry] = field(default_factory=list)   # skipped / refused files
    messages: list[str] = field(default_factory=list)         # input-level problems
    inputs_opened: int = 0
    input_dirs: list[str] = field(default_factory=list)


def open_bundle(paths: list[str], limits: Limits = Limits()) -> Intake:
    """Find every artifact under ``paths``."""
    intake = Intake()
    for raw in paths:
        path = Path(raw)
        try:
            st = path.lstat()
        except OSError as exc:
            intake.messages.append(f"{raw}: cannot open ({exc.strerror or exc})")
            continue
        if stat.S_ISLNK(st.st_mode):
            try:
                st = path.stat()
            except OSError as exc:
                intake.messages.append(f"{raw}: broken symbolic link ({exc.strerror or exc})")
                continue
        if stat.S_ISDIR(st.st_mode):
            intake.inputs_opened += 1
            intake.input_dirs.append(str(path.resolve()))
            _walk_folder(path, intake, limits)
        elif stat.S_ISREG(st.st_mode):
            intake.inputs_opened += 1
            _add_file(str(path), path.name, [], st.st_size, intake, limits)
        else:
            intake.messages.append(f"{raw}: not a regular file or folder")
    _attach_companions(intake)
    return intake


def _walk_folder(root: Path, intake: Intake, limits: Limits) -> None:
    count = 0
    base = _join(root.name or str(root), "")
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = Path(dirpath).relative_to(root)
        depth = len(rel_dir.parts)
        if depth >= limits.max_depth:
            intake.ledger.append(LedgerEntry(path=_join(base, rel_dir.as_posix()), status="skipped",
                                             warnings=[f"folder nested deeper than {limits.max_depth} levels: not walked"]))
            dirnames[:] = []
            continue
        dirnames.sort()
        for d in list(dirnames):
            full = os.path.join(dirpath, d)
            if os.path.islink(full):
                dirnames.remove(d)
                intake.ledger.append(LedgerEntry(path=_join(base, (rel_dir / d).as_posix()), status="skipped",
                                                 warnings=["symbolic link to a folder: not followed"]))
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            display = _join(base, (rel_dir / name).as_posix())
            count += 1
            if count > limits.max_files:
                intake.ledger.append(LedgerEntry(path=_join(base, ""), status="skipped",
                                                 warnings=[f"more than {limits.max_files:,} files: the rest were not read (--max-files)"]))
                return
            try:
                st = os.lstat(full)
            except OSError as exc:
                intake.ledger.append(LedgerEntry(path=display, status="failed", warnings=[f"cannot stat: {exc.strerror}"]))
                continue
            if stat.S_ISLNK(st.st_mode):
                intake.ledger.append(LedgerEntry(path=display, status="skipped", warnings=["symbolic link: not followed"]))
                continue
            if not stat.S_ISREG(st.st_mode):
                intake.ledger.append(LedgerEntry(path=display, status="skipped",
                                                 warnings=["not a regular file (device, FIFO or socket): not read"]))
                continue
            _add_file(full, display, [base, *rel_dir.parts], st.st_size, intake, limits)


def _join(base: str, rel: str) -> str:
    """A display path; file names that are not valid UTF-8 (surrogate-escaped by os.walk) show
    their raw bytes as \\xNN so every later layer gets a printable, encodable string."""
    path = base if rel in ("", ".") else f"{base}/{rel}"
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _add_file(fs_path: str, display: str, folders: list[str], size: int, intake: Intake, limits: Limits) -> None:
    if size > limits.max_file_bytes:
        intake.ledger.append(LedgerEntry(path=display, size=size, status="skipped", warnings=[
            f"{size:,} bytes: larger than the per-file limit of {limits.max_file_bytes:,} (--max-file-size)"]))
        return
    try:
        with open(fs_path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError as exc:
        intake.ledger.append(LedgerEntry(path=display, size=size, status="failed", warnings=[f"cannot read: {exc.strerror}"]))
        return
    source = Source(display=display, chain=(fs_path,), size=size, max_bytes=limits.max_file_bytes)
    _classify(source, head, folders, intake, limits, zip_depth=0)


def classify(head: bytes) -> Sniff:
    """What intake makes of a file's first bytes: a zip is a container it opens; anything else
    is what the parsers' formats recognize (:func:`parsers.recognize`), by content only."""
    if head.startswith(ZIP_MAGICS):
        return Sniff("zip", 1.0, "zip signature")
    return recognize(head)


def _classify(source: Source, head: bytes, folders: list[str], intake: Intake, limits: Limits, zip_depth: int) -> None:
    found = classify(head)
    if found.kind == "zip":
        if zip_depth >= 2:
            intake.ledger.append(LedgerEntry(path=source.display, size=source.size, status="skipped", warnings=[
                "zip inside a zip inside a zip: only one level of nesting is opened"]))
            return
        _expand_zip(source, intake, limits, zip_depth + 1)
        return
    if found.kind == "unknown":
        intake.ledger.append(LedgerEntry(path=source.display, size=source.size, status="skipped",
                                         warnings=[f"not an RDS licensing artifact: {found.reason}"]))
        return
    hint = hint_from_file_name(source.name)
    origin = "file name"
    if hint is None:
        hint, origin = hint_from_folders(folders), "folder name"
    intake.sources.append(replace(source, kind=found.kind, host_hint=hint, hint_origin=origin if hint else None))


def _member_problem(info: zipfile.ZipInfo) -> Optional[str]:
    name = info.filename
    if not name:
        return "empty member name"
    if "\x00" in name:
        return "member name contains a NUL byte"
    norm = name.replace("\\", "/")
    if norm.startswith("//") or name.startswith("\\\\"):
        return "UNC member path"
    if norm.startswith("/"):
        return "absolute member path"
    if _DRIVE.match(norm):
        return "drive-letter member path"
    if ".." in norm.split("/"):
        return "member path climbs out of the archive (..)"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "symbolic link member: not followed"
    return None


def _expand_zip(container: Source, intake: Intake, limits: Limits, depth: int) -> None:
    try:
        if len(container.chain) == 1:
            zf, bad_names = open_zip(container.chain[0])
        else:
            zf, bad_names = open_zip(io.BytesIO(container.read_bytes(limits.max_file_bytes)))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        intake.ledger.append(LedgerEntry(path=container.display, kind="unknown", size=container.size,
                                         status="failed", warnings=[f"unreadable zip: {exc}"]))
        return
    except Exception as exc:  # noqa: BLE001 - a hostile zip may raise anything (e.g. SourceTooLarge)
        intake.ledger.append(LedgerEntry(path=container.display, kind="unknown", size=container.size,
                                         status="failed", warnings=[f"unreadable zip: {exc}"]))
        return
    with zf:
        infos = [i for i in zf.infolist() if not i.filename.endswith("/")]
        if not infos:
            intake.ledger.append(LedgerEntry(path=container.display, size=container.size, status="skipped",
                                             warnings=["zip has no file members"]))
            return
        if len(infos) > limits.max_members:
            intake.ledger.append(LedgerEntry(path=container.display, status="skipped", warnings=[
                f"zip has {len(infos):,} members, more than the limit of {limits.max_members:,} (--max-members): "
                f"only the first {limits.max_members:,} were read"]))
            infos = infos[:limits.max_members]
        total = 0
        for info in infos:
            display = f"{container.display}!/{info.filename}"
            problem = _member_problem(info)
            if problem is None and info.filename in bad_names:
                problem = "member name flagged UTF-8 but not valid UTF-8"
            if problem is None and info.file_size > limits.max_file_bytes:
                problem = f"{info.file_size:,} bytes uncompressed: larger than the per-file limit (--max-file-size)"
            if problem is None and info.file_size > limits.ratio_floor_bytes and \
                    info.file_size > limits.max_ratio * max(info.compress_size, 1):
                problem = (f"compression ratio {info.file_size // max(info.compress_size, 1):,}:1 above the limit of "
                           f"{limits.max_ratio:,}:1 (zip bomb?)")
            if problem is None and total + info.file_size > limits.max_total_bytes:
                problem = f"the archive's total uncompressed size passes the limit of {limits.max_total_bytes:,} bytes (--max-total-size)"
            if problem:
                intake.ledger.append(LedgerEntry(path=display, size=info.file_size, status="failed",
                                                 warnings=[f"refused: {problem}"]))
                continue
            total += info.file_size
            chain = container.chain + (info.filename,)
            member = Source(display=display, chain=chain, size=info.file_size, max_bytes=limits.max_file_bytes)
            try:
                with zf.open(info) as fh:
                    head = fh.read(HEAD_BYTES)
            except Exception as exc:  # noqa: BLE001 - corrupt members raise zlib/zipfile/CRC errors
                intake.ledger.append(LedgerEntry(path=display, size=info.file_size, status="failed",
                                                 warnings=[f"unreadable zip member: {exc}"]))
                continue
            folders = [container.name.rsplit(".", 1)[0], *posixpath.dirname(info.filename.replace("\\", "/")).split("/")]
            _classify(member, head, [f for f in folders if f], intake, limits, depth)


def _attach_companions(intake: Intake) -> None:
    """Event Viewer exports keep rendered messages in ``LocaleMetaData/<name>_<LCID>.MTA``;
    hives keep unflushed changes in ``<hive>.LOG1/.LOG2``. Both are read with their main file,
    not as artifacts of their own."""
    by_key: dict[tuple[str, str], int] = {}
    for i, src in enumerate(intake.sources):
        parent, name = _split(src.display)
        by_key[(parent.lower(), name.rsplit(".", 1)[0].lower() if src.kind == "evtx" else name.lower())] = i
    kept: list[Source] = []
    companions: dict[int, list[Source]] = {}
    for src in intake.sources:
        parent, name = _split(src.display)
        owner = None
        if src.kind == "evtx" and name.lower().endswith(".mta") and parent.lower().rsplit("/", 1)[-1] == "localemetadata":
            grand = parent.rsplit("/", 1)[0] if "/" in parent else ""
            stem = name.rsplit(".", 1)[0]
            stem = stem.rsplit("_", 1)[0] if "_" in stem else stem
            owner = by_key.get((grand.lower(), stem.lower()))
            reason = "locale metadata (rendered messages)"
        elif re.search(r"\.log[12]?$", name, re.I) and src.kind == "hive":
            owner = by_key.get((parent.lower(), name.rsplit(".", 1)[0].lower()))
            reason = "hive transaction log"
        if owner is not None:
            companions.setdefault(owner, []).append(src)
            intake.ledger.append(LedgerEntry(path=src.display, kind=src.kind, size=src.size, status="skipped",
                                             warnings=[f"{reason} of {intake.sources[owner].display}: read with it"]))
        else:
            kept.append(src)
    if companions:
        owners = {id(intake.sources[i]): tuple(c) for i, c in companions.items()}
        kept = [replace(s, companions=owners.get(id(s), ())) if id(s) in owners else s for s in kept]
    intake.sources = kept


def _split(display: str) -> tuple[str, str]:
    norm = display.replace("\\", "/").replace("!/", "/")
    if "/" not in norm:
        return "", norm
    parent, name = norm.rsplit("/", 1)
    return parent, name
