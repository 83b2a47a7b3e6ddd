"""Host-side tooling: the test harness (tools.harness) and the benchmarks (tools.bench)."""
