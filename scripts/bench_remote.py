"""Benchmark: a worker on another host (execnet's socket server on 127.0.0.1) against two local workers.

    python scripts/bench_remote.py [--repeat 3] [--data ../shared/datasets/gsm8k]

The whole GSM8K test set (1319 samples) against the loopback test server, eval_batch_size 16, with
`-n 2` and with `--tx popen --tx socket=...` (one local worker, one socket-server worker whose replies
are relayed to the controller on its reports). Reports wall time and the CPU of pytest, its workers and
the socket server, at 0 ms (the harness's own cost) and 200 ms server latency. The socket server works in
a temporary folder holding links to this repository's suites and pytest config, and a fresh one serves
each run. Each figure is the median of --repeat runs; every run's score must equal the oracle's.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_gsm8k import ROOT, check_score, children_cpu, run_pytest

from pytest_evalscope.testing.gsm8k_oracle import build_oracle, read_records
from pytest_evalscope.testing.server import ServerConfig, serve_in_subprocess

BOOT = ("import runpy, signal, sys; signal.alarm(900); sys.argv = ['socketserver', '127.0.0.1:0']; "
        "runpy.run_module('execnet.script.socketserver', run_name='__main__')")


def start_socket_server(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    log = folder.parent / "server.log"
    with log.open("wb") as out:
        # as bench_gsm8k measures: with PYTHONDONTWRITEBYTECODE set, the worker would recompile everything each run
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        process = subprocess.Popen([sys.executable, "-u", "-c", BOOT], cwd=folder, stdout=out, stderr=subprocess.STDOUT,
                                   env=env)
    deadline = time.monotonic() + 30
    while not (found := re.search(r"\('127\.0\.0\.1', (\d+)\)", log.read_text(errors="replace"))):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"the socket server did not start: {log.read_text(errors='replace')[-500:]}")
        time.sleep(0.05)
    return process, int(found.group(1))


def remote_project(tmp: Path) -> Path:
    """What the worker host holds: this repository's suites and pytest config, linked."""
    folder = tmp / "remote-host" / "project"
    folder.mkdir(parents=True)
    for name in ("benchmarks", "conftest.py", "pyproject.toml"):
        (folder / name).symlink_to(ROOT / name)
    return folder


def measure(args: argparse.Namespace, url: str, tmp: Path, remote: Path, latency: int, label: str, n: int) -> tuple[float, float]:
    work = tmp / f"{latency}-{label}-{n}"
    common = ["--evalscope-eval-batch-size=16", "--evalscope-api-key=sk-bench"]
    if label == "-n 2":
        wall, cpu, last = run_pytest(sys.executable, url, args.data, work, *common, "-n", "2")
    else:
        before = children_cpu()
        server, port = start_socket_server(remote)
        try:
            wall, _, last = run_pytest(sys.executable, url, args.data, work, *common, "--dist=load", "--tx=popen",
                                         f"--tx=socket=127.0.0.1:{port}//chdir={remote}")
        finally:
            server.kill()
            server.wait()  # waited for: its CPU (the remote worker's) joins the children's
        cpu = children_cpu() - before
    check_score(work, args.expected)
    print(f"  {latency} ms, {label}: {wall:.2f} s wall, {cpu:.2f} s CPU  ({last})", flush=True)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets" / "gsm8k")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    oracle, verdicts = build_oracle(read_records(args.data / "test.jsonl"))
    args.expected = sum(verdicts.values()) / len(verdicts)
    rows = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        remote = remote_project(tmp)
        for latency in (0, 200):
            with serve_in_subprocess(ServerConfig(oracle=oracle, latency_ms=latency, max_seconds=900)) as server:
                for label in ("-n 2", "popen + socket"):
                    runs = [measure(args, server.url, tmp, remote, latency, label, n) for n in range(args.repeat)]
                    rows.append((f"{latency} ms, {label}", statistics.median(w for w, _ in runs),
                                 statistics.median(c for _, c in runs)))
    print(f"\nGSM8K test set, 1319 samples, eval_batch_size 16, score checked every run; median of {args.repeat}")
    print("| configuration | wall (s) | CPU of pytest, workers and socket server (s) |\n|---|---|---|")
    for label, wall, cpu in rows:
        print(f"| {label} | {wall:.2f} | {cpu:.2f} |")


if __name__ == "__main__":
    main()
