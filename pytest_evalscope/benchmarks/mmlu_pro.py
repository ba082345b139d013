"""MMLU-Pro with EvalScope 1.14.1's protocol: 12,032 questions with up to ten options (A-J) in 14
categories, 5-shot chain of thought from the validation split of the same category.

`TIGER-Lab/MMLU-Pro` (the same id on ModelScope and Hugging Face), config `default`; like EvalScope,
each split is loaded once and regrouped by `category` (lower-cased) into the 14 subsets, in EvalScope's
order. A subset's examples are the first five validation rows of its category, shown with their
`cot_content` ("The answer is (X)." rewritten to "ANSWER: X."), under the lm-evaluation-harness
header that names the category. The target is the record's `answer` letter (one upstream row,
question_id 3983, has answer C but answer_index 1: the letter wins, as in EvalScope).
The answer is read by the shared multiple-choice rule over as many letters as the question has options.

A local copy is a folder with the hub's parquet shards (`data/test-00000-of-00001.parquet`,
`data/validation-...`) or `test.jsonl` / `validation.jsonl` in the hub schema.
"""

from __future__ import annotations

import string
from collections import defaultdict
from typing import Any, ClassVar

from ..datasets.hub import load_split
from ..datasets.local import DatasetError, require_fields
from ..registry import register_benchmark
from .base import Sample
from .mcq import MultipleChoiceBenchmark

# EvalScope's SYSTEM_W_EXAMPLES_PROMPT_TEMPLATE + "\n" + USER_PROMPT_TEMPLATE (its format_fewshot_template),
# byte for byte; `{fewshot}` stands where EvalScope writes `{examples}`.
FEWSHOT_HEADER = ("The following are multiple choice questions (with answers) about {subject}. Think step by step and "
                  "then finish your answer with 'ANSWER: [LETTER]' (without quotes) where [LETTER] is the correct letter "
                  "choice.\n\n{fewshot}\n")
PROMPT = ("Answer the following multiple choice question. The last line of your response should be of the following "
          "format: 'ANSWER: [LETTER]' (without quotes) where [LETTER] is one of {letters}. Think step by step before "
          "answering.\n\nQuestion:\n{question}\nOptions:\n{choices}\n")

# EvalScope's SUBSET_LIST order
CATEGORIES = ["computer science", "math", "chemistry", "engineering", "law", "biology", "health", "physics",
              "business", "philosophy", "economics", "other", "psychology", "history"]


def fewshot_answer(cot: str) -> str:
    """A validation row's worked answer as EvalScope shows it: "The answer is (X)." becomes "ANSWER: X."."""
    text = cot.replace("The answer is", "ANSWER:")
    letter = text.split("ANSWER:")[-1].split(".")[0].strip().strip("(").strip(")")
    return text.replace(f"ANSWER: ({letter})", f"ANSWER: {letter}")


@register_benchmark
class MMLUPro(MultipleChoiceBenchmark):
    name = "mmlu_pro"
    pretty_name = "MMLU-Pro"
    description = ("MMLU-Pro: harder, reasoning-focused multiple-choice questions with up to ten options, "
                   "in 14 categories.")
    dataset_id = "TIGER-Lab/MMLU-Pro"
    hf_dataset_id = "TIGER-Lab/MMLU-Pro"
    subset_list: ClassVar[list[str]] = list(CATEGORIES)
    default_subset = "default"
    eval_split = "test"
    train_split = "validation"
    few_shot_num = 5
    prompt_template = PROMPT
    few_shot_prompt_template = FEWSHOT_HEADER + "\n" + PROMPT
    required_fields = ("question", "options", "answer", "category")

    def _apply_args(self) -> None:
        super()._apply_args()
        self.default_subset = str(self.args.get("default_subset", type(self).default_subset))  # type: ignore[misc]
        self._by_category: dict[str, dict[str, list[dict[str, Any]]]] = {}

    def load_records(self, subset: str, split: str) -> list[dict[str, Any]]:
        if split not in self._by_category:
            records = load_split(self.source(), self.default_subset, split)
            require_fields(records, self.required_fields, f"{self.dataset_id} ({self.default_subset}/{split})", self.name)
            grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for record in records:
                grouped[str(record["category"]).lower()].append(record)
            self._by_category[split] = dict(grouped)
        return self._by_category[split].get(subset, [])

    def fewshot_samples(self, subset: str) -> list[Sample]:
        samples = super().fewshot_samples(subset)
        if len(samples) < self.few_shot_num:  # EvalScope asserts the same
            raise DatasetError(f"{self.name} {subset}/{self.train_split}: only {len(samples)} few-shot examples, "
                               f"but few_shot_num is {self.few_shot_num}; reduce few_shot_num")
        return samples

    def record_to_sample(self, record: dict[str, Any], index: int, subset: str) -> Sample:
        choices = [str(c) for c in record["options"]]
        target = str(record["answer"]).strip()
        if target not in string.ascii_uppercase[: len(choices)]:
            raise ValueError(f"answer {record['answer']!r} is not one of the {len(choices)} option letters")
        return Sample(index=index, subset=subset, input=str(record["question"]), target=target,
                      metadata={"choices": choices, "subject": str(record["category"]).lower(),
                                "question_id": record.get("question_id"), "src": record.get("src"),
                                **({"cot_content": str(record["cot_content"])} if record.get("cot_content") else {})})

    def prompt_fields(self, sample: Sample) -> dict[str, str]:
        return {**super().prompt_fields(sample), "subject": sample.metadata["subject"]}

    def format_fewshot(self, sample: Sample) -> str:
        options = "\n".join(f"{string.ascii_uppercase[i]} {c}" for i, c in enumerate(sample.metadata["choices"]))
        return f"Question:\n{sample.input}\nOptions:\n{options}\n{fewshot_answer(sample.metadata.get('cot_content', ''))}"
