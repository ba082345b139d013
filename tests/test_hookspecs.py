"""The extension hooks fire once per event on the controller, with the same arguments serially and under xdist."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CONFTEST = '''
import json


def pytest_evalscope_record(record, config):
    with open("events.jsonl", "a") as f:
        f.write(json.dumps(["record", record["suite"], record["index"], record["status"]]) + "\\n")


def pytest_evalscope_report(suite, report, run_dir, config):
    with open("events.jsonl", "a") as f:
        f.write(json.dumps(["report", suite, report["score"], (run_dir / "reports").is_dir()]) + "\\n")


def pytest_evalscope_gates(gates, config):
    with open("events.jsonl", "a") as f:
        f.write(json.dumps(["gates", [(g.name, g.met) for g in gates]]) + "\\n")


def pytest_evalscope_run_finished(run_dir, reports, gates, exitstatus, config):
    with open("events.jsonl", "a") as f:
        f.write(json.dumps(["finished", sorted(reports), exitstatus, (run_dir / "progress.json").is_file()]) + "\\n")
'''


@pytest.mark.parametrize("workers", [["-n", "0"], ["-n", "2"]], ids=["serial", "xdist"])
def test_hooks_fire_once_per_event_on_the_controller(pytester: pytest.Pytester, suite_file: Path, gsm8k_args: str,
                                                     workers: list[str]) -> None:
    pytester.makeconftest(CONFTEST)
    result = pytester.runpytest("--evalscope-model=mock", "--evalscope-eval-type=mock", gsm8k_args,
                                "--evalscope-limit=4", "--evalscope-threshold", "gsm8k=0.9", "-p", "no:cacheprovider",
                                *workers)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    events = [json.loads(line) for line in (pytester.path / "events.jsonl").read_text().splitlines()]
    records = sorted(e for e in events if e[0] == "record")
    assert records == [["record", "gsm8k", i, "wrong"] for i in range(4)]
    assert [e for e in events if e[0] != "record"] == [
        ["report", "gsm8k", 0.0, True], ["gates", [["gsm8k", False]]], ["finished", ["gsm8k"], 1, True]]
