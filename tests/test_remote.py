"""Workers on other hosts (remote.py): a worker reached through execnet's socket server on 127.0.0.1, in a
folder of its own, runs part of a session against the loopback OpenAI server through the real client.

The socket server is the one execnet ships (`execnet/script/socketserver.py`); it runs the worker inside
its own process, one gateway at a time, so every session here gets a fresh server. It is killed at the
end of each use, and an alarm ends it after two minutes whatever happens.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import execnet
import pytest

from pytest_evalscope.pipeline import lookahead_for
from pytest_evalscope.remote import RelayJournal, is_remote
from pytest_evalscope.testing.gsm8k_oracle import build_oracle, read_records
from pytest_evalscope.testing.server import ServerConfig, ServerHandle, serve_in_thread

from .conftest import GSM8K_DIR

RECORDS = read_records(GSM8K_DIR / "test.jsonl") if GSM8K_DIR.is_dir() else []
ORACLE, VERDICTS = build_oracle(RECORDS)
LIMIT = 24
SUITE = "from pytest_evalscope import Suite\n\ngsm8k = Suite('gsm8k')\n"
# The data path is relative: each host reads it from its own working directory.
COMMON = ["-p", "no:cacheprovider", "--evalscope-model=oracle", "--evalscope-api-key=sk-test",
          f"--evalscope-limit={LIMIT}", "--evalscope-eval-batch-size=4",
          "--evalscope-dataset-args=" + json.dumps({"gsm8k": {"local_path": "data/gsm8k"}})]
# execnet's socket server, bounded in time. With a folder to watch, an audit hook logs every path under
# it that the server's process (the remote worker) opens or changes: a remote host does not have it.
BOOT = """
import os, runpy, signal, sys
signal.alarm(120)
watched = os.environ.get("WATCHED_FOLDER")
if watched:
    log = os.open("opened-there.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    def hook(event, args):
        if event in ("open", "os.mkdir", "os.rename", "os.remove", "os.symlink") and isinstance(args[0], (str, bytes, os.PathLike)):
            path = os.path.abspath(os.fsdecode(args[0]))
            if path == watched or path.startswith(watched + os.sep):
                os.write(log, (event + " " + path + "\\n").encode())
    sys.addaudithook(hook)
sys.argv = ["socketserver", "127.0.0.1:0"]
runpy.run_module("execnet.script.socketserver", run_name="__main__")
"""


@contextlib.contextmanager
def socket_server(folder: Path, watched: Path | None = None) -> Iterator[int]:
    """execnet's socket server on 127.0.0.1 (a free port), working in `folder`; yields its port. Paths under
    `watched` that it opens are logged in `folder/opened-there.log`."""
    log = folder.parent / f"{folder.name}-server.log"
    env = {**os.environ, "WATCHED_FOLDER": str(watched.resolve())} if watched else None
    with log.open("wb") as out:  # a file, not a pipe: the worker's own output must never block on it
        process = subprocess.Popen([sys.executable, "-u", "-c", BOOT], cwd=folder, stdout=out, stderr=subprocess.STDOUT,
                                   env=env)
    try:
        deadline = time.monotonic() + 30
        while not (found := re.search(r"\('127\.0\.0\.1', (\d+)\)", log.read_text(errors="replace"))):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the socket server did not start: {log.read_text(errors='replace')[-500:]}")
            time.sleep(0.05)
        yield int(found.group(1))
    finally:
        process.kill()
        process.wait(timeout=10)


def project(folder: Path) -> Path:
    """What a host needs to run the suites: the suite file and the data (the package is installed)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "eval_gsm8k.py").write_text(SUITE)
    (folder / "data").mkdir(exist_ok=True)
    (folder / "data" / "gsm8k").symlink_to(GSM8K_DIR, target_is_directory=True)
    return folder


def api(server: ServerHandle) -> str:
    return f"--evalscope-api-url={server.url}"


def remote_tx(port: int, folder: Path) -> str:
    return f"--tx=socket=127.0.0.1:{port}//chdir={folder}"


def run_folder(pytester: pytest.Pytester, name: str) -> Path:
    (run,) = (pytester.path / name).glob("*")
    return run


def journal(run: Path) -> dict[str, list[dict[str, Any]]]:
    """Reply journal files of a run folder by name, without the pid: `replies-gw1-relayed`, `replies-gw0`."""
    files = {}
    for path in sorted((run / ".cache").glob("replies-*.jsonl")):
        entries = []
        for line in path.read_text().splitlines():
            with contextlib.suppress(ValueError):  # the line a SIGKILL cut short, as load_replies skips it
                entries.append(json.loads(line))
        files[re.sub(r"-\d+\.jsonl$", "", path.name)] = entries
    return files


def outputs(run: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The report without timings and cache counts, and the review lines: what must not depend on workers."""
    report = json.loads((run / "reports/oracle/gsm8k.json").read_text())
    report.pop("perf_metrics")
    report["execution_summary"].pop("cached")
    reviews = [json.loads(line) for line in (run / "reviews/oracle/gsm8k_main.jsonl").read_text().splitlines()]
    for line in reviews:
        line["sample_score"]["score"]["metadata"].pop("cached")
    return report, reviews


def expected_outcomes() -> dict[str, int]:
    correct = sum(VERDICTS[i] for i in range(LIMIT))
    return {"passed": correct, "failed": LIMIT - correct}


@pytest.fixture
def remote_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return project(tmp_path_factory.mktemp("remote-host") / "project")


def test_a_socket_worker_runs_part_of_the_session_and_reports_equal_local_ones(pytester: pytest.Pytester,
                                                                               remote_dir: Path) -> None:
    project(pytester.path)
    results = {}
    with serve_in_thread(ServerConfig(oracle=ORACLE, max_seconds=120, max_requests=3 * LIMIT)) as server:
        for name, workers in [("serial", ["-n", "0"]), ("local", ["-n", "2"])]:
            results[name] = pytester.runpytest_subprocess(*COMMON, api(server), f"--evalscope-work-dir={name}", *workers)
        # the page's baseline is read by the controller only: the remote host does not have it
        page_baseline = f"--evalscope-html-baseline={run_folder(pytester, 'serial').relative_to(pytester.path)}"
        with socket_server(remote_dir, watched=pytester.path) as port:
            results["remote"] = pytester.runpytest_subprocess(*COMMON, api(server), "--evalscope-work-dir=remote", "--dist=load",
                                                              "--tx=popen", remote_tx(port, remote_dir), page_baseline)
        asked = server.stats()["requests"]
    for result in results.values():
        result.assert_outcomes(**expected_outcomes())
    assert asked == 3 * LIMIT
    serial = outputs(run_folder(pytester, "serial"))
    assert outputs(run_folder(pytester, "local")) == serial
    assert outputs(run_folder(pytester, "remote")) == serial
    # The remote worker's replies reached the controller's journal; it wrote nothing of its own anywhere.
    files = journal(run_folder(pytester, "remote"))
    assert set(files) == {"replies-gw0", "replies-gw1-relayed"}
    relayed = {e["key"] for e in files["replies-gw1-relayed"]}
    assert relayed and len(relayed) + len(files["replies-gw0"]) == LIMIT
    assert {e["key"] for e in files["replies-gw0"]} | relayed == {f"gsm8k/main/{i}/0" for i in range(LIMIT)}
    assert not list(remote_dir.rglob("replies-*")) and not (remote_dir / "remote").exists()
    assert (remote_dir / "opened-there.log").read_text() == ""  # nothing of the controller's folder


def test_use_cache_sends_earlier_replies_to_a_remote_worker_and_journals_its_new_ones(pytester: pytest.Pytester,
                                                                                    remote_dir: Path) -> None:
    project(pytester.path)
    with serve_in_thread(ServerConfig(oracle=ORACLE, max_seconds=120, max_requests=2 * LIMIT)) as server:
        first = pytester.runpytest_subprocess(*COMMON, api(server), "--evalscope-work-dir=out", "-n", "0")
        run = run_folder(pytester, "out")
        (path,) = (run / ".cache").glob("replies-main-*.jsonl")
        lines = path.read_text().splitlines(keepends=True)
        path.write_text("".join(lines[::2]))  # every other reply lost, as if the run had been killed before journaling it
        lost = {json.loads(line)["key"] for line in lines[1::2]}
        before = server.stats()["requests"]
        with socket_server(remote_dir, watched=pytester.path) as port:  # the whole resumed session on the remote worker
            resumed = pytester.runpytest_subprocess(*COMMON, api(server), f"--evalscope-use-cache={run}", "--dist=load",
                                                    remote_tx(port, remote_dir))
        asked = server.stats()["requests"] - before
    first.assert_outcomes(**expected_outcomes())
    resumed.assert_outcomes(**expected_outcomes())
    assert len(lost) == LIMIT // 2 and asked == len(lost)  # the remote worker reused every reply it was sent
    report = json.loads((run / "reports/oracle/gsm8k.json").read_text())
    assert report["execution_summary"]["cached"] == LIMIT - len(lost)
    assert {e["key"] for e in journal(run)["replies-gw0-relayed"]} == lost  # a later resume finds them here
    assert (remote_dir / "opened-there.log").read_text() == ""  # the earlier replies came with the worker's input


def test_a_dataset_missing_on_the_remote_host_is_one_line_naming_it(pytester: pytest.Pytester,
                                                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    project(pytester.path)
    bare = tmp_path_factory.mktemp("bare-host")
    (bare / "eval_gsm8k.py").write_text(SUITE)  # the suite file, but not the data
    with socket_server(bare) as port:
        result = pytester.runpytest_subprocess(*COMMON, "--evalscope-eval-type=mock", "--dist=load", remote_tx(port, bare))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    line = f"ERROR: gw0 (socket=127.0.0.1:{port}//chdir={bare}, in {bare}): gsm8k: local dataset path 'data/gsm8k' does not exist"
    assert line in result.stderr.lines + result.stdout.lines


def test_a_config_file_missing_on_the_remote_host_stops_the_run_instead_of_restarting_the_worker(
        pytester: pytest.Pytester, remote_dir: Path) -> None:
    project(pytester.path)
    pytester.makefile(".yaml", task="limit: 3\n")
    with socket_server(remote_dir) as port:
        started = time.monotonic()
        result = pytester.runpytest_subprocess(*COMMON, "--evalscope-eval-type=mock", "--evalscope-config=task.yaml",
                                               "--dist=load", remote_tx(port, remote_dir), timeout=60)
    assert result.ret == pytest.ExitCode.USAGE_ERROR and time.monotonic() - started < 60
    assert any(re.fullmatch(r"ERROR: gw0 \(socket=.*\): config file 'task.yaml' does not exist", line)
               for line in result.stderr.lines + result.stdout.lines)


def test_a_path_argument_with_a_remote_worker_is_one_line_before_any_connection(pytester: pytest.Pytester) -> None:
    project(pytester.path)
    result = pytester.runpytest_subprocess(*COMMON, "--evalscope-eval-type=mock", "--dist=load",
                                           "--tx=socket=127.0.0.1:9//chdir=/srv/project", "eval_gsm8k.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: 'eval_gsm8k.py' names a path of this host, which xdist cannot pass to the "
                                 "worker on another host (socket=127.0.0.1:9//chdir=/srv/project): select suites *"])


@pytest.mark.parametrize(("spec", "remote"), [("popen", False), ("popen//chdir=/tmp", False), ("popen//via=hub", True),
                                              ("socket=127.0.0.1:8888", True), ("ssh=host//python=python3", True)])
def test_only_a_direct_popen_gateway_shares_this_hosts_files(spec: str, remote: bool) -> None:
    assert is_remote(execnet.XSpec(spec)) is remote


def test_relay_journal_hands_each_line_over_once() -> None:
    relay = RelayJournal()
    relay.append("main-0", "fp0", {"content": "a"})
    relay.append("main-1", "fp1", {"content": "b"})
    text = relay.drain()
    assert [json.loads(line)["key"] for line in text.splitlines()] == ["main-0", "main-1"]
    assert relay.drain() == ""


def test_sigkill_of_the_controller_loses_at_most_a_remote_workers_look_ahead(pytester: pytest.Pytester,
                                                                           remote_dir: Path) -> None:
    """A remote worker's reply is on the controller's disk once the worker's next report arrives; a SIGKILL
    of the controller loses those received since (at most the look-ahead), and a resume asks them again."""
    project(pytester.path)
    limit, batch = 60, 2  # 3 s of requests at 100 ms: the kill lands mid-run even on a slow host
    cache = pytester.path / "out" / ".cache"
    args = [*COMMON, f"--evalscope-limit={limit}", f"--evalscope-eval-batch-size={batch}", "--evalscope-no-timestamp",
            "--evalscope-work-dir=out", "--dist=load"]
    with serve_in_thread(ServerConfig(oracle=ORACLE, latency_ms=100, max_seconds=120, max_requests=3 * limit)) as server:
        with socket_server(remote_dir) as port:
            process = subprocess.Popen([sys.executable, "-m", "pytest", *args, api(server), remote_tx(port, remote_dir)],
                                       cwd=pytester.path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and sum(len(v) for v in journal_of(cache).values()) < 10:
                time.sleep(0.02)
            process.kill()  # SIGKILL, the controller only: its remote worker sees the connection drop
            process.wait(timeout=10)
        kept = {e["key"] for entries in journal_of(cache).values() for e in entries}
        asked_first = server.stats()["requests"]
        resumed = pytester.runpytest_subprocess(*args, api(server), "--evalscope-use-cache=out", "-n", "0",
                                                "--evalscope-eval-batch-size=16")  # not in the fingerprint
        asked_again = server.stats()["requests"] - asked_first
    assert 10 <= len(kept) < limit  # killed mid-run
    lost = asked_first - len(kept)  # received by the remote worker, not yet relayed
    assert 0 <= lost <= lookahead_for(batch) + 1  # requested ahead, and the sample in hand
    assert asked_again == limit - len(kept)
    correct = sum(VERDICTS[i] for i in range(limit))
    resumed.assert_outcomes(passed=correct, failed=limit - correct)


def journal_of(cache: Path) -> dict[str, list[dict[str, Any]]]:
    return journal(cache.parent) if cache.is_dir() else {}


def test_a_delegated_backend_with_a_remote_worker_is_one_line_before_any_connection(pytester: pytest.Pytester,
                                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    backend = pytester.path / "backend-python"  # finds every module the backend needs, and is never run here
    backend.write_text("#!/bin/sh\nexit 0\n")
    backend.chmod(0o755)
    monkeypatch.setenv("EVALSCOPE_BACKEND_PYTHON", str(backend))
    config = {"eval_backend": "RAGEval", "eval_config": {"tool": "mteb", "models": [{"model_name_or_path": "m3e-base"}],
                                                         "eval": {"task_names": ["TNews"]}}}
    pytester.makefile(".json", cfg=json.dumps(config))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--evalscope-config=cfg.json", "--dist=load",
                                           "--tx=socket=127.0.0.1:9//chdir=/srv/project")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: eval_backend RAGEval runs as one item that writes the run folder itself, which a "
                                 "worker on another host (socket=127.0.0.1:9//chdir=/srv/project) cannot reach; *"])
