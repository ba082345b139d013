"""Several endpoints (api_url as a list; models/fleet*.py, perf/fleet.py): the option, ini and config forms,
the routing and health rules, and whole runs against loopback fleets: one endpoint killed mid-run and one
five times slower, reports equal under -n 0 and -n 2, 503 streaks, a fleet serving different models refused
(at start, and an endpoint that comes back later), a lost fleet; perf over repeated --url; the service's
checks of each URL."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_evalscope.config import TaskConfig
from pytest_evalscope.models.fleet import COOLDOWN_S, STREAK, Fleet
from pytest_evalscope.params import ConfigError
from pytest_evalscope.testing.gsm8k_oracle import build_oracle, read_records
from pytest_evalscope.testing.server import ServerConfig, ServerHandle, serve_in_subprocess, serve_in_thread

from .conftest import GSM8K_DIR

RECORDS = read_records(GSM8K_DIR / "test.jsonl") if GSM8K_DIR.is_dir() else []
ORACLE, VERDICTS = build_oracle(RECORDS)


def expected(limit: int) -> tuple[int, float]:
    right = sum(VERDICTS[i] for i in range(limit))
    return right, round(right / limit, 4)


# ---------------------------------------------------------------- settings


def resolve(**values: Any) -> TaskConfig:
    return TaskConfig.from_layers([("test", {"model": "m", **values})], env={})


def test_api_url_takes_one_url_or_a_list() -> None:
    assert resolve(api_url="http://a:1/v1/").api_url == "http://a:1/v1"  # one stays a string, as in EvalScope
    assert resolve(api_url=["http://a:1/v1"]).api_url == "http://a:1/v1"
    assert resolve(api_url=["http://a:1/v1", "http://b:2/v1/"]).api_url == ["http://a:1/v1", "http://b:2/v1"]
    assert resolve(api_url="http://a:1/v1\nhttp://b:2/v1").api_url == ["http://a:1/v1", "http://b:2/v1"]  # ini lines
    config = resolve(api_url=["http://u:pw@a:1/v1", "http://b:2/v1"])
    assert config.eval_type == "service"
    assert config.to_dict()["api_url"] == ["http://***@a:1/v1", "http://b:2/v1"]


@pytest.mark.parametrize(("value", "message"), [
    (["http://a:1/v1", "a:2/v1"], "api_url[1]: 'a:2/v1' is not an http(s) URL"),
    (["http://a:1/v1", "http://a:1/v1/"], "api_url: http://a:1/v1 is listed twice"),
    (["http://a:1/v1", ""], "api_url: an empty entry in the list"),
    (["a:2/v1"], "api_url: 'a:2/v1' is not an http(s) URL"),  # a repeatable option given once
    ("http://a:1/v1\r\nX-Injected: 1", "api_url: 'http://a:1/v1\\r\\nX-Injected: 1' holds the control or space"),
])
def test_a_bad_endpoint_in_the_list_is_one_line_naming_it(value: Any, message: str) -> None:
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        resolve(api_url=value)


def test_a_fleet_refuses_an_http_client_of_its_own() -> None:
    from pytest_evalscope.models.openai_api import OpenAIServiceModel

    with pytest.raises(ConfigError, match="^model_args.http_client: cannot be combined with several api_url"):
        OpenAIServiceModel("m", ["http://a:1/v1", "http://b:2/v1"], "k", {"http_client": object()}, {})
    assert OpenAIServiceModel("m", ["http://a:1/v1"], "k", {}, {}).fleet is None  # one URL: the plain path


def test_the_option_repeats_and_the_service_checks_each_url(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("")
    config = pytester.parseconfig("--evalscope-model=m", "--evalscope-api-url=http://a:1/v1",
                                  "--evalscope-api-url=http://b:2/v1")
    assert config.getoption("evalscope_api_url") == ["http://a:1/v1", "http://b:2/v1"]
    pytester.makeini("[pytest]\nevalscope_model = m\nevalscope_api_url =\n    http://a:1/v1\n    http://b:2/v1\n")
    from pytest_evalscope.plugin import TASK_KEY

    assert pytester.parseconfigure("-p", "no:cacheprovider").stash[TASK_KEY].api_url == ["http://a:1/v1", "http://b:2/v1"]
    from pytest_evalscope.service.policy import check_url
    from pytest_evalscope.service.schema import RequestError

    allowed = ("http://a:1/", "http://b:2/")
    check_url(["http://a:1/v1", "http://b:2/v1"], "api_url", allowed)
    with pytest.raises(RequestError, match=r"^api_url\[1\]: this service sends only to the URLs its operator allowed") as info:
        check_url(["http://a:1/v1", "http://c:3/v1"], "api_url", allowed)
    assert info.value.field == "api_url"


# ---------------------------------------------------------------- routing and health rules


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def fleet_of(n: int) -> tuple[Fleet, Clock]:
    clock = Clock()
    return Fleet([f"http://127.0.0.1:{9000 + i}/v1" for i in range(n)], lambda url: httpx2.AsyncBaseTransport(),
                 clock), clock


def test_the_least_busy_endpoint_is_picked_and_ties_take_turns() -> None:
    fleet, _ = fleet_of(3)
    a, b, c = fleet.endpoints
    a.in_flight, b.in_flight, c.in_flight = 2, 1, 3
    assert fleet.pick() is b
    b.in_flight = 2
    picks = [fleet.pick() for _ in range(6)]
    assert set(map(id, picks)) == {id(a), id(b)}  # both idlest, in turn; never the busier c
    assert fleet.pick({0, 1}) is c


def test_a_refused_connection_takes_out_at_once_a_streak_of_failures_too() -> None:
    fleet, clock = fleet_of(2)
    a, b = fleet.endpoints
    fleet.failed(a, "connect", hard=True)
    assert [fleet.pick() for _ in range(4)] == [b] * 4
    for _ in range(STREAK - 1):
        fleet.failed(b, "http_503", hard=False)
    clock.now += COOLDOWN_S + 0.01  # a is back on probation
    assert fleet.pick({0}) is b  # STREAK - 1 failures keep b in service
    fleet.failed(b, "http_503", hard=False)
    assert fleet.pick({0}) is None
    assert fleet.stats()[b.label]["errors"] == {"http_503": STREAK}


def test_an_endpoint_comes_back_after_its_cooldown_one_request_at_a_time() -> None:
    fleet, clock = fleet_of(2)
    a, b = fleet.endpoints
    fleet.failed(a, "connect", hard=True)
    b.in_flight = 50
    clock.now += COOLDOWN_S / 2
    assert fleet.pick() is b
    clock.now += COOLDOWN_S
    assert fleet.pick() is a  # probation: the idle endpoint takes a request...
    a.in_flight = 1
    assert fleet.pick() is b  # ...one at a time
    a.in_flight = 0
    fleet.failed(a, "connect", hard=True)  # the probe failed: out again, for twice as long
    clock.now += COOLDOWN_S * 1.5
    assert fleet.pick() is b
    clock.now += COOLDOWN_S
    assert fleet.pick() is a
    fleet.succeeded(a)
    a.in_flight = 1
    assert fleet.pick() is a  # in service again: no longer one at a time
    assert fleet.stats()[a.label]["taken_out"] == 2


def test_the_transport_rewrites_url_and_host_and_fails_over_a_refused_connection() -> None:
    import asyncio

    from pytest_evalscope.models.fleet_transport import FleetDown, FleetTransport

    seen: list[tuple[str, str]] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append((str(request.url), request.headers["Host"]))
        if request.url.host == "dead":
            raise httpx2.ConnectError("refused", request=request)
        return httpx2.Response(200, json={"ok": True})

    mock = httpx2.MockTransport(answer)
    fleet = Fleet(["http://live:80/v1", "http://dead:8001/v1", "http://other:8002/v1"], lambda url: mock)

    async def send(n: int) -> list[str]:
        async with httpx2.AsyncClient(transport=FleetTransport(fleet)) as client:
            replies = [await client.post("http://live/v1/chat/completions?x=1", json={}) for _ in range(n)]
        return [r.extensions[FleetTransport.ENDPOINT] for r in replies]

    answered = asyncio.run(send(6))
    assert set(answered) == {"http://live:80/v1", "http://other:8002/v1"}  # never the dead one
    assert ("http://other:8002/v1/chat/completions?x=1", "other:8002") in seen
    assert ("http://dead:8001/v1/chat/completions?x=1", "dead:8001") in seen  # tried once, then out
    assert sum(1 for url, _ in seen if "dead" in url) == 1
    stats = fleet.stats()
    assert stats["http://dead:8001/v1"]["errors"] == {"connect": 1} and stats["http://dead:8001/v1"]["taken_out"] == 1
    assert all(e.in_flight == 0 for e in fleet.endpoints)  # every reply settled its count
    for endpoint in fleet.endpoints:
        fleet.failed(endpoint, "connect", hard=True)
    with pytest.raises(FleetDown, match="all 3 are out of service"):
        asyncio.run(send(1))


def test_each_endpoint_gets_the_transport_and_proxy_its_url_calls_for(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_evalscope.models.fleet_transport import _inner_transports
    from pytest_evalscope.models.http11 import Http11Transport

    for var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY",
                "no_proxy", "PYTEST_EVALSCOPE_LEAN_HTTP"):
        monkeypatch.delenv(var, raising=False)
    inner_for = _inner_transports()
    lean = inner_for("http://a:1/v1")
    assert isinstance(lean, Http11Transport) and inner_for("http://b:2/v1") is lean  # one pool, per host inside
    assert isinstance(inner_for("https://c/v1"), httpx2.AsyncHTTPTransport)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy:3128")
    monkeypatch.setenv("NO_PROXY", "near")
    inner_for = _inner_transports()
    proxied = inner_for("http://far:1/v1")
    assert isinstance(proxied, httpx2.AsyncHTTPTransport) and inner_for("http://other:2/v1") is proxied
    assert isinstance(inner_for("http://near:1/v1"), Http11Transport)  # NO_PROXY: straight there


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["send", "ok", "soft", "hard", "wait"]), st.integers(0, 2),
                          st.floats(0, 3)), max_size=60))
def test_pick_never_gives_an_endpoint_out_of_service_or_a_busier_one(events: list[tuple[str, int, float]]) -> None:
    fleet, clock = fleet_of(3)
    sent: list[int] = []  # the endpoints of requests in flight
    for kind, which, seconds in events:
        if kind == "send":
            endpoint = fleet.pick()
            eligible = [e for e in fleet.endpoints if e.out_until is None
                        or (e.out_until <= clock.now and e.in_flight == 0)]
            if endpoint is None:
                assert not eligible
                continue
            assert endpoint in eligible and endpoint.in_flight == min(e.in_flight for e in eligible)
            endpoint.in_flight += 1
            sent.append(fleet.index(endpoint))
        elif kind == "wait":
            clock.now += seconds
        elif which in sent:
            sent.remove(which)
            endpoint = fleet.endpoints[which]
            endpoint.in_flight -= 1
            if kind == "ok":
                fleet.succeeded(endpoint)
                assert endpoint.out_until is None and endpoint.streak == 0
            else:
                fleet.failed(endpoint, "connect" if kind == "hard" else "http_503", hard=kind == "hard")
                if kind == "hard":
                    assert endpoint.out_until is not None and endpoint.out_until > clock.now
    for endpoint in fleet.endpoints:
        assert endpoint.in_flight == sent.count(fleet.index(endpoint)) >= 0
        assert endpoint.outages == len(endpoint.out_at) and sum(endpoint.errors.values()) >= endpoint.outages


# ---------------------------------------------------------------- whole runs


@contextmanager
def fleet_servers(*configs: ServerConfig) -> Iterator[list[ServerHandle]]:
    with ExitStack() as stack:
        yield [stack.enter_context(serve_in_subprocess(config)) for config in configs]


def run_args(handles: list[ServerHandle], limit: int, *extra: str) -> list[str]:
    return ["--evalscope-model=oracle", *(f"--evalscope-api-url={h.url}" for h in handles),
            f"--evalscope-limit={limit}", "--evalscope-work-dir=out", "-p", "no:cacheprovider",
            "--evalscope-dataset-args=" + json.dumps({"gsm8k": {"local_path": str(GSM8K_DIR)}}), *extra]


def report_of(pytester: pytest.Pytester, root: str = "out") -> dict[str, Any]:
    return json.loads(next((pytester.path / root).glob("*/reports/oracle/gsm8k.json")).read_text())


def free_port() -> int:
    """A loopback port nothing listens on (bound and released at once)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def kill_after(handle: ServerHandle, requests: int, stamp: list[float]) -> threading.Thread:
    """SIGKILL the server once it has received `requests` chat requests; `stamp` gets the moment."""

    def watch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if handle.stats()["requests"] >= requests:
                stamp.append(time.time())
                os.kill(handle.pid, signal.SIGKILL)
                return
            time.sleep(0.01)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_killed_and_a_slow_endpoint_leave_every_sample_answered_once(pytester: pytest.Pytester, suite_file: Path,
                                                                        workers: str) -> None:
    limit = 360
    fast, victim, slow = (ServerConfig(oracle=ORACLE, latency_ms=ms, max_seconds=120) for ms in (40, 40, 200))
    with fleet_servers(fast, victim, slow) as handles:
        killed: list[float] = []
        watcher = kill_after(handles[1], 30, killed)
        # 16 in flight either way: the share of the first burst (spread evenly) must not grow with -n
        batch = 16 // max(1, int(workers))
        result = pytester.runpytest(*run_args(handles, limit, f"--evalscope-eval-batch-size={batch}", "-n", workers))
        watcher.join(5)
    right, score = expected(limit)
    result.assert_outcomes(passed=right, failed=limit - right)  # no errors: every sample got its reply
    assert killed, "the victim never got its 30th request"
    run = next((pytester.path / "out").glob("*"))
    reviews = [json.loads(line) for line in (run / "reviews/oracle/gsm8k_main.jsonl").read_text().splitlines()]
    assert sorted(r["index"] for r in reviews) == list(range(limit))  # each sample once
    predictions = [json.loads(line) for line in (run / "predictions/oracle/gsm8k_main.jsonl").read_text().splitlines()]
    assert {p["model_output"]["perf_metrics"]["endpoint"] for p in predictions} <= {h.url for h in handles}
    report = report_of(pytester)
    assert report["score"] == score
    per = report["perf_metrics"]["endpoints"]
    assert list(per) == [h.url for h in handles]
    fast_n, victim_n, slow_n = (per[h.url]["answered"] for h in handles)
    assert fast_n + victim_n + slow_n == limit
    assert slow_n * 2.5 <= fast_n, per  # 5x slower: about a fifth of the fast survivor's share
    assert per[handles[1].url]["taken_out"] >= 1
    assert 0 <= per[handles[1].url]["first_out_at"] - killed[0] < 1.0, per  # out within a second of the kill
    assert per[handles[0].url]["taken_out"] == 0 and per[handles[0].url]["errors"] == {}


def test_reports_are_the_same_with_and_without_xdist(pytester: pytest.Pytester, suite_file: Path) -> None:
    limit = 60
    configs = [ServerConfig(oracle=ORACLE, latency_ms=ms, max_seconds=120) for ms in (10, 30)]
    reports = []
    with fleet_servers(*configs) as handles:
        for n, root in (("0", "serial"), ("2", "xdist")):
            result = pytester.runpytest(*run_args(handles, limit, "--evalscope-eval-batch-size=8", "-n", n,
                                                  f"--evalscope-work-dir={root}"))
            right, _ = expected(limit)
            result.assert_outcomes(passed=right, failed=limit - right)
            reports.append(report_of(pytester, root))
    for report in reports:
        per = report["perf_metrics"]["endpoints"]
        assert sum(p["answered"] for p in per.values()) == limit
        assert sum(p["requests"] for p in per.values()) == limit  # no failures: one request per sample
    serial, xdist = ({k: v for k, v in r.items() if k != "perf_metrics"} for r in reports)
    assert serial == xdist
    assert set(reports[1]["perf_metrics"]["model"]) == {"gw0", "gw1"}  # each worker's own counters


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_every_request_settles_its_endpoint_streamed_or_not(pytester: pytest.Pytester, suite_file: Path,
                                                            stream: bool) -> None:
    limit = 40
    with serve_in_thread(ServerConfig(oracle=ORACLE, latency_ms=10, max_seconds=60)) as a, \
            serve_in_thread(ServerConfig(oracle=ORACLE, latency_ms=10, max_seconds=60)) as b:
        result = pytester.runpytest(*run_args([a, b], limit, "--evalscope-eval-batch-size=4",
                                              f"--evalscope-generation-config=stream={str(stream).lower()}"))
    right, score = expected(limit)
    result.assert_outcomes(passed=right, failed=limit - right)
    report = report_of(pytester)
    own = report["perf_metrics"]["model"]["main"]["endpoints"]
    assert [e["in_flight"] for e in own.values()] == [0, 0]  # each reply's end was seen
    assert [e["ok"] for e in own.values()] == [e["requests"] for e in own.values()]
    assert sum(e["answered"] for e in report["perf_metrics"]["endpoints"].values()) == limit
    assert all(e["answered"] >= limit // 4 for e in report["perf_metrics"]["endpoints"].values())  # both used


def test_a_fleet_serving_different_models_is_refused(pytester: pytest.Pytester, suite_file: Path) -> None:
    same, other = ServerConfig(oracle=ORACLE, max_seconds=60), ServerConfig(oracle=ORACLE, max_seconds=60,
                                                                           served_models=("oracle", "other"))
    with serve_in_thread(same) as a, serve_in_thread(other) as b:
        result = pytester.runpytest(*run_args([a, b], 20), "--evalscope-eval-batch-size=4")
        sent = a.stats()["requests"] + b.stats()["requests"]
    assert result.ret != 0
    result.stdout.fnmatch_lines([f"*the endpoints of api_url serve different models ({a.url} serves oracle; "
                                 f"{b.url} serves oracle, other)*"])
    assert sent == 0


def test_one_dead_endpoint_at_start_is_left_out_all_dead_stops_the_run(pytester: pytest.Pytester,
                                                                        suite_file: Path) -> None:
    dead = [ServerHandle(f"http://127.0.0.1:{free_port()}/v1", dict, lambda: None, 0) for _ in range(2)]
    with serve_in_thread(ServerConfig(oracle=ORACLE, max_seconds=60)) as alive:
        result = pytester.runpytest(*run_args([dead[0], alive], 20))
    right, _ = expected(20)
    result.assert_outcomes(passed=right, failed=20 - right)
    per = report_of(pytester)["perf_metrics"]["endpoints"]
    assert per[dead[0].url]["answered"] == 0 and per[dead[0].url]["errors"]["connect"] >= 1
    started = time.monotonic()
    result = pytester.runpytest(*run_args(dead, 20), "--evalscope-work-dir=dead")
    assert time.monotonic() - started < 20
    result.stdout.fnmatch_lines([f"*cannot reach any of the 2 endpoints: {dead[0].url}: connection refused*"])
    assert result.ret != 0


# ---------------------------------------------------------------- perf: a fleet load-tested from one client


def test_perf_spreads_the_load_over_repeated_urls_and_leaves_a_dead_one_out(tmp_path: Path) -> None:
    from pytest_evalscope.perf import run_perf
    from pytest_evalscope.perf.cli import parse_perf_args
    from pytest_evalscope.testing.stream_server import StreamServerConfig
    from pytest_evalscope.testing.stream_server import serve_in_thread as serve_stream

    dead = f"http://127.0.0.1:{free_port()}/v1/chat/completions"
    assert parse_perf_args(["--model", "m", "--url", dead, "--url", "http://127.0.0.1:7/v1"]).url == [
        dead, "http://127.0.0.1:7/v1"]
    with serve_stream(StreamServerConfig(max_seconds=30, ttft_ms=10, output_tokens=4)) as fast, \
            serve_stream(StreamServerConfig(max_seconds=30, ttft_ms=50, output_tokens=4)) as slow:
        result = run_perf({"url": [fast.url, slow.url, dead], "model": "m", "outputs_dir": str(tmp_path),
                           "plots": False, "progress": False, "sleep_interval": 0, "total_timeout": 30,
                           "parallel": 6, "number": 120}, echo=False)
    point = result["points"][0]
    assert point["scalars"]["succeeded"] == 120 and point["failures"] == {}
    per = point["endpoints"]
    assert per[fast.url]["succeeded"] + per[slow.url]["succeeded"] == 120
    assert per[slow.url]["succeeded"] * 2.5 <= per[fast.url]["succeeded"], per  # 5x slower to first token
    assert per[dead]["succeeded"] == 0 and per[dead]["failures"]["connect"] >= 1 and per[dead]["taken_out"] >= 1
    rows = [json.loads(x) for x in Path(point["output_dir"], "benchmark_requests.jsonl").read_text().splitlines()]
    assert {r["endpoint"] for r in rows} == {fast.url, slow.url}


def test_the_service_checks_every_url_of_a_list_and_redacts_each(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from pytest_evalscope.service import ServiceConfig, create_app

    allowed = ["http://127.0.0.1:9/", "http://127.0.0.1:7/"]
    client = TestClient(create_app(ServiceConfig(output_dir=str(tmp_path), launch=False, allow_urls=allowed)))
    base = {"model": "m", "datasets": ["gsm8k"], "limit": 1}
    fleet = ["http://u:secret@127.0.0.1:9/v1", "http://127.0.0.1:7/v1"]
    accepted = client.post("/api/v1/eval?async=true", json={**base, "api_url": fleet})
    assert accepted.status_code == 202, accepted.json()
    job = client.get(f"/api/v1/jobs/{accepted.json()['job_id']}").json()
    assert "secret" not in json.dumps(job)
    for endpoint, body, field in (
            ("eval", {**base, "api_url": [fleet[1], "http://127.0.0.1:9000/v1"]}, "api_url"),
            ("perf", {"model": "m", "url": ["http://127.0.0.1:9/v1/chat/completions", "http://10.0.0.1/v1"]}, "url")):
        answer = client.post(f"/api/v1/{endpoint}?async=true", json=body)
        assert answer.status_code == 400 and answer.json()["field"] == field, answer.json()
        assert answer.json()["error"].startswith(f"{field}[1]: this service sends only to the URLs its operator allowed")


def test_an_endpoint_answering_503_is_taken_out_after_a_streak(pytester: pytest.Pytester, suite_file: Path) -> None:
    limit = 60
    good = ServerConfig(oracle=ORACLE, latency_ms=20, max_seconds=60)
    bad = ServerConfig(oracle=ORACLE, latency_ms=20, max_seconds=60, fault_rate=1.0, fault_kinds=("503",),
                       fault_attempts=10**6)
    with serve_in_thread(good) as a, serve_in_thread(bad) as b:
        result = pytester.runpytest(*run_args([a, b], limit, "--evalscope-eval-batch-size=4"))
        refused = b.stats()["faults"].get("503", 0)
    right, score = expected(limit)
    result.assert_outcomes(passed=right, failed=limit - right)  # the client's retries went to the good one
    per = report_of(pytester)["perf_metrics"]["endpoints"]
    assert report_of(pytester)["score"] == score
    assert per[b.url]["answered"] == 0 and per[b.url]["taken_out"] >= 1
    assert per[b.url]["errors"] == {"http_503": refused}
    assert refused <= 4 * 4, refused  # a streak per request in flight at most, then probes one at a time


def test_losing_every_endpoint_mid_run_stops_it_and_keeps_what_finished(pytester: pytest.Pytester,
                                                                       suite_file: Path) -> None:
    configs = [ServerConfig(oracle=ORACLE, latency_ms=20, max_seconds=60) for _ in range(2)]
    with fleet_servers(*configs) as handles:
        stamps: list[float] = []
        watchers = [kill_after(h, 15, stamps) for h in handles]
        result = pytester.runpytest(*run_args(handles, 400, "--evalscope-eval-batch-size=4",
                                              "--evalscope-model-args=max_retries=1"))
        for watcher in watchers:
            watcher.join(5)
    assert len(stamps) == 2
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*no endpoint of the fleet can take a request: all 2 are out of service*"])
    outcomes = result.parseoutcomes()
    scored = outcomes.get("passed", 0) + outcomes.get("failed", 0)
    assert 20 <= scored < 400  # what finished before the loss, scored
    run = next((pytester.path / "out").glob("*"))
    journaled = sum(len(p.read_text().splitlines()) for p in (run / ".cache").glob("replies-*.jsonl"))
    assert journaled >= scored  # every reply received is kept: use_cache resumes from here


@pytest.mark.parametrize("serves", [("oracle",), ("oracle", "other")], ids=["same-models", "other-models"])
def test_an_endpoint_down_at_start_is_compared_when_it_comes_back(pytester: pytest.Pytester, suite_file: Path,
                                                                  serves: tuple[str, ...]) -> None:
    port = free_port()
    late = ServerConfig(oracle=ORACLE, latency_ms=10, max_seconds=60, port=port, served_models=serves)
    started = threading.Event()
    # 40 ms: the run lasts over 2 s, past the late endpoint's first cool-down (1 s)
    with serve_in_thread(ServerConfig(oracle=ORACLE, latency_ms=40, max_seconds=60)) as first, ExitStack() as stack:
        def start_late() -> None:
            deadline = time.monotonic() + 30
            while first.stats()["requests"] < 10 and time.monotonic() < deadline:
                time.sleep(0.01)
            stack.enter_context(serve_in_thread(late))
            started.set()

        starter = threading.Thread(target=start_late, daemon=True)
        starter.start()
        missing = ServerHandle(f"http://127.0.0.1:{port}/v1", dict, lambda: None, 0)
        result = pytester.runpytest(*run_args([first, missing], 200, "--evalscope-eval-batch-size=4"))
        starter.join(30)
    assert started.is_set()
    right, score = expected(200)
    result.assert_outcomes(passed=right, failed=200 - right)
    report = report_of(pytester)
    per = report["perf_metrics"]["endpoints"][missing.url]
    assert report["score"] == score and per["taken_out"] >= 1 and per["errors"]["connect"] >= 1
    if serves == ("oracle",):
        assert per["answered"] > 0  # back in service once its cool-down passed
    else:
        assert per["answered"] == 0 and per["requests"] == 0 and per["errors"]["models_differ"] == 1
        process = report["perf_metrics"]["model"]["main"]["endpoints"][missing.url]
        assert process["excluded"] == "serves oracle, other, where the fleet serves oracle"


def test_an_endpoints_credentials_go_to_that_endpoint_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """user:password in one endpoint's URL is that endpoint's Basic auth: never sent to another endpoint,
    and never in place of the api_key's Bearer there (the client made for the first URL used to send
    the first endpoint's credentials to every endpoint)."""
    import asyncio

    from pytest_evalscope.models import fleet_transport
    from pytest_evalscope.models.openai_api import OpenAIServiceModel

    seen: list[tuple[str, str | None]] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append((request.url.host, request.headers.get("Authorization")))
        if request.url.host == "dead":
            raise httpx2.ConnectError("refused", request=request)
        return httpx2.Response(200, json={"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                                          "choices": [{"index": 0, "finish_reason": "stop",
                                                       "message": {"role": "assistant", "content": "42"}}]})

    mock = httpx2.MockTransport(answer)
    monkeypatch.setattr(fleet_transport, "_inner_transports", lambda: lambda url: mock)
    urls = ["http://alice:s3cret@dead:8001/v1", "http://live:8002/v1", "http://bob:pw@other:8003/v1"]
    model = OpenAIServiceModel("m", urls, "sk-test", {"max_retries": 0}, {})

    async def ask(n: int) -> None:
        for _ in range(n):
            await model.client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}])
        await model.aclose()

    asyncio.run(ask(4))
    alice, bob = "Basic " + "YWxpY2U6czNjcmV0", "Basic " + "Ym9iOnB3"  # base64 of alice:s3cret, bob:pw
    assert {auth for host, auth in seen if host == "live"} == {"Bearer sk-test"}
    assert {auth for host, auth in seen if host == "other"} == {bob}
    assert {auth for host, auth in seen if host == "dead"} == {alice}
