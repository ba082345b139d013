"""The Python API: ``run_perf(args) -> results dict`` (EvalScope's ``evalscope.perf.main.run_perf_benchmark``).

::

    from pytest_evalscope.perf import run_perf
    result = run_perf({"url": "http://127.0.0.1:8000/v1/chat/completions", "model": "m",
                       "parallel": [1, 16], "number": [100, 400], "slo": ["p99 ttft <= 500ms"]})
    result["passed"], result["points"][0]["metrics"]["ttft"]["p99"]

Bad settings raise :class:`~pytest_evalscope.params.ConfigError` before any request is sent.
Transport and payload failures never raise: they are counted by kind in each point's summary, and
``result["error"]`` holds one line when a whole run failed (unreachable URL, 401, ...).
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .apis import encode_body, get_api
from .args import PerfArgs
from .datasets import load_prompts, load_tokenizer
from .fleet import make_client
from .gates import evaluate
from .metrics import definitions
from .outputs import SCHEMA, console_report, run_root, write_json, write_point, write_text
from .runner import Point, PointOutcome, PointRunner, Workload

try:
    import orjson

    def _dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)
except ImportError:  # pragma: no cover
    import json

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, ensure_ascii=False).encode()


def prepare(args: PerfArgs) -> Workload:
    """Load prompts and build every request's bytes before the clock starts."""
    tokenizer = load_tokenizer(args.tokenizer_path)
    prompts, hints = load_prompts(args, tokenizer)
    api = get_api(args.api)
    headers = {**api.headers(args), **args.headers}
    client = make_client(args)
    payloads = [client.request_bytes(_dumps(encode_body(api, p, args)), headers) for p in prompts]
    return Workload(payloads, hints, api, tokenizer)


def _as_args(args: PerfArgs | Mapping[str, Any] | None, overrides: Mapping[str, Any]) -> PerfArgs:
    if isinstance(args, PerfArgs):
        if not overrides:
            return args
        args = {**args.public(), "api_key": args.api_key, "headers": args.headers, "slo": args.slo}
    return PerfArgs.from_mapping({**dict(args or {}), **overrides})


def run_perf(args: PerfArgs | Mapping[str, Any] | None = None, echo: bool = True, **overrides: Any) -> dict[str, Any]:
    """Run every sweep point, write the outputs tree, evaluate the SLO gates; return the results."""
    perf_args = _as_args(args, overrides)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run_perf_async(perf_args, echo))
    box: list[Any] = []  # called from inside an event loop (a notebook, an async test): use a thread
    thread = threading.Thread(target=lambda: box.append(asyncio.run(run_perf_async(perf_args, echo))))
    thread.start()
    thread.join()
    return box[0]


async def run_perf_async(args: PerfArgs, echo: bool = True) -> dict[str, Any]:
    workload = prepare(args)
    root = run_root(args)
    write_json(root / "benchmark_args.json", args.public())
    deadline = time.perf_counter() + args.total_timeout
    outcomes: list[PointOutcome] = []
    points = [Point(i, p, n, r, args.open_loop) for i, (p, n, r) in enumerate(args.points())]
    progress = ProgressFile(root / "progress.json", len(points))
    for point in points:
        if time.perf_counter() >= deadline:
            break
        if outcomes and args.sleep_interval:
            await asyncio.sleep(min(args.sleep_interval, max(0.0, deadline - time.perf_counter())))
        outcome = await PointRunner(args, point, workload, deadline, progress.sink(point)).run()
        folder = root / point.label
        outcome.summary = {
            "schema": SCHEMA, "point": {"label": point.label, "parallel": point.parallel, "number": point.number,
                                        "rate": point.rate, "open_loop": point.open_loop},
            **outcome.summary, "aborted": outcome.aborted, "deadline_hit": outcome.deadline_hit,
            "output_dir": str(folder), "definitions": definitions(),
        }
        write_point(folder, outcome.summary, outcome.records, outcome.origin)
        outcomes.append(outcome)
        progress.points_done = len(outcomes)
    result = finish(args, root, outcomes, echo)
    progress.write({"state": "failed" if result["error"] else "finished"})
    return result


class ProgressFile:
    """`progress.json` in the run folder, as an evaluation keeps one: which sweep point runs, and its
    requests done, ok and failed (rewritten at most twice a second; the service's job status reads it)."""

    def __init__(self, path: Path, points: int) -> None:
        self.path, self.points, self.points_done = path, points, 0
        self.current: dict[str, Any] = {}  # the latest point's figures, kept in the final state
        self.write({"state": "running"})

    def write(self, fields: dict[str, Any]) -> None:
        write_json(self.path, {"state": "running", "points": self.points, "points_done": self.points_done,
                               **self.current, **fields, "updated": time.time()})

    def sink(self, point: Point) -> Callable[[dict[str, Any]], None]:
        def update(snapshot: dict[str, Any]) -> None:
            self.current = {"point": point.label, **snapshot}
            self.write({})

        return update


def _run_error(summaries: list[dict[str, Any]]) -> str | None:
    if not summaries:
        return "no run finished before the global deadline (total_timeout)"
    if any(s["scalars"]["succeeded"] for s in summaries):
        return None
    failures: dict[str, int] = {}
    for s in summaries:
        for kind, count in s["failures"].items():
            failures[kind] = failures.get(kind, 0) + count
    total = sum(s["scalars"]["total"] for s in summaries)
    if not failures:
        return f"no request completed ({total} sent)"
    kind = max(failures, key=lambda k: failures[k])
    example = next(s["failure_examples"][kind] for s in summaries if kind in s["failure_examples"])
    kinds = ", ".join(f"{k} x{v}" for k, v in sorted(failures.items()))
    return f"all {total} requests failed ({kinds}); e.g. {kind}: {example}"


def finish(args: PerfArgs, root: Path, outcomes: list[PointOutcome], echo: bool) -> dict[str, Any]:
    summaries = [o.summary for o in outcomes]
    verdicts = evaluate(args.slo, summaries)
    error = _run_error(summaries)
    result: dict[str, Any] = {
        "schema": SCHEMA, "output_dir": str(root), "args": args.public(), "points": summaries,
        "gates": verdicts, "error": error,
        "passed": error is None and all(v["passed"] for v in verdicts),
        "client_bound": any(s["telemetry"]["client_bound"] for s in summaries),
    }
    notice = None
    if args.plots:
        from .plots import write_report

        notice = write_report(root, result, outcomes)
    result["plots_notice"] = notice
    write_json(root / "sweep_summary.json", {**result, "definitions": definitions()})
    report = console_report(result)
    write_text(root / "performance_summary.txt", report + "\n")
    if echo:
        print(report)
        if notice:
            print(notice)
        if error:
            print(f"ERROR: {error}", file=sys.stderr)
    return result
