"""TaskConfig assembly: layers, parsing, EvalScope compatibility, validation messages, redaction."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pytest_evalscope.config import REDACTED, TaskConfig, load_config_file
from pytest_evalscope.params import ConfigError

# EvalScope's service example TaskConfig, as its docs give it.
EVALSCOPE_SERVICE_EXAMPLE = {
    "api_key": "sk-secret-123",
    "api_url": "http://127.0.0.1:8801/v1",
    "model": "Qwen2.5-7B-Instruct",
    "model_id": "qwen2.5",
    "datasets": ["gsm8k"],
    "limit": 10,
    "dataset_args": {"gsm8k": {"few_shot_num": 0}},
    "dataset_dir": "/tmp/datasets",
    "repeats": 1,
    "generation_config": {"max_tokens": 2048, "temperature": 0.0, "top_p": 0.9, "top_k": 20, "n": 1},
    "eval_batch_size": 8,
    "eval_type": "service",
    "judge_strategy": "auto",
    "judge_worker_num": 1,
    "judge_model_args": {},
    "seed": 42,
    "work_dir": "./outputs",
    "debug": False,
    "use_cache": None,
    "model_args": {"default_headers": {"Authorization": "Bearer sk-secret-123"}, "timeout": 60, "max_retries": 3},
}


def build(*layers: dict, env: dict | None = None) -> TaskConfig:
    return TaskConfig.from_layers([(f"layer{i}", layer) for i, layer in enumerate(layers)], env=env or {})


def test_evalscope_service_example_loads_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "task.json"
    path.write_text(json.dumps(EVALSCOPE_SERVICE_EXAMPLE))
    config = build(load_config_file(path))
    assert config.eval_type == "service"
    assert config.model_id == "qwen2.5"
    assert config.limit == 10 and config.eval_batch_size == 8
    assert config.model_args["max_retries"] == 3
    assert config.generation_config["top_k"] == 20 and "n" not in config.generation_config


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ({"eval_batch_szie": 4}, "unknown key 'eval_batch_szie' (did you mean 'eval_batch_size'?)"),
        ({"limit": "lots"}, "limit: expected a count"),
        ({"limit": -3}, "limit: must be positive"),
        ({"limit": 2.5}, "limit: a count must be a whole number"),
        ({"api_url": "localhost:8000"}, "'localhost:8000' is not an http(s) URL"),
        ({"eval_type": "servce", "api_url": "http://x/v1", "model": "m"}, "unknown value 'servce' (did you mean 'service'?)"),
        ({"thresholds": {"gsm8k": 80}}, "outside [0, 1]"),
        ({"thresholds": "gsm8k"}, "expected NAME=VALUE"),
        ({"model_args": "timeout"}, "expected JSON or k=v,k=v"),
        ({"dataset_args": "{bad json"}, "dataset_args: invalid JSON"),
        ({"repeats": 0}, "repeats: must be at least 1"),
        ({"eval_type": "service", "model": "m"}, "needs api_url"),
        ({"judge_strategy": "llm", "eval_type": "mock"}, "judge_strategy llm: needs a judge model"),
        ({"judge_strategy": "judge"}, "expected one of auto, llm, llm_recall, rule"),
    ],
)
def test_bad_values_give_one_line_messages(layer: dict, message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        build(layer)
    assert message in str(excinfo.value)
    assert "\n" not in str(excinfo.value)


def test_later_layers_win_and_kv_values_are_typed() -> None:
    config = build({"eval_batch_size": 2, "model": "a", "api_url": "http://h:1/v1"},
                   {"eval_batch_size": "16", "generation_config": "max_tokens=64,temperature=0.5,stop=[\"\\n\"]"})
    assert config.eval_batch_size == 16
    assert config.generation_config == {"max_tokens": 64, "temperature": 0.5, "stop": ["\n"]}


def test_limit_count_and_fraction() -> None:
    assert build({"limit": "0.25"}).limit == 0.25
    assert build({"limit": "100"}).limit == 100
    assert build({"limit": 1.0}).limit == 1  # EvalScope parses 1.0 as the count 1


def test_eval_type_defaults_and_aliases() -> None:
    assert build({"api_url": "http://h:1/v1", "model": "m"}).eval_type == "service"
    assert build({"eval_type": "openai_api", "api_url": "http://h:1/v1", "model": "m"}).eval_type == "service"
    assert build({"eval_type": "mock_llm"}).model == "mock"
    assert build({}).evaluating is False
    assert build({"dry_run": True, "api_url": "http://h:1/v1", "model": "m"}).eval_type == "mock"


def test_api_key_from_environment() -> None:
    assert build({}, env={"OPENAI_API_KEY": "k1"}).api_key == "k1"
    assert build({}, env={"OPENAI_API_KEY": "k1", "EVALSCOPE_API_KEY": "k2"}).api_key == "k2"
    assert build({"api_key": "k3"}, env={"EVALSCOPE_API_KEY": "k2"}).api_key == "k3"


def test_generation_n_becomes_repeats_and_top_level_timeout_moves() -> None:
    config = build({"generation_config": {"n": 3}, "timeout": 30, "stream": True})
    assert config.repeats == 3
    assert config.generation_config == {"timeout": 30, "stream": True}


def test_secrets_are_redacted() -> None:
    data = build(EVALSCOPE_SERVICE_EXAMPLE).to_dict(redact=True)
    assert data["api_key"] == REDACTED
    assert data["model_args"]["default_headers"]["Authorization"] == REDACTED
    assert "sk-secret-123" not in json.dumps(data)


def test_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="does not parse"):
        load_config_file(bad)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config_file(listing)


def test_a_judges_url_credentials_are_redacted_as_the_models_are() -> None:
    # judge_model_args.api_url reaches configs/task_config.yaml, a shard's part.json and the service's job listing
    data = build({"model": "m", "api_url": "http://u:pw1@h:1/v1",
                  "judge_model_args": {"api_url": "http://judge:pw2@j:2/v1?key=k3", "model_id": "j"}}).to_dict(redact=True)
    assert not {"pw1", "pw2", "k3"} & set(re.findall(r"pw\d|k3", json.dumps(data)))
    assert data["judge_model_args"]["api_url"].startswith("http://") and data["judge_model_args"]["model_id"] == "j"


def test_keys_inside_dataset_args_are_redacted_and_other_settings_kept() -> None:
    # a RAG suite's embeddings and a retrieval reranker carry their own api_key and URL
    args = {"ragas": {"extra_params": {"embeddings": {"provider": "openai", "api_key": "sk-emb-1",
                                                      "api_base": "http://u:pw2@127.0.0.1:9/v1", "model_name": "e5"}}},
            "retrieval": {"extra_params": {"reranker": {"api_url": "http://127.0.0.1:7/v1?api_key=k3",
                                                        "api_key": "sk-rr-4", "model": "rr"}, "top_k": 5}},
            "general_qa": {"extra_params": {"answer_key": "gold", "max_tokens": 8}}}
    data = build({"model": "m", "api_url": "http://127.0.0.1:8/v1", "dataset_args": args}).to_dict(redact=True)
    text = json.dumps(data)
    assert not re.findall(r"sk-emb-1|pw2|k3|sk-rr-4", text)
    assert data["dataset_args"]["ragas"]["extra_params"]["embeddings"]["api_key"] == REDACTED
    assert data["dataset_args"]["ragas"]["extra_params"]["embeddings"]["api_base"].startswith("http://")
    assert data["dataset_args"]["retrieval"]["extra_params"]["top_k"] == 5
    assert data["dataset_args"]["general_qa"]["extra_params"] == {"answer_key": "gold", "max_tokens": 8}
    assert build({"model": "m", "dataset_args": args}).to_dict(redact=False)["dataset_args"] == args
