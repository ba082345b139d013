"""Benchmark: the whole MT-Bench (80 questions, two turns each, both turns rated) against the loopback server.

    python scripts/bench_mt_bench.py [--repeat 3] [--latency-ms 200] [--batch 8] [--workers 0]

One test server answers the candidate (replies with planted ratings) and, in judge mode, the judge, each
request after --latency-ms. eval_batch_size and judge_worker_num are --batch. A sample is three steps in a
row (turn 1, turn 2, then its two ratings at once), and the pipeline keeps other samples' steps in flight
meanwhile, so the ideal wall time is about max(160 x latency / batch, 3 x latency) for the candidate's
requests, with the judge's overlapping them: 4 s at the defaults, plus pytest's start. Every run's
per-category ratings must equal the planted ones. Prints each run and the median.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_evalscope.benchmarks.mt_bench import read_fastchat
from pytest_evalscope.testing.judge_oracle import mt_bench_candidate
from pytest_evalscope.testing.server import ServerConfig, serve_in_subprocess

ROOT = Path(__file__).resolve().parents[1]


def expected_score(questions: list[dict], ratings: dict[int, tuple[int, int]]) -> float:
    return round(statistics.fmean((a + b) / 2 for a, b in (ratings[q["question_id"]] for q in questions)), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "mt_bench"))
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--workers", default="0", help="pytest-xdist processes (-n)")
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    questions = read_fastchat(Path(args.data)) or []
    replies, ratings = mt_bench_candidate(questions, seed=17)
    expected = expected_score(questions, ratings)
    walls = []
    config = ServerConfig(oracle=replies, judge=True, latency_ms=args.latency_ms, max_seconds=3600)
    with tempfile.TemporaryDirectory() as tmp, serve_in_subprocess(config) as server:
        (Path(tmp) / "eval_mt_bench.py").write_text("from pytest_evalscope import Suite\n\nmt_bench = Suite('mt_bench')\n")
        for n in range(args.repeat):
            work = Path(tmp) / f"out{n}"
            command = [args.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "eval_mt_bench.py", "-n", args.workers,
                       "--evalscope-model=oracle", f"--evalscope-api-url={server.url}",
                       "--evalscope-dataset-args=" + json.dumps({"mt_bench": {"local_path": args.data}}),
                       "--evalscope-judge-model-args=" + json.dumps({"model_id": "judge", "api_url": server.url}),
                       f"--evalscope-eval-batch-size={args.batch}", f"--evalscope-judge-worker-num={args.batch}",
                       f"--evalscope-work-dir={work}"]
            start = time.perf_counter()
            subprocess.run(command, cwd=tmp, capture_output=True, text=True, check=False)
            wall = time.perf_counter() - start
            report = json.loads(next(work.glob("*/reports/oracle/mt_bench.json")).read_text())
            if report["score"] != expected or report["num"] != len(questions):
                sys.exit(f"run {n}: score {report['score']} over {report['num']}; the planted ratings give {expected} over 80")
            walls.append(wall)
            print(f"run {n}: {wall:.2f} s, score {report['score']} (planted {expected}), "
                  f"{report['perf_metrics']['summary']['requests']} candidate requests, "
                  f"{report['judge_summary']['calls']} judge calls")
    ideal = max(2 * len(questions) * args.latency_ms / 1000 / args.batch, 3 * args.latency_ms / 1000)
    print(f"median {statistics.median(walls):.2f} s over {len(walls)} run(s); ideal {ideal:.2f} s plus pytest's start")


if __name__ == "__main__":
    main()
