"""Retrieval over a folder in EvalScope's custom format or BEIR's; needs an embedding model (eval_type
embedding or encoder) and dataset_args {"retrieval": {"local_path": ...}}."""

from pytest_evalscope import Suite

retrieval = Suite("retrieval")
