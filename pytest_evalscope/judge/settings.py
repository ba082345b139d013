"""The judge's settings, in EvalScope's vocabulary: ``judge_strategy`` (auto | rule | llm | llm_recall),
``judge_model_args`` and ``judge_worker_num``; EvalScope 1.x's ``judge`` block is read into them.

judge_model_args keys:

- ``api_url``, ``api_key`` (else ``$EVALSCOPE_JUDGE_API_KEY``, else the candidate's key when the URL is
  the candidate's, else EMPTY), ``model_id``, ``eval_type`` (backend, default service), ``model_args``;
- ``generation_config`` (temperature 0 unless given; max_tokens 4096 as EvalScope);
- ``system_prompt``, ``prompt_template`` (placeholders ``{question}``, ``{gold}``, ``{pred}``),
  ``score_type`` (``pattern``: pick a label of ``score_mapping``, default A=1, B=0; ``numeric``: a
  rating in [0, 1]), ``score_pattern`` (a regex with one group, for judges that cannot reply JSON),
  ``score_mapping``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..models.registry import ModelSpec
from ..params import ConfigError, did_you_mean, parse_mapping

STRATEGIES = ("auto", "rule", "llm", "llm_recall")
JUDGE_KEYS = ("api_url", "api_key", "model_id", "eval_type", "model_args", "generation_config", "system_prompt",
              "prompt_template", "score_type", "score_pattern", "score_mapping")
SCORE_TYPES = ("pattern", "numeric")
DEFAULT_GENERATION = {"temperature": 0.0, "max_tokens": 4096}


@dataclass(frozen=True)
class JudgeSettings:
    model_id: str | None = None
    api_url: str | None = None
    api_key: str | None = None
    eval_type: str = "service"
    model_args: dict[str, Any] = field(default_factory=dict)
    generation_config: dict[str, Any] = field(default_factory=dict)
    system_prompt: str | None = None
    prompt_template: str | None = None
    score_type: str = "pattern"
    score_pattern: str | None = None
    score_mapping: dict[str, float] | None = None

    @property
    def configured(self) -> bool:
        return bool(self.model_id and (self.api_url or self.eval_type != "service"))

    def public(self) -> dict[str, Any]:
        """What reports and comparisons record of the judge (no key)."""
        from ..config import redact_mapping, redact_url

        return {"model_id": self.model_id, "api_url": redact_url(self.api_url), "eval_type": self.eval_type,
                "generation_config": redact_mapping(self.generation_config), "system_prompt": self.system_prompt,
                "prompt_template": self.prompt_template, "score_type": self.score_type,
                "score_pattern": self.score_pattern, "score_mapping": self.score_mapping}


def parse_judge_model_args(value: Any, name: str = "judge_model_args") -> dict[str, Any]:
    """The mapping as given, every key known (did-you-mean), every value of the right kind."""
    args = parse_mapping(value, name)
    for key in args:
        if key not in JUDGE_KEYS:
            raise ConfigError(f"{name}: unknown key {key!r}{did_you_mean(str(key), JUDGE_KEYS)}; valid: {', '.join(JUDGE_KEYS)}")
    for key in ("model_args", "generation_config"):
        if key in args:
            args[key] = parse_mapping(args[key], f"{name}.{key}")
    if args.get("score_type", "pattern") not in SCORE_TYPES:
        raise ConfigError(f"{name}.score_type: {args['score_type']!r} is unknown; expected pattern or numeric")
    if args.get("score_pattern") is not None:
        try:
            if re.compile(str(args["score_pattern"])).groups != 1:
                raise ConfigError(f"{name}.score_pattern: needs exactly one group, such as '\\[\\[([AB])\\]\\]'")
        except re.error as exc:
            raise ConfigError(f"{name}.score_pattern: not a regular expression ({exc})") from None
    mapping = args.get("score_mapping")
    if mapping is not None:
        if not isinstance(mapping, dict) or not mapping:
            raise ConfigError(f"{name}.score_mapping: expected labels mapped to scores, e.g. {{\"A\": 1.0, \"B\": 0.0}}")
        for label, score in mapping.items():
            if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 1:
                raise ConfigError(f"{name}.score_mapping.{label}: expected a score in [0, 1], got {score!r}")
    if args.get("api_url") is not None:
        from ..params import parse_url

        args["api_url"] = parse_url(args["api_url"], f"{name}.api_url")
    return args


def settings_of(config: Any, env: dict[str, str] | None = None) -> JudgeSettings:
    import os

    args = dict(config.judge_model_args or {})
    environ = os.environ if env is None else env
    key = args.get("api_key") or environ.get("EVALSCOPE_JUDGE_API_KEY")
    candidate = config.api_url if isinstance(config.api_url, list) else [config.api_url]  # a fleet: any of them
    if key is None and args.get("api_url") and args.get("api_url") in candidate:
        key = config.api_key  # the same server as the candidate: the same key
    return JudgeSettings(
        model_id=args.get("model_id"), api_url=args.get("api_url"), api_key=key or "EMPTY",
        eval_type=str(args.get("eval_type") or "service"), model_args=dict(args.get("model_args") or {}),
        generation_config={**DEFAULT_GENERATION, **(args.get("generation_config") or {})},
        system_prompt=args.get("system_prompt"), prompt_template=args.get("prompt_template"),
        score_type=str(args.get("score_type") or "pattern"), score_pattern=args.get("score_pattern"),
        score_mapping={str(k): float(v) for k, v in args["score_mapping"].items()} if args.get("score_mapping") else None)


def judge_spec(config: Any) -> ModelSpec | None:
    """The judge role's model, when the run's strategy may call one and a judge is configured."""
    settings = settings_of(config)
    if config.judge_strategy == "rule" or not settings.configured:
        return None
    return ModelSpec(settings.eval_type, settings.model_id or "judge", settings.api_url, settings.api_key,
                     settings.model_args, settings.generation_config, config.judge_worker_num or config.eval_batch_size)


def from_evalscope_judge(block: Any) -> dict[str, Any]:
    """EvalScope 1.x's ``judge: {strategy, models: [...], contract: {...}}`` as our keys."""
    if not isinstance(block, dict):
        raise ConfigError("judge: expected EvalScope's judge block, e.g. {strategy: llm, models: [{model_id, api_url}]}")
    out: dict[str, Any] = {}
    if block.get("strategy") is not None:
        out["judge_strategy"] = block["strategy"]
    models = block.get("models") or []
    models = [models] if isinstance(models, dict) else list(models)
    if len(models) > 1:
        raise ConfigError("judge.models: one judge model is supported here; give one")
    args = {k: v for k, v in (models[0] if models else {}).items() if k in JUDGE_KEYS}
    contract = block.get("contract") or {}
    args.update({k: v for k, v in contract.items() if k in JUDGE_KEYS})
    if args:
        out["judge_model_args"] = args
    return out
