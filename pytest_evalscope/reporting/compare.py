"""The baseline comparison as a feature plugin (registered only when ``baseline`` is set), and the
offline ``pytest-evalscope compare BASE CANDIDATE``.

In a run: the baseline's config and suite settings are checked against this run's before any model
call (generation settings at configure time, each suite's prompt and scoring settings once its
benchmark is built, in whichever process collects), so a run that could not be compared stops at once
with one line naming the field. When the run ends, the recorder asks for checks
(``pytest_evalscope_checks``): the samples are aligned and compared, each report gains a ``comparison``
section (rewritten in place), ``--evalscope-compare-md`` writes the Markdown summary, and the gates
(``--evalscope-regression``) come back as checks that the recorder turns into exit status, terminal
lines and JUnit testcases.

Settings (params.py): baseline, regression (NAME[=MARGIN], NAME a benchmark, benchmark/subset or all),
regression_mode (regression | noninferior), compare_allow (fields allowed to differ), compare_md,
strict (underpowered gates fail).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import pytest

from ..params import ConfigError, parse_list, parse_regressions
from .alignment import RunData, live_record, load_run
from .compare_md import render
from .comparison import Comparison, RegressionCheck, run_comparison, summary_line
from .identity import fields, first_mismatch, suite_settings, write_settings
from .outputs import atomic_write, write_report

log = logging.getLogger("pytest_evalscope")


def comparability(base: RunData, cand: RunData, allow: list[str], suites: set[str] | None = None,
                  judged: bool = False, pairs: list[tuple[dict[str, Any], dict[str, Any]]] | None = None) -> str | None:
    """The line that stops the comparison, or None: settings first, then the dataset (samples paired by
    index whose targets differ come from different data)."""
    names = suites if suites is not None else {r["suite"] for r in cand.records} & {r["suite"] for r in base.records}
    line = first_mismatch(fields(base.config, base.settings, names, judged),
                          fields(cand.config, cand.settings, names, judged), allow)
    if line or "dataset" in allow:
        return line
    for old, new in pairs or []:
        if old["index"] == new["index"] and old.get("target") != new.get("target"):
            return (f"not comparable with the baseline: dataset content differs ({new['suite']}/{new['subset']}/"
                    f"{new['index']}: target {old.get('target')!r} in the baseline, {new.get('target')!r} here); "
                    "accept it knowingly with --evalscope-compare-allow=dataset")
    return None


def compare_runs(base: RunData, cand: RunData, gates: dict[str, float], mode: str, seed: int, allow: list[str],
                 strict: bool = False, modules: dict[str, str] | None = None) -> Comparison | str:
    """The comparison, or the one line saying why the runs are not comparable."""
    judged = any(r.get("judge") for r in cand.records) or any(r.get("judge") for r in base.records)
    line = comparability(base, cand, allow, judged=judged)
    if line:
        return line
    comparison = run_comparison(base, cand, gates, mode, seed, strict, modules)
    pairs = [p for scope in comparison.scopes.values() if scope.subset is None for g in scope.pairs for p in g]
    line = comparability(base, cand, allow, judged=judged, pairs=pairs)
    return line or comparison


class ComparePlugin:
    def __init__(self, config: pytest.Config, task: Any) -> None:
        self.config = config
        self.runtime: Any = None  # set once the run's runtime exists
        self.task = task
        self.base = load_run(task.baseline, with_records=False)
        self.modules: dict[str, str] = {}
        self.comparison: Comparison | None = None
        self.stopped: str | None = None
        own = RunData("", task.to_dict(redact=True), {}, {}, [])
        line = first_mismatch(fields(self.base.config, {}, set(), False), fields(own.config, {}, set(), False),
                              task.compare_allow)
        if line:
            raise ConfigError(line)

    @pytest.hookimpl(tryfirst=True)  # before the evalscope plugin raises the collection errors
    def pytest_collection_modifyitems(self, config: pytest.Config) -> None:
        for name, benchmark in self.runtime.benchmarks.items():
            if name not in self.base.settings and benchmark.name not in self.base.settings:
                continue
            own = RunData("", self.task.to_dict(redact=True), {name: suite_settings(benchmark)}, {}, [])
            line = comparability(self.base, own, self.task.compare_allow, suites={name})
            if line and line not in self.runtime.collection_errors:
                self.runtime.collection_errors.append(line)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" and getattr(report, "evalscope_sample", False):
            module, _, name = report.nodeid.partition("::")
            self.modules.setdefault(name.split("[")[0], module)

    def pytest_evalscope_checks(self, records: list[dict[str, Any]], reports: dict[str, dict[str, Any]],
                                run_dir: Path, config: pytest.Config) -> list[RegressionCheck]:
        base = load_run(self.task.baseline)
        writer = config.pluginmanager.getplugin("evalscope-settings")
        settings = writer.settings() if writer is not None else {}
        cand = RunData(str(run_dir), self.task.to_dict(redact=True), settings, reports, [live_record(r) for r in records])
        result = compare_runs(base, cand, self.task.regression, self.task.regression_mode, self.task.seed,
                              self.task.compare_allow, self.task.strict, self.modules)
        if isinstance(result, str):
            self.stopped = result
            return [RegressionCheck("baseline", self.task.regression_mode, 0.0, "incomparable", False, reason=result)]
        self.comparison = result
        model_id = self.task.model_id or "model"
        for suite, section in result.sections.items():
            if suite in reports:
                reports[suite]["comparison"] = section
                write_report(run_dir, model_id, suite, reports[suite])
        for warning in result.warnings:
            log.warning("comparison: %s", warning)
        if self.task.compare_md:
            atomic_write(Path(self.task.compare_md), render(result, f"{base.path} ({base.model})",
                                                            f"{run_dir} ({cand.model})"))
        return result.checks

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.stopped:
            terminalreporter.write_line(f"evalscope: {self.stopped}", red=True)
            return
        if self.comparison is None:
            return
        gated = {c.name for c in self.comparison.checks}
        terminalreporter.write_sep("-", f"evalscope comparison with {self.base.path}")
        for suite, section in self.comparison.sections.items():
            if suite not in gated:
                terminalreporter.write_line(f"evalscope comparison {summary_line(suite, section)}")
        for warning in self.comparison.warnings:
            terminalreporter.write_line(f"evalscope warning: {warning}", yellow=True)


class SettingsWriter:
    """Every run records its suites' resolved settings (configs/suite_settings.json), so that it can be a
    baseline later (identity.py). Under xdist only workers build benchmarks: theirs travel as JSON."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.from_workers: dict[str, dict[str, Any]] = {}

    def settings(self) -> dict[str, dict[str, Any]]:
        own = {name: suite_settings(b) for name, b in self.runtime.benchmarks.items()}
        return {**self.from_workers, **own}

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        output = getattr(session.config, "workeroutput", None)
        if output is not None:
            output["evalscope_suite_settings"] = json.dumps(self.settings())

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        text = getattr(node, "workeroutput", {}).get("evalscope_suite_settings")
        if text:
            self.from_workers.update(json.loads(text))

    def pytest_evalscope_run_finished(self, run_dir: Path) -> None:
        write_settings(run_dir, self.settings())


# ---------------------------------------------------------------- pytest-evalscope compare


def add_compare_parser(commands: Any) -> None:
    compare = commands.add_parser("compare", help="compare two finished runs (ours or EvalScope's) sample by sample",
                                  description="Paired comparison of CANDIDATE against BASE; no model is called.")
    compare.add_argument("base", help="the baseline run's folder")
    compare.add_argument("candidate", help="the candidate run's folder")
    compare.add_argument("--regression", action="append", default=None, metavar="NAME[=MARGIN]",
                         help="gate NAME (benchmark, benchmark/subset or all) with an optional margin (repeatable)")
    compare.add_argument("--regression-mode", choices=("regression", "noninferior"), default="regression")
    compare.add_argument("--compare-allow", action="append", default=None, metavar="FIELD",
                         help="accept a difference in FIELD knowingly (repeatable)")
    compare.add_argument("--compare-md", default=None, metavar="PATH", help="write a Markdown summary here")
    compare.add_argument("--strict", action="store_true", help="underpowered gates fail")
    compare.add_argument("--seed", type=int, default=None, help="bootstrap seed (default: the candidate's seed)")


def compare_main(ns: argparse.Namespace) -> int:
    try:
        gates = parse_regressions(ns.regression, "--regression")
        allow = parse_list(ns.compare_allow, "--compare-allow")
        base, cand = load_run(ns.base), load_run(ns.candidate)
    except ConfigError as exc:
        print(f"ERROR: {str(exc).replace('baseline: ', '', 1)}", file=sys.stderr)
        return int(pytest.ExitCode.USAGE_ERROR)
    seed = ns.seed if ns.seed is not None else int(cand.config.get("seed") or 42)
    result = compare_runs(base, cand, gates, ns.regression_mode, seed, allow, ns.strict)
    if isinstance(result, str):
        print(f"ERROR: {result}", file=sys.stderr)
        return int(pytest.ExitCode.USAGE_ERROR)
    gated = {c.name for c in result.checks}
    for suite, section in result.sections.items():
        if suite not in gated:
            print(f"comparison {summary_line(suite, section)}")
    for check in result.checks:
        print(f"regression {check.describe()}")
    for warning in result.warnings:
        print(f"warning: {warning}")
    if ns.compare_md:
        atomic_write(Path(ns.compare_md), render(result, f"{base.path} ({base.model})", f"{cand.path} ({cand.model})"))
    return int(pytest.ExitCode.TESTS_FAILED if any(not c.met for c in result.checks) else pytest.ExitCode.OK)
