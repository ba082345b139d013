"""The checkpoint model on tiny random Llama models with SmolLM2's real tokenizer, built offline.

The models are random (hidden size 32, two layers), so their text is gibberish; what is tested is
that batching, templating, scoring and loading compute what transformers computes directly.
"""

from __future__ import annotations

import asyncio
import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_evalscope.models.base import ModelError
from pytest_evalscope.models.loglikelihood import ChoiceScore, SupportsLoglikelihood, best_choice
from pytest_evalscope.params import ConfigError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from pytest_evalscope.models import hf_inference, hf_loading  # noqa: E402
from pytest_evalscope.models.checkpoint import TransformersModel  # noqa: E402

from .tiny_models import TOKENIZER_DIR, build_model_dirs, tiny_llama  # noqa: E402

CHATML_ASSISTANT = "<|im_start|>assistant\n"


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    try:
        return build_model_dirs(tmp_path_factory.mktemp("checkpoints"))
    except FileNotFoundError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def chat_model(model_dirs: dict[str, Path]) -> TransformersModel:
    return TransformersModel(str(model_dirs["chat"]), {}, {"max_tokens": 6}, batch_size=4)


@pytest.fixture(scope="session")
def base_model(model_dirs: dict[str, Path]) -> TransformersModel:
    return TransformersModel(str(model_dirs["base"]), {}, {"max_tokens": 10}, batch_size=4)


def _conversations(n: int) -> list[list[dict[str, str]]]:
    return [[{"role": "user", "content": f"Question {i}: what is {i} plus {3 * i}? " * (1 + i % 3)}] for i in range(n)]


# ---------------------------------------------------------------- generation


def test_batched_greedy_equals_unbatched(chat_model: TransformersModel) -> None:
    conversations = _conversations(7)

    async def batched():
        return await asyncio.gather(*(chat_model.generate(m) for m in conversations))

    async def one_by_one():
        return [await chat_model.generate(m) for m in conversations]

    start = chat_model.stats()["batches"]
    together = asyncio.run(batched())
    middle = chat_model.stats()["batches"]
    alone = asyncio.run(one_by_one())
    assert middle - start == 2  # 7 concurrent requests, batch size 4
    assert chat_model.stats()["batches"] - middle == 7
    assert [o.content for o in together] == [o.content for o in alone]
    assert [o.usage for o in together] == [o.usage for o in alone]
    out = together[0]
    assert out.finish_reason == "length" and out.usage["output_tokens"] == 6
    assert out.usage["input_tokens"] == len(chat_model.load().tokenizer(
        hf_inference.render(chat_model.load().tokenizer, conversations[0], None, {}).text, add_special_tokens=False)["input_ids"])
    assert out.latency > 0 and out.model == chat_model.name


def test_pipeline_gathers_concurrent_requests_into_batches(model_dirs: dict[str, Path]) -> None:
    from pytest_evalscope.pipeline import Pipeline

    model = TransformersModel(str(model_dirs["chat"]), {}, {"max_tokens": 3}, batch_size=4)
    pipeline = Pipeline(lambda: model, concurrency=4)
    try:
        for i, messages in enumerate(_conversations(8)):
            pipeline.submit(f"s{i}", messages, "fp")
        outcomes = [pipeline.take(f"s{i}") for i in range(8)]
    finally:
        pipeline.close()
    assert all(o.output is not None and o.output.usage["output_tokens"] == 3 for o in outcomes)
    stats = model.stats()
    assert stats["requests"] == 8 and stats["batches"] < 8 and stats["mean_batch_size"] > 1


def test_stop_strings_precision_and_stats(model_dirs: dict[str, Path], chat_model: TransformersModel) -> None:
    messages = _conversations(1)[0]
    full = asyncio.run(chat_model.generate(messages)).content
    stop = full[len(full) // 2:len(full) // 2 + 3]
    stopping = TransformersModel(str(model_dirs["chat"]), {"precision": "torch.float32"},
                                 {"max_tokens": 6, "stop": stop}, batch_size=2)
    out = asyncio.run(stopping.generate(messages))
    assert out.content == full[:full.index(stop)] and out.finish_reason == "stop"
    stats = chat_model.stats()
    assert stats["precision"] == "float32" and stats["device"] == "cpu" and stats["load_seconds"] > 0
    assert stats["peak_memory_bytes"] > 0 and stats["output_tokens_per_second"] > 0
    half = TransformersModel(str(model_dirs["chat"]), {"precision": "bf16"}, {"max_tokens": 2})
    assert asyncio.run(half.generate(messages)).usage["output_tokens"] == 2
    assert half.stats()["precision"] == "bfloat16"


def test_generation_config_in_transformers_terms() -> None:
    greedy = hf_inference.generation_kwargs({"max_tokens": 5, "temperature": 0, "top_p": 0.9, "stop": "\n\n", "seed": 1})
    assert greedy == {"max_new_tokens": 5, "do_sample": False, "stop_strings": ["\n\n"]}
    assert hf_inference.generation_kwargs({})["do_sample"] is False
    assert hf_inference.generation_kwargs({})["max_new_tokens"] == hf_inference.DEFAULT_MAX_NEW_TOKENS
    sampled = hf_inference.generation_kwargs({"temperature": 0.7, "top_k": 20, "stop_seqs": ["x"], "repetition_penalty": 1.1})
    assert sampled == {"temperature": 0.7, "top_k": 20, "stop_strings": ["x"], "repetition_penalty": 1.1,
                       "do_sample": True, "max_new_tokens": 2048}
    assert hf_inference.generation_kwargs({"temperature": 0.7, "do_sample": False})["do_sample"] is False
    assert hf_inference.generation_kwargs({"max_length": 64, "n": 1}) == {"max_length": 64, "do_sample": False}
    with pytest.raises(ConfigError, match=r"unknown key 'max_token' \(did you mean 'max_tokens'\?\)"):
        hf_inference.generation_kwargs({"max_token": 5})
    with pytest.raises(ConfigError, match="use repeats"):
        hf_inference.generation_kwargs({"num_return_sequences": 3})


# ---------------------------------------------------------------- chat templates


def test_chat_templates(model_dirs: dict[str, Path], chat_model: TransformersModel, base_model: TransformersModel,
                        tmp_path: Path) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}]
    tokenizer = chat_model.load().tokenizer
    own = hf_inference.render(tokenizer, messages, chat_model.chat_template, chat_model.template_kwargs)
    assert own.templated and own.text == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n" + CHATML_ASSISTANT

    custom = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}{{ greeting }}>"
    from_string = TransformersModel(str(model_dirs["chat"]), {"chat_template": custom,
                                                              "chat_template_kwargs": {"greeting": "go"}})
    assert hf_inference.render(tokenizer, messages, from_string.chat_template,
                               from_string.template_kwargs).text == "[system] Be brief.\n[user] Hi?\ngo>"
    (tmp_path / "t.jinja").write_text(custom)
    from_file = TransformersModel(str(model_dirs["chat"]), {"chat_template": str(tmp_path / "t.jinja")})
    assert from_file.chat_template == custom

    forced_plain = TransformersModel(str(model_dirs["chat"]), {"chat_template": "none"})
    assert hf_inference.render(tokenizer, messages, forced_plain.chat_template, {}).text == "Be brief.\n\nHi?"

    base_tokenizer = base_model.load().tokenizer
    plain = hf_inference.render(base_tokenizer, messages, None, {})
    assert plain == hf_inference.Prompt("Be brief.\n\nHi?", False)
    out = asyncio.run(base_model.generate(messages))
    assert out.usage["input_tokens"] == len(base_tokenizer("Be brief.\n\nHi?")["input_ids"])


# ---------------------------------------------------------------- log-likelihood


def _direct_score(model, tokenizer, context: str, continuation: str, templated: bool) -> tuple[float, bool, int]:
    """Unbatched reference: one forward pass over context + continuation, no padding."""
    special = not templated
    ctx = tokenizer(context, add_special_tokens=special)["input_ids"]
    whole = tokenizer(context + continuation, add_special_tokens=special)["input_ids"]
    assert whole[:len(ctx)] == ctx
    with torch.no_grad():
        logprobs = model(torch.tensor([whole])).logits[0].float().log_softmax(-1)
    target = whole[len(ctx):]
    rows = logprobs[len(ctx) - 1:len(whole) - 1]
    total = sum(rows[i, t].item() for i, t in enumerate(target))
    greedy = all(rows[i].argmax().item() == t for i, t in enumerate(target))
    return total, greedy, len(target)


def test_loglikelihood_matches_a_direct_forward_pass(chat_model: TransformersModel) -> None:
    assert isinstance(chat_model, SupportsLoglikelihood)
    loaded = chat_model.load()
    conversations = _conversations(3)
    choices = ["A", "Paris", "the quick brown fox", "é"]
    requests = [(m, c) for m in conversations for c in choices]
    start = chat_model.stats()["score_batches"]
    scores = asyncio.run(chat_model.loglikelihood(requests))
    assert len(scores) == len(requests)
    assert chat_model.stats()["score_batches"] - start == 3  # 12 requests, batch size 4
    for (messages, choice), score in zip(requests, scores, strict=True):
        context = hf_inference.render(loaded.tokenizer, messages, None, {}).text
        logprob, greedy, tokens = _direct_score(loaded.model, loaded.tokenizer, context, choice, True)
        assert score.logprob == pytest.approx(logprob, abs=1e-4)
        assert (score.is_greedy, score.num_tokens) == (greedy, tokens)
        assert (score.num_chars, score.num_bytes) == (len(choice), len(choice.encode()))
    assert scores[3].num_bytes == 2 and scores[3].num_chars == 1

    # the model's own first greedy token, as a continuation, is recognised as greedy
    messages = conversations[0]
    context = hf_inference.render(loaded.tokenizer, messages, None, {}).text
    ids = loaded.tokenizer(context, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        first = int(loaded.model(torch.tensor([ids])).logits[0, -1].argmax())
    text = loaded.tokenizer.decode([first])
    assert loaded.tokenizer(context + text, add_special_tokens=False)["input_ids"] == ids + [first]
    score = asyncio.run(chat_model.choice_loglikelihoods(messages, [text]))[0]
    assert score.is_greedy and score.num_tokens == 1


def test_shared_contexts_singletons_and_single_token_choices_score_as_a_direct_pass(chat_model: TransformersModel) -> None:
    # One batch mixing every path: a context whose choices are single tokens (no second pass), a context
    # with one request (scored whole), and one whose choices differ in length (cache copied per row).
    loaded = chat_model.load()
    tokenizer = loaded.tokenizer
    convs = _conversations(3)
    prompts = [hf_inference.render(tokenizer, m, None, {}) for m in convs]
    plan = [(0, "A"), (1, "Paris"), (2, "the quick brown fox"), (0, "B"), (2, "é"), (2, "A")]
    requests = [hf_inference.ScoreRequest(prompts[c], text) for c, text in plan]
    scores = hf_inference.score_batch(loaded.model, tokenizer, requests, loaded.device, 2048)
    for (c, text), score in zip(plan, scores, strict=True):
        logprob, greedy, tokens = _direct_score(loaded.model, tokenizer, prompts[c].text, text, True)
        assert score.logprob == pytest.approx(logprob, abs=1e-4)
        assert (score.is_greedy, score.num_tokens) == (greedy, tokens)

    # A shared context too long for the window with its continuations is scored whole, cut from the left.
    window = len(tokenizer(prompts[2].text, add_special_tokens=False)["input_ids"]) + 2
    subset = [requests[2], requests[4]]
    cut = hf_inference.score_batch(loaded.model, tokenizer, subset, loaded.device, window)
    pairs = [hf_inference.encode_pair(tokenizer, r.context, r.continuation) for r in subset]
    whole = hf_inference.score_whole(loaded.model, [(i, *p) for i, p in enumerate(pairs)], hf_inference.pad_id(tokenizer),
                                     loaded.device, window)
    assert [(s.logprob, s.is_greedy, s.num_tokens) for s in cut] == [whole[0], whole[1]]
    assert cut[0].logprob != pytest.approx(scores[2].logprob, abs=1e-4)  # the window did cut the context


def test_plain_context_moves_trailing_space_to_the_continuation(base_model: TransformersModel) -> None:
    loaded = base_model.load()
    messages = [{"role": "user", "content": "Question: 2+2?\nAnswer: "}]
    scores = asyncio.run(base_model.choice_loglikelihoods(messages, ["4", "5"]))
    for choice, score in zip(["4", "5"], scores, strict=True):
        logprob, _, tokens = _direct_score(loaded.model, loaded.tokenizer, "Question: 2+2?\nAnswer:", " " + choice, False)
        assert score.logprob == pytest.approx(logprob, abs=1e-4) and score.num_tokens == tokens


def test_best_choice_acc_and_acc_norm() -> None:
    scores = [ChoiceScore(-4.0, False, 2, 2, 2), ChoiceScore(-6.0, False, 4, 8, 8), ChoiceScore(-4.0, True, 1, 1, 1)]
    assert best_choice(scores) == 0  # ties go to the first, like numpy's argmax
    assert best_choice(scores, norm="bytes") == 1
    assert best_choice(scores, norm="tokens") == 1
    with pytest.raises(ValueError, match="norm 'byte'"):
        best_choice(scores, norm="byte")  # type: ignore[arg-type]


# ---------------------------------------------------------------- GGUF


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """A GGUF written with the `gguf` package: a 1024-token cut of SmolLM2's BPE vocabulary (the full
    one takes transformers ~30 s to read back), llama weights in llama.cpp's layout."""
    gguf = pytest.importorskip("gguf")
    model = tiny_llama(1024, seed=1)
    path = tmp_path_factory.mktemp("gguf") / "tiny-llama.gguf"
    spec = json.loads((TOKENIZER_DIR / "tokenizer.json").read_text())
    vocab = {token: i for token, i in spec["model"]["vocab"].items() if i < 1024}
    tokens = [""] * 1024
    for token, i in vocab.items():
        tokens[i] = token
    special = {a["id"] for a in spec["added_tokens"] if a["special"]}
    merges = []
    for merge in spec["model"]["merges"]:
        left, right = merge if isinstance(merge, list) else merge.split(" ")
        if left in vocab and right in vocab and left + right in vocab:
            merges.append(f"{left} {right}")
    config = model.config
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(config.num_hidden_layers)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(1024)
    writer.add_rope_dimension_count(config.hidden_size // config.num_attention_heads)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm")
    writer.add_token_list(tokens)
    writer.add_token_merges(merges)
    writer.add_token_types([3 if i in special else 1 for i in range(1024)])
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_pad_token_id(2)
    writer.add_add_bos_token(False)
    writer.add_chat_template((TOKENIZER_DIR / "chat_template.jinja").read_text())
    _add_llama_tensors(writer, model)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path, model


def _add_llama_tensors(writer, model) -> None:
    def permute(w, heads):  # llama.cpp's rotary layout for q and k (transformers undoes it on load)
        return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)

    state = {k: v.float().numpy() for k, v in model.state_dict().items()}
    config = model.config
    writer.add_tensor("token_embd.weight", state["model.embed_tokens.weight"])
    writer.add_tensor("output_norm.weight", state["model.norm.weight"])
    names = {"attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm", "attn_v": "self_attn.v_proj",
             "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
             "ffn_down": "mlp.down_proj"}
    for layer in range(config.num_hidden_layers):
        prefix = f"model.layers.{layer}."
        for gguf_name, hf_name in names.items():
            writer.add_tensor(f"blk.{layer}.{gguf_name}.weight", state[prefix + hf_name + ".weight"])
        writer.add_tensor(f"blk.{layer}.attn_q.weight", permute(state[prefix + "self_attn.q_proj.weight"],
                                                                config.num_attention_heads))
        writer.add_tensor(f"blk.{layer}.attn_k.weight", permute(state[prefix + "self_attn.k_proj.weight"],
                                                                config.num_key_value_heads))


def test_gguf_file_loads_with_its_tokenizer_and_template(tiny_gguf, tmp_path, monkeypatch, capfd) -> None:
    pytest.importorskip("accelerate", reason="transformers needs accelerate to read GGUF files")
    monkeypatch.setenv("PYTEST_EVALSCOPE_CACHE", str(tmp_path / "cache"))
    path, reference = tiny_gguf
    model = TransformersModel(str(path), {}, {"max_tokens": 4}, batch_size=2)
    assert model.source.kind == "gguf" and model.source.gguf_file == path.name
    loaded = model.load()
    err = capfd.readouterr().err
    assert f"loading {path}" in err and "de-quantizing" not in err  # our one line, not transformers' bar
    gguf_utils = sys.modules["transformers.modeling_gguf_pytorch_utils"]
    assert not isinstance(gguf_utils.tqdm, functools.partial)  # the patch was undone
    ids = torch.tensor([[1, 300, 400, 500, 600]])
    with torch.no_grad():
        assert torch.allclose(loaded.model(ids).logits, reference(ids).logits, atol=1e-5)
    assert loaded.tokenizer.chat_template == (TOKENIZER_DIR / "chat_template.jinja").read_text()

    async def both():
        return await asyncio.gather(*(model.generate(m) for m in _conversations(2)))

    outputs = asyncio.run(both())
    assert [o.usage["output_tokens"] for o in outputs] == [4, 4]

    # the tokenizer converted from the GGUF vocabulary is kept, and the next load reads it back unchanged
    cached = hf_loading.gguf_tokenizer_cache(model.source)
    assert cached is not None and cached.parent == tmp_path / "cache" / "gguf-tokenizers" and (cached / "tokenizer.json").is_file()
    again = TransformersModel(str(path), {}, {"max_tokens": 4}, batch_size=2).load().tokenizer
    text = "<|im_start|>user\nHello, tokenizer cache!<|im_end|>"
    assert again("" + text)["input_ids"] == loaded.tokenizer(text)["input_ids"]
    assert again.chat_template == loaded.tokenizer.chat_template and again.name_or_path == str(cached)
    path.touch()  # a changed file is another key
    assert hf_loading.gguf_tokenizer_cache(model.source) != cached


# ---------------------------------------------------------------- bad settings


@pytest.mark.parametrize(("model", "args", "message"), [
    ("/nonexistent/models/tiny", {}, r"model '/nonexistent/models/tiny': no such directory or \.gguf file"),
    ("missing-model.gguf", {}, r"model 'missing-model\.gguf': no such \.gguf file"),
    ("foo/bar", {}, r"model 'foo/bar': not a local directory or \.gguf file, and the Hugging Face hub is "
                    r"unreachable \(offline\); download it or pass a local path"),
    ("not a model!", {}, r"model 'not a model!': no such directory or \.gguf file \(and not a hub id"),
    ("CHAT", {"precision": "float17"}, r"model_args\.precision: 'float17' is not a precision \(did you mean 'float16'\?\)"),
    ("CHAT", {"precision": "torch.int8"}, r"model_args\.precision: 'torch\.int8' is not a precision; valid: "),
    ("CHAT", {"device": "gpu0"}, r"model_args\.device: 'gpu0' is not a device; valid: cpu, cuda, cuda:N"),
    ("CHAT", {"torch_dtype": "float16"}, r"model_args\.torch_dtype: use precision"),
    ("CHAT", {"hub": "github"}, r"model_args\.hub: 'github' is not a model hub"),
    ("CHAT", {"chat_template": "chatml"}, r"model_args\.chat_template: 'chatml' is neither a file nor a Jinja template"),
    ("CHAT", {"chat_template": "{% for m in messages %}"}, r"model_args\.chat_template: invalid Jinja at line 1"),
    ("CHAT", {"gguf_file": "x.gguf"}, r"model_args\.gguf_file: no file 'x\.gguf' in "),
])
def test_bad_settings_fail_at_construction_with_one_line(model_dirs, model: str, args: dict, message: str) -> None:
    name = str(model_dirs["chat"]) if model == "CHAT" else model
    with pytest.raises(ConfigError, match=message) as info:
        TransformersModel(name, args, {})
    assert "\n" not in str(info.value)


def test_modelscope_hub_needs_the_modelscope_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hf_loading, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match="modelscope package is not installed; pip install modelscope"):
        TransformersModel("Qwen/Qwen2.5-0.5B-Instruct", {"hub": "modelscope"}, {})
    # the run's default hub (EvalScope's is modelscope) falls back to Hugging Face without the package
    with pytest.raises(ConfigError, match="Hugging Face hub is unreachable"):
        TransformersModel("Qwen/Qwen2.5-0.5B-Instruct", {}, {}, hub="modelscope")


def test_unknown_from_pretrained_argument_is_one_sticky_model_error(model_dirs) -> None:
    model = TransformersModel(str(model_dirs["chat"]), {"flash_mode": True}, {"max_tokens": 2})
    messages = _conversations(1)[0]
    for _ in range(2):  # loading is not retried for every sample
        with pytest.raises(ModelError, match=r"model_args: 'flash_mode' is not a from_pretrained argument") as info:
            asyncio.run(model.generate(messages))
        assert info.value.kind == "model_load" and "\n" not in str(info.value)


def test_nothing_heavy_is_imported_before_first_use(model_dirs) -> None:
    code = ("import sys; from pytest_evalscope.models.checkpoint import TransformersModel as T; "
            f"T({str(model_dirs['chat'])!r}, {{'precision': 'bf16'}}, {{'max_tokens': 4}}); "
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_threads_and_devices_follow_xdist_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    monkeypatch.setattr(hf_loading.os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    assert hf_loading.xdist_layout() == (1, 2)
    assert hf_loading.cpu_threads() == 4 and hf_loading.cpu_threads(3) == 3
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert hf_loading.default_device() == "cuda:0"
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert hf_loading.default_device() == "cuda:1"
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT")
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    assert hf_loading.cpu_threads() == 8 and hf_loading.default_device() == "cuda:0"


def test_aclose_lets_the_weights_go_and_keeps_the_figures(model_dirs) -> None:
    import gc
    import weakref

    model = TransformersModel(str(model_dirs["base"]), {}, {"max_tokens": 2})

    async def run() -> weakref.ref:
        await model.generate([{"role": "user", "content": "hi"}])
        weights = weakref.ref(model.load().model)
        await model.aclose()
        return weights

    weights = asyncio.run(run())
    gc.collect()
    assert weights() is None  # run_task may run many sessions in one process
    stats = model.stats()
    assert stats["requests"] == 1 and stats["load_seconds"] > 0 and stats["output_tokens"] >= 1
