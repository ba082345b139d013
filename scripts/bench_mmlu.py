"""Benchmark: the full MMLU test set (14042 samples, 57 subjects, 5-shot) with pytest-xdist.

    python scripts/bench_mmlu.py [--data ../shared/datasets/mmlu] [--workers 2]

Measures:
  - collection of all 14042 items with `-n W --collect-only`: wall time, and the peak resident memory of
    the largest process (controller or worker; getrusage of the finished children);
  - a whole run against the loopback test server at zero latency, every reply `ANSWER: <gold>` except
    every 7th (a wrong letter), with the score checked against that design.
--python picks the interpreter that runs pytest (measure a plain `pip install .` environment, as a user
has it; the dev extras add pytest plugins every process imports at start).
The shared CSVs are converted once into the hub schema (one folder per subject) in a temporary folder.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_evalscope.registry import create_benchmark
from pytest_evalscope.testing.server import ServerConfig, serve_in_subprocess

ROOT = Path(__file__).resolve().parents[1]


def convert(shared: Path, target: Path) -> None:
    for split in ("test", "dev"):
        for path in sorted((shared / split).glob(f"*_{split}.csv")):
            subject = path.name[: -len(f"_{split}.csv")]
            with path.open(encoding="utf-8", newline="") as handle:
                rows = [{"question": r["question"], "subject": subject, "answer": int(r["answer"]),
                         "choices": [r["choice0"], r["choice1"], r["choice2"], r["choice3"]]} for r in csv.DictReader(handle)]
            (target / subject).mkdir(parents=True, exist_ok=True)
            (target / subject / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def oracle_for(data: Path) -> tuple[dict[str, str], int, int]:
    """(oracle, samples, samples whose reply carries the gold letter). Identical prompts share one reply."""
    bench = create_benchmark("mmlu", {"local_path": str(data)})
    oracle: dict[str, str] = {}
    graded = []
    for subject in bench.subset_list:
        fewshot = bench.fewshot_samples(subject)
        for sample in bench.load_samples(subject, None, 1):
            prompt = bench.build_messages(sample, fewshot)[-1]["content"].strip()  # the server strips too
            letter = "ABCD"[("ABCD".index(sample.target) + 1) % 4] if len(graded) % 7 == 6 else sample.target
            oracle[prompt] = f"Let me think step by step.\n\nANSWER: {letter}"
            graded.append((prompt, sample.target))
    correct = sum(oracle[prompt].endswith(f"ANSWER: {gold}") for prompt, gold in graded)
    return oracle, len(graded), correct


def run(python: str, args: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB of the largest finished child so far, last output line)"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    done = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, lines[-1] if lines else done.stderr[-300:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets" / "mmlu")
    parser.add_argument("--workers", default="2")
    parser.add_argument("--python", default=sys.executable, help="interpreter of the environment to measure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "mmlu"
        convert(args.data, data)
        common = ["--evalscope-datasets=mmlu", "--evalscope-dataset-args=" + json.dumps({"mmlu": {"local_path": str(data)}}),
                  f"--evalscope-work-dir={tmp}/out", "-n", args.workers]
        wall, peak, last = run(args.python, ["--evalscope-eval-type=mock", "--collect-only", *common])
        print(f"collect 14042 items with -n {args.workers}: {wall:.2f} s wall, peak RSS of the largest process {peak:.0f} MB ({last})")
        oracle, total, correct = oracle_for(data)
        with serve_in_subprocess(ServerConfig(oracle=oracle, max_seconds=900)) as server:
            wall, _, last = run(args.python, [f"--evalscope-api-url={server.url}", "--evalscope-model=oracle",
                                 "--evalscope-eval-batch-size=16", *common])
        found = list(Path(tmp, "out").glob("*/reports/oracle/mmlu.json"))
        if not found:
            raise SystemExit(f"the MMLU run wrote no report: {last}")
        report = json.loads(found[0].read_text())
        ok = report["num"] == total and report["score"] == round(correct / total, 4)
        print(f"whole MMLU at 0 ms latency, -n {args.workers}, eval_batch_size 16: {wall:.2f} s wall ({last}); "
              f"score {report['score']} over {report['num']} {'as designed' if ok else 'WRONG'}")


if __name__ == "__main__":
    main()
