"""The pytest plugin: `--evalscope-*` options and ini keys, suite collection, pipelined sample items,
and (on the controller only) the recorder that writes outputs, reports and gates.

Without a model (no --evalscope-model / api_url / mock) the plugin stays out of the way: suite files
(`eval_*.py`) are not collected and `Suite` objects yield nothing, so a project's own tests run as usual.
"""

from __future__ import annotations

import fnmatch
import gc
import os
import warnings
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from .config import TaskConfig, load_config_file, shown_urls
from .embedding.abilities import ability_missing
from .items import SampleItem, Suite
from .models import validate_model_config
from .params import BOOL_PARAMS, PARAMS, ConfigError, parse_thresholds
from .registry import get_benchmark_class
from .runlock import RunLock
from .runtime import EvalRuntime, choose_run_dir
from .schema import SampleRecord
from .selection import datasets_may_select, keyword_may_select
from .shards.part import ShardPart, check_resume

TASK_KEY = pytest.StashKey[TaskConfig]()
RUNTIME_KEY = pytest.StashKey[EvalRuntime]()


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("evalscope", "LLM evaluation (EvalScope TaskConfig settings)")
    group.addoption("--evalscope-config", dest="evalscope_config", default=None, metavar="FILE",
                    help="EvalScope TaskConfig as YAML or JSON; options given here override it")
    parser.addini("evalscope_config", "EvalScope TaskConfig file (YAML or JSON)")
    for param in PARAMS:
        if not param.cli:
            continue
        flag = "--evalscope-" + param.name.replace("_", "-")
        if param.name in BOOL_PARAMS:
            group.addoption(flag, dest=f"evalscope_{param.name}", action="store_const", const="true",
                            default=None, help=param.help)
        elif param.repeatable:
            group.addoption(flag, dest=f"evalscope_{param.name}", action="append", default=None, help=param.help)
        else:
            group.addoption(flag, dest=f"evalscope_{param.name}", default=None, help=param.help)
        parser.addini(f"evalscope_{param.name}", param.help)
    group.addoption("--evalscope-threshold", dest="evalscope_threshold", action="append", default=None,
                    metavar="NAME=VALUE", help="score gate, e.g. gsm8k=0.8 or gsm8k/main=0.8 (repeatable)")
    parser.addini("evalscope_thresholds", "score gates NAME=VALUE, one per line", type="linelist")


def _layers(config: pytest.Config) -> list[tuple[str, dict[str, Any]]]:
    ini = {p.name: config.getini(f"evalscope_{p.name}") for p in PARAMS if p.cli}
    ini = {k: v for k, v in ini.items() if v not in ("", None)}
    if config.getini("evalscope_thresholds"):
        ini["thresholds"] = config.getini("evalscope_thresholds")
    layers: list[tuple[str, dict[str, Any]]] = [("ini", ini)]
    path = config.getoption("evalscope_config") or config.getini("evalscope_config")
    if path:
        layers.append((f"config file {path}", load_config_file(path)))
    options = {p.name: config.getoption(f"evalscope_{p.name}") for p in PARAMS if p.cli}
    options = {k: v for k, v in options.items() if v is not None}
    if config.getoption("evalscope_threshold"):
        earlier = next((layer["thresholds"] for _, layer in reversed(layers) if "thresholds" in layer), {})
        options["thresholds"] = {**parse_thresholds(earlier, "thresholds"),
                                 **parse_thresholds(config.getoption("evalscope_threshold"), "--evalscope-threshold")}
    layers.append(("options", options))
    return layers


def _validate(task: TaskConfig) -> None:
    for name in task.thresholds:
        bench, _, subset = name.partition("/")
        try:
            cls = get_benchmark_class(bench)
        except ConfigError:
            continue  # may be a user suite's own name; checked against results at the end
        if subset and subset not in cls.subset_list and not getattr(cls, "dynamic_subsets", False):  # general_arena's come from its inputs
            raise ConfigError(f"threshold {name}: {bench} has no subset {subset!r}; subsets: {', '.join(cls.subset_list)}")
    validate_model_config(task)


def pytest_configure(config: pytest.Config) -> None:
    try:
        _configure(config)
    except pytest.UsageError as exc:
        if not hasattr(config, "workeroutput"):
            raise
        # A worker that stops here is restarted by xdist again and again (a remote one waits on its gateway);
        # said at collection instead, the controller prints the line once and stops (xdist_support.py).
        from .xdist_support import DeferredUsageError

        config.pluginmanager.register(DeferredUsageError(str(exc)), "evalscope-deferred-error")


def _configure(config: pytest.Config) -> None:
    try:
        task = TaskConfig.from_layers(_layers(config))
        if task.evaluating:
            _validate(task)
        if _delegation(task) is not None and not hasattr(config, "workerinput"):
            from .backends_config.delegate import check_installed

            check_installed(task.backend_plan)  # one line naming what to install, before the run folder exists
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[TASK_KEY] = task
    if not task.evaluating:
        return
    compare = None
    if task.baseline:  # checked before the run folder exists: a run that cannot be compared stops here
        from .reporting.compare import ComparePlugin

        try:
            compare = ComparePlugin(config, task)
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        runtime = EvalRuntime(task, Path(workerinput["evalscope_run_dir"]), workerinput["workerid"])
    else:
        try:
            runtime = EvalRuntime(task, choose_run_dir(task).resolve(), "main")
            check_resume(task, runtime.run_dir)  # a shard's folder continues as that part only
            if not config.option.collectonly:  # one session per outputs folder (runlock.py)
                runtime.lock = RunLock(runtime.run_dir)
                runtime.lock.acquire()
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
        from .reporting import arena
        from .reporting.recorder import Recorder

        config.pluginmanager.register(Recorder(config, runtime), "evalscope-recorder")
        config.pluginmanager.register(arena, "evalscope-arena")
        from .embedding import aggregate

        config.pluginmanager.register(aggregate, "evalscope-embedding")
    config.stash[RUNTIME_KEY] = runtime
    if _delegation(task) is not None:
        from .backends_config.plugin import DelegationPlugin

        config.pluginmanager.register(DelegationPlugin(task.backend_plan, runtime.run_dir), "evalscope-backend")
    from .reporting.compare import SettingsWriter

    config.pluginmanager.register(SettingsWriter(runtime), "evalscope-settings")
    if compare is not None:
        compare.runtime = runtime
        config.pluginmanager.register(compare, "evalscope-compare")
    # xdist's own test (its plugin turns -n N into N popen gateways before this runs), so --tx counts too
    xdist_controller = workerinput is None and bool(getattr(config.option, "tx", None)) \
        and getattr(config.option, "dist", "no") != "no"
    if not xdist_controller and not config.option.collectonly:  # the processes that will send requests
        runtime.import_client_early()
    if config.option.tbstyle == "auto":
        # A line or two per wrong answer instead of a section each; pytest's full failure section is
        # also quadratic in the number of failures.
        config.option.tbstyle = "line"
    if config.option.reportchars == "fE":
        # pytest's default; the line per wrong answer above already names them, so summarize errors only
        config.option.reportchars = "E"
    if config.pluginmanager.hasplugin("xdist"):
        from .xdist_support import XdistSupport

        config.pluginmanager.register(XdistSupport(runtime), "evalscope-xdist")
        from . import remote

        remote.install(config, runtime)
    if task.shard:  # registered after the recorder: its tryfirst sessionfinish runs before the recorder's
        config.pluginmanager.register(ShardPart(config, task, runtime.run_dir), "evalscope-shard")


def pytest_unconfigure(config: pytest.Config) -> None:
    runtime = config.stash.get(RUNTIME_KEY, None)
    if runtime is not None:
        runtime.close()


def _delegation(task: TaskConfig) -> Any:
    from .backends_config import Delegation

    return task.backend_plan if isinstance(task.backend_plan, Delegation) else None


def _runtime(config: pytest.Config) -> EvalRuntime | None:
    return config.stash.get(RUNTIME_KEY, None)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    if file_path.suffix != ".py" or not file_path.name.startswith("eval_") or _runtime(parent.config) is None:
        return None
    patterns = parent.config.getini("python_files")
    if parent.session.isinitpath(file_path) or any(fnmatch.fnmatch(file_path.name, pattern) for pattern in patterns):
        return None  # pytest's python plugin collects it already
    return pytest.Module.from_parent(parent, path=file_path)


def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> list[SampleItem] | None:
    if not isinstance(obj, Suite):
        return None
    runtime = _runtime(collector.config)
    if runtime is None or _delegation(runtime.config) is not None:  # a delegated backend runs instead of suites
        return []
    runtime.suites_seen.update({obj.name, obj.benchmark})
    if not datasets_may_select(runtime.config.datasets, obj):
        return []
    named = obj.name in runtime.config.datasets or obj.benchmark in runtime.config.datasets
    try:
        hint = get_benchmark_class(obj.benchmark).needs_setup
        if hint and not named and not obj.dataset_args and not (runtime.config.dataset_args.get(obj.name)
                                                                 or runtime.config.dataset_args.get(obj.benchmark)):
            runtime.suites_left_out[obj.name] = hint  # a suite that cannot run unconfigured: left out, said once
            return []
        benchmark = runtime.benchmark_for(obj)
        runtime.check_suite(obj, benchmark, collector.nodeid)
        missing = runtime.judge_missing(obj, benchmark) or ability_missing(runtime.config.eval_type, benchmark)
        if not keyword_may_select(collector.config, collector, obj, benchmark.subset_list) and (
                missing is not None or not benchmark.sample_keyword):  # sample_keyword: -k may name an id in its data
            return []  # -k cannot select any of its samples: its data is not even read
        if missing is not None:
            if named:
                raise ConfigError(missing)
            runtime.suites_left_out[obj.name] = missing  # collected along with the others: left out, said once
            return []
        samples = list(runtime.samples_for(obj, benchmark))
    except ConfigError as exc:
        runtime.collection_errors.append(str(exc))
        return []
    item_class = getattr(benchmark, "item_class", SampleItem)  # embedding tasks score without the chat pipeline
    return [item_class.from_parent(collector, name=f"{obj.name}[{sample.key}]", suite=obj, benchmark=benchmark,
                                   sample=sample, runtime=runtime) for sample in samples]


def left_out_reasons(left_out: dict[str, str]) -> str:
    """What each left-out suite needs, suites with the same need together: ``gsm8k, mmlu needs a chat model;
    eval_type encoder embeds or reranks texts | ragas scores a RAGAS input file: ...``."""
    groups: dict[str, list[str]] = {}
    for name, reason in sorted(left_out.items()):
        rest = reason[len(name):] if reason.startswith(f"{name} ") else f": {reason}"
        groups.setdefault(rest, []).append(name)
    return " | ".join(f"{', '.join(names)}{rest}" for rest, names in groups.items())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    runtime = _runtime(config)
    if runtime is None:
        return
    for name in runtime.config.datasets:
        if name not in runtime.suites_seen:
            try:
                get_benchmark_class(name)
            except ConfigError as exc:
                runtime.collection_errors.append(str(exc))
            else:
                runtime.collection_errors.append(f"datasets: no collected suite runs {name!r}; add a suite file (eval_{name}.py)")
    if runtime.suites_left_out and not hasattr(config, "workerinput"):
        warnings.warn(f"evalscope: not collected: {left_out_reasons(runtime.suites_left_out)}", UserWarning, stacklevel=1)
    if runtime.collection_errors:
        if hasattr(config, "workeroutput"):  # under xdist only the controller can stop the session
            config.workeroutput["evalscope_usage_error"] = runtime.collection_errors[0]
        raise pytest.UsageError(runtime.collection_errors[0])


def pytest_collection_finish(session: pytest.Session) -> None:
    if _runtime(session.config) is not None and session.items and not session.config.option.collectonly:
        # Everything collection built (items, samples, prompts, datasets) lives to the end of the session:
        # move it out of the collector's sight, so the full collections during the run and at exit
        # (pytest's and the interpreter's) do not walk it again and again. A process
        # that runs more sessions calls gc.unfreeze() after each, as run_task does, to reclaim its cycles.
        gc.freeze()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if isinstance(item, SampleItem):
        item.runtime.prefetch(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if isinstance(item, SampleItem):
        report.evalscope_sample = True  # type: ignore[attr-defined]
        record = item.record
        if call.when == "setup" and call.excinfo is not None and record is not None and not record.get("error"):
            # setup failed before the reply or score could say why (a bug): the record still names it
            record["error"] = {"kind": "internal", "attempts": 1,
                               "message": f"{call.excinfo.typename}: {str(call.excinfo.value)[:300]}"}
        if call.when == "teardown" and record is not None:
            # One JSON string, not a nested dict: xdist's channel serializes object by object in Python,
            # and the record (prompt, reply, scores) was most of its work per sample on both ends.
            # Serial runs read the same string, so -n 0 and -n N see identical records.
            report.evalscope_record = SampleRecord.from_item(record).to_json()  # type: ignore[attr-defined]
    return report


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    runtime = _runtime(config)
    if runtime is None or hasattr(config, "workerinput"):
        return None
    task = runtime.config
    where = shown_urls(task.api_url) or task.eval_type
    return [f"evalscope: model {task.model} ({where}), eval_batch_size {task.eval_batch_size}, outputs {os.path.relpath(runtime.run_dir)}"]
