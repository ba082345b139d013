"""pytest-xdist integration: the run folder travels to workers, and the load scheduler keeps each
worker's queue deep enough for its request pipeline.

xdist's default load scheduler lets a worker's queue drain to a couple of items before refilling
it; a worker that knows only two upcoming samples can keep only two requests in flight. The
scheduler below refills whenever a worker holds fewer than `depth` items (its pipeline look-ahead
plus one batch), and otherwise behaves exactly like LoadScheduling.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from xdist.scheduler import LoadScheduling

from .pipeline import lookahead_for
from .remote import where
from .runtime import EvalRuntime


class DeepLoadScheduling(LoadScheduling):
    def __init__(self, config: pytest.Config, log: Any = None, depth: int = 8) -> None:
        super().__init__(config, log)
        self.depth = depth

    def check_schedule(self, node: Any, duration: float = 0) -> None:
        if not node.shutting_down and self.pending:
            fair_share = max(len(self.pending) // len(self.node2pending), 1)  # never starve the others
            missing = min(self.depth, fair_share) - len(self.node2pending[node])
            if missing > 0:
                self._send_tests(node, missing)
        # duration 0: never hold items back because samples "look slow" (they wait on the network)
        super().check_schedule(node, duration=0)


class DeferredUsageError:
    """A worker's bad setting, found while configuring: raised at collection, where the controller hears of
    it (a worker on another host reads its own files: a config file or a baseline missing there)."""

    def __init__(self, message: str) -> None:
        self.message = message

    def pytest_collection_modifyitems(self, config: pytest.Config) -> None:
        config.workeroutput["evalscope_usage_error"] = self.message  # type: ignore[attr-defined]
        raise pytest.UsageError(self.message)


class XdistSupport:
    def __init__(self, runtime: EvalRuntime) -> None:
        self.runtime = runtime

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["evalscope_run_dir"] = str(self.runtime.run_dir)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        output = getattr(session.config, "workeroutput", None)
        if output is not None:  # on a worker: its model's figures travel to the controller's reports
            stats = self.runtime.model_stats()
            if stats is not None:
                output["evalscope_model_stats"] = stats
            output["evalscope_suite_facts"] = json.dumps(self.runtime.suite_facts())

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        stats = getattr(node, "workeroutput", {}).get("evalscope_model_stats")
        if stats is not None:
            self.runtime.worker_model_stats[node.workerinput["workerid"]] = stats
        facts = getattr(node, "workeroutput", {}).get("evalscope_suite_facts")
        if facts:
            self.runtime.worker_suite_facts.update(json.loads(facts))
        message = getattr(node, "workeroutput", {}).get("evalscope_usage_error")
        if message:
            message = where(node) + message  # a remote worker's data, files and settings are its host's
        if message and message not in self.runtime.collection_errors:
            self.runtime.collection_errors.append(message)
            self.runtime.errors_from_workers = True

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> LoadScheduling | None:
        if config.getvalue("dist") != "load":
            return None
        concurrency = self.runtime.config.eval_batch_size
        return DeepLoadScheduling(config, log, depth=lookahead_for(concurrency) + concurrency)
