"""LLM-as-judge: settings (settings.py), what is asked and how a verdict is read (contract.py), and the
judge at work with its journal and cross-run cache (judge.py)."""

from .contract import JudgeDefinition, Unparseable, generic_definition, parse_verdict
from .judge import Judge, JudgeCache, Verdict
from .settings import JudgeSettings, judge_spec, settings_of

__all__ = ["Judge", "JudgeCache", "JudgeDefinition", "JudgeSettings", "Unparseable", "Verdict", "generic_definition",
           "judge_spec", "parse_verdict", "settings_of"]
