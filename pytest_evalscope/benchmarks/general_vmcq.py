"""General-VMCQ (EvalScope protocol): the user's own multiple-choice questions about images, MMMU style.

- Data: ``{subset}_val`` or ``{subset}`` .jsonl/.csv/.tsv/.parquet/.json in the data folder
  (benchmarks/vision.py); the default subset list is ``["default"]``. Each record is
  ``{"question", "options": [...], "answer": "A", "image_1".."image_100" | "images": [...]}``;
  ``options`` may be a JSON (or Python literal) list in a CSV/TSV cell, without "A." prefixes.
- Prompt: EvalScope's English single-answer chain-of-thought template around the question and the
  options (``A) text``), 0-shot (EvalScope disables few-shot here). Every ``<image N>`` in the
  rendered text, the options' included, becomes image N in place.
- Score: accuracy, the letter after the last ``ANSWER:`` as every multiple-choice adapter extracts it
  (benchmarks/mcq.py, scoring/choices.py).
"""

from __future__ import annotations

import ast
import json
import string
from typing import Any, ClassVar

from ..params import ConfigError
from ..registry import register_benchmark
from .base import Sample
from .mcq import SINGLE_ANSWER_COT, MultipleChoiceBenchmark
from .vision import VisionBenchmark


def options_of(record: dict[str, Any]) -> list[str] | str:
    """The record's options as texts, or what is wrong with them."""
    raw = record.get("options")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            try:
                raw = ast.literal_eval(raw)
            except (ValueError, SyntaxError):
                return "'options' is neither a JSON nor a Python list"
    if not isinstance(raw, list):
        return "no 'options' list; general_vmcq records need question, options (a list) and answer (a letter)"
    return [str(option) for option in raw]


@register_benchmark
class GeneralVMCQ(VisionBenchmark, MultipleChoiceBenchmark):
    name = "general_vmcq"
    pretty_name = "General-VMCQ"
    description = "Your own multiple-choice questions about images (MMMU-style <image N> placeholders), scored by accuracy."
    dataset_id = "general_vmcq"
    subset_list: ClassVar[list[str]] = ["default"]
    eval_split = "val"
    train_split = None  # EvalScope names a dev split but disables few-shot for this benchmark
    prompt_template = SINGLE_ANSWER_COT
    model_adapters: ClassVar[tuple[str, ...]] = ("generation",)  # log-likelihoods need a checkpoint: no images
    extra_params: ClassVar[dict[str, Any]] = dict(VisionBenchmark.image_params)
    needs_setup = "general_vmcq reads your own files: give dataset_args.general_vmcq.local_path"

    def _apply_args(self) -> None:
        super()._apply_args()
        if self.query_template:
            raise ConfigError(f"dataset_args.{self.name}.query_template: {self.name} renders prompt_template only; "
                              "leave query_template out")

    def record_problem(self, record: dict[str, Any]) -> str | None:
        if not isinstance(record.get("question"), str) or not record["question"].strip():
            return "no 'question'; general_vmcq records need question, options (a list) and answer (a letter)"
        options = options_of(record)
        if isinstance(options, str):
            return options
        if len(options) < 2 or len(options) > 26:
            return f"{len(options)} options; give 2 to 26"
        letters = string.ascii_uppercase[: len(options)]
        answer = str(record.get("answer") or "").strip()
        if len(answer) != 1 or answer not in letters:
            return f"answer {record.get('answer')!r} is not one of its option letters {', '.join(letters)}"
        return None

    def record_to_sample(self, record: dict[str, Any], index: int, subset: str) -> Sample:
        options = options_of(record)
        assert isinstance(options, list)  # record_problem checked it
        return Sample(index=index, subset=subset, input=str(record["question"]), target=str(record["answer"]).strip(),
                      metadata={"choices": options, "id": record.get("id")},
                      images=self.media_map(record, self.where(subset, index)))

    def build_messages(self, sample: Sample, fewshot: list[Sample]) -> list[dict[str, Any]]:
        text = self.prompt_template.format(**self.prompt_fields(sample))
        content = self.parts_with_media(text, sample.images or {}, self.where(sample.subset, sample.index))
        messages: list[dict[str, Any]] = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return [*messages, {"role": "user", "content": content}]
