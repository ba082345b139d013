"""`pytest-evalscope merge OUT SHARD_DIR...`: the parts of a sharded run, checked and merged into one
outputs folder by a pytest session that replays them (replay.py).

Refused with one line, before OUT is made: a folder that is not a part (no ``shard/part.json``), a part
a session is still writing, parts of different runs, cut into different numbers of parts, run with
different settings (the first differing one is named) or over different selections, a part given
twice, a missing part, and a part that did not finish all its items. `--allow-partial` merges what is
there instead, says what is missing, and the merged run fails (exit status 1), as a run stopped early
does: its scores cover part of the selection.

Everything after `--` goes to the merge's pytest session (`--junitxml=merged.xml`, `-q`, ...). The exit
status is the merged run's.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ..cache import CACHE_DIR
from ..params import ConfigError
from ..runlock import holder
from .marker import read_part, read_reports
from .replay import MergePlan, Replay
from .spec import first_difference


def add_merge_parser(commands: Any) -> None:
    merge = commands.add_parser("merge", help="merge the parts of a sharded run (--evalscope-shard) into one outputs folder",
                                description="Combine the outputs folders of parts I/N of one run into OUT, whose reports, "
                                            "JUnit XML (-- --junitxml=FILE) and gates are those of an unsharded run.",
                                epilog="arguments after -- go to the merge's pytest session, e.g. -- --junitxml=results.xml")
    merge.add_argument("out", help="the merged run's outputs folder (new, or empty)")
    merge.add_argument("parts", nargs="+", metavar="SHARD_DIR", help="the parts' outputs folders")
    merge.add_argument("--allow-partial", action="store_true",
                       help="merge even when parts or items are missing (named; the merged run then fails)")


def merge_main(ns: Any, passthrough: Sequence[str] = ()) -> int:
    try:
        out = _empty_folder(Path(ns.out))
        parts = [_load(Path(d)) for d in ns.parts]
        plan = build_plan(parts, ns.allow_partial)
    except ConfigError as exc:
        print(f"ERROR: merge: {exc}", file=sys.stderr)
        return int(pytest.ExitCode.USAGE_ERROR)
    for line in plan.missing:
        print(f"evalscope merge: missing {line}", file=sys.stderr)
    first = min(parts, key=lambda p: p["marker"]["part"])
    plan.prepare = lambda: (_copy_journals(parts, out), _write_provenance(out, parts, plan))  # once the session runs
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "task_config.json"
        # where the part wrote is not where the merge writes: its compare_md (a file of the part's host) is left
        # out, as its work_dir is; give -- --evalscope-compare-md=FILE for the merged run's comparison
        task = {**first["marker"]["task"], "shard": None, "shard_gates": False, "use_cache": None,
                "work_dir": str(out), "no_timestamp": True, "run_id": plan.run_id, "compare_md": None}
        config.write_text(json.dumps(task), encoding="utf-8")
        junit = [f"-o{name}={value}" for name, value in (first["marker"].get("junit") or {}).items()
                 if value not in (None, "")]
        args = ["-c", str(Path(__file__).resolve().parents[1] / "session.ini"), "--rootdir", os.getcwd(),
                # nothing runs here, so no workers: -n after -- is refused as an unknown option
                "-p", "no:cacheprovider", "-p", "no:xdist", "--evalscope-config", str(config), *junit,
                # this package is imported before pytest starts; its asserts need no rewriting (as api.session_args)
                "-W", "ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning", *passthrough]
        return int(pytest.main(args, plugins=[Replay(plan)]))


def _empty_folder(out: Path) -> Path:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out} already exists and is not an empty folder; give a new folder for the merged run")
    return out.resolve()


def _load(folder: Path) -> dict[str, Any]:
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder")
    marker = read_part(folder)
    if marker is None:
        raise ConfigError(f"{folder} is not a shard's outputs folder (no shard/part.json); run each part with "
                          "--evalscope-shard=I/N")
    pid = holder(folder)
    if pid is not None:
        raise ConfigError(f"{folder} is in use by a running session{f' (pid {pid})' if pid else ''}; merge when it has ended")
    if not marker.get("selection"):
        raise ConfigError(f"{folder} (part {marker['part']}/{marker['of']}) never finished collecting its items; run it again")
    return {"dir": folder, "marker": marker}


def build_plan(parts: list[dict[str, Any]], allow_partial: bool) -> MergePlan:
    """The checked parts as a replay plan (ConfigError names the first reason they cannot merge)."""
    _check_same_run(parts)
    by_part: dict[int, dict[str, Any]] = {}
    for part in parts:
        number = part["marker"]["part"]
        if number in by_part:
            raise ConfigError(f"part {number}/{part['marker']['of']} is given twice: {by_part[number]['dir']} and {part['dir']}")
        by_part[number] = part
    first = by_part[min(by_part)]["marker"]
    count, missing = first["of"], []
    absent = [n for n in range(1, count + 1) if n not in by_part]
    if absent:
        line = (f"part {', '.join(f'{n}/{count}' for n in absent)} (given: {', '.join(str(n) for n in sorted(by_part))})")
        if not allow_partial:
            raise ConfigError(f"missing {line}; give every part's folder, or --allow-partial to merge the others")
        missing.append(line)
    plan = MergePlan(first["run_id"], count, [], run_samples=first["selection"]["samples"], missing=missing)
    for number in sorted(by_part):
        _add_part(plan, by_part[number], allow_partial)
    return plan


def _check_same_run(parts: list[dict[str, Any]]) -> None:
    base = parts[0]
    b = base["marker"]
    for part in parts[1:]:
        m = part["marker"]
        where = f"{part['dir']} (part {m['part']}/{m['of']})"
        against = f"{base['dir']} (part {b['part']}/{b['of']})"
        if m["settings_hash"] != b["settings_hash"]:  # first: a default run id differs with any setting
            diff = first_difference(m["settings"], b["settings"])
            what = f"{diff[0]} is {diff[1]!r} there and {diff[2]!r} here" if diff else "their settings differ"
            raise ConfigError(f"{where} was run with other settings than {against}: {what}")
        if m["run_id"] != b["run_id"]:
            raise ConfigError(f"{where} is a part of run {m['run_id']!r}, {against} of run {b['run_id']!r}; "
                              "merge the parts of one run")
        if m["of"] != b["of"]:
            raise ConfigError(f"{where} and {against} cut the run into different numbers of parts")
        if m["selection"]["hash"] != b["selection"]["hash"]:
            raise ConfigError(f"{where} selected other items than {against} ({m['selection']['items']} and "
                              f"{b['selection']['items']} in the whole selection); run every part with the same "
                              "arguments (-k, --deselect, datasets, limit) and data")


def _add_part(plan: MergePlan, part: dict[str, Any], allow_partial: bool) -> None:
    marker, folder = part["marker"], part["dir"]
    selection = marker["selection"]
    reports = read_reports(folder, set(selection["nodeids"]))
    page = marker.get("page") or ""
    done = [(place, page, reports[nodeid]) for nodeid, place in zip(selection["nodeids"], selection["positions"], strict=True)
            if nodeid in reports]
    if len(done) < len(selection["nodeids"]):
        line = (f"part {marker['part']}/{marker['of']} ({folder}) is incomplete: {len(done)} of "
                f"{len(selection['nodeids'])} item(s) finished")
        if not allow_partial:
            raise ConfigError(f"{line}; resume it with --evalscope-use-cache={folder} --evalscope-shard="
                              f"{marker['part']}/{marker['of']}, or give --allow-partial")
        plan.missing.append(f"{len(selection['nodeids']) - len(done)} item(s) of {line.split(' is ')[0]}")
    plan.entries += done
    plan.suite_facts.update(marker.get("suite_facts") or {})
    plan.suite_settings.update(marker.get("suite_settings") or {})
    plan.model_stats.update({f"part{marker['part']}:{proc}": stats for proc, stats in (marker.get("model_stats") or {}).items()})


def _copy_journals(parts: list[dict[str, Any]], out: Path) -> None:
    """The parts' reply journals, so that use_cache on the merged folder asks nothing they received."""
    target = out / CACHE_DIR
    target.mkdir(parents=True, exist_ok=True)
    for part in parts:
        number = part["marker"]["part"]
        for path in sorted((part["dir"] / CACHE_DIR).glob("*.jsonl")):
            kind, _, rest = path.name.partition("-")  # replies-gw0-123.jsonl -> replies-part2-gw0-123.jsonl
            shutil.copyfile(path, target / f"{kind}-part{number}-{rest}")


def _write_provenance(out: Path, parts: list[dict[str, Any]], plan: MergePlan) -> None:
    from ..reporting.outputs import atomic_write

    data = {"schema": "pytest_evalscope.merge/1", "run_id": plan.run_id, "of": plan.count,
            "parts": [{"part": p["marker"]["part"], "folder": str(p["dir"].resolve()),
                       "items": len(p["marker"]["selection"]["nodeids"])}
                      for p in sorted(parts, key=lambda p: p["marker"]["part"])],
            "items": len(plan.entries), "run_samples": plan.run_samples, "missing": plan.missing}
    atomic_write(out / "merge.json", json.dumps(data, indent=1, ensure_ascii=False) + "\n")
