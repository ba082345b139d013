"""HumanEval with EvalScope's protocol, its completions run in a sandbox.

`opencompass/humaneval` (HF `openai/openai_humaneval`), subset `openai_humaneval`, 0-shot on test,
EvalScope's prompt. The reply's code (see `scoring.code_extract`) is judged by EvalScope's check
program ``prompt + completion + test + check(entry_point)``, run by `scoring.sandbox` in two
processes: ``prompt + completion`` as the untrusted program, ``test + check(entry_point)`` in the
trusted harness that calls the program's functions; a sample is correct when the tests run to their
end within the timeout. EvalScope scores it as `acc` with the `mean_and_pass_at_k` aggregation
(primary metric pass@1); a sample's score is `{"acc": 1.0 | 0.0}`.

Settings (dataset_args.humaneval):

- `review_timeout` (EvalScope 1.x) or `extra_params.timeout` (EvalScope's earlier key): seconds of
  wall-clock time per program, default 4.

The sandbox's isolation is the operator's setting, `sandbox_isolation` (`--evalscope-sandbox-isolation`:
`auto`, the strongest that works here, or `bwrap`, `unshare`, `process`), resolved when the benchmark
is made, before any model call; `extra_params.isolation` is refused.

A sandbox that cannot run at all raises `SandboxError`, which makes the sample an error, not a
wrong answer. The Score's explanation names the verdict, its reason and the isolation used.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from ..params import ConfigError
from ..registry import register_benchmark
from ..scoring.code_extract import build_check, extract_code
from ..scoring.filters import apply_filters
from ..scoring.sandbox import Limits, Verdict, resolve_isolation, run_tests
from .base import Benchmark, Sample, Score

PROMPT = ("Read the following function signature and docstring, and fully implement the function described. "
          "Your response should only contain the code for this function.\n{question}")
DEFAULT_TIMEOUT = 4.0
MAX_TIMEOUT = 3600.0  # a program that needs an hour is not a unit test


@register_benchmark
class HumanEval(Benchmark):
    name = "humaneval"
    pretty_name = "HumanEval"
    explain_failures = True
    runs_code = True
    description = "164 hand-written Python functions to implement from a signature and docstring, checked by unit tests."
    dataset_id = "opencompass/humaneval"
    hf_dataset_id = "openai/openai_humaneval"
    subset_list: ClassVar[list[str]] = ["openai_humaneval"]
    default_subset = "openai_humaneval"
    eval_split = "test"
    train_split = None
    few_shot_num = 0
    prompt_template = PROMPT
    metric_list: ClassVar[list[Any]] = ["acc"]
    aggregation = "mean_and_pass_at_k"
    primary_metric = "pass@1"
    required_fields = ("task_id", "prompt", "entry_point", "canonical_solution", "test")
    extra_params: ClassVar[dict[str, Any]] = {"timeout": DEFAULT_TIMEOUT}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeout = self._timeout(f"dataset_args.{self.name}")
        # resolved (probed) now, before any model call: a level that cannot run here is a ConfigError
        self.isolation = resolve_isolation(self.sandbox_isolation)
        self.limits = Limits(cpu_seconds=math.ceil(self.timeout) + 1)

    def _parse_extra_params(self, value: Any, where: str) -> dict[str, Any]:
        if isinstance(value, dict) and "isolation" in value:
            raise ConfigError(f"{where}.extra_params.isolation: the sandbox isolation is the operator's setting, "
                              "not a dataset argument; set sandbox_isolation (--evalscope-sandbox-isolation)")
        return super()._parse_extra_params(value, where)

    def _timeout(self, where: str) -> float:
        given = dict(self.args.get("extra_params") or {})
        values = {key: value for key, value in (("review_timeout", self.args.get("review_timeout")),
                                                 ("extra_params.timeout", given.get("timeout"))) if value is not None}
        parsed = {}
        for key, value in values.items():
            try:
                parsed[key] = float(value)
            except (TypeError, ValueError, OverflowError):
                parsed[key] = math.nan
            if isinstance(value, bool) or not 0 < parsed[key] <= MAX_TIMEOUT:
                shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
                raise ConfigError(f"{where}.{key}: expected a positive number of seconds such as 4, got {shown} "
                                  f"(at most {MAX_TIMEOUT:g})")
        if len(set(parsed.values())) > 1:
            raise ConfigError(f"{where}: review_timeout ({values['review_timeout']!r}) and extra_params.timeout "
                              f"({values['extra_params.timeout']!r}) disagree; give one of them")
        return next(iter(parsed.values()), DEFAULT_TIMEOUT)

    def record_to_sample(self, record: dict[str, Any], index: int, subset: str) -> Sample:
        return Sample(
            index=index,
            subset=subset,
            input=str(record["prompt"]),
            target=str(record["canonical_solution"]),
            metadata={"task_id": str(record["task_id"]), "entry_point": str(record["entry_point"]),
                      "prompt": str(record["prompt"]), "test": str(record["test"])},
        )

    def check_for(self, sample: Sample, code: str) -> tuple[str, str]:
        """The program (untrusted) and the tests (trusted) that judge `code`."""
        meta = sample.metadata
        return build_check(meta["prompt"], code, meta["test"], meta["entry_point"])

    def run(self, sample: Sample, code: str) -> Verdict:
        program, tests = self.check_for(sample, code)
        return run_tests(program, tests, timeout=self.timeout, limits=self.limits, isolation=self.isolation,
                         label=f"{self.name}:{sample.metadata['task_id']}")

    def score(self, sample: Sample, answer_text: str) -> Score:
        code = extract_code(apply_filters(answer_text, self.filters))
        if not code.strip():
            return Score({"acc": 0.0}, None, False, status="parse_error", explanation="no code in the reply")
        verdict = self.run(sample, code)
        return Score({"acc": 1.0 if verdict.passed else 0.0}, code, verdict.passed,
                     explanation=f"{verdict.status}: {verdict.reason} (isolation: {verdict.isolation})")
