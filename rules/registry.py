"""Load the rule pack: import every module of ``rules.pack`` (each registers its rules with
``rules.api.rule``) and return the rules in id order."""
from __future__ import annotations

import importlib
import pkgutil

from rdsla.rules import api

_LOADED = False


def load_rules() -> list[api.Rule]:
    global _LOADED
    if not _LOADED:
        import rdsla.rules.pack as pack
        for mod in sorted(m.name for m in pkgutil.iter_modules(pack.__path__)):
            importlib.import_module(f"{pack.__name__}.{mod}")
        _LOADED = True
    rules = sorted(api.registered(), key=lambda r: r.meta.id)
    ids = [r.meta.id for r in rules]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise RuntimeError(f"duplicate rule ids: {sorted(dupes)}")
    return rules


def get_rule(rule_id: str) -> api.Rule:
    for r in load_rules():
        if r.meta.id == rule_id:
            return r
    raise KeyError(rule_id)
