"""posguard benchmarks: each bench_*.py exposes run() -> list of result rows."""
