"""Benchmark: the whole MMLU-Pro test set (12032 samples, 14 categories, 5-shot) with pytest-xdist.

    python scripts/bench_mmlu_pro.py [--data ../shared/datasets/mmlu_pro] [--workers 2]

Measures, like scripts/bench_mmlu.py:
  - collection of all 12032 items with `-n W --collect-only` (wall time);
  - a whole run against the loopback test server at zero latency, with the oracle's varied answer formats
    (`testing.answer_formats.mcq_oracle`: marked, bold, boxed, revised, hedged, lower-case, unanswered and
    wrong replies), the report's score checked against that design.
The data is read as it ships (the hub's parquet shards), no conversion.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_evalscope.registry import create_benchmark
from pytest_evalscope.testing.answer_formats import mcq_oracle
from pytest_evalscope.testing.oracle_runs import mcq_items
from pytest_evalscope.testing.server import ServerConfig, serve_in_subprocess

ROOT = Path(__file__).resolve().parents[1]


def run(python: str, args: list[str]) -> tuple[float, str]:
    """(wall seconds, last output line)"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    done = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return time.perf_counter() - start, lines[-1] if lines else done.stderr[-300:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets" / "mmlu_pro")
    parser.add_argument("--workers", default="2")
    parser.add_argument("--python", default=sys.executable, help="interpreter of the environment to measure")
    args = parser.parse_args()
    dataset_args = {"mmlu_pro": {"local_path": str(args.data)}}
    with tempfile.TemporaryDirectory() as tmp:
        common = ["--evalscope-datasets=mmlu_pro", "--evalscope-dataset-args=" + json.dumps(dataset_args),
                  f"--evalscope-work-dir={tmp}/out", "-n", args.workers]
        wall, last = run(args.python, ["--evalscope-eval-type=mock", "--collect-only", *common])
        print(f"collect 12032 items with -n {args.workers}: {wall:.2f} s wall ({last})")
        oracle, verdicts, _ = mcq_oracle(mcq_items(create_benchmark("mmlu_pro", dataset_args["mmlu_pro"])))
        with serve_in_subprocess(ServerConfig(oracle=oracle, max_seconds=900)) as server:
            wall, last = run(args.python, [f"--evalscope-api-url={server.url}", "--evalscope-model=oracle",
                                           "--evalscope-eval-batch-size=16", *common])
        found = list(Path(tmp, "out").glob("*/reports/oracle/mmlu_pro.json"))
        if not found:
            raise SystemExit(f"the MMLU-Pro run wrote no report: {last}")
        report = json.loads(found[0].read_text())
        ok = report["num"] == len(verdicts) and report["score"] == round(sum(verdicts.values()) / len(verdicts), 4)
        print(f"whole MMLU-Pro at 0 ms latency, -n {args.workers}, eval_batch_size 16: {wall:.2f} s wall ({last}); "
              f"score {report['score']} over {report['num']} {'as designed' if ok else 'WRONG'}")


if __name__ == "__main__":
    main()
