"""Measurements and load runs on the local emulators, one module each; ``python -m bench``
runs the comparison against the naive baseline and writes docs/benchmarks.md."""
