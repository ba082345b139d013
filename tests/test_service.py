"""The HTTP service end to end: a real uvicorn server on 127.0.0.1 driven over HTTP, jobs that run real
pytest sessions and perf runs in their own processes, against the loopback oracle server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from pytest_evalscope.params import INERT_KEYS, PARAMS
from pytest_evalscope.perf.args import PERF_PARAMS
from pytest_evalscope.service import ServiceConfig, create_app, serve_in_thread
from pytest_evalscope.service.cli import auth_token, configure_parser
from pytest_evalscope.service.server import ServiceHandle
from pytest_evalscope.testing.gsm8k_oracle import build_oracle, read_records
from pytest_evalscope.testing.server import ServerConfig, ServerHandle, serve_in_subprocess

from .conftest import GSM8K_DIR
from .test_mcq import iquiz_records

ORACLE, _ = build_oracle(read_records(GSM8K_DIR / "test.jsonl")) if GSM8K_DIR.is_dir() else ({}, [])
SECRET = "sk-service-test-7f3a9c"
GSM8K = {"gsm8k": {"local_path": str(GSM8K_DIR)}}


def call(method: str, url: str, body: Any = None, token: str | None = None, raw: bytes | None = None,
         timeout: float = 120) -> tuple[int, dict[str, Any], dict[str, str]]:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read()), {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), {k.lower(): v for k, v in exc.headers.items()}


def wait_for(url: str, predicate: Any, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        _, body, _ = call("GET", url)
        if predicate(body):
            return body
        assert time.monotonic() < deadline, f"timed out waiting on {url}: {body}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def oracle() -> Iterator[ServerHandle]:
    with serve_in_subprocess(ServerConfig(oracle=ORACLE, max_seconds=300)) as handle:
        yield handle


@pytest.fixture(scope="module")
def iquiz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("iquiz")
    for subset in ("IQ", "EQ"):
        (root / subset).mkdir()
        lines = [json.dumps({k: r[k] for k in ("question", "choices", "answer", "level")}, ensure_ascii=False)
                 for r in iquiz_records(subset)]
        (root / subset / "test.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, iquiz_dir: Path) -> Iterator[ServiceHandle]:
    # The operator's defaults point the benchmarks at local data, so EvalScope's examples run offline.
    defaults = {"dataset_args": {**GSM8K, "iquiz": {"local_path": str(iquiz_dir)}}}
    config = ServiceConfig(port=0, output_dir=str(tmp_path_factory.mktemp("service")), max_jobs=2,
                           max_body_bytes=64 * 1024, grace_s=30, eval_defaults=defaults)
    with serve_in_thread(config) as handle:
        yield handle


def root_of(handle: ServiceHandle) -> Path:
    return handle.server.config.app.state.service.root


def eval_body(handle: ServerHandle, **extra: Any) -> dict[str, Any]:
    return {"model": "oracle", "api_url": handle.url, "datasets": ["gsm8k"], "limit": 3, **extra}


# ---------------------------------------------------------------- discovery


def test_health_params_and_openapi_come_from_the_parameter_tables(service: ServiceHandle) -> None:
    code, health, _ = call("GET", f"{service.url}/health")
    assert code == 200 and health["status"] == "ok" and health["service"] == "pytest-evalscope" and health["timestamp"]
    _, listing, _ = call("GET", f"{service.url}/api/v1/eval/params")
    rows = {row["name"]: row for row in listing["parameters"]}
    assert list(rows) == [p.name for p in PARAMS]
    assert {n for n, r in rows.items() if r["required"]} == {"model", "datasets", "api_url"}
    assert rows["limit"]["type"] == ["number", "null"] and rows["repeats"]["default"] == 1
    _, perf, _ = call("GET", f"{service.url}/api/v1/perf/params")
    perf_rows = {row["name"]: row for row in perf["parameters"]}
    assert [p.name for p in PERF_PARAMS] == list(perf_rows)[:len(PERF_PARAMS)]
    assert {n for n, r in perf_rows.items() if r["required"]} == {"model", "url"}
    assert perf_rows["parallel"]["type"] == ["array", "integer"] and perf_rows["stream"]["default"] is True
    _, doc, _ = call("GET", f"{service.url}/openapi.json")
    assert doc["openapi"].startswith("3.1")
    eval_schema = doc["components"]["schemas"]["EvalRequest"]
    assert set(eval_schema["properties"]) == {p.name for p in PARAMS} | INERT_KEYS
    assert set(doc["components"]["schemas"]["PerfRequest"]["properties"]) == set(perf_rows)
    assert {"/api/v1/eval", "/api/v1/perf", "/api/v1/jobs/{job_id}/resume"} <= set(doc["paths"])


# ---------------------------------------------------------------- eval


def test_eval_sync_returns_reports_and_keeps_the_api_key_out_of_everything(
        service: ServiceHandle, oracle: ServerHandle) -> None:
    code, body, _ = call("POST", f"{service.url}/api/v1/eval",
                         eval_body(oracle, api_key=SECRET, model_args={"default_headers": {"X-Api-Key": SECRET}}))
    assert code == 200, body
    assert body["status"] == "success" and body["message"] == "Evaluation completed"
    assert body["result"]["gsm8k"]["metrics"][0]["num"] == 3
    run_dir = Path(body["output_dir"])
    assert (run_dir / "reports" / "oracle" / "gsm8k.json").is_file()
    assert root_of(service) in run_dir.parents
    job = body["job_id"]
    responses = [json.dumps(body)] + [json.dumps(call("GET", f"{service.url}{path}")[1]) for path in
                                      ("/api/v1/jobs", f"/api/v1/jobs/{job}", f"/api/v1/jobs/{job}/log")]
    assert all(SECRET not in text for text in responses)
    files = [p for p in root_of(service).rglob("*") if p.is_file()]
    assert any(p.name == "task_config.yaml" for p in files) and any(p.name == "job.json" for p in files)
    assert [p for p in files if SECRET in p.read_text(encoding="utf-8", errors="replace")] == []


def test_eval_async_reports_progress_log_pages_and_the_report(service: ServiceHandle, oracle: ServerHandle) -> None:
    code, accepted, headers = call("POST", f"{service.url}/api/v1/eval?async=true", eval_body(oracle, limit=4))
    assert code == 202 and accepted["state"] == "running"
    assert headers["location"] == f"/api/v1/jobs/{accepted['job_id']}"
    status_url = f"{service.url}/api/v1/jobs/{accepted['job_id']}"
    done = wait_for(status_url, lambda b: b["state"] != "running")
    assert done["state"] == "succeeded", done
    assert done["progress"]["state"] == "finished" and done["progress"]["done"] == done["progress"]["total"] == 4
    assert done["result"]["gsm8k"]["metrics"][0]["num"] == 4
    _, page, _ = call("GET", f"{status_url}/log?start_line=1&page=2")
    assert page["head_line"] == 1 and page["tail_line"] == 3 and page["total_lines"] > 3
    assert len(page["text"].splitlines()) == 2
    _, listing, _ = call("GET", f"{service.url}/api/v1/jobs")
    assert accepted["job_id"] in {j["job_id"] for j in listing["jobs"]}


def test_cancel_keeps_finished_samples_resume_skips_them_and_a_crash_stays_in_its_job(
        service: ServiceHandle) -> None:
    # 40 samples two at a time, 1 s each: the job runs ~20 s, long enough to be cancelled on a busy host
    with serve_in_subprocess(ServerConfig(oracle=ORACLE, latency_ms=1000, max_seconds=240)) as slow:
        body = eval_body(slow, limit=40, eval_batch_size=2)
        _, first, _ = call("POST", f"{service.url}/api/v1/eval?async=1", body)
        _, second, _ = call("POST", f"{service.url}/api/v1/eval?async=1", body)
        code, busy, headers = call("POST", f"{service.url}/api/v1/eval?async=1", body)
        assert code == 429 and busy["status"] == "error" and headers["retry-after"]
        # a job process that dies takes nothing else with it
        second_job = service.server.config.app.state.service.jobs.get(second["job_id"])
        os.kill(second_job.proc.pid, signal.SIGKILL)
        status_url = f"{service.url}/api/v1/jobs/{first['job_id']}"
        wait_for(status_url, lambda b: (b["progress"] or {}).get("done", 0) >= 2)
        code, cancelled, _ = call("POST", f"{status_url}/cancel")
        assert code == 200 and cancelled["job_id"] == first["job_id"]
        final = wait_for(status_url, lambda b: b["state"] != "running")
        log = call("GET", f"{status_url}/log")[1]["text"][-3000:]
        assert final["state"] == "cancelled" and final["progress"]["state"] == "interrupted", (final, log)
        assert final["progress"]["done"] < 40, log
        crashed = wait_for(f"{service.url}/api/v1/jobs/{second['job_id']}", lambda b: b["state"] != "running")
        assert crashed["state"] == "failed" and call("GET", f"{service.url}/health")[0] == 200
        run_dir = Path(final["output_dir"])
        cached = sum(len(p.read_text().splitlines()) for p in (run_dir / ".cache").glob("replies-*.jsonl"))
        assert cached >= 2 and (run_dir / "predictions").is_dir()
        before = slow.stats()["requests"]
        code, resumed, _ = call("POST", f"{status_url}/resume")
        assert code == 200 and resumed["status"] == "success", resumed
        assert resumed["output_dir"] == final["output_dir"]
        assert resumed["result"]["gsm8k"]["metrics"][0]["num"] == 40
        assert slow.stats()["requests"] - before == 40 - cached  # finished samples were not asked again
        assert call("POST", f"{status_url}/cancel")[0] == 409


# ---------------------------------------------------------------- perf


def test_perf_sync_and_async(service: ServiceHandle, oracle: ServerHandle) -> None:
    body = {"model": "oracle", "url": f"{oracle.url}/chat/completions", "number": 6, "parallel": 2,
            "prompt": "hello", "api_key": SECRET}
    code, sync, _ = call("POST", f"{service.url}/api/v1/perf", body)
    assert code == 200 and sync["status"] == "success", sync
    assert sync["result"]["points"][0]["scalars"]["succeeded"] == 6 and "parallel_2_number_6" in sync["results"]
    assert SECRET not in json.dumps(sync)
    code, accepted, _ = call("POST", f"{service.url}/api/v1/perf?async=true", {**body, "number": [4, 4], "parallel": [1, 2],
                                                                              "sleep_interval": 0})
    assert code == 202
    done = wait_for(f"{service.url}/api/v1/jobs/{accepted['job_id']}", lambda b: b["state"] != "running")
    assert done["state"] == "succeeded" and len(done["result"]["points"]) == 2
    progress = done["progress"]
    assert (progress["state"], progress["points"], progress["points_done"]) == ("finished", 2, 2), progress
    assert progress["point"] == "parallel_2_number_4" and progress["done"] == progress["ok"] == progress["total"] == 4
    assert SECRET not in json.dumps(done)
    files = [p for p in root_of(service).rglob("*") if p.is_file()]
    assert any(p.name == "benchmark_args.json" for p in files)
    assert [p for p in files if SECRET in p.read_text(encoding="utf-8", errors="replace")] == []


def test_a_run_that_refuses_its_input_answers_400_with_the_sessions_reason(service: ServiceHandle) -> None:
    body = {"model": "m", "api_url": "http://127.0.0.1:9/v1", "datasets": ["gsm8k"], "limit": 2,
            "dataset_args": {"gsm8k": {"local_path": "/nonexistent/gsm8k"}}}
    code, answer, _ = call("POST", f"{service.url}/api/v1/eval", body)
    assert code == 400 and "local dataset path '/nonexistent/gsm8k' does not exist" in answer["error"]
    assert call("GET", f"{service.url}/api/v1/jobs/{answer['job_id']}")[1]["state"] == "failed"


# ---------------------------------------------------------------- EvalScope's documented examples


def test_evalscope_docs_curl_and_requests_examples(service: ServiceHandle, oracle: ServerHandle) -> None:
    """docs/en/user_guides/service.md, with localhost:9000 and the DashScope URLs pointed at loopback."""
    api_url, chat_url = oracle.url, f"{oracle.url}/chat/completions"
    curl_eval = ["curl", "-sS", "-X", "POST", f"{service.url}/api/v1/eval", "-H", "Content-Type: application/json",
                 "-d", json.dumps({"model": "qwen-plus", "api_url": api_url, "api_key": "your-api-key",
                                   "datasets": ["gsm8k"], "limit": 5})]
    curl_perf = ["curl", "-sS", "-X", "POST", f"{service.url}/api/v1/perf", "-H", "Content-Type: application/json",
                 "-d", json.dumps({"model": "qwen-plus", "url": chat_url, "api": "openai", "number": 50, "parallel": 5})]
    running = [subprocess.Popen(curl_eval, stdout=subprocess.PIPE)]

    eval_response = requests.post(
        f"{service.url}/api/v1/eval",
        json={
            "model": "qwen-plus",
            "api_url": api_url,
            "api_key": "your-api-key",
            "datasets": ["gsm8k", "iquiz"],
            "limit": 10,
            "generation_config": {"temperature": 0.0, "max_tokens": 2048},
        },
    )
    perf_response = requests.post(
        f"{service.url}/api/v1/perf",
        json={"model": "qwen-plus", "url": chat_url, "api": "openai", "number": 100, "parallel": 10, "dataset": "openqa"},
    )
    curl_eval_out = json.loads(running[0].communicate(timeout=120)[0])
    curl_perf_out = json.loads(subprocess.run(curl_perf, capture_output=True, check=True, timeout=60).stdout)
    assert curl_eval_out["status"] == "success" and curl_eval_out["result"]["gsm8k"]["metrics"][0]["num"] == 5
    assert eval_response.status_code == 200, eval_response.text
    assert set(eval_response.json()["result"]) == {"gsm8k", "iquiz"}
    assert perf_response.json()["result"]["points"][0]["scalars"]["succeeded"] == 100
    assert curl_perf_out["result"]["points"][0]["scalars"]["succeeded"] == 50


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"model": "m", "api_url": "http://127.0.0.1:1/v1"}, "datasets", "required"),
    ({"model": "m", "datasets": ["gsm8k"], "api_url": "http://127.0.0.1:1/v1", "limt": 3}, "limt", "did you mean 'limit'"),
    ({"model": "m", "datasets": ["gsm8k"], "api_url": "http://127.0.0.1:1/v1", "limit": "many"}, "limit", "expected"),
    ({"model": "m", "datasets": ["gsm8k"], "api_url": "http://127.0.0.1:1/v1", "repeats": "2"}, "repeats", "expected integer"),
    ({"model": "m", "datasets": ["gsm8k"], "api_url": "http://127.0.0.1:1/v1", "repeats": 0}, "repeats", "at least 1"),
    ({"model": "m", "datasets": ["gsm8k"], "api_url": "ftp://x"}, "api_url", "http(s) URL"),
    ({"model": "m", "datasets": ["gsm8kk"], "api_url": "http://127.0.0.1:1/v1"}, "datasets", "did you mean 'gsm8k'"),
    ({"model": "m", "datasets": ["gsm8k"], "api_url": "http://127.0.0.1:1/v1", "work_dir": "../../x"}, "work_dir", "outside"),
    ({"model": "m", "datasets": ["gsm8k"], "api_url": "http://127.0.0.1:1/v1", "use_cache": "/tmp"}, "use_cache", "outside"),
    (["not", "an", "object"], None, "JSON object"),
])
def test_eval_400_names_the_field(service: ServiceHandle, body: Any, field: str | None, words: str) -> None:
    code, answer, _ = call("POST", f"{service.url}/api/v1/eval", body)
    assert code == 400 and answer["status"] == "error" and answer["field"] == field and words in answer["error"]
    assert "\n" not in answer["error"]


@pytest.mark.parametrize(("body", "field"), [
    ({"url": "http://127.0.0.1:1/v1/chat/completions"}, "model"),
    ({"model": "m", "url": "http://127.0.0.1:1/v1/chat/completions", "parallel": -1}, "parallel"),
    ({"model": "m", "url": "http://127.0.0.1:1/v1/chat/completions", "temperature": 3}, "temperature"),
    ({"model": "m", "url": "http://127.0.0.1:1/v1/chat/completions", "stream": "yes please"}, "stream"),
    ({"model": "m", "url": "http://127.0.0.1:1/v1/chat/completions", "paralel": 2}, "paralel"),
    ({"model": "m", "url": "http://127.0.0.1:1/v1/chat/completions", "outputs_dir": "/"}, "outputs_dir"),
])
def test_perf_400_names_the_field(service: ServiceHandle, body: dict[str, Any], field: str) -> None:
    code, answer, _ = call("POST", f"{service.url}/api/v1/perf", body)
    assert code == 400 and answer["field"] == field, answer


def test_other_error_codes(service: ServiceHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    code, answer, _ = call("POST", f"{service.url}/api/v1/eval", raw=b"{not json")
    assert code == 400 and "not valid JSON" in answer["error"]
    assert call("POST", f"{service.url}/api/v1/eval?async=maybe", {})[1]["field"] == "async"
    code, answer, _ = call("GET", f"{service.url}/api/v2/nothing")
    assert code == 404 and "POST /api/v1/eval" in answer["endpoints"]
    code, answer, _ = call("GET", f"{service.url}/api/v1/jobs/no-such-job")
    assert code == 404 and "no-such-job" in answer["error"]
    assert call("POST", f"{service.url}/api/v1/jobs/no-such-job/cancel")[0] == 404
    code, answer, _ = call("POST", f"{service.url}/api/v1/eval", {"model": "m" * 70_000})
    assert code == 413 and answer["status"] == "error"
    assert call("GET", f"{service.url}/api/v1/jobs/x/log?page=0")[0] in (400, 404)

    def boom(*args: Any) -> None:
        raise RuntimeError("disk on fire at /secret/path")

    monkeypatch.setattr("pytest_evalscope.service.app.validate_eval", boom)
    code, answer, _ = call("POST", f"{service.url}/api/v1/eval", {"model": "m"})
    assert code == 500 and answer == {"status": "error", "field": None,
                                      "error": "internal error (RuntimeError); the service log has the details"}


def test_debug_500_carries_the_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from starlette.testclient import TestClient

    monkeypatch.setattr("pytest_evalscope.service.app.eval_params", lambda: 1 / 0)
    client = TestClient(create_app(ServiceConfig(output_dir=str(tmp_path), debug=True)), raise_server_exceptions=False)
    answer = client.get("/api/v1/eval/params")
    assert answer.status_code == 500 and "ZeroDivisionError" in answer.json()["traceback"]


def test_read_roots_confine_every_path_a_request_would_read(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    data, out = tmp_path / "data", tmp_path / "out"
    (data / "gsm8k").mkdir(parents=True)
    config = ServiceConfig(output_dir=str(out), read_roots=[str(data)], launch=False,
                           eval_defaults={"dataset_dir": "/operator/choice/is/not/checked"})
    client = TestClient(create_app(config), raise_server_exceptions=False)
    base = {"model": "m", "api_url": "http://127.0.0.1:9/v1", "datasets": ["gsm8k"], "limit": 1}

    def post(endpoint: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        answer = client.post(f"/api/v1/{endpoint}?async=true", json=body)
        return answer.status_code, answer.json()

    refused = [
        ("eval", {**base, "dataset_args": {"gsm8k": {"local_path": "/etc"}}}, "dataset_args.gsm8k.local_path"),
        ("eval", {**base, "dataset_args": {"gsm8k": {"local_path": f"{data}/../../etc"}}}, "dataset_args.gsm8k.local_path"),
        ("eval", {**base, "dataset_args": {"gsm8k": {"dataset_id": "../../../etc"}}}, "dataset_args.gsm8k.dataset_id"),
        ("eval", {**base, "dataset_dir": "~/.cache"}, "dataset_dir"),
        ("eval", {**base, "api_url": None, "eval_type": "checkpoint", "model": "/root/model.gguf"}, "model"),
        ("eval", {**base, "model_args": {"chat_template": "/etc/passwd"}}, "model_args.chat_template"),
        ("perf", {"model": "m", "url": "http://127.0.0.1:9/v1/chat/completions", "dataset": "line_by_line",
                  "dataset_path": "/etc/passwd"}, "dataset_path"),
        ("perf", {"model": "m", "url": "http://127.0.0.1:9/v1/chat/completions", "tokenizer_path": "/root"},
         "tokenizer_path"),
    ]
    for endpoint, body, field in refused:
        code, answer = post(endpoint, body)
        assert code == 400 and answer["field"] == field, (body, answer)
        assert "outside the service's read roots" in answer["error"] and str(data) in answer["error"]

    allowed = [
        ("eval", {**base, "dataset_args": {"gsm8k": {"local_path": str(data / "gsm8k")}}}),
        ("eval", {**base, "dataset_args": {"gsm8k": {"dataset_id": "openai/gsm8k"}}}),  # a hub id, not a path
        ("eval", {**base, "chat_template": "{{ messages[0]['content'] }}"}),  # a template, not a path
    ]
    for endpoint, body in allowed:
        code, answer = post(endpoint, body)
        assert code in (200, 202), (body, answer)

    from pytest_evalscope.params import ConfigError
    from pytest_evalscope.service.cli import read_roots

    assert configure_parser(__import__("argparse").ArgumentParser()).parse_args(
        ["--read-root", str(data), "--read-root", "/srv"]).read_roots == [str(data), "/srv"]
    with pytest.raises(ConfigError, match="--read-root: '/nonexistent/data' is not a folder"):
        read_roots(["/nonexistent/data"])

    # without read roots the service reads what the request names (the default, as EvalScope's does)
    open_client = TestClient(create_app(ServiceConfig(output_dir=str(out), launch=False)), raise_server_exceptions=False)
    answer = open_client.post("/api/v1/eval?async=true", json={**base, "dataset_args": {"gsm8k": {"local_path": "/etc"}}})
    assert answer.status_code in (200, 202), answer.json()


# ---------------------------------------------------------------- auth and the command line


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_service_with_bearer_token(tmp_path: Path) -> None:
    port, token = _free_port(), "t0ken-for-tests"
    env = {**os.environ, "SVC_TOKEN": token}
    proc = subprocess.Popen([sys.executable, "-m", "pytest_evalscope.service", "--port", str(port), "--output-dir",
                             str(tmp_path), "--auth-token-env", "SVC_TOKEN"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                assert call("GET", f"{base}/health", timeout=2)[0] == 200  # /health stays open
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()
                time.sleep(0.1)
        code, answer, headers = call("GET", f"{base}/api/v1/jobs")
        assert code == 401 and headers["www-authenticate"] == "Bearer"
        assert call("GET", f"{base}/api/v1/jobs", token="wrong")[0] == 401
        assert call("GET", f"{base}/api/v1/jobs", token=token)[:2] == (200, {"jobs": []})
        _, doc, _ = call("GET", f"{base}/openapi.json", token=token)
        assert doc["security"] == [{"bearer": []}]
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) in (0, -signal.SIGINT)  # uvicorn re-raises the SIGINT it handled


def test_token_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parser = configure_parser(__import__("argparse").ArgumentParser())
    (tmp_path / "token").write_text("from-file\n")
    assert auth_token(parser.parse_args(["--auth-token-file", str(tmp_path / "token")])) == "from-file"
    monkeypatch.setenv("TOK", "from-env")
    assert auth_token(parser.parse_args(["--auth-token-env", "TOK"])) == "from-env"
    assert auth_token(parser.parse_args([])) is None
    with pytest.raises(ValueError, match="unset or empty"):
        auth_token(parser.parse_args(["--auth-token-env", "NOT_SET_ANYWHERE_42"]))


# ---------------------------------------------------------------- restarts


def test_a_restarted_service_reloads_its_jobs_and_resumes_an_interrupted_one(tmp_path: Path, oracle: ServerHandle) -> None:
    root = tmp_path / "service"
    config = ServiceConfig(port=0, output_dir=str(root), max_jobs=2, grace_s=5, eval_defaults={"dataset_args": GSM8K})
    with serve_in_thread(config) as first:
        code, accepted, _ = call("POST", f"{first.url}/api/v1/eval?async=1", {**eval_body(oracle, limit=4), "api_key": SECRET})
        assert code == 202
        done = wait_for(f"{first.url}/api/v1/jobs/{accepted['job_id']}", lambda b: b["state"] != "running")
        assert done["state"] == "succeeded", done
    # A job the service was running when it died: its record says running, its process is gone.
    record = json.loads((root / ".jobs" / accepted["job_id"] / "job.json").read_text())
    assert SECRET not in json.dumps(record)
    lost = "20991231_000000_dead00"
    (root / ".jobs" / lost).mkdir()
    (root / ".jobs" / lost / "job.json").write_text(json.dumps(
        {**record, "job_id": lost, "state": "running", "finished": None, "exit_code": None, "pid": 2 ** 22 + 1}))
    with serve_in_thread(config) as second:
        _, listing, _ = call("GET", f"{second.url}/api/v1/jobs")
        states = {job["job_id"]: job["state"] for job in listing["jobs"]}
        assert states == {accepted["job_id"]: "succeeded", lost: "failed"}
        _, reloaded, _ = call("GET", f"{second.url}/api/v1/jobs/{accepted['job_id']}")
        assert reloaded["result"]["gsm8k"]["metrics"][0]["num"] == 4 and reloaded["config"]["api_key"] is None
        _, interrupted, _ = call("GET", f"{second.url}/api/v1/jobs/{lost}")
        assert interrupted["error"].startswith("interrupted: the service stopped while the job ran")
        before = oracle.stats()["requests"]
        code, resumed, _ = call("POST", f"{second.url}/api/v1/jobs/{lost}/resume", {"api_key": SECRET})
        assert code == 200 and resumed["status"] == "success", resumed
        assert resumed["output_dir"] == record["output_dir"]
        assert oracle.stats()["requests"] == before  # every sample came from the earlier run's replies


def test_a_job_that_outlives_its_service_is_watched_again(tmp_path: Path) -> None:
    from pytest_evalscope.service.jobs import RUNNING, SUCCEEDED, JobManager

    with serve_in_subprocess(ServerConfig(oracle=ORACLE, latency_ms=300, max_seconds=120)) as slow:
        first = JobManager(tmp_path, max_jobs=1)
        job = first.submit("eval", {"model": "oracle", "api_url": slow.url, "datasets": ["gsm8k"], "limit": 8,
                                    "eval_batch_size": 2, "dataset_args": GSM8K}, SECRET)
        # the service process dies here (nothing stops the job); a new one starts on the same root
        second = JobManager(tmp_path, max_jobs=1)
        again = second.get(job.id)
        assert again.state == RUNNING and again.pid == job.pid and again.api_key is None
        assert again.done.wait(90) and again.state == SUCCEEDED
        assert again.result["gsm8k"]["metrics"][0]["num"] == 8
        assert json.loads((again.job_dir / "job.json").read_text())["state"] == SUCCEEDED
        first.shutdown(wait_s=5)


def test_cancel_reaches_a_job_started_with_sigint_ignored(tmp_path: Path) -> None:
    """A service run in the background (`nohup ... &`) hands its children an ignored SIGINT."""
    from pytest_evalscope.service.jobs import CANCELLED, JobManager

    with serve_in_subprocess(ServerConfig(oracle=ORACLE, latency_ms=1000, max_seconds=120)) as slow:
        manager = JobManager(tmp_path, max_jobs=1, grace_s=60)
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:  # the job process is forked while this process ignores SIGINT, and inherits that
            job = manager.submit("eval", {"model": "oracle", "api_url": slow.url, "datasets": ["gsm8k"], "limit": 30,
                                          "eval_batch_size": 2, "dataset_args": GSM8K}, None)
        finally:
            signal.signal(signal.SIGINT, previous)
        deadline = time.monotonic() + 60
        while ((job.progress() or {}).get("done") or 0) < 2:
            assert time.monotonic() < deadline and job.state == "running", job.summary()
            time.sleep(0.1)
        manager.cancel(job)
        assert job.done.wait(30), "SIGINT did not stop the job (SIGKILL would only come after 60 s)"
        progress = job.progress()
        assert job.state == CANCELLED and progress["state"] == "interrupted" and progress["done"] < 30


def test_a_read_root_given_through_a_symlinked_folder_admits_paths_written_through_it(tmp_path: Path) -> None:
    # ../shared beside a checkout is often a symlink: the operator's --read-root and the request's paths
    # both name it, and the real files lie under its target
    from starlette.testclient import TestClient

    real, outside = tmp_path / "real", tmp_path / "outside"
    (real / "data" / "gsm8k").mkdir(parents=True)
    (outside / "gsm8k").mkdir(parents=True)
    (tmp_path / "link").symlink_to(real)
    (real / "data" / "escape").symlink_to(outside)  # a symlink inside the root, pointing out of it
    config = ServiceConfig(output_dir=str(tmp_path / "out"), read_roots=[str(tmp_path / "link" / "data")], launch=False)
    client = TestClient(create_app(config), raise_server_exceptions=False)
    base = {"model": "m", "api_url": "http://127.0.0.1:9/v1", "datasets": ["gsm8k"], "limit": 1}
    for path, code in ((tmp_path / "link" / "data" / "gsm8k", 202), (real / "data" / "gsm8k", 202),
                       (tmp_path / "link" / "data" / "escape" / "gsm8k", 400), (outside / "gsm8k", 400)):
        answer = client.post("/api/v1/eval?async=true", json={**base, "dataset_args": {"gsm8k": {"local_path": str(path)}}})
        assert answer.status_code == code, (path, answer.json())
