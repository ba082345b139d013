"""GPQA-Diamond with EvalScope 1.14.1's protocol: 198 graduate-level questions, four options, 0-shot.

`AI-ModelScope/gpqa_diamond` (HF `Idavidrein/gpqa`, config `gpqa_diamond`), split **train** (the only
one), subset `default`; records carry the authors' CSV columns (`Question`, `Correct Answer`,
`Incorrect Answer 1..3`, `High-level domain`, `Subdomain`, `Record ID`), so `local_path` may name
`gpqa_diamond.csv` itself.

The options are `[Incorrect 1, Incorrect 2, Incorrect 3, Correct]`, stripped, then shuffled per
question: the generator is `random.Random(seed)` with seed = the first 8 bytes (big-endian) of
sha256(stripped question), as EvalScope 1.14.1 does. The order therefore depends on the question
alone: a rerun, another machine or `-n 8` gives the same prompts and the same gold letters (earlier
EvalScope releases shuffled with the global generator, so no two runs agreed). The prompt is the
single-answer chain-of-thought template; the answer is read by the shared multiple-choice rule.

EvalScope's optional 5-shot mode (its fixed chain-of-thought examples) is not implemented here:
`few_shot_num` other than 0 is refused with that reason.
"""

from __future__ import annotations

import hashlib
import random
import string
from typing import Any, ClassVar

from ..params import ConfigError
from ..registry import register_benchmark
from .base import Sample
from .mcq import SINGLE_ANSWER_COT, MultipleChoiceBenchmark

INCORRECT = ("Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")


def _clean(text: Any) -> str:
    return " " if text is None else str(text).strip()


def shuffled_options(record: dict[str, Any]) -> tuple[list[str], str]:
    """The four options in EvalScope 1.14.1's per-question order, and the letter of the correct one."""
    correct = _clean(record["Correct Answer"])
    options = [_clean(record[key]) for key in INCORRECT] + [correct]
    seed = int.from_bytes(hashlib.sha256(_clean(record["Question"]).encode("utf-8")).digest()[:8], "big")
    random.Random(seed).shuffle(options)
    return options, string.ascii_uppercase[options.index(correct)]


@register_benchmark
class GPQADiamond(MultipleChoiceBenchmark):
    name = "gpqa_diamond"
    pretty_name = "GPQA-Diamond"
    description = ("198 multiple-choice questions in biology, physics and chemistry written by domain experts, "
                   "hard to look up (GPQA's Diamond subset).")
    dataset_id = "AI-ModelScope/gpqa_diamond"
    hf_dataset_id = None  # gated on Hugging Face (Idavidrein/gpqa): the ModelScope copy, or local_path
    subset_list: ClassVar[list[str]] = ["default"]
    default_subset = "default"
    eval_split = "train"
    train_split = None
    few_shot_num = 0
    prompt_template = SINGLE_ANSWER_COT
    required_fields = ("Question", "Correct Answer", *INCORRECT)
    model_adapters: ClassVar[tuple[str, ...]] = ("generation",)

    def _apply_args(self) -> None:
        if self.args.get("few_shot_num") not in (None, 0, "0"):
            raise ConfigError(f"dataset_args.{self.name}.few_shot_num: only 0-shot is implemented here "
                              f"(EvalScope's fixed 5-shot examples are not), got {self.args['few_shot_num']!r}")
        super()._apply_args()

    def record_to_sample(self, record: dict[str, Any], index: int, subset: str) -> Sample:
        choices, target = shuffled_options(record)
        return Sample(index=index, subset=subset, input=str(record["Question"]), target=target,
                      metadata={"choices": choices, "record_id": record.get("Record ID"),
                                "domain": record.get("High-level domain"), "subdomain": record.get("Subdomain")})
