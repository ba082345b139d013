"""MBPP with EvalScope 1.14.1's protocol: 500 test problems, its fixed 3-shot prompt, code run in a sandbox.

`google-research-datasets/mbpp`, subset `full`, eval split `test` (tasks 11-510); EvalScope's few-shot
mode is *fixed*: the three examples (tasks 2, 3 and 4 of the `prompt` split, with `[BEGIN]` and `[DONE]`
around their code) are part of the template, so nothing is drawn. `few_shot_num` is 3 (EvalScope's
default) or 0 (the bare task); anything else is refused. A `local_path` may name the authors'
`mbpp.jsonl` (all 974 tasks): each split is then cut from it by task id, as Hugging Face's `full`
configuration is (prompt 1-10, test 11-510, validation 511-600, train 601-974).

The reply's code is read as EvalScope reads it (`scoring.code_extract.extract_freeform`: the text before
`[DONE]`, the first fenced block, else the first function with its imports; cut at an echoed `assert`),
then `test_setup_code + "\\n" + code` is the untrusted program and the three `assert` lines of
`test_list` are the trusted tests (`code_common.bind_tests` makes the modules and redefined builtins of
the program reachable from them). `acc` per sample, `mean_and_pass_at_k`, primary metric pass@1;
`review_timeout` defaults to EvalScope's 20 s.

Task 367 cannot pass, here as in EvalScope: its `test_setup_code` builds a tree with `Node(...)` and
EvalScope places that code *before* the solution that defines `Node`, so every reply fails with
NameError (the canonical solution included). We keep EvalScope's order so the scores agree.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..params import ConfigError
from ..registry import register_benchmark
from ..scoring.code_extract import extract_freeform
from .base import Sample
from .code_common import CodeBenchmark, bind_tests, string_list

# EvalScope's mbpp PROMPT and FEWSHOT_PROMPT, equal byte for byte (tests/fixtures/evalscope_prompts/mbpp.json)
PROMPT = "You are an expert Python programmer, and here is your task: {question} Your code should pass these tests:\n\n{tests}"
_EXAMPLES = (
    ("Write a function to find the similar elements from the given two tuple lists.",
     "assert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)\nassert similar_elements((1, 2, 3, 4),(5, 4, 3, 7)) "
     "== (3, 4)\nassert similar_elements((11, 12, 14, 13),(17, 15, 14, 13)) == (13, 14)",
     "def similar_elements(test_tup1, test_tup2):\r\n  res = tuple(set(test_tup1) & set(test_tup2))\r\n  return (res)"),
    ("Write a python function to identify non-prime numbers.",
     "assert is_not_prime(2) == False\nassert is_not_prime(10) == True\nassert is_not_prime(35) == True",
     "import math\r\ndef is_not_prime(n):\r\n    result = False\r\n    for i in range(2,int(math.sqrt(n)) + 1):\r\n"
     "        if n % i == 0:\r\n            result = True\r\n    return result"),
    ("Write a function to find the largest integers from a given list of numbers using heap queue algorithm.",
     "assert heap_queue_largest( [25, 35, 22, 85, 14, 65, 75, 22, 58],3)==[85, 75, 65]\nassert heap_queue_largest( "
     "[25, 35, 22, 85, 14, 65, 75, 22, 58],2)==[85, 75]\nassert heap_queue_largest( [25, 35, 22, 85, 14, 65, 75, 22, "
     "58],5)==[85, 75, 65, 58, 35]",
     "import heapq as hq\r\ndef heap_queue_largest(nums,n):\r\n  largest_nums = hq.nlargest(n, nums)\r\n  return largest_nums"),
)
FEWSHOT_PROMPT = "".join(PROMPT.format(question=q, tests=t) + f"\n[BEGIN]\n{c}\n[DONE]\n" for q, t, c in _EXAMPLES) \
    + PROMPT + "\n[BEGIN]\n"
# the `full` configuration's splits, by task id
SPLITS = {"prompt": (1, 10), "test": (11, 510), "validation": (511, 600), "train": (601, 974)}


def cut_main(code: str) -> str:
    """EvalScope drops everything from the first `if __name__ ==` on."""
    return code[: code.index("if __name__ ==")] if "if __name__ ==" in code else code


@register_benchmark
class MBPP(CodeBenchmark):
    name = "mbpp"
    pretty_name = "MBPP"
    description = "974 crowd-sourced entry-level Python problems (500 in the test split), each checked by three asserts."
    dataset_id = "google-research-datasets/mbpp"
    hf_dataset_id = "google-research-datasets/mbpp"
    subset_list: ClassVar[list[str]] = ["full"]
    default_subset = "full"
    eval_split = "test"
    train_split = "prompt"
    few_shot_num = 3
    prompt_template = PROMPT
    few_shot_prompt_template = FEWSHOT_PROMPT
    required_fields = ("task_id", "text", "code", "test_list", "test_setup_code")
    extra_params: ClassVar[dict[str, Any]] = {"timeout": 20.0}

    def _apply_args(self) -> None:
        super()._apply_args()
        if self.few_shot_num not in (0, 3):
            raise ConfigError(f"dataset_args.{self.name}.few_shot_num: EvalScope's MBPP prompt is fixed 3-shot or "
                              f"0-shot; got {self.few_shot_num}")

    def load_records(self, subset: str, split: str) -> list[dict[str, Any]]:
        records = super().load_records(subset, split)
        low, high = SPLITS.get(split, (None, None))
        if low is None:
            return records
        return [r for r in records if low <= int(r["task_id"]) <= high]

    def fewshot_samples(self, subset: str) -> list[Sample]:
        return []  # the examples are in the template (EvalScope's fixed few-shot mode)

    def record_to_sample(self, record: dict[str, Any], index: int, subset: str) -> Sample:
        return Sample(index=index, subset=subset, input=str(record["text"]), target=str(record["code"]),
                      metadata={"task_id": int(record["task_id"]), "test_list": string_list(record["test_list"], "test_list"),
                                "test_setup_code": str(record["test_setup_code"] or "")})

    def prompt_fields(self, sample: Sample) -> dict[str, str]:
        return {"question": sample.input, "tests": "\n".join(sample.metadata["test_list"])}

    def build_messages(self, sample: Sample, fewshot: list[Sample]) -> list[dict[str, str]]:
        template = self.few_shot_prompt_template if self.few_shot_num else self.prompt_template
        content = str(template).format(**self.prompt_fields(sample))
        if self.query_template:
            content = self.query_template.format(question=content)
        return ([{"role": "system", "content": self.system_prompt}] if self.system_prompt else []) + \
            [{"role": "user", "content": content}]

    def code_of(self, sample: Sample, text: str) -> str:
        return extract_freeform(text)

    def check_for(self, sample: Sample, code: str) -> tuple[str, str]:
        program = cut_main(sample.metadata["test_setup_code"] + "\n" + code)
        return bind_tests(program + "\n", "".join(test + "\n" for test in sample.metadata["test_list"]))

