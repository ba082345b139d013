"""Classification on embeddings (MTEB's AbsTaskClassification): one item per test text.

MTEB's protocol: ``n_experiments`` (10) times, the train split is shuffled (numpy's RandomState(seed),
the same index array shuffled again each time) and undersampled to the first ``samples_per_label`` (8)
texts of each label; a logistic regression (``max_iter`` 100, embedding/logreg.py) or a cosine kNN
(``k`` 3) is fitted on their embeddings and predicts every test text. The main score is ``accuracy``,
the mean over experiments; an item's score is the share of experiments that labelled it right, so the
mean over items equals MTEB's mean over experiments. An item fails when most experiments got it wrong.

``banking77_classification`` (MTEB's Banking77Classification) reads PolyAI's ``banking_data/{train,test}.csv``
from ``local_path``; labels are numbered as MTEB and Hugging Face do (names sorted case-insensitively).
extra_params: ``method`` (logReg | kNN), ``n_experiments``, ``samples_per_label``, ``max_iter``, ``k``.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..datasets.local import DatasetError
from ..embedding.items import EmbeddingTask, ItemResult
from ..params import ConfigError, bounded_int, did_you_mean
from ..registry import register_benchmark
from .base import Sample

if TYPE_CHECKING:  # numpy loads with the first classification item, not with every run's benchmark registry
    import numpy as np

    from ..embedding.engine import EmbedEngine

METHODS = ("logReg", "kNN")


def undersample(labels: list[int], samples_per_label: int, n_experiments: int, seed: int) -> list[list[int]]:
    """MTEB's _undersample_data, run n_experiments times on one shuffled index array."""
    import numpy as np

    rng = np.random.RandomState(seed)
    idxs = np.arange(len(labels))
    picked = []
    for _ in range(n_experiments):
        rng.shuffle(idxs)
        counts: dict[int, int] = defaultdict(int)
        chosen = []
        for i in idxs:
            if counts[labels[i]] < samples_per_label:
                chosen.append(int(i))
                counts[labels[i]] += 1
        picked.append(chosen)
    return picked


class Classification(EmbeddingTask):
    metric_list: ClassVar[list[Any]] = ["accuracy"]
    primary_metric = "accuracy"
    train_split = "train"
    extra_params: ClassVar[dict[str, Any]] = {"method": "logReg", "n_experiments": 10, "samples_per_label": 8,
                                              "max_iter": 100, "k": 3}

    def _apply_args(self) -> None:
        super()._apply_args()
        where = f"dataset_args.{self.name}.extra_params"
        self.method = str(self.extra["method"])
        if self.method not in METHODS:
            raise ConfigError(f"{where}.method: {self.method!r}{did_you_mean(self.method, METHODS)}; valid: {', '.join(METHODS)}")
        self.n_experiments = bounded_int(1, 1000)(self.extra["n_experiments"], f"{where}.n_experiments")
        self.samples_per_label = bounded_int(1, 100000)(self.extra["samples_per_label"], f"{where}.samples_per_label")
        self.max_iter = bounded_int(1, 100000)(self.extra["max_iter"], f"{where}.max_iter")
        self.k = bounded_int(1, 1000)(self.extra["k"], f"{where}.k")
        self._rows: dict[str, tuple[list[str], list[int]]] = {}
        self._tests: dict[str, list[Sample]] = {}

    def label_names(self) -> list[str]:
        raise NotImplementedError

    def read_split(self, split: str) -> tuple[list[str], list[int]]:
        raise NotImplementedError

    def rows(self, split: str) -> tuple[list[str], list[int]]:
        if split not in self._rows:
            self._rows[split] = self.read_split(split)
        return self._rows[split]

    def load_samples(self, subset: str, limit: int | float | None, repeats: int) -> list[Sample]:
        if repeats != 1:
            raise ConfigError(f"repeats: {self.name} is scored deterministically; leave repeats at 1")
        texts, labels = self.rows(self.eval_split)
        count = len(texts) if limit is None else (int(len(texts) * limit) if isinstance(limit, float) else limit)
        names = self.label_names()
        samples = [Sample(i, subset, texts[i], names[labels[i]], {"label": labels[i]}) for i in range(min(count, len(texts)))]
        self._tests[subset] = samples
        return samples

    def _prepare(self, engine: EmbedEngine, subset: str) -> dict[int, np.ndarray]:
        """Every experiment's prediction for every loaded test text: {sample index: labels per experiment}."""
        import numpy as np

        from ..embedding.logreg import LogisticRegression, knn_predict
        from ..embedding.store import cached_matrix, matrix_key

        train_texts, train_labels = self.rows(self.train_split or "train")
        experiments = undersample(train_labels, self.samples_per_label, self.n_experiments, self.seed)
        needed = sorted({i for chosen in experiments for i in chosen})
        where = {row: n for n, row in enumerate(needed)}
        tests = self._tests[subset]
        labels = np.asarray(train_labels)

        def fit_and_predict() -> np.ndarray:
            train = engine.embed([train_texts[i] for i in needed], "query")
            test = engine.embed([s.input for s in tests], "query")
            predictions = []
            for chosen in experiments:
                x, y = train[[where[i] for i in chosen]], labels[chosen]
                if self.method == "kNN":
                    predictions.append(knn_predict(x, y, test, self.k))
                else:
                    predictions.append(LogisticRegression(max_iter=self.max_iter).fit(x, y).predict(test))
            return np.vstack(predictions).astype(np.float32)

        # the fits are shared work too: one process of the run fits, the others (xdist workers) read them
        settings = json.dumps([self.method, self.n_experiments, self.samples_per_label, self.max_iter, self.k, self.seed])
        key = matrix_key(engine.spec.backend, engine.spec.model, engine.spec.model_args, f"predictions {settings}",
                         [*(train_texts[i] for i in needed), "\0", *(s.input for s in tests)])
        matrix = cached_matrix(engine.run_dir, key, fit_and_predict)[0].astype(np.int64)
        return {s.index: matrix[:, n] for n, s in enumerate(tests)}

    def evaluate(self, engine: EmbedEngine, sample: Sample) -> ItemResult:
        import numpy as np

        predicted = engine.memo((id(self), sample.subset), lambda: self._prepare(engine, sample.subset))[sample.index]
        names = self.label_names()
        gold = sample.metadata["label"]
        accuracy = float(np.mean(predicted == gold))
        values, counts = np.unique(predicted, return_counts=True)
        majority = names[int(values[np.argmax(counts)])]
        content = " ".join(names[int(p)] for p in predicted)
        why = None if accuracy >= 0.5 else (f"labelled {majority!r} by most of the {len(predicted)} experiments "
                                            f"(right in {accuracy:.0%}); gold {sample.target!r}")
        return ItemResult({"accuracy": accuracy}, accuracy >= 0.5, majority, content, why)


@register_benchmark
class Banking77Classification(Classification):
    name = "banking77_classification"
    pretty_name = "Banking77Classification"
    mteb_name = "Banking77Classification"  # backends_config routes this MTEB task here
    description = "BANKING77 intents (77) from embeddings, MTEB's classification protocol; main score accuracy."
    dataset_id = "mteb/banking77"
    needs_setup = ('banking77_classification needs its data: dataset_args {"banking77_classification": '
                   '{"local_path": "<folder with banking_data/train.csv>"}}')

    def folder(self) -> Path:
        given = self.args.get("local_path")
        if not given:
            raise ConfigError(f"dataset_args.{self.name}.local_path: give the folder holding banking_data/train.csv "
                              "and banking_data/test.csv (PolyAI's task-specific-datasets)")
        path = Path(str(given)).expanduser()
        return path / "banking_data" if (path / "banking_data").is_dir() else path

    def _read(self, split: str) -> list[dict[str, str]]:
        path = self.folder() / f"{split}.csv"
        if not path.is_file():
            raise DatasetError(f"{path}: not found; banking_data/ holds train.csv and test.csv")
        with path.open(encoding="utf-8", newline="") as handle:  # quoted fields hold bare LFs
            rows = list(csv.DictReader(handle))
        if rows and not {"text", "category"} <= set(rows[0]):
            raise DatasetError(f"{path}: columns {sorted(rows[0])}; expected text and category")
        return rows

    def label_names(self) -> list[str]:
        if not hasattr(self, "_names"):
            self._names = sorted({r["category"] for r in self._read("train")}, key=str.lower)
        return self._names

    def read_split(self, split: str) -> tuple[list[str], list[int]]:
        index = {name: n for n, name in enumerate(self.label_names())}
        rows = self._read(split)
        unknown = next((r["category"] for r in rows if r["category"] not in index), None)
        if unknown is not None:
            raise DatasetError(f"{self.folder() / split}.csv: category {unknown!r} is not one of the train split's")
        return [r["text"] for r in rows], [index[r["category"]] for r in rows]
