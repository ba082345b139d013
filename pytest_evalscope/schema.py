"""The typed documents a run passes along: a sample's record, a suite's facts, and the report's version.

A :class:`SampleRecord` is made by the sample item once its reply is scored, travels to the controller
as one JSON string on the teardown report (under xdist too, so `-n 0` and `-n N` see the same bytes),
and is decoded there, checked field by field. The controller writes it to EvalScope's prediction and
review lines (reporting/outputs.py is that codec, both ways) and aggregates it into a report
(reporting/report.py, whose documents carry :data:`REPORT_SCHEMA_VERSION`).

:class:`SuiteFacts` are what reports say of a suite's benchmark; they travel once per suite (xdist
workers send theirs at the end, see runtime.suite_facts), not on every sample.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

RECORD_VERSION = 1  # the record's own version, in its JSON as "v"
REPORT_SCHEMA_VERSION = 2  # written into every report as schema_version (see reporting/report.py)


@dataclass
class SampleRecord:
    """One sample, from its prompt to its score."""

    suite: str  # the suite's name (a Suite's `name`, the benchmark's by default)
    benchmark: str  # the registered benchmark adapter
    subset: str  # the subset the sample belongs to
    category: str  # the subset's category in reports ("default" when the benchmark has none)
    index: int  # the sample's position in its subset's eval split (EvalScope's index)
    repeat: int  # 0, 1, ... for repeats of the same sample
    target: str  # the gold answer as the benchmark compares it
    metadata: dict[str, Any]  # the benchmark's per-sample facts (task ids, choices, ...)
    messages: list[dict[str, Any]]  # the conversation sent (or, in log-likelihood modes, the context)
    metric: str  # the benchmark's metric name (the first of its metric_list)
    cached: bool  # the reply came from an earlier run's journal (use_cache)
    status: str  # correct | wrong | error
    suite_thresholds: dict[str, float] = field(default_factory=dict)  # the suite file's own gates
    output: dict[str, Any] | None = None  # the model's reply (models.base.ModelOutput.to_dict()); None: no reply
    score: dict[str, float] | None = None  # metric -> value; None when the sample errored
    extracted: str | None = None  # the answer the scorer read from the reply (or the judge's verdict)
    score_status: str | None = None  # success | parse_error (no answer could be read)
    explanation: str | None = None  # the scorer's one line (a sandbox verdict, a judge's grade)
    reasoning: str | None = None  # the reply's reasoning (a <think> block or reasoning_content)
    judge: dict[str, Any] | None = None  # judge.Verdict.to_dict(): messages, raw reply, verdict, value, source
    error: dict[str, Any] | None = None  # {kind, message, attempts} when status is error
    continuations: list[str] | None = None  # log-likelihood modes: the choices scored after the context
    aggregation: str | None = None  # how repeats aggregate (mean, mean_and_pass_at_k, ...)
    primary_metric: str | None = None  # the report's headline metric, when not the first
    model_adapter: str | None = None  # generation | multiple_choice_logits | continuous_logits
    model_adapter_note: str | None = None  # why a log-likelihood mode fell back to generation
    score_scale: float | None = None  # the top of the score's scale when it is not 1 (MT-Bench rates 1-10)

    STATUSES = ("correct", "wrong", "error")

    def __post_init__(self) -> None:
        for name in ("suite", "subset"):  # they name output files; a record may come from another host or a merged part
            value = getattr(self, name)
            if not isinstance(value, str) or value in ("", ".", "..") or any(c in value for c in "/\\\0"):
                raise ValueError(f"record {name} {value!r} cannot name an output file (no / or \\, not empty, . or ..)")
        if self.status not in self.STATUSES:
            raise ValueError(f"record status {self.status!r} is not one of {', '.join(self.STATUSES)}")
        if self.status == "error" and not self.error:
            raise ValueError("an error record needs its error")
        if self.status != "error" and self.score is None:
            raise ValueError(f"a {self.status} record needs its score")

    @classmethod
    def from_item(cls, data: dict[str, Any]) -> SampleRecord:
        """A record from the item's working mapping; an unknown key is a bug, not a field to drop."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown record field(s): {', '.join(sorted(unknown))}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """The record as the controller's code reads it: optional fields left out when unset."""
        # shallow: a record is JSON-made data, so asdict's deep copy of the messages and reply was per-sample waste
        return {f.name: value for f in fields(self) if (value := getattr(self, f.name)) is not None}

    def to_json(self) -> str:
        return json.dumps({"v": RECORD_VERSION, **self.to_dict()}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> SampleRecord:
        data = json.loads(text)
        version = data.pop("v", None)
        if version != RECORD_VERSION:
            raise ValueError(f"sample record version {version!r}; this controller reads version {RECORD_VERSION}")
        return cls.from_item(data)


@dataclass(frozen=True)
class SuiteFacts:
    """What a report says of the benchmark behind a suite."""

    pretty_name: str  # the benchmark's display name (report dataset_pretty_name)
    description: str  # one sentence (report dataset_description)
    subset_list: list[str]  # the benchmark's subsets in their order (reports list subsets in it)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
