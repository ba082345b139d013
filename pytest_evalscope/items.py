"""Suites and sample items: a module-level `Suite(...)` in a suite file becomes one pytest item per sample.

    # eval_gsm8k.py
    from pytest_evalscope import Suite
    gsm8k = Suite("gsm8k", dataset_args={"few_shot_num": 0}, threshold=0.8)

Items are named `<suite>[<subset>-<index>]` (`gsm8k[main-42]`; `-r1`... is added for repeats), so
`-k`, `--lf`, `--deselect` and xdist's collection check work. An item's setup waits for its model
reply (an infrastructure failure is a pytest *error*); its call scores the reply (a wrong answer is a
*failure*). Everything the reports need rides on the teardown report as `report.evalscope_record` (JSON).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from .benchmarks.base import Benchmark, Sample, Score
from .models.base import ModelOutput
from .params import parse_thresholds
from .pipeline import FATAL_KINDS
from .scoring.numeric import split_reasoning
from .scoring.stage import Scored, Scorer

if TYPE_CHECKING:
    from .runtime import EvalRuntime

PROPERTY_TEXT_LIMIT = 2000  # characters of the reply kept in JUnit properties


class Suite:
    """A benchmark as a collection of sample items. Suite files are named `eval_*.py`."""

    def __init__(self, benchmark: str, *, name: str | None = None, dataset_args: dict[str, Any] | None = None,
                 limit: int | float | None = None, repeats: int | None = None,
                 threshold: float | dict[str, float] | None = None) -> None:
        self.benchmark = benchmark
        self.name = name or benchmark
        self.dataset_args = dict(dataset_args or {})
        self.limit = limit
        self.repeats = repeats
        self.threshold = threshold

    def thresholds(self) -> dict[str, float]:
        if self.threshold is None:
            return {}
        if isinstance(self.threshold, dict):
            return parse_thresholds({f"{self.name}/{k}": v for k, v in self.threshold.items()}, "threshold")
        return parse_thresholds({self.name: self.threshold}, "threshold")

    def __repr__(self) -> str:
        return f"Suite({self.benchmark!r}, name={self.name!r})"


class SampleError(Exception):
    """The model could not answer (transport, HTTP status, timeout, malformed reply)."""


class WrongAnswer(AssertionError):
    """The reply was scored wrong, or no answer could be extracted from it."""


class SampleItem(pytest.Item):
    def __init__(self, *, suite: Suite, benchmark: Benchmark, sample: Sample, runtime: EvalRuntime, **kwargs: Any) -> None:
        parent = kwargs.get("parent")
        if "nodeid" not in kwargs and hasattr(parent, "id"):
            # pytest 9 matches --lf and --deselect on structured ids: name `gsm8k`, params `main-42`,
            # as for a parametrized function; a plain name "gsm8k[main-42]" would never match them.
            kwargs["nodeid"] = parent.id.child(suite.name).with_params(sample.key)  # type: ignore[union-attr]
        super().__init__(**kwargs)
        self.suite = suite
        self.benchmark = benchmark
        self.sample = sample
        self.runtime = runtime
        self.record: dict[str, Any] | None = None
        self._messages: list[dict[str, str]] | None = None
        self._continuations: list[str] | None = None
        self.extra_keyword_matches.update({benchmark.name, sample.subset})
        if benchmark.sample_keyword and sample.metadata.get(benchmark.sample_keyword) is not None:
            self.extra_keyword_matches.add(str(sample.metadata[benchmark.sample_keyword]))  # -k <query id>
        self.key = f"{suite.name}/{sample.subset}/{sample.index}/{sample.repeat}"

    def messages(self) -> list[dict[str, str]]:
        """The conversation sent: the prompt to answer, or the context the choices continue (log-likelihood)."""
        if self._messages is None:
            fewshot = self.runtime.fewshot(self.suite.name, self.benchmark, self.sample.subset)
            if self.benchmark.scores_loglikelihood:
                self._messages, self._continuations = self.benchmark.choice_request(self.sample, fewshot)
            else:
                self._messages = self.benchmark.build_messages(self.sample, fewshot)
        return self._messages

    def cached(self) -> bool:
        """Whether an earlier run's reply (use_cache) answers this sample, or the benchmark gives it."""
        if self.benchmark.given_reply(self.sample) is not None:
            return True
        messages = self.messages()
        follow_ups = self.benchmark.follow_ups(self.sample)
        if follow_ups:
            return self.runtime.pipeline.conversation_cached(self.key, messages, follow_ups, self._fingerprint)
        return self.runtime.pipeline.is_cached(self.key, self._fingerprint(messages))

    def _fingerprint(self, messages: list[dict[str, str]]) -> str:
        settings = None if self._continuations is not None else self.runtime.generation_for(self.benchmark, self.sample)
        return self.runtime.fingerprint(messages, self._continuations, settings)

    def submit(self) -> None:
        pipeline = self.runtime.pipeline
        given = self.benchmark.given_reply(self.sample)
        if given is not None and not pipeline.submitted(self.key):
            pipeline.submit_reply(self.key, ModelOutput(given), self._score)
        elif not pipeline.submitted(self.key):
            messages = self.messages()
            follow_ups = self.benchmark.follow_ups(self.sample)
            settings = None if self._continuations is not None else self.runtime.generation_for(self.benchmark, self.sample)
            if follow_ups:  # a multi-turn sample: each later turn holds the model's earlier replies
                pipeline.submit_conversation(self.key, messages, follow_ups, self._fingerprint, self._score, settings)
                return
            pipeline.submit(self.key, messages, self._fingerprint(messages), self._continuations, self._score, settings)

    async def _score(self, scorer: Scorer, output: ModelOutput) -> Scored:
        """This sample's scoring stage; it runs on the pipeline's loop, as soon as the reply is in."""
        return await scorer.score(self.key, self.benchmark, self.sample, output)

    def setup(self) -> None:
        """Wait for the sample's reply and its score (both made on the pipeline); a failure of either is an error."""
        self.record = self._base_record(cached=False)
        self.record["status"] = "error"  # until the reply is in and scored
        self.submit()
        outcome = self.runtime.pipeline.take(self.key)
        self.record["cached"] = outcome.cached
        if outcome.conversation is not None:  # multi-turn: the messages of the last turn answered
            self.record["messages"] = outcome.conversation
        if outcome.output is not None:
            self.record["output"] = outcome.output.to_dict()
        if outcome.error is not None:
            error = outcome.error
            self.record.update(status="error", error=error.to_dict())
            self.user_properties.append(("error", f"{error.kind}: {error}"))
            if error.kind in FATAL_KINDS:  # a wrong key, model name or URL, or no model: stop, as -x would
                who = "judge_model_args" if error.kind.startswith("judge_") else "api_url, api_key and model"
                hint = "" if error.kind == "model_load" else f"; check {who} ({self.runtime.config.model!r})"
                self.session.shouldstop = f"evalscope: {error}{hint}"
            raise SampleError(f"{error.kind} after {error.attempts} attempt(s): {error}")
        assert outcome.output is not None and outcome.scored is not None
        score, verdict = outcome.scored.score, outcome.scored.judge
        if score.value and self.record["metric"] not in score.value:  # a judge scored another metric (acc)
            self.record["metric"] = next(iter(score.value))
            if self.record.get("primary_metric") not in score.value:
                self.record.pop("primary_metric", None)
        self.record.update(
            status="correct" if score.correct else "wrong",
            score=score.value, extracted=score.extracted, score_status=score.status, explanation=score.explanation,
            reasoning=outcome.scored.reasoning, **({"judge": verdict.to_dict()} if verdict is not None else {}),
        )
        self._add_properties(self.record["output"], score)
        if verdict is not None:
            self.user_properties.append(("judge_verdict", str(verdict.verdict)))

    def runtest(self) -> None:
        """Only raises: the score was made with the reply (setup)."""
        assert self.record is not None and "output" in self.record
        if self.record["status"] == "wrong":
            answer_text, _ = split_reasoning(self.record["output"]["content"])
            raise WrongAnswer(self._wrong_message(self.record, answer_text))

    def _base_record(self, cached: bool) -> dict[str, Any]:
        return {
            "suite": self.suite.name, "benchmark": self.benchmark.name, "subset": self.sample.subset,
            "category": self.benchmark.category_of(self.sample.subset), "index": self.sample.index,
            "repeat": self.sample.repeat, "target": self.sample.target, "metadata": self.sample.metadata,
            "messages": self.messages(), "metric": self.benchmark.metric_name, "cached": cached,
            "suite_thresholds": self.suite.thresholds(), **self.benchmark.report_fields(),
            **({"continuations": self._continuations} if self._continuations is not None else {}),
        }

    def _add_properties(self, output: dict[str, Any], score: Score) -> None:
        usage = output.get("usage") or {}
        self.user_properties.extend(prop for prop in [
            ("prediction", output["content"][-PROPERTY_TEXT_LIMIT:]),
            ("extracted_answer", "" if score.extracted is None else score.extracted),
            ("gold", self.sample.target),
            ("score", next(iter(score.value.values()))),
            ("latency_s", round(float(output.get("latency") or 0.0), 4)),
            ("input_tokens", usage.get("input_tokens")),
            ("output_tokens", usage.get("output_tokens")),
        ] if prop[1] is not None)  # a server that sends no usage leaves the token counts out

    def _wrong_message(self, record: dict[str, Any], answer_text: str) -> str:
        return self._verdict_message(record, answer_text) + self.runtime.sample_link(self.config, record)

    def _verdict_message(self, record: dict[str, Any], answer_text: str) -> str:
        tail = " ".join(answer_text.split())[-160:]
        explanation, extracted = record.get("explanation"), record.get("extracted")
        if explanation and self.benchmark.explain_failures:  # scored by checks, tests or ratings, not a gold answer
            return f"failed: {explanation}; reply ends: {tail!r}"
        if record.get("judge"):
            return f"judged wrong: verdict {record['judge']['verdict']!r} (gold {self.sample.target!r}); reply ends: {tail!r}"
        if extracted is None:
            return f"unparsed: no answer found in the reply (gold {self.sample.target!r}); reply ends: {tail!r}"
        return f"wrong answer: gold {self.sample.target!r}, extracted {extracted!r}; reply ends: {tail!r}"

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:  # type: ignore[override]
        if isinstance(excinfo.value, (WrongAnswer, SampleError)):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, self.name
