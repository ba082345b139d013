"""The judge prompts of the RAG metrics, each with a strict JSON verdict (judge/contract.py's structured kind).

The steps follow RAGAS's metric definitions (the prompts are written here, not copied):

- ``statements``: the answer broken into self-contained statements (faithfulness, step 1);
- ``support``: for each statement, 1 if the context supports it, else 0 (faithfulness, step 2);
- ``question``: a question the answer answers, and whether the answer is noncommittal (answer relevancy);
- ``useful``: whether one retrieved context was useful in reaching the reference (context precision);
- ``attributed``: for each sentence of the reference, 1 if the context holds it, else 0 (context recall).

Each reader checks the whole object: a missing key, a verdict other than 0 or 1, an empty list or a list
whose length does not match the statements sent is :class:`~..judge.contract.Unparseable`, so the judge is
asked again and then the sample is an error; nothing is guessed. Sections are delimited by ``### <Name>``
lines, which the scripted test judge (testing/rag_oracle.py) relies on.
"""

from __future__ import annotations

import json
from typing import Any

from ..judge.contract import JudgeDefinition, Unparseable

_REPLY = "\n\nReply with a single JSON object and no other text, of this form:\n"


def _definition(task: str, instruction: str, sections: dict[str, str], form: str, reader: Any) -> JudgeDefinition:
    body = "\n\n".join(f"### {name}\n{text}" for name, text in sections.items())
    return JudgeDefinition(f"[RAG:{task}] {instruction}\n\n{body}{_REPLY}{form}", instruction=False, reader=reader)


def _binary(value: Any, where: str) -> int:
    if isinstance(value, bool) or value not in (0, 1, "0", "1"):
        raise Unparseable(f"{where} is {value!r}; expected 0 or 1")
    return int(value)


def _strings(data: dict[str, Any], key: str) -> list[str]:
    items = data.get(key)
    if not isinstance(items, list) or not items or not all(isinstance(s, str) and s.strip() for s in items):
        raise Unparseable(f"{key!r} must be a non-empty list of non-empty strings")
    return [s.strip() for s in items]


def statements(question: str, answer: str) -> JudgeDefinition:
    return _definition(
        "statements",
        "Break the answer to the question into statements. Each statement must stand on its own: one claim, "
        "no pronouns, understandable without the other statements.",
        {"Question": question, "Answer": answer},
        '{"statements": ["<statement>", "..."]}',
        lambda data: _strings(data, "statements"))


def support(context: str, claims: list[str]) -> JudgeDefinition:
    def read(data: dict[str, Any]) -> list[int]:
        verdicts = data.get("verdicts")
        if not isinstance(verdicts, list) or len(verdicts) != len(claims):
            raise Unparseable(f"'verdicts' must be a list of {len(claims)} entries, one per statement")
        return [_binary(v.get("verdict") if isinstance(v, dict) else v, f"verdicts[{i}]") for i, v in enumerate(verdicts)]

    return _definition(
        "support",
        "For each statement, decide whether it can be inferred directly from the context alone. Verdict 1 when "
        "it can, 0 when it cannot (unsupported, contradicted, or needing outside knowledge).",
        {"Context": context, "Statements": json.dumps(claims, ensure_ascii=False)},
        '{"verdicts": [{"statement": "<statement>", "reason": "<why>", "verdict": 0 or 1}, "... one per statement, in order"]}',
        read)


def question(answer: str) -> JudgeDefinition:
    def read(data: dict[str, Any]) -> tuple[str, int]:
        text = data.get("question")
        if not isinstance(text, str) or not text.strip():
            raise Unparseable("'question' must be a non-empty string")
        return text.strip(), _binary(data.get("noncommittal"), "noncommittal")

    return _definition(
        "question",
        "Write the question that the answer answers. Also say whether the answer is noncommittal: 1 when it is "
        "evasive, vague or declines to answer (\"I don't know\", \"I'm not sure\"), 0 when it commits to an answer.",
        {"Answer": answer},
        '{"question": "<question>", "noncommittal": 0 or 1}',
        read)


def useful(question_text: str, reference: str, context: str) -> JudgeDefinition:
    def read(data: dict[str, Any]) -> int:
        return _binary(data.get("verdict"), "verdict")

    return _definition(
        "useful",
        "Decide whether the context was useful in arriving at the reference answer to the question. Verdict 1 "
        "when it was useful, 0 when it was not.",
        {"Question": question_text, "Reference": reference, "Context": context},
        '{"reason": "<why>", "verdict": 0 or 1}',
        read)


def attributed(question_text: str, context: str, reference: str) -> JudgeDefinition:
    def read(data: dict[str, Any]) -> list[int]:
        rows = data.get("classifications")
        if not isinstance(rows, list) or not rows:
            raise Unparseable("'classifications' must be a non-empty list, one entry per sentence of the reference")
        return [_binary(r.get("attributed") if isinstance(r, dict) else None, f"classifications[{i}].attributed")
                for i, r in enumerate(rows)]

    return _definition(
        "attributed",
        "Split the reference answer into sentences. For each sentence, decide whether it can be attributed to the "
        "context: 1 when the context holds what it says, 0 when it does not.",
        {"Question": question_text, "Context": context, "Reference": reference},
        '{"classifications": [{"statement": "<sentence>", "reason": "<why>", "attributed": 0 or 1}, "..."]}',
        read)
