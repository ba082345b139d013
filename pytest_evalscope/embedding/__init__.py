"""Embedding and reranker models, and the tasks that score them (retrieval, STS, classification).

- ``api_client``: the JSON POST both remote clients share (the official ``openai`` client's transport,
  retries and errors; failures become ModelError, never scores);
- ``openai_embed``: ``/v1/embeddings`` (eval_type ``embedding``); ``rerank_api``: ``/rerank``
  (eval_type ``rerank``); ``local_encoder``: ONNX runtime or transformers (eval_type ``encoder``);
- ``trec``: trec_eval's ranking measures; ``stats``: Spearman; ``logreg``: MTEB's logistic regression;
- ``store``: embeddings cached under the run's ``.cache``; ``engine``: a process's models and loop;
- ``items``: one pytest item per query, pair or text; ``mteb_tasks``: MTEB task lists to native suites.
"""
