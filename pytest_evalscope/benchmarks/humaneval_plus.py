"""HumanEval+ with EvalScope 1.14.1's protocol: HumanEval's 164 problems with EvalPlus's extended tests.

`evalscope/humanevalplus` (HF `evalplus/humanevalplus`), subset `default`, split test, 0-shot, HumanEval's
prompt. Each record's `test` defines `check(candidate)` over the base and the generated (plus) inputs;
it runs as the trusted tests, the prompt and the reply's code as the untrusted program, exactly as
HumanEval (`benchmarks.humaneval`: the same code extraction, the same sandbox, the operator's isolation).
`acc` per sample, `mean_and_pass_at_k`, primary metric pass@1.

`review_timeout` (or `extra_params.timeout`) defaults to EvalScope's 300 s per program: the plus tests
are long (HumanEval/130 calls the function with n = 1,000,000, and values cross between the program
and the tests as data, which costs more than EvalScope's single process).

HumanEval/32's test is broken in the published data (`_poly(*candidate(*inp), inp)` unpacks the float
the function returns): it fails for every reply, the canonical solution included, in EvalScope as here.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..registry import register_benchmark
from .code_common import CodeBenchmark
from .humaneval import PROMPT


@register_benchmark
class HumanEvalPlus(CodeBenchmark):
    name = "humaneval_plus"
    pretty_name = "HumanEvalPlus"
    description = ("HumanEval's 164 functions checked by EvalPlus's extended tests (base inputs plus generated "
                   "edge cases), run in a sandbox.")
    dataset_id = "evalscope/humanevalplus"
    hf_dataset_id = "evalplus/humanevalplus"
    subset_list: ClassVar[list[str]] = ["default"]
    default_subset = "default"
    prompt_template = PROMPT
    extra_params: ClassVar[dict[str, Any]] = {"timeout": 300.0}
