"""Deciding, before a suite's data is loaded, whether `-k` or `datasets` can select any of its samples.

Collection has to read a dataset to know its samples, and a catalog of suites would otherwise read (or
download) every benchmark's data when the user asked for one with `-k gsm8k`. A suite is skipped only
when the `-k` expression is false for every item name it could produce: `-k` matches substrings of the
item's name, its parents' names and its extra keywords (the benchmark and subset names), and sample
names differ only in their numbers, so numbers are compared as "some number". When in doubt, it loads.
"""

from __future__ import annotations

import re

import pytest

from .items import Suite

_NUMBER = re.compile(r"\d+")


def _shape(text: str) -> str:
    return _NUMBER.sub("0", text.lower())


def keyword_may_select(config: pytest.Config, collector: pytest.Collector, suite: Suite, subsets: list[str]) -> bool:
    """Whether `-k` may select a sample of this suite by its names (a benchmark whose samples also match
    an id from their data, ``sample_keyword``, is read anyway: plugin.py)."""
    expression = config.getoption("keyword", None)
    if not expression:
        return True
    try:
        from _pytest.mark.expression import Expression

        compiled = Expression.compile(expression)
    except Exception:  # a bad expression is pytest's to report, with its own message
        return True
    names = [node.name.lower() for node in collector.listchain() if not isinstance(node, pytest.Session)]
    names += [suite.name.lower(), suite.benchmark.lower(), *(s.lower() for s in subsets)]
    shapes = [_shape(f"{suite.name}[{subset}-0{repeat}]") for subset in subsets for repeat in ("", "-r0")]

    def matcher(ident: str, /, **kwargs: object) -> bool:
        if kwargs:
            return True  # keyword arguments match marker arguments, which we cannot judge here
        lowered = ident.lower()
        return any(lowered in name for name in names) or any(_shape(ident) in shape for shape in shapes)

    try:
        return compiled.evaluate(matcher)
    except Exception:
        return True


def datasets_may_select(wanted: list[str], suite: Suite) -> bool:
    return not wanted or suite.name in wanted or suite.benchmark in wanted
