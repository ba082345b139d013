"""BANKING77 as MTEB's Banking77Classification (embeddings + logistic regression); needs an embedding
model and dataset_args {"banking77_classification": {"local_path": ".../banking77"}}."""

from pytest_evalscope import Suite

banking77_classification = Suite("banking77_classification")
