"""Semantic textual similarity (MTEB's AbsTaskSTS): one item per sentence pair.

Data: ``local_path`` names a ``.jsonl`` (or ``.jsonl.gz``) file, or a folder holding ``<eval_split>.jsonl``,
with ``sentence1``, ``sentence2`` and ``score`` per line (the layout of MTEB's STS datasets, e.g.
``mteb/stsbenchmark-sts``). Both sentences are embedded once per run; a pair's prediction is their cosine.
The main score, ``cosine_spearman`` (MTEB's), is Spearman's rho between cosines and gold scores over the
pairs run, computed on the controller (embedding/aggregate.py) with Fisher's 95% interval.

A pair fails when its cosine's rank and its gold score's rank, as fractions of the pairs loaded, differ
by more than ``rank_tolerance`` (extra_params, 0.25): the pairs that pull the correlation down.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..datasets.local import DatasetError
from ..embedding.items import EmbeddingTask, ItemResult
from ..params import ConfigError
from ..registry import register_benchmark
from .base import Sample

if TYPE_CHECKING:  # numpy loads with the first STS item, not with every run's benchmark registry
    from ..embedding.engine import EmbedEngine


def read_pairs(path: Path) -> list[tuple[str, str, float]]:
    opener = gzip.open if path.suffix == ".gz" else open
    pairs = []
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                pairs.append((str(row["sentence1"]), str(row["sentence2"]), float(row["score"])))
            except (ValueError, KeyError, TypeError) as exc:
                raise DatasetError(f"{path}:{number}: a line needs sentence1, sentence2 and a numeric score "
                                   f"({type(exc).__name__}: {exc})") from None
    if len(pairs) < 2:
        raise DatasetError(f"{path}: {len(pairs)} pair(s); a correlation needs at least 2")
    return pairs


@register_benchmark
class STS(EmbeddingTask):
    name = "sts"
    pretty_name = "STS"
    description = "Sentence-pair similarity: Spearman correlation of embedding cosines with gold scores (MTEB)."
    dataset_id = ""
    metric_list: ClassVar[list[Any]] = ["cosine_spearman"]
    needs_setup = 'sts needs its data: dataset_args {"sts": {"local_path": "<pairs.jsonl>"}}'
    extra_params: ClassVar[dict[str, Any]] = {"rank_tolerance": 0.25}

    def _apply_args(self) -> None:
        super()._apply_args()
        value = self.extra["rank_tolerance"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ConfigError(f"dataset_args.{self.name}.extra_params.rank_tolerance: {value!r}; expected a number in [0, 1]")
        self.tolerance = float(value)
        self._pairs: dict[str, list[Sample]] = {}

    def path(self) -> Path:
        given = self.args.get("local_path") or self.args.get("dataset_id")
        if not given:
            raise ConfigError(f"dataset_args.{self.name}.local_path: give a .jsonl file of sentence1, sentence2, score")
        path = Path(str(given)).expanduser()
        if path.is_dir():
            path = next((p for p in (path / f"{self.eval_split}.jsonl", path / f"{self.eval_split}.jsonl.gz") if p.is_file()),
                        path / f"{self.eval_split}.jsonl")
        if not path.is_file():
            raise ConfigError(f"dataset_args.{self.name}.local_path: {str(path)!r} is not a file")
        return path

    def load_samples(self, subset: str, limit: int | float | None, repeats: int) -> list[Sample]:
        if repeats != 1:
            raise ConfigError(f"repeats: {self.name} is scored deterministically; leave repeats at 1")
        pairs = read_pairs(self.path())
        if limit is not None:
            pairs = pairs[: int(len(pairs) * limit) if isinstance(limit, float) else limit]
        samples = [Sample(i, subset, f"{a}\n{b}", f"{s:g}", {"sentence1": a, "sentence2": b, "gold_score": s})
                   for i, (a, b, s) in enumerate(pairs)]
        self._pairs[subset] = samples
        return samples

    def _prepare(self, engine: EmbedEngine, subset: str) -> dict[int, tuple[float, float]]:
        """Every loaded pair's cosine and its rank distance (cosine vs gold, as fractions of the pairs)."""
        import numpy as np

        from ..embedding.ranking import unit_rows
        from ..embedding.stats import average_ranks

        samples = self._pairs[subset]
        texts = list(dict.fromkeys(t for s in samples for t in (s.metadata["sentence1"], s.metadata["sentence2"])))
        rows = dict(zip(texts, unit_rows(engine.embed(texts, "query")), strict=True))
        cosines = np.array([float(rows[s.metadata["sentence1"]] @ rows[s.metadata["sentence2"]]) for s in samples])
        span = max(len(samples) - 1, 1)
        gap = np.abs(average_ranks(cosines) - average_ranks([s.metadata["gold_score"] for s in samples])) / span
        return {s.index: (float(cosines[n]), float(gap[n])) for n, s in enumerate(samples)}

    def evaluate(self, engine: EmbedEngine, sample: Sample) -> ItemResult:
        cosine, gap = engine.memo((id(self), sample.subset), lambda: self._prepare(engine, sample.subset))[sample.index]
        correct = gap <= self.tolerance
        why = None if correct else f"cosine {cosine:.4f} ranks {gap:.0%} of the pairs away from the gold score's rank"
        return ItemResult({"cosine": round(cosine, 6)}, correct,
                          f"{cosine:.4f}", f"cosine {cosine:.6f}", why, {"rank_gap": round(gap, 4)})
