"""Benchmark: RAG metrics on the judge layer, a synthetic RAGAS file through the scripted judge server.

    python scripts/bench_rag.py [--rows 300] [--latency-ms 100] [--batch 32] [--workers 0 2]

Rows are built from words so that the scripted judge's rules (testing/rag_oracle.py) give known values;
each row makes 2 (faithfulness) + 3 (answer relevancy) + contexts (precision, 3 here) + 1 (recall) = 9
judge calls. The judge answers after --latency-ms, so the ideal wall time is about
rows x 9 x latency / judge_worker_num; a harness that asked the metrics' calls one after another would
take 4-5 times that per row. Prints wall time, calls and the mean of each metric per run; the reports of
the runs (serial and -n 2) must be equal.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_evalscope.testing.server import ServerConfig, serve_in_subprocess

ENCODER = {"provider": "python", "model_name_or_path": "pytest_evalscope.testing.rag_encoder:HashingEncoder"}


def rows(count: int) -> list[dict[str, object]]:
    out = []
    for i in range(count):
        city, year = f"city{i % 17}", 1900 + i % 97
        fact = f"The games number {i} were held in {city} in {year}."
        out.append({"user_input": f"Where were the games number {i} held?",
                    "retrieved_contexts": [f"Unrelated note {i} about weather.", fact, f"Another note {i} about food."],
                    "response": fact + (f" They also featured event{i}." if i % 3 == 0 else ""),
                    "reference": fact})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--workers", nargs="+", default=["0", "2"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, \
            serve_in_subprocess(ServerConfig(judge=True, latency_ms=args.latency_ms, max_seconds=3600)) as judge:
        folder = Path(tmp)
        (folder / "testset.json").write_text(json.dumps(rows(args.rows)))
        (folder / "eval_rag.py").write_text("from pytest_evalscope import Suite\n\nragas = Suite('ragas')\n")
        dataset_args = {"ragas": {"dataset_id": str(folder / "testset.json"), "extra_params": {
            "metrics": ["faithfulness", "answer_relevancy", "context_precision", "context_recall"], "embeddings": ENCODER}}}
        reports = []
        for workers in args.workers:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "pytest", "eval_rag.py", "-q", "-p", "no:cacheprovider", "-n", workers,
                            "--evalscope-model=bench", "--evalscope-eval-type=mock", f"--evalscope-work-dir=out{workers}",
                            "--evalscope-dataset-args=" + json.dumps(dataset_args), f"--evalscope-eval-batch-size={args.batch}",
                            f"--evalscope-judge-worker-num={args.batch}",
                            "--evalscope-judge-model-args=" + json.dumps({"model_id": "judge", "api_url": judge.url})],
                           cwd=folder, capture_output=True, check=False)
            wall = time.perf_counter() - start
            run = sorted((folder / f"out{workers}").iterdir())[-1]
            report = json.loads((run / "reports/bench/ragas.json").read_text())
            report.pop("perf_metrics", None)
            report["execution_summary"].pop("cached", None)
            reports.append(report)
            means = {m["name"]: m["score"] for m in report["metrics"]}
            print(f"-n {workers}: {wall:.1f} s, {report['judge_summary']['calls']} judge calls, "
                  f"errors {report['execution_summary']['errored']}, {means}")
        print("reports equal:", all(r == reports[0] for r in reports))


if __name__ == "__main__":
    main()
