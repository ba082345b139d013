"""Report aggregation: several metrics per sample, pass@k / pass^k / vote@k over repeats (checked
against brute-force enumeration), primary metric first, order-free and JSON-stable; and end to end,
sampled replies from the loopback server over repeats give the expected pass@k, serially and under
xdist, with identical reports."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_evalscope.reporting.report import build_report, pass_at_k, pass_hat_k
from pytest_evalscope.reporting.table import render_table
from pytest_evalscope.testing.gsm8k_oracle import gold_int, read_records
from pytest_evalscope.testing.server import ServerConfig, serve_in_subprocess

from .conftest import GSM8K_DIR


def record(subset: str, index: int, repeat: int, correct: bool, *, score: dict[str, float] | None = None,
           extracted: str | None = "x", **extra: Any) -> dict[str, Any]:
    return {"suite": "s", "benchmark": "b", "subset": subset, "index": index, "repeat": repeat, "category": "default",
            "status": "correct" if correct else "wrong", "score": score or {"acc": float(correct)},
            "metric": "acc", "extracted": extracted if correct else (extracted or None), **extra}


@given(st.integers(1, 7).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_pass_at_k_is_the_chance_that_some_of_k_draws_pass(nck: tuple[int, int, int]) -> None:
    n, c, k = nck
    attempts = [True] * c + [False] * (n - c)
    draws = list(itertools.combinations(attempts, k))
    assert pass_at_k(n, c, k) == pytest.approx(sum(any(d) for d in draws) / len(draws))
    assert pass_hat_k(n, c, k) == pytest.approx(sum(all(d) for d in draws) / len(draws))


def test_pass_at_k_over_groups_per_subset_and_overall() -> None:
    # subset a: sample 0 passes 1 of 3, sample 1 passes 3 of 3; subset b: sample 0 passes 0 of 3
    outcomes = {("a", 0): [True, False, False], ("a", 1): [True, True, True], ("b", 0): [False, False, False]}
    records = [record(s, i, r, ok, aggregation="mean_and_pass_at_k", primary_metric="pass@1")
               for (s, i), oks in outcomes.items() for r, ok in enumerate(oks)]
    report = build_report("s", {}, "m", records, ["a", "b"])
    names = [m["name"] for m in report["metrics"]]
    assert names == ["pass@1", "mean_acc", "pass@2", "pass@3"]  # the primary metric first
    by_name = {m["name"]: m for m in report["metrics"]}
    subsets = {m: {s["name"]: s for c in e["categories"] for s in c["subsets"]} for m, e in by_name.items()}
    assert subsets["pass@2"]["a"]["score"] == round((pass_at_k(3, 1, 2) + 1.0) / 2, 4) == 0.8333
    assert subsets["pass@2"]["a"]["num"] == 2 and subsets["pass@2"]["b"]["score"] == 0.0
    assert subsets["pass@3"]["a"]["score"] == 1.0
    assert by_name["pass@3"]["score"] == round(2 / 3, 4)  # micro over the 3 samples
    assert by_name["pass@3"]["macro_score"] == 0.5
    assert subsets["mean_acc"]["a"]["num"] == 6 and subsets["mean_acc"]["a"]["score"] == round(4 / 6, 4)
    assert report["score"] == by_name["pass@1"]["score"] == round(4 / 9, 4)
    assert report["primary_metric"] == "pass@1" and report["repeats"] == 3
    lines = render_table("m", {"s": report})
    assert sum("pass@2" in line for line in lines) == 3  # two subsets and OVERALL


def test_groups_with_fewer_attempts_than_k_are_left_out_of_pass_at_k() -> None:
    records = [record("a", 0, r, r == 0, aggregation="mean_and_pass_at_k") for r in range(3)]
    records += [record("a", 1, 0, True, aggregation="mean_and_pass_at_k")]  # its other repeats errored
    records += [{**record("a", 1, r, False, aggregation="mean_and_pass_at_k"), "status": "error"} for r in (1, 2)]
    report = build_report("s", {}, "m", records, ["a"])
    by_name = {m["name"]: m for m in report["metrics"]}
    assert by_name["pass@1"]["num"] == 2 and by_name["pass@3"]["num"] == 1
    assert by_name["pass@3"]["score"] == 1.0
    assert report["execution_summary"]["errored"] == 2


def test_vote_at_k_takes_the_majority_answer_of_the_first_k() -> None:
    answers = [("7", True), ("5", False), ("5", False), ("7", True), ("7", True)]
    records = [record("a", 0, r, ok, extracted=ans, aggregation="mean_and_vote_at_k") for r, (ans, ok) in enumerate(answers)]
    by_name = {m["name"]: m["score"] for m in build_report("s", {}, "m", records, ["a"])["metrics"]}
    assert by_name["vote@1"] == 1.0 and by_name["vote@3"] == 0.0 and by_name["vote@5"] == 1.0
    assert by_name["mean_acc"] == 0.6


def test_every_metric_a_sample_scores_gets_its_own_entry() -> None:
    values = [(1.0, 1.0), (0.0, 0.5), (1.0, 0.75)]
    records = [record("default", i, 0, strict == 1.0, score={"prompt_level_strict": strict, "inst_level_strict": inst})
               for i, (strict, inst) in enumerate(values)]
    for r in records:
        r["metric"] = "prompt_level_strict"
    report = build_report("ifeval", {}, "m", records, ["default"])
    assert [(m["name"], m["score"], m["num"]) for m in report["metrics"]] == [
        ("mean_prompt_level_strict", 0.6667, 3), ("mean_inst_level_strict", 0.75, 3)]
    inst = report["metrics"][1]["categories"][0]["subsets"][0]
    assert inst["ci95"][0] < 0.75 < inst["ci95"][1]  # a normal interval for fractional values
    assert report["score"] == 0.6667 and report["primary_metric"] == "mean_prompt_level_strict"


@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 4), st.booleans()), min_size=1, max_size=30),
       st.randoms(use_true_random=False))
def test_reports_do_not_depend_on_record_order_and_survive_json(rows: list[tuple[str, int, bool]], rng: random.Random) -> None:
    seen: dict[tuple[str, int], int] = {}
    records = []
    for subset, index, ok in rows:
        repeat = seen[(subset, index)] = seen.get((subset, index), -1) + 1
        records.append(record(subset, index, repeat, ok, aggregation="mean_and_pass_at_k"))
    report = build_report("s", {}, "m", records, ["a", "b", "c"])
    shuffled = records[:]
    rng.shuffle(shuffled)
    assert build_report("s", {}, "m", shuffled, ["a", "b", "c"]) == report
    assert json.loads(json.dumps(report)) == report


# ---------------------------------------------------------------- end to end over repeats

QUESTIONS = read_records(GSM8K_DIR / "test.jsonl")[:6] if GSM8K_DIR.is_dir() else []
CORRECT_OF_4 = [0, 1, 2, 3, 4, 2]  # how many of the 4 sampled replies to question i are right


def sampled_oracle() -> dict[str, list[str]]:
    oracle = {}
    for row, right in zip(QUESTIONS, CORRECT_OF_4, strict=True):
        gold = gold_int(row["answer"])
        oracle[row["question"]] = [f"So the answer is \\boxed{{{gold if n < right else gold + 1}}}." for n in range(4)]
    return oracle


def test_repeats_with_sampled_replies_give_pass_at_k_serial_and_xdist(pytester: pytest.Pytester, suite_file: Path,
                                                                        gsm8k_dir: Path) -> None:
    args = {"gsm8k": {"local_path": str(gsm8k_dir), "aggregation": "mean_and_pass_at_k", "primary_metric": "pass@1"}}
    reports = []
    for xdist in (["-n", "0"], ["-n", "2"]):
        with serve_in_subprocess(ServerConfig(oracle=sampled_oracle(), max_seconds=120)) as server:
            result = pytester.runpytest_subprocess(
                "--evalscope-model=m", f"--evalscope-api-url={server.url}", "--evalscope-dataset-args=" + json.dumps(args),
                "--evalscope-limit=6", "--evalscope-repeats=4", "--evalscope-work-dir=out", "-p", "no:cacheprovider",
                "--evalscope-threshold=gsm8k=0.5", *xdist)
        result.assert_outcomes(passed=sum(CORRECT_OF_4), failed=24 - sum(CORRECT_OF_4))
        assert result.ret == 0  # pass@1 = 12/24 meets 0.5
        result.stdout.fnmatch_lines(["*evalscope threshold gsm8k: 0.5000 >= 0.5 over 6 samples met*"])
        run = sorted((pytester.path / "out").glob("*"))[-1]
        reports.append(json.loads((run / "reports/m/gsm8k.json").read_text()))
    serial, parallel = reports
    assert [m["name"] for m in serial["metrics"]] == ["pass@1", "mean_acc", "pass@2", "pass@3", "pass@4"]
    for k in range(1, 5):
        expected = sum(pass_at_k(4, c, k) for c in CORRECT_OF_4) / 6
        metric = next(m for m in serial["metrics"] if m["name"] == f"pass@{k}")
        assert metric["score"] == round(expected, 4) and metric["num"] == 6
    assert serial["metrics"][1]["num"] == 24 and serial["metrics"][1]["score"] == 0.5
    for report in reports:
        report.pop("perf_metrics")
    assert serial == parallel


def test_progress_file_counts_samples_as_they_finish(pytester: pytest.Pytester, suite_file: Path, gsm8k_dir: Path) -> None:
    args = "--evalscope-dataset-args=" + json.dumps({"gsm8k": {"local_path": str(gsm8k_dir)}})
    for xdist in (["-n", "0"], ["-n", "2"]):
        result = pytester.runpytest("--evalscope-eval-type=mock", args, "--evalscope-limit=5", "--evalscope-work-dir=out",
                                    '--evalscope-model-args={"response": "\\\\boxed{18}"}', "-p", "no:cacheprovider", *xdist)
        result.assert_outcomes(passed=1, failed=4)
        run = sorted((pytester.path / "out").glob("*"))[-1]
        progress = json.loads((run / "progress.json").read_text())
        assert {k: progress[k] for k in ("state", "total", "done", "passed", "failed", "errors", "percent")} == {
            "state": "finished", "total": 5, "done": 5, "passed": 1, "failed": 4, "errors": 0, "percent": 100.0}


def full_record(index: int, repeat: int, content: str) -> dict[str, Any]:
    return record("main", index, repeat, True, target="1", messages=[{"role": "user", "content": f"q{index}"}],
                  output={"content": content, "latency": 0.1, "usage": {}}, cached=False)


def test_output_files_end_in_sample_order_with_the_last_report_of_each_and_odd_text_intact(tmp_path: Path) -> None:
    from pytest_evalscope.reporting.outputs import OutputWriter

    odd = "a\u2028b\x85c\u2029d\x0be\r\nf"  # characters str.splitlines() breaks at, written raw by JSON
    writer = OutputWriter(tmp_path, "m")
    for index, repeat, content in [(3, 0, "late"), (1, 1, odd), (0, 0, "first"), (1, 0, "r0"), (3, 0, "again")]:
        writer.append(full_record(index, repeat, content))
    writer.finish()
    for kind in ("predictions", "reviews"):
        lines = [json.loads(text) for text in (tmp_path / kind / "m" / "s_main.jsonl").read_text(encoding="utf-8").split("\n") if text]
        assert [(line["index"], line.get("repeat", 0)) for line in lines] == [(0, 0), (1, 0), (1, 1), (3, 0)]
        assert [line["messages"][-1]["content"] for line in lines] == ["first", "r0", odd, "again"]

    # A resumed run that reports fewer samples keeps the earlier lines of the others, odd text included.
    again = OutputWriter(tmp_path, "m", keep_previous=True)
    again.append(full_record(0, 0, "redone"))
    again.finish()
    lines = [json.loads(t) for t in (tmp_path / "predictions" / "m" / "s_main.jsonl").read_text(encoding="utf-8").split("\n") if t]
    assert [line["messages"][-1]["content"] for line in lines] == ["redone", "r0", odd, "again"]
    assert sorted((r["index"], r["repeat"]) for r in again.kept) == [(1, 0), (1, 1), (3, 0)]
