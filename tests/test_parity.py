"""Our scores against EvalScope 1.14.1's on a corpus of realistic replies (`tests/corpora/parity.jsonl.gz`).

Each reply was scored once by EvalScope 1.14.1 (`scripts/parity_corpus.py verdicts`, where EvalScope is
installed); the stored verdict is its score. Here each reply is scored the way an item scores it
(`split_reasoning`, then the benchmark's `score`) and the two scores are compared. A difference is
allowed only when it falls in one of the deliberate deviations the README lists (`DEVIATIONS`, each
recognised by the shape of the reply, never by corpus id); agreement on the rest must be at least 99.5%
for every benchmark. The failure message lists every disagreement outside the deviations.

For the code benchmarks (humaneval_plus, mbpp, mbpp_plus, live_code_bench) parity is on the extracted
code, never on its execution: the stored verdict is the code EvalScope's adapter extracts
(`filter_prediction`: its `<think>` handling, filters and `extract_answer`), and ours is the code the
benchmark would run (`code_of`; MBPP with its empty `test_setup_code` and `if __name__ ==` cut, as
EvalScope's `extract_answer` does). They agree when equal after trailing whitespace is dropped from
every line and blank lines from both ends.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from pytest_evalscope.benchmarks.base import Benchmark, Sample
from pytest_evalscope.benchmarks.mbpp import cut_main
from pytest_evalscope.registry import create_benchmark
from pytest_evalscope.scoring.code_extract import PYTHON_TAGS
from pytest_evalscope.scoring.filters import apply_filters
from pytest_evalscope.scoring.numeric import split_reasoning

CORPUS = Path(__file__).parent / "corpora" / "parity.jsonl.gz"
REQUIRED_AGREEMENT = 0.995
MIN_REPLIES = 3000
CHINESE_TEMPLATES = {"ceval", "cmmlu", "iquiz", "general_mcq"}
MULTIPLE_CHOICE = CHINESE_TEMPLATES | {"mmlu", "arc", "hellaswag", "truthful_qa_mc1", "truthful_qa_mc2",
                                       "gpqa_diamond", "mmlu_pro", "mmlu_redux"}
MATH = {"math_500", "competition_math", "aime24", "aime25"}
CODE = {"humaneval_plus", "mbpp", "mbpp_plus", "live_code_bench"}


@cache
def corpus() -> tuple[dict[str, Any], ...]:
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        return tuple(json.loads(line) for line in f)


@cache
def benchmark(bench: str) -> Benchmark:
    if bench.startswith("truthful_qa"):
        return create_benchmark("truthful_qa", {"extra_params": {"multiple_correct": bench.endswith("mc2")}})
    return create_benchmark(bench, {})


def sample_of(record: dict[str, Any]) -> Sample:
    bench, b = record["bench"], benchmark(record["bench"])
    if "n" in record:
        choices = [f"option {i}" for i in range(record["n"])]
        return Sample(0, "default", "q", record["gold"], {"choices": choices, "type": bench[-3:]})
    if bench == "bbh":
        return b.record_to_sample({"input": "q", "target": record["gold"]}, 0, record["task"])
    if bench == "gsm8k":
        return b.record_to_sample({"question": "q", "answer": f"reasoning\n#### {record['gold']}"}, 0, "main")
    if bench == "competition_math":
        return b.record_to_sample({"problem": "q", "solution": record["solution"], "level": "Level 1"}, 0, "Level 1")
    return b.record_to_sample({"problem": "q", "answer": record["gold"], "level": 1}, 0, "Level 1")


def normalised(code: str | None) -> str:
    return "\n".join(line.rstrip() for line in (code or "").splitlines()).strip("\n")


def our_code(record: dict[str, Any]) -> str:
    b = benchmark(record["bench"])
    answer_text, _ = split_reasoning(record["reply"])
    code = b.code_of(Sample(0, "default", "q", ""), apply_filters(answer_text, b.filters))
    return cut_main("\n" + code) if record["bench"] == "mbpp" else code


def their_score(record: dict[str, Any]) -> float:
    """EvalScope's score; for code, 1: the reference our extraction is compared with."""
    return 1.0 if record["bench"] in CODE else record["evalscope"]["score"]


def our_verdict(record: dict[str, Any]) -> tuple[float, str | None]:
    if record["bench"] in CODE:
        code = our_code(record)
        return float(normalised(code) == normalised(record["evalscope"]["extracted"])), code
    answer_text, _ = split_reasoning(record["reply"])
    score = benchmark(record["bench"]).score(sample_of(record), answer_text)
    return next(iter(score.value.values())), score.extracted


# ------------------------------------------------------------ the deliberate deviations (README table)

_MARKER = re.compile(r"(?:(?i:ANSWER)\s*:|答案\s*[:：])\s*\**\s*")
_EN_MARKER = re.compile(r"(?i:ANSWER)\s*:")
_ZH_MARKER = re.compile(r"答案\s*[:：]")


def _answer_text(record: dict[str, Any]) -> str:
    return split_reasoning(record["reply"])[0]


def lower_case_label(record: dict[str, Any], ours: str | None) -> bool:
    """`Answer: b`: the last marker is followed by lower-case option letters, and we read those letters."""
    if record["bench"] not in MULTIPLE_CHOICE or not ours:
        return False
    markers = list(_MARKER.finditer(_answer_text(record)))
    if not markers:
        return False
    tail = _answer_text(record)[markers[-1].end():]
    match = re.match(r"[(\[（【]?\s*([a-z](?:\s*[,，/、]?\s*[a-z])*)(?![A-Za-z])", tail)
    return bool(match) and set(re.sub(r"[^a-z]", "", match.group(1)).upper()) == set(ours)


def other_language_marker(record: dict[str, Any], ours: str | None) -> bool:
    """`答案：A（因为 D 不对）` under an English template (or `ANSWER: A (...)` under a Chinese one): EvalScope
    knows only its template's marker and falls back to the last capital letter; we read the marker."""
    if record["bench"] not in MULTIPLE_CHOICE or not ours:
        return False
    text = _answer_text(record)
    own, other = (_ZH_MARKER, _EN_MARKER) if record["bench"] in CHINESE_TEMPLATES else (_EN_MARKER, _ZH_MARKER)
    return not own.search(text) and bool(other.search(text))


def bare_think_close(record: dict[str, Any], ours: str | None) -> bool:
    """A `</think>` with no `<think>` before it (the chat template opened the block): what comes before it
    is reasoning. EvalScope removes complete blocks only, so it reads that reasoning: an answer line
    inside it, or (BBH, no "So the answer is") its first line."""
    first = re.search(r"<(/?)think>", record["reply"])
    return bool(first) and first.group(1) == "/" and bool(record["reply"][:first.start()].strip())


def boxed_prose(record: dict[str, Any], ours: str | None) -> bool:
    """GSM8K `\\boxed{\\text{She has } 180 \\text{ left}}`: the box holds one number among words; we read it."""
    return record["bench"] == "gsm8k" and bool(re.search(r"\\boxed\{\\text\{[^{}]*[A-Za-z]{2,}[^{}]*\}\s*[\d,.]+\s*\\text",
                                                          record["reply"]))


def hashes_then_chatter(record: dict[str, Any], ours: str | None) -> bool:
    """GSM8K `#### 142` followed by chatter that holds other numbers: the number after `####` is the answer."""
    return record["bench"] == "gsm8k" and bool(re.search(r"####\s*[\d,.]+\s*\n[\s\S]*\d", record["reply"]))


def plain_final_answer(record: dict[str, Any], ours: str | None) -> bool:
    """MATH: LaTeX reasoning, then "So the answer is \\sqrt{51}." in plain text, with no box: we read the
    final answer; EvalScope's math-verify picks a LaTeX span of the reasoning or keeps the period."""
    if record["bench"] not in MATH:
        return False
    last = _answer_text(record).strip().rsplit("\n", 1)[-1]
    return "\\boxed" not in last and bool(re.search(r"[Aa]nswer is \s*[^$\s]", last))


def chinese_marker_math(record: dict[str, Any], ours: str | None) -> bool:
    """GSM8K / MATH ending `答案：43,200`: we read the number after the marker; EvalScope's math-verify knows
    English anchors only and picks another number of the reasoning (or none)."""
    if record["bench"] not in MATH | {"gsm8k"}:
        return False
    return bool(re.match(r"答案\s*[:：是为]", _answer_text(record).strip().rsplit("\n", 1)[-1]))


def aime_inline_sentence(record: dict[str, Any], ours: str | None) -> bool:
    """AIME ending "Thus we get $x = 104$.": the integer in the sentence's math is the answer; EvalScope reads
    "104." (with the sentence's period), which is no integer literal, and gives 0."""
    return record["bench"] in {"aime24", "aime25"} and bool(
        re.search(r"\$[^$]*=\s*-?\d+\s*\$\.\s*$", _answer_text(record).strip()))


_EVALSCOPE_FENCE = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)  # HumanEval(+)'s `_postprocess`


def other_language_fence_first(record: dict[str, Any], ours: str | None) -> bool:
    """HumanEval+: a block tagged as another language (`bash`, `text`, `console`) before the Python one:
    EvalScope runs the first block whatever its language; we take the first Python (or untagged) block."""
    if record["bench"] != "humaneval_plus":
        return False
    tags = [tag.lower() for tag, _ in _EVALSCOPE_FENCE.findall(_answer_text(record))]
    return bool(tags) and tags[0] not in PYTHON_TAGS and any(tag in PYTHON_TAGS for tag in tags[1:])


def unclosed_fence(record: dict[str, Any], ours: str | None) -> bool:
    """HumanEval+: a reply cut off inside its only code block (an opening fence, never closed): EvalScope
    finds no block and runs the whole reply, prose and fence line included; we take the code after the fence."""
    text = _answer_text(record)
    return record["bench"] == "humaneval_plus" and bool(re.search(r"^```\w*\n", text, re.MULTILINE)) \
        and not _EVALSCOPE_FENCE.search(text)


def prose_before_unfenced_code(record: dict[str, Any], ours: str | None) -> bool:
    """HumanEval+: unfenced code after a line of prose ("Here is the implementation:"): EvalScope runs the
    prose too (a syntax error); we start at the first line that opens code (`def`, `import`, `from`, ...)."""
    text = _answer_text(record).strip("\n")
    if record["bench"] != "humaneval_plus" or "```" in text or not text:
        return False
    first = text.splitlines()[0]
    return not first.startswith((" ", "\t", "def ", "import ", "from ", "class ", "@", "#")) and \
        bool(re.search(r"^(?:def |import |from \S+ import |class )", text, re.MULTILINE))


DEVIATIONS: dict[str, Callable[[dict[str, Any], str | None], bool]] = {
    "lower-case label": lower_case_label,
    "marker in the other language": other_language_marker,
    "bare </think>": bare_think_close,
    "GSM8K box with words": boxed_prose,
    "GSM8K #### then chatter": hashes_then_chatter,
    "MATH plain-text final answer": plain_final_answer,
    "答案 in a math reply": chinese_marker_math,
    "AIME integer ending a sentence in math": aime_inline_sentence,
    "HumanEval+ other-language fence first": other_language_fence_first,
    "HumanEval+ unclosed fence": unclosed_fence,
    "HumanEval+ prose before unfenced code": prose_before_unfenced_code,
}


def deviation_of(record: dict[str, Any], ours: str | None) -> str | None:
    return next((name for name, test in DEVIATIONS.items() if test(record, ours)), None)


# ------------------------------------------------------------ the tests

@cache
def scored() -> tuple[tuple[dict[str, Any], float, str | None], ...]:
    return tuple((record, *our_verdict(record)) for record in corpus())


def compare() -> tuple[dict[str, Counter[str]], list[str]]:
    tally: dict[str, Counter[str]] = {}
    disagreements = []
    for record, ours, extracted in scored():
        theirs = their_score(record)
        counts = tally.setdefault(record["bench"], Counter())
        if abs(ours - theirs) < 1e-9:
            counts["agree"] += 1
            continue
        deviation = deviation_of(record, extracted)
        if deviation:
            counts[f"deviation: {deviation}"] += 1
            continue
        counts["disagree"] += 1
        disagreements.append(f"{record['id']} [{record['form']}] ours {ours:g} ({extracted!r}), EvalScope {theirs:g} "
                             f"({record['evalscope']['extracted']!r}), gold {record.get('gold')!r}: "
                             f"{record['reply'][-160:]!r}")
    return tally, disagreements


def test_corpus_is_large_and_covers_every_rule_scored_benchmark() -> None:
    records = corpus()
    assert len(records) >= MIN_REPLIES
    assert {r["bench"] for r in records} == MULTIPLE_CHOICE | MATH | CODE | {"gsm8k", "bbh"}
    assert all("evalscope" in r for r in records), "run scripts/parity_corpus.py verdicts"
    assert len({r["id"] for r in records}) == len(records)


def test_agreement_with_evalscope_per_benchmark() -> None:
    tally, disagreements = compare()
    low = {}
    for bench, counts in sorted(tally.items()):
        compared = counts["agree"] + counts["disagree"]
        if counts["agree"] / compared < REQUIRED_AGREEMENT:
            low[bench] = f"{counts['agree']}/{compared}"
    summary = {bench: dict(counts) for bench, counts in sorted(tally.items())}
    assert not low, f"agreement below {REQUIRED_AGREEMENT:.1%}: {low}\n{summary}\n" + "\n".join(disagreements)
    assert not disagreements or len(disagreements) <= 0.005 * len(corpus()), "\n".join(disagreements)


@pytest.mark.parametrize("name", list(DEVIATIONS))
def test_every_deviation_occurs_in_the_corpus(name: str) -> None:
    """Each documented deviation is exercised (else its row in the README is untested)."""
    found = 0
    for record, ours, extracted in scored():
        if abs(ours - their_score(record)) >= 1e-9 and DEVIATIONS[name](record, extracted):
            found += 1
    assert found, f"no reply in the corpus shows the deviation {name!r}"

