"""Benchmark: the whole SimpleQA (4,326 samples) judged by a model, against the loopback test server.

    python scripts/bench_judge.py [--repeat 3] [--latency-ms 200] [--python .venv/bin/python]

The candidate and the judge are two test servers (each in its own process), both answering after
--latency-ms. One pytest process, eval_batch_size 32 and judge_worker_num 32. Scoring is a stage of
the request pipeline, so judging overlaps generation: the ideal wall time is about
4326 x 0.2 s / 32 = 27 s (the judge's requests run beside the candidate's), and a harness that
judged after generating would take twice that. Every run's is_correct must equal the oracle's.
Prints each run and the median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from pytest_evalscope.testing.judge_oracle import candidate_oracle, read_simpleqa
from pytest_evalscope.testing.server import ServerConfig, serve_in_subprocess

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "simpleqa"))
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    rows = read_simpleqa(Path(args.data) / "simple_qa_test_set.csv")
    oracle, verdicts = candidate_oracle([r["problem"] for r in rows], [r["answer"] for r in rows])
    expected = round(Counter(verdicts)["A"] / len(rows), 4)
    walls = []
    with tempfile.TemporaryDirectory() as tmp, \
            serve_in_subprocess(ServerConfig(oracle=oracle, latency_ms=args.latency_ms, max_seconds=3600)) as cand, \
            serve_in_subprocess(ServerConfig(judge=True, latency_ms=args.latency_ms, max_seconds=3600)) as judge:
        (Path(tmp) / "eval_simple_qa.py").write_text("from pytest_evalscope import Suite\n\nsimple_qa = Suite('simple_qa')\n")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        for n in range(args.repeat):
            work = Path(tmp) / f"out{n}"
            command = [args.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "eval_simple_qa.py",
                       "--evalscope-model=oracle", f"--evalscope-api-url={cand.url}",
                       "--evalscope-dataset-args=" + json.dumps({"simple_qa": {"local_path": args.data}}),
                       "--evalscope-judge-model-args=" + json.dumps({"model_id": "judge", "api_url": judge.url}),
                       f"--evalscope-eval-batch-size={args.batch}", f"--evalscope-judge-worker-num={args.batch}",
                       f"--evalscope-work-dir={work}"]
            start = time.perf_counter()
            done = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True, check=False)
            wall = time.perf_counter() - start
            report = json.loads(next(work.glob("*/reports/oracle/simple_qa.json")).read_text())
            if report["score"] != expected or report["num"] != len(rows):
                sys.exit(f"run {n}: score {report['score']} over {report['num']}, expected {expected} over {len(rows)}\n"
                         + done.stdout[-2000:])
            walls.append(wall)
            print(f"run {n}: {wall:.2f} s wall, is_correct {report['score']}, judge calls "
                  f"{report['judge_summary']['calls']}", flush=True)
    ideal = len(rows) * args.latency_ms / 1000 / args.batch
    print(f"SimpleQA {len(rows)} samples, candidate and judge at {args.latency_ms:g} ms, batch {args.batch}: "
          f"median {statistics.median(walls):.2f} s (ideal {ideal:.1f} s)")


if __name__ == "__main__":
    main()
