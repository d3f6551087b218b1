"""The emulator harness: starts the official emulators, speaks their protocols, checks state.

A pytest plugin (``harness.plugin``) for the tests; the local backend and the benchmarks use
the same modules.
"""
