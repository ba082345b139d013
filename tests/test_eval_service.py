"""End to end against the loopback OpenAI-compatible test server: the real openai client, real HTTP,
oracle replies with a known verdict per question, injected faults, SIGKILL and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_evalscope.testing.gsm8k_oracle import build_oracle, read_records
from pytest_evalscope.testing.server import ServerConfig, ServerHandle, serve_in_subprocess, serve_in_thread

from .conftest import GSM8K_DIR

RECORDS = read_records(GSM8K_DIR / "test.jsonl") if GSM8K_DIR.is_dir() else []
ORACLE, VERDICTS = build_oracle(RECORDS)


@pytest.fixture
def server() -> Iterator[ServerHandle]:
    with serve_in_subprocess(ServerConfig(oracle=ORACLE, max_seconds=300)) as handle:
        yield handle


def service_args(handle: ServerHandle, gsm8k_args: str, *extra: str) -> list[str]:
    return ["--evalscope-model=oracle", f"--evalscope-api-url={handle.url}", gsm8k_args,
            "--evalscope-work-dir=out", "-p", "no:cacheprovider", *extra]


def latest_run(root: Path) -> Path:
    return sorted((root / "out").glob("*"))[-1]


def report_of(run: Path) -> dict:
    report = json.loads((run / "reports/oracle/gsm8k.json").read_text())
    report.pop("perf_metrics")
    report["execution_summary"].pop("cached")
    return report


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def expected_correct(limit: int | None = None) -> int:
    indices = range(len(RECORDS) if limit is None else limit)
    return sum(VERDICTS[i] for i in indices)


def test_all_gsm8k_samples_score_exactly_serial_and_xdist(pytester: pytest.Pytester, suite_file: Path,
                                                          server: ServerHandle, gsm8k_args: str) -> None:
    reports = []
    for workers in (["-n", "0"], ["-n", "2"]):
        result = pytester.runpytest(*service_args(server, gsm8k_args, "--evalscope-eval-batch-size=16", *workers))
        result.assert_outcomes(passed=expected_correct(), failed=len(RECORDS) - expected_correct())
        run = latest_run(pytester.path)
        report = report_of(run)
        assert report["num"] == 1319
        assert report["score"] == round(expected_correct() / 1319, 4)
        reports.append((report, (run / "reviews/oracle/gsm8k_main.jsonl").read_text()))
    assert reports[0] == reports[1]
    assert server.stats()["requests"] == 2 * 1319


def test_transient_faults_are_retried_away_and_nothing_is_lost(pytester: pytest.Pytester, suite_file: Path,
                                                               gsm8k_args: str) -> None:
    config = ServerConfig(oracle=ORACLE, fault_rate=0.1, fault_seed=7, timeout_sleep=2.0, max_seconds=300,
                          fault_kinds=("429", "500", "503", "timeout", "drop", "malformed_json", "empty_choices"))
    with serve_in_subprocess(config) as handle:
        result = pytester.runpytest(*service_args(handle, gsm8k_args, "--evalscope-limit=300", "--evalscope-eval-batch-size=32",
                                                  '--evalscope-model-args={"timeout": 1.0}'))
        stats = handle.stats()
    assert sum(stats["faults"].values()) >= 20  # about 10% of 300 keys fault on their first attempt
    result.assert_outcomes(passed=expected_correct(300), failed=300 - expected_correct(300))
    assert result.ret == 0
    run = latest_run(pytester.path)
    for kind in ("predictions", "reviews"):
        indices = [line["index"] for line in lines(run / kind / "oracle/gsm8k_main.jsonl")]
        assert indices == list(range(300))
    assert report_of(run)["execution_summary"] == {"requested": 300, "succeeded": 300, "errored": 0}


def test_persistent_faults_are_errors_counted_apart(pytester: pytest.Pytester, suite_file: Path, gsm8k_args: str) -> None:
    broken = {RECORDS[i]["question"].strip(): kind for i, kind in ((0, "500"), (1, "malformed_json"), (2, "drop"))}
    with serve_in_subprocess(ServerConfig(oracle=ORACLE, persistent_faults=broken, max_seconds=120)) as handle:
        args = service_args(handle, gsm8k_args, "--evalscope-limit=10", '--evalscope-model-args={"max_retries": 1}',
                            "--evalscope-eval-batch-size=4")
        failing = pytester.runpytest(*args)
        budgeted = pytester.runpytest(*args, "--evalscope-max-errors=3")
        tolerant = pytester.runpytest(*args, "--evalscope-ignore-errors")  # the run whose report is read below
    budgeted.assert_outcomes(passed=expected_correct(10) - sum(VERDICTS[i] for i in range(3)),
                             failed=7 - (expected_correct(10) - sum(VERDICTS[i] for i in range(3))), errors=3)
    assert budgeted.ret == 0
    budgeted.stdout.fnmatch_lines(["*http_500 after 2 attempt(s)*", "*malformed_reply after 2 attempt(s)*",
                                   "*connection after 2 attempt(s)*", "*3 sample(s) ended in an error, within the error budget*"])
    # over the budget (0 by default) the run has failed whatever comes next: it stops at the first error
    assert failing.ret == pytest.ExitCode.INTERRUPTED
    failing.stdout.fnmatch_lines(["*1 sample(s) ended in an error, over the error budget of 0*stopping*"])
    assert failing.parseoutcomes()["errors"] == 1
    assert tolerant.ret == 0
    report = report_of(latest_run(pytester.path))
    assert report["num"] == 7 and report["execution_summary"]["errored"] == 3
    subset = report["metrics"][0]["categories"][0]["subsets"][0]
    assert subset["errors"] == 3 and subset["passed"] + subset["failed"] == 7


def test_streaming_gives_the_same_scores_and_token_counts(pytester: pytest.Pytester, suite_file: Path,
                                                          server: ServerHandle, gsm8k_args: str) -> None:
    pytester.runpytest(*service_args(server, gsm8k_args, "--evalscope-limit=28"))
    plain = latest_run(pytester.path)
    pytester.runpytest(*service_args(server, gsm8k_args, "--evalscope-limit=28", "--evalscope-generation-config=stream=true"))
    streamed = latest_run(pytester.path)
    assert plain != streamed and report_of(plain) == report_of(streamed)
    for a, b in zip(lines(plain / "predictions/oracle/gsm8k_main.jsonl"), lines(streamed / "predictions/oracle/gsm8k_main.jsonl"), strict=True):
        assert a["model_output"]["usage"] == b["model_output"]["usage"]
        assert a["model_output"]["choices"][0]["message"]["content"] == b["model_output"]["choices"][0]["message"]["content"]
        assert b["model_output"]["perf_metrics"]["ttft"] is not None


def test_reasoning_is_kept_but_not_scored(pytester: pytest.Pytester, suite_file: Path, server: ServerHandle, gsm8k_args: str) -> None:
    pytester.runpytest(*service_args(server, gsm8k_args, "--evalscope-limit=9"))
    run = latest_run(pytester.path)
    reviews = lines(run / "reviews/oracle/gsm8k_main.jsonl")
    think = reviews[3]["sample_score"]["score"]  # a <think> block with a distracting number
    assert "<think>" in think["prediction"] and think["extracted_prediction"] == RECORDS[3]["answer"].split("####")[-1].strip()
    field = lines(run / "predictions/oracle/gsm8k_main.jsonl")[8]["model_output"]["choices"][0]["message"]
    assert field["reasoning_content"].startswith("Let me think")  # the reasoning_content field is kept
    assert reviews[8]["sample_score"]["score"]["value"] == {"acc": 1.0}


def test_sigkill_then_use_cache_asks_nothing_twice(pytester: pytest.Pytester, suite_file: Path, gsm8k_args: str) -> None:
    limit = 240
    with serve_in_subprocess(ServerConfig(oracle=ORACLE, latency_ms=40, max_seconds=120)) as first:
        args = service_args(first, gsm8k_args, f"--evalscope-limit={limit}", "--evalscope-eval-batch-size=8", "--evalscope-no-timestamp")
        process = subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=pytester.path, start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        journal_dir = pytester.path / "out" / ".cache"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _journaled(journal_dir) < 80:
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    done = _journaled(journal_dir)
    assert 80 <= done < limit
    cached_keys = {json.loads(line)["key"] for f in journal_dir.glob("*.jsonl") for line in f.read_text().splitlines() if line.endswith("}")}
    with serve_in_subprocess(ServerConfig(oracle=ORACLE, max_seconds=120)) as second:
        args = service_args(second, gsm8k_args, f"--evalscope-limit={limit}", "--evalscope-eval-batch-size=8", "--evalscope-use-cache=out")
        result = pytester.runpytest(*args)
        asked = second.stats()["by_key"]
    result.assert_outcomes(passed=expected_correct(limit), failed=limit - expected_correct(limit))
    cached_questions = {RECORDS[int(key.split("/")[2])]["question"].strip() for key in cached_keys}
    assert not cached_questions & set(asked), "a reply received before the kill was requested again"
    assert sum(v["requests"] for v in asked.values()) == limit - len(cached_keys)
    resumed = report_of(pytester.path / "out")
    with serve_in_subprocess(ServerConfig(oracle=ORACLE, max_seconds=120)) as clean_server:
        pytester.runpytest(*service_args(clean_server, gsm8k_args, f"--evalscope-limit={limit}", "--evalscope-work-dir=clean"))
    clean = report_of(sorted((pytester.path / "clean").glob("*"))[-1])
    assert resumed == clean


def _journaled(folder: Path) -> int:
    return sum(f.read_text().count("\n") for f in folder.glob("*.jsonl")) if folder.is_dir() else 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--evalscope-eval-type=servise"], "eval_type: unknown value 'servise' (did you mean 'service'?)"),
        (["--evalscope-datasets=gsm9k"], "unknown benchmark 'gsm9k' (did you mean 'gsm8k'?)"),
        (["--evalscope-threshold=gsm8k=1.5"], "threshold gsm8k: 1.5 is outside [0, 1]"),
        (["--evalscope-limit=abc"], "limit: expected a count"),
        (['--evalscope-generation-config={"max_token": 5}'], "unknown key 'max_token' (did you mean 'max_tokens'?)"),
        (['--evalscope-model-args={"timeuot": 5}'], "'timeuot' is not an OpenAI client argument (did you mean 'timeout'?)"),
    ],
)
def test_bad_inputs_stop_before_any_request(pytester: pytest.Pytester, suite_file: Path, gsm8k_args: str,
                                            extra: list[str], message: str) -> None:
    with serve_in_thread(ServerConfig(oracle=ORACLE, max_seconds=60)) as handle:
        result = pytester.runpytest(*service_args(handle, gsm8k_args, "--evalscope-limit=3", *extra))
        assert handle.stats()["requests"] == 0
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1 and message in errors[0]


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_bad_dataset_file_and_config_key_stop_with_exit_4(pytester: pytest.Pytester, suite_file: Path, workers: list[str]) -> None:
    data = pytester.mkdir("data")
    (data / "test.jsonl").write_text('{"question": "q", "answer": "#### 1"}\n{"question": "broken\n')
    (data / "train.jsonl").write_text('{"question": "q", "answer": "#### 1"}\n')
    config = pytester.makefile(".yaml", task="model: oracle\neval_batch_sise: 4\n")
    with serve_in_thread(ServerConfig(oracle=ORACLE, max_seconds=60)) as handle:
        bad_file = pytester.runpytest("--evalscope-model=oracle", f"--evalscope-api-url={handle.url}", "--evalscope-work-dir=out",
                                      '--evalscope-dataset-args={"gsm8k": {"local_path": "data"}}', *workers)
        bad_key = pytester.runpytest(f"--evalscope-config={config}", f"--evalscope-api-url={handle.url}", *workers)
        bad_url = pytester.runpytest("--evalscope-model=oracle", "--evalscope-api-url=127.0.0.1:8000/v1", *workers)
        assert handle.stats()["requests"] == 0
    assert bad_file.ret == bad_key.ret == bad_url.ret == pytest.ExitCode.USAGE_ERROR
    assert any("test.jsonl:2: not valid JSON" in line for line in bad_file.stderr.lines + bad_file.stdout.lines)
    bad_key.stderr.fnmatch_lines(["ERROR: config file *task.yaml: unknown key 'eval_batch_sise' (did you mean 'eval_batch_size'?)"])
    bad_url.stderr.fnmatch_lines(["ERROR: api_url: '127.0.0.1:8000/v1' is not an http(s) URL*"])


def test_run_task_and_cli_run_the_same_session(tmp_path: Path, server: ServerHandle, gsm8k_dir: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_evalscope import run_task
    from pytest_evalscope.cli import main

    monkeypatch.chdir(tmp_path)
    task = {"model": "oracle", "api_url": server.url, "datasets": ["gsm8k"], "limit": 14, "eval_batch_size": 4,
            "dataset_args": {"gsm8k": {"local_path": str(gsm8k_dir)}}, "work_dir": str(tmp_path / "api"),
            "api_key": "sk-do-not-leak"}
    reports = run_task(task)
    assert reports["gsm8k"]["score"] == round(expected_correct(14) / 14, 4)
    assert __import__("gc").get_freeze_count() == 0  # the session froze its objects; run_task let them go
    config_text = next((tmp_path / "api").glob("*/configs/task_config.yaml")).read_text()
    assert "sk-do-not-leak" not in config_text and "***" in config_text
    code = main(["eval", "--model", "oracle", "--api-url", server.url, "--datasets", "gsm8k", "--limit", "14",
                 "--dataset-args", json.dumps({"gsm8k": {"local_path": str(gsm8k_dir)}}), "--work-dir", str(tmp_path / "cli"),
                 "--threshold", "gsm8k=0.99", "--", "-q", "-p", "no:cacheprovider"])
    assert code == 1  # the score is below the 0.99 gate
    cli_report = json.loads(next((tmp_path / "cli").glob("*/reports/oracle/gsm8k.json")).read_text())
    assert cli_report["score"] == reports["gsm8k"]["score"]


@pytest.mark.parametrize("workers", [["-n", "0"], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_rejected_key_or_model_stops_the_run_at_once(pytester: pytest.Pytester, suite_file: Path, gsm8k_args: str,
                                                       workers: list[str]) -> None:
    config = ServerConfig(oracle=ORACLE, fault_rate=1.0, fault_kinds=("401",), fault_attempts=10**6, max_seconds=60)
    with serve_in_subprocess(config) as handle:
        result = pytester.runpytest(*service_args(handle, gsm8k_args, "--evalscope-limit=200", "--evalscope-eval-batch-size=4", *workers))
        requests = handle.stats()["requests"]
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert requests <= 2 * 16  # what was already in flight; not one per sample
    result.stdout.fnmatch_lines(["*evalscope: HTTP 401 from the server*check api_url, api_key and model ('oracle')*"])
