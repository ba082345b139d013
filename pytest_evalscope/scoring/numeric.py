"""Final-answer extraction and numeric comparison for math word problems (GSM8K and the like).

`split_reasoning` takes `<think>...</think>` reasoning out of a reply, scanning the tags left to right:
a `<think>...</think>` pair is reasoning; an unclosed `<think>` is dropped and the text after it stays
(as in EvalScope 1.14.1, which removes complete blocks only: a reply whose reasoning was never closed
but which went on to write `ANSWER: B` is read as B); a `</think>` with no open block makes everything
before it reasoning (chat templates that put the opening tag in the prompt; EvalScope keeps that text,
a deliberate deviation). A text with no tag is returned unchanged.

`extract_numeric_answer` looks for the final answer with EvalScope's math-parser preferences plus
GSM8K's `####`, taking the first rule that yields a number:

1. Minerva style "final answer is $X$": the last number between the dollars, unless words stand there
   outside `\\text{}` ("the final answer is $18 because 9 eggs sell at $2" is money, left to rule 3).
2. `\\boxed{...}` / `\\fbox{...}`, brace-matched: the last number inside the last box that has one
   (an unclosed box at the end of a truncated reply runs to the end of the text).
3. "the answer is X", "answer: X", "**Answer:** X", "答案是 X", "答案：X": the first number after the
   phrase, in the same sentence or line and after at most two words ("is therefore 12", not "is helpful
   for your 2 kids"); phrases are tried from the last one back.
4. "#### X": the first number after the last `####` on its line.
5. The last number anywhere in the text.

A "number" is one token: an optional sign (a `-` right after a letter, digit or closing bracket is an
operator, not a sign), an optional `$` / `\\$`, digits with optional thousands separators (`,`,
`{,}`, `\\,`) in groups of three, an optional decimal part (a period not followed by a digit ends
the sentence instead) and exponent; or a fraction, which counts as the decimal value of a/b: `a/b`
(no spaces around the slash: `16 / 2` is two numbers) or `\\frac{a}{b}` (`\\dfrac`, `\\tfrac`, with
an optional whole part in front: `2\\frac{1}{2}`).
Units, `%`, words and LaTeX wrappers around the token are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, localcontext

__all__ = [
    "extract_numeric_answer",
    "gold_from_gsm8k_answer",
    "normalize_number",
    "numeric_equal",
    "split_reasoning",
]

_MAX_WINDOW = 200  # characters after an answer phrase in which its number must start
_MAX_WORDS_BEFORE = 2  # words allowed between an answer phrase and its number
_MAX_PHRASES = 20  # answer phrases tried, from the last one back
_MAX_BOXES = 3  # boxes tried, from the last one back
_TAIL_MARGIN = 32  # see _last_number
_MAX_EXPONENT = 60  # beyond this, canonical form is scientific notation rather than plain digits

_THINK_TAG = re.compile(r"<(/?)think>", re.IGNORECASE)

_PLAIN = r"(?:\d+(?:\.\d+)?|\.\d+)"
_GROUPED = r"(?:\d{1,3}(?:(?:,|\{,\}|\\,)\d{3})+(?!\d)|\d+)(?:\.\d+)?|(?<!\d)\.\d+"
_TOKEN = re.compile(
    r"(?=[-−\\$.\d])(?P<sign>(?<![\w)\]}])[-−])?(?:"  # the lookahead is a fast pre-filter
    rf"(?:(?P<whole>\d+)\s*)?\\[dt]?frac\s*"
    rf"(?:\{{\s*(?P<fnum>{_PLAIN})\s*\}}|(?P<fnum1>\d))\s*(?:\{{\s*(?P<fden>{_PLAIN})\s*\}}|(?P<fden1>\d))"
    rf"|(?P<snum>{_PLAIN})/(?P<sden>{_PLAIN})"
    rf"|(?P<num>(?:\\?\$\s?)?(?:{_GROUPED})(?:[eE][-+]?\d+)?))"
)

# Case-insensitive by hand ([Aa]...): a pattern that starts with a character set is scanned much faster.
_MINERVA = re.compile(
    r"[Ff][Ii][Nn][Aa][Ll]\s+[Aa][Nn][Ss][Ww][Ee][Rr]\s+[Ii][Ss]\s*\${1,2}((?:\\\$|[^$\\]|\\(?!\$)){1,200}?)\$"
)
_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_ANSWER_PHRASE = re.compile(
    r"[Aa答](?:(?<=[Aa])(?<!\w[Aa])[Nn][Ss][Ww][Ee][Rr](?:\*\*|__)?\s*(?:[Ii][Ss]\b\s*[:：]?|[:：=])"
    r"|(?<=答)案\s*(?:是|为|為|[:：])\s*[:：]?)"
)
_TEXT_COMMAND = re.compile(r"\\(?:text|mathrm|mbox)\w*\s*\{[^{}]*\}")
_BRACE = re.compile(r"[{}]")
_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}")
_LEADING_FILLER = re.compile(r"[\s*_:：=]*")
_WINDOW_END = re.compile(r"\n|[.!?;](?=\s|$)|[。！？；]")

_FRAC_LATEX = re.compile(r"(?<![\d\s])\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_NORMALIZE_DROP = re.compile(
    r"\\(?:text(?:bf|rm|normal)?|math(?:rm|bf)|mbox|boxed|fbox|displaystyle|left|right)(?![A-Za-z])"
    r"|\\[$%!,;:()\[\] ]|[\s,$%{}*_~]"
)
_NUMBER_TEXT = re.compile(
    r"(?P<sign>[-+]?)(?P<num>\d+(?:\.\d*)?|\.\d+)(?P<exp>[eE][-+]?\d+)?"
    r"(?:/(?P<den>[-+]?(?:\d+(?:\.\d*)?|\.\d+)))?(?P<rest>\D*)"
)


def split_reasoning(text: str, unclosed_is_reasoning: bool = False) -> tuple[str, str]:
    """Return `(answer_text, reasoning)`: the reply without its `<think>` blocks, and those blocks' text.

    `unclosed_is_reasoning` makes the text after an unclosed `<think>` reasoning (code extraction: thinking
    that was cut off is not code)."""
    segments: list[tuple[bool, str]] = []  # (is_answer, text), in order
    reasoning_upto = 0  # segments before this index are reasoning (a stray `</think>` came after them)
    pos = 0
    open_at: int | None = None
    for tag in _THINK_TAG.finditer(text):
        closing = bool(tag.group(1))
        if open_at is None and not closing:
            segments.append((True, text[pos:tag.start()]))
            open_at = tag.end()
        elif open_at is not None and closing:
            segments.append((False, text[open_at:tag.start()]))
            open_at = None
        elif closing:  # a `</think>` with no open block: everything before it was reasoning
            segments.append((False, text[pos:tag.start()]))
            reasoning_upto = len(segments)
        else:  # a `<think>` inside an open block is part of the reasoning
            continue
        pos = tag.end()
    if pos == 0 and open_at is None:
        return text, ""
    # an unclosed block: its tag goes, its text stays (the reply may have gone on to answer)
    if open_at is None:
        segments.append((True, text[pos:]))
    else:
        segments.append((not unclosed_is_reasoning, text[open_at:]))
    answer = [a and i >= reasoning_upto for i, (a, _) in enumerate(segments)]
    return (_join(p for (_, p), a in zip(segments, answer, strict=True) if a),
            _join(p for (_, p), a in zip(segments, answer, strict=True) if not a))


def _join(parts: Iterable[str]) -> str:
    return "\n".join(p.strip() for p in parts if p.strip())


def normalize_number(s: str) -> str | None:
    """Canonical decimal string of a number written with `$`, commas, `%`, units or LaTeX; None if none."""
    try:
        return _normalize(s)
    except (ArithmeticError, ValueError):
        return None


def _normalize(s: str) -> str | None:
    text = _FRAC_LATEX.sub(r"\1/\2", s.strip().replace("−", "-"))
    text = _NORMALIZE_DROP.sub("", text)
    m = _NUMBER_TEXT.fullmatch(text.lstrip("=~≈:"))
    if m is None:
        return None
    value = Decimal(m["sign"] + m["num"] + (m["exp"] or ""))
    if m["den"] is not None:
        value = _divide(value, Decimal(m["den"]))
    return None if value is None else _canonical(value)


def _divide(num: Decimal, den: Decimal) -> Decimal | None:
    if den == 0:
        return None
    with localcontext() as ctx:
        ctx.prec = 16
        return num / den


def _canonical(value: Decimal) -> str:
    value = value.normalize()
    if value == 0:
        return "0"
    if abs(value.adjusted()) > _MAX_EXPONENT:
        return str(value)
    return format(value, "f")


def _token_value(m: re.Match[str]) -> str | None:
    """The canonical value of one `_TOKEN` match."""
    sign = "-" if m["sign"] else ""
    if m["num"] is not None:
        return normalize_number(sign + m["num"])
    try:
        if m["snum"] is not None:
            value = _divide(Decimal(m["snum"]), Decimal(m["sden"]))
        else:
            value = _divide(Decimal(m["fnum"] or m["fnum1"]), Decimal(m["fden"] or m["fden1"]))
            if value is not None and m["whole"]:
                value += Decimal(m["whole"])
        return None if value is None else _canonical(-value if sign else value)
    except ArithmeticError:
        return None


def _last_number(text: str) -> str | None:
    """The last number in `text`, scanning a growing tail that starts after whitespace (numbers such as
    `\\$ 18` or `\\frac {1} {2}` may hold spaces: a tail whose last number starts near its cut is widened)."""
    size = 256
    while True:
        cut = _tail_start(text, len(text) - size)
        near_cut = cut + _TAIL_MARGIN if cut else 0
        for m in reversed(list(_TOKEN.finditer(text, cut))):
            if m.start() < near_cut:
                break
            value = _token_value(m)
            if value is not None:
                return value
        if not cut:
            return None
        size *= 4


def _tail_start(text: str, at: int) -> int:
    """The start of the word holding position `at` (0 for the whole text)."""
    if at <= 0:
        return 0
    return max(text.rfind(" ", 0, at), text.rfind("\n", 0, at)) + 1


def _number_after(text: str, start: int) -> str | None:
    """The first number in the sentence or line after `start` (past spaces, colons and markdown), provided
    at most `_MAX_WORDS_BEFORE` words come before it ("is therefore 12" yes, "is helpful for your 2" no)."""
    start = _LEADING_FILLER.match(text, start).end()
    stop = min(len(text), start + _MAX_WINDOW)
    end = _WINDOW_END.search(text, start, stop)
    for m in _TOKEN.finditer(text, start, stop if end is None else end.start()):
        if len(_WORD.findall(text, start, m.start())) > _MAX_WORDS_BEFORE:
            return None
        value = _token_value(m)
        if value is not None:
            return value
    return None


def _from_minerva(text: str) -> str | None:
    spans = [m.group(1) for m in _MINERVA.finditer(text)]
    if not spans or _WORD.search(_TEXT_COMMAND.sub("", spans[-1])):
        return None
    return _last_number(spans[-1])


def _box_content(text: str, start: int) -> str:
    """Text of the box whose name ends at `start`: brace-matched, or the next word for `\\boxed 18`."""
    i = start
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text) or text[i] != "{":
        return text[i:].split(maxsplit=1)[0] if text[i:].strip() else ""
    depth = 0
    for brace in _BRACE.finditer(text, i):
        depth += 1 if brace.group(0) == "{" else -1
        if depth == 0:
            return text[i + 1:brace.start()]
    return text[i + 1:]


def _from_boxes(text: str) -> str | None:
    starts = [m.end() for m in _BOX.finditer(text)]
    for start in reversed(starts[-_MAX_BOXES:]):
        value = _last_number(_box_content(text, start))
        if value is not None:
            return value
    return None


def _from_answer_phrase(text: str) -> str | None:
    ends = [m.end() for m in _ANSWER_PHRASE.finditer(text)]
    for end in reversed(ends[-_MAX_PHRASES:]):
        value = _number_after(text, end)
        if value is not None:
            return value
    return None


def _from_hashes(text: str) -> str | None:
    last = text.rfind("####")
    return None if last < 0 else _number_after(text, last + 4)


def extract_numeric_answer(text: str) -> str | None:
    """The normalised final numeric answer of a reply, or None when it has no number (rules: module doc)."""
    for rule in (_from_minerva, _from_boxes, _from_answer_phrase, _from_hashes, _last_number):
        value = rule(text)
        if value is not None:
            return value
    return None


def numeric_equal(pred: str | None, gold: str) -> bool:
    """Whether two numbers are the same number, written in any form (`1,000` = `1000.00` = `\\$1000`).

    As in EvalScope 1.14.1 (math-verify with `float_rounding=6`), there is no tolerance beyond the sixth
    decimal place: "approximately 27000.2" is not 27000, and 0.3333333 is 1/3 only to six places.
    """
    if pred is None:
        return False
    p, g = normalize_number(pred), normalize_number(gold)
    if p is None or g is None:
        return False
    if p == g:
        return True
    try:
        return round(Decimal(p), 6) == round(Decimal(g), 6)
    except ArithmeticError:
        return False


def gold_from_gsm8k_answer(answer: str) -> str:
    """The gold number of a GSM8K `answer` field: the text after the last `####`, normalised."""
    tail = answer.rsplit("####", 1)[-1].strip()
    value = normalize_number(tail)
    return value if value is not None else tail.replace(",", "")
