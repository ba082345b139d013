"""``general_arena``: earlier runs' answers judged against each other, with EvalScope's config unchanged::

    dataset_args = {"general_arena": {"extra_params": {
        "models": [{"name": "qwen-plus", "report_path": "outputs/20250627_172550/reports/qwen-plus"},
                   {"name": "qwen2.5-7b", "report_path": "outputs/20250627_172817/reports/qwen2.5-7b-instruct"}],
        "baseline": "qwen2.5-7b"}}}

Each ``report_path`` is a ``reports/<model>`` folder of an earlier run, ours or EvalScope's; its reports name
the (benchmark, subset) pairs it holds and ``reviews/<model>/<benchmark>_<subset>.jsonl`` its answers. The
pairs common to every model are kept; samples are aligned by ``sample_score.sample_id`` (by ``index``, with
a warning, where a review has none) and must ask the same prompt.

Subsets are EvalScope's: ``<benchmark>&<subset>@<candidate>&<baseline>``, one per candidate; with
``pairs: all`` every pair of models plays (``<benchmark>&<subset>@<a>&<b>``) and the report adds the
win-rate matrix. Game 1 puts the candidate in slot A, game 2 swaps (EvalScope's order).

No answer is generated here: each item's reply is the candidate's answer from its earlier run, handed to
the pipeline as a given reply (``Benchmark.given_reply``), so the item still flows through the scoring
stage, the judge's journal and judge_cache, the records and the reports like any other; the candidate
model is never created or called.
"""

from __future__ import annotations

import itertools
import json
import warnings
from pathlib import Path
from typing import Any, ClassVar

from ..judge.pairwise import Pairing
from ..params import ConfigError
from ..registry import register_benchmark
from ..scoring.numeric import split_reasoning
from .arena import ARENA_PARAMS, PairwiseBenchmark, check_choice
from .base import Sample

PAIRS = ("baseline", "all")


@register_benchmark
class GeneralArena(PairwiseBenchmark):
    name = "general_arena"
    needs_setup = ("general_arena compares earlier runs: give dataset_args.general_arena.extra_params.models "
                   "(name and report_path of each) and baseline")
    pretty_name = "GeneralArena"
    description = "Earlier runs' answers compared pairwise by a judge, each pair twice with positions swapped; Bradley–Terry win rates against a baseline."
    dataset_id = "general_arena"
    candidate_first = True
    dynamic_subsets: ClassVar[bool] = True  # named by the earlier runs read (checked once they are)
    extra_params: ClassVar[dict[str, Any]] = {**ARENA_PARAMS, "models": [], "baseline": None, "pairs": "baseline"}

    def _apply_args(self) -> None:
        super()._apply_args()
        where = f"dataset_args.{self.name}.extra_params"
        check_choice(self.extra["pairs"], PAIRS, f"{where}.pairs")
        models = self.extra["models"]
        if not isinstance(models, list) or len(models) < 2 or not all(isinstance(m, dict) and m.get("name") and m.get("report_path") for m in models):
            raise ConfigError(f"{where}.models: expected at least two entries like "
                              "{\"name\": \"qwen-plus\", \"report_path\": \"outputs/<run>/reports/qwen-plus\"}")
        names = [str(m["name"]) for m in models]
        if len(set(names)) != len(names):
            raise ConfigError(f"{where}.models: duplicate model names in {names}")
        for name in names:
            if any(c in name for c in "/\\&@\0") or name.startswith("."):
                raise ConfigError(f"{where}.models: name {name!r} cannot name a subset (no / \\ & @, no leading dot)")
        baseline = self.extra["baseline"] or names[0]
        if baseline not in names:
            raise ConfigError(f"{where}.baseline: {baseline!r} is not one of the models ({', '.join(names)})")
        self.baseline_name = baseline  # type: ignore[misc]
        self.models = {str(m["name"]): Path(str(m["report_path"])).expanduser() for m in models}
        for name, path in self.models.items():
            if not path.is_dir():
                raise ConfigError(f"{where}.models: report_path {str(path)!r} of {name!r} is not a folder")
        self._pairs: dict[str, list[dict[str, Any]]] | None = None
        self.subset_list = list(self.pairs())  # type: ignore[misc]

    def arena_settings(self) -> dict[str, Any]:
        return {**super().arena_settings(), "pairs": self.extra["pairs"], "models": list(self.models)}

    # ------------------------------------------------------------ earlier runs

    def pairs(self) -> dict[str, list[dict[str, Any]]]:
        """Subset name -> one record per aligned prompt: the question and both answers."""
        if self._pairs is None:
            held = {name: _subsets(path) for name, path in self.models.items()}
            common = sorted(set.intersection(*held.values()))
            if not common:
                raise ConfigError("general_arena: the models' reports share no (benchmark, subset); they hold "
                                  + "; ".join(f"{n}: {sorted(h)[:4]}" for n, h in held.items()))
            names = list(self.models)
            if self.extra["pairs"] == "all":
                games = list(itertools.combinations(names, 2))
            else:
                games = [(n, self.baseline_name) for n in names if n != self.baseline_name]
            self._pairs = {}
            for dataset, subset in common:
                answers = {n: _answers(self.models[n], dataset, subset) for n in names}
                for first, second in games:
                    key = f"{dataset}&{subset}@{first}&{second}"
                    self._pairs[key] = _align(answers[first], answers[second], first, second, f"{dataset}/{subset}")
        return self._pairs

    def load_records(self, subset: str, split: str) -> list[dict[str, Any]]:
        return self.pairs().get(subset, [])

    def record_to_sample(self, record: dict[str, Any], index: int, subset: str) -> Sample:
        return Sample(index=index, subset=subset, input=record["question"], target=record["answer_2"],
                      metadata={"answer_1": record["answer_1"], "model_1": record["model_1"], "model_2": record["model_2"],
                                "candidate": record["model_1"], "opponent": record["model_2"], "sample_id": record["id"]})

    def given_reply(self, sample: Sample) -> str | None:
        return str(sample.metadata["answer_1"])

    def pairing(self, sample: Sample, answer_text: str) -> Pairing:
        return Pairing(sample.input, answer_text, sample.target, "arena_hard", True, True)

    def category_of(self, subset: str) -> str:
        return "default"


def _subsets(report_dir: Path) -> set[tuple[str, str]]:
    held: set[tuple[str, str]] = set()
    for path in sorted(report_dir.glob("*.json")):
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            dataset = report["dataset_name"]
            for category in report["metrics"][0]["categories"]:
                held.update((dataset, s["name"]) for s in category["subsets"])
        except (ValueError, KeyError, IndexError, TypeError):
            raise ConfigError(f"general_arena: {path} is not a report (reports/<model>/<benchmark>.json)") from None
    return held


def _reviews_dir(report_dir: Path) -> Path:
    parts = list(report_dir.resolve().parts)
    if "reports" not in parts:
        raise ConfigError(f"general_arena: report_path {str(report_dir)!r} is not a <run>/reports/<model> folder")
    at = len(parts) - 1 - parts[::-1].index("reports")
    return Path(*parts[:at], "reviews", *parts[at + 1:])


def _answers(report_dir: Path, dataset: str, subset: str) -> dict[str, dict[str, Any]]:
    """Sample id -> question and answer, from a run's review file (the last line of an id wins)."""
    path = _reviews_dir(report_dir) / f"{dataset}_{subset}.jsonl"
    if not path.is_file():
        raise ConfigError(f"general_arena: {path} is missing (the reviews of {dataset}/{subset})")
    by_id: dict[str, dict[str, Any]] = {}
    by_index = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        score = row.get("sample_score") or {}
        sample_id = score.get("sample_id")
        if sample_id is None:
            by_index, sample_id = True, row["index"]
        repeat = row.get("repeat") or (score.get("sample_metadata") or {}).get("repeat") or 0
        messages = row.get("messages") or []
        generated = [i for i, m in enumerate(messages) if m.get("source") == "generate"]
        prompt = messages[:generated[0]] if generated else \
            messages[:-1] if messages and messages[-1].get("role") == "assistant" else messages
        prediction = (score.get("score") or {}).get("prediction") or ""
        by_id[f"{sample_id}" + (f"-r{repeat}" if repeat else "")] = {
            "question": _markdown(prompt), "answer": split_reasoning(prediction)[0] if prediction else ""}
    if by_index:
        warnings.warn(f"general_arena: {path} has no sample ids; samples aligned by index", UserWarning, stacklevel=2)
    return by_id


def _markdown(messages: list[dict[str, Any]]) -> str:
    if len(messages) == 1 and messages[0].get("role") == "user":
        return str(messages[0].get("content", ""))
    return "\n\n".join(f"**{m.get('role', 'user')}**: {m.get('content', '')}" for m in messages)


def _align(first: dict[str, dict[str, Any]], second: dict[str, dict[str, Any]], name_1: str, name_2: str,
           where: str) -> list[dict[str, Any]]:
    if set(first) != set(second):
        missing, extra = sorted(set(second) - set(first)), sorted(set(first) - set(second))
        raise ConfigError(f"general_arena: {name_1} and {name_2} answered different samples of {where} "
                          f"({len(missing)} missing, first {missing[:5]}; {len(extra)} extra, first {extra[:5]}); "
                          "run every model on the same data, limit and repeats")
    records = []
    for sample_id in sorted(first, key=_id_order):
        if first[sample_id]["question"] != second[sample_id]["question"]:
            raise ConfigError(f"general_arena: sample {sample_id} of {where} asks {name_1} and {name_2} different prompts")
        records.append({"id": sample_id, "question": first[sample_id]["question"], "answer_1": first[sample_id]["answer"],
                        "answer_2": second[sample_id]["answer"], "model_1": name_1, "model_2": name_2})
    return records


def _id_order(sample_id: str) -> tuple[int, str]:
    head = sample_id.split("-r")[0]
    return (int(head), sample_id) if head.isdigit() else (1 << 62, sample_id)
