"""The benchmark adapter contract: records -> samples -> prompts -> scores.

An adapter subclasses :class:`Benchmark`, declares its EvalScope metadata as class attributes, and
implements `record_to_sample` and `score`. `dataset_args` keys override the matching attributes
(:data:`ARG_KEYS`); an unknown key is an error naming the valid ones.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..datasets.hub import DatasetSource, load_split
from ..datasets.local import DatasetError, require_fields
from ..params import ConfigError, did_you_mean, parse_bool, parse_int, parse_list, parse_name, parse_str
from ..reporting.report import AGGREGATIONS
from ..scoring.filters import apply_filters, parse_filters

# EvalScope's dataset_args keys (BenchmarkMeta fields a user may override).
ARG_KEYS = (
    "dataset_id", "local_path", "subset_list", "default_subset", "train_split", "eval_split",
    "dataset_revision", "force_redownload", "few_shot_num", "few_shot_random", "prompt_template",
    "few_shot_prompt_template", "system_prompt", "query_template", "metric_list", "aggregation",
    "primary_metric", "filters", "shuffle", "shuffle_choices", "review_timeout", "extra_params", "model_adapter",
)
# How a benchmark asks the model (EvalScope's model_adapter): generate a reply and parse it, or score each
# choice by its log-likelihood, as the letter after the question (multiple_choice_logits) or as the
# choice's own text continuing the context (continuous_logits).
MODEL_ADAPTERS = ("generation", "multiple_choice_logits", "continuous_logits")


@dataclass
class Sample:
    """One evaluation sample. `index` is its position in the subset's eval split (EvalScope's index)."""

    index: int
    subset: str
    input: str
    target: str
    metadata: dict[str, Any] = field(default_factory=dict)
    repeat: int = 0
    # image benchmarks: the record's own conversation (general_vqa) or its images by placeholder number
    # (general_vmcq), image parts resolved (datasets/images.py). Not in records: the messages sent are.
    messages: list[dict[str, Any]] | None = None
    images: dict[int, dict[str, Any]] | None = None

    @property
    def key(self) -> str:
        return f"{self.subset}-{self.index}" + (f"-r{self.repeat}" if self.repeat else "")


@dataclass
class Score:
    """How a prediction was judged. `status` is success, or parse_error when no answer was extracted."""

    value: dict[str, float]
    extracted: str | None
    correct: bool
    status: str = "success"
    explanation: str | None = None


class Benchmark:
    name: ClassVar[str]
    pretty_name: ClassVar[str]
    description: ClassVar[str] = ""
    dataset_id: ClassVar[str]
    hf_dataset_id: ClassVar[str | None] = None
    subset_list: ClassVar[list[str]] = ["default"]
    default_subset: ClassVar[str] = "default"
    eval_split: ClassVar[str] = "test"
    train_split: ClassVar[str | None] = None
    few_shot_num: ClassVar[int] = 0
    few_shot_random: ClassVar[bool] = False
    prompt_template: ClassVar[str] = "{question}"
    few_shot_prompt_template: ClassVar[str | None] = None
    system_prompt: ClassVar[str | None] = None
    query_template: ClassVar[str | None] = None
    metric_list: ClassVar[list[Any]] = ["acc"]
    # how repeats are aggregated (reporting/report.py): mean, mean_and_pass_at_k, mean_and_vote_at_k, mean_and_pass_hat_k
    aggregation: ClassVar[str] = "mean"
    # the metric a report's score is (e.g. "pass@1"); None: the first metric
    primary_metric: ClassVar[str | None] = None
    required_fields: ClassVar[tuple[str, ...]] = ()
    # a failed item shows the scorer's explanation rather than gold vs extracted (code tests, checkers)
    explain_failures: ClassVar[bool] = False
    # a sample metadata field whose value `-k` also matches (retrieval: query_id); when -k is given, such a
    # suite's data is read to know those values (selection.py), so keep it to local data that reads fast
    sample_keyword: ClassVar[str | None] = None
    # the metrics the console table shows (the primary always first); None: all. Reports keep every metric.
    console_metrics: ClassVar[tuple[str, ...] | None] = None
    # EvalScope's per-benchmark extra_params this adapter reads, with their defaults; any other key is an error
    extra_params: ClassVar[dict[str, Any]] = {}
    category_map: ClassVar[dict[str, str]] = {}
    # runs model-written code (in scoring.sandbox): the HTTP service refuses such benchmarks without a strong sandbox
    runs_code: ClassVar[bool] = False
    # runs only once configured (general_arena: the runs to compare): a suite collected along with all the
    # others and given no dataset_args is left out with this hint instead of stopping the run
    needs_setup: ClassVar[str | None] = None
    # EvalScope's ScoringPolicy: "rule" (a rule scores; a judge only with judge_strategy llm or llm_recall),
    # "judge_only" (no rule exists: the judge scores, and judge_strategy auto means llm)
    scoring_policy: ClassVar[str] = "rule"
    # the metric EvalScope's generic judge scores (judge_strategy llm or llm_recall): acc, whatever the rule's
    judge_metric_name: ClassVar[str] = "acc"
    # the model_adapter modes this adapter implements (multiple-choice adapters add the log-likelihood ones)
    model_adapters: ClassVar[tuple[str, ...]] = ("generation",)
    # puts images in its prompts (image_url parts): only backends with the "images" ability can answer it
    sends_images: ClassVar[bool] = False
    # dataset_args keys beyond ARG_KEYS that this adapter reads (image benchmarks: max_image_bytes)
    own_arg_keys: ClassVar[tuple[str, ...]] = ()
    # sets generation settings per sample (`generation_config`; MT-Bench's temperature by category)
    varies_generation: ClassVar[bool] = False

    def __init__(self, args: dict[str, Any] | None = None, *, seed: int = 42, hub: str | None = None,
                 cache_dir: str | None = None, sandbox_isolation: str = "auto") -> None:
        self.args = dict(args or {})
        self.seed = seed
        # the operator's choice of sandbox for model-written code (never a request's): auto | bwrap | unshare | process
        self.sandbox_isolation = sandbox_isolation
        self.hub = hub
        self.cache_dir = cache_dir
        self._apply_args()

    # ------------------------------------------------------------ configuration

    def _apply_args(self) -> None:
        keys = ARG_KEYS + self.own_arg_keys
        for key in self.args:
            if key not in keys:
                raise ConfigError(
                    f"dataset_args for {self.name}: unknown key {key!r}{did_you_mean(key, keys)}; "
                    f"valid keys: {', '.join(keys)}"
                )
        a = self.args
        where = f"dataset_args.{self.name}"
        self.dataset_id = str(a.get("dataset_id") or a.get("local_path") or type(self).dataset_id)  # type: ignore[misc]
        self.subset_list = parse_list(a.get("subset_list", list(type(self).subset_list)), f"{where}.subset_list")  # type: ignore[misc]
        unknown = [s for s in self.subset_list if s not in type(self).subset_list]
        if unknown and type(self).subset_list != ["default"]:
            raise ConfigError(f"{where}.subset_list: unknown subset {unknown[0]!r}; valid: {', '.join(type(self).subset_list)}")
        # split and subset names become file names (data read, outputs written): plain names only
        for subset in self.subset_list:
            parse_name(subset, f"{where}.subset_list", "main", "names data and output files")
        self.eval_split = parse_name(a.get("eval_split", type(self).eval_split), f"{where}.eval_split", "test",
                                     "names the data file read")  # type: ignore[misc]
        train = a.get("train_split", type(self).train_split)
        self.train_split = None if train in (None, "") else parse_name(train, f"{where}.train_split", "train",
                                                                       "names the data file read")  # type: ignore[misc]
        self.few_shot_num = parse_int(a.get("few_shot_num", type(self).few_shot_num), f"{where}.few_shot_num", 0)  # type: ignore[misc]
        self.few_shot_random = parse_bool(a.get("few_shot_random", type(self).few_shot_random), f"{where}.few_shot_random")  # type: ignore[misc]
        for key in ("prompt_template", "few_shot_prompt_template", "system_prompt", "query_template"):
            if key in a:
                setattr(self, key, a[key])
        self.filters = parse_filters(a.get("filters"), f"{where}.filters")
        self.extra = self._parse_extra_params(a.get("extra_params"), where)
        self.shuffle = parse_bool(a.get("shuffle", False), f"{where}.shuffle")
        self.aggregation = str(a.get("aggregation", type(self).aggregation))  # type: ignore[misc]
        if self.aggregation not in AGGREGATIONS:
            raise ConfigError(f"{where}.aggregation: unknown aggregation {self.aggregation!r}"
                              f"{did_you_mean(self.aggregation, AGGREGATIONS)}; valid: {', '.join(AGGREGATIONS)}")
        self.primary_metric = a.get("primary_metric", type(self).primary_metric)  # type: ignore[misc]
        if self.few_shot_num and not self.train_split:
            raise ConfigError(f"{where}.few_shot_num: {self.name} has no train split to draw few-shot examples from")
        self.model_adapter = str(a.get("model_adapter", "generation"))
        if self.model_adapter not in MODEL_ADAPTERS:
            raise ConfigError(f"{where}.model_adapter: unknown mode {self.model_adapter!r}"
                              f"{did_you_mean(self.model_adapter, MODEL_ADAPTERS)}; valid: {', '.join(MODEL_ADAPTERS)}")
        if self.model_adapter not in self.model_adapters:
            raise ConfigError(f"{where}.model_adapter: {self.name} is scored by {' or '.join(self.model_adapters)}, "
                              f"not {self.model_adapter}")
        self.model_adapter_note: str | None = None
        self.dataset_revision = None if a.get("dataset_revision") in (None, "") else \
            parse_str(a["dataset_revision"], f"{where}.dataset_revision")
        self.force_redownload = parse_bool(a.get("force_redownload", False), f"{where}.force_redownload")
        if "metric_list" in a:
            self._check_metric_list(a["metric_list"], where)

    def _check_metric_list(self, value: Any, where: str) -> None:
        """EvalScope lets a user pick metrics; each adapter here computes its own set, so a metric_list is
        accepted only when it names that set (a config written for EvalScope that spells it out)."""
        own = [next(iter(m)) if isinstance(m, dict) else str(m) for m in type(self).metric_list]
        given = value if isinstance(value, list) else [value]
        names = [next(iter(m)) if isinstance(m, dict) and m else str(m) for m in given]
        if names != own:
            raise ConfigError(f"{where}.metric_list: {self.name} computes {', '.join(own)}; other metrics "
                              f"({', '.join(n for n in names if n not in own) or ', '.join(names)}) cannot be chosen "
                              "here; leave metric_list out")

    @property
    def scores_loglikelihood(self) -> bool:
        """True when samples are scored by the log-likelihood of each choice, not by a generated reply."""
        return self.model_adapter != "generation"

    def fall_back_to_generation(self, reason: str) -> None:
        """The model cannot score log-likelihoods: generate instead, and say so in every record and report."""
        if self.scores_loglikelihood:
            self.model_adapter_note = f"{self.model_adapter} was asked for; scored by generation because {reason}"
            self.model_adapter = "generation"

    def _parse_extra_params(self, value: Any, where: str) -> dict[str, Any]:
        """The extra_params given, checked against the adapter's own, merged over their defaults."""
        known = type(self).extra_params
        if value is None:
            value = {}
        if not isinstance(value, dict):
            example = f" such as {{\"{next(iter(known))}\": ...}}" if known else ""
            raise ConfigError(f"{where}.extra_params: expected a mapping{example}, got {type(value).__name__} {value!r}")
        for key in value:
            if key not in known:
                if not known:
                    raise ConfigError(f"{where}.extra_params: unknown key {key!r}; {self.name} takes no extra_params")
                raise ConfigError(f"{where}.extra_params: unknown key {key!r}{did_you_mean(str(key), list(known))}; "
                                  f"valid keys: {', '.join(known)}")
        return {**known, **value}

    def source(self) -> DatasetSource:
        hf_id = None if "dataset_id" in self.args or "local_path" in self.args else self.hf_dataset_id
        return DatasetSource(self.name, self.dataset_id, hf_id, self.hub, self.cache_dir, local="local_path" in self.args,
                             revision=self.dataset_revision, force_redownload=self.force_redownload)

    # ------------------------------------------------------------ data

    def load_records(self, subset: str, split: str) -> list[dict[str, Any]]:
        records = load_split(self.source(), subset, split)
        require_fields(records, self.required_fields, f"{self.dataset_id} ({subset}/{split})", self.name)
        return records

    def load_samples(self, subset: str, limit: int | float | None, repeats: int) -> list[Sample]:
        records = self.load_records(subset, self.eval_split)
        order = list(range(len(records)))
        if self.shuffle:
            random.Random(self.seed).shuffle(order)
        if limit is not None:
            count = int(len(order) * limit) if isinstance(limit, float) else limit
            order = order[: max(count, 0)]
        samples = []
        for index in order:
            try:
                sample = self.record_to_sample(records[index], index, subset)
            except DatasetError:
                raise  # already one line naming the file and record
            except (KeyError, TypeError, ValueError) as exc:
                raise DatasetError(f"{self.name} {subset}/{self.eval_split} record {index}: cannot be read ({exc})") from None
            samples.extend(Sample(**{**sample.__dict__, "repeat": r}) for r in range(repeats))
        return samples

    def fewshot_samples(self, subset: str) -> list[Sample]:
        if not self.few_shot_num or not self.train_split:
            return []
        records = self.load_records(subset, self.train_split)
        order = list(range(len(records)))
        if self.few_shot_random:
            random.Random(self.seed).shuffle(order)
        return [self.record_to_sample(records[i], i, subset) for i in order[: self.few_shot_num]]

    # ------------------------------------------------------------ to implement

    def record_to_sample(self, record: dict[str, Any], index: int, subset: str) -> Sample:
        raise NotImplementedError

    def format_fewshot(self, sample: Sample) -> str:
        raise NotImplementedError

    def extract(self, text: str) -> str | None:
        raise NotImplementedError

    def extract_for(self, sample: Sample, text: str) -> str | None:
        """The answer in a reply; adapters whose extraction depends on the sample override this."""
        return self.extract(text)

    def match(self, extracted: str | None, target: str) -> bool:
        raise NotImplementedError

    # ------------------------------------------------------------ prompting and scoring

    def prompt_fields(self, sample: Sample) -> dict[str, str]:
        """The fields a prompt template may use; multiple-choice adapters add choices and letters."""
        return {"question": sample.input}

    def build_messages(self, sample: Sample, fewshot: list[Sample]) -> list[dict[str, Any]]:
        fields = self.prompt_fields(sample)
        if fewshot and self.few_shot_prompt_template:
            text = "\n\n".join(self.format_fewshot(s) for s in fewshot)
            content = self.few_shot_prompt_template.format(fewshot=text, **fields)
        else:
            content = self.prompt_template.format(**fields)
        if self.query_template:
            content = self.query_template.format(question=content)
        messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return messages + [{"role": "user", "content": content}]

    def score(self, sample: Sample, answer_text: str) -> Score:
        filtered = apply_filters(answer_text, self.filters)
        extracted = self.extract_for(sample, filtered)
        correct = self.match(extracted, sample.target)
        metric = self.metric_name
        return Score({metric: 1.0 if correct else 0.0}, extracted, correct,
                     status="success" if extracted is not None else "parse_error")

    def report_fields(self) -> dict[str, Any]:
        """What a sample's record tells the report about aggregation, when it is not the default."""
        fields = {"model_adapter": self.model_adapter}
        if self.model_adapter_note:
            fields["model_adapter_note"] = self.model_adapter_note
        if self.aggregation != "mean":
            fields["aggregation"] = self.aggregation
        if self.primary_metric:
            fields["primary_metric"] = str(self.primary_metric)
        return fields

    # ------------------------------------------------------------ judge

    def judge_definition(self, sample: Sample, prediction: str, answer_text: str, settings: Any) -> Any:
        """What the judge is asked of one sample (judge.contract.JudgeDefinition). EvalScope's generic
        judge: the question, the target and the whole prediction, graded by the pattern or numeric
        template (or the user's own, from judge_model_args). Benchmarks with their own grader override it."""
        from ..judge.contract import generic_definition

        return generic_definition(settings, sample.input, sample.target, prediction, self.judge_metric_name)

    def score_from_verdict(self, sample: Sample, verdict: Any, rule: Score | None) -> Score:
        """The sample's score from the judge's verdict; under llm_recall (a rule score given), the better
        of the two per metric, as EvalScope keeps max(rule, judge)."""
        value = dict(verdict.value)
        if rule is not None:
            value = {k: max(float(rule.value.get(k, 0.0)), float(value.get(k, 0.0))) for k in {*rule.value, *value}}
        correct = verdict.passed or (rule is not None and rule.correct)
        extracted = rule.extracted if rule is not None and rule.extracted is not None else str(verdict.verdict)
        return Score(value, extracted, correct, explanation=f"judge verdict {verdict.verdict!r}")

    def generation_config(self, sample: Sample, run: dict[str, Any]) -> dict[str, Any]:
        """The generation_config `sample` is asked with, given the run's (for adapters that set
        `varies_generation`; backends without the generation_variants ability keep the run's)."""
        return run

    def follow_ups(self, sample: Sample) -> list[str]:
        """The user turns sent after the model's first reply, each with the conversation so far (MT-Bench's
        second question); [] for one-turn benchmarks."""
        return []

    async def judge_output(self, judge: Any, key: str, sample: Sample, output: Any, answer_text: str,
                           rule: Score | None) -> tuple[Score, Any]:
        """Judge a sample from its whole output (models.base.ModelOutput; a multi-turn benchmark reads every
        turn's reply in ``output.turns``); by default, its last reply by :meth:`judge_sample`."""
        return await self.judge_sample(judge, key, sample, output.content, answer_text, rule)

    def given_reply(self, sample: Sample) -> str | None:
        """The sample's reply when it is known without asking the model (general_arena replays earlier
        runs' answers); None: the candidate model answers."""
        return None

    async def judge_sample(self, judge: Any, key: str, sample: Sample, prediction: str, answer_text: str,
                           rule: Score | None) -> tuple[Score, Any]:
        """Ask the judge about one sample and score it: one request by default; pairwise benchmarks
        (arena.py) play two games, answers swapped, each under its own key."""
        verdict = await judge.grade(key, self.judge_definition(sample, prediction, answer_text, judge.settings))
        return self.score_from_verdict(sample, verdict, rule), verdict

    def choice_request(self, sample: Sample, fewshot: list[Sample]) -> tuple[list[dict[str, str]], list[str]]:
        """The context and the continuations to score, in log-likelihood modes (multiple-choice adapters)."""
        raise NotImplementedError(f"{self.name} has no log-likelihood scoring")

    def score_choices(self, sample: Sample, scores: list[Any]) -> Score:
        """Judge one sample from its choices' ChoiceScores (log-likelihood modes)."""
        raise NotImplementedError(f"{self.name} has no log-likelihood scoring")

    @property
    def metric_name(self) -> str:
        if self.scores_loglikelihood:
            return "acc"
        first = self.metric_list[0]
        return next(iter(first)) if isinstance(first, dict) else str(first)

    def category_of(self, subset: str) -> str:
        return self.category_map.get(subset, "default")
