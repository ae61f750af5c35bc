"""``rdsla batch --redact``: bundles under pseudonymous names, and the redaction map.

With ``--redact`` every bundle's report, findings.json and summary row are rendered from its
redacted analysis (``rdsla.core.redact``, one Redactor per bundle, in the worker), and a bundle
is named ``bundle-<hash of its resolved path>`` in summary.csv / summary.jsonl / index.html, in
its folder name and in its completion marker (an input path often names the customer). The
hash is stable, so ``--resume`` finds finished bundles again. ``--redact-map FILE`` collects, per
pseudonymous bundle name, its input and the Redactor's map; it is written only there.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Optional

from rdsla.analyzer.batch_inputs import Bundle


def pseudonymous(bundle: Bundle) -> Bundle:
    digest = hashlib.sha256(bundle.key.encode("utf-8", "surrogateescape")).hexdigest()
    name = f"bundle-{digest[:10]}"
    return replace(bundle, name=name, key=f"sha256:{digest}", dir_name=name)


class RedactionMaps:
    """The maps the workers send back (the rows' private ``_redaction``), by bundle name."""

    def __init__(self, originals: dict[str, str]):
        self.originals = originals            # pseudonymous name -> INPUT as typed
        self.maps: dict[str, dict] = {}

    def take(self, row: dict) -> None:
        redaction = row.pop("_redaction", None)
        if redaction is not None:
            self.maps[row.get("bundle")] = {"input": self.originals.get(row.get("bundle")), **redaction}

    def write(self, path: Optional[str]) -> None:
        if not path:
            return
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({"schema": "rdsla.batch-redact-map/1", "bundles": dict(sorted(self.maps.items()))},
                                     indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
