"""The numbers behind embedding tasks: trec_eval's ranking measures (against pytrec-eval-terrier on seeded
random runs, ties included), Spearman (against scipy), MTEB's undersampling, and the logistic regression
(against scikit-learn's fits stored by scripts/logreg_fixture.py)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_evalscope.benchmarks.classification import undersample
from pytest_evalscope.embedding.logreg import LogisticRegression, knn_predict
from pytest_evalscope.embedding.ranking import id_order, top_k
from pytest_evalscope.embedding.stats import average_ranks, spearman, spearman_interval
from pytest_evalscope.embedding.trec import CUTOFFS, metric_names, query_measures, rank

FIXTURES = Path(__file__).parent / "fixtures" / "embedding"


def _random_case(rng: random.Random) -> tuple[dict[str, int], dict[str, float]]:
    docs = [f"d{i}" for i in range(rng.randint(1, 60))]
    qrels = {d: rng.choice([0, 0, 1, 2, 3]) for d in rng.sample(docs, rng.randint(1, len(docs)))}
    if not any(v >= 1 for v in qrels.values()):
        qrels[rng.choice(list(qrels))] = 1
    # coarse scores make ties common: trec_eval breaks them by doc id, descending
    run = {d: rng.choice([0.1, 0.5, round(rng.random(), 2)]) for d in rng.sample(docs, rng.randint(1, len(docs)))}
    return qrels, run


def test_measures_equal_trec_eval_on_random_runs() -> None:
    pytrec_eval = pytest.importorskip("pytrec_eval")
    cuts = ",".join(map(str, CUTOFFS))
    names = {f"ndcg_cut.{cuts}", f"map_cut.{cuts}", f"recall.{cuts}", f"P.{cuts}", f"success.{cuts}"}
    rng = random.Random(19)
    for _ in range(200):
        qrels, run = _random_case(rng)
        theirs = pytrec_eval.RelevanceEvaluator({"q": qrels}, names).evaluate({"q": run})["q"]
        ranked = rank(run)
        ours = query_measures(ranked, qrels)
        assert list(ours) == metric_names()
        for k in CUTOFFS:
            mrr = pytrec_eval.RelevanceEvaluator({"q": qrels}, {"recip_rank"}).evaluate(
                {"q": {d: run[d] for d in ranked[:k]}})["q"]["recip_rank"]
            for mine, trec in (("ndcg", "ndcg_cut"), ("map", "map_cut"), ("recall", "recall"), ("precision", "P"),
                               ("hit_rate", "success")):
                assert ours[f"{mine}_at_{k}"] == pytest.approx(theirs[f"{trec}_{k}"], abs=1e-12), (mine, k, qrels, run)
            assert ours[f"mrr_at_{k}"] == pytest.approx(mrr, abs=1e-12)


def test_dense_top_k_orders_as_trec_eval_and_keeps_ties_at_the_cut() -> None:
    rng = np.random.RandomState(3)
    for _ in range(50):
        ids = [f"doc{i}" for i in rng.permutation(40)]
        scores = rng.choice([0.1, 0.2, 0.3], size=40)  # many ties
        expected = rank({d: float(s) for d, s in zip(ids, scores, strict=True)})
        for k in (1, 5, 40):
            got = [ids[i] for i in top_k(scores, id_order(ids), k)]
            assert got == expected[:k]


def test_a_query_without_relevant_documents_is_refused() -> None:
    with pytest.raises(ValueError, match="without relevant documents"):
        query_measures(["a"], {"a": 0})


def test_spearman_equals_scipy_with_ties() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.RandomState(0)
    for n in (2, 5, 30, 200):
        x, y = rng.randint(0, 6, n).astype(float), rng.normal(size=n).round(1)
        x[:2], y[:2] = [0.0, 1.0], [1.0, -1.0]  # never constant: scipy would warn and return nan
        expected = stats.spearmanr(x, y).statistic
        got = spearman(x, y)
        assert got == pytest.approx(expected, abs=1e-12)
        assert average_ranks(x) == pytest.approx(stats.rankdata(x))
    assert spearman([1, 1, 1], [1, 2, 3]) is None
    low, high = spearman_interval(0.8, 50)
    assert low < 0.8 < high and spearman_interval(0.8, 3) is None


def test_undersampling_follows_mteb() -> None:
    labels = [i % 4 for i in range(40)]
    picked = undersample(labels, 2, 3, seed=42)
    # MTEB: np.random.seed(42), then one index array shuffled again for each experiment
    np.random.seed(42)
    idxs = np.arange(40)
    for chosen in picked:
        np.random.shuffle(idxs)
        counts: dict[int, int] = {}
        expected = []
        for i in idxs:
            if counts.get(labels[i], 0) < 2:
                expected.append(int(i))
                counts[labels[i]] = counts.get(labels[i], 0) + 1
        assert chosen == expected and len(chosen) == 8


def test_logistic_regression_equals_scikit_learn() -> None:
    stored = json.loads((FIXTURES / "logreg_sklearn.json").read_text())
    for case in stored["cases"]:
        model = LogisticRegression(max_iter=100).fit(np.array(case["x"]), np.array(case["y"]))
        assert model.predict(np.array(case["test"])).tolist() == case["predictions"]
        assert model.iterations == case["n_iter"]
        assert model.coef is not None
        assert np.abs(model.coef[:, :-1] - np.array(case["coef"])).max() < 1e-6
        assert np.abs(model.coef[:, -1] - np.array(case["intercept"])).max() < 1e-6


def test_knn_votes_by_cosine_and_breaks_ties_to_the_smallest_label() -> None:
    train = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    labels = np.array([3, 3, 1, 1])
    assert knn_predict(train, labels, np.array([[1.0, 0.05], [0.05, 1.0]]), k=3).tolist() == [3, 1]
    assert knn_predict(train, labels, np.array([[1.0, 1.0]]), k=4).tolist() == [1]  # 2 votes each


def test_the_store_encodes_once_and_keeps_finished_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks are stored as they finish: a run that fails half way resumes with the chunks it had."""
    from pytest_evalscope.embedding import engine as engine_module
    from pytest_evalscope.models.base import ModelError
    from pytest_evalscope.models.embedding import EncoderAPI
    from pytest_evalscope.models.registry import ModelSpec

    calls: list[list[str]] = []

    class Flaky(EncoderAPI):
        name = "flaky"

        async def embed(self, texts, *, kind="passage"):  # type: ignore[no-untyped-def]
            calls.append(list(texts))
            if len(calls) == 2 and fail:
                raise ModelError("http_503", "induced")
            return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    monkeypatch.setattr(engine_module, "CHUNK", 3)
    texts = [f"text {i}" * (i + 1) for i in range(7)]  # chunks of 3, 3 and 1
    fail = True
    first = engine_module.EmbedEngine(ModelSpec("embedding", "m", "http://127.0.0.1:9/v1"), tmp_path)
    first._models["encoder"] = Flaky()
    with pytest.raises(ModelError):
        first.embed(texts, "passage")
    first.close()
    fail, calls[:] = False, []
    second = engine_module.EmbedEngine(ModelSpec("embedding", "m", "http://127.0.0.1:9/v1"), tmp_path)
    second._models["encoder"] = Flaky()
    matrix = second.embed(texts, "passage")
    assert calls == [texts[3:6], texts[6:]]  # the first chunk was kept
    assert matrix[:, 0].tolist() == [len(t) for t in texts]
    calls.clear()
    assert second.embed(texts, "passage").tolist() == matrix.tolist() and calls == []
    second.close()


def test_a_remote_worker_keeps_its_embeddings_out_of_the_run_folder(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from pytest_evalscope.embedding.engine import engine_for
    from pytest_evalscope.models.registry import ModelSpec

    cleanups: list[Any] = []
    spec = ModelSpec("embedding", "m", "http://127.0.0.1:9/v1")
    local = SimpleNamespace(stash=pytest.Stash(), add_cleanup=cleanups.append, workerinput={"workerid": "gw0"})
    assert engine_for(local, spec, tmp_path).run_dir == tmp_path  # type: ignore[arg-type]
    remote = SimpleNamespace(stash=pytest.Stash(), add_cleanup=cleanups.append,
                             workerinput={"workerid": "gw1", "evalscope_remote": True})
    store = engine_for(remote, spec, tmp_path).run_dir  # type: ignore[arg-type]
    assert store != tmp_path and store.is_dir() and tmp_path not in store.parents
    for cleanup in reversed(cleanups):
        cleanup()
    assert not store.exists()
