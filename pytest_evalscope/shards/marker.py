"""The files that mark an outputs folder as one part of a sharded run, beside its normal outputs:

    <run>/shard/part.json       which part of which run, the settings and selection it was made from
    <run>/shard/reports.jsonl   every test report of the part, as pytest serializes it for xdist

``part.json`` (:data:`SCHEMA`) holds:

- ``run_id``, ``part``, ``of``: part I of N of the run (``run_id`` from ``--evalscope-run-id`` or the hash
  of ``settings``);
- ``settings`` and ``settings_hash``: the run's identity (spec.identity), which every part must share;
- ``task``: the part's resolved TaskConfig, secrets redacted; the merged run's config is made from it;
- ``selection``: ``hash`` (of the whole selection's node ids in order), ``items`` and ``samples`` in
  the whole selection; ``nodeids`` and ``positions``: this part's items in order, with each one's place in
  the whole selection, so a merge can tell a missing item and restore the unsharded order;
- ``suite_facts`` and ``model_stats``: what the controller's reports took from the processes that ran;
- ``junit``: the ini settings that shape JUnit XML, so the merged file is written the same way;
- ``sessions``: how many sessions wrote this folder (a resumed part has more than one);
  ``exitstatus`` of the last one; ``state`` running | finished.

``reports.jsonl`` has one line per report, ``{"session": n, "report": {...}}``, appended (and flushed
twice a second) as reports arrive: an interrupted part keeps what it finished, and its replies are in
the reply journal, so resuming it with ``use_cache`` asks nothing twice. Its node ids' last complete
session (setup, call and teardown seen) is what a merge replays.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..params import ConfigError
from ..reporting.outputs import atomic_write

SCHEMA = "pytest_evalscope.shard/1"
FOLDER = "shard"
PART_FILE = "part.json"
REPORTS_FILE = "reports.jsonl"
JUNIT_INI = ("junit_family", "junit_logging", "junit_log_passing_tests", "junit_suite_name", "junit_duration_report")


def part_path(run_dir: Path) -> Path:
    return run_dir / FOLDER / PART_FILE


def reports_path(run_dir: Path) -> Path:
    return run_dir / FOLDER / REPORTS_FILE


def write_part(run_dir: Path, data: dict[str, Any]) -> None:
    atomic_write(part_path(run_dir), json.dumps({"schema": SCHEMA, **data}, indent=1, ensure_ascii=False) + "\n")


def read_part(run_dir: Path) -> dict[str, Any] | None:
    """The part.json of `run_dir`, None when the folder is not a shard's; ConfigError when it is unreadable."""
    path = part_path(run_dir)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc}); it marks {run_dir} as a shard") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise ConfigError(f"{path}: schema {found!r}, expected {SCHEMA!r} (written by another version of pytest-evalscope)")
    return data


def read_reports(run_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Node id -> its reports (serialized) from the last session that finished it (a teardown report);
    node ids no session finished are left out. A torn last line (SIGKILL) is skipped."""
    by_session: dict[str, dict[int, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    path = reports_path(run_dir)
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                entry = json.loads(line)
                report, session = entry["report"], int(entry["session"])
                by_session[report["nodeid"]][session].append(report)
            except (ValueError, KeyError, TypeError):
                continue
    finished: dict[str, list[dict[str, Any]]] = {}
    for nodeid, sessions in by_session.items():
        done = [n for n, reports in sessions.items() if any(r.get("when") == "teardown" for r in reports)]
        if done:
            finished[nodeid] = sessions[max(done)]
    return finished
