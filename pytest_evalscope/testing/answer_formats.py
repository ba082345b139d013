"""Oracle replies in the answer formats real chat models write, with a verdict known by design, for
whole-dataset runs against the loopback test server (`testing.server`).

- `MCQ_FORMATS`: multiple-choice replies (any number of options, A-J included) given the letter they
  claim; `mcq_oracle(items)` assigns them in turn, some claiming the gold, some another letter, some none.
- `INTEGER_FORMATS`: AIME-style replies given the integer they claim; `integer_oracle(items, k)` gives each
  prompt k replies (one per repeat, as the server hands a list out in turn) with a designed number right.

The verdict is what the reply was written to claim compared with the gold, never the harness's own
extractor, so comparing the two checks extraction end to end. Identical prompts share one reply (the
server cannot tell them apart); each sample's verdict is still that reply's claim against its own gold.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# (writer, claims): writer(letter, other) is a reply that claims `letter` (claims=True) or no option (False)
MCQ_FORMATS: list[tuple[Callable[[str, str], str], bool]] = [
    (lambda x, o: f"Let me think step by step.\nOption {o} fails the second condition.\n\nANSWER: {x}", True),
    (lambda x, o: f"**Answer:** ({x})", True),
    (lambda x, o: f"<think>Could it be {o}? No, that misreads the question.</think>\nThe correct answer is {x}.", True),
    (lambda x, o: f"ANSWER: [LETTER]\nOn reflection, ANSWER: {x}", True),
    (lambda x, o: f"The evidence supports {x}.\n\nANSWER: $\\boxed{{{x}}}$", True),
    (lambda x, o: f"ANSWER: {o}\nActually, on reflection, ANSWER: {x}", True),
    (lambda x, o: "Not sure which option is right.", False),  # no capital that is an option (I is, with 9+)
    (lambda x, o: f"Option {o} is tempting, but the evidence points elsewhere.\n\nANSWER: {x}.", True),
    (lambda x, o: f"ANSWER: {x} or {o}", False),  # a hedge between two options is no answer
    (lambda x, o: f"Answer: {x.lower()}", True),
]


def other_letter(letters: Iterable[str], count: int) -> str | None:
    """A valid option letter not among `letters` (None when every option is right)."""
    taken = set(letters)
    return next((c for c in string.ascii_uppercase[:count] if c not in taken), None)


@dataclass
class Item:
    """One sample as the oracle needs it: its prompt, its gold letters (or integer), its option count."""

    key: str
    prompt: str
    gold: str
    count: int = 4


def mcq_oracle(items: list[Item], wrong_every: int = 3) -> tuple[dict[str, str], dict[str, bool], int]:
    """(oracle prompt -> reply, sample key -> designed verdict, replies claiming no option).

    Every `wrong_every`-th distinct prompt claims a letter that is not gold; formats rotate."""
    oracle: dict[str, str] = {}
    claims: dict[str, str | None] = {}
    verdicts: dict[str, bool] = {}
    unparsed = 0
    for item in items:
        prompt = item.prompt.strip()  # the server strips the prompt it looks up
        if prompt not in oracle:
            n = len(oracle)
            writer, claims_one = MCQ_FORMATS[n % len(MCQ_FORMATS)]
            gold = item.gold[0]
            wrong = other_letter(item.gold, item.count)
            letter = wrong if n % wrong_every == wrong_every - 1 and wrong else gold
            other = other_letter({letter}, item.count) or letter
            oracle[prompt] = writer(letter, other)
            claims[prompt] = letter if claims_one else None
        claim = claims[prompt]
        verdicts[item.key] = claim is not None and claim in item.gold
        unparsed += claim is None
    return oracle, verdicts, unparsed


# (writer, claims): writer(n) is a reply whose final answer is n (claims=True) or that gives none (False)
INTEGER_FORMATS: list[tuple[Callable[[int], str], bool]] = [
    (lambda n: f"We count the cases and add them up.\n\nTherefore, the answer is $\\boxed{{{n}}}$.", True),
    (lambda n: f"**Final Answer**\n\\[\n\\boxed{{{n:03d}}}\n\\]", True),
    (lambda n: f"<think>Maybe {n + 1}? Recheck the modulus.</think>\nThe answer is \\boxed{{{n}}}.", True),
    (lambda n: f"Final Answer: The final answer is ${n}$. I hope it is correct.", True),
    (lambda n: f"So $m+n = {n}$, and the answer is $\\boxed{{{n}}}$", True),
    (lambda n: "I could not finish the computation in time.", False),
    (lambda n: f"The remainder is \\boxed{{\\text{{{n}}}}}.", True),
]


def integer_oracle(items: list[Item], repeats: int) -> tuple[dict[str, list[str]], dict[str, int]]:
    """(oracle prompt -> one reply per repeat, sample key -> how many of its repeats are right by design).

    Item i gets (i % (repeats + 1)) right replies, the rest wrong (off by one) or with no answer."""
    oracle: dict[str, list[str]] = {}
    right: dict[str, int] = {}
    for i, item in enumerate(items):
        gold = int(item.gold)
        good = i % (repeats + 1)
        replies, count = [], 0
        for r in range(repeats):
            writer, claims = INTEGER_FORMATS[(i + r) % len(INTEGER_FORMATS)]
            replies.append(writer(gold if r < good else (gold + 1 if gold < 999 else gold - 1)))
            count += r < good and claims  # a format with no answer is never right
        oracle[item.prompt.strip()] = replies
        right[item.key] = count
    return oracle, right
