"""MBPP+ with EvalScope 1.14.1's protocol (evaluation v1.1): 378 MBPP problems with EvalPlus's tests.

`evalscope/mbppplus` (HF `evalplus/mbppplus`), subset `default`, split test, 0-shot, MBPP's bare prompt
(the task and its `test_list` asserts). The reply's code is read as MBPP's (`extract_freeform`, cut at
`if __name__ ==`) and is the untrusted program; the trusted tests are `test_imports`, the `test_list`
asserts and the record's `test` program (the base and plus inputs checked by its `assertion`), joined
as EvalScope joins them after the code (`code_common.bind_tests` makes the program's modules and
redefined builtins reachable). `acc` per sample, `mean_and_pass_at_k`, primary metric pass@1;
`review_timeout` defaults to EvalScope's 60 s.

Four problems cannot be judged by this sandbox, and a reply that meets their limit is an error (it
counts among the errors, never as a pass or a wrong answer; `known_limits`):

- 737, 787, 794 return `re.search(...)`: their tests look at the `re.Match` object itself (its truth,
  `is not None`), and only data (None, numbers, strings, containers) crosses between the program and
  the tests; a reply returning a bool is judged as usual.
- 255 (`combinations_colors(l, 77)` among the plus inputs) builds about 1.7 million 77-tuples, over
  a gigabyte, beyond the sandbox's 1 GiB address space (EvalScope's container sets no limit).
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..registry import register_benchmark
from ..scoring.code_extract import extract_freeform
from .base import Sample
from .code_common import CodeBenchmark, bind_tests, string_list
from .mbpp import PROMPT, cut_main

_MATCH = "the data-only RPC cannot carry the re.Match object its tests inspect"


@register_benchmark
class MBPPPlus(CodeBenchmark):
    name = "mbpp_plus"
    pretty_name = "MBPP-Plus"
    description = "378 MBPP problems with corrected solutions and EvalPlus's extended tests, run in a sandbox."
    dataset_id = "evalscope/mbppplus"
    hf_dataset_id = "evalplus/mbppplus"
    subset_list: ClassVar[list[str]] = ["default"]
    default_subset = "default"
    eval_split = "test"
    prompt_template = PROMPT
    required_fields = ("task_id", "prompt", "code", "test_imports", "test_list", "test")
    extra_params: ClassVar[dict[str, Any]] = {"timeout": 60.0}
    known_limits: ClassVar[dict[str, tuple[str, str]]] = {
        "737": ("cannot be sent to the tests", _MATCH),
        "787": ("cannot be sent to the tests", _MATCH),
        "794": ("cannot be sent to the tests", _MATCH),
        "255": ("MemoryError", "its plus inputs need over 1 GiB, beyond the sandbox's address-space limit"),
    }

    def record_to_sample(self, record: dict[str, Any], index: int, subset: str) -> Sample:
        return Sample(index=index, subset=subset, input=str(record["prompt"]), target=str(record["code"]),
                      metadata={"task_id": int(record["task_id"]), "test_list": string_list(record["test_list"], "test_list"),
                                "test_imports": string_list(record["test_imports"], "test_imports"),
                                "test": str(record["test"])})

    def prompt_fields(self, sample: Sample) -> dict[str, str]:
        return {"question": sample.input, "tests": "\n".join(sample.metadata["test_list"])}

    def code_of(self, sample: Sample, text: str) -> str:
        return cut_main(extract_freeform(text))

    def check_for(self, sample: Sample, code: str) -> tuple[str, str]:
        meta = sample.metadata
        tests = "\n".join([*meta["test_imports"], *meta["test_list"], meta["test"]]) + "\n"
        return bind_tests(code + "\n", tests)
