"""RAGAS (EvalScope's RAGEval tool RAGAS: a RAG system's recorded answers scored by faithfulness, answer relevancy, context precision and recall). Collected when configured."""

from pytest_evalscope import Suite

ragas = Suite("ragas")
