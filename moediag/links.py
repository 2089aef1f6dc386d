"""Where moediag's documentation lives: absolute, versioned URLs, so a report attached to a ticket links to the
page of the release that wrote it (not to a path inside someone's clone).

`MOEDIAG_DOCS_BASE` points them elsewhere (an internal mirror, a fork): the folder that holds `checks/`, `scan.md`.
"""

from __future__ import annotations

import os

from moediag import __version__

PROJECT_URL = "https://github.com/moediag/moediag"
DOCS_BASE_ENV = "MOEDIAG_DOCS_BASE"


def docs_base() -> str:
    """The documentation folder of this release, or MOEDIAG_DOCS_BASE (an http(s) URL, else a ValueError)."""
    base = os.environ.get(DOCS_BASE_ENV, "").strip()
    if not base:
        return f"{PROJECT_URL}/blob/v{__version__}/docs"
    if not base.startswith(("https://", "http://")) or any(c.isspace() or ord(c) < 32 for c in base):
        raise ValueError(f"{DOCS_BASE_ENV} must be an http(s):// URL, not {base!r}")
    return base.rstrip("/")


def docs_url(page: str) -> str:
    """`checks/<id>.md` -> its URL in this release's documentation."""
    return f"{docs_base()}/{page}"
