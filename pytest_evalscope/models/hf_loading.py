"""Finding and loading a transformers checkpoint: source, precision, device, threads.

Everything here before :func:`load` is cheap and runs when the model is configured (it imports
neither torch nor transformers), so a bad path, hub id, precision or device stops the run before any
sample with one line. :func:`load` runs once, on first use, in the model's worker thread.

Sources, in the order they are tried for ``--evalscope-model``:

- a local directory (``config.json`` + weights, or a ``.gguf`` named by ``model_args.gguf_file``);
- a ``.gguf`` file (loaded by transformers with ``gguf_file=``, dequantised to ``precision``);
- a hub id ``owner/name``: ModelScope's ``snapshot_download`` when the hub is ``modelscope`` and the
  ``modelscope`` package is installed, else ``from_pretrained`` through the Hugging Face cache. With
  ``HF_HUB_OFFLINE=1`` an id that is not in the cache is refused at once.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from ..params import ConfigError, did_you_mean, parse_bool, parse_int
from .base import ModelError

# Spellings of model_args.precision -> torch dtype name ("auto" keeps the checkpoint's own dtype).
PRECISIONS = {
    "float16": "float16", "fp16": "float16", "half": "float16",
    "bfloat16": "bfloat16", "bf16": "bfloat16",
    "float32": "float32", "fp32": "float32", "float": "float32",
    "auto": "auto",
}
DEVICE_RE = re.compile(r"^(cpu|auto|mps|(cuda|xpu|npu)(:\d+)?)$")
HUB_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
HUBS = ("huggingface", "modelscope")
_TRUTHY = ("1", "true", "yes", "on")


def parse_precision(value: Any) -> str:
    """'torch.float16', 'float16', 'fp16', torch.float16, 'auto' ... -> 'float16' | 'bfloat16' | 'float32' | 'auto'."""
    text = str(value).strip().lower().removeprefix("torch.")
    if text not in PRECISIONS:
        raise ConfigError(f"model_args.precision: {value!r} is not a precision{did_you_mean(text, PRECISIONS)}; "
                          "valid: torch.float16, torch.bfloat16, torch.float32, auto")
    return PRECISIONS[text]


def parse_device(value: Any, name: str = "model_args.device") -> str:
    text = str(value).strip().lower()
    if not DEVICE_RE.match(text):
        raise ConfigError(f"{name}: {value!r} is not a device; valid: cpu, cuda, cuda:N, mps, auto")
    return text


def hub_offline() -> bool:
    return any(os.environ.get(k, "").strip().lower() in _TRUTHY for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


@dataclass
class Source:
    """Where the weights come from, resolved without loading anything."""

    name: str  # what the user gave
    kind: str  # dir | gguf | huggingface | modelscope
    location: str  # a directory, or a hub id
    gguf_file: str | None = None
    revision: str | None = None


def resolve_source(model: str, revision: str | None, gguf_file: str | None, hub: str | None,
                   hub_is_explicit: bool) -> Source:
    """Decide where `model` comes from, or raise ConfigError with one line."""
    path = Path(os.path.expanduser(model))
    if path.is_dir():
        if gguf_file and not (path / gguf_file).is_file():
            raise ConfigError(f"model_args.gguf_file: no file {gguf_file!r} in {str(path)!r}")
        return Source(model, "gguf" if gguf_file else "dir", str(path), gguf_file, revision)
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise ConfigError(f"model {model!r}: no such .gguf file")
        return Source(model, "gguf", str(path.parent), path.name, revision)
    if model.startswith(("/", "./", "../", "~")) or os.sep + os.sep in model or not HUB_ID_RE.match(model):
        raise ConfigError(f"model {model!r}: no such directory or .gguf file (and not a hub id like owner/name)")
    if hub == "modelscope" and (hub_is_explicit or find_spec("modelscope") is not None):
        if find_spec("modelscope") is None:
            raise ConfigError(f"model {model!r}: model_args.hub is modelscope but the modelscope package is not "
                              "installed; pip install modelscope, or use hub=huggingface")
        return Source(model, "modelscope", model, gguf_file, revision or "master")
    # 'master' is ModelScope's default branch (EvalScope's default revision); on the HF hub it is 'main'
    hf_revision = None if revision in (None, "master") else revision
    if hub_offline() and not _in_hf_cache(model, gguf_file or "config.json", hf_revision):
        raise ConfigError(f"model {model!r}: not a local directory or .gguf file, and the Hugging Face hub is "
                          "unreachable (offline); download it or pass a local path")
    return Source(model, "huggingface", model, gguf_file, hf_revision)


def _in_hf_cache(repo_id: str, filename: str, revision: str | None) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    try:
        return isinstance(try_to_load_from_cache(repo_id, filename, revision=revision), str)
    except Exception:  # an id the hub library rejects is simply not cached
        return False


# ---------------------------------------------------------------- runtime placement


def xdist_layout() -> tuple[int, int]:
    """(this worker's index, number of workers) under pytest-xdist; (0, 1) otherwise."""
    count = parse_int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1, "PYTEST_XDIST_WORKER_COUNT", 1)
    match = re.match(r"gw(\d+)$", os.environ.get("PYTEST_XDIST_WORKER", ""))
    return (int(match.group(1)) if match else 0), count


def cpu_threads(requested: int | None = None) -> int:
    """Threads for torch so that workers x threads <= cores (oversubscription costs ~5x on small CPUs)."""
    if requested:
        return requested
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, cores // xdist_layout()[1])


def default_device() -> str:
    """cuda:N for xdist worker gwN over the visible GPUs, else mps or cpu."""
    import torch

    if torch.cuda.is_available():
        return f"cuda:{xdist_layout()[0] % torch.cuda.device_count()}"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


# ---------------------------------------------------------------- loading


@dataclass
class LoadOptions:
    """model_args, split into what this adapter interprets and what goes to from_pretrained."""

    precision: str | None = None  # None: float32 on CPU, the checkpoint's dtype on accelerators
    device: str | None = None  # None: default_device()
    device_map: Any = None
    trust_remote_code: bool = False
    num_threads: int | None = None
    tokenizer: str | None = None  # another tokenizer directory or hub id
    extra: dict[str, Any] = field(default_factory=dict)  # any other from_pretrained keyword


def split_load_options(model_args: dict[str, Any]) -> LoadOptions:
    options = LoadOptions()
    if model_args.get("precision") is not None:
        options.precision = parse_precision(model_args["precision"])
    if model_args.get("device") is not None:
        options.device = parse_device(model_args["device"])
    options.device_map = model_args.get("device_map")
    options.trust_remote_code = parse_bool(model_args.get("trust_remote_code", False), "model_args.trust_remote_code")
    if model_args.get("num_threads") is not None:
        options.num_threads = parse_int(model_args["num_threads"], "model_args.num_threads", 1)
    options.tokenizer = model_args.get("tokenizer")
    for key in ("torch_dtype", "dtype"):
        if key in model_args:
            raise ConfigError(f"model_args.{key}: use precision (torch.float16, torch.bfloat16, torch.float32, auto)")
    return options


@dataclass
class Loaded:
    model: Any
    tokenizer: Any
    device: str
    precision: str
    seconds: float


def load(source: Source, options: LoadOptions) -> Loaded:
    """Load model and tokenizer; every failure becomes one ModelError('model_load', ...) line."""
    import torch

    torch.set_num_threads(cpu_threads(options.num_threads))
    device = options.device if options.device not in (None, "auto") else default_device()
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError("model_load", f"model_args.device {device!r}: CUDA is not available on this machine")
    precision = options.precision or ("float32" if device == "cpu" else "auto")
    where = "device_map=" + str(options.device_map) if options.device_map is not None else device
    print(f"loading {source.name} ({precision}, {where})...", end="", file=sys.stderr, flush=True)
    started = time.perf_counter()
    location = _download(source)
    model, tokenizer = _from_pretrained(source, location, options, precision)
    if options.device_map is None:
        model.to(device)
    else:
        device = str(model.device)
    model.eval()
    seconds = time.perf_counter() - started
    print(f" {seconds:.1f} s", file=sys.stderr, flush=True)
    return Loaded(model, tokenizer, device, str(model.dtype).removeprefix("torch."), seconds)


@contextlib.contextmanager
def _quiet_gguf_bar() -> Iterator[None]:
    """transformers' GGUF reader draws its own tqdm bar, which disable_progress_bar() does not reach;
    the one-line "loading ..." message stands for it. Patched for the load only, and only if present."""
    try:  # the module in sys.modules, which transformers' loader imports at call time (not a package attribute)
        gguf_utils = importlib.import_module("transformers.modeling_gguf_pytorch_utils")
    except ImportError:
        yield
        return
    original = getattr(gguf_utils, "tqdm", None)
    if original is None:
        yield
        return
    gguf_utils.tqdm = functools.partial(original, disable=True)
    try:
        yield
    finally:
        gguf_utils.tqdm = original


def _download(source: Source) -> str:
    if source.kind != "modelscope":
        return source.location
    from modelscope import snapshot_download

    try:
        return str(snapshot_download(source.location, revision=source.revision))
    except Exception as exc:
        raise ModelError("model_load", f"model {source.name!r}: ModelScope download failed: {_one_line(exc)}") from None


def _from_pretrained(source: Source, location: str, options: LoadOptions, precision: str) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the one-line progress message on stderr replaces its bars

    common: dict[str, Any] = {"trust_remote_code": options.trust_remote_code}
    if source.kind == "huggingface" and source.revision:
        common["revision"] = source.revision
    if source.gguf_file:
        common["gguf_file"] = source.gguf_file
    kwargs = {**common, **options.extra, "dtype": precision if precision == "auto" else getattr(torch, precision)}
    if options.device_map is not None:
        kwargs["device_map"] = options.device_map
    try:
        with _quiet_gguf_bar():
            model = AutoModelForCausalLM.from_pretrained(location, **kwargs)
    except TypeError as exc:
        bad = re.search(r"unexpected keyword argument '(\w+)'", str(exc))
        if bad and bad.group(1) in options.extra:
            raise ModelError("model_load", f"model_args: {bad.group(1)!r} is not a from_pretrained argument of "
                             f"this model (transformers: {_one_line(exc)})") from None
        raise ModelError("model_load", f"model {source.name!r}: could not be loaded: {_one_line(exc)}") from None
    except Exception as exc:
        raise ModelError("model_load", f"model {source.name!r}: could not be loaded: {_one_line(exc)}") from None
    tokenizer_location = options.tokenizer or location
    tokenizer_kwargs = common if options.tokenizer is None else {"trust_remote_code": options.trust_remote_code}
    cached = gguf_tokenizer_cache(source) if options.tokenizer is None else None
    try:
        if cached is not None and cached.is_dir():
            tokenizer = AutoTokenizer.from_pretrained(str(cached), trust_remote_code=options.trust_remote_code)
        else:
            tokenizer = AutoTokenizer.from_pretrained(tokenizer_location, **tokenizer_kwargs)
            if cached is not None:
                _save_tokenizer(tokenizer, cached)
    except Exception as exc:
        raise ModelError("model_load", f"model {source.name!r}: the tokenizer could not be loaded: {_one_line(exc)}") from None
    return model, tokenizer


def gguf_tokenizer_cache(source: Source) -> Path | None:
    """Where the tokenizer converted from a local .gguf file is kept: rebuilding it from the GGUF
    vocabulary takes transformers ~10 s for a 49k-token BPE, on every load and in every xdist worker.
    Keyed by the file's path, size and modification time; ``$PYTEST_EVALSCOPE_CACHE`` (default
    ``~/.cache/pytest_evalscope``) holds it. None for anything but a local GGUF file."""
    if source.kind != "gguf" or not source.gguf_file:
        return None
    path = Path(source.location, source.gguf_file).resolve()
    try:
        stat = path.stat()
    except OSError:
        return None
    key = hashlib.sha256(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()[:20]
    root = os.environ.get("PYTEST_EVALSCOPE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pytest_evalscope")
    return Path(root, "gguf-tokenizers", key)


def _save_tokenizer(tokenizer: Any, target: Path) -> None:
    """Write the converted tokenizer beside its final place, then rename: workers may race; one wins."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            tokenizer.save_pretrained(tmp)
            os.replace(tmp, target)
            os.mkdir(tmp)  # TemporaryDirectory removes its own path on exit
    except OSError:
        pass  # a read-only or full cache only costs the next load its 10 s


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:300] + "...") if len(text) > 300 else text or type(exc).__name__


def peak_memory(device: str) -> tuple[int, str]:
    """(bytes, what was measured): CUDA's peak allocation on a GPU, else the process's peak RSS."""
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.max_memory_allocated(torch.device(device))), "cuda_max_allocated"
    try:
        import resource
    except ImportError:  # Windows
        return 0, "unavailable"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024), "peak_rss"
