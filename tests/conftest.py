"""Every tier's fixtures come from the emulator harness's plugin (tests/harness/plugin.py)."""

pytest_plugins = ("harness.plugin",)
