"""Pairwise benchmarks: a judge picks between the candidate's answer and an opponent's, twice.

- ``arena_hard`` (Arena-Hard-Auto v0.1, 500 prompts; local data is the authors' layout,
  ``data/arena-hard-v0.1/question.jsonl`` and ``model_answer/gpt-4-0314.jsonl``, joined on
  ``question_id``): game 1 puts the baseline (gpt-4-0314) in slot A, game 2 swaps, as EvalScope 1.14.1
  does; five verdicts, a strong one weighs 3.
- ``alpaca_eval`` (AlpacaEval 2.0, 805 instructions against the GPT-4 Turbo reference outputs; local data
  is ``results/gpt4_1106_preview/model_outputs.json``): the judge names ``m`` (the reference, output 1)
  or ``M`` (the candidate). EvalScope never swaps; ``extra_params.position_swap: true`` plays the swapped
  game too.

Each item is one prompt; it passes when the candidate is not worse than the opponent there (EvalScope's
per-prompt outcome: the two games' agreed result, else a tie). The suite's report is built on the
controller from every prompt's games (reporting/arena.py): Bradley–Terry win rate, its interval from a
bootstrap over prompts, position consistency; ``protocol: arena_hard_v2`` reports Arena-Hard v2's mean
game score with its 5th/95th bootstrap quantiles instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from ..judge.pairwise import Pairing, play
from ..params import ConfigError, did_you_mean
from ..registry import register_benchmark
from .base import Benchmark, Sample, Score

BOOTSTRAPS = ("prompt", "row")
PROTOCOLS = ("evalscope", "arena_hard_v2")
GATES = ("lower", "point")
ARENA_PARAMS: dict[str, Any] = {"bootstrap": "prompt", "bootstrap_rounds": None, "gate_on": "lower"}


def check_choice(value: Any, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(allowed)}{did_you_mean(str(value), list(allowed))}")
    return str(value)


class PairwiseBenchmark(Benchmark):
    """A benchmark scored by pairwise games against an opponent's answer (the sample's target)."""

    arena: ClassVar[bool] = True  # reporting/arena.py builds this suite's report
    scoring_policy = "judge_only"
    explain_failures = True
    few_shot_num = 0
    train_split = None
    metric_list: ClassVar[list[Any]] = ["win_rate"]
    judge_kind: ClassVar[str] = "arena_hard"  # which grader (judge/pairwise.py)
    candidate_first: ClassVar[bool] = False  # the candidate's slot in game 1
    baseline_name: ClassVar[str] = "baseline"
    sample_metric: ClassVar[str] = "score"  # EvalScope's per-sample score name

    def _apply_args(self) -> None:
        super()._apply_args()
        where = f"dataset_args.{self.name}.extra_params"
        check_choice(self.extra["bootstrap"], BOOTSTRAPS, f"{where}.bootstrap")
        check_choice(self.extra["gate_on"], GATES, f"{where}.gate_on")
        check_choice(self.extra.get("protocol", "evalscope"), PROTOCOLS, f"{where}.protocol")
        rounds = self.extra["bootstrap_rounds"]
        if rounds is not None and (isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 10):
            raise ConfigError(f"{where}.bootstrap_rounds: expected an integer >= 10, got {rounds!r}")

    @property
    def position_swap(self) -> bool:
        return bool(self.extra.get("position_swap", True))

    def score(self, sample: Sample, answer_text: str) -> Score:
        raise ConfigError(f"{self.name} has no rule to score by; it is graded by a judge (judge_model_args)")

    def pairing(self, sample: Sample, answer_text: str) -> Pairing:
        return Pairing(sample.input, answer_text, sample.target, self.judge_kind, self.candidate_first, self.position_swap)

    async def judge_sample(self, judge: Any, key: str, sample: Sample, prediction: str, answer_text: str,
                           rule: Score | None) -> tuple[Score, Any]:
        verdict = await play(judge, key, self.pairing(sample, answer_text))
        games = ", ".join(f"{g['verdict']} (candidate in {g['candidate_slot']})" for g in verdict.games)
        score = Score({self.sample_metric: verdict.value["score"]}, str(verdict.verdict), verdict.passed,
                      explanation=f"judge: {verdict.verdict} against {self.opponent(sample)}; games {games}")
        return score, verdict

    def opponent(self, sample: Sample) -> str:
        return str(sample.metadata.get("opponent", self.baseline_name))

    def load_samples(self, subset: str, limit: int | float | None, repeats: int) -> list[Sample]:
        # the controller aggregates the suite from records alone (it builds no benchmark under xdist)
        settings = self.arena_settings()
        samples = super().load_samples(subset, limit, repeats)
        for sample in samples:
            sample.metadata["arena"] = settings
        return samples

    def arena_settings(self) -> dict[str, Any]:
        """What the controller needs to aggregate this suite (it builds no benchmark under xdist)."""
        bootstrap = self.extra["bootstrap"]
        rounds = self.extra["bootstrap_rounds"] or (100 if bootstrap == "row" else 1000)
        return {"baseline": self.baseline_name, "bootstrap": bootstrap, "rounds": rounds, "seed": self.seed,
                "gate_on": self.extra["gate_on"], "protocol": self.extra.get("protocol", "evalscope"),
                "position_swap": self.position_swap, "pairs": "baseline"}


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@register_benchmark
class ArenaHard(PairwiseBenchmark):
    name = "arena_hard"
    pretty_name = "ArenaHard"
    description = "500 hard user prompts; the candidate's answers against gpt-4-0314's, judged pairwise twice with positions swapped."
    dataset_id = "AI-ModelScope/arena-hard-auto-v0.1"
    eval_split = "test"
    required_fields = ("question", "prediction")
    baseline_name = "gpt4-0314"
    extra_params: ClassVar[dict[str, Any]] = {**ARENA_PARAMS, "protocol": "evalscope"}

    def load_records(self, subset: str, split: str) -> list[dict[str, Any]]:
        folder = Path(self.dataset_id).expanduser()
        for base in (folder / "data" / "arena-hard-v0.1", folder):
            if (base / "question.jsonl").is_file() and (base / "model_answer" / "gpt-4-0314.jsonl").is_file():
                answers = {a["question_id"]: a["choices"][0]["turns"][0]["content"]
                           for a in _read_jsonl(base / "model_answer" / "gpt-4-0314.jsonl")}
                return [{"question": q["turns"][0]["content"], "prediction": answers[q["question_id"]],
                         "question_id": q["question_id"], "capability": q.get("cluster", "unknown")}
                        for q in _read_jsonl(base / "question.jsonl")]
        return super().load_records(subset, split)

    def record_to_sample(self, record: dict[str, Any], index: int, subset: str) -> Sample:
        return Sample(index=index, subset=subset, input=str(record["question"]), target=str(record["prediction"]),
                      metadata={"question_id": record.get("question_id", str(index)),
                                "capability": record.get("capability", "unknown")})


@register_benchmark
class AlpacaEval(PairwiseBenchmark):
    name = "alpaca_eval"
    pretty_name = "AlpacaEval2.0"
    description = "805 instructions; the candidate's outputs against GPT-4 Turbo's reference outputs, the judge naming the better one."
    dataset_id = "AI-ModelScope/alpaca_eval"
    hf_dataset_id = "tatsu-lab/alpaca_eval"
    subset_list: ClassVar[list[str]] = ["alpaca_eval_gpt4_baseline"]
    default_subset = "alpaca_eval_gpt4_baseline"
    eval_split = "eval"
    required_fields = ("instruction", "output")
    judge_kind = "alpaca_eval"
    candidate_first = False  # the reference is output 1 (m), the candidate output 2 (M)
    baseline_name = "gpt4_turbo"
    sample_metric = "win_rate"
    extra_params: ClassVar[dict[str, Any]] = {**ARENA_PARAMS, "position_swap": False}

    def load_records(self, subset: str, split: str) -> list[dict[str, Any]]:
        folder = Path(self.dataset_id).expanduser()
        for path in (folder / "results" / "gpt4_1106_preview" / "model_outputs.json", folder / "model_outputs.json"):
            if path.is_file():
                return list(json.loads(path.read_text(encoding="utf-8")))
        return super().load_records(subset, split)

    def record_to_sample(self, record: dict[str, Any], index: int, subset: str) -> Sample:
        return Sample(index=index, subset=subset, input=str(record["instruction"]), target=str(record["output"]),
                      metadata={"generator": record.get("generator", "unknown"), "dataset": record.get("dataset", "unknown")})
