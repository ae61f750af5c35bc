"""What a format tells intake: how sure it is that a file's first bytes are its own.

Each format module declares ``FORMAT`` (or ``FORMATS``): the inventory kinds it yields, a
``sniff(head) -> Sniff | None`` over the first :data:`HEAD_BYTES` of a file, and the parse
entry ``"module:function"``, imported only when a file of that kind is parsed. The list of
format modules and the choice between their answers are :mod:`rdsla.parsers`' (issue 16,
item 4: each parser owns its format detection; intake asks the parsers).

Confidence scale (the values shipped formats use; a new format picks the rung that fits):

* :data:`CERTAIN` 1.0 - the format's own signature at its fixed offset (``ElfFile``, ``regf``,
  the ``.reg`` header line). Nothing beats it, so intake stops asking.
* :data:`STRONG` 0.9 - structure only this format has (an EVTX chunk where the first one
  starts, behind a wiped file header; ``reg query`` key and value lines; a whole JSON document).
* :data:`LIKELY` 0.8 - a table whose header or cells carry the format's field names.
* :data:`WEAK` 0.5 - the format's field names somewhere in text.

Below :data:`THRESHOLD` a guess is not enough: the file is listed as ``unknown`` with the
guess in its reason. Only the standard library here: ``import rdsla.parsers`` stays cheap.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

HEAD_BYTES = 65536          # what intake reads of every file to recognize it

CERTAIN = 1.0
STRONG = 0.9
LIKELY = 0.8
WEAK = 0.5
THRESHOLD = WEAK


@dataclass(frozen=True)
class Sniff:
    """One format's answer for one head: the kind it saw, how sure it is (0..1), and why."""

    kind: str
    confidence: float
    reason: str = ""


@dataclass(frozen=True)
class Format:
    """A format as intake sees it.

    ``kinds``: the inventory kinds its sniff may answer (DESIGN.md, inventory contract).
    ``sniff``: first bytes -> :class:`Sniff`, or None when the head is not this format; never
    raises, reads nothing but ``head``.
    ``parse``: ``"module:function"`` of its parser, imported on first use; None for a format
    recognized only so that it is not taken for another one (kind ``unknown``).
    """

    kinds: tuple[str, ...]
    sniff: Callable[[bytes], Optional[Sniff]]
    parse: Optional[str]
