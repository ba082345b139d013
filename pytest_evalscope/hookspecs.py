"""The extension contract: hooks the evaluation fires on the controller (the process that writes the
outputs), so that a report viewer, a baseline comparison or a user's exporter is a plugin.

Implement any of them in a ``conftest.py`` or a plugin module; they fire only in evaluation runs, once
per event, on the controller (never on an xdist worker), with the same arguments under ``-n 0`` and
``-n N``. Example, an exporter that prints every wrong answer's sample id as it finishes::

    def pytest_evalscope_record(record, config):
        if record["status"] == "wrong":
            print(f"{record['suite']}/{record['subset']}/{record['index']}")

Records and reports are plain JSON-able dicts: a record is one sample as the reviews file has it
(suite, benchmark, subset, index, repeat, status, score, extracted, target, output, ...), a report is a
``reports/<model>/<suite>.json`` document.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.hookspec
def pytest_evalscope_record(record: dict[str, Any], config: pytest.Config) -> None:
    """A sample finished (scored, wrong or errored) and was written to the outputs.

    Also fires for samples an earlier run finished when ``use_cache`` reuses them (``record["cached"]``).
    """


@pytest.hookspec
def pytest_evalscope_aggregate(suite: str, records: list[dict[str, Any]], report: dict[str, Any], run_dir: Path,
                               config: pytest.Config) -> None:
    """A suite's report was built from its records and is about to be written: change it in place to
    aggregate another way (the arena's Bradley–Terry win rates replace the mean scores)::

        def pytest_evalscope_aggregate(suite, records, report, run_dir, config):
            report["median_latency"] = sorted(r["output"]["latency"] for r in records if r.get("output"))[len(records) // 2]
    """


@pytest.hookspec
def pytest_evalscope_report(suite: str, report: dict[str, Any], run_dir: Path, config: pytest.Config) -> None:
    """A suite's report was written to ``run_dir/reports/<model>/<suite>.json``."""


@pytest.hookspec
def pytest_evalscope_checks(records: list[dict[str, Any]], reports: dict[str, dict[str, Any]], run_dir: Path,
                            config: pytest.Config) -> list[Any] | None:
    """Extra gates a feature plugin decides (e.g. regression checks against a baseline), asked once every
    report is written and before the exit status is decided. Return objects with ``name``, ``kind``,
    ``verdict``, ``met`` (False fails the run) and ``describe()`` (one line); optionally ``junit_properties()``
    (name, value pairs) and ``junit_text()`` for their JUnit testcase. A plugin may add sections to
    ``reports`` (and rewrite them under ``run_dir``). Example, a gate on the error count::

        class Check:
            kind, name = "errors", "no_errors"
            def __init__(self, n): self.n, self.met = n, n == 0
            verdict = property(lambda self: "met" if self.met else "missed")
            def describe(self): return f"{self.name}: {self.n} error(s)"

        def pytest_evalscope_checks(records, reports, run_dir, config):
            return [Check(sum(r["status"] == "error" for r in records))]
    """


@pytest.hookspec
def pytest_evalscope_gates(gates: list[Any], config: pytest.Config) -> None:
    """The score gates were evaluated (``reporting.gates.Gate``: name, score, threshold, met, describe()),
    followed by the checks plugins returned from ``pytest_evalscope_checks``."""


@pytest.hookspec
def pytest_evalscope_run_finished(run_dir: Path, reports: dict[str, dict[str, Any]], gates: list[Any],
                                  exitstatus: int, config: pytest.Config) -> None:
    """Everything of the run is on disk in ``run_dir`` (predictions, reviews, reports, progress.json) and
    the exit status is decided; a viewer builds its page here. Fires also for an interrupted run."""
