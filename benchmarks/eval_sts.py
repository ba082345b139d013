"""Sentence similarity (MTEB STS: Spearman of cosines); needs an embedding model and dataset_args
{"sts": {"local_path": "<pairs.jsonl>"}}."""

from pytest_evalscope import Suite

sts = Suite("sts")
