"""SimpleQA and Chinese SimpleQA: short factual questions graded by a judge, as EvalScope 1.14.1 does.

- ``simple_qa`` (`evalscope/SimpleQA`, HF `basicv8vc/SimpleQA`; 4,326 questions): prompt
  ``Answer the question:\\n\\n{question}``; local data is the authors' ``simple_qa_test_set.csv``
  (``metadata, problem, answer``).
- ``chinese_simpleqa`` (`AI-ModelScope/Chinese-SimpleQA`, split ``train``; 3,000 questions in 6 subsets,
  one per ``primary_category``): prompt ``请回答问题：\\n\\n{question}``, with EvalScope's system prompt
  for the judge.

The judge gets each benchmark's grader prompt (judge/prompts/) and answers A (correct), B
(incorrect) or C (not attempted); the sample's metrics are ``is_correct``, ``is_incorrect`` and
``is_not_attempted`` (primary ``is_correct``), and a sample passes when graded A. Reports add the
F-score of accuracy given attempted (``attempted_scores``). There is no rule: ``judge_strategy``
``auto`` means the judge, and ``rule`` is refused.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, ClassVar

from ..datasets.local import read_file, require_fields
from ..judge.contract import JudgeDefinition, template
from ..params import ConfigError
from ..registry import register_benchmark
from .base import Benchmark, Sample, Score

GRADES = {"A": {"is_correct": 1.0, "is_incorrect": 0.0, "is_not_attempted": 0.0},
          "B": {"is_correct": 0.0, "is_incorrect": 1.0, "is_not_attempted": 0.0},
          "C": {"is_correct": 0.0, "is_incorrect": 0.0, "is_not_attempted": 1.0}}


class _JudgedQA(Benchmark):
    scoring_policy = "judge_only"
    explain_failures = True
    metric_list: ClassVar[list[Any]] = ["is_correct", "is_incorrect", "is_not_attempted"]
    primary_metric = "is_correct"
    few_shot_num = 0
    train_split = None
    grader: ClassVar[str]
    grader_system: ClassVar[str | None] = None
    words: ClassVar[dict[str, str]]
    data_file: ClassVar[str]  # the authors' file name in a local folder
    subset_field: ClassVar[str | None] = None  # the record field that names a record's subset (EvalScope's subset_key)

    def score(self, sample: Sample, answer_text: str) -> Score:
        raise ConfigError(f"{self.name} has no rule to score by; it is graded by a judge (judge_model_args)")

    def judge_definition(self, sample: Sample, prediction: str, answer_text: str, settings: Any) -> JudgeDefinition:
        # EvalScope grades the filtered prediction (reasoning removed) against the question as asked
        prompt = template(self.grader).format(question=sample.input, target=sample.target, predicted_answer=answer_text)
        system = template(self.grader_system) if self.grader_system else None
        return JudgeDefinition(prompt, system, GRADES, dict(self.words), "is_correct", correct_label="A")

    def score_from_verdict(self, sample: Sample, verdict: Any, rule: Score | None) -> Score:
        return Score(dict(verdict.value), str(verdict.verdict), verdict.passed,
                     explanation=f"judge: {verdict.verdict} ({self.words[str(verdict.verdict)]})")

    def load_records(self, subset: str, split: str) -> list[dict[str, Any]]:
        folder = Path(self.dataset_id).expanduser()
        if folder.is_dir() and (folder / self.data_file).is_file():  # the authors' file, as distributed
            records = read_file(folder / self.data_file)
            require_fields(records, self.required_fields, str(folder / self.data_file), self.name)
            return self.filter_subset(records, subset)
        return self.filter_subset(super().load_records(subset if not self.subset_field else "default", split), subset)

    def filter_subset(self, records: list[dict[str, Any]], subset: str) -> list[dict[str, Any]]:
        if self.subset_field is None:
            return records
        return [r for r in records if r.get(self.subset_field) == subset]


@register_benchmark
class SimpleQA(_JudgedQA):
    name = "simple_qa"
    pretty_name = "SimpleQA"
    description = "Short, fact-seeking questions with one indisputable answer, graded correct, incorrect or not attempted by a judge."
    dataset_id = "evalscope/SimpleQA"
    hf_dataset_id = "basicv8vc/SimpleQA"
    subset_list: ClassVar[list[str]] = ["default"]
    default_subset = "default"
    eval_split = "test"
    prompt_template = "Answer the question:\n\n{question}"
    required_fields = ("problem", "answer")
    grader = "simple_qa"
    words: ClassVar[dict[str, str]] = {"A": "CORRECT", "B": "INCORRECT", "C": "NOT_ATTEMPTED"}
    data_file = "simple_qa_test_set.csv"

    def record_to_sample(self, record: dict[str, Any], index: int, subset: str) -> Sample:
        meta = record.get("metadata")
        try:
            metadata = ast.literal_eval(meta) if isinstance(meta, str) and meta.strip() else dict(meta or {})
        except (ValueError, SyntaxError):
            metadata = {"raw": meta}
        return Sample(index=index, subset=subset, input=str(record["problem"]), target=str(record["answer"]),
                      metadata=metadata if isinstance(metadata, dict) else {"raw": meta})


@register_benchmark
class ChineseSimpleQA(_JudgedQA):
    name = "chinese_simpleqa"
    pretty_name = "Chinese-SimpleQA"
    description = "Short Chinese factual questions in six domains, graded correct, incorrect or not attempted by a judge."
    dataset_id = "AI-ModelScope/Chinese-SimpleQA"
    hf_dataset_id = "OpenStellarTeam/Chinese-SimpleQA"
    subset_list: ClassVar[list[str]] = ["中华文化", "人文与社会科学", "工程、技术与应用科学", "生活、艺术与文化", "社会", "自然与自然科学"]
    default_subset = "中华文化"
    eval_split = "train"
    prompt_template = "请回答问题：\n\n{question}"
    required_fields = ("question", "answer", "primary_category")
    grader = "chinese_simpleqa"
    grader_system = "chinese_simpleqa_system"
    words: ClassVar[dict[str, str]] = {"A": "正确", "B": "错误", "C": "未尝试"}
    data_file = "chinese_simpleqa.jsonl"
    subset_field = "primary_category"

    def record_to_sample(self, record: dict[str, Any], index: int, subset: str) -> Sample:
        return Sample(index=index, subset=subset, input=str(record["question"]), target=str(record["answer"]),
                      metadata={"id": record.get("id", "unknown"), "primary_category": record.get("primary_category"),
                                "secondary_category": record.get("secondary_category", "")})
