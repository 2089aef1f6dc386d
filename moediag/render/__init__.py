"""Renderings of the canonical report. Each is `render(report, color) -> str`; none reads Azure."""

from __future__ import annotations

from typing import Any, Callable

Renderer = Callable[[dict[str, Any], bool], str]


def renderer(name: str) -> Renderer:
    if name == "table":
        from moediag.render.table import render
    elif name == "json":
        from moediag.render.json import render
    else:
        raise KeyError(name)
    return render


FORMATS = ("table", "json")
