"""Writes tests/fixtures/evalscope_mt_bench_prompts.json: the judge requests EvalScope 1.14.1's mt_bench adapter
builds for a few real MT-Bench conversations. Run with EvalScope's interpreter, never the project's:

    /work/evalscope-venv/bin/python scripts/mt_bench_parity_fixture.py

For each case (a question of ../shared/datasets/mt_bench with its inline references, and two made-up answers)
the file holds the messages of EvalScope's own _build_judge_request for the first and the second turn.
"""

import json
import sys
from pathlib import Path
from types import SimpleNamespace

from evalscope.api.judge import JudgeCase
from evalscope.api.messages import ChatMessageAssistant, ChatMessageUser
from evalscope.benchmarks.mt_bench.mt_bench_adapter import RATING_CONTRACT, MTBenchAdapter

QUESTIONS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mt_bench" / "mt_bench" / "question.jsonl"
CASES = {81: ("A blog post {with braces}.", "Every sentence starts with A."),
         101: ("You are in second place.", "You are in 3rd place? No: second."),
         111: ("The area is 3.", "The radius is sqrt(5), so the area is 5*pi.")}


def requests(question: dict, answers: tuple) -> list:
    references = question.get("reference") or []
    metadata = {"category": question["category"], "turns": question["turns"], "references": references}
    messages = [ChatMessageUser(content=question["turns"][0]), ChatMessageAssistant(content=answers[0]),
                ChatMessageUser(content=question["turns"][1]), ChatMessageAssistant(content=answers[1])]
    context = SimpleNamespace(task_state=SimpleNamespace(metadata=metadata, messages=messages))
    out = []
    for turn in (0, 1):
        reference = MTBenchAdapter._reference(references, turn, question["category"])
        case = JudgeCase(case_id=f"turn{turn}", output_contract=RATING_CONTRACT,
                         metadata={"turn_index": turn, "category": question["category"], "reference": reference})
        request = MTBenchAdapter._build_judge_request(case, None, [], context)
        out.append([{"role": m.role, "content": m.text} for m in request.messages])
    return out


def main() -> None:
    questions = {q["question_id"]: q for q in map(json.loads, QUESTIONS.read_text().splitlines())}
    cases = [{"question_id": qid, "category": questions[qid]["category"], "answers": list(answers),
              "requests": requests(questions[qid], answers)} for qid, answers in CASES.items()]
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "tests/fixtures/evalscope_mt_bench_prompts.json"
    target.write_text(json.dumps({"evalscope": "1.14.1", "cases": cases}, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
