"""What a judge is asked and how its reply is read: a :class:`JudgeDefinition` per sample.

Two kinds, as in EvalScope 1.14.1: *labels* (the judge picks one label, each mapped to metric values,
e.g. SimpleQA's A/B/C to is_correct/is_incorrect/is_not_attempted) and *numeric* (a rating in [0, 1]).
The prompt ends with EvalScope's reply-format instruction (one JSON object with ``reasoning`` and
``verdict`` or ``score``), so judge results compare with EvalScope's.

Parsing is strict (:func:`parse_verdict`), and never guesses:

- complete ``<think>...</think>`` blocks are dropped first;
- exactly one top-level JSON object must be in the reply, holding a valid ``verdict`` (one of the
  labels, or a label's word such as ``CORRECT``) or ``score`` (a number in [0, 1]);
- with no JSON object, the whole reply may be the bare verdict: a label (``B``), ``B: INCORRECT``, or a
  label's word (``NOT_ATTEMPTED``); with a user's ``score_pattern``, its one group must match with a
  single distinct value;
- anything else (two objects, a label outside the set, "CORRECT" inside prose, a number out of range)
  is unparseable: the judge is asked again, and a verdict still unparseable makes the sample an error.

EvalScope's older parsers took the first A/B/C anywhere in the text (so "the answer is CORRECT"
became "C: not attempted") and the first m/M for AlpacaEval; those are the mistakes avoided here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROMPTS = Path(__file__).parent / "prompts"
_THINK = re.compile(r"<think>.*?</think>", re.S)
_INSTRUCTION = ("\n\nReply with a single JSON object and no other text, containing these required keys "
                "(additional keys are allowed):\n")


def template(name: str) -> str:
    return (PROMPTS / f"{name}.txt").read_text(encoding="utf-8")


@dataclass(frozen=True)
class JudgeDefinition:
    """One sample's judge request and how to read the reply.

    `scores` maps each label to its metric values (labels kind); a numeric definition has `metric`
    and no labels. `words` maps a label to the word that names it (A -> CORRECT), accepted as a verdict.
    """

    prompt: str
    system_prompt: str | None = None
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    words: dict[str, str] = field(default_factory=dict)
    metric: str = "acc"  # the main metric (numeric kind: the one metric)
    correct_label: str | None = None  # labels kind: the verdict that passes the item; default the best one
    score_pattern: str | None = None  # a user's regex with one group, used when the reply holds no JSON
    score_range: tuple[float, float] = (0.0, 1.0)  # numeric kind: the scale (MT-Bench rates 1 to 10)
    label_order: tuple[str, ...] = ()  # labels in the order the instruction lists them (default: sorted)
    reasoning_key: bool = True  # the instruction asks for a "reasoning" key (AlpacaEval's does not)
    instruction: bool = True  # append the JSON reply-format instruction (MT-Bench's prompts carry their own)
    integer: bool = False  # numeric kind: only whole numbers (EvalScope's MT-Bench contract: "an integer")
    json_reply: bool = True  # read a JSON object first; False: `score_pattern` only (FastChat's "[[rating]]"
    # replies, whose explanations may quote code with braces)
    # structured kind (the RAG metrics' statement lists): the prompt states its own JSON format, and the reply's
    # one JSON object is handed to `reader`, which returns the verdict or raises Unparseable
    reader: Callable[[dict[str, Any]], Any] | None = None

    @property
    def numeric(self) -> bool:
        return not self.scores

    def messages(self) -> list[dict[str, str]]:
        reasoning = '- "reasoning": a string\n' if self.reasoning_key else ""
        if self.numeric:
            low, high = self.score_range
            keys = f'{reasoning}- "score": a number >= {float(low)} and <= {float(high)}'
        else:
            allowed = " or ".join(f'"{label}"' for label in (self.label_order or sorted(self.scores)))
            keys = f'{reasoning}- "verdict": exactly one of {allowed}'
        messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        text = self.prompt + _INSTRUCTION + keys if self.instruction else self.prompt
        return [*messages, {"role": "user", "content": text}]

    def value_of(self, verdict: Any) -> dict[str, float]:
        if self.reader is not None:
            return {}  # the caller turns a structured verdict into metric values
        if self.numeric:
            return {self.metric: float(verdict)}
        return dict(self.scores[str(verdict)])

    def passes(self, verdict: Any) -> bool:
        if self.reader is not None:
            return True
        if self.numeric:
            low, high = self.score_range
            return float(verdict) >= (low + high) / 2
        best = self.correct_label or max(self.scores, key=lambda label: self.scores[label].get(self.metric, 0.0))
        return verdict == best


class Unparseable(ValueError):
    """The judge's reply holds no single valid verdict; the message says why, in one line."""


def parse_verdict(reply: str, definition: JudgeDefinition) -> str | float:
    """The label (labels kind) or score (numeric kind) in `reply`, or raise Unparseable."""
    text = _THINK.sub("", reply or "").strip()
    if not text:
        raise Unparseable("empty reply")
    objects = _json_objects(text) if definition.json_reply else []
    if len(objects) > 1:
        raise Unparseable(f"{len(objects)} JSON objects where exactly one is required")
    if objects:
        try:
            data = json.loads(objects[0])
        except ValueError as exc:
            raise Unparseable(f"the JSON object does not parse ({exc})") from None
        if not isinstance(data, dict):
            raise Unparseable("the JSON value is not an object")
        if definition.reader is not None:
            return definition.reader(data)
        key = "score" if definition.numeric else "verdict"
        if key not in data:
            raise Unparseable(f"the JSON object has no {key!r}")
        return _checked(data[key], definition)
    if definition.reader is not None:
        raise Unparseable("no JSON object in the reply")
    if definition.score_pattern:
        found = {m.group(1) for m in re.finditer(definition.score_pattern, text)}
        if len(found) != 1:
            raise Unparseable(f"score_pattern matched {len(found)} distinct values where exactly one is required")
        return _checked(found.pop(), definition)
    bare = text.strip().strip("*`'\".").strip()
    if definition.numeric:
        return _checked(bare, definition)
    label, _, word = bare.partition(":")
    if word and label.strip() in definition.scores and word.strip().strip("【】") in ("", definition.words.get(label.strip(), "")):
        return label.strip()
    return _checked(bare, definition)


def _checked(value: Any, definition: JudgeDefinition) -> str | float:
    if definition.numeric:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise Unparseable(f"score {value!r} is not a number") from None
        low, high = definition.score_range
        if isinstance(value, bool) or math.isnan(number) or not low <= number <= high:
            raise Unparseable(f"score {value!r} is outside [{low:g}, {high:g}]")
        if definition.integer and not number.is_integer():
            raise Unparseable(f"score {value!r} is not a whole number")
        return number
    text = str(value).strip()
    if text in definition.scores:
        return text
    by_word = {word.upper(): label for label, word in definition.words.items()}
    if text.upper().replace(" ", "_") in by_word:
        return by_word[text.upper().replace(" ", "_")]
    raise Unparseable(f"verdict {text[:40]!r} is not one of {', '.join(sorted(definition.scores))}")


def _json_objects(text: str) -> list[str]:
    """Every top-level JSON object in `text` (a fence or prose around it is allowed)."""
    found: list[str] = []
    depth, start, in_string, escaped = 0, 0, False, False
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"' and depth:
            in_string = True
        elif char == "{":
            if depth == 0:
                start = index
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0:
                found.append(text[start:index + 1])
    return found


# ---------------------------------------------------------------- EvalScope's generic judge

def explanation_in(raw: str, key: str) -> str:
    """The judge's explanation of a verdict: the string `key` of its JSON reply, else its text before
    the first ``[[`` (where FastChat-style verdicts and ratings start), thinking left out."""
    text = _THINK.sub("", raw or "").strip()
    for found in _json_objects(text):
        try:
            data = json.loads(found)
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get(key), str):
            return data[key]
    return text.split("[[", 1)[0].strip()



def generic_definition(settings: Any, question: str, gold: str, prediction: str, metric: str) -> JudgeDefinition:
    """EvalScope's default judge (LLMJudgeMixin.judge_definition): the pattern template grading the
    full prediction against the reference, or the numeric template rating it, unless the user's
    judge_model_args give a prompt_template, system_prompt or score_mapping of their own."""
    values = {"question": question or "Not provided", "gold": gold, "pred": prediction}
    kind = settings.score_type
    prompt = re.sub(r"\{(question|pred|gold)\}", lambda m: values[m.group(1)],
                    settings.prompt_template or template("numeric" if kind == "numeric" else "pattern"))
    if kind == "numeric":
        return JudgeDefinition(prompt, settings.system_prompt, metric=metric, score_pattern=settings.score_pattern)
    mapping = settings.score_mapping or {"A": 1.0, "B": 0.0}
    words = {"A": "CORRECT", "B": "INCORRECT"} if settings.score_mapping is None else {}
    return JudgeDefinition(prompt, settings.system_prompt, {label: {metric: float(v)} for label, v in mapping.items()},
                           words, metric, score_pattern=settings.score_pattern)
