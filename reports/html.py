"""The self-contained HTML root-cause report: ``render(analysis) -> str``.

jinja2 with autoescape and StrictUndefined renders the view model of :mod:`reports.view`; the
CSS and script of ``reports/static`` are inlined and pinned by their SHA-256 in a
Content-Security-Policy that allows nothing else (no network, no other script or style).
"""
from __future__ import annotations

import base64
import hashlib
import os
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from rdsla.core.model import Analysis

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def _version() -> str:
    from rdsla import __version__
    return __version__


def _finalize(value):
    """Print None as nothing (view models use '' anyway; this is a safety net)."""
    return "" if value is None else value


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True, finalize=_finalize, auto_reload=False,
                       bytecode_cache=_bytecode_cache())


def _bytecode_cache():
    """Compiled templates kept between runs: compiling the report's templates is ~0.2 s of every
    ``rdsla analyze``, loading them compiled ~5 ms. jinja2 keys each entry by the template's
    source checksum (an edited template is compiled again) and writes it atomically. The folder
    is the user's cache (``$XDG_CACHE_HOME`` or ``~/.cache``, ``%LOCALAPPDATA%`` on Windows)
    ``/rdsla/templates``, made private (0700); ``RDSLA_TEMPLATE_CACHE=DIR`` names another,
    ``RDSLA_TEMPLATE_CACHE=0`` turns it off. None where no folder can be made."""
    setting = os.environ.get("RDSLA_TEMPLATE_CACHE", "").strip()
    if setting == "0":
        return None
    if setting:
        folder = Path(setting)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or (os.environ.get("LOCALAPPDATA") if os.name == "nt" else None)
        folder = (Path(base) if base else Path.home() / ".cache") / "rdsla" / "templates"
    from jinja2 import FileSystemBytecodeCache
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return FileSystemBytecodeCache(str(folder))
    except (OSError, RuntimeError):
        return None


def csp_hash(source: str) -> str:
    """The CSP source expression of one inline element's exact text."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii") + "'"


def static_text(name: str) -> str:
    """One file of ``reports/static``, refused when it could close its inline element."""
    text = (STATIC / name).read_text(encoding="utf-8")
    for tag in ("</style", "</script"):
        if tag in text.lower():
            raise ValueError(f"static asset {name} contains {tag}")
    return text


def policy(css: str, js: str | None = None) -> str:
    """The Content-Security-Policy allowing exactly this inline style (and script; none without)."""
    script = csp_hash(js) if js is not None else "'none'"
    return (f"default-src 'none'; style-src {csp_hash(css)}; script-src {script}; img-src data:; "
            "base-uri 'none'; form-action 'none'")


@lru_cache(maxsize=1)
def static_assets() -> tuple[str, str, str]:
    """(css, js, csp) — the inline style, the inline script and the policy pinning both."""
    css, js = static_text("report.css"), static_text("report.js")
    return css, js, policy(css, js)


def render_view(view: dict) -> str:
    css, js, csp = static_assets()
    template = environment().get_template("report.html.j2")
    return template.render(v=view, css=Markup(css), js=Markup(js), csp=csp, version=_version())


def render(analysis: Analysis) -> str:
    """The report of one analysis as one HTML document (UTF-8 text)."""
    from rdsla.reports.view import build
    return render_view(build(analysis))
