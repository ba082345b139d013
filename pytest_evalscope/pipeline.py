"""Pipelined model requests: items pass or fail one by one while many requests are in flight.

Each process runs one asyncio loop in a background thread. Before an item runs, the plugin submits it
and the items queued after it (up to `lookahead` unconsumed results); at most `eval_batch_size`
requests are in flight at once. An item then only waits for its own future, so throughput is bounded
by the server, not by pytest running items in order.

A multi-turn sample (MT-Bench) is one future too: its turns are asked in order on the loop, each turn's
request holding the model's earlier replies, and each reply is journaled under ``<key>#turn<n>`` the
moment it arrives, so a resumed run (use_cache) asks only the turns it lacks.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .cache import Journal
from .models.base import ModelAPI, ModelError, ModelOutput
from .scoring.numeric import split_reasoning
from .scoring.stage import Scored, Scorer

# Replies that say the request itself is wrong (key, model name, URL), an endpoint that cannot be
# reached at all (of a fleet: no endpoint), a fleet whose endpoints serve different models, or a
# checkpoint that cannot load: no later sample can succeed.
FATAL_KINDS = ("http_401", "http_403", "http_404", "unreachable", "fleet_mismatch", "model_load",
               "judge_http_401", "judge_http_403", "judge_http_404", "judge_unreachable", "judge_missing")


def lookahead_for(concurrency: int) -> int:
    """How many results a process may have requested ahead of the item being reported."""
    return max(4 * concurrency, 8)


@dataclass
class Outcome:
    output: ModelOutput | None = None
    error: ModelError | None = None  # the reply failed, or its scoring did (then `output` is the reply)
    cached: bool = False
    scored: Scored | None = None  # the scoring stage's result, when the request had a scorer
    conversation: list[dict[str, str]] | None = None  # multi-turn: the messages the last answered turn was sent


# The scoring stage of a request: given the process's Scorer and the reply, its score.
ScoreStep = Callable[[Scorer, ModelOutput], Awaitable[Scored]]
# The journal fingerprint of a request's messages (the runtime's: model, generation settings, messages).
Fingerprint = Callable[[list[dict[str, str]]], str]


def turn_key(key: str, turn: int) -> str:
    return f"{key}#turn{turn}"


def next_turn(conversation: list[dict[str, str]], reply: str, follow_up: str) -> list[dict[str, str]]:
    """The conversation for the next turn: the model's reply, then the next user message. The reply's
    reasoning (a <think> block) stays out, as chat templates leave earlier turns' reasoning out."""
    answer, _ = split_reasoning(reply)
    return [*conversation, {"role": "assistant", "content": answer}, {"role": "user", "content": follow_up}]


class Pipeline:
    def __init__(self, model_factory: Callable[[], ModelAPI], concurrency: int,
                 journal: Journal | None = None, cached: dict[tuple[str, str], dict[str, Any]] | None = None,
                 scorer_factory: Callable[[], Scorer] | None = None) -> None:
        self.model_factory = model_factory
        self.scorer_factory = scorer_factory or (lambda: Scorer(None, None))
        self._scorer: Scorer | None = None
        self.concurrency = concurrency
        self.lookahead = lookahead_for(concurrency)
        self.journal = journal
        self.cached = cached or {}
        self._futures: dict[str, concurrent.futures.Future[Outcome]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._model: ModelAPI | None = None
        self._variants: dict[str, ModelAPI] = {}  # the model with other generation settings, by settings
        self.fatal: ModelError | None = None  # the first reply that rules out every later request

    # ------------------------------------------------------------ caller side (pytest's thread)

    def submit(self, key: str, messages: list[dict[str, str]], fingerprint: str,
               continuations: list[str] | None = None, score: ScoreStep | None = None,
               settings: dict[str, Any] | None = None) -> None:
        """Ask for a reply to `messages` (or, with `continuations`, each one's log-likelihood after them),
        then, with `score`, for its score: both happen on the loop, the item only waits for the outcome.
        `settings`: this request's generation_config, when not the run's (ModelAPI.with_generation)."""
        if key in self._futures:
            return
        hit = self.cached.get((key, fingerprint))
        if hit is not None and score is None:
            future: concurrent.futures.Future[Outcome] = concurrent.futures.Future()
            future.set_result(Outcome(ModelOutput.from_dict(hit), cached=True))
        elif hit is not None:
            future = asyncio.run_coroutine_threadsafe(self._stage(Outcome(ModelOutput.from_dict(hit), cached=True), score),
                                                      self._ensure_loop())
        else:
            future = asyncio.run_coroutine_threadsafe(self._call(key, messages, fingerprint, continuations, score, settings),
                                                      self._ensure_loop())
        self._futures[key] = future

    def submit_conversation(self, key: str, messages: list[dict[str, str]], follow_ups: list[str],
                            fingerprint_of: Fingerprint, score: ScoreStep | None = None,
                            settings: dict[str, Any] | None = None) -> None:
        """Ask for a reply to `messages`, then to each of `follow_ups` with the conversation so far; then,
        with `score`, for the score of the whole conversation (its outcome's output is the last reply)."""
        if key not in self._futures:
            self._futures[key] = asyncio.run_coroutine_threadsafe(
                self._converse(key, messages, follow_ups, fingerprint_of, score, settings), self._ensure_loop())

    def conversation_cached(self, key: str, messages: list[dict[str, str]], follow_ups: list[str],
                            fingerprint_of: Fingerprint) -> bool:
        """Whether an earlier run's journal answers every turn of a conversation."""
        conversation = messages
        for turn in range(len(follow_ups) + 1):
            hit = self.cached.get((turn_key(key, turn + 1), fingerprint_of(conversation)))
            if hit is None:
                return False
            if turn < len(follow_ups):
                conversation = next_turn(conversation, str(hit.get("content", "")), follow_ups[turn])
        return True

    def submit_reply(self, key: str, output: ModelOutput, score: ScoreStep) -> None:
        """Score a reply that is already known (an earlier run's answer in general_arena): no request."""
        if key not in self._futures:
            self._futures[key] = asyncio.run_coroutine_threadsafe(self._stage(Outcome(output), score), self._ensure_loop())

    def model(self) -> ModelAPI:
        """The run's model, created now (on the loop, as every request uses it) if no request did yet."""

        async def make() -> ModelAPI:
            if self._model is None:
                self._model = self.model_factory()
            return self._model

        return asyncio.run_coroutine_threadsafe(make(), self._ensure_loop()).result()

    def is_cached(self, key: str, fingerprint: str) -> bool:
        return (key, fingerprint) in self.cached

    def room(self) -> int:
        """How many more requests may be submitted ahead of the items that will take them."""
        return self.lookahead - len(self._futures)

    def submitted(self, key: str) -> bool:
        return key in self._futures

    def take(self, key: str) -> Outcome:
        """Wait for a submitted request and forget it."""
        return self._futures.pop(key).result()

    def close(self) -> None:
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()
        loop = self._loop
        if loop is None:
            return
        variants = [m for m in self._variants.values() if m is not self._model]
        stop_loop(loop, self._thread, (self._model, *variants, self._scorer.judge if self._scorer is not None else None))
        self._loop = None
        if self.journal is not None:
            self.journal.close()

    # ------------------------------------------------------------ loop side

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=loop.run_forever, name="evalscope-pipeline", daemon=True)
            self._thread.start()
            self._loop = loop
        return self._loop

    async def _call(self, key: str, messages: list[dict[str, str]], fingerprint: str,
                    continuations: list[str] | None, score: ScoreStep | None = None,
                    settings: dict[str, Any] | None = None) -> Outcome:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.concurrency)
        async with self._semaphore:
            if self.fatal is not None:
                return Outcome(error=self.fatal)
            if self._model is None:
                self._model = self.model_factory()
            try:
                if continuations is None:
                    output = await self._model_for(settings).generate(messages)
                else:
                    output = await self._score(messages, continuations)
            except ModelError as exc:
                if exc.kind in FATAL_KINDS and self.fatal is None:
                    self.fatal = exc
                return Outcome(error=exc)
            except Exception as exc:  # a bug in an adapter must not take the run down
                return Outcome(error=ModelError("internal", f"{type(exc).__name__}: {exc}"))
        if self.journal is not None:
            self.journal.append(key, fingerprint, output.to_dict())
        return await self._stage(Outcome(output), score)

    def _model_for(self, settings: dict[str, Any] | None) -> ModelAPI:
        """The model, or its variant sending `settings` (the model itself where the backend has none)."""
        assert self._model is not None
        if settings is None:
            return self._model
        name = json.dumps(settings, sort_keys=True, default=str)
        if name not in self._variants:
            self._variants[name] = self._model.with_generation(settings) or self._model
        return self._variants[name]

    async def _converse(self, key: str, messages: list[dict[str, str]], follow_ups: list[str],
                        fingerprint_of: Fingerprint, score: ScoreStep | None,
                        settings: dict[str, Any] | None = None) -> Outcome:
        """Each turn from the journal of an earlier run, or asked now (and journaled); a failed turn is the
        sample's error, with the turns answered before it kept."""
        turns: list[ModelOutput] = []
        conversation = answered = list(messages)
        cached = True
        for turn in range(len(follow_ups) + 1):
            if turn:
                conversation = next_turn(conversation, turns[-1].content, follow_ups[turn - 1])
            fp = fingerprint_of(conversation)
            hit = self.cached.get((turn_key(key, turn + 1), fp))
            if hit is None:
                cached = False
                asked = await self._call(turn_key(key, turn + 1), conversation, fp, None, settings=settings)
                if asked.output is None:
                    return Outcome(ModelOutput.of_turns(turns) if turns else None, asked.error, conversation=answered)
            turns.append(ModelOutput.from_dict(hit) if hit is not None else asked.output)  # type: ignore[arg-type]
            answered = conversation
        return await self._stage(Outcome(ModelOutput.of_turns(turns), cached=cached, conversation=answered), score)

    async def _stage(self, outcome: Outcome, score: ScoreStep | None) -> Outcome:
        """The scoring stage: a failure to score (a judge that cannot be reached) is the sample's error,
        with its reply kept."""
        if score is None or outcome.output is None:
            return outcome
        if self.fatal is not None:
            outcome.error = self.fatal
            return outcome
        if self._scorer is None:
            self._scorer = self.scorer_factory()
        try:
            outcome.scored = await score(self._scorer, outcome.output)
        except ModelError as exc:
            if exc.kind in FATAL_KINDS and self.fatal is None:
                self.fatal = exc
            outcome.error = exc
        except Exception as exc:  # a broken scorer: this sample is an error, the run goes on
            outcome.error = ModelError("scoring", f"{type(exc).__name__}: {exc}")
        return outcome

    async def _score(self, messages: list[dict[str, str]], continuations: list[str]) -> ModelOutput:
        model = self._model
        scorer = getattr(model, "choice_loglikelihoods", None)
        if scorer is None:  # the runtime falls back to generation before asking; this is a bug guard
            raise ModelError("internal", f"{type(model).__name__} cannot score log-likelihoods")
        started = time.perf_counter()
        scores = await scorer(messages, continuations)
        return ModelOutput("", latency=time.perf_counter() - started, model=getattr(model, "name", None),
                           choice_scores=[dict(s.__dict__) for s in scores])

    def model_stats(self) -> dict[str, Any] | None:
        """The model's own figures (load time, memory, tokens/s) when it keeps any, read on the loop."""
        model, loop = self._model, self._loop
        if model is None or loop is None or not hasattr(model, "stats"):
            return None

        async def read() -> dict[str, Any]:
            return model.stats()  # type: ignore[union-attr]

        try:
            return asyncio.run_coroutine_threadsafe(read(), loop).result(timeout=5)
        except Exception:  # figures are a nicety; never fail a run over them
            return None


def stop_loop(loop: asyncio.AbstractEventLoop, thread: threading.Thread | None, models: Iterable[Any]) -> None:
    """Close `models` (their connections) on the background `loop`, then stop it and join its thread;
    best effort, as it runs at shutdown."""
    for model in models:
        if model is None:
            continue
        try:
            asyncio.run_coroutine_threadsafe(model.aclose(), loop).result(timeout=5)
        except Exception:  # closing connections is best effort at shutdown
            pass
    loop.call_soon_threadsafe(loop.stop)
    if thread is not None:
        thread.join(timeout=5)
