"""Writes ``<run>/report.html`` when an evaluation run finishes (on the controller: the hook fires only
there), and ``<run>/run_summary.json``, which keeps what the page needs beyond the outputs tree (exit
status and its reason, gate verdicts, package versions, start and duration), so ``pytest-evalscope
view`` rebuilds the same page later.

Options: ``--evalscope-html=PATH`` (write the page there instead), ``--no-evalscope-html``,
``--evalscope-html-baseline=RUN`` (mark regressed and fixed samples against an earlier run's folder).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from ..outputs import atomic_write
from .load import SUMMARY_FILE, SUMMARY_SCHEMA, exit_reason, find_run, gate_dict
from .page import PAGE_FILE, write_page

log = logging.getLogger("pytest_evalscope")
STARTED = pytest.StashKey[float]()
NOTICE = pytest.StashKey[tuple[str, bool]]()  # the line for the terminal summary, and whether it is a warning
VERSIONED = ("pytest-evalscope", "pytest", "pytest-xdist", "openai", "httpx2", "transformers", "torch")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("evalscope", "LLM evaluation (EvalScope TaskConfig settings)")
    group.addoption("--evalscope-html", dest="evalscope_html", default=None, metavar="PATH",
                    help="write the run's HTML report here instead of <run>/report.html")
    group.addoption("--no-evalscope-html", dest="evalscope_no_html", action="store_true", default=False,
                    help="do not write the run's HTML report")
    group.addoption("--evalscope-html-baseline", dest="evalscope_html_baseline", default=None, metavar="RUN",
                    help="an earlier run's folder: the report marks regressed and fixed samples")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[STARTED] = time.time()
    baseline = config.getoption("evalscope_html_baseline", None)
    # Checked here on the controller, not while parsing options: a worker on another host never reads it, and
    # a worker that cannot parse its options crashes, which xdist answers by restarting it again and again.
    if baseline is not None and not hasattr(config, "workerinput"):
        try:
            config.option.evalscope_html_baseline = find_run(Path(baseline))
        except (FileNotFoundError, OSError) as exc:
            raise pytest.UsageError(f"--evalscope-html-baseline: {exc}") from None


def versions() -> dict[str, str]:
    found = {"python": sys.version.split()[0]}
    for name in VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def write_summary(run_dir: Path, gates: list[Any], exitstatus: int, started: float) -> dict[str, Any]:
    progress: dict[str, Any] = {}
    try:
        progress = json.loads((run_dir / "progress.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    rows = [gate_dict(g) for g in gates]
    summary = {"schema": SUMMARY_SCHEMA, "exitstatus": exitstatus, "reason": exit_reason(exitstatus, rows, progress),
               "gates": rows, "versions": versions(),
               "started": datetime.fromtimestamp(started).isoformat(sep=" ", timespec="seconds"),
               "duration_s": round(time.time() - started, 1)}
    atomic_write(run_dir / SUMMARY_FILE, json.dumps(summary, indent=2, ensure_ascii=False, default=str) + "\n")
    return summary


def page_path(config: pytest.Config, run_dir: Path) -> Path | None:
    """Where this run's page goes, or None when it is turned off."""
    if config.getoption("evalscope_no_html", False):
        return None
    chosen = config.getoption("evalscope_html", None)
    return Path(chosen) if chosen else run_dir / PAGE_FILE


def pytest_evalscope_run_finished(run_dir: Path, reports: dict[str, dict[str, Any]], gates: list[Any],
                                  exitstatus: int, config: pytest.Config) -> None:
    write_summary(run_dir, gates, exitstatus, config.stash.get(STARTED, time.time()))
    target = page_path(config, run_dir)
    if target is None:
        return
    start = time.perf_counter()
    try:
        write_page([run_dir], target, baseline=config.getoption("evalscope_html_baseline", None))
    except Exception as exc:  # a report page must never turn a finished run into a crash
        log.warning("could not write the HTML report %s: %s", target, exc)
        config.stash[NOTICE] = (f"evalscope: could not write the HTML report {target}: {exc}", True)
        return
    config.stash[NOTICE] = (f"evalscope report: {target} (written in {time.perf_counter() - start:.2f} s)", False)


@pytest.hookimpl(trylast=True)  # after the scores and the outputs folder
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if NOTICE in config.stash:
        line, warning = config.stash[NOTICE]
        terminalreporter.write_line(line, yellow=warning)
