"""Renderings of the canonical report. Each is `render(report, color) -> str`, a pure function of the report
(the same report gives the same bytes: `moediag render` reproduces what `check` wrote); none reads Azure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Renderer = Callable[[dict[str, Any], bool], str]


def renderer(name: str) -> Renderer:
    if name == "table":
        from moediag.render.table import render
    elif name == "json":
        from moediag.render.json import render
    elif name == "junit":
        from moediag.render.junit import render
    elif name == "markdown":
        from moediag.render.markdown import render
    elif name == "sarif":
        from moediag.render.sarif import render
    else:
        raise KeyError(name)
    return render


FORMATS = ("table", "json", "junit", "markdown", "sarif")
JSON_FORMATS = ("json", "sarif")  # written with JSON escapes for what the encoding cannot carry


def render_as(name: str, report: dict[str, Any], color: bool, *, width: int | None = None,
              verbose: bool = False) -> str:
    """`name`'s rendering; the table also takes the width its prose wraps to and `verbose` (list passes too)."""
    if name == "table":
        from moediag.render.table import render

        return render(report, color, width=width, verbose=verbose)
    return renderer(name)(report, color)
