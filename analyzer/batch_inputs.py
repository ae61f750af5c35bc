"""Expand ``rdsla batch`` INPUTs into bundles (DESIGN.md, "Contracts": batch inputs).

Why a module of its own: what counts as one bundle decides the rows, the resume keys and the
output folder names, so the rule lives in one place:

- an INPUT that is a file (a zip, or anything else) is one bundle; a file that is not a zip
  becomes a ``failed`` row later, never a usage error;
- an INPUT folder with at least one direct child folder or zip (zip by content or by name) is
  a folder of bundles: each such child is one bundle, also an unreadable one; loose plain
  files beside them are not bundles and are reported as skipped (``messages``);
- an INPUT folder whose direct children are only plain files (or nothing) is itself one
  bundle: that is an upload unpacked into one folder, and treating each file as a bundle
  would split one machine's evidence;
- a missing INPUT is a bundle that gets a ``failed`` row (nothing is dropped silently);
  symbolic links among the children are never followed.

Sizes and fingerprints come from ``stat`` only (no content is read beyond 4 bytes of a
candidate zip): the size orders the work (largest first), the fingerprint tells ``--resume``
whether a bundle changed since its result was written.
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
WALK_CAP = 100_000          # entries stat'ed per folder bundle for its size / fingerprint
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Bundle:
    name: str                   # as shown in the summary: the INPUT as typed, joined with the child name
    path: str                   # absolute path handed to the analysis
    key: str                    # identity for resume and the output folder: the resolved path
    size: int                   # bytes (sum of files for a folder), for largest-first scheduling
    fingerprint: str            # changes when the bundle's files change
    dir_name: str               # safe, unique folder name inside OUTDIR


@dataclass
class Expansion:
    bundles: list[Bundle] = field(default_factory=list)
    input_dirs: list[str] = field(default_factory=list)     # resolved INPUT folders (never written into)
    messages: list[str] = field(default_factory=list)
    opened: int = 0                                         # INPUTs that exist


def safe_dir_name(name: str, key: str) -> str:
    """A folder name that cannot escape OUTDIR nor collide: a sanitized stem of the (hostile)
    bundle name plus a hash of its resolved path."""
    base = name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    stem = _UNSAFE.sub("_", base).strip("._-")[:60] or "bundle"
    return f"{stem}-{hashlib.sha256(key.encode('utf-8', 'surrogateescape')).hexdigest()[:10]}"


def _is_zip(path: str, name: str) -> bool:
    if name.lower().endswith(".zip"):
        return True
    try:
        with open(path, "rb") as fh:
            return fh.read(4) in ZIP_MAGIC
    except OSError:
        return False


def _folder_stats(path: str) -> tuple[int, str]:
    total, count, newest = 0, 0, 0
    stack = [path]
    while stack and count < WALK_CAP:
        top = stack.pop()
        try:
            with os.scandir(top) as it:
                for entry in it:
                    count += 1
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    newest = max(newest, st.st_mtime_ns)
                    if stat.S_ISDIR(st.st_mode):
                        stack.append(entry.path)
                    elif stat.S_ISREG(st.st_mode):
                        total += st.st_size
        except OSError:
            continue
    return total, f"dir:{count}:{total}:{newest}"


def _bundle(name: str, path: str, st: os.stat_result | None) -> Bundle:
    real = os.path.realpath(path)
    if st is None:
        size, fp = 0, "missing"
    elif stat.S_ISDIR(st.st_mode):
        size, fp = _folder_stats(real)
    else:
        size, fp = st.st_size, f"file:{st.st_size}:{st.st_mtime_ns}"
    return Bundle(name=name, path=real, key=real, size=size, fingerprint=fp, dir_name=safe_dir_name(name, real))


def expand_inputs(inputs: list[str]) -> Expansion:
    out = Expansion()
    seen: set[str] = set()

    def add(b: Bundle) -> None:
        if b.key not in seen:
            seen.add(b.key)
            out.bundles.append(b)

    for raw in inputs:
        try:
            st = os.stat(raw)
        except OSError as exc:
            out.messages.append(f"{raw}: cannot open ({exc.strerror or exc})")
            add(_bundle(raw, os.path.abspath(raw), None))
            continue
        out.opened += 1
        if not stat.S_ISDIR(st.st_mode):
            add(_bundle(raw, raw, st))
            continue
        out.input_dirs.append(str(Path(raw).resolve()))
        try:
            children = sorted(os.scandir(raw), key=lambda e: e.name)
        except OSError as exc:
            out.messages.append(f"{raw}: cannot list ({exc.strerror or exc}): treated as one bundle")
            add(_bundle(raw, raw, st))
            continue
        bundles, loose = [], []
        for entry in children:
            if entry.is_symlink():
                out.messages.append(f"{entry.path}: symbolic link, not followed")
                continue
            try:
                cst = entry.stat(follow_symlinks=False)
            except OSError as exc:
                out.messages.append(f"{entry.path}: cannot stat ({exc.strerror or exc})")
                continue
            if stat.S_ISDIR(cst.st_mode) or (stat.S_ISREG(cst.st_mode) and _is_zip(entry.path, entry.name)):
                bundles.append((entry, cst))
            else:
                loose.append(entry.name)
        if not bundles:
            add(_bundle(raw, raw, st))
            continue
        for name in loose:
            out.messages.append(f"{os.path.join(raw, name)}: a loose file beside bundles, skipped")
        for entry, cst in bundles:
            add(_bundle(os.path.join(raw, entry.name), entry.path, cst))
    return out


def inside(path: str, folder: str) -> bool:
    """True when ``path`` is ``folder`` or below it (both resolved)."""
    p, f = Path(path).resolve(), Path(folder).resolve()
    return p == f or f in p.parents
