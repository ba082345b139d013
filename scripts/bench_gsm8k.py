"""Benchmark: the whole GSM8K test set (1319 samples) against the loopback test server.

    python scripts/bench_gsm8k.py [--repeat 3] [--data ../shared/datasets/gsm8k]

Measures, as the issue asks:
  - total wall time of `pytest ... -k gsm8k` at 200 ms server latency with eval_batch_size 32 in one
    process, and with `-n 2` and eval_batch_size 16 (ideal: 1319 x 0.2 s / 32 = 8.2 s; target 13 s);
  - at 0 ms latency: start-up time (process start to the end of collection, `--collect-only`) and the
    harness CPU per sample (user + system time of pytest and its workers, divided by 1319).
  - for comparison, the 0 ms run with the lean HTTP transport turned off (PYTEST_EVALSCOPE_LEAN_HTTP=0:
    httpx2's default connection pool under the openai client).
Each figure is the median of --repeat runs; every run's score must equal the oracle's known accuracy.
--python picks the interpreter that runs pytest: measure with a plain `pip install .` environment,
as a user has it; the dev extras add pytest plugins (hypothesis, schemathesis, anyio) that every
pytest process, xdist's workers included, imports at start.
The server runs in its own process. PYTHONDONTWRITEBYTECODE is cleared for the measured commands,
as on a normal machine (with it set, every run recompiles openai and re-rewrites pytest plugins).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_evalscope.testing.gsm8k_oracle import build_oracle, read_records
from pytest_evalscope.testing.server import ServerConfig, serve_in_subprocess

ROOT = Path(__file__).resolve().parents[1]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_pytest(python: str, url: str, data: Path, work: Path, *extra: str, env: dict[str, str] | None = None
               ) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of pytest and its workers, last output line)"""
    args = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--evalscope-model=oracle",
            f"--evalscope-api-url={url}", "-k", "gsm8k", f"--evalscope-work-dir={work}",
            "--evalscope-dataset-args=" + json.dumps({"gsm8k": {"local_path": str(data)}}), *extra]
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, **(env or {})}
    cpu, start = children_cpu(), time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return wall, children_cpu() - cpu, lines[-1] if lines else done.stderr[-300:]


def check_score(work: Path, expected: float) -> None:
    report = json.loads(sorted(work.glob("*/reports/oracle/gsm8k.json"))[-1].read_text())
    if report["score"] != round(expected, 4) or report["num"] != 1319:
        raise SystemExit(f"wrong result: score {report['score']} over {report['num']}, expected {expected:.4f} over 1319")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets" / "gsm8k")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--python", default=sys.executable, help="interpreter of the environment to measure")
    args = parser.parse_args()
    oracle, verdicts = build_oracle(read_records(args.data / "test.jsonl"))
    expected = sum(verdicts.values()) / len(verdicts)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for latency, label, extra, env in [
            (200, "200 ms, eval_batch_size 32, one process", ["--evalscope-eval-batch-size=32", "-n", "0"], {}),
            (200, "200 ms, eval_batch_size 16, -n 2", ["--evalscope-eval-batch-size=16", "-n", "2"], {}),
            (0, "0 ms, eval_batch_size 32, one process", ["--evalscope-eval-batch-size=32", "-n", "0"], {}),
            (0, "0 ms, one process, lean HTTP transport off", ["--evalscope-eval-batch-size=32", "-n", "0"],
             {"PYTEST_EVALSCOPE_LEAN_HTTP": "0"}),
        ]:
            walls, cpus = [], []
            with serve_in_subprocess(ServerConfig(oracle=oracle, latency_ms=latency, max_seconds=900)) as server:
                for n in range(args.repeat):
                    work = Path(tmp) / f"{latency}-{len(rows)}-{n}"
                    wall, cpu, last = run_pytest(args.python, server.url, args.data, work, *extra, env=env)
                    check_score(work, expected)
                    walls.append(wall)
                    cpus.append(cpu)
                    print(f"  {label}: {wall:.2f} s wall, {cpu:.2f} s CPU  ({last})", flush=True)
            rows.append((label, statistics.median(walls), statistics.median(cpus)))
        startups = []
        with serve_in_subprocess(ServerConfig(oracle=oracle, max_seconds=300)) as server:
            for n in range(args.repeat):
                wall, _, _ = run_pytest(args.python, server.url, args.data, Path(tmp) / f"collect-{n}", "--collect-only")
                startups.append(wall)
    print(f"\npytest run by {args.python}")
    print(f"GSM8K test set, 1319 samples, oracle accuracy {expected:.4f} (every run checked); median of {args.repeat}")
    print("| configuration | wall (s) | CPU of pytest + workers (s) |\n|---|---|---|")
    for label, wall, cpu in rows:
        print(f"| {label} | {wall:.2f} | {cpu:.2f} |")
    print(f"\nideal at 200 ms and 32 in flight: {1319 * 0.2 / 32:.2f} s; target: 13 s")
    print(f"start-up (pytest start to collected, --collect-only): {statistics.median(startups):.2f} s")
    print(f"harness CPU per sample at 0 ms latency: {1000 * rows[2][2] / 1319:.2f} ms "
          f"(the whole pytest process, openai client included)")


if __name__ == "__main__":
    main()
