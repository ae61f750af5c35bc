"""Renderers: HTML report, findings.json, Markdown and terminal summaries."""
