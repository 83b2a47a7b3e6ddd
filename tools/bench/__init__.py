"""Benchmarks for berth: `scripts/bench` (see docs/benchmarks.md)."""
