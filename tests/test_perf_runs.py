"""End-to-end perf runs against the stream server on 127.0.0.1: tokens, errors, load models, outputs, gates."""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import pytest

from pytest_evalscope import cli
from pytest_evalscope.perf import run_perf
from pytest_evalscope.testing.stream_server import StreamServerConfig, serve_in_thread


def perf(url, tmp_path, **kw):
    settings = {"url": url, "model": "m", "outputs_dir": str(tmp_path), "plots": False, "progress": False,
                "sleep_interval": 0, "total_timeout": 30, **kw}
    return run_perf(settings, echo=False)


def serve(**kw):
    return serve_in_thread(StreamServerConfig(max_seconds=30, **kw))


@pytest.mark.parametrize(("server", "run", "tokens", "source", "chunk_source"), [
    ({"tokens_per_chunk": 3, "output_tokens": 10}, {}, 10, "usage", "uniform"),
    ({"tokens_per_chunk": 3, "output_tokens": 10, "usage": "none", "done_line": False}, {}, 4, "chunks", "uniform"),
    ({"tokens_per_chunk": 3, "output_tokens": 10, "role_chunk": False},
     {"extra_args": {"stream_options": {"include_usage": True, "continuous_usage_stats": True}}}, 10, "usage",
     "usage_per_chunk"),
    ({"output_tokens": 50, "reasoning_tokens": 4}, {"max_tokens": 7}, 7, "usage", "uniform"),
    ({"output_tokens": 12}, {"stream": False}, 12, "usage", ""),
    ({"output_tokens": 9, "tokens_per_chunk": 2}, {"api": "openai_completions"}, 9, "usage", "uniform"),
])
def test_token_counts_equal_the_servers(tmp_path, server, run, tokens, source, chunk_source):
    with serve(**server) as handle:
        url = handle.url.replace("chat/completions", "completions") if run.get("api") == "openai_completions" else handle.url
        result = perf(url, tmp_path, parallel=2, number=6, **run)
    s = result["points"][0]
    assert s["scalars"]["succeeded"] == 6 and result["error"] is None
    assert s["token_sources"] == {source: 6}
    assert s["metrics"]["output_tokens"]["min"] == s["metrics"]["output_tokens"]["max"] == tokens
    rows = [json.loads(x) for x in Path(s["output_dir"], "benchmark_requests.jsonl").read_text().splitlines()]
    assert {r["chunk_token_source"] for r in rows} == {chunk_source}
    if chunk_source == "usage_per_chunk":
        assert rows[0]["chunk_tokens"] == [3, 3, 3, 1]


def test_errors_are_counted_by_kind(tmp_path):
    kinds = ["ok", "http_500", "http_429", "non_json", "malformed_event", "stream_error", "drop", "stall"]
    with serve(faults=kinds, output_tokens=8, itl_ms=1) as handle:
        started = time.monotonic()
        result = perf(handle.url, tmp_path, parallel=8, number=16, read_timeout=0.5)
        elapsed = time.monotonic() - started
        assert handle.stats()["by_kind"] == {k: 2 for k in kinds}
    s = result["points"][0]
    assert s["failures"] == {"connection_closed": 2, "http_429": 2, "http_500": 2, "malformed": 4,
                             "stalled_stream": 2, "stream_error": 2}
    assert s["scalars"]["succeeded"] == 2 and s["scalars"]["failed"] == 14
    assert s["failure_examples"]["http_500"] == "injected 500"
    assert elapsed < 5 and result["error"] is None and result["passed"] is True


def test_unreachable_url_gives_one_error_and_a_partial_report(tmp_path, capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    code = cli.main(["perf", "--url", url, "--model", "m", "--number", "500", "--parallel", "4", "--outputs-dir",
                     str(tmp_path), "--no-plots", "--no-progress", "--no-timestamp"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    # One connection failure per worker stops the run (4 workers; 3 may already be connecting again).
    assert re.match(r"ERROR: all [4-7] requests failed \(connect x[4-7]\); e\.g\. connect: ConnectionRefusedError", err[0])
    summary = json.loads((tmp_path / "m" / "parallel_4_number_500" / "benchmark_summary.json").read_text())
    assert re.match(r"stopped after the first [4-7] requests all failed \(connect: ", summary["aborted"])


def test_unauthorized_is_reported_with_the_servers_message(tmp_path):
    with serve(faults=["http_401"]) as handle:
        result = perf(handle.url, tmp_path, number=50, api_key="sk-wrong")
    assert result["error"] == "all 10 requests failed (http_401 x10); e.g. http_401: injected 401"
    assert "sk-wrong" not in Path(result["output_dir"], "benchmark_args.json").read_text()


def test_global_deadline_ends_a_stream_that_never_ends(tmp_path):
    # Every request the server saw was cut by the deadline, not by the 60 s read timeout; on a loaded
    # machine some may not have left before the deadline, so the count is the server's, not a constant.
    with serve(faults=["stall"]) as handle:
        started = time.monotonic()
        result = perf(handle.url, tmp_path, parallel=3, number=3, read_timeout=60, total_timeout=2.0)
        elapsed = time.monotonic() - started
        seen = handle.stats()["requests"]
    assert elapsed < 30  # far below the read timeout that would otherwise end the stalled streams
    s = result["points"][0]
    assert seen >= 1 and s["failures"] == {"deadline": seen} and s["deadline_hit"]
    assert "deadline" in result["error"]


def test_warmup_is_sent_but_not_measured_and_duration_stops_sending(tmp_path):
    with serve(ttft_ms=5, output_tokens=4) as handle:
        result = perf(handle.url, tmp_path, parallel=2, number=5, warmup_num=3)
        assert handle.stats()["requests"] == 8 and result["points"][0]["scalars"]["total"] == 5
    with serve(ttft_ms=40, output_tokens=2) as handle:
        started = time.monotonic()
        result = perf(handle.url, tmp_path, parallel=2, number=10_000, duration=0.3)
        assert time.monotonic() - started < 3
    assert 4 <= result["points"][0]["scalars"]["total"] < 40


def test_rate_limited_latency_is_also_measured_from_the_schedule(tmp_path):
    # 100 ms per request, one at a time, 20 arrivals/s: the queue grows (coordinated omission if ignored).
    with serve(ttft_ms=100, output_tokens=1) as handle:
        result = perf(handle.url, tmp_path, parallel=1, number=10, rate=20, stream=False, seed=1)
    m = result["points"][0]["metrics"]
    assert m["e2e"]["p50"] == pytest.approx(100, abs=25)
    assert m["e2e_scheduled"]["max"] > m["e2e"]["max"] + 150 and m["queue_wait"]["max"] > 150


def test_open_loop_caps_in_flight_and_counts_dropped(tmp_path):
    with serve(ttft_ms=150, output_tokens=1) as handle:
        result = perf(handle.url, tmp_path, open_loop=True, rate=200, number=60, max_inflight=4, stream=False)
    s = result["points"][0]
    assert s["point"]["label"] == "rate_200_number_60"
    assert s["scalars"]["dropped"] > 20 and s["scalars"]["total"] + s["scalars"]["dropped"] == 60
    assert s["scalars"]["succeeded"] == s["scalars"]["total"] and s["metrics"]["queue_wait"]["max"] < 50


def test_sweep_outputs_tree_and_slo_exit_codes(tmp_path, capsys):
    with serve(ttft_ms=20, itl_ms=1, output_tokens=8) as handle:
        argv = ["perf", "--url", handle.url, "--model", "org/m", "--parallel", "1", "4", "--number", "3", "8",
                "--outputs-dir", str(tmp_path), "--sleep-interval", "0", "--no-progress", "--slo", "p99 ttft <= 5s",
                "--slo", "success_rate >= 100%"]
        assert cli.main(argv) == 0
        out = capsys.readouterr().out
        missed = [*argv[:-4], "--slo", "p99 ttft <= 1ms", "--no-plots", "--outputs-dir", str(tmp_path / "missed")]
        assert cli.main(missed) == 1
    assert "SLO gates" in out and "MISSED" not in out and "Percentiles: linear interpolation" in out
    root = next(tmp_path.glob("*/org_m"))
    for name in ("benchmark_args.json", "sweep_summary.json", "performance_summary.txt", "perf_report.html"):
        assert (root / name).is_file()
    point = root / "parallel_4_number_8"
    summary = json.loads((point / "benchmark_summary.json").read_text())
    assert summary["schema"] == "pytest_evalscope.perf/1" and summary["scalars"]["succeeded"] == 8
    assert "TPOT = (E2E - TTFT) / (n - 1)" in summary["definitions"]["distributions"]["tpot"]["formula"]
    assert "linear" in json.loads((point / "benchmark_percentile.json").read_text())["method"]
    assert len((point / "benchmark_requests.jsonl").read_text().splitlines()) == 8
    sweep = json.loads((root / "sweep_summary.json").read_text())
    assert [v["passed"] for v in sweep["gates"]] == [True] * 4
    pytest.importorskip("matplotlib")
    assert (root / "latency_throughput.png").is_file() and (point / "itl_distribution.png").is_file()
    assert "data:image/png;base64," in (root / "perf_report.html").read_text()


def test_progress_file_follows_the_run_point_by_point(tmp_path):
    import threading

    with serve(ttft_ms=40, output_tokens=2) as handle:
        result: list = []
        thread = threading.Thread(target=lambda: result.append(perf(handle.url, tmp_path, number=[30, 10], parallel=[1, 2],
                                                                    no_timestamp=True)))
        thread.start()
        path = tmp_path / "m" / "progress.json"
        seen = []
        while thread.is_alive():
            try:
                seen.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        thread.join()
    assert result[0]["error"] is None
    running = [s for s in seen if s["state"] == "running" and s.get("point") == "parallel_1_number_30"]
    assert any(0 < s["done"] < s["total"] == 30 for s in running), seen[:5]  # it moved while the point ran
    final = json.loads(path.read_text(encoding="utf-8"))
    assert (final["state"], final["points"], final["points_done"], final["point"]) == ("finished", 2, 2, "parallel_2_number_10")
    assert final["done"] == final["ok"] == final["total"] == 10 and final["failed"] == 0


def test_tokenizer_path_counts_tokens_when_the_server_sends_no_usage(tmp_path):
    transformers = pytest.importorskip("transformers")
    from .tiny_models import TOKENIZER_DIR

    tokenizer = transformers.AutoTokenizer.from_pretrained(str(TOKENIZER_DIR))

    def count(text):
        return len(tokenizer.encode(text, add_special_tokens=False))

    with serve(tokens_per_chunk=3, output_tokens=10, usage="none") as handle:
        result = perf(handle.url, tmp_path, parallel=2, number=4, tokenizer_path=str(TOKENIZER_DIR), dataset="random",
                      min_prompt_length=8, max_prompt_length=16)
    s = result["points"][0]
    assert result["error"] is None and s["token_sources"] == {"tokenizer": 4}
    words = [f"w{i} " for i in range(10)]  # what the stream server says, three tokens a chunk
    assert s["metrics"]["output_tokens"]["min"] == s["metrics"]["output_tokens"]["max"] == count("".join(words))
    rows = [json.loads(x) for x in Path(s["output_dir"], "benchmark_requests.jsonl").read_text().splitlines()]
    chunks = ["".join(words[i:i + 3]) for i in range(0, 10, 3)]
    assert {r["chunk_token_source"] for r in rows} == {"tokenizer"}
    assert all(r["chunk_tokens"] == [count(c) for c in chunks] for r in rows)
    assert all(8 <= r["input_tokens"] <= 16 for r in rows)  # random prompts sized in the tokenizer's tokens
