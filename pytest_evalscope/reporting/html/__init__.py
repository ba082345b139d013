"""The run's report page: one self-contained HTML file (``<run>/report.html``) that opens from
``file://`` with no network, for one run or several side by side, with an optional baseline.

- :mod:`.load` reads a run folder (ours, EvalScope 1.14.1's, or a perf run) into the page's data;
- :mod:`.samples` reads the review and prediction files into per-sample rows, flips, the size budget;
- :mod:`.perf` shapes timings (an eval run's requests, a perf run's sweep points) for one renderer;
- :mod:`.page` compresses the data into the page beside ``page.js`` and ``page.css``;
- :mod:`.plugin` writes the page when a run finishes; :mod:`.view` is ``pytest-evalscope view``.
"""

from __future__ import annotations

from urllib.parse import quote

from .page import PAGE_FILE, page_data, render, write_page

__all__ = ["PAGE_FILE", "page_data", "permalink", "render", "write_page"]


def permalink(suite: str, subset: str, index: int) -> str:
    """The page fragment that opens one sample, e.g. ``#s=gsm8k/main/123`` (all its repeats)."""
    return "#s=" + "/".join(quote(str(part), safe="") for part in (suite, subset, index))
