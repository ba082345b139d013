"""The Python API: `run_task(task_cfg)` runs the same pytest session as the plugin and the CLI, and
returns the reports (`{suite: report dict}`), as EvalScope's run_task does.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from .config import TaskConfig, load_config_file
from .params import ConfigError, did_you_mean
from .runtime import choose_run_dir


class EvalRunError(RuntimeError):
    """The evaluation session could not run (bad input, interruption, internal error)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def suites_dir() -> Path:
    """The built-in suite files: pytest_evalscope/suites in a wheel, benchmarks/ in a source checkout."""
    package = Path(__file__).resolve().parent
    installed = package / "suites"
    return installed if installed.is_dir() else package.parent / "benchmarks"


def suite_files(datasets: Sequence[str]) -> list[str]:
    available = {p.stem[len("eval_"):]: p for p in suites_dir().glob("eval_*.py")}
    if not datasets:
        raise ConfigError(f"datasets: name at least one benchmark; available: {', '.join(sorted(available))}")
    files = []
    for name in datasets:
        if name not in available:
            raise ConfigError(f"unknown benchmark {name!r}{did_you_mean(name, list(available))}; available: {', '.join(sorted(available))}")
        files.append(str(available[name]))
    return files


def session_args(files: list[str], extra: Sequence[str] = ()) -> list[str]:
    # Node ids are relative to the suites folder (eval_gsm8k.py::gsm8k[main-42]); pytest's cache (--lf)
    # stays in the current directory.
    cache = os.path.join(os.getcwd(), ".pytest_cache")
    # without the cache plugin pytest warns that cache_dir is an unknown ini key
    no_cache = any(a.replace(" ", "") in ("no:cacheprovider", "-pno:cacheprovider") for a in extra)
    return [*files, "-c", str(Path(__file__).with_name("session.ini")), "--rootdir", str(suites_dir()),
            *(() if no_cache else ("-o", f"cache_dir={cache}")),
            # this package is imported before pytest starts; its asserts need no rewriting
            "-W", "ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning", *extra]


def run_session(args: list[str]) -> int:
    """pytest.main, leaving no suite module behind in sys.modules (a later session may have its own
    eval_gsm8k.py, which pytest would refuse as an import file mismatch)."""
    before = set(sys.modules)
    try:
        return int(pytest.main(args))
    finally:
        gc.unfreeze()  # the plugin froze the session's objects after collection; let their cycles go now
        for name in set(sys.modules) - before:
            if getattr(sys.modules[name], "__file__", None) and Path(sys.modules[name].__file__).name.startswith("eval_"):
                del sys.modules[name]


@contextmanager
def _env(name: str, value: str | None) -> Iterator[None]:
    old = os.environ.get(name)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def _as_mapping(task_cfg: Any) -> dict[str, Any]:
    if isinstance(task_cfg, (str, os.PathLike)):
        return load_config_file(task_cfg)
    if isinstance(task_cfg, Mapping):
        return dict(task_cfg)
    if isinstance(task_cfg, TaskConfig):
        return task_cfg.to_dict(redact=False)
    if hasattr(task_cfg, "to_dict"):
        return dict(task_cfg.to_dict())
    raise ConfigError(f"task_cfg: expected a TaskConfig, a dict or a YAML/JSON path, got {type(task_cfg).__name__}")


def run_task(task_cfg: Any, pytest_args: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    values = _as_mapping(task_cfg)
    config = TaskConfig.from_layers([("task_cfg", values)])  # fails early, with the one-line message
    if config.use_cache is None:
        values.update(work_dir=str(choose_run_dir(config)), no_timestamp=True)
    run_dir = Path(values.get("use_cache") or values["work_dir"]).resolve()
    api_key = values.pop("api_key", None)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "task_config.json"
        path.write_text(json.dumps(values), encoding="utf-8")
        delegated = type(config.backend_plan).__name__ == "Delegation"  # the backend runs instead of suites
        files = [str(suites_dir())] if delegated else suite_files(config.datasets)
        args = session_args(files, ["--evalscope-config", str(path), *(pytest_args or [])])
        with _env("EVALSCOPE_API_KEY", api_key):
            code = run_session(args)
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        raise EvalRunError(f"the evaluation session ended with exit status {int(code)}", int(code))
    if delegated:  # the backend names its models: every report, keyed "<model>@<dataset>"
        found = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((run_dir / "reports").glob("*/*.json"))]
        return {r["name"]: r for r in found}
    reports = run_dir / "reports" / (config.model_id or "model")
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(reports.glob("*.json"))}
