"""The scoring parity corpus: realistic replies, and EvalScope 1.14.1's verdicts on them.

    python scripts/parity_corpus.py generate            # write tests/corpora/parity.jsonl.gz (stdlib only)
    /work/evalscope-venv/bin/python scripts/parity_corpus.py verdicts   # store EvalScope's verdicts in it

`generate` draws questions and golds from the real datasets (`--data`, default /work/shared/datasets)
and writes, for each benchmark with a rule scorer, replies in the shapes models write: reasoning then an
answer line, bold and LaTeX, Chinese markers, hedges, truncations, `<think>` blocks, numbers with units
and commas. It is seeded: the same data gives the same corpus. Each line is one reply:

    {"id", "bench", "form" (the shape it was drawn in), "reply", "gold", "n" (choices, multiple choice),
     "task" (BBH), "solution" (competition_math), "evalscope": {"extracted", "score"}}

`verdicts` runs EvalScope's own adapters on every reply (its `<think>` handling, `extract_answer` and
metrics through `calculate_metrics`) and stores the extracted answer and score; for the code benchmarks
(humaneval_plus, mbpp, mbpp_plus, live_code_bench) it stores the extracted code only (`filter_prediction`:
parity there is on the code, execution is no part of it; MBPP's is prefixed with its empty
`test_setup_code` and a newline). `verdicts --missing` computes only the replies that have none yet. It needs
`pip install evalscope==1.14.1` (in a virtualenv of its own); the project's tests only read the result.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import gzip
import json
import random
import re
import string
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpora" / "parity.jsonl.gz"
SEED = 20240612
MODEL = "parity-corpus"

# benchmark -> number of replies
SIZES = {
    "mmlu": 420, "arc": 260, "hellaswag": 240, "ceval": 380, "cmmlu": 300, "iquiz": 140, "general_mcq": 160,
    "truthful_qa_mc1": 220, "truthful_qa_mc2": 240, "gsm8k": 480, "math_500": 360, "competition_math": 140,
    "bbh": 420,
}
CHINESE = {"ceval", "cmmlu", "iquiz", "general_mcq"}
# issue 16's benchmarks, drawn with their own generator after the others so earlier replies stay as they were
NEW_SIZES = {"aime24": 100, "aime25": 100, "gpqa_diamond": 160, "mmlu_pro": 260, "mmlu_redux": 200}
NEW_SEED = SEED + 16
# the code benchmarks (parity on the extracted code), drawn last with their own generator
CODE_SIZES = {"humaneval_plus": 140, "mbpp": 140, "mbpp_plus": 130, "live_code_bench": 120}
CODE_SEED = SEED + 17
LCB_SOLUTIONS = ROOT / "tests" / "fixtures" / "live_code_bench" / "solutions.json"


# ---------------------------------------------------------------- data

def _mmlu(data: Path, rng: random.Random, count: int) -> list[tuple[str, list[str], str]]:
    files = sorted((data / "mmlu" / "test").glob("*_test.csv"))
    items = []
    for file in rng.sample(files, 20):
        with file.open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        for row in rng.sample(rows, min(len(rows), count // 20 + 2)):
            choices = [row[f"choice{i}"] for i in range(4)]
            items.append((row["question"], choices, "ABCD"[int(row["answer"])]))
    return items


def _arc(data: Path, rng: random.Random) -> list[tuple[str, list[str], str]]:
    items = []
    for name in ("arc_easy", "arc_challenge"):
        for line in (data / "arc" / "gauntlet" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            items.append((rec["query"].removeprefix("Question: "), rec["choices"], string.ascii_uppercase[rec["gold"]]))
    return items


def _hellaswag(data: Path) -> list[tuple[str, list[str], str]]:
    lines = bz2.open(data / "hellaswag" / "hellaswag_val_full.txt.bz2", "rt", encoding="utf-8").read().splitlines()
    return [(lines[i].split(": ", 1)[-1], lines[i + 2:i + 6], "ABCD"[int(lines[i + 1])])
            for i in range(0, min(len(lines), 6 * 3000), 6)]


def _ceval(data: Path) -> list[tuple[str, list[str], str]]:
    items = []
    for file in sorted((data / "ceval" / "val").glob("*_val.csv")):
        with file.open(encoding="utf-8") as f:
            items += [(r["question"], [r[k] for k in "ABCD"], r["answer"]) for r in csv.DictReader(f)]
    return items


def _cmmlu(data: Path) -> list[tuple[str, list[str], str]]:
    items = []
    for file in sorted((data / "cmmlu" / "test").glob("*.csv"))[:30]:
        with file.open(encoding="utf-8") as f:
            items += [(r["Question"], [r[k] for k in "ABCD"], r["Answer"]) for r in csv.DictReader(f)]
    return items


def _truthful(data: Path) -> list[tuple[str, list[str], list[str]]]:
    records = json.loads((data / "truthfulqa" / "hf_013686a" / "mc_task.json").read_text(encoding="utf-8"))
    return [(r["question"], list(r["mc1_targets"]), list(r["mc2_targets"].values()), list(r["mc2_targets"]))
            for r in records]


def _math500(data: Path) -> list[dict]:
    return [json.loads(line) for line in (data / "math500" / "test.jsonl").read_text(encoding="utf-8").splitlines()]


def _gsm8k(data: Path) -> list[dict]:
    return [json.loads(line) for line in (data / "gsm8k" / "test.jsonl").read_text(encoding="utf-8").splitlines()]


def _bbh(data: Path) -> dict[str, list[dict]]:
    return {f.stem: json.loads(f.read_text(encoding="utf-8"))["examples"] for f in sorted((data / "bbh" / "bbh").glob("*.json"))}


# ---------------------------------------------------------------- reply shapes shared by all benchmarks

def think(rng: random.Random, reasoning: str, final: str, tentative: str = "") -> tuple[str, str]:
    """The reply with its reasoning in one of the `<think>` shapes models write, and that shape's name."""
    shape = rng.choices(["none", "closed", "unclosed", "bare", "closed_tentative", "bare_tentative", "truncated"],
                        [55, 14, 8, 7, 6, 5, 5])[0]
    if shape == "closed":
        return f"<think>\n{reasoning}\n</think>\n\n{final}", "think_closed"
    if shape == "closed_tentative" and tentative:
        return f"<think>\n{reasoning}\n{tentative}\nWait, let me double-check.\n</think>\n\n{final}", "think_tentative"
    if shape == "unclosed":
        return f"<think>\n{reasoning}\n\n{final}", "think_unclosed"
    if shape == "bare":
        return f"{reasoning}\n</think>\n\n{final}", "think_bare"
    if shape == "bare_tentative" and tentative:
        return f"{reasoning}\n{tentative}\n</think>\n\n{final}", "think_bare_tentative"
    if shape == "truncated":
        cut = reasoning[: max(20, int(len(reasoning) * rng.uniform(0.3, 0.9)))]
        return (f"<think>\n{cut}" if rng.random() < 0.5 else cut), "truncated"
    return f"{reasoning}\n\n{final}", "plain"


# ---------------------------------------------------------------- multiple choice

EN_OPENERS = ["Let's analyze each option.", "Let me think step by step.", "To answer this, consider the choices.",
              "We need to find the best answer.", "Step 1: Understand the question.", ""]
ZH_OPENERS = ["我们逐一分析选项。", "让我们一步步思考。", "首先，理解题意。", "分析如下：", "解析：", ""]


def _mcq_reasoning(rng: random.Random, choices: list[str], chosen: str, zh: bool) -> str:
    lines = [rng.choice(ZH_OPENERS if zh else EN_OPENERS)]
    for i, text in enumerate(choices):
        letter = string.ascii_uppercase[i]
        short = " ".join(text.split())[:70]
        if zh:
            verdict = "正确" if letter == chosen else rng.choice(["错误", "不正确", "不符合题意", "可以排除"])
            lines.append(rng.choice([f"{letter}. {short}：{verdict}。", f"选项{letter}（{short}）{verdict}。",
                                     f"- {letter}：{verdict}"]))
        else:
            verdict = "This is correct." if letter == chosen else rng.choice(
                ["This is incorrect.", "Not right.", "This does not fit.", "We can rule this out."])
            lines.append(rng.choice([f"- Option {letter}: {short}. {verdict}", f"{letter}) {short} -> {verdict}",
                                     f"**{letter}**: {verdict}"]))
    if rng.random() < 0.3:
        lines.append("I think" + rng.choice([" it's probably", " the best choice is", " I'd go with"]) + f" {chosen}."
                     if not zh else f"我认为应该选{chosen}。")
    return "\n".join(line for line in lines if line)


def _other(rng: random.Random, letter: str, n: int) -> str:
    return rng.choice([c for c in string.ascii_uppercase[:n] if c != letter])


def _en_final(rng: random.Random, letter: str, other: str, text: str) -> tuple[str, str]:
    short = " ".join(text.split())[:50]
    forms = {
        "plain": (30, f"ANSWER: {letter}"),
        "bold_line": (5, f"**ANSWER: {letter}**"),
        "bold_label": (5, f"ANSWER: **{letter}**"),
        "bold_marker": (5, f"**Answer:** {letter}"),
        "paren": (4, f"ANSWER: ({letter})"),
        "bracket": (3, f"ANSWER: [{letter}]"),
        "with_text": (5, f"ANSWER: {letter}) {short}"),
        "with_dot_text": (3, f"ANSWER: {letter}. {short}"),
        "mixed_case": (3, f"Answer: {letter}"),
        "boxed": (3, f"ANSWER: $\\boxed{{{letter}}}$"),
        "boxed_aside": (3, f"ANSWER: \\boxed{{{letter}}} (Option {letter})"),
        "latex_text": (2, f"ANSWER: $\\text{{{letter}}}$"),
        "latex_paren": (1, f"ANSWER: \\({letter}\\)"),
        "no_marker_is": (3, f"The correct answer is **{letter}**."),
        "no_marker_paren": (2, f"Therefore, the answer is ({letter})."),
        "no_marker_text": (2, f"So the answer is {letter}: {short}"),
        "bare_boxed": (2, f"$\\boxed{{{letter}}}$"),
        "two_or": (3, f"ANSWER: {letter} or {other}"),
        "two_slash": (2, f"ANSWER: {letter}/{other}"),
        "two_and": (2, f"ANSWER: {letter} and {other}"),
        "two_comma": (1, f"ANSWER: {letter}, {other}"),
        "not_other": (2, f"ANSWER: {letter}, not {other}"),
        "because": (3, f"ANSWER: {letter} because option {other} is wrong"),
        "lower": (3, f"Answer: {letter.lower()}"),
        "lower_paren": (1, f"ANSWER: ({letter.lower()})"),
        "echo": (2, f"The required format is 'ANSWER: [LETTER]'.\nANSWER: {letter}"),
        "hedge_aside": (2, f"ANSWER: {letter} (though {other} is also plausible)"),
        "note_after": (2, f"ANSWER: {letter}\n\nNote: Option {other} is a common distractor."),
        "zh_marker": (2, f"答案：{letter}"),
        "zh_aside": (2, f"答案：{letter}（因为 {other} 不对）"),
        "digit": (1, f"ANSWER: {string.ascii_uppercase.index(letter) + 1}"),
        "revised": (2, f"ANSWER: {other}\nActually, on reflection, ANSWER: {letter}"),
    }
    name = rng.choices(list(forms), [w for w, _ in forms.values()])[0]
    return forms[name][1], name


def _zh_final(rng: random.Random, letter: str, other: str, text: str) -> tuple[str, str]:
    short = " ".join(text.split())[:30]
    forms = {
        "plain": (30, f"答案：{letter}"),
        "ascii_colon": (6, f"答案: {letter}"),
        "space": (6, f"答案： {letter}"),
        "bold_label": (5, f"答案：**{letter}**"),
        "bold_line": (4, f"**答案：{letter}**"),
        "paren": (4, f"答案：({letter})"),
        "fw_paren": (3, f"答案：（{letter}）"),
        "lenticular": (1, f"答案：【{letter}】"),
        "so_is": (4, f"所以答案是{letter}"),
        "gu_xuan": (4, f"故选{letter}。"),
        "boxed": (3, f"答案：$\\boxed{{{letter}}}$"),
        "with_text": (3, f"答案：{letter}. {short}"),
        "comma_reason": (2, f"答案：{letter}，因为其他选项都不符合。"),
        "two_dun": (3, f"答案：{letter}、{other}"),
        "two_slash": (1, f"答案：{letter}/{other}"),
        "two_huo": (1, f"答案：{letter}或{other}"),
        "lower": (2, f"答案：{letter.lower()}"),
        "en_marker": (3, f"ANSWER: {letter}"),
        "en_aside": (2, f"ANSWER: {letter} (because {other} is wrong)"),
        "correct_is": (2, f"正确答案为{letter}。"),
        "analysis_after": (2, f"答案：{letter}\n\n解析：选项{other}的说法不准确。"),
        "echo": (2, f"格式要求为“答案：[LETTER]”。\n答案：{letter}"),
        "revised": (2, f"答案：{other}\n不对，重新考虑后，答案：{letter}"),
    }
    name = rng.choices(list(forms), [w for w, _ in forms.values()])[0]
    return forms[name][1], name


def mcq_record(rng: random.Random, bench: str, question: str, choices: list[str], gold: str) -> dict:
    n = len(choices)
    zh = bench in CHINESE
    chosen = gold if rng.random() < 0.65 else _other(rng, gold, n)
    other = _other(rng, chosen, n)
    final, form = (_zh_final if zh else _en_final)(rng, chosen, other, choices[string.ascii_uppercase.index(chosen)])
    tentative = f"答案：{other}" if zh else f"ANSWER: {other}"
    reply, shape = think(rng, _mcq_reasoning(rng, choices, chosen, zh), final, tentative)
    return {"bench": bench, "form": f"{form}/{shape}", "reply": reply, "gold": gold, "n": n}


def truthful_record(rng: random.Random, setting: str, item: tuple) -> dict:
    question, mc1, mc2_labels, mc2_choices = item
    if setting == "mc1":
        order = list(range(len(mc1)))
        rng.shuffle(order)
        choices = [mc1[i] for i in order]
        gold = string.ascii_uppercase[order.index(0)]
        rec = mcq_record(rng, "truthful_qa_mc1", question, choices, gold)
        return rec
    n = len(mc2_choices)
    golds = [string.ascii_uppercase[i] for i, label in enumerate(mc2_labels) if label == 1]
    wrong = [c for c in string.ascii_uppercase[:n] if c not in golds]
    pick = rng.random()
    if pick < 0.4:
        chosen = list(golds)
    elif pick < 0.7:
        chosen = rng.sample(golds, max(1, len(golds) - 1))
    else:
        chosen = rng.sample(golds, max(1, len(golds) // 2)) + rng.sample(wrong, min(len(wrong), 1))
    chosen = sorted(set(chosen))
    if rng.random() < 0.3:
        rng.shuffle(chosen)
    joiner_forms = {
        "comma": (25, ", ".join(chosen)), "compact": (10, "".join(chosen)), "space": (6, " ".join(chosen)),
        "slash": (6, "/".join(chosen)), "and": (5, " and ".join(chosen)), "or": (2, " or ".join(chosen)),
        "oxford": (5, (", ".join(chosen[:-1]) + ", and " + chosen[-1]) if len(chosen) > 1 else chosen[0]),
        "dun": (4, "、".join(chosen)), "paren": (5, "(" + ", ".join(chosen) + ")"),
        "bold": (5, "**" + ", ".join(chosen) + "**"), "lower": (3, ", ".join(chosen).lower()),
        "boxed": (3, "$\\boxed{" + ",".join(chosen) + "}$"), "fw_comma": (2, "，".join(chosen)),
    }
    name = rng.choices(list(joiner_forms), [w for w, _ in joiner_forms.values()])[0]
    label = joiner_forms[name][1]
    marker = rng.choices(["ANSWER: ", "**ANSWER:** ", "Answer: ", "The answers are "], [70, 10, 15, 5])[0]
    reasoning = _mcq_reasoning(rng, mc2_choices, chosen[0], False)
    reply, shape = think(rng, reasoning, f"{marker}{label}", f"ANSWER: {wrong[0] if wrong else golds[0]}")
    return {"bench": "truthful_qa_mc2", "form": f"{name}/{shape}", "reply": reply, "gold": "".join(golds), "n": n}


# ---------------------------------------------------------------- GSM8K

def _fmt_number(rng: random.Random, value: int) -> str:
    text = str(value)
    if abs(value) >= 1000 and rng.random() < 0.4:
        text = f"{value:,}"
    return text


def gsm8k_record(rng: random.Random, rec: dict) -> dict:
    solution, gold = rec["answer"].split("####")
    gold = gold.strip()
    reasoning = re.sub(r"<<[^>]*>>", "", solution).strip()
    value = int(gold.replace(",", ""))
    right = rng.random() < 0.7
    shown = value if right else value + rng.choice([-10, -2, -1, 1, 2, 5, 100])
    num = _fmt_number(rng, shown)
    forms = {
        "boxed": (25, f"The answer is $\\boxed{{{num}}}$."),
        "boxed_bare": (10, f"\\boxed{{{num}}}"),
        "boxed_display": (5, f"**Final Answer**\n\\[\n\\boxed{{{num}}}\n\\]"),
        "boxed_dollar": (4, f"Therefore, the total is $\\boxed{{\\${num}}}$."),
        "boxed_unit": (3, f"$\\boxed{{{num} \\text{{ dollars}}}}$"),
        "answer_is": (8, f"The answer is {num}."),
        "hashes": (6, f"#### {num}"),
        "answer_colon": (5, f"**Answer:** {num}"),
        "fewshot": (4, f"ANSWER: \\boxed{{{num}}}"),
        "units": (4, f"So the final answer is {num} dollars."),
        "money": (3, f"She makes ${num} every day."),
        "decimals": (3, f"\\boxed{{{shown}.00}}"),
        "zh": (2, f"答案：{num}"),
        "approx": (2, f"The answer is approximately {shown}.2"),
        "boxed_prose": (2, f"$\\boxed{{\\text{{She has }} {num} \\text{{ left}}}}$"),
        "hashes_chatter": (2, f"#### {num}\n\nI hope this helps! Let me know if you have 2 more questions or need 3 examples."),
        "percent": (1, f"The answer is $\\boxed{{{num}\\%}}$"),
        "last_number": (4, f"In total that is {num}."),
        "equation": (3, f"Total = {value - 3 if value > 3 else 1} + 3 = {num}"),
    }
    name = rng.choices(list(forms), [w for w, _ in forms.values()])[0]
    reply, shape = think(rng, reasoning, forms[name][1], f"The answer is {value + 7}.")
    return {"bench": "gsm8k", "form": f"{name}/{shape}", "reply": reply, "gold": gold}


# ---------------------------------------------------------------- MATH

def _boxed(text: str) -> str | None:
    at = text.rfind("\\boxed{")
    if at < 0:
        return None
    depth, start = 0, at + len("\\boxed")
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1:i]
    return None


def _variant(rng: random.Random, answer: str) -> tuple[str, bool]:
    """Another way to write the answer (True) or a wrong answer (False)."""
    m = re.fullmatch(r"\\[dt]?frac\{(-?\d+)\}\{(\d+)\}", answer)
    if m and rng.random() < 0.5:
        return rng.choice([f"{m[1]}/{m[2]}", f"\\dfrac{{{m[1]}}}{{{m[2]}}}", f"\\frac{m[1]}{m[2]}" if len(m[1]) == 1 == len(m[2]) else answer]), True
    if re.fullmatch(r"-?\d+", answer):
        if rng.random() < 0.5:
            return str(int(answer) + rng.choice([-1, 1, 2, 10])), False
        return rng.choice([f"{answer}.0", f"x = {answer}", f"{answer}^\\circ" if rng.random() < 0.2 else answer]), True
    if rng.random() < 0.4:
        return answer + "+1", False
    return answer.replace("\\frac", "\\dfrac") if rng.random() < 0.5 else answer, True


def math_record(rng: random.Random, bench: str, rec: dict) -> dict:
    answer = rec["answer"]
    solution = rec["solution"]
    reasoning = solution.replace("\\boxed", "") if rng.random() < 0.7 else solution
    shown, right = _variant(rng, answer) if rng.random() < 0.45 else (answer, True)
    forms = {
        "boxed": (30, f"Therefore, the answer is $\\boxed{{{shown}}}$."),
        "boxed_display": (10, f"**Final Answer**\n\\[\n\\boxed{{{shown}}}\n\\]"),
        "minerva": (8, f"Final Answer: The final answer is ${shown}$. I hope it is correct."),
        "answer_is_dollar": (8, f"The answer is ${shown}$."),
        "answer_is_plain": (4, f"So the answer is {shown}."),
        "bare_boxed": (8, f"\\boxed{{{shown}}}"),
        "boxed_then_text": (4, f"The answer is $\\boxed{{{shown}}}$, which satisfies all the conditions."),
        "inline": (4, f"Thus we get $x = {shown}$."),
        "truncated_box": (2, "Therefore the answer is $\\boxed{"),
        "escaped_dollar": (1, f"The answer is $\\${shown}$."),
        "zh": (2, f"答案是 ${shown}$"),
        "two_boxes": (2, f"We first get $\\boxed{{{answer}+1}}$, no wait: $\\boxed{{{shown}}}$."),
    }
    name = rng.choices(list(forms), [w for w, _ in forms.values()])[0]
    if name == "inline" and not right:  # an unanchored final line that contradicts the reasoning: no model writes that
        name = "boxed"
    reply, shape = think(rng, reasoning, forms[name][1], "")
    record = {"bench": bench, "form": f"{name}/{shape}", "reply": reply}
    if bench == "competition_math":
        record["solution"] = solution
    else:
        record["gold"] = answer
    return record


# ---------------------------------------------------------------- BBH

MC_TASKS = {
    "temporal_sequences", "disambiguation_qa", "date_understanding", "tracking_shuffled_objects_three_objects",
    "penguins_in_a_table", "geometric_shapes", "snarks", "ruin_names", "tracking_shuffled_objects_seven_objects",
    "tracking_shuffled_objects_five_objects", "logical_deduction_three_objects", "hyperbaton",
    "logical_deduction_five_objects", "logical_deduction_seven_objects", "movie_recommendation",
    "salient_translation_error_detection", "reasoning_about_colored_objects",
}


def bbh_record(rng: random.Random, task: str, example: dict, others: list[str]) -> dict:
    target = example["target"].strip()
    wrong = rng.choice([t for t in others if t != target] or [target])
    shown = target if rng.random() < 0.65 else wrong
    bare = shown.strip("()") if task in MC_TASKS else shown
    forms = {
        "plain": (35, f"So the answer is {shown}."),
        "bare": (8, f"So the answer is {bare}."),
        "bold": (8, f"So the answer is **{shown}**."),
        "no_period": (5, f"So the answer is {shown}"),
        "lower": (4, f"So the answer is {shown.lower()}."),
        "after_text": (5, f"So the answer is {shown}.\nThis follows from the steps above."),
        "answer_is": (5, f"The answer is {shown}."),
        "last_line": (4, f"{shown}"),
        "colon": (3, f"So the answer is: {shown}."),
        "twice": (3, f"So the answer is {wrong}.\nWait, let me recheck. So the answer is {shown}."),
    }
    name = rng.choices(list(forms), [w for w, _ in forms.values()])[0]
    reasoning = "Let's think step by step.\n" + " ".join(example["input"].split()[:40]) + " ..."
    reply, shape = think(rng, reasoning, forms[name][1], "")
    return {"bench": "bbh", "task": task, "form": f"{name}/{shape}", "reply": reply, "gold": target}


# ---------------------------------------------------------------- generate

def generate(data: Path) -> list[dict]:
    rng = random.Random(SEED)
    records: list[dict] = []

    def mcq(bench: str, items: list) -> None:
        for question, choices, gold in rng.sample(items, SIZES[bench]):
            records.append(mcq_record(rng, bench, question, choices, gold))

    mcq("mmlu", _mmlu(data, rng, SIZES["mmlu"]))
    mcq("arc", _arc(data, rng))
    mcq("hellaswag", _hellaswag(data))
    mcq("ceval", _ceval(data))
    cmmlu = _cmmlu(data)
    mcq("cmmlu", cmmlu)
    # IQuiz and General-MCQ: two to six options (the few IQuiz items we hold, topped up from CMMLU questions)
    for bench in ("iquiz", "general_mcq"):
        for question, choices, _ in rng.sample(cmmlu, SIZES[bench]):
            n = rng.choice([2, 3, 4, 5, 6]) if bench == "general_mcq" else rng.choice([2, 3, 4, 5])
            options = (choices + ["以上都对", "以上都不对"])[:n]
            records.append(mcq_record(rng, bench, question, options, rng.choice(string.ascii_uppercase[:n])))
    truthful = _truthful(data)
    for item in rng.sample(truthful, SIZES["truthful_qa_mc1"]):
        records.append(truthful_record(rng, "mc1", item))
    for item in rng.sample(truthful, SIZES["truthful_qa_mc2"]):
        records.append(truthful_record(rng, "mc2", item))
    for rec in rng.sample(_gsm8k(data), SIZES["gsm8k"]):
        records.append(gsm8k_record(rng, rec))
    math = _math500(data)
    for bench in ("math_500", "competition_math"):
        for rec in rng.sample(math, SIZES[bench]):
            records.append(math_record(rng, bench, rec))
    tasks = _bbh(data)
    names = sorted(tasks)
    for i in range(SIZES["bbh"]):
        task = names[i % len(names)]
        examples = tasks[task]
        records.append(bbh_record(rng, task, rng.choice(examples), sorted({e["target"].strip() for e in examples})))
    records += hand_written()
    records += issue16(data)
    records += code_replies(data)
    for number, record in enumerate(records):
        record["id"] = f"{record['bench']}-{number}"
    return records


def _aime(data: Path) -> list[dict]:
    rows = [json.loads(line) for line in (data / "aime24" / "test.jsonl").read_text(encoding="utf-8").splitlines()]
    rows += [{**r, "solution": r["problem"]}
             for r in map(json.loads, (data / "aime25" / "math-ai_format" / "test.jsonl").read_text(encoding="utf-8").splitlines())]
    return rows


def _redux(data: Path, rng: random.Random) -> list[tuple[str, list[str], str]]:
    """MMLU-Redux questions with their gold letters; one in ten lists two right options (its corrections)."""
    import ast

    items = []
    for path in sorted((data / "mmlu_redux" / "data").glob("mmlu_*.csv"))[::4]:
        text = path.read_bytes().decode("utf-8", errors="replace").replace("\r\n", "\n")
        header = text.split("\n", 1)[0]
        rows = list(csv.DictReader(text.splitlines(), delimiter=";" if header.count(";") > header.count(",") else ","))
        for row in rows[:20]:
            choices = ast.literal_eval(row["choices"])
            gold = "ABCD"[int(row["answer"])]
            if rng.random() < 0.1:
                gold = "".join(sorted({gold, rng.choice("ABCD")}))
            items.append((row["question"], choices, gold))
    return items


def issue16(data: Path) -> list[dict]:
    """AIME 2024/2025 (integer answers), GPQA-Diamond (neutral option texts: its questions stay unpublished),
    MMLU-Pro (3 to 10 options, A-J) and MMLU-Redux (some questions with two right options)."""
    rng = random.Random(NEW_SEED)
    records = []
    aime = _aime(data)
    for bench in ("aime24", "aime25"):
        rows = aime[:30] if bench == "aime24" else aime[30:]
        for _ in range(NEW_SIZES[bench]):
            row = rng.choice(rows)
            record = math_record(rng, bench, {"answer": str(row["answer"]), "solution": row["solution"]})
            records.append(record)
    for _ in range(NEW_SIZES["gpqa_diamond"]):
        choices = [f"the {w} option" for w in ("first", "second", "third", "fourth")]
        records.append(mcq_record(rng, "gpqa_diamond", "q", choices, rng.choice("ABCD")))
    mmlu = _mmlu(data, rng, NEW_SIZES["mmlu_pro"])
    fillers = ["None of these", "All of the above", "It cannot be determined", "Both A and B", "0", "1/2"]
    for question, choices, _gold in rng.sample(mmlu, NEW_SIZES["mmlu_pro"]):
        n = rng.choice([3, 4, 6, 8, 9, 10, 10, 10, 10])
        options = (choices + fillers)[:n]
        records.append(mcq_record(rng, "mmlu_pro", question, options, rng.choice(string.ascii_uppercase[:n])))
    for question, choices, gold in rng.sample(_redux(data, rng), NEW_SIZES["mmlu_redux"]):
        record = mcq_record(rng, "mmlu_redux", question, choices, gold[0])
        record["gold"] = gold
        records.append(record)
    return records


# ---------------------------------------------------------------- code (humaneval_plus, mbpp, mbpp_plus, live_code_bench)

PROSE_BEFORE = ["Here is the implementation:", "Sure! Here's a Python function that solves the problem.",
                "We can solve this with a simple loop.", "The idea is to iterate once and keep track of the result.",
                "Let's write the function step by step."]
PROSE_AFTER = ["This runs in O(n) time.", "Explanation: the function walks the input once and returns the result.",
               "Let me know if you need anything else!", "The code handles the edge cases (empty input) as well."]
OTHER_FENCES = [("bash", "pip install numpy"), ("text", "Input: [1, 2, 3]\nOutput: 6"), ("json", '{"n": 3}'),
                ("", "Input: 5\nOutput: 120"), ("console", "$ python solution.py")]


def _crlf_free(code: str) -> str:
    return code.replace("\r\n", "\n").rstrip() + "\n"


def code_reply(rng: random.Random, bench: str, code: str, tests: list[str]) -> tuple[str, str]:
    """A reply giving `code` in one of the shapes models write, and that shape's name."""
    before, after = rng.choice(PROSE_BEFORE), rng.choice(PROSE_AFTER)
    tag = rng.choices(["python", "", "py", "python3", "Python"], [70, 12, 6, 6, 6])[0]
    fence = f"```{tag}\n{code}```"
    other_tag, other_body = rng.choice(OTHER_FENCES)
    draft = "\n".join(code.splitlines()[: max(1, len(code.splitlines()) // 2)])
    asserts = "\n".join(tests)
    forms = {
        "fenced": (25, f"{fence}"),
        "prose_fenced": (20, f"{before}\n\n{fence}\n\n{after}"),
        "bare_code": (6, code),
        "prose_then_code": (3, f"{before}\n\n{code}"),
        "other_fence_first": (5, f"{before}\n\n```{other_tag}\n{other_body}\n```\n\n```python\n{code}```\n\n{after}"),
        "two_python_fences": (4, f"{before}\n\n```python\n{code}```\n\nUsage:\n\n```python\nprint('done')\n```"),
        "think_fenced": (8, f"<think>\nFirst attempt:\n```python\n{draft}\n```\nThat is incomplete.\n</think>\n\n{fence}"),
        "think_prose": (6, f"<think>\n{before} {after}\n</think>\n\n{before}\n\n{fence}"),
        "think_unclosed": (3, f"<think>\n{before}\n```python\n{draft}\n```\nHmm, let me"),
        "truncated_fence": (5, f"{before}\n\n```python\n{draft}\n"),
        "fence_with_asserts": (5, f"```python\n{code}\n{asserts}\n```"),
        "code_then_asserts": (3, f"{code}\n{asserts}\n"),
        "main_guard": (3, f"```python\n{code}\n\nif __name__ == \"__main__\":\n    print('ok')\n```"),
        "example_usage": (3, f"```python\n{code}\n# Example usage\nprint('ok')\n```"),
        "crlf_fence": (2, "```python\r\n" + code.replace("\n", "\r\n") + "```"),
    }
    if bench == "mbpp":
        forms |= {"begin_done": (25, f"{code}\n[DONE]"), "begin_done_fenced": (6, f"```python\n{code}```\n[DONE]"),
                  "done_then_more": (4, f"{code}\n[DONE]\nYou are an expert Python programmer, and here is your task: "
                                        f"...\n[BEGIN]\ndef other():\n    pass\n[DONE]")}
    if bench == "live_code_bench":
        forms |= {"lcb_several": (15, f"{before}\n\n```python\n{draft}\n```\n\nFixing the edge case:\n\n{fence}\n\n{after}"),
                  "lcb_reasoning_fence": (6, f"Reading the sample:\n```\n{other_body}\n```\n\n{fence}"),
                  "lcb_single_line": (3, f"```python\n{code}```\nDone.```")}
    name = rng.choices(list(forms), [w for w, _ in forms.values()])[0]
    return forms[name][1], name


def _gz_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in gzip.open(path, "rt", encoding="utf-8")]


def code_replies(data: Path) -> list[dict]:
    """Replies built from the canonical solutions (HumanEval+ as a full definition or a bare body, MBPP and
    MBPP+ with their asserts echoed sometimes, LiveCodeBench from its fixture solutions and MBPP's code)."""
    rng = random.Random(CODE_SEED)
    records = []
    heplus = _gz_jsonl(data / "humaneval_plus" / "HumanEvalPlus.jsonl.gz")
    for row in rng.sample(heplus, CODE_SIZES["humaneval_plus"]):
        body = row["canonical_solution"].strip("\n") + "\n"
        code = row["prompt"].rstrip() + "\n" + body if rng.random() < 0.6 else body
        reply, form = code_reply(rng, "humaneval_plus", code, [])
        records.append({"bench": "humaneval_plus", "form": form, "reply": reply})
    mbpp = [json.loads(line) for line in (data / "mbpp" / "mbpp.jsonl").read_text(encoding="utf-8").splitlines()]
    for row in rng.sample([r for r in mbpp if 11 <= r["task_id"] <= 510], CODE_SIZES["mbpp"]):
        code = _crlf_free(row["code"])
        reply, form = code_reply(rng, "mbpp", code, row["test_list"])
        records.append({"bench": "mbpp", "form": form, "reply": reply})
    mbpp_plus = _gz_jsonl(data / "mbpp_plus" / "MbppPlus.jsonl.gz")
    for row in rng.sample(mbpp_plus, CODE_SIZES["mbpp_plus"]):
        code = _crlf_free(row["canonical_solution"])
        reply, form = code_reply(rng, "mbpp_plus", code, [f"assert {row['entry_point']}(1) is not None"])
        records.append({"bench": "mbpp_plus", "form": form, "reply": reply})
    solutions = list(json.loads(LCB_SOLUTIONS.read_text(encoding="utf-8")).values())
    sources = solutions + [_crlf_free(r["code"]) for r in rng.sample(mbpp, 40)]
    for _ in range(CODE_SIZES["live_code_bench"]):
        code = _crlf_free(rng.choice(sources))
        reply, form = code_reply(rng, "live_code_bench", code, [])
        records.append({"bench": "live_code_bench", "form": form, "reply": reply})
    return records


def hand_written() -> list[dict]:
    """Hard cases written by hand, one or two per disagreement class the issue names."""
    return [
        {"bench": "ceval", "form": "hand", "reply": "分析略。\n答案： D", "gold": "D", "n": 4},
        {"bench": "ceval", "form": "hand", "reply": "答案：**D**", "gold": "D", "n": 4},
        {"bench": "ceval", "form": "hand", "reply": "综上，答案：(D)", "gold": "D", "n": 4},
        {"bench": "ceval", "form": "hand", "reply": "答案：$\\boxed{B}$", "gold": "B", "n": 4},
        {"bench": "mmlu", "form": "hand", "reply": "Option C and A both look plausible.\nANSWER: C or A", "gold": "C", "n": 4},
        {"bench": "mmlu", "form": "hand", "reply": "ANSWER: \\boxed{D} (Option D matches the definition)", "gold": "D", "n": 4},
        {"bench": "mmlu", "form": "hand", "reply": "<think>\nB looks right.\n\nANSWER: B", "gold": "B", "n": 4},
        {"bench": "mmlu", "form": "hand", "reply": "Answer: b", "gold": "B", "n": 4},
        {"bench": "bbh", "task": "dyck_languages", "form": "hand", "reply": "We close the brackets. So the answer is ) ].",
         "gold": ") ]"},
        {"bench": "truthful_qa_mc2", "form": "hand", "reply": "ANSWER: A/B/D/E", "gold": "ABDE", "n": 6},
        {"bench": "gsm8k", "form": "hand", "reply": "The total is approximately 27000.2", "gold": "27000"},
        {"bench": "math_500", "form": "hand", "reply": "The answer is $\\$32,\\!348$.", "gold": "\\$32,\\!348"},
    ]


# ---------------------------------------------------------------- EvalScope's verdicts

def verdicts(records: list[dict], missing_only: bool = False) -> None:  # pragma: no cover - needs EvalScope
    from evalscope.api.dataset import Sample
    from evalscope.api.evaluator import TaskState
    from evalscope.api.model import ModelOutput
    from evalscope.api.registry import get_benchmark
    from evalscope.config import TaskConfig

    adapters: dict[str, object] = {}

    def adapter(bench: str):
        if bench not in adapters:
            name, args = bench, {}
            if bench.startswith("truthful_qa"):
                name, args = "truthful_qa", {"extra_params": {"multiple_correct": bench.endswith("mc2")}}
            config = TaskConfig(model=MODEL, datasets=[name], dataset_args={name: args} if args else {})
            adapters[bench] = get_benchmark(name, config)
        return adapters[bench]

    for number, record in enumerate(records):
        bench = record["bench"]
        if missing_only and "evalscope" in record:
            continue
        a = adapter(bench)
        if bench in CODE_SIZES:  # parity on the extracted code: EvalScope's filters and extract_answer, no execution
            sample = Sample(input="q", target="", metadata={"test_setup_code": ""})
            output = ModelOutput.from_content(MODEL, record["reply"])
            state = TaskState(MODEL, sample, output=output, completed=True)
            record["evalscope"] = {"extracted": a.filter_prediction(output.completion, state)}
            continue
        if "n" in record:
            target = list(record["gold"]) if bench in ("truthful_qa_mc2", "mmlu_redux") else record["gold"]
            sample = Sample(input="q", choices=[f"option {i}" for i in range(record["n"])], target=target,
                            metadata={"type": bench[-3:]} if bench.startswith("truthful") else {})
        elif bench == "bbh":
            a.current_subset_name = record["task"]
            sample = a.record_to_sample({"input": "q", "target": record["gold"]})
        elif bench == "gsm8k":
            sample = a.record_to_sample({"question": "q", "answer": f"reasoning\n#### {record['gold']}"})
        elif bench == "competition_math":
            sample = a.record_to_sample({"problem": "q", "solution": record["solution"], "level": "Level 1", "type": "x"})
        else:
            sample = a.record_to_sample({"problem": "q", "answer": record["gold"], "level": 1, "subject": "x",
                                         "solution": "", "unique_id": "x"})
        state = TaskState(MODEL, sample, output=ModelOutput.from_content(MODEL, record["reply"]), completed=True)
        score = a.calculate_metrics(state).score
        main = score.main_score_name or next(iter(score.value), None)
        record["evalscope"] = {"extracted": score.extracted_prediction, "score": float(score.value.get(main, 0.0)),
                               "target": state.target}
        if number % 500 == 0:
            print(f"{number}/{len(records)}", flush=True)


def read(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def write(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(path, "wb", mtime=0) as raw:  # mtime 0: the same corpus gives the same bytes
        raw.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["generate", "verdicts"])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/datasets"))
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--missing", action="store_true", help="verdicts: only for replies that have none yet")
    args = parser.parse_args()
    if args.command == "generate":
        records = generate(args.data)
        if args.corpus.exists():  # keep verdicts already computed for identical replies
            old = {(r["id"], r["reply"]): r.get("evalscope") for r in read(args.corpus)}
            for r in records:
                if old.get((r["id"], r["reply"])):
                    r["evalscope"] = old[(r["id"], r["reply"])]
        write(args.corpus, records)
    else:
        records = read(args.corpus)
        verdicts(records, missing_only=args.missing)
        write(args.corpus, records)
    print(f"{args.corpus}: {len(records)} replies")


if __name__ == "__main__":
    main()
