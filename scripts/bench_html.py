"""Benchmark: the HTML report of the whole MMLU (14042 samples, 5-shot) and the whole GSM8K (1319).

    python scripts/bench_html.py [--workers 2] [--keep DIR] [--only mmlu|gsm8k]

For each benchmark, one run against the loopback test server at zero latency (with -n W) writes its
outputs tree and, at the end, report.html. Then, measured here:
  - the page's size, and the time the run spent writing it (the plugin's log line);
  - the time to write it again from the folder (`pytest-evalscope view`, in this process, best of 3);
  - first paint in headless Chromium (Debian's chromium + chromium-driver, through Selenium): from
    navigation start to the page having decoded its data and drawn every view (`__evalscope.ready`),
    and the browser's own first-contentful-paint, median of 3 loads;
  - the run's wall time with and without the page (`--no-evalscope-html`), to see what it adds.
Budgets (issue 15): whole MMLU <= 15 MB, written in <= 3 s, first view painted in <= 2 s.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_evalscope.reporting.html import write_page
from pytest_evalscope.testing.gsm8k_oracle import build_oracle, read_records
from pytest_evalscope.testing.server import ServerConfig, serve_in_subprocess

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"


def _bench_mmlu():  # the MMLU bench's CSV conversion and oracle
    spec = importlib.util.spec_from_file_location("bench_mmlu", ROOT / "scripts" / "bench_mmlu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def evaluate(suite: str, data: Path, oracle: dict, work: Path, workers: str, *extra: str) -> tuple[float, Path, str]:
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--evalscope-datasets={suite}",
            "--evalscope-dataset-args=" + json.dumps({suite: {"local_path": str(data)}}),
            f"--evalscope-work-dir={work}", "--evalscope-model=oracle", "--evalscope-eval-batch-size=16",
            "-n", workers, *extra]
    with serve_in_subprocess(ServerConfig(oracle=oracle, max_seconds=900)) as server:
        start = time.perf_counter()
        done = subprocess.run([*args, f"--evalscope-api-url={server.url}"], cwd=ROOT, capture_output=True, text=True,
                              check=False)
        wall = time.perf_counter() - start
    runs = sorted(p for p in work.iterdir() if p.is_dir())
    if not runs:
        raise SystemExit(f"{suite}: no run folder\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return wall, runs[-1], done.stdout


def first_paint(page: Path, loads: int = 3) -> tuple[float, float] | None:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None
    driver_path = shutil.which("chromedriver")
    if driver_path is None:
        return None
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(flag)
    ready, fcp = [], []
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        for _ in range(loads):
            driver.get("about:blank")
            driver.get(page.as_uri())
            deadline = time.time() + 60
            while time.time() < deadline and not driver.execute_script("return window.__evalscope && window.__evalscope.ready"):
                time.sleep(0.02)
            ready.append(driver.execute_script("return window.__evalscope.ready") / 1000)
            fcp.append((driver.execute_script(
                "const e = performance.getEntriesByName('first-contentful-paint')[0]; return e ? e.startTime : null") or 0) / 1000)
    finally:
        driver.quit()
    return statistics.median(ready), statistics.median(fcp)


def measure(name: str, suite: str, data: Path, oracle: dict, workers: str, keep: Path | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(keep or tmp) / name
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        wall_off, _, _ = evaluate(suite, data, oracle, work / "off", workers, "--no-evalscope-html")
        wall_on, run, stdout = evaluate(suite, data, oracle, work / "on", workers)
        found = re.search(r"evalscope report: .* \(written in ([\d.]+) s\)", stdout)
        page = run / "report.html"
        again = []
        for _ in range(3):
            start = time.perf_counter()
            write_page([run], work / "again.html")
            again.append(time.perf_counter() - start)
        samples = sum(1 for _ in (run / "reviews").glob("*/*.jsonl") for _ in _.open(encoding="utf-8"))
        paint = first_paint(page)
        print(f"{name}: {samples} samples, report.html {page.stat().st_size / 1e6:.2f} MB; written in "
              f"{found.group(1) if found else '?'} s at the end of the run, {min(again):.2f} s by view (best of 3); "
              + (f"first view drawn {paint[0]:.2f} s after navigation (first contentful paint {paint[1]:.2f} s), "
                 "median of 3 loads in headless Chromium" if paint else "no chromium/selenium: first paint not measured")
              + f"; run wall -n {workers}: {wall_on:.1f} s with the page, {wall_off:.1f} s without")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="2")
    parser.add_argument("--keep", type=Path, default=None, help="keep the run folders under this folder")
    parser.add_argument("--only", choices=("mmlu", "gsm8k"), default=None)
    args = parser.parse_args()
    if args.only in (None, "gsm8k"):
        oracle, _ = build_oracle(read_records(SHARED / "gsm8k" / "test.jsonl"))
        measure("gsm8k", "gsm8k", SHARED / "gsm8k", oracle, args.workers, args.keep)
    if args.only in (None, "mmlu"):
        bench = _bench_mmlu()
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "mmlu"
            bench.convert(SHARED / "mmlu", data)
            oracle, _, _ = bench.oracle_for(data)
            measure("mmlu", "mmlu", data, oracle, args.workers, args.keep)


if __name__ == "__main__":
    main()
