"""Prompt sources (EvalScope's ``--dataset``), registered by name.

* ``openqa``: a JSONL file of ``{"question": ...}`` (EvalScope's HC3 format); without a file, a small
  built-in set of open questions (EvalScope downloads HC3-Chinese, which needs the network).
* ``line_by_line``: one prompt per line; a line holding a JSON list is a messages list, a JSON object
  with ``messages`` or ``prompt`` is used as such.
* ``custom``: JSONL of ``{"prompt"|"query"|"question": text}`` or ``{"messages": [...]}``.
* ``sharegpt``: ShareGPT JSON or JSONL (``conversations`` with ``from``/``value``); the first human
  turn becomes the prompt (single turn).
* ``random``: synthetic prompts, lengths uniform in [min_prompt_length, max_prompt_length]: token ids
  drawn from the vocabulary with ``tokenizer_path``, else words (lengths in characters).

Lengths are tokens with ``tokenizer_path`` and characters without; file prompts outside
[min_prompt_length, max_prompt_length] are dropped, as in EvalScope.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..params import ConfigError
from .apis import Prompt

DATASET_REGISTRY: dict[str, Callable[[Any, Any], list[Prompt]]] = {}

OPENQA_BUILTIN = (
    "What is the capital of France, and why did it become the capital?",
    "Explain the difference between a list and a tuple in Python.",
    "How does a refrigerator keep food cold?",
    "Write a short poem about the sea at night.",
    "What are the main causes of inflation?",
    "Summarize the plot of Romeo and Juliet in three sentences.",
    "Why is the sky blue during the day and red at sunset?",
    "Give three tips for writing clear technical documentation.",
    "What is the difference between weather and climate?",
    "How do vaccines train the immune system?",
    "Explain recursion to a ten-year-old.",
    "What were the main effects of the printing press on Europe?",
    "Describe how a hash table works and its average lookup cost.",
    "What should I consider when choosing a programming language for a new project?",
    "How do solar panels turn sunlight into electricity?",
    "Compare renting and buying a home in a few sentences.",
)
_WORDS = ("time year people way day man thing woman life child world school state family student group country "
          "problem hand part place case week company system program question work government number night point "
          "home water room mother area money story fact month lot right study book eye job word business issue").split()


def register_dataset(name: str) -> Callable[[Callable[[Any, Any], list[Prompt]]], Callable[[Any, Any], list[Prompt]]]:
    def wrap(fn: Callable[[Any, Any], list[Prompt]]) -> Callable[[Any, Any], list[Prompt]]:
        DATASET_REGISTRY[name] = fn
        return fn

    return wrap


def load_tokenizer(path: str | None) -> Any:
    if not path:
        return None
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise ConfigError("tokenizer_path: needs the transformers package (pip install transformers)") from None
    try:
        return AutoTokenizer.from_pretrained(path)
    except Exception as exc:
        raise ConfigError(f"tokenizer_path: cannot load tokenizer {path!r}: {str(exc).splitlines()[0][:160]}") from None


def _lines(path: str) -> list[tuple[int, str]]:
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"dataset_path: {path} does not exist or is not a file")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"dataset_path: cannot read {path} as UTF-8 text ({exc})") from None
    return [(i, line) for i, line in enumerate(text.splitlines(), 1) if line.strip()]


def _json_line(path: str, lineno: int, line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError as exc:
        raise ConfigError(f"dataset_path: line {lineno} of {path} is not JSON ({exc.msg} at column {exc.colno})") from None


def _record_prompt(obj: Any, path: str, lineno: int, keys: tuple[str, ...]) -> Prompt:
    if isinstance(obj, list):
        return obj
    if isinstance(obj, dict):
        if isinstance(obj.get("messages"), list):
            return obj["messages"]
        for key in keys:
            if isinstance(obj.get(key), str):
                return obj[key]
    raise ConfigError(f"dataset_path: line {lineno} of {path} has no prompt; expected a JSON object with one of "
                      f"{', '.join(repr(k) for k in keys)} or 'messages'")


@register_dataset("openqa")
def openqa(args: Any, tokenizer: Any) -> list[Prompt]:
    if not args.dataset_path:
        return list(OPENQA_BUILTIN)
    return [_record_prompt(_json_line(args.dataset_path, n, line), args.dataset_path, n, ("question", "prompt"))
            for n, line in _lines(args.dataset_path)]


@register_dataset("line_by_line")
def line_by_line(args: Any, tokenizer: Any) -> list[Prompt]:
    out: list[Prompt] = []
    for n, line in _lines(args.dataset_path):
        text = line.strip()
        if text[:1] in "[{":
            try:
                out.append(_record_prompt(json.loads(text), args.dataset_path, n, ("prompt",)))
                continue
            except (ValueError, ConfigError):
                pass  # a text line that happens to start with a bracket
        out.append(text)
    return out


@register_dataset("custom")
def custom(args: Any, tokenizer: Any) -> list[Prompt]:
    return [_record_prompt(_json_line(args.dataset_path, n, line), args.dataset_path, n, ("prompt", "query", "question"))
            for n, line in _lines(args.dataset_path)]


@register_dataset("sharegpt")
def sharegpt(args: Any, tokenizer: Any) -> list[Prompt]:
    path = args.dataset_path
    text = Path(path).read_text(encoding="utf-8") if Path(path).is_file() else None
    if text is None:
        raise ConfigError(f"dataset_path: {path} does not exist or is not a file")
    if text.lstrip().startswith("["):
        try:
            records = list(enumerate(json.loads(text), 1))
        except ValueError as exc:
            raise ConfigError(f"dataset_path: {path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    else:
        records = [(n, _json_line(path, n, line)) for n, line in _lines(path)]
    out: list[Prompt] = []
    for n, rec in records:
        turns = rec.get("conversations") or rec.get("conversation") if isinstance(rec, dict) else None
        if not isinstance(turns, list):
            raise ConfigError(f"dataset_path: record {n} of {path} has no 'conversations' list (ShareGPT format)")
        human = next((t.get("value") or t.get("content") for t in turns
                      if isinstance(t, dict) and t.get("from", t.get("role")) in ("human", "user")), None)
        if isinstance(human, str) and human.strip():
            out.append(human)
    return out


@register_dataset("random")
def random_prompts(args: Any, tokenizer: Any) -> list[Prompt]:
    rng = random.Random(args.seed)
    lo = args.min_prompt_length
    hi = min(args.max_prompt_length, 1 << 20)
    count = max(args.number) + int(args.warmup_num if args.warmup_num >= 1 else args.warmup_num * max(args.number) + 1)
    out: list[Prompt] = []
    vocab = tokenizer.vocab_size if tokenizer is not None else 0
    for _ in range(min(count, 4096)):
        length = rng.randint(max(lo, 1), max(hi, 1))
        if tokenizer is not None:
            out.append(_random_text(tokenizer, rng, vocab, length))
        else:
            words: list[str] = []
            size = -1
            while size < length:
                words.append(rng.choice(_WORDS))
                size += len(words[-1]) + 1
            out.append(" ".join(words)[:length])
    return out


def _random_text(tokenizer: Any, rng: random.Random, vocab: int, length: int) -> str:
    """Text of random vocabulary tokens that encodes back to `length` tokens. Decoding random ids and
    encoding the text again merges or splits tokens (EvalScope's random prompts drift in length for
    that reason); the ids are re-encoded, cut or topped up, and decoded again until the count holds."""
    ids = [rng.randrange(100, vocab) for _ in range(length)]
    text = tokenizer.decode(ids)
    for _ in range(8):
        again = tokenizer.encode(text, add_special_tokens=False)
        if len(again) == length:
            break
        ids = again[:length] if len(again) > length else again + [rng.randrange(100, vocab) for _ in range(length - len(again))]
        text = tokenizer.decode(ids)
    return text


def prompt_length(prompt: Prompt, tokenizer: Any) -> int:
    text = prompt if isinstance(prompt, str) else "\n".join(str(m.get("content", "")) for m in prompt)
    return len(tokenizer.encode(text, add_special_tokens=False)) if tokenizer is not None else len(text)


def load_prompts(args: Any, tokenizer: Any = None) -> tuple[list[Prompt], list[int | None]]:
    """The prompts and, with a tokenizer, their token counts (``None`` each without one)."""
    if args.prompt:
        prompts: list[Prompt] = [args.prompt]
    else:
        prompts = DATASET_REGISTRY[args.dataset](args, tokenizer)
        if args.dataset != "random":
            prompts = [p for p in prompts
                       if args.min_prompt_length <= prompt_length(p, tokenizer) <= args.max_prompt_length]
    if not prompts:
        unit = "tokens" if tokenizer is not None else "characters"
        raise ConfigError(f"dataset: no prompt left from {args.dataset!r} with length in [{args.min_prompt_length}, "
                          f"{args.max_prompt_length}] {unit}; widen --min/--max-prompt-length or check the file")
    hints = [prompt_length(p, tokenizer) for p in prompts] if tokenizer is not None else [None] * len(prompts)
    return prompts, hints
