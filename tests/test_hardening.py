"""A hostile client and a hostile host, from the outside: each test sends what the security review sent
(to the HTTP service, the command line or a config file) and checks that it was refused with one line,
or that what it aimed at did not happen. The sandbox's own attacks are in test_sandbox.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_evalscope.config import load_config_file
from pytest_evalscope.params import ConfigError
from pytest_evalscope.runlock import RunLock
from pytest_evalscope.service import ServiceConfig, create_app, serve_in_thread
from pytest_evalscope.service.policy import Limits, job_environment
from pytest_evalscope.testing.gsm8k_oracle import build_oracle, read_records
from pytest_evalscope.testing.server import ServerConfig, serve_in_subprocess

from .conftest import GSM8K_DIR
from .test_service import call, wait_for

RECORDS = read_records(GSM8K_DIR / "test.jsonl") if GSM8K_DIR.is_dir() else []
ORACLE, _ = build_oracle(RECORDS)
GSM8K = {"gsm8k": {"local_path": str(GSM8K_DIR)}}


@pytest.fixture
def client(tmp_path: Path) -> Any:
    from starlette.testclient import TestClient

    config = ServiceConfig(output_dir=str(tmp_path / "out"), launch=False, read_roots=[str(tmp_path / "data")],
                           limits=Limits(repeats=8, eval_batch_size=64, review_timeout=30, perf_requests=1000,
                                         perf_parallel=50))
    (tmp_path / "data").mkdir()
    return TestClient(create_app(config), raise_server_exceptions=False)


def post(client: Any, endpoint: str, body: Any) -> tuple[int, dict[str, Any]]:
    answer = client.post(f"/api/v1/{endpoint}?async=true", json=body) if not isinstance(body, bytes) else \
        client.post(f"/api/v1/{endpoint}?async=true", content=body, headers={"Content-Type": "application/json"})
    return answer.status_code, answer.json()


BASE = {"model": "m", "api_url": "http://127.0.0.1:9/v1", "datasets": ["gsm8k"], "limit": 1}
PERF = {"model": "m", "url": "http://127.0.0.1:9/v1/chat/completions"}


# ---------------------------------------------------------------- the request may not choose the sandbox


@pytest.mark.parametrize(("body", "field", "words"), [
    ({**BASE, "sandbox_isolation": "process"}, "sandbox_isolation", "set by the service's operator"),
    ({**BASE, "datasets": ["humaneval"], "dataset_args": {"humaneval": {"extra_params": {"isolation": "process"}}}},
     "dataset_args", "operator's choice"),
    ({**BASE, "datasets": ["humaneval"], "dataset_args": json.dumps({"humaneval": {"extra_params": {"isolation": "process"}}})},
     "dataset_args", "operator's choice"),
])
def test_a_request_cannot_choose_the_sandbox(client: Any, body: dict[str, Any], field: str, words: str) -> None:
    code, answer = post(client, "eval", body)
    assert code == 400 and answer["field"] == field and words in answer["error"], answer


# ---------------------------------------------------------------- paths


@pytest.mark.parametrize("model_id", ["../../../../tmp/x", "/tmp/x", "..", "a\\b", "a\nb"])
def test_model_id_cannot_name_a_path(client: Any, model_id: str) -> None:
    code, answer = post(client, "eval", {**BASE, "model_id": model_id})
    assert code == 400 and answer["field"] == "model_id" and "plain name" in answer["error"], answer


def test_model_id_outside_the_outputs_is_refused_on_the_command_line(pytester: pytest.Pytester, suite_file: Path,
                                                                      gsm8k_args: str) -> None:
    result = pytester.runpytest("--evalscope-model=mock", "--evalscope-eval-type=mock", gsm8k_args,
                                "--evalscope-model-id=../../escaped", "--evalscope-work-dir=out")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: model_id: '../../escaped' holds '/'*plain name*"])
    assert not (pytester.path.parent / "escaped").exists() and not (pytester.path / "out").exists()


@pytest.mark.parametrize("form", ["object", "json string"])
@pytest.mark.parametrize(("key", "value", "field"), [
    ("dataset_args", {"gsm8k": {"local_path": "/etc"}}, "dataset_args.gsm8k.local_path"),
    ("model_args", {"chat_template": "/etc/passwd"}, "model_args.chat_template"),
])
def test_read_roots_hold_whatever_the_wire_form(client: Any, form: str, key: str, value: Any, field: str) -> None:
    code, answer = post(client, "eval", {**BASE, key: value if form == "object" else json.dumps(value)})
    assert code == 400 and answer["field"] == field, answer


def test_a_refusal_does_not_say_whether_a_path_exists(client: Any, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    answers = [post(client, "eval", {**BASE, "dataset_args": {"gsm8k": {"local_path": str(path)}}})
               for path in (secret, tmp_path / "no-such-folder")]
    assert answers[0][0] == answers[1][0] == 400
    assert answers[0][1]["error"] == answers[1][1]["error"]


def test_a_served_model_name_is_not_a_path(client: Any) -> None:
    code, answer = post(client, "eval", {**BASE, "model": "/models/Qwen3-8B"})  # vLLM's default served name
    assert code == 202, answer


# ---------------------------------------------------------------- bounds


@pytest.mark.parametrize(("endpoint", "body", "field"), [
    ("eval", {**BASE, "repeats": 10**9}, "repeats"),
    ("eval", {**BASE, "repeats": 9}, "repeats"),
    ("eval", {**BASE, "generation_config": {"n": 10**9}}, "generation_config"),
    ("eval", {**BASE, "generation_config": '{"n": 9}'}, "generation_config"),
    ("eval", {**BASE, "eval_batch_size": 65}, "eval_batch_size"),
    ("eval", {**BASE, "datasets": ["humaneval"], "dataset_args": {"humaneval": {"review_timeout": 1e9}}}, "dataset_args"),
    ("perf", {**PERF, "number": 10**12, "parallel": 10**6}, "number"),
    ("perf", {**PERF, "number": 1000, "parallel": 51}, "parallel"),
    ("perf", {**PERF, "number": [10, 2000]}, "number"),
])
def test_the_operator_bounds_what_a_request_asks_for(client: Any, endpoint: str, body: dict[str, Any], field: str) -> None:
    code, answer = post(client, endpoint, body)
    assert code == 400 and answer["field"] == field, answer
    assert "limit" in answer["error"] or "maximum" in answer["error"]


def test_the_command_line_refuses_absurd_values_before_any_request(pytester: pytest.Pytester, suite_file: Path,
                                                                   gsm8k_args: str) -> None:
    for option, words in (("--evalscope-repeats=1000000000", "repeats: 1000000000 is over the maximum"),
                          ("--evalscope-generation-config=n=1000000000", "generation_config.n: 1000000000 is over")):
        result = pytester.runpytest("--evalscope-model=mock", "--evalscope-eval-type=mock", gsm8k_args, option)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([f"ERROR: {words}*"])
    from pytest_evalscope.perf import run_perf

    with pytest.raises(ConfigError, match="number: 1000000000000 is over the maximum"):
        run_perf({"url": "http://127.0.0.1:9/v1/chat/completions", "model": "m", "number": 10**12, "parallel": 10**6})


# ---------------------------------------------------------------- strings a file, a log or a path cannot hold


@pytest.mark.parametrize(("raw", "field"), [
    (b'{"model": "m\\ud800", "api_url": "http://127.0.0.1:9/v1", "datasets": ["gsm8k"]}', "model"),
    (b'{"model": "m", "api_url": "http://127.0.0.1:9/v1", "datasets": ["gsm8k"], "work_dir": "a\\u0000b"}', "work_dir"),
    (b'{"model": "m", "api_url": "http://127.0.0.1:9/v1", "datasets": ["gsm8k"], '
     b'"dataset_args": {"gsm8k": {"prompt_template": "{question}\\udfff"}}}', "dataset_args"),
    (b'{"model": "m", "api_url": "http://127.0.0.1:9/v1\\r\\nX-Injected: 1", "datasets": ["gsm8k"]}', "api_url"),
    (b'{"model": "' + b"m" * 300_000 + b'", "api_url": "http://127.0.0.1:9/v1", "datasets": ["gsm8k"]}', "model"),
])
def test_unusable_strings_are_a_400_not_a_500(tmp_path: Path, raw: bytes, field: str) -> None:
    from starlette.testclient import TestClient

    client = TestClient(create_app(ServiceConfig(output_dir=str(tmp_path), launch=False, max_body_bytes=1 << 20)),
                        raise_server_exceptions=False)
    code, answer = post(client, "eval", raw)
    assert code == 400 and answer["field"] == field, answer
    assert client.get("/api/v1/jobs").status_code == 200  # nothing half-made that would 500 later


def test_use_cache_must_be_an_earlier_run_not_the_output_root(client: Any) -> None:
    for folder in (".", ".jobs"):
        code, answer = post(client, "eval", {**BASE, "use_cache": folder})
        assert code == 400 and answer["field"] == "use_cache" and "earlier run" in answer["error"], answer


# ---------------------------------------------------------------- headers


def test_control_characters_in_headers_are_refused_everywhere(pytester: pytest.Pytester, suite_file: Path,
                                                              gsm8k_args: str, client: Any) -> None:
    result = pytester.runpytest("--evalscope-model=m", "--evalscope-api-url=http://127.0.0.1:9/v1", gsm8k_args,
                                '--evalscope-model-args={"default_headers": {"X-A": "1\\r\\nX-Injected: 2"}}')
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: model_args.default_headers.X-A: the value holds the control character '\\r'*"])
    code, answer = post(client, "perf", {**PERF, "headers": {"X-A": "1\r\nX-Injected: 2"}})
    assert code == 400 and answer["field"] == "headers", answer
    code, answer = post(client, "eval", {**BASE, "model_args": {"default_headers": {"X-A\r\nB": "1"}}})
    assert code == 400 and "not a valid header name" in answer["error"], answer


def test_the_lean_transport_never_writes_a_control_character_into_a_request() -> None:
    import asyncio

    import httpx2

    from pytest_evalscope.models.http11 import Http11Transport

    received: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)

    def accept() -> None:
        try:
            conn, _ = listener.accept()
            conn.settimeout(1)
            received.append(conn.recv(65536))
            conn.close()
        except OSError:
            pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = listener.getsockname()[1]

    # httpx2 accepts a CR/LF in a header value as given; the transport is the last step before the wire
    request = httpx2.Request("POST", f"http://127.0.0.1:{port}/v1/x", headers={"X-A": "1\r\nX-Injected: 2"},
                             content=b"{}")
    with pytest.raises(httpx2.LocalProtocolError, match="control character"):
        asyncio.run(Http11Transport().handle_async_request(request))
    listener.close()
    thread.join(5)
    assert not any(b"X-Injected" in data for data in received)


# ---------------------------------------------------------------- config files and dataset files


def test_hostile_config_files_are_one_line_each(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    rows = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for name, prev in zip("bcdefghi", "abcdefgh", strict=True):
        rows.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    bomb.write_text("\n".join(rows) + "\nmodel: m\n")
    started = time.monotonic()
    with pytest.raises(ConfigError, match="aliases expand to more than"):
        load_config_file(bomb)
    assert time.monotonic() - started < 5
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"model: caf\xe9\n")
    with pytest.raises(ConfigError, match=r"is not UTF-8 text \(byte 0xe9 at offset 10\)"):
        load_config_file(latin)
    fine = tmp_path / "anchors.yaml"
    fine.write_text("gen: &g {temperature: 0}\ngeneration_config: *g\n")
    assert load_config_file(fine)["generation_config"] == {"temperature": 0}


@pytest.mark.parametrize(("content", "words"), [
    ("", "holds no records (the file is empty)"),
    ('{"question": "' + "[" * 0 + 'q", "answer": "#### 1"}\n' + "[" * 100_000 + "]" * 100_000 + "\n",
     "nested too deeply"),
    ('{"question": "q\\ud800", "answer": "#### 1"}\n', "holds a lone surrogate"),
])
def test_hostile_dataset_files_are_one_line_each(pytester: pytest.Pytester, suite_file: Path, content: str,
                                                 words: str) -> None:
    (pytester.path / "data").mkdir()
    (pytester.path / "data" / "test.jsonl").write_text(content)
    args = json.dumps({"gsm8k": {"local_path": str(pytester.path / "data"), "few_shot_num": 0}})
    result = pytester.runpytest("--evalscope-model=mock", "--evalscope-eval-type=mock",
                                f"--evalscope-dataset-args={args}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(lines) == 1 and words in lines[0], result.stderr.lines


@pytest.mark.parametrize(("key", "value", "words"), [
    ("dataset_revision", "v1.0", "dataset_revision applies to hub datasets"),
    ("force_redownload", True, "force_redownload applies to hub datasets"),
    ("metric_list", ["bleu"], "metric_list: gsm8k computes acc"),
])
def test_settings_never_silently_ignored(pytester: pytest.Pytester, suite_file: Path, key: str, value: Any,
                                         words: str) -> None:
    args = json.dumps({"gsm8k": {"local_path": str(GSM8K_DIR), key: value}})
    result = pytester.runpytest("--evalscope-model=mock", "--evalscope-eval-type=mock", f"--evalscope-dataset-args={args}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: *{words}*"])


def test_a_spelled_out_metric_list_equal_to_the_benchmarks_is_accepted(pytester: pytest.Pytester, suite_file: Path) -> None:
    args = json.dumps({"gsm8k": {"local_path": str(GSM8K_DIR), "metric_list": ["acc"]}})
    result = pytester.runpytest("--evalscope-model=mock", "--evalscope-eval-type=mock", f"--evalscope-dataset-args={args}",
                                "--evalscope-limit=2", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.OK


# ---------------------------------------------------------------- replies


def test_a_reply_holding_a_lone_surrogate_is_kept_as_the_replacement_character(pytester: pytest.Pytester, suite_file: Path,
                                                                                gsm8k_args: str) -> None:
    question = RECORDS[0]["question"].strip()
    with serve_in_subprocess(ServerConfig(oracle={question: "The answer is \ud800 18"}, max_seconds=60)) as handle:
        result = pytester.runpytest("--evalscope-model=oracle", f"--evalscope-api-url={handle.url}", gsm8k_args,
                                    "--evalscope-limit=1", "--evalscope-work-dir=out")
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), result.stdout.lines[-20:]
    (run,) = (pytester.path / "out").iterdir()
    line = json.loads((run / "predictions/oracle/gsm8k_main.jsonl").read_text(encoding="utf-8"))
    assert "\ufffd" in json.dumps(line, ensure_ascii=False)


# ---------------------------------------------------------------- one run per folder


@pytest.fixture
def lock_holder(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    run = tmp_path / "run"
    code = ("import sys, time; from pathlib import Path; from pytest_evalscope.runlock import RunLock; "
            "RunLock(Path(sys.argv[1])).acquire(); print('held', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(run)], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"held"
    yield run, proc
    proc.kill()
    proc.wait()


def test_one_run_per_folder_and_a_killed_run_leaves_no_lock(pytester: pytest.Pytester, suite_file: Path,
                                                            gsm8k_args: str, lock_holder: Any) -> None:
    run, holder = lock_holder
    args = ["--evalscope-model=mock", "--evalscope-eval-type=mock", gsm8k_args, "--evalscope-limit=2"]
    result = pytester.runpytest(*args, f"--evalscope-work-dir={run}", "--evalscope-no-timestamp")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {run} is in use by another run (pid {holder.pid})*"])
    assert not (run / "predictions").exists()
    holder.kill()  # SIGKILL: no clean-up of its own, and the kernel drops the lock
    holder.wait()
    result = pytester.runpytest(*args, f"--evalscope-work-dir={run}", "--evalscope-no-timestamp")
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
    assert (run / "predictions").is_dir()
    lock = RunLock(run)  # and the finished run let go of it
    lock.acquire()
    lock.release()


def test_two_resumes_of_one_job_do_not_both_run(tmp_path: Path) -> None:
    config = ServiceConfig(port=0, output_dir=str(tmp_path / "service"), max_jobs=4, grace_s=30,
                           eval_defaults={"dataset_args": GSM8K})
    with serve_in_subprocess(ServerConfig(oracle=ORACLE, latency_ms=500, max_seconds=120)) as slow, \
            serve_in_thread(config) as service:
        body = {"model": "oracle", "api_url": slow.url, "datasets": ["gsm8k"], "limit": 40, "eval_batch_size": 2}
        _, first, _ = call("POST", f"{service.url}/api/v1/eval?async=1", body)
        status = f"{service.url}/api/v1/jobs/{first['job_id']}"
        wait_for(status, lambda b: (b["progress"] or {}).get("done", 0) >= 2)
        call("POST", f"{status}/cancel")
        wait_for(status, lambda b: b["state"] != "running")
        code, resumed, _ = call("POST", f"{status}/resume?async=1")
        assert code == 202, resumed
        code, again, _ = call("POST", f"{status}/resume?async=1")
        assert code == 409 and again["field"] == "use_cache" and resumed["job_id"] in again["error"], again
        code, direct, _ = call("POST", f"{service.url}/api/v1/eval?async=1", {**body, "use_cache": first["output_dir"]})
        assert code == 409, direct
        call("POST", f"{service.url}/api/v1/jobs/{resumed['job_id']}/cancel")
        wait_for(f"{service.url}/api/v1/jobs/{resumed['job_id']}", lambda b: b["state"] != "running")


# ---------------------------------------------------------------- what a job process gets


def test_a_job_environment_holds_no_secret_of_the_service() -> None:
    environ = {"PATH": "/usr/bin", "HOME": "/home/svc", "LANG": "C.UTF-8", "LC_ALL": "C", "HF_HOME": "/cache",
               "SERVICE_TOKEN": "t0ken", "OPENAI_API_KEY": "sk-operator", "EVALSCOPE_API_KEY": "sk-operator",
               "AWS_SECRET_ACCESS_KEY": "aws", "HTTPS_PROXY": "t0ken"}
    env = job_environment(environ, ("t0ken",))
    assert env == {"PATH": "/usr/bin", "HOME": "/home/svc", "LANG": "C.UTF-8", "LC_ALL": "C", "HF_HOME": "/cache"}


def test_a_job_sends_the_requests_key_and_never_the_operators(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end: the service runs with the operator's OpenAI key and its bearer token in its
    environment; a job for a request without a key reaches the request's api_url with no key of theirs."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-operator-secret")
    monkeypatch.setenv("SERVICE_TOKEN", "service-bearer-secret")
    seen: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(60)

    def answer_401() -> None:  # a fatal reply: the job stops at its first request
        try:
            while True:
                conn, _ = listener.accept()
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                seen.append(data)
                conn.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                             b"Connection: close\r\n\r\n{}")
                conn.close()
        except OSError:
            pass

    thread = threading.Thread(target=answer_401, daemon=True)
    thread.start()
    config = ServiceConfig(port=0, output_dir=str(tmp_path / "service"), auth_token=os.environ["SERVICE_TOKEN"],
                           eval_defaults={"dataset_args": GSM8K})
    with serve_in_thread(config) as service:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        code, done, _ = call("POST", f"{service.url}/api/v1/eval", {"model": "m", "api_url": url, "datasets": ["gsm8k"],
                                                                   "limit": 1}, token="service-bearer-secret")
    listener.close()
    assert code in (400, 500) and seen, done
    assert all(b"sk-operator-secret" not in request and b"service-bearer-secret" not in request for request in seen)
    assert any(b"authorization: bearer empty" in request.lower() for request in seen)


# ---------------------------------------------------------------- outcomes


def test_a_job_whose_samples_all_errored_is_failed_not_succeeded(tmp_path: Path) -> None:
    config = ServiceConfig(port=0, output_dir=str(tmp_path / "service"), eval_defaults={"dataset_args": GSM8K})
    server = ServerConfig(oracle=ORACLE, fault_rate=1.0, fault_kinds=("500",), fault_attempts=10**6, max_seconds=60)
    with serve_in_subprocess(server) as broken, serve_in_thread(config) as service:
        body = {"model": "oracle", "api_url": broken.url, "datasets": ["gsm8k"], "limit": 4,
                "model_args": {"max_retries": 0}, "ignore_errors": False}
        code, answer, _ = call("POST", f"{service.url}/api/v1/eval", body)
        job = call("GET", f"{service.url}/api/v1/jobs/{answer['job_id']}")[1]
    assert code == 500 and job["state"] == "failed", (answer, job)
    assert "over the error budget" in answer["error"] or "over the error budget" in job["error"], job


def test_a_dead_endpoint_fails_fast_naming_the_url(pytester: pytest.Pytester, suite_file: Path, gsm8k_args: str) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now: connection refused
    for workers in (["-n", "0"], ["-n", "2"]):
        started = time.monotonic()
        result = pytester.runpytest("--evalscope-model=m", f"--evalscope-api-url=http://127.0.0.1:{port}/v1", gsm8k_args,
                                    "--evalscope-limit=200", "--evalscope-eval-batch-size=8", "-p", "no:cacheprovider",
                                    *workers)
        elapsed = time.monotonic() - started
        assert result.ret == pytest.ExitCode.INTERRUPTED, result.stdout.lines[-15:]
        result.stdout.fnmatch_lines([f"*cannot reach http://127.0.0.1:{port}/v1: connection refused*"])
        assert elapsed < 30, elapsed  # 200 samples of retries took 96 s before
        errors = result.parseoutcomes().get("errors", 0)
        assert 1 <= errors <= 2 * 8 * 5, errors  # what was in flight, not one per sample


# ---------------------------------------------------------------- -n 0 and -n N


USER_SUITE = '''
from typing import Any, ClassVar

from pytest_evalscope import Suite
from pytest_evalscope.benchmarks.gsm8k import GSM8K
from pytest_evalscope.registry import register_benchmark


@register_benchmark
class MyGSM(GSM8K):
    name = "mygsm"
    pretty_name = "My GSM"
    description = "GSM8K under another name"
    subset_list: ClassVar[list[str]] = ["custom"]
    default_subset = "custom"

    def load_records(self, subset: str, split: str) -> list[dict[str, Any]]:
        return super().load_records("main", split)


mygsm = Suite("mygsm", dataset_args={"local_path": "%s", "few_shot_num": 0})
'''


def test_a_users_own_benchmark_reports_the_same_with_and_without_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(eval_mygsm=USER_SUITE % GSM8K_DIR)
    reports = []
    for workers in (["-n", "0"], ["-n", "2"]):
        pytester.runpytest("--evalscope-model=mock", "--evalscope-eval-type=mock", "--evalscope-limit=6",
                           "--evalscope-work-dir=out", "-p", "no:cacheprovider", *workers)
        run = sorted((pytester.path / "out").iterdir())[-1]
        report = json.loads((run / "reports/mock/mygsm.json").read_text())
        report.pop("perf_metrics", None)
        report["execution_summary"].pop("cached", None)
        reports.append(report)
    assert reports[0] == reports[1]
    assert reports[0]["dataset_pretty_name"] == "My GSM"
    assert [s["name"] for s in reports[0]["metrics"][0]["categories"][0]["subsets"]] == ["custom"]


def test_without_a_strong_sandbox_code_benchmarks_need_the_operators_consent(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from starlette.testclient import TestClient

    from pytest_evalscope.scoring import sandbox

    body = {**BASE, "datasets": ["humaneval"]}
    if sandbox.strongest_isolation() in ("bwrap", "unshare"):  # this host: code benchmarks are accepted as they are
        app = create_app(ServiceConfig(output_dir=str(tmp_path / "a"), launch=False))
        assert post(TestClient(app), "eval", body)[0] == 202
    # a host where neither bubblewrap nor unshare works (as the probe would find it)
    monkeypatch.setattr(sandbox, "strongest_isolation", lambda python=None: "process")
    client = TestClient(create_app(ServiceConfig(output_dir=str(tmp_path / "b"), launch=False)))
    code, answer = post(client, "eval", body)
    assert code == 400 and answer["field"] == "datasets" and "--sandbox-isolation process" in answer["error"], answer
    assert post(client, "eval", BASE)[0] == 202  # benchmarks that run no code are unaffected


# ---------------------------------------------------------------- found by the second review


@pytest.mark.parametrize(("args", "key"), [
    ({"gsm8k": {"local_path": "/tmp", "eval_split": "../secret/secret", "few_shot_num": 0}}, "eval_split"),
    ({"gsm8k": {"local_path": "/tmp", "train_split": "/etc/passwd"}}, "train_split"),
    ({"hellaswag": {"local_path": "/tmp", "subset_list": ["../../../../tmp/PWNED"]}}, "subset_list"),
    ({"hellaswag": {"local_path": "/tmp", "subset_list": "../x"}}, "subset_list"),
])
def test_split_and_subset_names_cannot_climb_out(client: Any, pytester: pytest.Pytester, tmp_path: Path,
                                                 args: dict[str, Any], key: str) -> None:
    bench = next(iter(args))
    args = {bench: {**args[bench], "local_path": str(tmp_path / "data")}}  # inside the service's read root
    code, answer = post(client, "eval", {**BASE, "datasets": [bench], "dataset_args": args})
    assert code == 400 and answer["field"] == "dataset_args" and key in answer["error"], answer
    pytester.makepyfile(**{f"eval_{bench}": f"from pytest_evalscope import Suite\n\n{bench} = Suite('{bench}')\n"})
    result = pytester.runpytest("--evalscope-model=mock", "--evalscope-eval-type=mock",
                                "--evalscope-dataset-args=" + json.dumps(args), "--evalscope-work-dir=out")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: *{key}*plain name*"])


def test_a_request_cannot_run_a_local_checkpoint_or_remote_code_unless_the_operator_allows(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    client = TestClient(create_app(ServiceConfig(output_dir=str(tmp_path / "a"), launch=False)))
    body = {**BASE, "eval_type": "checkpoint", "model": "someone/model", "model_args": {"trust_remote_code": True}}
    code, answer = post(client, "eval", body)
    assert code == 400 and answer["field"] == "eval_type" and "--allow-checkpoints" in answer["error"], answer
    allowing = TestClient(create_app(ServiceConfig(output_dir=str(tmp_path / "b"), launch=False, allow_checkpoints=True)))
    code, answer = post(allowing, "eval", body)
    assert code == 400 and answer["field"] == "model_args" and "trust_remote_code" in answer["error"], answer
    code, answer = post(client, "eval", {**BASE, "model_args": {"http_client": "x"}})
    assert code == 400 and answer["field"] == "model_args", answer


def test_the_operator_can_confine_the_urls_a_request_sends_to(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    config = ServiceConfig(output_dir=str(tmp_path), launch=False, allow_urls=["http://127.0.0.1:9/"])
    client = TestClient(create_app(config))
    assert post(client, "eval", BASE)[0] == 202
    for endpoint, body, field in (
            ("eval", {**BASE, "api_url": "http://127.0.0.1:9000/v1"}, "api_url"),
            ("eval", {**BASE, "judge_model_args": {"model_id": "j", "api_url": "http://10.0.0.1/v1"}}, "judge_model_args"),
            ("perf", {**PERF, "url": "http://127.0.0.1:18090/health"}, "url")):
        code, answer = post(client, endpoint, body)
        assert code == 400 and answer["field"] == field and "--allow-url" in answer["error"], answer


@pytest.mark.parametrize(("endpoint", "body", "field"), [
    ("eval", {**BASE, "limit": 10**400}, "limit"),
    ("eval", {**BASE, "max_errors": "1e400"}, "max_errors"),
    ("eval", {**BASE, "thresholds": {"gsm8k": 10**400}}, "thresholds"),
    ("eval", {**BASE, "datasets": ["humaneval"], "dataset_args": {"humaneval": {"review_timeout": 10**400}}}, "dataset_args"),
    ("eval", {**BASE, "model_args": {"max_retries": 10**6}}, "model_args"),
    ("perf", {**PERF, "sleep_interval": 1e308, "number": [1, 1]}, "sleep_interval"),
    ("perf", {**PERF, "total_timeout": 1e308}, "total_timeout"),
    ("perf", {**PERF, "duration": 1e9}, "duration"),
    ("perf", {**PERF, "number": list(range(1, 2000))}, "number"),
    ("perf", {**PERF, "name": ".."}, "name"),
])
def test_more_values_a_request_could_abuse(client: Any, endpoint: str, body: dict[str, Any], field: str) -> None:
    code, answer = post(client, endpoint, body)
    assert code == 400 and answer["field"] == field, answer


def test_secrets_in_headers_and_urls_are_masked_in_what_the_service_shows(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    client = TestClient(create_app(ServiceConfig(output_dir=str(tmp_path), launch=False)))
    body = {**BASE, "api_url": "http://127.0.0.1:9/v1?key=query-secret",
            "model_args": {"default_headers": {"Ocp-Apim-Subscription-Key": "azure-secret", "X-Auth": "auth-secret"}}}
    code, answer = post(client, "eval", body)
    assert code == 202, answer
    shown = client.get(f"/api/v1/jobs/{answer['job_id']}").text
    stored = (tmp_path / ".jobs" / answer["job_id"] / "job.json").read_text()
    for secret in ("query-secret", "azure-secret", "auth-secret"):
        assert secret not in shown and secret not in stored
    code, answer = post(client, "perf", {**PERF, "url": "http://u:perf-password@127.0.0.1:9/v1/chat/completions"})
    assert code == 202 and "perf-password" not in json.dumps(answer), answer


def test_a_hostile_reply_of_backticks_is_extracted_in_linear_time() -> None:
    from pytest_evalscope.scoring.code_extract import extract_code

    started = time.monotonic()
    extract_code("```" * 300_000)  # 900k characters: quadratic scanning took minutes
    assert time.monotonic() - started < 20


def test_a_request_cannot_choose_where_verdicts_are_written_nor_read_runs_outside_the_roots(client: Any) -> None:
    code, answer = post(client, "eval", {**BASE, "judge_cache": "/etc/cron.d"})
    assert code == 400 and answer["field"] == "judge_cache" and "operator" in answer["error"], answer
    arena = {"general_arena": {"extra_params": {"models": [{"name": "a", "report_path": "/etc/x/reports/a"},
                                                           {"name": "b", "report_path": "/etc/y/reports/b"}]}}}
    code, answer = post(client, "eval", {**BASE, "datasets": ["general_arena"], "dataset_args": arena})
    assert code == 400 and answer["field"] == "dataset_args.general_arena.extra_params.models", answer
    assert "read roots" in answer["error"]
