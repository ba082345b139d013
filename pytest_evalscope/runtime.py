"""Per-process evaluation state: the task config, the run folder, benchmarks, few-shot examples and the
request pipeline, plus the look-ahead that feeds the pipeline from pytest's (or xdist's) run queue.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .benchmarks.base import Benchmark, Sample
from .cache import Journal, fingerprint, load_replies
from .config import TaskConfig
from .items import SampleItem, Suite
from .judge import Judge, JudgeCache, judge_spec, settings_of
from .models import ModelError, ModelPool, can, candidate_spec, supports_images, supports_loglikelihood
from .params import ConfigError
from .pipeline import Pipeline
from .registry import create_benchmark
from .runlock import RunLock
from .schema import SuiteFacts
from .scoring.stage import Scorer


def choose_run_dir(config: TaskConfig) -> Path:
    if config.use_cache:
        path = Path(config.use_cache).expanduser()
        if not path.is_dir():
            raise ConfigError(f"use_cache: {config.use_cache!r} is not a folder of an earlier run")
        return path
    root = Path(config.work_dir).expanduser()
    if config.no_timestamp:
        return root
    stamp = time.strftime("%Y%m%d_%H%M%S")
    path, n = root / stamp, 1
    while path.exists():  # two runs started in the same second
        path, n = root / f"{stamp}_{n}", n + 1
    return path


class EvalRuntime:
    def __init__(self, config: TaskConfig, run_dir: Path, worker: str) -> None:
        self.config = config
        self.run_dir = run_dir
        self.worker = worker
        self.benchmarks: dict[str, Benchmark] = {}
        self.collection_errors: list[str] = []
        self.errors_from_workers = False
        self.suites_seen: set[str] = set()
        self.suites_left_out: dict[str, str] = {}  # suite -> why it was not collected (a judge-only suite, no judge)
        self._suite_places: dict[str, str] = {}
        self._fewshot: dict[tuple[str, str], list[Sample]] = {}
        self._pipeline: Pipeline | None = None
        self._positions: dict[str, int] | None = None
        self._cursor = 0
        self._interactor: Any = None
        self.worker_model_stats: dict[str, dict[str, Any]] = {}
        self.embed_engine: Any = None  # embedding/engine.py's EmbedEngine, once an embedding item ran here
        self.worker_suite_facts: dict[str, dict[str, Any]] = {}  # controller: suite facts from the workers
        self._model_prepared = False  # controller: each xdist worker's model figures
        self.lock: RunLock | None = None  # the controller's hold on run_dir
        self._page: str | None = None  # this run's report.html, for links in failure messages
        self._models: ModelPool | None = None
        # A remote worker's journal and earlier replies come from the controller (remote.py); None: the run folder's
        self.journal: Journal | None = None
        self.earlier_replies: dict[tuple[str, str], dict[str, Any]] | None = None

    # ------------------------------------------------------------ collection

    def benchmark_for(self, suite: Suite) -> Benchmark:
        if suite.name not in self.benchmarks:
            args = {**suite.dataset_args, **(self.config.dataset_args.get(suite.name)
                                             or self.config.dataset_args.get(suite.benchmark) or {})}
            benchmark = create_benchmark(suite.benchmark, args, seed=self.config.seed, hub=self.config.dataset_hub,
                                         cache_dir=self.config.dataset_dir,
                                         sandbox_isolation=self.config.sandbox_isolation or "auto")
            if benchmark.varies_generation and not can(self.config.eval_type or "service", "generation_variants"):
                warnings.warn(f"evalscope: {suite.name}: eval_type {self.config.eval_type} sends every request with the "
                              "run's generation_config; the benchmark's own settings per sample are not applied",
                              UserWarning, stacklevel=1)
            if benchmark.scores_loglikelihood and not supports_loglikelihood(self.config):
                benchmark.fall_back_to_generation(
                    f"eval_type {self.config.eval_type} models return text, not log-likelihoods")
                warnings.warn(f"evalscope: {suite.name}: {benchmark.model_adapter_note}", UserWarning, stacklevel=1)
            if benchmark.sends_images and not supports_images(self.config):
                raise ConfigError(f"{suite.name} sends images, and eval_type {self.config.eval_type} models take text only "
                                  "(transformers checkpoints here have no image input); serve the model behind an "
                                  "OpenAI-compatible API and pass api_url")
            self.benchmarks[suite.name] = benchmark
        return self.benchmarks[suite.name]

    def judge_missing(self, suite: Suite, benchmark: Benchmark) -> str | None:
        """Why a benchmark graded by a judge only cannot run here (no judge, or judge_strategy rule), or None.
        The plugin refuses the run when the suite was named in datasets, and leaves the suite out (with one
        warning) when it was only collected along with the others."""
        if benchmark.scoring_policy != "judge_only" or self.config.dry_run:
            return None
        if self.config.judge_strategy == "rule":
            return (f"{suite.name} is graded by a judge and has no rule; judge_strategy rule cannot score it "
                    "(use auto or llm)")
        if judge_spec(self.config) is None:
            return (f"{suite.name} is graded by a judge: give judge_model_args with model_id and api_url, e.g. "
                    "--evalscope-judge-model-args='{\"model_id\": \"qwen3\", \"api_url\": \"http://127.0.0.1:8001/v1\"}'")
        return None

    def check_suite(self, suite: Suite, benchmark: Benchmark, where: str) -> None:
        """One suite per name, and thresholds that name real subsets (raises ConfigError)."""
        seen = self._suite_places.setdefault(suite.name, where)
        if seen != where:
            raise ConfigError(f"two suites are named {suite.name!r} ({seen} and {where}); give one of them name=...")
        for name in suite.thresholds():
            subset = name.partition("/")[2]
            if subset and subset not in benchmark.subset_list:
                raise ConfigError(f"{where}: threshold {name}: no subset {subset!r}; subsets: {', '.join(benchmark.subset_list)}")

    def samples_for(self, suite: Suite, benchmark: Benchmark) -> Iterator[Sample]:
        limit = self.config.limit if self.config.limit is not None else suite.limit
        repeats = self.config.repeats if self.config.repeats != 1 or suite.repeats is None else suite.repeats
        for subset in benchmark.subset_list:
            samples = benchmark.load_samples(subset, limit, repeats)
            if samples:  # a template naming a field that does not exist fails here, before any request
                try:
                    benchmark.build_messages(samples[0], self.fewshot(suite.name, benchmark, subset))
                except (KeyError, IndexError, ValueError) as exc:
                    raise ConfigError(f"dataset_args for {suite.name}: a prompt template does not fit ({type(exc).__name__}: {exc}); "
                                      f"its fields are {', '.join(benchmark.prompt_fields(samples[0]))}") from None
            yield from samples

    def fewshot(self, suite: str, benchmark: Benchmark, subset: str) -> list[Sample]:
        if (suite, subset) not in self._fewshot:
            self._fewshot[(suite, subset)] = benchmark.fewshot_samples(subset)
        return self._fewshot[(suite, subset)]

    # ------------------------------------------------------------ requests

    @property
    def pipeline(self) -> Pipeline:
        if self._pipeline is None:
            cached = {} if not self.config.use_cache else (
                self.earlier_replies if self.earlier_replies is not None else load_replies(self.run_dir))
            journal = self.journal or Journal(self.run_dir, self.worker)
            self._pipeline = Pipeline(lambda: self.models.get("candidate"), self.config.eval_batch_size, journal, cached,
                                      lambda: self._scorer(journal, cached))
        return self._pipeline

    @property
    def models(self) -> ModelPool:
        """This process's models by role: the candidate, and the judge when the run may call one. Each is
        made on first use, on the pipeline's loop."""
        if self._models is None:
            specs = {"candidate": candidate_spec(self.config)}
            judge = judge_spec(self.config)
            if judge is not None:
                specs["judge"] = judge
            self._models = ModelPool(specs)
        return self._models

    def _scorer(self, journal: Journal, journaled: dict[tuple[str, str], dict[str, Any]]) -> Scorer:
        """The scoring stage of this process: the rule, and the judge role when the run has one."""
        spec = judge_spec(self.config)
        if spec is None:
            return Scorer(self.config.judge_strategy, None)
        cache = JudgeCache(self.config.judge_cache) if self.config.judge_cache else None
        judge = Judge(settings_of(self.config), lambda: self.models.get("judge"), spec.batch_size, journal, journaled, cache)
        return Scorer(self.config.judge_strategy, judge)

    def fingerprint(self, messages: list[dict[str, str]], continuations: list[str] | None = None,
                    settings: dict[str, Any] | None = None) -> str:
        c = self.config
        if continuations is not None:  # a log-likelihood request: decoding settings play no part
            return fingerprint(c.model, c.eval_type, {"continuations": continuations}, messages)
        return fingerprint(c.model, c.eval_type, c.generation_config if settings is None else settings, messages)

    def generation_for(self, benchmark: Benchmark, sample: Sample) -> dict[str, Any] | None:
        """The sample's generation_config when its benchmark sets its own (MT-Bench's temperature by
        category) and the backend can send it; None: the run's."""
        if not benchmark.varies_generation or not can(self.config.eval_type or "service", "generation_variants"):
            return None
        return benchmark.generation_config(sample, dict(self.config.generation_config))

    def import_client_early(self) -> None:
        """Start importing the openai client now, on a thread of its own. The import takes about a second
        of CPU; left to the first request, it stalls every request of the process behind it, while an
        xdist worker otherwise spends part of its start idle, waiting for the controller to compare
        collections and send it items."""
        if self.config.eval_type == "service" and "openai" not in sys.modules:
            threading.Thread(target=_import_quietly, args=("openai",), name="evalscope-import", daemon=True).start()

    def prepare_model(self, config: pytest.Config) -> None:
        """Load a model that loads (a checkpoint) before the first request, in view: pytest's capture is
        suspended so its one-line progress (``loading NAME (float32, cpu)... 12.3 s``) shows as it happens.
        A model that cannot load is left to the requests: each gets the same error, and the first stops the run."""
        if self._model_prepared:
            return
        self._model_prepared = True
        load = getattr(self.pipeline.model(), "load", None)
        if load is None:
            return
        capture = config.pluginmanager.getplugin("capturemanager")
        terminal = config.pluginmanager.getplugin("terminalreporter")
        with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
            if terminal is not None:
                terminal.ensure_newline()
            with contextlib.suppress(ModelError):
                load()

    def prefetch(self, item: SampleItem) -> None:
        """Submit `item` and the sample items queued after it, up to the pipeline's look-ahead."""
        if not self._model_prepared and not item.cached():
            self.prepare_model(item.config)
        item.submit()
        pipeline = self.pipeline
        budget = pipeline.room()
        if budget <= 0:
            return
        for upcoming in self._upcoming(item):
            if isinstance(upcoming, SampleItem) and not pipeline.submitted(upcoming.key):
                upcoming.submit()
                budget -= 1
                if budget <= 0:
                    break

    def _upcoming(self, item: pytest.Item) -> Iterator[pytest.Item]:
        items = item.session.items
        interactor = self._worker_interactor(item.config)
        if interactor is not None:
            # xdist worker: the indices this worker has been sent and not yet started, in order.
            with interactor.torun.lock() as queue:
                indices = [interactor.nextitem_index, *queue]
            yield from (items[i] for i in indices if isinstance(i, int))
            return
        if self._positions is None or len(self._positions) != len(items):
            self._positions = {it.nodeid: n for n, it in enumerate(items)}
            self._cursor = 0
        # Items run in order, so everything before the furthest submitted one is submitted already.
        start = max(self._positions.get(item.nodeid, len(items)) + 1, self._cursor)
        for position in range(start, len(items)):
            self._cursor = position
            yield items[position]

    def _worker_interactor(self, config: pytest.Config) -> Any:
        if not hasattr(config, "workerinput"):
            return None
        if self._interactor is None:
            for plugin in config.pluginmanager.get_plugins():
                if hasattr(plugin, "torun") and hasattr(plugin, "nextitem_index"):
                    self._interactor = plugin
                    break
        return self._interactor

    def model_stats(self) -> dict[str, Any] | None:
        """This process's model figures (a checkpoint's load time, tokens/s, peak memory; an embedding run's
        texts encoded or read from the store, and its models' requests, tokens, load time), if it ran one."""
        figures = self._pipeline.model_stats() if self._pipeline is not None else None
        if self.embed_engine is not None:
            figures = {**(figures or {}), **self.embed_engine.stats()}
        return figures

    def sample_link(self, config: pytest.Config, record: dict[str, Any]) -> str:
        """` (see <run>/report.html#s=suite/subset/index)`: where a failure message sends its reader, or ""
        when the run writes no page."""
        if self._page is None:
            from .reporting.html.plugin import page_path

            try:
                self._page = str(page_path(config, self.run_dir) or "")
            except ValueError:  # the page's options are not registered (the plugin is disabled)
                self._page = ""
        if not self._page:
            return ""
        from .reporting.html import permalink

        return f" (see {self._page}{permalink(record['suite'], record['subset'], record['index'])})"

    def suite_facts(self) -> dict[str, dict[str, Any]]:
        """What reports say of each suite's benchmark (names, subsets in order), from the benchmark class
        this process built; an xdist controller builds none and has its workers' instead (a benchmark
        registered in a user's suite file exists only where that file was imported)."""
        own = {name: SuiteFacts(type(b).pretty_name, type(b).description, list(type(b).subset_list)).to_dict()
               for name, b in self.benchmarks.items()}
        return {**self.worker_suite_facts, **own}

    def all_model_stats(self) -> dict[str, dict[str, Any]]:
        """Model figures by process: this one's ("main") and, on an xdist controller, each worker's."""
        own = self.model_stats()
        return {**({"main": own} if own else {}), **dict(sorted(self.worker_model_stats.items()))}

    def close(self) -> None:
        if self._pipeline is not None:
            self._pipeline.close()
        if self.lock is not None:
            self.lock.release()


def _import_quietly(module: str) -> None:
    with contextlib.suppress(Exception):  # a broken install shows itself, with its error, at the first request
        importlib.import_module(module)
