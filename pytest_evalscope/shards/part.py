"""A shard's run (`--evalscope-shard I/N`): keep this part of the selection, and mark the outputs folder
as part I of N of one run (marker.py), journaling every test report so that `pytest-evalscope merge`
can replay the parts as one session.

Registered in every process of a shard run. Each process that collects (the only one with `-n 0`,
every xdist worker otherwise) cuts the selection the same way; the controller writes the marker and the
report journal. The whole selection's size rides on each sample's teardown report
(``evalscope_run_total``), so the controller holds the error budget against the whole run: a part stops
early, or fails, only when the merged run would be over the budget whatever the other parts do.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from ..items import SampleItem
from ..params import ConfigError
from ..reporting.outputs import FLUSH_INTERVAL
from .marker import JUNIT_INI, forget_reports, open_reports, read_part, write_part
from .spec import assign_parts, default_run_id, identity, identity_hash, parse_spec, selection_hash

# report attributes that say which xdist worker ran an item: a merged run must not depend on them
_WORKER_ATTRIBUTES = ("node", "worker_id", "item_index", "testrun_uid")


def check_resume(task: Any, run_dir: Path) -> None:
    """use_cache of a shard's folder continues that part only, and a shard continues no other folder."""
    if not task.use_cache:
        return
    marker = read_part(run_dir)
    if marker is None:
        if task.shard:
            raise ConfigError(f"use_cache: {run_dir} is not a shard's folder; a shard ({task.shard}) continues only "
                              "the folder of the same part")
        return
    mine = f"{marker['part']}/{marker['of']}"
    if task.shard != mine:
        raise ConfigError(f"use_cache: {run_dir} is part {mine} of run {marker['run_id']!r}; continue it with "
                          f"--evalscope-shard={mine}" + (f", not {task.shard}" if task.shard else ""))
    settings = identity(task.to_dict(redact=True))
    run_id = task.run_id or default_run_id(settings)
    if run_id != marker["run_id"]:
        raise ConfigError(f"use_cache: {run_dir} is a part of run {marker['run_id']!r}, this would be run {run_id!r}; "
                          "give the same settings (and --evalscope-run-id) as the part was run with")


class ShardPart:
    def __init__(self, config: pytest.Config, task: Any, run_dir: Path) -> None:
        self.config = config
        self.part, self.count = parse_spec(task.shard)
        self.task = task
        self.run_dir = run_dir
        self.settings = identity(task.to_dict(redact=True))
        self.run_id = task.run_id or default_run_id(self.settings)
        self.selection: dict[str, Any] | None = None  # set where items are collected (or from a worker)
        self.controller = not hasattr(config, "workerinput")
        self._journal: Any = None
        self._flushed = 0.0
        self._session_no = 1

    # ------------------------------------------------------------ every process that collects

    @pytest.hookimpl(trylast=True)  # after -k, --deselect, --lf and the datasets check chose the selection
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        groups = [(i.suite.name, i.sample.subset, i.sample.index) if isinstance(i, SampleItem) else None for i in items]
        parts = assign_parts(groups, self.count)
        positions = [n for n, part in enumerate(parts) if part == self.part]
        kept = [items[n] for n in positions]
        self.selection = {"hash": selection_hash([i.nodeid for i in items]), "items": len(items),
                          "samples": sum(g is not None for g in groups), "nodeids": [i.nodeid for i in kept],
                          "positions": positions}
        dropped = [item for item, part in zip(items, parts, strict=True) if part != self.part]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = kept

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]
                                  ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if call.when == "teardown" and isinstance(item, SampleItem) and self.selection is not None:
            report.evalscope_run_total = self.selection["samples"]  # type: ignore[attr-defined]
        return report

    @pytest.hookimpl(tryfirst=True)  # registered after the recorder, so before it decides the exit status
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        output = getattr(session.config, "workeroutput", None)
        if output is not None and self.selection is not None:
            output["evalscope_shard_selection"] = json.dumps(self.selection)
        if self.controller and session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED \
                and self.selection and self.selection["items"]:
            session.exitstatus = pytest.ExitCode.OK  # this part of a non-empty selection is empty: nothing failed

    # ------------------------------------------------------------ the controller

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        text = getattr(node, "workeroutput", {}).get("evalscope_shard_selection")
        if text and self.selection is None:
            self.selection = json.loads(text)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if not self.controller or self.config.option.collectonly:
            return
        earlier = read_part(self.run_dir) if self.task.use_cache else None
        self._session_no = int(earlier.get("sessions", 0)) + 1 if earlier else 1
        if not self.task.use_cache:
            forget_reports(self.run_dir)
        self._write("running")
        self._journal = open_reports(self.run_dir, self._session_no)

    @pytest.hookimpl(trylast=True)  # after the recorder has turned the report's failure into its one line
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self._journal is None:
            return
        data = self.config.hook.pytest_report_to_serializable(config=self.config, report=report)
        for name in _WORKER_ATTRIBUTES:
            data.pop(name, None)
        self._journal.write(json.dumps({"session": self._session_no, "report": data}, ensure_ascii=False, default=str) + "\n")
        now = time.monotonic()
        if now - self._flushed >= FLUSH_INTERVAL:
            self._journal.flush()
            self._flushed = now

    def pytest_evalscope_run_finished(self, exitstatus: int) -> None:
        """The recorder wrote the part's outputs and decided its exit status: the marker says so."""
        self._close()
        self._write("finished", exitstatus)

    def pytest_unconfigure(self) -> None:
        self._close()

    def _close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def _write(self, state: str, exitstatus: int | None = None) -> None:
        runtime = self.config.stash.get(_runtime_key(), None)
        recorder = self.config.pluginmanager.getplugin("evalscope-recorder")
        write_part(self.run_dir, {
            "run_id": self.run_id, "part": self.part, "of": self.count, "state": state, "exitstatus": exitstatus,
            "sessions": self._session_no, "settings": self.settings, "settings_hash": identity_hash(self.settings),
            "task": self.task.to_dict(redact=True), "selection": self.selection,
            "model_id": self.task.model_id or "model",
            "suite_facts": runtime.suite_facts() if runtime is not None else {},
            "model_stats": runtime.all_model_stats() if runtime is not None else {},
            "suite_settings": _suite_settings(self.config),
            "junit": {name: self.config.getini(name) for name in JUNIT_INI}, "page": self._page(),
            "finished_at": time.time() if state == "finished" else None,
            "gated": bool(self.task.shard_gates), "recorded": len(recorder.records) if recorder is not None else 0,
        })

    def _page(self) -> str:
        """This part's report page, which its failure messages link to (the merge relinks them)."""
        from ..reporting.html.plugin import page_path

        try:
            return str(page_path(self.config, self.run_dir) or "")
        except ValueError:
            return ""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.controller or self.config.option.collectonly:
            return
        total = self.selection["samples"] if self.selection else "?"
        mine = len(self.selection["nodeids"]) if self.selection else 0
        gates = "its own gates apply (shard_gates)" if self.task.shard_gates else \
            "thresholds apply to the merged run (pytest-evalscope merge)"
        terminalreporter.write_line(f"evalscope shard {self.part}/{self.count} of run {self.run_id}: {mine} item(s) "
                                    f"of {total} sample(s) in the whole selection; {gates}")


def _runtime_key() -> Any:
    from ..plugin import RUNTIME_KEY

    return RUNTIME_KEY


def _suite_settings(config: pytest.Config) -> dict[str, Any]:
    writer = config.pluginmanager.getplugin("evalscope-settings")
    return writer.settings() if writer is not None else {}

