"""MATH-500 and Competition-MATH: LaTeX answer equivalence (math-verify), boxed-answer extraction,
EvalScope's prompts byte for byte, and all 500 MATH-500 problems end to end against the loopback server
with oracle replies whose verdicts are known by design, serial and under xdist."""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

from pytest_evalscope.benchmarks.math500 import LEVELS
from pytest_evalscope.registry import create_benchmark
from pytest_evalscope.scoring.math_equal import extract_math_answer, math_equal
from pytest_evalscope.testing.server import ServerConfig, serve_in_subprocess

from .conftest import SHARED

MATH500 = SHARED / "datasets" / "math500"
ROWS = [json.loads(line) for line in (MATH500 / "test.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]

EQUAL = [
    (r"\frac{1}{2}", "0.5"),
    (r"\frac{1}{2}", "1/2"),
    ("0.5", "1/2"),
    (r"\frac12", r"\dfrac{1}{2}"),
    (r"\tfrac{3}{4}", "0.75"),
    (r"\sqrt{2}/2", r"\frac{\sqrt2}{2}"),
    (r"\frac{\sqrt{2}}{2}", r"\frac{1}{\sqrt{2}}"),
    (r"11\sqrt2", r"11\sqrt{2}"),
    (r"2\sqrt{3}", r"\sqrt{12}"),
    (r"\frac{14}{3}", r"4\frac{2}{3}"),
    ("(0,1]", "(0,1]"),
    (r"(-\infty, 0) \cup (0, \infty)", r"(-\infty,0)\cup(0,\infty)"),
    (r"[-2, 7]", r"[-2,7]"),
    (r"(-\infty,-2)\cup(2,\infty)", r"(-\infty, -2) \cup (2, \infty)"),
    ("3", "x=3"),
    ("x=3", "3"),
    ("2x+3", "y = 2x+3"),
    ("5", r"5\text{ cm}"),
    (r"5\text{ cm}", r"5 \text{cm}"),
    ("12", r"12\text{ inches}"),
    ("90", r"90^\circ"),
    (r"90^\circ", r"90^{\circ}"),
    ("50", r"50\%"),
    (r"50\%", "0.5"),
    (r"\$18.90", "18.90"),
    ("18.90", "18.9"),
    ("10,080", "10080"),
    ("5", "5.0"),
    ("-3", "-3.00"),
    (r"(1,2)", r"(1, 2)"),
    (r"(3, -\frac{1}{2})", r"\left(3, -\dfrac12\right)"),
    (r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\begin{pmatrix}1\\2\end{pmatrix}"),
    (r"\begin{pmatrix} \frac{1}{2} & 0 \\ 0 & 1 \end{pmatrix}", r"\begin{pmatrix} 0.5 & 0 \\ 0 & 1 \end{pmatrix}"),
    ("1,2,3", "3,2,1"),
    (r"\{1, 2\}", r"\{2, 1\}"),
    (r"2\pi", r"2 \pi"),
    (r"\frac{\pi}{3}", r"\pi/3"),
    ("x^2+2x+1", "(x+1)^2"),
    (r"6 - 5i", "6-5i"),
    (r"\infty", r"\infty"),
    (r"\text{Evelyn}", "Evelyn"),
    (r"\text{(C)}", r"\text{(C)}"),
    ("p - q", "p-q"),
    (r"\frac{a+b}{2}", r"\frac{b+a}{2}"),
    (r"4210_{5}", "4210_5"),
    (r"\frac{14}{3}", "4.666667"),
    (r"-\frac{1}{3}", r"\frac{-1}{3}"),
    (r"\dfrac{9}{7}", r"\frac{9}{7}"),
    (r"\left( 3, \frac{\pi}{2} \right)", r"(3, \frac{\pi}{2})"),
]

UNEQUAL = [
    ("3", "4"),
    ("2", "-2"),
    ("(0,1]", "[0,1]"),
    ("(0,1]", "(0,1)"),
    ("(1,2)", "(2,1)"),
    (r"\frac{1}{3}", "0.33"),
    (r"\pi", "3.14159"),
    (r"\sqrt{3}", "1.732"),
    ("0.5", "1/3"),
    (r"\begin{pmatrix}1\\2\end{pmatrix}", r"\begin{pmatrix}1\\3\end{pmatrix}"),
    ("x^2+1", "x^2-1"),
    (r"\frac{\sqrt{2}}{2}", r"\sqrt{2}"),
    ("10", "100"),
    ("18001", "18000"),
    (r"2\pi", r"\pi"),
    (r"\text{(C)}", r"\text{(D)}"),
    ("1,2,3", "1,2"),
    (r"[-2,7]", r"[-2,8]"),
]


@pytest.mark.parametrize(("gold", "pred"), EQUAL)
def test_equivalent_answers(gold: str, pred: str) -> None:
    assert math_equal(pred, gold)


@pytest.mark.parametrize(("gold", "pred"), UNEQUAL)
def test_different_answers_stay_unequal(gold: str, pred: str) -> None:
    assert not math_equal(pred, gold)
    assert not math_equal(gold, pred)


def test_missing_answer_is_never_equal() -> None:
    assert not math_equal(None, "3")
    assert not math_equal("", "3")


def test_missing_math_verify_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "math_verify", None)
    with pytest.raises(ImportError, match=re.escape("pip install 'pytest-evalscope[math]'")):
        math_equal("0.5", r"\frac{1}{2}")


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("We get $x = 4$.\n\nTherefore the answer is $\\boxed{4}$.", "4"),
        ("So $\\boxed{\\frac{\\sqrt{2}}{2}}$ is the value.", "\\frac{\\sqrt{2}}{2}"),
        ("Nested: \\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "\\left( 3, \\frac{\\pi}{2} \\right)"),
        ("First \\boxed{5}, but that was wrong.\nCorrected: \\boxed{7}", "7"),  # the last box
        ("\\boxed{}\nHmm, the answer: \\boxed{12}", "12"),
        ("Result \\fbox{9}", "9"),
        ("$$\\boxed{\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}}$$", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"),
        ("<think>Maybe \\boxed{3}? Let me check.</think>\nThe answer is \\boxed{5}.", "5"),
        ("<think>It is \\boxed{3}</think>", None),  # only reasoning: no answer
        ("<think>Working it out, 2 + 2 = 4 and then", "4"),  # unclosed: read as answer text (EvalScope 1.14.1)
        ("So the total is \\boxed{\\frac{1}{2", "\\frac{1}{2"),  # truncated inside the box
        ("Let us set up the problem carefully. First we consider the", None),  # truncated, no number
        ("Final Answer: The final answer is $\\frac{3}{4}$. I hope it is correct.", "\\frac{3}{4}"),
        ("Simplifying, the answer is $(0,1]$.", "(0,1]"),
        ("ANSWER: 42", "42"),
        ("所以答案是 $-3$", "-3"),
        ("First 2 + 3 = 5, then 5 * 4 = 20", "20"),  # no marker: the last number
        ("The area is 1,250 square feet", "1250"),
        ("\\boxed{5\\text{ cm}}.", "5\\text{ cm}"),
    ],
)
def test_extract_math_answer(reply: str, expected: str | None) -> None:
    assert extract_math_answer(reply) == expected


def test_math_500_prompt_is_evalscopes() -> None:
    bench = create_benchmark("math_500", {"local_path": str(MATH500)})
    sample = bench.load_samples("Level 2", 1, 1)[0]
    row = next(r for r in ROWS if r["level"] == 2)
    assert sample.target == row["answer"] and sample.metadata["question_id"] == row["unique_id"]
    expected = row["problem"] + "\nPlease reason step by step, and put your final answer within \\boxed{}."
    assert bench.build_messages(sample, bench.fewshot_samples("Level 2")) == [{"role": "user", "content": expected}]
    assert [len(bench.load_samples(level, None, 1)) for level in LEVELS] == [43, 90, 105, 128, 134]
    assert (bench.eval_split, bench.train_split, bench.few_shot_num) == ("test", None, 0)
    assert type(bench).dataset_id == "AI-ModelScope/MATH-500"


def competition_dir(root: Path) -> Path:
    """MATH-500 rows in Competition-MATH's hub schema: problem, solution, level "Level N", type."""
    def convert(row: dict) -> dict:
        return {"problem": row["problem"], "solution": row["solution"], "level": f"Level {row['level']}",
                "type": row["subject"]}
    (root / "test.jsonl").write_text("".join(json.dumps(convert(r)) + "\n" for r in ROWS[:300]), encoding="utf-8")
    (root / "train.jsonl").write_text("".join(json.dumps(convert(r)) + "\n" for r in ROWS[300:]), encoding="utf-8")
    return root


def test_competition_math_four_shot_prompt(tmp_path: Path) -> None:
    bench = create_benchmark("competition_math", {"local_path": str(competition_dir(tmp_path))})
    assert type(bench).dataset_id == "evalscope/competition_math" and bench.few_shot_num == 4
    sample = bench.load_samples("Level 3", 1, 1)[0]
    row = next(r for r in ROWS[:300] if r["level"] == 3)
    assert sample.target == row["answer"] and sample.metadata["type"] == row["subject"]
    shots = [r for r in ROWS[300:] if r["level"] == 3][:4]
    fewshot = "\n\n".join(f"Problem:\n{r['problem']}\nSolution:\n{r['answer']}" for r in shots)
    expected = ("Here are some examples of how to solve similar problems:\n\n" + fewshot + "\nProblem:\n" + row["problem"]
                + "\n\nPlease reason step by step, and put your final answer within \\boxed{}.\n")
    assert bench.build_messages(sample, bench.fewshot_samples("Level 3")) == [{"role": "user", "content": expected}]
    zero = create_benchmark("competition_math", {"local_path": str(tmp_path), "few_shot_num": 0})
    assert zero.build_messages(sample, []) == [{"role": "user", "content": "Problem:\n" + row["problem"]
                                                + "\n\nPlease reason step by step, and put your final answer within \\boxed{}.\n"}]
    # every gold taken from a solution's last box agrees with MATH-500's answer field
    targets = [s.target for level in LEVELS for s in bench.load_samples(level, None, 1)]
    assert len(targets) == 300
    assert all(math_equal(extract_math_answer(r["solution"]), r["answer"]) for r in ROWS)


# ------------------------------------------------------------------ end to end

WRONG = "-12345"  # equal to no MATH-500 answer
_UNIT = re.compile(r"^(-?[\d.,]+)\s*\\(?:text|mbox)\{\s*[A-Za-z ]+\}(?:\^2|\^3)?$")
_FRAC = re.compile(r"^(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}$")


def _variant(gold: str) -> str:
    """An equivalent form that only math-verify can match: units dropped, a/b for \\frac{a}{b}, x = n."""
    if m := _UNIT.match(gold):
        return m.group(1)
    if m := _FRAC.match(gold):
        return f"{m.group(1)}{m.group(2)}/{m.group(3)}"
    if re.fullmatch(r"-?\d+", gold):
        return f"x = {gold}"
    return gold


# (reply writer, whether the reply is right by design); the writers cycle over the problems
REPLIES = [
    (lambda g: f"Let me work it out step by step.\n\nSo the answer is $\\boxed{{{g}}}$.", True),
    (lambda g: f"Hence\n$$\\boxed{{{g.replace(chr(92) + 'frac', chr(92) + 'dfrac')}}}$$", True),
    (lambda g: f"Putting it together, we find \\boxed{{{_variant(g)}}}.", True),
    (lambda g: f"<think>Perhaps \\boxed{{{WRONG}}}? No, recheck.</think>\nThe final answer is \\boxed{{{g}}}", True),
    (lambda g: f"After simplifying everything, I get \\boxed{{{WRONG}}}.", False),
    (lambda g: f"Final Answer: The final answer is ${g}$. I hope it is correct.", True),
    (lambda g: "Let us set up the problem carefully. First we consider the", False),  # truncated, unparsed
    (lambda g: f"Initially \\boxed{{{WRONG}}}, but that is wrong.\n\nCorrected: \\boxed{{{g}}}", True),
    (lambda g: f"The answer is \\boxed{{ {g} }}", True),
]
UNPARSED = 6


def math500_oracle() -> tuple[dict[str, str], list[tuple[str, bool]]]:
    bench = create_benchmark("math_500", {"local_path": str(MATH500)})
    oracle: dict[str, str] = {}
    verdicts = []
    for n, row in enumerate(ROWS):
        write, right = REPLIES[n % len(REPLIES)]
        sample = bench.record_to_sample(row, 0, f"Level {row['level']}")
        oracle[bench.build_messages(sample, [])[-1]["content"]] = write(row["answer"])
        verdicts.append((f"Level {row['level']}", right))
    return oracle, verdicts


ORACLE, VERDICTS = math500_oracle()


def _run(pytester: pytest.Pytester, url: str, workers: list[str], benchmark: str, args: dict, *extra: str) -> pytest.RunResult:
    return pytester.runpytest("--evalscope-model=oracle", f"--evalscope-api-url={url}", "--evalscope-work-dir=out",
                              "--evalscope-dataset-args=" + json.dumps({benchmark: args}), "--evalscope-eval-batch-size=16",
                              "-p", "no:cacheprovider", *extra, *workers)


def test_math500_oracle_verdicts_match_the_scorer() -> None:
    bench = create_benchmark("math_500", {"local_path": str(MATH500)})
    for row, (_, right) in zip(ROWS, VERDICTS, strict=True):
        sample = bench.record_to_sample(row, 0, "Level 1")
        reply = ORACLE[bench.build_messages(sample, [])[-1]["content"]]
        assert bench.score(sample, reply).correct is right, (row["answer"], reply)


def _report_and_reviews(run: Path) -> tuple[dict, dict[str, str]]:
    report = json.loads((run / "reports/oracle/math_500.json").read_text())
    report.pop("perf_metrics")  # latencies
    report["execution_summary"].pop("cached")
    reviews = {p.name: p.read_text() for p in sorted((run / "reviews/oracle").glob("*.jsonl"))}
    return report, reviews


def test_math_500_scores_exactly_serial_and_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(eval_math_500="from pytest_evalscope import Suite\nmath_500 = Suite('math_500')\n")
    passed = sum(right for _, right in VERDICTS)
    assert passed == 389  # 500 replies cycling over 9 writers, 2 of them wrong by design (55 * 2 + 1 wrong)
    outputs = []
    with serve_in_subprocess(ServerConfig(oracle=ORACLE, max_seconds=120)) as server:
        for workers in (["-n", "0"], ["-n", "2"]):
            before = set((pytester.path / "out").glob("*"))
            result = _run(pytester, server.url, workers, "math_500", {"local_path": str(MATH500)})
            result.assert_outcomes(passed=passed, failed=500 - passed)
            (run,) = set((pytester.path / "out").glob("*")) - before
            outputs.append(_report_and_reviews(run))
    report, reviews = outputs[0]
    assert outputs[1] == outputs[0]  # the same report and reviews serial and under xdist
    assert list(reviews) == [f"math_500_{level}.jsonl" for level in LEVELS]
    rows = {s["name"]: s for s in report["metrics"][0]["categories"][0]["subsets"]}
    assert list(rows) == LEVELS
    for level in LEVELS:
        mine = [right for name, right in VERDICTS if name == level]
        unparsed = sum(1 for n, (name, _) in enumerate(VERDICTS) if name == level and n % len(REPLIES) == UNPARSED)
        assert (rows[level]["num"], rows[level]["score"], rows[level]["unparsed"]) == (
            len(mine), round(sum(mine) / len(mine), 4), unparsed), level
    assert report["score"] == round(passed / 500, 4)


def test_competition_math_end_to_end(pytester: pytest.Pytester, tmp_path: Path) -> None:
    data = competition_dir(tmp_path)
    bench = create_benchmark("competition_math", {"local_path": str(data)})
    oracle, expected = {}, Counter()
    for level in LEVELS:
        fewshot = bench.fewshot_samples(level)
        for sample in bench.load_samples(level, 6, 1):
            right = sample.index % 2 == 0
            oracle[bench.build_messages(sample, fewshot)[-1]["content"].strip()] = f"\\boxed{{{sample.target if right else WRONG}}}"
            expected["passed" if right else "failed"] += 1
    pytester.makepyfile(eval_competition_math="from pytest_evalscope import Suite\ncm = Suite('competition_math')\n")
    with serve_in_subprocess(ServerConfig(oracle=oracle, max_seconds=60)) as server:
        result = _run(pytester, server.url, ["-n", "0"], "competition_math", {"local_path": str(data)}, "--evalscope-limit=6")
    result.assert_outcomes(passed=expected["passed"], failed=expected["failed"])
