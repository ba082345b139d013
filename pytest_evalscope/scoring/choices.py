"""Multiple-choice answers, read the way EvalScope 1.14.1 reads them, and its prompt rendering.

- `render_choices(["x", "y"])` -> "A) x\nB) y"; `letters(2)` -> "A,B" (the templates' `{letters}`).
- `extract_choice(text, n)`: take the LAST answer marker (`ANSWER:` in any case, or `答案：`/`答案:`, with
  spaces or bold around the colon) that is followed by a label, and read that label:
  - LaTeX wrappers before it are skipped (`ANSWER: $\\boxed{D}$`, `ANSWER: \\text{D}`, `\\(D\\)`);
  - the label is bracketed (`(B)`, `[B]`, `（B）`, `【B】`) or plain, and may list several options joined by
    `,` `，` `/` `、`, spaces, or the words `and` / `or` between two options (`C or A`, `A/D`, `C、D`);
  - only its leading run of options is kept ("ANSWER: B, not C" -> B, "B because D is wrong" -> B);
    an echoed `ANSWER: [LETTER]` is passed over for an earlier marker.
  A single-answer question takes the label when it is exactly one option; a label listing several
  options gives no answer (`ANSWER: C or A` hedges between two). With no marker followed by a label, the
  last capital letter of the reply decides: the answer if it is a valid option, else none (unparsed).
- `extract_choices(text, n)`: the same for multi-answer questions, where the label's options are the
  answer (`A,C`, `AC`, `A C`, `A/C`, `A and C`, `A、C`).

Two deliberate differences from EvalScope (README, "Deliberate deviations"): lower-case option letters
after the marker (`Answer: b`, `Answer: (d)`) are those options, where EvalScope falls back to the last
capital and credits the A of "Answer"; and both markers are read whatever the template's language
(`答案：A（因为 D 不对）` after an English prompt is A, where EvalScope falls back to the D).
"""

from __future__ import annotations

import re
import string

_MARKERS = re.compile(r"(?:(?i:ANSWER)\s*:|答案\s*[:：])\s*\**\s*")
# math typesetting around the label: `$B$`, `\\(B\\)`, `\\boxed{B}`, `$\\boxed{\\text{B}}$`
_LATEX_OPENERS = re.compile(r"(?:(?:\$+|\\\(|\\(?:boxed|fbox|text|textbf|mathbf|mathrm)\s*\{)\s*)*")
_BRACKETED = re.compile(r"[(\[（【]\s*([A-Za-z\d](?:\s*[,，/、]\s*[A-Za-z\d])*)\s*[)\]）】]")
_PLAIN = re.compile(r"([A-Za-z\d][A-Za-z\d ,，/、]*)")
_TOKEN = re.compile(r"[A-Za-z\d]+")
_CONNECTORS = frozenset({"and", "or"})
_CONNECTOR = re.compile(r"\s+(?:and|or)\s+", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s,，/、]+")


def letters(count: int) -> str:
    return ",".join(string.ascii_uppercase[:count])


def render_choices(choices: list[str]) -> str:
    return "\n".join(f"{string.ascii_uppercase[i]}) {choice}" for i, choice in enumerate(choices))


def _is_label(word: str, valid: set[str]) -> bool:
    return bool(word) and set(word) <= valid


def _valid_prefix(label: str, valid: set[str]) -> str:
    """The leading part of a label made only of valid options ("B, not C" -> "B"). `and` / `or` between
    two options joins them ("C or A"); anywhere else a word ends the label ("B and that is why" -> "B")."""
    tokens = list(_TOKEN.finditer(label))
    end = 0
    for i, token in enumerate(tokens):
        word = token.group(0)
        if _is_label(word, valid):
            end = token.end()
        elif not (end and word.lower() in _CONNECTORS and i + 1 < len(tokens)
                  and _is_label(tokens[i + 1].group(0), valid)):
            break
    return label[:end]


def _lone_letters(label: str) -> str:
    """A label of lower-case single letters only ("b", "a, c", "a or c") means those options: upper-case them.

    A word after the marker ("Answer: a dog") is left alone."""
    tokens = [t for t in _TOKEN.findall(label) if t.lower() not in _CONNECTORS]
    if tokens and all(len(t) == 1 and t.islower() for t in tokens):
        return re.sub(r"(?<![A-Za-z])[a-z](?![A-Za-z])", lambda m: m.group(0).upper(), label)
    return label


def _marked_label(text: str, valid: set[str]) -> str | None:
    for marker in reversed(list(_MARKERS.finditer(text))):
        start = _LATEX_OPENERS.match(text, marker.end()).end()  # no slice: a reply may hold thousands of markers
        for pattern in (_BRACKETED, _PLAIN):
            match = pattern.match(text, start)
            prefix = _valid_prefix(_lone_letters(match.group(1).strip()), valid) if match else ""
            if prefix:
                return prefix
    return None


def _last_capital(text: str, valid: set[str]) -> str | None:
    for char in reversed(text):
        if char.isupper():
            return char if char in valid else None
    return None


def extract_choice(text: str, count: int) -> str | None:
    """The single option a reply chose, or None when it chose none (or several)."""
    valid = set(string.ascii_uppercase[:count])
    label = _marked_label(text, valid)
    if label is None:
        return _last_capital(text, valid)
    label = label.strip().rstrip("。.")
    return label if label in valid else None


def extract_choices(text: str, count: int) -> list[str] | None:
    """The options a reply chose on a question with several right answers, or None."""
    valid = set(string.ascii_uppercase[:count])
    label = _marked_label(text, valid)
    if label is None:
        last = _last_capital(text, valid)
        return [last] if last else None
    parts = [p for p in _SEPARATORS.split(_CONNECTOR.sub(",", label)) if p]
    if not (set(parts) <= valid):  # "AC" lists its options without separators
        parts = list("".join(parts))
    chosen = set(parts)
    return sorted(chosen) if chosen and chosen <= valid else None
