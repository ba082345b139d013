"""A delegated backend run: EvalScope's own backend manager, in a subprocess with the backend's interpreter.

The interpreter is ``$EVALSCOPE_BACKEND_PYTHON`` (a separate virtual environment holding ``evalscope`` and the
backend, which often pin libraries this project does not), else this one. Before the session starts,
:func:`check_installed` asks that interpreter whether it can import the backend's modules; if not, the run
stops with one line saying what to install. :func:`run` writes the task config to the run folder, runs
``evalscope.run.run_task`` on it there (its log in ``logs/backend.log``), and converts what it wrote
(convert.py). In the pytest session this is one item, ``<backend>[<tool>]`` (plugin.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..params import ConfigError
from . import convert
from .route import Delegation

PYTHON_ENV = "EVALSCOPE_BACKEND_PYTHON"
RUNNER = "import json, sys\nfrom evalscope.run import run_task\nrun_task(json.load(open(sys.argv[1], encoding='utf-8')))\n"
_PROBE = ("import importlib.util, sys\n"
          "print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))\n")


class BackendError(RuntimeError):
    """The delegated run failed or left no results; the message says where its log is."""


def interpreter() -> str:
    return os.environ.get(PYTHON_ENV) or sys.executable


def missing_modules(python: str, modules: tuple[str, ...]) -> list[str]:
    try:
        done = subprocess.run([python, "-c", _PROBE, *modules], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"{PYTHON_ENV}: cannot run {python!r} ({exc}); point it at a Python interpreter") from None
    if done.returncode != 0:
        raise ConfigError(f"{PYTHON_ENV}: {python!r} failed to start ({done.stderr.strip().splitlines()[-1:]})")
    return done.stdout.split()


def check_installed(delegation: Delegation) -> None:
    python = interpreter()
    missing = missing_modules(python, delegation.modules)
    if missing:
        where = delegation.backend + (f" ({delegation.tool})" if delegation.tool else "")
        raise ConfigError(f"eval_backend {where} is delegated ({delegation.reason}), but {python} cannot import "
                          f"{', '.join(missing)}: {delegation.install} there, or set {PYTHON_ENV} to an interpreter "
                          "that has it")


def task_config(delegation: Delegation, out: Path) -> dict[str, Any]:
    """EvalScope's task config for the backend, its outputs placed in `out` (an absolute folder)."""
    config = json.loads(json.dumps(delegation.config))  # a deep copy that is JSON, as the file will be
    if delegation.backend == "OpenCompass":
        config.setdefault("work_dir", str(out / "opencompass"))
    return {"eval_backend": delegation.backend, "eval_config": config, "work_dir": str(out), "no_timestamp": True}


def run(delegation: Delegation, run_dir: Path) -> list[dict[str, Any]]:
    out = (run_dir / "backend").resolve()
    out.mkdir(parents=True, exist_ok=True)
    cfg = task_config(delegation, out)
    from ..config import redact_tree

    # the outputs keep the config without its keys; the backend reads the full one from a private temporary file
    (out / "task_config.json").write_text(json.dumps(redact_tree(cfg), ensure_ascii=False, indent=2), encoding="utf-8")
    log = run_dir / "logs" / "backend.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as private, log.open("a", encoding="utf-8") as handle:
        full = Path(private) / "task_config.json"
        full.write_text(json.dumps(cfg, ensure_ascii=False), encoding="utf-8")
        # the user's working directory, so relative paths in eval_config resolve as they would for EvalScope
        code = subprocess.run([interpreter(), "-c", RUNNER, str(full)], stdout=handle,
                              stderr=subprocess.STDOUT, check=False).returncode
    if code != 0:
        raise BackendError(f"{delegation.backend} exited with status {code}; its output is in {log}")
    delegation_out = Delegation(delegation.backend, delegation.tool, cfg["eval_config"], delegation.modules,
                                delegation.install, delegation.reason)
    reports = convert.collect(delegation_out, out)
    if not reports:
        raise BackendError(f"{delegation.backend} finished but left no results that can be read in {out}; see {log}")
    return reports
