"""MT-Bench: two-turn generation through the pipeline, each turn rated by the oracle judge of the loopback test
server (planted ratings), EvalScope 1.14.1's judge prompts byte for byte, resume after SIGKILL, and errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from statistics import fmean
from typing import Any

import pytest

from pytest_evalscope.benchmarks.mt_bench import TEMPERATURES, read_fastchat
from pytest_evalscope.datasets.local import DatasetError
from pytest_evalscope.judge.contract import Unparseable, parse_verdict
from pytest_evalscope.judge.mt_bench import Conversation, turn_definition
from pytest_evalscope.params import ConfigError
from pytest_evalscope.registry import create_benchmark
from pytest_evalscope.scoring.numeric import split_reasoning
from pytest_evalscope.testing.judge_oracle import mt_bench_candidate
from pytest_evalscope.testing.server import ServerConfig, ServerHandle, serve_in_subprocess

from .conftest import SHARED

DATA = SHARED / "datasets" / "mt_bench"
QUESTIONS = read_fastchat(DATA) or []
FIXTURE = Path(__file__).parent / "fixtures" / "evalscope_mt_bench_prompts.json"
SUITE = "from pytest_evalscope import Suite\n\nmt_bench = Suite('mt_bench')\n"


def bench(**args: Any) -> Any:
    return create_benchmark("mt_bench", {"local_path": str(DATA), **args})


def samples(benchmark: Any) -> dict[int, Any]:
    return {s.metadata["question_id"]: s for sub in benchmark.subset_list for s in benchmark.load_samples(sub, None, 1)}


# ---------------------------------------------------------------- data, prompts, ratings


def test_the_80_questions_and_the_references_each_protocol_shows() -> None:
    evalscope, fastchat = samples(bench()), samples(bench(extra_params={"protocol": "fastchat"}))
    assert len(evalscope) == 80 and {s.subset for s in evalscope.values()} == set(bench().subset_list)
    gpt4 = {q["question_id"]: q["gpt4_reference"] for q in QUESTIONS}
    for qid, sample in evalscope.items():
        assert sample.input == sample.metadata["turns"][0] and len(sample.metadata["turns"]) == 2
        if sample.subset not in ("math", "reasoning", "coding"):
            assert sample.metadata["references"] is None and fastchat[qid].metadata["references"] is None
            continue
        inline = next(q.get("reference") for q in QUESTIONS if q["question_id"] == qid)
        # EvalScope shows the question's own reference; question 123 has none, so GPT-4's answer stands in
        assert sample.metadata["references"] == (inline or gpt4[qid])
        assert fastchat[qid].metadata["references"] == gpt4[qid]  # FastChat's gen_judgment.py uses GPT-4's
    assert evalscope[111].metadata["references"] == ["Area is 3", "5pi"]


def test_judge_requests_are_evalscopes_byte_for_byte() -> None:
    recorded = json.loads(FIXTURE.read_text())
    by_id = samples(bench())
    for case in recorded["cases"]:
        sample = by_id[case["question_id"]]
        refs = sample.metadata["references"]
        conversation = Conversation(sample.subset, tuple(sample.metadata["turns"]), tuple(case["answers"]),
                                    tuple(refs) if refs else None)
        for turn, expected in enumerate(case["requests"], start=1):
            assert turn_definition(conversation, turn).messages() == expected, (case["question_id"], turn)


def test_fastchat_protocol_fills_fastchats_own_templates() -> None:
    templates = {t["name"]: t for t in map(json.loads, (DATA / "judge_prompts.jsonl").read_text().splitlines())}
    sample = samples(bench(extra_params={"protocol": "fastchat"}))[111]
    q, refs = sample.metadata["turns"], sample.metadata["references"]
    conversation = Conversation("math", (q[0], q[1]), ("a {1}", "a 2"), (refs[0], refs[1]))
    one = templates["single-math-v1"]
    assert turn_definition(conversation, 1, "fastchat").messages() == [
        {"role": "system", "content": one["system_prompt"]},
        {"role": "user", "content": one["prompt_template"].format(question=q[0], answer="a {1}", ref_answer_1=refs[0])}]
    two = templates["single-math-v1-multi-turn"]
    assert turn_definition(conversation, 2, "fastchat").messages()[1]["content"] == two["prompt_template"].format(
        question_1=q[0], question_2=q[1], answer_1="a {1}", answer_2="a 2", ref_answer_1=refs[0], ref_answer_2=refs[1])


EVALSCOPE = turn_definition(Conversation("writing", ("q1", "q2"), ("a1", "a2")), 1)
FASTCHAT = turn_definition(Conversation("writing", ("q1", "q2"), ("a1", "a2")), 2, "fastchat")


@pytest.mark.parametrize(("definition", "reply", "rating"), [
    (EVALSCOPE, '{"explanation": "fine", "score": 7}', 7.0),
    (EVALSCOPE, '```json\n{"explanation": "ok", "score": "8"}\n```', 8.0),
    (EVALSCOPE, '<think>\nhm {not json}\n</think>\n{"explanation": "x", "score": 10}', 10.0),
    (EVALSCOPE, "Good answer.\n\nRating: [[4]]", 4.0),  # FastChat's form, read under EvalScope's prompts too
    (FASTCHAT, "It writes `d = {'a': 1}` correctly.\n\nRating: [[7.5]]", 7.5),
    (FASTCHAT, "Rating: [[3]] as said: [[3]]", 3.0),
])
def test_a_rating_is_read_when_it_is_unambiguous(definition: Any, reply: str, rating: float) -> None:
    assert parse_verdict(reply, definition) == rating


@pytest.mark.parametrize(("definition", "reply"), [
    (EVALSCOPE, '{"explanation": "half", "score": 7.5}'),  # EvalScope's contract: an integer
    (EVALSCOPE, '{"explanation": "too high", "score": 11}'),
    (EVALSCOPE, '{"explanation": "none"}'),
    (EVALSCOPE, "I would rate it highly."),
    (FASTCHAT, "Rating: [[3]], no, Rating: [[4]]"),
    (FASTCHAT, "Rating: [[0]]"),
    (FASTCHAT, '{"score": 7}'),  # FastChat's protocol asks for [[rating]]; a JSON object is no rating
])
def test_anything_else_is_a_judge_error_never_a_score(definition: Any, reply: str) -> None:
    with pytest.raises(Unparseable):
        parse_verdict(reply, definition)


def test_bad_settings_and_data_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"protocol: 'fastchta' is not one of evalscope, fastchat \(did you mean 'fastchat'\?\)"):
        bench(extra_params={"protocol": "fastchta"})
    for bad in (0, 11, "high", True):
        with pytest.raises(ConfigError, match="pass_rating: expected a rating from 1 to 10"):
            bench(extra_params={"pass_rating": bad})
    with pytest.raises(ConfigError, match=r"unknown key 'pass_ratting' \(did you mean 'pass_rating'\?\)"):
        bench(extra_params={"pass_ratting": 5})
    (tmp_path / "question.jsonl").write_text(json.dumps({"question_id": 1, "category": "writing", "turns": ["only one"]}) + "\n"
                                            + json.dumps({"question_id": 2, "category": "math", "turns": ["a", "b"]}) + "\n")
    broken = create_benchmark("mt_bench", {"local_path": str(tmp_path)})
    with pytest.raises(DatasetError, match=r"writing/train record 0: cannot be read \('turns' \(or 'prompt'\) must be a list of two strings\)"):
        broken.load_samples("writing", None, 1)
    with pytest.raises(DatasetError, match=r"question 2 \(math\) has no reference answers for its two turns"):
        broken.load_samples("math", None, 1)


def test_evalscopes_own_data_layout_is_read(tmp_path: Path) -> None:
    """HuggingFaceH4/mt_bench_prompts, as EvalScope loads it: prompt, prompt_id, category, reference."""
    rows = [{"prompt": q["turns"], "prompt_id": 1000 + q["question_id"], "category": q["category"],
             "reference": q.get("reference") or []} for q in QUESTIONS]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    loaded = samples(create_benchmark("mt_bench", {"local_path": str(tmp_path)}))
    assert len(loaded) == 80 and loaded[1111].metadata["references"] == ["Area is 3", "5pi"]
    assert loaded[1081].metadata["turns"] == QUESTIONS[0]["turns"] and loaded[1081].subset == "writing"
    # question 123 has no reference in either layout; GPT-4's answer, shipped with the adapter, stands in
    gpt4 = next(q["gpt4_reference"] for q in QUESTIONS if q["question_id"] == 123)
    assert loaded[1123].metadata["references"] == gpt4 == samples(bench())[123].metadata["references"]


# ---------------------------------------------------------------- end to end against the loopback server


def expected_report(ratings: dict[int, tuple[int, int]]) -> dict[str, dict[str, tuple[int, float]]]:
    """metric -> category -> (num, mean) from the planted ratings, rounded as reports round."""
    out: dict[str, dict[str, tuple[int, float]]] = {}
    by_category: dict[str, list[tuple[int, int]]] = {}
    for q in QUESTIONS:
        if q["question_id"] in ratings:
            by_category.setdefault(q["category"], []).append(ratings[q["question_id"]])
    for metric, pick in (("mean_judge_score", lambda r: (r[0] + r[1]) / 2), ("mean_first_turn_judge_score", lambda r: r[0]),
                         ("mean_second_turn_judge_score", lambda r: r[1])):
        out[metric] = {c: (len(rs), round(fmean(pick(r) for r in rs), 4)) for c, rs in by_category.items()}
    return out


def args_for(server: ServerHandle, *extra: str) -> list[str]:
    return ["--evalscope-model=oracle", f"--evalscope-api-url={server.url}",
            "--evalscope-dataset-args=" + json.dumps({"mt_bench": {"local_path": str(DATA)}}),
            "--evalscope-judge-model-args=" + json.dumps({"model_id": "judge", "api_url": server.url}),
            "--evalscope-eval-batch-size=16", "--evalscope-work-dir=out", "-p", "no:cacheprovider", *extra]


def latest(root: Path) -> Path:
    return sorted((root / "out").iterdir())[-1]


def comparable(run: Path) -> tuple[dict[str, Any], list[str]]:
    report = json.loads((run / "reports/oracle/mt_bench.json").read_text())
    report.pop("perf_metrics")
    report["execution_summary"].pop("cached")
    reviews = [(run / "reviews/oracle" / f"mt_bench_{c}.jsonl").read_text() for c in bench().subset_list]
    return report, reviews


@pytest.fixture(scope="module")
def planted() -> tuple[dict[str, str], dict[int, tuple[int, int]]]:
    return mt_bench_candidate(QUESTIONS, seed=17)


def test_planted_ratings_are_recovered_exactly_serial_and_xdist(pytester: pytest.Pytester, planted: Any) -> None:
    replies, ratings = planted
    pytester.makepyfile(eval_mt_bench=SUITE)
    passing = sum(min(r) >= 6 for r in ratings.values())
    score = round(fmean((a + b) / 2 for a, b in ratings.values()), 4)
    math = expected_report(ratings)["mean_judge_score"]["math"][1]
    gates = [f"--evalscope-threshold=mt_bench={score / 10 - 0.001:.4f}", f"--evalscope-threshold=mt_bench/math={math / 10 + 0.001:.4f}"]
    runs, received = [], []
    for workers in ("0", "2"):
        with serve_in_subprocess(ServerConfig(oracle=replies, judge=True, record_requests=True, max_seconds=300)) as server:
            result = pytester.runpytest(*args_for(server, "-n", workers, *gates))
            received.append(server.stats()["received"])
        result.assert_outcomes(passed=passing, failed=80 - passing)
        # a gate is a fraction of the 10-point scale: met for the suite, missed for its math subset
        assert f"mt_bench: {score / 10:.4f} >= " in result.stdout.str()
        assert f"mt_bench/math: {math / 10:.4f} < " in result.stdout.str()
        runs.append(comparable(latest(pytester.path)))
    assert runs[0] == runs[1]
    report = runs[0][0]
    assert report["score"] == score and report["num"] == 80 and report["score_scale"] == 10.0
    expected = expected_report(ratings)
    assert [m["name"] for m in report["metrics"]] == list(expected)
    for metric in report["metrics"]:
        got = {s["name"]: (s["num"], s["score"]) for c in metric["categories"] for s in c["subsets"]}
        assert got == expected[metric["name"]], metric["name"]
    assert report["judge_summary"]["judged"] == 80 and report["judge_summary"]["calls"] == 160
    assert_two_turn_requests(received[0], replies)


def assert_two_turn_requests(received: list[dict[str, Any]], replies: dict[str, str]) -> None:
    """Each question was asked once per turn, the second request holding the model's own first reply, both
    at the category's temperature with max_tokens 1024 (EvalScope's protocol; the run set neither)."""
    asked = [r for r in received if r["messages"][0]["role"] != "system"]  # the judge's open with a system prompt
    assert len(asked) == 160
    settings = {(r["temperature"], r["max_tokens"]) for r in asked}
    assert settings == {(0.7, 1024), (0.0, 1024), (0.1, 1024)}
    for q in QUESTIONS:
        first, second = q["turns"]
        answer, _ = split_reasoning(replies[first])
        shapes = [[{"role": "user", "content": first}],
                  [{"role": "user", "content": first}, {"role": "assistant", "content": answer}, {"role": "user", "content": second}]]
        for shape in shapes:
            matching = [r for r in asked if r["messages"] == shape]
            assert len(matching) == 1 and matching[0]["temperature"] == TEMPERATURES[q["category"]], (q["question_id"], shape)
        assert "<think>" not in answer


def test_records_keep_both_replies_and_the_conversation(pytester: pytest.Pytester, planted: Any) -> None:
    replies, ratings = planted
    pytester.makepyfile(eval_mt_bench=SUITE)
    with serve_in_subprocess(ServerConfig(oracle=replies, judge=True, max_seconds=120)) as server:
        pytester.runpytest(*args_for(server, "--evalscope-limit=2", "--evalscope-dataset-args=" + json.dumps(
            {"mt_bench": {"local_path": str(DATA), "extra_params": {"pass_rating": 3}}})))
    run = latest(pytester.path)
    prediction = json.loads((run / "predictions/oracle/mt_bench_writing.jsonl").read_text().splitlines()[0])
    review = json.loads((run / "reviews/oracle/mt_bench_writing.jsonl").read_text().splitlines()[0])
    q = QUESTIONS[0]
    turns = prediction["model_output"]["metadata"]["turns"]
    assert [t["content"] for t in turns] == [replies[q["turns"][0]], replies[q["turns"][1]]]  # as received, <think> kept
    assert [m["role"] for m in prediction["messages"]] == ["user", "assistant", "user", "assistant"]
    assert prediction["messages"][3]["content"] == replies[q["turns"][1]]
    score = review["sample_score"]["score"]
    first, second = ratings[q["question_id"]]
    assert score["value"] == {"judge_score": (first + second) / 2, "first_turn_judge_score": first,
                              "second_turn_judge_score": second}
    judged = score["metadata"]["judge"]
    assert [t["rating"] for t in judged["turns"]] == [first, second]
    assert score["extracted_prediction"] == f"{first}/{second}"
    assert score["metadata"]["verdict"] == ("correct" if min(first, second) >= 3 else "wrong")
    report = json.loads((run / "reports/oracle/mt_bench.json").read_text())
    assert report["perf_metrics"]["summary"]["requests"] == 2 * report["num"] == 32  # one request per turn


def _journal(folder: Path) -> list[str]:
    keys = []
    for path in folder.glob("replies-*.jsonl"):
        for line in path.read_text().splitlines():
            try:
                keys.append(json.loads(line)["key"])
            except ValueError:
                continue  # the line the kill cut short
    return keys


def test_sigkill_then_use_cache_asks_no_turn_and_no_rating_twice(pytester: pytest.Pytester, planted: Any) -> None:
    replies, ratings = planted
    pytester.makepyfile(eval_mt_bench=SUITE)
    journal = pytester.path / "out" / ".cache"
    with serve_in_subprocess(ServerConfig(oracle=replies, judge=True, latency_ms=40, max_seconds=300)) as slow:
        args = args_for(slow, "--evalscope-no-timestamp", "--evalscope-eval-batch-size=4")
        process = subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=pytester.path, start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and sum(k.endswith("#turn2") for k in _journal(journal)) < 20:
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    before = _journal(journal)
    turns_before = sum(not k.endswith("#judge") for k in before)
    ratings_before = len(before) - turns_before
    assert 20 <= turns_before < 160 and len(set(before)) == len(before)
    with serve_in_subprocess(ServerConfig(oracle=replies, judge=True, record_requests=True, max_seconds=300)) as second:
        result = pytester.runpytest(*args_for(second, "--evalscope-use-cache=out"))
        stats = second.stats()
    passing = sum(min(r) >= 6 for r in ratings.values())
    result.assert_outcomes(passed=passing, failed=80 - passing)
    judge_asked = sum(r["messages"][0]["role"] == "system" for r in stats["received"])
    # nothing journaled before the kill is asked again: neither a turn's reply nor a turn's rating
    assert stats["requests"] - judge_asked == 160 - turns_before
    assert judge_asked == 160 - ratings_before
    report = json.loads((pytester.path / "out/reports/oracle/mt_bench.json").read_text())
    assert report["score"] == round(fmean((a + b) / 2 for a, b in ratings.values()), 4)


def test_a_malformed_rating_or_a_failed_turn_is_an_error_not_a_score(pytester: pytest.Pytester) -> None:
    chosen = QUESTIONS[0:2] + QUESTIONS[10:12] + QUESTIONS[30:32]  # the first two writing, roleplay, math questions
    assert [q["category"] for q in chosen] == ["writing"] * 2 + ["roleplay"] * 2 + ["math"] * 2
    unratable = frozenset({chosen[0]["question_id"], chosen[4]["question_id"]})
    replies, _ = mt_bench_candidate(chosen, seed=3, unratable=unratable)
    broken_turn = chosen[1]["turns"][1]  # the second turn of this question fails on every attempt
    pytester.makepyfile(eval_mt_bench=SUITE)
    config = ServerConfig(oracle=replies, judge=True, persistent_faults={broken_turn: "500"}, max_seconds=120)
    with serve_in_subprocess(config) as server:
        extra = ["--evalscope-limit=2", "--evalscope-ignore-errors", "--evalscope-model-args=" + json.dumps({"max_retries": 0}),
                 "--evalscope-dataset-args=" + json.dumps({"mt_bench": {"local_path": str(DATA), "subset_list": ["writing", "roleplay", "math"]}})]
        result = pytester.runpytest(*args_for(server, *extra))
    outcomes = result.parseoutcomes()
    assert outcomes["errors"] == 3 and outcomes.get("passed", 0) + outcomes.get("failed", 0) == 3
    reviews = {}
    for subset in ("writing", "roleplay", "math"):
        path = latest(pytester.path) / "reviews/oracle" / f"mt_bench_{subset}.jsonl"
        for line in map(json.loads, path.read_text().splitlines()):
            reviews[line["sample_score"]["sample_metadata"]["question_id"]] = line
    kinds = {qid: (r["sample_score"]["score"]["metadata"].get("error") or {}).get("kind") for qid, r in reviews.items()}
    assert kinds[chosen[0]["question_id"]] == kinds[chosen[4]["question_id"]] == "judge_unparsed"
    assert kinds[chosen[1]["question_id"]] == "http_500"
    failed_turn = reviews[chosen[1]["question_id"]]
    assert [m["role"] for m in failed_turn["messages"]] == ["user", "assistant"]  # the first reply is kept
    assert failed_turn["sample_score"]["score"]["value"] == {"judge_score": 0.0}
    report = json.loads((latest(pytester.path) / "reports/oracle/mt_bench.json").read_text())
    assert report["execution_summary"]["errored"] == 3 and report["num"] == 3
    assert report["judge_summary"]["errors"] == 2
    assert "judge_unparsed after 2 attempt(s): the judge's verdict does not parse" in result.stdout.str()
    # resumed against a sound server: only the failed second turn is asked again, and only unjournaled ratings
    healthy = ServerConfig(oracle=replies, judge=True, record_requests=True, max_seconds=120)
    with serve_in_subprocess(healthy) as server:
        pytester.runpytest(*args_for(server, *extra, f"--evalscope-use-cache={latest(pytester.path)}"))
        received = [r["messages"] for r in server.stats()["received"]]
    asked = [m for m in received if m[0]["role"] != "system"]
    first, second = chosen[1]["turns"]
    assert asked == [[{"role": "user", "content": first}, {"role": "assistant", "content": replies[first]},
                      {"role": "user", "content": second}]]
    # the failed sample's two ratings, and twice (asked again) each unratable turn 2; the rest are journaled
    assert len(received) - len(asked) == 2 + 2 * len(unratable)


def test_category_settings_reach_backends_that_can_vary_them(tmp_path: Path) -> None:
    from pytest_evalscope.config import TaskConfig
    from pytest_evalscope.items import Suite
    from pytest_evalscope.runtime import EvalRuntime

    def runtime(eval_type: str, generation: dict[str, Any]) -> tuple[EvalRuntime, Any]:
        config = TaskConfig.from_layers([("test", {"model": "m", "eval_type": eval_type, "generation_config": generation,
                                                   "api_url": "http://127.0.0.1:9/v1",
                                                   "dataset_args": {"mt_bench": {"local_path": str(DATA)}}})])
        rt = EvalRuntime(config, tmp_path, "main")
        return rt, rt.benchmark_for(Suite("mt_bench"))

    rt, benchmark = runtime("service", {"temperature": 0.3, "max_tokens": 300, "top_p": 0.9})
    writing, math = samples(benchmark)[81], samples(benchmark)[111]
    assert rt.generation_for(benchmark, writing) == {"temperature": 0.7, "max_tokens": 300, "top_p": 0.9}
    assert rt.generation_for(benchmark, math) == {"temperature": 0.0, "max_tokens": 300, "top_p": 0.9}
    assert rt.fingerprint([{"role": "user", "content": "x"}], settings=rt.generation_for(benchmark, math)) != \
        rt.fingerprint([{"role": "user", "content": "x"}])  # a resumed run never mixes replies made otherwise
    with pytest.warns(UserWarning, match="mt_bench: eval_type checkpoint sends every request with the run's generation_config"):
        rt, benchmark = runtime("checkpoint", {})
    assert rt.generation_for(benchmark, writing) is None
