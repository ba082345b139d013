"""The files that mark an outputs folder as one part of a sharded run, beside its normal outputs:

    <run>/shard/part.json       which part of which run, the settings and selection it was made from
    <run>/shard/reports-<n>.jsonl.gz   every test report of session n of the part, as pytest serializes it for xdist

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

``reports-<n>.jsonl.gz`` has one line per report, ``{"session": n, "report": {...}}``, appended (and
flushed twice a second) as reports arrive, gzip-compressed: few-shot prompts repeat, and the file was as
large as the part's predictions and reviews together. Each session of a part (a resumed part has several)
writes its own file, because a stream cut by SIGKILL has no end from which a next one could be found.
An interrupted part keeps what it finished (a cut stream is read up to its last whole line), and its
replies are in the reply journal, so resuming it with ``use_cache`` asks nothing twice. What a merge
replays of each node id is its last session that finished it (setup, call and teardown seen).
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections import defaultdict
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from ..params import ConfigError
from ..reporting.outputs import atomic_write

SCHEMA = "pytest_evalscope.shard/1"
FOLDER = "shard"
PART_FILE = "part.json"
REPORTS_GLOB = "reports-*.jsonl.gz"
MAX_LINE_BYTES = 64 << 20  # one report: a sample's record (images are references, not bytes)
_READ_BYTES = 1 << 20
_BLANK_LINES = re.compile(rb"\n{2,}")
JUNIT_INI = ("junit_family", "junit_logging", "junit_log_passing_tests", "junit_suite_name", "junit_duration_report")


def part_path(run_dir: Path) -> Path:
    return run_dir / FOLDER / PART_FILE


def reports_path(run_dir: Path, session: int) -> Path:
    return run_dir / FOLDER / f"reports-{session}.jsonl.gz"


def open_reports(run_dir: Path, session: int) -> Any:
    """The text stream session `session` journals its reports to (flush() makes what it holds readable)."""
    path = reports_path(run_dir, session)
    path.parent.mkdir(parents=True, exist_ok=True)
    return gzip.open(path, "wt", encoding="utf-8", compresslevel=1)


def forget_reports(run_dir: Path) -> None:
    """A fresh run in a reused folder (no_timestamp) does not inherit an earlier run's reports."""
    for path in (run_dir / FOLDER).glob(REPORTS_GLOB):
        path.unlink()


def _lines(path: Path) -> Iterator[str]:
    """The whole lines of a gzip stream, also of one cut short (SIGKILL): its last, partial line is dropped.
    Read a piece at a time: a part's folder may come from elsewhere, and a small file can inflate to far
    more than memory holds; a line longer than :data:`MAX_LINE_BYTES` is refused (ConfigError)."""
    decoder = zlib.decompressobj(wbits=31)
    pending: list[bytes] = []  # the start of a line not ended yet, in pieces
    held = 0
    with path.open("rb") as handle:
        while not decoder.eof:
            data = decoder.unconsumed_tail or handle.read(_READ_BYTES)
            if not data:
                break  # cut short: what is pending is a torn line
            try:
                chunk = decoder.decompress(data, _READ_BYTES)
            except zlib.error:
                return
            *ended, rest = _BLANK_LINES.sub(b"\n", chunk).split(b"\n")  # blank lines: none kept, none looped over
            if ended:
                ended[0] = b"".join([*pending, ended[0]])
                yield from (line.decode("utf-8", "replace") for line in ended if line)
                pending, held = [], 0
            pending.append(rest)
            held += len(rest)
            if held > MAX_LINE_BYTES:
                raise ConfigError(f"{path}: a line longer than {MAX_LINE_BYTES >> 20} MiB; not a report journal this "
                                  "version wrote")
    if decoder.eof and held:
        yield b"".join(pending).decode("utf-8", "replace")


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
    problem = _problem(data)
    if problem:
        raise ConfigError(f"{path}: {problem}; it was not written by pytest-evalscope, or was changed since")
    return data


def _problem(data: dict[str, Any]) -> str | None:
    """What is wrong with a marker's shape, or None. A part's folder may come from elsewhere (a CI
    artifact): the merge reads only what this checked, and its junit settings are JUnit's and no others
    (they become ``-o`` options of the merge's session, where ``addopts`` would add any option)."""
    def count(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    if not (count(data.get("part")) and count(data.get("of")) and 1 <= data["part"] <= data["of"]):
        return f"'part' must be a number from 1 to 'of', got part {data.get('part')!r} of {data.get('of')!r}"
    for key, kind in (("run_id", str), ("settings_hash", str), ("settings", dict), ("task", dict)):
        if not isinstance(data.get(key), kind):
            return f"{key!r} must be {'text' if kind is str else 'an object'}"
    for key in ("suite_facts", "suite_settings", "model_stats", "junit"):
        if not isinstance(data.get(key) or {}, dict):
            return f"{key!r} must be an object"
    for key, value in (data.get("junit") or {}).items():
        if key not in JUNIT_INI:
            return f"junit: {key!r} is not a JUnit setting (expected {', '.join(JUNIT_INI)})"
        if not isinstance(value, (str, bool, int, type(None))) or any(ord(c) < 32 for c in str(value)):
            return f"junit.{key}: expected a plain value, got {str(value)[:40]!r}"
    selection = data.get("selection")
    if selection is None:
        return None
    if not isinstance(selection, dict):
        return "'selection' must be an object"
    nodeids, positions = selection.get("nodeids"), selection.get("positions")
    if not (isinstance(nodeids, list) and all(isinstance(n, str) for n in nodeids)
            and isinstance(positions, list) and all(count(n) for n in positions) and len(positions) == len(nodeids)):
        return "selection: 'nodeids' (text) and 'positions' (numbers) must be lists of the same length"
    if not (isinstance(selection.get("hash"), str) and count(selection.get("items")) and count(selection.get("samples"))):
        return "selection: 'hash' (text), 'items' and 'samples' (numbers) are required"
    return None


def read_reports(run_dir: Path, nodeids: Collection[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Node id -> its reports (serialized) from the last session that finished it (a teardown report);
    node ids no session finished are left out, and with `nodeids` those not among them. A session keeps
    the last report of each phase of a node id. A torn last line (SIGKILL) is skipped."""
    by_session: dict[str, dict[int, dict[Any, dict[str, Any]]]] = defaultdict(lambda: defaultdict(dict))
    for path in sorted((run_dir / FOLDER).glob(REPORTS_GLOB)):
        for line in _lines(path):
            try:
                entry = json.loads(line)
                report, session = entry["report"], int(entry["session"])
                if nodeids is None or report["nodeid"] in nodeids:
                    by_session[report["nodeid"]][session][str(report.get("when"))] = report
            except (ValueError, KeyError, TypeError):
                continue
    finished: dict[str, list[dict[str, Any]]] = {}
    for nodeid, sessions in by_session.items():
        done = [n for n, reports in sessions.items() if "teardown" in reports]
        if done:
            finished[nodeid] = list(sessions[max(done)].values())
    return finished
