"""The controller-side recorder: listens to test reports (re-fired by xdist from workers, or local with
`-n 0`), writes the outputs tree, builds reports, applies gates, adds JUnit testcases per suite and
subset, and decides the exit status.

Exit status: wrong answers alone never fail the session. It is 1 when another test failed, when
errors exceed the budget (`ignore_errors`, `max_errors`), or when a threshold is missed; otherwise 0.
Usage errors (4), interruptions (2) and internal errors (3) keep pytest's meaning.

A part of a sharded run (`shard`, shards/part.py) reports its own samples but leaves thresholds and
checks to the merged run unless `shard_gates` is set, and counts its errors against the whole run's
budget. A merged run (`pytest-evalscope merge`) is recorded by this same class, from replayed reports.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from ..config import shown_urls
from ..items import SampleItem
from ..params import ConfigError
from ..pipeline import FATAL_KINDS
from ..registry import get_benchmark_class
from ..runtime import EvalRuntime
from ..schema import SampleRecord
from .endpoints import endpoint_summary
from .gates import Gate, evaluate_gates
from .outputs import FLUSH_INTERVAL, OutputWriter, atomic_write, write_report, write_task_config
from .report import build_report
from .table import render_table

log = logging.getLogger("pytest_evalscope")


class OneLineFailure:
    """A failed sample's message, printed once. pytest's `--tb=line` summary prints a report's long
    representation and then its crash line, so a plain-string failure appeared twice, the second time
    cut to 50 characters. This one gives the crash line in full and, in line style, prints nothing
    else; JUnit XML reads the same text as its message and body."""

    def __init__(self, text: str, line_style: bool) -> None:
        self.text, self.message, self.line_style = text, text, line_style
        self.reprcrash = self

    def toterminal(self, tw: Any) -> None:
        if not self.line_style:
            tw.line(self.text)

    def __str__(self) -> str:
        return self.text


class Recorder:
    def __init__(self, config: pytest.Config, runtime: EvalRuntime) -> None:
        self.config = config
        self.runtime = runtime
        self.task = runtime.config
        self.model_id = self.task.model_id or "model"
        self.records: dict[tuple[str, str, int, int], dict[str, Any]] = {}
        self.modules: dict[str, str] = {}
        self.non_eval_failures = 0
        self.reports: dict[str, dict[str, Any]] = {}
        self.gates: list[Gate] = []
        self.checks: list[Any] = []  # gates of feature plugins (pytest_evalscope_checks)
        self.errors_over_budget = False
        self.session_stopped_early = False
        self.active = False
        self._writer: OutputWriter | None = None
        self._log_handler: logging.Handler | None = None
        self.total: int | None = None  # samples selected, once known
        self.run_total: int | None = None  # a shard's whole run's samples (its error budget is the run's)
        self._counts = {"passed": 0, "failed": 0, "errors": 0}
        self._progress_at = 0.0
        self._stopping = False  # the error budget was exceeded and the session told to stop
        self._session: pytest.Session | None = None

    # ------------------------------------------------------------ session start

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self.config.option.collectonly:
            return
        self.active = True
        self._session = session
        run_dir = self.runtime.run_dir
        (run_dir / "logs").mkdir(parents=True, exist_ok=True)
        write_task_config(run_dir, self.task.to_dict(redact=True))
        self._log_handler = logging.FileHandler(run_dir / "logs" / "eval_log.log", encoding="utf-8")
        self._log_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(self._log_handler)
        log.setLevel(logging.DEBUG if self.task.debug else logging.INFO)
        log.info("run %s: model %s (%s), eval_batch_size %d, outputs %s", run_dir.name, self.task.model,
                 shown_urls(self.task.api_url) or self.task.eval_type, self.task.eval_batch_size, run_dir)
        self._writer = OutputWriter(run_dir, self.model_id, keep_previous=bool(self.task.use_cache))

    # ------------------------------------------------------------ progress (progress.json)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self.active and not self.config.pluginmanager.has_plugin("dsession"):  # under xdist: the hook below
            self.total = sum(isinstance(item, SampleItem) for item in session.items)
            self._write_progress(force=True)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if self.active and self.total is None:  # every worker collects the same items
            self.total = len(ids)
            self._write_progress(force=True)

    def _write_progress(self, force: bool = False, state: str = "running", **outcome: Any) -> None:
        now = time.monotonic()
        if not force and now - self._progress_at < FLUSH_INTERVAL:
            return
        self._progress_at = now
        done = sum(self._counts.values())
        percent = round(100.0 * done / self.total, 2) if self.total else (100.0 if state != "running" else 0.0)
        progress = {"state": state, "total": self.total, "done": done, **self._counts, "percent": percent,
                    "updated": time.time(), **outcome}
        atomic_write(self.runtime.run_dir / "progress.json", json.dumps(progress))

    # ------------------------------------------------------------ per report

    @pytest.hookimpl(tryfirst=True)  # before the terminal and junitxml read the failure
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not self.active:
            return
        if not getattr(report, "evalscope_sample", False):
            if report.failed:
                self.non_eval_failures += 1
            return
        if report.failed and isinstance(report.longrepr, str):  # under xdist the failure arrives as text
            # errors (setup) are listed with a headline and their text whatever the style; failures in line style by crash line
            line_style = self.config.option.tbstyle == "line" and report.when == "call"
            report.longrepr = OneLineFailure(report.longrepr, line_style)  # type: ignore[assignment]
        text = getattr(report, "evalscope_record", None)
        if text is None:
            return
        self.run_total = getattr(report, "evalscope_run_total", self.run_total)  # set by shards/part.py
        record = SampleRecord.from_json(text).to_dict()  # checked field by field, versioned
        key = (record["suite"], record["subset"], record["index"], record["repeat"])
        if key in self.records:
            log.warning("sample %s reported twice; keeping the last report", report.nodeid)
        self.records[key] = record
        self.modules.setdefault(record["suite"], report.nodeid.split("::")[0])
        assert self._writer is not None
        self._writer.append(record)
        self.config.hook.pytest_evalscope_record(record=record, config=self.config)
        self._counts[{"correct": "passed", "wrong": "failed"}.get(record["status"], "errors")] += 1
        self._write_progress()
        if record["status"] == "error":
            log.error("%s: %s", report.nodeid, record["error"]["message"])
            if record["error"].get("kind") not in FATAL_KINDS:  # those stop the run themselves, saying why
                self._stop_over_budget()
        elif self.task.debug:
            log.debug("%s: %s (extracted %r, gold %r)", report.nodeid, record["status"], record.get("extracted"), record["target"])

    def _stop_over_budget(self) -> None:
        """Past the error budget the run has failed whatever comes next: stop it now, as a 401 would,
        instead of spending the rest of the selection on errors (the journal keeps every reply)."""
        budget = self.task.error_budget(self.run_total if self.task.shard and self.run_total else self.total or 0)
        if self._stopping or self.total is None or self._counts["errors"] <= budget:
            return
        self._stopping = True
        if self._session is not None and self._session.shouldstop:
            return
        reason = (f"evalscope: {self._counts['errors']} sample(s) ended in an error, over the error budget of "
                  f"{budget:g} (max_errors, ignore_errors); stopping")
        dsession = self.config.pluginmanager.getplugin("dsession")
        if dsession is not None:  # the xdist controller stops its workers
            dsession.shouldstop = reason
        elif self._session is not None:
            self._session.shouldstop = reason

    # ------------------------------------------------------------ session end

    @pytest.hookimpl(tryfirst=True)  # before junitxml writes its file
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.runtime.collection_errors:  # a bad dataset found while collecting
            if self.runtime.errors_from_workers:  # with -n 0, pytest printed it already
                sys.stderr.write(f"ERROR: {self.runtime.collection_errors[0]}\n")
            session.exitstatus = pytest.ExitCode.USAGE_ERROR
            self.active = False
        if not self.active:
            return
        assert self._writer is not None
        self._writer.finish()
        for record in self._writer.kept:  # earlier samples of the same files that this run did not select
            self.records.setdefault((record["suite"], record["subset"], record["index"], record["repeat"]), record)
        self._build_reports()
        thresholds: dict[str, float] = {}
        for record in self.records.values():
            thresholds.update(record.get("suite_thresholds") or {})
        thresholds.update(self.task.thresholds)
        gating = not self.task.shard or self.task.shard_gates  # a shard alone reports its part; the merge gates
        self.gates = evaluate_gates(thresholds, self.reports, self.task.gate_on) if gating else []
        self.checks = [check for found in self.config.hook.pytest_evalscope_checks(
            records=list(self.records.values()), reports=self.reports, run_dir=self.runtime.run_dir,
            config=self.config) for check in found or []] if gating else []
        errors = sum(r["status"] == "error" for r in self.records.values())
        # a shard holds its errors against the whole run's budget: over it, the merged run is over it too
        self.errors_over_budget = errors > self.task.error_budget(
            self.run_total if self.task.shard and self.run_total else len(self.records))
        self.session_stopped_early = bool(session.shouldfail)
        # the outcome beside the counts, for whoever watches the run (the HTTP service's job state)
        self._write_progress(force=True, state="interrupted" if session.exitstatus == pytest.ExitCode.INTERRUPTED else "finished",
                             errors=errors, errors_over_budget=self.errors_over_budget,
                             gates_missed=[g.name for g in [*self.gates, *self.checks] if not g.met])
        self._add_junit_cases()
        session.exitstatus = self._exit_status(session.exitstatus)
        self.config.hook.pytest_evalscope_gates(gates=[*self.gates, *self.checks], config=self.config)
        for line in render_table(self.model_id, self.reports, full=True):  # the log keeps every metric
            log.info(line)
        for gate in self.gates:
            log.info("threshold %s", gate.describe())
            if gate.warning:
                log.warning("threshold %s", gate.warning)
        if self._log_handler is not None:
            log.removeHandler(self._log_handler)
            self._log_handler.close()
        self.config.hook.pytest_evalscope_run_finished(run_dir=self.runtime.run_dir, reports=self.reports,
                                                       gates=[*self.gates, *self.checks],
                                                       exitstatus=int(session.exitstatus),
                                                       config=self.config)

    def _build_reports(self) -> None:
        by_suite: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in self.records.values():
            by_suite[record["suite"]].append(record)
        facts = self.runtime.suite_facts()  # this process's benchmarks, or under xdist the workers'
        for suite, records in sorted(by_suite.items()):
            fact = facts.get(suite)
            if fact is None:  # only earlier samples (use_cache) of a suite no process ran this time
                try:
                    cls = get_benchmark_class(records[0]["benchmark"])
                    fact = {"pretty_name": cls.pretty_name, "description": cls.description,
                            "subset_list": list(cls.subset_list)}
                except ConfigError:
                    fact = {"pretty_name": records[0]["benchmark"], "subset_list": []}
            meta = {k: v for k, v in fact.items() if k != "subset_list"}
            order = list(fact["subset_list"])
            records.sort(key=lambda r: (r["subset"], r["index"], r["repeat"]))
            self.reports[suite] = build_report(suite, meta, self.model_id, records, order)
            stats = self.runtime.all_model_stats()
            if stats:  # process-wide figures: the same in every suite's report of this run
                perf = self.reports[suite]["perf_metrics"] or {}
                perf["model"] = stats
                self.reports[suite]["perf_metrics"] = perf
            fleet = endpoint_summary(records, stats)
            if fleet:  # several api_url endpoints: who answered, how fast, how often each failed
                self.reports[suite]["perf_metrics"] = {**(self.reports[suite]["perf_metrics"] or {}), "endpoints": fleet}
            self.config.hook.pytest_evalscope_aggregate(suite=suite, records=records, report=self.reports[suite],
                                                        run_dir=self.runtime.run_dir, config=self.config)
            write_report(self.runtime.run_dir, self.model_id, suite, self.reports[suite])
            self.config.hook.pytest_evalscope_report(suite=suite, report=self.reports[suite],
                                                     run_dir=self.runtime.run_dir, config=self.config)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if self.active and report.failed:  # e.g. a broken test module under --continue-on-collection-errors
            self.non_eval_failures += 1

    def _exit_status(self, current: int) -> int:
        if current == pytest.ExitCode.NO_TESTS_COLLECTED and (self.gates or self.checks):
            return pytest.ExitCode.TESTS_FAILED  # gates over an empty selection are missed, not vacuous
        if current not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            return current
        if self.session_stopped_early:
            return pytest.ExitCode.TESTS_FAILED  # -x / --maxfail stopped it: the scores are partial
        failed = self.non_eval_failures or self.errors_over_budget or any(not g.met for g in [*self.gates, *self.checks])
        return pytest.ExitCode.TESTS_FAILED if failed else pytest.ExitCode.OK

    def _add_junit_cases(self) -> None:
        from _pytest.junitxml import xml_key

        xml = self.config.stash.get(xml_key, None)
        if xml is None:
            return
        gates = {g.name: g for g in self.gates}
        for suite, report in self.reports.items():
            module = self.modules.get(suite, suite)
            cases = [(suite, report["score"], report["num"], report.get("ci95"))]
            for category in report["metrics"][0]["categories"]:
                cases += [(f"{suite}/{s['name']}", s["score"], s["num"], s.get("ci95")) for s in category["subsets"]]
            for name, score, num, ci in cases:
                _junit_case(xml, f"{module}::{name}", score, num, ci, gates.get(name))
        for check in self.checks:
            suite = check.name.split("/")[0]
            _junit_check(xml, f"{self.modules.get(suite, suite)}::{check.kind}[{check.name}]", check)

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int) -> None:
        if not self.active:
            return
        if self.reports:
            terminalreporter.write_sep("=", "evalscope scores")
            for line in render_table(self.model_id, self.reports):
                terminalreporter.write_line(line)
        errors = sum(r["status"] == "error" for r in self.records.values())
        if errors:
            verdict = "over the error budget" if self.errors_over_budget else "within the error budget"
            terminalreporter.write_line(f"evalscope: {errors} sample(s) ended in an error, {verdict}", red=self.errors_over_budget)
        for gate in self.gates:
            terminalreporter.write_line(f"evalscope threshold {gate.describe()}", green=gate.met, red=not gate.met)
            if gate.warning:
                terminalreporter.write_line(f"evalscope warning: {gate.warning}", yellow=True)
        for check in self.checks:
            doubtful = check.met and check.verdict not in ("met", "passed", "noninferior")
            terminalreporter.write_line(f"evalscope {check.kind} {check.describe()}", green=check.met and not doubtful,
                                        yellow=doubtful, red=not check.met)
        terminalreporter.write_line(f"evalscope outputs: {_shown(self.runtime.run_dir)}")
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            terminalreporter.write_line(
                f"evalscope: interrupted after {len(self.records)} sample(s); every reply received is kept. "
                f"Resume with --evalscope-use-cache={_shown(self.runtime.run_dir)}", yellow=True)


def _junit_case(xml: Any, nodeid: str, score: float | None, num: int, ci: list[float] | None, gate: Gate | None) -> None:
    props: list[tuple[str, object]] = [("score", score), ("num", num)]
    if ci:
        props += [("ci95_low", ci[0]), ("ci95_high", ci[1])]
    failed = gate is not None and not gate.met
    if gate is not None:
        props.append(("threshold", gate.threshold))
    location = (nodeid.split("::")[0], None, nodeid.split("::", 1)[-1])
    call = pytest.TestReport(nodeid, location, {}, "failed" if failed else "passed",
                             gate.describe() if failed and gate else None, "call", user_properties=[])
    teardown = pytest.TestReport(nodeid, location, {}, "passed", None, "teardown", user_properties=props)
    xml.pytest_runtest_logreport(call)
    xml.pytest_runtest_logreport(teardown)


def _junit_check(xml: Any, nodeid: str, check: Any) -> None:
    """One testcase per check of a feature plugin: its properties, and its text as the case's output."""
    props = list(check.junit_properties()) if hasattr(check, "junit_properties") else []
    text = check.junit_text() if hasattr(check, "junit_text") else ""
    location = (nodeid.split("::")[0], None, nodeid.split("::", 1)[-1])
    failure = f"{check.describe()}\n{text}".strip() if not check.met else None
    call = pytest.TestReport(nodeid, location, {}, "passed" if check.met else "failed", failure, "call", user_properties=[])
    teardown = pytest.TestReport(nodeid, location, {}, "passed", None, "teardown", user_properties=props)
    xml.pytest_runtest_logreport(call)
    if text:  # written whatever junit_logging says: the sample ids are the point of the case
        from xml.etree import ElementTree

        out = ElementTree.Element("system-out")
        out.text = f"{check.describe()}\n{text}"
        xml.node_reporter(call).append(out)
    xml.pytest_runtest_logreport(teardown)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
