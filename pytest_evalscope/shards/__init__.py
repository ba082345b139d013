"""Sharded runs: `--evalscope-shard I/N` evaluates part I of N of the selection (part.py, spec.py, marker.py);
`pytest-evalscope merge` combines the parts into one run (merge.py, replay.py)."""
