"""``rdsla batch --redact``: bundles under pseudonymous names, and the redaction map.

With ``--redact`` every bundle's report, findings.json and summary row are rendered from its
redacted analysis (``rdsla.core.redact``, one Redactor per bundle, in the worker), and a bundle
is named ``bundle-<hash of its resolved path>`` in summary.csv / summary.jsonl / index.html, in
its folder name and in its completion marker (an input path often names the customer). The
hash is stable, so ``--resume`` finds finished bundles again. ``--redact-map FILE`` collects, per
pseudonymous bundle name, its input and the Redactor's map; it is written only there.

What the batch says outside a bundle's analysis is redacted here too (:class:`InputNames`): the
input messages (``<path>: a loose file beside bundles, skipped``) and usage errors name each path
by its pseudonym (a bundle's ``bundle-<hash>``, any other path ``path-<hash>``), and the error of
a failed row (an exception's text often holds the bundle's path or a file inside it) is redacted
with the bundle's map, its paths aliased and any other absolute path left as ``[path]``.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Optional

from rdsla.analyzer.batch_inputs import Bundle


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def pseudonymous(bundle: Bundle) -> Bundle:
    digest = _digest(bundle.key)
    name = f"bundle-{digest[:10]}"
    return replace(bundle, name=name, key=f"sha256:{digest}", dir_name=name)


# the messages of batch_inputs.expand_inputs: "<path>: <reason>"
_INPUT_MESSAGE = re.compile(r"^(?P<path>.+?): (?P<reason>(?:cannot open|cannot list|cannot stat|symbolic link|"
                            r"a loose file)\b.*)$", re.S)
# an absolute path left after the known ones were aliased (POSIX, drive letter, UNC), the rest of
# a path under a pseudonym (``bundle-0123456789/MSRD-Results-HOST/...``) or the member part of a
# zip path (``!/MSRD-Results-HOST/...``)
_PSEUDONYM_BEFORE = r"(?:(?<=bundle-[0-9a-f]{10})|(?<=path-[0-9a-f]{10}))"
_PATH = re.compile(r"(?:!|" + _PSEUDONYM_BEFORE + r"|(?<![A-Za-z0-9.]))(?:[A-Za-z]:[\\/]|[\\/])"
                   r"[^\s'\"<>|]*[^\s'\"<>|.,;:)\]]")


def _path_placeholder(m: re.Match) -> str:
    found = m.group(0)
    if found[0] == "!":
        return "!/[path]"
    before = m.string[max(0, m.start() - 17):m.start()]
    return found[0] + "[path]" if re.search(r"(?:bundle|path)-[0-9a-f]{10}$", before) else "[path]"


class InputNames:
    """Pseudonyms for the paths a redacted batch names outside the bundles' analyses."""

    def __init__(self, inputs: list[str], bundles: list[tuple[Bundle, Bundle]]):
        """``inputs`` as typed; ``bundles`` (original, pseudonymous) pairs."""
        self.by_key = {original.key: named.name for original, named in bundles}
        self.paths = {named.name: original for original, named in bundles}
        from rdsla.core.redact import Redactor
        self.redactor = Redactor()
        for original, named in sorted(bundles, key=lambda pair: -len(pair[0].path)):
            for form in (original.path, original.name):
                self.redactor.alias(form, named.name)
        for raw in inputs:
            self.redactor.alias(raw, self.name_for(raw))

    def name_for(self, path: str) -> str:
        key = os.path.realpath(os.path.abspath(path))
        return self.by_key.get(key) or f"path-{_digest(key)[:10]}"

    def text(self, text: str, redactor=None) -> str:
        """Known paths and names replaced, any other absolute path ``[path]``."""
        text = (redactor or self.redactor).text(self.redactor.text(text))
        return _PATH.sub(_path_placeholder, text)

    def message(self, message: str) -> str:
        """An input message: its path by pseudonym, the reason redacted."""
        m = _INPUT_MESSAGE.match(message)
        if m is None:
            return self.text(message)
        return f"{self.name_for(m.group('path'))}: {self.text(m.group('reason'))}"

    def error(self, row: dict, mapping: Optional[dict]) -> None:
        """A failed row's error, redacted with its bundle's map (when its worker got that far)."""
        if not row.get("error"):
            return
        from rdsla.core.redact import Redactor
        redactor = Redactor.from_mapping(mapping) if mapping else None
        original = self.paths.get(row.get("bundle"))
        if redactor is not None and original is not None:
            redactor.alias(original.path, row["bundle"])
        row["error"] = self.text(str(row["error"]), redactor)


class RedactionMaps:
    """The maps the workers send back (the rows' private ``_redaction``), by bundle name."""

    def __init__(self, originals: dict[str, str], names: Optional[InputNames] = None):
        self.originals = originals            # pseudonymous name -> INPUT as typed
        self.names = names
        self.maps: dict[str, dict] = {}

    def take(self, row: dict) -> None:
        """Keep the row's map; redact a failed row's error (``names`` given)."""
        redaction = row.pop("_redaction", None)
        if redaction is not None:
            self.maps[row.get("bundle")] = {"input": self.originals.get(row.get("bundle")), **redaction}
        if self.names is not None and row.get("status") != "ok":
            self.names.error(row, redaction)

    def write(self, path: Optional[str]) -> None:
        if not path:
            return
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({"schema": "rdsla.batch-redact-map/1", "bundles": dict(sorted(self.maps.items()))},
                                     indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
