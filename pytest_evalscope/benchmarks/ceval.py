"""C-Eval (EvalScope protocol): the val split of 52 subjects, 5-shot from dev, EvalScope's C-Eval prompt.

- Prompt: `以下是中国关于{subject}的单项选择题…` with the subject's Chinese name and choices written `A. text`.
  With examples, the user message is the few-shot header (`以下是一些示例问题：\\n\\n{fewshot}\\n\\n`), a
  newline, then that prompt. Each example is `问题：…\\n选项：\\nA. …\\n解析：{explanation}\\n答案：X`, and
  the examples are joined by a blank line.
- Answer: as in EvalScope 1.14.1's C-Eval adapter, the multiple-choice parser shared with the other
  adapters (`scoring.choices.extract_choice`): the label after the last `答案：` / `答案:` (spaces, bold,
  brackets and LaTeX allowed: `答案： D`, `答案：**D**`, `答案：(D)`, `答案：$\\boxed{B}$`), else the last
  capital letter of the reply (`所以答案是D`, `故选B`).
- Records: the hub schema (`evalscope/ceval`, and `ceval/ceval-exam` on Hugging Face), which is also the
  layout of the ceval-exam CSVs: id, question, A, B, C, D, answer, explanation. A local folder may be in
  the loader's usual layout (`<subject>/val.csv`) or the ceval-exam zip's (`val/<subject>_val.csv`).
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any, ClassVar

from ..datasets.local import read_file, require_fields
from ..registry import register_benchmark
from .base import Sample
from .mcq import CHINESE_FEW_SHOT_HEADER, MultipleChoiceBenchmark

# subject -> (Chinese name used in the prompt, category); EvalScope's order and names.
SUBJECTS: dict[str, tuple[str, str]] = {
    "computer_network": ("计算机网络", "STEM"),
    "operating_system": ("操作系统", "STEM"),
    "computer_architecture": ("计算机组成", "STEM"),
    "college_programming": ("大学编程", "STEM"),
    "college_physics": ("大学物理", "STEM"),
    "college_chemistry": ("大学化学", "STEM"),
    "advanced_mathematics": ("高等数学", "STEM"),
    "probability_and_statistics": ("概率统计", "STEM"),
    "discrete_mathematics": ("离散数学", "STEM"),
    "electrical_engineer": ("注册电气工程师", "STEM"),
    "metrology_engineer": ("注册计量师", "STEM"),
    "high_school_mathematics": ("高中数学", "STEM"),
    "high_school_physics": ("高中物理", "STEM"),
    "high_school_chemistry": ("高中化学", "STEM"),
    "high_school_biology": ("高中生物", "STEM"),
    "middle_school_mathematics": ("初中数学", "STEM"),
    "middle_school_biology": ("初中生物", "STEM"),
    "middle_school_physics": ("初中物理", "STEM"),
    "middle_school_chemistry": ("初中化学", "STEM"),
    "veterinary_medicine": ("兽医学", "STEM"),
    "college_economics": ("大学经济学", "Social Science"),
    "business_administration": ("工商管理", "Social Science"),
    "marxism": ("马克思主义基本原理", "Social Science"),
    "mao_zedong_thought": ("毛泽东思想和中国特色社会主义理论体系概论", "Social Science"),
    "education_science": ("教育学", "Social Science"),
    "teacher_qualification": ("教师资格", "Social Science"),
    "high_school_politics": ("高中政治", "Social Science"),
    "high_school_geography": ("高中地理", "Social Science"),
    "middle_school_politics": ("初中政治", "Social Science"),
    "middle_school_geography": ("初中地理", "Social Science"),
    "modern_chinese_history": ("近代史纲要", "Humanities"),
    "ideological_and_moral_cultivation": ("思想道德修养与法律基础", "Humanities"),
    "logic": ("逻辑学", "Humanities"),
    "law": ("法学", "Humanities"),
    "chinese_language_and_literature": ("中国语言文学", "Humanities"),
    "art_studies": ("艺术学", "Humanities"),
    "professional_tour_guide": ("导游资格", "Humanities"),
    "legal_professional": ("法律职业资格", "Humanities"),
    "high_school_chinese": ("高中语文", "Humanities"),
    "high_school_history": ("高中历史", "Humanities"),
    "middle_school_history": ("初中历史", "Humanities"),
    "civil_servant": ("公务员", "Other"),
    "sports_science": ("体育学", "Other"),
    "plant_protection": ("植物保护", "Other"),
    "basic_medicine": ("基础医学", "Other"),
    "clinical_medicine": ("临床医学", "Other"),
    "urban_and_rural_planner": ("注册城乡规划师", "Other"),
    "accountant": ("注册会计师", "Other"),
    "fire_engineer": ("注册消防工程师", "Other"),
    "environmental_impact_assessment_engineer": ("环境影响评价工程师", "Other"),
    "tax_accountant": ("税务师", "Other"),
    "physician": ("医师资格", "Other"),
}

CEVAL_PROMPT = (
    "以下是中国关于{subject}的单项选择题，请选出其中的正确答案。你的回答的最后一行应该是这样的格式："
    "\"答案：[LETTER]\"（不带引号），其中 [LETTER] 是 A、B、C、D 中的一个。\n\n问题：{question}\n选项：\n{choices}\n"
)
_OPTIONS = ("A", "B", "C", "D")


def render_dotted(choices: list[str]) -> str:
    """C-Eval's option lines: `A. text`."""
    return "\n".join(f"{string.ascii_uppercase[i]}. {choice}" for i, choice in enumerate(choices))


@register_benchmark
class CEval(MultipleChoiceBenchmark):
    answer_cue = "答案："
    name = "ceval"
    pretty_name = "C-Eval"
    description = "Chinese exam questions in 52 subjects (STEM, social science, humanities, other), 5-shot."
    dataset_id = "evalscope/ceval"
    hf_dataset_id = "ceval/ceval-exam"
    subset_list: ClassVar[list[str]] = list(SUBJECTS)
    default_subset = "computer_network"
    eval_split = "val"
    train_split = "dev"
    few_shot_num = 5
    prompt_template = CEVAL_PROMPT
    few_shot_prompt_template = CHINESE_FEW_SHOT_HEADER
    required_fields = ("question", "A", "B", "C", "D", "answer")
    category_map: ClassVar[dict[str, str]] = {subject: category for subject, (_, category) in SUBJECTS.items()}

    def load_records(self, subset: str, split: str) -> list[dict[str, Any]]:
        zip_layout = Path(self.dataset_id).expanduser() / split / f"{subset}_{split}.csv"
        if not zip_layout.is_file():
            return super().load_records(subset, split)
        records = read_file(zip_layout)
        require_fields(records, self.required_fields, str(zip_layout), self.name)
        return records

    def record_to_sample(self, record: dict[str, Any], index: int, subset: str) -> Sample:
        choices = [str(record[letter]) for letter in _OPTIONS]
        target = str(record["answer"]).strip().upper()
        if target not in _OPTIONS:
            raise ValueError(f"answer {record['answer']!r} is not one of A, B, C, D")
        return Sample(index=index, subset=subset, input=str(record["question"]), target=target,
                      metadata={"choices": choices, "id": record.get("id", ""),
                                "explanation": record.get("explanation") or "", "subject": subset})

    def prompt_fields(self, sample: Sample) -> dict[str, str]:
        subject = SUBJECTS[sample.subset][0] if sample.subset in SUBJECTS else sample.subset
        return {**super().prompt_fields(sample), "choices": render_dotted(sample.metadata["choices"]), "subject": subject}

    def format_fewshot(self, sample: Sample) -> str:
        return (f"问题：{sample.input}\n选项：\n{render_dotted(sample.metadata['choices'])}\n"
                f"解析：{sample.metadata['explanation']}\n答案：{sample.target}")

    def build_messages(self, sample: Sample, fewshot: list[Sample]) -> list[dict[str, str]]:
        # EvalScope's C-Eval puts the header (with the examples) before the whole prompt, a newline between.
        fields = self.prompt_fields(sample)
        content = self.prompt_template.format(**fields)
        if fewshot and self.few_shot_prompt_template:
            examples = "\n\n".join(self.format_fewshot(s) for s in fewshot)
            content = self.few_shot_prompt_template.format(fewshot=examples, **fields) + "\n" + content
        if self.query_template:
            content = self.query_template.format(question=content)
        messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return messages + [{"role": "user", "content": content}]
