"""RAG evaluation on the judge layer: EvalScope's RAGAS input files scored by faithfulness, answer
relevancy, context precision and context recall, one pytest item per row (benchmark ``ragas``).

- data.py: the input files (current and legacy keys);
- prompts.py: the judge prompts and their strict JSON verdicts;
- metrics.py: the metrics from the verdicts and embeddings;
- embedder.py: the embedding model from EvalScope's ``embeddings`` block;
- benchmark.py: the ``ragas`` adapter.
"""
