"""The torch side of the checkpoint model: prompts, generation settings, batched generate and scoring.

These functions are synchronous and run in the model's single worker thread. Batches are padded on
the left with an attention mask, so every row's last prompt token sits at the same position;
generation derives position ids from the mask, and scoring passes them explicitly, so a padded row
computes what it would compute alone.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import Any

from ..params import ConfigError, did_you_mean, parse_bool, parse_int
from .loglikelihood import ChoiceScore

# EvalScope / OpenAI names -> transformers GenerationConfig names
RENAMED = {"max_tokens": "max_new_tokens", "n": "num_return_sequences", "stop": "stop_strings",
           "stop_seqs": "stop_strings", "min_tokens": "min_new_tokens"}
GENERATION_KEYS = (
    "max_new_tokens", "max_length", "min_new_tokens", "min_length", "do_sample", "temperature", "top_k", "top_p",
    "min_p", "typical_p", "epsilon_cutoff", "eta_cutoff", "repetition_penalty", "no_repeat_ngram_size",
    "num_beams", "length_penalty", "early_stopping", "num_return_sequences", "stop_strings", "eos_token_id",
    "bad_words_ids", "suppress_tokens", "renormalize_logits", "use_cache",
)
# Accepted for EvalScope compatibility; they shape the run, not the model call.
HARNESS_KEYS = ("seed", "stream", "timeout", "retries", "retry_interval", "batch_size", "logprobs", "top_logprobs")
ALL_KEYS = (*GENERATION_KEYS, *RENAMED, *HARNESS_KEYS)
DEFAULT_MAX_NEW_TOKENS = 2048  # EvalScope's checkpoint default max_tokens


def generation_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    """generation_config in transformers' terms; greedy unless a positive temperature asks to sample."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if key not in ALL_KEYS:
            raise ConfigError(f"generation_config: unknown key {key!r}{did_you_mean(key, ALL_KEYS)}; "
                              f"valid: {', '.join(ALL_KEYS)}")
        if key in HARNESS_KEYS or value is None:
            continue
        out.setdefault(RENAMED.get(key, key), value)
    if isinstance(out.get("stop_strings"), str):
        out["stop_strings"] = [out["stop_strings"]]
    if "stop_strings" in out:
        out["stop_strings"] = [s for s in out["stop_strings"] if s] or None
        if out["stop_strings"] is None:
            del out["stop_strings"]
    if parse_int(out.get("num_return_sequences", 1), "generation_config.num_return_sequences", 1) > 1:
        raise ConfigError("generation_config.n / num_return_sequences > 1: each sample gets one reply here; "
                          "use repeats=N to sample N replies per question")
    out.pop("num_return_sequences", None)
    temperature = out.get("temperature")
    positive = temperature is not None and float(temperature) > 0
    if "do_sample" in out:
        out["do_sample"] = parse_bool(out["do_sample"], "generation_config.do_sample") and (temperature is None or positive)
    else:
        out["do_sample"] = positive
    if not out["do_sample"]:
        for key in ("temperature", "top_k", "top_p", "min_p", "typical_p"):
            out.pop(key, None)  # greedy: sampling knobs would only draw transformers' warnings
    if "max_new_tokens" not in out and "max_length" not in out:
        out["max_new_tokens"] = DEFAULT_MAX_NEW_TOKENS
    return out


# ---------------------------------------------------------------- prompts


PLAIN = ""  # model_args.chat_template none/false: plain prompts even when the tokenizer has a template


def read_chat_template(value: Any) -> str:
    """model_args.chat_template: a Jinja string, the path of a file holding one (checked now), or
    none / false for the plain prompt (lm-evaluation-harness style scoring of an instruct model)."""
    text = str(value)
    if value is False or text.strip().lower() in ("none", "false", "plain"):
        return PLAIN
    if "{{" not in text and "{%" not in text:
        path = os.path.expanduser(text)
        if not os.path.isfile(path):
            raise ConfigError(f"model_args.chat_template: {text!r} is neither a file nor a Jinja template")
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    import jinja2

    try:
        jinja2.Environment().parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"model_args.chat_template: invalid Jinja at line {exc.lineno}: {exc.message}") from None
    return text


@dataclass
class Prompt:
    text: str
    templated: bool  # a chat template rendered it (special tokens are in the text, none are added)


def render(tokenizer: Any, messages: list[dict[str, str]], chat_template: str | None,
           template_kwargs: dict[str, Any]) -> Prompt:
    """The chat template (custom, else the tokenizer's) with the assistant turn opened; else plain text
    (PLAIN, or a tokenizer without a template): the contents joined by blank lines."""
    template = chat_template if chat_template is not None else getattr(tokenizer, "chat_template", None)
    if not template:
        return Prompt("\n\n".join(m["content"] for m in messages), False)
    text = tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False,
                                         add_generation_prompt=True, **template_kwargs)
    return Prompt(text, True)


def encode(tokenizer: Any, text: str, templated: bool) -> list[int]:
    return list(tokenizer(text, add_special_tokens=not templated)["input_ids"])


def pad_id(tokenizer: Any) -> int:
    for value in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0):
        if value is not None:
            return int(value)
    return 0


def left_pad(rows: list[list[int]], pad: int, device: str) -> tuple[Any, Any]:
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        if row:
            ids[i, width - len(row):] = torch.tensor(row, dtype=torch.long)
            mask[i, width - len(row):] = 1
    return ids.to(device), mask.to(device)


# ---------------------------------------------------------------- generation


@dataclass
class Generated:
    text: str
    input_tokens: int
    output_tokens: int
    finish_reason: str


def generate_batch(model: Any, tokenizer: Any, prompts: list[Prompt], kwargs: dict[str, Any],
                   device: str) -> list[Generated]:
    import torch

    rows = [encode(tokenizer, p.text, p.templated) for p in prompts]
    ids, mask = left_pad(rows, pad_id(tokenizer), device)
    config = copy.deepcopy(model.generation_config)
    if not kwargs.get("do_sample"):
        for key in ("temperature", "top_k", "top_p", "min_p", "typical_p"):
            setattr(config, key, None)
    config.update(**kwargs)
    config.pad_token_id = pad_id(tokenizer)
    if config.eos_token_id is None:
        config.eos_token_id = tokenizer.eos_token_id
    extra = {"tokenizer": tokenizer} if kwargs.get("stop_strings") else {}
    with torch.inference_mode():
        out = model.generate(input_ids=ids, attention_mask=mask, generation_config=config, **extra)
    eos = config.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    limit = kwargs.get("max_new_tokens")
    results = []
    for i, row in enumerate(rows):
        new = out[i, ids.shape[1]:].tolist()
        count, stopped = _count_new(new, eos_ids, config.pad_token_id)
        text = tokenizer.decode(new[:count], skip_special_tokens=True)
        text, hit = _cut_at_stop(text, kwargs.get("stop_strings") or [])
        finish = "stop" if stopped or hit or limit is None or count < limit else "length"
        results.append(Generated(text, len(row), count, finish))
    return results


def _count_new(tokens: list[int], eos_ids: set[int], pad: int) -> tuple[int, bool]:
    """Tokens the model really produced (through its EOS), and whether it stopped by itself."""
    for n, token in enumerate(tokens):
        if token in eos_ids:
            return n + 1, True
        if token == pad:  # finished earlier than other rows (stop string): the rest is padding
            return n, True
    return len(tokens), False


def _cut_at_stop(text: str, stops: list[str]) -> tuple[str, bool]:
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


# ---------------------------------------------------------------- scoring


@dataclass
class ScoreRequest:
    context: Prompt
    continuation: str


def encode_pair(tokenizer: Any, context: Prompt, continuation: str) -> tuple[list[int], list[int]]:
    """lm-evaluation-harness's split: the continuation's tokens are those of context + continuation past
    the context's own; a plain (untemplated) context's trailing spaces move to the continuation first."""
    text = context.text
    spaces = len(text) - len(text.rstrip())
    if spaces and not context.templated:  # a template's trailing newline is structure, not the answer's
        continuation, text = text[-spaces:] + continuation, text[:-spaces]
    whole = encode(tokenizer, text + continuation, context.templated)
    ctx = encode(tokenizer, text, context.templated)
    if whole[:len(ctx)] != ctx:  # a merge across the boundary: fall back to separate encodings
        return ctx, encode(tokenizer, continuation, True)
    return ctx, whole[len(ctx):]


def score_batch(model: Any, tokenizer: Any, requests: list[ScoreRequest], device: str,
                max_length: int) -> list[ChoiceScore]:
    """Log-likelihood of each request's continuation after its context.

    Requests that share a context (the choices of one question) are scored from one pass over that
    context: its key/value cache is copied to each choice's row and only the choices' own tokens run
    (`score_shared`); single-token choices (" A", " B", ...) need no second pass at all. A context
    with a single request, or one too long for the window, is scored whole (`score_whole`)."""
    pairs: list[tuple[list[int], list[int]]] = []
    for req in requests:
        ctx, cont = encode_pair(tokenizer, req.context, req.continuation)
        if not ctx:  # the first continuation token needs something to be conditioned on
            ctx = [tokenizer.bos_token_id if tokenizer.bos_token_id is not None else pad_id(tokenizer)]
        pairs.append((ctx, cont))
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, (ctx, _) in enumerate(pairs):
        groups.setdefault(tuple(ctx), []).append(i)
    shared = {ctx: members for ctx, members in groups.items()
              if len(members) > 1 and all(pairs[i][1] and len(ctx) + len(pairs[i][1]) <= max_length for i in members)}
    whole = [i for ctx, members in groups.items() if ctx not in shared for i in members]
    results: dict[int, tuple[float, bool, int]] = {}
    if shared:
        try:
            results.update(score_shared(model, [(list(ctx), [(i, pairs[i][1]) for i in members])
                                                for ctx, members in shared.items()], pad_id(tokenizer), device))
        except (TypeError, AttributeError, NotImplementedError):  # a model without a usable key/value cache
            whole += [i for members in shared.values() for i in members]
    if whole:
        results.update(score_whole(model, [(i, *pairs[i]) for i in whole], pad_id(tokenizer), device, max_length))
    return [ChoiceScore(*results[i], len(req.continuation), len(req.continuation.encode("utf-8")))
            for i, req in enumerate(requests)]


def _token_logprobs(logits: Any, tokens: Any) -> tuple[Any, Any]:
    """log p(token) under each row of logits, and whether the token is the row's argmax."""
    logits = logits.float()
    picked = logits.gather(-1, tokens[..., None])[..., 0]
    return picked - logits.logsumexp(-1), logits.argmax(-1) == tokens


def score_shared(model: Any, groups: list[tuple[list[int], list[tuple[int, list[int]]]]], pad: int,
                 device: str) -> dict[int, tuple[float, bool, int]]:
    """Score continuations that share contexts: one pass over the (left-padded) contexts, then one
    over every continuation at once, each row attending to its context through the copied cache."""
    import torch

    ids, mask = left_pad([ctx for ctx, _ in groups], pad, device)
    rows = [(g, index, cont) for g, (_, members) in enumerate(groups) for index, cont in members]
    with torch.inference_mode():
        out = model(input_ids=ids, attention_mask=mask, position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
                    use_cache=True, logits_to_keep=1)
        last = out.logits[:, -1, :]  # predicts each continuation's first token
        which = torch.tensor([g for g, _, _ in rows], device=ids.device)
        first = torch.tensor([cont[0] for _, _, cont in rows], device=ids.device)
        first_lp, first_greedy = _token_logprobs(last[which], first)
        width = max(len(cont) for _, _, cont in rows) - 1
        rest_lp = rest_greedy = None
        if width > 0:  # the tokens after the first: run them on top of each row's copy of its context
            cache = out.past_key_values
            cache.batch_select_indices(which)
            tail = torch.full((len(rows), width), pad, dtype=torch.long)
            tail_mask = torch.zeros((len(rows), width), dtype=torch.long)
            for r, (_, _, cont) in enumerate(rows):
                tail[r, :len(cont) - 1] = torch.tensor(cont[:-1], dtype=torch.long)
                tail_mask[r, :len(cont) - 1] = 1
            tail, tail_mask = tail.to(ids.device), tail_mask.to(ids.device)
            lengths = mask.sum(-1)[which]
            positions = lengths[:, None] + torch.arange(width, device=ids.device)[None, :]
            logits = model(input_ids=tail, attention_mask=torch.cat([mask[which], tail_mask], dim=1),
                           position_ids=positions, past_key_values=cache, use_cache=True).logits
            targets = torch.full((len(rows), width), 0, dtype=torch.long)
            for r, (_, _, cont) in enumerate(rows):
                targets[r, :len(cont) - 1] = torch.tensor(cont[1:], dtype=torch.long)
            rest_lp, rest_greedy = _token_logprobs(logits, targets.to(ids.device))
    results = {}
    for r, (_, index, cont) in enumerate(rows):
        n = len(cont) - 1
        logprob = first_lp[r].item() + (rest_lp[r, :n].sum().item() if n else 0.0)
        greedy = bool(first_greedy[r].item()) and (bool(rest_greedy[r, :n].all().item()) if n else True)
        results[index] = (logprob, greedy, len(cont))
    return results


def score_whole(model: Any, items: list[tuple[int, list[int], list[int]]], pad: int, device: str,
                max_length: int) -> dict[int, tuple[float, bool, int]]:
    """Score each (index, context, continuation) as one sequence, cut to the window from the left."""
    import torch

    inputs: list[list[int]] = []
    targets: list[list[int]] = []
    for _, ctx, cont in items:
        seq = (ctx + cont)[-(max_length + 1):]
        inputs.append(seq[:-1])
        kept = min(len(cont), len(seq) - 1)  # a continuation longer than the window loses its head
        targets.append(cont[len(cont) - kept:])
    ids, mask = left_pad(inputs, pad, device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    keep = max(1, *(len(t) for t in targets))
    with torch.inference_mode():
        try:
            logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=keep).logits
        except TypeError:  # a model without logits_to_keep
            logits = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits
        logits = logits[:, -keep:, :]
        results = {}
        for row, ((index, _, _), target) in enumerate(zip(items, targets, strict=True)):
            if not target:
                results[index] = (0.0, True, 0)
                continue
            wanted = torch.tensor(target, device=logits.device)
            logprob, greedy = _token_logprobs(logits[row, keep - len(target):], wanted)
            results[index] = (logprob.sum().item(), bool(greedy.all().item()), len(target))
    return results
