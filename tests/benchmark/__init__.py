"""The mirroring benchmark (run with ``python3 -m tests.benchmark.run_benchmark``; not a pytest suite)."""
