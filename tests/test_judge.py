"""LLM-as-judge end to end: an oracle candidate and the test server's oracle judge (real openai client,
real HTTP on 127.0.0.1), strict verdict parsing, faults, SIGKILL and resume, the cross-run cache, and
EvalScope's prompts."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_evalscope.judge import JudgeDefinition, Unparseable, parse_verdict
from pytest_evalscope.judge.contract import PROMPTS, template
from pytest_evalscope.judge.settings import JudgeSettings
from pytest_evalscope.testing.gsm8k_oracle import build_oracle, read_records
from pytest_evalscope.testing.judge_oracle import (
    candidate_oracle,
    oracle_verdict,
    read_chinese_simpleqa,
    read_simpleqa,
)
from pytest_evalscope.testing.server import ServerConfig, ServerHandle, serve_in_subprocess

from .conftest import GSM8K_DIR, SHARED

SIMPLEQA = SHARED / "datasets" / "simpleqa"
CHINESE = SHARED / "datasets" / "chinese_simpleqa"
FIXTURES = Path(__file__).parent / "fixtures" / "evalscope_judge_contracts.json"
ROWS = read_simpleqa(SIMPLEQA / "simple_qa_test_set.csv") if SIMPLEQA.is_dir() else []
ORACLE, VERDICTS = candidate_oracle([r["problem"] for r in ROWS], [r["answer"] for r in ROWS])


# ---------------------------------------------------------------- verdicts are read strictly

ABC = JudgeDefinition("p", None, {"A": {"is_correct": 1.0}, "B": {"is_correct": 0.0}, "C": {"is_correct": 0.0}},
                      {"A": "CORRECT", "B": "INCORRECT", "C": "NOT_ATTEMPTED"}, "is_correct", "A")
NUMERIC = JudgeDefinition("p", metric="acc")


@pytest.mark.parametrize(("reply", "verdict"), [
    ('{"reasoning": "fine", "verdict": "A"}', "A"),
    ('```json\n{"reasoning": "x", "verdict": "C"}\n```', "C"),
    ('<think>{"verdict": "B"} or maybe A</think>\n{"verdict": "A", "confidence": 0.9}', "A"),
    ('The grade: {"verdict": "NOT_ATTEMPTED"}', "C"),
    ("B", "B"), ("**B**", "B"), ("A: CORRECT", "A"), ("CORRECT", "A"), ("NOT_ATTEMPTED", "C"),
])
def test_a_verdict_is_read_when_it_is_unambiguous(reply: str, verdict: str) -> None:
    assert parse_verdict(reply, ABC) == verdict


@pytest.mark.parametrize("reply", [
    "The predicted answer is CORRECT.",  # EvalScope's old parser took the C of CORRECT: "not attempted"
    "A or B", '{"verdict": "A"} {"verdict": "B"}', '{"verdict": "D"}', '{"grade": "A"}', "", "<think>A</think>",
    '{"verdict": "A"',
])
def test_anything_else_is_unparseable_never_a_guess(reply: str) -> None:
    with pytest.raises(Unparseable):
        parse_verdict(reply, ABC)


def test_numeric_verdicts_and_a_users_score_pattern() -> None:
    assert parse_verdict('{"reasoning": "ok", "score": 0.75}', NUMERIC) == 0.75
    for bad in ('{"score": 1.5}', '{"score": "high"}', '{"score": true}', "0.5 or 0.7"):
        with pytest.raises(Unparseable):
            parse_verdict(bad, NUMERIC)
    patterned = JudgeDefinition("p", scores={"A": {"acc": 1.0}, "B": {"acc": 0.0}}, score_pattern=r"\[\[([AB])\]\]")
    assert parse_verdict("Reasoning... [[B]]", patterned) == "B"
    with pytest.raises(Unparseable):
        parse_verdict("[[A]] then again [[B]]", patterned)


def test_prompts_are_evalscopes_byte_for_byte() -> None:
    recorded = json.loads(FIXTURES.read_text(encoding="utf-8"))
    hashes = {"simple_qa": "4095cd4328035e6e6f5e0591848839797e0a06b6895475fa642baad2e4a2d591",
              "chinese_simpleqa": "e5054ad9d6ede2ae145282c2e2b906f1cec8f9a7cf3e80b18229c769a859ca4f",
              "chinese_simpleqa_system": "4607d21e15c12c490ab62519691209f98c3fdd6116e6ef786556116ce3625aa7",
              "pattern": "c6e6b0cc9cc747603c4153c23ba90bd5a717b0e96f597b64e34464e9d3741601",
              "numeric": "ae3be4b93ddaba916b69862eb01de9a0d5938b201288762d3a4a1687c51aff48"}
    for name, digest in hashes.items():
        assert hashlib.sha256((PROMPTS / f"{name}.txt").read_bytes()).hexdigest() == digest, name
    from pytest_evalscope.benchmarks.base import Sample
    from pytest_evalscope.benchmarks.simple_qa import SimpleQA

    sample = Sample(0, "default", "Who received the IEEE Frank Rosenblatt Award in 2010?", "Michio Sugeno")
    messages = SimpleQA().judge_definition(sample, "It was Michio Sugeno.", "It was Michio Sugeno.", JudgeSettings()).messages()
    assert messages == [{"role": "user", "content": recorded["simple_qa_example_prompt"] + recorded["labels_ABC"]}]
    generic = JudgeDefinition("q", scores={"A": {"acc": 1.0}, "B": {"acc": 0.0}})
    assert generic.messages()[0]["content"] == "q" + recorded["labels_AB"]
    assert NUMERIC.messages()[0]["content"] == "p" + recorded["numeric"]
    assert template("pattern").count("{pred}") == 1


# ---------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def candidate() -> Iterator[ServerHandle]:
    with serve_in_subprocess(ServerConfig(oracle=ORACLE, max_seconds=600)) as handle:
        yield handle


@pytest.fixture(scope="module")
def judge() -> Iterator[ServerHandle]:
    with serve_in_subprocess(ServerConfig(judge=True, max_seconds=600)) as handle:
        yield handle


def judged_args(candidate: ServerHandle, judge: ServerHandle, benchmark: str, folder: Path, *extra: str) -> list[str]:
    return ["--evalscope-model=oracle", f"--evalscope-api-url={candidate.url}",
            "--evalscope-dataset-args=" + json.dumps({benchmark: {"local_path": str(folder)}}),
            "--evalscope-judge-model-args=" + json.dumps({"model_id": "judge", "api_url": judge.url}),
            "--evalscope-eval-batch-size=32", "--evalscope-work-dir=out", "-p", "no:cacheprovider", *extra]


def report(run: Path, suite: str) -> dict[str, Any]:
    data = json.loads((run / f"reports/oracle/{suite}.json").read_text())
    data.pop("perf_metrics")
    data["execution_summary"].pop("cached")
    return data


def latest(root: Path) -> Path:
    return sorted((root / "out").iterdir())[-1]


def test_whole_simpleqa_scores_exactly_serial_and_xdist(pytester: pytest.Pytester, candidate: ServerHandle,
                                                        judge: ServerHandle) -> None:
    pytester.makepyfile(eval_simple_qa="from pytest_evalscope import Suite\n\nsimple_qa = Suite('simple_qa')\n")
    expected = Counter(VERDICTS)
    reports = []
    for workers in (["-n", "0"], ["-n", "2"]):
        result = pytester.runpytest(*judged_args(candidate, judge, "simple_qa", SIMPLEQA, *workers))
        result.assert_outcomes(passed=expected["A"], failed=len(ROWS) - expected["A"])
        run = latest(pytester.path)
        reports.append((report(run, "simple_qa"), (run / "reviews/oracle/simple_qa_default.jsonl").read_text()))
    assert reports[0] == reports[1]
    data = reports[0][0]
    n = len(ROWS)
    assert data["num"] == n == 4326 and data["primary_metric"] == "mean_is_correct"
    assert data["score"] == round(expected["A"] / n, 4)
    assert {m["name"]: m["score"] for m in data["metrics"]} == {
        "mean_is_correct": round(expected["A"] / n, 4), "mean_is_incorrect": round(expected["B"] / n, 4),
        "mean_is_not_attempted": round(expected["C"] / n, 4)}
    given = expected["A"] / (expected["A"] + expected["B"])
    assert data["attempted_scores"]["accuracy_given_attempted"] == round(given, 4)
    assert data["attempted_scores"]["f1"] == round(2 * given * (expected["A"] / n) / (given + expected["A"] / n), 4)
    assert data["judge_summary"]["judged"] == n and data["judge_summary"]["calls"] == n
    assert data["judge_summary"]["verdicts"] == dict(sorted(expected.items()))
    assert data["schema_version"] >= 2 and data["tokens"]["judge"]["input"] > 0
    review = json.loads(reports[0][1].splitlines()[0])
    judged = review["sample_score"]["score"]["metadata"]["judge"]
    assert judged["messages"][-1]["content"].startswith("Your job is to look at a question")
    assert judged["verdict"] == VERDICTS[0] and judged["raw"]


def test_whole_chinese_simpleqa_scores_exactly_serial_and_xdist(pytester: pytest.Pytester, judge: ServerHandle) -> None:
    rows = read_chinese_simpleqa(CHINESE / "chinese_simpleqa.jsonl")
    oracle, verdicts = candidate_oracle([r["question"] for r in rows], [r["answer"] for r in rows], seed=1, chinese=True)
    pytester.makepyfile(eval_chinese_simpleqa="from pytest_evalscope import Suite\n\nchinese_simpleqa = Suite('chinese_simpleqa')\n")
    by_subset: dict[str, Counter[str]] = {}
    for row, verdict in zip(rows, verdicts, strict=True):
        by_subset.setdefault(row["primary_category"], Counter())[verdict] += 1
    reports = []
    with serve_in_subprocess(ServerConfig(oracle=oracle, max_seconds=600)) as chinese:
        for workers in (["-n", "0"], ["-n", "2"]):
            result = pytester.runpytest(*judged_args(chinese, judge, "chinese_simpleqa", CHINESE, *workers))
            passed = sum(c["A"] for c in by_subset.values())
            result.assert_outcomes(passed=passed, failed=len(rows) - passed)
            reports.append(report(latest(pytester.path), "chinese_simpleqa"))
    assert reports[0] == reports[1]
    subsets = {s["name"]: s for s in reports[0]["metrics"][0]["categories"][0]["subsets"]}
    assert set(subsets) == set(by_subset) and len(subsets) == 6
    for name, counts in by_subset.items():
        assert subsets[name]["num"] == sum(counts.values())
        assert subsets[name]["score"] == round(counts["A"] / sum(counts.values()), 4)


def test_judge_faults_are_errors_and_every_sample_ends_once(pytester: pytest.Pytester, candidate: ServerHandle) -> None:
    pytester.makepyfile(eval_simple_qa="from pytest_evalscope import Suite\n\nsimple_qa = Suite('simple_qa')\n")
    limit = 300
    faulty = ServerConfig(judge=True, fault_rate=0.1, fault_kinds=("500", "drop", "malformed_json"),
                          fault_attempts=10**6, max_seconds=300)
    with serve_in_subprocess(faulty) as broken:
        args = judged_args(candidate, broken, "simple_qa", SIMPLEQA, f"--evalscope-limit={limit}", "--evalscope-ignore-errors")
        args[3] = "--evalscope-judge-model-args=" + json.dumps({"model_id": "judge", "api_url": broken.url,
                                                                "model_args": {"max_retries": 0}})
        result = pytester.runpytest(*args)
        faults = sum(broken.stats()["faults"].values())
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) + outcomes.get("errors", 0) == limit
    assert 0 < outcomes["errors"] < limit // 4
    lines = [json.loads(line) for line in (latest(pytester.path) / "reviews/oracle/simple_qa_default.jsonl").read_text().splitlines()]
    assert len(lines) == limit and len({line["index"] for line in lines}) == limit
    for line in lines:
        meta = line["sample_score"]["score"]["metadata"]
        if meta["verdict"] == "error":  # a judge that failed makes an error, never a wrong answer
            assert meta["error"]["kind"].startswith("judge_"), meta
        else:  # and the samples it did judge are scored exactly
            assert meta["judge"]["verdict"] == VERDICTS[line["index"]]
    assert faults >= outcomes["errors"]


def _journal_keys(folder: Path) -> list[str]:
    keys = []
    for path in folder.glob("replies-*.jsonl"):
        for line in path.read_text().splitlines():
            try:
                keys.append(json.loads(line)["key"])
            except ValueError:
                continue  # the line the kill cut short
    return keys


def test_sigkill_while_judging_then_use_cache_asks_nothing_twice(pytester: pytest.Pytester, candidate: ServerHandle) -> None:
    pytester.makepyfile(eval_simple_qa="from pytest_evalscope import Suite\n\nsimple_qa = Suite('simple_qa')\n")
    limit = 200
    journal = pytester.path / "out" / ".cache"
    with serve_in_subprocess(ServerConfig(judge=True, latency_ms=60, max_seconds=300)) as slow:
        args = judged_args(candidate, slow, "simple_qa", SIMPLEQA, f"--evalscope-limit={limit}", "--evalscope-no-timestamp",
                           "--evalscope-eval-batch-size=8")
        process = subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=pytester.path, start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and sum(k.endswith("#judge") for k in _journal_keys(journal)) < 60:
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    keys = _journal_keys(journal)
    judged_before = sum(k.endswith("#judge") for k in keys)
    replied_before = len(keys) - judged_before
    assert 0 < judged_before < limit and judged_before <= replied_before  # killed mid-judging, however slow the host
    candidate_before = candidate.stats()["requests"]
    with serve_in_subprocess(ServerConfig(judge=True, max_seconds=300)) as second:
        args = judged_args(candidate, second, "simple_qa", SIMPLEQA, f"--evalscope-limit={limit}", "--evalscope-use-cache=out")
        result = pytester.runpytest(*args)
        asked_judge = second.stats()["requests"]
    expected = Counter(VERDICTS[:limit])
    result.assert_outcomes(passed=expected["A"], failed=limit - expected["A"])
    # nothing received before the kill is asked again: neither a reply nor a verdict
    assert asked_judge == limit - judged_before
    assert candidate.stats()["requests"] - candidate_before == limit - replied_before


def test_an_unchanged_reply_gets_its_verdict_from_the_judge_cache(pytester: pytest.Pytester, candidate: ServerHandle,
                                                                  judge: ServerHandle) -> None:
    pytester.makepyfile(eval_simple_qa="from pytest_evalscope import Suite\n\nsimple_qa = Suite('simple_qa')\n")
    cache = pytester.path / "verdicts"
    args = judged_args(candidate, judge, "simple_qa", SIMPLEQA, "--evalscope-limit=50", f"--evalscope-judge-cache={cache}")
    before = judge.stats()["requests"]
    pytester.runpytest(*args)
    first = report(latest(pytester.path), "simple_qa")
    middle = judge.stats()["requests"]
    pytester.runpytest(*args)
    second = report(latest(pytester.path), "simple_qa")
    assert middle - before == 50 and judge.stats()["requests"] == middle  # the second run asked the judge nothing
    assert second["judge_summary"]["cached"] == 50 and second["judge_summary"]["calls"] == 0
    first.pop("judge_summary"), second.pop("judge_summary"), first.pop("tokens"), second.pop("tokens")
    assert first == second


def test_llm_recall_asks_the_judge_only_when_the_rule_says_wrong(pytester: pytest.Pytester, suite_file: Path,
                                                                  gsm8k_args: str, judge: ServerHandle) -> None:
    from pytest_evalscope.scoring.numeric import gold_from_gsm8k_answer

    records = read_records(GSM8K_DIR / "test.jsonl")[:120]
    oracle, verdicts = build_oracle(records)
    with serve_in_subprocess(ServerConfig(oracle=oracle, max_seconds=120)) as server:
        before = judge.stats()["requests"]
        result = pytester.runpytest("--evalscope-model=oracle", f"--evalscope-api-url={server.url}", gsm8k_args,
                                    "--evalscope-limit=120", "--evalscope-judge-strategy=llm_recall", "-p", "no:cacheprovider",
                                    "--evalscope-judge-model-args=" + json.dumps({"model_id": "judge", "api_url": judge.url}),
                                    "--evalscope-work-dir=out")
        asked = judge.stats()["requests"] - before
    rule_wrong = [i for i in range(120) if not verdicts[i]]
    assert asked == len(rule_wrong) > 0  # the judge saw only what the rule failed
    recovered = sum(oracle_verdict(gold_from_gsm8k_answer(str(records[i]["answer"])),
                                   _content(oracle.get(records[i]["question"].strip(), ServerConfig.default_reply)), "AB") == "A"
                    for i in rule_wrong)
    result.assert_outcomes(passed=sum(verdicts[i] for i in range(120)) + recovered, failed=len(rule_wrong) - recovered)


def _content(reply: Any) -> str:
    return reply if isinstance(reply, str) else reply["content"]


@pytest.mark.parametrize(("options", "words"), [
    (["--evalscope-judge-strategy=llm"], "judge_strategy llm: needs a judge model"),
    (['--evalscope-judge-model-args={"model_id": "j", "api_ur": "http://127.0.0.1:9/v1"}'], "did you mean 'api_url'"),
    (['--evalscope-judge-model-args={"model_id": "j", "api_url": "http://127.0.0.1:9/v1", "score_type": "stars"}'],
     "score_type: 'stars' is unknown"),
])
def test_bad_judge_settings_are_one_line(pytester: pytest.Pytester, suite_file: Path, gsm8k_args: str,
                                         options: list[str], words: str) -> None:
    result = pytester.runpytest("--evalscope-model=m", "--evalscope-api-url=http://127.0.0.1:9/v1", gsm8k_args, *options)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: *{words}*"])


def test_a_judge_benchmark_without_a_judge_is_refused_before_any_request(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(eval_simple_qa="from pytest_evalscope import Suite\n\nsimple_qa = Suite('simple_qa')\n")
    pytester.makepyfile(eval_gsm8k=f"from pytest_evalscope import Suite\n\ngsm8k = Suite('gsm8k', dataset_args={{'local_path': {str(GSM8K_DIR)!r}}})\n")
    args = ["--evalscope-model=m", "--evalscope-api-url=http://127.0.0.1:9/v1", "--collect-only", "-q",
            "--evalscope-dataset-args=" + json.dumps({"simple_qa": {"local_path": str(SIMPLEQA)}})]
    # named: the run is refused with what is missing
    result = pytester.runpytest(*args, "--evalscope-datasets=simple_qa")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: simple_qa is graded by a judge: give judge_model_args*"])
    result = pytester.runpytest(*args, "--evalscope-datasets=simple_qa", "--evalscope-judge-strategy=rule")
    result.stderr.fnmatch_lines(["ERROR: simple_qa is graded by a judge and has no rule*"])
    # collected along with other suites: left out with one warning, the others run
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*evalscope: not collected: simple_qa is graded by a judge: give judge_model_args with model_id*"])
    assert any(line.startswith("eval_gsm8k.py::gsm8k[") for line in result.stdout.lines)
    assert not any("simple_qa[" in line for line in result.stdout.lines)


def test_evalscope_judge_block_and_secret_redaction(pytester: pytest.Pytester, candidate: ServerHandle,
                                                     judge: ServerHandle) -> None:
    pytester.makepyfile(eval_simple_qa="from pytest_evalscope import Suite\n\nsimple_qa = Suite('simple_qa')\n")
    config = {"model": "oracle", "api_url": candidate.url, "limit": 5, "work_dir": "out",
              "dataset_args": {"simple_qa": {"local_path": str(SIMPLEQA)}},
              "judge": {"strategy": "auto", "models": [{"model_id": "judge", "api_url": judge.url, "api_key": "sk-judge-secret"}]}}
    (pytester.path / "task.json").write_text(json.dumps(config))
    result = pytester.runpytest("--evalscope-config=task.json", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=Counter(VERDICTS[:5])["A"], failed=5 - Counter(VERDICTS[:5])["A"])
    run = latest(pytester.path)
    for path in run.rglob("*"):
        if path.is_file():
            assert b"sk-judge-secret" not in path.read_bytes(), path


def test_general_qa_scored_by_the_judge(pytester: pytest.Pytester, judge: ServerHandle) -> None:
    """EvalScope's general_qa with judge_strategy llm: the generic pattern template grades each reply
    against the reference, and the sample's metric is the judge's acc."""
    rows = [{"query": f"What is item {i}?", "response": f"answer-{i}"} for i in range(12)]
    data = pytester.path / "qa"
    data.mkdir()
    (data / "default.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    oracle = {f"请回答问题\n{r['query']}": (f"It is {r['response']}." if i % 3 else "No idea.") for i, r in enumerate(rows)}
    pytester.makepyfile(eval_general_qa="from pytest_evalscope import Suite\n\ngeneral_qa = Suite('general_qa')\n")
    with serve_in_subprocess(ServerConfig(oracle=oracle, max_seconds=120)) as server:
        args = judged_args(server, judge, "general_qa", data, "--evalscope-judge-strategy=llm")
        reports = []
        for workers in (["-n", "0"], ["-n", "2"]):
            result = pytester.runpytest(*args, *workers)
            result.assert_outcomes(passed=8, failed=4)
            reports.append(report(latest(pytester.path), "general_qa"))
    assert reports[0] == reports[1]
    assert reports[0]["score"] == round(8 / 12, 4) and reports[0]["metrics"][0]["name"] == "mean_acc"
    assert reports[0]["judge_summary"]["verdicts"] == {"A": 8, "B": 4}


def test_a_suite_that_needs_setup_is_left_out_unless_named(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(eval_general_arena="from pytest_evalscope import Suite\n\ngeneral_arena = Suite('general_arena')\n",
                        eval_gsm8k=f"from pytest_evalscope import Suite\n\ngsm8k = Suite('gsm8k', dataset_args={{'local_path': {str(GSM8K_DIR)!r}}})\n")
    args = ["--evalscope-model=m", "--evalscope-api-url=http://127.0.0.1:9/v1", "--collect-only", "-q"]
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*evalscope: not collected: general_arena compares earlier runs: give dataset_args.general_arena*"])
    result = pytester.runpytest(*args, "--evalscope-datasets=general_arena")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *general_arena*models*"])
