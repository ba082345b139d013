"""The judge at work: one :class:`Judge` per process, on the pipeline's event loop.

``await judge.grade(key, definition)`` asks the judge model, reads the verdict strictly (contract.py),
and returns a :class:`Verdict`. Before asking it looks in two places:

- the run's journal (``use_cache``): a judge reply journaled by an earlier session of this run is
  reused, so a SIGKILL while judging costs at most the judge requests that were in flight;
- the cross-run cache (``judge_cache``, a folder): a verdict for the same judge model, settings and
  exact messages, from any earlier run; an unchanged reply gets an unchanged verdict.

Infrastructure failures raise :class:`ModelError` with a ``judge_`` kind (``judge_connection``,
``judge_http_500``, ``judge_unparsed``, ...): the sample is an error, never a wrong answer. A judge
request has its own concurrency (``judge_worker_num``) beside the candidate's.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cache import Journal, fingerprint
from ..models.base import ModelAPI, ModelError
from .contract import JudgeDefinition, Unparseable, parse_verdict
from .settings import JudgeSettings

PARSE_ATTEMPTS = 2  # a verdict that does not parse is asked for once more, then the sample is an error


@dataclass
class Verdict:
    """What the judge said of one sample, as records and reviews keep it."""

    verdict: str | float  # the label, or the numeric score
    value: dict[str, float]  # the metric values the verdict maps to
    passed: bool
    raw: str  # the judge's reply text
    messages: list[dict[str, str]]
    model: str | None
    source: str = "judge"  # judge (asked now) | journal (this run, earlier session) | cache (judge_cache)
    attempts: int = 1
    usage: dict[str, Any] = field(default_factory=dict)
    games: list[dict[str, Any]] | None = None  # pairwise judging (pairwise.py): each game's slot, verdict and reasoning
    turns: list[dict[str, Any]] | None = None  # per-turn rating (mt_bench.py): each turn's rating, explanation, reply

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        for optional in ("games", "turns"):
            if data[optional] is None:
                del data[optional]
        return data


class JudgeCache:
    """Verdict replies kept across runs in a folder: one append-only file per process."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder).expanduser()
        self._entries: dict[str, dict[str, Any]] | None = None
        self._handle: Any = None
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        if self._entries is None:
            self._entries = {}
            for path in sorted(self.folder.glob("verdicts-*.jsonl")):
                with path.open(encoding="utf-8") as handle:
                    for line in handle:
                        try:
                            entry = json.loads(line)
                            self._entries[entry["key"]] = entry["output"]
                        except (ValueError, KeyError, TypeError):
                            continue  # a line cut short by a kill
        return self._entries.get(key)

    def put(self, key: str, output: dict[str, Any]) -> None:
        line = json.dumps({"key": key, "output": output}, ensure_ascii=False)
        with self._lock:
            if self._handle is None:
                self.folder.mkdir(parents=True, exist_ok=True)
                name = f"verdicts-{os.getpid()}-{secrets.token_hex(3)}.jsonl"
                self._handle = (self.folder / name).open("a", encoding="utf-8")
            self._handle.write(line + "\n")
            self._handle.flush()
        if self._entries is not None:
            self._entries[key] = output

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None


class Judge:
    def __init__(self, settings: JudgeSettings, model_factory: Callable[[], ModelAPI], concurrency: int,
                 journal: Journal | None = None, journaled: dict[tuple[str, str], dict[str, Any]] | None = None,
                 cache: JudgeCache | None = None) -> None:
        self.settings = settings
        self.model_factory = model_factory
        self.concurrency = concurrency
        self.journal = journal
        self.journaled = journaled or {}
        self.cache = cache
        self._model: ModelAPI | None = None
        self._semaphore: asyncio.Semaphore | None = None

    def fingerprint(self, messages: list[dict[str, str]]) -> str:
        s = self.settings
        return fingerprint(s.model_id, s.eval_type, s.generation_config, messages)

    async def grade(self, key: str, definition: JudgeDefinition) -> Verdict:
        messages = definition.messages()
        fp = self.fingerprint(messages)
        journal_key = f"{key}#judge"
        for source, found in (("journal", self.journaled.get((journal_key, fp))),
                              ("cache", self.cache.get(fp) if self.cache is not None else None)):
            if found is not None:
                try:
                    verdict = parse_verdict(found["content"], definition)
                except (Unparseable, KeyError, TypeError):
                    continue
                if source == "cache" and self.journal is not None:
                    self.journal.append(journal_key, fp, found)
                return self._verdict(verdict, definition, found, messages, source, 0)
        reason = ""
        for attempt in range(1, PARSE_ATTEMPTS + 1):
            output = await self._ask(messages)
            try:
                verdict = parse_verdict(output["content"], definition)
            except Unparseable as exc:
                reason = str(exc)
                continue
            if self.journal is not None:
                self.journal.append(journal_key, fp, output)
            if self.cache is not None:
                self.cache.put(fp, output)
            return self._verdict(verdict, definition, output, messages, "judge", attempt)
        raise ModelError("judge_unparsed", f"the judge's verdict does not parse after {PARSE_ATTEMPTS} attempts: "
                         f"{reason}", PARSE_ATTEMPTS)

    async def _ask(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.concurrency)
        async with self._semaphore:
            if self._model is None:
                self._model = self.model_factory()
            try:
                output = await self._model.generate(messages)
            except ModelError as exc:
                raise ModelError(f"judge_{exc.kind}", f"judge: {exc}", exc.attempts) from None
        return output.to_dict()

    def _verdict(self, verdict: str | float, definition: JudgeDefinition, output: dict[str, Any],
                 messages: list[dict[str, str]], source: str, attempts: int) -> Verdict:
        return Verdict(verdict, definition.value_of(verdict), definition.passes(verdict), output.get("content", ""),
                       messages, output.get("model") or self.settings.model_id, source, attempts,
                       dict(output.get("usage") or {}) if source == "judge" else {})

    async def aclose(self) -> None:
        if self._model is not None:
            await self._model.aclose()
        if self.cache is not None:
            self.cache.close()
