"""rdsla command line: inventory, export, hosts, analyze, diff, rules, compat, batch.

Exit codes (DESIGN.md, "Contracts"): 0 done and nothing at or above --fail-on; 1 a cause at
or above --fail-on; 2 usage error or not one PATH could be opened; 3 batch only, some bundles
failed. A damaged artifact inside a bundle is a ledger entry, never exit 2.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Callable, Optional

from rdsla import api
from rdsla.core.errors import EXIT_CAUSE, EXIT_OK, EXIT_USAGE, UsageError
from rdsla.core.limits import Limits
from rdsla.core.model import SEVERITIES, severity_rank


def _size(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    t = text.strip().lower().rstrip("b").rstrip("i")
    try:
        if t and t[-1] in units:
            return int(float(t[:-1]) * units[t[-1]])
        return int(t)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 512M, 2G)") from exc


def _iso_time(text: str) -> datetime:
    try:
        return api.parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of days")
    return value


def _common(p: argparse.ArgumentParser, paths: bool = True) -> None:
    d = Limits()
    if paths:
        p.add_argument("paths", nargs="+", metavar="PATH", help="bundle folder, .zip, or loose files")
    p.add_argument("--all-events", action="store_true", help="keep every event, not only the catalog's")
    p.add_argument("--evtx-backend", choices=("rust", "python"), default="rust")
    p.add_argument("--full-registry", action="store_true", help="walk whole hives (slow), not only the known keys")
    if paths:
        p.add_argument("--as-of", type=_iso_time, help="collection time to use instead of the newest timestamp")
    p.add_argument("--jobs", type=int, default=None,
                   help="parser processes for EVTX files and hives (default: cores; 0: in this process, no timeout kill)")
    p.add_argument("--quiet", action="store_true")
    _redact_options(p)
    g = p.add_argument_group("limits (hostile input)")
    g.add_argument("--max-file-size", type=_size, default=d.max_file_bytes, help="largest artifact read (default 2G)")
    g.add_argument("--max-total-size", type=_size, default=d.max_total_bytes, help="uncompressed total of one zip (default 8G)")
    g.add_argument("--max-members", type=int, default=d.max_members, help="members read from one zip (default 20000)")
    g.add_argument("--max-ratio", type=int, default=d.max_ratio, help="zip member compression ratio (default 1000)")
    g.add_argument("--max-files", type=int, default=d.max_files, help="files walked in one folder (default 100000)")
    g.add_argument("--artifact-timeout", type=int, default=d.artifact_seconds, help="seconds per artifact (default 600)")


def _redact_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--redact", action="store_true",
                   help="replace host, domain and user names, SIDs, addresses and ids by stable pseudonyms in every output")
    p.add_argument("--redact-map", metavar="FILE", help="write the pseudonym -> name mapping here (implies --redact)")


def _redactor(args):
    """A Redactor (rdsla.core.redact) when --redact or --redact-map was given, else None; the
    input paths are its UPLOAD-1, UPLOAD-2... (diff: BEFORE is UPLOAD-1, AFTER UPLOAD-2)."""
    if not (getattr(args, "redact", False) or getattr(args, "redact_map", None)):
        return None
    from rdsla.core.redact import Redactor
    paths = getattr(args, "paths", None) or [getattr(args, "before", None), getattr(args, "after", None)]
    return Redactor().alias_inputs([p for p in paths if p])


def _write_redact_map(args, redactor) -> None:
    """--redact-map FILE: the mapping, written only there (callers checked FILE first)."""
    if redactor is None or not getattr(args, "redact_map", None):
        return
    path = api.output_path(args.redact_map, "redact-map.json")
    _write(path, json.dumps(redactor.mapping(), indent=2, ensure_ascii=False) + "\n")


def _options(args) -> dict:
    """The common options as the Python API's keyword arguments (rdsla.api.OPTIONS)."""
    limits = Limits(max_file_bytes=args.max_file_size, max_total_bytes=args.max_total_size,
                    max_members=args.max_members, max_ratio=args.max_ratio, max_files=args.max_files,
                    artifact_seconds=args.artifact_timeout)
    return {"all_events": args.all_events, "evtx_backend": args.evtx_backend, "full_registry": args.full_registry,
            "jobs": args.jobs, "limits": limits, "progress": _progress(args)}


class _Version(argparse.Action):
    """--version, with the version read only when asked for (the package metadata costs start-up)."""

    def __call__(self, parser, namespace, values, option_string=None):
        import rdsla
        sys.stdout.write(f"rdsla {rdsla.__version__}\n")     # where argparse's version action writes
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rdsla", description="Offline root-cause analyzer for RDS licensing failures.")
    parser.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("inventory", help="list the artifacts and hosts found, without analysis")
    _common(p)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("export", help="dump one normalized frame")
    _common(p)
    p.add_argument("--frame", required=True, choices=("events", "registry", "keypacks", "issued", "artifacts"))
    p.add_argument("--format", default="csv", choices=("csv", "jsonl", "parquet"))
    p.add_argument("-o", "--output", help="output file (default: standard output; parquet needs a file)")

    p = sub.add_parser("hosts", help="what each machine is and how it is configured, with sources")
    _common(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("analyze", help="run the analysis and write the report")
    _common(p)
    p.add_argument("-o", "--output", help="HTML report file")
    p.add_argument("--json", dest="json_out", metavar="FILE", help="findings.json file")
    p.add_argument("--md", dest="md_out", metavar="FILE", help="Markdown summary file")
    p.add_argument("--format", dest="formats", help="html,json,md: write report.html/findings.json/summary.md to --out-dir")
    p.add_argument("--out-dir", help="folder for --format outputs")
    p.add_argument("--fail-on", choices=SEVERITIES, default="error")
    p.add_argument("--window", type=_days, default=None, metavar="DAYS",
                   help="events of the last DAYS before the collection time are current evidence (default 7)")

    p = sub.add_parser("diff", help="compare two uploads of one case (before / after a fix)")
    p.add_argument("before", metavar="BEFORE", help="bundle (folder, .zip) or findings.json written by rdsla")
    p.add_argument("after", metavar="AFTER", help="bundle (folder, .zip) or findings.json written by rdsla")
    _common(p, paths=False)
    p.add_argument("-o", "--output", help="HTML diff file")
    p.add_argument("--json", dest="json_out", metavar="FILE", help="diff.json file")
    p.add_argument("--md", dest="md_out", metavar="FILE", help="Markdown diff file")
    p.add_argument("--fail-on", choices=SEVERITIES, default="error")
    g = p.add_argument_group("collection time and current window (bundle sides; a findings.json keeps its own)")
    g.add_argument("--before-as-of", type=_iso_time, metavar="TIME",
                   help="collection time of BEFORE instead of its newest timestamp")
    g.add_argument("--after-as-of", type=_iso_time, metavar="TIME",
                   help="collection time of AFTER instead of its newest timestamp")
    g.add_argument("--window", type=_days, default=None, metavar="DAYS",
                   help="events of the last DAYS before each side's collection time are current (default 7)")
    g.add_argument("--before-window", type=_days, default=None, metavar="DAYS", help="--window for BEFORE only")
    g.add_argument("--after-window", type=_days, default=None, metavar="DAYS", help="--window for AFTER only")

    p = sub.add_parser("rules", help="list the rule pack")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("compat", help="CAL / session host / license server compatibility tables")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("batch", help="analyze many bundles and write a fleet index")
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("-o", "--out-dir", required=True, dest="out_dir")
    p.add_argument("--jobs", type=int, default=None)
    p.add_argument("--scheduler", help="local | tcp://HOST:PORT (Dask)")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per bundle")
    p.add_argument("--fail-on", choices=SEVERITIES, default="error")
    p.add_argument("--quiet", action="store_true")
    _redact_options(p)
    return parser


def _progress(args):
    if getattr(args, "quiet", False) or not sys.stderr.isatty():
        return None

    def show(done: int, total: int, name: str) -> None:
        sys.stderr.write(f"\r\033[K[{done}/{total}] {name[-70:]}")
        if done == total:
            sys.stderr.write("\r\033[K")
        sys.stderr.flush()
    return show


def _read(args, **extra) -> api.Reading:
    """``rdsla.read`` with the command's options; not one PATH opened: each reason on its own line."""
    try:
        return api.read(args.paths, **_options(args), **extra)
    except api.ArgumentError as exc:
        if not exc.messages:
            raise
        red = _redactor(args)           # under --redact the reasons name the inputs by pseudonym
        for m in exc.messages:
            print(f"rdsla: {red.text(m) if red is not None else m}", file=sys.stderr)
        raise UsageError("not one PATH could be opened") from exc


def cmd_inventory(args) -> int:
    from rdsla.reports.inventory_grid import coverage_grid, input_names, relative_path, render_inventory
    reading = _read(args)
    analysis = reading.analyze(args.as_of).analysis       # roles and coverage per host (core.coverage)
    red = _redactor(args)
    if red is not None:
        reading.check_output(args.redact_map)
        red.learn_reading(reading.frames, reading.host_aliases)
        analysis = red.analysis(analysis)
    for m in (red.deep(reading.messages) if red else reading.messages):
        print(f"rdsla: {m}", file=sys.stderr)
    inputs = input_names(reading.inputs)
    relative = [relative_path(str(p), inputs) for p in reading.artifacts["path"]]
    art = red.frame(reading.artifacts) if red else reading.artifacts
    hosts = [{"name": n, "aliases": a} for n, a in reading.host_aliases.items()]
    if red:
        hosts, relative, inputs = red.deep(hosts), red.deep(relative), red.deep(inputs)
    _write_redact_map(args, red)
    rows = []
    for r, rel in zip(art.to_dict("records"), relative):
        rows.append({"path": r["path"], "kind": r["kind"], "host": None if _na(r["host"]) else r["host"],
                     "status": r["status"], "records_read": _int(r["records_read"]),
                     "records_lost": _int(r["records_lost"]), "warnings": list(r["warnings"] or []),
                     "relative_path": rel})
    grid = coverage_grid(analysis.hosts)
    if args.json:       # DESIGN.md inventory contract, plus relative_path, coverage and ask (issue 23 item 10)
        print(json.dumps({"hosts": hosts, "artifacts": rows, "inputs": inputs,
                          "coverage": {"hosts": grid["hosts"], "items": grid["items"], "named_only": grid["named_only"]},
                          "ask": grid["ask"]}, indent=2, ensure_ascii=False))
        return EXIT_OK
    text = render_inventory(hosts, grid, rows, inputs)
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):       # a console without the check marks (cp437, cp1252)
        text = render_inventory(hosts, grid, rows, inputs, ascii_only=True)
    print(text)
    return EXIT_OK


def cmd_export(args) -> int:
    args.output = api.output_path(args.output, f"{args.frame}.{args.format}")
    if args.format == "parquet":        # refused before any reading: one line, exit 2 (DESIGN, parquet extra)
        if not args.output:
            raise UsageError("--format parquet needs -o FILE")
        try:
            import pyarrow  # noqa: F401  (only checks it is installed)
        except ImportError as exc:
            raise UsageError("--format parquet needs pyarrow: pip install \"rdsla[parquet]\"") from exc
    reading = _read(args, skim=args.frame != "events")     # the events export decodes every log
    reading.check_output(args.output)
    frame = reading.frames[args.frame]
    meanings = None
    if args.frame == "events":          # time first, by time, level names, catalog meaning (issue 23 item 9)
        from rdsla.analyzer.export_events import events_for_export, kept_line, meanings_of
        meanings = meanings_of(frame)
        if not args.quiet:
            print(f"rdsla: {kept_line(frame, reading.artifacts, args.all_events)}", file=sys.stderr)
    red = _redactor(args)
    if red is not None:
        reading.check_output(args.redact_map)
        frame = red.learn_reading(reading.frames, reading.host_aliases).frame(frame, args.frame)
        _write_redact_map(args, red)
    if meanings is not None:
        frame = events_for_export(frame, meanings)
    if args.format == "parquet":
        out = frame.copy()
        for col in out.columns:
            if out[col].dtype == object:
                out[col] = out[col].map(lambda v: None if v is None else json.dumps(v, default=str) if isinstance(v, (dict, list)) else str(v))
        try:
            out.to_parquet(args.output, index=False)
        except OSError as exc:
            raise UsageError(f"{args.output}: cannot write ({exc.strerror or exc})") from exc
        return EXIT_OK
    if args.format == "csv":
        import pandas as pd
        from rdsla.analyzer.spreadsheet import safe_cell
        out = frame.copy()
        for col in out.columns:
            if out[col].dtype == object:
                out[col] = out[col].map(lambda v: json.dumps(v, ensure_ascii=False, default=str) if isinstance(v, (dict, list)) else v)
            if out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype):
                out[col] = out[col].map(safe_cell, na_action="ignore")     # no formulas from a bundle
        text = out.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
    else:
        text = frame.to_json(orient="records", lines=True, date_format="iso", force_ascii=False, default_handler=str)
        if text and not text.endswith("\n"):
            text += "\n"
    if args.output:
        _write(args.output, text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_hosts(args) -> int:
    from rdsla.reports.hosts_table import render_hosts
    reading = _read(args)
    analysis = reading.analyze(args.as_of).analysis
    red = _redactor(args)
    if red is not None:
        reading.check_output(args.redact_map)
        analysis = red.analysis(analysis)
        _write_redact_map(args, red)
    if args.json:
        print(json.dumps({"as_of": analysis.as_of.isoformat(), "hosts": [h.to_dict(analysis.as_of) for h in analysis.hosts]},
                         indent=2, ensure_ascii=False))
    else:
        print(render_hosts(analysis))
    return EXIT_OK


def cmd_analyze(args) -> int:
    outputs: dict[str, str] = {}
    html_path = api.output_path(args.output, "report.html")
    json_path = api.output_path(args.json_out, "findings.json")
    md_path = api.output_path(args.md_out, "summary.md")
    if args.formats:
        wanted = {f.strip() for f in args.formats.split(",") if f.strip()}
        unknown = wanted - {"html", "json", "md"}
        if unknown:
            raise UsageError(f"--format: unknown {', '.join(sorted(unknown))} (html, json, md)")
        out_dir = Path(args.out_dir or ".")
        html_path = html_path or (str(out_dir / "report.html") if "html" in wanted else None)
        json_path = json_path or (str(out_dir / "findings.json") if "json" in wanted else None)
        md_path = md_path or (str(out_dir / "summary.md") if "md" in wanted else None)
    reading = _read(args)
    for p in (html_path, json_path, md_path, args.redact_map):     # all refused before any is written
        reading.check_output(p)
    result = reading.analyze(args.as_of, window=args.window)
    red = _redactor(args)
    if red is not None:               # rules ran on the original data; every output is rendered redacted
        import copy
        original, result = result, copy.copy(result)
        result.analysis = red.analysis(original.analysis)
        _write_redact_map(args, red)
    for label, path, write in (("report", html_path, result.to_html), ("findings", json_path, result.to_json),
                               ("summary", md_path, result.to_markdown)):
        if path:
            _save(path, write)
            outputs[label] = path
    if not args.quiet:
        from rdsla.reports.terminal import summary
        print(summary(result.analysis, red.deep(outputs) if red else outputs))
    return exit_code_for(result.analysis, args.fail_on)


def cmd_diff(args) -> int:
    from rdsla.diff import diff
    outputs = {"diff": api.output_path(args.output, "diff.html"), "json": api.output_path(args.json_out, "diff.json"),
               "markdown": api.output_path(args.md_out, "diff.md")}
    red = _redactor(args)
    result = diff(args.before, args.after, fail_on=args.fail_on, redactor=red, as_of_before=args.before_as_of,
                  as_of_after=args.after_as_of, window=args.window, window_before=args.before_window,
                  window_after=args.after_window, **_options(args))
    for path in [*outputs.values(), args.redact_map]:  # all refused before any is written
        result.check_output(path)
    _write_redact_map(args, red)
    written = {}
    for (label, path), write in zip(outputs.items(), (result.to_html, result.to_json, result.to_markdown)):
        if path:
            _save(path, write)
            written[label] = path
    if not args.quiet:
        print(result.summary(red.deep(written) if red else written))
    return result.exit_code


def exit_code_for(analysis, fail_on: str) -> int:
    threshold = severity_rank(fail_on)
    for f in analysis.findings:
        if f.state == "detected" and f.kind == "cause" and severity_rank(f.severity) >= threshold:
            return EXIT_CAUSE
    return EXIT_OK


def _save(path: str, write: Callable[[str], object]) -> None:
    """Run ``write(path)``; a file system error is a usage error (exit 2) naming the path."""
    try:
        write(path)
    except OSError as exc:
        raise UsageError(f"{path}: cannot write ({exc.strerror or exc})") from exc


def _write(path: str, text: str) -> None:
    _save(path, lambda p: api.write_text(p, text))


def cmd_rules(args) -> int:
    # listing reads only metadata: the pack's modules import pandas inside their checks (issue 20)
    from rdsla.rules.registry import load_rules
    rules = load_rules()
    if args.json:
        print(json.dumps([r.meta.to_dict() for r in rules], indent=2, ensure_ascii=False))
    else:
        for r in rules:
            m = r.meta
            print(f"{m.id}  {m.kind:<7} {m.severity:<8} {m.title}")
    return EXIT_OK


def cmd_compat(args) -> int:
    from rdsla.rules.compat import compat_document, render_tables
    if args.json:
        print(json.dumps(compat_document(), indent=2))
    else:
        print(render_tables())
    return EXIT_OK


def cmd_batch(args) -> int:
    from rdsla.analyzer.batch import run_batch_cli
    return run_batch_cli(args)


COMMANDS = {"inventory": cmd_inventory, "export": cmd_export, "hosts": cmd_hosts, "analyze": cmd_analyze,
            "rules": cmd_rules, "compat": cmd_compat, "batch": cmd_batch, "diff": cmd_diff}


def main(argv: Optional[list[str]] = None) -> int:
    try:
        return _main(argv)
    finally:
        if argv is None:
            # run as a program, the process ends next: frozen objects are skipped by the
            # collections of interpreter exit (~0.15 s of every command, whatever it did)
            import gc
            gc.freeze()


def _main(argv: Optional[list[str]]) -> int:
    import logging
    # python-evtx logs every damaged token; rdsla counts them in the artifact ledger instead
    logging.getLogger("Evtx").setLevel(logging.ERROR)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"rdsla: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("rdsla: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_OK


def _na(v) -> bool:
    try:
        import pandas as pd
        return v is None or bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _int(v) -> int:
    return 0 if _na(v) else int(v)


if __name__ == "__main__":
    raise SystemExit(main())
