"""Which registry keys rdsla reads: patterns, and whether a key matches them.

The patterns are the host-profile builder's declared needs (``analyzer.hosts.NEEDS.registry``,
every line of ``core/data/registry_keys.txt``): the pipeline hands the declared patterns to the
registry parsers (``ParseOptions.registry``), which read exactly those keys of a hive or a text
export, and the builder's registry reads are checked against them (``UndeclaredNeed``).

Pattern syntax: ``HIVE\\path`` below the hive root; per component ``*`` and ``?`` (fnmatch),
``**`` as the last component = every subkey below, at any depth; ``CurrentControlSet`` matches
the current control set (``ControlSet00N`` in text forms).
"""
from __future__ import annotations

import fnmatch
import re
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Optional

KEYS_FILE = Path(__file__).with_name("data") / "registry_keys.txt"
_CCS = re.compile(r"^(?:ControlSet\d{3}|CurrentControlSet)$", re.I)

Patterns = tuple[tuple[str, tuple[str, ...]], ...]


@lru_cache(maxsize=1)
def declared_lines() -> tuple[str, ...]:
    """Every ``HIVE\\path`` line of the key list, in file order."""
    out = []
    for line in KEYS_FILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return tuple(out)


@lru_cache(maxsize=8)
def _compile(lines: tuple[str, ...]) -> Patterns:
    out = []
    for line in lines:
        hive, _, rest = line.partition("\\")
        out.append((hive.upper(), tuple(rest.split("\\"))))
    return tuple(out)


def patterns(lines: Optional[Iterable[str]] = None) -> Patterns:
    """(hive, path components) of ``lines`` (default: the whole key list)."""
    return _compile(tuple(sorted(lines)) if lines is not None else declared_lines())


def _component_match(pattern: str, name: str) -> bool:
    if pattern.lower() == "currentcontrolset":
        return bool(_CCS.match(name))
    if "*" in pattern or "?" in pattern or "[" in pattern:
        return fnmatch.fnmatchcase(name.lower(), pattern.lower())
    return pattern.lower() == name.lower()


def _prefix(pattern: tuple[str, ...], parts: list[str]) -> bool:
    return all(_component_match(a, b) for a, b in zip(pattern, parts))


def _candidates(hive: str, among: Optional[Patterns]):
    return (pattern for p_hive, pattern in (among if among is not None else patterns()) if p_hive == hive)


def matches(hive: str, path: str, among: Optional[Patterns] = None) -> bool:
    """Is ``hive\\path`` one of the keys of ``among`` (default: the whole key list)?"""
    parts = path.split("\\") if path else []
    for pattern in _candidates(hive, among):
        if pattern[-1] == "**":
            if len(parts) > len(pattern) - 1 and _prefix(pattern[:-1], parts):
                return True
        elif len(parts) == len(pattern) and _prefix(pattern, parts):
            return True
    return False


def covers_children(hive: str, path: str, among: Optional[Patterns] = None) -> bool:
    """Does some pattern name keys directly below ``hive\\path`` (``...\\RDS-*``, ``...\\**``)?"""
    parts = path.split("\\") if path else []
    for pattern in _candidates(hive, among):
        if pattern[-1] == "**" and len(parts) >= len(pattern) - 1 and _prefix(pattern[:-1], parts):
            return True
        if len(pattern) > len(parts) and _prefix(pattern, parts):
            return True
    return False
