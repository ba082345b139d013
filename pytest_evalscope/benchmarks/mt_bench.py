"""MT-Bench: 80 two-turn questions, each turn's answer rated 1-10 by a judge (EvalScope 1.14.1's ``mt_bench``).

The model answers the first question, then the second with its own first answer in the conversation
(pipeline.py asks the turns in order and journals each). The judge rates both turns (judge/mt_bench.py),
with the reference answers shown for math, reasoning and coding. A sample's metrics, as EvalScope's:
``judge_score`` (the mean of its two ratings; the report's score is its mean over samples, on the 1-10
scale), ``first_turn_judge_score`` and ``second_turn_judge_score``. Subsets are the eight categories.

An item passes when both turns are rated at least ``extra_params.pass_rating`` (default 6: above the
scale's midpoint, 5.5). ``extra_params.protocol`` picks the judge's prompts: ``evalscope`` or ``fastchat``.

Data: EvalScope's ``HuggingFaceH4/mt_bench_prompts`` (``prompt``, ``prompt_id``, ``category``,
``reference``), or FastChat's files in a local folder (``question.jsonl`` with ``question_id``,
``category``, ``turns``, ``reference``, and ``reference_answer/gpt-4.jsonl``, also one level down in
``mt_bench/``). References: under ``evalscope`` the question's own ``reference`` (EvalScope's), with the
GPT-4 reference answer where a question has none (question 123, the HTML joke page; for data without
FastChat's answer file, ``mt_bench_references.json`` holds that answer, as EvalScope holds its own
shortened copy); under ``fastchat`` the GPT-4 reference answers, as FastChat's ``gen_judgment.py`` uses them.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from ..datasets.local import DatasetError
from ..judge.mt_bench import PROTOCOLS, REFERENCE_CATEGORIES, Conversation, rate
from ..models.base import ModelError
from ..params import ConfigError, did_you_mean
from ..registry import register_benchmark
from ..scoring.numeric import split_reasoning
from .base import Benchmark, Sample, Score

CATEGORIES = ["writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities"]
# The protocol's sampling temperature by category (FastChat's, as EvalScope 1.14.1 sets it), and its
# max_tokens when the run sets none
TEMPERATURES = {"writing": 0.7, "roleplay": 0.7, "extraction": 0.0, "math": 0.0, "coding": 0.0, "reasoning": 0.0,
                "stem": 0.1, "humanities": 0.1}
MAX_TOKENS = 1024


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot be read as JSON lines ({exc})") from None


@cache
def fallback_references() -> dict[str, list[str]]:
    """GPT-4's reference answers for questions that carry none, by first turn (FastChat's question 123)."""
    data = json.loads((Path(__file__).parent / "mt_bench_references.json").read_text(encoding="utf-8"))
    return dict(data["references"])


def read_fastchat(folder: Path) -> list[dict[str, Any]] | None:
    """FastChat's question file with its GPT-4 reference answers (``gpt4_reference``), or None if absent."""
    for base in (folder, folder / "mt_bench"):
        questions = base / "question.jsonl"
        if questions.is_file():
            answers = base / "reference_answer" / "gpt-4.jsonl"
            refs = {r["question_id"]: r["choices"][0]["turns"] for r in _read_jsonl(answers)} if answers.is_file() else {}
            return [{**q, "gpt4_reference": refs.get(q.get("question_id"))} for q in _read_jsonl(questions)]
    return None


@register_benchmark
class MTBench(Benchmark):
    name = "mt_bench"
    pretty_name = "MT-Bench"
    description = ("80 two-turn questions in eight categories; a judge rates each turn's answer from 1 to 10, "
                   "with reference answers for math, reasoning and coding.")
    dataset_id = "HuggingFaceH4/mt_bench_prompts"
    hf_dataset_id = "HuggingFaceH4/mt_bench_prompts"
    subset_list: ClassVar[list[str]] = CATEGORIES
    default_subset = "default"
    eval_split = "train"
    metric_list: ClassVar[list[Any]] = ["judge_score", "first_turn_judge_score", "second_turn_judge_score"]
    scoring_policy = "judge_only"
    explain_failures = True
    score_scale = 10.0  # ratings run 1-10: a threshold (a fraction) is compared with score / 10
    varies_generation = True
    extra_params: ClassVar[dict[str, Any]] = {"protocol": "evalscope", "pass_rating": 6}

    def _apply_args(self) -> None:
        super()._apply_args()
        where = f"dataset_args.{self.name}.extra_params"
        protocol = self.extra["protocol"]
        if protocol not in PROTOCOLS:
            raise ConfigError(f"{where}.protocol: {protocol!r} is not one of {', '.join(PROTOCOLS)}"
                              f"{did_you_mean(str(protocol), list(PROTOCOLS))}")
        rating = self.extra["pass_rating"]
        if isinstance(rating, bool) or not isinstance(rating, (int, float)) or not 1 <= rating <= 10:
            raise ConfigError(f"{where}.pass_rating: expected a rating from 1 to 10 (both turns must reach it), got {rating!r}")

    def score(self, sample: Sample, answer_text: str) -> Score:
        raise ConfigError(f"{self.name} has no rule to score by; it is graded by a judge (judge_model_args)")

    # ------------------------------------------------------------ data

    def load_records(self, subset: str, split: str) -> list[dict[str, Any]]:
        folder = Path(self.dataset_id).expanduser()
        records = read_fastchat(folder) if folder.is_dir() else None
        if records is None:  # EvalScope's layout: one split, the category names the subset
            records = super().load_records("default", split)
        return [r for r in records if r.get("category") == subset]

    def record_to_sample(self, record: dict[str, Any], index: int, subset: str) -> Sample:
        turns = record.get("turns", record.get("prompt"))
        if not isinstance(turns, list) or len(turns) != 2 or not all(isinstance(t, str) for t in turns):
            raise ValueError("'turns' (or 'prompt') must be a list of two strings")
        question_id = record.get("question_id", record.get("prompt_id", index))
        references = self._references(record)
        if subset in REFERENCE_CATEGORIES and references is None:
            raise ValueError(f"question {question_id} ({subset}) has no reference answers for its two turns")
        return Sample(index=index, subset=subset, input=turns[0], target="",
                      metadata={"question_id": question_id, "category": subset, "turns": list(turns),
                                "temperature": TEMPERATURES[subset],
                                "references": references if subset in REFERENCE_CATEGORIES else None})

    def _references(self, record: dict[str, Any]) -> list[str] | None:
        own = record.get("reference")
        turns = record.get("turns", record.get("prompt")) or [""]
        gpt4 = record.get("gpt4_reference") or fallback_references().get(turns[0])
        order = (own, gpt4) if self.extra["protocol"] == "evalscope" else (gpt4, own)
        for refs in order:
            if isinstance(refs, list) and len(refs) == 2 and all(isinstance(r, str) for r in refs):
                return list(refs)
        return None

    # ------------------------------------------------------------ two turns, rated by the judge

    def generation_config(self, sample: Sample, run: dict[str, Any]) -> dict[str, Any]:
        # EvalScope's: the category's temperature replaces the run's; max_tokens 1024 unless the run sets it
        return {**run, "temperature": TEMPERATURES[sample.subset], "max_tokens": run.get("max_tokens") or MAX_TOKENS}

    def follow_ups(self, sample: Sample) -> list[str]:
        return list(sample.metadata["turns"][1:])

    async def judge_output(self, judge: Any, key: str, sample: Sample, output: Any, answer_text: str,
                           rule: Score | None) -> tuple[Score, Any]:
        turns = output.turns or []
        if len(turns) != 2:  # a bug guard: the pipeline always asks both turns
            raise ModelError("scoring", f"{self.name} needs the replies to both turns, got {len(turns)}")
        answers = tuple(split_reasoning(str(t.get("content", "")))[0] for t in turns)
        refs = sample.metadata.get("references")
        conversation = Conversation(sample.subset, tuple(sample.metadata["turns"]), answers,  # type: ignore[arg-type]
                                    tuple(refs) if refs else None)  # type: ignore[arg-type]
        pass_rating = float(self.extra["pass_rating"])
        verdict = await rate(judge, key, conversation, self.extra["protocol"], pass_rating)
        first, second = (t["rating"] for t in verdict.turns)
        return Score(dict(verdict.value), f"{first:g}/{second:g}", verdict.passed,
                     explanation=f"judge rated turn 1 {first:g} and turn 2 {second:g}; "
                                 f"a pass needs both >= {pass_rating:g}"), verdict

    def report_fields(self) -> dict[str, Any]:
        return {**super().report_fields(), "score_scale": self.score_scale}
