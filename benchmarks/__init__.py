"""Benchmarks: figures, not pass/fail. Run `python -m benchmarks` (see README.md here)."""
