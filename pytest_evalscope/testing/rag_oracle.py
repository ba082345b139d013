"""A scripted RAG judge for the test server's judge mode: fixed word rules answer the RAG prompts.

Words are lower-cased runs of letters and digits; *content words* are those of three or more characters
that are not in :data:`STOP`. The rules, per prompt (rag/prompts.py):

- statements: the answer's sentences (split after . ! ?);
- support: 1 when every content word of the statement occurs in the context;
- question: the answer turned into a question (:func:`generated_question`); noncommittal when the answer
  holds one of :data:`ABSTAIN`;
- useful: 1 when the context holds at least half of the reference's content words;
- attributed: per sentence of the reference, 1 when the context holds all its content words.

A prompt holding :data:`GARBAGE` gets a reply with no JSON object, so the judge errs on it. Replies vary
in form as real judges' do (bare JSON, a fenced block, after a ``<think>`` block).
"""

from __future__ import annotations

import json
import re
from typing import Any

STOP = frozenset("the and are was were they them their this that with for from has have had not but its".split())
ABSTAIN = ("i don't know", "i do not know", "not sure")
GARBAGE = "[[judge-garbage]]"
_WORD = re.compile(r"[0-9a-z]+")
_TASK = re.compile(r"\[RAG:(\w+)\]")
_SECTION = r"### {name}\n(.*?)(?=\n\n### |\n\nReply with a single JSON object)"


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) >= 3 and w not in STOP}


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()]


def generated_question(answer: str) -> str:
    return "What is it that " + answer.strip().rstrip(".!?") + "?"


def supported(claim: str, context: str) -> int:
    return int(content_words(claim) <= content_words(context))


def useful(reference: str, context: str) -> int:
    words = content_words(reference)
    return int(bool(words) and 2 * len(words & content_words(context)) >= len(words))


def _section(content: str, name: str) -> str:
    found = re.search(_SECTION.format(name=name), content, re.S)
    return found.group(1) if found else ""


def _verdict(task: str, content: str) -> dict[str, Any] | None:
    if task == "statements":
        return {"statements": sentences(_section(content, "Answer"))}
    if task == "support":
        context = _section(content, "Context")
        claims = json.loads(_section(content, "Statements"))
        return {"verdicts": [{"statement": c, "reason": "word check", "verdict": supported(c, context)} for c in claims]}
    if task == "question":
        answer = _section(content, "Answer")
        return {"question": generated_question(answer),
                "noncommittal": int(any(marker in answer.lower() for marker in ABSTAIN))}
    if task == "useful":
        return {"reason": "word overlap", "verdict": useful(_section(content, "Reference"), _section(content, "Context"))}
    if task == "attributed":
        context = _section(content, "Context")
        return {"classifications": [{"statement": s, "reason": "word check", "attributed": supported(s, context)}
                                    for s in sentences(_section(content, "Reference"))]}
    return None


def rag_reply(content: str, style: int = 0) -> str | None:
    """The scripted judge's reply to a RAG prompt; None for any other prompt."""
    found = _TASK.search(content)
    if not found:
        return None
    if GARBAGE in content:
        return "The statements look fine to me."
    body = _verdict(found.group(1), content)
    if body is None:
        return None
    text = json.dumps(body, ensure_ascii=False)
    forms = (text, f"```json\n{text}\n```", f"<think>\nChecking the words.\n</think>\n{text}")
    return forms[style % len(forms)]
