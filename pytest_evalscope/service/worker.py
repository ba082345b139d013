"""The job process: ``python -m pytest_evalscope.service.worker {eval|perf} RESULT.json``.

It reads the checked config as JSON on stdin (never from a file: model_args may carry headers), the
API key from ``$EVALSCOPE_API_KEY`` (set by the service only for this process), runs the same engine
as the command line (``run_task``: a pytest session; ``run_perf``), and writes RESULT.json::

    {"status": "success", "result": ..., "output_dir": ...}            exit 0
    {"status": "error", "error": "<one line>", "traceback": "...", "exit_code": N}   exit N (>0)

SIGINT (the service's cancel) reaches pytest as Ctrl-C: the session stops, keeps what finished and
writes progress.json with state "interrupted".
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

INTERRUPTED = 130


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, default=str), encoding="utf-8")
    os.replace(tmp, path)


def run_eval(config: dict[str, Any]) -> dict[str, Any]:
    from ..api import EvalRunError, run_task

    run_dir = config.get("use_cache") or config["work_dir"]
    # schemathesis (a dev dependency) registers a pytest plugin that an evaluation never needs
    try:
        reports = run_task(config, pytest_args=["-p", "no:schemathesis"])
    except EvalRunError as exc:
        reason = _over_budget(run_dir)
        if reason:  # the session stopped itself at the budget: say so rather than "exit status 2"
            raise EvalRunError(reason, exc.exit_code) from None
        raise
    data = {"status": "success", "result": reports, "output_dir": run_dir}
    reason = _over_budget(run_dir)
    if reason:  # the scores stand on too few samples: the job did not do its work
        data.update(status="error", error=reason)
    return data


def _over_budget(run_dir: str) -> str | None:
    """The run's own verdict on its errors, from the outcome its recorder writes into progress.json."""
    try:
        outcome = json.loads((Path(run_dir) / "progress.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not outcome.get("errors_over_budget"):
        return None
    return (f"{outcome.get('errors')} of {outcome.get('done')} samples ended in an error, over the error budget "
            "(max_errors, ignore_errors); see the log for each")


def run_perf_job(config: dict[str, Any]) -> dict[str, Any]:
    from ..perf import run_perf

    key = os.environ.pop("EVALSCOPE_API_KEY", None)
    result = run_perf({**config, **({"api_key": key} if key and not config.get("api_key") else {})})
    return {"status": "success" if not result.get("error") else "error", "result": result,
            "output_dir": result.get("output_dir"), **({"error": result["error"]} if result.get("error") else {})}


def _session_error(log: Path) -> str | None:
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return next((line[len("ERROR: "):].strip() for line in reversed(lines) if line.startswith("ERROR: ")), None)


def main(argv: list[str] | None = None) -> int:
    # A service started in the background (`nohup ... &`, some init systems) hands its children an
    # ignored SIGINT, and Python keeps it ignored: cancel would then never reach pytest.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    kind, result_path = (argv if argv is not None else sys.argv[1:])[:2]
    out = Path(result_path)
    try:
        config = json.loads(sys.stdin.read())
        data = run_eval(config) if kind == "eval" else run_perf_job(config)
        code = 0 if data["status"] == "success" else 1
    except KeyboardInterrupt:
        data, code = {"status": "error", "error": "interrupted"}, INTERRUPTED
    except BaseException as exc:  # the job's one line, whatever went wrong
        from ..api import EvalRunError

        code = exc.exit_code if isinstance(exc, EvalRunError) else 1
        if isinstance(exc, SystemExit):
            code = exc.code if isinstance(exc.code, int) else 1
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, EvalRunError) and first.startswith("the evaluation session ended"):
            first = _session_error(out.with_name("job.log")) or first  # the session said why on its ERROR: line
        else:
            traceback.print_exc()
        data = {"status": "error", "error": first, "traceback": traceback.format_exc()}
    data["exit_code"] = code
    _write(out, data)
    return code


if __name__ == "__main__":
    sys.exit(main())
