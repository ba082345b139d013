"""MMLU-Redux 2.0 with EvalScope 1.14.1's protocol: MMLU's 57 subjects, 100 re-annotated questions each,
0-shot, the single-answer chain-of-thought template, and the annotators' corrections applied.

`AI-ModelScope/mmlu-redux-2.0` (HF `edinburgh-dawg/mmlu-redux-2.0`), one config per subject, split test.
A `local_path` may hold that schema (`<subject>/test.jsonl`, ...) or the authors' raw annotation files
(`mmlu_<subject>.csv`, directly or under `data/`), which are read by `read_raw_csv` (module below).

Corrections (EvalScope's `record_to_sample`), by the normalised `error_type`, when `correct_answer` is
set; the rule a sample went through is its metadata `correction`, and `correction_counts()` counts them:

- `wrong_groundtruth`: the gold is `correct_answer` (an index, or a letter);
- `no_correct_answer`: the option at `answer` is replaced by the text of `correct_answer`;
- `multiple_correct_answers`: every listed option is right (`"1, 3"`, `"2 and 3"`, `"(0, 1)"`, `"A,D"`, or
  option texts); a list that names none of them (`"depends on interpretation"`) makes every option right,
  as in EvalScope;
- every other type (`ok`, `bad_question_clarity`, `bad_options_clarity`, `expert`) keeps `answer`.

The target is the right letters (`"AC"`); a reply is right when its one extracted letter is among them
(EvalScope's `acc` with `allow_inclusion`).
"""

from __future__ import annotations

import ast
import csv
import io
import re
import string
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

from ..datasets.hub import load_split
from ..datasets.local import DatasetError, require_fields
from ..registry import register_benchmark
from .base import Sample
from .mcq import SINGLE_ANSWER_COT, MultipleChoiceBenchmark
from .mmlu import CATEGORIES

RULES = ("wrong_groundtruth", "no_correct_answer", "multiple_correct_answers", "multiple_correct_answers: every option")
_SURROGATE = re.compile("[\udc80-\udcff]")


def normalise_error_type(label: Any) -> str:
    """`"Wrong Groundtruth "` -> `wrong_groundtruth` (the 2.0 labels)."""
    return str(label or "").strip().lower().replace(" ", "_")


def decode(raw: bytes) -> tuple[str, int]:
    """UTF-8 text, each byte that is not UTF-8 read as MacRoman (the one such byte is a Mac quote `’`),
    and how many bytes were so read."""
    text = raw.decode("utf-8", errors="surrogateescape")
    found = _SURROGATE.findall(text)
    if not found:
        return text, 0
    return _SURROGATE.sub(lambda m: bytes([ord(m.group(0)) - 0xDC00]).decode("mac_roman"), text), len(found)


def read_raw_csv(path: Path, notes: Counter[str] | None = None) -> list[dict[str, Any]]:
    """One raw annotation file as hub-schema records: the delimiter (`,` or `;`) sniffed from the header,
    columns read by name, CRLF (also inside fields) turned into LF, `choices` parsed as a Python list,
    `answer` an int and `error_type` normalised. `notes` counts what was normalised."""
    text, replaced = decode(path.read_bytes())
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") > header.count(",") else ","
    if notes is not None:
        notes["non-UTF-8 bytes read as MacRoman"] += replaced
        notes["files with ';' delimiters"] += delimiter == ";"
        notes["files with CRLF line endings"] += "\r\n" in text
    rows = list(csv.DictReader(io.StringIO(text.replace("\r\n", "\n"), newline=""), delimiter=delimiter))
    records = []
    for number, raw_row in enumerate(rows, 2):
        row = {str(k).strip(): v for k, v in raw_row.items() if k and str(k).strip()}
        try:
            choices = ast.literal_eval(row["choices"])
            answer = int(str(row["answer"]).strip())
        except (KeyError, ValueError, SyntaxError) as exc:
            raise DatasetError(f"{path}:{number}: cannot be read ({type(exc).__name__}: {exc})") from None
        label = normalise_error_type(row.get("error_type"))
        if notes is not None and label != (row.get("error_type") or ""):
            notes["error_type labels normalised"] += 1
        records.append({"question": row["question"], "choices": [str(c) for c in choices], "answer": answer,
                        "error_type": label, "source": row.get("source") or "",
                        "correct_answer": row.get("correct_answer") or "", "potential_reason": row.get("potential_reason") or ""})
    return records


def corrected(record: dict[str, Any]) -> tuple[list[str], list[int], str | None]:
    """EvalScope 1.14.1's corrections: (choices, right option indexes, the rule applied or None)."""
    error_type = normalise_error_type(record.get("error_type"))
    choices = list(record["choices"])
    answer = [int(record["answer"])]
    fix = str(record.get("correct_answer") or "")
    if not fix:
        return choices, answer, None
    if error_type == "no_correct_answer":
        choices[answer[0]] = fix
        return choices, answer, error_type
    if error_type == "wrong_groundtruth":
        text = fix.strip()
        return choices, [int(text) if text.lstrip("-").isdigit() else ord(text) - ord("A")], error_type
    if error_type == "multiple_correct_answers":
        listed = fix.strip("()").replace(" and ", ",").replace(" or ", ",")
        parts = listed.replace(",", " ").split()
        if parts and all(p.lstrip("-").isdigit() for p in parts):
            return choices, [int(p) for p in parts], error_type
        pieces = listed.split(",")
        if all(len(p) == 1 for p in pieces):
            return choices, [ord(p) - ord("A") for p in pieces], error_type
        named = [choices.index(p) for p in pieces if p in choices]
        return choices, named or list(range(len(choices))), error_type if named else RULES[3]
    return choices, answer, None


@register_benchmark
class MMLURedux(MultipleChoiceBenchmark):
    name = "mmlu_redux"
    pretty_name = "MMLU-Redux"
    description = ("MMLU-Redux 2.0: 5,700 MMLU questions (57 subjects x 100) re-annotated, with wrong gold "
                   "answers, missing right options and multiple right options corrected.")
    dataset_id = "AI-ModelScope/mmlu-redux-2.0"
    hf_dataset_id = "edinburgh-dawg/mmlu-redux-2.0"
    subset_list: ClassVar[list[str]] = list(CATEGORIES)
    default_subset = "abstract_algebra"
    eval_split = "test"
    train_split = None
    few_shot_num = 0
    prompt_template = SINGLE_ANSWER_COT
    metric_list: ClassVar[list[Any]] = [{"acc": {"allow_inclusion": True}}]
    required_fields = ("question", "choices", "answer", "error_type", "correct_answer")
    category_map: ClassVar[dict[str, str]] = CATEGORIES
    model_adapters: ClassVar[tuple[str, ...]] = ("generation",)

    def _apply_args(self) -> None:
        super()._apply_args()
        self._normalised: dict[str, Counter[str]] = {}  # subset -> what reading its raw file normalised
        self._corrections: dict[str, Counter[str]] = {}

    def _raw_file(self, subset: str) -> Path | None:
        root = Path(self.dataset_id).expanduser()
        for folder in (root, root / "data"):
            if (folder / f"mmlu_{subset}.csv").is_file():
                return folder / f"mmlu_{subset}.csv"
        return None

    def load_records(self, subset: str, split: str) -> list[dict[str, Any]]:
        raw = self._raw_file(subset) if "local_path" in self.args or "dataset_id" in self.args else None
        if raw:
            self._normalised[subset] = Counter()
            records = read_raw_csv(raw, self._normalised[subset])
        else:
            records = load_split(self.source(), subset, split)
        require_fields(records, self.required_fields, f"{raw or self.dataset_id} ({subset}/{split})", self.name)
        return records

    def load_samples(self, subset: str, limit: int | float | None, repeats: int) -> list[Sample]:
        samples = super().load_samples(subset, limit, repeats)
        self._corrections[subset] = Counter(s.metadata["correction"] for s in samples if s.repeat == 0)
        return samples

    @property
    def normalisation(self) -> dict[str, int]:
        """What reading the raw annotation files normalised, over the subjects read (empty for hub data)."""
        total: Counter[str] = Counter()
        for counts in self._normalised.values():
            total.update(counts)
        return {k: v for k, v in total.items() if v}

    def correction_counts(self) -> dict[str, int]:
        """How many loaded samples each correction rule touched (`none`: kept as annotated)."""
        total: Counter[str] = Counter()
        for counts in self._corrections.values():
            total.update(counts)
        return {rule: total[rule] for rule in ("none", *RULES) if total[rule]}

    def record_to_sample(self, record: dict[str, Any], index: int, subset: str) -> Sample:
        choices, right, rule = corrected(record)
        choices = [str(c) for c in choices]
        target = "".join(sorted({string.ascii_uppercase[i] for i in right}))
        if not target or any(not 0 <= i < len(choices) for i in right):
            raise ValueError(f"correct_answer {record.get('correct_answer')!r} names no option of {len(choices)}")
        return Sample(index=index, subset=subset, input=str(record["question"]), target=target,
                      metadata={"choices": choices, "error_type": normalise_error_type(record.get("error_type")),
                                "correction": rule or "none", "correct_answer": record.get("correct_answer") or "",
                                "potential_reason": record.get("potential_reason") or ""})

    def match(self, extracted: str | None, target: str) -> bool:
        return extracted is not None and len(extracted.strip()) == 1 and extracted.strip().upper() in target
