"""Record what EvalScope 1.14.1 itself says of each documented backend config (tests/fixtures/backend_configs).

Run with EvalScope's interpreter, not this project's:

    /work/evalscope-venv/bin/python scripts/backend_config_parity.py tests/fixtures/backend_configs/examples.json

For RAGEval configs it validates ``eval_config`` with EvalScope's own pydantic models (MTEBToolConfig,
RAGASToolConfig, ClipBenchmarkToolConfig), loaded from their files so the rag_eval package's imports of torch
and sentence-transformers are not needed, and writes ``accepts`` or ``refuses: <first error>`` into each
example's ``evalscope_1_14_1``. OpenCompass and VLMEvalKit configs go to those backends' own argument
classes, which are not installed here; they are marked as not checked.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import evalscope

BASE = Path(evalscope.__file__).parent / "backend" / "rag_eval"


def _load(relative: str, name: str):
    spec = importlib.util.spec_from_file_location(name, BASE / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def verdict(tools: dict, task_config: dict) -> str:
    if task_config["eval_backend"] != "RAGEval":
        return "not checked (EvalScope hands it to the backend's own argument class)"
    config = dict(task_config["eval_config"])
    try:
        tools[str(config.get("tool", "")).lower()](**config)
    except Exception as exc:  # pydantic's ValidationError: the first error, as a path and message
        errors = exc.errors() if hasattr(exc, "errors") else []
        if errors:
            return f"refuses: {'.'.join(str(x) for x in errors[0]['loc'])}: {errors[0]['msg']}"
        return "refuses: " + str(exc).splitlines()[0]
    return "accepts"


def main(path: str) -> None:
    tools = {"mteb": _load("mteb/arguments.py", "es_mteb").MTEBToolConfig,
             "ragas": _load("ragas/arguments.py", "es_ragas").RAGASToolConfig,
             "clip_benchmark": _load("clip_benchmark/arguments.py", "es_clip").ClipBenchmarkToolConfig}
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    for example in data["examples"]:
        example["evalscope_1_14_1"] = verdict(tools, example["task_config"])
    Path(path).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"evalscope {evalscope.__version__}: {sum(e['evalscope_1_14_1'] == 'accepts' for e in data['examples'])} accepted")


if __name__ == "__main__":
    main(sys.argv[1])
