"""``python -m bench [--quick]``: the whole comparison against the naive baseline,
which regenerates docs/benchmarks.md (see bench.report)."""

from bench.report import main

raise SystemExit(main())
