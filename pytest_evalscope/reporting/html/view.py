"""`pytest-evalscope view RUN [RUN...] [--baseline BASE] [-o FILE]`: the report page of any outputs
folder (ours, EvalScope 1.14.1's, or a perf run), several runs side by side."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .load import find_run
from .page import PAGE_FILE, write_page


def add_view_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    view = commands.add_parser("view", help="write the HTML report of one or more outputs folders",
                               description="Write one self-contained HTML report (opens from file://, no server).")
    view.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="a run folder (outputs/<timestamp>)")
    view.add_argument("--baseline", type=Path, default=None, metavar="BASE",
                      help="an earlier run: regressed, fixed and still-failing samples against it")
    view.add_argument("-o", "--output", type=Path, default=None, metavar="FILE",
                      help=f"where to write the page (default: <first run>/{PAGE_FILE})")


def view_main(ns: argparse.Namespace) -> int:
    try:
        runs = [find_run(p) for p in ns.runs]
        baseline = find_run(ns.baseline) if ns.baseline else None
    except (FileNotFoundError, OSError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 4
    target = ns.output or runs[0] / PAGE_FILE
    write_page(runs, target, baseline=baseline)
    print(f"wrote {target}")
    return 0
