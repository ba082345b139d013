"""Render EvalScope 1.14.1's general_vqa and general_vmcq requests for the example image data and store
them as a test fixture (tests/fixtures/evalscope_image_prompts.json).

Run with EvalScope's interpreter, from anywhere:

    /work/evalscope-venv/bin/python scripts/evalscope_image_fixtures.py [DATA_ROOT]

DATA_ROOT (default ../shared/datasets/evalscope_rag_examples) is made the working directory, because
EvalScope opens a relative image path from there. Each `data:` URI of the rendered messages is replaced
by `sha256:<hex of the decoded bytes>` plus its MIME type, so the fixture stays small and still pins the
exact bytes EvalScope sends. The project's tests read the fixture only; they never import EvalScope.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "evalscope_image_prompts.json"
CASES = {  # fixture name -> (benchmark, dataset folder, subset)
    "general_vqa": ("general_vqa", "custom_eval/multimodal/vqa", "example_openai"),
    "general_vmcq": ("general_vmcq", "custom_eval/multimodal/mcq", "example"),
}


def _hashed(value: object) -> object:
    """The messages with each data URI as `sha256:<hex>` of its bytes (and its MIME type kept)."""
    if isinstance(value, dict):
        return {k: _hashed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_hashed(v) for v in value]
    if isinstance(value, str) and value.startswith("data:") and ";base64," in value:
        head, _, data = value.partition(";base64,")
        return f"{head};sha256:{hashlib.sha256(base64.b64decode(data)).hexdigest()}"
    return value


def render(benchmark: str, folder: str, subset: str) -> list[dict[str, object]]:
    from evalscope.api.registry import get_benchmark
    from evalscope.config import TaskConfig
    from evalscope.models.utils.openai import openai_chat_messages

    config = TaskConfig(model="dummy", eval_type="mock_llm", datasets=[benchmark],
                        dataset_args={benchmark: {"local_path": folder, "subset_list": [subset]}})
    adapter = get_benchmark(benchmark, config)
    data = adapter.load_dataset()
    samples = []
    for sample in data[subset]:
        messages = openai_chat_messages(sample.input)
        samples.append({"messages": _hashed(messages), "target": sample.target, "choices": sample.choices})
    return samples


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else
                Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "evalscope_rag_examples")
    os.chdir(root)
    import evalscope

    fixture = {"evalscope_version": evalscope.__version__, "data_root": "evalscope_rag_examples",
               "cases": {name: {"benchmark": b, "local_path": f, "subset": s, "samples": render(b, f, s)}
                         for name, (b, f, s) in CASES.items()}}
    OUT.write_text(json.dumps(fixture, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
