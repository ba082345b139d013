"""The merged run's session: the parts' test reports, replayed as one pytest session.

`pytest-evalscope merge` starts a pytest session with this plugin (checked parts in hand, merge.py). It
collects nothing and, in place of running items, re-fires the standard report hooks with every part's
reports in the unsharded selection's order, exactly as xdist's controller re-fires its workers'. So the
recorder writes the merged outputs tree, reports and gates, pytest's junitxml writes the testcases,
and the terminal, the report page and a baseline comparison run unchanged: the merged run is what an
unsharded session would have produced from the same replies, apart from timings.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class MergePlan:
    """What merge.py checked: the parts' reports by node id, in the whole selection's order."""

    run_id: str
    count: int  # N, the parts the run was cut into
    entries: list[tuple[int, str, list[dict[str, Any]]]]  # (place in the whole selection, the part's page, reports)
    suite_facts: dict[str, Any] = field(default_factory=dict)
    suite_settings: dict[str, Any] = field(default_factory=dict)
    model_stats: dict[str, Any] = field(default_factory=dict)
    run_samples: int = 0  # samples in the whole selection
    missing: list[str] = field(default_factory=list)  # what --allow-partial let through, one line each
    prepare: Callable[[], Any] | None = None  # writes into OUT what the parts bring beside their reports


class Replay:
    def __init__(self, plan: MergePlan) -> None:
        self.plan = plan

    def pytest_report_header(self) -> list[str]:
        return [f"evalscope merge: run {self.plan.run_id}, {len(self.plan.entries)} item(s) from {self.plan.count} part(s)"]

    def pytest_sessionstart(self) -> None:
        if self.plan.prepare is not None:  # not before: a bad option after -- must leave OUT as it was
            self.plan.prepare()

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self, session: pytest.Session) -> bool:
        session.items = []  # nothing is collected: the parts ran the items
        return True

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        config = session.config
        self._hand_over(config)
        session.testscollected = len(self.plan.entries)
        page = self._page(config)
        entries = sorted(self.plan.entries, key=lambda entry: entry[0], reverse=True)
        self.plan.entries = []
        # As the plugin does after collection: the parts' reports, read up front, stay out of the collector's
        # sight (they are freed one by one below, as each is replayed; pytest's gc passes at exit were 4 s).
        gc.freeze()
        while entries:
            _, part_page, serialized = entries.pop()
            reports = [config.hook.pytest_report_from_serializable(config=config, data=_relinked(data, part_page, page))
                       for data in serialized]
            nodeid, location = reports[0].nodeid, reports[0].location
            config.hook.pytest_runtest_logstart(nodeid=nodeid, location=location)
            try:
                for report in reports:
                    config.hook.pytest_runtest_logreport(report=report)
            except ValueError as exc:  # a part's folder is data from elsewhere (a CI artifact): one line, not a crash
                pytest.exit(f"evalscope merge: the report of {nodeid} cannot be merged: {exc}",
                            returncode=pytest.ExitCode.USAGE_ERROR)
            config.hook.pytest_runtest_logfinish(nodeid=nodeid, location=location)
        if self.plan.missing:  # scores over part of the selection: the recorder fails the run, as after -x
            session.shouldfail = f"evalscope merge: partial, {'; '.join(self.plan.missing)}"
        return True

    def _hand_over(self, config: pytest.Config) -> None:
        """What the processes of the parts told their controllers, told to this one."""
        from ..plugin import RUNTIME_KEY

        runtime = config.stash[RUNTIME_KEY]
        runtime.worker_suite_facts.update(self.plan.suite_facts)
        runtime.worker_model_stats.update(self.plan.model_stats)
        writer = config.pluginmanager.getplugin("evalscope-settings")
        if writer is not None:
            writer.from_workers.update(self.plan.suite_settings)
        recorder = config.pluginmanager.getplugin("evalscope-recorder")
        if recorder is not None:
            recorder.total = sum(any(r.get("evalscope_sample") for r in reports) for _, _, reports in self.plan.entries)

    @staticmethod
    def _page(config: pytest.Config) -> str:
        """The merged run's report page, which failure messages link to (runtime.sample_link), or ""."""
        from ..plugin import RUNTIME_KEY
        from ..reporting.html.plugin import page_path

        try:
            return str(page_path(config, config.stash[RUNTIME_KEY].run_dir) or "")
        except ValueError:
            return ""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        for line in self.plan.missing:
            terminalreporter.write_line(f"evalscope merge: missing {line}", red=True)


def _relinked(data: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """A wrong answer's message links to its run's page: the part's becomes the merged run's."""
    text = data.get("longrepr")
    if not old or not isinstance(text, str) or f"(see {old}#" not in text:
        return data
    if new:
        return {**data, "longrepr": text.replace(f"(see {old}#", f"(see {new}#")}
    return {**data, "longrepr": re.sub(rf" \(see {re.escape(old)}#[^)]*\)", "", text)}
