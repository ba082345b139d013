"""Benchmark and check: the whole GSM8K (1,319) and MMLU (14,042, 5-shot) in four shards, merged, against
the same run unsharded, all against the loopback test server at zero latency.

    python scripts/bench_shards.py [--workers 2] [--parts 4]

Runs `pytest` unsharded (with --junitxml), then parts 1..N one after another (each with `-n W`), then
`pytest-evalscope merge` (with --junitxml), and checks that the merged run equals the unsharded one:
every report (apart from perf_metrics, the timings), every review and prediction line (apart from
latency and the server's reply ids), the JUnit testcases in order (names, outcomes, messages with the
run folder named RUN, properties apart from latency_s) and the testsuite's counts, and the exit status.
It also checks that a missing part is refused. Prints the wall time of each step.
The shared CSVs are converted once into the hub schema (one folder per subject) in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_mmlu import convert, oracle_for

from pytest_evalscope.testing.gsm8k_oracle import build_oracle, read_records
from pytest_evalscope.testing.server import ServerConfig, serve_in_subprocess

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"


def run(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    return time.perf_counter() - start, done


def reports(folder: Path) -> dict[str, Any]:
    out = {}
    for path in sorted(folder.glob("reports/*/*.json")):
        report = json.loads(path.read_text(encoding="utf-8"))
        report.pop("perf_metrics")
        out[path.name] = report
    return out


def lines(folder: Path, kind: str) -> dict[str, list[Any]]:
    out = {}
    for path in sorted(folder.glob(f"{kind}/*/*.jsonl")):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]
        for row in rows:
            for key in ("time", "perf_metrics", "id"):
                (row.get("model_output") or {}).pop(key, None)
        out[path.name] = rows
    return out


def testcases(path: Path, run_dir: Path) -> tuple[dict[str, str], list[Any]]:
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    counts = {k: v for k, v in suite.attrib.items() if k not in ("time", "timestamp", "hostname")}
    cases = [(case.get("classname"), case.get("name"),
              [(c.tag, (c.get("message") or "").replace(str(run_dir), "RUN")) for c in case if c.tag != "properties"],
              [(p.get("name"), p.get("value")) for p in case.iter("property") if p.get("name") != "latency_s"])
             for case in root.iter("testcase")]
    return counts, cases


def same_testcases(merged: Path, merged_run: Path, whole: Path, whole_run: Path) -> bool:
    (counts, cases), (whole_counts, whole_cases) = testcases(merged, merged_run), testcases(whole, whole_run)
    mismatched = [pair for pair in zip(sorted(cases, key=str), sorted(whole_cases, key=str), strict=False) if pair[0] != pair[1]]
    for mine, theirs in mismatched[:3]:
        print(f"merged:    {mine}\nunsharded: {theirs}")
    return counts == whole_counts and len(cases) == len(whole_cases) and not mismatched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="2", help="-n of every session")
    parser.add_argument("--parts", type=int, default=4)
    parser.add_argument("--keep", type=Path, default=None, help="work in this (new) folder and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        mmlu = work / "mmlu"
        convert(SHARED / "mmlu", mmlu)
        oracle, samples, _ = oracle_for(mmlu)
        gsm8k_oracle, _ = build_oracle(read_records(SHARED / "gsm8k" / "test.jsonl"))
        oracle.update(gsm8k_oracle)
        (work / "eval_suites.py").write_text("from pytest_evalscope import Suite\n\ngsm8k = Suite('gsm8k')\nmmlu = Suite('mmlu')\n")
        data = {"gsm8k": {"local_path": str(SHARED / "gsm8k")}, "mmlu": {"local_path": str(mmlu)}}
        steps: list[tuple[str, float, int]] = []
        with serve_in_subprocess(ServerConfig(oracle=oracle, max_seconds=3600)) as server:
            base = [sys.executable, "-m", "pytest", "eval_suites.py", "-q", "-p", "no:cacheprovider", "--evalscope-model=oracle",
                    f"--evalscope-api-url={server.url}", "--evalscope-eval-batch-size=16", "-n", args.workers,
                    "--evalscope-dataset-args=" + json.dumps(data), "--evalscope-threshold=gsm8k=0.7",
                    "--evalscope-threshold=mmlu=0.9"]
            wall, whole = run([*base, "--evalscope-work-dir=whole", "--evalscope-no-timestamp", "--junitxml=whole.xml"], work)
            steps.append(("unsharded", wall, whole.returncode))
            for part in range(1, args.parts + 1):
                wall, done = run([*base, f"--evalscope-work-dir=part{part}", "--evalscope-no-timestamp",
                                  f"--evalscope-shard={part}/{args.parts}"], work)
                steps.append((f"part {part}/{args.parts}", wall, done.returncode))
                if done.returncode != 0:
                    raise SystemExit(f"part {part} failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
        folders = [f"part{p}" for p in range(1, args.parts + 1)]
        cli = [sys.executable, "-m", "pytest_evalscope.cli", "merge"]
        _, refused = run([*cli, "refused", *folders[:-1]], work)
        wall, merged = run([*cli, "merged", *folders, "--", "-q", "--junitxml=merged.xml"], work)
        steps.append(("merge", wall, merged.returncode))
        for name, seconds, code in steps:
            print(f"{name:>12}: {seconds:7.1f} s, exit status {code}")
        checks = {
            "exit status": merged.returncode == whole.returncode,
            "reports": reports(work / "merged") == reports(work / "whole"),
            "reviews": lines(work / "merged", "reviews") == lines(work / "whole", "reviews"),
            "predictions": lines(work / "merged", "predictions") == lines(work / "whole", "predictions"),
            # the unsharded run's file lists testcases as its workers finish them (-n 2): compared as sets, and
            # the merged file in the whole selection's order
            "junit testcases": same_testcases(work / "merged.xml", work / "merged", work / "whole.xml", work / "whole"),
            "missing part refused": refused.returncode == 4 and "missing part" in refused.stderr,
        }
        n = sum(r["num"] for r in reports(work / "whole").values())
        print(f"samples: {n} (mmlu {samples}); scores: " +
              ", ".join(f"{name} {r['score']}" for name, r in reports(work / "merged").items()))
        for name, ok in checks.items():
            print(f"{name:>22}: {'identical' if ok else 'DIFFERENT'}")
        if not all(checks.values()):
            raise SystemExit(1)


if __name__ == "__main__":
    main()
