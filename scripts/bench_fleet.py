"""Benchmark: the whole GSM8K test set (1319 samples) against a fleet of 1, 2 and 4 loopback endpoints.

    python scripts/bench_fleet.py [--repeat 3] [--counts 1 2 4] [--data ../shared/datasets/gsm8k]

Each endpoint is a test server in its own process answering in 200 ms and serving at most 16 requests at
once (ServerConfig.max_concurrent: later requests queue there, as vLLM's max_num_seqs does). The harness
runs in one process with eval_batch_size 64, every endpoint given as --evalscope-api-url. With N endpoints
at most 16 N requests are served at once, so the wall time should fall with N: ideally 1319 x 0.2 s /
(16 N) = 16.5 s, 8.2 s and 4.1 s (at N = 4 the 64 in flight fill the fleet), plus start-up.
One endpoint is the single-URL path (no fleet routing), the baseline.

Prints per count: the median wall time, its ideal, the start-up (the same command with --collect-only),
the requests each endpoint answered and the peak concurrency each server saw (never above 16). Every run's score must equal the oracle's known accuracy.
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
from contextlib import ExitStack
from pathlib import Path

from pytest_evalscope.testing.gsm8k_oracle import build_oracle, read_records
from pytest_evalscope.testing.server import ServerConfig, serve_in_subprocess

ROOT = Path(__file__).resolve().parents[1]
LATENCY_MS, CAP, BATCH = 200, 16, 64


def run_once(urls: list[str], data: Path, work: Path, *extra: str) -> tuple[float, dict | None]:
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--evalscope-model=oracle",
            *(f"--evalscope-api-url={u}" for u in urls), "-k", "gsm8k", f"--evalscope-work-dir={work}",
            f"--evalscope-eval-batch-size={BATCH}", "-n", "0",
            "--evalscope-dataset-args=" + json.dumps({"gsm8k": {"local_path": str(data)}}), *extra]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if extra:
        return wall, None
    reports = sorted(work.glob("*/reports/oracle/gsm8k.json"))
    if not reports:
        raise SystemExit(f"no report; the run said:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return wall, json.loads(reports[-1].read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets" / "gsm8k")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    oracle, verdicts = build_oracle(read_records(args.data / "test.jsonl"))
    expected = round(sum(verdicts.values()) / len(verdicts), 4)
    config = ServerConfig(oracle=oracle, latency_ms=LATENCY_MS, max_concurrent=CAP, max_seconds=1800)
    print(f"GSM8K ({len(verdicts)} samples), {LATENCY_MS} ms per reply, each endpoint serving {CAP} at once "
          f"(more queue), eval_batch_size {BATCH}, one process; median of {args.repeat}")
    with tempfile.TemporaryDirectory() as tmp:
        for count in args.counts:
            with ExitStack() as stack:
                servers = [stack.enter_context(serve_in_subprocess(config)) for _ in range(count)]
                walls, answered, startups = [], {}, []
                for n in range(args.repeat):
                    # start-up: the same command collecting only (interpreter, imports, the data, collection)
                    startups.append(run_once([s.url for s in servers], args.data, Path(tmp, "c"), "--collect-only")[0])
                    wall, report = run_once([s.url for s in servers], args.data, Path(tmp, f"{count}-{n}"))
                    assert report is not None
                    if report["score"] != expected or report["num"] != len(verdicts):
                        raise SystemExit(f"wrong result with {count} endpoint(s): score {report['score']} over "
                                         f"{report['num']}, expected {expected} over {len(verdicts)}")
                    walls.append(wall)
                    per = (report["perf_metrics"] or {}).get("endpoints") or {}
                    answered = {url: figures["answered"] for url, figures in per.items()}
                peaks = [s.stats()["max_concurrent"] for s in servers]
            ideal = len(verdicts) * LATENCY_MS / 1000 / min(CAP * count, BATCH)
            shares = " ".join(str(n) for n in answered.values()) if answered else "(one endpoint)"
            print(f"{count} endpoint(s): {statistics.median(walls):6.2f} s (runs {', '.join(f'{w:.2f}' for w in walls)}; "
                  f"ideal {ideal:.1f} s + start-up, which took {statistics.median(startups):.2f} s); "
                  f"answered per endpoint (last run): {shares}; "
                  f"peak served at once per server: {peaks}", flush=True)


if __name__ == "__main__":
    main()
