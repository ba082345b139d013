"""BBH (BIG-Bench Hard) with EvalScope's protocol: 27 tasks, 3-shot chain of thought, "So the answer is X".

- Data: `evalscope/bbh`, one subset per task, split `test`, records `{input, target}`. A local folder may hold
  the hub schema (`<task>/test.jsonl`, ...) or the original repository's layout (`<task>.json` or
  `bbh/<task>.json`, each `{"examples": [...]}`).
- Few-shot: EvalScope ships the official CoT prompt of each task and puts it, stripped, before the question
  (`few_shot_num` is 3 or 0; any other value means 3, as in EvalScope). We do not ship them: they are read
  from `cot-prompts/<task>.txt` (the official files; everything up to the `-----` line is dropped) in the
  local dataset folder or its parent, or from `extra_params.cot_prompts_dir` (our own key).
- Gold: for the multiple-choice tasks, the target with every `(` and `)` removed, then stripped ("(A)" -> "A");
  free-form targets are only stripped (as in EvalScope 1.14.1: in dyck_languages the brackets are the
  answer, ") ]" stays ") ]").
- Extraction, after the last "So the answer is ", on the first line, without a final period:
  multiple choice: `(X)` if present, else a standalone capital letter, else the text itself;
  free form: the text, or what is inside `**...**` when it is bold. An empty result counts as unparsed.
- Comparison: EvalScope's `acc` (exact match after strip and lower case).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, ClassVar

from ..datasets.local import DatasetError, find_split_files
from ..params import parse_int
from ..registry import register_benchmark
from .base import Benchmark, Sample

MULTIPLE_CHOICE = "multiple_choice"
FREE_FORM = "free_form"

MULTIPLE_CHOICE_TASKS = [
    "temporal_sequences", "disambiguation_qa", "date_understanding", "tracking_shuffled_objects_three_objects",
    "penguins_in_a_table", "geometric_shapes", "snarks", "ruin_names", "tracking_shuffled_objects_seven_objects",
    "tracking_shuffled_objects_five_objects", "logical_deduction_three_objects", "hyperbaton",
    "logical_deduction_five_objects", "logical_deduction_seven_objects", "movie_recommendation",
    "salient_translation_error_detection", "reasoning_about_colored_objects",
]
FREE_FORM_TASKS = [
    "multistep_arithmetic_two", "navigate", "dyck_languages", "word_sorting", "sports_understanding",
    "boolean_expressions", "object_counting", "formal_fallacies", "causal_judgement", "web_of_lies",
]

PROMPT = ("Q: {question}\nA: Let's think step by step. Put your final answer in the format of "
          "\"So the answer is [ANSWER]\" (without quotes and markdown) where [ANSWER] is the answer to the problem.\n")
FEWSHOT_PROMPT = "{fewshot}\n\n" + PROMPT

COT_DIRS = ("cot-prompts", "cot_prompts")
_ANSWER_MARKER = "So the answer is "
_BRACKETED = re.compile(r"\(([A-Z])\)")
_LETTER = re.compile(r"\b([A-Z])\b")
_BOLD = re.compile(r"\*\*(.*?)\*\*")


def task_type(task: str) -> str:
    return MULTIPLE_CHOICE if task in MULTIPLE_CHOICE_TASKS else FREE_FORM


def gold_from_target(target: str, task: str | None = None) -> str:
    """The gold answer of a record: "(A)" -> "A" on a multiple-choice task; a free-form target as it is."""
    if task is not None and task_type(task) == FREE_FORM:
        return target.strip()
    return target.replace("(", "").replace(")", "").strip()


def _answer_line(text: str) -> str:
    """The text after the last "So the answer is ", its first line, without a final period."""
    text = text.strip()
    if _ANSWER_MARKER in text:
        text = text.split(_ANSWER_MARKER)[-1].strip()
    text = text.split("\n")[0].strip()
    return text[:-1].strip() if text.endswith(".") else text


def extract_multiple_choice(text: str) -> str:
    line = _answer_line(text)
    for pattern in (_BRACKETED, _LETTER):
        match = pattern.search(line)
        if match:
            return match.group(1)
    return line


def extract_free_form(text: str) -> str:
    line = _answer_line(text)
    match = _BOLD.search(line)
    return match.group(1).strip() if match else line


def cot_prompt_text(raw: str) -> str:
    """An official CoT prompt file as EvalScope uses it: without the canary header, stripped."""
    lines = raw.split("\n")
    for number, line in enumerate(lines):
        if line.strip() == "-----":
            lines = lines[number + 1:]
            break
    return "\n".join(lines).strip()


@register_benchmark
class BBH(Benchmark):
    name = "bbh"
    pretty_name = "BBH"
    description = ("The BBH (Big Bench Hard) benchmark is a collection of challenging tasks designed to evaluate the "
                   "reasoning capabilities of AI models. It includes both free-form and multiple-choice tasks, "
                   "covering a wide range of reasoning skills.")
    dataset_id = "evalscope/bbh"
    hf_dataset_id = "lukaemon/bbh"
    subset_list: ClassVar[list[str]] = MULTIPLE_CHOICE_TASKS + FREE_FORM_TASKS
    default_subset = "temporal_sequences"
    eval_split = "test"
    train_split = None
    few_shot_num = 3
    prompt_template = PROMPT
    few_shot_prompt_template = FEWSHOT_PROMPT
    metric_list: ClassVar[list[Any]] = ["acc"]
    required_fields = ("input", "target")
    extra_params: ClassVar[dict[str, Any]] = {"cot_prompts_dir": None}  # ours: where the CoT exemplars are

    # ------------------------------------------------------------ configuration

    def _apply_args(self) -> None:
        where = f"dataset_args.{self.name}"
        args = self.args
        requested = args.get("few_shot_num", type(self).few_shot_num)
        # The base class refuses few-shot without a train split; BBH's examples come from the CoT files.
        self.args = {**args, "few_shot_num": 0}
        try:
            super()._apply_args()
        finally:
            self.args = args
        # EvalScope: 3-shot with CoT or 0-shot; any other value means 3.
        self.few_shot_num = 0 if parse_int(requested, f"{where}.few_shot_num", 0) == 0 else 3
        self.cot_prompts_dir = self.extra["cot_prompts_dir"]

    # ------------------------------------------------------------ data

    def _local_root(self) -> Path | None:
        path = Path(self.dataset_id).expanduser()
        return path if path.exists() else None

    def load_records(self, subset: str, split: str) -> list[dict[str, Any]]:
        root = self._local_root()
        if root is not None and root.is_dir() and not find_split_files(root, subset, split):
            for file in (root / f"{subset}.json", root / "bbh" / f"{subset}.json"):
                if file.is_file():  # the original repository's layout: {"examples": [{input, target}]}
                    try:
                        records = json.loads(file.read_text(encoding="utf-8"))["examples"]
                    except (ValueError, KeyError, TypeError) as exc:
                        raise DatasetError(f"{file}: expected {{\"examples\": [{{\"input\", \"target\"}}]}} ({exc})") from None
                    return list(records)
        return super().load_records(subset, split)

    def record_to_sample(self, record: dict[str, Any], index: int, subset: str) -> Sample:
        return Sample(index=index, subset=subset, input=str(record["input"]), target=gold_from_target(str(record["target"]), subset),
                      metadata={"task_type": task_type(subset)})

    def cot_prompt_candidates(self, subset: str) -> list[Path]:
        folders = []
        if self.cot_prompts_dir:
            folders.append(Path(str(self.cot_prompts_dir)).expanduser())
        root = self._local_root()
        if root is not None:
            base = root if root.is_dir() else root.parent
            folders += [folder / name for folder in (base, base.parent) for name in COT_DIRS]
        return [folder / f"{subset}.txt" for folder in folders]

    def fewshot_samples(self, subset: str) -> list[Sample]:
        """The task's CoT prompt, as one pseudo-sample whose input is the whole exemplar text."""
        if not self.few_shot_num:
            return []
        candidates = self.cot_prompt_candidates(subset)
        for file in candidates:
            if file.is_file():
                text = cot_prompt_text(file.read_text(encoding="utf-8"))
                return [Sample(index=0, subset=subset, input=text, target="", metadata={"cot_prompt": str(file)})]
        tried = ", ".join(str(c) for c in candidates) or "none (no local_path)"
        raise DatasetError(f"{self.name}: no CoT prompt for {subset!r} (tried: {tried}); pass local_path to a folder "
                           f"with cot-prompts/, or extra_params.cot_prompts_dir, or few_shot_num 0")

    def build_messages(self, sample: Sample, fewshot: list[Sample]) -> list[dict[str, str]]:
        if fewshot and self.few_shot_prompt_template:
            content = self.few_shot_prompt_template.format(fewshot=fewshot[0].input, question=sample.input)
        else:
            content = self.prompt_template.format(question=sample.input)
        if self.query_template:
            content = self.query_template.format(question=content)
        messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return messages + [{"role": "user", "content": content}]

    # ------------------------------------------------------------ scoring

    def extract_for(self, sample: Sample, text: str) -> str | None:
        if sample.metadata.get("task_type") == MULTIPLE_CHOICE:
            answer = extract_multiple_choice(text)
        else:
            answer = extract_free_form(text)
        return answer or None

    def extract(self, text: str) -> str | None:
        return extract_free_form(text) or None

    def match(self, extracted: str | None, target: str) -> bool:
        # EvalScope compares strings; an empty extraction equals an empty gold (dyck targets like ")").
        return (extracted or "").strip().lower() == target.strip().lower()
