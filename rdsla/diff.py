"""``rdsla diff`` in Python: compare two analyses of one case, before and after a fix.

::

    from rdsla.diff import diff
    d = diff("case-12345/upload-1.zip", "case-12345/upload-2/findings.json")
    d.document["causes"]["resolved"]        # [{'rule_id': 'RDSLIC-003', 'host': 'RDSH01', ...}]
    d.exit_code                             # 0: no cause at or above fail_on remains after
    d.to_html("diff.html"); d.to_json("diff.json"); d.to_markdown("diff.md")

Each side is a bundle (folder, zip or file: analyzed through :func:`rdsla.api.analyze` with the
common options) or a findings.json written by ``rdsla analyze --json`` (read as it is, never
re-analyzed). The comparison itself is :func:`rdsla.reports.diff.compare` on the two findings
documents. Layer: above the API (it calls it), below the CLI (pyproject.toml's contracts).

Each bundle side has its own collection time and current window (``as_of_before`` /
``as_of_after``; ``window`` for both, ``window_before`` / ``window_after`` for one): two uploads
are collected days apart, and a side whose clock was wrong needs its own ``as_of``. A
findings.json side was analyzed already: asking it for another time or window is an error
naming the file, never silently ignored.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional, Union

from rdsla import api

__all__ = ["diff", "Diff", "load_side"]


def load_side(path: Union[str, "os.PathLike[str]"], *, as_of=None, window=None, redactor=None, label: str = "",
              **options: Any) -> tuple[dict, list]:
    """(findings document, input folders) of one side: a findings.json as written by rdsla, or
    a bundle analyzed now (as of ``as_of``, ``window`` days current). A ``.json`` file that is
    not a findings document is an :class:`rdsla.api.ArgumentError`; so is a bundle of which
    nothing could be opened, and an ``as_of`` or a different ``window`` for a findings.json."""
    from rdsla.reports.diff import NotAFindingsDocument, check_document

    p = Path(os.fspath(path))
    if p.is_file() and p.suffix.lower() == ".json":
        try:
            doc = json.loads(p.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise api.ArgumentError(f"{p}: cannot read a findings.json ({exc})") from exc
        try:
            doc = check_document(doc, str(p))
        except NotAFindingsDocument as exc:
            raise api.ArgumentError(str(exc)) from None
        _check_fixed(p, doc, as_of, window, label)
        if redactor is not None:
            redactor.learn_document(doc)
        return doc, []
    from rdsla.reports.findings_json import findings_document

    result = api.analyze(os.fspath(path), as_of=as_of, window=window, **options)
    if redactor is not None:
        redactor.learn_analysis(result.analysis)
    return findings_document(result.analysis), result.input_dirs


def _check_fixed(path: Path, doc: dict, as_of, window, label: str) -> None:
    """A findings.json keeps the collection time and window it was analyzed with."""
    side = f"{label} " if label else ""
    if as_of is not None:
        raise api.ArgumentError(f"{path}: the {side}side is a findings.json, analyzed as of {doc.get('as_of')}; "
                                f"a collection time applies to a bundle only (diff the bundle instead)")
    days = doc.get("current_days")
    if window is not None and (days is None or float(days) != float(window)):
        raise api.ArgumentError(f"{path}: the {side}side is a findings.json whose current window is "
                                f"{format(float(days), 'g') if days is not None else 'unknown'} days, not {window:g}; "
                                f"a window applies to a bundle only (diff the bundle instead)")


class Diff:
    """The comparison of two sides: ``document`` (schema ``rdsla.diff/1``, see
    :mod:`rdsla.reports.diff`), ``exit_code``; ``to_html``, ``to_json``, ``to_markdown`` (a path:
    write there, a folder gets diff.html / diff.json / diff.md; none: return the text)."""

    def __init__(self, document: dict, input_dirs: list[str]):
        self.document = document
        self.input_dirs = list(input_dirs)

    @property
    def exit_code(self) -> int:
        return int(self.document["exit_code"])

    def summary(self, outputs: Optional[dict] = None) -> str:
        from rdsla.reports.diff import terminal_summary
        return terminal_summary(self.document, outputs)

    def to_html(self, path=None):
        from rdsla.reports.diff_view import render_html
        return self._emit(path, "diff.html", render_html)

    def to_json(self, path=None):
        from rdsla.reports.diff import render_json
        return self._emit(path, "diff.json", render_json)

    def to_markdown(self, path=None):
        from rdsla.reports.diff import render_markdown
        return self._emit(path, "diff.md", render_markdown)

    def check_output(self, path) -> None:
        api.check_output(path, self.input_dirs)

    def _emit(self, path, default_name, render):
        if path is None:
            return render(self.document)
        target = api.output_path(path, default_name)
        self.check_output(target)
        api.write_text(target, render(self.document))
        return Path(target)

    def __repr__(self) -> str:
        c = self.document["causes"]
        return (f"<rdsla.Diff {len(c['resolved'])} resolved, {len(c['new'])} new, {len(c['persisting'])} persisting; "
                f"exit {self.exit_code}>")


def diff(before, after, *, fail_on: str = "error", as_of_before=None, as_of_after=None, window=None,
         window_before=None, window_after=None, redact: bool = False, redactor=None, **options: Any) -> Diff:
    """Compare ``before`` and ``after`` (each a bundle path or a findings.json). ``as_of_before``
    / ``as_of_after``: each bundle's collection time (default: its newest timestamp);
    ``window``: days before the collection time that are current on both sides (default 7),
    ``window_before`` / ``window_after`` for one side. ``options``: the common options of
    :func:`rdsla.api.analyze` for bundle sides. ``redact``: pseudonymize every name of both
    sides consistently (one mapping; ``redactor`` to pass your own and read its mapping
    afterwards)."""
    from rdsla.core.model import SEVERITIES
    from rdsla.reports.diff import compare

    if fail_on not in SEVERITIES:
        raise api.ArgumentError(f"fail_on: {fail_on!r} is not one of {', '.join(SEVERITIES)}")
    if redact and redactor is None:
        from rdsla.core.redact import Redactor
        redactor = Redactor().alias_inputs([os.fspath(before), os.fspath(after)])
    learn = redactor if (redact or redactor is not None) else None
    windows = [api.check_window(w if w is not None else window) for w in (window_before, window_after)]
    doc_b, dirs_b = load_side(before, as_of=as_of_before, window=windows[0], redactor=learn, label="before", **options)
    doc_a, dirs_a = load_side(after, as_of=as_of_after, window=windows[1], redactor=learn, label="after", **options)
    labels = ("before", "after")
    if learn is not None:
        doc_b, doc_a = learn.deep(doc_b), learn.deep(doc_a)
    return Diff(compare(doc_b, doc_a, fail_on, labels), dirs_b + dirs_a)
